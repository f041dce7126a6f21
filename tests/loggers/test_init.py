"""Trigger loggers by name (djtriggers.loggers.get_logger, from DJTRIGGERS_LOGGERS)."""

from __future__ import annotations

import pytest

from djtriggers.loggers import get_logger
from djtriggers.loggers.database import DatabaseLogger
from djtriggers.loggers.python_logging import PythonLogger
from tests.testapp.models import NoopTrigger


@pytest.mark.django_db
def test_unknown_logger__clear_error():
    with pytest.raises(ValueError, match="add the dotted path of its class to DJTRIGGERS_LOGGERS"):
        NoopTrigger.objects.create().process(logger="Nope")


def test_get_logger__an_instance_of_the_class_named():
    assert type(get_logger("DatabaseLogger")) is DatabaseLogger
    assert type(get_logger("PythonLogger")) is PythonLogger
    assert get_logger("PythonLogger") is not get_logger("PythonLogger")


def test_get_logger__only_the_classes_of_the_setting(settings):
    settings.DJTRIGGERS_LOGGERS = ["djtriggers.loggers.python_logging.PythonLogger"]
    assert type(get_logger("PythonLogger")) is PythonLogger
    with pytest.raises(ValueError) as error:
        get_logger("DatabaseLogger")
    assert str(error.value) == (
        "Unknown trigger logger 'DatabaseLogger': add the dotted path of its class to "
        "DJTRIGGERS_LOGGERS (now ['djtriggers.loggers.python_logging.PythonLogger'])."
    )
