"""The last hour of a busy system, added for ``dashboard.py`` and removed after it.

The rows of ``admin_changelist.py`` end when they were filled, so on their own
they show no throughput, no lag and no worker. This adds, relative to now:

- ``attempts`` triggers (default 30,000) received over the last 60 minutes,
  each with one attempt: 97% succeeded (processed, 50 ms to 2 minutes after
  they were due, most under a second), 3% failed and wait for a retry in two
  hours (pending);
- four worker heartbeats, one of them stale.

Their sources start with ``bench.live$`` and the workers' names with
``bench-worker-``: ``remove()`` deletes exactly these, so the admin benchmark
finds its rows as it left them.
"""

from __future__ import annotations

import time
from datetime import timedelta

SOURCE_PREFIX = "bench.live$"
WORKER_PREFIX = "bench-worker-"

TRIGGERS = "djtriggers_trigger"
ATTEMPTS = "djtriggers_triggerattempt"
# The failed ones' error, and its class and message as their attempts record them.
FAILURE = {
    "error": "requests.exceptions.ReadTimeout: HTTPSConnectionPool(host='api.crm.example', "
    "port=443): Read timed out. (read timeout=10)",
    "exception_class": "requests.exceptions.ReadTimeout",
    "message": "Read timed out. (read timeout=10)",
}


def live(attempts: int) -> str:
    """The last hour as a table ``live``: per row number ``i``, when it finished, whether
    it failed, how long after it was due (microseconds) and its trigger type."""
    from admin_fill import trigger_type
    from dialect import plus, series

    return f"""(
        SELECT
            g.i,
            {plus("%(now)s", f"-3600000000.0 * g.i / {int(attempts)}")} AS finished,
            (g.i * 7919) %% 100 < 3 AS failed,
            -- From due to done: 50 ms to 2 minutes, most under a second.
            50000 + power(((g.i * 104729) %% 1000) / 1000.0, 6) * 120000000 AS lag,
            {trigger_type("g.i")} AS trigger_type
        FROM {series(attempts)}
    ) AS live"""


def live_sql(attempts: int) -> tuple[str, str]:
    """The statements that add the last hour: its triggers, then their attempts."""
    from dialect import cat, plus

    received = plus("live.finished", "-live.lag")
    triggers = f"""
        INSERT INTO {TRIGGERS} (
            trigger_type, source, date_received, date_processed, process_after,
            number_of_tries, successful, state, last_error, error_fingerprint, run_alone
        )
        SELECT
            live.trigger_type,
            {cat("%(prefix)s", "live.i")},
            {received},
            CASE WHEN live.failed THEN NULL ELSE live.finished END,
            CASE WHEN live.failed THEN {plus("live.finished", "7200000000")} ELSE {received} END,
            1,
            CASE WHEN live.failed THEN NULL ELSE true END,
            CASE WHEN live.failed THEN 'scheduled' ELSE 'processed' END,
            CASE WHEN live.failed THEN %(error)s ELSE '' END,
            CASE WHEN live.failed
                THEN substr(md5({cat("'timeout'", "live.trigger_type")}), 1, 16) ELSE '' END,
            false
        FROM {live(attempts)}
    """
    attempts_sql = f"""
        INSERT INTO {ATTEMPTS} (
            trigger_id, number, worker, started_at, finished_at, outcome,
            exception_class, message, traceback
        )
        SELECT
            t.id, 1, {cat("'worker-'", "live.i %% 4")}, {plus("live.finished", "-250000")},
            live.finished,
            CASE WHEN live.failed THEN 'failure' ELSE 'success' END,
            CASE WHEN live.failed THEN %(exception_class)s ELSE '' END,
            CASE WHEN live.failed THEN %(message)s ELSE '' END,
            ''
        FROM {TRIGGERS} t JOIN {live(attempts)} ON t.source = {cat("%(prefix)s", "live.i")}
        WHERE t.source LIKE %(like)s
    """
    return triggers, attempts_sql


def add(attempts: int) -> None:
    """Remove a previous run's last hour if any, and add one ending now."""
    import dialect
    from django.db import connection, transaction
    from django.utils import timezone

    from djtriggers.models import Worker

    remove()
    print(f"Adding the last hour: {attempts:,} attempts and 4 workers...", end=" ", flush=True)
    began = time.monotonic()
    now = timezone.now()
    params = {
        "now": dialect.param(now),
        "prefix": SOURCE_PREFIX,
        "like": SOURCE_PREFIX + "%",
        **FAILURE,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in live_sql(attempts):
            cursor.execute(sql, params)
        Worker.objects.bulk_create(
            Worker(
                name=f"{WORKER_PREFIX}{n}:{4000 + n}",
                host=f"app-{n}.example",
                pid=4000 + n,
                started_at=now - timedelta(hours=6),
                # The last one stopped sending heartbeats ten minutes ago.
                last_seen=now - timedelta(seconds=600 if n == 3 else n),
                processed=attempts // 4,
                failed=attempts // 130,
                current_trigger_id=None,
            )
            for n in range(4)
        )
    # The attempts grew by about 30%: autovacuum would analyze them within a minute
    # (it is off on the bench server). The triggers grew by 3%, under its 10%
    # threshold: they are left as they are, as they would be in production.
    dialect.analyze(ATTEMPTS)
    print(f"{time.monotonic() - began:.0f}s")


def remove() -> None:
    import dialect
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM djtriggers_triggerattempt WHERE trigger_id IN "
            "(SELECT id FROM djtriggers_trigger WHERE source LIKE %s)",
            [SOURCE_PREFIX + "%"],
        )
        cursor.execute("DELETE FROM djtriggers_trigger WHERE source LIKE %s", [SOURCE_PREFIX + "%"])
        deleted = cursor.rowcount
        cursor.execute("DELETE FROM djtriggers_worker WHERE name LIKE %s", [WORKER_PREFIX + "%"])
    if deleted:
        # Back to the state the admin benchmark's fill leaves: vacuumed and analyzed.
        dialect.analyze(TRIGGERS, ATTEMPTS, vacuum=True)
