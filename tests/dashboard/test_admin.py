"""The admin index links to the dashboard (dashboard.admin), for those who may view triggers."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

pytestmark = pytest.mark.django_db

LINK = b"/admin/djtriggers_dashboard/dashboard/"


def test_admin_index__links_to_the_dashboard(client):
    client.force_login(User.objects.create_superuser("a", "a@example.com", "x"))
    assert LINK in client.get("/admin/").content
    response = client.get(LINK.decode())
    assert response.status_code == 302
    assert response["Location"] == "/triggers/"


def test_admin_index__no_link_without_view_permission(client):
    staff = User.objects.create_user("s", password="x", is_staff=True)
    client.force_login(staff)
    assert LINK not in client.get("/admin/").content
    staff.user_permissions.add(Permission.objects.get(codename="view_trigger"))
    assert LINK in client.get("/admin/").content


def test_dashboard_link__lists_nothing_and_changes_nothing(client):
    from django.contrib import admin

    from dashboard.models import Dashboard

    client.force_login(User.objects.create_superuser("a", "a@example.com", "x"))
    request = client.get("/admin/").wsgi_request
    link = admin.site._registry[Dashboard]
    assert link.has_view_permission(request)
    assert not link.has_add_permission(request)
    assert not link.has_change_permission(request)
    assert not link.has_delete_permission(request)
    assert client.get(LINK.decode() + "add/").status_code == 403
