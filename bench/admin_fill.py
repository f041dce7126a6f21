"""The rows of ``admin_changelist.py`` and ``dashboard.py``: millions of triggers, kept.

``setup()`` starts Django on the database ``djtriggers_bench_admin`` (or
``$BENCH_ADMIN_DATABASE``: PostgreSQL and MariaDB on 127.0.0.1; SQLite
bench/results/<name>.sqlite3) and fills it once with a realistic mix of
triggers received over 60 days: one ``INSERT … SELECT`` over a series of
numbers for the triggers and one for the attempts of the failed ones, the same
on each database (``dialect.py``); then the counters are counted afresh
(``djtriggers/counts.py``), as the workers' folds would have left them. What
filled it is recorded in it (PostgreSQL and MariaDB: the database's comment;
SQLite: a table): the migrations and ``counts.py`` (the counting triggers they
install), the fill and the number of rows. When any of them changed (or with
``refill``) the database is made again, so an edited migration cannot leave a
stale schema.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from common import RESULTS, create_database, mariadb_admin, postgres_admin

BENCH = Path(__file__).resolve().parent
# Another name (BENCH_ADMIN_DATABASE) keeps a smoke run away from the full run's rows.
DATABASE = os.environ.get("BENCH_ADMIN_DATABASE", "djtriggers_bench_admin")
STAMP_TABLE = "bench_fill"  # SQLite's record of what filled it

# The statuses, per 1000 rows (the rest are processed).
MIX = {"failed": 20, "due": 10, "pending": 20, "running": 1, "cancelled": 30}
# Per trigger type: its share per 100 rows, and its sources: the model and the
# row number divided by this (several triggers per object).
TYPES = {
    "billing.invoice": (40, "billing.invoice", 2),
    "billing.reminder": (15, "billing.invoice", 2),
    "mail.welcome": (20, "auth.user", 5),
    "crm.sync_contact": (15, "crm.contact", 3),
    "shop.export_order": (8, "shop.order", 1),
    "reports.nightly": (2, None, 1),
}
# The concrete type of ``admin_changelist.py --paybills`` (tests/testapp's PayBill: an
# amount and a recipient, a user): its own rows, with the mix of statuses above.
PAYBILL = "testapp.paybill"
RECIPIENTS = 1000  # users bench0001 ... bench1000
AMOUNTS = 100_000  # amounts 0 ... 99,999: about 10 bills per amount at 1,000,000
TRACEBACK = "Traceback (most recent call last):" + '\n  File "app/tasks.py", line 42' * 8 + "\n"
MINUTE, HOUR = 60_000_000, 3_600_000_000  # microseconds


def setup(db: str, rows: int, *, refill: bool, settings: str, paybills: int = 0) -> None:
    """Django started with ``settings`` on the database of ``db``, holding ``rows`` triggers.

    ``paybills``: as many triggers of the concrete type PAYBILL besides (``settings``
    must install ``tests.testapp``).
    """
    os.environ.update(BENCH_DB=db, BENCH_DB_NAME=database_name(db), DJANGO_SETTINGS_MODULE=settings)
    import django

    django.setup()
    from django.core.management import call_command

    needs_fill = prepare_database(db, rows, refill=refill, paybills=paybills)
    call_command("migrate", verbosity=0)
    if needs_fill:
        fill(db, rows, paybills=paybills)


def database_name(db: str) -> str:
    """The server's database, or SQLite's file."""
    return str(RESULTS / f"{DATABASE}.sqlite3") if db == "sqlite" else DATABASE


# --- the record of what filled the database --------------------------------------


def prepare_database(db: str, rows: int, *, refill: bool, paybills: int = 0) -> bool:
    """Make the database afresh unless it holds this fill; whether it must be filled."""
    if stored_stamp(db) == fill_stamp(rows, paybills) and not refill:
        besides = f" and {paybills:,} of {PAYBILL}" if paybills else ""
        print(f"Using the {rows:,} triggers{besides} in {DATABASE} (--refill rebuilds them).")
        return False
    if db == "sqlite":
        RESULTS.mkdir(exist_ok=True)
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(database_name(db) + suffix).unlink(missing_ok=True)
    else:
        create_database(db, DATABASE)
    return True


def fill_stamp(rows: int, paybills: int = 0) -> str:
    """What fills the database: the row count, the fill's SQL, the migrations and the
    counting triggers they install."""
    library = BENCH.parent / "djtriggers"
    digest = hashlib.sha1(f"{rows}\0{triggers_sql(rows)}\0{attempts_sql()}".encode())
    paths = [*sorted((library / "migrations").glob("*.py")), library / "counts.py"]
    if paybills:
        digest.update(f"{paybills}\0{triggers_sql(paybills, PAYBILL)}\0{paybills_sql()}".encode())
        paths += sorted((BENCH.parent / "tests" / "testapp" / "migrations").glob("*.py"))
    for path in paths:
        digest.update(path.read_bytes())
    besides = f" and {paybills} {PAYBILL}" if paybills else ""
    return f"djtriggers bench: {rows} rows{besides}, {digest.hexdigest()[:16]}"


def stored_stamp(db: str) -> str | None:
    if db == "postgres":
        with postgres_admin() as conn:
            row = conn.execute(
                "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                [DATABASE],
            ).fetchone()
    elif db == "mariadb":
        conn = mariadb_admin()
        cursor = conn.cursor()
        cursor.execute(
            "SELECT schema_comment FROM information_schema.schemata WHERE schema_name = %s",
            [DATABASE],
        )
        row = cursor.fetchone()
        conn.close()
    else:
        try:
            with closing(sqlite3.connect(f"file:{database_name(db)}?mode=ro", uri=True)) as conn:
                row = conn.execute(f"SELECT stamp FROM {STAMP_TABLE}").fetchone()
        except sqlite3.OperationalError:  # no file, or not filled to the end
            row = None
    return row[0] if row else None


def store_stamp(db: str, stamp: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if db == "postgres":
            cursor.execute(f"COMMENT ON DATABASE {DATABASE} IS %s", [stamp])
        elif db == "mariadb":
            cursor.execute(f"ALTER DATABASE {DATABASE} COMMENT = %s", [stamp])
        else:
            cursor.execute(f"CREATE TABLE {STAMP_TABLE} (stamp TEXT)")
            cursor.execute(f"INSERT INTO {STAMP_TABLE} VALUES (%s)", [stamp])


# --- the fill ------------------------------------------------------------------------


def fill(db: str, rows: int, *, paybills: int = 0) -> None:
    import dialect
    from django.db import connection
    from django.utils import timezone

    from djtriggers import counts

    print(f"Filling {DATABASE} with {rows:,} triggers...", end=" ", flush=True)
    began = time.monotonic()
    now = timezone.now()
    params = {
        "now": dialect.param(now),
        "start": dialect.param(now - timedelta(days=60)),
        "step": 60 * 24 * HOUR // rows,
        "traceback": TRACEBACK,
    }
    with connection.cursor() as cursor:
        if db == "postgres":
            cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute(triggers_sql(rows), params)
        if paybills:
            print(f"and {paybills:,} of {PAYBILL}...", end=" ", flush=True)
            cursor.execute(triggers_sql(paybills, PAYBILL), params)
            cursor.execute(recipients_sql(), params)
            cursor.execute(paybills_sql(), params)
        cursor.execute(attempts_sql(), params)
    # The counting triggers counted 60 days at once, per minute and hour: the folds
    # of a running system's workers would have merged all but the last ones since.
    counts.recount()
    # Those per-minute rows, deleted by the recount, left the counter tables' files
    # a hundred times the size a running system's keep (its folds merge a few
    # rows a minute, whose space is reused).
    dialect.compact(*(counted.counts for counted in counts.COUNTED))
    # What the database soon does on its own to tables filled at once.
    dialect.analyze(vacuum=True)
    store_stamp(db, fill_stamp(rows, paybills))
    print(f"{time.monotonic() - began:.0f}s")


def cases(value: str, shares: dict[str, int], rest: str) -> str:
    """The SQL of the name whose share holds ``value`` (0 up), ``rest`` beyond them all."""
    whens, upto = [], 0
    for name, share in shares.items():
        upto += share
        whens.append(f"WHEN {value} < {upto} THEN '{name}'")
    return f"CASE {' '.join(whens)} ELSE '{rest}' END"


def trigger_type(i: str) -> str:
    """The SQL of the trigger type of row number ``i``: the shares of TYPES, not in runs."""
    from dialect import div

    *shares, (last, _) = ((name, share) for name, (share, _, _) in TYPES.items())
    return cases(f"({i} * 31 + {div(i, 7)}) %% 100", dict(shares), last)


def triggers_sql(rows: int, kind: str | None = None) -> str:
    """The triggers: of the types of TYPES, or all of ``kind`` (sources "shop.order$<n>")."""
    from dialect import cat, div, plus, series

    sources = " ".join(
        f"WHEN '{name}' THEN " + cat(f"'{model}$'", div("r.i", per) if per > 1 else "r.i")
        for name, (_, model, per) in TYPES.items()
        if model
    )
    if kind is not None:
        sources += f" WHEN '{kind}' THEN " + cat("'shop.order$'", "r.i")
    failed = "r.status = 'failed' OR (r.status = 'due' AND r.i %% 3 > 0)"
    errors = [
        cat(
            "'requests.exceptions.ConnectionError: HTTPSConnectionPool('",
            "'host=''api.payments.example'', port=443): Max retries exceeded with url: '",
            "'/v1/invoices/'",
            div("r.i", 2),
            "' (Caused by NewConnectionError(''<urllib3.'",
            "'connection.HTTPSConnection object>: Failed to establish a new connection: '",
            "'[Errno 111] Connection refused''))'",
        ),
        cat(
            "'smtplib.SMTPRecipientsRefused: {''user'",
            div("r.i", 5),
            "'@example.com'': (550, b''5.1.1 The email account that you tried to reach '",
            "'does not exist.'')}'",
        ),
        cat(
            "'KeyError: ''customer_id'' while exporting order '",
            "r.i",
            "' to the warehouse (payload version 3)'",
        ),
    ]
    fingerprint = "substr(md5(" + cat("r.kind", "r.i %% 3") + "), 1, 16)"
    locked_by = cat("'worker-'", "r.i %% 4", "':'", "1000 + r.i %% 7")
    status = cases("(g.i * 7919) %% 1000", MIX, "processed")
    return f"""
