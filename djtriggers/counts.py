"""Exact counts of triggers per type and state, kept by the database as rows change.

Counting a table of millions scans an index of millions; the dashboard, the
health check and the metrics read these counters instead. Database triggers
keep them on every INSERT, UPDATE and DELETE of the trigger table, in the same
transaction, whoever writes: workers, operators, 2.x code with ``update()`` or
raw SQL, cleaning. (PostgreSQL's TRUNCATE empties them too; MariaDB's TRUNCATE
fires no trigger: run ``recount()`` after one.)

A failed trigger is counted with its error's fingerprint: the failure groups
are counters too. A scheduled one is counted in the hour its process_after
falls in: the due ones are those of the hours gone by plus this hour's rows up
to now, so the due/pending split reads at most an hour of rows. A processed
one in the minute it was processed, and tries (``TriggerAttempt``) per outcome
and minute: the dashboard's last hour.

No hot row: a connection adds to counter rows of its own (``slot``, its
server-side id), so workers committing at once never wait for each other's
counters. ``fold()`` merges the rows of connections that are gone, and the
hours and minutes gone by, into slot 0: the tables stay as small as the number
of live connections times types times states, plus the hours to come, the
last two hours' minutes and the failures' fingerprints. A count is the sum
over the slots.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Min, OuterRef, Q, Subquery, Sum, Value
from django.utils import timezone

from .db import sqlite_triggers, write_transaction
from .lifecycle import State, Status

HOUR, MINUTE = 3600, 60
# The bucket of what has no time, or of the times merged by ``fold()``: before all.
PAST = -1_000_000_000
# How long counters stay per minute or hour before ``fold()`` merges them into PAST:
# long enough that a clock a little ahead of others (another host) merges
# nothing that is not over everywhere, and that the dashboard's last hour is whole.
KEEP_HOURS, KEEP_MINUTES = 1, 120


def _since_1970(vendor: str, column: str, unit: int) -> str:
    """Whole ``unit``s (seconds) from 1970 to ``column`` in ``vendor``'s SQL, as stored."""
    if vendor == "postgresql":
        # Clamped: a raw 'infinity' must not make the write fail.
        clamped = f"least(greatest({column}, '0001-01-01 00:00+00'), '9999-12-31 23:59+00')"
        return f"floor(extract(epoch FROM {clamped}) / {unit})::bigint"
    if vendor == "mysql":
        name = {HOUR: "HOUR", MINUTE: "MINUTE"}[unit]
        return f"TIMESTAMPDIFF({name}, '1970-01-01 00:00:00', {column})"
    return f"CAST(strftime('%s', {column}) AS INTEGER) / {unit}"


def _trigger_key(vendor: str, r: str) -> list[str]:
    """A failed trigger with its fingerprint (the failure groups); a scheduled one
    in the hour it is due (the due split), a processed one in the minute it was
    (the last hour's processed)."""
    due_hour = _since_1970(vendor, f"{r}process_after", HOUR)
    done_minute = _since_1970(vendor, f"{r}date_processed", MINUTE)
    return [
        f"{r}trigger_type",
        f"{r}state",
        f"CASE WHEN {r}state = '{State.FAILED}' THEN coalesce({r}error_fingerprint, '') "
        "ELSE '' END",
        f"CASE WHEN {r}state = '{State.SCHEDULED}' THEN coalesce({due_hour}, {PAST}) "
        f"WHEN {r}state = '{State.PROCESSED}' THEN coalesce({done_minute}, {PAST}) ELSE 0 END",
    ]


def _attempt_key(vendor: str, r: str) -> list[str]:
    """Tries by outcome and the minute they finished in (the throughput)."""
    return [f"{r}outcome", f"coalesce({_since_1970(vendor, f'{r}finished_at', MINUTE)}, {PAST})"]


@dataclass(frozen=True)
class Counted:
    """A table whose rows database triggers count, into a table of counters."""

    table: str
    counts: str
    name: str  # of its database triggers and functions
    key: tuple[str, ...]  # the counters' columns, besides slot and n
    reads: tuple[str, ...]  # the columns the key is computed from
    key_sql: Callable[[str, str], list[str]]  # (vendor, "NEW." / "OLD." / "") -> SQL

    model_name: str  # of the counters

    def model(self) -> Any:
        from django.apps import apps

        return apps.get_model("djtriggers", self.model_name)


