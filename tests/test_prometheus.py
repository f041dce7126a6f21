"""Prometheus metrics (djtriggers.prometheus, djtriggers.views, run_triggers --metrics-port).

Counters and histograms live in this process's prometheus_client REGISTRY for
the whole session, so the in-process tests compare values before and after.
The real processes (a worker serving its port, two processes writing to one
multiprocess directory) are scraped over HTTP and parsed with prometheus_client's
own parser.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.test import Client
from django.urls import path
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families

from djtriggers import actions, prometheus, signals, views
from djtriggers.checks import check_settings
from djtriggers.management.commands._options import metrics_address
from djtriggers.models import Trigger
from djtriggers.worker import TriggerWorker
from tests.factories import (
    cancelled,
    dispatched,
    due,
    failed,
    make,
    pending,
    processed,
    running,
    worker,
)
from tests.testapp.models import (
    BreakfastTrigger,
    CountingTrigger,
    FailingTrigger,
    LaterTrigger,
    NoopTrigger,
)
from tests.workers import ROOT, all_in_state, create_counting, wait_for

# The login-free view, routed as a project routes it (``pytest.mark.urls(__name__)``).
URL = "/metrics"
urlpatterns = [path("metrics", views.metrics)]
SERVING = re.compile(r"Serving Prometheus metrics on http://127\.0\.0\.1:(\d+)/metrics")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels (prometheus_client's parser)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def value(name: str, **labels: str) -> float:
    """This process's current value (0 for a series not created yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def tries(typed: str, outcome: str) -> float:
    return value("djtriggers_tries_total", trigger_type=typed, outcome=outcome)


def scrape(port: int) -> Samples:
    with urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return parse(response.read().decode())


def gauges() -> Samples:
    """A scrape of the database gauges alone."""
    registry = CollectorRegistry()
    registry.register(prometheus.DatabaseCollector())
    return parse(generate_latest(registry).decode())


@pytest.fixture
def enabled(settings: Any) -> None:
    settings.DJTRIGGERS_PROMETHEUS = True


