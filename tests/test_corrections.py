"""Correcting a trigger's own data (djtriggers.corrections): the write, its audit, its refusals."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied

from djtriggers import corrections, signals
from djtriggers.corrections import NotEditable
from djtriggers.models import OperatorAction, Trigger
from tests.conftest import locked_elsewhere
from tests.factories import cancelled, due, failed, pending, processed, running
from tests.testapp.models import BreakfastTrigger, PayBill

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice")


@pytest.fixture
def bob(db) -> User:
    return User.objects.create_user("bob")


def operator(*codenames: str) -> User:
    user = User.objects.create_user("op_" + "_".join(codenames), is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return User.objects.get(pk=user.pk)  # no cached permissions


def test_own_fields__a_concrete_subclass_has_its_own_a_proxy_none():
    assert [f.name for f in corrections.own_fields(PayBill)] == ["amount", "recipient"]
    assert corrections.own_fields(BreakfastTrigger) == []
    assert corrections.own_fields(Trigger) == []


def test_save__writes_the_fields_audits_old_and_new_values(
    alice, bob, django_capture_on_commit_callbacks
):
    bill = failed(PayBill, amount=1500, recipient=bob)
    user = operator("change_paybill")
    sent = []
    signals.operator_action.connect(lambda **kw: sent.append(kw), weak=False, dispatch_uid="t")
    try:
        bill.amount, bill.recipient = 150, alice
        with django_capture_on_commit_callbacks(execute=True):
            correction = corrections.save(bill, ["amount", "recipient"], user=user)
    finally:
        signals.operator_action.disconnect(dispatch_uid="t")
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.recipient, row.status) == (150, alice, "failed")
    assert correction.changes == [("amount", "1500", "150"), ("recipient", "bob", "alice")]
    assert correction.message() == "Amount: 1500 → 150; recipient: bob → alice"
    audit = OperatorAction.objects.get()
    assert (audit.kind, audit.username, audit.changed) == ("edit", user.username, 1)
    assert audit.changes == [
        {"field": "amount", "old": "1500", "new": "150"},
        {"field": "recipient", "old": "bob", "new": "alice"},
    ]
    assert list(audit.triggers.all()) == [Trigger.objects.get(pk=bill.pk)]
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.change_message) == (str(bill.pk), correction.message())
    assert [(s["action"], s["changed"]) for s in sent] == [("edit", 1)]


def test_save__and_reprocess_in_one_step(bob):
    bill = failed(PayBill, amount=1500, recipient=bob)
    bill.amount = 150
    correction = corrections.save(bill, ["amount"], reprocess=True)
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.status, row.number_of_tries, row.last_error) == (150, "due", 0, "")
    assert correction.reprocessed is not None and correction.reprocessed.changed == 1
    assert correction.message() == "Amount: 1500 → 150; 1 reprocessed"
    assert sorted(OperatorAction.objects.values_list("kind", flat=True)) == ["edit", "reprocess"]
    assert not LogEntry.objects.exists()  # code acting on its own


def test_save__nothing_changed_is_not_audited(bob):
    bill = due(PayBill, amount=3, recipient=bob)
    correction = corrections.save(bill, ["amount"])
    assert (correction.changes, correction.audit, correction.message()) == ([], None, "No changes")
    assert not OperatorAction.objects.exists()


@pytest.mark.parametrize("make", [pending, due, failed])
def test_save__editable_statuses(make, bob):
    bill = make(PayBill, amount=3, recipient=bob)
    assert corrections.editable(bill)
    bill.amount = 4
    corrections.save(bill, ["amount"])
    assert PayBill.objects.get(pk=bill.pk).amount == 4


@pytest.mark.parametrize("make", [running, processed, cancelled])
def test_save__refused_for_other_statuses_changes_nothing(make, bob):
    bill = make(PayBill, amount=3, recipient=bob)
    assert not corrections.editable(bill)
    bill.amount = 4
    with pytest.raises(NotEditable, match="its data can be corrected only while it is pending"):
        corrections.save(bill, ["amount"], reprocess=True)
    assert PayBill.objects.get(pk=bill.pk).amount == 3
    assert not OperatorAction.objects.exists()


def test_save__status_read_from_the_row_not_the_instance(bob):
    bill = due(PayBill, amount=3, recipient=bob)
    Trigger.objects.filter(pk=bill.pk).update(state="running", locked_by="w1")  # meanwhile
    bill.amount = 4
    with pytest.raises(NotEditable, match="running"):
        corrections.save(bill, ["amount"])
    assert PayBill.objects.get(pk=bill.pk).amount == 3


def test_save__a_deleted_trigger(bob):
    bill = due(PayBill, amount=3, recipient=bob)
    PayBill.objects.filter(pk=bill.pk).delete()
    with pytest.raises(NotEditable, match="deleted"):
        corrections.save(bill, ["amount"])


@pytest.mark.django_db(transaction=True)
def test_save__a_trigger_a_worker_holds_is_neither_edited_nor_reprocessed(bob):
    bill = failed(PayBill, amount=1500, recipient=bob)
    bill.amount = 150
    held = pytest.raises(NotEditable, match="A worker is processing this trigger right now")
    with locked_elsewhere(bill.pk), held:
        corrections.save(bill, ["amount"], reprocess=True)
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.status) == (1500, "failed")
    assert not OperatorAction.objects.exists()


def test_save__only_own_fields(bob):
    bill = due(PayBill, amount=3, recipient=bob)
    with pytest.raises(ValueError, match="only amount, recipient can be corrected"):
        corrections.save(bill, ["state", "amount"])
    with pytest.raises(ValueError, match="only none can be corrected"):
        corrections.save(due(), ["source"])


def test_save__needs_the_change_permission_and_for_reprocess_its_own(bob):
    bill = failed(PayBill, amount=3, recipient=bob)
    bill.amount = 4
    with pytest.raises(PermissionDenied, match=r"testapp\.change_paybill"):
        corrections.save(bill, ["amount"], user=operator("view_paybill"))
    with pytest.raises(PermissionDenied, match=r"djtriggers\.reprocess_trigger"):
        corrections.save(bill, ["amount"], user=operator("change_paybill"), reprocess=True)
    assert PayBill.objects.get(pk=bill.pk).amount == 3
    corrections.save(
        bill, ["amount"], user=operator("change_paybill", "reprocess_trigger"), reprocess=True
    )
    assert PayBill.objects.get(pk=bill.pk).status == "due"


def test_labelled__a_field_since_removed_shows_its_name():
    changes = [
        {"field": "gone", "old": "1", "new": "2"},
        {"field": "amount", "old": "", "new": "3"},
    ]
    assert corrections.labelled(PayBill, changes) == [("gone", "1", "2"), ("amount", "", "3")]