TRIGGERS = Counted(
    table="djtriggers_trigger",
    counts="djtriggers_triggercount",
    name="djtriggers_count",
    key=("trigger_type", "state", "fingerprint", "bucket"),
    reads=("state", "trigger_type", "process_after", "error_fingerprint", "date_processed"),
    key_sql=_trigger_key,
    model_name="TriggerCount",
)
ATTEMPTS = Counted(
    table="djtriggers_triggerattempt",
    counts="djtriggers_attemptcount",
    name="djtriggers_tries",
    key=("outcome", "minute"),
    reads=("outcome", "finished_at"),
    key_sql=_attempt_key,
    model_name="AttemptCount",
)
COUNTED = (TRIGGERS, ATTEMPTS)


def _postgresql(counted: Counted) -> tuple[list[str], list[str]]:
    # Statement triggers with transition tables: one upsert per statement and
    # key, however many rows it wrote. One event per trigger: a trigger with
    # transition tables may not have several.
    key, counts, table = ", ".join(counted.key), counted.counts, counted.table
    rows = f"SELECT {', '.join(counted.key_sql('postgresql', ''))}, {{d}} FROM {{rows}}"
    changes = {
        "insert": ("REFERENCING NEW TABLE AS new_rows", [rows.format(d=1, rows="new_rows")]),
        "update": (
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
            [rows.format(d=1, rows="new_rows"), rows.format(d=-1, rows="old_rows")],
        ),
        "delete": ("REFERENCING OLD TABLE AS old_rows", [rows.format(d=-1, rows="old_rows")]),
    }
    install, uninstall = [], []
    for event, (referencing, parts) in changes.items():
        name = f"{counted.name}_{event}"
        install += [
            f"""
            CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
            BEGIN
                INSERT INTO {counts} ({key}, slot, n)
                SELECT {key}, pg_backend_pid(), sum(d)
                FROM ({" UNION ALL ".join(parts)}) AS changes ({key}, d)
                GROUP BY {key} HAVING sum(d) <> 0
                ORDER BY {key}
                ON CONFLICT ({key}, slot) DO UPDATE SET n = {counts}.n + EXCLUDED.n;
                RETURN NULL;
            END
            $$ LANGUAGE plpgsql
            """,
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"""
            CREATE TRIGGER {name} AFTER {event.upper()} ON {table} {referencing}
            FOR EACH STATEMENT EXECUTE FUNCTION {name}()
            """,
        ]
        uninstall += [
            f"DROP TRIGGER IF EXISTS {name} ON {table}",
            f"DROP FUNCTION IF EXISTS {name}()",
        ]
    name = f"{counted.name}_truncate"
    install += [
        # A small table, churned: never worth parallel workers (whose start costs
        # more than the scan), and room on each page for updates in place.
        f"ALTER TABLE {counts} SET (parallel_workers = 0, fillfactor = 50)",
        f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
        BEGIN
            DELETE FROM {counts};
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """,
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
        f"""
        CREATE TRIGGER {name} AFTER TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {name}()
        """,
    ]
    uninstall += [
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
        f"DROP FUNCTION IF EXISTS {name}()",
        f"ALTER TABLE {counts} RESET (parallel_workers, fillfactor)",
    ]
    return install, uninstall


def _row_triggers(counted: Counted, vendor: str) -> tuple[list[str], list[str]]:
    """MariaDB/MySQL and SQLite: a row trigger per event."""
    key = ", ".join(counted.key)
    if vendor == "mysql":
        slot, upsert = "CONNECTION_ID()", "ON DUPLICATE KEY UPDATE n = n + ({n})"
        changed = " OR ".join(f"NOT OLD.{c} <=> NEW.{c}" for c in counted.reads)
        update_when, update_of = "", ""
    else:
        slot, upsert = "0", f"ON CONFLICT ({key}, slot) DO UPDATE SET n = n + ({{n}})"
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in counted.reads)
        update_when, update_of = f"WHEN {changed}", f" OF {', '.join(counted.reads)}"

    def add(row: str, n: int) -> str:
        values = ", ".join(counted.key_sql(vendor, f"{row}."))
        return (
            f"INSERT INTO {counted.counts} ({key}, slot, n) "
            f"VALUES ({values}, {slot}, {n}) {upsert.format(n=n)};"
        )

    bodies = {
        "insert": ("", add("NEW", 1)),
        "update": (update_when, add("OLD", -1) + "\n" + add("NEW", 1)),
        "delete": ("", add("OLD", -1)),
    }
    install, uninstall = [], []
    for event, (when, body) in bodies.items():
        name = f"{counted.name}_{event}"
        if vendor == "mysql" and event == "update":
            body = f"IF {changed} THEN {body} END IF;"
        of = update_of if event == "update" else ""
        install += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"""
            CREATE TRIGGER {name} AFTER {event.upper()}{of} ON {counted.table}
            FOR EACH ROW {when}
            BEGIN
                {body}
            END
            """,
        ]
        uninstall.append(f"DROP TRIGGER IF EXISTS {name}")
    return install, uninstall


def statements(vendor: str) -> tuple[list[str], list[str]]:
    """The SQL that installs and uninstalls the counting triggers on ``vendor``."""
    install, uninstall = [], []
    for counted in COUNTED:
        sql = _postgresql(counted) if vendor == "postgresql" else _row_triggers(counted, vendor)
        install += sql[0]
        uninstall += sql[1]
    return install, uninstall


def install(connection: BaseDatabaseWrapper) -> None:
    """(Re)install the counting triggers and count the rows as they are."""
    sql, _ = statements(connection.vendor)
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)
    recount(connection.alias)


def uninstall(connection: BaseDatabaseWrapper) -> None:
    _, sql = statements(connection.vendor)
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)


def recount(using: str = "default") -> None:
    """Count the rows afresh (after a MariaDB TRUNCATE, or to check the counters).

    Run it while nothing writes triggers: a write committed between the count
    and the end of this transaction would be counted twice or not at all.
    """
    vendor = connections[using].vendor
    now = timezone.now()
    with write_transaction(using), connections[using].cursor() as cursor:
        for counted in COUNTED:
            model = counted.model()
            columns = ", ".join(str(i + 1) for i in range(len(counted.key)))
            cursor.execute(f"DELETE FROM {counted.counts}")
            cursor.execute(
                f"SELECT {', '.join(counted.key_sql(vendor, ''))}, count(*) "
                f"FROM {counted.table} GROUP BY {columns}"
            )
            sums = _merge(counted, cursor.fetchall(), now, vendor)
            model.objects.using(using).bulk_create(
                [
                    model(**dict(zip(counted.key, key, strict=True)), slot=0, n=n)
                    for key, n in sums.items()
                ],
                batch_size=1000,
            )


def since_1970(when: datetime, vendor: str, unit: int = HOUR) -> int:
    """The bucket of ``when`` (in ``unit``s from 1970), as the database computes it."""
    if timezone.is_naive(when):  # USE_TZ = False: stored as a wall-clock time
        # PostgreSQL stores it in the connection's time zone, the others as it is.
        when = timezone.make_aware(when) if vendor == "postgresql" else when.replace(tzinfo=UTC)
    return math.floor(when.timestamp() / unit)


def bucket_start(bucket: int, vendor: str, unit: int = HOUR) -> datetime:
    """When ``bucket`` begins, in the form a query on the column takes."""
    start = datetime.fromtimestamp(bucket * unit, UTC)
    if django_settings.USE_TZ:
        return start
    naive = start.replace(tzinfo=None)
    return timezone.make_naive(start) if vendor == "postgresql" else naive


def by_type(using: str = "default") -> dict[str, dict[str, int]]:
    """{trigger type: {state: count}}, exact, from the counters (states with rows only)."""
    from .models import TriggerCount

    counts: dict[str, dict[str, int]] = defaultdict(dict)
    rows = (
        TriggerCount.objects.using(using)
        .values_list("trigger_type", "state")
        .annotate(total=Sum("n"))
        .order_by()
    )
    for typed, state, total in rows:
        if total:
            counts[typed][state] = int(total)
    return dict(counts)


def due_by_type(now: datetime, using: str = "default") -> dict[str, tuple[int, datetime]]:
    """{type: (due, when the oldest became due)}, exact, whatever the number of rows.

    The counters hold the scheduled triggers per hour of their process_after:
    those of the hours gone by are due. This hour's are counted from the rows,
    along the ``(state, process_after)`` index. The oldest per type is one
    step into the ``(trigger_type, state, process_after, date_received)``
    index; a trigger without ``process_after`` has waited since it was received.
    """
    from .models import Trigger, TriggerCount

    vendor = connections[using].vendor
    this_hour = since_1970(now, vendor)
    scheduled = Trigger._base_manager.using(using).filter(state=State.SCHEDULED)
    of_type = scheduled.filter(trigger_type=OuterRef("trigger_type"))
    before = (
        TriggerCount.objects.using(using)
        .filter(state=State.SCHEDULED, bucket__lt=this_hour)
        .values_list("trigger_type")
        .annotate(
            n=Sum("n"),
            first=Subquery(
                of_type.filter(process_after__isnull=False)
                .order_by("process_after")
                .values("process_after")[:1]
            ),
            unset=Subquery(
                of_type.filter(process_after__isnull=True)
                .order_by("date_received")
                .values("date_received")[:1]
            ),
        )
        .order_by()
    )
    current = (
        scheduled.filter(process_after__gte=bucket_start(this_hour, vendor), process_after__lte=now)
        .values_list("trigger_type")
        .annotate(n=Count("trigger_type"), first=Min("process_after"))
        .order_by()
    )
    due: dict[str, tuple[int, datetime]] = {}
    found: dict[str, list[datetime]] = defaultdict(list)
    for typed, n, first, unset in before:
        due[typed] = (int(n), now)
        found[typed] += [t for t in (unset, first if first and first <= now else None) if t]
    for typed, n, first in current:
        due[typed] = (due.get(typed, (0, now))[0] + n, now)
        found[typed].append(first)
    return {typed: (n, min(found[typed], default=now)) for typed, (n, _) in due.items() if n > 0}


def by_status(
    now: datetime,
    due: dict[str, tuple[int, datetime]] | None = None,
    using: str = "default",
) -> dict[str, dict[str, int]]:
    """{type: {status: count}} for all six statuses, exact, types sorted.

    The counters give each state; the scheduled split into due and pending
    comes from ``due_by_type`` (``due``, if already read).
    """
    due = due_by_type(now, using) if due is None else due
    by_state = by_type(using)
    matrix: dict[str, dict[str, int]] = {}
    for typed in sorted(set(by_state) | set(due)):
        states = by_state.get(typed, {})
        n_due = due.get(typed, (0, None))[0]
        row: dict[str, int] = {
            Status.PENDING: max(states.get(State.SCHEDULED, 0) - n_due, 0),
            Status.DUE: n_due,
            Status.RUNNING: states.get(State.RUNNING, 0),
            Status.FAILED: states.get(State.FAILED, 0),
            Status.PROCESSED: states.get(State.PROCESSED, 0),
            Status.CANCELLED: states.get(State.CANCELLED, 0),
        }
        # (Pending never below 0: the reads are a moment apart, and a trigger
        # may have become due in between.)
        matrix[typed] = {status: row[status] for status in Status.values}
    return matrix


def failure_groups(limit: int, using: str = "default") -> list[dict[str, Any]]:
    """The ``limit`` largest groups of failed triggers by type and fingerprint, largest first.

    Each with its count (from the counters), when its first and last trigger
    failed and the last one's id, each one step into the partial
    ``djtriggers_failed_groups`` index.
    """
    from .models import Trigger, TriggerCount

    failed = Trigger._base_manager.using(using).filter(state=State.FAILED)
    largest = (
        TriggerCount.objects.using(using)
        .filter(state=State.FAILED)
        .values("trigger_type", "fingerprint")
        .annotate(n=Sum("n"))
        .filter(n__gt=0)
        .order_by("-n", "trigger_type", "fingerprint")
    )
    if connections[using].vendor == "mysql":  # pragma: no cover - MariaDB only
        return _failure_groups_by_steps(list(largest[:limit]), failed)
    group = failed.filter(
        trigger_type=OuterRef("trigger_type"), error_fingerprint=OuterRef("fingerprint")
    )
    latest = group.order_by("-date_processed", "-pk")
    return list(
        largest.annotate(
            first=Subquery(group.order_by("date_processed").values("date_processed")[:1]),
            last=Subquery(latest.values("date_processed")[:1]),
            sample_pk=Subquery(latest.values("pk")[:1]),
        )[:limit]
    )


def _failure_groups_by_steps(
    groups: list[dict[str, Any]], failed: Any
) -> list[dict[str, Any]]:  # pragma: no cover - MariaDB only
    # MariaDB has no partial index: its djtriggers_failed_groups holds every state.
    # Its plan for the correlated steps above follows sampled statistics (at worst
    # a scan of the table per group); with each group's type and fingerprint
    # written out, it estimates each step by diving into that index, and takes it.
    # So: the first and the last of each group, one step each, in one UNION ALL.
    if not groups:
        return []
    steps = []
    for g in groups:
        rows = failed.filter(trigger_type=g["trigger_type"], error_fingerprint=g["fingerprint"])
        for end, order in (
            ("first", ("date_processed", "pk")),
            ("last", ("-date_processed", "-pk")),
        ):
            step = rows.annotate(end=Value(end)).order_by(*order)
            steps.append(
                step.values_list(
                    "trigger_type", "error_fingerprint", "end", "date_processed", "pk"
                )[:1]
            )
    found: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for typed, fingerprint, end, when, pk in steps[0].union(*steps[1:], all=True):
        found[typed, fingerprint][end] = when
        if end == "last":
            found[typed, fingerprint]["sample_pk"] = pk
    empty = {"first": None, "last": None, "sample_pk": None}
    return [{**g, **empty, **found.get((g["trigger_type"], g["fingerprint"]), {})} for g in groups]


def live_slots(using: str) -> set[int] | None:
    """The slots of connections that are open now; None on SQLite (one slot, 0)."""
    connection = connections[using]
    if connection.vendor == "sqlite":
        return None
    with connection.cursor() as cursor:  # pragma: no cover - PostgreSQL and MariaDB
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pid FROM pg_stat_activity")
        else:
            cursor.execute("SELECT id FROM information_schema.processlist")
        return {int(pid) for (pid,) in cursor.fetchall()}


def processed_since(since: datetime, using: str = "default") -> dict[str, int]:
    """{type: triggers processed since ``since``}, exact: the counters of the
    minutes after it, and the rows of its own minute."""
    from .models import Trigger, TriggerCount

    vendor = connections[using].vendor
    first = since_1970(since, vendor, MINUTE)
    done: dict[str, int] = defaultdict(int)
    counted = (
        TriggerCount.objects.using(using)
        .filter(state=State.PROCESSED, bucket__gt=first)
        .values_list("trigger_type")
        .annotate(n=Sum("n"))
        .order_by()
    )
    rows = (
        Trigger._base_manager.using(using)
        .filter(
            state=State.PROCESSED,
            date_processed__gte=since,
            date_processed__lt=bucket_start(first + 1, vendor, MINUTE),
        )
        .values_list("trigger_type")
        .annotate(n=Count("trigger_type"))
        .order_by()
    )
    for typed, n in [*counted, *rows]:
        done[typed] += n
    return {typed: n for typed, n in done.items() if n > 0}


def tries_per_minute(
    start: datetime, end: datetime, using: str = "default"
) -> dict[datetime, dict[str, int]]:
    """{minute: {outcome: tries}} for the whole minutes from ``start``'s to ``end``'s (excluded)."""
    from .models import AttemptCount

    vendor = connections[using].vendor
    rows = (
        AttemptCount.objects.using(using)
        .filter(
            minute__gte=since_1970(start, vendor, MINUTE),
            minute__lt=since_1970(end, vendor, MINUTE),
        )
        .values_list("minute", "outcome")
        .annotate(n=Sum("n"))
        .filter(n__gt=0)
        .order_by()
    )
    tries: dict[datetime, dict[str, int]] = defaultdict(dict)
    for minute, outcome, n in rows:
        tries[bucket_start(minute, vendor, MINUTE)][outcome] = int(n)
    return dict(tries)


def _limits(now: datetime, vendor: str) -> tuple[int, int]:
    """The hour and the minute before which counters are merged into PAST."""
    return (
        since_1970(now - timedelta(hours=KEEP_HOURS), vendor, HOUR),
        since_1970(now - timedelta(minutes=KEEP_MINUTES), vendor, MINUTE),
    )


def _gone_by(counted: Counted, hours: int, minutes: int) -> Q:
    """The counter rows of times over long enough to merge into PAST (as ``_merge``)."""
    if counted is ATTEMPTS:
        return Q(minute__lt=minutes)
    return Q(state=State.SCHEDULED, bucket__lt=hours) | Q(state=State.PROCESSED, bucket__lt=minutes)


def _merge(
    counted: Counted, rows: Iterable[Sequence[Any]], now: datetime, vendor: str
) -> dict[tuple[Any, ...], int]:
    """Rows of (*key, n) summed by key, the times gone by (as ``_gone_by``) as PAST; no zeros."""
    hours, minutes = _limits(now, vendor)
    sums: dict[tuple[Any, ...], int] = defaultdict(int)
    for *key, n in rows:
        if counted is ATTEMPTS:
            gone = key[1] < minutes
        else:
            state, bucket = key[1], key[3]
            gone = (state == State.SCHEDULED and bucket < hours) or (
                state == State.PROCESSED and bucket < minutes
            )
        if gone:
            key[-1] = PAST
        sums[tuple(key)] += int(n)
    return {key: n for key, n in sums.items() if n}


def fold(using: str = "default", now: datetime | None = None) -> int:
    """Merge counter rows into slot 0 so the tables stay small; how many rows were merged.

    Merged: the rows of closed connections, and those of the minutes and hours
    gone by (into one bucket, PAST: all due alike, all out of the last hour).
    Rows at 0 go. Rows another fold or a committing connection holds are left
    for next time (SKIP LOCKED), so a fold never waits and two folds never meet.
    """
    vendor = connections[using].vendor
    now = now or timezone.now()
    hours, minutes = _limits(now, vendor)
    live = live_slots(using)
    dead = ~Q(slot=0) if live is None else ~Q(slot__in={0, *live})
    merged = 0
    for counted in COUNTED:
        counts = counted.model().objects.using(using)
        gone = _gone_by(counted, hours, minutes) & ~Q(slot=0, **{counted.key[-1]: PAST})
        with write_transaction(using):
            rows = list(
                counts.filter(dead | gone)
                .select_for_update(skip_locked=True)
                .values_list("pk", *counted.key, "n")
            )
            pks = [pk for pk, *_ in rows]
            for chunk in range(0, len(pks), 500):
                counts.filter(pk__in=pks[chunk : chunk + 500]).delete()
            for key, n in sorted(_merge(counted, [row[1:] for row in rows], now, vendor).items()):
                fields = dict(zip(counted.key, key, strict=True))
                row, _ = counts.select_for_update().get_or_create(
                    **fields, slot=0, defaults={"n": 0}
                )
                counts.filter(pk=row.pk).update(n=row.n + n)
            counts.filter(slot=0, n=0).delete()
        merged += len(rows)
    return merged


def after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate, which ``flush`` sends too.

    SQLite drops a table's triggers when a migration rebuilds the table: they
    are installed again. And a flush deletes the tables one by one in no set
    order: counting the rows it deletes after it emptied the counters leaves
    counts below zero. No rows means no counts.
    """
    connection = connections[using]
    tables = set(connection.introspection.table_names())
    if not {table for counted in COUNTED for table in (counted.table, counted.counts)} <= tables:
        return
    if connection.vendor == "sqlite" and any(
        sqlite_triggers(connection, c.name) < 3 for c in COUNTED
    ):
        install(connection)
    with write_transaction(using), connection.cursor() as cursor:
        for counted in COUNTED:
            cursor.execute(f"SELECT 1 FROM {counted.table} LIMIT 1")
            if cursor.fetchone() is None:
                cursor.execute(f"DELETE FROM {counted.counts}")
