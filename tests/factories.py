"""Triggers in every status (and workers' rows), made as the library's users make them.

A new trigger is created through its model (``objects.create``, or
``bulk_create`` for many at once); every other status is reached through the
lifecycle's transitions, as a worker or an operator reaches it (claim, then
succeed or give up; cancel). So a row holds what the library itself would have
written, and no test guesses which columns go with which status. The
transitions write no ``TriggerAttempt`` rows: a test that wants tries runs them.

``fields`` are the model's own: ``source``, ``date_received``,
``process_after``, ``trigger_type``, a subclass's data (``amount=...``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.utils import timezone

from djtriggers import fingerprints, lifecycle
from djtriggers.models import Trigger, Worker
from tests.testapp.models import NoopTrigger

T = TypeVar("T", bound=Trigger)

# When a new trigger is due unless a test says otherwise: a little while ago.
DUE_SINCE = timedelta(minutes=5)


def make(n: int = 1, cls: type[T] = NoopTrigger, **fields: Any) -> list[T]:
    """``n`` new triggers of ``cls`` in one INSERT, due five minutes ago unless ``fields`` say."""
    fields.setdefault("process_after", timezone.now() - DUE_SINCE)
    return cls.objects.bulk_create([cls(**fields) for _ in range(n)])


def due(cls: type[T] = NoopTrigger, **fields: Any) -> T:
    """A new trigger of ``cls``, due five minutes ago unless ``fields`` say otherwise."""
    fields.setdefault("process_after", timezone.now() - DUE_SINCE)
    return cls.objects.create(**fields)


def pending(
    cls: type[T] = NoopTrigger, *, due_in: timedelta = timedelta(hours=1), **fields: Any
) -> T:
    """A new trigger that is not due yet: due in an hour (``due_in``)."""
    return due(cls, process_after=timezone.now() + due_in, **fields)


def running(
    cls: type[T] = NoopTrigger,
    *,
    worker: str = "w1",
    until: datetime | None = None,
    **fields: Any,
) -> T:
    """A trigger claimed by ``worker``, its lease ending at ``until`` (now)."""
    trigger = due(cls, **fields)
    return advance(trigger, (lifecycle.CLAIM, {"worker": worker, "until": until or timezone.now()}))


def dispatched(
    cls: type[T] = NoopTrigger,
    *,
    token: str = "t1",
    deadline: datetime | None = None,
    **fields: Any,
) -> T:
    """A trigger the dispatcher claimed for a task (held by "dispatched:<token>") that no
    task has started: published again after ``deadline`` (five minutes from now)."""
    until = deadline or timezone.now() + timedelta(minutes=5)
    return running(cls, worker=f"{lifecycle.DISPATCHED}{token}", until=until, **fields)


def processed(cls: type[T] = NoopTrigger, *, at: datetime | None = None, **fields: Any) -> T:
    """A trigger a worker claimed and processed, at ``at`` (now)."""
    trigger = running(cls, **fields)
    return advance(trigger, (lifecycle.SUCCEED, {"now": at or timezone.now()}))


def failed(
    cls: type[T] = NoopTrigger,
    *,
    error: str = "ValueError: no coffee",
    fingerprint: str | None = None,
    tries: int = 5,
    at: datetime | None = None,
    **fields: Any,
) -> T:
    """A trigger whose last try (``tries``) failed with ``error`` at ``at`` (now): failed for good.

    ``fingerprint`` defaults to the engine's for ``error`` ("ExceptionClass: message").
    """
    trigger = running(cls, **fields)
    if fingerprint is None:
        fingerprint = _fingerprint(trigger, error)
    params = {"tries": tries, "error": error, "fingerprint": fingerprint}
    return advance(trigger, (lifecycle.GIVE_UP, {**params, "now": at or timezone.now()}))


def retried(
    cls: type[T] = NoopTrigger,
    *,
    error: str = "ValueError: no coffee",
    tries: int = 1,
    retry_at: datetime | None = None,
    **fields: Any,
) -> T:
    """A trigger whose try ``tries`` failed with ``error``: due again at ``retry_at`` (now)."""
    trigger = running(cls, **fields)
    params = {"tries": tries, "error": error, "fingerprint": _fingerprint(trigger, error)}
    return advance(trigger, (lifecycle.RETRY, {**params, "when": retry_at or timezone.now()}))


def cancelled(cls: type[T] = NoopTrigger, *, at: datetime | None = None, **fields: Any) -> T:
    """A waiting trigger that an operator cancelled at ``at`` (now)."""
    trigger = due(cls, **fields)
    return advance(trigger, (lifecycle.CANCEL, {"now": at or timezone.now()}))


def advance(trigger: T, *steps: tuple[lifecycle.Transition, dict[str, Any]]) -> T:
    """Take ``trigger`` through lifecycle transitions; the instance follows its row."""
    rows = Trigger._base_manager.filter(pk=trigger.pk)
    for transition, params in steps:
        changed = transition.apply(rows, **params)
        assert changed == 1, f"{trigger} cannot {transition.name} from {trigger.state}"
        for name, value in transition.values(**params).items():
            setattr(trigger, name, value)
    return trigger


def _fingerprint(trigger: Trigger, error: str) -> str:
    """The engine's fingerprint of an error line ("ExceptionClass: message")."""
    exception_class, _, message = error.partition(": ")
    return fingerprints.fingerprint(trigger.trigger_type, exception_class, message)


# A trigger of each status, by status name: the six statuses of the vocabulary.
BY_STATUS = {
    "pending": pending,
    "due": due,
    "running": running,
    "failed": failed,
    "processed": processed,
    "cancelled": cancelled,
}


def worker(name: str = "w1", *, seconds_ago: float = 1, **fields: Any) -> Worker:
    """A worker's heartbeat row, last seen ``seconds_ago`` (unless ``last_seen`` is given)."""
    fields.setdefault("host", "host")
    fields.setdefault("pid", 1)
    fields.setdefault("last_seen", timezone.now() - timedelta(seconds=seconds_ago))
    return Worker.objects.create(name=name, **fields)
