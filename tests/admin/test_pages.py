"""A trigger's page (djtriggers.admin.pages): saving, its buttons and the views behind them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from djtriggers.admin.pages import _is_concrete
from djtriggers.models import OperatorAction, Trigger, TriggerAttempt, TriggerResult
from tests.admin.conftest import (
    CHANGELIST,
    ESCAPED,
    XSS,
    assert_escaped,
    change_form_data,
    change_url,
    confirm,
    messages_of,
    states,
)
from tests.conftest import login
from tests.factories import cancelled, due, failed, make, pending, processed, running
from tests.testapp.models import PayBill

pytestmark = pytest.mark.django_db


def test_change_page__save_writes_only_the_edited_fields(client, root, monkeypatch):
    trigger = due(source="old")
    model_admin = admin.site._registry[Trigger]
    save_form = model_admin.save_form

    def worker_finishes_meanwhile(*args, **kwargs):
        Trigger.objects.filter(pk=trigger.pk).update(state="processed", number_of_tries=1)
        return save_form(*args, **kwargs)

    monkeypatch.setattr(model_admin, "save_form", worker_finishes_meanwhile)
    data = {
        "source": "new",
        "process_after_0": f"{trigger.process_after:%Y-%m-%d}",
        "process_after_1": f"{trigger.process_after:%H:%M:%S}",
        "state": "cancelled",  # read-only: ignored
    }
    response = client.post(change_url(trigger), data)
    assert response.status_code == 302
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.source, row.state, row.number_of_tries) == ("new", "processed", 1)


def test_change_page__a_new_process_after_is_a_reschedule_audited(client):
    user = login(client, "view_trigger", "change_trigger", "reschedule_trigger")
    trigger = failed()
    later = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    response = client.post(change_url(trigger), change_form_data(trigger, later), follow=True)
    assert "Process after: 1 rescheduled" in messages_of(response)
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.process_after, row.status, row.number_of_tries) == (later, "pending", 0)
    action = OperatorAction.objects.get()
    assert (action.kind, action.user, action.process_after) == ("reschedule", user, later)
    assert LogEntry.objects.filter(object_id=str(trigger.pk), user=user).exists()


def test_change_page__query_count(client, root, django_assert_max_num_queries):
    trigger = failed()
    for number in (1, 2, 3):
        now = timezone.now()
        TriggerAttempt.objects.create(
            trigger=trigger, number=number, started_at=now, finished_at=now, outcome="failure"
        )
        TriggerResult.objects.create(trigger=trigger, result=str(number))
    confirm(client, "reprocess_triggers_paced", [trigger], spread="1h")
    confirm(client, "cancel_triggers", [trigger])
    client.get(change_url(trigger))  # content types cached
    # session, user, the object (twice), attempts, operator actions, results
    with django_assert_max_num_queries(8):
        response = client.get(change_url(trigger))
    assert len(response.context["timeline"]) == 1 + 3 + 3 + 2


@pytest.mark.parametrize(
    ("maker", "buttons"),
    [
        (due, ["reprocess", "cancel", "process", "priority"]),
        (failed, ["reprocess", "priority"]),
        (processed, []),
        (running, []),
    ],
)
def test_change_page__buttons_that_apply_to_the_state(client, root, maker, buttons):
    trigger = maker()
    response = client.get(change_url(trigger))
    kinds = [button["kind"] for button in response.context["object_actions"]]
    assert [k for k in kinds if k != "reschedule"] == buttons
    html = response.content.decode()
    for kind in buttons:
        assert f'action="/admin/djtriggers/trigger/{trigger.pk}/{kind}/"' in html
    assert ("Reschedule" in html) == (maker in (due, failed))


def test_change_page__buttons_only_with_permission(client):
    login(client, "view_trigger", "cancel_trigger")
    trigger = due()
    response = client.get(change_url(trigger))
    assert [button["kind"] for button in response.context["object_actions"]] == ["cancel"]
    assert f"/{trigger.pk}/reprocess/" not in response.content.decode()


def test_change_page__buttons_post_with_csrf(root):
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    trigger = due()
    html = client.get(change_url(trigger)).content.decode()
    assert html.count('name="csrfmiddlewaretoken"') >= 4
    assert client.post(f"{CHANGELIST}{trigger.pk}/cancel/").status_code == 403
    assert states(trigger) == ["scheduled"]


def test_escaping__change_page(client, hostile):
    response = client.get(change_url(hostile))
    assert_escaped(response)
    assert response.content.decode().count(ESCAPED) >= 6


@pytest.mark.parametrize("kind", ["reprocess", "reschedule", "cancel", "process"])
def test_object_action__get_is_not_allowed(client, root, kind):
    trigger = due()
    assert client.get(f"{CHANGELIST}{trigger.pk}/{kind}/").status_code == 405
    assert states(trigger) == ["scheduled"]


@pytest.mark.parametrize("kind", ["reprocess", "reschedule", "cancel", "process"])
@pytest.mark.parametrize(
    "codenames",
    [
        ("view_trigger",),
        ("view_trigger", "change_trigger"),
        ("view_trigger", "change_trigger", "delete_trigger"),
    ],
)
def test_object_action__forbidden_without_permission(client, kind, codenames):
    login(client, *codenames)
    trigger = due()
    response = client.post(f"{CHANGELIST}{trigger.pk}/{kind}/", {"process_after": "+1h"})
    assert response.status_code == 403
    trigger.refresh_from_db()
    assert (trigger.state, trigger.number_of_tries) == ("scheduled", 0)
    assert not OperatorAction.objects.exists()


def test_object_action__other_custom_permission_is_not_enough(client):
    login(client, "view_trigger", "reprocess_trigger")
    trigger = due()
    assert client.post(f"{CHANGELIST}{trigger.pk}/cancel/").status_code == 403
    assert client.post(f"{CHANGELIST}{trigger.pk}/reschedule/").status_code == 403
    assert states(trigger) == ["scheduled"]


def test_object_action__non_staff_are_sent_to_log_in(client):
    client.force_login(User.objects.create_user("bob"))
    trigger = due()
    response = client.post(f"{CHANGELIST}{trigger.pk}/cancel/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert states(trigger) == ["scheduled"]


@pytest.mark.parametrize("object_id", ["999999", "abc"])
def test_object_action__unknown_trigger_is_404(client, root, object_id):
    assert client.post(f"{CHANGELIST}{object_id}/cancel/").status_code == 404


def test_object_action__reprocess_with_reason_is_audited(client, root):
    trigger = failed(error="boom")
    response = client.post(f"{CHANGELIST}{trigger.pk}/reprocess/", {"reason": "fixed"}, follow=True)
    assert response.redirect_chain == [(change_url(trigger), 302)]
    assert messages_of(response) == ["1 reprocessed"]
    trigger.refresh_from_db()
    assert (trigger.status, trigger.last_error) == ("due", "")
    action = OperatorAction.objects.get()
    assert (action.kind, action.user, action.reason, action.changed) == (
        "reprocess",
        User.objects.get(username="root"),
        "fixed",
        1,
    )
    entry = LogEntry.objects.get()
    assert (entry.object_id, entry.action_flag) == (str(trigger.pk), CHANGE)
    assert entry.change_message == "1 reprocessed — fixed"


def test_object_action__cancel_an_already_processed_trigger_is_skipped(client, root):
    trigger = processed()
    response = client.post(f"{CHANGELIST}{trigger.pk}/cancel/", follow=True)
    assert messages_of(response) == ["0 cancelled, 1 skipped: already processed"]
    assert [m.level_tag for m in response.context["messages"]] == ["warning"]
    assert not LogEntry.objects.exists()


def test_object_action__cancel_asks_for_confirmation_on_the_page(client, root):
    trigger = make(1)[0]
    html = client.get(change_url(trigger)).content.decode()
    assert 'href="#djt-cancel-form"' in html  # the button leads to the form ...
    assert 'value="Yes, cancel this trigger"' in html  # ... which confirms, with a reason
    client.post(f"{CHANGELIST}{trigger.pk}/cancel/", {"reason": "dup"})
    assert states(trigger) == ["cancelled"]
    assert LogEntry.objects.get().change_message == "1 cancelled — dup"


def test_object_action__reschedule(client):
    login(client, "view_trigger", "reschedule_trigger")
    trigger = failed()
    client.post(f"{CHANGELIST}{trigger.pk}/reschedule/", {"process_after": "2031-01-02 03:04"})
    trigger.refresh_from_db()
    assert trigger.status == "pending"
    assert trigger.process_after == timezone.make_aware(timezone.datetime(2031, 1, 2, 3, 4))


def test_object_action__reschedule_bad_value_changes_nothing(client, root):
    trigger = failed()
    response = client.post(
        f"{CHANGELIST}{trigger.pk}/reschedule/", {"process_after": "+2 fortnights"}, follow=True
    )
    [message] = messages_of(response)
    assert message.startswith("Not rescheduled: '+2 fortnights' is not a delay")
    assert states(trigger) == ["failed"]
    assert not OperatorAction.objects.exists()


def test_object_action__process_now(client):
    login(client, "view_trigger", "reprocess_trigger")
    trigger = due()
    response = client.post(f"{CHANGELIST}{trigger.pk}/process/", follow=True)
    assert messages_of(response) == [f"noop #{trigger.pk}: processed"]
    assert states(trigger) == ["processed"]
    assert LogEntry.objects.get().change_message == "Processed now: processed"


def test_subclass_admin__process_now(client, bill):
    response = client.post(f"/admin/testapp/paybill/{bill.pk}/process/", follow=True)
    assert messages_of(response) == [f"testapp.paybill #{bill.pk}: processed"]
    assert states(bill) == ["processed"]


def test_change_page__an_unknown_trigger_is_left_to_the_admin(client, root):
    response = client.get(change_url(Trigger(pk=999999)))
    assert response.status_code == 302  # the admin's own "does not exist" redirect
    assert response["Location"] == "/admin/"


def test_is_concrete__only_the_models_own_columns():
    trigger = due()
    assert _is_concrete(trigger, "source")
    assert not _is_concrete(trigger, "operator_actions")  # the other side of a many-to-many
    assert not _is_concrete(trigger, "note")  # a field of a custom admin form


def test_change_page__clearing_process_after_is_not_a_server_error(client, root):
    trigger = failed()
    local = timezone.localtime(trigger.process_after)
    data = {
        "source": "",
        "process_after_0": "",
        "process_after_1": "",
        # Django's hidden initial value of a field with a callable default:
        "initial-process_after_0": f"{local:%Y-%m-%d}",
        "initial-process_after_1": f"{local:%H:%M:%S}",
    }
    assert client.post(change_url(trigger), data).status_code in (200, 302)


def test_change_page__clearing_process_after_is_a_form_error_that_changes_nothing(client, root):
    trigger = failed(source="old")
    local = timezone.localtime(trigger.process_after)
    data = {
        "source": "new",
        "process_after_0": "",
        "process_after_1": "",
        "initial-process_after_0": f"{local:%Y-%m-%d}",
        "initial-process_after_1": f"{local:%H:%M:%S}",
    }
    response = client.post(change_url(trigger), data)
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors["process_after"]
    assert error == (
        "Enter a date and time: the trigger is rescheduled to it. "
        "To make it due now, use Reprocess."
    )
    assert 'class="errorlist' in response.content.decode()
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.source, row.status, row.process_after) == ("old", "failed", trigger.process_after)
    assert not OperatorAction.objects.exists()


def test_change_page__a_process_after_that_was_empty_may_stay_empty(client, root):
    trigger = failed(source="old")
    Trigger.objects.filter(pk=trigger.pk).update(process_after=None)
    data = {"source": "new", "process_after_0": "", "process_after_1": ""}
    assert client.post(change_url(trigger), data).status_code == 302
    row = Trigger.objects.get(pk=trigger.pk)
    assert (row.source, row.status, row.process_after) == ("new", "failed", None)
    assert not OperatorAction.objects.exists()


# --- correcting a concrete trigger's own data: Save, and Save and reprocess --------

PAYBILL = "testapp/paybill"


def bill_form(bill: PayBill, **values: str) -> dict[str, str]:
    """The PayBill's change form as the browser posts it back, with ``values`` changed."""
    local = timezone.localtime(bill.process_after)
    when = {"process_after_0": f"{local:%Y-%m-%d}", "process_after_1": f"{local:%H:%M:%S}"}
    return {
        "amount": str(bill.amount),
        "recipient": str(bill.recipient_id),
        "source": bill.source or "",
        **when,
        **{f"initial-{name}": value for name, value in when.items()},  # show_hidden_initial
        **values,
    }


