"""Benchmark: the trigger changelist on a million rows, ours vs a plain ModelAdmin.

    .venv/bin/python bench/admin_changelist.py [--requests 30] [--rows 1000000] [--refill]
        [--paybills 1000000]

It fills the PostgreSQL database ``djtriggers_bench_admin`` on 127.0.0.1 with a
realistic mix of triggers (``admin_fill.py``; once: the rows are kept between runs;
``--refill`` rebuilds them), then times admin pages in process with Django's test Client,
logged in as a superuser: our ``TriggerAdmin`` at /admin/ and a plain
``ModelAdmin`` for the same table at /plain/ (``admin_urls.py``). It prints the
median and p95 per page, the queries per page, the goals, and the plans of our
changelist's list and count queries. Results go to bench/results/ too.

``--paybills N`` adds N triggers of a concrete type with data of its own
(tests/testapp's ``PayBill``: an amount and a recipient, one of 1,000 users)
and times its list: filtered to the type (its own fields as columns), searched
by an amount and by a recipient's username.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from admin_fill import DATABASE, PAYBILL, setup
from common import positive_int

BENCH = Path(__file__).resolve().parent
OURS = "/admin/djtriggers/trigger/"
PLAIN = "/plain/djtriggers/trigger/"
SEARCH = "billing.invoice$12345"
# Goals for our pages: p95 under this, and the plain admin's median this many times ours.
P95_GOAL_MS = 300.0
RATIO_GOAL = 3.0
# The PayBill pages (--paybills): the list filtered to the type, searched in one own
# field by an amount (about 10 bills at 1,000,000) and by a username (a thousandth of
# them), and the same terms in the plain search (which scans every source and error too).
PAYBILL_PAGES = {
    "paybill list": {"type": PAYBILL},
    "paybill amount:": {"type": PAYBILL, "q": "amount:4217"},
    "paybill recipient:": {"type": PAYBILL, "q": "recipient:bench0042"},
    "paybill q=4217": {"type": PAYBILL, "q": "4217"},
    "paybill q=bench0042": {"type": PAYBILL, "q": "bench0042"},
}
PAYBILL_GOALS = ("paybill list", "paybill amount:", "paybill recipient:")
GOAL_PAGES = ("default", "status=failed", *PAYBILL_GOALS)
# The pages whose list and count queries are always explained.
EXPLAINED = ("default", "status=failed", *PAYBILL_GOALS)


@dataclass
class Page:
    name: str
    ours: str
    plain: str
    ours_params: dict[str, str] = field(default_factory=dict)
    plain_params: dict[str, str] = field(default_factory=dict)


@dataclass
class Timing:
    ms: list[float] = field(default_factory=list)
    queries: int = 0
    sql_ms: float = 0.0
    slowest: list[tuple[float, str]] = field(default_factory=list)
    captured: list[str] = field(default_factory=list)
    status: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.ms)
        return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=positive_int, default=1_000_000, help="default 1000000")
    parser.add_argument(
        "--requests", type=positive_int, default=30, help="timed requests per page (default 30)"
    )
    parser.add_argument("--warmups", type=int, default=3, help="untimed requests first (3)")
    parser.add_argument("--refill", action="store_true", help="rebuild the rows even if present")
    parser.add_argument("--no-plain", action="store_true", help="time only ours")
    parser.add_argument(
        "--paybills",
        type=int,
        default=0,
        help=f"also this many triggers of {PAYBILL}, and time its list (default 0)",
    )
    args = parser.parse_args()
    if args.paybills < 0:
        parser.error("--paybills: a number of triggers, 0 or more")

    started = time.monotonic()
    setup(
        "postgres", args.rows, refill=args.refill, settings="admin_settings", paybills=args.paybills
    )
    client = logged_in_client()
    pages = build_pages(paybills=args.paybills > 0)

    load = os.getloadavg()[0]
    print(f"Timing {args.requests} requests per page after {args.warmups} warm-ups.")
    results: dict[tuple[str, str], Timing] = {}
    for page in pages:
        sides = [("ours", page.ours, page.ours_params)]
        if not args.no_plain and page.plain:
            sides.append(("plain", page.plain, page.plain_params))
        for side, url, params in sides:
            timing = time_page(client, url, params, args.requests, args.warmups)
            results[(page.name, side)] = timing
            print(
                f"  {page.name:<20} {side:<6} median {timing.median:7.1f} ms  "
                f"p95 {timing.p95:7.1f} ms  {timing.queries} queries",
                flush=True,
            )

    print()
    print(report(pages, results, args))
    print(
        f"Load average (1 min) {load:.1f} before and {os.getloadavg()[0]:.1f} after the timing, "
        f"on {os.cpu_count()} CPUs: other load shows as noise, in p95 most."
    )
    print()
    plans = explain(results)
    print(plans)
    print(f"Total time: {time.monotonic() - started:.0f}s")
    save(pages, results, plans, args)


# --- the client and the pages --------------------------------------------------


def logged_in_client() -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user_model = get_user_model()
    user = user_model.objects.filter(username="bench").first()
    if user is None:
        user = user_model.objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    return client


def build_pages(*, paybills: bool) -> list[Page]:
    from django.utils import timezone

    from djtriggers.models import Trigger

    failed = Trigger.objects.failed().order_by("-date_processed").values_list("pk", flat=True)
    change = list(failed[:101])[-1]
    now = timezone.now().isoformat()
    return [
        Page("default", OURS, PLAIN),
        Page("status=failed", OURS, PLAIN, {"status": "failed"}, {"state__exact": "failed"}),
        Page(
            "status=due",
            OURS,
            PLAIN,
            {"status": "due"},
            {"state__exact": "scheduled", "process_after__lte": now},
        ),
        Page("search", OURS, PLAIN, {"q": SEARCH}, {"q": SEARCH}),
        Page("change page", f"{OURS}{change}/change/", f"{PLAIN}{change}/change/"),
        # Ours only: a plain ModelAdmin of Trigger has no PayBill columns to compare.
        *(Page(name, OURS, "", params) for name, params in PAYBILL_PAGES.items() if paybills),
    ]


# --- timing --------------------------------------------------------------------


def time_page(client: Any, url: str, params: dict[str, str], n: int, warmups: int) -> Timing:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timing = Timing()
    for _ in range(warmups):
        client.get(url, params)
    for _ in range(n):
        began = time.perf_counter()
        response = client.get(url, params)
        timing.ms.append((time.perf_counter() - began) * 1000)
    timing.status = response.status_code
    # One more request, untimed, for its queries.
    with CaptureQueriesContext(connection) as captured:
        client.get(url, params)
    timing.queries = len(captured.captured_queries)
    times = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    timing.sql_ms = sum(t for t, _ in times)
    timing.slowest = sorted(times, reverse=True)[:3]
    timing.captured = [sql for _, sql in times]
    return timing


# --- report --------------------------------------------------------------------


def report(pages: list[Page], results: dict[tuple[str, str], Timing], args: Any) -> str:
    from dialect import version

    lines = [
        f"{'page':<20} {'ours median':>11} {'p95':>7} {'queries':>7} {'sql':>7}  "
        f"{'plain median':>12} {'p95':>7} {'queries':>7} {'sql':>7}  {'ratio':>6}  goal",
    ]
    problems: list[str] = []
    for page in pages:
        ours = results[(page.name, "ours")]
        plain = results.get((page.name, "plain"))
        ratio = plain.median / ours.median if plain else None
        goal = "-"
        if page.name in GOAL_PAGES:
            p95_ok = ours.p95 < P95_GOAL_MS
            ratio_ok = ratio is None or ratio >= RATIO_GOAL
            goal = "met" if p95_ok and ratio_ok else "NOT MET"
            if not p95_ok:
                goal += f" (p95 >= {P95_GOAL_MS:g} ms)"
            if not ratio_ok:
                goal += f" (< {RATIO_GOAL:g}x)"
        elif ours.p95 >= P95_GOAL_MS:
            goal = f"(p95 >= {P95_GOAL_MS:g} ms)"
        plain_cols = (
            f"{plain.median:10.1f}ms {plain.p95:5.0f}ms {plain.queries:>7} {plain.sql_ms:5.0f}ms"
            if plain
            else f"{'-':>12} {'-':>7} {'-':>7} {'-':>7}"
        )
        lines.append(
            f"{page.name:<20} {ours.median:9.1f}ms {ours.p95:5.0f}ms {ours.queries:>7} "
            f"{ours.sql_ms:5.0f}ms  {plain_cols}  "
            f"{'-' if ratio is None else f'{ratio:5.1f}x':>6}  {goal}"
        )
        for side, timing in (("ours", ours), ("plain", plain)):
            if timing and timing.status != 200:
                problems.append(f"{page.name} ({side}) answered {timing.status}.")
    lines += [
        "",
        f"ms: wall time of one in-process request (test Client, superuser); median and p95 of "
        f"{args.requests} after {args.warmups} warm-ups. queries and sql: one further request "
        "under CaptureQueriesContext. ratio: plain median / ours median.",
        f"Goals on {' and '.join(GOAL_PAGES)}: p95 < {P95_GOAL_MS:g} ms and >= {RATIO_GOAL:g}x "
        "the plain ModelAdmin.",
        f"{args.rows:,} triggers"
        + (f" and {args.paybills:,} of {PAYBILL}" if args.paybills else "")
        + f" in {DATABASE}; plain = admin.ModelAdmin with model-field "
        "columns, list_filter state and trigger_type, the same search_fields. "
        f"Django {django_version()}, {version()}, "
        f"Python {platform.python_version()}.",
        *problems,
    ]
    slow = [
        (page.name, side, timing)
        for page in pages
        for side in ("ours",)
        if (timing := results[(page.name, side)]).p95 >= P95_GOAL_MS
    ]
    if slow:
        lines += ["", "Slowest queries of our slow pages:"]
        for name, _, timing in slow:
            for ms, sql in timing.slowest:
                lines.append(f"  {name}: {ms:.0f} ms  {shorten(sql)}")
    return "\n".join(lines)


def explain(results: dict[tuple[str, str], Timing]) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the list and count queries that our pages ran.

    Those of EXPLAINED, and of any of our pages slower than the p95 goal.
    """
    from django.db import connection

    slow = [name for (name, side), t in results.items() if side == "ours" and t.p95 >= P95_GOAL_MS]
    out = []
    for name in dict.fromkeys([*EXPLAINED, *slow]):
        if (name, "ours") not in results:  # the PayBill pages, without --paybills
            continue
        timing = results[(name, "ours")]
        for label, sql in (
            ("list", list_query(timing.captured)),
            ("count", count_query(timing.captured)),
        ):
            if sql is None:
                out.append(f"=== ours {name}: no {label} query found")
                continue
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            out.append(f"=== ours {name}, {label} query:\n{shorten(sql, 400)}\n{plan}")
    return "\n\n".join(out)


