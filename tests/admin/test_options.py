"""The TriggerAdmin (djtriggers.admin.options): columns, ordering, search, fields, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.utils import timezone

from djtriggers.admin import TriggerAdmin
from djtriggers.admin.options import TriggerChangeForm
from djtriggers.models import OperatorAction, Trigger
from tests.admin.conftest import (
    CHANGELIST,
    ESCAPED,
    assert_escaped,
    change_form_data,
    change_url,
    listed,
    messages_of,
    states,
)
from tests.conftest import login
from tests.factories import due, failed, make, retried
from tests.testapp.models import PayBill

pytestmark = pytest.mark.django_db


def test_changelist__columns_badge_overdue_and_short_error(client, root):
    error = "ValueError: " + "x" * 100
    trigger = failed(source="billing.invoice$1", error=error)
    overdue = due(process_after=timezone.now() - timedelta(hours=3))
    response = client.get(CHANGELIST)
    html = response.content.decode()
    assert response.status_code == 200
    assert listed(response) == {trigger.pk, overdue.pk}
    assert '<span class="djt-badge djt-failed">failed</span>' in html
    assert '<span class="djt-badge djt-due">due</span>' in html
    assert "overdue by 3\xa0hours" in html
    assert "billing.invoice$1" in html
    assert f'title="{error}"' in html
    assert "ValueError: " + "x" * 67 + "…" in html
    for column in ("source", "received", "process after", "processed", "tries", "last error"):
        assert column in html.lower()


def test_changelist__newest_first_by_default(client, root):
    triggers = make(3)
    response = client.get(CHANGELIST)
    assert [t.pk for t in response.context["cl"].result_list] == sorted(
        (t.pk for t in triggers), reverse=True
    )


def test_status_filter__orders_finished_rows_newest_first(client, root):
    now = timezone.now()
    old = failed(at=now - timedelta(days=2))
    new = failed(at=now - timedelta(days=1))
    response = client.get(f"{CHANGELIST}?status=failed")
    assert [t.pk for t in response.context["cl"].result_list] == [new.pk, old.pk]


def test_date_filter__received_in_a_range(client, root):
    old = due(date_received=timezone.now() - timedelta(days=30))
    new = due()
    cl = client.get(CHANGELIST).context["cl"]
    spec = next(spec for spec in cl.filter_specs if spec.title == "date received")
    past_week = next(c for c in spec.choices(cl) if c["display"] == "Past 7 days")
    response = client.get(CHANGELIST + past_week["query_string"])
    assert listed(response) == {new.pk}
    assert old.pk in listed(client.get(CHANGELIST))


def test_search__by_id_source_and_error_text(client, root):
    by_source = due(source="billing.invoice$42")
    by_error = failed(error="ConnectionError: partner down")
    other = due(source="shop.order$7")
    assert listed(client.get(f"{CHANGELIST}?q=invoice")) == {by_source.pk}
    assert listed(client.get(f"{CHANGELIST}?q=partner+down")) == {by_error.pk}
    assert other.pk in listed(client.get(f"{CHANGELIST}?q={other.pk}"))


def test_search__a_source_with_dollar_is_a_prefix_match_on_source_only(client, root):
    hit = due(source="billing.invoice$12")
    longer = due(source="billing.invoice$123")
    retried(source="x", error="see billing.invoice$12")
    response = client.get(CHANGELIST, {"q": "billing.invoice$12"})
    assert {t.pk for t in response.context["cl"].result_list} == {hit.pk, longer.pk}


@pytest.mark.parametrize("term", ["²", "٣", "99999999999", "-1", "1e3"])
def test_search__terms_that_look_like_ids_but_are_not(client, root, term):
    due(source="x")
    response = client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200


@pytest.mark.parametrize("rows", [10, 50])
def test_changelist__query_count_does_not_grow_with_the_page(
    client, root, rows, django_assert_max_num_queries
):
    for _ in range(rows // 2):
        retried(error="boom", source="a$1")
    for _ in range(rows - rows // 2):
        failed(error="boom")
    # session, user, capped count (+ the planner's estimate on PostgreSQL), the page
    with django_assert_max_num_queries(5):
        response = client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == rows


def test_changelist__no_facet_counts(client, root):
    make(2)
    response = client.get(f"{CHANGELIST}?_facets=1")
    assert response.status_code == 200
    assert not response.context["cl"].add_facets


def test_escaping__changelist(client, hostile):
    assert_escaped(client.get(CHANGELIST))
    assert f'title="{ESCAPED}"' in client.get(CHANGELIST).content.decode()


def test_view_only_staff__read_only_pages(client):
    login(client, "view_trigger")
    trigger = due(source="shop.order$1")
    changelist = client.get(CHANGELIST)
    assert changelist.status_code == 200
    assert 'name="_selected_action"' not in changelist.content.decode()
    page = client.get(change_url(trigger))
    html = page.content.decode()
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert 'name="source"' not in html
    assert "/reprocess/" not in html and "/cancel/" not in html
    assert client.post(change_url(trigger), {"source": "x"}).status_code == 403
    assert Trigger.objects.get(pk=trigger.pk).source == "shop.order$1"


def test_base_trigger__cannot_be_added(client, root):
    assert client.get(f"{CHANGELIST}add/").status_code == 403
    assert client.get("/admin/testapp/paybill/add/").status_code == 200


def test_change_page__system_fields_read_only(client, root):
    trigger = failed(error="boom")
    html = client.get(change_url(trigger)).content.decode()
    assert 'name="source"' in html
    for field in ("state", "number_of_tries", "last_error", "locked_by", "trigger_type"):
        assert f'name="{field}"' not in html


def test_change_page__process_after_is_read_only_without_the_reschedule_permission(client):
    login(client, "view_trigger", "change_trigger")
    trigger = failed()
    before = Trigger.objects.get(pk=trigger.pk).process_after
    html = client.get(change_url(trigger)).content.decode()
    assert 'name="process_after_0"' not in html
    later = timezone.now() + timedelta(days=3)
    assert client.post(change_url(trigger), change_form_data(trigger, later)).status_code == 302
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.process_after, row.state) == (before, "failed")
    assert not OperatorAction.objects.exists()


def test_change_page__a_process_after_out_of_range_is_a_form_error(client, root):
    trigger = due()
    before = Trigger.objects.get(pk=trigger.pk).process_after
    data = {"source": "", "process_after_0": "9999-12-31", "process_after_1": "23:59:00"}
    with timezone.override("Europe/Brussels"):
        response = client.post(change_url(trigger), data)
    assert response.status_code == 200
    assert "too far ahead" in response.content.decode()
    assert Trigger.objects.get(pk=trigger.pk).process_after == before


def test_trigger_admin_is_the_registered_admin():
    assert isinstance(admin.site._registry[Trigger], TriggerAdmin)
    assert isinstance(admin.site._registry[PayBill], TriggerAdmin)


def test_subclass_admin__own_fields_editable_system_fields_read_only(client, bill):
    url = change_url(bill, "testapp/paybill")
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="amount"' in html and 'name="recipient"' in html
    for field in ("state", "number_of_tries", "last_error", "trigger_type"):
        assert f'name="{field}"' not in html
    assert "Created as testapp.paybill" in html

    other = User.objects.create_user("alice")
    data = {
        "amount": "7",
        "recipient": str(other.pk),
        "source": "shop.order$1",
        "process_after_0": f"{bill.process_after:%Y-%m-%d}",
        "process_after_1": f"{bill.process_after:%H:%M:%S}",
        "state": "cancelled",
    }
    assert client.post(url, data).status_code == 302
    bill.refresh_from_db()
    assert (bill.amount, bill.recipient, bill.state) == (7, other, "scheduled")


def test_subclass_admin__add(client, root):
    now = timezone.now()
    data = {
        "amount": "5",
        "recipient": str(root.pk),
        "source": "",
        "process_after_0": f"{now:%Y-%m-%d}",
        "process_after_1": f"{now:%H:%M:%S}",
    }
    assert client.post("/admin/testapp/paybill/add/", data).status_code == 302
    bill = PayBill.objects.get()
    assert (bill.trigger_type, bill.amount, bill.status) == ("testapp.paybill", 5, "due")


def test_subclass_admin__changelist_and_actions(client, bill, django_assert_max_num_queries):
    due()
    with django_assert_max_num_queries(5):
        response = client.get("/admin/testapp/paybill/")
    assert listed(response) == {bill.pk}
    assert not any(spec.title == "type" for spec in response.context["cl"].filter_specs[1:2])
    response = client.post(
        "/admin/testapp/paybill/",
        {ACTION_CHECKBOX_NAME: [bill.pk], "action": "cancel_triggers", "post": "yes"},
        follow=True,
    )
    assert messages_of(response) == ["1 cancelled"]
    assert states(bill) == ["cancelled"]


def test_change_form__an_empty_process_after_is_left_to_the_model():
    trigger = due()
    fields = ["source", "process_after"]
    form_class = forms.modelform_factory(Trigger, form=TriggerChangeForm, fields=fields)
    form = form_class({"source": "", "process_after": ""}, instance=trigger)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["process_after"] is None
