"""The original module-level entry points, kept as thin wrappers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .cleaning import clean
from .engine import Counts
from .worker import TriggerWorker


def process_triggers(**options: Any) -> Counts:
    """Process every trigger that is due now, then return (see ``TriggerWorker``)."""
    return TriggerWorker(burst=True, **options).run()


def clean_triggers(expiration_dt: datetime | None = None) -> int:
    """Delete triggers finished before ``expiration_dt`` (default: 60 days ago); return how many."""
    return clean(older_than=expiration_dt)
