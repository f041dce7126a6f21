"""A row of an imported file as a new trigger (djtriggers.rows): its values, state, problems."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.utils import timezone

from djtriggers.lifecycle import MAX_TRIES_COUNT, State, Status
from djtriggers.models import Trigger
from djtriggers.rows import RowReader, lifecycle_columns, shown
from tests.factories import failed

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
FULL_WIDTH_DATE = "\uff12\uff10\uff12\uff16-01-01"  # 2026-01-01 in full-width digits


def read(**row: Any) -> Trigger:
    """The trigger of a valid row (``trigger_type`` noop unless given)."""
    trigger, _status, problems = RowReader(NOW).read({"trigger_type": "noop", **row})
    assert problems == []
    assert trigger is not None
    return trigger


def problems_of(**row: Any) -> list[tuple[str, str]]:
    trigger, _status, problems = RowReader(NOW).read({"trigger_type": "noop", **row})
    assert trigger is None
    return problems


# --- what becomes of a row -------------------------------------------------------


def test_read__a_row_of_type_source_and_time_is_a_new_scheduled_trigger():
    trigger = read(source="acct$1", process_after="2030-01-01 10:00:00")
    assert trigger.pk is None  # not saved: the resource writes every row at once
    assert (trigger.trigger_type, trigger.source, trigger.status) == ("noop", "acct$1", "pending")
    assert trigger.process_after == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert trigger.date_received == NOW


def test_read__a_trigger_without_a_time_is_due_now():
    trigger = read(process_after="", date_received=None)
    assert (trigger.process_after, trigger.date_received) == (NOW, NOW)
    assert trigger.status == "due"


@pytest.mark.parametrize(
    ("row", "state", "successful"),
    [
        ({"status": "processed", "date_processed": "2026-01-01T10:00:00+00:00"}, "processed", None),
        ({"status": "processed", "successful": "true"}, "processed", True),
        ({"status": "failed", "successful": ""}, "failed", False),
        ({"status": "cancelled"}, "cancelled", None),
        ({"status": "due", "successful": "false"}, "scheduled", False),
        ({"status": " Pending "}, "scheduled", None),
        # Without a status, the 2.x columns decide.
        ({"date_processed": "2026-01-01 10:00", "successful": "1"}, "processed", True),
        ({"date_processed": "2026-01-01 10:00", "successful": "0"}, "failed", False),
        ({"date_processed": "2026-01-01 10:00"}, "processed", None),
        ({}, "scheduled", None),
    ],
)
def test_read__the_state_comes_from_the_status_or_the_2x_columns(row, state, successful):
    trigger = read(**row)
    assert (trigger.state, trigger.successful) == (state, successful)
    assert (trigger.date_processed is None) == (state == "scheduled")


def test_read__a_running_trigger_comes_back_scheduled_and_says_it_was_running():
    trigger, status, _problems = RowReader(NOW).read(
        {"trigger_type": "noop", "status": "running", "process_after": "2026-01-01 10:00"}
    )
    assert status == Status.RUNNING
    assert (trigger.state, trigger.status, trigger.locked_by) == ("scheduled", "due", None)


@pytest.mark.django_db
def test_read__a_failed_row_keeps_its_error_and_is_grouped_like_the_engines():
    trigger = read(status="failed", number_of_tries="5", last_error="ValueError: no coffee")
    made = failed(error="ValueError: no coffee")
    assert trigger.error_fingerprint == made.error_fingerprint != ""
    assert (trigger.number_of_tries, trigger.last_error) == (5, "ValueError: no coffee")


def test_read__a_row_without_an_error_has_no_fingerprint():
    assert read(last_error="").error_fingerprint == ""


def test_read__values_within_range():
    trigger = read(number_of_tries=" 007 ", successful="Yes")
    assert (trigger.number_of_tries, trigger.successful) == (7, True)
    trigger = read(number_of_tries=3.0, successful=1, source=42)
    assert (trigger.number_of_tries, trigger.successful, trigger.source) == (3, True, "42")
    trigger = read(number_of_tries=str(MAX_TRIES_COUNT), source=1.5, successful=False)
    assert (trigger.number_of_tries, trigger.source) == (MAX_TRIES_COUNT, "1.5")
    assert read(number_of_tries="000").number_of_tries == 0
    assert read(source="").source is None


def test_read__a_boolean_is_true_false_1_0_or_empty():
    for value, expected in [
        (True, True),
        (0, False),
        (1.0, True),
        (" NO ", False),
        ("yes", True),
        (" ", None),
        (None, None),
    ]:
        assert read(successful=value, date_processed="2026-01-01 10:00").successful == expected


def test_read__times_without_an_offset_are_in_the_current_zone(settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    moment = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert read(process_after="2026-07-01 14:00").process_after == moment
    # A date a spreadsheet typed (a naive datetime), and a time relative to now.
    assert read(process_after=datetime(2026, 7, 1, 14)).process_after == moment
    assert read(process_after="+1h").process_after == datetime(2026, 6, 1, 13, tzinfo=UTC)


# --- problems ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "column", "message"),
    [
        ({"trigger_type": "nope"}, "trigger_type", "Unknown trigger type 'nope'. Known types:"),
        ({"trigger_type": ""}, "trigger_type", "The trigger_type column is empty"),
        ({"trigger_type": "testapp.paybill"}, "trigger_type", "Import supports proxy trigger"),
        ({"process_after": "next tuesday"}, "process_after", "'next tuesday' is neither"),
        ({"process_after": "99999-01-01 00:00"}, "process_after", "'99999-01-01 00:00' is neither"),
        ({"process_after": "9999-12-31 23:59:00"}, "process_after", "too far ahead"),
        ({"date_received": "1900-01-01 00:00:00"}, "date_received", "too far back"),
        ({"date_processed": "inf"}, "date_processed", "'inf' is neither"),
        ({"date_processed": FULL_WIDTH_DATE}, "date_processed", "use plain ASCII"),
        ({"date_processed": 12.5}, "date_processed", "12.5 is not a date and time"),
        ({"number_of_tries": "inf"}, "number_of_tries", "'inf' is not a number of tries"),
        ({"number_of_tries": float("inf")}, "number_of_tries", "inf is not a number of tries"),
        ({"number_of_tries": 2.5}, "number_of_tries", "2.5 is not a number of tries"),
        ({"number_of_tries": "٣"}, "number_of_tries", "'٣' is not a number of tries"),
        ({"number_of_tries": "-1"}, "number_of_tries", "'-1' is not a number of tries"),
        ({"number_of_tries": -1}, "number_of_tries", "-1 tries is out of range: use 0 to"),
        ({"number_of_tries": "1.5"}, "number_of_tries", "'1.5' is not a number of tries"),
        ({"number_of_tries": True}, "number_of_tries", "True is not a number of tries"),
        ({"number_of_tries": 2**31}, "number_of_tries", "2147483648 tries is out of range"),
        ({"number_of_tries": "9" * 5000}, "number_of_tries", "9999… tries is out of range"),
        ({"successful": "maybe"}, "successful", "'maybe' is not true or false"),
        ({"successful": 2}, "successful", "2 is not true or false"),
        ({"status": "done"}, "status", "Unknown status 'done': use one of pending, due"),
        ({"source": "x" * 251}, "source", "The source is 251 characters long; at most 250"),
        ({"source": "a\x00b"}, "source", "NUL character"),
        ({"last_error": ["a"]}, "last_error", "['a'] is not text"),
        ({"last_error": "x\ud800"}, "last_error", "The text is not valid Unicode"),
        ({"status": "due", "date_processed": "2026-01-01 10:00"}, "status", "has no date_proc"),
    ],
)
def test_read__a_bad_value_is_a_problem_of_its_column(row, column, message):
    ((where, text),) = problems_of(**row)
    assert where == column
    assert message in text


def test_read__every_bad_value_of_a_row_is_a_problem():
    problems = problems_of(trigger_type="nope", number_of_tries="x", successful="maybe")
    assert [column for column, _message in problems] == [
        "trigger_type",
        "successful",
        "number_of_tries",
    ]


def test_read__an_unknown_type_lists_the_known_ones_or_none(monkeypatch):
    ((_column, message),) = problems_of(trigger_type="nope")
    assert "Known types: breakfast, " in message
    monkeypatch.setattr("djtriggers.rows.trigger_classes", lambda: {})
    ((_column, message),) = problems_of()
    assert message == "Unknown trigger type 'noop'. Known types: none."


def test_shown__a_value_in_a_message_is_its_repr_cut_short():
    assert shown("abc") == "'abc'"
    assert shown("x" * 100) == "'" + "x" * 58 + "…"
    assert len(shown("x" * 100)) == 60


# --- the lifecycle's columns -------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "dp", "successful", "message"),
    [
        (Status.DUE, WINTER, None, "A due trigger has no date_processed"),
        (Status.RUNNING, WINTER, None, "A running trigger has no date_processed"),
        (Status.PROCESSED, WINTER, False, "A processed trigger cannot have successful false"),
        (Status.FAILED, WINTER, True, "A failed trigger cannot have successful true"),
    ],
)
def test_lifecycle_columns__a_status_that_contradicts_the_2x_columns(
    status, dp, successful, message
):
    with pytest.raises(ValueError, match=message):
        lifecycle_columns(status, dp, successful, None, now=timezone.now())


def test_lifecycle_columns__a_finished_status_without_a_date_is_finished_now():
    now = timezone.now()
    columns = lifecycle_columns(Status.CANCELLED, None, None, None, now=now)
    assert columns == {
        "state": State.CANCELLED,
        "date_processed": now,
        "successful": None,
        "process_after": now,
    }
