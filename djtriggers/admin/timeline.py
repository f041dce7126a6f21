"""The story of one trigger, oldest first: created, tries, operator actions, results."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils.text import capfirst
from django.utils.translation import gettext, ngettext

from ..actions import ACTIONS
from ..corrections import labelled
from ..models import OperatorAction, Trigger
from ..registry import trigger_classes


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
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # field, old, new


def timeline(trigger: Trigger) -> list[Event]:
    """Three queries, whatever the number of events."""
    created = gettext("Created as %(type)s") % {"type": trigger.trigger_type}
    events = [Event(trigger.date_received, "created", created)]
    for attempt in trigger.attempts.all():
        # Translators: "Try 2: failed" (the outcome in lower case).
        title = gettext("Try %(number)s: %(outcome)s") % {
            "number": attempt.number,
            "outcome": attempt.get_outcome_display().lower(),
        }
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
    model = (trigger_classes().get(trigger.trigger_type) or [type(trigger)])[0]
    for action in trigger.operator_actions.all():
        events.append(
            Event(
                action.created_at,
                "operator",
                _operator_title(action),
                detail=action.reason,
                who=action.username,
                changes=labelled(model, action.changes),
            )
        )
    for result in trigger.results.all():
        events.append(Event(result.date_created, "result", gettext("Result"), detail=result.result))
    events.sort(key=lambda event: event.when)
    return events


def _error(exception_class: str, message: str) -> str:
    if not exception_class:
        return ""
    return f"{exception_class}: {message}" if message else exception_class


def _operator_title(action: Any) -> str:
    if action.kind == OperatorAction.Kind.EDIT:
        return gettext("Data corrected by an operator")
    known = ACTIONS.get(action.kind)
    verb = capfirst(known.verb if known else action.kind)
    if action.process_after:
        # Translators: "Rescheduled by an operator to 2031-01-02 03:04:05 UTC".
        title = gettext("%(action)s by an operator to %(when)s") % {
            "action": verb,
            "when": f"{action.process_after:%Y-%m-%d %H:%M:%S %Z}",
        }
    else:
        # Translators: "Cancelled by an operator"; an action no longer known shows its name.
        title = gettext("%(action)s by an operator") % {"action": verb}
    if action.spread:
        # Translators: "Reprocessed by an operator, spread over 1:00:00" (hours:minutes:seconds).
        title = gettext("%(title)s, spread over %(spread)s") % {
            "title": title,
            "spread": action.spread,
        }
    if action.changed > 1:
        title = ngettext(
            "%(title)s (%(count)d trigger at once)",
            "%(title)s (%(count)d triggers at once)",
            action.changed,
        ) % {"title": title, "count": action.changed}
    return title
