"""The story of one trigger, oldest first: created, tries, operator actions, results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..actions import ACTIONS
from ..models import Trigger


@dataclass
class Event:
    when: datetime
    kind: str  # created, attempt, operator, result
    title: str
    detail: str = ""
    traceback: str = ""
    who: str = ""
    duration: timedelta | None = None
    outcome: str = ""


def timeline(trigger: Trigger) -> list[Event]:
    """Three queries, whatever the number of events."""
    events = [Event(trigger.date_received, "created", f"Created as {trigger.trigger_type}")]
    for attempt in trigger.attempts.all():
        title = f"Try {attempt.number}: {attempt.get_outcome_display().lower()}"
        events.append(
            Event(
                attempt.started_at,
                "attempt",
                title,
                detail=_error(attempt.exception_class, attempt.message),
                traceback=attempt.traceback,
                who=attempt.worker,
                duration=attempt.duration,
                outcome=attempt.outcome,
            )
        )
    for action in trigger.operator_actions.all():
        events.append(
            Event(
                action.created_at,
                "operator",
                _operator_title(action),
                detail=action.reason,
                who=action.username,
            )
        )
    for result in trigger.results.all():
        events.append(Event(result.date_created, "result", "Result", detail=result.result))
    events.sort(key=lambda event: event.when)
    return events


def _error(exception_class: str, message: str) -> str:
    if not exception_class:
        return ""
    return f"{exception_class}: {message}" if message else exception_class


def _operator_title(action: Any) -> str:
    known = ACTIONS.get(action.kind)
    verb = known.verb if known else action.kind
    title = f"{verb.capitalize()} by an operator"
    if action.process_after:
        title += f" to {action.process_after:%Y-%m-%d %H:%M:%S %Z}"
    if action.spread:
        title += f", spread over {action.spread}"
    if action.changed > 1:
        title += f" ({action.changed} triggers at once)"
    return title
