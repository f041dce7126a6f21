"""What the dashboard shows (dashboard.stats): counts, due board, failures, workers, throughput."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import stats
from djtriggers.exceptions import ProcessError
from djtriggers.fingerprints import fingerprint
from djtriggers.models import Trigger, TriggerAttempt, TriggerCount
from tests.factories import cancelled, due, failed, make, processed, retried, running, worker
from tests.testapp.models import BreakfastTrigger, FailingTrigger

pytestmark = pytest.mark.django_db


def every_status():
    """One or more triggers in each status: 1 pending, 2 due, 1 running, 3 failed, 2 processed,
    1 cancelled."""
    now = timezone.now()
    make(1, process_after=now + timedelta(hours=1))
    make(1)
    make(1, process_after=None)
    running(worker="w1", until=now)
    for _ in range(3):
        failed(at=now)
    for _ in range(2):
        processed(BreakfastTrigger, at=now)
    cancelled(at=now)


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


def test_due_board__lag_percentiles_over_the_last_hour():
    now = timezone.now()
    # Lags of 1..100 seconds: p50 is 50s, p95 is 95s (nearest rank).
    for lag in range(1, 101):
        processed(
            process_after=now - timedelta(minutes=30),
            at=now - timedelta(minutes=30) + timedelta(seconds=lag),
        )
    # Older than an hour: not in the sample.
    processed(process_after=now - timedelta(hours=3), at=now - timedelta(hours=2))
    [row] = stats.due_board(now)
    assert row.trigger_type == "noop"
    assert row.due == 0
    assert row.oldest_due_age is None
    assert row.processed_last_hour == 100
    assert row.lag_p50 == timedelta(seconds=50)
    assert row.lag_p95 == timedelta(seconds=95)


def test_due_board__lags_of_the_most_recent_sample__every_processed_counted(monkeypatch):
    monkeypatch.setattr(stats, "LAG_SAMPLE", 3)
    now = timezone.now()
    # Lags of 10..1 seconds, processed one minute apart: the last three are 3, 2, 1.
    for i, lag in enumerate(range(10, 0, -1)):
        at = now - timedelta(minutes=30 - i)
        processed(process_after=at - timedelta(seconds=lag), at=at)
    processed(process_after=None, at=now)  # counted, no lag
    [row] = stats.due_board(now)
    assert row.processed_last_hour == 11
    assert (row.lag_p50, row.lag_p95) == (timedelta(seconds=2), timedelta(seconds=3))


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
    failed(process_after=now - timedelta(hours=5), at=now)
    assert stats.oldest_due_age_seconds(now) is None
    make(process_after=now - timedelta(seconds=90))
    assert stats.oldest_due_age_seconds(now) == 90
    make(process_after=None, date_received=now - timedelta(seconds=120))
    assert stats.oldest_due_age_seconds(now) == 120


def test_upcoming__pending_only_soonest_first():
    now = timezone.now()
    later = make(process_after=now + timedelta(hours=2))[0]
    sooner = make(process_after=now + timedelta(minutes=2))[0]
    make()  # due
    cancelled(process_after=now + timedelta(hours=1), at=now)
    assert [t.pk for t in stats.upcoming()] == [sooner.pk, later.pk]
    assert len(stats.upcoming(limit=1)) == 1


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
        for _ in range(n):
            failed(
                at=now,
                error=f"ValueError: {message}",
                fingerprint=fingerprint("noop", "ValueError", message),
            )
    retried(error="ValueError: x")  # not failed
    groups = stats.failure_groups()
    assert [g.count for g in groups] == [3, 2, 1]
    assert [g.sample for g in groups] == ["ValueError: b", "ValueError: c", "ValueError: a"]
    assert len(stats.failure_groups(limit=2)) == 2


def test_failure_groups__a_group_emptied_after_the_counters_were_read__left_out():
    failed()
    # As if the group's last trigger went between reading the counters and the rows.
    TriggerCount.objects.create(trigger_type="gone", state="failed", fingerprint="x", slot=0, n=1)
    assert [g.trigger_type for g in stats.failure_groups()] == ["noop"]


def test_workers__stale_after_a_lease_without_heartbeat(settings):
    settings.DJTRIGGERS_LEASE_SECONDS = 60
    now = timezone.now()
    worker("a", host="h1", pid=1, last_seen=now - timedelta(seconds=5))
    worker("b", host="h2", pid=2, last_seen=now - timedelta(minutes=5), current_trigger_id=7)
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
    trigger = due()
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


# --- the counters: exact, and the same few queries at any size ------------------------


def test_status_counts__from_a_type_matrix_without_a_query(django_assert_num_queries):
    every_status()
    matrix = stats.type_matrix()
    with django_assert_num_queries(0):
        counts = stats.status_counts(matrix=matrix)
    assert counts == Trigger.objects.status_counts()


def test_type_matrix__three_queries_however_many_triggers(django_assert_num_queries):
    every_status()
    make(50, process_after=timezone.now() + timedelta(hours=1))
    make(50, cls=BreakfastTrigger)
    # The counters; the due rows (by their index) and those without a time.
    with django_assert_num_queries(3):
        matrix = stats.type_matrix()
    assert stats.status_counts(matrix=matrix) == Trigger.objects.status_counts()


def test_type_matrix__given_the_due_rows_reads_the_counters_alone(django_assert_num_queries):
    every_status()
    due = stats.due_by_type(timezone.now())
    with django_assert_num_queries(1):
        matrix = stats.type_matrix(due=due)
    assert stats.status_counts(matrix=matrix) == Trigger.objects.status_counts()


def test_type_matrix__processed_counted_exactly_whatever_the_size():
    make(30, process_after=timezone.now())
    Trigger.objects.update(date_processed=timezone.now(), successful=True)  # the 2.x way
    assert stats.status_counts()["processed"] == 30


# --- the due board, the parts of a type -----------------------------------------------


def test_due_board__rows_with_and_without_process_after_of_one_type_add_up():
    now = timezone.now()
    make(2, process_after=now - timedelta(minutes=3))
    make(1, process_after=None, date_received=now - timedelta(minutes=7))
    make(1, process_after=None, date_received=now - timedelta(minutes=1))
    [row] = stats.due_board(now)
    assert (row.trigger_type, row.due) == ("noop", 4)
    assert row.oldest_due_age == timedelta(minutes=7)


def test_due_board__a_type_processed_without_process_after_has_no_lag():
    now = timezone.now()
    processed(process_after=None, at=now - timedelta(minutes=1))
    [row] = stats.due_board(now)
    assert (row.processed_last_hour, row.lag_p50, row.lag_p95) == (1, None, None)


def test_due_board__rows_without_process_after_count_but_stay_out_of_the_lag():
    now = timezone.now()
    processed(process_after=now - timedelta(minutes=10), at=now - timedelta(minutes=8))
    processed(process_after=now - timedelta(minutes=10), at=now - timedelta(minutes=6))
    for _ in range(3):
        # Received long ago: a lag from date_received would be hours and move p95.
        processed(
            process_after=None,
            date_received=now - timedelta(hours=5),
            at=now - timedelta(minutes=1),
        )
    [row] = stats.due_board(now)
    assert row.processed_last_hour == 5
    assert (row.lag_p50, row.lag_p95) == (timedelta(minutes=2), timedelta(minutes=4))
