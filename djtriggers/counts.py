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
to now, so the due/pending split reads at most an hour of rows.

No hot row: a connection adds to counter rows of its own (``slot``, its
server-side id), so workers committing at once never wait for each other's
counters. ``fold()`` merges the rows of connections that are gone, and the
hours gone by, into slot 0: the table stays as small as the number of live
connections times types times states, plus the hours to come and the
failures' fingerprints. A count is the sum over the slots.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from django.conf import settings as django_settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Min, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from .db import sqlite_triggers, write_transaction
from .lifecycle import State, Status

TABLE = "djtriggers_trigger"
COUNTS = "djtriggers_triggercount"
NAME = "djtriggers_count"
# The key of a counter, besides its slot: a failed trigger is counted with its
# error's fingerprint (the dashboard's failure groups), a scheduled one in the
# hour of its process_after (hours since 1970, as stored), so that what is due
# is the sum of the hours gone by plus the rows of this hour. PAST: no
# process_after (due from the start), or an hour merged by ``fold()``.
KEY = "trigger_type, state, fingerprint, bucket"
PAST = -1_000_000_000
_HOUR = {
    # Clamped: a raw 'infinity' must not make the write fail.
    "postgresql": "floor(extract(epoch FROM least(greatest({r}process_after, "
    "'0001-01-01 00:00+00'), '9999-12-31 23:59+00')) / 3600)::bigint",
    "mysql": "TIMESTAMPDIFF(HOUR, '1970-01-01 00:00:00', {r}process_after)",
    "sqlite": "CAST(strftime('%s', {r}process_after) AS INTEGER) / 3600",
}


def key_sql(vendor: str, r: str = "") -> str:
    """The counted key of a row (``r``: ``NEW.``, ``OLD.`` or nothing) in ``vendor``'s SQL."""
    hour = _HOUR[vendor].format(r=r)
    return (
        f"{r}trigger_type, {r}state, "
        f"CASE WHEN {r}state = '{State.FAILED}' THEN coalesce({r}error_fingerprint, '') "
        "ELSE '' END, "
        f"CASE WHEN {r}state = '{State.SCHEDULED}' THEN coalesce({hour}, {PAST}) ELSE 0 END"
    )


def _postgresql() -> tuple[list[str], list[str]]:
    # Statement triggers with transition tables: one upsert per statement and
    # key, however many rows it wrote. One event per trigger: a trigger with
    # transition tables may not have several.
    rows = f"SELECT {key_sql('postgresql')}, {{d}} FROM {{table}}"
    changes = {
        "insert": (
            "REFERENCING NEW TABLE AS new_rows",
            [rows.format(d=1, table="new_rows")],
        ),
        "update": (
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
            [rows.format(d=1, table="new_rows"), rows.format(d=-1, table="old_rows")],
        ),
        "delete": (
            "REFERENCING OLD TABLE AS old_rows",
            [rows.format(d=-1, table="old_rows")],
        ),
    }
    install, uninstall = [], []
    for event, (referencing, parts) in changes.items():
        name = f"{NAME}_{event}"
        union = " UNION ALL ".join(parts)
        install += [
            f"""
            CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
            BEGIN
                INSERT INTO {COUNTS} ({KEY}, slot, n)
                SELECT {KEY}, pg_backend_pid(), sum(d)
                FROM ({union}) AS changes ({KEY}, d)
                GROUP BY {KEY} HAVING sum(d) <> 0
                ORDER BY {KEY}
                ON CONFLICT ({KEY}, slot) DO UPDATE SET n = {COUNTS}.n + EXCLUDED.n;
                RETURN NULL;
            END
            $$ LANGUAGE plpgsql
            """,
            f"DROP TRIGGER IF EXISTS {name} ON {TABLE}",
            f"""
            CREATE TRIGGER {name} AFTER {event.upper()} ON {TABLE} {referencing}
            FOR EACH STATEMENT EXECUTE FUNCTION {name}()
            """,
        ]
        uninstall += [
            f"DROP TRIGGER IF EXISTS {name} ON {TABLE}",
            f"DROP FUNCTION IF EXISTS {name}()",
        ]
    install += [
        f"""
        CREATE OR REPLACE FUNCTION {NAME}_truncate() RETURNS trigger AS $$
        BEGIN
            DELETE FROM {COUNTS};
            RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """,
        f"DROP TRIGGER IF EXISTS {NAME}_truncate ON {TABLE}",
        f"""
        CREATE TRIGGER {NAME}_truncate AFTER TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION {NAME}_truncate()
        """,
    ]
    uninstall += [
        f"DROP TRIGGER IF EXISTS {NAME}_truncate ON {TABLE}",
        f"DROP FUNCTION IF EXISTS {NAME}_truncate()",
    ]
    return install, uninstall


