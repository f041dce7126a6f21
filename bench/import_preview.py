"""Benchmark: the admin's import preview of 5,000 triggers, its time and the size of its page.

    .venv/bin/python bench/import_preview.py [--rows 5000] [--runs 5] [--db sqlite|postgres]
    .venv/bin/python bench/import_preview.py --smoke     # 200 rows, one run (the test suite's)

It fills a fresh database with N triggers in every status (Europe/Amsterdam, so
times carry offsets), exports them through the admin as CSV, empties the table and
uploads the file to the import page: untimed once, then timed ``--runs`` times,
in process with Django's test Client as a superuser. It does the same with a
copy of the file in which every tenth row is invalid (the page lists the first
problems only), confirms the valid file once and checks that it created the N
triggers. It prints the median, min and max time per file, the size of the page
and its queries, and the goal: a preview under 2 s. Results go to bench/results/.

SQLite (a file in a temp dir) by default; ``--db postgres`` uses the database
``djtriggers_bench_import`` (or ``$BENCH_IMPORT_DATABASE``) on 127.0.0.1, created
and dropped by the run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import positive_int, postgres_admin

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PG_DATABASE = os.environ.get("BENCH_IMPORT_DATABASE", "djtriggers_bench_import")
URL = "/admin/djtriggers/trigger/"
GOAL_S = 2.0
SMOKE_ROWS = 200
# The mix of the fill, per 100 rows (the rest are processed).
MIX = {"failed": 10, "due": 10, "pending": 10, "running": 2, "cancelled": 8}


@dataclass
class Timing:
    name: str
    seconds: list[float] = field(default_factory=list)
    html_bytes: int = 0
    queries: int = 0
    status: int = 0
    confirmable: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=positive_int, default=5000, help="default 5000")
    parser.add_argument("--runs", type=positive_int, default=5, help="timed runs per file (5)")
    parser.add_argument("--warmups", type=int, default=1, help="untimed runs first (1)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_ROWS} rows, one run")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.runs, args.warmups = SMOKE_ROWS, 1, 0

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        name = str(Path(tmp) / "bench.sqlite3") if args.db == "sqlite" else PG_DATABASE
        if args.db == "postgres":
            recreate_postgres(PG_DATABASE)
        try:
            timings, created = run(args, name)
        finally:
            if args.db == "postgres":
                from django.db import connections

                connections.close_all()
                drop_postgres(PG_DATABASE)
    print()
    print(report(timings, created, args))
    print(f"Total time: {time.monotonic() - started:.0f}s")
    save(timings, created, args)


# --- the database and Django ----------------------------------------------------


def setup(db: str, name: str) -> None:
    """Django with the admin benchmark's settings, our templates and the bench's NoopTrigger."""
    os.environ.update(BENCH_DB=db, BENCH_DB_NAME=name)
    sys.path[:0] = [str(ROOT), str(BENCH)]
    import admin_settings
    from django.conf import settings

    if "import_export" not in admin_settings.INSTALLED_APPS:
        sys.exit("django-import-export is not installed: `pip install -e '.[dashboard]'`.")
    values = {key: getattr(admin_settings, key) for key in dir(admin_settings) if key.isupper()}
    settings.configure(
        **{
            **values,
            "INSTALLED_APPS": [*values["INSTALLED_APPS"], "ours"],
            # A checkout keeps the apps' templates in the top-level folder (see README).
            "TEMPLATES": [{**values["TEMPLATES"][0], "DIRS": [ROOT / "templates"]}],
            "TIME_ZONE": "Europe/Amsterdam",
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def recreate_postgres(name: str) -> None:
    with postgres_admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def drop_postgres(name: str) -> None:
    with postgres_admin() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fill(rows: int) -> None:
    """``rows`` triggers of the mix, written the 2.x way (the database settles their state)."""
    from django.utils import timezone
    from ours.models import NoopTrigger

    now = timezone.now()
    statuses = [status for status, share in MIX.items() for _ in range(share)]
    triggers = []
    for i in range(rows):
        status = statuses[i % 100] if i % 100 < len(statuses) else "processed"
        received = now - timedelta(days=30) + timedelta(seconds=i * 37.123457)
        trigger = NoopTrigger(source=f"billing.invoice${i}", date_received=received)
        trigger.process_after = received
        if status == "pending":
            trigger.process_after = now + timedelta(minutes=1 + i % 600)
        elif status == "running":
            trigger.state, trigger.locked_by = "running", f"worker-{i % 4}"
            trigger.locked_until = now + timedelta(minutes=5)
        elif status == "cancelled":
            trigger.state, trigger.date_processed = "cancelled", received + timedelta(hours=1)
        elif status in ("processed", "failed"):
            trigger.date_processed = received + timedelta(seconds=1 + i % 97)
            trigger.successful = status == "processed"
        if status == "failed" or (status == "due" and i % 2):
            trigger.number_of_tries = 5 if status == "failed" else 1
            trigger.last_error = f"ConnectionError: \x1b[31mpartner down\x1b[0m (invoice {i})"
        triggers.append(trigger)
    NoopTrigger.objects.bulk_create(triggers, batch_size=1000)


# --- timing --------------------------------------------------------------------------


def run(args: Any, name: str) -> tuple[list[Timing], int]:
    setup(args.db, name)
    from django.contrib.auth import get_user_model
    from django.test import Client

    from djtriggers.models import Trigger

    client = Client()
    client.force_login(get_user_model().objects.create_superuser("bench", "b@example.com", "x"))
    print(f"Filling {args.rows:,} triggers, exporting them as CSV...", flush=True)
    fill(args.rows)
    valid = export_csv(client)
    Trigger.objects.all().delete()
    invalid = spoil(valid)

    print(f"Timing {args.runs} previews per file after {args.warmups} warm-up(s).")
    timings = []
    for label, content in (("valid file", valid), ("10% invalid", invalid)):
        timing = time_preview(client, label, content, args.runs, args.warmups)
        timings.append(timing)
        print(
            f"  {label:<12} median {timing.median:6.2f} s  {timing.html_bytes:,} bytes", flush=True
        )

    began = time.perf_counter()
    preview = upload(client, valid, keep=True)
    confirm = client.post(f"{URL}process_import/", confirm_data(preview))
    timings.append(Timing("confirm", [time.perf_counter() - began], status=confirm.status_code))
    return timings, Trigger.objects.count()


def export_csv(client: Any) -> bytes:
    from djtriggers.resources import TriggerResource

    columns = [field.column_name for field in TriggerResource().get_user_visible_fields()]
    data = {"format": "0", "resource": "0", **{f"triggerresource_{c}": "on" for c in columns}}
    response = client.post(f"{URL}export/", data)
    assert response.status_code == 200, response.status_code
    return b"".join(response.streaming_content)


def spoil(content: bytes) -> bytes:
    """The file with every tenth row's trigger type unknown."""
    lines = content.decode().split("\r\n")
    for i in range(1, len(lines), 10):
        lines[i] = lines[i].replace(",noop,", ",no-such-type,", 1)
    return "\r\n".join(lines).encode()


