"""Misbehaving triggers: each bad try is recorded and counted, and never repeats the others."""

from __future__ import annotations

import signal
import time

import pytest
from django.test import override_settings
from django.utils import timezone

from djtriggers.logic import process_triggers
from djtriggers.models import Trigger, TriggerAttempt
from tests.testapp.models import BadDelayTrigger, FailingTrigger, PoisonTrigger, Run
from tests.workers import create_counting, runs_per_trigger, wait_for

pytestmark = pytest.mark.django_db

MISBEHAVIOURS = {
    "exit": "SystemExit",
    "interrupt": "KeyboardInterrupt",
    "generator": "GeneratorExit",
    "unprintable": "UnprintableError",
    "nul": "ValueError",
    "badlogger": "ValueError",
}


@pytest.mark.parametrize(("how", "exception_class"), MISBEHAVIOURS.items())
def test_misbehaving_trigger__each_try_recorded_and_counted_others_run_once(how, exception_class):
    others = create_counting(3)
    poison = PoisonTrigger.objects.create(source=how)

    for tries in range(1, PoisonTrigger.max_tries + 1):
        counts = process_triggers()  # returns: the pass was not ended by the trigger
        assert counts.failed == 1
        poison.refresh_from_db()
        assert poison.number_of_tries == tries
    assert poison.status == "failed"
    assert poison.successful is False
    attempts = TriggerAttempt.objects.filter(trigger=poison)
    assert attempts.count() == PoisonTrigger.max_tries
    assert set(attempts.values_list("exception_class", flat=True)) == {exception_class}
    assert set(attempts.values_list("outcome", flat=True)) == {"failure"}
    # Its own writes were rolled back each time; the others ran exactly once.
    assert runs_per_trigger() == dict.fromkeys(others, 1)


def test_unstorable_messages__are_stored_escaped():
    poison = PoisonTrigger.objects.create(source="nul")
    process_triggers()
    attempt = TriggerAttempt.objects.get(trigger=poison)
    assert attempt.message == "a NUL \\x00 and a lone surrogate \\ud800"
    assert "\\x00" in Trigger.objects.get(pk=poison.pk).last_error


def test_unprintable_exception__recorded_with_a_placeholder_message():
    poison = PoisonTrigger.objects.create(source="unprintable")
    process_triggers()
    attempt = TriggerAttempt.objects.get(trigger=poison)
    assert attempt.message == "<the message could not be read: RuntimeError>"
    assert "UnprintableError" in attempt.traceback


@override_settings(
    DJTRIGGERS_TRIES_BEFORE_ERROR=5000,
    DJTRIGGERS_RETRY_DELAY_SECONDS=30.0,
    DJTRIGGERS_RETRY_BACKOFF=2.0,
    DJTRIGGERS_RETRY_MAX_DELAY_SECONDS=3600.0,
)
def test_retry_delay__cannot_overflow_whatever_the_tries():
    others = create_counting(2)
    failing = FailingTrigger.objects.create(number_of_tries=1028)  # 2.0 ** 1029 overflows
    before = timezone.now()
    process_triggers()
    failing.refresh_from_db()
    assert failing.number_of_tries == 1029
    assert failing.status == "pending"
    assert 3000 < (failing.process_after - before).total_seconds() <= 3601
    assert runs_per_trigger() == dict.fromkeys(others, 1)


def test_retry_delay_override_that_raises__falls_back_to_a_minute():
    trigger = BadDelayTrigger.objects.create()
    before = timezone.now()
    process_triggers()
    trigger.refresh_from_db()
    assert trigger.number_of_tries == 1
    assert 50 < (trigger.process_after - before).total_seconds() < 70


def test_weird_tries_written_by_other_code__still_recorded():
    below = FailingTrigger.objects.create(number_of_tries=-5)
    top = FailingTrigger.objects.create(number_of_tries=2**31 - 1)
    process_triggers()
    assert TriggerAttempt.objects.get(trigger=below).number == 1
    assert TriggerAttempt.objects.get(trigger=top).number == 2**31 - 1
    assert Trigger.objects.get(pk=top.pk).status == "failed"


