"""The trigger table as an outbox (djtriggers.dispatch), in process.

The publishers here are plain functions that keep the messages; the real
brokers and task workers are in tests/system/test_celery.py and
tests/system/test_tasks_framework.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from djtriggers import dispatch, lifecycle
from djtriggers.dispatch import Dispatcher, in_flight
from djtriggers.engine import Engine
from djtriggers.lifecycle import DISPATCHED, State
from djtriggers.models import Trigger, TriggerAttempt
from djtriggers.worker import TriggerWorker
from tests.factories import due, make, pending, processed
from tests.testapp.models import CountingTrigger, FailingTrigger, LimitedTrigger, NoopTrigger, Run

pytestmark = pytest.mark.django_db


class Broker:
    """Keeps what the dispatcher publishes: (pk, token, using) per message."""

    def __init__(self, fail: bool = False) -> None:
        self.messages: list[tuple[Any, str, str]] = []
        self.fail = fail
        self.committed: list[bool] = []

    def __call__(self, pks: Any, token: str, using: str) -> None:
        self.committed.append(not connection.in_atomic_block)
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.messages += [(pk, token, using) for pk in pks]

    def deliver(self, via: str = "test") -> list[str]:
        """Run every message kept, in order, as a task would."""
        messages, self.messages = self.messages, []
        return [dispatch.run(pk, token, using=using, via=via) for pk, token, using in messages]


def dispatcher(broker: Broker, **engine: Any) -> Dispatcher:
    return Dispatcher(Engine(worker="dispatcher", **engine), "test", broker)


def test_mode__dispatch_setting_or_2x_async_handling(settings):
    from djtriggers import tasks, tasks_framework

    assert dispatch.mode() is None
    assert dispatch.publisher("celery") is tasks.publish
    assert dispatch.publisher("tasks") is tasks_framework.publish
    settings.DJTRIGGERS_ASYNC_HANDLING = True
    assert dispatch.mode() == "celery"
    settings.DJTRIGGERS_DISPATCH = "tasks"
    assert dispatch.mode() == "tasks"


def test_dispatch__claims_for_a_token_with_the_deadline_then_publishes(settings):
    settings.DJTRIGGERS_DISPATCH_DEADLINE_SECONDS = 120
    triggers = make(3, cls=CountingTrigger)
    later = pending()
    broker = Broker()
    d = dispatcher(broker)
    before = timezone.now()

    assert d.dispatch(10) == 3
    tokens = {token for _, token, _ in broker.messages}
    assert len(tokens) == 1 and next(iter(tokens)).startswith(DISPATCHED)
    assert sorted(pk for pk, _, _ in broker.messages) == [t.pk for t in triggers]
    rows = Trigger.objects.filter(pk__in=[t.pk for t in triggers])
    assert {(r.state, r.locked_by) for r in rows} == {(State.RUNNING, next(iter(tokens)))}
    assert all(
        before + timedelta(seconds=119) < r.locked_until <= timezone.now() + timedelta(seconds=120)
        for r in rows
    )
    assert Trigger.objects.get(pk=later.pk).state == State.SCHEDULED
    # Not the engine's to renew or to give back when the dispatcher stops.
    assert d.engine.held == set()
    assert d.engine.release() == 0
    assert d.engine.counts.dispatched == 3
    assert "3 triggers dispatched" in d.engine.counts.summary()
    # Nothing more is due: nothing more is published, not even the ones in flight.
    assert d.dispatch(10) == 0
    assert len(broker.messages) == 3


@pytest.mark.django_db(transaction=True)
def test_dispatch__publishes_after_the_claim_committed():
    make(2)
    broker = Broker()
    assert dispatcher(broker).dispatch(10) == 2
    assert broker.committed == [True]


def test_dispatch__at_most_max_in_flight_wait(settings):
    settings.DJTRIGGERS_DISPATCH_MAX_IN_FLIGHT = 3
    make(5)
    broker = Broker()
    d = dispatcher(broker)
    assert d.dispatch(2) == 2
    assert d.dispatch(10) == 1
    assert not d.full
    assert d.dispatch(10) == 0
    assert d.full
    assert in_flight().count == 3
    broker.deliver()
    assert d.dispatch(10) == 2
    assert not d.full


def test_dispatch__a_failed_publish_gives_the_claims_back():
    triggers = make(2)
    d = dispatcher(Broker(fail=True))
    with pytest.raises(ConnectionError):
        d.dispatch(10)
    assert set(Trigger.objects.values_list("state", "locked_by")) == {(State.SCHEDULED, None)}
    assert d.engine.counts.dispatched == 0
    assert in_flight() == dispatch.InFlight(0, None, 0)
    assert in_flight().oldest_dispatched is None
    # Due as before: published by the next pass.
    broker = Broker()
    d.publish = broker
    assert d.dispatch(10) == len(triggers)


def test_dispatch__leaves_paused_types_alone():
    NoopTrigger.pause(reason="partner down")
    make(2)
    counting = make(1, cls=CountingTrigger)
    broker = Broker()
    assert dispatcher(broker).dispatch(10) == 1
    assert [pk for pk, _, _ in broker.messages] == [counting[0].pk]


def test_dispatch__limited_types_get_their_free_slots_counting_dispatched_ones():
    make(5, cls=LimitedTrigger)  # max_concurrency = 2
    broker = Broker()
    d = dispatcher(broker)
    assert d.dispatch(10) == 2
    assert d.dispatch(10) == 0  # the two dispatched hold both slots


def test_run__takes_the_claim_and_runs_the_trigger_once():
    trigger = make(1, cls=CountingTrigger)[0]
    broker = Broker()
    dispatcher(broker).dispatch(10)
    [message] = broker.messages

    assert broker.deliver(via="celery") == ["processed"]
    row = Trigger.objects.get(pk=trigger.pk)
    assert row.state == State.PROCESSED and row.locked_by is None
    [attempt] = TriggerAttempt.objects.filter(trigger=trigger)
    assert attempt.worker.startswith("celery ")
    assert Run.objects.filter(trigger_id=trigger.pk).count() == 1
    # The same message again (a redelivery) does nothing.
    assert dispatch.run(*message[:2], via="celery") == "finished"
    assert Run.objects.filter(trigger_id=trigger.pk).count() == 1


def test_run__a_failing_trigger_fails_a_try_like_in_a_worker(settings):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 2
    trigger = due(FailingTrigger)
    broker = Broker()
    d = dispatcher(broker)
    d.dispatch(10)
    assert broker.deliver() == ["retried"]
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.state, row.number_of_tries) == (State.SCHEDULED, 1)
    Trigger.objects.filter(pk=trigger.pk).update(process_after=timezone.now())
    d.dispatch(10)
    assert broker.deliver() == ["failed"]
    assert Trigger.objects.get(pk=trigger.pk).state == State.FAILED


def test_run__another_token_or_a_trigger_nobody_dispatched_is_left_alone():
    trigger = due()
    assert dispatch.run(trigger.pk, f"{DISPATCHED}other", via="test") == "held"
    broker = Broker()
    dispatcher(broker).dispatch(10)
    assert dispatch.run(trigger.pk, f"{DISPATCHED}other", via="test") == "held"
    assert dispatch.run(processed().pk, f"{DISPATCHED}other", via="test") == "finished"
    assert dispatch.run(10**9, f"{DISPATCHED}other", via="test") == "missing"
    assert Trigger.objects.get(pk=trigger.pk).locked_by == broker.messages[0][1]


def test_run__a_type_paused_after_the_dispatch_is_given_back_not_started():
    trigger = due()
    broker = Broker()
    dispatcher(broker).dispatch(10)
    NoopTrigger.pause()
    assert broker.deliver() == ["paused"]
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.state, row.locked_by, row.number_of_tries) == (State.SCHEDULED, None, 0)
    # A 2.x message for a paused type does nothing either.
    assert dispatch.run(trigger.pk, None, via="test") == "paused"
    assert Trigger.objects.get(pk=trigger.pk).state == State.SCHEDULED


def test_undelivered__published_again_after_the_deadline_and_counted(settings, caplog):
    settings.DJTRIGGERS_DISPATCH_DEADLINE_SECONDS = 60
    trigger = make(1, cls=CountingTrigger)[0]
    broker = Broker()
    d = dispatcher(broker)
    d.dispatch(10)
    lost = broker.messages.pop()  # the broker lost it

    assert in_flight().oldest_dispatched is not None
    assert d.dispatch(10) == 0  # before the deadline: nothing again
    flying = in_flight()
    assert (flying.count, flying.overdue) == (1, 0)
    assert flying.oldest_dispatched <= timezone.now()
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert in_flight().overdue == 1
        d.engine._next_sweep = 0.0
        assert d.dispatch(10) == 1
    assert d.engine.counts.republished == 1
    assert "were not started by a task before their deadline" in caplog.text
    assert str(trigger.pk) in caplog.text
    # The late old message finds its claim gone; the new one runs it, once.
    assert dispatch.run(*lost[:2], via="test") == "held"
    assert broker.deliver() == ["processed"]
    assert Run.objects.filter(trigger_id=trigger.pk).count() == 1
    assert TriggerAttempt.objects.filter(trigger=trigger).count() == 1


def test_undelivered__many_are_listed_short(caplog):
    triggers = make(25)
    Trigger.objects.filter(pk__in=[t.pk for t in triggers]).update(
        state=State.RUNNING,
        locked_by=f"{DISPATCHED}gone",
        locked_until=timezone.now() - timedelta(seconds=1),
    )
    broker = Broker()
    assert dispatcher(broker).dispatch(100) == 25
    assert "25 dispatched triggers" in caplog.text and " ..." in caplog.text


def test_undelivered__a_worker_without_dispatch_takes_them_as_due_not_lost():
    trigger = due()
    Trigger.objects.filter(pk=trigger.pk).update(
        state=State.RUNNING,
        locked_by=f"{DISPATCHED}gone",
        locked_until=timezone.now() - timedelta(seconds=1),
    )
    engine = Engine(worker="w")
    assert engine.claim(10) == [trigger.pk]
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.locked_by, row.run_alone, row.number_of_tries) == ("w", False, 0)


def test_run__a_task_killed_mid_trigger_loses_its_lease_like_a_worker(settings):
    settings.DJTRIGGERS_LEASE_SECONDS = 30
    trigger = make(1, cls=CountingTrigger)[0]
    broker = Broker()
    d = dispatcher(broker)
    d.dispatch(10)
    _, token, _ = broker.messages.pop()
    # What a task did before its process was killed: it took the claim over.
    lifecycle.TAKE.apply(
        Trigger.objects.filter(pk=trigger.pk, locked_by=token),
        worker="celery host:1:abc",
        until=timezone.now() + timedelta(seconds=30),
    )
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        d.engine._next_sweep = 0.0
        assert d.dispatch(10) == 1
    assert d.engine.counts.republished == 0  # lost, as with a worker: it runs alone now
    assert Trigger.objects.get(pk=trigger.pk).run_alone
    assert broker.deliver() == ["processed"]
    assert Run.objects.filter(trigger_id=trigger.pk).count() == 1


# --- 2.x messages ---------------------------------------------------------------------


def test_run_legacy__a_due_trigger_nobody_holds():
    trigger = make(1, cls=CountingTrigger)[0]
    assert dispatch.run_legacy(trigger.pk, "testapp", "CountingTrigger", via="celery") == (
        "processed"
    )
    assert Run.objects.filter(trigger_id=trigger.pk).count() == 1
    assert dispatch.run_legacy(trigger.pk, "testapp", "CountingTrigger", via="celery") == (
        "finished"
    )


def test_run_legacy__takes_any_dispatched_claim():
    trigger = make(1, cls=CountingTrigger)[0]
    broker = Broker()
    dispatcher(broker).dispatch(10)
    assert dispatch.run_legacy(trigger.pk, "testapp", "countingtrigger", via="celery") == (
        "processed"
    )
    assert broker.deliver() == ["finished"]


def test_run_legacy__not_due_limited_or_another_class_is_left_alone(caplog):
    later = pending(CountingTrigger)
    assert dispatch.run_legacy(later.pk, "testapp", "CountingTrigger", via="t") == "not due"
    limited = due(LimitedTrigger)
    assert dispatch.run_legacy(limited.pk, "testapp", "LimitedTrigger", via="t") == "held"
    assert dispatch.run_legacy(limited.pk, "testapp", "CountingTrigger", via="t") == "missing"
    assert dispatch.run_legacy(limited.pk, "testapp", "NoSuchTrigger", via="t") == "missing"
    assert "No trigger class testapp.NoSuchTrigger" in caplog.text
    # The base class names no type: any row.
    assert dispatch.run_legacy(limited.pk, "djtriggers", "Trigger", via="t") == "held"
    assert Trigger.objects.filter(state=State.SCHEDULED).count() == 2


# --- the worker in dispatch mode ---------------------------------------------------


IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.mark.django_db(transaction=True)
def test_worker__in_dispatch_mode_publishes_and_the_tasks_run_them(settings):
    """Django's Tasks immediate backend runs each task as it is enqueued: a real backend."""
    settings.DJTRIGGERS_DISPATCH = "tasks"
    settings.TASKS = IMMEDIATE
    triggers = make(3, cls=CountingTrigger)
    counts = TriggerWorker(burst=True, max_triggers=2).run()
    assert counts.dispatched == 2
    assert "2 triggers dispatched" in counts.summary()
    assert Run.objects.count() == 2
    counts = TriggerWorker(burst=True).run()
    assert counts.dispatched == 1
    assert set(Run.objects.values_list("trigger_id", flat=True)) == {t.pk for t in triggers}
    assert set(Trigger.objects.values_list("state", flat=True)) == {State.PROCESSED}


