"""The demo: `load_demo_triggers` fills every status, and `demo/run.py` serves and stops."""

import io
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.request import urlopen

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.test import override_settings

from djtriggers.models import Status, Trigger

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo_app(transactional_db):
    """The demo app in place of the test app (both define typed = "breakfast")."""
    installed = [app for app in settings.INSTALLED_APPS if app != "tests.testapp"]
    with override_settings(INSTALLED_APPS=[*installed, "demo.triggers_demo"]):
        # Swapping apps keeps the models' cached relations (Trigger's subclasses
        # included) unless the ready registry clears them.
        apps.clear_cache()
        call_command("migrate", "triggers_demo", verbosity=0)
        yield
        Trigger._base_manager.all().delete()
        call_command("migrate", "triggers_demo", "zero", verbosity=0)
        # The admin's autodiscovery registered the demo's models on the admin site;
        # left there, they break every later admin page (no such app once restored).
        for model in apps.get_app_config("triggers_demo").get_models():
            if admin.site.is_registered(model):
                admin.site.unregister(model)
    apps.clear_cache()


def load(**options) -> str:
    out = io.StringIO()
    call_command("load_demo_triggers", stdout=out, **options)
    return out.getvalue()


def test_load_demo_triggers__loads_every_status_and_every_demo_type(demo_app):
    from demo.triggers_demo import models as demo_models

    load()

    counts = Trigger.objects.status_counts()
    assert all(counts[status] for status in Status.values), counts
    demo_types = {
        model.typed
        for model in vars(demo_models).values()
        if isinstance(model, type) and issubclass(model, Trigger) and model is not Trigger
    }
    assert demo_types <= set(Trigger.objects.values_list("trigger_type", flat=True))


def test_load_demo_triggers__failed_samples_have_their_tracebacks(demo_app):
    load()

    for trigger in Trigger.objects.failed():
        assert trigger.last_error
        assert trigger.attempts.count() == trigger.number_of_tries
        assert "Traceback" in trigger.attempts.first().traceback


def test_load_demo_triggers__a_bill_failed_on_bad_data_is_fixed_and_retried(demo_app):
    from demo.triggers_demo.models import PayBill
    from djtriggers import corrections

    load()

    bill = PayBill.objects.get(source__startswith="invoice$2026-118")
    assert (bill.status, bill.amount) == ("failed", 12000)
    assert "balance too low to pay 12000" in bill.last_error
    bill.amount = 120
    corrections.save(bill, ["amount"], reprocess=True)
    bill = PayBill.objects.get(pk=bill.pk)
    assert bill.status == "due"
    bill.process()
    assert bill.status == "processed"


def test_load_demo_triggers__keeps_existing_triggers_unless_reset(demo_app):
    load()
    first = set(Trigger.objects.values_list("pk", flat=True))

    assert "Kept the" in load()
    assert set(Trigger.objects.values_list("pk", flat=True)) == first

    assert "Loaded" in load(reset=True)
    again = set(Trigger.objects.values_list("pk", flat=True))
    assert again and not again & first


only_once = pytest.mark.skipif(
    os.environ.get("DJTRIGGERS_TEST_DB", "sqlite") != "sqlite",
    reason="the demo runs on SQLite whatever the suite's database",
)


@pytest.mark.slow
@only_once
def test_run__serves_the_admin_runs_the_worker_and_stops_on_sigterm(tmp_path):
    db = tmp_path / "demo.sqlite3"
    (tmp_path / "demo_smoke_settings.py").write_text(
        f"from demo.settings import *  # noqa\n\nDATABASES['default']['NAME'] = {str(db)!r}\n"
    )
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "demo_smoke_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    demo = subprocess.Popen(
        [sys.executable, str(ROOT / "demo" / "run.py"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in demo.stdout], daemon=True)
    reader.start()
    try:
        wait_for_line(lines, f"http://127.0.0.1:{port}/admin/ (the admin)")
        with urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=10) as response:
            assert response.status == 200
        wait_until(lambda: count(db, "djtriggers_trigger WHERE state = 'processed'") > 7)

        demo.send_signal(signal.SIGTERM)
        assert demo.wait(timeout=40) == 0
    finally:
        if demo.poll() is None:  # SIGTERM first: run.py stops its children, SIGKILL would not
            demo.send_signal(signal.SIGTERM)
            try:
                demo.wait(timeout=40)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
        reader.join(timeout=10)  # EOF once the demo's children are gone too
        demo.stdout.close()
    assert count(db, "djtriggers_worker") == 0  # the worker shut down cleanly
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_line(lines: "queue.Queue[str]", text: str, timeout: float = 60) -> None:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return
    pytest.fail(f"{text!r} not printed in {timeout}s; output:\n{''.join(seen)}")


def wait_until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def count(db: Path, table_and_where: str) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute(f"SELECT count(*) FROM {table_and_where}").fetchone()[0]


def test_load_demo_triggers__a_paused_type_with_a_backlog_and_a_limited_type(demo_app):
    from demo.triggers_demo.models import RateLimitedExport
    from djtriggers import controls

    load()

    [paused] = controls.paused_with_backlog()
    assert paused.trigger_type == "partner_sync"
    assert paused.due == 8
    assert "Partner API down" in paused.row.reason
    assert controls.limits() == {"rate_limited_export": 2}
    assert RateLimitedExport.objects.due().count() == 6
    load(reset=True)
    assert controls.paused_types() == {"partner_sync"}


def test_load_demo_triggers__priorities_and_a_unique_key(demo_app):
    load()

    priorities = set(Trigger.objects.values_list("priority", flat=True))
    assert {0, 1, 5, 9} <= priorities
    syncs = Trigger.objects.filter(trigger_type="sync_customer")
    assert syncs.filter(source="customer$42").count() == 1  # the second returned the first
    assert sorted(syncs.filter(source="customer$7").values_list("state", flat=True)) == [
        "cancelled",
        "scheduled",
    ]


def test_load_demo_triggers__a_schedule_with_a_next_and_last_run_and_outcome(demo_app):
    from djtriggers import schedules
    from djtriggers.models import Schedule

    load()

    beat = schedules.with_outcomes(Schedule.objects.filter(trigger_type="heartbeat")).get()
    assert beat.declared and beat.enabled
    assert beat.next_run_at > beat.last_run_at
    assert schedules.outcome(beat) == Status.PROCESSED
    report = Schedule.objects.get(trigger_type="monthly_report")
    assert not report.enabled and report.declared is None
    assert schedules.history(report).get().reason.startswith("Finance")


def test_load_demo_triggers__an_hour_of_history_for_the_throughput_chart_and_lag(demo_app):
    from datetime import timedelta

    from django.utils import timezone

    from djtriggers import counts

    load()

    now = timezone.now()
    tries = counts.tries_per_minute(now - timedelta(hours=1), now)
    assert sum("success" in outcomes for outcomes in tries.values()) >= 55  # nearly every minute
    assert sum("failure" in outcomes for outcomes in tries.values()) >= 10
    lags = [
        trigger.date_processed - trigger.process_after
        for trigger in Trigger.objects.filter(source__startswith="kitchen$earlier-")
    ]
    assert len(lags) > 100
    assert min(lags) >= timedelta(0) and max(lags) > timedelta(seconds=60)


def test_load_demo_triggers__dispatched_triggers_one_past_its_deadline(demo_app):
    from djtriggers import dispatch

    load()

    waiting = dispatch.in_flight()
    assert (waiting.count, waiting.overdue) == (3, 1)
    running = Trigger.objects.running().exclude(dispatch.dispatched_q())
    assert running.count() == 1  # the crashed worker's