def test_process__a_trigger_raising_systemexit_is_a_processerror():
    from djtriggers.exceptions import ProcessError

    poison = PoisonTrigger.objects.create(source="exit")
    with pytest.raises(ProcessError) as caught:
        poison.process()
    assert isinstance(caught.value.exception, SystemExit)
    assert poison.number_of_tries == 1
    assert not Run.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_trigger_that_kills_its_worker__counted_once_alone_then_fails_for_good(workers):
    """A lost lease in a batch isolates the triggers; lost alone, it counts as a try."""
    others = create_counting(3)
    killer = PoisonTrigger.objects.create(source="kill", process_after=timezone.now())
    lease = {"DJTRIGGERS_TEST_LEASE_SECONDS": "1"}

    def run_until_exit() -> int:
        # The worker dies with the killer, or ends its pass: either way it exits.
        worker = workers.run("--batch-size", "10", command="process_triggers", **lease)
        return worker.popen.returncode

    deaths = 0
    deadline = time.monotonic() + 60
    while Trigger.objects.get(pk=killer.pk).state != "failed":
        assert time.monotonic() < deadline, "the killer never failed for good"
        if run_until_exit() == -signal.SIGKILL:
            deaths += 1
        # Let the dead worker's lease end, so that the next pass finds its claims.
        time.sleep(1.2)

    killer.refresh_from_db()
    # Lost once in a batch (isolated, not counted), then once per try, alone.
    assert deaths == 1 + PoisonTrigger.max_tries
    assert killer.number_of_tries == PoisonTrigger.max_tries
    attempts = TriggerAttempt.objects.filter(trigger=killer)
    assert set(attempts.values_list("exception_class", flat=True)) == {"WorkerLost"}
    assert "stopped while running this trigger" in killer.last_error
    # The others lost their worker once too, and still ran exactly once.
    wait_for(lambda: Trigger.objects.filter(pk__in=others, state="processed").count() == 3)
    assert runs_per_trigger(others) == dict.fromkeys(others, 1)


def test_a_trigger_whose_own_data_row_is_gone__fails_for_good_saying_so(user):
    from django.db import connection

    from tests.testapp.models import PayBill

    others = create_counting(2)
    bill = PayBill.objects.create(amount=1, recipient=user)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {PayBill._meta.db_table} WHERE trigger_ptr_id = %s", [bill.pk])
    process_triggers()
    row = Trigger.objects.get(pk=bill.pk)
    assert row.status == "failed"
    assert "has lost its own data" in row.last_error
    assert TriggerAttempt.objects.get(trigger_id=bill.pk).exception_class == "TriggerDataMissing"
    assert runs_per_trigger() == dict.fromkeys(others, 1)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_trigger_that_hangs__is_interrupted_at_its_timeout_and_counted(workers):
    """DJTRIGGERS_TIMEOUT_SECONDS: a hung try is a failed try; the worker goes on."""
    [hung] = create_counting(1, seconds=30)
    after = create_counting(2)
    started = time.monotonic()
    worker = workers.run(command="process_triggers", DJTRIGGERS_TEST_TIMEOUT_SECONDS="0.5")
    assert worker.popen.returncode == 0, worker.stderr
    assert time.monotonic() - started < 15
    attempt = TriggerAttempt.objects.get(trigger_id=hung)
    assert attempt.exception_class == "TriggerTimeout"
    assert attempt.message == "the try ran longer than its timeout of 0.5s"
    assert Trigger.objects.get(pk=hung).number_of_tries == 1
    assert runs_per_trigger() == dict.fromkeys(after, 1)  # the hung try's writes rolled back


@override_settings(DJTRIGGERS_TIMEOUT_SECONDS=0.2)
def test_timeout__in_process_too():
    [hung] = create_counting(1, seconds=5)
    started = time.monotonic()
    process_triggers()
    assert time.monotonic() - started < 3
    assert TriggerAttempt.objects.get(trigger_id=hung).exception_class == "TriggerTimeout"
