"""Triggers that kill or hang their worker process: each lost or hung try counted, others run once.

Real worker processes (``tests/workers.py``): a trigger that SIGKILLs its
worker, and one that never returns, running under a lease and a timeout.
"""

from __future__ import annotations

import signal
import time

import pytest
from django.utils import timezone

from djtriggers.models import Trigger, TriggerAttempt
from tests.testapp.models import PoisonTrigger
from tests.workers import create_counting, runs_per_trigger, wait_for


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
