"""Benchmark: how soon an idle ``run_triggers`` worker starts a trigger, and what idling costs.

    .venv/bin/python bench/latency.py [--db sqlite postgres mariadb] [--n 40] [--quick]

For each database, in a fresh database, it starts one real ``run_triggers`` worker
with the default settings and measures, one trigger at a time (with a random pause
between them, so that the worker is asleep at a random point of its cycle):

- created due: from the commit of ``NoopTrigger.objects.create()`` to the start of
  its try (the attempt's ``started_at``);
- becomes due: created for a second later; from that time to the start;
- reprocessed: a failed trigger reprocessed the way the admin and the dashboard
  do it (``actions.perform``); from the commit to the start.

Then the CPU an idle worker uses (and, on PostgreSQL, its two server connections),
and a burst: ``--burst`` triggers created one transaction each, as fast as one
process can, with the notifications they caused (PostgreSQL) and how long the
worker took to finish them. Each database runs in a subprocess of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import (
    cpu_seconds,
    create_database,
    drop_database,
    percentiles,
    positive_int,
    save_results,
)

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATABASE = os.environ.get("BENCH_LATENCY_DATABASE", "djtriggers_bench_latency")
CASES = {
    "created": "created due",
    "becomes": "becomes due (1 s ahead)",
    "reprocessed": "reprocessed (admin, dashboard)",
}
# The goals: (p50, p95) in milliseconds.
GOALS = {"postgres": (50, 250), "mariadb": (250, 1000), "sqlite": (250, 1000)}
IDLE_CPU_GOAL = 2.0  # % of one core


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db",
        nargs="+",
        choices=list(GOALS),
        default=list(GOALS),
        help="databases (default: all three)",
    )
    parser.add_argument("--n", type=positive_int, default=40, help="triggers per case (40)")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds of idle CPU (20)")
    parser.add_argument("--burst", type=positive_int, default=10_000, help="burst size (10000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: n=3, short idle")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.n, args.idle, args.burst = 3, 1.0, 100
    if args.child:
        print(json.dumps(measure(args)))
        return

    results = {}
    for db in args.db:
        print(f"{db}: measuring ...", flush=True)
        results[db] = run_child(db, args)
    report(results, args)


# --- the driver -------------------------------------------------------------------------


def run_child(db: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        name = fresh_database(db, tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
        env.update(BENCH_DB=db, BENCH_DB_NAME=name, PYTHONPATH=str(BENCH))
        command = [sys.executable, str(Path(__file__)), "--child", "--n", str(args.n)]
        command += ["--idle", str(args.idle), "--burst", str(args.burst)]
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp)
        finally:
            drop_database(db, DATABASE)
    if result.returncode:
        sys.exit(f"{db}: the measurement failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def fresh_database(db: str, tmp: str) -> str:
    if db == "sqlite":
        return str(Path(tmp) / "latency.sqlite3")
    create_database(db, DATABASE)
    return DATABASE


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nWake-up latency of one idle run_triggers worker, default settings, "
        f"{args.n} triggers per case (ms)\n"
    )
    print(f"{'database':<10} {'case':<32} {'p50':>7} {'p95':>7} {'max':>7}  goal (p50/p95)")
    for db, result in results.items():
        goal = GOALS[db]
        for case, label in CASES.items():
            p50, p95, top = (result["latency"][case][k] for k in ("p50", "p95", "max"))
            met = "met" if p50 <= goal[0] and p95 <= goal[1] else "MISSED"
            print(
                f"{db:<10} {label:<32} {p50:7.1f} {p95:7.1f} {top:7.1f}  {goal[0]}/{goal[1]}: {met}"
            )
    print(f"\nIdle for {args.idle:g} s (% of one core; goal for the worker: ≤ {IDLE_CPU_GOAL}%)\n")
    for db, result in results.items():
        idle = result["idle"]
        server = f", its server connections {idle['server']:.2f}%" if idle["server"] else ""
        print(f"{db:<10} worker {idle['worker']:.2f}%{server}")
    print(f"\nA burst of {args.burst} triggers, one transaction each\n")
    for db, result in results.items():
        burst = result["burst"]
        notes = (
            f", {burst['notifications']} notifications"
            if burst["notifications"] is not None
            else ""
        )
        print(
            f"{db:<10} created at {burst['rate']:,.0f}/s{notes}; "
            f"all processed {burst['drained']:.2f} s after the last"
        )
    save_results("latency", args, results)


# --- one database, in this process -------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["DJANGO_SETTINGS_MODULE"] = "ours.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    worker = subprocess.Popen(
        [sys.executable, "-m", "django", "run_triggers", "--name", "bench"],
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_worker(worker)
        time.sleep(1)  # asleep by now
        latency = {case: percentiles(sample(case, args.n)) for case in CASES}
        idle = idle_cpu(worker.pid, args.idle)
        burst = run_burst(args.burst)
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
    return {"latency": latency, "idle": idle, "burst": burst}


def wait_for_worker(worker: subprocess.Popen[str]) -> None:
    from djtriggers.models import Worker

    deadline = time.monotonic() + 30
    while not Worker.objects.exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"The worker did not start: {worker.stderr.read() if worker.stderr else ''}")
        time.sleep(0.05)


def sample(case: str, n: int) -> list[float]:
    """``n`` latencies in milliseconds, one trigger at a time."""
    from django.utils import timezone
    from ours.models import NoopTrigger

    from djtriggers import actions
    from djtriggers.models import Trigger

    latencies = []
    for _ in range(n):
        time.sleep(random.uniform(0.1, 0.6))
        if case == "created":
            pk = NoopTrigger.objects.create().pk
            since = timezone.now()
        elif case == "becomes":
            since = timezone.now() + timedelta(seconds=1)
            pk = NoopTrigger.objects.create(process_after=since).pk
        else:
            pk = NoopTrigger.objects.create(process_after=timezone.now() + timedelta(days=1)).pk
            # Failed, the 2.x way: the database settles its state.
            Trigger.objects.filter(pk=pk).update(date_processed=timezone.now(), successful=False)
            time.sleep(random.uniform(0.1, 0.6))
            actions.perform("reprocess", Trigger.objects.filter(pk=pk))
            since = timezone.now()
        started = wait_started(pk)
        latencies.append((started - since).total_seconds() * 1000)
    return latencies


def wait_started(pk: int) -> Any:
    from djtriggers.models import TriggerAttempt

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = (
            TriggerAttempt.objects.filter(trigger_id=pk)
            .values_list("started_at", flat=True)
            .first()
        )
        if started is not None:
            return started
        time.sleep(0.002)
    sys.exit(f"Trigger {pk} did not start within a minute.")


def server_pids() -> list[int]:
    """The worker's PostgreSQL backends (its Django connection and its listener)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def idle_cpu(pid: int, seconds: float) -> dict[str, float]:
    time.sleep(1)
    backends = server_pids()
    before = cpu_seconds(pid), sum(cpu_seconds(p) for p in backends)
    time.sleep(seconds)
    after = cpu_seconds(pid), sum(cpu_seconds(p) for p in backends)
    return {
        "worker": 100 * (after[0] - before[0]) / seconds,
        "server": 100 * (after[1] - before[1]) / seconds,
    }


def run_burst(size: int) -> dict[str, Any]:
    from django.db import connection
    from ours.models import NoopTrigger

    from djtriggers import wakeup
    from djtriggers.models import Trigger

    inbox = None
    if connection.vendor == "postgresql":
        import psycopg

        inbox = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        inbox.execute(f'LISTEN "{wakeup.channel()}"')
    started = time.monotonic()
    for _ in range(size):
        NoopTrigger.objects.create()
    created = time.monotonic()
    deadline = created + 600
    waiting = Trigger.objects.filter(state__in=["scheduled", "running"])
    while waiting.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    drained = time.monotonic() - created
    notifications = None
    if inbox is not None:
        notifications = len(list(inbox.notifies(timeout=0.5)))
        inbox.close()
    return {
        "rate": size / (created - started),
        "notifications": notifications,
        "drained": drained,
    }


if __name__ == "__main__":
    main()
