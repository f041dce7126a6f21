"""The engine in-process: claims, leases, groups, outcomes, and what each costs in queries."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from djtriggers.engine import Engine
from djtriggers.models import Trigger, TriggerAttempt
from djtriggers.worker import TriggerWorker
from tests.testapp.models import (
    BreakfastTrigger,
    FailingTrigger,
    LaterTrigger,
    Meal,
    NoopTrigger,
    PayBill,
)

pytestmark = pytest.mark.django_db


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
    NoopTrigger.objects.create(process_after=timezone.now() + timedelta(hours=1))
    NoopTrigger.objects.create(state="processed", date_processed=timezone.now())
    due = NoopTrigger.objects.create()
    assert Engine(worker="w1").claim(10) == [due.pk]
    assert Engine(worker="w2").claim(10) == []


def test_claim__oldest_due_first_and_at_most_the_limit():
    now = timezone.now()
    newer = NoopTrigger.objects.create(process_after=now - timedelta(minutes=1))
    older = NoopTrigger.objects.create(process_after=now - timedelta(minutes=5))
    NoopTrigger.objects.create(process_after=now)
    assert Engine().claim(2) == [older.pk, newer.pk]


def test_claim__takes_over_an_expired_lease():
    trigger = NoopTrigger.objects.create(
        state="running", locked_by="dead", locked_until=timezone.now() - timedelta(seconds=1)
    )
    NoopTrigger.objects.create(
        state="running", locked_by="alive", locked_until=timezone.now() + timedelta(minutes=1)
    )
    assert Engine(worker="w2").claim(10) == [trigger.pk]
    assert Trigger.objects.get(pk=trigger.pk).locked_by == "w2"


def test_claim__types_and_exclude_types():
    noop = NoopTrigger.objects.create()
    breakfast = BreakfastTrigger.objects.create()
    assert Engine(types=["noop"]).claim(10) == [noop.pk]
    assert Engine(exclude_types=["noop"]).claim(10) == [breakfast.pk]


def test_claim_size__starts_small_then_follows_the_pace(settings):
    settings.DJTRIGGERS_CLAIM_SECONDS = 1
    engine = Engine()
    assert engine.claim_size(500) == 10
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(10)])
    engine.process(engine.claim(10))
    assert engine.claim_size(500) == 500  # no-ops: far more than 500 a second
    engine._pace = 0.2  # one trigger every five seconds
    assert engine.claim_size(500) == 1


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
    from tests.testapp.models import OnCommitTrigger

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


def test_claim__query_count(django_assert_max_num_queries):
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(50)])
    engine = Engine()
    # SAVEPOINT/RELEASE, the sweep for lost claims, the due rows, the UPDATE.
    with django_assert_max_num_queries(5):
        assert len(engine.claim(100)) == 50
    with django_assert_max_num_queries(4):
        engine.claim(100)  # no sweep this time


def test_release__gives_back_only_this_workers_claims():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(3)])
    mine, theirs = Engine(worker="w1"), Engine(worker="w2")
    mine.claim(2)
    theirs.claim(2)
    assert mine.release() == 2
    assert Trigger.objects.due().count() == 2
    assert Trigger.objects.running().count() == 1


def test_worker_burst__processes_everything_due_and_stops():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(30)])
    NoopTrigger.objects.create(process_after=timezone.now() + timedelta(hours=1))
    counts = TriggerWorker(burst=True).run()
    assert counts.succeeded == 30
    assert Trigger.objects.pending().count() == 1
    assert not Trigger.objects.due().exists()


def test_worker_burst__a_trigger_rescheduling_itself_to_the_past_runs_once_per_pass():
    LaterTrigger.objects.create()
    worker = TriggerWorker(burst=True, dictionary={"when": timezone.now() - timedelta(hours=1)})
    assert worker.run().rescheduled == 1
    assert Trigger.objects.get().process_after > timezone.now() - timedelta(minutes=1)


def test_worker__max_triggers():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(30)])
    assert TriggerWorker(burst=True, max_triggers=7).run().succeeded == 7
    assert Trigger.objects.due().count() == 23


def test_worker__leaves_no_heartbeat_row_or_claim_behind():
    from djtriggers.models import Worker

    NoopTrigger.objects.create()
    TriggerWorker(burst=True).run()
    assert not Worker.objects.exists()
    assert not Trigger.objects.running().exists()


def test_worker__sleep_wakes_for_the_next_scheduled_trigger():
    NoopTrigger.objects.create(process_after=timezone.now() + timedelta(seconds=0.3))
    worker = TriggerWorker(poll_interval=30, max_runtime=5)
    started = timezone.now()
    worker.max_triggers = 1
    worker.run()
    assert Trigger.objects.processed().count() == 1
    assert timezone.now() - started < timedelta(seconds=3)


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
