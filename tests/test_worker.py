"""One real ``run_triggers`` (or ``process_triggers``) process at a time."""

from __future__ import annotations

import contextlib
import re
import signal
import time
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone

from djtriggers.models import Trigger, TriggerAttempt, Worker
from djtriggers.worker import TriggerWorker
from tests.testapp.models import FailingTrigger, Meal, Run
from tests.workers import (
    all_in_state,
    create_counting,
    runs_per_trigger,
    states,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def log_time(stderr: str, message: str) -> datetime:
    """When the worker logged ``message`` (the log's asctime has milliseconds)."""
    for line in stderr.splitlines():
        if message in line:
            return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    raise AssertionError(f"{message!r} is not in the worker's log:\n{stderr}")


# --- stopping --------------------------------------------------------------------


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
    assert "1 triggers" in worker.stdout


def test_worker_row__shows_the_trigger_in_hand(workers):
    [pk] = create_counting(1, seconds=3)
    worker = workers.start()
    wait_for(workers.side_effects, what="the trigger to start")
    wait_for(
        lambda: Worker.objects.filter(name=worker.label, current_trigger_id=pk).exists(),
        timeout=2.5,
        what="the Worker row to show the trigger in hand",
    )


# --- staying up --------------------------------------------------------------------


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


@pytest.mark.parametrize(
    ("part", "method"),
    [("engine", "extend_leases"), ("worker", "_next_scheduled")],
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


# --- sleeping and exiting by itself ------------------------------------------------


def test_sleeps_until_the_next_trigger_is_due_not_the_poll_interval(workers):
    due = timezone.now() + timedelta(seconds=3)
    [pk] = create_counting(1, process_after=due)
    worker = workers.start("--poll-interval", "30")
    wait_for(lambda: Worker.objects.filter(name=worker.label).exists(), what="the worker")
    assert timezone.now() < due, "the worker started too slowly for this test to mean anything"

    wait_for(lambda: all_in_state([pk], "processed"), timeout=10, what="the trigger")

    processed = Trigger.objects.get(pk=pk).date_processed
    assert due <= processed < due + timedelta(seconds=1.5)


def test_max_triggers__exits_0_after_that_many(workers):
    pks = create_counting(5)

    worker = workers.run("--max-triggers", "3", "--poll-interval", "30")

    assert worker.popen.returncode == 0, worker.stderr
    assert sorted(states(pks).values()) == ["processed"] * 3 + ["scheduled"] * 2
    assert not Trigger.objects.filter(locked_by__isnull=False).exists()
    assert not Worker.objects.exists()
    assert "processed 3 triggers" in worker.stdout


def test_max_runtime__exits_0_by_itself(workers):
    pks = create_counting(2)

    worker = workers.run("--max-runtime", "1", "--poll-interval", "30")

    assert worker.popen.returncode == 0, worker.stderr
    assert all_in_state(pks, "processed")
    assert not Worker.objects.exists()
    assert "stopping (max runtime reached)" in worker.stderr


def test_max_runtime__is_kept_even_when_going_to_sleep_late(workers):
    create_counting(1, seconds=2.5)

    worker = workers.run("--max-runtime", "3", "--poll-interval", "30")

    assert worker.popen.returncode == 0, worker.stderr
    ran = log_time(worker.stderr, "stopping (max runtime reached)") - log_time(
        worker.stderr, " started"
    )
    assert ran < timedelta(seconds=4)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--batch-size", "0"], "argument --batch-size: '0' is not a whole number of at least 1"),
        (
            ["--poll-interval", "abc"],
            "argument --poll-interval: 'abc' is not a number of seconds greater than 0",
        ),
        (["--types", "unknown"], "Unknown trigger type(s): unknown. Known types: breakfast,"),
    ],
    ids=["batch-size", "poll-interval", "types"],
)
def test_bad_option__exits_non_zero_with_a_clear_error_and_changes_nothing(workers, options, error):
    [pk] = create_counting(1)

    worker = workers.run(*options)

    assert worker.popen.returncode != 0
    assert error in worker.stderr
    assert states([pk]) == {pk: "scheduled"}
    assert not Run.objects.exists()
    assert not TriggerAttempt.objects.exists()
    assert not Worker.objects.exists()


# --- process_triggers ------------------------------------------------------------------


def test_process_triggers__processes_everything_due_and_prints_a_one_line_summary(workers):
    due = create_counting(5)
    later = create_counting(1, process_after=timezone.now() + timedelta(hours=1))

    command = workers.run(command="process_triggers")

    assert command.popen.returncode == 0, command.stderr
    assert re.fullmatch(
        r"Processed 5 triggers in [\d.]+s \(\d+/s\): "
        r"5 processed, 0 failed \(0 for good\), 0 rescheduled\n",
        command.stdout,
    )
    assert runs_per_trigger() == dict.fromkeys(due, 1)
    assert states(later) == dict.fromkeys(later, "scheduled")
    assert not Worker.objects.exists()


def test_process_triggers__gives_up_when_the_database_stays_away(workers):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite creates the database it is pointed at")
    gone = workers.start(command="process_triggers", DJTRIGGERS_DB_NAME="djtriggers_no_such_db")
    assert gone.wait() == 1
    assert "Stopped after 3 errors in a row outside any trigger" in gone.stderr


def test_second_stop_signal__interrupts_the_trigger_as_a_failed_try_and_exits(workers):
    pks = create_counting(3, seconds=10)
    worker = workers.start("--batch-size", "3")
    wait_for(workers.side_effects, what="the first trigger to start")
    [in_hand] = workers.side_effects()

    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.3)
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
