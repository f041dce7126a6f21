"""Triggers as rows of a file, through django-import-export: what the admin exports,
and how a file becomes triggers.

Every format holds the columns of ``imports.COLUMNS`` with plain values: text,
whole numbers, true/false, null (an empty cell), and times as ISO 8601 text with
their UTC offset, in the current time zone. So a file we export imports back as
the same triggers.

An import only adds triggers, each with a new id (the ``id`` column is read and
ignored), and it is all or nothing: every row is checked first (``imports`` for
the file, ``rows`` for each row), and the rows are written, in one transaction,
only when no row has a problem.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.db import DatabaseError, router, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources
from import_export.results import Result, RowResult

from .conf import settings
from .imports import (
    COLUMNS,
    ImportFileError,
    Problem,
    is_empty,
    no_triggers,
    rows_by_column,
    too_many_rows,
)
from .lifecycle import Status
from .models import Trigger
from .rows import RowReader

__all__ = ["COLUMNS", "ImportFileError", "ImportResult", "Problem", "TriggerResource"]

SHOWN_PROBLEMS = 100  # the rows with errors a page lists; the others are counted
BATCH = 1000


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
        rows, problems = rows_by_column(dataset.headers or [], dataset)
        result.total_rows = len(rows)
        result.file_problems = [Problem(None, "", message) for message in problems]
        filled = [(number, row) for number, row in enumerate(rows, 1) if not is_empty(row.values())]
        result.skipped = len(rows) - len(filled)
        if not result.file_problems and not filled:
            result.file_problems.append(Problem(None, "", no_triggers()))
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


def _row_result(trigger: Trigger) -> RowResult:
    row = RowResult()
    row.import_type = RowResult.IMPORT_TYPE_NEW
    row.instance = trigger
    row.object_id = trigger.pk
    row.object_repr = str(trigger)
    return row
