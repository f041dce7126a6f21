"""djtriggers.tasks, the Celery tasks, in this process: called as a Celery worker calls
them, and ``publish`` against the real RabbitMQ, its messages read back with kombu.

The tests' Celery app (tests/celery_app.py) is imported as a project imports its
own, so that the shared tasks bind to it. Real workers: tests/system/test_celery.py.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import timedelta

import kombu
import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from djtriggers import tasks
from djtriggers.engine import Engine
from djtriggers.models import Trigger
from tests import factories
from tests.celery_app import app
from tests.celery_workers import rabbitmq_lock, require, take_messages
from tests.testapp.models import CountingTrigger, Run
from tests.workers import runs_per_trigger

TOKEN = "dispatched:the-token"


def dispatched(count: int = 1) -> list[int]:
    """``count`` CountingTriggers claimed for a task with TOKEN, as the dispatcher does."""
    pks = [CountingTrigger.objects.create().pk for _ in range(count)]
    assert sorted(Engine(worker="dispatcher").claim(count, holder=TOKEN, seconds=60)) == pks
    return pks


def test_the_tasks_have_2x_names_and_bind_to_the_projects_app():
    names = {"run_trigger", "process_trigger", "process_triggers", "clean_triggers"}
    assert {f"djtriggers.tasks.{name}" for name in names} <= set(app.tasks)
    assert tasks.run_trigger.app is app


# --- the tasks, as a worker calls them ------------------------------------------------


@pytest.mark.django_db
def test_run_trigger__runs_the_trigger_dispatched_with_its_token():
    [pk] = dispatched()
    assert tasks.run_trigger(pk, TOKEN, "default") == "processed"
    assert runs_per_trigger() == {pk: 1}
    assert Trigger.objects.get(pk=pk).state == "processed"


@pytest.mark.django_db
def test_run_trigger__a_message_of_another_claim_does_nothing():
    [pk] = dispatched()
    assert tasks.run_trigger(pk, "dispatched:another") == "held"
    assert tasks.run_trigger(pk, TOKEN) == "processed"
    assert tasks.run_trigger(pk, TOKEN) == "finished"  # the same message again
    assert runs_per_trigger() == {pk: 1}


@pytest.mark.django_db
def test_process_trigger__takes_2x_arguments_and_runs_a_due_trigger():
    pk = CountingTrigger.objects.create().pk
    assert tasks.process_trigger(pk, "testapp", "CountingTrigger", use_statsd=True) == "processed"
    assert tasks.process_trigger(pk, "testapp", "CountingTrigger") == "finished"
    assert runs_per_trigger() == {pk: 1}


@pytest.mark.django_db
def test_process_triggers__processes_what_is_due_and_returns_the_summary():
    pks = [CountingTrigger.objects.create().pk for _ in range(2)]
    summary = tasks.process_triggers(use_statsd=False)
    assert summary.startswith("2 triggers in ")
    assert summary.endswith(": 2 processed, 0 failed (0 for good), 0 rescheduled")
    assert runs_per_trigger() == dict.fromkeys(pks, 1)


@pytest.mark.django_db
def test_clean_triggers__deletes_what_finished_before_the_date_given_as_text_or_date():
    now = timezone.now()
    ages = [900, 400, 90, 1]  # days since they were processed
    pks = [factories.processed(at=now - timedelta(days=days)).pk for days in ages]

    # A JSON message carries the date as text (ISO 8601).
    assert tasks.clean_triggers((now - timedelta(days=500)).isoformat()) == 1
    assert tasks.clean_triggers(now - timedelta(days=365)) == 1
    assert tasks.clean_triggers() == 1  # 2.x's default: 60 days
    assert list(Trigger.objects.values_list("pk", flat=True)) == pks[3:]


# --- publish, on RabbitMQ --------------------------------------------------------------


@pytest.fixture(scope="session")
def default_queue() -> Iterator[str]:
    """This run's default queue, deleted at the end (the app's connections remember
    having declared it, so it is emptied after each test, not deleted)."""
    yield settings.CELERY_TASK_DEFAULT_QUEUE
    with app.connection_for_write() as conn:
        kombu.Queue(settings.CELERY_TASK_DEFAULT_QUEUE, no_declare=True)(conn).delete()


@pytest.fixture
def rabbitmq(default_queue: str) -> Iterator[list[str]]:
    """RabbitMQ, shared with other runs' tests; the queues a test adds are deleted."""
    require("rabbitmq")
    added: list[str] = []
    with rabbitmq_lock():
        yield added
        with app.connection_for_write() as conn:
            with contextlib.suppress(*conn.channel_errors):  # nothing was published
                kombu.Queue(default_queue, no_declare=True)(conn.default_channel).purge()
            for queue in added:
                kombu.Queue(queue, no_declare=True)(conn.default_channel).delete()


def test_publish__sends_one_run_trigger_message_per_trigger(rabbitmq):
    tasks.publish([7, 8], TOKEN, "other")

    messages = take_messages(app, settings.CELERY_TASK_DEFAULT_QUEUE, 2)
    assert [m.headers["task"] for m in messages] == ["djtriggers.tasks.run_trigger"] * 2
    assert [m.payload[0] for m in messages] == [[7, TOKEN, "other"], [8, TOKEN, "other"]]
    assert {m.properties["delivery_mode"] for m in messages} == {2}  # persistent


def test_publish__sends_to_the_dispatch_queue(rabbitmq):
    queue = f"djtriggers-test-{uuid.uuid4().hex[:12]}"
    rabbitmq.append(queue)
    with override_settings(DJTRIGGERS_DISPATCH_QUEUE=queue):
        tasks.publish([9], TOKEN, "default")

    [message] = take_messages(app, queue, 1)
    assert message.payload[0] == [9, TOKEN, "default"]
    assert message.delivery_info["routing_key"] == queue


@pytest.mark.django_db
def test_published_message__runs_the_trigger_as_a_worker_would(rabbitmq):
    """The message read back from the broker, run as a worker runs it (its args)."""
    [pk] = dispatched()
    tasks.publish([pk], TOKEN, "default")
    [message] = take_messages(app, settings.CELERY_TASK_DEFAULT_QUEUE, 1)
    args, kwargs, _embed = message.payload
    assert app.tasks[message.headers["task"]](*args, **kwargs) == "processed"
    assert Run.objects.filter(trigger_id=pk).count() == 1
