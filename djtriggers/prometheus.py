"""Prometheus metrics: ``DJTRIGGERS_PROMETHEUS = True`` and ``django-triggers[prometheus]``.

Two kinds, from two sources:

- What workers did, counted in the process that did it: ``djtriggers_tries_total``
  and two histograms, fed by the signals of ``signals.py`` (and the operators'
  actions and lost leases). The receivers are connected only while the setting
  is True and prometheus_client is installed: otherwise the hot path pays
  nothing, and nothing imports prometheus_client (it is imported in this module
  only, and only once enabled).
- What the database holds, read when scraped (``DatabaseCollector``): triggers
  waiting, running and failed per type, how long the oldest due one has
  waited, each worker's heartbeat age. Every process sees the same database,
  so these are served by the scrape view only, never by a worker's own port
  (every worker would repeat them).

A worker is a process of its own, often on another host, so its counters must
reach the scraper. Two ways (README, "Prometheus"):

- prometheus_client's multiprocess mode, for every process of a host (web
  and workers) started with the same ``PROMETHEUS_MULTIPROC_DIR``: each writes
  its counters to files there, and the view sums those of all of them, living
  and gone, so counters stay monotonic across restarts (wipe the directory
  when the deployment starts, as prometheus_client asks).
- ``run_triggers --metrics-port``: the worker serves its own counters over
  HTTP; Prometheus scrapes each worker and ``sum()`` adds them up. For workers
  on hosts without a web process.

Labels are bounded: trigger type, outcome, operator action, and worker name
(only on the heartbeat gauge: a worker deletes its row when it stops, and rows
of workers that died are cleaned away after an hour). Each worker is told apart
by the ``instance`` label the scraper adds, not by a label of ours.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import DatabaseError
from django.utils import timezone

from . import counts, dispatch, signals
from .conf import settings
from .dispatch import InFlight
from .lifecycle import Status
from .models import Worker
from .registry import trigger_types

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram
    from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("djtriggers.prometheus")

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
OFF = "Prometheus metrics are off: set DJTRIGGERS_PROMETHEUS = True."
MISSING = (
    "DJTRIGGERS_PROMETHEUS is True but prometheus_client is not installed: "
    'pip install "django-triggers[prometheus]".'
)

# A try's outcome (the ``outcome`` label of djtriggers_tries_total).
PROCESSED, RETRIED, FAILED, RESCHEDULED = "processed", "retried", "failed", "rescheduled"
OUTCOMES = (PROCESSED, RETRIED, FAILED, RESCHEDULED)
# From a millisecond to an hour: fast triggers, slow ones, and stuck ones.
DURATION_BUCKETS = (
    *(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    *(1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600),
)
# From 10 ms (a busy worker) past the poll interval to a day behind.
DELAY_BUCKETS = (
    *(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    *(120, 300, 600, 1800, 3600, 7200, 21600, 86400),
)
# The statuses counted at scrape time: every one but processed (the bulk of a
# large table, which only a full index scan could count).
GAUGE_STATUSES = tuple(status for status in Status.values if status != Status.PROCESSED)


def available() -> bool:
    """prometheus_client is installed (found, not imported)."""
    return importlib.util.find_spec("prometheus_client") is not None


def problem() -> str | None:
    """Why this process records no metrics, with how to fix it; None when it does."""
    if settings.PROMETHEUS is not True:
        return OFF
    return None if available() else MISSING


# --- counters and histograms, fed by the signals -------------------------------------


@dataclass(frozen=True)
class Metrics:
    tries: Counter
    duration: Histogram
    start_delay: Histogram
    leases_lost: Counter
    actions: Counter
    action_triggers: Counter


@functools.cache
def metrics() -> Metrics:
    """This process's counters and histograms, created once, in prometheus_client's REGISTRY
    (so a project that already serves it, or multiprocess mode, shows them too)."""
    from prometheus_client import Counter, Histogram

    by_type = ["trigger_type"]
    tries = Counter(
        "djtriggers_tries_total",
        "Tries of triggers by type and outcome: processed (succeeded), retried (failed, "
        "will be tried again), failed (the last try failed: failed for good), rescheduled "
        "(_process raised ProcessLaterError).",
        [*by_type, "outcome"],
    )
    # Every known type and outcome from 0, so that increase() sees the first one.
    for typed in trigger_types():
        for outcome in OUTCOMES:
            tries.labels(typed, outcome)
    return Metrics(
        tries=tries,
        duration=Histogram(
            "djtriggers_try_duration_seconds",
            "How long each try of a trigger ran, whatever its outcome, by type.",
            by_type,
            buckets=DURATION_BUCKETS,
        ),
        start_delay=Histogram(
            "djtriggers_start_delay_seconds",
            "From when a trigger was due (the later of process_after and date_received) "
            "to the start of its try, by type.",
            by_type,
            buckets=DELAY_BUCKETS,
        ),
        leases_lost=Counter(
            "djtriggers_leases_lost_total",
            "Triggers taken back from a worker whose lease ended before it finished them "
            "(it died, hung or lost the database).",
        ),
        actions=Counter(
            "djtriggers_operator_actions_total",
            "Operator actions (admin, dashboard or actions.perform()), by action.",
            ["action"],
        ),
        action_triggers=Counter(
            "djtriggers_operator_action_triggers_total",
            "Triggers changed by operator actions, by action.",
            ["action"],
        ),
    )


def _tried(trigger: Any, outcome: str, duration: timedelta, start_delay: timedelta) -> None:
    recorded, typed = metrics(), str(trigger.trigger_type)
    recorded.tries.labels(typed, outcome).inc()
    recorded.duration.labels(typed).observe(duration.total_seconds())
    recorded.start_delay.labels(typed).observe(start_delay.total_seconds())


def _processed(
    sender: Any, trigger: Any, duration: timedelta, start_delay: timedelta, **_: Any
) -> None:
    _tried(trigger, PROCESSED, duration, start_delay)


def _try_failed(
    sender: Any,
    trigger: Any,
    duration: timedelta,
    start_delay: timedelta,
    gives_up: bool,
    **_: Any,
) -> None:
    # trigger_failed repeats the last of these: it is not listened to.
    _tried(trigger, FAILED if gives_up else RETRIED, duration, start_delay)


def _rescheduled(
    sender: Any, trigger: Any, duration: timedelta, start_delay: timedelta, **_: Any
) -> None:
    _tried(trigger, RESCHEDULED, duration, start_delay)


def _lease_lost(sender: Any, pks: Iterable[Any], **_: Any) -> None:
    metrics().leases_lost.inc(len(list(pks)))


def _operator_action(sender: Any, action: str, changed: int, **_: Any) -> None:
    recorded = metrics()
    recorded.actions.labels(action).inc()
    recorded.action_triggers.labels(action).inc(changed)


RECEIVERS = (
    (signals.trigger_processed, _processed),
    (signals.trigger_try_failed, _try_failed),
    (signals.trigger_rescheduled, _rescheduled),
    (signals.lease_lost, _lease_lost),
    (signals.operator_action, _operator_action),
)


def connect(**kwargs: Any) -> None:
    """Listen to the signals while DJTRIGGERS_PROMETHEUS is True and prometheus_client is
    installed (and only then)."""
    setting = kwargs.get("setting")
    if setting is not None and setting != "DJTRIGGERS_PROMETHEUS":
        return
    enabled = problem() is None
    if enabled:
        metrics()
    for signal, receiver in RECEIVERS:
        if enabled:
            signal.connect(receiver, dispatch_uid="djtriggers.prometheus")
        else:
            signal.disconnect(dispatch_uid="djtriggers.prometheus")


setting_changed.connect(connect, dispatch_uid="djtriggers.prometheus")


# --- gauges, read from the database at scrape time --------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What the database holds, in four queries that cost the same at any size of the table
    (and one or two over the running rows, while some run)."""

    counts: dict[str, dict[str, int]]  # {type: {status: count}}, every gauge status
    oldest_due: dict[str, datetime]  # {type: when its oldest due trigger became due}
    heartbeats: dict[str, datetime]  # {worker: last seen}
    dispatched: InFlight  # running, waiting for a task to start them (dispatch.py)

    @classmethod
    def read(cls, now: datetime) -> Snapshot:
        # The counters the database keeps, and the due rows along their index:
        # the same few rows read at any size of the table.
        due = counts.due_by_type(now)
        counts_by_type = {typed: dict.fromkeys(GAUGE_STATUSES, 0) for typed in trigger_types()}
        for typed, row in counts.by_status(now, due).items():
            counts_by_type[typed] = {status: row[status] for status in GAUGE_STATUSES}
        oldest_due = {typed: oldest for typed, (_, oldest) in due.items()}
        heartbeats = dict(Worker.objects.values_list("name", "last_seen").order_by())
        # No query while nothing runs; one more while some do, another if some are dispatched.
        running = sum(row[Status.RUNNING] for row in counts_by_type.values())
        waiting = dispatch.in_flight(now=now, running=running)
        return cls(
            counts=counts_by_type, oldest_due=oldest_due, heartbeats=heartbeats, dispatched=waiting
        )