INSERT INTO djtriggers_trigger (
    trigger_type, source, date_received, date_processed, process_after,
    number_of_tries, successful, state, last_error, error_fingerprint, locked_by, locked_until,
    run_alone
)
SELECT
    r.kind,
    CASE r.kind {sources} END,
    r.received,
    CASE r.status
        WHEN 'processed' THEN {plus("r.received", "200000 + (r.i %% 97) * 100000")}
        WHEN 'failed' THEN {plus("r.received", f"(30 + r.i %% 600) * {MINUTE}")}
        WHEN 'cancelled' THEN {plus("r.received", f"(1 + r.i %% 48) * {HOUR}")}
    END,
    CASE r.status
        WHEN 'due' THEN {plus("%(now)s", f"-(r.i %% 360) * {MINUTE}")}
        WHEN 'pending' THEN {plus("%(now)s", f"(1 + r.i %% 43200) * {MINUTE}")}
        WHEN 'running' THEN {plus("%(now)s", "-(r.i %% 60) * 1000000")}
        ELSE r.received
    END,
    CASE r.status
        WHEN 'failed' THEN 5 WHEN 'due' THEN r.i %% 3 WHEN 'pending' THEN r.i %% 2
        WHEN 'running' THEN 0 WHEN 'cancelled' THEN 0 ELSE 1
    END,
    CASE r.status WHEN 'processed' THEN true WHEN 'failed' THEN false END,
    CASE WHEN r.status IN ('due', 'pending') THEN 'scheduled' ELSE r.status END,
    CASE WHEN {failed} THEN
        CASE r.i %% 3 WHEN 0 THEN {errors[0]} WHEN 1 THEN {errors[1]} ELSE {errors[2]} END
        ELSE ''
    END,
    CASE WHEN {failed} THEN {fingerprint} ELSE '' END,
    CASE WHEN r.status = 'running' THEN {locked_by} END,
    CASE WHEN r.status = 'running' THEN {plus("%(now)s", f"5 * {MINUTE}")} END,
    false
