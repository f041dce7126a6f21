"""Results and messages sent to Python logging (djtriggers.loggers.python_logging)."""

from __future__ import annotations

import logging

from djtriggers.loggers.python_logging import PythonLogger
from tests.testapp.models import NoopTrigger


def test_python_logger__info_unless_a_level_is_given(caplog):
    caplog.set_level(logging.DEBUG, logger="djtriggers.results")
    logger = PythonLogger()
    logger.log_result(NoopTrigger(), {"paid": 3})
    logger.log_result(NoopTrigger(), "late", level=logging.WARNING)
    logger.log_message(NoopTrigger(), "a message")
    logger.log_message(NoopTrigger(), "bad", level=logging.ERROR)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("djtriggers.results", logging.INFO, "{'paid': 3}"),
        ("djtriggers.results", logging.WARNING, "late"),
        ("djtriggers.results", logging.INFO, "a message"),
        ("djtriggers.results", logging.ERROR, "bad"),
    ]
