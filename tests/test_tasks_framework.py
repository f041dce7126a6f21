"""Django's Tasks framework (djtriggers.tasks_framework), in-process, with real backends.

The tasks are enqueued with django-tasks-db's DatabaseBackend (the test settings'
TASKS) into the test database and run by its worker loop (``db_worker``'s Worker
class, here in this process), or by the ImmediateBackend at once. The real
``db_worker`` processes are in tests/system/test_tasks_framework.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from django_tasks_db.management.commands.db_worker import Worker as DBWorker
from django_tasks_db.models import DBTaskResult

from djtriggers import dispatch, tasks_framework
from djtriggers.lifecycle import DISPATCHED
from djtriggers.models import Trigger, TriggerAttempt
from djtriggers.worker import TriggerWorker
from tests.testapp.models import CountingTrigger, Run
from tests.workers import runs_per_trigger

pytestmark = pytest.mark.django_db
# django-tasks-db's worker loop closes the connection now and then when it is in a
# transaction (close_old_connections): the tests that run it commit for real.
commits = pytest.mark.django_db(transaction=True)

TASK_PATH = "djtriggers.tasks_framework.run_trigger"


def run_db_worker() -> None:
    """django-tasks-db's worker loop until no task is ready (``db_worker --batch``)."""
    DBWorker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-db-worker",
        excluded_queue_names=[],
    ).run()


def dispatch_due(**settings: Any) -> int:
    """One burst pass of run_triggers with DJTRIGGERS_DISPATCH = "tasks"; how many it published."""
    with override_settings(DJTRIGGERS_DISPATCH="tasks", **settings):
        return TriggerWorker(burst=True).run().dispatched


def claim_for_tasks(count: int) -> tuple[list[int], str]:
    """``count`` due CountingTriggers claimed as the dispatcher does; their pks and token."""
    CountingTrigger.objects.bulk_create([CountingTrigger() for _ in range(count)])
    token = f"{DISPATCHED}test"
    pks = dispatch.Engine(worker="dispatcher").claim(count, holder=token, seconds=60)
    assert len(pks) == count
    return sorted(pks), token


def test_publish__one_task_per_trigger_with_its_token_on_the_default_queue():
    pks, token = claim_for_tasks(3)

    tasks_framework.publish(pks, token, "default")

    enqueued = DBTaskResult.objects.order_by("enqueued_at", "id")
    assert [r.task_path for r in enqueued] == [TASK_PATH] * 3
    assert {r.queue_name for r in enqueued} == {"default"}
    assert {r.backend_name for r in enqueued} == {"default"}
    assert sorted(r.args_kwargs["args"][0] for r in enqueued) == pks
    assert {tuple(r.args_kwargs["args"][1:]) for r in enqueued} == {(token, "default")}
    assert not Run.objects.exists()  # nothing runs until a task worker takes them


@override_settings(DJTRIGGERS_DISPATCH_QUEUE="triggers")
def test_publish__on_the_dispatch_queue_when_one_is_set():
    pks, token = claim_for_tasks(2)

    tasks_framework.publish(pks, token, "default")

    assert set(DBTaskResult.objects.values_list("queue_name", flat=True)) == {"triggers"}


def test_publish__on_the_backend_tasks_backend_names():
    # The ImmediateBackend runs each task as it is enqueued: the claims are committed
    # (the dispatcher publishes after its claim), so each task takes its trigger over.
    backends = {
        "default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []},
        "now": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": []},
    }
    with override_settings(TASKS=backends, DJTRIGGERS_TASKS_BACKEND="now"):
        pks, token = claim_for_tasks(2)
        tasks_framework.publish(pks, token, "default")

    assert not DBTaskResult.objects.exists()
    assert runs_per_trigger() == dict.fromkeys(pks, 1)
    assert Trigger.objects.filter(pk__in=pks, state="processed").count() == 2


@commits
def test_run_trigger__dispatched_triggers_run_through_the_database_backend_once():
    pks = [CountingTrigger.objects.create().pk for _ in range(5)]

    assert dispatch_due() == 5
    assert not Run.objects.exists()
    assert Trigger.objects.filter(state="running", locked_by__startswith=DISPATCHED).count() == 5
    run_db_worker()

    assert runs_per_trigger() == dict.fromkeys(pks, 1)
    assert Trigger.objects.filter(pk__in=pks, state="processed").count() == 5
    results = DBTaskResult.objects.all()
    assert {r.status for r in results} == {"SUCCESSFUL"}
    assert {r.return_value for r in results} == {"processed"}
    # The attempt was the task's: its worker name says where it ran.
    assert {w.split()[0] for w in TriggerAttempt.objects.values_list("worker", flat=True)} == {
        "tasks"
    }
    assert dispatch.in_flight().count == 0


@commits
def test_run_trigger__a_second_message_for_a_trigger_does_nothing():
    pk = CountingTrigger.objects.create().pk
    assert dispatch_due() == 1
    token = Trigger.objects.get(pk=pk).locked_by
    tasks_framework.run_trigger.enqueue(pk, token, "default")  # a duplicate, e.g. a retry

    run_db_worker()

    assert runs_per_trigger() == {pk: 1}
    assert sorted(DBTaskResult.objects.values_list("return_value", flat=True)) == [
        "finished",
        "processed",
    ]


@commits
def test_run_trigger__a_2x_message_without_a_token_takes_a_due_trigger():
    pk = CountingTrigger.objects.create().pk
    tasks_framework.run_trigger.enqueue(pk)

    run_db_worker()

    assert runs_per_trigger() == {pk: 1}
    assert DBTaskResult.objects.get().return_value == "processed"
