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

LIVE_SQL = """
WITH live AS (
    SELECT
        g.i,
        %(now)s - interval '60 minutes' * (g.i::float8 / %(attempts)s) AS finished,
        (g.i::bigint * 7919) %% 100 < 3 AS failed,
        -- From due to done: 50 ms to 2 minutes, most under a second.
        make_interval(secs => 0.05 + power(((g.i::bigint * 104729) %% 1000) / 1000.0, 6) * 120)
            AS lag,
        CASE
            WHEN (g.i * 31 + g.i / 7) %% 100 < 40 THEN 'billing.invoice'
            WHEN (g.i * 31 + g.i / 7) %% 100 < 55 THEN 'billing.reminder'
            WHEN (g.i * 31 + g.i / 7) %% 100 < 75 THEN 'mail.welcome'
            WHEN (g.i * 31 + g.i / 7) %% 100 < 90 THEN 'crm.sync_contact'
            WHEN (g.i * 31 + g.i / 7) %% 100 < 98 THEN 'shop.export_order'
            ELSE 'reports.nightly'
        END AS trigger_type
    FROM generate_series(1, %(attempts)s) AS g(i)
),
inserted AS (
    INSERT INTO djtriggers_trigger (
        trigger_type, source, date_received, date_processed, process_after,
        number_of_tries, successful, state, last_error, error_fingerprint, run_alone
    )
    SELECT
        trigger_type,
        %(prefix)s || i,
        finished - lag,
        CASE WHEN failed THEN NULL ELSE finished END,
        CASE WHEN failed THEN finished + interval '2 hours' ELSE finished - lag END,
        1,
        CASE WHEN failed THEN NULL ELSE true END,
        CASE WHEN failed THEN 'scheduled' ELSE 'processed' END,
        CASE WHEN failed THEN 'requests.exceptions.ReadTimeout: HTTPSConnectionPool('
            || 'host=''api.crm.example'', port=443): Read timed out. (read timeout=10)'
            ELSE '' END,
        CASE WHEN failed THEN left(md5('timeout' || trigger_type), 16) ELSE '' END,
        false
    FROM live
    RETURNING id, source
)
INSERT INTO djtriggers_triggerattempt (
    trigger_id, number, worker, started_at, finished_at, outcome,
    exception_class, message, traceback
)
SELECT
    inserted.id, 1, 'worker-' || (live.i %% 4), live.finished - interval '250 milliseconds',
    live.finished,
    CASE WHEN live.failed THEN 'failure' ELSE 'success' END,
    CASE WHEN live.failed THEN 'requests.exceptions.ReadTimeout' ELSE '' END,
    CASE WHEN live.failed THEN 'Read timed out. (read timeout=10)' ELSE '' END,
    ''
FROM inserted JOIN live ON inserted.source = %(prefix)s || live.i
"""


def add(attempts: int) -> None:
    """Remove a previous run's last hour if any, and add one ending now."""
    from django.db import connection, transaction
    from django.utils import timezone

    from djtriggers.models import Worker

    remove()
    print(f"Adding the last hour: {attempts:,} attempts and 4 workers...", end=" ", flush=True)
    began = time.monotonic()
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LIVE_SQL, {"now": now, "attempts": attempts, "prefix": SOURCE_PREFIX})
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
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE djtriggers_triggerattempt")
    print(f"{time.monotonic() - began:.0f}s")


def remove() -> None:
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
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE djtriggers_trigger")
            cursor.execute("VACUUM ANALYZE djtriggers_triggerattempt")
