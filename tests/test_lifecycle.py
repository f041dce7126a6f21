"""The lifecycle (djtriggers.lifecycle): states and statuses, settling 2.x writes, transitions."""

from __future__ import annotations

import ast
import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from django.utils import timezone

from djtriggers import lifecycle
from djtriggers.lifecycle import (
    CANCEL,
    CLAIM,
    FINAL,
    LIFECYCLE_COLUMNS,
    MAX_RETRY_DELAY,
    REVIVE,
    TRANSITIONS,
    State,
    Status,
    Transition,
    consistent,
    initial,
    retry_delay,
    settle,
    settle_instance,
    states_for,
    status_of,
    status_q,
)
from djtriggers.logic import process_triggers
from djtriggers.models import Trigger
from tests.factories import due, failed, processed, running
from tests.testapp.models import FailingTrigger, NoopTrigger
from tests.workers import create_counting, runs_per_trigger

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(hours=1)


# --- a row's state and its 2.x columns ---------------------------------------------------


@pytest.mark.parametrize(
    ("state", "date_processed", "successful", "agree"),
    [
        ("scheduled", None, None, True),
        ("running", None, None, True),
        ("scheduled", EARLIER, None, False),
        ("processed", EARLIER, True, True),
        ("processed", EARLIER, None, True),
        ("processed", EARLIER, False, False),
        ("processed", None, True, False),
        ("failed", EARLIER, False, True),
        ("failed", EARLIER, None, False),
        ("cancelled", EARLIER, None, True),
        ("cancelled", None, None, False),
    ],
)
def test_consistent(state, date_processed, successful, agree):
    assert consistent(state, date_processed, successful) is agree


@pytest.mark.parametrize(
    ("written", "before", "settled"),
    [
        # Rows that agree are left as they are.
        (("processed", EARLIER, True), None, ("processed", EARLIER, True)),
        # The write set the state: the 2.x columns follow it.
        (("scheduled", EARLIER, True), "processed", ("scheduled", None, True)),
        (("running", EARLIER, None), "scheduled", ("running", None, None)),
        (("failed", None, None), None, ("failed", NOW, False)),
        (("failed", EARLIER, True), "scheduled", ("failed", EARLIER, False)),
        (("processed", None, False), "running", ("processed", NOW, True)),
        (("processed", None, None), "running", ("processed", NOW, None)),
        (("cancelled", None, None), "scheduled", ("cancelled", NOW, None)),
        # The state did not change: the 2.x columns decide it.
        (("processed", None, True), "processed", ("scheduled", None, True)),
        (("scheduled", EARLIER, False), "scheduled", ("failed", EARLIER, False)),
        (("scheduled", EARLIER, None), None, ("processed", EARLIER, None)),
        (("running", EARLIER, True), "running", ("processed", EARLIER, True)),
    ],
)
def test_settle(written, before, settled):
    assert settle(*written, before=before, now=NOW) == settled


def test_settle_instance__a_finished_instance_holds_no_claim():
    trigger = NoopTrigger(state="running", locked_by="w1", locked_until=NOW)
    trigger.date_processed, trigger.successful = EARLIER, False
    settle_instance(trigger, before="running", now=NOW)
    assert (trigger.state, trigger.locked_by, trigger.locked_until) == ("failed", None, None)
    claimed = NoopTrigger(state="running", locked_by="w1", locked_until=NOW)
    settle_instance(claimed, before="scheduled", now=NOW)
    assert (claimed.state, claimed.locked_by) == ("running", "w1")


def test_initial__scheduled_at_the_time_given_or_now():
    assert initial(None, now=NOW) == {"state": "scheduled", "process_after": NOW}
    assert initial(EARLIER, now=NOW) == {"state": "scheduled", "process_after": EARLIER}
    with pytest.raises(ValueError, match="too far ahead"):
        initial(datetime(9999, 12, 31, tzinfo=UTC), now=NOW)


# --- statuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "date_processed", "successful", "process_after", "status"),
    [
        ("scheduled", None, None, NOW + timedelta(seconds=1), "pending"),
        ("scheduled", None, None, NOW, "due"),
        ("scheduled", None, None, None, "due"),
        ("running", None, None, EARLIER, "running"),
        ("scheduled", EARLIER, False, EARLIER, "failed"),
        ("scheduled", EARLIER, True, EARLIER, "processed"),
        ("cancelled", EARLIER, None, EARLIER, "cancelled"),
    ],
)
def test_status_of(state, date_processed, successful, process_after, status):
    shown = status_of(
        state,
        date_processed=date_processed,
        successful=successful,
        process_after=process_after,
        now=NOW,
        before=state,
    )
    assert shown == status


def test_status_q__unknown_status_says_what_exists():
    with pytest.raises(ValueError, match="Unknown trigger status 'lost'; use one of pending, due"):
        status_q("lost", NOW)


def test_states_for__the_states_that_may_show_these_statuses():
    assert states_for(("pending",)) == (State.SCHEDULED,)
    assert states_for(("due", "failed")) == (State.SCHEDULED, State.FAILED)
    assert states_for(tuple(Status.values)) == tuple(State)
    assert states_for(()) == ()


