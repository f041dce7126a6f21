"""The trigger lifecycle's vocabulary.

A row stores a ``State``; the ``Status`` shown to people splits the stored
``scheduled`` state by time into ``pending`` (later) and ``due`` (now).
"""

from __future__ import annotations

from django.db import models


class State(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    DUE = "due", "Due"
    RUNNING = "running", "Running"
    FAILED = "failed", "Failed"
    PROCESSED = "processed", "Processed"
    CANCELLED = "cancelled", "Cancelled"


# States that an operator action may bring back to life, and those it may cancel.
REVIVABLE = (State.SCHEDULED, State.FAILED, State.CANCELLED)
CANCELLABLE = (State.SCHEDULED,)
FINAL = (State.PROCESSED, State.FAILED, State.CANCELLED)
