from __future__ import annotations

from datetime import datetime


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
