"""What the dashboard shows, computed so that its cost does not grow with the table.

Counts per type and state, the due split and the failure groups come from
the counters the database keeps (``djtriggers.counts``): exact, for processed
triggers too, at the cost of a few hundred rows and a step into an index per
type or group. The boards read the rows of the last hour (lags, throughput)
and the next few to come (upcoming).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Min
from django.utils import timezone

from djtriggers import counts
from djtriggers.conf import settings
from djtriggers.counts import due_by_type as due_by_type  # one of the page's parts
from djtriggers.lifecycle import State, Status
from djtriggers.models import Trigger, TriggerAttempt, Worker

LAG_SAMPLE = 10_000


def status_counts(
    now: datetime | None = None, *, matrix: dict[str, dict[str, int]] | None = None
) -> dict[str, int]:
    """Triggers per status: the six keys, always (summed from ``matrix`` when given)."""
    matrix = type_matrix(now) if matrix is None else matrix
    return {status: sum(row[status] for row in matrix.values()) for status in Status.values}


def type_matrix(
    now: datetime | None = None, *, due: dict[str, tuple[int, datetime]] | None = None
) -> dict[str, dict[str, int]]:
    """{type: {status: count}} for every status, exact (``due``: from ``due_by_type``)."""
    return counts.by_status(now or timezone.now(), due)


@dataclass
class DueRow:
    trigger_type: str
    due: int
    oldest_due_age: timedelta | None
    lag_p50: timedelta | None
    lag_p95: timedelta | None
    processed_last_hour: int


def due_board(
    now: datetime | None = None, *, due: dict[str, tuple[int, datetime]] | None = None
) -> list[DueRow]:
    """Per type: what is due, how long the oldest has waited, and the lag over the last hour."""
    now = now or timezone.now()
    due = due_by_type(now) if due is None else due
    lags = _lags_last_hour(now)
    rows = []
    for typed in sorted(set(due) | set(lags)):
        n, oldest = due.get(typed, (0, None))
        p50, p95, done = lags.get(typed, (None, None, 0))
        rows.append(
            DueRow(
                trigger_type=typed,
                due=n,
                oldest_due_age=(now - oldest) if oldest else None,
                lag_p50=p50,
                lag_p95=p95,
                processed_last_hour=done,
            )
        )
    return rows


Lags = dict[str, tuple[timedelta | None, timedelta | None, int]]


def _lags_last_hour(now: datetime) -> Lags:
    """{type: (p50, p95, processed)} of the lag from process_after to processing.

    Every trigger processed in the last hour counts as processed (from the
    counters), with or without ``process_after``. The percentiles are those of
    the most recent ``LAG_SAMPLE`` of them (all of them, up to 10,000 an hour),
    and measure from ``process_after`` (as the README says), so they leave out
    the rows without one rather than measure them from ``date_received``:
    ``None`` means "due now" from whenever it was written, which may be long
    after the row was received (2.x code clears it to run a trigger at once),
    and that lag would be invented. A type whose processed rows all lack
    ``process_after`` has a count and no percentiles. All three databases
    answer the same.
    """
    since = now - timedelta(hours=1)
    done = counts.processed_since(since)
    if connection.vendor == "postgresql":  # pragma: no cover - PostgreSQL only
        percentiles = _lag_percentiles_in_postgres(since)
    else:
        samples: dict[str, list[float]] = defaultdict(list)
        for typed, seconds in _recent_lags(since):
            samples[typed].append(max(float(seconds), 0.0))
        percentiles = {
            typed: (_percentile(sorted(values), 0.50), _percentile(sorted(values), 0.95))
            for typed, values in samples.items()
        }
    return {
        typed: (*percentiles.get(typed, (None, None)), done.get(typed, 0))
        for typed in set(done) | set(percentiles)
    }


# A lag in seconds, computed by the database: Django's own difference of two
# datetimes is a Python function on SQLite, called for every row. (SQLite: whole
# seconds, then the stored microseconds; julianday() would round them.)
_LAG_SECONDS = {
    "sqlite": "(strftime('%%s', date_processed) - strftime('%%s', process_after))"
    " + (CAST('0' || substr(date_processed, 20) AS REAL)"
    " - CAST('0' || substr(process_after, 20) AS REAL))",
    "mysql": "TIMESTAMPDIFF(MICROSECOND, process_after, date_processed) / 1000000.0",
}


def _recent_lags(since: datetime) -> list[tuple[str, float]]:
    """(type, lag in seconds) of the ``LAG_SAMPLE`` triggers processed last since ``since``."""
    sql = f"""
        SELECT trigger_type, {_LAG_SECONDS[connection.vendor]}
        FROM {Trigger._meta.db_table}
        WHERE state = %s AND date_processed >= %s AND process_after IS NOT NULL
        ORDER BY date_processed DESC LIMIT %s
    """
    since_value = connection.ops.adapt_datetimefield_value(since)
    with connection.cursor() as cursor:
        cursor.execute(sql, [State.PROCESSED, since_value, LAG_SAMPLE])
        return list(cursor.fetchall())


def _lag_percentiles_in_postgres(
    since: datetime,
) -> dict[str, tuple[timedelta | None, timedelta | None]]:  # pragma: no cover - PostgreSQL only
    # The same sample and nearest-rank percentiles, computed in the database.
    sql = f"""
        SELECT trigger_type, percentile_disc(0.5) WITHIN GROUP (ORDER BY lag),
            percentile_disc(0.95) WITHIN GROUP (ORDER BY lag)
        FROM (
            SELECT trigger_type, greatest(date_processed - process_after, '0') AS lag
            FROM {Trigger._meta.db_table}
            WHERE state = %s AND date_processed >= %s AND process_after IS NOT NULL
            ORDER BY date_processed DESC LIMIT %s
        ) AS recent
        GROUP BY trigger_type
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [State.PROCESSED, since, LAG_SAMPLE])
        return {typed: (p50, p95) for typed, p50, p95 in cursor.fetchall()}


