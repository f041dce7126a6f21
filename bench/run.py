"""One timed ``process_triggers`` pass in this process, printed as one JSON line.

Started by ``process_triggers.py``: ``--impl ours`` under .venv, ``--impl original``
under bench/.venv-original, with BENCH_DB and BENCH_DB_NAME naming a fresh database.
It migrates, creates ``--n`` due no-op triggers, times one whole pass, then checks
that every trigger was processed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=["ours", "original"], required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--lock", action="store_true", help="original: keep its Redis lock")
    parser.add_argument("--profile", metavar="PATH", help="ours: write a profile report here")
    args = parser.parse_args()

    os.environ["DJANGO_SETTINGS_MODULE"] = f"{args.impl}.settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    if args.impl == "ours" and os.environ.get("BENCH_WITHOUT_COUNTERS"):
        from djtriggers import counts  # what the database's counters cost: compare

        counts.uninstall(connection)
    model = django.apps.apps.get_model(args.impl, "NoopTrigger")
    model.objects.bulk_create([model() for _ in range(args.n)], batch_size=500)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    if args.impl == "original":
        import djtriggers.models
        from djtriggers.logic import process_triggers

        if not args.lock:
            djtriggers.models.redis_lock = no_lock
    else:
        from djtriggers.logic import process_triggers

    profiler = cProfile.Profile() if args.profile else None
    queries = QueryTally() if args.profile else None
    wrapper = connection.execute_wrapper(queries) if queries else contextlib.nullcontext()
    with wrapper:
        started = time.perf_counter()
        cpu_started = time.process_time()
        if profiler:
            profiler.enable()
        process_triggers()
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started

    problems = check(args.impl, model, args.n)
    if profiler and queries:
        with open(args.profile, "w") as f:
            f.write(profile_report(profiler, queries, args.n, seconds))
    print(json.dumps({"n": args.n, "seconds": seconds, "cpu": cpu, "problems": problems}))


@contextlib.contextmanager
def no_lock(name, **kwargs):
    yield


def check(impl: str, model, n: int) -> list[str]:
    """What is wrong after the pass (empty when all ``n`` triggers were processed once)."""
    if impl == "original":
        left = model.objects.filter(date_processed__isnull=True).count()
        ok = model.objects.filter(successful=True).count()
        return [f"{left} not processed"] * bool(left) + [f"{ok}/{n} successful"] * (ok != n)

    from djtriggers.models import Trigger, TriggerAttempt, Worker

    problems = []
    done = Trigger.objects.filter(state="processed", successful=True).count()
    if done != n:
        problems.append(f"{done}/{n} processed")
    attempts = TriggerAttempt.objects.filter(outcome="success").count()
    if attempts != n:
        problems.append(f"{attempts}/{n} success attempts recorded")
    held = Trigger.objects.filter(locked_by__isnull=False).count()
    if held:
        problems.append(f"{held} still claimed")
    if Worker.objects.exists():
        problems.append("worker row left behind")
    return problems


class QueryTally:
    """An execute wrapper counting statements and their time, by shape."""

    def __init__(self) -> None:
        self.stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            entry = self.stats[sql]  # shaped later, to keep this out of the profile
            entry[0] += 1
            entry[1] += time.perf_counter() - started

    def by_shape(self) -> dict[str, list[float]]:
        shaped: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        for sql, (count, secs) in self.stats.items():
            entry = shaped[shape(sql)]
            entry[0] += count
            entry[1] += secs
        return shaped


def shape(sql: str) -> str:
    sql = re.sub(r"\((?:%s|\?)(?:, *(?:%s|\?))*\)", "(…)", sql)
    sql = re.sub(r"(?:\(…\), *)+\(…\)", "(…), …", sql)
    sql = re.sub(r"SAVEPOINT \S+", "SAVEPOINT s", sql)
    sql = re.sub(r'"djtriggers_trigger"\."(\w+)"', r"\1", sql)
    return " ".join(sql.split())


def profile_report(profiler: cProfile.Profile, queries: QueryTally, n: int, seconds: float) -> str:
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    us = 1e6 / n
    lines = [
        f"Profile of our pass (cProfile, so slower than the timed runs): {n} triggers in "
        f"{seconds:.2f}s = {seconds * us:.0f} µs per trigger.",
        "",
        "Queries (COMMIT is not a statement and is not counted):",
        f"{'count':>6} {'per trigger':>11} {'µs/trigger':>10} {'% pass':>6}  statement",
    ]
    total_count = sum(count for count, _ in queries.stats.values())
    total_secs = sum(secs for _, secs in queries.stats.values())
    lines.append(
        f"{total_count:>6} {total_count / n:>11.3f} {total_secs * us:>10.1f} "
        f"{100 * total_secs / seconds:>6.1f}  (all statements)"
    )
    for sql, (count, secs) in sorted(queries.by_shape().items(), key=lambda kv: -kv[1][1]):
        lines.append(
            f"{count:>6} {count / n:>11.3f} {secs * us:>10.1f} "
            f"{100 * secs / seconds:>6.1f}  {sql[:150]}"
        )

    def rows(keys, sort_index):
        out = []
        for key in sorted(keys, key=lambda k: -stats[k][sort_index])[:15]:
            _cc, calls, tottime, cumtime, _callers = stats[key]
            filename, lineno, func = key
            where = short(filename)
            out.append(
                f"{calls / n:>11.2f} {tottime * us:>9.1f} {cumtime * us:>9.1f} "
                f"{100 * cumtime / seconds:>6.1f}  {where}:{lineno}({func})"
            )
        return out

    header = f"{'calls/trig':>11} {'self µs':>9} {'cum µs':>9} {'% cum':>6}  function"
    ours = [k for k in stats if f"{os.sep}djtriggers{os.sep}" in k[0]]
    lines += ["", "djtriggers functions by cumulative time (µs per trigger):", header]
    lines += rows(ours, 3)
    lines += ["", "All functions by self time (µs per trigger):", header]
    lines += rows(stats, 2)
    return "\n".join(lines) + "\n"


def short(filename: str) -> str:
    for marker in ("site-packages/", f"{ROOT}{os.sep}"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


if __name__ == "__main__":
    sys.exit(main())
