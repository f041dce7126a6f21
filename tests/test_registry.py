"""Which class handles which trigger_type (djtriggers.registry)."""

from __future__ import annotations

import pytest

from djtriggers.exceptions import UnknownTriggerType
from djtriggers.models import Trigger
from djtriggers.registry import trigger_class, trigger_classes, trigger_types
from tests.testapp.models import BreakfastTrigger, NoopTrigger, PayBill


def test_trigger_classes__every_installed_subclass_by_its_typed():
    classes = trigger_classes()
    assert classes["breakfast"] == [BreakfastTrigger]
    assert classes["noop"] == [NoopTrigger]
    assert classes["testapp.paybill"] == [PayBill]
    assert all(Trigger not in found for found in classes.values())


def test_trigger_types__sorted_names():
    types = trigger_types()
    assert types == sorted(types)
    assert {"breakfast", "noop", "testapp.paybill", "failing", "poison"} <= set(types)


def test_trigger_class__of_a_type():
    assert trigger_class("noop") is NoopTrigger
    assert trigger_class("testapp.paybill") is PayBill


def test_trigger_class__an_unknown_type_says_what_to_do():
    with pytest.raises(UnknownTriggerType) as error:
        trigger_class("billing.removed")
    assert str(error.value) == (
        "No Trigger subclass has typed = 'billing.removed'. Was the class renamed or "
        "removed? Restore it (or a proxy with that typed), or cancel these triggers."
    )


def test_trigger_class__two_classes_with_one_typed_the_first_wins(monkeypatch):
    from djtriggers import registry

    monkeypatch.setattr(
        registry, "trigger_classes", lambda: {"noop": [NoopTrigger, BreakfastTrigger]}
    )
    assert trigger_class("noop") is NoopTrigger
