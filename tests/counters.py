"""The counters of djtriggers.counts by their whole key, and the same counted from the rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import connection
from django.utils import timezone

from djtriggers import counts
from djtriggers.models import Trigger, TriggerCount

Key = tuple[str, str, str, int]


def keyed(now: datetime | None = None) -> dict[Key, int]:
    """What the counters hold, by key (summed over slots), the hours gone by as one."""
    this_hour = counts.hour(now or timezone.now(), connection.vendor)
    sums: dict[Key, int] = defaultdict(int)
    for typed, state, fingerprint, bucket, n in TriggerCount.objects.values_list(
        "trigger_type", "state", "fingerprint", "bucket", "n"
    ):
        if state == "scheduled" and bucket < this_hour:
            bucket = counts.PAST
        sums[typed, state, fingerprint, bucket] += n
    return {key: n for key, n in sums.items() if n}


def keyed_actual(now: datetime | None = None) -> dict[Key, int]:
    """The same, counted from the rows in Python."""
    this_hour = counts.hour(now or timezone.now(), connection.vendor)
    sums: dict[Key, int] = defaultdict(int)
    for typed, state, fingerprint, after in Trigger._base_manager.values_list(
        "trigger_type", "state", "error_fingerprint", "process_after"
    ):
        bucket = 0
        if state == "scheduled":
            bucket = counts.PAST if after is None else counts.hour(after, connection.vendor)
            bucket = counts.PAST if bucket < this_hour else bucket
        sums[typed, state, fingerprint if state == "failed" else "", bucket] += 1
    return dict(sums)
