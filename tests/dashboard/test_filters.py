"""The dashboard list's filters (dashboard.filters): status, type, source, received range."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.filters import TYPE_MAX_LENGTH, TriggerFilter
from djtriggers.models import Trigger
from tests.dashboard.conftest import INDEX, LIST, rows
from tests.factories import BY_STATUS, due, failed, make, pending, processed
from tests.testapp.models import BreakfastTrigger

pytestmark = pytest.mark.django_db


def test_list__filters_by_status(client, root):
    due_now, later, failure, done = due(), pending(), failed(), processed()
    expected = {"due": [due_now], "pending": [later], "failed": [failure], "processed": [done]}
    for status, triggers in expected.items():
        response = client.get(INDEX, {"status": status}, headers=LIST)
        assert rows(response.content) == [t.pk for t in triggers], status


def test_list__filters_by_type_source_and_received_range(client, root):
    now = timezone.now()
    noop = due(source="invoice$1", date_received=now - timedelta(days=10))
    breakfast = make(cls=BreakfastTrigger, source="invoice$2")[0]
    other = due(source="order$1")

    def listed(**params):
        return rows(client.get(INDEX, params, headers=LIST).content)

    assert listed(type="breakfast") == [breakfast.pk]
    assert listed(source="invoice") == [breakfast.pk, noop.pk]
    assert listed(source="invoice", type="noop") == [noop.pk]
    ten_days_ago = (now - timedelta(days=10)).date().isoformat()
    yesterday = (now - timedelta(days=1)).date().isoformat()
    assert listed(received_before=yesterday) == [noop.pk]
    assert listed(received_after=yesterday) == [other.pk, breakfast.pk]
    assert listed(received_after=ten_days_ago, received_before=ten_days_ago) == [noop.pk]


def test_list__bad_filter_says_so_and_lists_nothing(client, root):
    due()
    response = client.get(INDEX, {"status": "bogus", "received_after": "soon"}, headers=LIST)
    content = response.content.decode()
    assert response.status_code == 200
    assert rows(response.content) == []
    assert "Select a valid choice" in content
    assert "Enter a valid date" in content


def test_list__filters_by_a_type_that_has_no_class_any_more(client, root):
    gone = due(trigger_type="billing.removed")
    due()
    response = client.get(INDEX, {"type": "billing.removed"})
    assert not response.context["filter"].errors
    assert rows(response.content) == [gone.pk]
    assert "billing.removed (no class)" in response.content.decode()


def test_filter__every_status_and_none(db):
    triggers = {status: maker() for status, maker in BY_STATUS.items()}
    for status, trigger in triggers.items():
        filterset = TriggerFilter({"status": status}, queryset=Trigger.objects.all())
        assert filterset.is_valid()
        assert list(filterset.qs) == [trigger]
    everything = TriggerFilter({}, queryset=Trigger.objects.all())
    assert everything.qs.count() == len(triggers)


def test_filter__the_types_offered_are_the_installed_ones():
    choices = dict(TriggerFilter({}).form.fields["type"].choices)
    assert {"breakfast", "noop", "testapp.paybill"} <= set(choices)
    assert not any(label.endswith("(no class)") for label in choices.values())


def test_filter__a_type_name_longer_than_the_column_is_no_choice():
    asked = "x" * (TYPE_MAX_LENGTH + 1)
    filterset = TriggerFilter({"type": asked}, queryset=Trigger.objects.all())
    assert not filterset.is_valid()
    assert "Select a valid choice" in str(filterset.errors["type"])