def test_worker__in_dispatch_mode_waits_while_max_in_flight_wait(settings):
    settings.DJTRIGGERS_DISPATCH = "tasks"
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    settings.DJTRIGGERS_DISPATCH_MAX_IN_FLIGHT = 2
    make(3)
    worker = TriggerWorker(poll_interval=0.01, max_runtime=0.3)
    counts = worker.run()
    assert counts.dispatched == 2
    assert worker.dispatcher is not None and worker.dispatcher.full


def test_core__imports_no_task_system_unless_asked():
    """Celery and the Tasks framework are optional: a worker without DISPATCH never imports them."""
    code = (
        "import sys, django; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('check')\n"
        "from djtriggers.worker import TriggerWorker\n"
        "import djtriggers.dispatch\n"
        "optional = ('celery', 'kombu', 'django_tasks')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in optional))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJTRIGGERS_TEST_DB": "sqlite",
        # The test settings install django-tasks' apps, which Django imports.
        "DJTRIGGERS_TEST_WITHOUT_TASKS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_dispatch__claims_past_their_deadline_never_stall_a_full_dispatcher(settings):
    """Lost messages fill DISPATCH_MAX_IN_FLIGHT: the sweep still runs, publishes them again."""
    settings.DJTRIGGERS_DISPATCH_MAX_IN_FLIGHT = 2
    settings.DJTRIGGERS_DISPATCH_DEADLINE_SECONDS = 60
    make(2, cls=CountingTrigger)
    broker = Broker()
    d = dispatcher(broker)
    assert d.dispatch(10) == 2
    broker.messages.clear()  # both lost
    assert d.dispatch(10) == 0 and d.full
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        # No waiting for the next sweep: past their deadline, they leave room.
        assert d.dispatch(10) == 2
    assert d.engine.counts.republished == 2
    assert broker.deliver() == ["processed", "processed"]
