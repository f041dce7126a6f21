"""The counters the database keeps (djtriggers.counts): exact whoever writes, never a hot row."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import Count
from django.utils import timezone

from djtriggers import actions, counts
from djtriggers.cleaning import clean
from djtriggers.models import AttemptCount, Trigger, TriggerAttempt, TriggerCount
from djtriggers.worker import TriggerWorker
from tests.counters import keyed, keyed_actual
from tests.factories import due, failed, make, pending, processed
from tests.testapp.models import BreakfastTrigger, NoopTrigger
from tests.workers import TIMEOUT

pytestmark = pytest.mark.django_db

TABLE = Trigger._meta.db_table


def actual() -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = defaultdict(dict)
    for typed, state, n in Trigger._base_manager.values_list("trigger_type", "state").annotate(
        n=Count("pk")
    ):
        rows[typed][state] = n
    return dict(rows)


def agree() -> None:
    now = timezone.now()
    assert counts.by_type() == actual()
    assert keyed(now) == keyed_actual(now)


def raw(sql: str, params: list[object] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def test_every_way_of_writing__the_counters_follow():
    now = timezone.now()
    make(5)
    NoopTrigger.objects.create()
    pending(BreakfastTrigger)
    assert counts.by_type() == actual() == {"noop": {"scheduled": 6}, "breakfast": {"scheduled": 1}}
    # Workers: claims, successes.
    TriggerWorker(burst=True).run()
    agree()
    # 2.x: update(), save(), raw SQL; the database settles the state.
    Trigger.objects.filter(pk__in=list(Trigger.objects.values_list("pk", flat=True)[:2])).update(
        date_processed=None
    )
    trigger = Trigger.objects.filter(trigger_type="breakfast").get()
    trigger.date_processed, trigger.successful = now, False
    trigger.save()
    raw(
        f"INSERT INTO {TABLE} (trigger_type, source, date_received, process_after, "
        "number_of_tries, state, run_alone, last_error, error_fingerprint) "
        "VALUES ('raw', '', %s, %s, 0, 'scheduled', %s, '', '')",
        [now, now, False],
    )
    raw(
        f"UPDATE {TABLE} SET date_processed = %s, successful = %s WHERE trigger_type = 'raw'",
        [now, True],
    )
    agree()
    # Scheduled for other hours (their buckets), failed with other errors.
    pending(due_in=timedelta(days=3))
    Trigger.objects.filter(trigger_type="breakfast").update(process_after=now + timedelta(hours=5))
    failed(error="KeyError: 'x'")
    raw(f"UPDATE {TABLE} SET error_fingerprint = 'abc' WHERE state = 'failed'")
    agree()
    # Operators, a type renamed, deletes and cleaning.
    actions.perform("reprocess", Trigger.objects.filter(trigger_type="breakfast"))
    actions.perform("cancel", Trigger.objects.filter(trigger_type="noop"))
    Trigger.objects.filter(trigger_type="raw").update(trigger_type="renamed")
    failed().delete()
    raw(f"DELETE FROM {TABLE} WHERE trigger_type = 'renamed'")
    agree()
    processed(at=now - timedelta(days=400))
    assert clean(older_than=now - timedelta(days=30)) == 1
    agree()


def test_key__a_failure_by_fingerprint__a_scheduled_trigger_by_the_hour_it_is_due():
    now = timezone.now()
    later = pending(due_in=timedelta(days=2))
    due(process_after=None)
    failed(error="KeyError: 'x'")
    failed(error="KeyError: 'x'")
    failed(error="ValueError: y")
    done = processed()
    TriggerAttempt.objects.create(
        trigger=done,
        number=1,
        started_at=done.date_processed,
        finished_at=done.date_processed,
        outcome="success",
    )
    key = keyed(now)
    assert key == keyed_actual(now)
    hour = counts.since_1970(later.process_after, connection.vendor)
    assert key[("trigger", "noop", "scheduled", "", hour)] == 1
    assert key[("trigger", "noop", "scheduled", "", counts.PAST)] == 1  # no process_after: due
    failures = [n for (_, _, state, *_), n in key.items() if state == "failed"]
    assert sorted(failures) == [1, 2]
    minute = counts.since_1970(done.date_processed, connection.vendor, counts.MINUTE)
    assert key[("trigger", "noop", "processed", "", minute)] == 1
    assert key[("try", "success", minute)] == 1
    assert counts.since_1970(now, connection.vendor) * 3600 <= now.timestamp()


def test_hour__of_the_clock_the_database_stores():
    at = datetime(2026, 11, 30, 5, 59, 59, 999_999, tzinfo=UTC)
    assert counts.since_1970(at, "sqlite") == counts.since_1970(at, "postgresql") == 498_893
    assert counts.bucket_start(498_893, "sqlite") == at.replace(minute=0, second=0, microsecond=0)
    assert counts.since_1970(datetime(1969, 12, 31, 23, 30, tzinfo=UTC), "mysql") == -1
    assert counts.since_1970(at, "mysql", counts.MINUTE) == 498_893 * 60 + 59


def test_hour__without_time_zones(settings):
    """USE_TZ = False: PostgreSQL stores local time in its time zone, the others as it is."""
    settings.USE_TZ, settings.TIME_ZONE = False, "Europe/Brussels"
    wall = datetime(2026, 7, 1, 12, 0)  # 10:00 UTC in summer
    assert counts.since_1970(wall, "mysql") == counts.since_1970(wall.replace(tzinfo=UTC), "mysql")
    assert counts.since_1970(wall, "postgresql") == counts.since_1970(wall, "mysql") - 2
    bucket = counts.since_1970(wall, "postgresql")
    assert counts.bucket_start(bucket, "postgresql") == wall
    assert counts.bucket_start(counts.since_1970(wall, "sqlite"), "sqlite") == wall


def test_due_by_type__hours_gone_by_from_the_counters__this_hour_from_the_rows():
    now = timezone.now().replace(minute=30)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    oldest = now - timedelta(days=3)
    due(process_after=oldest)
    due(process_after=now - timedelta(hours=2))
    due(process_after=this_hour)  # this hour, due
    due(process_after=now)  # due at the very moment
    due(process_after=now + timedelta(minutes=1))  # this hour, not due yet
    pending(due_in=timedelta(days=1))
    received = due(process_after=None).date_received
    due(BreakfastTrigger, process_after=now + timedelta(minutes=10))  # not due
    assert counts.due_by_type(now) == {"noop": (5, min(oldest, received))}
    matrix = counts.by_status(now)
    assert matrix["noop"]["due"] == 5 and matrix["noop"]["pending"] == 2
    assert matrix["breakfast"]["pending"] == 1 and matrix["breakfast"]["due"] == 0
    # A fold changes nothing read.
    counts.fold(now=now)
    assert counts.due_by_type(now) == {"noop": (5, min(oldest, received))}
    # Only this hour's rows: the oldest is the earliest of them.
    Trigger.objects.filter(process_after__lt=this_hour).delete()
    Trigger.objects.filter(process_after=None).delete()
    assert counts.due_by_type(now) == {"noop": (2, this_hour)}


def test_due_by_type__only_triggers_without_process_after():
    now = timezone.now()
    first = due(process_after=None)
    due(process_after=None)
    pending()
    assert counts.due_by_type(now) == {"noop": (2, first.date_received)}


def test_fold__merges_the_hours_gone_by_into_one():
    now = timezone.now()
    for hours in (30, 20, 10):
        due(process_after=now - timedelta(hours=hours))
    later = pending(due_in=timedelta(hours=3))
    counts.fold(now=now)
    counts.fold(now=now)  # nothing left to merge: the same
    buckets = dict(
        TriggerCount.objects.filter(state="scheduled", slot=0).values_list("bucket", "n")
    )
    if connection.vendor == "sqlite":
        assert buckets == {counts.PAST: 3, counts.since_1970(later.process_after, "sqlite"): 1}
    else:  # this connection's rows of the hour to come stay its own
        assert buckets == {counts.PAST: 3}
    assert keyed(now) == keyed_actual(now)
    assert counts.due_by_type(now)["noop"][0] == 3


def test_failure_groups__largest_first_with_first_and_last_seen():
    now = timezone.now()
    failed(error="KeyError: 'x'", at=now - timedelta(hours=2))
    last = failed(error="KeyError: 'x'", at=now)
    failed(error="KeyError: 'x'", at=now - timedelta(hours=1))
    failed(BreakfastTrigger, error="ValueError: y", at=now)
    first, second = counts.failure_groups(20)
    assert (first["trigger_type"], first["n"], second["trigger_type"], second["n"]) == (
        "noop",
        3,
        "breakfast",
        1,
    )
    assert first["first"] == now - timedelta(hours=2) and first["last"] == now
    assert first["sample_pk"] == last.pk  # the last to fail
    assert len(counts.failure_groups(1)) == 1
    Trigger.objects.filter(trigger_type="breakfast").delete()
    assert [g["trigger_type"] for g in counts.failure_groups(20)] == ["noop"]


def test_a_counter_row__says_what_it_counts():
    assert str(TriggerCount(trigger_type="noop", state="failed", slot=0, n=3)) == "noop failed: 3"
    assert str(AttemptCount(outcome="failure", minute=9, slot=0, n=2)) == "failure in minute 9: 2"


def test_processed_since__the_counters_of_the_minutes_after_and_the_rows_of_its_own():
    now = timezone.now().replace(second=30)
    since = now - timedelta(hours=1)
    processed(at=since - timedelta(seconds=1))  # before: not counted, in since's minute
    processed(at=since)
    processed(at=since + timedelta(seconds=20))  # since's minute, from the rows
    processed(at=now - timedelta(minutes=5))
    processed(BreakfastTrigger, at=now)
    processed(at=since - timedelta(hours=3))
    assert counts.processed_since(since) == {"noop": 3, "breakfast": 1}
    counts.fold(now=now)  # three hours ago: merged; the last hour stays
    assert counts.processed_since(since) == {"noop": 3, "breakfast": 1}
    assert keyed(now) == keyed_actual(now)


def test_tries_per_minute__from_the_counters_of_tries():
    now = timezone.now().replace(second=0, microsecond=0)
    trigger = due()
    TriggerAttempt.objects.bulk_create(
        TriggerAttempt(trigger=trigger, number=1, started_at=at, finished_at=at, outcome=outcome)
        for at, outcome in [
            (now, "success"),
            (now + timedelta(seconds=59), "success"),
            (now, "failure"),
            (now - timedelta(minutes=1), "later"),
            (now - timedelta(hours=3), "failure"),
            (now + timedelta(minutes=1), "success"),  # the end: excluded
        ]
    )
    expected = {now: {"success": 2, "failure": 1}, now - timedelta(minutes=1): {"later": 1}}
    tries = counts.tries_per_minute(now - timedelta(minutes=5), now + timedelta(minutes=1))
    assert tries == expected
    counts.fold(now=now)
    assert (
        counts.tries_per_minute(now - timedelta(minutes=5), now + timedelta(minutes=1)) == expected
    )
    assert AttemptCount.objects.filter(minute=counts.PAST).get().n == 1
    assert keyed(now) == keyed_actual(now)
    TriggerAttempt.objects.filter(outcome="later").update(outcome="success")
    trigger.delete()  # and its tries
    assert keyed(now) == keyed_actual(now) == {}


def test_a_state_emptied__left_out():
    [trigger] = make(1)
    trigger.delete()
    assert counts.by_type() == {}


def test_recount__counts_afresh():
    make(3)
    due(BreakfastTrigger)
    TriggerCount.objects.all().delete()
    assert counts.by_type() == {}
    counts.recount()
    assert counts.by_type() == actual()
    assert set(TriggerCount.objects.values_list("slot", flat=True)) == {0}


def test_fold__merges_the_rows_of_closed_connections_into_slot_0():
    make(2)
    TriggerCount.objects.create(trigger_type="noop", state="scheduled", slot=999_999_999, n=3)
    TriggerCount.objects.create(trigger_type="noop", state="failed", slot=999_999_998, n=1)
    TriggerCount.objects.create(trigger_type="noop", state="failed", slot=999_999_997, n=-1)
    before = counts.by_type()
    assert counts.fold() >= 3
    assert counts.by_type() == before
    # Merged into slot 0, and rows at 0 dropped (on SQLite every row is slot 0).
    rows = set(TriggerCount.objects.values_list("trigger_type", "state", "slot"))
    assert ("noop", "scheduled", 0) in rows
    assert not TriggerCount.objects.filter(n=0).exists()
    assert not TriggerCount.objects.filter(slot__gte=999_999_997).exists()


@pytest.mark.django_db(transaction=True)
def test_fold__leaves_the_rows_of_open_connections():
    if connection.vendor == "sqlite":
        pytest.skip("SQLite writes one slot")
    make(2)
    assert counts.fold() == 0  # this connection's rows stay its own
    assert TriggerCount.objects.exclude(slot=0).exists()


@pytest.mark.django_db(transaction=True)
def test_no_hot_row__two_connections_counting_the_same_state_never_wait():
    """Each connection adds to rows of its own: one holding its counters in an open
    transaction does not block another writing the same type and state."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has one writer at a time anyway")
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                make(1)
                holding.set()
                release.wait(TIMEOUT)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(TIMEOUT)
        with connection.cursor() as cursor:
            # Fails at once rather than wait, if the other transaction held our row.
            if connection.vendor == "postgresql":
                cursor.execute("SET lock_timeout = '2s'")
            else:
                cursor.execute("SET SESSION innodb_lock_wait_timeout = 2")
        make(1)
    finally:
        release.set()
        thread.join(TIMEOUT)
    assert counts.by_type() == actual() == {"noop": {"scheduled": 2}}


