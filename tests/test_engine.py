"""The engine (djtriggers.engine): claims, leases, groups, lost workers, and process()."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from djtriggers import lifecycle
from djtriggers.attempts import Attempt, Outcome
from djtriggers.engine import Counts, Engine, _alone_or_together, default_worker_name
from djtriggers.exceptions import ProcessError, ProcessLaterError
from djtriggers.models import Trigger, TriggerAttempt, TriggerResult
from djtriggers.worker import TriggerWorker
from tests.conftest import locked_elsewhere
from tests.factories import advance, due, pending, processed, running
from tests.testapp.models import (
    BreakfastTrigger,
    FailingTrigger,
    LaterTrigger,
    LimitedTrigger,
    Meal,
    NoopTrigger,
    OnCommitTrigger,
    PayBill,
)

pytestmark = pytest.mark.django_db


# --- claiming ---------------------------------------------------------------------------


def test_claim__marks_rows_running_for_this_worker_with_a_lease(settings):
    settings.DJTRIGGERS_LEASE_SECONDS = 30
    triggers = NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(3)])
    engine = Engine(worker="w1")
    before = timezone.now()
    assert sorted(engine.claim(10)) == sorted(t.pk for t in triggers)
    for row in Trigger.objects.all():
        assert row.status == "running"
        assert row.locked_by == "w1"
        assert before + timedelta(seconds=29) < row.locked_until < before + timedelta(seconds=31)


def test_claim__leaves_claimed_pending_and_finished_rows_alone():
    pending()
    processed()
    waiting = NoopTrigger.objects.create()
    assert Engine(worker="w1").claim(10) == [waiting.pk]
    assert Engine(worker="w2").claim(10) == []


def test_claim__oldest_due_first_and_at_most_the_limit():
    now = timezone.now()
    newer = NoopTrigger.objects.create(process_after=now - timedelta(minutes=1))
    older = NoopTrigger.objects.create(process_after=now - timedelta(minutes=5))
    NoopTrigger.objects.create(process_after=now)
    assert Engine().claim(2) == [older.pk, newer.pk]


def test_claim__takes_over_an_expired_lease():
    trigger = running(worker="dead", until=timezone.now() - timedelta(seconds=1))
    running(worker="alive", until=timezone.now() + timedelta(minutes=1))
    assert Engine(worker="w2").claim(10) == [trigger.pk]
    assert Trigger.objects.get(pk=trigger.pk).locked_by == "w2"


def test_claim__types_and_exclude_types():
    noop = NoopTrigger.objects.create()
    breakfast = BreakfastTrigger.objects.create()
    assert Engine(types=["noop"]).claim(10) == [noop.pk]
    assert Engine(exclude_types=["noop"]).claim(10) == [breakfast.pk]


def test_claim__query_count(django_assert_max_num_queries):
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(50)])
    engine = Engine(exclude_types=["limited"])  # see test_claim__query_count_with_a_limit
    # SAVEPOINT/RELEASE, the paused types, the sweep for lost claims, the priorities
    # that have due rows (priorities.levels_due), the due rows of the one priority, the UPDATE.
    with django_assert_max_num_queries(7):
        assert len(engine.claim(100)) == 50
    with django_assert_max_num_queries(6):
        engine.claim(100)  # no sweep this time (the paused types are read at most once a second)


def test_claim__query_count_with_a_limit(django_assert_max_num_queries):
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(50)])
    LimitedTrigger.objects.bulk_create([LimitedTrigger() for _ in range(5)])
    engine = Engine()
    engine.claim(0)  # the TypeSlot rows, made once
    # And per claim: the lock of the limited types' slots, their running count, and
    # a due query per limited type with a free slot.
    with django_assert_max_num_queries(7 + 3):
        assert len(engine.claim(100)) == 52
    with django_assert_max_num_queries(6 + 2):
        assert len(engine.claim(100)) == 0


def test_claim__the_sweep_is_unordered():
    # ORDER BY id DESC LIMIT n made MariaDB scan the whole table by primary key
    # (1.5 s on a million rows, locking as it went) once ~5% of the rows were running.
    running(worker="dead", until=timezone.now() - timedelta(seconds=1))
    with CaptureQueriesContext(connection) as captured:
        Engine().claim(10)
    sweep = [q["sql"] for q in captured.captured_queries if "IS NULL" in q["sql"]]
    assert len(sweep) == 1
    assert "ORDER BY" not in sweep[0]


def test_claim_size__starts_small_then_follows_the_pace(settings):
    settings.DJTRIGGERS_CLAIM_SECONDS = 1
    engine = Engine()
    assert engine.claim_size(500) == 10
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(10)])
    engine.process(engine.claim(10))
    assert engine.claim_size(500) == 500  # no-ops: far more than 500 a second
    engine._pace = 0.2  # one trigger every five seconds
    assert engine.claim_size(500) == 1


@pytest.mark.parametrize(
    ("candidates", "taken"),
    [
        ([], []),
        ([(1, False), (2, False)], [1, 2]),
        ([(1, True), (2, False)], [1]),
        ([(1, False), (2, False), (3, True), (4, False)], [1, 2]),
    ],
)
def test_alone_or_together__up_to_the_first_that_runs_alone(candidates, taken):
    assert _alone_or_together(candidates) == taken


def test_claim__a_trigger_that_runs_alone_is_claimed_alone():
    now = timezone.now()
    first = due(process_after=now - timedelta(minutes=3))
    alone = running(process_after=now - timedelta(minutes=2))
    advance(alone, (lifecycle.LOSE, {}))
    last = due(process_after=now - timedelta(minutes=1))
    engine = Engine()
    assert engine.claim(10) == [first.pk]
    assert engine.claim(10) == [alone.pk]
    assert engine.claim(10) == [last.pk]


def test_default_worker_name__host_pid_and_a_random_part():
    host, pid, suffix = default_worker_name().rsplit(":", 2)
    assert host == socket.gethostname()[:100]
    assert pid.isdigit() and len(suffix) == 6
    assert default_worker_name() != default_worker_name()
    assert Engine().worker != Engine().worker


# --- processing in groups ---------------------------------------------------------


def test_process__records_every_outcome(user):
    when = timezone.now() + timedelta(hours=1)
    ok = BreakfastTrigger.objects.create()
    bill = PayBill.objects.create(amount=7, recipient=user)
    failing = FailingTrigger.objects.create()
    later = LaterTrigger.objects.create()
    unknown = Trigger.objects.create(trigger_type="renamed")
    engine = Engine(worker="w1", dictionary={"when": when})
    engine.process(engine.claim(10))

    statuses = {t.pk: t.status for t in Trigger.objects.all()}
    assert statuses == {
        ok.pk: "processed",
        bill.pk: "processed",
        failing.pk: "due",  # retried after RETRY_DELAY_SECONDS = 0 in the tests
        later.pk: "pending",
        unknown.pk: "failed",
    }
    assert Trigger.objects.get(pk=later.pk).process_after == when
    assert Trigger.objects.get(pk=later.pk).number_of_tries == 0
    assert (
        "No Trigger subclass has typed = 'renamed'" in Trigger.objects.get(pk=unknown.pk).last_error
    )
    outcomes = dict(TriggerAttempt.objects.values_list("trigger_id", "outcome"))
    assert outcomes == {
        ok.pk: "success",
        bill.pk: "success",
        failing.pk: "failure",
        later.pk: "later",
        unknown.pk: "failure",
    }
    assert set(TriggerAttempt.objects.values_list("worker", flat=True)) == {"w1"}
    assert (engine.counts.succeeded, engine.counts.failed, engine.counts.rescheduled) == (2, 2, 1)
    assert engine.counts.gave_up == 1


def test_process__a_failure_undoes_only_its_own_writes():
    first = BreakfastTrigger.objects.create()
    failing = FailingTrigger.objects.create()
    last = BreakfastTrigger.objects.create()
    engine = Engine()
    engine.process(engine.claim(10))
    assert sorted(Meal.objects.values_list("trigger_id", flat=True)) == [first.pk, last.pk]
    assert Trigger.objects.get(pk=failing.pk).number_of_tries == 1


def test_process__on_commit_callbacks_of_failed_tries_are_dropped(
    django_capture_on_commit_callbacks,
):

    ok = OnCommitTrigger.objects.create(source="ok")
    OnCommitTrigger.objects.create(source="fail")
    engine = Engine()
    with django_capture_on_commit_callbacks() as callbacks:
        engine.process(engine.claim(10))
    assert [callback() for callback in callbacks] == [ok.pk]


def test_process__skips_rows_another_worker_took_over():
    trigger = NoopTrigger.objects.create()
    engine = Engine(worker="w1")
    pks = engine.claim(10)
    Trigger.objects.filter(pk=trigger.pk).update(locked_by="w2")
    engine.process(pks)
    assert Trigger.objects.get(pk=trigger.pk).status == "running"
    assert not TriggerAttempt.objects.exists()


def test_process__commits_in_groups(settings):
    settings.DJTRIGGERS_COMMIT_INTERVAL_SECONDS = 1e-9  # every trigger its own group
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(4)])
    engine = Engine()
    groups = []
    engine.process(engine.claim(10), between_groups=lambda: groups.append(1))
    assert len(groups) == 4
    assert Trigger.objects.processed().count() == 4


def test_process__caps_savepoints_per_group():
    BreakfastTrigger.objects.bulk_create([BreakfastTrigger() for _ in range(60)])
    engine = Engine()
    groups = []
    engine.process(engine.claim(100), between_groups=lambda: groups.append(1))
    assert len(groups) == 2  # 50 triggers that wrote, then the other 10
    assert Meal.objects.count() == 60


def test_process__stop_releases_what_was_not_started(settings):
    settings.DJTRIGGERS_COMMIT_INTERVAL_SECONDS = 1e-9
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(5)])
    engine = Engine()
    done = []
    engine.process(
        engine.claim(10),
        should_stop=lambda: len(done) >= 2,
        between_groups=lambda: done.append(1),
    )
    assert Trigger.objects.processed().count() == 2
    assert Trigger.objects.due().count() == 3
    assert not Trigger.objects.filter(locked_by__isnull=False).exists()


def test_process__query_count_does_not_grow_with_the_batch(django_assert_max_num_queries):
    for n in (5, 50):
        Trigger.objects.all().delete()
        NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(n)])
        engine = Engine()
        pks = engine.claim(100)
        # SAVEPOINT/RELEASE of the group, lock-and-read, UPDATE, INSERT.
        with django_assert_max_num_queries(5):
            engine.process(pks)
        assert Trigger.objects.processed().count() == n


def test_release__gives_back_only_this_workers_claims():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(3)])
    mine, theirs = Engine(worker="w1"), Engine(worker="w2")
    mine.claim(2)
    theirs.claim(2)
    assert mine.release() == 2
    assert Trigger.objects.due().count() == 2
    assert Trigger.objects.running().count() == 1


# --- lost claims and rows without process_after ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_burst__processes_every_trigger_without_process_after_however_many():
    NoopTrigger.objects.bulk_create([NoopTrigger(process_after=None) for _ in range(25)])
    TriggerWorker(burst=True).run()
    assert not Trigger.objects.due().exists()
    assert Trigger.objects.processed().count() == 25


@pytest.mark.django_db(transaction=True)
def test_burst__recovers_every_lost_trigger_however_many(settings):
    import time_machine

    settings.DJTRIGGERS_LEASE_SECONDS = 30
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(25)])
    NoopTrigger.objects.bulk_create([NoopTrigger(process_after=None) for _ in range(3)])
    Engine(worker="dead").claim(100)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        TriggerWorker(burst=True).run()
        assert Trigger.objects.status_counts()["processed"] == 28
        assert Trigger.objects.filter(run_alone=True).count() == 28


@pytest.mark.django_db(transaction=True)
def test_burst__runs_a_recovered_trigger_without_process_after(settings):
    import time_machine

    settings.DJTRIGGERS_LEASE_SECONDS = 30
    trigger = NoopTrigger.objects.create(process_after=None)
    Engine(worker="dead").claim(10)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        TriggerWorker(burst=True).run()
        trigger.refresh_from_db()
        assert (trigger.status, trigger.run_alone) == ("processed", True)


def test_lost_alone__its_workers_death_is_a_failed_try(settings):
    settings.DJTRIGGERS_LEASE_SECONDS = 30
    trigger = running(worker="w0")
    advance(trigger, (lifecycle.LOSE, {}))  # lost once among others: runs alone since
    assert Engine(worker="dead").claim(10) == [trigger.pk]
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        engine = Engine(worker="w2")
        assert engine.claim(10) == []  # failed a try; due again after the retry delay
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.state, row.number_of_tries, row.locked_by) == ("scheduled", 1, None)
    assert row.last_error.startswith("WorkerLost: Worker dead stopped while running this trigger")
    attempt = TriggerAttempt.objects.get()
    assert (attempt.exception_class, attempt.worker, attempt.traceback) == (
        "WorkerLost",
        "dead",
        "",
    )
    assert (engine.counts.failed, engine.counts.gave_up) == (1, 0)


def test_lost_alone__an_unknown_type_fails_for_good(settings):
    settings.DJTRIGGERS_LEASE_SECONDS = 30
    trigger = running(trigger_type="renamed", worker="w0")
    advance(trigger, (lifecycle.LOSE, {}))
    Engine(worker="dead").claim(10)
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        Engine(worker="w2").claim(10)
    assert TriggerAttempt.objects.get().exception_class == "WorkerLost"
    assert Trigger.objects.get(pk=trigger.pk).number_of_tries == 1


def test_extend_leases__renews_what_this_worker_holds(settings):
    settings.DJTRIGGERS_LEASE_SECONDS = 30
    mine, theirs = Engine(worker="w1"), Engine(worker="w2")
    assert mine.extend_leases() == 0  # nothing held: no query
    due()
    due()
    mine.claim(1)
    theirs.claim(1)
    with time_machine.travel(timezone.now() + timedelta(seconds=20)):
        assert mine.extend_leases() == 1
        later = timezone.now() + timedelta(seconds=29)
    leases = dict(Trigger.objects.values_list("locked_by", "locked_until"))
    assert leases["w1"] > later > leases["w2"]


def test_release__nothing_held_is_nothing_to_do(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert Engine().release() == 0


# --- counting ---------------------------------------------------------------------------


def test_counts__add_each_outcome_and_summarize():
    trigger = FailingTrigger(number_of_tries=4)  # its fifth try is its last
    now = timezone.now()
    counts = Counts(seconds=2.0)
    counts.add(
        [
            Attempt(trigger, Outcome.SUCCESS, now, now),
            Attempt(trigger, Outcome.LATER, now, now),
            Attempt.failure(trigger, ValueError("boom"), now),
            Attempt.failure(FailingTrigger(), ValueError("boom"), now),
        ]
    )
    assert (counts.succeeded, counts.failed, counts.gave_up, counts.rescheduled) == (1, 2, 1, 1)
    assert counts.attempted == 4
    assert counts.summary() == (
        "4 triggers in 2.00s (2/s): 1 processed, 2 failed (1 for good), 1 rescheduled"
    )
    assert Counts().summary().startswith("0 triggers in 0.00s (0/s)")
    one = Counts(seconds=0.5)
    one.add([Attempt(trigger, Outcome.SUCCESS, now, now)])
    assert one.summary().startswith("1 trigger in 0.50s (2/s): 1 processed")


# --- process_now: Trigger.process() ----------------------------------------------------


def test_process__runs_and_marks_processed():
    trigger = BreakfastTrigger.objects.create()
    trigger.process()
    trigger.refresh_from_db()
    assert trigger.successful is True
    assert trigger.date_processed is not None
    assert trigger.status == "processed"
    assert Meal.objects.filter(trigger_id=trigger.pk).count() == 1


def test_process__through_the_base_class_runs_the_subclass(user):
    bill = PayBill.objects.create(amount=5, recipient=user)
    Trigger.objects.get(pk=bill.pk).process(logger="DatabaseLogger")
    assert TriggerResult.objects.get(trigger=bill).result == "paid 5 to bob"


def test_process__already_processed_does_nothing():
    trigger = BreakfastTrigger.objects.create()
    trigger.process()
    trigger.process()
    assert Meal.objects.count() == 1
    assert TriggerAttempt.objects.count() == 1


def test_process__force_runs_a_processed_trigger_again():
    trigger = NoopTrigger.objects.create()
    trigger.process()
    trigger.process(force=True)
    assert TriggerAttempt.objects.filter(trigger=trigger, outcome="success").count() == 2


def test_process__not_due_raises_process_later():
    later = timezone.now() + timedelta(hours=8)
    trigger = BreakfastTrigger.objects.create(process_after=later)
    with pytest.raises(ProcessLaterError) as info:
        trigger.process()
    assert info.value.process_after == later
    assert Meal.objects.count() == 0


def test_process__force_runs_a_trigger_that_is_not_due():
    trigger = BreakfastTrigger.objects.create(process_after=timezone.now() + timedelta(hours=8))
    trigger.process(force=True)
    assert trigger.status == "processed"


def test_process__failure_is_recorded_and_raised_as_process_error():
    trigger = FailingTrigger.objects.create()
    with pytest.raises(ProcessError) as info:
        trigger.process()
    assert isinstance(info.value.__cause__, ValueError)
    assert isinstance(info.value.exception, ValueError)
    trigger.refresh_from_db()
    assert trigger.number_of_tries == 1
    assert trigger.last_error == f"ValueError: no coffee for trigger {trigger.pk}"
    assert trigger.successful is None
    assert trigger.date_processed is None
    # The failed try's writes are rolled back.
    assert Meal.objects.count() == 0
    attempt = TriggerAttempt.objects.get(trigger=trigger)
    assert attempt.outcome == "failure"
    assert attempt.exception_class == "ValueError"
    assert "Traceback" in attempt.traceback and "no coffee" in attempt.traceback


def test_process__seed_readme_error_handling_catches_failures():
    trigger = FailingTrigger.objects.create()
    reported = []
    try:
        trigger.process()
    except ProcessError as e:
        reported.append(e)
    assert reported


def test_process__process_later_from_process_reschedules_without_a_try():
    when = timezone.now() + timedelta(minutes=5)
    trigger = LaterTrigger.objects.create()
    trigger.process(dictionary={"when": when})
    trigger.refresh_from_db()
    assert trigger.process_after == when
    assert trigger.number_of_tries == 0
    assert trigger.status == "pending"


def test_process_now__force_takes_a_trigger_back_from_a_workers_claim():
    trigger = NoopTrigger.objects.create()
    engine = Engine(worker="w1")
    pks = engine.claim(10)
    trigger.process()  # claimed by a worker: nothing happens
    assert trigger.status == "running"
    trigger.process(force=True)
    assert trigger.status == "processed"
    engine.process(pks)  # the worker finds the row is no longer its own
    assert TriggerAttempt.objects.count() == 1


def test_transaction__process_inside_the_callers_transaction_rolls_back_with_it():
    trigger = BreakfastTrigger.objects.create()
    with pytest.raises(RuntimeError), transaction.atomic():
        trigger.process()
        raise RuntimeError
    assert Trigger.objects.get(pk=trigger.pk).status == "due"
    assert not Meal.objects.exists()


def test_process__a_trigger_deleted_meanwhile_does_not_exist():
    trigger = NoopTrigger.objects.create()
    Trigger.objects.filter(pk=trigger.pk).delete()
    with pytest.raises(Trigger.DoesNotExist, match=f"Trigger {trigger.pk} does not exist."):
        trigger.process()


def test_process__a_logger_by_name_gets_the_result(settings):
    trigger = BreakfastTrigger.objects.create()
    trigger.process(logger="DatabaseLogger")
    assert TriggerResult.objects.get(trigger=trigger).result == "eaten"


def test_process__the_dictionary_reaches_process():
    when = timezone.now() + timedelta(hours=1)
    trigger = LaterTrigger.objects.create()
    trigger.process(dictionary={"when": when})
    assert Trigger.objects.get(pk=trigger.pk).process_after == when


@pytest.mark.django_db(transaction=True)
def test_process__a_trigger_a_worker_holds_right_now_is_left_alone():
    trigger = due()
    with locked_elsewhere(trigger.pk):
        trigger.process()  # no waiting for the worker's transaction
    assert Trigger.objects.get(pk=trigger.pk).status == "due"
    assert not TriggerAttempt.objects.exists()