def list_query(captured: list[str]) -> str | None:
    # No LIMIT when the results fit on one page: the changelist then reads them all.
    for sql in captured:
        table = 'FROM "djtriggers_trigger"' in sql or 'FROM "testapp_paybill"' in sql
        if table and "ORDER BY" in sql and "COUNT(" not in sql:
            return sql
    return None


def count_query(captured: list[str]) -> str | None:
    for sql in captured:
        if ("COUNT(" in sql and '"djtriggers_trigger"' in sql) or "reltuples" in sql:
            return sql
    return None


def shorten(sql: str, width: int = 160) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 1] + "…"


def django_version() -> str:
    import django

    return django.get_version()


def save(pages: list[Page], results: dict[tuple[str, str], Timing], plans: str, args: Any) -> None:
    folder = BENCH / "results"
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = {
        "rows": args.rows,
        "paybills": args.paybills,
        "requests": args.requests,
        "pages": [
            {
                "page": page.name,
                "side": side,
                "median_ms": timing.median,
                "p95_ms": timing.p95,
                "queries": timing.queries,
                "sql_ms": timing.sql_ms,
                "ms": timing.ms,
            }
            for page in pages
            for side in ("ours", "plain")
            if (timing := results.get((page.name, side))) is not None
        ],
        "plans": plans,
    }
    path = folder / f"admin_changelist-{stamp}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"Saved to {path.relative_to(BENCH.parent)}")


if __name__ == "__main__":
    main()
