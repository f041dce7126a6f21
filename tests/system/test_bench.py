"""A smoke run of each benchmark in bench/: a benchmark that no longer runs is a broken feature.

Each script runs as a real subprocess at the smallest sizes its options allow and
must exit 0 and print the numbers it reports. The full runs (and the original
2.1.5, which needs bench/.venv-original) are ``make bench`` and bench/README.md.

``process_triggers.py`` runs against the database of the suite's run (SQLite or
PostgreSQL), ``latency.py`` and ``dashboard.py`` against any of the three; the admin,
workers and dispatch benchmarks are PostgreSQL only (dispatch also needs RabbitMQ).
Their databases get names of their own (``BENCH_PG_DATABASE``,
``BENCH_ADMIN_DATABASE``, ``BENCH_WORKERS_DATABASE``, ``BENCH_DISPATCH_DATABASE``;
the dashboard's SQLite file is bench/results/<that name>.sqlite3), so that a smoke
run neither drops a full run's rows nor touches the test database, and are dropped
afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
DB = os.environ.get("DJTRIGGERS_TEST_DB", "sqlite")
ROWS = 2000
ATTEMPTS = 100
NUMBER = r"[\d,]+(?:\.\d+)?"

pytestmark = pytest.mark.slow
postgres_only = pytest.mark.skipif(
    DB != "postgres", reason="a PostgreSQL benchmark: runs on the PostgreSQL run only"
)


def run_bench(script: str, *args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> str:
    """Run bench/<script>.py to the end; its output, the results files it saved removed."""
    environ = {**os.environ, **env}
    environ.pop("DJANGO_SETTINGS_MODULE", None)  # each script picks its own settings
    result = subprocess.run(
        [sys.executable, str(BENCH / f"{script}.py"), *args],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for saved in re.findall(r"^Saved to (\S+)$", result.stdout, re.MULTILINE):
        for path in ROOT.glob(saved):
            path.unlink()
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def assert_rows(output: str, names: list[str], numbers: int) -> None:
    """Each name starts a line of the report followed by ``numbers`` numbers."""
    for name in names:
        row = rf"^{re.escape(name)}\s+" + r"\s+".join([rf"{NUMBER}(?:ms)?"] * numbers)
        assert re.search(row, output, re.MULTILINE), f"no row {name!r} in:\n{output}"


def drop_database(name: str, db: str = "postgres") -> None:
    """Drop a benchmark's database ``name`` on ``db`` (SQLite: its file in bench/results/)."""
    if db == "postgres":
        import psycopg

        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres") as conn:
            conn.autocommit = True
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    elif db == "mariadb":
        import MySQLdb

        conn = MySQLdb.connect(host="127.0.0.1", user="root")
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()
    else:
        for path in (BENCH / "results").glob(f"{name}.sqlite3*"):
            path.unlink()


@pytest.fixture(scope="module")
def admin_database() -> Iterator[str]:
    """The admin and dashboard benchmarks' database for this run, filled by the first."""
    name = f"djtriggers_smoke_admin_{os.getpid()}"
    yield name
    drop_database(name, DB)


# --- process_triggers.py (and run.py, which it starts per pass) ------------------


@pytest.mark.skipif(DB == "mariadb", reason="process_triggers.py has no MariaDB database")
def test_process_triggers__times_ours_and_profiles_a_pass(tmp_path: Path) -> None:
    dbs = ["postgres"] if DB == "postgres" else ["sqlite", "sqlite-wal"]
    name = f"djtriggers_smoke_{os.getpid()}"
    try:
        output = run_bench(
            "process_triggers",
            *("--n", "200", "--no-original"),
            *(arg for db in dbs for arg in ("--db", db)),
            env={"BENCH_PG_DATABASE": name},
            cwd=tmp_path,
        )
    finally:
        if DB == "postgres":
            drop_database(name)

    for db in dbs:
        row = rf"^{db}\s+ours\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+(.*)$"
        match = re.search(row, output, re.MULTILINE)
        assert match, f"no row for {db} in:\n{output}"
        assert match[1] == "ok: all 200 processed, 200 attempts recorded"
    # The profile of one pass (on SQLite, whatever the database of the timed rows).
    assert re.search(rf"200 triggers in {NUMBER}s = {NUMBER} µs per trigger", output)
    assert "djtriggers functions by cumulative time" in output


# --- latency.py ----------------------------------------------------------------------


def test_latency__a_real_worker_woken_for_each_case(tmp_path: Path) -> None:
    name = f"djtriggers_smoke_latency_{os.getpid()}"
    output = run_bench(
        "latency", "--quick", "--db", DB, env={"BENCH_LATENCY_DATABASE": name}, cwd=tmp_path
    )
    for case in ["created due", "becomes due (1 s ahead)", "reprocessed (admin, dashboard)"]:
        row = rf"^{DB}\s+{re.escape(case)}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+\d+/\d+: "
        assert re.search(row, output, re.MULTILINE), f"no row {case!r} in:\n{output}"
    assert re.search(rf"^{DB}\s+worker {NUMBER}%", output, re.MULTILINE), output
    assert re.search(rf"^{DB}\s+created at {NUMBER}/s", output, re.MULTILINE), output


# --- admin_changelist.py -----------------------------------------------------------


