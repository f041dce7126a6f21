"""A type's max_concurrency holds across four real workers, and other types keep flowing."""

from __future__ import annotations

import pytest
from django.db.models import Count

from djtriggers.models import Trigger, TriggerAttempt
from tests.testapp.models import LimitedTrigger, Span, SpanTrigger
from tests.workers import Workers, all_in_state, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def create(cls: type[Trigger], count: int, seconds: float) -> list[int]:
    before = Trigger.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    cls.objects.bulk_create([cls(source=str(seconds)) for _ in range(count)])
    return list(cls.objects.filter(pk__gt=before).order_by("pk").values_list("pk", flat=True))


def max_overlap(spans: list[tuple[float, float]]) -> int:
    """The most spans that were open at one moment (an end before a start at the same time)."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = running = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def test_max_overlap():
    assert max_overlap([(0, 2), (1, 3), (2, 4)]) == 2
    assert max_overlap([(0, 1), (1, 2)]) == 1


def test_four_workers__never_more_than_the_limit_at_once_and_others_flow(workers: Workers):
    # The limited ones first: every claim would take them first, oldest first.
    limited = create(LimitedTrigger, 12, 0.3)
    others = create(SpanTrigger, 40, 0.01)
    started = [workers.start("--poll-interval", "0.2") for _ in range(4)]
    wait_for(
        lambda: all_in_state(limited + others, "processed"),
        timeout=60,
        what="every trigger to be processed",
    )
    for worker in started:
        assert worker.stop() == 0, worker.stderr

    spans = {
        kind: list(Span.objects.filter(trigger_type=kind).values_list("started", "ended"))
        for kind in ("limited", "span")
    }
    assert max_overlap(spans["limited"]) <= LimitedTrigger.max_concurrency == 2
    # Processed exactly once each, without a failed try.
    per_trigger = Span.objects.values_list("trigger_id").annotate(n=Count("pk"))
    assert dict(per_trigger) == dict.fromkeys(limited + others, 1)
    assert list(TriggerAttempt.objects.values_list("outcome").annotate(n=Count("pk"))) == [
        ("success", 52)
    ]
    # The others flowed while limited ones ran and waited: some ran inside the limited
    # ones' window (12 at two at a time: at least 1.8 s). On SQLite, with one writer
    # at a time, they took turns; elsewhere they ran side by side.
    first = min(start for start, _ in spans["limited"])
    last = max(end for _, end in spans["limited"])
    assert any(first < start and end < last for start, end in spans["span"])