@pytest.fixture
def alice(db) -> User:
    return User.objects.create_user("alice")


def operator(client: Client, *codenames: str) -> User:
    """A staff user with these permissions of any app (PayBill's are testapp's), logged in."""
    user = User.objects.create_user("operator", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def test_save_and_reprocess__corrects_the_data_and_reprocesses_in_one_step(client, root, alice):
    bill = failed(PayBill, amount=1500, recipient=root, error="ValueError: balance too low")
    html = client.get(change_url(bill, PAYBILL)).content.decode()
    # After Save: Enter in a field submits the form's first button, which stays Save.
    assert html.index('name="_save"') < html.index('name="_reprocess"')
    data = bill_form(bill, amount="150", recipient=str(alice.pk), _reprocess="1")
    response = client.post(change_url(bill, PAYBILL), data, follow=True)
    assert response.redirect_chain == [(change_url(bill, PAYBILL), 302)]  # stays on the page
    assert messages_of(response) == ["Amount: 1500 → 150; recipient: root → alice; 1 reprocessed"]
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.recipient, row.status, row.number_of_tries) == (150, alice, "due", 0)
    assert row.last_error == ""
    edit, reprocess = OperatorAction.objects.order_by("id")
    assert (edit.kind, reprocess.kind) == ("edit", "reprocess")
    assert edit.changes == [
        {"field": "amount", "old": "1500", "new": "150"},
        {"field": "recipient", "old": "root", "new": "alice"},
    ]
    html = response.content.decode()
    assert "Data corrected by an operator" in html
    assert "<li>Amount: <del>1500</del> → <ins>150</ins></li>" in html
    assert "<li>Recipient: <del>root</del> → <ins>alice</ins></li>" in html
    assert "Reprocessed by an operator" in html
    assert "Rescheduled" not in html  # process_after was posted back unchanged
    logged = LogEntry.objects.filter(object_id=str(bill.pk)).values_list(
        "change_message", flat=True
    )
    assert "Amount: 1500 → 150; recipient: root → alice" in list(logged)