# --- transitions -------------------------------------------------------------------------


def _defined_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Tuple):
        return [name for element in node.elts for name in _defined_names(element)]
    return []


def test_module__each_module_level_name_is_defined_once():
    """A second definition silently replaces the first: the state machine keeps one of each."""
    tree = ast.parse(Path(lifecycle.__file__).read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names += [name for target in node.targets for name in _defined_names(target)]
        elif isinstance(node, ast.AnnAssign):
            names += _defined_names(node.target)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
    assert "_UNLOCKED" in names
    assert [name for name, n in Counter(names).items() if n > 1] == []


def test_transitions__each_writes_exactly_the_columns_it_declares():
    params = {
        "claim": {"worker": "w", "until": NOW},
        "force_claim": {"worker": "w", "until": NOW},
        "take": {"worker": "w", "until": NOW},
        "renew": {"until": NOW},
        "release": {},
        "succeed": {"now": NOW},
        "later": {"when": NOW},
        "retry": {"tries": 1, "error": "e", "fingerprint": "f", "when": NOW},
        "give_up": {"tries": 1, "error": "e", "fingerprint": "f", "now": NOW},
        "lose": {},
        "revive": {"when": NOW},
        "cancel": {"now": NOW},
    }
    assert set(params) == set(TRANSITIONS)
    for name, transition in TRANSITIONS.items():
        values = transition.values(**params[name])
        assert set(values) == transition.writes
        assert values.get("state", transition.target) == transition.target
    assert {"state", "date_processed", "successful", "number_of_tries"} <= LIFECYCLE_COLUMNS


def test_transition__writing_other_columns_than_declared_is_a_programming_error():
    sloppy = Transition("sloppy", (State.SCHEDULED,), State.RUNNING, frozenset({"state"}), dict)
    with pytest.raises(AssertionError, match=r"sloppy writes \['state', 'x'\], not \['state'\]"):
        sloppy.values(state="running", x=1)


@pytest.mark.django_db
def test_transition__applies_only_to_rows_in_its_source_states():
    waiting, done, held = due(), processed(), running()
    rows = Trigger.objects.all()
    assert CANCEL.apply(rows, now=timezone.now()) == 1
    assert CLAIM.apply(rows, worker="w", until=timezone.now()) == 0
    assert dict(rows.values_list("pk", "state")) == {
        waiting.pk: "cancelled",
        done.pk: "processed",
        held.pk: "running",
    }


@pytest.mark.django_db
def test_revive__a_fresh_start_for_a_failed_trigger():
    trigger = failed(error="ValueError: boom", tries=5)
    assert REVIVE.apply(Trigger.objects.all(), when=NOW) == 1
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.state, row.process_after, row.number_of_tries) == ("scheduled", NOW, 0)
    assert (row.last_error, row.error_fingerprint, row.date_processed) == ("", "", None)


def test_final__the_states_nothing_leaves_but_an_operator():
    assert set(FINAL) == {"processed", "failed", "cancelled"}
    for transition in TRANSITIONS.values():
        if set(transition.sources) & set(FINAL):
            assert transition.name in ("force_claim", "revive")


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tries", "seconds"), [(0, 10), (1, 10), (2, 20), (3, 40), (5, 100), (1029, 100)]
)
def test_retry_delay__exponential_and_capped(tries, seconds):
    delay = retry_delay(tries, base=10, backoff=2, cap=100, jitter=0)
    assert delay == timedelta(seconds=seconds)


@pytest.mark.parametrize(("base", "cap"), [(0, 100), (-1, 100), (10, 0)])
def test_retry_delay__none_without_a_base_or_a_cap(base, cap):
    assert retry_delay(3, base=base, backoff=2, cap=cap, jitter=0.5) == timedelta()


def test_retry_delay__never_longer_than_the_longest_delay():
    delay = retry_delay(3, base=math.inf, backoff=1, cap=math.inf, jitter=0)
    assert delay == MAX_RETRY_DELAY


def test_retry_delay__jitter_spreads_around_the_delay():
    delays = {retry_delay(1, base=100, backoff=2, cap=1000, jitter=0.1) for _ in range(50)}
    assert all(timedelta(seconds=90) <= d <= timedelta(seconds=110) for d in delays)
    assert len(delays) > 1


# --- through a worker's pass -------------------------------------------------------------------


@pytest.mark.django_db
@override_settings(
    DJTRIGGERS_TRIES_BEFORE_ERROR=5000,
    DJTRIGGERS_RETRY_DELAY_SECONDS=30.0,
    DJTRIGGERS_RETRY_BACKOFF=2.0,
    DJTRIGGERS_RETRY_MAX_DELAY_SECONDS=3600.0,
)
def test_retry_delay__cannot_overflow_whatever_the_tries():
    others = create_counting(2)
    failing = FailingTrigger.objects.create(number_of_tries=1028)  # 2.0 ** 1029 overflows
    before = timezone.now()
    process_triggers()
    failing.refresh_from_db()
    assert failing.number_of_tries == 1029
    assert failing.status == "pending"
    assert 3000 < (failing.process_after - before).total_seconds() <= 3601
    assert runs_per_trigger() == dict.fromkeys(others, 1)
