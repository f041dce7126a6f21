"""The admin's side of priorities and unique keys: column, filter, action, key, duplicates."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from djtriggers.models import OperatorAction, Trigger
from tests.admin.conftest import CHANGELIST, act, change_url, confirm, listed, messages_of
from tests.conftest import login
from tests.factories import due, failed, make, processed, running
from tests.testapp.models import UniqueSourceTrigger

pytestmark = pytest.mark.django_db

ADD = "/admin/testapp/uniquesourcetrigger/add/"


def priorities_of(*triggers):
    return [Trigger.objects.get(pk=t.pk).priority for t in triggers]


def test_list__priority_column_and_filter(client, root):
    urgent, normal = make(1, priority=0)[0], due()
    response = client.get(CHANGELIST + "?priority=0")
    assert listed(response) == {urgent.pk}
    assert "column-priority" in response.content.decode()
    assert listed(client.get(CHANGELIST + "?priority=x")) == {urgent.pk, normal.pk}


def test_list__search_by_key(client, root):
    keyed = UniqueSourceTrigger.objects.create(source="invoice-77")
    due(source="other")
    assert listed(client.get(CHANGELIST + "?q=invoice-77")) == {keyed.pk}


def test_change_page__shows_priority_and_key(client, root):
    keyed = UniqueSourceTrigger.objects.create(source="invoice-77", priority=2)
    html = client.get(change_url(keyed)).content.decode()
    assert "source=invoice-77" in html
    assert 'name="priority"' in html  # the action's form


def test_priority_action__asks_then_changes_waiting_and_failed(client, root):
    waiting, gone, done, busy = due(), failed(), processed(), running()
    page = act(client, "change_priority", [waiting, gone, done, busy])
    assert 'name="priority"' in page.content.decode()
    response = confirm(client, "change_priority", [waiting, gone, done, busy], priority="1")
    assert messages_of(response) == [
        "2 given a new priority, 2 skipped: 1 already processed, 1 running"
    ]
    assert priorities_of(waiting, gone, done, busy) == [1, 1, 5, 5]
    audit = OperatorAction.objects.get()
    assert (audit.kind, audit.priority, audit.changed) == ("priority", 1, 2)
    assert LogEntry.objects.count() == 2


@pytest.mark.parametrize("value", ["", "10", "-1", "one", "٣", "1.0"])
def test_priority_action__bad_value_changes_nothing(client, root, value):
    trigger = due()
    response = confirm(client, "change_priority", [trigger], priority=value)
    assert response.context["form"].errors["priority"]
    assert priorities_of(trigger) == [5]
    assert not OperatorAction.objects.exists()


def test_priority_action__needs_the_change_permission(client):
    login(client, "view_trigger", "reprocess_trigger")
    trigger = due()
    confirm(client, "change_priority", [trigger], priority="1")
    assert priorities_of(trigger) == [5]
    assert not OperatorAction.objects.exists()


def test_priority_button__on_the_trigger_page(client, root):
    trigger = due()
    url = f"/admin/djtriggers/trigger/{trigger.pk}/priority/"
    response = client.post(url, {"priority": "3"}, follow=True)
    assert priorities_of(trigger) == [3]
    assert any("given a new priority" in m for m in messages_of(response))


def test_add__a_duplicate_key_is_a_clear_error(client, root):
    holder = UniqueSourceTrigger.objects.create(source="invoice-77")
    response = client.post(
        ADD, {"source": "invoice-77", "process_after_0": "2030-01-01", "process_after_1": "10:00"}
    )
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert f"Trigger {holder.pk}" in errors and "already has the key source=invoice-77" in errors
    assert Trigger.objects.count() == 1


def test_add__a_free_key_is_added(client, root):
    holder = UniqueSourceTrigger.objects.create(source="invoice-77")
    holder.cancel()
    response = client.post(
        ADD, {"source": "invoice-77", "process_after_0": "2030-01-01", "process_after_1": "10:00"}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Trigger.objects.count() == 2
