"""The dashboard's links to the admin open on the admin site the project names."""

import re

import pytest
from django.urls import reverse

from dashboard.checks import check_dashboard_admin_site
from tests.conftest import login
from tests.dashboard.conftest import HTMX, INDEX, action_url
from tests.factories import due, failed

pytestmark = pytest.mark.django_db

ADMIN_LINK = re.compile(r'href="(/[a-z]*admin/)')


def admin_links(html: str) -> set[str]:
    return set(ADMIN_LINK.findall(html))


@pytest.mark.parametrize("site", ["admin", "otheradmin"])
def test_page__links_to_the_named_admin_site(client, settings, site):
    settings.DJTRIGGERS_DASHBOARD_ADMIN_SITE = site
    login(client, superuser=True)
    due()
    failed(last_error="boom")
    html = client.get(INDEX).content.decode()
    assert f'href="/{site}/djtriggers/trigger/' in html
    assert admin_links(html) == {f"/{site}/"}


def test_row_action__answers_with_links_to_the_named_site(client, settings):
    settings.DJTRIGGERS_DASHBOARD_ADMIN_SITE = "otheradmin"
    login(client, superuser=True)
    trigger = failed(last_error="boom")
    response = client.post(action_url(trigger, "reprocess"), headers=HTMX)
    html = response.content.decode()
    change = reverse("admin:djtriggers_trigger_change", args=[trigger.pk], current_app="otheradmin")
    assert change.startswith("/otheradmin/")
    assert f'href="{change}"' in html
    assert admin_links(html) == {"/otheradmin/"}


@pytest.mark.parametrize("site", ["admin", "otheradmin"])
def test_check__passes_for_a_site_in_the_urlconf(settings, site):
    settings.DJTRIGGERS_DASHBOARD_ADMIN_SITE = site
    assert check_dashboard_admin_site() == []


@pytest.mark.parametrize("value", ["nope", "", None, ["admin"]])
def test_check__e010_for_a_name_not_in_the_urlconf(settings, value):
    settings.DJTRIGGERS_DASHBOARD_ADMIN_SITE = value
    [error] = check_dashboard_admin_site()
    assert error.id == "djtriggers.E010"
    assert repr(value) in error.msg
    assert "'admin', 'otheradmin'" in error.hint


@pytest.mark.parametrize("site", ["admin", "otheradmin"])
def test_anonymous__logs_in_on_the_named_site(client, settings, site):
    settings.DJTRIGGERS_DASHBOARD_ADMIN_SITE = site
    response = client.get(INDEX)
    assert response.status_code == 302
    assert response["Location"] == f"/{site}/login/?next={INDEX}"
