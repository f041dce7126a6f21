"""The base trigger logger (djtriggers.loggers.base): the default, which keeps nothing."""

from __future__ import annotations

import pytest

from djtriggers.loggers.base import TriggerLogger
from djtriggers.models import TriggerResult
from tests.testapp.models import BreakfastTrigger


def test_trigger_logger__takes_results_and_messages_and_keeps_nothing(caplog):
    logger = TriggerLogger()
    assert logger.log_result(BreakfastTrigger(), "eaten") is None
    assert logger.log_message(BreakfastTrigger(), "a message", level=40) is None
    assert not caplog.records


@pytest.mark.django_db
def test_trigger_logger__is_a_triggers_logger_unless_it_names_one():
    trigger = BreakfastTrigger.objects.create()
    assert type(trigger.logger) is TriggerLogger
    trigger.process()
    assert trigger.status == "processed"
    assert not TriggerResult.objects.exists()
