"""Django signals: what happened to triggers, for metrics, alerts and logs of your own.

Each is sent once the transaction that recorded the event has committed, so a
receiver sees what the database holds, and never for work that was rolled
back. A receiver that raises is logged and ignored: it cannot fail a worker's
group or an operator's request. The trigger signals' ``sender`` is the
trigger's class, so ``receiver(trigger_processed, sender=SendEmail)`` listens
to one type.

Arguments (besides ``sender``):

- ``trigger_processed``: ``trigger``, ``worker`` (its name), ``duration`` and
  ``start_delay`` (timedeltas; the delay runs from the later of
  ``process_after`` and ``date_received`` to the start of the try).
- ``trigger_try_failed``: the same, plus ``error`` ("Class: message") and
  ``gives_up`` (True on the last try, which also sends ``trigger_failed``).
- ``trigger_failed``: failed for good; ``trigger``, ``worker``, ``duration``,
  ``start_delay``, ``error``.
- ``trigger_rescheduled``: ``_process`` raised ProcessLaterError; the same as
  ``trigger_processed``, plus ``process_after``.
- ``lease_lost``: (sender ``Trigger``) ``pks``, ``worker`` (whose lease ended)
  and ``found_by`` (the worker that took the triggers back).
- ``operator_action``: (sender ``Trigger``) ``action`` (its name), ``user``
  (None for code), ``changed`` and ``skipped`` (counts); ``pause`` and ``resume``
  also ``trigger_type``.
- ``worker_started`` / ``worker_stopped``: (sender the worker's class)
  ``worker`` (its name); ``worker_stopped`` also ``counts`` (engine.Counts).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.dispatch import Signal

if TYPE_CHECKING:
    from .attempts import Attempt

log = logging.getLogger("djtriggers")

trigger_processed = Signal()
trigger_try_failed = Signal()
trigger_failed = Signal()
trigger_rescheduled = Signal()
lease_lost = Signal()
operator_action = Signal()
worker_started = Signal()
worker_stopped = Signal()


def send(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send now; a receiver's exception is logged, never raised."""
    for receiver, result in signal.send_robust(sender, **kwargs):
        if isinstance(result, Exception):
            log.error("A receiver of a djtriggers signal failed: %r", receiver, exc_info=result)


def on_commit(signal: Signal, sender: Any, *, using: str, **kwargs: Any) -> None:
    """Send once the current transaction on ``using`` commits (at once outside one)."""
    if signal.has_listeners(sender):
        transaction.on_commit(lambda: send(signal, sender, **kwargs), using=using)


def announce_attempts(attempts: Sequence[Attempt], worker: str, using: str) -> None:
    """The signals of recorded attempts, sent when their transaction commits."""
    from .attempts import Outcome

    for attempt in attempts:
        trigger = attempt.trigger
        common: dict[str, Any] = {
            "trigger": trigger,
            "worker": worker,
            "duration": attempt.finished_at - attempt.started_at,
            "start_delay": start_delay(attempt),
        }
        sender = type(trigger)
        if attempt.outcome == Outcome.SUCCESS:
            on_commit(trigger_processed, sender, using=using, **common)
        elif attempt.outcome == Outcome.LATER:
            on_commit(
                trigger_rescheduled,
                sender,
                using=using,
                process_after=attempt.process_after,
                **common,
            )
        elif trigger_try_failed.has_listeners(sender) or trigger_failed.has_listeners(sender):
            gives_up = attempt.gives_up  # runs get_max_tries() again: only when listened to
            error = attempt.error_line()
            on_commit(
                trigger_try_failed, sender, using=using, error=error, gives_up=gives_up, **common
            )
            if gives_up:
                on_commit(trigger_failed, sender, using=using, error=error, **common)


def start_delay(attempt: Attempt) -> timedelta:
    """From when the trigger was due (the later of process_after and date_received)
    to the start of the try; never negative."""
    trigger = attempt.trigger
    due = max(
        (t for t in (trigger.process_after, trigger.date_received) if t is not None),
        default=attempt.started_at,
    )
    return max(attempt.started_at - due, timedelta())
