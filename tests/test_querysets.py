"""Trigger querysets and managers (djtriggers.querysets): statuses, counts, operations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from djtriggers.lifecycle import Status
from djtriggers.models import Trigger
from djtriggers.querysets import status_q
from tests.factories import due, failed, make, pending
from tests.testapp.models import BreakfastTrigger, FailingTrigger, NoopTrigger, PayBill

pytestmark = pytest.mark.django_db


def test_typed_manager__returns_only_its_type(user):
    BreakfastTrigger.objects.create()
    PayBill.objects.create(amount=3, recipient=user)
    assert BreakfastTrigger.objects.count() == 1
    assert PayBill.objects.count() == 1
    assert Trigger.objects.count() == 2


def test_get_unprocessed_triggers():
    waiting = BreakfastTrigger.objects.create()
    BreakfastTrigger.objects.create().process()
    assert list(BreakfastTrigger.objects.get_unprocessed_triggers()) == [waiting]


def test_status__each_row_reports_its_status(one_of_each):
    for status, trigger in one_of_each.items():
        assert trigger.status == status


def test_status_filters__match_the_status_property(one_of_each):
    for status in Status.values:
        assert list(getattr(Trigger.objects, status)()) == [one_of_each[status]]
        assert list(Trigger.objects.all().with_status(status)) == [one_of_each[status]]


def test_status_filters__work_on_typed_querysets(one_of_each):
    FailingTrigger.objects.create()
    assert FailingTrigger.objects.due().count() == 1
    assert NoopTrigger.objects.filter(pk__gt=0).due().count() == 1


def test_due__includes_rows_without_process_after():
    trigger = NoopTrigger.objects.create(process_after=None)
    assert trigger.status == "due"
    assert list(Trigger.objects.due()) == [trigger]


def test_status_counts__one_query_with_all_six_keys(one_of_each, django_assert_num_queries):
    with django_assert_num_queries(1):
        counts = Trigger.objects.status_counts()
    assert counts == dict.fromkeys(Status.values, 1)


def test_with_status__unknown_status_says_what_exists():
    with pytest.raises(ValueError, match="use one of pending, due, running"):
        Trigger.objects.with_status("lost")


def test_reprocess__revives_failed_cancelled_and_waiting_rows_only(one_of_each):
    changed = Trigger.objects.reprocess()
    assert changed == 4  # pending, due, failed, cancelled
    statuses = {name: Trigger.objects.get(pk=t.pk).status for name, t in one_of_each.items()}
    assert statuses == {
        "pending": "due",
        "due": "due",
        "running": "running",
        "failed": "due",
        "processed": "processed",
        "cancelled": "due",
    }
    failed = Trigger.objects.get(pk=one_of_each["failed"].pk)
    assert failed.number_of_tries == 0
    assert failed.successful is None and failed.date_processed is None
    assert failed.last_error == ""


def test_reschedule__moves_waiting_and_finished_failures_to_the_given_time(one_of_each):
    when = timezone.now() + timedelta(days=1)
    assert Trigger.objects.reschedule(when) == 4
    assert Trigger.objects.pending().count() == 4
    assert set(Trigger.objects.filter(process_after=when).values_list("pk", flat=True)) == {
        one_of_each[name].pk for name in ("pending", "due", "failed", "cancelled")
    }


def test_cancel__skips_running_and_finished_rows(one_of_each):
    assert Trigger.objects.cancel() == 2  # pending and due
    assert Trigger.objects.cancelled().count() == 3
    assert Trigger.objects.get(pk=one_of_each["processed"].pk).status == "processed"
    assert Trigger.objects.get(pk=one_of_each["running"].pk).status == "running"
    cancelled = Trigger.objects.get(pk=one_of_each["due"].pk)
    assert cancelled.date_processed is not None
    assert cancelled.successful is None


def test_cancel__a_cancelled_trigger_is_never_claimed(one_of_each):
    from djtriggers.engine import Engine

    Trigger.objects.cancel()
    assert Engine().claim(10) == []


def test_operations__return_counts_of_a_filtered_set(one_of_each):
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(5)])
    assert Trigger.objects.due().cancel() == 6
    assert Trigger.objects.cancelled().filter(trigger_type="noop").reprocess() == 7


def test_status_q__takes_the_time_it_is_given():
    trigger = pending(due_in=timedelta(minutes=10))
    later = timezone.now() + timedelta(minutes=11)
    assert list(Trigger.objects.filter(status_q("due", later))) == [trigger]
    assert list(Trigger.objects.filter(status_q("pending"))) == [trigger]


def test_status_counts__of_a_filtered_set():
    make(2)
    failed()
    BreakfastTrigger.objects.create()
    counts = Trigger.objects.filter(trigger_type="noop").status_counts()
    assert counts == {**dict.fromkeys(Status.values, 0), "due": 2, "failed": 1}


def test_bulk_create__settles_each_row_like_save():
    now = timezone.now()
    done, waiting = NoopTrigger.objects.bulk_create(
        [NoopTrigger(date_processed=now, successful=True), NoopTrigger()]
    )
    assert (done.state, waiting.state) == ("processed", "scheduled")
    assert Trigger.objects.processed().get() == done


def test_manager__of_the_base_class_returns_every_type(user):
    due()
    BreakfastTrigger.objects.create()
    PayBill.objects.create(amount=1, recipient=user)
    assert Trigger.objects.count() == 3
    assert NoopTrigger.objects.count() == 1