def test_save_and_reprocess__with_nothing_changed_reprocesses(client, root):
    bill = failed(PayBill, amount=3, recipient=root)
    response = client.post(change_url(bill, PAYBILL), bill_form(bill, _reprocess="1"), follow=True)
    assert messages_of(response) == ["No changes; 1 reprocessed"]
    assert list(OperatorAction.objects.values_list("kind", flat=True)) == ["reprocess"]
    assert states(bill) == ["scheduled"]


def test_save__corrects_the_data_without_reprocessing(client, root):
    bill = pending(PayBill, amount=3, recipient=root)
    response = client.post(change_url(bill, PAYBILL), bill_form(bill, amount="4"), follow=True)
    assert "Amount: 3 → 4" in messages_of(response)
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.status) == (4, "pending")
    assert list(OperatorAction.objects.values_list("kind", flat=True)) == ["edit"]


def test_change_permission_without_reprocess__save_works_the_button_is_neither_offered_nor_taken(
    client,
):
    operator(client, "view_paybill", "change_paybill")
    bill = failed(PayBill, amount=1500, recipient=User.objects.create_user("bob"))
    url = change_url(bill, PAYBILL)
    html = client.get(url).content.decode()
    assert 'name="amount"' in html and 'name="_reprocess"' not in html
    response = client.post(url, bill_form(bill, amount="150", _reprocess="1"))
    assert response.status_code == 403
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.status) == (1500, "failed")
    assert client.post(url, bill_form(bill, amount="150")).status_code == 302
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.status) == (150, "failed")
    assert list(OperatorAction.objects.values_list("kind", flat=True)) == ["edit"]


