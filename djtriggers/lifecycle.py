"""The trigger lifecycle: its states, the transitions between them, and what each writes.

This module is the only one that changes a trigger's state or the columns that
go with it, the 2.x ones included (``date_processed``, ``successful``,
``number_of_tries``). Every transition is one conditional UPDATE: its WHERE
clause names the states it applies to, so a row that changed meanwhile (a
worker claimed it, it finished) is left alone whatever the caller saw.

::

    scheduled --claim--> running --succeed--> processed   (take: a task takes a dispatched claim)
        ^  |                |  \\--give_up--> failed
        |  |                |   \\--retry / later / lose / release--> scheduled
        |  \\--cancel--> cancelled
        \\--revive-- (scheduled, failed, cancelled)

A row stores a ``State``; the ``Status`` shown to people splits ``scheduled``
by the clock into ``pending`` (later) and ``due`` (now).

Code written for 2.x marks a trigger finished by setting ``date_processed``
(and ``successful``), by ``save()``, ``update()``, ``bulk_create()``, fixtures
or raw SQL. The database keeps ``state`` in step with those columns (``settle``
below, installed as database triggers by ``legacy.py``), so a row finished
the 2.x way is never claimed and counts as processed or failed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from . import db, wakeup
from .times import check_in_range

if TYPE_CHECKING:
    from django.db.models import QuerySet


# The values are stored and used in URLs and CSS classes; the labels are shown to people.
class State(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    PROCESSED = "processed", _("Processed")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Status(models.TextChoices):
    PENDING = "pending", _("Pending")
    DUE = "due", _("Due")
    RUNNING = "running", _("Running")
    FAILED = "failed", _("Failed")
    PROCESSED = "processed", _("Processed")
    CANCELLED = "cancelled", _("Cancelled")


FINAL = (State.PROCESSED, State.FAILED, State.CANCELLED)

# The statuses each state shows as.
STATUSES_OF: dict[str, tuple[Status, ...]] = {
    State.SCHEDULED: (Status.PENDING, Status.DUE),
    State.RUNNING: (Status.RUNNING,),
    State.PROCESSED: (Status.PROCESSED,),
    State.FAILED: (Status.FAILED,),
    State.CANCELLED: (Status.CANCELLED,),
}

# number_of_tries and the attempt numbers are 32-bit columns (as in 2.x).
MAX_TRIES_COUNT = 2**31 - 1


# --- the 2.x columns ----------------------------------------------------------
# A row's state and its 2.x columns always agree: scheduled and running rows
# have no date_processed; finished ones have one, with successful false for
# failed rows (and not false for processed ones). A write that breaks this is
# settled by whichever side it changed: a new state fills in the 2.x columns,
# new 2.x columns decide the state. legacy.py holds the same rules in SQL.


def consistent(state: str, date_processed: datetime | None, successful: bool | None) -> bool:
    if state in (State.SCHEDULED, State.RUNNING):
        return date_processed is None
    if date_processed is None:
        return False
    if state == State.FAILED:
        return successful is False
    if state == State.PROCESSED:
        return successful is not False
    return True  # cancelled


def settle(
    state: str,
    date_processed: datetime | None,
    successful: bool | None,
    *,
    before: str | None,
    now: datetime,
) -> tuple[str, datetime | None, bool | None]:
    """(state, date_processed, successful) made to agree after a write.

    ``before`` is the state the row had (None for a new row). If the write set
    the state (a new row's final state, or a changed one), the state wins and
    the 2.x columns follow; otherwise the 2.x columns win: ``date_processed``
    set means finished, failed when ``successful`` is false and processed
    otherwise; cleared on a finished row, scheduled again (2.x's way to retry).
    """
    if consistent(state, date_processed, successful):
        return state, date_processed, successful
    explicit = state in FINAL if before is None else state != before
    if explicit:
        if state in (State.SCHEDULED, State.RUNNING):
            return state, None, successful
        done = date_processed or now
        if state == State.FAILED:
            return state, done, False
        if state == State.PROCESSED:
            return state, done, True if successful is False else successful
        return state, done, successful
    if date_processed is None:
        return State.SCHEDULED, None, successful
    return (State.FAILED if successful is False else State.PROCESSED), date_processed, successful


def settle_instance(trigger: Any, *, before: str | None, now: datetime) -> None:
    """``settle`` for a model instance about to be saved; a finished one holds no claim."""
    trigger.state, trigger.date_processed, trigger.successful = settle(
        trigger.state, trigger.date_processed, trigger.successful, before=before, now=now
    )
    if trigger.state in FINAL:
        trigger.locked_by = trigger.locked_until = None


def initial(when: datetime | None, *, now: datetime) -> dict[str, Any]:
    """A new trigger (an import's row): scheduled at ``when``, or now.

    Raises ValueError for a time out of range (see ``times``).
    """
    return {"state": State.SCHEDULED, "process_after": check_in_range(when) if when else now}


def status_of(
    state: str,
    *,
    date_processed: datetime | None,
    successful: bool | None,
    process_after: datetime | None,
    now: datetime,
    before: str | None = None,
) -> Status:
    state, _, _ = settle(state, date_processed, successful, before=before, now=now)
    if state != State.SCHEDULED:
        return Status(state)
    if process_after is not None and process_after > now:
        return Status.PENDING
    return Status.DUE


def due_q(now: datetime) -> Q:
    return Q(state=State.SCHEDULED) & (Q(process_after__isnull=True) | Q(process_after__lte=now))


def status_q(status: str, now: datetime) -> Q:
    """The filter for one status."""
    if status == Status.DUE:
        return due_q(now)
    if status == Status.PENDING:
        return Q(state=State.SCHEDULED, process_after__gt=now)
    if status in (Status.RUNNING, Status.FAILED, Status.PROCESSED, Status.CANCELLED):
        return Q(state=status)
    raise ValueError(f"Unknown trigger status {status!r}; use one of {', '.join(Status.values)}.")


def states_for(statuses: tuple[str, ...]) -> tuple[State, ...]:
    """The states whose rows may show one of ``statuses``."""
    return tuple(
        State(state)
        for state, shown in STATUSES_OF.items()
        if any(status in statuses for status in shown)
    )


# --- transitions ----------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One edge of the state machine: the states it leaves, and the columns it writes."""

    name: str
    sources: tuple[State, ...]
    target: State
    writes: frozenset[str]
    make: Callable[..., dict[str, Any]]
    # Makes triggers due that no worker holds: idle workers are told (wakeup.poke).
    wakes: bool = False

    def values(self, **params: Any) -> dict[str, Any]:
        values = self.make(**params)
        if set(values) != self.writes:  # a programming error, caught by the tests
            raise AssertionError(f"{self.name} writes {sorted(values)}, not {sorted(self.writes)}")
        return values

    def apply(self, queryset: QuerySet[Any], **params: Any) -> int:
        """Make the transition on the rows of ``queryset`` that are in a source state."""
        rows, values = queryset.filter(state__in=self.sources), self.values(**params)
        # An UPDATE of many rows may meet a worker's claim in InnoDB and lose a
        # deadlock: run on its own, it is simply run again.
        changed = db.retrying(queryset.db, lambda: rows.update(**values))
        if changed and self.wakes:
            wakeup.poke(queryset.db, params.get("when"))
        return changed


LOCK = ("locked_by", "locked_until")
# A running trigger held by "dispatched:<token>" was claimed for a task (Celery,
# Django's Tasks) that has not started it yet; its locked_until is the deadline
# after which it is published again (see dispatch.py).
DISPATCHED = "dispatched:"
ERROR = ("last_error", "error_fingerprint")
FINISH = ("date_processed", "successful")
_UNLOCKED = {"locked_by": None, "locked_until": None}


def _transition(
    name: str,
    sources: tuple[State, ...],
    target: State,
    writes: tuple[str, ...],
    make: Callable[..., dict[str, Any]],
    wakes: bool = False,
) -> Transition:
    return Transition(name, sources, target, frozenset(("state", *writes)), make, wakes)


S, R = State.SCHEDULED, State.RUNNING

# A worker takes a due trigger ...
CLAIM = _transition(
    "claim",
    (S,),
    R,
    LOCK,
    lambda worker, until: {"state": R, "locked_by": worker, "locked_until": until},
)
# ... and process(force=True) any trigger nobody is running right now: a
# finished one is unfinished while it runs again.
FORCE_CLAIM = _transition(
    "force_claim",
    tuple(State),
    R,
    (*LOCK, *FINISH),
    lambda worker, until: {
        "state": R,
        "locked_by": worker,
        "locked_until": until,
        "date_processed": None,
        "successful": None,
    },
)
# A task (Celery, Django's Tasks) takes over a trigger the dispatcher claimed
# for it: the claim's holder is the message's token (see dispatch.py).
TAKE = Transition(
    "take",
    (R,),
    R,
    frozenset(LOCK),
    lambda worker, until: {"locked_by": worker, "locked_until": until},
)
# A worker's heartbeat renews its lease on what it holds.
RENEW = Transition(
    "renew", (R,), R, frozenset(["locked_until"]), lambda until: {"locked_until": until}
)
# Given back unstarted: a worker stopping, or a claim it could not lock.
RELEASE = _transition("release", (R,), S, LOCK, lambda: {"state": S, **_UNLOCKED}, wakes=True)

# How a try ends: done ...
SUCCEED = _transition(
    "succeed",
    (R,),
    State.PROCESSED,
    (*FINISH, *ERROR, *LOCK),
    lambda now: {
        "state": State.PROCESSED,
        "date_processed": now,
        "successful": True,
        "last_error": "",
        "error_fingerprint": "",
        **_UNLOCKED,
    },
)
# ... ProcessLaterError: run again at a time of its choosing, not a failed try ...
LATER = _transition(
    "later",
    (R,),
    S,
    ("process_after", *LOCK),
    lambda when: {"state": S, "process_after": when, **_UNLOCKED},
)
# ... a failed try with tries left: again after the retry delay ...
RETRY = _transition(
    "retry",
    (R,),
    S,
    ("number_of_tries", *ERROR, "process_after", *LOCK),
    lambda tries, error, fingerprint, when: {
        "state": S,
        "number_of_tries": tries,
        "last_error": error,
        "error_fingerprint": fingerprint,
        "process_after": when,
        **_UNLOCKED,
    },
)
# ... or the last one: failed for good.
GIVE_UP = _transition(
    "give_up",
    (R,),
    State.FAILED,
    ("number_of_tries", *ERROR, *FINISH, *LOCK),
    lambda tries, error, fingerprint, now: {
        "state": State.FAILED,
        "number_of_tries": tries,
        "last_error": error,
        "error_fingerprint": fingerprint,
        "date_processed": now,
        "successful": False,
        **_UNLOCKED,
    },
)
# The lease of a worker that held the trigger among others ended: the worker
# died, and which of its triggers was running is unknown. Not counted as a try;
# the trigger runs alone from now on, so that one that kills its worker is
# caught (and counted) the next time.
LOSE = _transition(
    "lose", (R,), S, ("run_alone", *LOCK), lambda: {"state": S, "run_alone": True, **_UNLOCKED}
)

# Operators: reprocess (due now) or reschedule, with a fresh tries budget ...
REVIVE = _transition(
    "revive",
    (S, State.FAILED, State.CANCELLED),
    S,
    ("process_after", "number_of_tries", *ERROR, *FINISH, *LOCK),
    lambda when: {
        "state": S,
        "process_after": when,
        "number_of_tries": 0,
        "last_error": "",
        "error_fingerprint": "",
        "date_processed": None,
        "successful": None,
        **_UNLOCKED,
    },
    wakes=True,
)
# ... and cancel what waits.
CANCEL = _transition(
    "cancel",
    (S,),
    State.CANCELLED,
    (*FINISH, *LOCK),
    lambda now: {
        "state": State.CANCELLED,
        "date_processed": now,
        "successful": None,
        **_UNLOCKED,
    },
)

TRANSITIONS = {
    t.name: t
    for t in (
        CLAIM,
        FORCE_CLAIM,
        TAKE,
        RENEW,
        RELEASE,
        SUCCEED,
        LATER,
        RETRY,
        GIVE_UP,
        LOSE,
        REVIVE,
        CANCEL,
    )
}

# The columns that no module but this one writes.
LIFECYCLE_COLUMNS = frozenset[str]().union(*(t.writes for t in TRANSITIONS.values()))


# --- retries ------------------------------------------------------------------------


def retry_delay(tries: int, *, base: float, backoff: float, cap: float, jitter: float) -> timedelta:
    """The wait before try ``tries + 1``: ``base * backoff ** (tries - 1)``, capped, jittered.

    Computed so that no setting can overflow it (``2.0 ** 1029`` is too large a float).
    """
    exponent = max(tries - 1, 0)
    if base <= 0 or cap <= 0:
        delay = 0.0
    elif backoff > 1 and exponent * math.log(backoff) > math.log(cap / base):
        delay = cap
    else:
        delay = min(base * backoff**exponent, cap)
    delay = min(delay, MAX_RETRY_DELAY.total_seconds())
    if jitter:
        delay *= random.uniform(1 - jitter, 1 + jitter)
    return timedelta(seconds=max(delay, 0.0))


MAX_RETRY_DELAY = timedelta(days=366)
