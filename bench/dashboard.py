"""Benchmark: the live dashboard on millions of triggers (``--rows``, 1,000,000 by default).

    .venv/bin/python bench/dashboard.py [--db postgres|mariadb|sqlite] [--requests 30]
        [--attempts 30000] [--profile]

It uses the database of ``admin_changelist.py`` on ``--db`` (``admin_fill.py``:
``djtriggers_bench_admin`` on 127.0.0.1, or bench/results/djtriggers_bench_admin.sqlite3;
filled the same way on each when missing or stale), adds the last hour of a busy
system (``dashboard_live.py``: attempts, processed triggers and workers, removed
again at the end), then times the dashboard in process with Django's test Client,
logged in as a superuser: the page, its live and list fragments (as htmx asks for
them) and the summary JSON. It prints the median and p95, the queries and their
time per request, the time of each part of the page, the plans of the slowest
queries and, for a request that misses its goal, a cProfile of one request.
Results go to bench/results/ too.
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import json
import os
import pstats
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
# This file is bench/dashboard.py and Python puts bench/ first on the path, where
# it would shadow the dashboard app: the checkout's root goes before it.
sys.path.insert(0, str(BENCH.parent))

from admin_changelist import Timing, django_version, logged_in_client, shorten  # noqa: E402
from admin_fill import DATABASE, setup  # noqa: E402
from common import positive_int  # noqa: E402

DATABASES = ("postgres", "mariadb", "sqlite")
HTMX = {"HX-Request": "true"}
LIVE, LIST = 'id="djt-live"', 'id="djt-list"'
# The number of distinct slowest queries that are explained.
EXPLAINED = 6
# The columns of MariaDB's ANALYZE that are shown.
ANALYZED = ("select_type", "table", "type", "key", "ref", "rows", "r_rows", "r_filtered", "Extra")
TIMESTAMP = re.compile(r"'[0-9]{4}-[0-9][0-9 :.+-]+'(?:::timestamptz)?")
# What a profile shows: the dashboard's code, the waits on the database, rendering.
PROFILED = r"/dashboard/|djtriggers/|{wait}|django/shortcuts.py"
WAITS = {
    "postgresql": r"psycopg/connection.py:\d+\(wait\)",
    "mysql": r"MySQLdb/connections.py:\d+\(query\)",
    "sqlite": r"method '\w+' of 'sqlite3.Cursor'",  # SQLite reads the rows as they are fetched
}


@dataclass
class Endpoint:
    name: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    goal_ms: float | None = None
    # A text the answer must hold, and one it must not (the page is no fragment).
    holds: str = ""
    lacks: str = ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=DATABASES, default="postgres", help="default postgres")
    parser.add_argument("--rows", type=positive_int, default=1_000_000, help="default 1000000")
    parser.add_argument(
        "--requests", type=positive_int, default=30, help="timed requests each (default 30)"
    )
    parser.add_argument("--warmups", type=int, default=3, help="untimed requests first (3)")
    parser.add_argument(
        "--attempts", type=int, default=30_000, help="attempts in the last hour (30000)"
    )
    parser.add_argument("--refill", action="store_true", help="rebuild the rows even if present")
    parser.add_argument("--profile", action="store_true", help="profile every request kind")
    args = parser.parse_args()

    started = time.monotonic()
    setup(args.db, args.rows, refill=args.refill, settings="dashboard_settings")
    import dashboard_live

    dashboard_live.add(args.attempts)
    try:
        run(args)
    finally:
        print("Removing the last hour...", end=" ", flush=True)
        began = time.monotonic()
        dashboard_live.remove()
        print(f"{time.monotonic() - began:.0f}s")
    print(f"Total time: {time.monotonic() - started:.0f}s")


def run(args: Any) -> None:
    client = logged_in_client()
    endpoints = build_endpoints()
    load = os.getloadavg()[0]
    print(f"Timing {args.requests} requests each after {args.warmups} warm-ups.")
    results: dict[str, Timing] = {}
    for endpoint in endpoints:
        timing = time_endpoint(client, endpoint, args.requests, args.warmups)
        results[endpoint.name] = timing
        print(
            f"  {endpoint.name:<24} median {timing.median:7.1f} ms  p95 {timing.p95:7.1f} ms  "
            f"{timing.queries} queries",
            flush=True,
        )
    print()
    print(report(endpoints, results, args, load))
    print()
    parts = time_parts(args.requests)
    print(parts)
    print()
    plans = explain(results)
    print(plans)
    missed = [
        e
        for e in endpoints
        if args.profile or (e.goal_ms is not None and results[e.name].p95 >= e.goal_ms)
    ]
    profiles = "\n\n".join(profile(client, e) for e in missed)
    if profiles:
        print()
        print(profiles)
    save(endpoints, results, "\n\n".join([parts, plans, profiles]), args)


def build_endpoints() -> list[Endpoint]:
    from django.urls import reverse

    index = reverse("dashboard:index")
    summary = reverse("dashboard:summary")
    live = {**HTMX, "HX-Target": "djt-live"}
    listed = {**HTMX, "HX-Target": "djt-list"}
    return [
        Endpoint("page", index, goal_ms=150, holds="<html"),
        Endpoint("live fragment", index, headers=live, goal_ms=100, holds=LIVE, lacks=LIST),
        Endpoint("list fragment", index, headers=listed, holds=LIST, lacks=LIVE),
        Endpoint("list ?status=failed", index, {"status": "failed"}, listed, holds="djt-failed"),
        Endpoint("summary", summary, goal_ms=50, holds='"counts"'),
    ]


# --- timing --------------------------------------------------------------------


def get(client: Any, endpoint: Endpoint) -> Any:
    return client.get(endpoint.url, endpoint.params, headers=endpoint.headers)


def time_endpoint(client: Any, endpoint: Endpoint, n: int, warmups: int) -> Timing:
    """N timed requests, then one more under CaptureQueriesContext for its queries.

    ``Timing.slowest`` keeps all of that request's queries, the slowest first.
    """
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timing = Timing()
    for _ in range(warmups):
        get(client, endpoint)
    for _ in range(n):
        began = time.perf_counter()
        response = get(client, endpoint)
        timing.ms.append((time.perf_counter() - began) * 1000)
    timing.status = response.status_code
    body = response.content.decode()
    if endpoint.holds not in body or (endpoint.lacks and endpoint.lacks in body):
        timing.status = -timing.status  # reported as a wrong answer
    with CaptureQueriesContext(connection) as captured:
        get(client, endpoint)
    times = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    timing.queries = len(times)
    timing.sql_ms = sum(t for t, _ in times)
    timing.slowest = sorted(times, reverse=True)
    return timing


def time_parts(n: int) -> str:
    """Each part of the page on its own: median ms and queries of N calls."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from dashboard import stats, views

    factory = RequestFactory()
    parts: list[tuple[str, Callable[[], Any]]] = []
    for name in (
        "status_counts",
        "due_by_type",
        "type_matrix",
        "due_board",
        "upcoming",
        "failure_groups",
        "workers",
        "throughput",
        "oldest_due_age_seconds",
    ):
        function = getattr(stats, name, None)
        if function is None:
            continue  # renamed or gone: the page's timing still counts it
        takes_now = "now" in inspect.signature(function).parameters
        parts.append((f"stats.{name}", with_now(function) if takes_now else function))
    # The list's row actions depend on the user: the superuser of the timed requests.
    user = get_user_model().objects.get(username="bench")

    def list_context(params: dict[str, str]) -> Any:
        request = factory.get("/", params)
        request.user = user
        return views.list_context(request)

    parts.append(("views.list_context", lambda: list_context({})))
    parts.append(("views.list_context failed", lambda: list_context({"status": "failed"})))
    lines = [f"{'part':<34} {'median':>8} {'max':>8} {'queries':>7} {'sql':>8}"]
    for name, call in parts:
        ms = []
        for _ in range(n):
            began = time.perf_counter()
            call()
            ms.append((time.perf_counter() - began) * 1000)
        with CaptureQueriesContext(connection) as captured:
            call()
        sql = sum(float(q["time"]) * 1000 for q in captured.captured_queries)
        ms.sort()
        lines.append(
            f"{name:<34} {ms[len(ms) // 2]:6.1f}ms {ms[-1]:6.1f}ms "
            f"{len(captured.captured_queries):>7} {sql:6.1f}ms"
        )
    return "Parts of the page, called directly:\n" + "\n".join(lines)