def test_view_permission_only__no_form_no_button(client):
    operator(client, "view_paybill", "reprocess_trigger")
    bill = failed(PayBill, amount=1500, recipient=User.objects.create_user("bob"))
    html = client.get(change_url(bill, PAYBILL)).content.decode()
    assert 'name="amount"' not in html and 'name="_reprocess"' not in html
    response = client.post(change_url(bill, PAYBILL), bill_form(bill, amount="1", _reprocess="1"))
    assert response.status_code == 403
    assert PayBill.objects.get(pk=bill.pk).amount == 1500


@pytest.mark.parametrize("amount", ["abc", "", "1e3", "99999999999999999999"])
def test_save_and_reprocess__invalid_input_changes_nothing(client, root, amount):
    bill = failed(PayBill, amount=1500, recipient=root)
    data = bill_form(bill, amount=amount, _reprocess="1")
    response = client.post(change_url(bill, PAYBILL), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["amount"]
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.status) == (1500, "failed")
    assert not OperatorAction.objects.exists()


@pytest.mark.parametrize("make", [running, processed, cancelled])
def test_own_data__read_only_where_an_edit_makes_no_sense(client, root, make):
    bill = make(PayBill, amount=1500, recipient=root)
    html = client.get(change_url(bill, PAYBILL)).content.decode()
    assert 'name="amount"' not in html and 'name="_reprocess"' not in html
    assert "Its data can be corrected only while it is pending, due, failed." in html
    client.post(change_url(bill, PAYBILL), bill_form(bill, amount="1"))
    assert PayBill.objects.get(pk=bill.pk).amount == 1500


