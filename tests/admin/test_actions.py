"""The admin's actions (djtriggers.admin.actions): forms, confirmations, outcomes, permissions."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.utils import timezone

from djtriggers import actions
from djtriggers.actions import PROCESS_NOW_LIMIT
from djtriggers.models import OperatorAction, Trigger
from tests.admin.conftest import (
    CHANGELIST,
    XSS,
    act,
    action_names,
    assert_escaped,
    confirm,
    messages_of,
    states,
)
from tests.conftest import login
from tests.factories import cancelled, due, failed, make, pending, processed, running
from tests.testapp.models import FailingTrigger, PayBill

pytestmark = pytest.mark.django_db


ACTIONS = [
    "reprocess_triggers",
    "reprocess_triggers_paced",
    "reschedule_triggers",
    "cancel_triggers",
    "process_triggers_now",
]


def test_reprocess__due_now_with_fresh_tries_and_reports_skips(client, root):
    revived = [failed(error="boom"), cancelled()]
    left = [processed(), running()]
    before = timezone.now()
    response = act(client, "reprocess_triggers", revived + left)
    assert messages_of(response) == ["2 reprocessed, 2 skipped: 1 already processed, 1 running"]
    for trigger in revived:
        trigger.refresh_from_db()
        assert (trigger.status, trigger.number_of_tries, trigger.last_error) == ("due", 0, "")
        assert trigger.process_after >= before
    assert states(*left) == ["processed", "running"]


def test_reprocess_paced__asks_for_the_spread_then_paces(client, root):
    triggers = [failed() for _ in range(4)]
    page = act(client, "reprocess_triggers_paced", triggers)
    assert page.templates[0].name == "djtriggers/admin/action_confirmation.html"
    assert 'name="spread"' in page.content.decode()
    assert Trigger.objects.failed().count() == 4

    start = timezone.now()
    response = confirm(client, "reprocess_triggers_paced", triggers, spread="1h", reason="calm")
    assert messages_of(response) == ["4 reprocessed"]
    times = sorted(Trigger.objects.values_list("process_after", flat=True))
    assert times[0] - start < timedelta(seconds=5)
    assert timedelta(minutes=40) < times[-1] - start < timedelta(hours=1)
    action = OperatorAction.objects.get()
    assert (action.kind, action.spread, action.reason) == ("reprocess", timedelta(hours=1), "calm")


def test_reprocess_paced__requires_a_valid_spread(client, root):
    trigger = failed()
    for spread, error in (("", "This field is required."), ("soon", "is not a duration")):
        response = confirm(client, "reprocess_triggers_paced", [trigger], spread=spread)
        assert error in response.content.decode()
    assert states(trigger) == ["failed"]
    assert not OperatorAction.objects.exists()


def test_reschedule__page_then_delay_from_now(client, root):
    triggers = [due(), failed()]
    done = processed()
    page = act(client, "reschedule_triggers", [*triggers, done])
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="process_after"' in html
    assert "<strong>2</strong> triggers will be rescheduled" in html
    assert "<li>1 already processed</li>" in html
    assert states(*triggers) == ["scheduled", "failed"]

    before = timezone.now()
    response = confirm(client, "reschedule_triggers", [*triggers, done], process_after="+2h")
    assert messages_of(response) == ["2 rescheduled, 1 skipped: already processed"]
    for trigger in triggers:
        trigger.refresh_from_db()
        assert trigger.status == "pending"
        assert before + timedelta(hours=2) <= trigger.process_after
        assert trigger.process_after <= timezone.now() + timedelta(hours=2)
    assert states(done) == ["processed"]


def test_reschedule__to_an_absolute_time(client, root):
    trigger = failed()
    confirm(client, "reschedule_triggers", [trigger], process_after="2031-12-24 18:00")
    trigger.refresh_from_db()
    assert trigger.process_after == timezone.make_aware(timezone.datetime(2031, 12, 24, 18))
    assert OperatorAction.objects.get().process_after == trigger.process_after


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("2026-02-30 10:00", "is not a valid date and time: day is out of range for month."),
        ("next tuesday", "is neither a date and time (2026-12-24 18:00) nor a delay"),
        ("+2x", "is not a delay: use + and a number with a unit"),
        ("", "This field is required."),
    ],
)
def test_reschedule__bad_value_shows_a_clear_error_and_changes_nothing(client, root, value, error):
    trigger = due()
    before = trigger.process_after
    response = confirm(client, "reschedule_triggers", [trigger], process_after=value)
    assert response.status_code == 200
    assert response.templates[0].name == "djtriggers/admin/action_confirmation.html"
    assert error in response.context["form"].errors["process_after"][0]
    assert 'class="errorlist' in response.content.decode()
    trigger.refresh_from_db()
    assert trigger.process_after == before
    assert not OperatorAction.objects.exists()


@pytest.mark.parametrize("text", ["9999-12-31 23:59Z", "+99999999d", "+1d٣h", "inf", "nan"])
def test_reschedule__a_time_out_of_range_changes_nothing(client, root, text):
    trigger = failed()
    page = confirm(client, "reschedule_triggers", [trigger], process_after=text)
    assert page.status_code == 200
    assert "errorlist" in page.content.decode()
    assert states(trigger) == ["failed"]
    assert not OperatorAction.objects.exists()


def test_reschedule_spread__a_period_past_the_latest_time_changes_nothing(client, root):
    triggers = [failed() for _ in range(3)]
    page = confirm(
        client, "reschedule_triggers", triggers, process_after="9999-12-01 00:00", spread="30d"
    )
    assert "would be due after the latest time" in page.content.decode()
    assert states(*triggers) == ["failed"] * 3
    assert not OperatorAction.objects.exists()


def test_reschedule_spread__from_the_latest_time_past_year_9999_is_a_form_error(client, root):
    triggers = [failed() for _ in range(2)]
    page = confirm(
        client, "reschedule_triggers", triggers, process_after="9999-12-30 00:00", spread="2d"
    )
    assert page.status_code == 200
    assert page.templates[0].name == "djtriggers/admin/action_confirmation.html"
    assert "would be due after the latest time (9999-12-30 00:00 UTC)" in page.content.decode()
    assert states(*triggers) == ["failed"] * 2
    assert not OperatorAction.objects.exists()


def test_cancel__confirmation_lists_what_will_change(client, root):
    waiting = [due(source="shop.order$1"), pending(source="shop.order$2")]
    done = processed(source="shop.order$3")
    page = act(client, "cancel_triggers", [*waiting, done])
    html = page.content.decode()
    assert "<strong>2</strong> triggers will be cancelled" in html
    assert "<li>1 already processed</li>" in html
    assert "shop.order$1" in html and "shop.order$2" in html
    assert "shop.order$3" not in html
    assert '<input type="hidden" name="post" value="yes">' in html
    assert 'value="Yes, cancel 2 triggers"' in html
    assert states(*waiting) == ["scheduled", "scheduled"]


def test_cancel__on_yes_cancels_and_reports_skips(client, root):
    waiting = make(3)
    left = [processed(), processed()]
    response = confirm(client, "cancel_triggers", [*waiting, *left], reason="partner down")
    assert messages_of(response) == ["3 cancelled, 2 skipped: already processed"]
    assert states(*waiting, *left) == ["cancelled"] * 3 + ["processed"] * 2


def test_cancel__nothing_to_cancel_disables_the_button(client, root):
    page = act(client, "cancel_triggers", [processed()])
    assert "<strong>0</strong> triggers will be cancelled" in page.content.decode()
    assert "disabled" in page.content.decode()


def test_select_across__acts_on_the_whole_filtered_set_in_chunks(client, root, monkeypatch):
    monkeypatch.setattr(admin.site._registry[Trigger], "list_per_page", 5)
    perform = actions.perform
    chunks = []

    def chunked(*args, **kwargs):
        report = perform(*args, chunk_size=4, **kwargs)
        chunks.append(report.changed)
        return report

    monkeypatch.setattr(actions, "perform", functools.partial(chunked))
    failures = [failed() for _ in range(12)]
    due = make(3)
    page = client.get(f"{CHANGELIST}?status=failed")
    on_page = page.context["cl"].result_list
    assert len(on_page) == 5

    response = act(client, "reprocess_triggers", on_page, "?status=failed", select_across="1")
    assert messages_of(response) == ["12 reprocessed"]
    assert states(*failures) == ["scheduled"] * 12
    assert OperatorAction.objects.get().triggers.count() == 12
    assert {t.process_after for t in Trigger.objects.filter(pk__in=[t.pk for t in due])} == {
        due[0].process_after
    }


def test_select_across__confirmation_carries_the_selection_and_filter(client, root, monkeypatch):
    monkeypatch.setattr(admin.site._registry[Trigger], "list_per_page", 5)
    due = make(8)
    later = [pending() for _ in range(2)]
    on_page = client.get(f"{CHANGELIST}?status=due").context["cl"].result_list
    page = act(client, "cancel_triggers", on_page, "?status=due", select_across="1")
    html = page.content.decode()
    assert "<strong>8</strong> triggers will be cancelled" in html
    assert '<input type="hidden" name="select_across" value="1">' in html
    assert 'href="/admin/djtriggers/trigger/?status=due"' in html  # "No, take me back"

    response = confirm(client, "cancel_triggers", on_page, "?status=due", select_across="1")
    assert messages_of(response) == ["8 cancelled"]
    assert states(*due) == ["cancelled"] * 8
    assert states(*later) == ["scheduled"] * 2


def test_process_now__reports_each_outcome(client, root):
    ok = due()
    failing = due(FailingTrigger, process_after=timezone.now())
    later = pending()
    done = processed()
    response = act(client, "process_triggers_now", [ok, failing, later, done])
    assert messages_of(response) == [
        f"noop #{ok.pk}: processed",
        f"failing #{failing.pk}: failed (ValueError: no coffee for trigger {failing.pk}); "
        "try 1 recorded",
        f"noop #{later.pk}: not due until {later.process_after:%Y-%m-%d %H:%M:%S}; "
        "reprocess it to make it due now",
        f"noop #{done.pk}: left alone: already processed",
    ]
    assert [m.level_tag for m in response.context["messages"]] == [
        "success",
        "error",
        "warning",
        "warning",
    ]
    assert states(ok, later) == ["processed", "scheduled"]
    assert Trigger.objects.get(pk=failing.pk).number_of_tries == 1
    logged = LogEntry.objects.filter(action_flag=CHANGE)
    assert sorted(logged.values_list("object_id", flat=True)) == sorted(
        [str(ok.pk), str(failing.pk)]
    )


def test_process_now__refuses_more_than_the_limit(client, root):
    triggers = make(PROCESS_NOW_LIMIT + 1)
    response = act(client, "process_triggers_now", triggers)
    assert messages_of(response) == [
        f"Processing now runs in this request: select at most {PROCESS_NOW_LIMIT} triggers, "
        "or reprocess them for the workers."
    ]
    assert Trigger.objects.due().count() == PROCESS_NOW_LIMIT + 1


def test_process_now__unknown_type_is_reported_not_raised(client, root):
    stray = due(trigger_type="renamed")
    response = act(client, "process_triggers_now", [stray])
    [message] = messages_of(response)
    assert message.startswith(f"renamed #{stray.pk}: not processed: No Trigger subclass")


def test_process_now__a_trigger_whose_own_data_row_is_gone_says_so(client, root):
    bill = PayBill.objects.create(amount=1, recipient=root)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {PayBill._meta.db_table} WHERE trigger_ptr_id = %s", [bill.pk])
    response = act(client, "process_triggers_now", [bill], follow=True)
    [message] = messages_of(response)
    assert "has lost its own data" in message
    assert PayBill._meta.db_table in message


@pytest.mark.parametrize(
    ("codenames", "expected"),
    [
        (("view_trigger",), set()),
        (("view_trigger", "change_trigger"), {"change_priority"}),
        (
            ("view_trigger", "reprocess_trigger"),
            {"reprocess_triggers", "reprocess_triggers_paced", "process_triggers_now"},
        ),
        (("view_trigger", "reschedule_trigger"), {"reschedule_triggers"}),
        (("view_trigger", "cancel_trigger"), {"cancel_triggers"}),
    ],
)
def test_actions__offered_only_with_their_permission(client, codenames, expected):
    login(client, *codenames)
    due()
    assert action_names(client.get(CHANGELIST)) == expected


def test_actions__superuser_gets_all(client, root):
    due()
    assert action_names(client.get(CHANGELIST)) >= set(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    "codenames",
    [("view_trigger",), ("view_trigger", "change_trigger"), ("view_trigger", "delete_trigger")],
)
def test_actions__posted_without_permission_change_nothing(client, action, codenames):
    login(client, *codenames)
    triggers = [due(), failed()]
    snapshot = list(Trigger.objects.values_list("state", "process_after", "number_of_tries"))
    response = confirm(
        client, action, triggers, process_after="+1h", spread="1h", select_across="1"
    )
    assert response.status_code == 200
    assert list(Trigger.objects.values_list("state", "process_after", "number_of_tries")) == (
        snapshot
    )
    assert not OperatorAction.objects.exists()
    assert not LogEntry.objects.exists()


def test_actions__one_permission_does_not_grant_another(client):
    login(client, "view_trigger", "reschedule_trigger")
    trigger = due()
    response = confirm(client, "cancel_triggers", [trigger])
    assert "No action selected." in messages_of(response)
    assert states(trigger) == ["scheduled"]
    confirm(client, "reschedule_triggers", [trigger], process_after="+1h")
    assert Trigger.objects.get(pk=trigger.pk).status == "pending"


def test_audit__operator_action_and_a_log_entry_per_changed_trigger(client):
    user = login(client, "view_trigger", "cancel_trigger")
    waiting = make(3)
    done = processed()
    confirm(client, "cancel_triggers", [*waiting, done], reason="partner down")
    action = OperatorAction.objects.get()
    assert (action.kind, action.user, action.reason) == ("cancel", user, "partner down")
    assert (action.changed, action.skipped) == (3, 1)
    assert set(action.triggers.values_list("pk", flat=True)) == {t.pk for t in waiting}
    entries = LogEntry.objects.order_by("object_id")
    assert [e.object_id for e in entries] == sorted(str(t.pk) for t in waiting)
    assert {(e.user, e.action_flag, e.content_type.model) for e in entries} == {
        (user, CHANGE, "trigger")
    }
    assert {e.change_message for e in entries} == {
        "3 cancelled, 1 skipped: already processed — partner down"
    }


def test_escaping__confirmation_page(client, hostile):
    assert_escaped(act(client, "cancel_triggers", [hostile]))


def test_escaping__messages(client, hostile):
    Trigger.objects.filter(pk=hostile.pk).update(trigger_type="failing")
    response = act(client, "process_triggers_now", [hostile])
    assert "no coffee" in messages_of(response)[0]
    confirm(client, "cancel_triggers", [hostile], reason=XSS)
    response = client.get(f"{CHANGELIST}{hostile.pk}/history/")
    assert_escaped(response)


def test_reprocess__a_reason_too_long_changes_nothing_and_says_why(client, root):
    trigger = failed()
    response = act(client, "reprocess_triggers", [trigger], reason="x" * 1001)
    assert messages_of(response) == [
        "Nothing done: Ensure this value has at most 1000 characters (it has 1001)."
    ]
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert states(trigger) == ["failed"]
    assert not OperatorAction.objects.exists()


def test_reprocess__nothing_changed_is_a_warning(client, root):
    response = act(client, "reprocess_triggers", [processed()])
    assert messages_of(response) == ["0 reprocessed, 1 skipped: already processed"]
    assert [m.level_tag for m in response.context["messages"]] == ["warning"]
