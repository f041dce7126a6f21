"""Exact counts of triggers per type and state, kept by the database as rows change.

Counting a table of millions scans an index of millions; the dashboard, the
health check and the metrics read these counters instead. Database triggers
keep them on every INSERT, UPDATE and DELETE of the trigger table, in the same
transaction, whoever writes: workers, operators, 2.x code with ``update()`` or
raw SQL, cleaning. (PostgreSQL's TRUNCATE empties them too; MariaDB's TRUNCATE
fires no trigger: run ``recount()`` after one.)

No hot row: a connection adds to counter rows of its own (``slot``, its
server-side id), so workers committing at once never wait for each other's
counters. ``fold()`` merges the rows of connections that are gone into slot 0,
so the table stays as small as the number of live connections times types
times states. A count is the sum over the slots.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, Min, Sum

from .db import sqlite_triggers, write_transaction
from .lifecycle import State, Status

TABLE = "djtriggers_trigger"
COUNTS = "djtriggers_triggercount"
NAME = "djtriggers_count"
_UPSERT_PG = f"""
    ON CONFLICT (trigger_type, state, slot)
    DO UPDATE SET n = {COUNTS}.n + EXCLUDED.n
"""


def _postgresql() -> tuple[list[str], list[str]]:
    # Statement triggers with transition tables: one upsert per statement and
    # (type, state), however many rows it wrote. One event per trigger: a
    # trigger with transition tables may not have several.
    changes = {
        "insert": (
            "REFERENCING NEW TABLE AS new_rows",
            ["SELECT trigger_type, state, 1 FROM new_rows"],
        ),
        "update": (
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
            [
                "SELECT trigger_type, state, 1 FROM new_rows",
                "SELECT trigger_type, state, -1 FROM old_rows",
            ],
        ),
        "delete": (
            "REFERENCING OLD TABLE AS old_rows",
            ["SELECT trigger_type, state, -1 FROM old_rows"],
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
                INSERT INTO {COUNTS} (trigger_type, state, slot, n)
                SELECT trigger_type, state, pg_backend_pid(), sum(d)
                FROM ({union}) AS changes (trigger_type, state, d)
                GROUP BY trigger_type, state HAVING sum(d) <> 0
                ORDER BY trigger_type, state
                {_UPSERT_PG};
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
    if vendor == "mysql":
        slot, upsert = "CONNECTION_ID()", "ON DUPLICATE KEY UPDATE n = n + ({n})"
        changed = "NOT (OLD.state <=> NEW.state AND OLD.trigger_type <=> NEW.trigger_type)"
        update_when, update_of = "", ""
    else:
        slot, upsert = "0", "ON CONFLICT (trigger_type, state, slot) DO UPDATE SET n = n + ({n})"
        changed = "OLD.state IS NOT NEW.state OR OLD.trigger_type IS NOT NEW.trigger_type"
        update_when, update_of = f"WHEN {changed}", " OF state, trigger_type"

    def add(row: str, n: int) -> str:
        return (
            f"INSERT INTO {COUNTS} (trigger_type, state, slot, n) "
            f"VALUES ({row}.trigger_type, {row}.state, {slot}, {n}) {upsert.format(n=n)};"
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
    with write_transaction(using), connections[using].cursor() as cursor:
        cursor.execute(f"DELETE FROM {COUNTS}")
        cursor.execute(
            f"INSERT INTO {COUNTS} (trigger_type, state, slot, n) "
            f"SELECT trigger_type, state, 0, count(*) FROM {TABLE} GROUP BY trigger_type, state"
        )


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
    """{type: (due, when the oldest became due)}: the one split counters cannot keep.

    Two queries along the ``(state, process_after)`` index, over the due rows
    only ("process_after <= now OR process_after IS NULL" is not one range). A
    row without ``process_after`` is due, and has waited since it was received.
    """
    from .models import Trigger

    scheduled = Trigger._base_manager.using(using).filter(state=State.SCHEDULED)
    parts = [
        scheduled.filter(process_after__lte=now)
        .values_list("trigger_type")
        .annotate(n=Count("trigger_type"), oldest=Min("process_after"))
        .order_by(),
        scheduled.filter(process_after__isnull=True)
        .values_list("trigger_type")
        .annotate(n=Count("trigger_type"), oldest=Min("date_received"))
        .order_by(),
    ]
    due: dict[str, tuple[int, datetime]] = {}
    for part in parts:
        for typed, n, oldest in part:
            if typed in due:
                n, oldest = n + due[typed][0], min(oldest, due[typed][1])
            due[typed] = (n, oldest)
    return due


def by_status(
    now: datetime,
    due: dict[str, tuple[int, datetime]] | None = None,
    using: str = "default",
) -> dict[str, dict[str, int]]:
    """{type: {status: count}} for all six statuses, exact, types sorted.

    The counters give each state; the scheduled split into due and pending
    reads the due rows (``due``, from ``due_by_type``, if already read).
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
        # (Pending never below 0: the two reads are a moment apart, and a
        # trigger may have become due in between.)
        matrix[typed] = {status: row[status] for status in Status.values}
    return matrix


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


def fold(using: str = "default") -> int:
    """Merge the counter rows of closed connections (and rows at 0) into slot 0; how many.

    Rows another fold or a committing connection holds are left for next time
    (SKIP LOCKED), so a fold never waits and two folds never meet.
    """
    from .models import TriggerCount

    live = live_slots(using)
    counts = TriggerCount.objects.using(using)
    with write_transaction(using):
        stale = counts.exclude(slot=0) if live is None else counts.exclude(slot__in={0, *live})
        rows = list(
            stale.select_for_update(skip_locked=True).values_list(
                "pk", "trigger_type", "state", "n"
            )
        )
        sums: dict[tuple[str, str], int] = defaultdict(int)
        for _, typed, state, n in rows:
            sums[typed, state] += n
        for (typed, state), n in sorted(sums.items()):
            if n:
                row, _ = counts.select_for_update().get_or_create(
                    trigger_type=typed, state=state, slot=0, defaults={"n": 0}
                )
                counts.filter(pk=row.pk).update(n=row.n + n)
        counts.filter(pk__in=[pk for pk, *_ in rows]).delete()
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
