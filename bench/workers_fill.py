"""The rows of ``workers.py``, written with server-side SQL on PostgreSQL and MariaDB.

One statement makes each kind of row from a series of numbers (PostgreSQL's
``generate_series``, MariaDB's sequence engine ``seq_1_to_N``), so a million rows
take seconds, not the minutes of ``bulk_create``. The rows are written through
the columns the lifecycle writes, each consistent with its state, so the
database triggers of migration 0009 (``legacy.py``) leave them as they are.

Needs Django set up (``ours.settings``) on the database to fill.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dialect import analyze as analyze_tables
from dialect import param, plus, series, vendor
from django.db import connection

TABLE = "djtriggers_trigger"
COLUMNS = (
    "trigger_type, source, date_received, date_processed, process_after, number_of_tries, "
    "successful, state, last_error, error_fingerprint, locked_by, locked_until, run_alone"
)
# The finished rows, per 1000 (the rest are processed at the first try).
MIX = {"failed": 20, "cancelled": 30, "retried": 30}
TYPES = ("billing.invoice", "mail.welcome", "crm.sync_contact", "shop.export_order", "noop")
MICROSECONDS = 1_000_000


def kind(i: str) -> str:
    """A trigger type for row number ``i``: a few types, not in runs."""
    cases = " ".join(f"WHEN {n} THEN '{t}'" for n, t in enumerate(TYPES))
    return f"CASE ({i} * 31 + {i} * {i}) %% {len(TYPES)} {cases} END"


# --- due triggers: what workers process -----------------------------------------


def due(n: int, *, now: datetime, trigger_type: str = "noop") -> None:
    """``n`` triggers due now, received and due one millisecond apart, the last a second ago."""
    start = now - timedelta(seconds=1, milliseconds=n)
    at = plus("%(start)s", "g.i * 1000")
    sql = f"""
        INSERT INTO {TABLE} ({COLUMNS})
        SELECT %(type)s, NULL, {at}, NULL, {at}, 0, NULL, 'scheduled', '', '', NULL, NULL, false
        FROM {series(n)}
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"start": param(start), "type": trigger_type})


# --- the history: finished and future triggers ----------------------------------


