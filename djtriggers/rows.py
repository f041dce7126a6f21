"""One row of an imported file as a new trigger, or what is wrong with the row.

A row is a dict of cells by column, each a plain value: text, a whole number,
true/false, None (an empty cell), a time as text (ISO 8601, or any time that
``times.parse_when`` reads) or a datetime a spreadsheet typed. Its state comes
from its ``status`` (without one, from ``date_processed`` and ``successful``, the
2.x way) and is made consistent by ``lifecycle``; a running trigger comes back
scheduled, since the worker that held it is not there.

Django alone: ``resources.py`` reads the files with django-import-export.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from . import lifecycle
from .fingerprints import fingerprint
from .lifecycle import State, Status
from .models import Trigger
from .registry import trigger_classes
from .times import parse_when

# The state a row of each status is imported in: the lifecycle's, but a running
# trigger is scheduled (see the module's docstring).
STATE_OF = {
    status: state for state, statuses in lifecycle.STATUSES_OF.items() for status in statuses
} | {Status.RUNNING: State.SCHEDULED}
STATUSES = frozenset(Status.values)
TRUE = frozenset(("true", "1", "yes"))
FALSE = frozenset(("false", "0", "no"))
SOURCE_MAX = Trigger._meta.get_field("source").max_length or 250

# A problem of one row: its column and the message.
Issue = tuple[str, str]


def shown(value: Any) -> str:
    """A value in a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class RowReader:
    """Turns a row of a file into a new (unsaved) trigger, or says what is wrong with it."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.classes = trigger_classes()

    def read(self, row: dict[str, Any]) -> tuple[Trigger | None, Status | None, list[Issue]]:
        """The new trigger and the status the row gave, or None and the row's problems."""
        problems: list[Issue] = []

        def cell(column: str, parse: Callable[[Any], Any]) -> Any:
            try:
                return parse(row.get(column))
            except ValueError as exc:
                problems.append((column, str(exc)))
                return None

        typed = cell("trigger_type", self.trigger_type)
        source = cell("source", _source)
        status = cell("status", _status)
        received = cell("date_received", self.when)
        after = cell("process_after", self.when)
        done = cell("date_processed", self.when)
        successful = cell("successful", _boolean)
        tries = cell("number_of_tries", _tries)
        error = cell("last_error", _text)
        if problems:
            return None, status, problems
        try:
            columns = lifecycle_columns(status, done, successful, after, now=self.now)
        except ValueError as exc:
            return None, status, [("status", str(exc))]
        trigger = Trigger(
            trigger_type=typed,
            source=source,
            date_received=received or self.now,
            number_of_tries=tries,
            last_error=error,
            **columns,
        )
        if error:
            exception_class, _sep, message = error.partition(": ")
            trigger.error_fingerprint = fingerprint(typed, exception_class, message)
        return trigger, status, []

    def trigger_type(self, value: Any) -> str:
        typed = _text(value).strip()
        if not typed:
            raise ValueError(_("The trigger_type column is empty."))
        classes = self.classes.get(typed)
        if not classes:
            known = ", ".join(sorted(self.classes)) or _("none")
            raise ValueError(
                _("Unknown trigger type %(type)s. Known types: %(known)s.")
                % {"type": shown(typed), "known": known}
            )
        if classes[0]._meta.concrete_model is not Trigger:
            raise ValueError(
                _(
                    "%(type)s keeps data of its own (%(class)s); create those triggers in "
                    "code. Import supports proxy trigger types."
                )
                % {"type": shown(typed), "class": classes[0].__name__}
            )
        return typed

    def when(self, value: Any) -> datetime | None:
        if is_blank(value):
            return None
        if isinstance(value, datetime):  # a date typed in a spreadsheet
            value = value.isoformat(sep=" ")
        if not isinstance(value, str):
            raise ValueError(_("%(value)s is not a date and time.") % {"value": shown(value)})
        return parse_when(value, now=self.now)


def lifecycle_columns(
    status: Status | None,
    date_processed: datetime | None,
    successful: bool | None,
    process_after: datetime | None,
    *,
    now: datetime,
) -> dict[str, Any]:
    """The lifecycle's columns of a new trigger of ``status`` (None: the 2.x columns decide).

    Raises ValueError when the status and the 2.x columns contradict each other.
    """
    state = STATE_OF[status] if status else State.SCHEDULED
    settled, done, ok = lifecycle.settle(state, date_processed, successful, before=None, now=now)
    if status and settled != state:
        raise ValueError(
            _(
                "A %(status)s trigger has no date_processed: clear date_processed, or make "
                "the status processed, failed or cancelled."
            )
            % {"status": status.value}
        )
    if successful is not None and ok != successful:
        raise ValueError(
            _("A %(status)s trigger cannot have successful %(value)s.")
            % {"status": str(settled), "value": str(successful).lower()}
        )
    columns = lifecycle.initial(process_after, now=now)
    columns.update(state=settled, date_processed=done, successful=ok)
    return columns


# --- the cells -------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as text: spreadsheets may hand numbers over for text that looks like one."""
    if value is None:
        return ""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(_("The text holds a NUL character, which no database stores."))
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:  # a lone surrogate, which JSON can hold
                raise ValueError(_("The text is not valid Unicode.")) from None
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    raise ValueError(_("%(value)s is not text.") % {"value": shown(value)})


def _source(value: Any) -> str | None:
    source = _text(value)
    if len(source) > SOURCE_MAX:
        raise ValueError(
            _("The source is %(length)d characters long; at most %(max)d fit.")
            % {"length": len(source), "max": SOURCE_MAX}
        )
    return source or None


def _status(value: Any) -> Status | None:
    text = _text(value).strip().lower()
    if not text:
        return None
    if text not in STATUSES:
        raise ValueError(
            _("Unknown status %(status)s: use one of %(statuses)s, or leave it empty.")
            % {"status": shown(text), "statuses": ", ".join(Status.values)}
        )
    return Status(text)


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = _text(value).strip().lower()
    if not text:
        return None
    if text in TRUE or text in FALSE:
        return text in TRUE
    raise ValueError(
        _("%(value)s is not true or false: use true, false, 1, 0, or leave it empty.")
        % {"value": shown(value)}
    )


def _tries(value: Any) -> int:
    number: int | None = None
    if is_blank(value):
        return 0
    if isinstance(value, bool):
        pass  # not a count
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float):
        number = int(value) if math.isfinite(value) and value.is_integer() else None
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        digits = value.strip().lstrip("0") or "0"
        # More digits than the largest count has is out of range; checked before int().
        number = int(digits) if len(digits) <= 10 else lifecycle.MAX_TRIES_COUNT + 1
    if number is None:
        raise ValueError(
            _("%(value)s is not a number of tries: use a whole number with the digits 0-9.")
            % {"value": shown(value)}
        )
    if not 0 <= number <= lifecycle.MAX_TRIES_COUNT:
        raise ValueError(
            _("%(value)s tries is out of range: use 0 to %(max)d.")
            % {"value": shown(value), "max": lifecycle.MAX_TRIES_COUNT}
        )
    return number
