"""Results stored in the database (djtriggers.loggers.database)."""

from __future__ import annotations

import pytest

from djtriggers.loggers.database import DatabaseLogger, DatabaseSerializeLogger
from djtriggers.models import TriggerResult
from tests.testapp.models import BreakfastTrigger, NoopTrigger

pytestmark = pytest.mark.django_db


def test_database_serialize_logger__one_line_per_item():
    trigger = NoopTrigger.objects.create()
    DatabaseSerializeLogger().log_result(trigger, [1, "two"])
    DatabaseSerializeLogger().log_result(trigger, None)
    assert [r.result for r in TriggerResult.objects.all()] == ["1\ntwo"]


def test_database_logger__stores_the_result_as_text_and_none_as_empty():
    trigger = NoopTrigger.objects.create()
    DatabaseLogger().log_result(trigger, 42)
    DatabaseLogger().log_result(trigger, None)
    assert [r.result for r in TriggerResult.objects.order_by("pk")] == ["42", ""]


def test_database_serialize_logger__text_as_it_is_and_anything_else_as_text():
    trigger = NoopTrigger.objects.create()
    DatabaseSerializeLogger().log_result(trigger, "one line")
    DatabaseSerializeLogger().log_result(trigger, 3.5)
    DatabaseSerializeLogger().log_result(trigger, (n for n in (1, 2)))
    assert [r.result for r in TriggerResult.objects.order_by("pk")] == ["one line", "3.5", "1\n2"]


def test_database_logger__the_result_commits_with_the_trigger(settings):
    trigger = BreakfastTrigger.objects.create()
    trigger.process(logger="DatabaseLogger")
    assert TriggerResult.objects.get(trigger=trigger).result == "eaten"
