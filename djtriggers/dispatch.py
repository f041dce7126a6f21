"""Running triggers on a task system (Celery, Django's Tasks): the trigger table is the outbox.

With ``DJTRIGGERS_DISPATCH`` set, ``run_triggers`` does not run triggers: it
claims due ones for a task, ``running`` held by ``dispatched:<token>`` until a
deadline, and publishes one message per trigger once that claim committed.
The task takes the claim over only if it still holds that token (one
conditional UPDATE), then runs the trigger as a worker would: the same
attempts, retries, lease, lifecycle and audit (``Engine.process``). So

- a message that comes late, twice, or after an operator or another task
  acted finds the claim gone and does nothing: no trigger runs twice;
- a lost message (a broker restart, a task worker killed before it started)
  leaves a claim whose deadline passes: the dispatcher's sweep gives it back
  and publishes it again, counted and logged (``Engine._undelivered``);
- a task worker killed while running the trigger leaves a lease that ends:
  the trigger is lost as a worker's would be, due again and published again;
- a backlog stays in the database: at most ``DISPATCH_MAX_IN_FLIGHT``
  triggers wait dispatched, each with one message per deadline.

Celery and the Tasks framework are imported only here, and only when the
setting asks for them (``publisher``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from django.apps import apps
from django.db.models import Count, Min, Q
from django.utils import timezone

from . import controls, lifecycle
from .conf import settings
from .db import write_transaction
from .engine import Engine, default_worker_name
from .lifecycle import DISPATCHED, FINAL, State
from .models import Trigger

log = logging.getLogger("djtriggers")

CELERY, TASKS = "celery", "tasks"
MODES = (CELERY, TASKS)

# (trigger pks, the claim's token, database alias): sends one message per trigger.
Publish = Callable[[Sequence[Any], str, str], None]


def mode() -> str | None:
    """Where due triggers run: None (in the worker), "celery" or "tasks"."""
    chosen: str | None = settings.DISPATCH
    if chosen is None and settings.ASYNC_HANDLING is True:
        return CELERY  # 2.x's setting
    return chosen


def publisher(kind: str) -> Publish:
    """The function that publishes to ``kind``; imports its task system (optional extras)."""
    if kind == CELERY:
        from . import tasks

        return tasks.publish
    from . import tasks_framework

    return tasks_framework.publish


@dataclass
class InFlight:
    """Triggers dispatched and not started by a task yet."""

    count: int = 0
    # The earliest deadline among them; past it, they are published again.
    first_deadline: datetime | None = None
    overdue: int = 0  # past their deadline, waiting for the dispatcher's sweep

    @property
    def oldest_dispatched(self) -> datetime | None:
        """When the oldest was published (its deadline less today's deadline setting)."""
        if self.first_deadline is None:
            return None
        return self.first_deadline - timedelta(seconds=settings.DISPATCH_DEADLINE_SECONDS)


def dispatched_q() -> Q:
    """The rows dispatched and not started by a task yet (their ``locked_until``: the deadline)."""
    return Q(state=State.RUNNING, locked_by__startswith=DISPATCHED)


def is_dispatched(trigger: Trigger) -> bool:
    """``trigger`` (as loaded) waits, dispatched, for a task to start it."""
    return trigger.state == State.RUNNING and (trigger.locked_by or "").startswith(DISPATCHED)


def in_flight(
    using: str = "default", now: datetime | None = None, *, running: int | None = None
) -> InFlight:
    """Two queries over the running rows (few: those started and those dispatched), one
    when none is dispatched; none when ``running`` (known from the counters) is 0."""
    if running == 0:
        return InFlight()
    now = now or timezone.now()
    rows = Trigger._base_manager.using(using).filter(dispatched_q())
    found = rows.aggregate(n=Count("pk"), first=Min("locked_until"))
    overdue = rows.filter(locked_until__lt=now).count() if found["n"] else 0
    return InFlight(found["n"], found["first"], overdue)


def late(before: datetime, using: str = "default") -> tuple[int, datetime | None]:
    """How many dispatched triggers have a deadline before ``before``, and the earliest:
    those the dispatcher's sweep should have published again by then."""
    rows = Trigger._base_manager.using(using).filter(dispatched_q(), locked_until__lt=before)
    found = rows.aggregate(n=Count("pk"), first=Min("locked_until"))
    return found["n"], found["first"]


class Dispatcher:
    """Claims due triggers for tasks and publishes them: ``run_triggers`` in dispatch mode."""

    def __init__(self, engine: Engine, kind: str, publish: Publish | None = None) -> None:
        self.engine = engine
        self.kind = kind
        self.publish = publish or publisher(kind)
        self.full = False  # the last pass found DISPATCH_MAX_IN_FLIGHT waiting

    def dispatch(self, limit: int) -> int:
        """Claim and publish up to ``limit`` due triggers; how many were published."""
        using = self.engine.using
        flying = in_flight(using)
        # Those past their deadline wait no more: this claim's sweep (made to run
        # now) takes them first, to publish them again. Counted as waiting, a
        # dispatcher full of lost messages would never claim, so never sweep.
        room = settings.DISPATCH_MAX_IN_FLIGHT - (flying.count - flying.overdue)
        if flying.overdue:
            self.engine.sweep_soon()
        self.full = room <= 0
        if self.full:
            return 0
        token = f"{DISPATCHED}{uuid.uuid4().hex}"
        pks = self.engine.claim(
            min(limit, room), holder=token, seconds=settings.DISPATCH_DEADLINE_SECONDS
        )
        if not pks:
            return 0
        try:
            self.publish(pks, token, using)
        except Exception:
            # Given back now rather than at the deadline. A message that did go
            # out finds its token gone and does nothing.
            lifecycle.RELEASE.apply(
                Trigger._base_manager.using(using).filter(pk__in=pks, locked_by=token)
            )
            raise
        self.engine.counts.dispatched += len(pks)
        log.debug("Worker %s dispatched %d triggers to %s", self.engine.worker, len(pks), self.kind)
        return len(pks)


# --- in the task ---------------------------------------------------------------------

# What a 2.x message (no token) may take: any dispatched claim, or a trigger nobody holds.
_takeable_by_2x = Q(state=State.RUNNING, locked_by__startswith=DISPATCHED) | Q(
    state=State.SCHEDULED
)


# A row still the message's to take but locked for a moment is tried again, this long at most.
TAKE_RETRY_SECONDS = 1.0


def _lock_if_takeable(mine: Any) -> Any:
    """The row of ``mine`` (a values_list query), locked; None if it is not the message's.

    Only a row the message may take is locked, with SKIP LOCKED: a message that
    comes late or twice never locks, nor waits for, the row of a trigger
    another task runs (that task, finding its row locked, would give the
    trigger back unrun). A row still the message's but locked is tried again:
    nobody runs a trigger in that state, so a claim's scan or an operator's
    update holds it, for a moment (InnoDB keeps the locks of every row a
    locking read scanned until it commits).
    """
    deadline = monotonic() + TAKE_RETRY_SECONDS
    while True:
        row = mine.select_for_update(skip_locked=True).first()
        if row is not None or monotonic() >= deadline or not mine.exists():
            return row
        time.sleep(0.02)  # pragma: no cover - no row locks on SQLite


def run(trigger_id: Any, token: str | None = None, *, using: str = "default", via: str) -> str:
    """A task's work: take the dispatched claim ``token`` on the trigger and run it.

    ``token`` None is a 2.x message (``process_trigger``), which names no claim:
    it takes any dispatched claim on the trigger, or a due trigger nobody
    holds. Returns what happened, for the task system's result and logs:
    "processed", "failed", "retried", "rescheduled", or why nothing was done
    ("finished", "held", "paused", "not due", "missing").
    """
    worker = f"{via} {default_worker_name()}"[:100]
    engine = Engine(worker=worker, using=using)
    base = Trigger._base_manager.using(using)
    now = timezone.now()
    takeable = Q(state=State.RUNNING, locked_by=token) if token else _takeable_by_2x
    mine = base.filter(takeable, pk=trigger_id).values_list(
        "state", "locked_by", "trigger_type", "process_after"
    )
    with write_transaction(using):
        row = _lock_if_takeable(mine)
        if row is not None:
            state, holder, trigger_type, process_after = row
            if trigger_type in engine.paused.get():
                if state == State.RUNNING:  # ours: due again when the type is resumed
                    lifecycle.RELEASE.apply(base.filter(pk=trigger_id, locked_by=holder))
                return "paused"
            until = now + timedelta(seconds=settings.LEASE_SECONDS)
            if state == State.RUNNING:
                lifecycle.TAKE.apply(
                    base.filter(pk=trigger_id, locked_by=holder), worker=worker, until=until
                )
            else:  # a 2.x message for a due trigger nobody holds
                if process_after is not None and process_after > now:
                    return "not due"
                if trigger_type in controls.limits():
                    return "held"  # a limited type starts through the dispatcher's slots only
                lifecycle.CLAIM.apply(base.filter(pk=trigger_id), worker=worker, until=until)
    if row is None:
        # Not this message's to take: why, read after the transaction (whose
        # lock PostgreSQL may keep on a row that changed under the query).
        now_in = base.filter(pk=trigger_id).values_list("state", flat=True).first()
        if now_in is None:
            return "missing"
        return "finished" if now_in in FINAL else "held"
    engine.held.add(trigger_id)
    engine.process([trigger_id])
    counts = engine.counts
    outcomes = (
        (counts.succeeded, "processed"),
        (counts.rescheduled, "rescheduled"),
        (counts.gave_up, "failed"),
        (counts.failed, "retried"),
    )
    # Nothing at all: the lease ended at once and another worker took it.
    return next((outcome for n, outcome in outcomes if n), "held")


def run_legacy(trigger_id: Any, app_label: str, class_name: str, *, via: str) -> str:
    """2.x's ``process_trigger(id, app_label, class_name)``: the row, if it is of that class."""
    try:
        model = apps.get_model(app_label, class_name)
    except LookupError:
        log.warning(
            "No trigger class %s.%s for trigger %s: nothing done", app_label, class_name, trigger_id
        )
        return "missing"
    typed = getattr(model, "typed", None)
    if typed and not Trigger._base_manager.filter(pk=trigger_id, trigger_type=typed).exists():
        return "missing"
    return run(trigger_id, None, via=via)
