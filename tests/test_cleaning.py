"""Deleting old finished triggers (djtriggers.cleaning) in batches, subclass rows included."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from djtriggers.cleaning import DEFAULT_AGE, clean
from djtriggers.models import Trigger, TriggerAttempt, TriggerResult
from tests.factories import cancelled, due, failed, processed
from tests.testapp.models import PayBill

pytestmark = pytest.mark.django_db


def ago(days: float):
    return timezone.now() - timedelta(days=days)


def test_clean__finished_rows_older_than_the_default_age():
    old = [processed(at=ago(61)), failed(at=ago(61)), cancelled(at=ago(61))]
    recent = processed(at=ago(59))
    waiting = due(date_received=ago(365))
    assert timedelta(days=60) == DEFAULT_AGE
    assert clean() == len(old)
    assert set(Trigger.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}


def test_clean__only_the_states_asked_for():
    done, failure = processed(at=ago(3)), failed(at=ago(3))
    assert clean(older_than=ago(1), states=["failed"]) == 1
    assert list(Trigger.objects.values_list("pk", flat=True)) == [done.pk]
    assert not Trigger.objects.filter(pk=failure.pk).exists()


def test_clean__dry_run_counts_and_deletes_nothing():
    processed(at=ago(90))
    assert clean(dry_run=True) == 1
    assert Trigger.objects.count() == 1


def test_clean__nothing_to_delete_is_one_query(django_assert_num_queries):
    processed(at=ago(1))
    with django_assert_num_queries(1):
        assert clean() == 0


def test_clean__in_batches_reporting_progress():
    for _ in range(5):
        processed(at=ago(90))
    progress = []
    assert clean(batch_size=2, progress=lambda done, total: progress.append((done, total))) == 5
    assert progress == [(2, 5), (4, 5), (5, 5)]


def test_clean__subclass_rows_attempts_and_results_go_with_the_trigger(user):
    with time_machine.travel(ago(90)):
        bill = PayBill.objects.create(amount=1, recipient=user)
        bill.process(logger="DatabaseLogger")
    assert TriggerAttempt.objects.exists() and TriggerResult.objects.exists()
    assert clean() == 1
    assert not PayBill.objects.exists()
    assert not TriggerAttempt.objects.exists()
    assert not TriggerResult.objects.exists()
