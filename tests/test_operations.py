"""Operator actions through djtriggers.operations: chunked, skip reasons, audit, pacing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from djtriggers.actions import perform
from djtriggers.models import OperatorAction, Trigger
from tests.testapp.models import NoopTrigger

pytestmark = pytest.mark.django_db


def make(n, **fields):
    return NoopTrigger.objects.bulk_create([NoopTrigger(**fields) for _ in range(n)])


def test_cancel__reports_changed_and_skipped_with_reasons(user):
    user.is_superuser = True
    user.save()
    make(3)
    make(2, state="processed", date_processed=timezone.now())
    make(1, state="running", locked_by="w")
    report = perform("cancel", Trigger.objects.all(), user=user, reason="partner down")
    assert report.changed == 3
    assert dict(report.skipped) == {"already processed": 2, "running": 1}
    assert report.message() == "3 cancelled, 3 skipped: 2 already processed, 1 running"
    action = OperatorAction.objects.get()
    assert (action.kind, action.user, action.reason) == ("cancel", user, "partner down")
    assert (action.changed, action.skipped) == (3, 3)
    assert set(action.triggers.values_list("pk", flat=True)) == set(
        Trigger.objects.cancelled().values_list("pk", flat=True)
    )


def test_reprocess__in_chunks_over_the_whole_set():
    make(25, state="failed", date_processed=timezone.now(), number_of_tries=5)
    report = perform("reprocess", Trigger.objects.failed(), chunk_size=4)
    assert report.changed == 25
    assert report.message() == "25 reprocessed"
    assert Trigger.objects.due().count() == 25
    assert OperatorAction.objects.get().triggers.count() == 25


def test_reschedule__to_a_time():
    make(2)
    when = timezone.now() + timedelta(days=2)
    report = perform("reschedule", Trigger.objects.all(), when=when)
    assert report.changed == 2
    assert set(Trigger.objects.values_list("process_after", flat=True)) == {when}
    assert OperatorAction.objects.get().process_after == when


def test_reprocess__spread_paces_the_set_over_the_period():
    make(10, state="failed", date_processed=timezone.now())
    start = timezone.now()
    perform("reprocess", Trigger.objects.all(), spread=timedelta(minutes=10))
    times = sorted(Trigger.objects.values_list("process_after", flat=True))
    assert times[0] - start < timedelta(seconds=5)
    assert timedelta(minutes=8) < times[-1] - start < timedelta(minutes=10)
    assert len(set(times)) == 10


def test_unknown_action__clear_error_and_no_audit_row():
    with pytest.raises(ValueError, match="use one of reprocess, reschedule, cancel"):
        perform("delete", Trigger.objects.all())
    assert not OperatorAction.objects.exists()


def test_query_count_grows_with_chunks_not_rows(django_assert_max_num_queries):
    make(40)
    # audit row, then per chunk: ids, lock, update, links (plus savepoints), then audit update
    with django_assert_max_num_queries(3 + 2 * 7):
        perform("cancel", Trigger.objects.all(), chunk_size=20)
