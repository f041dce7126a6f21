"""Triggers run on real Celery workers (DJTRIGGERS_DISPATCH = "celery"), over real brokers.

Each test starts ``celery -A tests.celery_app worker`` processes (prefork) and,
where triggers are dispatched, a ``run_triggers`` dispatcher, against the test
database and a queue of the test's own (tests/celery_workers.py). The load
test runs on PostgreSQL; DJTRIGGERS_TEST_CELERY_LOAD makes it smaller (or
bigger) than the issue's 3,000 triggers.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from djtriggers import dispatch
from djtriggers.engine import Engine
from djtriggers.models import Trigger, TriggerAttempt
from tests import factories
from tests.celery_workers import (
    RABBITMQ,
    REDIS,
    CeleryWorkers,
    parent_of,
    rabbitmq_lock,
    rabbitmq_stopped,
    require,
)
from tests.testapp.models import Run
from tests.workers import (
    WorkerProcess,
    Workers,
    all_in_state,
    create_counting,
    create_sleeping,
    runs_per_trigger,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LOAD = int(os.environ.get("DJTRIGGERS_TEST_CELERY_LOAD", "3000"))


@pytest.fixture
def rabbitmq(workers: Workers) -> Iterator[CeleryWorkers]:
    """Celery on RabbitMQ; the processes are killed and the queue deleted afterwards."""
    require("rabbitmq")
    with rabbitmq_lock():
        celery = CeleryWorkers(workers, RABBITMQ)
        yield celery
        workers.close()
        celery.close()


@pytest.fixture
def redis(workers: Workers) -> Iterator[CeleryWorkers]:
    require("redis")
    celery = CeleryWorkers(workers, REDIS)
    yield celery
    workers.close()
    celery.close()


def only_on(*vendors: str) -> None:
    if connection.vendor not in vendors:
        pytest.skip(f"runs on {' and '.join(vendors)}")


def wait_until_done(pks: list[int], *, timeout: float) -> None:
    wait_for(
        lambda: all_in_state(pks, "processed"),
        timeout=timeout,
        what=f"{len(pks)} triggers to be processed",
    )


def assert_each_ran_once(pks: list[int]) -> None:
    """Every trigger's database effect exactly once, nothing left running or dispatched."""
    assert runs_per_trigger() == dict.fromkeys(pks, 1)
    assert Run.objects.count() == len(pks)
    assert all_in_state(pks, "processed")
    outcomes = TriggerAttempt.objects.values_list("outcome").annotate(n=Count("pk"))
    assert list(outcomes) == [("success", len(pks))]
    assert dispatch.in_flight().count == 0
    assert not Trigger.objects.filter(locked_by__isnull=False).exists()


def stop(*processes: WorkerProcess) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        assert process.wait() == 0, process.stderr


def run_through_two_workers(celery: CeleryWorkers, count: int, timeout: float) -> None:
    first, second = celery.start_worker(), celery.start_worker()
    dispatcher = celery.start_dispatcher()
    started = time.monotonic()
    pks = create_counting(count)
    wait_until_done(pks, timeout=timeout)
    seconds = time.monotonic() - started
    print(f"{count} triggers through 2 Celery workers: {seconds:.1f}s, {count / seconds:.0f}/s")
    # Both workers took part (each Run row names the pool process that wrote it).
    parents = {parent_of(pid) for pid in Run.objects.values_list("pid", flat=True).distinct()}
    assert parents == {first.pid, second.pid}
    stop(dispatcher, first, second)
    assert_each_ran_once(pks)
    for worker in (first, second):
        assert "Traceback" not in worker.stderr, worker.stderr


def test_rabbitmq__each_of_3000_triggers_runs_once_through_two_workers(rabbitmq):
    only_on("postgresql")
    run_through_two_workers(rabbitmq, LOAD, timeout=max(60, LOAD / 20))


def test_redis__each_trigger_runs_once_through_two_workers(redis):
    run_through_two_workers(redis, 300, timeout=60)


# --- lost messages ------------------------------------------------------------------

