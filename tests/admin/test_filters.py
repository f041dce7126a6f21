"""The changelist's filters (djtriggers.admin.filters): the six statuses, the installed types."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from djtriggers.admin.filters import StatusFilter, TypeFilter
from djtriggers.models import Trigger
from tests.admin.conftest import CHANGELIST, listed
from tests.factories import BY_STATUS, due
from tests.testapp.models import BreakfastTrigger, PayBill

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", list(BY_STATUS))
def test_status_filter__lists_only_that_status(client, root, status):
    triggers = {name: maker() for name, maker in BY_STATUS.items()}
    response = client.get(f"{CHANGELIST}?status={status}")
    assert response.status_code == 200
    assert listed(response) == {triggers[status].pk}
    assert f'<span class="djt-badge djt-{status}">{status}</span>' in response.content.decode()


def test_type_filter(client, root):
    noop = due()
    breakfast = BreakfastTrigger.objects.create()
    response = client.get(f"{CHANGELIST}?type=breakfast")
    assert listed(response) == {breakfast.pk}
    assert listed(client.get(f"{CHANGELIST}?type=noop")) == {noop.pk}
    assert "?type=testapp.paybill" in response.content.decode()


def status_filter(**params: str) -> StatusFilter:
    request = RequestFactory().get("/", params)
    lists = {name: [value] for name, value in params.items()}
    return StatusFilter(request, lists, Trigger, admin.site._registry[Trigger])


@pytest.mark.parametrize("value", ["bogus", ""])
def test_status_filter__a_value_that_is_no_status_filters_nothing(value):
    triggers = {name: maker() for name, maker in BY_STATUS.items()}
    queryset = Trigger.objects.all()
    filtered = status_filter(status=value).queryset(None, queryset)
    assert set(filtered.values_list("pk", flat=True)) == {t.pk for t in triggers.values()}


def test_status_filter__offers_the_six_statuses_in_order_then_dispatched():
    choices = status_filter().lookups(None, admin.site._registry[Trigger])
    assert [value for value, _ in choices] == [*BY_STATUS, "dispatched"]


def test_type_filter__offers_every_installed_type_on_the_base_admin_only():
    request = RequestFactory().get("/")
    base = TypeFilter(request, {}, Trigger, admin.site._registry[Trigger])
    types = [value for value, _ in base.lookups(request, admin.site._registry[Trigger])]
    assert types == sorted(types)
    assert {"breakfast", "noop", "testapp.paybill"} <= set(types)
    subclass = admin.site._registry[PayBill]
    assert TypeFilter(request, {}, PayBill, subclass).lookups(request, subclass) == []
