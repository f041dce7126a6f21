"""The signals (djtriggers.signals): sent once what they tell has committed, never raised into."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from djtriggers import actions, signals
from djtriggers.engine import Engine
from djtriggers.models import Trigger
from djtriggers.worker import TriggerWorker
from tests.factories import due, processed, running
from tests.testapp.models import FailingTrigger, LaterTrigger, NoopTrigger

pytestmark = pytest.mark.django_db(transaction=True)


class Heard:
    """What a signal's receivers were sent."""

    def __init__(self, signal: Signal, sender: Any = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.signal, self.sender = signal, sender

    def __call__(self, sender: Any, **kwargs: Any) -> None:
        self.calls.append({"sender": sender, **kwargs})


@pytest.fixture
def hear() -> Iterator[Any]:
    heard: list[Heard] = []

    def listen(signal: Signal, sender: Any = None) -> Heard:
        ear = Heard(signal, sender)
        signal.connect(ear, sender=sender, weak=False)
        heard.append(ear)
        return ear

    yield listen
    for ear in heard:
        ear.signal.disconnect(ear, sender=ear.sender)


def test_processed__with_the_trigger_its_worker_and_times(hear):
    processed = hear(signals.trigger_processed)
    now = timezone.now()
    trigger = due(
        NoopTrigger,
        date_received=now - timedelta(minutes=10),
        process_after=now - timedelta(minutes=5),
    )
    TriggerWorker(burst=True, name="w-signals").run()
    [call] = processed.calls
    assert call["sender"] is NoopTrigger
    assert call["trigger"].pk == trigger.pk
    assert call["worker"] == "w-signals"
    assert timedelta() <= call["duration"] < timedelta(minutes=1)
    # Due five minutes ago (received ten): it waited at least five to start.
    assert timedelta(minutes=5) <= call["start_delay"] < timedelta(minutes=6)


def test_processed__only_for_the_sender_listened_to(hear):
    noop = hear(signals.trigger_processed, sender=NoopTrigger)
    other = hear(signals.trigger_processed, sender=LaterTrigger)
    due(NoopTrigger)
    TriggerWorker(burst=True).run()
    assert len(noop.calls) == 1
    assert other.calls == []


def test_failed_tries__each_told_and_the_last_one_fails_for_good(hear, settings):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 2
    tries = hear(signals.trigger_try_failed)
    given_up = hear(signals.trigger_failed)
    trigger = due(FailingTrigger)
    TriggerWorker(burst=True).run()
    TriggerWorker(burst=True).run()  # the retry: the tests' retry delay is 0
    assert [c["gives_up"] for c in tries.calls] == [False, True]
    assert all(c["error"] == f"ValueError: no coffee for trigger {trigger.pk}" for c in tries.calls)
    [call] = given_up.calls
    assert call["sender"] is FailingTrigger
    assert call["trigger"].pk == trigger.pk
    assert Trigger.objects.get(pk=trigger.pk).status == "failed"


def test_process_later__rescheduled_with_the_new_time(hear):
    rescheduled = hear(signals.trigger_rescheduled)
    processed = hear(signals.trigger_processed)
    when = timezone.now() + timedelta(hours=1)
    trigger = due(LaterTrigger)
    TriggerWorker(burst=True, dictionary={"when": when}).run()
    [call] = rescheduled.calls
    assert (call["trigger"].pk, call["process_after"]) == (trigger.pk, when)
    assert processed.calls == []


def test_process__sends_after_commit_and_not_for_a_rollback(hear):
    processed = hear(signals.trigger_processed)
    trigger = due(NoopTrigger)
    with pytest.raises(RuntimeError), transaction.atomic():
        trigger.process()
        assert processed.calls == []  # not committed yet
        raise RuntimeError("roll it back")
    assert processed.calls == []
    assert Trigger.objects.get(pk=trigger.pk).status == "due"
    trigger.process()
    assert [c["trigger"].pk for c in processed.calls] == [trigger.pk]


def test_a_receiver_that_raises__is_logged_and_changes_nothing(hear, caplog):
    def broken(sender: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("receiver bug")

    signals.trigger_processed.connect(broken, weak=False)
    try:
        trigger = due(NoopTrigger)
        with caplog.at_level(logging.ERROR, logger="djtriggers"):
            counts = TriggerWorker(burst=True).run()
    finally:
        signals.trigger_processed.disconnect(broken)
    assert counts.succeeded == 1
    assert Trigger.objects.get(pk=trigger.pk).status == "processed"
    assert "A receiver of a djtriggers signal failed" in caplog.text
    assert "receiver bug" in caplog.text


def test_lease_lost__names_the_worker_whose_lease_ended(hear):
    lost = hear(signals.lease_lost)
    gone = running(NoopTrigger, worker="dead-worker", until=timezone.now() - timedelta(minutes=1))
    other = running(NoopTrigger, worker="dead-worker", until=timezone.now() - timedelta(minutes=1))
    engine = Engine(worker="finder")
    engine.claim(10)
    [call] = lost.calls
    assert call["sender"] is Trigger
    assert sorted(call["pks"]) == sorted([gone.pk, other.pk])
    assert (call["worker"], call["found_by"]) == ("dead-worker", "finder")


def test_operator_action__counts_and_user(hear, django_user_model):
    told = hear(signals.operator_action)
    user = django_user_model.objects.create_superuser("op", "op@example.com", "pw")
    one, two = due(NoopTrigger), processed(NoopTrigger)
    actions.perform("cancel", Trigger.objects.filter(pk__in=[one.pk, two.pk]), user=user)
    [call] = told.calls
    assert (call["action"], call["user"], call["changed"], call["skipped"]) == (
        "cancel",
        user,
        1,
        1,
    )


def test_operator_action__process_now_is_told_too(hear):
    told = hear(signals.operator_action)
    processed = hear(signals.trigger_processed)
    trigger = due(NoopTrigger)
    actions.process(Trigger.objects.filter(pk=trigger.pk))
    [call] = told.calls
    assert (call["action"], call["user"], call["changed"]) == ("process", None, 1)
    assert len(processed.calls) == 1


def test_worker__started_and_stopped(hear):
    started = hear(signals.worker_started)
    stopped = hear(signals.worker_stopped)
    due(NoopTrigger)
    TriggerWorker(burst=True, name="w-life").run()
    assert [(c["sender"], c["worker"]) for c in started.calls] == [(TriggerWorker, "w-life")]
    [call] = stopped.calls
    assert (call["worker"], call["counts"].succeeded) == ("w-life", 1)
