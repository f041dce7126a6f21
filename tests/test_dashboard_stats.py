"""What the dashboard computes (dashboard.stats), its template filters and its system checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from dashboard import stats
from dashboard.checks import check_dashboard_requirements
from dashboard.templatetags.dashboard import duration, throughput_chart
from djtriggers.exceptions import ProcessError
from djtriggers.fingerprints import fingerprint
from djtriggers.models import Trigger, TriggerAttempt, Worker
from tests.testapp.models import BreakfastTrigger, FailingTrigger, NoopTrigger

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    # The processed column of the type matrix is cached for five minutes.
    cache.clear()
    yield
    cache.clear()


def make(n=1, cls=NoopTrigger, **fields):
    fields.setdefault("process_after", timezone.now() - timedelta(minutes=5))
    return cls.objects.bulk_create([cls(**fields) for _ in range(n)])


def every_status():
    """One or more triggers in each status: 1 pending, 2 due, 1 running, 3 failed, 2 processed,
    1 cancelled."""
    now = timezone.now()
    make(1, process_after=now + timedelta(hours=1))
    make(1)
    make(1, process_after=None)
    make(1, state="running", locked_by="w1", locked_until=now)
    make(3, state="failed", date_processed=now)
    make(2, cls=BreakfastTrigger, state="processed", date_processed=now, successful=True)
    make(1, state="cancelled", date_processed=now)


# --- counts ----------------------------------------------------------------------


def test_status_counts__six_keys_equal_to_the_models_counts():
    every_status()
    counts = stats.status_counts()
    assert list(counts) == ["pending", "due", "running", "failed", "processed", "cancelled"]
    assert counts == Trigger.objects.status_counts()
    assert counts == {
        "pending": 1,
        "due": 2,
        "running": 1,
        "failed": 3,
        "processed": 2,
        "cancelled": 1,
    }
    assert stats.counts_are_estimated(stats.table_estimate()) is False


def test_status_counts__all_zero_when_empty():
    assert stats.status_counts() == dict.fromkeys(
        ["pending", "due", "running", "failed", "processed", "cancelled"], 0
    )


def test_type_matrix__every_status_per_type_sorted():
    every_status()
    matrix = stats.type_matrix()
    assert list(matrix) == ["breakfast", "noop"]
    assert matrix["breakfast"] == {
        "pending": 0,
        "due": 0,
        "running": 0,
        "failed": 0,
        "processed": 2,
        "cancelled": 0,
    }
    assert matrix["noop"] == {
        "pending": 1,
        "due": 2,
        "running": 1,
        "failed": 3,
        "processed": 0,
        "cancelled": 1,
    }


# --- due board ----------------------------------------------------------------------


def test_due_board__lag_percentiles_over_the_last_hour():
    now = timezone.now()
    # Lags of 1..100 seconds: p50 is 50s, p95 is 95s (nearest rank).
    NoopTrigger.objects.bulk_create(
        NoopTrigger(
            state="processed",
            successful=True,
            process_after=now - timedelta(minutes=30),
            date_processed=now - timedelta(minutes=30) + timedelta(seconds=lag),
        )
        for lag in range(1, 101)
    )
    # Older than an hour: not in the sample.
    make(
        state="processed",
        process_after=now - timedelta(hours=3),
        date_processed=now - timedelta(hours=2),
    )
    [row] = stats.due_board(now)
    assert row.trigger_type == "noop"
    assert row.due == 0
    assert row.oldest_due_age is None
    assert row.processed_last_hour == 100
    assert row.lag_p50 == timedelta(seconds=50)
    assert row.lag_p95 == timedelta(seconds=95)


def test_due_board__due_count_and_oldest_per_type():
    now = timezone.now()
    make(2, process_after=now - timedelta(minutes=10))
    make(1, process_after=now - timedelta(minutes=1))
    make(1, cls=BreakfastTrigger, process_after=now - timedelta(seconds=30))
    make(1, process_after=now + timedelta(minutes=1))  # pending: not due
    board = {row.trigger_type: row for row in stats.due_board(now)}
    assert list(board) == ["breakfast", "noop"]
    assert board["noop"].due == 3
    assert board["noop"].oldest_due_age == timedelta(minutes=10)
    assert board["breakfast"].due == 1
    assert board["breakfast"].oldest_due_age == timedelta(seconds=30)
    assert board["noop"].lag_p50 is None


def test_due_board__a_trigger_without_process_after_is_due_since_it_was_received():
    now = timezone.now()
    make(process_after=None, date_received=now - timedelta(minutes=20))
    [row] = stats.due_board(now)
    assert row.due == 1
    assert row.oldest_due_age == timedelta(minutes=20)


def test_oldest_due_age_seconds():
    now = timezone.now()
    assert stats.oldest_due_age_seconds(now) is None
    make(process_after=now + timedelta(minutes=5))  # pending
    make(state="failed", process_after=now - timedelta(hours=5), date_processed=now)
    assert stats.oldest_due_age_seconds(now) is None
    make(process_after=now - timedelta(seconds=90))
    assert stats.oldest_due_age_seconds(now) == 90
    make(process_after=None, date_received=now - timedelta(seconds=120))
    assert stats.oldest_due_age_seconds(now) == 120


# --- upcoming ---------------------------------------------------------------------


def test_upcoming__pending_only_soonest_first():
    now = timezone.now()
    later = make(process_after=now + timedelta(hours=2))[0]
    sooner = make(process_after=now + timedelta(minutes=2))[0]
    make()  # due
    make(state="cancelled", process_after=now + timedelta(hours=1), date_processed=now)
    assert [t.pk for t in stats.upcoming()] == [sooner.pk, later.pk]
    assert len(stats.upcoming(limit=1)) == 1


# --- failure groups -------------------------------------------------------------------


def test_failure_groups__failures_differing_only_by_an_id_are_one_group(settings):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 1
    first, second = make(2, cls=FailingTrigger)
    for trigger in (first, second):
        with pytest.raises(ProcessError):
            trigger.process()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == second.state == "failed"
    assert first.last_error != second.last_error  # "... trigger 1" and "... trigger 2"
    assert first.error_fingerprint == second.error_fingerprint != ""
    [group] = stats.failure_groups()
    assert (group.trigger_type, group.fingerprint, group.count) == (
        "failing",
        first.error_fingerprint,
        2,
    )
    assert group.sample_pk == second.pk
    assert group.sample == second.last_error
    assert group.first_seen == first.date_processed
    assert group.last_seen == second.date_processed
    assert set(stats.failure_group_queryset("failing", group.fingerprint)) == {first, second}


def test_failure_groups__largest_first_and_limited():
    now = timezone.now()
    for n, message in [(1, "a"), (3, "b"), (2, "c")]:
        make(
            n,
            state="failed",
            date_processed=now,
            last_error=f"ValueError: {message}",
            error_fingerprint=fingerprint("noop", "ValueError", message),
        )
    make(state="scheduled", error_fingerprint="x")  # not failed
    groups = stats.failure_groups()
    assert [g.count for g in groups] == [3, 2, 1]
    assert [g.sample for g in groups] == ["ValueError: b", "ValueError: c", "ValueError: a"]
    assert len(stats.failure_groups(limit=2)) == 2


# --- workers ---------------------------------------------------------------------------


def test_workers__stale_after_a_lease_without_heartbeat(settings):
    settings.DJTRIGGERS_LEASE_SECONDS = 60
    now = timezone.now()
    Worker.objects.create(name="a", host="h1", pid=1, last_seen=now - timedelta(seconds=5))
    Worker.objects.create(
        name="b", host="h2", pid=2, last_seen=now - timedelta(minutes=5), current_trigger_id=7
    )
    fresh, stale = stats.workers(now)
    assert (fresh.name, fresh.stale, fresh.age) == ("a", False, timedelta(seconds=5))
    assert (stale.name, stale.stale) == ("b", True)
    assert stale.as_json() == {
        "name": "b",
        "host": "h2",
        "pid": 2,
        "started_at": stale.started_at.isoformat(),
        "last_seen": (now - timedelta(minutes=5)).isoformat(),
        "processed": 0,
        "failed": 0,
        "current_trigger_id": 7,
        "stale": True,
    }


# --- throughput ---------------------------------------------------------------------------


def attempt(trigger, outcome, finished_at):
    return TriggerAttempt(
        trigger=trigger,
        number=1,
        started_at=finished_at - timedelta(seconds=1),
        finished_at=finished_at,
        outcome=outcome,
    )


def test_throughput__processed_and_failed_per_minute_over_the_last_hour():
    now = timezone.now().replace(second=30, microsecond=0)
    trigger = make()[0]
    TriggerAttempt.objects.bulk_create(
        [
            attempt(trigger, "success", now),
            attempt(trigger, "success", now - timedelta(seconds=10)),
            attempt(trigger, "failure", now),
            attempt(trigger, "later", now),  # rescheduled: neither
            attempt(trigger, "success", now - timedelta(minutes=3)),
            attempt(trigger, "failure", now - timedelta(hours=2)),  # too old
        ]
    )
    data = stats.throughput(now)
    assert len(data.minutes) == len(data.processed) == len(data.failed) == 60
    assert data.minutes[-1] == now.replace(second=0)
    assert data.minutes[0] == now.replace(second=0) - timedelta(minutes=59)
    assert data.processed[-1] == 2
    assert data.failed[-1] == 1
    assert data.processed[-4] == 1
    assert sum(data.processed) == 3
    assert sum(data.failed) == 1
    assert data.peak == 2


def test_throughput__peak_is_at_least_one():
    assert stats.throughput().peak == 1


# --- template filters -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (timedelta(seconds=3), "3s"),
        (250, "4m 10s"),
        (timedelta(hours=2, minutes=5, seconds=9), "2h 5m"),
        (timedelta(days=3, hours=4), "3d 4h"),
    ],
)
def test_duration(value, text):
    assert duration(value) == text


def test_throughput_chart__an_svg_with_one_point_per_minute():
    svg = throughput_chart(stats.throughput())
    assert svg.startswith("<svg")
    assert svg.count('class="djt-line-') == 2
    assert "1/min" in svg


# --- system checks ----------------------------------------------------------------------------


def test_checks__pass_with_the_test_settings():
    assert check_dashboard_requirements() == []


@pytest.mark.parametrize(
    ("app", "package"),
    [
        ("django_htmx", "django-htmx"),
        ("template_partials", "django-template-partials"),
        ("django_filters", "django-filter"),
    ],
)
def test_checks__e006_for_a_missing_app(settings, app, package):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != app]
    [error] = check_dashboard_requirements()
    assert error.id == "djtriggers.E006"
    assert package in error.msg
    assert error.hint.startswith(f'Add "{app}" to INSTALLED_APPS')


def test_checks__e007_for_a_missing_middleware(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "htmx" not in m]
    [error] = check_dashboard_requirements()
    assert error.id == "djtriggers.E007"
    assert error.hint == 'Add "django_htmx.middleware.HtmxMiddleware" to MIDDLEWARE.'
