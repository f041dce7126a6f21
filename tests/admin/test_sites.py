"""The operators' admin on a second AdminSite works as on the default one.

tests/urls.py mounts ``other_site`` (``AdminSite(name="otheradmin")``) at
``/otheradmin/`` with the same admins as the default site. On either site,
every redirect and every link, form action and button of our pages stays on
that site, and the permissions apply as they do on the default site. Our pages'
templates are overridable as Django's own: a ModelAdmin attribute, else
``admin/<app>/<model>/<name>.html``, ``admin/<app>/<name>.html``, ours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import path
from django.utils import timezone

from djtriggers.admin import TriggerAdmin
from djtriggers.models import OperatorAction, Trigger
from tests.conftest import login
from tests.testapp.admin import UserWithTriggersAdmin
from tests.testapp.models import NoopTrigger, PayBill
from tests.urls import other_site

pytestmark = pytest.mark.django_db

OTHER = "/otheradmin/"
DEFAULT = "/admin/"
# Attributes whose value is a URL the browser may follow or post to.
URL_ATTRIBUTES = {"href", "action", "formaction", "src", "hx-get", "hx-post"}


# --- where a page leads ------------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value for name, value in attrs if name in URL_ATTRIBUTES}
        if tag == "form" and not found.get("action"):
            found["action"] = ""  # posts to the page itself
        for value in found.values():
            if value is not None:
                self.urls.append(urljoin(self.base, value))


def links(response: HttpResponse) -> list[str]:
    """Every URL in the page (links, form actions, sources), absolute, without the host."""
    request = response.wsgi_request
    parser = _Links(request.get_full_path())
    parser.feed(response.content.decode())
    return [_local(url) for url in parser.urls]


def _local(url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc in ("", "testserver"), url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def assert_stays_on(site: str, response: HttpResponse) -> list[str]:
    """Redirects and URLs lead to ``site`` only (or to static files and the site's "/")."""
    for url, _status in getattr(response, "redirect_chain", []):
        assert _local(url).startswith(site), url
    if response.status_code in (301, 302):
        assert _local(response["Location"]).startswith(site), response["Location"]
        return []
    assert response.status_code == 200, response.status_code
    urls = links(response)
    assert urls, "no links found: is this the page it should be?"
    for url in urls:
        elsewhere = url == "/" or url.startswith(settings.STATIC_URL)  # "View site", CSS, JS
        assert url.startswith(site) or elsewhere, f"{url} leaves {site}"
    return urls


def leads_to(urls: list[str], url: str) -> bool:
    """``url`` is among ``urls``, with or without a query string (preserved filters)."""
    return any(u == url or u.startswith(url + "?") for u in urls)


# --- the models, the sites and the users ------------------------------------------------


@dataclass(frozen=True)
class Admin:
    """One model's operators' admin: the URL path under a site, and how to make a due row."""

    path: str
    make: Callable[[User], Trigger]
    view: tuple[str, str]  # the model's view permission: its list needs it


def _noop(user: User) -> Trigger:
    return NoopTrigger.objects.create(process_after=timezone.now() - timedelta(minutes=5))


def _bill(user: User) -> Trigger:
    past = timezone.now() - timedelta(minutes=5)
    return PayBill.objects.create(amount=3, recipient=user, process_after=past)


TRIGGERS = Admin("djtriggers/trigger/", _noop, ("djtriggers", "view_trigger"))
BILLS = Admin("testapp/paybill/", _bill, ("testapp", "view_paybill"))


@pytest.fixture(params=[OTHER, DEFAULT], ids=["otheradmin", "admin"])
def site(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=[TRIGGERS, BILLS], ids=["trigger", "paybill"])
def model(request: pytest.FixtureRequest) -> Admin:
    assert isinstance(request.param, Admin)
    return request.param


@pytest.fixture
def root(client: Client) -> User:
    return login(client, superuser=True)


def act(
    client: Client, url: str, action: str, triggers: list[Trigger], **data: str
) -> HttpResponse:
    pks = [t.pk for t in triggers]
    response: HttpResponse = client.post(
        url, {ACTION_CHECKBOX_NAME: pks, "action": action, **data}, follow=True
    )
    return response


def messages_of(response: HttpResponse) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def states(*triggers: Trigger) -> list[str]:
    return [Trigger.objects.get(pk=t.pk).status for t in triggers]


# --- a superuser through the whole admin, on either site ---------------------------------


def test_index__links_stay_on_the_site(client: Client, root: User, site: str) -> None:
    urls = assert_stays_on(site, client.get(site))
    assert leads_to(urls, f"{site}djtriggers/trigger/")
    assert leads_to(urls, f"{site}djtriggers_dashboard/dashboard/")


def test_changelist__links_stay_on_the_site(
    client: Client, root: User, site: str, model: Admin
) -> None:
    trigger = model.make(root)
    changelist = site + model.path
    urls = assert_stays_on(site, client.get(changelist + "?status=due"))
    assert leads_to(urls, f"{changelist}{trigger.pk}/change/")
    assert leads_to(urls, f"{changelist}export/?status=due")  # import-export's button
    assert leads_to(urls, f"{changelist}?status=due")  # the action form posts to the list


def test_reprocess__redirects_to_the_sites_list(
    client: Client, root: User, site: str, model: Admin
) -> None:
    trigger = model.make(root)
    changelist = site + model.path
    response = act(client, changelist, "reprocess_triggers", [trigger])
    assert response.redirect_chain == [(changelist, 302)]
    assert messages_of(response) == ["1 reprocessed"]
    assert_stays_on(site, response)


def test_reprocess_paced__form_and_redirect_stay_on_the_site(
    client: Client, root: User, site: str, model: Admin
) -> None:
    triggers = [model.make(root), model.make(root)]
    changelist = site + model.path
    page = act(client, changelist, "reprocess_triggers_paced", triggers)
    assert page.redirect_chain == []
    urls = assert_stays_on(site, page)
    assert leads_to(urls, f"{changelist}{triggers[0].pk}/change/")
    response = act(
        client, changelist, "reprocess_triggers_paced", triggers, post="yes", spread="1h"
    )
    assert response.redirect_chain == [(changelist, 302)]
    assert messages_of(response) == ["2 reprocessed"]
    assert_stays_on(site, response)


def test_reschedule__form_and_redirect_stay_on_the_site(
    client: Client, root: User, site: str, model: Admin
) -> None:
    trigger = model.make(root)
    changelist = site + model.path
    page = act(client, changelist, "reschedule_triggers", [trigger])
    html = page.content.decode()
    assert 'name="process_after"' in html
    urls = assert_stays_on(site, page)
    assert leads_to(urls, f"{site}")  # the breadcrumbs' Home
    assert leads_to(urls, f"{site}{model.path.split('/')[0]}/")  # ... and the app
    assert leads_to(urls, changelist)  # ... and the list
    invalid = act(client, changelist, "reschedule_triggers", [trigger], post="yes")
    assert "This field is required." in invalid.content.decode()
    assert_stays_on(site, invalid)
    response = act(
        client, changelist, "reschedule_triggers", [trigger], post="yes", process_after="+2h"
    )
    assert response.redirect_chain == [(changelist, 302)]
    assert messages_of(response) == ["1 rescheduled"]
    assert states(trigger) == ["pending"]


def test_cancel__confirmation_and_redirect_stay_on_the_site(
    client: Client, root: User, site: str, model: Admin
) -> None:
    trigger = model.make(root)
    changelist = site + model.path
    page = act(client, changelist, "cancel_triggers", [trigger])
    assert "will be cancelled" in page.content.decode()
    urls = assert_stays_on(site, page)
    assert leads_to(urls, f"{changelist}{trigger.pk}/change/")  # the triggers that will change
    assert states(trigger) == ["due"]
    response = act(client, changelist, "cancel_triggers", [trigger], post="yes", reason="dup")
    assert response.redirect_chain == [(changelist, 302)]
    assert messages_of(response) == ["1 cancelled"]
    assert states(trigger) == ["cancelled"]
    assert_stays_on(site, response)


def test_process_now__redirects_to_the_sites_list(
    client: Client, root: User, site: str, model: Admin
) -> None:
    trigger = model.make(root)
    changelist = site + model.path
    response = act(client, changelist, "process_triggers_now", [trigger])
    assert response.redirect_chain == [(changelist, 302)]
    assert states(trigger) == ["processed"]
    assert_stays_on(site, response)


def test_trigger_page__buttons_forms_and_links_stay_on_the_site(
    client: Client, root: User, site: str, model: Admin
) -> None:
    trigger = model.make(root)
    page = site + model.path + f"{trigger.pk}/"
    urls = assert_stays_on(site, client.get(page + "change/"))
    for kind in ("reprocess", "reschedule", "cancel", "process"):
        assert leads_to(urls, f"{page}{kind}/")
    assert leads_to(urls, f"{page}history/")
    assert leads_to(urls, f"{page}delete/")


@pytest.mark.parametrize(
    ("kind", "data", "status"),
    [
        ("reprocess", {"reason": "fixed"}, "due"),
        ("reschedule", {"process_after": "+1h"}, "pending"),
        ("reschedule", {"process_after": "soon"}, "due"),  # an error message, no change
        ("cancel", {"reason": "dup"}, "cancelled"),
        ("process", {}, "processed"),
    ],
)
def test_trigger_page__each_button_returns_to_the_page_on_the_site(
    client: Client,
    root: User,
    site: str,
    model: Admin,
    kind: str,
    data: dict[str, str],
    status: str,
) -> None:
    trigger = model.make(root)
    page = site + model.path + f"{trigger.pk}/"
    response = client.post(f"{page}{kind}/", data, follow=True)
    assert response.redirect_chain == [(f"{page}change/", 302)]
    assert states(trigger) == [status]
    assert_stays_on(site, response)


def test_trigger_page__save_returns_to_the_sites_list(
    client: Client, root: User, site: str
) -> None:
    trigger = _noop(root)
    local = timezone.localtime(trigger.process_after)
    data = {
        "source": "shop.order$1",
        "process_after_0": f"{local:%Y-%m-%d}",
        "process_after_1": f"{local:%H:%M:%S}",
    }
    changelist = site + TRIGGERS.path
    response = client.post(f"{changelist}{trigger.pk}/change/", data, follow=True)
    assert response.redirect_chain == [(changelist, 302)]
    assert Trigger.objects.get(pk=trigger.pk).source == "shop.order$1"
    assert_stays_on(site, response)


def test_source_triggers__link_to_the_sites_trigger_admin(
    client: Client, root: User, site: str
) -> None:
    trigger = NoopTrigger.objects.create(source=f"auth.user${root.pk}")
    response = client.get(f"{site}auth/user/{root.pk}/change/")
    assert [t.pk for t in response.context["source_triggers"]] == [trigger.pk]
    urls = assert_stays_on(site, response)
    assert leads_to(urls, f"{site}djtriggers/trigger/{trigger.pk}/change/")
    assert leads_to(urls, f"{site}djtriggers/trigger/?source=auth.user%24{root.pk}")


def test_dashboard_link__leads_to_the_dashboard(client: Client, root: User, site: str) -> None:
    response = client.get(f"{site}djtriggers_dashboard/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == "/triggers/"


# --- permissions apply on the other site as on the default one -----------------------------


def test_limited_user__only_their_actions_and_buttons(
    client: Client, site: str, model: Admin
) -> None:
    user = login(client, "view_trigger", "cancel_trigger")
    user.user_permissions.add(*_perms(*model.view))
    trigger = model.make(user)
    changelist = site + model.path
    response = client.get(changelist)
    offered = {name for name, _ in response.context["action_form"].fields["action"].choices}
    assert offered - {""} == {"cancel_triggers"}
    assert_stays_on(site, response)

    refused = act(client, changelist, "reprocess_triggers", [trigger])
    assert refused.redirect_chain == [(changelist, 302)]
    assert messages_of(refused) == ["No action selected."]
    assert states(trigger) == ["due"]

    page = changelist + f"{trigger.pk}/"
    change = client.get(page + "change/")
    assert [button["kind"] for button in change.context["object_actions"]] == ["cancel"]
    urls = assert_stays_on(site, change)
    assert leads_to(urls, f"{page}cancel/")
    assert not leads_to(urls, f"{page}reprocess/")
    for kind in ("reprocess", "reschedule", "process"):
        assert client.post(f"{page}{kind}/", {"process_after": "+1h"}).status_code == 403
    assert states(trigger) == ["due"]
    assert not OperatorAction.objects.exists()

    response = client.post(f"{page}cancel/", follow=True)
    assert response.redirect_chain == [(f"{page}change/", 302)]
    assert states(trigger) == ["cancelled"]


def test_limited_user__a_button_needs_the_view_permission_too(client: Client, site: str) -> None:
    user = login(client, "cancel_trigger")
    trigger = _noop(user)
    assert client.get(site + TRIGGERS.path).status_code == 403
    assert client.post(f"{site}{TRIGGERS.path}{trigger.pk}/cancel/").status_code == 403
    assert states(trigger) == ["due"]


def test_limited_user__no_trigger_links_without_the_view_permission(
    client: Client, site: str
) -> None:
    user = login(client, staff=True)
    user.user_permissions.add(*_perms("auth", "view_user", "change_user"))
    NoopTrigger.objects.create(source=f"auth.user${user.pk}")
    response = client.get(f"{site}auth/user/{user.pk}/change/")
    assert "source_triggers" not in response.context
    assert not [url for url in assert_stays_on(site, response) if "/djtriggers/trigger/" in url]


def test_dashboard_link__forbidden_without_the_view_permission(client: Client, site: str) -> None:
    login(client, staff=True)
    assert client.get(f"{site}djtriggers_dashboard/dashboard/").status_code == 403


def test_not_staff__sent_to_the_sites_login(client: Client, site: str) -> None:
    user = login(client, "view_trigger", "cancel_trigger", staff=False)
    trigger = _noop(user)
    for response in (
        client.get(site + TRIGGERS.path),
        client.post(f"{site}{TRIGGERS.path}{trigger.pk}/cancel/"),
    ):
        assert response.status_code == 302
        assert response["Location"].startswith(f"{site}login/?next=")
    assert states(trigger) == ["due"]


def _perms(app_label: str, *codenames: str) -> list[Permission]:
    return list(
        Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
    )


# --- our pages' templates: overridable as Django's --------------------------------------------


@pytest.fixture
def templates(tmp_path: Path) -> Iterator[Callable[[str, str], None]]:
    """Write a project template (before the first request: templates are cached)."""
    engine = {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}

    def write(name: str, text: str) -> None:
        file = tmp_path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)

    with override_settings(TEMPLATES=[engine]):
        yield write


def extending(ours: str, marker: str) -> str:
    block = f"{{% block content %}}<p>{marker}</p>{{{{ block.super }}}}{{% endblock %}}"
    return f'{{% extends "{ours}" %}}{block}'


CONFIRMATION = "djtriggers/admin/action_confirmation.html"


def test_confirmation__a_models_template_overrides_ours(
    client: Client, root: User, templates: Callable[[str, str], None]
) -> None:
    templates("admin/djtriggers/trigger/action_confirmation.html", extending(CONFIRMATION, "Ours!"))
    trigger, bill = _noop(root), _bill(root)
    page = act(client, OTHER + TRIGGERS.path, "cancel_triggers", [trigger])
    assert page.templates[0].name == "admin/djtriggers/trigger/action_confirmation.html"
    assert "Ours!" in page.content.decode()
    assert "will be cancelled" in page.content.decode()  # ours, extended
    assert_stays_on(OTHER, page)
    # Another model's confirmation is still ours.
    page = act(client, OTHER + BILLS.path, "cancel_triggers", [bill])
    assert page.templates[0].name == CONFIRMATION


def test_confirmation__an_apps_template_overrides_ours(
    client: Client, root: User, templates: Callable[[str, str], None]
) -> None:
    templates("admin/testapp/action_confirmation.html", extending(CONFIRMATION, "The app's"))
    templates("admin/testapp/paybill/action_confirmation.html", extending(CONFIRMATION, "Bills'"))
    page = act(client, OTHER + BILLS.path, "reschedule_triggers", [_bill(root)])
    assert page.templates[0].name == "admin/testapp/paybill/action_confirmation.html"
    assert "Bills'" in page.content.decode()
    page = act(client, OTHER + TRIGGERS.path, "reschedule_triggers", [_noop(root)])
    assert page.templates[0].name == CONFIRMATION


def test_confirmation__the_modeladmin_attribute_wins_over_the_list(
    client: Client, root: User, templates: Callable[[str, str], None], monkeypatch: Any
) -> None:
    templates("admin/djtriggers/trigger/action_confirmation.html", extending(CONFIRMATION, "List"))
    templates("project/confirm.html", extending(CONFIRMATION, "Attribute"))
    model_admin = other_site.get_model_admin(Trigger)
    monkeypatch.setattr(model_admin, "action_confirmation_template", "project/confirm.html")
    page = act(client, OTHER + TRIGGERS.path, "cancel_triggers", [_noop(root)])
    assert page.templates[0].name == "project/confirm.html"
    assert "Attribute" in page.content.decode()
    # On the default site, the other ModelAdmin still takes the list.
    page = act(client, DEFAULT + TRIGGERS.path, "cancel_triggers", [_noop(root)])
    assert page.templates[0].name == "admin/djtriggers/trigger/action_confirmation.html"


def test_change_list_and_trigger_page__a_models_templates_override_ours(
    client: Client, root: User, templates: Callable[[str, str], None]
) -> None:
    templates(
        "admin/djtriggers/trigger/change_list.html",
        extending("djtriggers/admin/trigger_change_list.html", "Project's list"),
    )
    templates(
        "admin/djtriggers/change_form.html",
        extending("djtriggers/admin/trigger_change_form.html", "Project's page"),
    )
    trigger = _noop(root)
    response = client.get(OTHER + TRIGGERS.path)
    names = [t.name for t in response.templates]
    assert "admin/djtriggers/trigger/change_list.html" in names
    assert "djtriggers/admin/trigger_change_list.html" in names  # extended
    assert "Project's list" in response.content.decode()
    assert leads_to(assert_stays_on(OTHER, response), f"{OTHER}{TRIGGERS.path}export/")

    response = client.get(f"{OTHER}{TRIGGERS.path}{trigger.pk}/change/")
    assert response.templates[0].name == "admin/djtriggers/change_form.html"
    assert "Project's page" in response.content.decode()
    assert leads_to(assert_stays_on(OTHER, response), f"{OTHER}{TRIGGERS.path}{trigger.pk}/cancel/")
    # The list of another app is ours.
    assert "Project's list" not in client.get(OTHER + BILLS.path).content.decode()


def test_trigger_page__the_modeladmin_attribute_wins_over_the_list(
    client: Client, root: User, templates: Callable[[str, str], None], monkeypatch: Any
) -> None:
    ours = "djtriggers/admin/trigger_change_form.html"
    templates("admin/djtriggers/trigger/change_form.html", extending(ours, "List"))
    templates("project/change_form.html", extending(ours, "Attribute"))
    model_admin = other_site.get_model_admin(Trigger)
    monkeypatch.setattr(model_admin, "change_form_template", "project/change_form.html")
    response = client.get(f"{OTHER}{TRIGGERS.path}{_noop(root).pk}/change/")
    assert response.templates[0].name == "project/change_form.html"


def test_source_page__a_models_template_overrides_ours(
    client: Client, root: User, templates: Callable[[str, str], None]
) -> None:
    templates(
        "admin/auth/user/change_form.html",
        extending("djtriggers/admin/source_change_form.html", "Project's user"),
    )
    trigger = NoopTrigger.objects.create(source=f"auth.user${root.pk}")
    response = client.get(f"{OTHER}auth/user/{root.pk}/change/")
    assert response.templates[0].name == "admin/auth/user/change_form.html"
    assert "Project's user" in response.content.decode()
    assert leads_to(
        assert_stays_on(OTHER, response), f"{OTHER}djtriggers/trigger/{trigger.pk}/change/"
    )


# --- a project's own sites: templates set on the ModelAdmin, a site without triggers ----------


class ProjectTriggerAdmin(TriggerAdmin):
    change_list_template = "project/change_list.html"
    action_confirmation_template = "project/confirm.html"


class NoButtonsTriggerAdmin(TriggerAdmin):
    import_export_change_list_template = None  # a list without export and import buttons


project_site = admin.AdminSite(name="projectadmin")
project_site.register(Trigger, ProjectTriggerAdmin)
project_site.register(PayBill, NoButtonsTriggerAdmin)
users_site = admin.AdminSite(name="usersonly")
users_site.register(User, UserWithTriggersAdmin)

urlpatterns = [
    path("projectadmin/", project_site.urls),
    path("usersonly/", users_site.urls),
]


@pytest.mark.urls(__name__)
def test_project_admin__its_templates_win_over_the_list(
    client: Client, root: User, templates: Callable[[str, str], None]
) -> None:
    templates("admin/djtriggers/trigger/change_list.html", "the list's")
    templates("admin/djtriggers/trigger/action_confirmation.html", "the list's")
    templates(
        "project/change_list.html",
        extending("djtriggers/admin/trigger_change_list.html", "Project's list"),
    )
    templates("project/confirm.html", extending(CONFIRMATION, "Project's confirmation"))
    trigger = _noop(root)
    response = client.get("/projectadmin/djtriggers/trigger/")
    html = response.content.decode()
    assert "Project's list" in html
    assert "the list's" not in html
    assert_stays_on("/projectadmin/", response)
    page = act(client, "/projectadmin/djtriggers/trigger/", "cancel_triggers", [trigger])
    assert page.templates[0].name == "project/confirm.html"
    assert_stays_on("/projectadmin/", page)


@pytest.mark.urls(__name__)
def test_source_page__a_site_without_the_trigger_admin_lists_them_without_links(
    client: Client, root: User
) -> None:
    trigger = NoopTrigger.objects.create(source=f"auth.user${root.pk}")
    response = client.get(f"/usersonly/auth/user/{root.pk}/change/")
    assert [t.pk for t in response.context["source_triggers"]] == [trigger.pk]
    assert not [
        url for url in assert_stays_on("/usersonly/", response) if "/djtriggers/trigger/" in url
    ]


@pytest.mark.urls(__name__)
def test_project_admin__a_list_without_export_buttons_is_still_ours_or_the_projects(
    client: Client, root: User, templates: Callable[[str, str], None]
) -> None:
    templates(
        "admin/testapp/change_list.html",
        extending("djtriggers/admin/trigger_change_list.html", "Project's bills"),
    )
    response = client.get("/projectadmin/testapp/paybill/")
    names = [t.name for t in response.templates]
    assert names[:2] == [
        "admin/testapp/change_list.html",
        "djtriggers/admin/trigger_change_list.html",
    ]
    assert "Project's bills" in response.content.decode()
    assert not leads_to(
        assert_stays_on("/projectadmin/", response), "/projectadmin/testapp/paybill/export/"
    )
