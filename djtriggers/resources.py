"""Triggers as rows of a file: what the admin exports, and how a file becomes triggers.

Every format holds the columns of ``COLUMNS`` with plain values: text, whole
numbers, true/false, null (an empty cell), and times as ISO 8601 text with their
UTC offset, in the current time zone. So a file we export imports back as the
same triggers.

An import only adds triggers, each with a new id (the ``id`` column is read and
ignored), and it is all or nothing: every row is checked first, and the rows are
written, in one transaction, only when no row has a problem. A row's state comes
from its ``status`` (without one, from ``date_processed`` and ``successful``, the
2.x way) and is made consistent by ``lifecycle``; a running trigger comes back
scheduled, since the worker that held it is not there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DatabaseError, router, transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from import_export import fields, resources
from import_export.results import Result, RowResult

from . import lifecycle
from .conf import settings
from .fingerprints import fingerprint
from .lifecycle import State, Status
from .models import Trigger
from .registry import trigger_classes
from .times import parse_when

COLUMNS = (
    "id",
    "trigger_type",
    "source",
    "status",
    "date_received",
    "process_after",
    "date_processed",
    "successful",
    "number_of_tries",
    "last_error",
)
# The state a row of each status is imported in: the lifecycle's, but a running
# trigger is scheduled (see the module's docstring).
STATE_OF = {
    status: state for state, statuses in lifecycle.STATUSES_OF.items() for status in statuses
} | {Status.RUNNING: State.SCHEDULED}
STATUSES = frozenset(Status.values)
TRUE = frozenset(("true", "1", "yes"))
FALSE = frozenset(("false", "0", "no"))
SOURCE_MAX = Trigger._meta.get_field("source").max_length or 250
SHOWN_PROBLEMS = 100  # the rows with errors a page lists; the others are counted
BATCH = 1000


# A problem of one row: its column and the message.
Issue = tuple[str, str]


class ImportFileError(ValueError):
    """The whole file cannot be imported; the message says why and what to do."""


def too_many_rows(limit: int) -> ImportFileError:
    grouped = number_format(limit, force_grouping=True)
    return ImportFileError(
        ngettext(
            "The file has more than %(limit)s row: an import takes at most %(limit)s "
            "(DJTRIGGERS_IMPORT_MAX_ROWS). Split the file, or raise the setting.",
            "The file has more than %(limit)s rows: an import takes at most %(limit)s "
            "(DJTRIGGERS_IMPORT_MAX_ROWS). Split the file, or raise the setting.",
            limit,
        )
        % {"limit": grouped}
    )


def shown(value: Any) -> str:
    """A value in a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class Problem:
    row: int | None  # the data row, counted from 1 after the header; None: the whole file
    column: str
    message: str


class ImportResult(Result):
    """What an import found (and did): counts for the summary and the problems."""

    def __init__(self) -> None:
        super().__init__()
        self.file_problems: list[Problem] = []
        self.row_problems: list[Problem] = []
        self.valid = 0
        self.invalid = 0
        self.skipped = 0  # empty rows
        self.rescheduled = 0  # running rows, imported scheduled
        self.statuses: Counter[str] = Counter()
        self.types: Counter[str] = Counter()

    def has_errors(self) -> bool:
        return bool(self.file_problems)

    def has_validation_errors(self) -> bool:
        return bool(self.row_problems)

    # For the page: the first problems, how many more, the counts in order.
    def shown_problems(self) -> list[Problem]:
        return self.row_problems[:SHOWN_PROBLEMS]

    def more_problems(self) -> int:
        return max(len(self.row_problems) - SHOWN_PROBLEMS, 0)

    def by_status(self) -> list[tuple[str, int]]:
        """(status, how many) of the valid rows, in the order of the statuses."""
        return [(status.value, self.statuses[status]) for status in Status if self.statuses[status]]

    def by_type(self) -> list[tuple[str, int]]:
        return sorted(self.types.items())