def upload(client: Any, content: bytes, *, keep: bool = False) -> Any:
    """The preview of ``content``; its stored upload is removed unless it is to be confirmed."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    file = SimpleUploadedFile("triggers.csv", content, content_type="text/csv")
    response = client.post(f"{URL}import/", {"format": "0", "resource": "0", "import_file": file})
    if not keep:
        remove_stored_upload(response)
    return response


def confirm_data(response: Any) -> dict[str, str]:
    """The hidden fields of the page's confirmation form (empty: the page offers none)."""
    html = response.content.decode()
    start = html.find('action="/admin/djtriggers/trigger/process_import/"')
    if start < 0:
        return {}
    form = html[start : html.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def remove_stored_upload(response: Any) -> None:
    """django-import-export keeps each previewed upload in a temp file until it is confirmed."""
    name = confirm_data(response).get("import_file_name")
    if name:
        Path(tempfile.gettempdir(), name).unlink(missing_ok=True)


def time_preview(client: Any, label: str, content: bytes, runs: int, warmups: int) -> Timing:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timing = Timing(label)
    for _ in range(warmups):
        upload(client, content)
    for _ in range(runs):
        began = time.perf_counter()
        response = upload(client, content)
        timing.seconds.append(time.perf_counter() - began)
    with CaptureQueriesContext(connection) as captured:
        response = upload(client, content)
    timing.queries = len(captured.captured_queries)
    timing.html_bytes = len(response.content)
    timing.status = response.status_code
    timing.confirmable = bool(confirm_data(response))
    return timing


# --- report ----------------------------------------------------------------------------


def report(timings: list[Timing], created: int, args: Any) -> str:
    lines = [f"{'file':<12} {'median':>8} {'min':>8} {'max':>8} {'html bytes':>11} {'queries':>8}"]
    problems = []
    for timing in timings[:2]:
        lines.append(
            f"{timing.name:<12} {timing.median:7.3f}s {min(timing.seconds):7.3f}s "
            f"{max(timing.seconds):7.3f}s {timing.html_bytes:>11,} {timing.queries:>8}"
        )
        if timing.status != 200:
            problems.append(f"The preview of the {timing.name} answered {timing.status}.")
    valid, invalid, confirm = timings
    if not valid.confirmable:
        problems.append("The preview of the valid file offers no confirmation.")
    if invalid.confirmable:
        problems.append("The preview of the invalid file offers a confirmation.")
    if confirm.status != 302 or created != args.rows:
        problems.append(f"The confirmation answered {confirm.status} and created {created:,}.")
    met = valid.median < GOAL_S and not problems
    lines += [
        f"{'confirm':<12} {confirm.seconds[0]:7.3f}s  "
        f"created {created:,} of {args.rows:,} triggers",
        "",
        f"Goal: the preview of {args.rows:,} valid rows under {GOAL_S:g} s: "
        f"{'met' if met else 'NOT MET'}.",
        f"Wall time of one in-process request (test Client, superuser), median of {args.runs} "
        f"after {args.warmups} warm-up(s); html bytes and queries: one more request. "
        f"The file: {args.rows:,} triggers in every status exported as CSV "
        f"({', '.join(f'{share}% {status}' for status, share in MIX.items())}, the rest "
        f"processed); the invalid file has an unknown type on every tenth row. "
        f"{args.db}, Django {django_version()}, Python {platform.python_version()}; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
        *problems,
    ]
    return "\n".join(lines)


def django_version() -> str:
    import django

    return django.get_version()


def save(timings: list[Timing], created: int, args: Any) -> None:
    folder = BENCH / "results"
    folder.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = {
        "rows": args.rows,
        "runs": args.runs,
        "db": args.db,
        "created": created,
        "timings": [timing.__dict__ for timing in timings],
    }
    path = folder / f"import_preview-{stamp}.json"
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"Saved to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