@postgres_only
def test_admin_changelist__times_ours_and_the_plain_admin(
    tmp_path: Path, admin_database: str
) -> None:
    output = run_bench(
        "admin_changelist",
        *("--rows", str(ROWS), "--requests", "1", "--warmups", "0", "--paybills", str(ROWS)),
        env={"BENCH_ADMIN_DATABASE": admin_database},
        cwd=tmp_path,
    )

    pages = ["default", "status=failed", "status=due", "search", "change page"]
    # ours: median, p95, queries, sql; plain: the same.
    assert_rows(output, pages, 8)
    # A concrete type's list, filtered and searched by its own data: ours only.
    paybill = ["paybill list", "paybill amount:", "paybill recipient:"]
    assert_rows(output, [*paybill, "paybill q=4217", "paybill q=bench0042"], 4)
    assert " answered " not in output
    assert f"{ROWS:,} triggers and {ROWS:,} of testapp.paybill in {admin_database}" in output
    assert "=== ours status=failed, count query:" in output
    for page in paybill:
        assert f"=== ours {page}, list query:" in output
        assert f"=== ours {page}, count query:" in output


# --- dashboard.py ------------------------------------------------------------------


def test_dashboard__times_each_request_and_part(tmp_path: Path, admin_database: str) -> None:
    output = run_bench(
        "dashboard",
        *("--db", DB, "--rows", str(ROWS), "--requests", "1", "--warmups", "0"),
        *("--attempts", str(ATTEMPTS), "--profile"),
        env={"BENCH_ADMIN_DATABASE": admin_database},
        cwd=tmp_path,
    )

    requests = ["page", "live fragment", "list fragment", "list ?status=failed", "summary"]
    assert_rows(output, requests, 4)
    assert " answered " not in output
    parts = ["stats.status_counts", "stats.due_by_type", "stats.type_matrix"]
    assert_rows(output, [*parts, "views.list_context", "views.list_context failed"], 4)
    assert f"{ROWS:,} triggers in {admin_database} plus the last hour" in output
    assert re.search(r"^The [1-9] slowest queries:\n\n=== .+\n.+\n\S", output, re.MULTILINE)
    assert "=== cProfile of one request, summary" in output
    assert "Removing the last hour..." in output


# --- dashboard_live.py (a module of dashboard.py, no script of its own) ------------

LIVE = """
import json, sys

sys.path[:0] = [{root!r}, {bench!r}]  # the dashboard app before bench/dashboard.py
from admin_fill import setup

setup({db!r}, {rows}, refill=False, settings="dashboard_settings")
import dashboard_live
from djtriggers.models import Trigger, TriggerAttempt, Worker


def counts():
    return [m.objects.count() for m in (Trigger, TriggerAttempt, Worker)]


before = counts()
dashboard_live.add({attempts})
added = counts()
dashboard_live.remove()
print(json.dumps({{"before": before, "added": added, "after": counts()}}))
"""


def test_dashboard_live__adds_the_last_hour_and_removes_exactly_it(
    tmp_path: Path, admin_database: str
) -> None:
    code = LIVE.format(root=str(ROOT), bench=str(BENCH), db=DB, rows=ROWS, attempts=ATTEMPTS)
    environ = {**os.environ, "BENCH_ADMIN_DATABASE": admin_database}
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    counts = json.loads(result.stdout.strip().splitlines()[-1])
    triggers, attempts, workers = counts["before"]
    assert counts["added"] == [triggers + ATTEMPTS, attempts + ATTEMPTS, workers + 4]
    assert counts["after"] == counts["before"]


# --- workers.py ----------------------------------------------------------------------


@postgres_only
def test_workers__memory_table_and_scale_at_tiny_sizes(tmp_path: Path) -> None:
    base = f"djtriggers_smoke_workers_{os.getpid()}"
    try:
        output = run_bench(
            "workers",
            *("--quick", "--db", "postgres"),
            env={"BENCH_WORKERS_DATABASE": base},
            cwd=tmp_path,
        )
    finally:
        for part in ("memory", "empty", "full", "scale"):
            drop_database(f"{base}_{part}")

    # memory: RSS after the checkpoint and after all, and their ratio.
    assert re.search(rf"^\s+2,000\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}$", output, re.M)
    assert re.search(rf"RSS after 2,000 / after [\d,]+: {NUMBER} \(goal <= 1.2\): ", output)
    assert "Check: all processed; the worker exited with 0 on SIGTERM." in output
    # table: a pass on each side, the ratio and the plans of the claim.
    assert re.search(
        rf"^postgres\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+{NUMBER}\s+5,500 rows", output, re.M
    )
    assert "postgres: plan of the claim's due query on the full table:" in output
    # scale: 1, 2 and 4 workers, every trigger processed once.
    for k in (1, 2, 4):
        assert re.search(rf"^\s+{k}\s+{NUMBER}\s+{NUMBER}\s+[\d/]+\s+", output, re.M), output
    assert "Check: every trigger processed once." in output
    assert re.search(rf"4 workers / 1 worker: {NUMBER} \(goal > 1\): ", output)


# --- dispatch.py -----------------------------------------------------------------------


@postgres_only
def test_dispatch__workers_celery_and_tasks_side_by_side(tmp_path: Path) -> None:
    name = f"djtriggers_smoke_dispatch_{os.getpid()}"
    output = run_bench(
        "dispatch",
        "--quick",
        env={"BENCH_DISPATCH_DATABASE": name},
        cwd=tmp_path,
        timeout=180,  # three sets of processes started, a Celery worker's start is slow
    )

    # triggers/s, drained s, cpu s, p50, p95, max; then the check.
    assert_rows(output, ["workers", "celery", "tasks"], 6)
    assert output.count("ok: all 210 processed once") == 3, output
    for mode in ("celery", "tasks"):
        assert re.search(
            rf"^{mode}\s+throughput {NUMBER}x, cpu per trigger {NUMBER}x", output, re.M
        )