def _age(now: datetime, then: datetime) -> float:
    # Never negative: another host's clock may run a little ahead.
    return max((now - then).total_seconds(), 0.0)


class DatabaseCollector:
    """The gauges read from the database, collected at each scrape (never cached).

    Each scrape runs ``Snapshot.read``'s four queries (five or six while
    triggers run). If the database fails them, ``djtriggers_database_up`` is 0
    and the other gauges are left out, so a scrape still serves the counters
    (and the failure can be alerted on).
    """

    def describe(self) -> list[GaugeMetricFamily]:
        """The names, for a registry that checks them (no query: registering stays free)."""
        return list(self._families())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        triggers, oldest, heartbeats, dispatched, overdue, up = self._families()
        try:
            snapshot = Snapshot.read(now)
        except DatabaseError:
            log.warning("The Prometheus gauges could not read the database", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        for typed in sorted(snapshot.counts):
            for status, count in snapshot.counts[typed].items():
                triggers.add_metric([typed, status], count)
            due = snapshot.oldest_due.get(typed)
            oldest.add_metric([typed], _age(now, due) if due else 0.0)
        for name, last_seen in sorted(snapshot.heartbeats.items()):
            heartbeats.add_metric([name], _age(now, last_seen))
        dispatched.add_metric([], snapshot.dispatched.count)
        overdue.add_metric([], snapshot.dispatched.overdue)
        up.add_metric([], 1)
        yield from (triggers, oldest, heartbeats, dispatched, overdue, up)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        from prometheus_client.core import GaugeMetricFamily

        return (
            GaugeMetricFamily(
                "djtriggers_triggers",
                "Triggers in the database by type and status, read at scrape time "
                "(processed ones are not counted).",
                labels=["trigger_type", "status"],
            ),
            GaugeMetricFamily(
                "djtriggers_oldest_due_age_seconds",
                "How long the oldest due trigger of each type has waited for a worker "
                "(0: none is due).",
                labels=["trigger_type"],
            ),
            GaugeMetricFamily(
                "djtriggers_worker_heartbeat_age_seconds",
                "Seconds since each worker's last heartbeat (DJTRIGGERS_HEARTBEAT_SECONDS "
                "apart while it runs).",
                labels=["worker"],
            ),
            GaugeMetricFamily(
                "djtriggers_dispatched_triggers",
                "Triggers dispatched to a task (DJTRIGGERS_DISPATCH) that no task has started "
                "yet; counted as running in djtriggers_triggers too.",
            ),
            GaugeMetricFamily(
                "djtriggers_dispatched_overdue_triggers",
                "Dispatched triggers past their deadline (DJTRIGGERS_DISPATCH_DEADLINE_SECONDS), "
                "waiting for the dispatcher to publish them again: a lost message or a busy or "
                "stopped task worker.",
            ),
            GaugeMetricFamily(
                "djtriggers_database_up",
                "1 if the scrape could read the gauges above from the database, 0 if not.",
            ),
        )


# --- exposition -------------------------------------------------------------------------


def exposition(accept: str = "") -> tuple[bytes, str]:
    """A scrape's body and content type (negotiated from ``accept``, as prometheus_client's).

    The counters are this host's in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``
    set: every process's files there, summed), else this process's (with the rest
    of prometheus_client's default REGISTRY); then the database gauges. A fresh
    registry per scrape, as multiprocess mode requires.
    """
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.exposition import choose_encoder
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if MULTIPROC_DIR in os.environ:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)
    registry.register(DatabaseCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


@contextmanager
def serving(address: str, port: int) -> Iterator[int]:
    """Serve this process's counters (prometheus_client's REGISTRY) over HTTP meanwhile.

    For ``run_triggers --metrics-port``; yields the port (a free one for 0).
    Raises ImproperlyConfigured (see ``problem()``) or OSError (the port is taken).
    """
    reason = problem()
    if reason:
        raise ImproperlyConfigured(reason)
    from prometheus_client import REGISTRY, start_http_server

    server, thread = start_http_server(port, address, registry=REGISTRY)
    log.info("Serving Prometheus metrics on http://%s:%d/metrics", address, server.server_port)
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
