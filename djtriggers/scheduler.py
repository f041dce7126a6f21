"""The workers' side of recurring schedules: exactly one trigger per slot, over any number.

A worker that finds a schedule due moves its ``next_run_at`` on with a
compare-and-set UPDATE (``... WHERE pk = %s AND next_run_at = <the slot it
read>``), and creates the trigger in the same transaction only if its UPDATE
changed the row. The database lets one such UPDATE win; the others change
nothing and create nothing. The trigger is created with the slot's unique key
(``create_unique``), so the database refuses a second unfinished one of a slot
all the same.

Catch-up after downtime: with ``"one"`` (the default) the missed slots get one
trigger, for the latest of them; with ``"none"`` a slot runs only if a worker
reaches it within ``CATCH_UP_GRACE``, else it is skipped. Either way the
schedule then waits for its next slot after now.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from time import monotonic
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from . import cron, schedules
from .db import write_transaction
from .models import Schedule, Trigger
from .registry import trigger_classes

log = logging.getLogger("djtriggers.schedules")

# With catch_up = "none", a slot a worker reaches later than this is skipped.
CATCH_UP_GRACE = timedelta(minutes=5)
# How long a worker trusts the next run it read (admin changes show within it).
NEXT_RUN_SECONDS = 1.0


def slot_key(schedule: Schedule, slot: datetime) -> str:
    """The key of one slot of ``schedule``: unique per schedule and slot (minutes, UTC)."""
    return f"schedule:{schedule.pk}:{slot.astimezone(UTC):%Y-%m-%dT%H:%M}"


def _create_for_slot(schedule: Schedule, slot: datetime, using: str) -> Trigger:
    """The one trigger of ``schedule``'s ``slot``, due at the slot.

    The compare-and-set in ``fire`` lets one worker here per slot; the slot's
    unique key (``slot_key``) has the database refuse a second unfinished trigger
    of it all the same, and returns the one there. Its source is
    ``schedule$<pk>$<slot in UTC>``: the admin's search for ``schedule$<pk>$``
    lists a schedule's triggers along the source index.
    """
    cls = trigger_classes()[schedule.trigger_type][0]
    source = f"schedule${schedule.pk}${slot.astimezone(UTC):%Y-%m-%dT%H:%M}"
    trigger: Trigger = cls.objects.using(using).create_unique(
        unique_key=slot_key(schedule, slot), process_after=slot, source=source
    )[0]
    return trigger


def fire(schedule: Schedule, *, now: datetime | None = None, using: str = "default") -> Any:
    """Make the trigger of ``schedule``'s due slot, if this call wins it; its pk or None.

    None: another worker won the slot, the schedule changed meanwhile, or (catch-up
    "none") the slot was missed and is skipped.
    """
    now = now or timezone.now()
    slot = schedule.next_run_at
    if slot is None or slot > now:
        return None
    expression, tz = schedule.expression, schedule.time_zone
    # The slots missed since (catch-up "one" runs once, for the latest).
    latest = max(slot, cron.latest_slot(expression, tz, now) or slot)
    run = schedule.catch_up != Schedule.CatchUp.NONE or now - latest <= CATCH_UP_GRACE
    values: dict[str, Any] = {"next_run_at": cron.next_slot(expression, tz, now)}
    if run:
        values["last_run_at"] = latest
    rows = Schedule.objects.using(using).filter(pk=schedule.pk)
    with write_transaction(using):
        # The compare-and-set: of the workers that read this slot, one changes the row.
        if not rows.filter(enabled=True, next_run_at=slot).update(**values):
            return None
        if not run:
            log.info("Schedule %s: slot %s missed, skipped (catch-up none)", schedule, latest)
            return None
        trigger = _create_for_slot(schedule, latest, using)
        rows.update(last_trigger_id=trigger.pk)
    if latest != slot:
        log.info("Schedule %s: slots %s to %s missed, one run for them", schedule, slot, latest)
    return trigger.pk


class Scheduler:
    """The schedules as a worker sees them: which are due, and when the next one is.

    ``scope`` narrows a queryset to the worker's types (``Engine._scope``). The next
    run is read again at most every NEXT_RUN_SECONDS, so a worker's loop asks the
    database at most once a second when nothing is due.
    """

    def __init__(self, using: str = "default", scope: Callable[[Any], Any] = lambda qs: qs):
        self.using = using
        self.scope = scope
        self._next: datetime | None = None
        self._read_at: float | None = None
        self.skipped: set[Any] = set()  # due rows this worker cannot run (see runnable)

    def _enabled(self) -> QuerySet[Schedule]:
        qs = Schedule.objects.using(self.using).filter(enabled=True, next_run_at__isnull=False)
        if self.skipped:
            qs = qs.exclude(pk__in=sorted(self.skipped))
        result: QuerySet[Schedule] = self.scope(qs)
        return result

    def next_run(self) -> datetime | None:
        if self._read_at is None or monotonic() - self._read_at >= NEXT_RUN_SECONDS:
            first = self._enabled().order_by("next_run_at").values_list("next_run_at", flat=True)
            self._next = first.first()
            self._read_at = monotonic()
        return self._next

    def forget(self) -> None:
        self._read_at = None

    def fire_due(self, now: datetime | None = None) -> int:
        """Create the triggers of the due slots this worker wins; how many it made."""
        now = now or timezone.now()
        next_run = self.next_run()
        if next_run is None or next_run > now:
            return 0
        made = 0
        for schedule in self._enabled().filter(next_run_at__lte=now).order_by("next_run_at"):
            why = schedules.runnable(schedule)
            if why:
                log.warning("Schedule %s is due but not run by this worker: %s", schedule, why)
                self.skipped.add(schedule.pk)
                continue
            try:
                made += fire(schedule, now=now, using=self.using) is not None
            except cron.CronError as exc:  # a row edited by hand into nonsense
                log.error("Schedule %s cannot run: %s", schedule.pk, exc)
                self.skipped.add(schedule.pk)
        self.forget()
        return made
