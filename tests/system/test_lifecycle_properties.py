"""The trigger lifecycle against a model of it, under random sequences of everything that writes.

A Hypothesis state machine creates triggers (the 3.x way and the 2.x ways:
``create``, ``bulk_create``, raw SQL), runs worker passes, crashes workers
(between claim and processing, or before their group commits; some were only
stalled and wake up later), lets operators reprocess, reschedule and cancel,
writes the 2.x columns by ``update()``, ``save()`` and raw SQL, and moves the
clock. A small Python model predicts every trigger's row; after every step the
rows, the effects, the attempts and every count (querysets, admin filter,
dashboard) must agree with it. Real commits, on whichever database
DJTRIGGERS_TEST_DB names.

``DJTRIGGERS_HYPOTHESIS_EXAMPLES`` sets the number of examples (25 by default).
"""

from __future__ import annotations

import itertools
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Count
from django.test import RequestFactory
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from dashboard import stats
from djtriggers import actions, lifecycle
from djtriggers import counts as counts_module
from djtriggers.admin.filters import StatusFilter
from djtriggers.engine import Engine
from djtriggers.lifecycle import FINAL, MAX_TRIES_COUNT, State, Status
from djtriggers.models import (
    AttemptCount,
    OperatorAction,
    Trigger,
    TriggerAttempt,
    TriggerCount,
    Worker,
)
from djtriggers.worker import TriggerWorker
from tests.counters import keyed, keyed_actual
from tests.testapp.models import Run, ScriptedTrigger

EXAMPLES = int(os.environ.get("DJTRIGGERS_HYPOTHESIS_EXAMPLES", "25"))
HYPOTHESIS = hypothesis_settings(
    max_examples=EXAMPLES,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)

LIFECYCLE_SETTINGS = {
    "DJTRIGGERS_RETRY_DELAY_SECONDS": 600,
    "DJTRIGGERS_RETRY_BACKOFF": 1,
    "DJTRIGGERS_RETRY_JITTER": 0,
    "DJTRIGGERS_TRIES_BEFORE_ERROR": 3,
    "DJTRIGGERS_LEASE_SECONDS": 30,
}
RETRY_DELAY = timedelta(seconds=600)
LATER_DELAY = timedelta(minutes=10)  # ScriptedTrigger's "later"
LEASE = timedelta(seconds=30)  # 3 GRIDs
BUDGET = 3

BEHAVIOURS = ["ok", "fail", "later", "exit", "interrupt", "badstr"]
TABLE = Trigger._meta.db_table
# The clock: every delay and move is a multiple of GRID, and each step starts at
# the example's virtual time (its start plus the moves so far), ticking only
# within the step. A step takes far less than MARGIN, so every comparison of a
# stored time with now comes out the same on every run (see clear_of_boundaries).
GRID = timedelta(seconds=10)
MARGIN = GRID / 2

behaviours = st.sampled_from(BEHAVIOURS)
# None: process_after NULL ("due now" the 2.x way); 0: due now; more: pending, in minutes.
delays = st.sampled_from([None, None, 0, 1, 5, 30, 90])
successes = st.sampled_from([True, False, None])
write_paths = st.sampled_from(["update", "save", "raw"])
mostly_true = st.sampled_from([True, True, False])


@pytest.fixture
def lifecycle_settings(settings):
    for name, value in LIFECYCLE_SETTINGS.items():
        setattr(settings, name, value)


def q(name: str) -> str:
    return connection.ops.quote_name(name)


def db_time(when: datetime | None) -> Any:
    """A time as a raw SQL parameter, stored as the ORM stores it."""
    return None if when is None else connection.ops.adapt_datetimefield_value(when)


def due_at(delay: int | None, now: datetime) -> datetime | None:
    return None if delay is None else now + timedelta(minutes=delay)


def tries_after_failure(tries: int) -> int:
    """number_of_tries after a failed try, whatever 2.x code wrote there."""
    return min(max(tries, 0) + 1, MAX_TRIES_COUNT)


