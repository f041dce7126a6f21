"""The form of an operator action (djtriggers.forms): the fields each action asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from djtriggers import actions
from djtriggers.forms import ActionForm, PeriodField, WhenField


@pytest.mark.parametrize(
    ("action", "spread", "fields"),
    [
        (actions.REPROCESS, False, ["reason"]),
        (actions.REPROCESS, True, ["spread", "reason"]),
        (actions.RESCHEDULE, False, ["process_after", "spread", "reason"]),
        (actions.CANCEL, False, ["reason"]),
        (actions.CANCEL, True, ["reason"]),
        (actions.PROCESS, False, ["reason"]),
    ],
)
def test_fields__what_each_action_asks_for(action, spread, fields):
    assert list(ActionForm(action, spread=spread).fields) == fields


def test_spread__required_when_asked_for_optional_with_a_reschedule():
    paced = ActionForm(actions.REPROCESS, spread=True).fields["spread"]
    assert paced.required
    assert not paced.help_text.startswith("Optional.")
    optional = ActionForm(actions.RESCHEDULE).fields["spread"]
    assert not optional.required
    assert optional.help_text.startswith("Optional. Pace the triggers")


def test_values__the_keyword_arguments_of_perform():
    form = ActionForm(
        actions.RESCHEDULE,
        {"process_after": "2031-01-02 03:04", "spread": "1h", "reason": "partner back"},
    )
    assert form.is_valid(), form.errors
    assert form.values() == {
        "when": datetime(2031, 1, 2, 3, 4, tzinfo=UTC),
        "spread": timedelta(hours=1),
        "reason": "partner back",
    }


def test_values__of_an_action_that_asks_nothing():
    form = ActionForm(actions.CANCEL, {})
    assert form.is_valid()
    assert form.values() == {"when": None, "spread": None, "reason": ""}


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"process_after": "soon"}, "process_after", "'soon' is neither a date and time"),
        ({"process_after": ""}, "process_after", "This field is required."),
        ({"process_after": "+1h", "spread": "2x"}, "spread", "'2x' is not a duration"),
        ({"process_after": "+1h", "reason": "x" * 1001}, "reason", "at most 1000 characters"),
    ],
)
def test_errors__a_value_that_does_not_parse_is_a_field_error(data, field, error):
    form = ActionForm(actions.RESCHEDULE, data)
    assert not form.is_valid()
    assert error in form.errors[field][0]


def test_errors__values_the_action_refuses_are_a_form_error():
    form = ActionForm(actions.RESCHEDULE, {"process_after": "9999-12-01 00:00", "spread": "30d"})
    assert not form.is_valid()
    assert "would be due after the latest time" in form.non_field_errors()[0]


def test_when_field__empty_is_none_and_a_time_is_in_utc():
    field = WhenField(required=False)
    assert field.clean("") is None
    with timezone.override("Europe/Brussels"):
        assert field.clean("2026-12-24 18:00") == datetime(2026, 12, 24, 17, tzinfo=UTC)


def test_period_field__a_duration():
    assert PeriodField().clean("1w2d") == timedelta(days=9)
    assert PeriodField(required=False).clean("") is None


def test_priority__parsed_and_passed_to_perform():
    form = ActionForm(actions.PRIORITY, {"priority": " 2 "})
    assert form.is_valid(), form.errors
    assert form.values() == {"when": None, "spread": None, "reason": "", "priority": 2}


@pytest.mark.parametrize("text", ["", "10", "-1", "two", "٢", "2.5"])
def test_priority__refused_with_a_clear_error(text):
    form = ActionForm(actions.PRIORITY, {"priority": text})
    assert not form.is_valid()
    error = form.errors["priority"][0]
    assert "not a priority" in error or "required" in error
