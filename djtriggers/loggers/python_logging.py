from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .base import TriggerLogger

if TYPE_CHECKING:
    from ..models import Trigger

log = logging.getLogger("djtriggers.results")


class PythonLogger(TriggerLogger):
    """Sends results and messages to Python logging (INFO unless a level is given)."""

    def log_result(self, trigger: Trigger, message: Any, level: int | None = None) -> None:
        log.log(level or logging.INFO, "%s", message)

    def log_message(self, trigger: Trigger, message: str, level: int | None = None) -> None:
        log.log(level or logging.INFO, "%s", message)