@dataclass
class Expected:
    """One trigger as the model sees it."""

    behaviour: str
    state: str
    processed: bool  # date_processed is set
    successful: bool | None
    process_after: datetime | None
    tries: int = 0
    run_alone: bool = False
    holder: str | None = None  # locked_by
    locked_until: datetime | None = None
    attempts: int = 0
    successes: int = 0
    # 2.x writes that took it out of processed (un-finished, or finished again as
    # failed, which operators may reprocess): each allows one more run.
    reruns: int = 0

    def status(self, now: datetime) -> Status:
        if self.state != State.SCHEDULED:
            return Status(self.state)
        if self.process_after is not None and self.process_after > now:
            return Status.PENDING
        return Status.DUE

    def due(self, now: datetime) -> bool:
        return self.status(now) == Status.DUE

    def settle(self, *, processed: bool, successful: bool | None, now: datetime) -> None:
        """A 2.x write of the finish columns: the database settles the row (state not set)."""
        state, date, self.successful = lifecycle.settle(
            self.state, now if processed else None, successful, before=self.state, now=now
        )
        self.reruns += self.state == State.PROCESSED and state != State.PROCESSED
        self.state, self.processed = state, date is not None
        if self.state != State.RUNNING:
            self.unlock()

    def unlock(self) -> None:
        self.holder = self.locked_until = None

    def fail(self, now: datetime) -> timedelta | None:
        """A failed try: failed for good at the budget, else scheduled after the retry delay.

        Returns the delay when scheduled again: the exact time is read back.
        """
        self.attempts += 1
        self.tries = tries_after_failure(self.tries)
        self.unlock()
        if self.tries >= BUDGET:
            self.state, self.processed, self.successful = State.FAILED, True, False
            return None
        self.state, self.process_after = State.SCHEDULED, now + RETRY_DELAY
        return RETRY_DELAY

    def run(self, now: datetime) -> timedelta | None:
        """One try by a worker, as its behaviour says; the delay when scheduled again."""
        self.unlock()
        if self.behaviour == "ok":
            self.attempts += 1
            self.successes += 1
            self.state, self.processed, self.successful = State.PROCESSED, True, True
            return None
        if self.behaviour == "later":
            self.attempts += 1
            self.state, self.process_after = State.SCHEDULED, now + LATER_DELAY
            return LATER_DELAY
        return self.fail(now)


class LifecycleMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Real commits: each example starts from empty tables.
        for model in (TriggerAttempt, OperatorAction, Worker, Run, Trigger):
            model._base_manager.all().delete()
        # The clock goes back to the real time: the hours a fold merged as gone
        # by (counts.fold) would come again. No rows, no counts.
        TriggerCount.objects.all().delete()
        AttemptCount.objects.all().delete()
        self.user, _ = User.objects.get_or_create(
            username="lifecycle-root", defaults={"is_superuser": True, "is_staff": True}
        )
        self.virtual = timezone.now()
        self.traveller = time_machine.travel(self.virtual, tick=True)
        self.clock = self.traveller.start()
        self.model: dict[int, Expected] = {}
        self.crashes = 0
        self.stalled: list[tuple[Engine, list[int]]] = []  # crashed workers and their claims

    def teardown(self) -> None:
        self.traveller.stop()

    # --- helpers -----------------------------------------------------------------

    def move_clock(self, delta: timedelta) -> None:
        self.virtual += delta
        self.clock.shift(self.virtual - timezone.now())

    def clear_of_boundaries(self) -> datetime:
        """Start a step at the virtual time, moved on past any time it would compare with now.

        A stored time is a virtual time plus a multiple of GRID plus less than
        a step's duration: within MARGIN of the virtual time means "now", and
        whether the worker, the model and each count see it as past depends on
        the ticking clock. A GRID on, it is past for all of them, on every run.
        """
        for _ in range(100):
            times = [m.process_after for m in self.model.values() if m.state == State.SCHEDULED]
            times += [m.locked_until for m in self.model.values() if m.state == State.RUNNING]
            if not any(t is not None and abs(t - self.virtual) <= MARGIN for t in times):
                break
            self.virtual += GRID
        else:
            raise AssertionError("the clock could not be moved clear of the triggers' times")
        self.move_clock(timedelta())
        return timezone.now()

    def new_pks(self, count: int) -> list[int]:
        """The pks of the rows just inserted, in insertion order."""
        pks = sorted(set(Trigger._base_manager.values_list("pk", flat=True)) - set(self.model))
        assert len(pks) == count
        return pks

    def read_back(
        self, field: str, delays: dict[int, timedelta], started: datetime, ended: datetime
    ) -> None:
        """Read ``field`` of these rows back, once checked to lie its delay after the step."""
        rows = Trigger._base_manager.filter(pk__in=delays).values_list("pk", field)
        for pk, value in rows:
            low, high = started + delays[pk], ended + delays[pk]
            assert value is not None and low <= value <= high, (pk, field, value, low, high)
            setattr(self.model[pk], field, value)

    def attempts(self) -> Counter[int]:
        return Counter(TriggerAttempt.objects.values_list("trigger_id", flat=True))

    def recover(self, lost: list[int], now: datetime) -> dict[int, timedelta]:
        """Lost leases: a trigger running alone failed a try; the others run alone from now on.

        Returns the retry delay of those scheduled again.
        """
        retried = {}
        for pk in lost:
            m = self.model[pk]
            if m.run_alone:
                if delay := m.fail(now):
                    retried[pk] = delay
            else:
                m.state, m.run_alone = State.SCHEDULED, True
                m.unlock()
        return retried

    def lost(self, now: datetime) -> list[int]:
        return sorted(
            pk
            for pk, m in self.model.items()
            if m.state == State.RUNNING and m.locked_until is not None and m.locked_until < now
        )

    # --- creating ------------------------------------------------------------------

    @initialize(specs=st.lists(st.tuples(behaviours, delays), min_size=2, max_size=8))
    def create_some(self, specs: list[tuple[str, int | None]]) -> None:
        self.create(specs)

    @rule(specs=st.lists(st.tuples(behaviours, delays), min_size=1, max_size=4))
    def create(self, specs: list[tuple[str, int | None]]) -> None:
        now = self.clear_of_boundaries()
        for behaviour, delay in specs:
            trigger = ScriptedTrigger.objects.create(
                source=behaviour, process_after=due_at(delay, now)
            )
            self.model[trigger.pk] = Expected(
                behaviour, State.SCHEDULED, False, None, due_at(delay, now)
            )

    @rule(
        how=st.sampled_from(["create", "bulk_create", "raw"]),
        specs=st.lists(
            st.tuples(behaviours, delays, st.booleans(), successes), min_size=1, max_size=3
        ),
    )
    def create_the_2x_way(
        self, how: str, specs: list[tuple[str, int | None, bool, bool | None]]
    ) -> None:
        """Rows written by 2.x code: no state, date_processed and successful say it all."""
        now = self.clear_of_boundaries()
        rows = [
            {
                "trigger_type": "scripted",
                "source": behaviour,
                "process_after": due_at(delay, now),
                "date_processed": now if processed else None,
                "successful": successful,
            }
            for behaviour, delay, processed, successful in specs
        ]
        if how == "create":
            pks = [Trigger.objects.create(**row).pk for row in rows]
        elif how == "bulk_create":
            Trigger.objects.bulk_create([Trigger(**row) for row in rows])
            pks = self.new_pks(len(rows))
        else:
            columns = [
                *rows[0],
                "date_received",
                "number_of_tries",
                "state",
                "last_error",
                "error_fingerprint",
                "run_alone",
            ]
            values = ", ".join(["({})".format(", ".join(["%s"] * len(columns)))] * len(rows))
            params = [
                value
                for row in rows
                for value in (
                    row["trigger_type"],
                    row["source"],
                    db_time(row["process_after"]),
                    db_time(row["date_processed"]),
                    row["successful"],
                    db_time(now),
                    0,
                    State.SCHEDULED,  # 2.x had no state: raw SQL must now name it
                    "",
                    "",
                    False,
                )
            ]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {q(TABLE)} ({', '.join(map(q, columns))}) VALUES {values}",
                    params,
                )
            pks = self.new_pks(len(rows))
        for pk, row in zip(pks, rows, strict=True):
            state, date, successful = lifecycle.settle(
                State.SCHEDULED, row["date_processed"], row["successful"], before=None, now=now
            )
            self.model[pk] = Expected(
                row["source"], state, date is not None, successful, row["process_after"]
            )

    # --- 2.x writes on existing rows ------------------------------------------------

    def pick(self, data: st.DataObject) -> list[int]:
        return data.draw(
            st.lists(st.sampled_from(sorted(self.model)), min_size=1, max_size=5, unique=True)
        )

    def write_2x(self, path: str, pks: list[int], values: dict[str, Any]) -> None:
        if path == "update":
            Trigger.objects.filter(pk__in=pks).update(**values)
        elif path == "save":
            for trigger in Trigger.objects.filter(pk__in=pks):
                for name, value in values.items():
                    setattr(trigger, name, value)
                trigger.save()
        else:
            assignments = ", ".join(f"{q(name)} = %s" for name in values)
            params = [db_time(v) if isinstance(v, datetime) else v for v in values.values()]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {q(TABLE)} SET {assignments} WHERE {q('id')} IN "
                    f"({', '.join(['%s'] * len(pks))})",
                    [*params, *pks],
                )

    @precondition(lambda self: self.model)
    @rule(
        data=st.data(),
        path=write_paths,
        write=st.one_of(
            st.tuples(st.just("finish"), successes),
            st.tuples(st.just("unfinish"), st.none()),
            st.tuples(st.just("tries"), st.sampled_from([-5, 0, 2, 2**31 - 1])),
        ),
    )
    def write_the_2x_way(self, data: st.DataObject, path: str, write: tuple[str, Any]) -> None:
        """Finish (date_processed = now), un-finish (None: 2.x's way to run again), or tries."""
        pks = self.pick(data)
        now = self.clear_of_boundaries()
        what, value = write
        if what == "finish":
            self.write_2x(path, pks, {"date_processed": now, "successful": value})
        elif what == "unfinish":
            self.write_2x(path, pks, {"date_processed": None})
        else:
            self.write_2x(path, pks, {"number_of_tries": value})
        for pk in pks:
            m = self.model[pk]
            if what == "tries":
                m.tries = value
            else:
                successful = value if what == "finish" else m.successful
                m.settle(processed=what == "finish", successful=successful, now=now)

    # --- workers ---------------------------------------------------------------------

    @rule()
    def worker_pass(self) -> None:
        """One burst pass: every trigger due when it starts gets exactly one try."""
        now = self.clear_of_boundaries()
        finished = {pk for pk, m in self.model.items() if m.state in FINAL}
        before = self.attempts()
        delays = self.recover(self.lost(now), now)
        for pk, m in self.model.items():
            if m.due(now) and (delay := m.run(now)):
                delays[pk] = delay
        started = timezone.now()
        TriggerWorker(burst=True).run()
        ended = timezone.now()
        after = self.attempts()
        assert all(after[pk] == before[pk] for pk in finished), "a finished trigger was tried"
        self.read_back("process_after", delays, started, ended)

    # Preconditions and the shape of what a rule draws depend on no database
    # and no clock: Hypothesis must be able to replay an example.

    @rule(k=st.integers(1, 12), process=st.booleans(), lease_ends=mostly_true)
    def crash(self, k: int, process: bool, lease_ends: bool) -> None:
        """A worker claims up to k triggers and dies, before processing or before committing.

        Its claims stay running until their lease ends (at once if ``lease_ends``).
        """
        now = self.clear_of_boundaries()
        self.crashes += 1
        engine = Engine(worker=f"crashed-{self.crashes}")
        lost = self.lost(now)
        due = {pk for pk, m in self.model.items() if m.due(now)}
        started = timezone.now()
        pks = engine.claim(k)
        ended = timezone.now()
        # A claim first recovers lost triggers, up to k of them: which ones is
        # the engine's choice (all of them if there is room for every lost and
        # every due trigger without process_after). Recovered: no longer held
        # by the worker that lost them.
        holders = dict(Trigger._base_manager.filter(pk__in=lost).values_list("pk", "locked_by"))
        recovered = [pk for pk in lost if holders[pk] != self.model[pk].holder]
        strays = [pk for pk in due if self.model[pk].process_after is None]
        assert len(recovered) <= k
        if len(lost) + len(strays) <= k:
            assert recovered == lost
        delays = self.recover(recovered, now)
        claimable = {pk for pk, m in self.model.items() if m.due(now)}
        finished = [pk for pk in pks if self.model[pk].state in FINAL]
        assert not finished, f"finished triggers claimed: {finished}"
        assert set(pks) <= claimable, (pks, claimable)
        assert len(pks) <= k
        if due and not lost:
            assert pks, "nothing claimed, though triggers are due"
        if len(pks) > 1:
            assert not any(self.model[pk].run_alone for pk in pks), "run_alone claimed with others"
        self.read_back("process_after", delays, started, ended)
        for pk in pks:
            self.model[pk].state, self.model[pk].holder = State.RUNNING, engine.worker
        self.read_back("locked_until", dict.fromkeys(pks, LEASE), started, ended)
        if process and pks:
            attempts = TriggerAttempt.objects.count()
            with pytest.raises(_Killed), transaction.atomic():
                engine.process(pks)
                assert TriggerAttempt.objects.count() == attempts + len(pks)
                raise _Killed
        if pks:
            self.stalled.append((engine, pks))
        if lease_ends:
            self.move_clock(LEASE + GRID)

    @rule(which=st.integers(0, 7))
    def crashed_worker_was_only_stalled(self, which: int) -> None:
        """It wakes up and processes its claims: only those it still holds may run."""
        now = self.clear_of_boundaries()
        if not self.stalled:
            return
        engine, pks = self.stalled.pop(which % len(self.stalled))
        delays = {}
        for pk in pks:
            m = self.model[pk]
            if m.state == State.RUNNING and m.holder == engine.worker and (delay := m.run(now)):
                delays[pk] = delay
        started = timezone.now()
        engine.process(pks)
        self.read_back("process_after", delays, started, timezone.now())

    # --- operators -------------------------------------------------------------------

    @precondition(lambda self: self.model)
    @rule(
        data=st.data(),
        name=st.sampled_from(["reprocess", "reschedule", "cancel"]),
        minutes=st.sampled_from([None, 1, 15, 120]),
    )
    def operator_action(self, data: st.DataObject, name: str, minutes: int | None) -> None:
        pks = self.pick(data)
        now = self.clear_of_boundaries()
        when = None
        if name == "reschedule":
            when = now + timedelta(minutes=minutes or 0)
        action = actions.ACTIONS[name]
        statuses = {pk: self.model[pk].status(now) for pk in pks}
        eligible = {pk for pk, status in statuses.items() if status in action.statuses}
        skipped = Counter(
            actions.SKIP_REASONS[s] for s in statuses.values() if s not in action.statuses
        )
        started = timezone.now()
        report = actions.perform(
            name, Trigger.objects.filter(pk__in=pks), user=self.user, when=when
        )
        ended = timezone.now()
        assert report.changed == report.audit.changed == len(eligible)
        assert +report.skipped == skipped
        assert report.audit.skipped == len(pks) - len(eligible)
        for pk in eligible:
            m = self.model[pk]
            m.state, m.successful = action.transition.target, None
            m.unlock()
            m.processed = m.state == State.CANCELLED
            if name != "cancel":
                m.tries, m.process_after = 0, when
        if name == "reprocess":
            self.read_back("process_after", dict.fromkeys(eligible, timedelta()), started, ended)

    # --- the clock -------------------------------------------------------------------

    @rule(
        steps=st.one_of(
            st.sampled_from([1, 3, 4, 60, 360]),
            st.integers(1, 720),  # 10 s to 2 hours
        )
    )
    def clock_moves(self, steps: int) -> None:
        self.move_clock(steps * GRID)

    # --- what must always hold -------------------------------------------------------

    @invariant()
    def rows_agree_with_the_model(self) -> None:
        now = self.clear_of_boundaries()
        rows = Trigger._base_manager.values_list(
            "pk",
            "state",
            "date_processed",
            "successful",
            "process_after",
            "number_of_tries",
            "run_alone",
            "locked_by",
            "locked_until",
        )
        seen = set()
        for pk, state, date, successful, after, tries, alone, locked_by, until in rows:
            seen.add(pk)
            m = self.model[pk]
            assert lifecycle.consistent(state, date, successful), (pk, state, date, successful)
            actual = (state, date is not None, successful, after, tries, alone)
            expected = (m.state, m.processed, m.successful, m.process_after, m.tries, m.run_alone)
            assert actual == expected, pk
            status = lifecycle.status_of(
                state, date_processed=date, successful=successful, process_after=after, now=now
            )
            assert status == m.status(now), pk
            assert (locked_by, until) == (m.holder, m.locked_until), pk
        assert seen == set(self.model)

    @invariant()
    def effects_commit_once_per_success(self) -> None:
        runs = Counter(Run.objects.values_list("trigger_id", flat=True))
        attempts = self.attempts()
        succeeded = Counter(
            TriggerAttempt.objects.filter(outcome=TriggerAttempt.Outcome.SUCCESS).values_list(
                "trigger_id", flat=True
            )
        )
        assert set(runs) <= set(self.model)
        for pk, m in self.model.items():
            assert runs[pk] == succeeded[pk] == m.successes, pk
            assert runs[pk] <= 1 + m.reruns, pk
            assert attempts[pk] == m.attempts, pk

    @invariant()
    def every_count_agrees(self) -> None:
        now = self.clear_of_boundaries()
        counts = Trigger.objects.status_counts()
        assert counts == {s: Trigger.objects.with_status(s).count() for s in Status.values}
        assert sum(counts.values()) == len(self.model)
        assert counts == {s: 0 for s in Status.values} | Counter(
            m.status(now) for m in self.model.values()
        )
        assert self.admin_counts() == counts
        assert stats.status_counts() == counts
        # The counters the database keeps, whoever wrote (2.x ways and raw SQL too).
        by_type: dict[str, dict[str, int]] = defaultdict(dict)
        for typed, state, n in Trigger._base_manager.values_list("trigger_type", "state").annotate(
            n=Count("pk")
        ):
            by_type[typed][state] = n
        assert counts_module.by_type() == by_type
        assert keyed(now) == keyed_actual(now)  # failures by fingerprint, scheduled by hour

    def admin_counts(self) -> dict[str, int]:
        """The changelist's count per status, filtered as the admin filters it."""
        model_admin = admin.site._registry[Trigger]
        counts = {}
        for status in Status.values:
            request = RequestFactory().get("/", {"status": status})
            request.user = self.user
            status_filter = StatusFilter(request, {"status": [status]}, Trigger, model_admin)
            qs = status_filter.queryset(request, model_admin.get_queryset(request))
            counts[status] = qs.count()
        return counts


