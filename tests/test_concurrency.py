"""Several real workers at once, a crashed worker, and operators acting meanwhile."""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from djtriggers.models import Trigger, TriggerAttempt, Worker
from tests.testapp.models import Run
from tests.workers import (
    Workers,
    all_in_state,
    create_counting,
    runs_per_trigger,
    states,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(tmp_path)
    yield pool
    pool.close()


def sqlite() -> bool:
    return connection.vendor == "sqlite"


def start_workers(workers: Workers, count: int, *options: str) -> list:
    started = [workers.start("--poll-interval", "0.2", *options) for _ in range(count)]
    wait_for(lambda: Worker.objects.count() == count, what=f"{count} workers to register")
    return started


def stop_all(started: list) -> None:
    for worker in started:
        worker.send_signal(signal.SIGTERM)
    for worker in started:
        assert worker.wait() == 0, worker.stderr
    assert not Worker.objects.exists()


def test_several_workers__process_each_trigger_exactly_once(workers):
    count, worker_count = (600, 3) if sqlite() else (3000, 4)
    started = start_workers(workers, worker_count)

    pks = create_counting(count)
    wait_for(
        lambda: not Trigger.objects.exclude(state="processed").exists(),
        timeout=60,
        what="every trigger to be processed",
    )
    stop_all(started)

    assert runs_per_trigger() == dict.fromkeys(pks, 1)
    attempts = TriggerAttempt.objects.values_list("outcome").annotate(n=Count("pk"))
    assert list(attempts) == [("success", count)]
    assert not Trigger.objects.filter(locked_by__isnull=False).exists()
    # The work was shared (SKIP LOCKED let them claim side by side).
    assert Run.objects.values("pid").distinct().count() > 1


def test_sigkill_mid_trigger__another_worker_redoes_it_once_the_lease_ends(workers):
    [slow] = create_counting(1, seconds=2)
    fast = create_counting(3)
    batch = [slow, *fast]
    killed = workers.start("--batch-size", "10", DJTRIGGERS_TEST_LEASE_SECONDS="2")
    wait_for(lambda: slow in workers.side_effects(), what="the slow trigger to start")
    assert states(batch) == dict.fromkeys(batch, "running")

    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    # The killed run's writes were rolled back; its claims stay until the lease ends.
    assert not Run.objects.exists()
    assert states(batch) == dict.fromkeys(batch, "running")

    taker = workers.start("--poll-interval", "0.2", DJTRIGGERS_TEST_LEASE_SECONDS="2")
    wait_for(lambda: all_in_state(batch, "processed"), what="the batch to be taken over")

    assert runs_per_trigger() == dict.fromkeys(batch, 1)
    assert set(Run.objects.values_list("pid", flat=True)) == {taker.pid}
    # Outside the database it is at least once: the killed run's side effect stays.
    side_effects = workers.side_effects()
    assert side_effects.count(slow) == 2
    assert all(side_effects.count(pk) == 1 for pk in fast)
    assert taker.stop() == 0


def test_cancel_and_reprocess__never_touch_what_workers_hold(workers):
    """cancel() and reprocess() are conditional UPDATEs that skip running and processed rows.

    So whatever an operator does while workers run, no trigger runs twice and a
    cancelled one never ran.
    """
    pks: list[int] = []
    for _ in range(30):
        pks += create_counting(9)
        pks += create_counting(1, seconds=0.1)
    started = start_workers(workers, 2 if sqlite() else 3)
    rng = random.Random(1234)
    cancelled = revived = 0

    deadline = time.monotonic() + 30
    while Trigger.objects.processed().count() < len(pks) // 2:
        assert time.monotonic() < deadline, "the workers made too little progress"
        cancelled += Trigger.objects.filter(pk__in=rng.sample(pks, 20)).cancel()
        revived += Trigger.objects.filter(pk__in=rng.sample(pks, 20)).reprocess()
        time.sleep(0.02)
    cancelled += Trigger.objects.filter(pk__in=rng.sample(pks, 20)).cancel()

    assert cancelled and revived  # the operators really acted
    wait_for(
        lambda: all_in_state(pks, "processed", "cancelled"),
        what="every trigger to be processed or cancelled",
    )
    by_state = states(pks)
    done = {pk for pk, state in by_state.items() if state == "processed"}
    dropped = {pk for pk, state in by_state.items() if state == "cancelled"}
    assert dropped  # the last round cancelled some due triggers
    assert runs_per_trigger() == dict.fromkeys(done, 1)
    assert not TriggerAttempt.objects.filter(trigger_id__in=dropped).exists()

    # A cancelled trigger brought back runs once more, like any other.
    assert Trigger.objects.filter(pk__in=dropped).reprocess() == len(dropped)
    wait_for(lambda: all_in_state(pks, "processed"), what="the revived triggers")
    stop_all(started)
    assert runs_per_trigger() == dict.fromkeys(pks, 1)
