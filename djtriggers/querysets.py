from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import models
from django.db.models import Count
from django.utils import timezone

from . import lifecycle, priorities, uniqueness, wakeup
from .lifecycle import State, Status
from .times import check_in_range

if TYPE_CHECKING:
    from .models import Trigger

_T = TypeVar("_T", bound="Trigger")


def status_q(status: str, now: datetime | None = None) -> models.Q:
    """The filter for one status of the vocabulary in ``lifecycle.Status``."""
    return lifecycle.status_q(status, now or timezone.now())


class TriggerQuerySet(models.QuerySet[_T]):
    def with_status(self, status: str) -> TriggerQuerySet[_T]:
        return self.filter(status_q(status))

    def pending(self) -> TriggerQuerySet[_T]:
        return self.with_status(Status.PENDING)

    def due(self) -> TriggerQuerySet[_T]:
        return self.with_status(Status.DUE)

    def running(self) -> TriggerQuerySet[_T]:
        return self.with_status(Status.RUNNING)

    def failed(self) -> TriggerQuerySet[_T]:
        return self.with_status(Status.FAILED)

    def processed(self) -> TriggerQuerySet[_T]:
        return self.with_status(Status.PROCESSED)

    def cancelled(self) -> TriggerQuerySet[_T]:
        return self.with_status(Status.CANCELLED)

    def bulk_create(self, objs: Iterable[_T], *args: Any, **kwargs: Any) -> list[_T]:
        # The database settles rows written the 2.x way (see lifecycle.settle);
        # the instances handed back agree with their rows.
        objs = list(objs)
        now = timezone.now()
        for obj in objs:
            lifecycle.settle_instance(obj, before=None, now=now)
            uniqueness.fill(obj)
        created = super().bulk_create(objs, *args, **kwargs)
        times = [o.process_after for o in objs if o.state == State.SCHEDULED and o.process_after]
        if times:
            wakeup.poke(self.db, min(times))
        return created

    def update(self, **kwargs: Any) -> int:
        changed = super().update(**kwargs)
        # Written the 2.x way (date_processed cleared, say): the database makes
        # the rows due (lifecycle.settle), so the workers are told.
        if changed and (
            kwargs.get("state") == State.SCHEDULED
            or ("date_processed" in kwargs and kwargs["date_processed"] is None)
            or "process_after" in kwargs
        ):
            when = kwargs.get("process_after")
            wakeup.poke(self.db, when if isinstance(when, datetime) else None)
        return changed

    def create_unique(self, *, unique_key: str | None = None, **fields: Any) -> tuple[_T, bool]:
        """``(trigger, created)``: create a trigger unless an unfinished one holds its key.

        The key is the class's ``unique_key``, or ``unique_key`` given here (a
        schedule's slot, say). Race-safe: the database decides (see uniqueness.py).
        """
        return uniqueness.create_unique(self, unique_key=unique_key, **fields)

    def prioritize(self, priority: int) -> int:
        """Give pending, due and failed triggers a new priority (0 runs first, 9 last)."""
        return priorities.PRIORITIZE.apply(self, priority=priorities.check(priority))

    def get_unprocessed_triggers(self) -> TriggerQuerySet[_T]:
        return self.filter(date_processed__isnull=True)

    def status_counts(self) -> dict[str, int]:
        """The number of triggers per status, in one query."""
        now = timezone.now()
        counts = self.aggregate(
            **{status: Count("pk", filter=status_q(status, now)) for status in Status.values}
        )
        return {status: counts[status] or 0 for status in Status.values}

    # Operator operations for code, each one transition of the lifecycle: a
    # conditional UPDATE whose WHERE clause names the states it applies to, so
    # a row that a worker claimed meanwhile (running) or that finished meanwhile
    # is left alone, whatever the caller saw when it built the queryset.

    def reprocess(self) -> int:
        """Make failed, cancelled and scheduled triggers due now with a fresh tries budget."""
        return self.reschedule(timezone.now())

    def reschedule(self, when: datetime) -> int:
        """Schedule failed, cancelled and scheduled triggers at ``when`` with a fresh budget."""
        return lifecycle.REVIVE.apply(self, when=check_in_range(when))

    def cancel(self) -> int:
        """Cancel triggers that are waiting (pending or due); never touches finished rows."""
        return lifecycle.CANCEL.apply(self, now=timezone.now())


class TriggerManager(models.Manager.from_queryset(TriggerQuerySet)):  # type: ignore[misc]
    """Returns the triggers of the manager's model type: all of them on ``Trigger``."""

    def get_queryset(self) -> TriggerQuerySet[Any]:
        qs: TriggerQuerySet[Any] = super().get_queryset()
        typed = getattr(self.model, "typed", None)
        if typed is not None:
            qs = qs.filter(trigger_type=typed)
        return qs