class TriggerResource(resources.ModelResource):
    """Exports triggers (``export_field``) and imports files of them (``import_data``)."""

    status = fields.Field(column_name="status", readonly=True)

    class Meta:
        model = Trigger
        fields = COLUMNS
        export_order = COLUMNS
        chunk_size = 2000

    def get_user_visible_fields(self) -> list[Any]:
        return [self.fields[name] for name in COLUMNS]

    # --- export -------------------------------------------------------------

    def export_field(self, field: Any, instance: Trigger, **kwargs: Any) -> Any:
        """The column's value as it is: None, a number, a boolean, text; a time as ISO text."""
        if field.column_name == "status":
            return instance.status.value
        value = getattr(instance, field.attribute)
        if isinstance(value, datetime):
            return timezone.localtime(value).isoformat()
        return value

    # --- import -------------------------------------------------------------

    def import_data(self, dataset: Any, dry_run: bool = False, **kwargs: Any) -> ImportResult:
        """Check every row of ``dataset``; unless ``dry_run``, write them if all are valid.

        A dry run (the preview) writes them too, in a transaction it rolls back,
        so that what the database would refuse shows before anything is written.
        """
        result = ImportResult()
        rows, problems = _rows(dataset)
        result.total_rows = len(rows)
        result.file_problems = [Problem(None, "", message) for message in problems]
        filled = [(number, row) for number, row in enumerate(rows, 1) if not _is_empty(row)]
        result.skipped = len(rows) - len(filled)
        if not result.file_problems and not filled:
            message = _("The file has no triggers: it has no rows after the header.")
            result.file_problems.append(Problem(None, "", message))
        if len(filled) > settings.IMPORT_MAX_ROWS:
            message = str(too_many_rows(settings.IMPORT_MAX_ROWS))
            result.file_problems.append(Problem(None, "", message))
        if result.file_problems:
            return result

        reader = RowReader(timezone.now())
        triggers = []
        for number, row in filled:
            trigger, status, row_problems = reader.read(row)
            if trigger is None:
                result.invalid += 1
                result.row_problems += [Problem(number, col, text) for col, text in row_problems]
                continue
            result.valid += 1
            result.types[trigger.trigger_type] += 1
            result.statuses[trigger.status] += 1
            if status == Status.RUNNING:
                result.rescheduled += 1
            triggers.append(trigger)
        if result.row_problems:
            return result

        db = router.db_for_write(Trigger)
        try:
            with transaction.atomic(using=db):
                created = Trigger.objects.using(db).bulk_create(triggers, batch_size=BATCH)
                if dry_run:
                    transaction.set_rollback(True, using=db)
        except DatabaseError as exc:
            message = _("The database refused the rows: %(error)s") % {"error": exc}
            result.file_problems.append(Problem(None, "", message))
            return result
        result.totals[RowResult.IMPORT_TYPE_NEW] = len(triggers)
        if not dry_run:  # for the admin log
            result.rows = [_row_result(trigger) for trigger in created]
        return result


def _rows(dataset: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of ``dataset`` by column, and what is wrong with its columns.

    A column without a name is dropped when it is empty (spreadsheets report
    such columns), and a problem when it holds values.
    """
    headers = ["" if header is None else str(header).strip() for header in dataset.headers or []]
    values = [list(row) for row in dataset]
    nameless = [i for i, header in enumerate(headers) if not header]
    problems = check_columns([header for header in headers if header])
    if any(not is_blank(row[i]) for row in values for i in nameless if i < len(row)):
        problems.append(_("A column without a name in the header row holds values: name it."))
    named = [(i, header) for i, header in enumerate(headers) if header]
    rows = [{header: row[i] if i < len(row) else None for i, header in named} for row in values]
    return rows, problems


def _is_empty(row: dict[str, Any]) -> bool:
    return all(is_blank(value) for value in row.values())


def _row_result(trigger: Trigger) -> RowResult:
    row = RowResult()
    row.import_type = RowResult.IMPORT_TYPE_NEW
    row.instance = trigger
    row.object_id = trigger.pk
    row.object_repr = str(trigger)
    return row


def check_columns(headers: list[str]) -> list[str]:
    """What is wrong with the header row, if anything."""
    problems = []
    unknown = [header for header in headers if header not in COLUMNS]
    if unknown:
        names = ", ".join(shown(header) for header in unknown)
        message = ngettext(
            "Unknown column %(columns)s. The columns are: %(known)s.",
            "Unknown columns %(columns)s. The columns are: %(known)s.",
            len(unknown),
        ) % {"columns": names, "known": ", ".join(COLUMNS)}
        if any(";" in header for header in unknown):
            message += " " + _("Is the file separated by semicolons? Save it with commas.")
        problems.append(message)
    twice = sorted({header for header in headers if headers.count(header) > 1 and header})
    if twice:
        problems.append(
            _("The columns %(columns)s appear more than once.") % {"columns": ", ".join(twice)}
        )
    if "trigger_type" not in headers:
        problems.append(_("The file has no trigger_type column; every row needs a trigger type."))
    return problems


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
