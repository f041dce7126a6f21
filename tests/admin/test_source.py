"""SourceTriggersMixin (djtriggers.admin.source): an object's page lists its triggers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from djtriggers.admin import SourceTriggersMixin
from tests.admin.conftest import XSS, assert_escaped, change_url, listed
from tests.factories import due, failed, retried

pytestmark = pytest.mark.django_db


def test_source_triggers__listed_on_the_objects_page(client, root):
    mine = [due(source=f"auth.user${root.pk}"), failed(source=f"auth.user${root.pk}")]
    not_mine = due(source=f"auth.user${root.pk}0")
    response = client.get(change_url(root, "auth/user"))
    assert {t.pk for t in response.context["source_triggers"]} == {t.pk for t in mine}
    assert response.context["source_trigger_counts"] == {"due": 1, "failed": 1}
    html = response.content.decode()
    assert f'href="/admin/djtriggers/trigger/{mine[0].pk}/change/"' in html
    link = f"/admin/djtriggers/trigger/?source=auth.user%24{root.pk}"
    assert link in html
    assert listed(client.get(link)) == {t.pk for t in mine}
    assert not_mine.pk not in listed(client.get(link))


def test_source_triggers__none(client, root):
    html = client.get(change_url(root, "auth/user")).content.decode()
    assert "No triggers point at it." in html


def test_source_triggers__hidden_without_trigger_permission(client):
    user = User.objects.create_user("clerk", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_user", "change_user"]))
    client.force_login(user)
    due(source=f"auth.user${user.pk}")
    response = client.get(change_url(user, "auth/user"))
    assert response.status_code == 200
    assert "source_triggers" not in response.context
    assert "Triggers for this" not in response.content.decode()


def test_escaping__source_triggers_on_the_objects_page(client, root):
    retried(source=f"auth.user${root.pk}", error=XSS)
    assert_escaped(client.get(change_url(root, "auth/user")))


def test_get_trigger_source__is_what_set_source_stores_for_the_object(root):
    trigger = due()
    trigger.set_source(root._meta.label_lower, root.pk)
    assert (
        SourceTriggersMixin().get_trigger_source(root) == trigger.source == f"auth.user${root.pk}"
    )


def test_source_triggers__an_unknown_object_is_left_to_the_admin(client, root):
    response = client.get("/admin/auth/user/999999/change/")
    assert response.status_code == 302  # the admin's own "does not exist" redirect


def test_source_triggers__not_on_the_page_adding_an_object(client, root):
    response = client.get("/admin/auth/user/add/")
    assert response.status_code == 200
    assert "source_triggers" not in response.context
    assert "djtriggers/admin/source_change_form.html" not in [t.name for t in response.templates]
