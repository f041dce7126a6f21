from __future__ import annotations

from datetime import datetime
from typing import Any


class AlreadyProcessedError(Exception):
    """The trigger has already been processed (kept for compatibility)."""


class ProcessError(Exception):
    """Processing a trigger failed.

    ``Trigger.process()`` raises it when ``_process`` raised; the original
    exception is its ``__cause__`` and its ``exception`` attribute.
    """

    def __init__(self, *args: object, exception: BaseException | None = None) -> None:
        super().__init__(*args)
        self.exception = exception


class ProcessLaterError(ProcessError):
    """Raise from ``_process`` to run the trigger again at ``process_after``.

    A reschedule, not a failure: the try is not counted.
    """

    def __init__(self, process_after: datetime, *args: object) -> None:
        super().__init__(*args)
        self.process_after = process_after


class UnknownTriggerType(LookupError):
    """No Trigger subclass is registered for a row's ``trigger_type``."""


class TriggerDataMissing(LookupError):
    """A multi-table trigger's own row (its subclass's data) is missing.

    The base row in ``djtriggers_trigger`` is there, but the row of its class's
    table was deleted, so the trigger cannot be loaded nor processed.
    """

    def __init__(self, trigger: Any, cls: type[Any]) -> None:
        self.trigger_id = trigger.pk
        self.trigger_class = cls
        super().__init__(
            f"Trigger {trigger.pk} ({trigger.trigger_type}) has lost its own data: its row in "
            f"{cls._meta.db_table} ({cls.__name__}) was deleted. Cancel or delete the trigger."
        )
