"""The counters of djtriggers.counts by their whole key, and the same counted from the rows."""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

from djtriggers import counts
from djtriggers.counts import ATTEMPTS, HOUR, MINUTE, PAST, TRIGGERS, since_1970
from djtriggers.models import AttemptCount, Trigger, TriggerAttempt, TriggerCount

Key = tuple[object, ...]


def keyed(now: datetime | None = None) -> dict[Key, int]:
    """What the counters of triggers and tries hold, by key (summed over slots),
    the times gone by as one (as counts.fold merges them)."""
    now = now or timezone.now()
    rows = TriggerCount.objects.values_list(*TRIGGERS.key, "n")
    tries = AttemptCount.objects.values_list(*ATTEMPTS.key, "n")
    return _merged(rows, tries, now)


def keyed_actual(now: datetime | None = None) -> dict[Key, int]:
    """The same, counted from the rows in Python."""
    now = now or timezone.now()
    vendor = connection.vendor

    def when(value: datetime | None, unit: int) -> int:
        return PAST if value is None else since_1970(value, vendor, unit)

    rows = []
    for typed, state, fingerprint, after, done in Trigger._base_manager.values_list(
        "trigger_type", "state", "error_fingerprint", "process_after", "date_processed"
    ):
        bucket = 0
        if state == "scheduled":
            bucket = when(after, HOUR)
        elif state == "processed":
            bucket = when(done, MINUTE)
        rows.append((typed, state, fingerprint if state == "failed" else "", bucket, 1))
    tries = [
        (outcome, when(finished, MINUTE), 1)
        for outcome, finished in TriggerAttempt.objects.values_list("outcome", "finished_at")
    ]
    return _merged(rows, tries, now)


def _merged(rows: object, tries: object, now: datetime) -> dict[Key, int]:
    vendor = connection.vendor
    return {
        **{("trigger", *k): n for k, n in counts._merge(TRIGGERS, rows, now, vendor).items()},  # type: ignore[arg-type]
        **{("try", *k): n for k, n in counts._merge(ATTEMPTS, tries, now, vendor).items()},  # type: ignore[arg-type]
    }
