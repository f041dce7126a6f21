"""Pausing types from the admin (djtriggers.admin.pausing): the action, the list, resume."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from djtriggers import controls
from djtriggers.models import OperatorAction, PausedType, Trigger
from tests.admin.conftest import CHANGELIST, XSS, act, action_names, confirm, messages_of
from tests.conftest import login
from tests.factories import due, make, running
from tests.testapp.models import CountingTrigger, LimitedTrigger

pytestmark = pytest.mark.django_db

PAUSED_LIST = "/admin/djtriggers/pausedtype/"


def test_pause_action__asks_for_a_reason_then_pauses_each_type(client, root):
    triggers = [due(), due(), due(CountingTrigger)]
    page = act(client, "pause_trigger_types", triggers)
    assert page.templates[0].name == "djtriggers/admin/pause_types.html"
    html = page.content.decode()
    assert "<strong>counting</strong>" in html and "<strong>noop</strong>" in html
    assert 'name="reason"' in html
    response = confirm(client, "pause_trigger_types", triggers, reason="partner down")
    assert messages_of(response) == [
        "Paused counting: workers start none of its triggers until it is resumed.",
        "Paused noop: workers start none of its triggers until it is resumed.",
    ]
    assert controls.paused_types() == {"counting", "noop"}
    assert set(
        OperatorAction.objects.values_list("kind", "trigger_type", "reason", "username")
    ) == {
        ("pause", "counting", "partner down", "root"),
        ("pause", "noop", "partner down", "root"),
    }
    assert LogEntry.objects.count() == 2
    again = confirm(client, "pause_trigger_types", triggers[:1])
    assert messages_of(again) == ["noop was paused already."]


def test_pause_action__a_reason_too_long_shows_the_form_again(client, root):
    response = confirm(client, "pause_trigger_types", [due()], reason="x" * 1001)
    assert response.templates[0].name == "djtriggers/admin/pause_types.html"
    assert not PausedType.objects.exists()


def test_pause_action__types_without_a_class_are_named_and_left(client, root):
    gone = due(trigger_type="gone")
    response = act(client, "pause_trigger_types", [gone])
    assert messages_of(response) == ["Not paused (no class has this type): gone."]
    assert not PausedType.objects.exists()


def test_pause_action__only_with_the_permission(client):
    login(client, "view_trigger", "change_trigger")
    trigger = due()
    assert "pause_trigger_types" not in action_names(client.get(CHANGELIST))
    confirm(client, "pause_trigger_types", [trigger])
    assert not PausedType.objects.exists()


def test_list_filtered_to_a_paused_type__says_so(client, root):
    due()
    controls.pause("noop", reason=XSS)
    response = client.get(CHANGELIST + "?type=noop")
    [message] = messages_of(response)
    assert message.startswith("noop is PAUSED since ")
    assert XSS not in response.content.decode()


def test_list_filtered_to_a_limited_type__shows_the_limit(client, root):
    running(LimitedTrigger)
    response = client.get(CHANGELIST + "?type=limited")
    assert messages_of(response) == ["At most 2 of these run at once; 0 running now."]


def test_paused_list__backlog_and_resume(client, root, django_assert_max_num_queries):
    make(3)
    controls.pause("noop", reason="partner down")
    controls.pause("counting")
    with django_assert_max_num_queries(12):
        page = client.get(PAUSED_LIST)
    html = page.content.decode()
    assert "3 due, the oldest for 30" in html
    assert "none due" in html
    assert "partner down" in html
    assert "?type=noop&amp;status=due" in html
    pks = list(PausedType.objects.filter(trigger_type="noop").values_list("pk", flat=True))
    response = client.post(
        PAUSED_LIST, {"_selected_action": pks, "action": "resume_types"}, follow=True
    )
    assert messages_of(response) == ["Resumed 1 type: noop."]
    assert controls.paused_types() == {"counting"}
    assert OperatorAction.objects.filter(
        kind="resume", trigger_type="noop", username="root"
    ).exists()
    assert Trigger.objects.due().count() == 3


def test_paused_list__read_only_and_for_those_who_may_see_it(client):
    login(client, "view_trigger")
    controls.pause("noop")
    page = client.get(PAUSED_LIST)
    assert page.status_code == 200
    assert "resume_types" not in action_names(page)
    assert client.get("/admin/djtriggers/pausedtype/add/").status_code == 403
    client.logout()
    login(client, "view_worker")
    assert client.get(PAUSED_LIST).status_code == 403