FROM (
    SELECT g.i, {status} AS status, {f"'{kind}'" if kind else trigger_type("g.i")} AS kind,
        {plus("%(start)s", "g.i * %(step)s")} AS received
    FROM {series(rows)}
) AS r
"""


def recipients_sql() -> str:
    """The PayBills' recipients: RECIPIENTS users who cannot log in."""
    from dialect import cat, series

    number = f"lpad(CAST(g.i AS {'CHAR' if _mysql() else 'TEXT'}), 4, '0')"
    return f"""
INSERT INTO auth_user (
    password, is_superuser, username, first_name, last_name, email, is_staff, is_active,
    date_joined
)
SELECT '!', false, {cat("'bench'", number)}, '', '', '', false, true, %(now)s
FROM {series(RECIPIENTS)}
"""


def paybills_sql() -> str:
    """Each PayBill trigger's own row: an amount and a recipient, spread evenly."""
    return f"""
INSERT INTO testapp_paybill (trigger_ptr_id, amount, recipient_id)
SELECT t.id, (t.id %% {AMOUNTS}) * 7919 %% {AMOUNTS}, u.first + t.id %% {RECIPIENTS}
FROM djtriggers_trigger t CROSS JOIN (
    SELECT min(id) AS first FROM auth_user WHERE username LIKE 'bench0%%'
) AS u
WHERE t.trigger_type = '{PAYBILL}'
"""


def _mysql() -> bool:
    from dialect import vendor

    return vendor() == "mysql"


def attempts_sql() -> str:
    """Each failed trigger's five tries, ten minutes apart, so its page shows a timeline."""
    from dialect import cat, plus, series, split_part

    started = f"(n.i - 5) * 10 * {MINUTE}"
    return f"""
INSERT INTO djtriggers_triggerattempt (
    trigger_id, number, worker, started_at, finished_at, outcome,
    exception_class, message, traceback
)
SELECT t.id, n.i, {cat("'worker-'", "t.id %% 4")}, {plus("t.date_processed", started)},
    {plus("t.date_processed", f"{started} + 250000")},
    'failure', {split_part("t.last_error", ":", 1)}, {split_part("t.last_error", ": ", 2)},
    {cat("%(traceback)s", "t.last_error")}
FROM djtriggers_trigger t CROSS JOIN {series(5, "n")}
WHERE t.state = 'failed'
"""
