"""Benchmark: triggers run by run_triggers workers, on Celery, and on Django's Tasks.

    .venv/bin/python bench/dispatch.py [--n 10000] [--latency-n 200] [--mode ...] [--quick]

On PostgreSQL (a fresh database, ``$BENCH_DISPATCH_DATABASE`` or
djtriggers_bench_dispatch), for each way of running triggers, with real processes:

- workers: 2 ``run_triggers`` processes run the triggers themselves (the default);
- celery: 1 ``run_triggers`` dispatcher (DJTRIGGERS_DISPATCH = "celery") and a Celery
  worker of 2 processes (``celery -A celery_app worker --concurrency 2``) over
  RabbitMQ on 127.0.0.1:5672 (guest/guest; started if it is down and
  ``rabbitmq-server`` exists), on a queue of the benchmark's own;
- tasks: 1 ``run_triggers`` dispatcher (DJTRIGGERS_DISPATCH = "tasks") and 2
  django-tasks-db ``db_worker`` processes (``--interval 0.1``).

Each with the processes started and idle, it measures

- throughput: ``--n`` no-op triggers committed at once (one INSERT), from that
  commit to the last one's completion: triggers/s; and the CPU time the
  processes used (dispatcher and workers, not the broker or the database);
- start latency: ``--latency-n`` triggers created one at a time, ``--rate`` per
  second, from each one's ``process_after`` (its creation) to the start of its try
  (``TriggerAttempt.started_at``): p50, p95 and max;

then checks that every trigger was processed once (one success attempt each, no
claim left), and prints a table and the ratios to the workers' row. Results go to
bench/results/ too.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
DATABASE = os.environ.get("BENCH_DISPATCH_DATABASE", "djtriggers_bench_dispatch")
MODES = {
    "workers": "2 run_triggers workers",
    "celery": "1 run_triggers dispatcher + 2 Celery worker processes (RabbitMQ)",
    "tasks": "1 run_triggers dispatcher + 2 django-tasks-db db_workers",
}
BROKER = ("127.0.0.1", 5672)
START_TIMEOUT = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--n", type=positive_int, default=10_000, help="backlog (10000)")
    parser.add_argument(
        "--latency-n", type=positive_int, default=100, help="triggers timed one by one (100)"
    )
    # Slower than a PostgreSQL process's notifications (one per 50 ms at most).
    parser.add_argument("--rate", type=float, default=5.0, help="of those, per second (5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: n=200, latency-n=10")
    parser.add_argument("--logs", type=Path, help="keep the processes' output in this folder")
    args = parser.parse_args()
    # SIGTERM ends the run as Ctrl-C does: the processes stopped, the database dropped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if args.quick:
        args.n, args.latency_n, args.rate = 200, 10, 10.0
    if "celery" in args.mode:
        ensure_rabbitmq()

    os.environ.update(
        BENCH_DB="postgres",
        BENCH_DB_NAME=DATABASE,
        DJANGO_SETTINGS_MODULE="dispatch_settings",
        PYTHONPATH=os.pathsep.join([str(BENCH), os.environ.get("PYTHONPATH", "")]),
    )
    os.environ.pop("BENCH_DISPATCH", None)
    create_database("postgres", DATABASE)
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        results: dict[str, Any] = {"load_before": os.getloadavg()[0]}
        for mode in args.mode:
            print(f"{mode}: {MODES[mode]} ...", flush=True)
            results[mode] = measure(mode, args)
        results["load_after"] = os.getloadavg()[0]
        from django.db import connections

        connections.close_all()
    finally:
        drop_database("postgres", DATABASE)
    report(results, args)


def ensure_rabbitmq() -> None:
    """RabbitMQ on 127.0.0.1:5672, started (``rabbitmq-server -detached``) if it is down."""
    if broker_up():
        return
    print("RabbitMQ is down: starting it (rabbitmq-server -detached) ...", flush=True)
    try:
        subprocess.run(["rabbitmq-server", "-detached"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"RabbitMQ is not up on 127.0.0.1:5672 and could not be started: {error}")
    wait(broker_up, 60, "RabbitMQ to start")


def broker_up() -> bool:
    try:
        socket.create_connection(BROKER, timeout=1).close()
    except OSError:
        return False
    return True


def wait(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            sys.exit(f"Timed out after {timeout:.0f} s waiting for {what}.")
        time.sleep(every)
    return result


# --- the processes --------------------------------------------------------------------


class Process:
    """A command in a subprocess, its output in a file."""

    def __init__(self, label: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.label = label
        self.log = log
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                command, env=env, cwd=BENCH, stdin=subprocess.DEVNULL, stdout=out, stderr=out
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(60)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(10)
            return None


@contextmanager
def started(mode: str, queue: str, keep: Path | None) -> Iterator[list[Process]]:
    """The processes of ``mode``, started and idle; stopped afterwards."""
    env = {**os.environ, "BENCH_DISPATCH": "" if mode == "workers" else mode, "BENCH_QUEUE": queue}
    manage = [sys.executable, "-m", "django"]
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        if keep is not None:
            logs = keep / mode
            logs.mkdir(parents=True, exist_ok=True)
        processes: list[Process] = []

        def start(label: str, command: list[str]) -> Process:
            process = Process(label, command, env, logs / f"{label}.log")
            processes.append(process)
            return process

        try:
            dispatchers = 2 if mode == "workers" else 1
            for i in range(dispatchers):
                start(f"run_triggers-{i + 1}", [*manage, "run_triggers", "--name", f"bench-{i}"])
            if mode == "celery":
                celery = [sys.executable, "-m", "celery", "-A", "celery_app", "worker", "-Q", queue]
                celery += ["--without-gossip", "--without-mingle", "-l", "info"]
                pool = os.environ.get("BENCH_CELERY_POOL", "prefork")
                if pool == "prefork":  # one worker, two processes running tasks
                    start("celery-1", [*celery, "--concurrency", "2", "-n", f"bench-{queue}@%h"])
                else:
                    for i in range(2):
                        options = ["--pool", pool, "--concurrency", "1", "-n", f"b{i}-{queue}@%h"]
                        start(f"celery-{i + 1}", [*celery, *options])
            elif mode == "tasks":
                options = ["--queue-name", "*", "--interval", "0.1", "--no-startup-delay"]
                for i in range(2):
                    start(f"db_worker-{i + 1}", [*manage, "db_worker", *options, "--no-reload"])
            wait_ready(processes, dispatchers)
            yield processes
        finally:
            codes = [p.stop() for p in processes]
            if any(codes):
                print(
                    "Exit codes "
                    + ", ".join(f"{p.label} {c}" for p, c in zip(processes, codes, strict=True)),
                    file=sys.stderr,
                )


def wait_ready(processes: list[Process], dispatchers: int) -> None:
    """Every run_triggers listening for notifications, every task worker waiting for work."""
    ready = {"celery": " ready.", "db_worker": "Starting worker"}

    def all_ready() -> bool:
        for process in processes:
            if process.popen.poll() is not None:
                sys.exit(f"{process.label} exited:\n{process.output[-5000:]}")
        (listening,) = execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN %%'"
        )[0]
        workers = [p for p in processes if p.label.split("-")[0] in ready]
        return listening >= dispatchers and all(
            ready[p.label.split("-")[0]] in p.output for p in workers
        )

    wait(all_ready, START_TIMEOUT, "the processes to start")
    time.sleep(0.5)  # their first reads are done: idle


# --- one mode ----------------------------------------------------------------------------


def measure(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    import workers_fill
    from django.utils import timezone

    from djtriggers import wakeup

    empty()
    queue = f"djtriggers_bench_{os.getpid()}"
    try:
        with started(mode, queue, args.logs) as processes:
            pids = [pid for p in processes for pid in family(p.popen.pid)]  # Celery's pool too
            cpu_before = sum(map(cpu_seconds, pids))
            workers_fill.due(args.n, now=timezone.now())  # one transaction: all due at once
            committed = timezone.now()
            execute("SELECT pg_notify(%s, '')", [wakeup.channel()])  # as create() would
            wait_done(args.n, processes, max(120.0, args.n / 20))
            cpu = sum(map(cpu_seconds, pids)) - cpu_before
            (last,) = execute("SELECT MAX(finished_at) FROM djtriggers_triggerattempt")[0]
            drained = (last - committed).total_seconds()
            latencies = sample_latency(args, processes)
    finally:
        if mode == "celery":
            delete_queue(queue)
    return {
        "rate": args.n / drained,
        "drained": drained,
        "cpu": cpu,
        "latency": percentiles(latencies),
        "check": check(args.n + args.latency_n),
    }


def family(pid: int) -> list[int]:
    """``pid`` and its descendants (a prefork Celery worker's pool processes)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *(p for child in children for p in family(int(child)))]


def empty() -> None:
    execute(
        "TRUNCATE djtriggers_trigger, djtriggers_worker, django_tasks_database_dbtaskresult "
        "RESTART IDENTITY CASCADE"
    )


def attempts_done() -> int:
    """Attempts recorded so far: their highest id (ids start at 1 after empty())."""
    (value,) = execute("SELECT MAX(id) FROM djtriggers_triggerattempt")[0]
    return value or 0


def wait_done(count: int, processes: list[Process], timeout: float) -> None:
    def done() -> bool:
        for process in processes:
            if process.popen.poll() is not None:
                sys.exit(f"{process.label} exited:\n{process.output[-5000:]}")
        return attempts_done() >= count

    wait(done, timeout, f"{count:,} attempts", every=0.02)


def sample_latency(args: argparse.Namespace, processes: list[Process]) -> list[float]:
    """Triggers created one at a time; from each one's process_after to its try's start."""
    from ours.models import NoopTrigger

    before = attempts_done()
    pause = 1 / args.rate
    for _ in range(args.latency_n):
        NoopTrigger.objects.create()
        time.sleep(random.uniform(0.5 * pause, 1.5 * pause))
    wait_done(before + args.latency_n, processes, 60)
    rows = execute(
        "SELECT EXTRACT(EPOCH FROM a.started_at - t.process_after) * 1000 "
        "FROM djtriggers_triggerattempt a JOIN djtriggers_trigger t ON t.id = a.trigger_id "
        "WHERE a.id > %s",
        [before],
    )
    return [float(ms) for (ms,) in rows]


def check(count: int) -> str:
    """Every trigger processed once, by one success attempt; nothing left claimed."""
    (processed, attempts, distinct, successes, left) = execute(
        "SELECT (SELECT COUNT(*) FROM djtriggers_trigger WHERE state = 'processed'), "
        "COUNT(*), COUNT(DISTINCT trigger_id), COUNT(*) FILTER (WHERE outcome = 'success'), "
        "(SELECT COUNT(*) FROM djtriggers_trigger WHERE state <> 'processed') "
        "FROM djtriggers_triggerattempt"
    )[0]
    if processed == attempts == distinct == successes == count and not left:
        return f"ok: all {count:,} processed once"
    return (
        f"FAILED: {processed:,} processed, {attempts:,} attempts for {distinct:,} triggers "
        f"({successes:,} successes), {left:,} not processed, of {count:,}"
    )


def delete_queue(queue: str) -> None:
    """The benchmark's queue, removed from the broker."""
    from kombu import Connection

    with Connection("amqp://guest:guest@127.0.0.1:5672//") as conn:
        conn.default_channel.queue_delete(queue)


def execute(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


# --- the report --------------------------------------------------------------------------


def report(results: dict[str, Any], args: argparse.Namespace) -> None:
    load = results.pop("load_before"), results.pop("load_after")
    print(
        f"\n{args.n:,} no-op triggers due at once (throughput), then {args.latency_n:,} "
        f"created one at a time at {args.rate:g}/s (start latency), PostgreSQL\n"
    )
    print(
        f"{'mode':<8} {'triggers/s':>10} {'drained s':>9} {'cpu s':>7} "
        f"{'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}  processes; check"
    )
    for mode, result in results.items():
        latency = result["latency"]
        print(
            f"{mode:<8} {result['rate']:10,.0f} {result['drained']:9.2f} {result['cpu']:7.1f} "
            f"{latency['p50']:7.1f} {latency['p95']:7.1f} {latency['max']:7.1f}  "
            f"{MODES[mode]}; {result['check']}"
        )
    if "workers" in results and len(results) > 1:
        base = results["workers"]
        print("\nRatios to the run_triggers workers (throughput: higher is better; latency: lower)")
        for mode, result in results.items():
            if mode == "workers":
                continue
            latency, reference = result["latency"], base["latency"]
            print(
                f"{mode:<8} throughput {result['rate'] / base['rate']:.2f}x, "
                f"cpu per trigger {result['cpu'] / max(base['cpu'], 1e-9):.2f}x, "
                f"p50 {latency['p50'] / max(reference['p50'], 1e-9):.2f}x, "
                f"p95 {latency['p95'] / max(reference['p95'], 1e-9):.2f}x"
            )
    print(
        f"\nLoad average (1 min) {load[0]:.1f} before and {load[1]:.1f} after, "
        f"on {os.cpu_count()} CPUs: other load slows the task workers' many small "
        "transactions most."
    )
    save_results("dispatch", args, {**results, "load": load})


if __name__ == "__main__":
    main()