class _Killed(Exception):
    """The worker dies before its group commits."""


@pytest.mark.django_db(transaction=True)
def test_lifecycle__random_sequences_agree_with_the_model(lifecycle_settings):
    run_state_machine_as_test(LifecycleMachine, settings=HYPOTHESIS)


# --- the database triggers: lifecycle.settle in SQL ---------------------------------------

FINISH_COLUMNS = ("state", "date_processed", "successful")
finish_values = st.tuples(st.sampled_from(State.values), st.booleans(), successes)


def insert_raw(state: str, date: datetime | None, successful: bool | None, now: datetime) -> int:
    columns = (
        "trigger_type",
        "date_received",
        "number_of_tries",
        "last_error",
        "error_fingerprint",
        "run_alone",
        *FINISH_COLUMNS,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(TABLE)} ({', '.join(map(q, columns))}) "
            f"VALUES ({', '.join(['%s'] * len(columns))})",
            ["scripted", db_time(now), 0, "", "", False, state, db_time(date), successful],
        )
    return Trigger._base_manager.order_by("-pk").values_list("pk", flat=True).first()


def read_row(pk: int) -> tuple[str, bool, bool | None]:
    state, date, successful = Trigger._base_manager.values_list(*FINISH_COLUMNS).get(pk=pk)
    return state, date is None, successful