def with_now(function: Callable[..., Any]) -> Callable[[], Any]:
    from django.utils import timezone

    return lambda: function(timezone.now())


# --- report --------------------------------------------------------------------


def report(endpoints: list[Endpoint], results: dict[str, Timing], args: Any, load: float) -> str:
    from dialect import version

    lines = [
        f"{'request':<24} {'median':>8} {'p95':>8} {'queries':>7} {'sql':>8}  goal",
    ]
    problems = []
    for endpoint in endpoints:
        timing = results[endpoint.name]
        goal = "-"
        if endpoint.goal_ms is not None:
            goal = f"p95 < {endpoint.goal_ms:g} ms: " + (
                "met" if timing.p95 < endpoint.goal_ms else "NOT MET"
            )
        lines.append(
            f"{endpoint.name:<24} {timing.median:6.1f}ms {timing.p95:6.1f}ms "
            f"{timing.queries:>7} {timing.sql_ms:6.1f}ms  {goal}"
        )
        if timing.status != 200:
            problems.append(
                f"{endpoint.name} answered {abs(timing.status)}"
                + (" but not what it should" if timing.status < 0 else "")
                + "."
            )
    lines += [
        "",
        f"ms: wall time of one in-process request (test Client, superuser); median and p95 of "
        f"{args.requests} after {args.warmups} warm-ups. queries and sql: one further request "
        "under CaptureQueriesContext. Fragments: HX-Request and HX-Target djt-live or djt-list.",
        f"{args.rows:,} triggers in {DATABASE} plus the last hour ({args.attempts:,} "
        f"attempts, 4 workers). Django {django_version()}, {version()}. "
        f"Load average (1 min) {load:.1f} before and {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs: other load shows as noise, in p95 most.",
        *problems,
    ]
    return "\n".join(lines)


