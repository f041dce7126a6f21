"""Pausing a type while real workers run: no new starts, the running one finishes, resume."""

from __future__ import annotations

import time

import pytest
from django.db.models import Count

from djtriggers import controls
from djtriggers.models import Trigger, TriggerAttempt, Worker
from tests.testapp.models import CountingTrigger, SpanTrigger
from tests.workers import (
    Workers,
    all_in_state,
    create_counting,
    create_sleeping,
    runs_per_trigger,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_pause_and_resume_while_workers_run(workers: Workers):
    # One slow trigger, then quick ones of its type that the same claim takes.
    first = create_sleeping([2.0] + [None] * 5)
    slow, queued = first[0], first[1:]
    started = [workers.start("--poll-interval", "0.2", "--batch-size", "10") for _ in range(2)]
    wait_for(lambda: Worker.objects.count() == 2, what="2 workers to register")
    wait_for(lambda: slow in workers.side_effects(), what="the slow trigger to start")

    assert CountingTrigger.pause(reason="partner API down") is True
    # Workers read the paused types at most once a second: after that, no new start.
    time.sleep(controls.PAUSED_SET_SECONDS + 1)
    before = workers.side_effects()
    later = create_counting(10)

    SpanTrigger.objects.bulk_create([SpanTrigger(source="0.01") for _ in range(20)])
    spans = list(SpanTrigger.objects.values_list("pk", flat=True))
    wait_for(lambda: all_in_state(spans, "processed"), what="the other type to flow")
    wait_for(lambda: all_in_state([slow], "processed"), what="the running one to finish")
    # What was claimed and not started was given back, unclaimed, no try counted.
    waiting = [pk for pk in queued + later if pk not in before]
    wait_for(lambda: all_in_state(waiting, "scheduled"), what="claimed ones to be given back")
    assert workers.side_effects() == before
    assert set(
        Trigger.objects.filter(pk__in=waiting).values_list("number_of_tries", "locked_by")
    ) == {(0, None)}
    assert Trigger.objects.due().filter(pk__in=waiting).count() == len(waiting)

    assert CountingTrigger.resume() is True
    counting = first + later
    wait_for(lambda: all_in_state(counting, "processed"), what="the paused ones after resume")
    for worker in started:
        assert worker.stop() == 0, worker.stderr
    assert runs_per_trigger() == dict.fromkeys(counting, 1)
    assert sorted(workers.side_effects()) == sorted(counting)
    assert list(TriggerAttempt.objects.values_list("outcome").annotate(n=Count("pk"))) == [
        ("success", len(counting) + len(spans))
    ]