def _row_triggers(vendor: str) -> tuple[list[str], list[str]]:
    """MariaDB/MySQL and SQLite: a row trigger per event."""
    columns = ("state", "trigger_type", "process_after", "error_fingerprint")
    if vendor == "mysql":
        slot, upsert = "CONNECTION_ID()", "ON DUPLICATE KEY UPDATE n = n + ({n})"
        changed = " OR ".join(f"NOT OLD.{c} <=> NEW.{c}" for c in columns)
        update_when, update_of = "", ""
    else:
        slot, upsert = "0", f"ON CONFLICT ({KEY}, slot) DO UPDATE SET n = n + ({{n}})"
        changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
        update_when, update_of = f"WHEN {changed}", f" OF {', '.join(columns)}"

    def add(row: str, n: int) -> str:
        return (
            f"INSERT INTO {COUNTS} ({KEY}, slot, n) "
            f"VALUES ({key_sql(vendor, row + '.')}, {slot}, {n}) {upsert.format(n=n)};"
        )

    bodies = {
        "insert": ("", add("NEW", 1)),
        "update": (update_when, add("OLD", -1) + "\n" + add("NEW", 1)),
        "delete": ("", add("OLD", -1)),
    }
    install, uninstall = [], []
    for event, (when, body) in bodies.items():
        name = f"{NAME}_{event}"
        if vendor == "mysql" and event == "update":
            body = f"IF {changed} THEN {body} END IF;"
        of = update_of if event == "update" else ""
        install += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"""
            CREATE TRIGGER {name} AFTER {event.upper()}{of} ON {TABLE}
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
    if vendor == "postgresql":  # pragma: no cover - PostgreSQL only
        return _postgresql()
    return _row_triggers(vendor)


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
    with write_transaction(using), connections[using].cursor() as cursor:
        cursor.execute(f"DELETE FROM {COUNTS}")
        cursor.execute(
            f"INSERT INTO {COUNTS} ({KEY}, slot, n) "
            f"SELECT {key_sql(vendor)}, 0, count(*) FROM {TABLE} GROUP BY 1, 2, 3, 4"
        )


def hour(when: datetime, vendor: str) -> int:
    """The bucket of a scheduled trigger due at ``when``, as the database computes it."""
    if timezone.is_naive(when):  # USE_TZ = False: stored as a wall-clock time
        # PostgreSQL stores it in the connection's time zone, the others as it is.
        when = timezone.make_aware(when) if vendor == "postgresql" else when.replace(tzinfo=UTC)
    return math.floor(when.timestamp() / 3600)


def hour_start(bucket: int, vendor: str) -> datetime:
    """When ``bucket`` begins, in the form a query on process_after takes."""
    start = datetime.fromtimestamp(bucket * 3600, UTC)
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
    this_hour = hour(now, vendor)
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
        scheduled.filter(process_after__gte=hour_start(this_hour, vendor), process_after__lte=now)
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
    return {
        typed: (n, min(found[typed], default=now)) for typed, (n, _) in due.items() if n > 0
    }


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

    group = Trigger._base_manager.using(using).filter(
        state=State.FAILED,
        trigger_type=OuterRef("trigger_type"),
        error_fingerprint=OuterRef("fingerprint"),
    )
    latest = group.order_by("-date_processed", "-pk")
    return list(
        TriggerCount.objects.using(using)
        .filter(state=State.FAILED)
        .values("trigger_type", "fingerprint")
        .annotate(n=Sum("n"))
        .filter(n__gt=0)
        .order_by("-n", "trigger_type", "fingerprint")
        .annotate(
            first=Subquery(group.order_by("date_processed").values("date_processed")[:1]),
            last=Subquery(latest.values("date_processed")[:1]),
            sample_pk=Subquery(latest.values("pk")[:1]),
        )[:limit]
    )


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


def fold(using: str = "default", now: datetime | None = None) -> int:
    """Merge counter rows into slot 0 so the table stays small; how many rows were merged.

    Merged: the rows of closed connections, and those of scheduled triggers
    due over an hour ago (into one bucket, PAST: all due alike). Rows at 0 go.
    Rows another fold or a committing connection holds are left for next time
    (SKIP LOCKED), so a fold never waits and two folds never meet.
    """
    from .models import TriggerCount

    # An hour back: a clock a little ahead of the others (another host) must
    # not merge an hour that is not over everywhere.
    gone = hour(now or timezone.now(), connections[using].vendor) - 1
    past = Q(state=State.SCHEDULED, bucket__lt=gone)
    live = live_slots(using)
    counts = TriggerCount.objects.using(using)
    with write_transaction(using):
        dead = ~Q(slot=0) if live is None else ~Q(slot__in={0, *live})
        rows = list(
            counts.filter(dead | (past & ~Q(slot=0, bucket=PAST)))
            .select_for_update(skip_locked=True)
            .values_list("pk", "trigger_type", "state", "fingerprint", "bucket", "n")
        )
        sums: dict[tuple[str, str, str, int], int] = defaultdict(int)
        for _, typed, state, fingerprint, bucket, n in rows:
            if state == State.SCHEDULED and bucket < gone:
                bucket = PAST
            sums[typed, state, fingerprint, bucket] += n
        counts.filter(pk__in=[pk for pk, *_ in rows]).delete()
        for (typed, state, fingerprint, bucket), n in sorted(sums.items()):
            if n:
                row, _ = counts.select_for_update().get_or_create(
                    trigger_type=typed,
                    state=state,
                    fingerprint=fingerprint,
                    bucket=bucket,
                    slot=0,
                    defaults={"n": 0},
                )
                counts.filter(pk=row.pk).update(n=row.n + n)
        counts.filter(slot=0, n=0).delete()
    return len(rows)


def after_migrate(using: str = "default", **kwargs: Any) -> None:
    """post_migrate, which ``flush`` sends too.

    SQLite drops a table's triggers when a migration rebuilds the table: they
    are installed again. And a flush deletes the tables one by one in no set
    order: counting the trigger rows it deletes after it emptied the counters
    leaves counts below zero. No triggers means no counts.
    """
    from .models import Trigger, TriggerCount

    connection = connections[using]
    tables = connection.introspection.table_names()
    if TABLE not in tables or COUNTS not in tables:
        return
    if connection.vendor == "sqlite" and sqlite_triggers(connection, NAME) < 3:
        install(connection)
    with write_transaction(using):
        if not Trigger._base_manager.using(using).exists():
            TriggerCount.objects.using(using).all().delete()