def explain(results: dict[str, Timing]) -> str:
    """The plans of the slowest distinct queries of all the requests."""
    # The same query in several requests differs only in its timestamps.
    slowest: dict[str, tuple[float, str, str]] = {}
    for name, timing in results.items():
        for ms, sql in timing.slowest:
            key = TIMESTAMP.sub("?", sql)
            if key not in slowest or ms > slowest[key][0]:
                slowest[key] = (ms, name, sql)
    ranked = sorted(slowest.values(), reverse=True)[:EXPLAINED]
    out = [
        f"=== {ms:.1f} ms in {name}:\n{shorten(sql, 600)}\n{plan(sql)}"
        for ms, name, sql in ranked
        if sql.lstrip().upper().startswith("SELECT")
    ]
    return f"The {len(out)} slowest queries:\n\n" + "\n\n".join(out)


def plan(sql: str) -> str:
    """PostgreSQL's EXPLAIN (ANALYZE, BUFFERS); MariaDB's ANALYZE (the estimated and
    the real rows, per table read); SQLite's EXPLAIN QUERY PLAN."""
    from dialect import vendor
    from django.db import connection

    with connection.cursor() as cursor:
        if vendor() == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            return "\n".join(row[0] for row in cursor.fetchall())
        if vendor() == "mysql":
            cursor.execute("ANALYZE " + sql)
            names = [column[0] for column in cursor.description]
            tables = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
            return "\n".join(
                " ".join(f"{n}={table[n]}" for n in ANALYZED if table[n] not in (None, ""))
                for table in tables
            )
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        depth, lines = {0: -1}, []
        for node, parent, _, detail in cursor.fetchall():
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return "\n".join(lines)


def profile(client: Any, endpoint: Endpoint) -> str:
    """cProfile of one request: the dashboard's 25 functions with the most cumulative time."""
    from dialect import vendor

    get(client, endpoint)
    profiler = cProfile.Profile()
    profiler.enable()
    get(client, endpoint)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    restriction = PROFILED.format(wait=WAITS[vendor()])
    stats.sort_stats("cumulative").print_stats(restriction, 25)
    text = "\n".join(line for line in out.getvalue().splitlines() if line.strip())
    return f"=== cProfile of one request, {endpoint.name} (the dashboard's functions):\n{text}"


def save(endpoints: list[Endpoint], results: dict[str, Timing], text: str, args: Any) -> None:
    from dialect import version

    folder = BENCH / "results"
    folder.mkdir(exist_ok=True)
    data = {
        "database": version(),
        "rows": args.rows,
        "attempts": args.attempts,
        "requests": args.requests,
        "results": [
            {
                "request": e.name,
                "median_ms": results[e.name].median,
                "p95_ms": results[e.name].p95,
                "queries": results[e.name].queries,
                "sql_ms": results[e.name].sql_ms,
                "goal_ms": e.goal_ms,
                "ms": results[e.name].ms,
            }
            for e in endpoints
        ],
        "details": text,
    }
    path = folder / f"dashboard-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"Saved to {path.relative_to(BENCH.parent)}")


if __name__ == "__main__":
    main()
