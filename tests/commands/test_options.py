"""The commands' option validators and helpers (djtriggers.management.commands._options)."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import translation

from djtriggers.engine import Counts
from djtriggers.management.commands import _options
from djtriggers.management.commands._options import (
    duration,
    positive_int,
    positive_seconds,
    show_logs,
    type_list,
    worker_name,
)


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("42", 42), ("100", 100)])
def test_positive_int__accepts_whole_numbers_up_to_the_maximum(text, value):
    assert positive_int(100)(text) == value


@pytest.mark.parametrize("text", ["0", "101", "-1", "1.0", "x", "", "\u0663"])
def test_positive_int__refuses_the_rest_saying_what_it_takes(text):
    with pytest.raises(argparse.ArgumentTypeError) as error:
        positive_int(100)(text)
    assert str(error.value) == f"{text!r} is not a whole number of at least 1 and at most 100."


@pytest.mark.parametrize(("text", "value"), [("0.5", 0.5), ("60", 60.0), ("1e1", 10.0)])
def test_positive_seconds__accepts_seconds_above_zero_up_to_the_maximum(text, value):
    assert positive_seconds(60, "1 minute")(text) == value


@pytest.mark.parametrize("text", ["0", "-1", "60.5", "nan", "inf", "x", "\u0663"])
def test_positive_seconds__refuses_the_rest_naming_the_span(text):
    with pytest.raises(argparse.ArgumentTypeError, match=r"at most 60 \(1 minute\)\.$"):
        positive_seconds(60, "1 minute")(text)


@pytest.mark.parametrize(
    ("succeeded", "text"),
    [
        (0, "0 triggers in 2.00s (0/s): 0 processed"),
        (1, "1 trigger in 2.00s (0/s): 1 processed"),
        (2, "2 triggers in 2.00s (1/s): 2 processed"),
    ],
)
def test_summary__one_trigger_or_several_triggers(succeeded, text):
    counts = Counts(seconds=2.0, succeeded=succeeded)
    assert _options.summary(counts).startswith(text)


def test_summary__in_dutch():
    with translation.override("nl"):
        one = _options.summary(Counts(seconds=1.0, succeeded=1))
        two = _options.summary(Counts(seconds=1.0, succeeded=2))
    assert one.startswith("1 trigger in 1.00s (1/s): 1 verwerkt, 0 mislukt")
    assert two.startswith("2 triggers in 1.00s (2/s): 2 verwerkt, 0 mislukt")


def test_duration__a_duration_or_an_argparse_error():
    assert duration("2h") == timedelta(hours=2)
    with pytest.raises(argparse.ArgumentTypeError, match="'2x' is not a duration"):
        duration("2x")


def test_type_list__names_stripped_and_empty_parts_dropped():
    assert type_list(" noop, ,breakfast ") == ["noop", "breakfast"]


def test_worker_name__stripped_and_at_most_100_characters():
    assert worker_name("  billing-1 ") == "billing-1"
    assert worker_name("x" * 100) == "x" * 100
    with pytest.raises(argparse.ArgumentTypeError, match="use 1 to 100 characters"):
        worker_name("   ")


def test_bounds__of_the_commands_come_from_the_settings_bounds():
    assert _options.batch_size("10000") == 10_000
    assert _options.trigger_count(str(_options.MAX_COUNT)) == _options.MAX_COUNT


@pytest.fixture
def djtriggers_logger(monkeypatch):
    """djtriggers' logger, without handlers; restored after the test."""
    logger = logging.getLogger("djtriggers")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "level", logger.level)
    return logger


def unconfigured():
    """No handler on the root logger either (pytest's own is back once the block ends)."""
    return mock.patch.object(logging.getLogger(), "handlers", [])


@pytest.mark.parametrize(("verbosity", "level"), [(1, logging.INFO), (2, logging.DEBUG)])
def test_show_logs__prints_to_stderr_when_logging_is_not_configured(
    djtriggers_logger, verbosity, level
):
    with unconfigured():
        show_logs(verbosity)
    [handler] = djtriggers_logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stderr
    assert djtriggers_logger.level == level


def test_show_logs__nothing_at_verbosity_0(djtriggers_logger):
    with unconfigured():
        show_logs(0)
    assert djtriggers_logger.handlers == []


def test_show_logs__leaves_a_configured_project_alone(djtriggers_logger):
    with mock.patch.object(logging.getLogger(), "handlers", [logging.NullHandler()]):
        show_logs(2)
    assert djtriggers_logger.handlers == []
