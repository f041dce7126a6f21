"""Claiming and processing triggers: the one place where ``_process`` runs.

A worker first *claims* due triggers in a short transaction (state
``running``, ``locked_by`` its name, ``locked_until`` the end of its lease),
so that everybody can see what is held. It then processes them in *groups*:
one transaction per group, one savepoint per trigger. A trigger's writes and
its completion commit together, so a crash rolls both back and the trigger
becomes due again when the lease ends. A group is committed once it has run
``COMMIT_INTERVAL_SECONDS``, so fast triggers share a commit and slow ones
get one each.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from django.db import transaction
from django.utils import timezone

from .conf import settings
from .db import write_transaction
from .exceptions import ProcessError, ProcessLaterError, UnknownTriggerType
from .loggers import get_logger
from .loggers.base import TriggerLogger
from .models import Trigger, TriggerAttempt
from .querysets import due_q
from .registry import trigger_classes
from .states import State

log = logging.getLogger("djtriggers")

Outcome = TriggerAttempt.Outcome


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:100]


@dataclass
class Attempt:
    """How one run of ``_process`` ended."""

    trigger: Trigger
    outcome: str
    started_at: datetime
    finished_at: datetime
    process_after: datetime | None = None
    exception: BaseException | None = None
    traceback: str = ""
    give_up: bool = False  # fail for good whatever the tries budget says

    def changes(self, now: datetime) -> dict[str, Any]:
        """The trigger's new field values."""
        released = {"locked_by": None, "locked_until": None}
        if self.outcome == Outcome.SUCCESS:
            return success_changes(now)
        if self.outcome == Outcome.LATER:
            return {"state": State.SCHEDULED, "process_after": self.process_after, **released}
        trigger = self.trigger
        tries = trigger.number_of_tries + 1
        changes: dict[str, Any] = {
            "number_of_tries": tries,
            "last_error": self.error_line()[:1000],
            **released,
        }
        if self.gives_up:
            changes.update(state=State.FAILED, successful=False, date_processed=now)
        else:
            changes.update(
                state=State.SCHEDULED, process_after=now + trigger.get_retry_delay(tries)
            )
        return changes

    @property
    def gives_up(self) -> bool:
        """Whether this failed try is the last one."""
        tries = self.trigger.number_of_tries + 1
        return self.outcome == Outcome.FAILURE and (
            self.give_up or tries >= self.trigger.get_max_tries()
        )

    def error_line(self) -> str:
        return f"{type(self.exception).__name__}: {self.exception}"

    def record(self, worker: str) -> TriggerAttempt:
        limit = settings.TRACEBACK_MAX_CHARS
        exc = self.exception
        tb = self.traceback
        if len(tb) > limit:
            tb = "… (cut)\n" + tb[-limit:]
        return TriggerAttempt(
            trigger_id=self.trigger.pk,
            number=self.trigger.number_of_tries + 1,
            worker=worker,
            started_at=self.started_at,
            finished_at=self.finished_at,
            outcome=self.outcome,
            exception_class=type(exc).__qualname__ if exc else "",
            message=str(exc)[:limit] if exc else "",
            traceback=tb,
        )

    def log_failure(self) -> None:
        """Log a failed try: WARNING from TRIES_BEFORE_WARNING on, ERROR when giving up."""
        trigger = self.trigger
        tries = trigger.number_of_tries + 1
        if self.gives_up:
            level = logging.ERROR
        elif tries >= settings.TRIES_BEFORE_WARNING:
            level = logging.WARNING
        else:
            level = logging.INFO
        message = (
            f"Processing of {trigger.trigger_type} {trigger.pk} raised a "
            f"{type(self.exception).__name__} (try nr. {tries})"
        )
        log.log(level, message, exc_info=self.exception if level > logging.INFO else None)
        trigger.logger.log_message(trigger, message, level=level)


def run_attempt(
    trigger: Trigger, dictionary: dict[str, Any], logger: TriggerLogger, using: str
) -> Attempt:
    """Run ``_process`` in a savepoint, so a failure undoes only this trigger's writes."""
    started = timezone.now()
    try:
        with transaction.atomic(using=using):
            logger.log_result(trigger, trigger._process(dictionary))
    except ProcessLaterError as exc:
        return Attempt(trigger, Outcome.LATER, started, timezone.now(), exc.process_after)
    except Exception as exc:
        tb = traceback.format_exc()
        return Attempt(
            trigger, Outcome.FAILURE, started, timezone.now(), exception=exc, traceback=tb
        )
    return Attempt(trigger, Outcome.SUCCESS, started, timezone.now())


