"""Django's Tasks path for real: a ``run_triggers`` dispatcher (DJTRIGGERS_DISPATCH =
"tasks") and django-tasks-db's ``db_worker`` processes, on the test database.

The dispatcher claims due triggers and enqueues one ``run_trigger`` task each
(a row of django-tasks-db's table); each ``db_worker`` takes tasks from that table
and runs them, the trigger's try included. The database effect (a Run row) must
happen exactly once per trigger, whatever happens to a task or its worker.

DJTRIGGERS_TEST_TASKS_TRIGGERS sets the size of the exactly-once run (300).
"""

from __future__ import annotations

import os

import pytest
from django_tasks_db.models import DBTaskResult

from djtriggers import dispatch
from djtriggers.lifecycle import DISPATCHED
from djtriggers.models import Trigger, TriggerAttempt
from tests.workers import (
    TIMEOUT,
    WorkerProcess,
    Workers,
    all_in_state,
    create_counting,
    runs_per_trigger,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRIGGERS = int(os.environ.get("DJTRIGGERS_TEST_TASKS_TRIGGERS", "300"))
TASK_PATH = "djtriggers.tasks_framework.run_trigger"


def start_dispatcher(workers: Workers, **env: str) -> WorkerProcess:
    """``run_triggers`` publishing due triggers to the Tasks framework."""
    return workers.start("--poll-interval", "0.2", DJTRIGGERS_TEST_DISPATCH="tasks", **env)


def start_db_workers(workers: Workers, count: int, **env: str) -> list[WorkerProcess]:
    """django-tasks-db's own workers, on every queue, polling every 0.1 s, once they poll."""
    options = ("--queue-name", "*", "--interval", "0.1", "--no-startup-delay", "--no-reload")
    started = [workers.start(*options, command="db_worker", **env) for _ in range(count)]
    for process in started:
        wait_for(lambda p=process: "Starting worker" in p.stdout, what=f"{process.label} started")
    return started


def tasks_of(pk: int) -> list[DBTaskResult]:
    """The run_trigger tasks enqueued for trigger ``pk``, oldest first."""
    return [
        result
        for result in DBTaskResult.objects.filter(task_path=TASK_PATH).order_by("enqueued_at")
        if result.args_kwargs["args"][0] == pk
    ]


def assert_none_left(pks: list[int]) -> None:
    assert all_in_state(pks, "processed")
    assert not Trigger.objects.filter(state__in=["scheduled", "running"]).exists()
    assert dispatch.in_flight().count == 0


def test_db_workers__process_every_trigger_exactly_once(workers: Workers) -> None:
    db_workers = start_db_workers(workers, 2)
    dispatcher = start_dispatcher(workers)
    pks = create_counting(TRIGGERS)

    wait_for(
        lambda: all_in_state(pks, "processed"),
        timeout=max(TIMEOUT, TRIGGERS / 5),
        what=f"{TRIGGERS} triggers processed through db_worker",
    )

    assert runs_per_trigger(pks) == dict.fromkeys(pks, 1)
    assert sorted(workers.side_effects()) == pks  # nothing ran twice, even outside the database
    assert_none_left(pks)
    # One message per trigger, each run by a db_worker and done.
    results = DBTaskResult.objects.filter(task_path=TASK_PATH)
    assert results.count() == TRIGGERS
    assert set(results.values_list("status", "return_value")) == {("SUCCESSFUL", "processed")}
    # Both task workers took part, and the tries were theirs, not the dispatcher's.
    assert len({tuple(r.worker_ids) for r in results}) == 2
    tries = TriggerAttempt.objects.filter(trigger_id__in=pks)
    assert tries.count() == TRIGGERS
    assert not tries.exclude(worker__startswith="tasks ").exists()
    assert [p.stop() for p in [dispatcher, *db_workers]] == [0, 0, 0]
    assert "not started by a task before their deadline" not in dispatcher.stderr


def test_db_worker__killed_mid_trigger__the_trigger_is_published_again_and_processed_once(
    workers: Workers,
) -> None:
    # Short leases everywhere: the task's claim on the trigger ends soon after its
    # worker dies, and the dispatcher sweeps for ended claims every second or so.
    short = {"DJTRIGGERS_TEST_LEASE_SECONDS": "3", "DJTRIGGERS_TEST_DISPATCH_DEADLINE_SECONDS": "5"}
    db_workers = {p.pid: p for p in start_db_workers(workers, 2, **short)}
    (slow,) = create_counting(1, seconds=4)
    others = create_counting(20)
    dispatcher = start_dispatcher(workers, **short)

    # A task took the slow trigger over and its try began (it wrote its side effect
    # and sleeps now): "tasks <host>:<pid>:<id>" holds it.
    wait_for(lambda: slow in workers.side_effects(), what="the slow trigger's try started")
    holder = Trigger.objects.values_list("locked_by", flat=True).get(pk=slow)
    assert holder.startswith("tasks ")
    killed = db_workers.pop(int(holder.split()[1].split(":")[1]))
    killed.kill()  # SIGKILL: its transaction, and the trigger's Run row, never commit
    (survivor,) = db_workers.values()

    wait_for(
        lambda: all_in_state([slow, *others], "processed"),
        what="the slow trigger processed again by the other db_worker",
    )
    assert runs_per_trigger([slow, *others]) == dict.fromkeys([slow, *others], 1)
    # The killed try's side effect outside the database did happen: at-least-once there.
    assert workers.side_effects().count(slow) == 2
    assert_none_left([slow, *others])
    # Published twice: the first task died with its worker (django-tasks-db leaves
    # it running), the second ran on the survivor.
    first, second = tasks_of(slow)
    assert first.status == "RUNNING"
    assert (second.status, second.return_value) == ("SUCCESSFUL", "processed")
    assert second.args_kwargs["args"][1] != first.args_kwargs["args"][1]  # a new token
    # The lost claim was not its fault alone: it ran again without a failed try, alone.
    trigger = Trigger.objects.get(pk=slow)
    assert trigger.run_alone
    assert list(TriggerAttempt.objects.filter(trigger_id=slow).values_list("outcome")) == [
        ("success",)
    ]
    assert [p.stop() for p in (dispatcher, survivor)] == [0, 0]


def test_db_workers__tasks_lost_before_they_started_are_published_again_after_the_deadline(
    workers: Workers,
) -> None:
    pks = create_counting(10)
    dispatcher = start_dispatcher(
        workers, DJTRIGGERS_TEST_LEASE_SECONDS="2", DJTRIGGERS_TEST_DISPATCH_DEADLINE_SECONDS="2"
    )
    lost = DBTaskResult.objects.filter(task_path=TASK_PATH)
    # Claimed first, published after the claim's commit: wait for the messages.
    wait_for(lambda: lost.count() >= len(pks), what="the triggers published")
    assert Trigger.objects.filter(pk__in=pks, locked_by__startswith=DISPATCHED).count() == len(pks)
    lost.delete()  # the task queue lost them (a flushed table, a backend's outage)
    (db_worker,) = start_db_workers(workers, 1)

    wait_for(lambda: all_in_state(pks, "processed"), what="the lost triggers published again")

    assert runs_per_trigger(pks) == dict.fromkeys(pks, 1)
    # Each published again (a slow start of the db_worker may see a deadline pass twice).
    again = DBTaskResult.objects.filter(task_path=TASK_PATH)
    assert {r.args_kwargs["args"][0] for r in again} == set(pks)
    assert_none_left(pks)
    assert [p.stop() for p in (dispatcher, db_worker)] == [0, 0]
    assert "were not started by a task before their deadline" in dispatcher.stderr
