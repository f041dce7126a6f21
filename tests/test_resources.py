"""Triggers as rows of a file (djtriggers.resources): the exported values, and an import as a
whole: all or nothing, counted for its page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import tablib
from django.db import DataError
from django.utils import timezone

from djtriggers.imports import COLUMNS
from djtriggers.models import Trigger
from djtriggers.resources import SHOWN_PROBLEMS, ImportResult, TriggerResource
from tests.factories import cancelled, due, failed, pending, processed, running
from tests.testapp.models import NoopTrigger

pytestmark = pytest.mark.django_db

SUMMER = datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=UTC)
WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def exported(trigger: Trigger) -> dict[str, object]:
    resource = TriggerResource()
    fields = resource.get_export_fields()
    return {field.column_name: resource.export_field(field, trigger) for field in fields}


def import_rows(*rows: dict[str, object], dry_run: bool = False) -> ImportResult:
    """``rows`` (dicts by column) imported through the resource, as the admin does."""
    headers = list(dict.fromkeys(column for row in rows for column in row))
    dataset = tablib.Dataset(*[[row.get(c) for c in headers] for row in rows], headers=headers)
    return TriggerResource().import_data(dataset, dry_run=dry_run)


def problems(result: ImportResult) -> list[tuple[int | None, str, str]]:
    return [(p.row, p.column, p.message) for p in result.file_problems + result.row_problems]


# --- export -----------------------------------------------------------------------


def test_export__every_column_in_order():
    trigger = failed(source="billing.invoice$1", error="ValueError: no coffee", tries=3)
    assert list(exported(trigger)) == list(COLUMNS)


def test_export__times_are_iso_8601_with_their_offset_in_the_current_zone(settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    trigger = due(date_received=SUMMER, process_after=WINTER)
    row = exported(trigger)
    assert row["date_received"] == "2026-07-01T14:00:00.123456+02:00"
    assert row["process_after"] == "2026-01-15T13:00:00+01:00"
    # The same moments, read back.
    assert datetime.fromisoformat(row["date_received"]) == SUMMER


def test_export__nulls_stay_null_and_values_keep_their_type():
    row = exported(due(source=None))
    assert row["source"] is None
    assert row["date_processed"] is None
    assert row["successful"] is None
    assert row["number_of_tries"] == 0
    assert row["last_error"] == ""
    assert row["status"] == "due"
    assert exported(processed())["successful"] is True


def test_export__status_of_each_state():
    for make, status in [
        (pending, "pending"),
        (due, "due"),
        (running, "running"),
        (failed, "failed"),
        (processed, "processed"),
        (cancelled, "cancelled"),
    ]:
        assert exported(make())["status"] == status


# --- import: what becomes of a row ---------------------------------------------


def test_import__a_row_of_type_source_and_time_is_a_new_scheduled_trigger():
    result = import_rows(
        {"trigger_type": "noop", "source": "acct$1", "process_after": "2030-01-01 10:00:00"}
    )
    assert problems(result) == []
    trigger = Trigger.objects.get()
    assert (trigger.trigger_type, trigger.source, trigger.status) == ("noop", "acct$1", "pending")
    assert trigger.process_after == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert result.totals["new"] == 1
    assert [row.instance.pk for row in result] == [trigger.pk]  # for the admin log


def test_import__a_trigger_without_a_time_is_due_now():
    before = timezone.now()
    import_rows({"trigger_type": "noop", "process_after": ""})
    trigger = Trigger.objects.get()
    assert trigger.process_after >= before
    assert trigger.status == "due"
    assert trigger.date_received >= before


def test_import__the_id_column_is_ignored_every_row_gets_a_new_id():
    existing = due()
    import_rows(
        {"id": existing.pk, "trigger_type": "noop", "source": "a"},
        {"id": "not a number", "trigger_type": "noop", "source": "b"},
    )
    assert Trigger.objects.get(pk=existing.pk).source is None  # untouched
    new = Trigger.objects.exclude(pk=existing.pk).order_by("pk")
    assert [t.source for t in new] == ["a", "b"]
    assert all(t.pk > existing.pk for t in new)


def test_import__a_dry_run_writes_nothing():
    result = import_rows({"trigger_type": "noop"}, {"trigger_type": "breakfast"}, dry_run=True)
    assert problems(result) == []
    assert result.valid == 2
    assert not Trigger.objects.exists()
    assert list(result) == []


@pytest.mark.parametrize(
    ("row", "state", "successful"),
    [
        ({"status": "failed"}, "failed", False),
        ({"status": "cancelled"}, "cancelled", None),
        # Without a status, the 2.x columns decide (see tests/test_rows.py for the rest).
        ({"date_processed": "2026-01-01 10:00", "successful": "1"}, "processed", True),
        ({}, "scheduled", None),
    ],
)
def test_import__rows_are_written_in_the_state_they_were_read_in(row, state, successful):
    result = import_rows({"trigger_type": "noop", **row})
    assert problems(result) == []
    trigger = Trigger.objects.get()
    assert (trigger.state, trigger.successful) == (state, successful)
    assert (trigger.date_processed is None) == (state == "scheduled")


def test_import__a_running_trigger_comes_back_scheduled():
    result = import_rows(
        {"trigger_type": "noop", "status": "running", "process_after": "2026-01-01 10:00"}
    )
    trigger = Trigger.objects.get()
    assert (trigger.state, trigger.status, trigger.locked_by) == ("scheduled", "due", None)
    assert result.rescheduled == 1
    assert result.by_status() == [("due", 1)]


# --- import: problems, all or nothing ---------------------------------------------


# What each column accepts: tests/test_rows.py.
@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        ({"trigger_type": "nope"}, "trigger_type", "Unknown trigger type 'nope'. Known types:"),
        ({"process_after": "next tuesday"}, "process_after", "'next tuesday' is neither"),
        ({"number_of_tries": 2**31}, "number_of_tries", "2147483648 tries is out of range"),
        ({"status": "due", "date_processed": "2026-01-01"}, "status", "A due trigger has no"),
    ],
)
def test_import__a_bad_value_is_a_problem_of_its_row_and_nothing_is_written(row, column, message):
    good = {"trigger_type": "noop", "source": "fine"}
    result = import_rows(good, {**good, **row}, good)
    assert [(p.row, p.column) for p in result.row_problems] == [(2, column)]
    assert message in result.row_problems[0].message
    assert (result.valid, result.invalid) == (2, 1)
    assert not Trigger.objects.exists()


def test_import__every_problem_is_kept_the_page_shows_the_first():
    result = import_rows(*[{"trigger_type": "nope"}] * (SHOWN_PROBLEMS + 5))
    assert len(result.row_problems) == SHOWN_PROBLEMS + 5
    assert len(result.shown_problems()) == SHOWN_PROBLEMS
    assert result.more_problems() == 5


def test_import__empty_rows_are_skipped_and_counted():
    result = import_rows({"trigger_type": "noop"}, {"trigger_type": " ", "source": None})
    assert problems(result) == []
    assert (result.valid, result.skipped, result.total_rows) == (1, 1, 2)


def test_import__counts_by_status_and_type():
    result = import_rows(
        {"trigger_type": "noop", "status": "failed"},
        {"trigger_type": "noop", "status": "cancelled"},
        {"trigger_type": "breakfast", "process_after": "+1h"},
        dry_run=True,
    )
    assert result.by_status() == [("pending", 1), ("failed", 1), ("cancelled", 1)]
    assert result.by_type() == [("breakfast", 1), ("noop", 2)]


def test_import__wrong_columns_are_a_problem_of_the_file():
    dataset = tablib.Dataset(["noop", "x"], headers=["trigger_type", "sauce"])
    result = TriggerResource().import_data(dataset)
    assert result.has_errors()
    assert "Unknown column 'sauce'" in result.file_problems[0].message
    assert not Trigger.objects.exists()


def test_import__a_nameless_column_is_dropped_when_empty_and_a_problem_otherwise():
    dataset = tablib.Dataset(["noop", None], headers=["trigger_type", None])
    assert not TriggerResource().import_data(dataset).has_errors()
    dataset = tablib.Dataset(["noop", "x"], headers=["trigger_type", ""])
    result = TriggerResource().import_data(dataset)
    assert "A column without a name" in result.file_problems[0].message


def test_import__a_file_without_rows_is_a_problem():
    result = TriggerResource().import_data(tablib.Dataset(headers=["trigger_type"]))
    assert "The file has no triggers" in result.file_problems[0].message


def test_import__more_rows_than_the_limit_change_nothing(settings):
    settings.DJTRIGGERS_IMPORT_MAX_ROWS = 3
    result = import_rows(*[{"trigger_type": "noop"}] * 4)
    assert result.has_errors()
    assert "more than 3 rows: an import takes at most 3" in result.file_problems[0].message
    assert "DJTRIGGERS_IMPORT_MAX_ROWS" in result.file_problems[0].message
    assert not Trigger.objects.exists()
    # Empty rows do not count.
    assert not import_rows(*[{"trigger_type": "noop"}] * 3, {"trigger_type": ""}).has_errors()
    assert Trigger.objects.count() == 3


def test_import__what_the_database_refuses_is_a_problem_and_nothing_is_written(monkeypatch):
    def refuse(*args: object, **kwargs: object) -> None:
        NoopTrigger.objects.create()  # written, then rolled back with the rest
        raise DataError("value too long for type character varying(100)")

    monkeypatch.setattr("djtriggers.querysets.TriggerQuerySet.bulk_create", refuse)
    result = import_rows({"trigger_type": "noop"})
    assert "The database refused the rows: value too long" in result.file_problems[0].message
    assert not Trigger.objects.exists()