@pytest.mark.django_db(transaction=True)
def test_truncate__empties_the_counters_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("MariaDB's TRUNCATE fires no trigger (recount() after one); SQLite has none")
    make(3)
    raw(f"TRUNCATE {TABLE} CASCADE")
    assert counts.by_type() == {}


def test_statements__for_every_database():
    for vendor in ("postgresql", "mysql", "sqlite"):
        install, uninstall = counts.statements(vendor)
        assert any("djtriggers_count_update" in sql for sql in install)
        assert len(uninstall) >= 3


@pytest.mark.django_db(transaction=True)
def test_reinstalled_on_sqlite_after_a_migration_rebuilt_the_table():
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite drops a table's triggers when it rebuilds it")
    counts.uninstall(connection)
    make(1)  # not counted
    counts.after_migrate()
    assert counts.by_type() == actual() == {"noop": {"scheduled": 1}}
    counts.after_migrate()  # installed: nothing to do
    assert counts.by_type() == actual()


@pytest.mark.django_db(transaction=True)
def test_a_flush_in_any_order__leaves_no_count_behind():
    make(3)
    # As a flush may: the counters emptied first, then the triggers deleted
    # (and counted, below zero).
    TriggerCount.objects.all().delete()
    Trigger.objects.all().delete()
    assert counts.by_type() == {"noop": {"scheduled": -3}}
    counts.after_migrate()
    assert counts.by_type() == {}
    make(1)
    counts.after_migrate()  # not empty: the counters stay
    assert counts.by_type() == actual()