def save_attempts(attempts: Sequence[Attempt], worker: str, using: str) -> None:
    """Write the attempts' outcomes: one UPDATE for all successes, one per other row."""
    now = timezone.now()
    base = Trigger._base_manager.using(using)
    succeeded = [a.trigger.pk for a in attempts if a.outcome == Outcome.SUCCESS]
    if succeeded:
        base.filter(pk__in=succeeded).update(**success_changes(now))
    for attempt in attempts:
        if attempt.outcome != Outcome.SUCCESS:
            base.filter(pk=attempt.trigger.pk).update(**attempt.changes(now))
    TriggerAttempt.objects.using(using).bulk_create([a.record(worker) for a in attempts])


def success_changes(now: datetime) -> dict[str, Any]:
    return {
        "state": State.PROCESSED,
        "successful": True,
        "date_processed": now,
        "last_error": "",
        "locked_by": None,
        "locked_until": None,
    }


def typed_triggers(rows: Iterable[Trigger], using: str) -> list[Trigger | UnknownTriggerType]:
    """The rows as instances of their registered classes, or the error for an unknown type.

    One query per multi-table class; proxies need none.
    """
    rows = list(rows)
    classes = trigger_classes()
    by_pk: dict[Any, Trigger | UnknownTriggerType] = {}
    needs_query: dict[type[Trigger], list[Any]] = {}
    for row in rows:
        candidates = classes.get(row.trigger_type)
        if not candidates:
            by_pk[row.pk] = UnknownTriggerType(
                f"No Trigger subclass has typed = {row.trigger_type!r}. Was the class renamed "
                "or removed? Restore it (or a proxy with that typed), then reprocess."
            )
        elif candidates[0]._meta.concrete_model is Trigger:
            by_pk[row.pk] = row.as_typed()
        else:
            needs_query.setdefault(candidates[0], []).append(row.pk)
    for cls, pks in needs_query.items():
        by_pk.update((obj.pk, obj) for obj in cls._base_manager.using(using).filter(pk__in=pks))
    # A multi-table row whose child row is missing is as unknown as an unknown type.
    return [by_pk.get(row.pk, UnknownTriggerType(f"{row!r} has no child row.")) for row in rows]


@dataclass
class Counts:
    succeeded: int = 0
    failed: int = 0
    gave_up: int = 0
    rescheduled: int = 0
    seconds: float = 0.0

    @property
    def attempted(self) -> int:
        return self.succeeded + self.failed + self.rescheduled

    def add(self, attempts: Iterable[Attempt]) -> None:
        for attempt in attempts:
            if attempt.outcome == Outcome.SUCCESS:
                self.succeeded += 1
            elif attempt.outcome == Outcome.LATER:
                self.rescheduled += 1
            else:
                self.failed += 1
                self.gave_up += attempt.gives_up

    def summary(self) -> str:
        rate = self.attempted / self.seconds if self.seconds else 0.0
        return (
            f"{self.attempted} triggers in {self.seconds:.2f}s ({rate:.0f}/s): "
            f"{self.succeeded} processed, {self.failed} failed ({self.gave_up} for good), "
            f"{self.rescheduled} rescheduled"
        )


