"""The admin index links to the dashboard, for those who may view triggers."""

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