def test_save_and_reprocess__a_running_trigger_is_refused(client, root):
    bill = due(PayBill, amount=1500, recipient=root)
    url = change_url(bill, PAYBILL)
    assert 'name="_reprocess"' in client.get(url).content.decode()
    Trigger.objects.filter(pk=bill.pk).update(state="running", locked_by="w1")  # a worker claims it
    response = client.post(url, bill_form(bill, amount="150", _reprocess="1"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == [
        "This trigger is running now: its data can be corrected only while it is pending, "
        "due, failed. Nothing was changed."
    ]
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.state) == (1500, "running")
    assert not OperatorAction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_save_and_reprocess__a_trigger_a_worker_holds_right_now_is_refused(client):
    from tests.conftest import locked_elsewhere

    user = login(client, superuser=True)
    bill = failed(PayBill, amount=1500, recipient=user)
    with locked_elsewhere(bill.pk):
        response = client.post(
            change_url(bill, PAYBILL), bill_form(bill, amount="1", _reprocess="1")
        )
    assert response.status_code == 200
    assert "A worker is processing this trigger right now" in response.content.decode()
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.status) == (1500, "failed")
    assert not OperatorAction.objects.exists()


def test_save_and_reprocess__a_trigger_failed_the_2x_way(client, root):
    bill = due(PayBill, amount=1500, recipient=root)
    PayBill.objects.filter(pk=bill.pk).update(date_processed=timezone.now(), successful=False)
    bill = PayBill.objects.get(pk=bill.pk)
    page = client.get(change_url(bill, PAYBILL))
    assert page.status_code == 200 and 'name="_reprocess"' in page.content.decode()
    response = client.post(change_url(bill, PAYBILL), bill_form(bill, amount="150", _reprocess="1"))
    assert response.status_code == 302
    row = PayBill.objects.get(pk=bill.pk)
    assert (row.amount, row.status, row.date_processed, row.successful) == (150, "due", None, None)


def test_escaping__corrected_values_in_the_timeline(client, root):
    hostile = User.objects.create(username=XSS)
    bill = failed(PayBill, amount=1, recipient=root)
    client.post(change_url(bill, PAYBILL), bill_form(bill, recipient=str(hostile.pk)))
    assert_escaped(client.get(change_url(bill, PAYBILL)))
    assert_escaped(client.get(change_url(bill)))  # the Trigger admin's page of it too


def test_trigger_page__of_a_concrete_type_links_to_its_own_data(client, root):
    bill = failed(PayBill, amount=3, recipient=root)
    html = client.get(change_url(bill)).content.decode()
    assert f'<a href="/admin/testapp/paybill/{bill.pk}/change/" class="djt-own-data">' in html
    assert "djt-own-data" not in client.get(change_url(failed())).content.decode()


def test_trigger_page__no_link_without_the_permission_or_the_admin(client, monkeypatch):
    login(client, "view_trigger")
    bill = failed(PayBill, amount=3, recipient=User.objects.create_user("bob"))
    assert "djt-own-data" not in client.get(change_url(bill)).content.decode()
    monkeypatch.delitem(admin.site._registry, PayBill)
    login(client, superuser=True)
    assert "djt-own-data" not in client.get(change_url(bill)).content.decode()
