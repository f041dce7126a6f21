"""Benchmark: workers that stay flat, on a big table and side by side.

    .venv/bin/python bench/workers.py [--part memory table scale] [--quick]

Three parts, each in fresh databases and child processes of its own:

- memory: one real ``run_triggers`` worker processes ``--triggers`` (1,000,000)
  due no-op triggers on PostgreSQL; its resident memory (VmRSS) is read after
  ``--checkpoint`` (10,000) and after all of them. Goal: at most 1.2x.
- table: one ``process_triggers`` pass (a burst ``TriggerWorker``) over
  ``--due`` (5,000) due triggers on an empty table, and on a table holding
  ``--finished`` (1,000,000) finished and ``--future`` (100,000) scheduled
  triggers, on PostgreSQL and MariaDB; ``--repeat`` passes each, interleaved.
  Goal: the full table at >= 90% of the empty table's speed.
- scale: a backlog of ``--backlog`` (20,000) no-op triggers drained by 1, 2 and
  4 real ``run_triggers`` processes on PostgreSQL, with the CPU the workers and
  the server used. Goal: 4 workers faster than one.

Results go to bench/results/ too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import TICKS, cpu_seconds, create_database, drop_database, positive_int, save_results

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# Another name (BENCH_WORKERS_DATABASE) lets a smoke run beside a full one.
DATABASE = os.environ.get("BENCH_WORKERS_DATABASE", "djtriggers_bench_workers")
PARTS = ("memory", "table", "scale")
TABLE_DBS = ("postgres", "mariadb")
MEMORY_GOAL = 1.2  # RSS after all / RSS after the checkpoint, at most
TABLE_GOAL = 0.9  # full table / empty table, at least


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--quick", action="store_true", help="a smoke run at tiny sizes")
    group = parser.add_argument_group("memory")
    group.add_argument("--triggers", type=positive_int, default=1_000_000)
    group.add_argument("--checkpoint", type=positive_int, default=10_000)
    group = parser.add_argument_group("table")
    group.add_argument("--db", nargs="+", choices=TABLE_DBS, default=list(TABLE_DBS))
    group.add_argument("--due", type=positive_int, default=5000)
    group.add_argument("--finished", type=positive_int, default=1_000_000)
    group.add_argument("--future", type=positive_int, default=100_000)
    group = parser.add_argument_group("table and scale")
    group.add_argument("--repeat", type=positive_int, default=5, help="runs of each (5)")
    group = parser.add_argument_group("scale")
    group.add_argument("--backlog", type=positive_int, default=20_000)
    group.add_argument("--workers", type=positive_int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--explain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.triggers, args.checkpoint = 2000, 200
        args.due, args.finished, args.future = 200, 5000, 500
        args.backlog, args.repeat = 500, 1
    if args.checkpoint >= args.triggers:
        parser.error("--checkpoint must be below --triggers.")
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return

    started = time.monotonic()
    results: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    for part in PARTS:
        if part in args.part:
            results[part] = DRIVERS[part](args)
    results["load_after"] = os.getloadavg()[0]
    report(results, args, time.monotonic() - started)


# --- databases and children ----------------------------------------------------------


@contextmanager
def fresh_database(db: str, name: str) -> Iterator[str]:
    """An empty database ``name`` on ``db`` (postgres or mariadb), dropped afterwards."""
    create_database(db, name)
    try:
        yield name
    finally:
        drop_database(db, name)


def child(part: str, db: str, name: str, args: argparse.Namespace, *extra: str) -> Any:
    """Run ``part`` in a child process on database ``name``; its JSON answer."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(BENCH_DB=db, BENCH_DB_NAME=name, PYTHONPATH=str(BENCH))
    command = [sys.executable, str(Path(__file__)), "--child", part, *extra]
    for option in ("triggers", "checkpoint", "due", "finished", "future", "backlog", "repeat"):
        command += [f"--{option}", str(getattr(args, option))]
    command += ["--workers", *map(str, args.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp)
    if result.returncode:
        sys.exit(f"{part} on {db} failed:\n{result.stdout[-3000:]}{result.stderr[-5000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def setup_django() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "ours.settings"
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command
    from django.db import connection

    from djtriggers import counts

    call_command("migrate", verbosity=0)
    if os.environ.get("BENCH_WITHOUT_COUNTERS"):
        # What the counters the database keeps cost the workers: run once with
        # this set, once without.
        counts.uninstall(connection)


def execute(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall()) if cursor.description else []


def start_worker(name: str, log: Path) -> subprocess.Popen[bytes]:
    """A real ``run_triggers`` process with the default settings."""
    command = [sys.executable, "-m", "django", "run_triggers", "--name", name]
    with open(log, "ab") as stderr:
        return subprocess.Popen(command, env={**os.environ}, stdout=stderr, stderr=stderr)


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> list[int | None]:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    codes = []
    for worker in workers:
        try:
            codes.append(worker.wait(60))
        except subprocess.TimeoutExpired:
            worker.kill()
            codes.append(None)
    return codes


def attempts_done() -> int:
    """Attempts recorded so far: their highest id (ids start at 1 in these databases)."""
    (value,) = execute("SELECT MAX(id) FROM djtriggers_triggerattempt")[0]
    return value or 0


def memory_kb(pid: int) -> dict[str, int]:
    """The process's resident memory now (VmRSS) and at its peak (VmHWM), in kB."""
    status = Path(f"/proc/{pid}/status").read_text()
    values = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {key: int(values[key].split()[0]) for key in ("VmRSS", "VmHWM")}


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / TICKS


# --- memory: one worker, a million triggers --------------------------------------------


def drive_memory(args: argparse.Namespace) -> dict[str, Any]:
    print(f"memory: {args.triggers:,} triggers through one run_triggers worker ...", flush=True)
    with fresh_database("postgres", f"{DATABASE}_memory") as name:
        return child("memory", "postgres", name, args)


def measure_memory(args: argparse.Namespace) -> dict[str, Any]:
    setup_django()
    migrate()
    import workers_fill
    from django.utils import timezone

    began = time.monotonic()
    workers_fill.due(args.triggers, now=timezone.now())
    workers_fill.analyze()
    fill_seconds = time.monotonic() - began
    later = (int(args.triggers * f) for f in (0.1, 0.25, 0.5, 0.75, 1.0))
    marks = sorted({args.checkpoint, *(mark for mark in later if mark > args.checkpoint)})
    samples: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "worker.log"
        worker = start_worker("bench-memory", log)
        started = time.monotonic()
        try:
            for mark in marks:
                if samples and samples[-1]["processed"] >= mark:
                    continue  # passed already (a group takes hundreds)
                while (done := attempts_done()) < mark:
                    if worker.poll() is not None:
                        sys.exit(f"The worker exited:\n{log.read_text()[-3000:]}")
                    time.sleep(0.02)
                samples.append(
                    {
                        "processed": done,
                        "seconds": time.monotonic() - started,
                        "cpu": cpu_seconds(worker.pid),
                        **memory_kb(worker.pid),
                    }
                )
        finally:
            code = stop_workers([worker])[0]
        processed = execute("SELECT COUNT(*) FROM djtriggers_trigger WHERE state = 'processed'")
        return {
            "triggers": args.triggers,
            "fill_seconds": fill_seconds,
            "samples": samples,
            "processed": processed[0][0],
            "exit_code": code,
            "log": log.read_text()[-2000:],
        }


# --- table: a pass on an empty and on a full table -------------------------------------


def drive_table(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for db in args.db:
        print(
            f"table: {db}: filling {args.finished:,} finished and {args.future:,} future "
            "triggers ...",
            flush=True,
        )
        with (
            fresh_database(db, f"{DATABASE}_empty") as empty,
            fresh_database(db, f"{DATABASE}_full") as full,
        ):
            names = {"empty": empty, "full": full}
            setups = {
                side: child("table-setup", db, name, args, "--side", side)
                for side, name in names.items()
            }
            passes: dict[str, list[dict[str, Any]]] = {"empty": [], "full": []}
            for repeat in range(args.repeat):
                # Alternate which side goes first, so that a drift in the machine's load
                # weighs on both.
                order = ["empty", "full"] if repeat % 2 == 0 else ["full", "empty"]
                for side in order:
                    extra = ["--side", side] + (["--explain"] if repeat == 0 else [])
                    passes[side].append(child("table-pass", db, names[side], args, *extra))
                print(
                    f"table: {db}: pass {repeat + 1}/{args.repeat}: "
                    f"empty {passes['empty'][-1]['rate']:,.0f}/s, "
                    f"full {passes['full'][-1]['rate']:,.0f}/s",
                    flush=True,
                )
        results[db] = {"setup": setups, "passes": passes}
    return results


def table_setup(args: argparse.Namespace) -> dict[str, Any]:
    setup_django()
    migrate()
    import workers_fill
    from django.utils import timezone

    began = time.monotonic()
    if args.side == "full":
        workers_fill.history(args.finished, args.future, now=timezone.now())
    workers_fill.analyze()
    return {"fill_seconds": time.monotonic() - began, **workers_fill.table_size()}


def table_pass(args: argparse.Namespace) -> dict[str, Any]:
    setup_django()
    import workers_fill
    from django.db import connection
    from django.utils import timezone
    from run import QueryTally

    from djtriggers.models import Trigger, TriggerAttempt
    from djtriggers.worker import TriggerWorker

    if args.side == "empty":
        workers_fill.empty()
    first = (Trigger._base_manager.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    workers_fill.due(args.due, now=timezone.now())
    with connection.cursor() as cursor:  # the new rows in the statistics, as run.py does
        cursor.execute(
            f"ANALYZE {'TABLE ' if connection.vendor == 'mysql' else ''}djtriggers_trigger"
        )
        if cursor.description:
            cursor.fetchall()
    plans = explain_claim(args.due) if args.explain else {}
    tally = QueryTally()
    with connection.execute_wrapper(tally):
        started = time.perf_counter()
        cpu = time.process_time()
        TriggerWorker(burst=True).run()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
    ours = Trigger._base_manager.filter(pk__gte=first)
    processed = ours.filter(state="processed").count()
    attempts = TriggerAttempt.objects.filter(trigger_id__gte=first).count()
    if processed != args.due or attempts != args.due:
        sys.exit(f"{processed}/{args.due} processed, {attempts} attempts")
    statements = {shape[:160]: [count, secs] for shape, (count, secs) in tally.by_shape().items()}
    return {
        "seconds": seconds,
        "cpu": cpu,
        "rate": args.due / seconds,
        "statements": statements,
        "plans": plans,
        "rows": Trigger._base_manager.count(),
    }


def explain_claim(limit: int) -> dict[str, str]:
    """The plans of the claim's queries: those ``Engine.claim`` runs, run again under
    EXPLAIN ANALYZE (PostgreSQL) or ANALYZE (MariaDB); the claim is rolled back."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from djtriggers.engine import Engine

    with transaction.atomic(), CaptureQueriesContext(connection) as captured:
        Engine(worker="bench-explain").claim(min(limit, 500))
        transaction.set_rollback(True)
    plans = {}
    prefix = "EXPLAIN ANALYZE " if connection.vendor == "postgresql" else "ANALYZE "
    for query in captured.captured_queries:
        sql = query["sql"]
        if not (sql.startswith("SELECT") and ("FOR UPDATE" in sql or "UNION ALL" in sql)):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(prefix + sql)
            lines = [" ".join(map(str, row)) for row in cursor.fetchall()]
            transaction.set_rollback(True)
        name = "levels" if "UNION ALL" in sql else "sweep" if "IS NULL" in sql else "due"
        plans[name] = "\n".join(lines)
    return plans


# --- scale: 1, 2 and 4 workers on one backlog -------------------------------------------


def drive_scale(args: argparse.Namespace) -> dict[str, Any]:
    print(
        f"scale: a backlog of {args.backlog:,} triggers for {', '.join(map(str, args.workers))} "
        f"workers, {args.repeat} time(s) ...",
        flush=True,
    )
    with fresh_database("postgres", f"{DATABASE}_scale") as name:
        return child("scale", "postgres", name, args)


def measure_scale(args: argparse.Namespace) -> dict[str, Any]:
    setup_django()
    migrate()
    runs: dict[int, list[dict[str, Any]]] = {k: [] for k in args.workers}
    for repeat in range(args.repeat):
        shift = repeat % len(args.workers)
        for k in args.workers[shift:] + args.workers[:shift]:
            runs[k].append(drain(k, args.backlog))
            print(f"{k} workers: {runs[k][-1]['rate']:,.0f}/s", file=sys.stderr, flush=True)
    return {str(k): v for k, v in runs.items()}


def drain(k: int, backlog: int) -> dict[str, Any]:
    """``k`` idle workers, then a backlog committed at once; until all are processed."""
    import workers_fill
    from django.utils import timezone

    from djtriggers import wakeup

    workers_fill.empty()
    with tempfile.TemporaryDirectory() as tmp:
        logs = [Path(tmp) / f"worker-{i}.log" for i in range(k)]
        workers = [start_worker(f"bench-scale-{i}", log) for i, log in enumerate(logs)]
        try:
            wait_idle(workers, logs)
            servers = server_processes()
            pids = {
                "workers": [w.pid for w in workers],
                "server": servers["ours"],
                "server, shared": servers["shared"],
            }
            workers_fill.due(backlog, now=timezone.now())  # one transaction: all due at once
            committed = timezone.now()
            before = {group: sum(map(cpu_seconds, p)) for group, p in pids.items()}
            busy_before = machine_busy()
            started = time.monotonic()
            execute("SELECT pg_notify(%s, '')", [wakeup.channel()])  # as create() would
            while attempts_done() < backlog:
                if any(w.poll() is not None for w in workers):
                    sys.exit("A worker exited:\n" + "\n".join(p.read_text() for p in logs))
                time.sleep(0.02)
            wall = time.monotonic() - started
            # Shared processes that started meanwhile (autovacuum) count whole.
            pids["server, shared"] += [
                pid for pid in server_processes()["shared"] if pid not in pids["server, shared"]
            ]
            cpu = {group: sum(map(cpu_seconds, p)) - before[group] for group, p in pids.items()}
            busy = machine_busy() - busy_before
        finally:
            codes = stop_workers(workers)
    first, count, triggers = execute(
        "SELECT MIN(started_at), COUNT(*), COUNT(DISTINCT trigger_id) "
        "FROM djtriggers_triggerattempt"
    )[0]
    last, processed = execute(
        "SELECT MAX(date_processed), COUNT(*) FROM djtriggers_trigger WHERE state = 'processed'"
    )[0]
    per_worker = [
        n
        for (n,) in execute(
            "SELECT COUNT(*) FROM djtriggers_triggerattempt GROUP BY worker ORDER BY 1 DESC"
        )
    ]
    # From the first try's start to the last trigger's completion (date_processed is
    # written by the statement its group commits with).
    seconds = (last - first).total_seconds()
    return {
        "workers": k,
        "seconds": seconds,
        "rate": backlog / seconds,
        "wall": wall,
        "drained": (last - committed).total_seconds(),
        "attempts": count,
        "distinct": triggers,
        "processed": processed,
        "per_worker": per_worker,
        "cpu": cpu,
        "machine": busy,
        "exit_codes": codes,
    }


def wait_idle(workers: list[subprocess.Popen[bytes]], logs: list[Path]) -> None:
    """Until every worker is registered and listening for notifications."""
    deadline = time.monotonic() + 60
    while True:
        (listening,) = execute(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN %%'"
        )[0]
        if listening >= len(workers):
            time.sleep(0.3)  # their first probe read is done: asleep
            return
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            sys.exit("The workers did not start:\n" + "\n".join(p.read_text() for p in logs))
        time.sleep(0.05)


def server_processes() -> dict[str, list[int]]:
    """PostgreSQL's processes: the backends of this database (but ours), and those
    every database shares (WAL writer, checkpointer, background writer, autovacuum)."""
    rows = execute(
        "SELECT pid, datname = current_database(), backend_type FROM pg_stat_activity "
        "WHERE pid <> pg_backend_pid()"
    )
    return {
        "ours": [pid for pid, mine, kind in rows if mine and kind == "client backend"],
        "shared": [pid for pid, _, kind in rows if kind != "client backend"],
    }


# --- the report ---------------------------------------------------------------------------


def report(results: dict[str, Any], args: argparse.Namespace, total: float) -> None:
    print()
    if "memory" in results:
        report_memory(results["memory"], args)
    if "table" in results:
        report_table(results["table"], args)
    if "scale" in results:
        report_scale(results["scale"], args)
    print(
        f"Load average (1 min) {results['load_before']:.1f} before and "
        f"{results['load_after']:.1f} after, on {os.cpu_count()} CPUs; {total:.0f} s in all."
    )
    save_results("workers", args, results)


def report_memory(result: dict[str, Any], args: argparse.Namespace) -> None:
    samples = result["samples"]
    print(
        f"Memory of one run_triggers worker over {args.triggers:,} due no-op triggers "
        f"(PostgreSQL; filled in {result['fill_seconds']:.0f} s, all up front)\n"
    )
    print(f"{'processed':>10} {'VmRSS MB':>9} {'VmHWM MB':>9} {'seconds':>8} {'triggers/s':>10}")
    previous = {"processed": 0, "seconds": 0.0}
    for sample in samples:
        rate = (sample["processed"] - previous["processed"]) / max(
            sample["seconds"] - previous["seconds"], 1e-9
        )
        print(
            f"{sample['processed']:>10,} {sample['VmRSS'] / 1024:>9.1f} "
            f"{sample['VmHWM'] / 1024:>9.1f} {sample['seconds']:>8.1f} {rate:>10,.0f}"
        )
        previous = sample
    print(
        "seconds: since the worker was started; triggers/s: since the reading before (the "
        "first includes the worker's start-up)."
    )
    ratio = samples[-1]["VmRSS"] / samples[0]["VmRSS"]
    met = "met" if ratio <= MEMORY_GOAL else "MISSED"
    print(
        f"\nRSS after {samples[-1]['processed']:,} / after {samples[0]['processed']:,}: "
        f"{ratio:.3f} (goal <= {MEMORY_GOAL}): {met}"
    )
    processed = result["processed"]
    check = "all processed" if processed == args.triggers else f"only {processed:,} processed"
    print(f"Check: {check}; the worker exited with {result['exit_code']} on SIGTERM.\n")


def report_table(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"One process_triggers pass over {args.due:,} due no-op triggers: an empty table vs "
        f"{args.finished:,} finished + {args.future:,} future triggers "
        f"(median of {args.repeat}, interleaved)\n"
    )
    print(
        f"{'database':<10} {'empty /s':>9} {'full /s':>9} {'ratio':>6} {'cpu ratio':>9} "
        f"{'full table':>14}  goal"
    )
    for db, result in results.items():
        passes = result["passes"]
        empty = statistics.median(p["rate"] for p in passes["empty"])
        full = statistics.median(p["rate"] for p in passes["full"])
        cpu_empty = statistics.median(p["cpu"] for p in passes["empty"])
        cpu_full = statistics.median(p["cpu"] for p in passes["full"])
        setup = result["setup"]["full"]
        size = f"{setup['rows']:,} rows, {setup['bytes'] / 2**20:,.0f} MB"
        ratio = full / empty
        met = "met" if ratio >= TABLE_GOAL else "MISSED"
        print(
            f"{db:<10} {empty:>9,.0f} {full:>9,.0f} {ratio:>6.2f} {cpu_empty / cpu_full:>9.2f} "
            f"{size:>14}  >= {TABLE_GOAL}: {met}"
        )
    for db, result in results.items():
        print(f"\n{db}: the statements that took the most time per pass (ms), empty vs full:")
        per = {side: average_statements(result["passes"][side]) for side in ("empty", "full")}
        shapes = sorted(per["full"], key=lambda s: -per["full"][s][1])[:6]
        for shape in shapes:
            count, secs = per["full"][shape]
            other = per["empty"].get(shape, [0, 0.0])[1]
            print(f"  {other * 1000:7.1f} {secs * 1000:7.1f}  {count:6.0f}x  {shape[:110]}")
        for name, plan in result["passes"]["full"][0]["plans"].items():
            print(f"\n{db}: plan of the claim's {name} query on the full table:\n{plan}")
    print()


def average_statements(passes: list[dict[str, Any]]) -> dict[str, list[float]]:
    total: dict[str, list[float]] = {}
    for p in passes:
        for shape, (count, secs) in p["statements"].items():
            entry = total.setdefault(shape, [0, 0.0])
            entry[0] += count / len(passes)
            entry[1] += secs / len(passes)
    return total


def report_scale(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(
        f"A backlog of {args.backlog:,} no-op triggers committed at once, drained by idle "
        f"run_triggers workers (PostgreSQL, median of {args.repeat}; from the first try's "
        "start to the last trigger's completion)\n"
    )
    print(
        f"{'workers':>7} {'triggers/s':>10} {'vs 1':>5} {'split':>17}   "
        "CPU (% of one core): workers server shared other machine   ms/1000: workers server"
    )
    rates = {k: statistics.median(r["rate"] for r in runs) for k, runs in results.items()}
    one = rates.get("1")
    for k, runs in results.items():
        run = sorted(runs, key=lambda r: r["rate"])[len(runs) // 2]  # the median run
        share = {group: 100 * secs / run["wall"] for group, secs in run["cpu"].items()}
        machine = 100 * run["machine"] / run["wall"]
        other = machine - sum(share.values())
        per = {group: 1e6 * secs / args.backlog for group, secs in run["cpu"].items()}
        ratio = f"{rates[k] / one:.2f}" if one else "-"
        split = "/".join(f"{100 * n / args.backlog:.0f}" for n in run["per_worker"])
        print(
            f"{k:>7} {rates[k]:>10,.0f} {ratio:>5} {split:>17}   {'':20}"
            f"{share['workers']:>7.0f} {share['server']:>6.0f} {share['server, shared']:>6.0f} "
            f"{other:>5.0f} {machine:>7.0f}   {'':9}{per['workers']:>7.0f} {per['server']:>6.0f}"
        )
    problems = [
        f"{k} workers: {r['processed']}/{args.backlog} processed, {r['attempts']} attempts"
        for k, runs in results.items()
        for r in runs
        if r["processed"] != args.backlog or r["attempts"] != args.backlog
    ] + [
        f"{k} workers: exit codes {r['exit_codes']}"
        for k, runs in results.items()
        for r in runs
        if any(code != 0 for code in r["exit_codes"])
    ]
    print("\nCheck: " + ("; ".join(problems) if problems else "every trigger processed once."))
    if one and "4" in rates:
        ratio = rates["4"] / one
        met = "met" if ratio > 1 else "MISSED"
        print(f"4 workers / 1 worker: {ratio:.2f} (goal > 1): {met}")
    most = max(results, key=int)
    run = sorted(results[most], key=lambda r: r["rate"])[len(results[most]) // 2]
    per_trigger = {group: 1e6 * secs / args.backlog for group, secs in run["cpu"].items()}
    total = sum(per_trigger.values())
    cores = os.cpu_count() or 1
    print(
        f"CPU per trigger with {most} workers: {per_trigger['workers']:.0f} µs in the workers + "
        f"{per_trigger['server'] + per_trigger['server, shared']:.0f} µs in PostgreSQL = "
        f"{total:.0f} µs; {cores} cores allow at most {cores * 1e6 / total:,.0f}/s, "
        f"{most} workers reached {rates[most]:,.0f}/s."
    )
    print(
        "split: % of the backlog each worker took. CPU over the drain (wall time from the "
        "commit to all seen done): workers = the run_triggers processes; server = their "
        "PostgreSQL backends; shared = WAL writer, checkpointer, autovacuum...; other = the "
        "rest of the machine (this driver, other load); machine = all, "
        f"{os.cpu_count()} cores = {100 * (os.cpu_count() or 1)}%. ms/1000: CPU "
        "milliseconds per 1000 triggers.\n"
    )


CHILDREN = {
    "memory": measure_memory,
    "table-setup": table_setup,
    "table-pass": table_pass,
    "scale": measure_scale,
}
DRIVERS = {"memory": drive_memory, "table": drive_table, "scale": drive_scale}


if __name__ == "__main__":
    main()
