"""Loading claimed rows as their classes (djtriggers.loading), one bad row failing alone."""

from __future__ import annotations

import pytest
from django.db import connection

from djtriggers.exceptions import TriggerDataMissing, UnknownTriggerType
from djtriggers.loading import load_typed
from djtriggers.logic import process_triggers
from djtriggers.models import Trigger, TriggerAttempt
from tests.factories import due
from tests.testapp.models import BreakfastTrigger, NoopTrigger, PayBill
from tests.workers import create_counting, runs_per_trigger

pytestmark = pytest.mark.django_db


def delete_own_row(bill: PayBill) -> None:
    """What a cascade or a script may do: the subclass row goes, the trigger row stays."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {PayBill._meta.db_table} WHERE trigger_ptr_id = %s", [bill.pk])


def loaded(*triggers):
    """(class, error class) of each of ``triggers`` as load_typed reads them."""
    qs = Trigger.objects.filter(pk__in=[t.pk for t in triggers]).order_by("pk")
    return [
        (type(typed).__name__ if typed else None, type(error).__name__ if error else None)
        for _, typed, error in load_typed(qs, "default")
    ]


def test_a_trigger_whose_own_data_row_is_gone__fails_for_good_saying_so(user):
    others = create_counting(2)
    bill = PayBill.objects.create(amount=1, recipient=user)
    delete_own_row(bill)
    process_triggers()
    row = Trigger.objects.get(pk=bill.pk)
    assert row.status == "failed"
    assert "has lost its own data" in row.last_error
    assert TriggerAttempt.objects.get(trigger_id=bill.pk).exception_class == "TriggerDataMissing"
    assert runs_per_trigger() == dict.fromkeys(others, 1)


def test_load_typed__proxies_from_the_row_subclasses_from_their_table(
    user, django_assert_num_queries
):
    noop, breakfast = due(), BreakfastTrigger.objects.create()
    bills = [PayBill.objects.create(amount=n, recipient=user) for n in (1, 2)]
    qs = Trigger.objects.filter(pk__in=[noop.pk, breakfast.pk, *[b.pk for b in bills]])
    # The rows, then the PayBills (in a savepoint: SAVEPOINT, SELECT, RELEASE).
    with django_assert_num_queries(4):
        rows = load_typed(qs.order_by("pk"), "default")
    assert [type(typed) for _, typed, _ in rows] == [
        NoopTrigger,
        BreakfastTrigger,
        PayBill,
        PayBill,
    ]
    assert [typed.amount for _, typed, _ in rows[2:]] == [1, 2]
    assert all(type(row) in (NoopTrigger, BreakfastTrigger, Trigger) for row, _, _ in rows)


def test_load_typed__an_unknown_type_comes_with_the_reason():
    stray = due(trigger_type="renamed")
    [(row, typed, error)] = load_typed(Trigger.objects.filter(pk=stray.pk), "default")
    assert (row.pk, typed) == (stray.pk, None)
    assert isinstance(error, UnknownTriggerType)
    assert "Restore it (or a proxy with that typed), then reprocess." in str(error)


def test_load_typed__a_row_whose_class_cannot_build_it_fails_alone(monkeypatch):
    good, bad = due(source="good"), due(source="bad")
    real = NoopTrigger.from_db.__func__

    def from_db(cls, db, field_names, values):
        if "bad" in values:
            raise ValueError("a field that will not convert")
        return real(cls, db, field_names, values)

    monkeypatch.setattr(NoopTrigger, "from_db", classmethod(from_db))
    assert loaded(good, bad) == [("NoopTrigger", None), (None, "ValueError")]


def test_load_typed__a_subclass_row_that_fails_to_load_fails_alone(user, monkeypatch, caplog):
    good, bad, gone = (PayBill.objects.create(amount=n, recipient=user) for n in (1, 2, 3))
    delete_own_row(gone)
    real = PayBill.from_db.__func__

    def from_db(cls, db, field_names, values):
        instance = real(cls, db, field_names, values)
        if instance.amount == 2:
            raise ValueError("a field that will not convert")
        return instance

    monkeypatch.setattr(PayBill, "from_db", classmethod(from_db))
    assert loaded(good, bad, gone) == [
        ("PayBill", None),
        (None, "ValueError"),
        (None, "TriggerDataMissing"),
    ]
    assert "loading them one by one" in caplog.text


def test_load_typed__nothing_to_load():
    assert load_typed(Trigger.objects.none(), "default") == []


def test_trigger_data_missing__says_what_to_do(user):
    bill = PayBill.objects.create(amount=1, recipient=user)
    error = TriggerDataMissing(bill, PayBill)
    assert str(error) == (
        f"Trigger {bill.pk} (testapp.paybill) has lost its own data: its row in "
        "testapp_paybill (PayBill) was deleted. Cancel or delete the trigger."
    )