def history(finished: int, future: int, *, now: datetime) -> None:
    """``finished`` triggers received over 60 days (to yesterday) and ``future`` ones
    scheduled over the next 30 days (from an hour on), with their attempts.

    Finished: 2% failed (5 tries, an error and its fingerprint, 5 failed
    attempts), 3% cancelled (no attempt), 3% processed at the second or third
    try, the rest at the first (one success attempt each). Future: 10% of them
    waiting for a retry after a failed try.
    """
    received = plus("%(start)s", "r.i * %(step)s")
    mix = "(r.i * 7919) %% 1000"
    failed, cancelled = MIX["failed"], MIX["failed"] + MIX["cancelled"]
    retried = cancelled + MIX["retried"]
    state = (
        f"CASE WHEN {mix} < {failed} THEN 'failed' WHEN {mix} < {cancelled} THEN 'cancelled' "
        "ELSE 'processed' END"
    )
    done = f"""CASE
        WHEN {mix} < {failed} THEN {plus(received, "1800000000 + (r.i %% 600) * 60000000")}
        WHEN {mix} < {cancelled} THEN {plus(received, "3600000000 + (r.i %% 48) * 3600000000")}
        ELSE {plus(received, "200000 + (r.i %% 97) * 100000")} END"""
    tries = f"""CASE WHEN {mix} < {failed} THEN 5
        WHEN {mix} >= {cancelled} AND {mix} < {retried} THEN 1 + r.i %% 2 ELSE 0 END"""
    successful = (
        f"CASE WHEN {mix} < {failed} THEN false WHEN {mix} < {cancelled} THEN NULL ELSE true END"
    )
    error = f"CASE WHEN {mix} < {failed} THEN {ERROR} ELSE '' END"
    fingerprint = (
        f"CASE WHEN {mix} < {failed} THEN LEFT(MD5(CONCAT(r.kind, r.i %% 3)), 16) ELSE '' END"
    )
    finished_sql = f"""
        INSERT INTO {TABLE} ({COLUMNS})
        SELECT r.kind, CONCAT(r.kind, '$', r.i), {received}, {done}, {received}, {tries},
            {successful}, {state}, {error}, {fingerprint}, NULL, NULL, false
        FROM (SELECT g.i AS i, {kind("g.i")} AS kind FROM {series(finished)}) AS r
    """
    retry = "r.i %% 10 = 0"
    future_sql = f"""
        INSERT INTO {TABLE} ({COLUMNS})
        SELECT r.kind, CONCAT(r.kind, '$f', r.i), {plus("%(recent)s", "r.i * %(recent_step)s")},
            NULL, {plus("%(later)s", "r.i * %(later_step)s")},
            CASE WHEN {retry} THEN 1 + r.i %% 3 ELSE 0 END, NULL, 'scheduled',
            CASE WHEN {retry} THEN {ERROR} ELSE '' END,
            CASE WHEN {retry} THEN LEFT(MD5(CONCAT(r.kind, r.i %% 3)), 16) ELSE '' END,
            NULL, NULL, false
        FROM (SELECT g.i AS i, {kind("g.i")} AS kind FROM {series(future)}) AS r
    """
    day = 24 * 3600 * MICROSECONDS
    params = {
        "start": param(now - timedelta(days=61)),
        "step": 60 * day // max(finished, 1),
        "recent": param(now - timedelta(days=1)),
        "recent_step": day // max(future, 1),
        "later": param(now + timedelta(hours=1)),
        "later_step": 30 * day // max(future, 1),
    }
    attempts = "djtriggers_triggerattempt"
    attempt_columns = (
        "trigger_id, number, worker, started_at, finished_at, outcome, exception_class, "
        "message, traceback"
    )
    success_sql = f"""
        INSERT INTO {attempts} ({attempt_columns})
        SELECT t.id, t.number_of_tries + 1, 'web-1:4242:a1b2c3',
            {plus("t.date_processed", "-50000")}, t.date_processed, 'success', '', '', ''
        FROM {TABLE} t WHERE t.state = 'processed'
    """
    failure_sql = f"""
        INSERT INTO {attempts} ({attempt_columns})
        SELECT t.id, n.i, 'web-1:4242:a1b2c3',
            {plus("t.date_processed", "(n.i - 5) * 600000000 - 2000000")},
            {plus("t.date_processed", "(n.i - 5) * 600000000")}, 'failure', 'ConnectionError',
            t.last_error, 'Traceback (most recent call last): ...'
        FROM {TABLE} t CROSS JOIN {series(5, "n")} WHERE t.state = 'failed'
    """
    with connection.cursor() as cursor:
        cursor.execute(finished_sql, params)
        cursor.execute(future_sql, params)
        # Future triggers of every priority (0 to 9), so that the claim shows it steps
        # over none of them to find due triggers of the default priority (5).
        cursor.execute(f"UPDATE {TABLE} SET priority = MOD(id, 10) WHERE state = 'scheduled'")
        cursor.execute(success_sql)
        cursor.execute(failure_sql)


ERROR = (
    "CONCAT('requests.exceptions.ConnectionError: HTTPSConnectionPool(host=''api.payments."
    "example'', port=443): Max retries exceeded with url: /v1/invoices/', r.i, "
    "' (Caused by NewConnectionError(''Failed to establish a new connection: [Errno 111] "
    "Connection refused''))')"
)


# --- maintenance ---------------------------------------------------------------


def analyze() -> None:
    """What autovacuum soon does to a table filled at once: statistics (and, on
    PostgreSQL, the visibility map)."""
    analyze_tables(TABLE, "djtriggers_triggerattempt", vacuum=True)


def empty() -> None:
    """Remove every trigger, attempt and worker row; ids start again from 1."""
    with connection.cursor() as cursor:
        if vendor() == "postgresql":
            cursor.execute(f"TRUNCATE {TABLE}, djtriggers_worker RESTART IDENTITY CASCADE")
            return
        cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table in (
            "djtriggers_triggerattempt",
            "djtriggers_triggerresult",
            "djtriggers_operatoraction_triggers",
            TABLE,
            "djtriggers_worker",
        ):
            cursor.execute(f"TRUNCATE TABLE {table}")
        cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def table_size() -> dict[str, int]:
    """Rows and bytes (table and indexes) of the trigger table."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {TABLE}")
        (rows,) = cursor.fetchone()
        if vendor() == "postgresql":
            cursor.execute(f"SELECT pg_total_relation_size('{TABLE}')")
        else:
            cursor.execute(
                "SELECT data_length + index_length FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                [TABLE],
            )
        (size,) = cursor.fetchone()
    return {"rows": rows, "bytes": int(size)}
