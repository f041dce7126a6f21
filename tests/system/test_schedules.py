"""Four real workers started at once on due schedules: one trigger per slot, one declared row."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from djtriggers.models import Schedule, Trigger, Worker
from tests.testapp.models import Meal
from tests.workers import Workers, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_four_workers__one_trigger_per_due_slot(workers: Workers):
    now = timezone.now()
    # Six schedules due at once (one missed for three hours: one run for all its
    # slots), and one due in an hour.
    due = [
        Schedule.objects.create(
            trigger_type="breakfast",
            expression="*/15 * * * *",
            time_zone="Europe/Brussels",
            next_run_at=now - timedelta(minutes=15 * i),
        )
        for i in range(1, 6)
    ]
    due.append(
        Schedule.objects.create(
            trigger_type="breakfast",
            expression="*/15 * * * *",
            time_zone="UTC",
            next_run_at=now - timedelta(hours=3),
        )
    )
    later = Schedule.objects.create(
        trigger_type="breakfast",
        expression="0 * * * *",
        time_zone="UTC",
        next_run_at=now + timedelta(hours=1),
    )
    started = [workers.start("--poll-interval", "0.2") for _ in range(4)]
    wait_for(
        lambda: (
            Meal.objects.count() >= len(due)
            and not Trigger.objects.exclude(state="processed").exists()
        ),
        timeout=60,
        what="a processed trigger per due schedule",
    )
    # Every worker registered (then synced and looked at the schedules).
    wait_for(lambda: Worker.objects.count() == 4, what="the four workers to register")
    for worker in started:
        assert worker.stop() == 0, worker.stderr

    per_schedule = Counter(
        source.split("$")[1] for source in Trigger.objects.values_list("source", flat=True)
    )
    assert per_schedule == {str(s.pk): 1 for s in due}
    assert Meal.objects.count() == len(due)  # each processed once
    for schedule in due:
        schedule.refresh_from_db()
        assert schedule.next_run_at > now
        assert schedule.last_trigger_id is not None
    later.refresh_from_db()
    assert later.last_run_at is None
    # The workers synced the declared schedules at once: one row per class still.
    assert Schedule.objects.filter(declared=True).count() == 1