def settled(
    row: tuple[str, datetime | None, bool | None], before: str | None, now: datetime
) -> tuple[str, bool, bool | None]:
    state, date, successful = lifecycle.settle(*row, before=before, now=now)
    return state, date is None, successful


@pytest.mark.django_db
@hypothesis_settings(HYPOTHESIS, max_examples=EXAMPLES * 8)
@given(
    row=finish_values,
    before=st.none() | finish_values,
    columns=st.sampled_from(
        [set(c) for n in (1, 2, 3) for c in itertools.combinations(FINISH_COLUMNS, n)]
    ),
)
def test_database_triggers__settle_rows_as_lifecycle_settle_does(
    row: tuple[str, bool, bool | None],
    before: tuple[str, bool, bool | None] | None,
    columns: set[str],
) -> None:
    """An INSERT (``before`` None) or an UPDATE of ``columns`` of a row, the 2.x way or not."""
    now = timezone.now()
    state, processed, successful = row
    written = dict(
        zip(FINISH_COLUMNS, (state, now if processed else None, successful), strict=True)
    )
    if before is None:
        # An INSERT names the state (it has no default in the database); the 2.x
        # columns it leaves out are NULL.
        values = {c: v if c == "state" or c in columns else None for c, v in written.items()}
        pk = insert_raw(*values.values(), now)
        assert read_row(pk) == settled(tuple(values.values()), None, now)
        return
    before_state, before_processed, before_successful = before
    old = (before_state, now if before_processed else None, before_successful)
    pk = insert_raw(*old, now)
    old = lifecycle.settle(*old, before=None, now=now)  # as the INSERT left it
    assert read_row(pk) == (old[0], old[1] is None, old[2])
    values = {c: written[c] if c in columns else old[i] for i, c in enumerate(FINISH_COLUMNS)}
    changed = [c for c in FINISH_COLUMNS if c in columns]
    params = [db_time(v) if isinstance(v, datetime) else v for v in map(written.get, changed)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {q(TABLE)} SET {', '.join(f'{q(c)} = %s' for c in changed)} "
            f"WHERE {q('id')} = %s",
            [*params, pk],
        )
    assert read_row(pk) == settled(tuple(values.values()), old[0], now)
