"""The worker loop (djtriggers.worker): in-process, and as a real process receiving signals."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone

from djtriggers.attempts import StopNow
from djtriggers.models import Trigger, TriggerAttempt, Worker
from djtriggers.worker import STALE_WORKER_ROWS, GaveUp, TriggerWorker
from tests.factories import due, make, pending, worker
from tests.testapp.models import FailingTrigger, LaterTrigger, Meal, NoopTrigger
from tests.workers import (
    all_in_state,
    create_counting,
    runs_per_trigger,
    states,
    wait_for,
)

# In-process tests use the test transaction; a test whose worker meets a
# database error needs real transactions (the worker closes its connection).


# --- in-process: burst passes, limits, sleeping ---------------------------------------


@pytest.mark.django_db
def test_worker_burst__processes_everything_due_and_stops():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(30)])
    NoopTrigger.objects.create(process_after=timezone.now() + timedelta(hours=1))
    counts = TriggerWorker(burst=True).run()
    assert counts.succeeded == 30
    assert Trigger.objects.pending().count() == 1
    assert not Trigger.objects.due().exists()


@pytest.mark.django_db
def test_worker_burst__a_trigger_rescheduling_itself_to_the_past_runs_once_per_pass():
    LaterTrigger.objects.create()
    worker = TriggerWorker(burst=True, dictionary={"when": timezone.now() - timedelta(hours=1)})
    assert worker.run().rescheduled == 1
    assert Trigger.objects.get().process_after > timezone.now() - timedelta(minutes=1)


@pytest.mark.django_db
def test_worker__max_triggers():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(30)])
    assert TriggerWorker(burst=True, max_triggers=7).run().succeeded == 7
    assert Trigger.objects.due().count() == 23


@pytest.mark.django_db
def test_worker__leaves_no_heartbeat_row_or_claim_behind():
    NoopTrigger.objects.create()
    TriggerWorker(burst=True).run()
    assert not Worker.objects.exists()
    assert not Trigger.objects.running().exists()


@pytest.mark.django_db
def test_worker__sleep_wakes_for_the_next_scheduled_trigger():
    NoopTrigger.objects.create(process_after=timezone.now() + timedelta(seconds=0.3))
    worker = TriggerWorker(poll_interval=30, max_runtime=5)
    started = timezone.now()
    worker.max_triggers = 1
    worker.run()
    assert Trigger.objects.processed().count() == 1
    assert timezone.now() - started < timedelta(seconds=3)


@pytest.mark.django_db
def test_max_runtime__reached_before_the_first_batch_stops_at_once():
    due()
    worker = TriggerWorker(max_runtime=0)
    assert worker.run().attempted == 0
    assert worker.stopping == "max runtime reached"
    assert Trigger.objects.due().count() == 1
    assert not Worker.objects.exists()


@pytest.mark.django_db
def test_max_runtime__cuts_the_sleep_short():
    pending(due_in=timedelta(hours=1))
    worker = TriggerWorker(poll_interval=30, max_runtime=0.2)
    started = time.monotonic()
    worker.run()
    assert time.monotonic() - started < 5
    assert worker.stopping == "max runtime reached"


@pytest.mark.django_db
def test_max_triggers__a_long_running_worker_stops_after_that_many():
    make(3)
    worker = TriggerWorker(max_triggers=2, poll_interval=30, batch_size=1)
    assert worker.run().succeeded == 2
    assert worker.stopping == "max triggers reached"
    assert Trigger.objects.due().count() == 1


@pytest.mark.django_db
def test_stop__during_a_batch_ends_the_loop_after_it():
    make(2)
    worker = TriggerWorker(poll_interval=30, batch_size=1)
    run_batch = worker._run_batch

    def then_stop(limit):
        worked = run_batch(limit)
        worker.stop("SIGTERM")
        return worked

    worker._run_batch = then_stop
    assert worker.run().succeeded == 1
    assert Trigger.objects.due().count() == 1
    assert not Worker.objects.exists()


@pytest.mark.django_db
def test_sleep__up_to_the_poll_interval_when_nothing_is_scheduled():
    worker = TriggerWorker(poll_interval=0.01)
    assert worker.engine.earliest_scheduled() is None
    started = time.monotonic()
    worker._sleep()
    worker._sleep()  # the same watcher again
    worker._shutdown()
    assert time.monotonic() - started < 5


@pytest.mark.django_db
def test_earliest_scheduled__the_soonest_scheduled_trigger_of_its_types():
    soon = pending(due_in=timedelta(minutes=5))
    pending(due_in=timedelta(minutes=1), trigger_type="breakfast")
    pending(due_in=timedelta(minutes=10))
    [legacy] = make()  # a 2.x row without a time: swept, not scheduled by time
    Trigger._base_manager.filter(pk=legacy.pk).update(process_after=None)
    assert TriggerWorker(types=["noop"]).engine.earliest_scheduled() == soon.process_after
    late = due(trigger_type="breakfast", process_after=timezone.now() - timedelta(days=1))
    assert TriggerWorker(exclude_types=["noop"]).engine.earliest_scheduled() == late.process_after


# --- in-process: stopping ---------------------------------------------------------------


def test_stop__keeps_the_first_reason_and_wakes_the_worker(caplog):
    caplog.set_level(logging.INFO, logger="djtriggers.worker")
    worker = TriggerWorker(name="w1")
    worker.stop("deploy")
    worker.stop("again")
    assert worker.stopping == "deploy"
    assert worker._wake.is_set()
    assert [r.getMessage() for r in caplog.records] == ["Worker w1 stopping (deploy)"]


def test_signal__the_first_stops_the_second_stops_now():
    worker = TriggerWorker()
    worker._on_signal(signal.SIGTERM, None)
    assert worker.stopping == "SIGTERM"
    with pytest.raises(StopNow, match=r"stopped at once \(SIGINT twice\)"):
        worker._on_signal(signal.SIGINT, None)


@pytest.mark.django_db
def test_signal__handlers_are_installed_while_running_then_restored():
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    seen = {}
    worker = TriggerWorker(burst=True)
    real = worker._run_batch

    def batch(limit):
        seen.update({signum: signal.getsignal(signum) for signum in before})
        return real(limit)

    worker._run_batch = batch
    worker.run()
    assert seen == dict.fromkeys(before, worker._on_signal)
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_signal__no_handlers_outside_the_main_thread():
    worker = TriggerWorker()
    installed = []
    thread = threading.Thread(target=lambda: installed.append(worker._install_signal_handlers()))
    thread.start()
    thread.join()
    assert installed == [{}]


# --- in-process: the heartbeat row -------------------------------------------------------


@pytest.mark.django_db
def test_heartbeat__registering_clears_rows_of_workers_gone_long_ago():
    worker("gone", last_seen=timezone.now() - STALE_WORKER_ROWS - timedelta(minutes=1))
    worker("alive", seconds_ago=60)
    TriggerWorker(name="w1")._heartbeat(register=True)
    assert set(Worker.objects.values_list("name", flat=True)) == {"alive", "w1"}


@pytest.mark.django_db
def test_heartbeat__a_row_cleaned_away_is_written_again(settings):
    settings.DJTRIGGERS_HEARTBEAT_SECONDS = 0
    engine_worker = TriggerWorker(name="w1")
    engine_worker._heartbeat(register=True)
    Worker.objects.all().delete()
    engine_worker._heartbeat()
    row = Worker.objects.get()
    assert (row.name, row.processed, row.current_trigger_id) == ("w1", 0, None)


@pytest.mark.django_db
def test_heartbeat__at_most_every_heartbeat_seconds_unless_a_slow_trigger_starts(settings):
    settings.DJTRIGGERS_HEARTBEAT_SECONDS = 3600
    trigger = due()
    engine_worker = TriggerWorker(name="w1")
    engine_worker._heartbeat(register=True)
    engine_worker.engine.current = trigger.pk
    engine_worker._heartbeat()  # a trigger in hand that the row does not show yet
    assert Worker.objects.get().current_trigger_id == trigger.pk
    engine_worker.engine.current = None
    engine_worker._heartbeat()  # nothing new: the interval holds
    assert Worker.objects.get().current_trigger_id == trigger.pk


# --- in-process: errors outside any trigger ------------------------------------------------


def always(error):
    def fail(*args, **kwargs):
        raise error

    return fail


@pytest.mark.django_db(transaction=True)
def test_burst__gives_up_after_errors_in_a_row_outside_any_trigger(caplog):
    burst = TriggerWorker(burst=True, name="w1")
    burst._wake.set()  # no waiting between the tries
    error = OperationalError("the database went away")
    with (
        mock.patch.object(burst.engine, "claim", always(error)),
        pytest.raises(GaveUp) as gave_up,
    ):
        burst.run()
    assert str(gave_up.value) == (
        "Stopped after 3 errors in a row outside any trigger, the last: "
        "OperationalError: the database went away. Is the database reachable?"
    )
    assert gave_up.value.__cause__ is error
    retries = [r for r in caplog.records if "hit an error; retrying" in r.getMessage()]
    assert [r.getMessage() for r in retries] == [
        "Worker w1 hit an error; retrying in 1s",
        "Worker w1 hit an error; retrying in 2s",
    ]
    assert not Worker.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_recover__a_release_that_fails_is_left_to_the_lease(caplog):
    due()
    burst = TriggerWorker(burst=True, name="w1")
    burst._wake.set()
    errors = [OperationalError("gone")]
    real_claim = burst.engine.claim

    def claim_fails_once(limit):
        if errors:
            raise errors.pop()
        return real_claim(limit)

    with (
        mock.patch.object(burst.engine, "claim", claim_fails_once),
        mock.patch.object(burst.engine, "release", always(OperationalError("still gone"))),
    ):
        counts = burst.run()
    assert counts.succeeded == 1
    assert "Worker w1 could not release its claims yet" in caplog.text
    assert "Worker w1 could not clean up; its claims end with their lease" in caplog.text


@pytest.mark.django_db
def test_shutdown__gives_back_the_claims_it_did_not_start(caplog):
    caplog.set_level(logging.INFO, logger="djtriggers.worker")
    make(3)
    stopping = TriggerWorker(name="w1")
    stopping._heartbeat(register=True)
    assert len(stopping.engine.claim(10)) == 3
    stopping._shutdown()
    assert Trigger.objects.due().count() == 3
    assert not Worker.objects.exists()
    assert "Worker w1 released 3 claimed triggers" in caplog.text


@pytest.mark.django_db
def test_shutdown__a_database_error_is_only_a_warning(caplog):
    stopping = TriggerWorker(name="w1")
    with mock.patch.object(stopping.engine, "release", always(DatabaseError("gone"))):
        stopping._shutdown()
    assert "Worker w1 could not clean up; its claims end with their lease" in caplog.text


# --- in a process of its own: run_triggers as it runs in production ---------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("part", "method"),
    [("engine", "extend_leases"), ("engine", "earliest_scheduled")],
    ids=["registering", "going-to-sleep"],
)
def test_database_error_outside_a_batch__does_not_stop_the_worker(part, method):
    # In-process: from outside, these windows are hit only by chance (e.g. an
    # InnoDB deadlock in the first extend_leases while other workers claim).
    worker = TriggerWorker(poll_interval=0.05, max_runtime=1)
    target = worker.engine if part == "engine" else worker
    real = getattr(target, method)
    errors = [OperationalError(1213, "Deadlock found when trying to get lock")]

    def fails_once(*args, **kwargs):
        if errors:
            raise errors.pop()
        return real(*args, **kwargs)

    with mock.patch.object(target, method, fails_once):
        counts = worker.run()
    assert not errors
    assert counts.attempted == 0


def log_time(stderr: str, message: str) -> datetime:
    """When the worker logged ``message`` (the log's asctime has milliseconds)."""
    for line in stderr.splitlines():
        if message in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    raise AssertionError(f"{message!r} is not in the worker's log:\n{stderr}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal__finishes_the_trigger_in_hand_releases_the_rest_and_exits_0(workers, signum):
    pks = create_counting(3, seconds=2)
    worker = workers.start("--batch-size", "3")
    wait_for(workers.side_effects, what="the first trigger to start")
    assert states(pks) == dict.fromkeys(pks, "running")  # all three claimed

    worker.send_signal(signum)

    assert worker.wait() == 0, worker.stderr
    [in_hand] = workers.side_effects()
    assert Trigger.objects.get(pk=in_hand).state == "processed"
    assert runs_per_trigger(pks) == {in_hand: 1}
    released = Trigger.objects.filter(pk__in=pks).exclude(pk=in_hand)
    assert (
        list(released.values_list("state", "locked_by", "locked_until"))
        == [("scheduled", None, None)] * 2
    )
    assert not Worker.objects.exists()
    assert "processed 1 trigger in " in worker.stdout


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_second_stop_signal__interrupts_the_trigger_as_a_failed_try_and_exits(workers):
    pks = create_counting(3, seconds=10)
    worker = workers.start("--batch-size", "3")
    wait_for(workers.side_effects, what="the first trigger to start")
    [in_hand] = workers.side_effects()

    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping (SIGTERM)" in worker.stderr, what="the first signal to be handled")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait() == 0, worker.stderr
    assert time.monotonic() - started < 5  # not the 10 s of the trigger

    interrupted = Trigger.objects.get(pk=in_hand)
    assert (interrupted.state, interrupted.number_of_tries) == ("scheduled", 1)
    attempt = TriggerAttempt.objects.get(trigger_id=in_hand)
    assert attempt.exception_class == "StopNow"
    assert attempt.message == "the worker was stopped at once (SIGTERM twice)"
    assert not runs_per_trigger(pks)  # its writes rolled back
    others = Trigger.objects.filter(pk__in=pks).exclude(pk=in_hand)
    assert set(others.values_list("state", flat=True)) == {"scheduled"}  # released
    assert not Worker.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_row__shows_the_trigger_in_hand(workers):
    [pk] = create_counting(1, seconds=3)
    worker = workers.start()
    wait_for(workers.side_effects, what="the trigger to start")
    wait_for(
        lambda: Worker.objects.filter(name=worker.label, current_trigger_id=pk).exists(),
        timeout=2.5,
        what="the Worker row to show the trigger in hand",
    )


def kill_other_connections() -> int:
    """Cut every connection to the test database except this process's own."""
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            return len(cursor.fetchall())
        cursor.execute(
            "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()",
            [name],
        )
        ids = [row[0] for row in cursor.fetchall()]
        for thread_id in ids:
            with contextlib.suppress(DatabaseError):  # it may have gone meanwhile
                cursor.execute("KILL %s", [thread_id])
        return len(ids)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_lost_database_connection__worker_reconnects_and_keeps_processing(workers):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no connections to cut")
    worker = workers.start("--poll-interval", "0.2")
    first = create_counting(3)
    wait_for(lambda: all_in_state(first, "processed"), what="the first triggers")

    # Cut while the worker is idle ...
    assert kill_other_connections() >= 1
    after_idle_cut = create_counting(3)
    wait_for(lambda: all_in_state(after_idle_cut, "processed"), what="triggers after the cut")

    # ... and while it is inside a trigger: that run is rolled back and redone.
    [slow] = create_counting(1, seconds=1.5)
    wait_for(lambda: slow in workers.side_effects(), what="the slow trigger to start")
    assert kill_other_connections() >= 1
    wait_for(lambda: all_in_state([slow], "processed"), what="the slow trigger")

    assert worker.is_running(), worker.stderr
    assert worker.stderr.count("hit an error; retrying") >= 2
    assert runs_per_trigger() == dict.fromkeys([*first, *after_idle_cut, slow], 1)
    assert workers.side_effects().count(slow) == 2  # at least once outside the database
    assert worker.stop() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_unknown_type_and_raising_trigger__do_not_stop_the_worker(workers):
    unknown = Trigger.objects.create(trigger_type="renamed")
    failing = FailingTrigger.objects.create()
    counting = create_counting(5)
    worker = workers.start("--poll-interval", "0.2")

    wait_for(
        lambda: (
            all_in_state(counting, "processed") and all_in_state([unknown.pk, failing.pk], "failed")
        ),
        what="every trigger to finish",
    )

    unknown.refresh_from_db()
    assert unknown.last_error.startswith(
        "UnknownTriggerType: No Trigger subclass has typed = 'renamed'."
    )
    assert (unknown.successful, unknown.number_of_tries) == (False, 1)
    failing.refresh_from_db()
    assert failing.last_error == f"ValueError: no coffee for trigger {failing.pk}"
    assert (failing.successful, failing.number_of_tries) == (False, 5)  # TRIES_BEFORE_ERROR
    assert not Meal.objects.exists()  # each failed try's writes were rolled back
    assert runs_per_trigger() == dict.fromkeys(counting, 1)
    assert worker.is_running(), worker.stderr
    assert worker.stop() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_trigger_raising_systemexit__the_worker_stays_up(workers):
    from tests.testapp.models import PoisonTrigger

    poison = PoisonTrigger.objects.create(source="exit")
    worker = workers.start("--poll-interval", "0.2")
    wait_for(lambda: Trigger.objects.get(pk=poison.pk).state == "failed", what="the poison")
    after = create_counting(2)
    wait_for(lambda: all_in_state(after, "processed"), what="the triggers after it")
    assert worker.is_running(), worker.stderr
    assert TriggerAttempt.objects.filter(trigger=poison).count() == PoisonTrigger.max_tries
    assert worker.stop() == 0


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sleeps_until_the_next_trigger_is_due_not_the_poll_interval(workers):
    due = timezone.now() + timedelta(seconds=3)
    [pk] = create_counting(1, process_after=due)
    worker = workers.start("--poll-interval", "30")
    wait_for(lambda: Worker.objects.filter(name=worker.label).exists(), what="the worker")
    assert timezone.now() < due, "the worker started too slowly for this test to mean anything"

    wait_for(lambda: all_in_state([pk], "processed"), timeout=10, what="the trigger")

    processed = Trigger.objects.get(pk=pk).date_processed
    assert due <= processed < due + timedelta(seconds=1.5)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_max_triggers__exits_0_after_that_many(workers):
    pks = create_counting(5)

    worker = workers.run("--max-triggers", "3", "--poll-interval", "30")

    assert worker.popen.returncode == 0, worker.stderr
    assert sorted(states(pks).values()) == ["processed"] * 3 + ["scheduled"] * 2
    assert not Trigger.objects.filter(locked_by__isnull=False).exists()
    assert not Worker.objects.exists()
    assert "processed 3 triggers" in worker.stdout


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_max_runtime__exits_0_by_itself(workers):
    pks = create_counting(2)

    worker = workers.run("--max-runtime", "1", "--poll-interval", "30")

    assert worker.popen.returncode == 0, worker.stderr
    assert all_in_state(pks, "processed")
    assert not Worker.objects.exists()
    assert "stopping (max runtime reached)" in worker.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_max_runtime__is_kept_even_when_going_to_sleep_late(workers):
    create_counting(1, seconds=2.5)

    worker = workers.run("--max-runtime", "3", "--poll-interval", "30")

    assert worker.popen.returncode == 0, worker.stderr
    ran = log_time(worker.stderr, "stopping (max runtime reached)") - log_time(
        worker.stderr, " started"
    )
    assert ran < timedelta(seconds=4)
