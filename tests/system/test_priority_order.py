"""A real worker starts due triggers by priority, and every tenth claim the oldest."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djtriggers import priorities
from tests.testapp.models import Span, SpanTrigger
from tests.workers import Workers, all_in_state, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_one_trigger_per_claim__by_priority_and_the_tenth_claim_takes_the_oldest(
    workers: Workers,
):
    now = timezone.now()
    # The low-priority ones were due first: oldest first they would all run first.
    SpanTrigger.objects.bulk_create(
        [
            SpanTrigger(source="", priority=9, process_after=now - timedelta(minutes=1))
            for _ in range(12)
        ]
    )
    SpanTrigger.objects.bulk_create(
        [SpanTrigger(source="", priority=0, process_after=now) for _ in range(12)]
    )
    pks = list(SpanTrigger.objects.values_list("pk", flat=True))
    worker = workers.start("--batch-size", "1", "--poll-interval", "0.2")
    wait_for(lambda: all_in_state(pks, "processed"), timeout=60, what="every trigger processed")
    assert worker.stop() == 0, worker.stderr

    ran = [
        SpanTrigger.objects.get(pk=pk).priority
        for pk in Span.objects.order_by("pk").values_list("trigger_id", flat=True)
    ]
    every = priorities.OLDEST_FIRST_EVERY
    assert ran == [0] * (every - 1) + [9] + [0] * (12 - every + 1) + [9] * 11