# A short lease (the dispatcher's sweep runs every quarter of it) and deadline:
# what a lost message or a killed worker leaves behind is found within seconds.
QUICK = {"DJTRIGGERS_TEST_LEASE_SECONDS": "2", "DJTRIGGERS_TEST_DISPATCH_DEADLINE_SECONDS": "3"}


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_lost_messages__are_published_again_after_their_deadline(request, broker):
    celery = request.getfixturevalue(broker)
    # Fewer may wait than are due: a dispatcher full of lost messages must find them.
    dispatcher = celery.start_dispatcher(DJTRIGGERS_TEST_DISPATCH_MAX_IN_FLIGHT="5", **QUICK)
    pks = create_counting(8)
    # No worker yet. The messages waiting on the broker are lost (as a broker
    # restarted without them would lose them).
    assert len(celery.messages(5)) == 5
    worker = celery.start_worker(**QUICK)
    wait_until_done(pks, timeout=30)

    stop(dispatcher, worker)
    assert_each_ran_once(pks)
    assert "were not started by a task before their deadline" in dispatcher.stderr
    summary = re.search(r"(\d+) triggers dispatched .*, (\d+) of them again", dispatcher.stderr)
    assert summary, dispatcher.stderr
    dispatched, republished = map(int, summary.groups())
    assert republished >= 5
    assert dispatched == len(pks) + republished


@pytest.fixture
def rabbitmq_alone(workers: Workers) -> Iterator[CeleryWorkers]:
    """Celery on RabbitMQ, which the test may stop: no other run's test uses it meanwhile."""
    require("rabbitmq")
    with rabbitmq_lock(exclusive=True):
        celery = CeleryWorkers(workers, RABBITMQ)
        yield celery
        workers.close()
        celery.close()


def test_broker_stopped_mid_run__nothing_is_lost_and_nothing_runs_twice(rabbitmq_alone):
    celery = rabbitmq_alone
    first, second = celery.start_worker(**QUICK), celery.start_worker(**QUICK)
    # More in flight than the workers prefetch, so that messages wait on the
    # broker when it goes; few enough that the dispatcher is publishing then.
    dispatcher = celery.start_dispatcher(DJTRIGGERS_TEST_DISPATCH_MAX_IN_FLIGHT="100", **QUICK)
    pks = create_counting(300, seconds=0.01)
    wait_for(lambda: Run.objects.count() >= 50, what="the first triggers to run")

    with rabbitmq_stopped():
        wait_for(
            lambda: all("Connection to broker lost" in w.stderr for w in (first, second)),
            what="the workers to lose the broker",
        )
        # Down until the dispatcher failed to publish, and the claims whose
        # messages wait on the broker passed their deadline and were dispatched
        # again: when it is back, those messages come late.
        wait_for(
            lambda: (
                "hit an error" in dispatcher.stderr
                and "were not started by a task before their deadline" in dispatcher.stderr
            ),
            what="the dispatcher to fail to publish, and to publish again",
        )
        assert Run.objects.count() < len(pks)
    wait_until_done(pks, timeout=90)

    assert dispatcher.is_running(), dispatcher.stderr
    stop(dispatcher, first, second)
    assert_each_ran_once(pks)


@pytest.mark.parametrize("killed", ["the pool process running it", "the whole worker"])
def test_worker_killed_mid_trigger__the_trigger_is_published_again_and_runs_once(rabbitmq, killed):
    celery = rabbitmq
    doomed = celery.start_worker(concurrency=1, **QUICK)
    dispatcher = celery.start_dispatcher(**QUICK)
    # A slow trigger, and some waiting behind it: prefetched by the doomed worker,
    # not acknowledged. (Created at once: on SQLite the slow one's transaction
    # keeps other writers out.)
    slow, *waiting = create_sleeping([2.0] + [None] * 5)
    wait_for(lambda: slow in celery.workers.side_effects(), what="the slow trigger to start")
    holder = Trigger.objects.get(pk=slow).locked_by
    # The task's worker name: "celery <host>:<pid of the pool process>:<random>".
    child = int(str(holder).split(":")[1])
    assert child in doomed.pool()
    if killed == "the whole worker":
        doomed.kill()
    else:
        os.kill(child, signal.SIGKILL)
    # The killed try's writes were rolled back; the lease ends, the dispatcher
    # finds the trigger lost and publishes it again.
    assert slow not in runs_per_trigger()
    other = celery.start_worker(**QUICK)
    wait_until_done([slow, *waiting], timeout=30)

    assert "the lease of 1 triggers ended without their worker finishing them" in (
        dispatcher.stderr
    )
    stop(dispatcher, other, *([doomed] if doomed.is_running() else []))
    assert_each_ran_once([slow, *waiting])
    # Outside the database it is at least once: the killed try's side effect stays.
    assert celery.workers.side_effects().count(slow) == 2
    assert Trigger.objects.get(pk=slow).run_alone  # lost once: it runs alone from now on