class Engine:
    """Claims and processes triggers for one worker."""

    def __init__(
        self,
        *,
        worker: str | None = None,
        using: str = "default",
        types: Sequence[str] = (),
        exclude_types: Sequence[str] = (),
        due_before: datetime | None = None,
        dictionary: dict[str, Any] | None = None,
    ) -> None:
        self.worker = worker or default_worker_name()
        self.using = using
        self.types = list(types)
        self.exclude_types = list(exclude_types)
        self.due_before = due_before
        self.dictionary = dictionary or {}
        self.counts = Counts()
        self.current: Any = None

    def _scope(self, qs: Any) -> Any:
        if self.types:
            qs = qs.filter(trigger_type__in=self.types)
        if self.exclude_types:
            qs = qs.exclude(trigger_type__in=self.exclude_types)
        return qs

    def claim(self, limit: int) -> list[Any]:
        """Take up to ``limit`` due triggers (and any whose lease ended) for this worker."""
        now = timezone.now()
        base = Trigger._base_manager.using(self.using)
        lost = self._scope(base.filter(state=State.RUNNING, locked_until__lt=now))
        due = self._scope(base.filter(due_q(min(now, self.due_before or now))))
        with write_transaction(self.using):
            # SKIP LOCKED: rows another worker is claiming are left to it, no waiting.
            pks = list(
                lost.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit]
            )
            if len(pks) < limit:
                due = due.select_for_update(skip_locked=True).order_by("process_after")
                pks += due.values_list("pk", flat=True)[: limit - len(pks)]
            if pks:
                base.filter(pk__in=pks).update(
                    state=State.RUNNING,
                    locked_by=self.worker,
                    locked_until=now + timedelta(seconds=settings.LEASE_SECONDS),
                )
        return pks

    def process(
        self,
        pks: Sequence[Any],
        *,
        should_stop: Callable[[], bool] = lambda: False,
        between_groups: Callable[[], None] = lambda: None,
    ) -> None:
        """Process claimed triggers group by group; release what is left on a stop."""
        remaining = list(pks)
        while remaining:
            if should_stop():
                self.release(remaining)
                return
            started = monotonic()
            remaining = self._process_group(remaining, should_stop)
            self.counts.seconds += monotonic() - started
            between_groups()

    def _process_group(self, pks: list[Any], should_stop: Callable[[], bool]) -> list[Any]:
        deadline = monotonic() + settings.COMMIT_INTERVAL_SECONDS
        attempts: list[Attempt] = []
        with write_transaction(self.using):
            # Rows that are no longer ours (the lease ended and another worker
            # took them) are dropped; SKIP LOCKED never waits for that worker.
            locked = (
                Trigger._base_manager.using(self.using)
                .select_for_update(skip_locked=True)
                .filter(pk__in=pks, state=State.RUNNING, locked_by=self.worker)
                .order_by("pk")
            )
            rows = list(locked)
            for row, trigger in zip(rows, typed_triggers(rows, self.using), strict=True):
                if isinstance(trigger, UnknownTriggerType):
                    now = timezone.now()
                    attempts.append(
                        Attempt(row, Outcome.FAILURE, now, now, exception=trigger, give_up=True)
                    )
                    continue
                self.current = trigger.pk
                attempts.append(run_attempt(trigger, self.dictionary, trigger.logger, self.using))
                if monotonic() >= deadline or should_stop():
                    break
            for attempt in attempts:
                if attempt.outcome == Outcome.FAILURE:
                    attempt.log_failure()
            save_attempts(attempts, self.worker, self.using)
        self.current = None
        self.counts.add(attempts)
        done = {a.trigger.pk for a in attempts}
        kept = {row.pk for row in rows}
        return [pk for pk in pks if pk in kept and pk not in done]

    def release(self, pks: Sequence[Any] | None = None) -> int:
        """Give back claimed triggers that were not started (all of ours if ``pks`` is None)."""
        qs = Trigger._base_manager.using(self.using).filter(
            state=State.RUNNING, locked_by=self.worker
        )
        if pks is not None:
            qs = qs.filter(pk__in=pks)
        return qs.update(state=State.SCHEDULED, locked_by=None, locked_until=None)

    def extend_leases(self) -> int:
        until = timezone.now() + timedelta(seconds=settings.LEASE_SECONDS)
        return (
            Trigger._base_manager.using(self.using)
            .filter(state=State.RUNNING, locked_by=self.worker)
            .update(locked_until=until)
        )


def process_now(
    trigger: Trigger,
    *,
    force: bool = False,
    logger: str | None = None,
    dictionary: dict[str, Any] | None = None,
) -> None:
    """``Trigger.process()``: run one trigger in this process, if nobody else is."""
    using = trigger._state.db or "default"
    attempt = None
    with write_transaction(using):
        row = (
            Trigger._base_manager.using(using)
            .select_for_update(skip_locked=True)
            .filter(pk=trigger.pk)
            .first()
        )
        if row is None:
            if Trigger._base_manager.using(using).filter(pk=trigger.pk).exists():
                return  # a worker is processing it right now
            raise Trigger.DoesNotExist(f"Trigger {trigger.pk} does not exist.")
        for name in SYSTEM_FIELDS:
            setattr(trigger, name, getattr(row, name))
        if not force:
            if trigger.state in (State.RUNNING, State.PROCESSED, State.FAILED, State.CANCELLED):
                return
            if trigger.process_after and trigger.process_after > timezone.now():
                raise ProcessLaterError(trigger.process_after)
        typed = trigger.as_typed()
        trigger_logger = get_logger(logger) if logger else typed.logger
        attempt = run_attempt(typed, dictionary or {}, trigger_logger, using)
        if attempt.outcome == Outcome.FAILURE:
            attempt.log_failure()
        changes = attempt.changes(timezone.now())
        Trigger._base_manager.using(using).filter(pk=trigger.pk).update(**changes)
        attempt.record(f"{socket.gethostname()}:{os.getpid()} process()").save(using=using)
        for name, value in changes.items():
            setattr(trigger, name, value)
    if attempt.outcome == Outcome.FAILURE:
        raise ProcessError(attempt.error_line(), exception=attempt.exception) from attempt.exception


SYSTEM_FIELDS = (
    "trigger_type",
    "date_processed",
    "process_after",
    "number_of_tries",
    "successful",
    "state",
    "last_error",
    "locked_by",
    "locked_until",
)
