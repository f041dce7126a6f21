"""A trigger's page (djtriggers.admin.pages): saving, its buttons and the views behind them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from djtriggers.admin.pages import _is_concrete
from djtriggers.models import OperatorAction, Trigger, TriggerAttempt, TriggerResult
from tests.admin.conftest import (
    CHANGELIST,
    ESCAPED,
    assert_escaped,
    change_form_data,
    change_url,
    confirm,
    messages_of,
    states,
)
from tests.conftest import login
from tests.factories import due, failed, make, processed, running

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
        (due, ["reprocess", "cancel", "process"]),
        (failed, ["reprocess"]),
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