# --- messages from 2.x, late and twice ----------------------------------------------


def test_2x_messages__process_trigger_and_the_beat_tasks_are_run(rabbitmq):
    celery = rabbitmq
    # As a 2.x project with DJTRIGGERS_ASYNC_HANDLING: its beat task dispatches.
    worker = celery.start_worker(DJTRIGGERS_TEST_DISPATCH="celery")
    [one, wrong_class] = create_counting(2)

    sent = celery.send_task(
        "djtriggers.tasks.process_trigger", [one, "testapp", "CountingTrigger"], use_statsd=False
    )
    mistaken = celery.send_task(
        "djtriggers.tasks.process_trigger", [wrong_class, "testapp", "FailingTrigger"]
    )
    wait_for(lambda: worker.results(sent) and worker.results(mistaken), what="both to be run")
    assert worker.results(sent) == ["'processed'"]
    assert worker.results(mistaken) == ["'missing'"]  # not of that class: left alone
    assert runs_per_trigger() == {one: 1}

    due = [wrong_class, *create_counting(4)]
    beat = celery.send_task("djtriggers.tasks.process_triggers", use_statsd=False)
    wait_until_done(due, timeout=30)
    [summary] = worker.results(beat)
    assert "5 triggers dispatched" in summary
    assert runs_per_trigger() == dict.fromkeys([one, *due], 1)

    old = factories.processed(at=timezone.now() - timedelta(days=90))
    older = factories.processed(at=timezone.now() - timedelta(days=900))
    cleaned = celery.send_task(
        "djtriggers.tasks.clean_triggers", [(timezone.now() - timedelta(days=365)).isoformat()]
    )
    wait_for(lambda: worker.results(cleaned), what="clean_triggers with a date")
    assert worker.results(cleaned) == ["1"]
    assert list(Trigger.objects.filter(pk__in=[old.pk, older.pk]).values_list("pk", flat=True)) == [
        old.pk
    ]
    cleaned = celery.send_task("djtriggers.tasks.clean_triggers")
    wait_for(lambda: worker.results(cleaned), what="clean_triggers")
    assert worker.results(cleaned) == ["1"]
    assert not Trigger.objects.filter(pk=old.pk).exists()
    assert Trigger.objects.count() == 1 + len(due)
    stop(worker)


def test_late_and_repeated_messages__do_nothing(rabbitmq):
    celery = rabbitmq
    worker = celery.start_worker()
    [pk] = create_counting(1)
    token = "dispatched:the-claim"
    assert Engine(worker="tests").claim(1, holder=token, seconds=60) == [pk]

    # A message of an earlier claim on the trigger, arriving late.
    stale = celery.send_task("djtriggers.tasks.run_trigger", [pk, "dispatched:earlier", "default"])
    wait_for(lambda: worker.results(stale), what="the stale message to be run")
    assert worker.results(stale) == ["'held'"]
    assert Trigger.objects.get(pk=pk).locked_by == token
    assert not runs_per_trigger()

    # The message, three times at once: one runs the trigger; the others find it
    # taken (held by that task right now) or finished.
    run_trigger = ("djtriggers.tasks.run_trigger", [pk, token, "default"])
    sent = [celery.send_task(*run_trigger) for _ in range(3)]
    wait_for(lambda: all(worker.results(task) for task in sent), what="the messages to be run")
    results = [worker.results(task) for task in sent]
    assert sorted(results).count(["'processed'"]) == 1, results
    assert all(result in (["'processed'"], ["'held'"], ["'finished'"]) for result in results)
    # Once more, after it ran.
    again = celery.send_task(*run_trigger)
    wait_for(lambda: worker.results(again), what="the repeated message to be run")
    assert worker.results(again) == ["'finished'"]
    # And 2.x's message, for the processed trigger.
    legacy = celery.send_task(
        "djtriggers.tasks.process_trigger", [pk, "testapp", "CountingTrigger"], use_statsd=False
    )
    wait_for(lambda: worker.results(legacy), what="the 2.x message to be run")
    assert worker.results(legacy) == ["'finished'"]
    stop(worker)
    assert_each_ran_once([pk])
