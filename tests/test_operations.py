"""djtriggers.operations: operator actions as 3.0's previews ran them, with their audit trail."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import AnonymousUser

from djtriggers import actions, operations
from djtriggers.models import OperatorAction, Trigger
from tests.factories import failed, make, processed

pytestmark = pytest.mark.django_db


def test_perform__records_who_acted_and_logs_each_changed_trigger(user):
    waiting = make(2)
    processed()
    report = operations.perform("cancel", Trigger.objects.all(), user=user, reason="dup")
    assert report.message() == "2 cancelled, 1 skipped: already processed"
    action = OperatorAction.objects.get()
    assert (action.user, action.changed, action.skipped, action.reason) == (user, 2, 1, "dup")
    assert sorted(LogEntry.objects.values_list("object_id", flat=True)) == sorted(
        str(t.pk) for t in waiting
    )
    assert set(LogEntry.objects.values_list("change_message", flat=True)) == {
        "2 cancelled, 1 skipped: already processed — dup"
    }


def test_perform__leaves_the_permission_check_to_its_caller(user):
    assert not user.has_perm("djtriggers.reprocess_trigger")
    failed()
    report = operations.perform("reprocess", Trigger.objects.all(), user=user)
    assert report.changed == 1
    assert Trigger.objects.due().count() == 1


@pytest.mark.parametrize("who", [None, AnonymousUser()])
def test_perform__code_acting_on_its_own_leaves_no_admin_log(who):
    make(1)
    operations.perform("cancel", Trigger.objects.all(), user=who)
    assert OperatorAction.objects.get().user is None
    assert not LogEntry.objects.exists()


def test_names__of_the_previews_still_importable():
    assert operations.VERBS == {
        "reprocess": "reprocessed",
        "reschedule": "rescheduled",
        "cancel": "cancelled",
        "process": "processed now",
        "priority": "given a new priority",
    }
    assert operations.CHUNK_SIZE == actions.CHUNK_SIZE
    assert operations.SKIP_REASONS is actions.SKIP_REASONS
    assert operations.Report is actions.Report
