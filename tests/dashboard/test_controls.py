"""The dashboard's type controls: the paused banner, Pause and Resume, the limits."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from djtriggers import controls
from djtriggers.models import OperatorAction
from tests.conftest import login
from tests.dashboard.conftest import INDEX, LIVE
from tests.factories import due, make, running
from tests.testapp.models import LimitedTrigger

pytestmark = pytest.mark.django_db

XSS = "<script>alert(1)</script>"
HTMX = {"HX-Request": "true"}


def url(kind: str) -> str:
    return reverse("dashboard:type_control", args=[kind])


def post(client: Client, kind: str, trigger_type: str, **kwargs):
    data = {"trigger_type": trigger_type, **kwargs.pop("data", {})}
    return client.post(url(kind), data, **kwargs)


def test_banner__who_when_why_backlog_and_resume(client, root):
    make(3)
    controls.pause("noop", reason=XSS)
    html = client.get(INDEX).content.decode()
    assert "noop is PAUSED" in html
    assert "3 due triggers wait, the oldest for 5m " in html
    assert XSS not in html and "&lt;script&gt;" in html
    assert 'name="trigger_type" value="noop"' in html
    assert url("resume") in html
    assert 'class="djt-badge djt-paused"' in html


def test_banner__no_resume_button_without_the_permission(client):
    login(client, "view_trigger")
    controls.pause("noop")
    html = client.get(INDEX, headers=LIVE).content.decode()
    assert "noop is PAUSED" in html
    assert "No trigger of it is due." in html
    assert url("resume") not in html
    assert post(client, "resume", "noop").status_code == 403
    assert controls.is_paused("noop")


def test_pause_and_resume__audited_with_an_event_for_htmx(client, root):
    make(1)
    response = post(client, "pause", "noop", data={"reason": "partner down"}, headers=HTMX)
    assert response["HX-Trigger"] == "triggers-changed"
    assert "Paused noop." in response.content.decode()
    again = post(client, "pause", "noop", headers=HTMX)
    assert "noop was paused already." in again.content.decode()
    assert "HX-Trigger" not in again
    response = post(client, "resume", "noop")  # without JavaScript: a redirect, a message
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Resumed noop."]
    assert list(
        OperatorAction.objects.order_by("pk").values_list("kind", "reason", "username")
    ) == [
        ("pause", "partner down", "root"),
        ("resume", "", "root"),
    ]


def test_pause__unknown_type_bad_kind_and_get(client, root):
    response = post(client, "pause", "nope", headers=HTMX)
    assert "No trigger type &#x27;nope&#x27;" in response.content.decode()
    assert post(client, "explode", "noop").status_code == 404
    assert client.get(url("pause")).status_code == 405


def test_types_table__shows_the_limit_and_pause_buttons(client, root):
    running(LimitedTrigger)
    make(1)
    due(trigger_type="gone/with a slash")  # a stored type never breaks the page
    html = client.get(INDEX, headers=LIVE).content.decode()
    assert "1/2 running, limit 2" in html
    assert 'name="trigger_type" value="noop"' in html
    assert 'name="trigger_type" value="gone/with a slash"' not in html


def test_csrf__enforced(root):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(root)
    assert post(strict, "pause", "noop").status_code == 403
    assert not controls.is_paused("noop")
