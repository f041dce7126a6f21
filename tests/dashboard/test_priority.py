"""The dashboard's side of priorities: the column, and the action on a row and on a group."""

from __future__ import annotations

import pytest

from djtriggers.models import OperatorAction, Trigger
from tests.dashboard.conftest import HTMX, INDEX, LIST, action_url, group_data, group_url
from tests.factories import due, make, processed

pytestmark = pytest.mark.django_db


def test_list__shows_the_priority(client, root):
    make(1, priority=0)
    content = client.get(INDEX, headers=LIST).content.decode()
    assert "<th>Priority</th>" in content
    assert "<td>0</td>" in content


def test_row_action__offers_the_priority_with_its_input(client, root):
    trigger = due()
    content = client.get(INDEX).content.decode()
    assert action_url(trigger, "priority") in content
    assert 'name="priority"' in content


def test_row_action__changes_the_priority(client, root):
    trigger = due()
    response = client.post(action_url(trigger, "priority"), {"priority": "2"}, headers=HTMX)
    assert response.status_code == 200
    assert "1 given a new priority" in response.content.decode()
    assert Trigger.objects.get(pk=trigger.pk).priority == 2
    assert OperatorAction.objects.get().priority == 2


@pytest.mark.parametrize("value", ["", "12", "²"])
def test_row_action__a_bad_priority_changes_nothing(client, root, value):
    trigger = due()
    response = client.post(action_url(trigger, "priority"), {"priority": value}, headers=HTMX)
    assert "Not given a new priority" in response.content.decode()
    assert Trigger.objects.get(pk=trigger.pk).priority == 5
    assert not OperatorAction.objects.exists()


def test_row_action__a_processed_trigger_is_left_alone(client, root):
    trigger = processed()
    response = client.post(action_url(trigger, "priority"), {"priority": "2"}, headers=HTMX)
    assert "Not given a new priority: already processed." in response.content.decode()
    assert Trigger.objects.get(pk=trigger.pk).priority == 5


def test_group_action__asks_then_changes_the_group(client, root, group):
    data = group_data(group, priority="1")
    asked = client.post(group_url("priority"), data, headers=HTMX).content.decode()
    assert 'name="priority" value="1"' in asked
    response = client.post(group_url("priority"), {**data, "confirm": "yes"}, headers=HTMX)
    assert "2 given a new priority" in response.content.decode()
    assert sorted(Trigger.objects.values_list("priority", flat=True)) == [1, 1, 5]