def _percentile(sorted_values: list[float], q: float) -> timedelta:
    """The nearest-rank percentile of values (at least one): p50 of 1..100 is 50, p95 is 95."""
    # The epsilon keeps e.g. 0.95 * 100 = 95.00000000000001 at rank 95.
    rank = max(math.ceil(q * len(sorted_values) - 1e-9), 1)
    return timedelta(seconds=sorted_values[rank - 1])


def oldest_due_age_seconds(
    now: datetime | None = None, *, exclude_types: Iterable[str] = ()
) -> float | None:
    now = now or timezone.now()
    scheduled = Trigger.objects.filter(state=State.SCHEDULED)
    exclude_types = sorted(exclude_types)
    if exclude_types:  # the health check leaves paused types to their own problem
        scheduled = scheduled.exclude(trigger_type__in=exclude_types)
    oldest = min(
        filter(
            None,
            (
                scheduled.filter(process_after__lte=now).aggregate(t=Min("process_after"))["t"],
                scheduled.filter(process_after=None).aggregate(t=Min("date_received"))["t"],
            ),
        ),
        default=None,
    )
    return (now - oldest).total_seconds() if oldest else None


def upcoming(limit: int = 10) -> list[Trigger]:
    return list(Trigger.objects.pending().order_by("process_after", "pk")[:limit])


@dataclass
class FailureGroup:
    trigger_type: str
    fingerprint: str
    count: int
    first_seen: datetime
    last_seen: datetime
    sample: str
    sample_pk: int


def failure_groups(limit: int = 20) -> list[FailureGroup]:
    """Failed triggers grouped by fingerprint, the largest groups first (from the counters)."""
    groups = counts.failure_groups(limit)
    samples = dict(
        Trigger.objects.filter(pk__in=[g["sample_pk"] for g in groups]).values_list(
            "pk", "last_error"
        )
    )
    return [
        FailureGroup(
            trigger_type=g["trigger_type"],
            fingerprint=g["fingerprint"],
            count=g["n"],
            first_seen=g["first"],
            last_seen=g["last"],
            sample=samples.get(g["sample_pk"], ""),
            sample_pk=g["sample_pk"],
        )
        for g in groups
        # A group emptied after the counters were read: gone.
        if g["sample_pk"] is not None
    ]


def failure_group_queryset(trigger_type: str, fingerprint: str) -> Any:
    return Trigger.objects.failed().filter(trigger_type=trigger_type, error_fingerprint=fingerprint)


@dataclass
class WorkerRow:
    name: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    processed: int
    failed: int
    current_trigger_id: int | None
    stale: bool
    age: timedelta

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "pid": self.pid,
            "started_at": self.started_at.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "processed": self.processed,
            "failed": self.failed,
            "current_trigger_id": self.current_trigger_id,
            "stale": self.stale,
        }


def stale_after() -> timedelta:
    """A worker that has not sent a heartbeat for a lease is presumed gone."""
    return timedelta(seconds=settings.LEASE_SECONDS)


def workers(now: datetime | None = None) -> list[WorkerRow]:
    now = now or timezone.now()
    return [
        WorkerRow(
            name=w.name,
            host=w.host,
            pid=w.pid,
            started_at=w.started_at,
            last_seen=w.last_seen,
            processed=w.processed,
            failed=w.failed,
            current_trigger_id=w.current_trigger_id,
            stale=now - w.last_seen > stale_after(),
            age=now - w.last_seen,
        )
        for w in Worker.objects.order_by("host", "pid")
    ]


@dataclass
class Throughput:
    minutes: list[datetime]
    processed: list[int]
    failed: list[int]

    @property
    def peak(self) -> int:
        return max([*self.processed, *self.failed, 1])


def throughput(now: datetime | None = None, minutes: int = 60) -> Throughput:
    """Processed and failed tries per minute over the last hour (from the counters of tries)."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=minutes - 1)
    tries = counts.tries_per_minute(start, now + timedelta(minutes=1))
    stamps = [start + timedelta(minutes=i) for i in range(minutes)]
    return Throughput(
        minutes=stamps,
        processed=[tries.get(m, {}).get(TriggerAttempt.Outcome.SUCCESS, 0) for m in stamps],
        failed=[tries.get(m, {}).get(TriggerAttempt.Outcome.FAILURE, 0) for m in stamps],
    )