@pytest.fixture
def without_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if prometheus_client were not installed: found nowhere, and its import fails."""
    monkeypatch.setitem(sys.modules, "prometheus_client", None)


@pytest.fixture
def stopped_receiver() -> Iterator[Any]:
    """Connect a receiver of ``worker_stopped`` for the test."""
    connected: list[Any] = []

    def connect(receiver: Any) -> None:
        signals.worker_stopped.connect(receiver, weak=False)
        connected.append(receiver)

    yield connect
    for receiver in connected:
        signals.worker_stopped.disconnect(receiver)


def send_try(
    signal: Any, trigger: Trigger, *, seconds: float = 0.2, delay: float = 3, **extra: Any
):
    signals.send(
        signal,
        type(trigger),
        trigger=trigger,
        worker="w1",
        duration=timedelta(seconds=seconds),
        start_delay=timedelta(seconds=delay),
        **extra,
    )


# --- enabling ---------------------------------------------------------------------------

RECEIVED = [signal for signal, _ in prometheus.RECEIVERS]


def test_off__no_receivers_on_the_hot_path(settings):
    settings.DJTRIGGERS_PROMETHEUS = True
    assert all(signal.has_listeners(NoopTrigger) for signal in RECEIVED)
    settings.DJTRIGGERS_PROMETHEUS = False
    assert not any(signal.has_listeners(NoopTrigger) for signal in RECEIVED)
    assert prometheus.problem() == prometheus.OFF


def test_other_settings__leave_the_receivers_alone(enabled, settings):
    settings.DJTRIGGERS_BATCH_SIZE = 7
    assert signals.trigger_processed.has_listeners(NoopTrigger)


@pytest.mark.usefixtures("without_prometheus_client")
def test_without_prometheus_client__nothing_is_connected(settings):
    settings.DJTRIGGERS_PROMETHEUS = True
    assert prometheus.problem() == prometheus.MISSING
    assert not any(signal.has_listeners(NoopTrigger) for signal in RECEIVED)


@pytest.mark.parametrize(("enable", "imported"), [("", False), ("1", True)])
def test_the_core__imports_prometheus_client_only_when_enabled(enable, imported):
    script = (
        "import sys, django; django.setup(); "
        "import djtriggers.views, djtriggers.management.commands.run_triggers; "
        "print('prometheus_client' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("DJTRIGGERS_TEST_PROMETHEUS", None)
    if enable:
        env["DJTRIGGERS_TEST_PROMETHEUS"] = enable
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(imported)


# --- counters and histograms, from the signals ------------------------------------------


@pytest.mark.django_db
@pytest.mark.usefixtures("enabled")
def test_tries__counted_by_type_and_outcome_once_each():
    trigger = due(NoopTrigger)
    before = {outcome: tries("noop", outcome) for outcome in prometheus.OUTCOMES}
    send_try(signals.trigger_processed, trigger)
    send_try(signals.trigger_try_failed, trigger, error="E: x", gives_up=False)
    send_try(signals.trigger_try_failed, trigger, error="E: x", gives_up=True)
    send_try(signals.trigger_failed, trigger, error="E: x")  # the same try: not counted again
    send_try(signals.trigger_rescheduled, trigger, process_after=timezone.now())
    assert {outcome: tries("noop", outcome) - before[outcome] for outcome in before} == {
        "processed": 1,
        "retried": 1,
        "failed": 1,
        "rescheduled": 1,
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("enabled")
def test_histograms__duration_and_start_delay_by_type_in_their_buckets():
    trigger = due(BreakfastTrigger)
    name, delay = "djtriggers_try_duration_seconds", "djtriggers_start_delay_seconds"
    labels = {"trigger_type": "breakfast"}
    before = {
        key: value(key, **labels)
        for key in (f"{name}_count", f"{name}_sum", f"{delay}_count", f"{delay}_sum")
    }
    buckets = {le: value(f"{delay}_bucket", le=le, **labels) for le in ("2.5", "5.0", "+Inf")}
    send_try(signals.trigger_processed, trigger, seconds=0.2, delay=3)
    assert value(f"{name}_count", **labels) - before[f"{name}_count"] == 1
    assert value(f"{name}_sum", **labels) - before[f"{name}_sum"] == pytest.approx(0.2)
    assert value(f"{delay}_count", **labels) - before[f"{delay}_count"] == 1
    assert value(f"{delay}_sum", **labels) - before[f"{delay}_sum"] == pytest.approx(3)
    assert {le: value(f"{delay}_bucket", le=le, **labels) - n for le, n in buckets.items()} == {
        "2.5": 0,
        "5.0": 1,
        "+Inf": 1,
    }


def test_buckets__from_milliseconds_to_hours():
    assert prometheus.DURATION_BUCKETS[0] == 0.001
    assert prometheus.DURATION_BUCKETS[-1] == 3600
    assert prometheus.DELAY_BUCKETS[0] == 0.01
    assert prometheus.DELAY_BUCKETS[-1] == 86400
    for buckets in (prometheus.DURATION_BUCKETS, prometheus.DELAY_BUCKETS):
        assert list(buckets) == sorted(set(buckets))


@pytest.mark.usefixtures("enabled")
def test_tries__every_known_type_and_outcome_starts_at_zero():
    for outcome in prometheus.OUTCOMES:
        assert (
            REGISTRY.get_sample_value(
                "djtriggers_tries_total", {"trigger_type": "scripted", "outcome": outcome}
            )
            is not None
        )


@pytest.mark.usefixtures("enabled")
def test_leases_lost_and_operator_actions__counted():
    lost = value("djtriggers_leases_lost_total")
    acted = value("djtriggers_operator_actions_total", action="cancel")
    changed = value("djtriggers_operator_action_triggers_total", action="cancel")
    signals.send(signals.lease_lost, Trigger, pks=[1, 2, 3], worker="dead", found_by="w2")
    signals.send(signals.operator_action, Trigger, action="cancel", user=None, changed=4, skipped=1)
    assert value("djtriggers_leases_lost_total") - lost == 3
    assert value("djtriggers_operator_actions_total", action="cancel") - acted == 1
    assert value("djtriggers_operator_action_triggers_total", action="cancel") - changed == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("enabled")
def test_a_worker_in_process_and_an_operator__counted(settings):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 2
    before = {
        "noop": tries("noop", "processed"),
        "retried": tries("failing", "retried"),
        "failed": tries("failing", "failed"),
        "later": tries("later", "rescheduled"),
        "reprocess": value("djtriggers_operator_action_triggers_total", action="reprocess"),
    }
    due(NoopTrigger)
    due(FailingTrigger)
    due(LaterTrigger)
    when = timezone.now() + timedelta(hours=1)
    TriggerWorker(burst=True, dictionary={"when": when}).run()
    TriggerWorker(burst=True).run()  # the retry: the tests' retry delay is 0
    actions.perform("reprocess", Trigger.objects.filter(trigger_type="failing"))
    assert {
        "noop": tries("noop", "processed"),
        "retried": tries("failing", "retried"),
        "failed": tries("failing", "failed"),
        "later": tries("later", "rescheduled"),
        "reprocess": value("djtriggers_operator_action_triggers_total", action="reprocess"),
    } == {key: n + 1 for key, n in before.items()}


# --- gauges, read from the database when scraped -----------------------------------------


@pytest.mark.django_db
def test_gauges__live_triggers_by_type_and_status_oldest_due_and_heartbeats():
    now = timezone.now()
    make(2, NoopTrigger, process_after=now - timedelta(minutes=10))
    due(NoopTrigger, process_after=None, date_received=now - timedelta(minutes=20))  # 2.x way
    pending(NoopTrigger)
    running(NoopTrigger)
    failed(NoopTrigger)
    cancelled(NoopTrigger)
    processed(NoopTrigger)  # never counted
    due(BreakfastTrigger, process_after=now - timedelta(minutes=3))
    Trigger.objects.create(trigger_type="gone", process_after=now + timedelta(days=1))
    worker("w1", seconds_ago=7)
    worker("w2", seconds_ago=120)
    samples = gauges()

    def count(typed: str, status: str) -> float | None:
        return sample(samples, "djtriggers_triggers", trigger_type=typed, status=status)

    assert [count("noop", s) for s in ("pending", "due", "running", "failed", "cancelled")] == [
        1,
        3,
        1,
        1,
        1,
    ]
    assert count("noop", "processed") is None
    assert count("breakfast", "due") == 1
    assert count("gone", "pending") == 1  # a type without a class still shows
    assert count("counting", "due") == 0  # every known type, from 0
    age = "djtriggers_oldest_due_age_seconds"
    assert 20 * 60 <= sample(samples, age, trigger_type="noop") < 21 * 60
    assert 3 * 60 <= sample(samples, age, trigger_type="breakfast") < 4 * 60
    assert sample(samples, age, trigger_type="counting") == 0
    assert sample(samples, age, trigger_type="gone") == 0
    heartbeat = "djtriggers_worker_heartbeat_age_seconds"
    assert 7 <= sample(samples, heartbeat, worker="w1") < 60
    assert 120 <= sample(samples, heartbeat, worker="w2") < 180
    assert sample(samples, "djtriggers_database_up") == 1


@pytest.mark.django_db
def test_gauges__the_oldest_due_of_a_type_is_whichever_waited_longest():
    now = timezone.now()
    due(NoopTrigger, process_after=now - timedelta(hours=2))
    due(NoopTrigger, process_after=None, date_received=now - timedelta(minutes=1))
    age = sample(gauges(), "djtriggers_oldest_due_age_seconds", trigger_type="noop")
    assert 2 * 3600 <= age < 2 * 3600 + 60


@pytest.mark.django_db
def test_gauges__a_heartbeat_from_a_clock_ahead_is_age_0():
    worker("ahead", seconds_ago=-30)
    assert sample(gauges(), "djtriggers_worker_heartbeat_age_seconds", worker="ahead") == 0


@pytest.mark.django_db
def test_gauges__four_queries_however_many_triggers_and_workers(django_assert_num_queries):
    collector = prometheus.DatabaseCollector()
    # The counters, the due rows and those without a time, the workers.
    with django_assert_num_queries(4):
        list(collector.collect())
    make(50, NoopTrigger)
    due(NoopTrigger, process_after=None)
    for i in range(5):
        pending(BreakfastTrigger)
        worker(f"w{i}")
    failed(FailingTrigger)
    with django_assert_num_queries(4):
        list(collector.collect())
    # While triggers run: are any of them dispatched? (And if so, how many are overdue?)
    for i in range(5):
        running(BreakfastTrigger, worker=f"w{i}")
    with django_assert_num_queries(5):
        list(collector.collect())
    for i in range(5):
        dispatched(NoopTrigger, token=f"t{i}")
    with django_assert_num_queries(6):
        list(collector.collect())


@pytest.mark.django_db
def test_gauges__dispatched_not_started_and_past_their_deadline():
    now = timezone.now()
    assert sample(gauges(), "djtriggers_dispatched_triggers") == 0
    assert sample(gauges(), "djtriggers_dispatched_overdue_triggers") == 0
    running(NoopTrigger)  # a worker's: not dispatched
    dispatched(NoopTrigger, token="a")
    dispatched(BreakfastTrigger, token="a", deadline=now - timedelta(seconds=5))
    dispatched(NoopTrigger, token="b", deadline=now - timedelta(minutes=5))
    samples = gauges()
    assert sample(samples, "djtriggers_dispatched_triggers") == 3
    assert sample(samples, "djtriggers_dispatched_overdue_triggers") == 2
    running_noop = sample(samples, "djtriggers_triggers", trigger_type="noop", status="running")
    assert running_noop == 3  # still running, as stored


@pytest.mark.django_db
def test_gauges__registering_the_collector_runs_no_query(django_assert_num_queries):
    registry = CollectorRegistry(auto_describe=True)
    with django_assert_num_queries(0):
        registry.register(prometheus.DatabaseCollector())


@pytest.mark.django_db
def test_gauges__a_database_error_is_database_up_0_and_logged(caplog):
    with mock.patch.object(prometheus.Snapshot, "read", side_effect=DatabaseError("gone away")):
        samples = gauges()
    assert samples == {("djtriggers_database_up", frozenset()): 0}
    assert "could not read the database" in caplog.text


# --- the scrape view (djtriggers.views.metrics) -------------------------------------------

pytest_urls = pytest.mark.urls(__name__)


@pytest_urls
@pytest.mark.django_db
def test_view__off_is_404_saying_how_to_turn_it_on(client: Client):
    response = client.get(URL)
    assert response.status_code == 404
    assert response.content.decode() == prometheus.OFF


@pytest_urls
@pytest.mark.usefixtures("without_prometheus_client")
def test_view__without_prometheus_client_is_501_saying_what_to_install(client, settings):
    settings.DJTRIGGERS_PROMETHEUS = True
    response = client.get(URL)
    assert response.status_code == 501
    assert 'pip install "django-triggers[prometheus]"' in response.content.decode()


@pytest_urls
@pytest.mark.django_db
@pytest.mark.usefixtures("enabled")
def test_view__no_login_the_text_format_with_counters_and_gauges(client: Client):
    due(NoopTrigger)
    response = client.get(URL)
    assert response.status_code == 200
    # What prometheus_client's own server answers a scraper that asks for no format.
    assert response["Content-Type"] == choose_encoder("")[1]
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = parse(response.content.decode())
    assert sample(samples, "djtriggers_triggers", trigger_type="noop", status="due") == 1
    assert sample(samples, "djtriggers_tries_total", trigger_type="noop", outcome="processed") >= 0
    assert sample(samples, "djtriggers_database_up") == 1
    # prometheus_client's default collectors come along, as in any Python exporter.
    assert any(name.startswith("process_") or name.startswith("python_") for name, _ in samples)


@pytest_urls
@pytest.mark.django_db
@pytest.mark.usefixtures("enabled")
def test_view__openmetrics_when_the_scraper_asks(client: Client):
    response = client.get(URL, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.decode().endswith("# EOF\n")


@pytest_urls
@pytest.mark.usefixtures("enabled")
def test_view__get_only(client: Client):
    assert client.post(URL).status_code == 405


@pytest_urls
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("enabled")
def test_multiprocess__the_view_sums_the_counters_of_every_process(
    client, workers, tmp_path, monkeypatch
):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "DJTRIGGERS_TEST_PROMETHEUS": "1"}
    make(2, NoopTrigger)
    assert workers.run(command="process_triggers", **env).wait() == 0
    make(3, NoopTrigger)
    assert workers.run(command="process_triggers", **env).wait() == 0
    assert len(list(directory.glob("counter_*.db"))) == 2  # one file per process
    # This process imported prometheus_client without the directory: the view
    # reads it because the variable is set when it scrapes, as in a web process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    samples = parse(client.get(URL).content.decode())
    labels = {"trigger_type": "noop"}
    assert sample(samples, "djtriggers_tries_total", outcome="processed", **labels) == 5
    assert sample(samples, "djtriggers_try_duration_seconds_count", **labels) == 5
    assert sample(samples, "djtriggers_start_delay_seconds_bucket", le="+Inf", **labels) == 5
    assert sample(samples, "djtriggers_triggers", status="due", **labels) == 0  # and the gauges


# --- the system check ----------------------------------------------------------------------


@pytest.mark.usefixtures("without_prometheus_client")
def test_check__prometheus_without_the_package_warns_w011(settings):
    settings.DJTRIGGERS_PROMETHEUS = True
    [warning] = check_settings()
    assert (warning.id, warning.level) == ("djtriggers.W011", logging.WARNING)
    assert 'pip install "django-triggers[prometheus]"' in warning.hint


@pytest.mark.usefixtures("without_prometheus_client")
def test_check__off_without_the_package_is_fine(settings):
    settings.DJTRIGGERS_PROMETHEUS = False
    assert check_settings() == []


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_check__not_a_bool_is_e003(settings, value):
    settings.DJTRIGGERS_PROMETHEUS = value
    [error] = check_settings()
    assert error.id == "djtriggers.E003"
    assert "DJTRIGGERS_PROMETHEUS" in error.msg
    assert "True or False" in error.msg


# --- run_triggers --metrics-port --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("9100", ("0.0.0.0", 9100)),
        ("127.0.0.1:0", ("127.0.0.1", 0)),
        ("[::1]:65535", ("::1", 65535)),
        (":9100", ("0.0.0.0", 9100)),
    ],
)
def test_metrics_port__port_or_address_and_port(text, parsed):
    assert metrics_address(text) == parsed


@pytest.mark.parametrize("text", ["", "abc", "65536", "-1", "host:", "1.5", "\u0663", "9100:x"])
def test_metrics_port__anything_else_is_refused_saying_what_fits(text):
    with pytest.raises(argparse.ArgumentTypeError, match="the port is a whole number from 0 to"):
        metrics_address(text)


@pytest.mark.django_db
def test_metrics_port__off_is_a_command_error_saying_how_to_turn_it_on():
    with pytest.raises(CommandError, match=re.escape(prometheus.OFF)):
        call_command("run_triggers", "--metrics-port", "127.0.0.1:0", "--max-runtime", "1")


@pytest.mark.django_db
@pytest.mark.usefixtures("enabled")
def test_metrics_port__taken_is_a_command_error_saying_what_to_do():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match=rf"Cannot serve metrics on 127\.0\.0\.1:{port}: "):
            call_command("run_triggers", "--metrics-port", f"127.0.0.1:{port}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("enabled")
def test_metrics_port__served_while_the_worker_runs_then_closed(caplog, stopped_receiver):
    caplog.set_level(logging.INFO, logger="djtriggers.prometheus")
    scraped: list[tuple[int, Samples]] = []

    def scrape_before_it_stops(sender: Any, **kwargs: Any) -> None:
        port = int(SERVING.search(caplog.text)[1])
        scraped.append((port, scrape(port)))

    stopped_receiver(scrape_before_it_stops)
    before = tries("noop", "processed")
    due(NoopTrigger)
    call_command("run_triggers", "--metrics-port", "127.0.0.1:0", "--max-triggers", "1", "-v", "0")
    [(port, samples)] = scraped
    assert sample(samples, "djtriggers_tries_total", trigger_type="noop", outcome="processed") == (
        before + 1
    )
    assert sample(samples, "djtriggers_triggers", trigger_type="noop", status="due") is None
    with pytest.raises(URLError):
        scrape(port)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.urls(__name__)
@pytest.mark.usefixtures("enabled")
def test_a_real_worker_process__its_port_and_the_view_show_what_it_did(workers, client):
    pks = create_counting(3)
    failing = due(FailingTrigger)
    process = workers.start("--metrics-port", "127.0.0.1:0", DJTRIGGERS_TEST_PROMETHEUS="1")
    match = wait_for(lambda: SERVING.search(process.stderr), what="the worker's metrics port")
    port = int(match[1])
    wait_for(lambda: all_in_state(pks, "processed"), what="the counting triggers")
    wait_for(lambda: all_in_state([failing.pk], "failed"), what="the failing trigger")

    def counted() -> Samples | None:
        samples = scrape(port)
        done = sample(samples, "djtriggers_tries_total", trigger_type="failing", outcome="failed")
        return samples if done == 1 else None

    samples = wait_for(counted, what="the worker's counters")
    assert {
        (typed, outcome): sample(
            samples, "djtriggers_tries_total", trigger_type=typed, outcome=outcome
        )
        for typed, outcome in [
            ("counting", "processed"),
            ("failing", "retried"),
            ("failing", "failed"),
            ("failing", "processed"),
        ]
    } == {
        ("counting", "processed"): 3,
        ("failing", "retried"): 4,  # DJTRIGGERS_TRIES_BEFORE_ERROR: 5 tries
        ("failing", "failed"): 1,
        ("failing", "processed"): 0,
    }
    duration = "djtriggers_try_duration_seconds_count"
    assert sample(samples, duration, trigger_type="counting") == 3
    assert sample(samples, duration, trigger_type="failing") == 5
    assert sample(samples, "djtriggers_start_delay_seconds_count", trigger_type="failing") == 5
    # The worker's port serves its own counters; the database's gauges are the view's.
    assert sample(samples, "djtriggers_database_up") is None
    view = parse(client.get(URL).content.decode())
    assert sample(view, "djtriggers_triggers", trigger_type="failing", status="failed") == 1
    assert sample(view, "djtriggers_triggers", trigger_type="counting", status="due") == 0
    assert sample(view, "djtriggers_worker_heartbeat_age_seconds", worker="worker-1") < 60
    assert process.stop() == 0
    assert CountingTrigger.objects.count() == 3
