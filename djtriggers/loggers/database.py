from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .python_logging import PythonLogger

if TYPE_CHECKING:
    from ..models import Trigger


class DatabaseLogger(PythonLogger):
    """Stores what ``_process`` returned as a ``TriggerResult``."""

    def log_result(self, trigger: Trigger, message: Any, level: int | None = None) -> None:
        from ..models import TriggerResult

        TriggerResult.objects.create(
            trigger_id=trigger.pk, result="" if message is None else str(message)
        )


def _prettify(results: Any) -> str:
    if isinstance(results, str):
        return results
    try:
        return "\n".join(str(r) for r in results)
    except TypeError:
        return str(results)


class DatabaseSerializeLogger(DatabaseLogger):
    """Like ``DatabaseLogger``, one line per item of an iterable result; skips None."""

    def log_result(self, trigger: Trigger, results: Any, level: int | None = None) -> None:
        if results is not None:
            super().log_result(trigger, _prettify(results))
