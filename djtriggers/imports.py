"""A file of triggers as a whole: its columns, its size, and the problems that refuse it.

Every format of the admin's export and import holds the columns of ``COLUMNS``.
Before any row is read into a trigger (``rows.RowReader``), a file is checked as
a table: a header row that names known columns, including ``trigger_type``; no
row wider than the header; at least one row and at most
``DJTRIGGERS_IMPORT_MAX_ROWS`` (empty rows do not count).

Django alone: the formats (``admin/formats.py``) and the resource
(``resources.py``) bring django-import-export.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .conf import settings
from .rows import is_blank, shown

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


class ImportFileError(ValueError):
    """The whole file cannot be imported; the message says why and what to do."""


@dataclass(frozen=True)
class Problem:
    row: int | None  # the data row, counted from 1 after the header; None: the whole file
    column: str
    message: str


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


def no_triggers() -> str:
    return _("The file has no triggers: it has no rows after the header.")


def read_table(header: Sequence[Any], rows: Iterable[Iterable[Any]]) -> list[list[Any]]:
    """The rows of a file, each as wide as its header; ImportFileError if it cannot be imported.

    Read one by one, so that a file far over the limit is refused without being read whole.
    """
    if all(is_blank(name) for name in header):
        raise ImportFileError(
            _("The first row is empty: it names the columns, such as trigger_type and source.")
        )
    width = len(header)
    table = []
    filled = 0
    for number, values in enumerate(rows, 1):
        row = list(values)
        if len(row) > width:
            if not all(is_blank(value) for value in row[width:]):
                raise ImportFileError(
                    _("Row %(row)d has more values than the header row has columns (%(width)d).")
                    % {"row": number, "width": width}
                )
            row = row[:width]
        filled += not is_empty(row)
        if filled > settings.IMPORT_MAX_ROWS:
            raise too_many_rows(settings.IMPORT_MAX_ROWS)
        table.append(row + [None] * (width - len(row)))
    if not filled:
        raise ImportFileError(no_triggers())
    return table


def rows_by_column(
    headers: Sequence[Any], rows: Iterable[Sequence[Any]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows as dicts by column, and what is wrong with the columns.

    A column without a name is dropped when it is empty (spreadsheets report
    such columns), and a problem when it holds values.
    """
    names = ["" if header is None else str(header).strip() for header in headers]
    values = [list(row) for row in rows]
    nameless = [i for i, name in enumerate(names) if not name]
    problems = check_columns([name for name in names if name])
    if any(not is_blank(row[i]) for row in values for i in nameless if i < len(row)):
        problems.append(_("A column without a name in the header row holds values: name it."))
    named = [(i, name) for i, name in enumerate(names) if name]
    by_column = [{name: row[i] if i < len(row) else None for i, name in named} for row in values]
    return by_column, problems


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


def is_empty(row: Iterable[Any]) -> bool:
    """Whether every cell of ``row`` (a list of values, or a dict's values) is blank."""
    return all(is_blank(value) for value in row)
