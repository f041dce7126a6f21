from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..models import Trigger


class TriggerLogger:
    """Receives what a trigger's ``_process`` returned, and messages about it.

    ``log_result`` runs in the trigger's transaction: what it writes to the
    database commits with the trigger's completion.
    """

    def log_result(self, trigger: Trigger, message: Any, level: int | None = None) -> None:
        pass

    def log_message(self, trigger: Trigger, message: str, level: int | None = None) -> None:
        pass
