"""Trigger loggers, looked up by class name from ``DJTRIGGERS_LOGGERS``."""

from __future__ import annotations

from django.utils.module_loading import import_string

from ..conf import settings
from .base import TriggerLogger


def get_logger(slug: str) -> TriggerLogger:
    """An instance of the logger class named ``slug`` in ``DJTRIGGERS_LOGGERS``."""
    for path in settings.LOGGERS:
        if path.rpartition(".")[2] == slug:
            logger: TriggerLogger = import_string(path)()
            return logger
    raise ValueError(
        f"Unknown trigger logger {slug!r}: add the dotted path of its class to "
        f"DJTRIGGERS_LOGGERS (now {list(settings.LOGGERS)!r})."
    )
