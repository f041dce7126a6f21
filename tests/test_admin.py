"""The operators' admin: changelist, actions, permissions, audit, the trigger's page."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from djtriggers import actions
from djtriggers.actions import PROCESS_NOW_LIMIT
from djtriggers.admin import TriggerAdmin
from djtriggers.models import OperatorAction, Trigger, TriggerAttempt, TriggerResult
from tests.conftest import login
from tests.testapp.models import BreakfastTrigger, FailingTrigger, NoopTrigger, PayBill

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/djtriggers/trigger/"
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
ACTIONS = [
    "reprocess_triggers",
    "reprocess_triggers_paced",
    "reschedule_triggers",
    "cancel_triggers",
    "process_triggers_now",
]


# --- fixtures and helpers ------------------------------------------------------


def make(n=1, **fields):
    fields.setdefault("process_after", timezone.now() - timedelta(minutes=5))
    return NoopTrigger.objects.bulk_create([NoopTrigger(**fields) for _ in range(n)])


def one(**fields):
    return make(1, **fields)[0]


def failed(**fields):
    return one(state="failed", date_processed=timezone.now(), number_of_tries=5, **fields)


def processed(**fields):
    return one(state="processed", date_processed=timezone.now(), successful=True, **fields)


def running(**fields):
    return one(state="running", locked_by="w1", locked_until=timezone.now(), **fields)


def pending(**fields):
    return one(process_after=timezone.now() + timedelta(hours=1), **fields)


def cancelled(**fields):
    return one(state="cancelled", date_processed=timezone.now(), **fields)


def act(client, action, triggers, query="", **data):
    pks = [t.pk for t in triggers]
    return client.post(
        CHANGELIST + query, {ACTION_CHECKBOX_NAME: pks, "action": action, **data}, follow=True
    )


def confirm(client, action, triggers, query="", **data):
    return act(client, action, triggers, query, post="yes", **data)


def messages_of(response):
    return [str(message) for message in response.context["messages"]]


def listed(response):
    return {obj.pk for obj in response.context["cl"].result_list}


def states(*triggers):
    return [Trigger.objects.get(pk=t.pk).state for t in triggers]


def change_url(trigger, model="djtriggers/trigger"):
    return f"/admin/{model}/{trigger.pk}/change/"


def action_names(response):
    form = response.context.get("action_form")
    return {name for name, _ in form.fields["action"].choices if name} if form else set()


# --- the changelist ------------------------------------------------------------


def test_changelist__columns_badge_overdue_and_short_error(client, root):
    error = "ValueError: " + "x" * 100
    trigger = failed(source="billing.invoice$1", last_error=error)
    due = one(process_after=timezone.now() - timedelta(hours=3))
    response = client.get(CHANGELIST)
    html = response.content.decode()
    assert response.status_code == 200
    assert listed(response) == {trigger.pk, due.pk}
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


STATUS_MAKERS = {
    "pending": pending,
    "due": one,
    "running": running,
    "failed": failed,
    "processed": processed,
    "cancelled": cancelled,
}


@pytest.mark.parametrize("status", list(STATUS_MAKERS))
def test_status_filter__lists_only_that_status(client, root, status):
    triggers = {name: maker() for name, maker in STATUS_MAKERS.items()}
    response = client.get(f"{CHANGELIST}?status={status}")
    assert response.status_code == 200
    assert listed(response) == {triggers[status].pk}
    assert f'<span class="djt-badge djt-{status}">{status}</span>' in response.content.decode()


def test_status_filter__orders_finished_rows_newest_first(client, root):
    now = timezone.now()
    old = one(state="failed", date_processed=now - timedelta(days=2))
    new = one(state="failed", date_processed=now - timedelta(days=1))
    response = client.get(f"{CHANGELIST}?status=failed")
    assert [t.pk for t in response.context["cl"].result_list] == [new.pk, old.pk]


def test_type_filter(client, root):
    noop = one()
    breakfast = BreakfastTrigger.objects.create()
    response = client.get(f"{CHANGELIST}?type=breakfast")
    assert listed(response) == {breakfast.pk}
    assert listed(client.get(f"{CHANGELIST}?type=noop")) == {noop.pk}
    assert "?type=testapp.paybill" in response.content.decode()


def test_date_filter__received_in_a_range(client, root):
    old = one(date_received=timezone.now() - timedelta(days=30))
    new = one()
    cl = client.get(CHANGELIST).context["cl"]
    spec = next(spec for spec in cl.filter_specs if spec.title == "date received")
    past_week = next(c for c in spec.choices(cl) if c["display"] == "Past 7 days")
    response = client.get(CHANGELIST + past_week["query_string"])
    assert listed(response) == {new.pk}
    assert old.pk in listed(client.get(CHANGELIST))


def test_search__by_id_source_and_error_text(client, root):
    by_source = one(source="billing.invoice$42")
    by_error = failed(last_error="ConnectionError: partner down")
    other = one(source="shop.order$7")
    assert listed(client.get(f"{CHANGELIST}?q=invoice")) == {by_source.pk}
    assert listed(client.get(f"{CHANGELIST}?q=partner+down")) == {by_error.pk}
    assert other.pk in listed(client.get(f"{CHANGELIST}?q={other.pk}"))


@pytest.mark.parametrize("rows", [10, 50])
def test_changelist__query_count_does_not_grow_with_the_page(
    client, root, rows, django_assert_max_num_queries
):
    make(rows // 2, last_error="boom", source="a$1")
    make(rows - rows // 2, state="failed", date_processed=timezone.now(), last_error="boom")
    # session, user, capped count (+ the planner's estimate on PostgreSQL), the page
    with django_assert_max_num_queries(5):
        response = client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == rows


def test_changelist__counts_at_most_the_cap(client, root, monkeypatch):
    monkeypatch.setattr("djtriggers.admin.paginator.COUNT_CAP", 5)
    make(8)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{CHANGELIST}?status=due")
    cl = response.context["cl"]
    assert (cl.result_count, cl.paginator.capped) == (5, True)
    assert len(cl.result_list) == 8
    assert "Counted up to 5: there are more." in response.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts
    assert all("LIMIT 6" in sql for sql in counts)


def test_changelist__exact_count_under_the_cap(client, root, monkeypatch):
    monkeypatch.setattr("djtriggers.admin.paginator.COUNT_CAP", 5)
    make(4)
    response = client.get(f"{CHANGELIST}?status=due")
    cl = response.context["cl"]
    assert (cl.result_count, cl.paginator.capped) == (4, False)
    assert "there are more" not in response.content.decode()


def test_changelist__postgres_estimates_the_unfiltered_table(client, root, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("the planner's estimate is read on PostgreSQL only")
    monkeypatch.setattr("djtriggers.admin.paginator.COUNT_CAP", 5)
    make(8)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE djtriggers_trigger")
    response = client.get(CHANGELIST)
    cl = response.context["cl"]
    assert (cl.result_count, cl.paginator.estimated) == (8, True)
    assert "About 8 triggers: an estimate" in response.content.decode()


def test_changelist__no_facet_counts(client, root):
    make(2)
    response = client.get(f"{CHANGELIST}?_facets=1")
    assert response.status_code == 200
    assert not response.context["cl"].add_facets


# --- actions -------------------------------------------------------------------


def test_reprocess__due_now_with_fresh_tries_and_reports_skips(client, root):
    revived = [failed(last_error="boom"), cancelled()]
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
    triggers = [one(), failed()]
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
    trigger = one()
    before = trigger.process_after
    response = confirm(client, "reschedule_triggers", [trigger], process_after=value)
    assert response.status_code == 200
    assert response.templates[0].name == "djtriggers/admin/action_confirmation.html"
    assert error in response.context["form"].errors["process_after"][0]
    assert 'class="errorlist' in response.content.decode()
    trigger.refresh_from_db()
    assert trigger.process_after == before
    assert not OperatorAction.objects.exists()


def test_cancel__confirmation_lists_what_will_change(client, root):
    waiting = [one(source="shop.order$1"), pending(source="shop.order$2")]
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
    ok = one()
    failing = FailingTrigger.objects.create(process_after=timezone.now())
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
    stray = one(trigger_type="renamed")
    response = act(client, "process_triggers_now", [stray])
    [message] = messages_of(response)
    assert message.startswith(f"renamed #{stray.pk}: not processed: No Trigger subclass")


# --- permissions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("codenames", "expected"),
    [
        (("view_trigger",), set()),
        (("view_trigger", "change_trigger"), set()),
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
    one()
    assert action_names(client.get(CHANGELIST)) == expected


def test_actions__superuser_gets_all(client, root):
    one()
    assert action_names(client.get(CHANGELIST)) >= set(ACTIONS)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize(
    "codenames",
    [("view_trigger",), ("view_trigger", "change_trigger"), ("view_trigger", "delete_trigger")],
)
def test_actions__posted_without_permission_change_nothing(client, action, codenames):
    login(client, *codenames)
    triggers = [one(), failed()]
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
    trigger = one()
    response = confirm(client, "cancel_triggers", [trigger])
    assert "No action selected." in messages_of(response)
    assert states(trigger) == ["scheduled"]
    confirm(client, "reschedule_triggers", [trigger], process_after="+1h")
    assert Trigger.objects.get(pk=trigger.pk).status == "pending"


def test_view_only_staff__read_only_pages(client):
    login(client, "view_trigger")
    trigger = one(source="shop.order$1")
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


# --- the trigger's page --------------------------------------------------------


def test_change_page__system_fields_read_only(client, root):
    trigger = failed(last_error="boom")
    html = client.get(change_url(trigger)).content.decode()
    assert 'name="source"' in html
    for field in ("state", "number_of_tries", "last_error", "locked_by", "trigger_type"):
        assert f'name="{field}"' not in html


def test_change_page__save_writes_only_the_edited_fields(client, root, monkeypatch):
    trigger = one(source="old")
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


def test_change_page__timeline(client, root):
    received = timezone.now() - timedelta(hours=1)
    trigger = failed(date_received=received, last_error="ValueError: boom")
    start = received + timedelta(seconds=10)
    TriggerAttempt.objects.create(
        trigger=trigger,
        number=1,
        worker="host:123:abc",
        started_at=start,
        finished_at=start + timedelta(milliseconds=1500),
        outcome="failure",
        exception_class="ValueError",
        message="boom",
        traceback='Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom',
    )
    TriggerResult.objects.create(
        trigger=trigger, result="paid 3", date_created=start + timedelta(seconds=20)
    )
    response = confirm(client, "cancel_triggers", [one()])  # another trigger: not shown
    response = confirm(client, "reprocess_triggers_paced", [trigger], spread="1h", reason="retry")
    assert messages_of(response) == ["1 reprocessed"]

    response = client.get(change_url(trigger))
    events = response.context["timeline"]
    assert [e.kind for e in events] == ["created", "attempt", "result", "operator"]
    assert events[0].title == "Created as noop"
    attempt = events[1]
    assert (attempt.title, attempt.who, attempt.outcome) == (
        "Try 1: failed",
        "host:123:abc",
        "failure",
    )
    assert attempt.detail == "ValueError: boom"
    assert attempt.duration == timedelta(milliseconds=1500)
    assert events[3].title == "Reprocessed by an operator, spread over 1:00:00"
    assert (events[3].who, events[3].detail) == ("root", "retry")
    html = response.content.decode()
    assert "1.500 s" in html
    assert "<summary>Traceback</summary>" in html
    assert "File &quot;x.py&quot;, line 1" in html
    assert "paid 3" in html


def test_change_page__operator_action_on_many_says_how_many(client, root):
    triggers = make(3)
    confirm(client, "cancel_triggers", triggers, reason="partner down")
    events = client.get(change_url(triggers[0])).context["timeline"]
    assert events[-1].title == "Cancelled by an operator (3 triggers at once)"


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
        (one, ["reprocess", "cancel", "process"]),
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
    assert ("Reschedule" in html) == (maker in (one, failed))


def test_change_page__buttons_only_with_permission(client):
    login(client, "view_trigger", "cancel_trigger")
    trigger = one()
    response = client.get(change_url(trigger))
    assert [button["kind"] for button in response.context["object_actions"]] == ["cancel"]
    assert f"/{trigger.pk}/reprocess/" not in response.content.decode()


def test_change_page__buttons_post_with_csrf(root):
    client = Client(enforce_csrf_checks=True)
    client.force_login(root)
    trigger = one()
    html = client.get(change_url(trigger)).content.decode()
    assert html.count('name="csrfmiddlewaretoken"') >= 4
    assert client.post(f"{CHANGELIST}{trigger.pk}/cancel/").status_code == 403
    assert states(trigger) == ["scheduled"]


@pytest.mark.parametrize("kind", ["reprocess", "reschedule", "cancel", "process"])
def test_object_action__get_is_not_allowed(client, root, kind):
    trigger = one()
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
    trigger = one()
    response = client.post(f"{CHANGELIST}{trigger.pk}/{kind}/", {"process_after": "+1h"})
    assert response.status_code == 403
    trigger.refresh_from_db()
    assert (trigger.state, trigger.number_of_tries) == ("scheduled", 0)
    assert not OperatorAction.objects.exists()


def test_object_action__other_custom_permission_is_not_enough(client):
    login(client, "view_trigger", "reprocess_trigger")
    trigger = one()
    assert client.post(f"{CHANGELIST}{trigger.pk}/cancel/").status_code == 403
    assert client.post(f"{CHANGELIST}{trigger.pk}/reschedule/").status_code == 403
    assert states(trigger) == ["scheduled"]


def test_object_action__non_staff_are_sent_to_log_in(client):
    client.force_login(User.objects.create_user("bob"))
    trigger = one()
    response = client.post(f"{CHANGELIST}{trigger.pk}/cancel/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert states(trigger) == ["scheduled"]


@pytest.mark.parametrize("object_id", ["999999", "abc"])
def test_object_action__unknown_trigger_is_404(client, root, object_id):
    assert client.post(f"{CHANGELIST}{object_id}/cancel/").status_code == 404


def test_object_action__reprocess_with_reason_is_audited(client, root):
    trigger = failed(last_error="boom")
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
    trigger = one()
    response = client.post(f"{CHANGELIST}{trigger.pk}/process/", follow=True)
    assert messages_of(response) == [f"noop #{trigger.pk}: processed"]
    assert states(trigger) == ["processed"]
    assert LogEntry.objects.get().change_message == "Processed now: processed"


# --- audit ---------------------------------------------------------------------


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


def test_audit__shown_on_the_trigger_page_and_in_its_history(client, root):
    trigger = one()
    confirm(client, "cancel_triggers", [trigger], reason="partner down")
    html = client.get(change_url(trigger)).content.decode()
    assert "Cancelled by an operator" in html
    assert "partner down" in html
    history = client.get(f"{CHANGELIST}{trigger.pk}/history/").content.decode()
    assert "1 cancelled — partner down" in history


# --- escaping ------------------------------------------------------------------


@pytest.fixture
def hostile(client, root):
    trigger = one(source=XSS, last_error=XSS)
    TriggerResult.objects.create(trigger=trigger, result=XSS)
    now = timezone.now()
    TriggerAttempt.objects.create(
        trigger=trigger,
        number=1,
        worker=XSS,
        started_at=now,
        finished_at=now,
        outcome="failure",
        exception_class="ValueError",
        message=XSS,
        traceback=XSS,
    )
    action = OperatorAction.objects.create(kind="reschedule", reason=XSS, user=root, changed=1)
    action.triggers.add(trigger)
    return trigger


def assert_escaped(response):
    html = response.content.decode()
    assert response.status_code == 200
    assert XSS not in html
    assert ESCAPED in html


def test_escaping__changelist(client, hostile):
    assert_escaped(client.get(CHANGELIST))
    assert f'title="{ESCAPED}"' in client.get(CHANGELIST).content.decode()


def test_escaping__change_page(client, hostile):
    response = client.get(change_url(hostile))
    assert_escaped(response)
    assert response.content.decode().count(ESCAPED) >= 6


def test_escaping__confirmation_page(client, hostile):
    assert_escaped(act(client, "cancel_triggers", [hostile]))


def test_escaping__messages(client, hostile):
    Trigger.objects.filter(pk=hostile.pk).update(trigger_type="failing")
    response = act(client, "process_triggers_now", [hostile])
    assert "no coffee" in messages_of(response)[0]
    confirm(client, "cancel_triggers", [hostile], reason=XSS)
    response = client.get(f"{CHANGELIST}{hostile.pk}/history/")
    assert_escaped(response)


def test_escaping__source_triggers_on_the_objects_page(client, root):
    one(source=f"auth.user${root.pk}", last_error=XSS)
    assert_escaped(client.get(change_url(root, "auth/user")))


# --- a concrete subclass -------------------------------------------------------


@pytest.fixture
def bill(root):
    return PayBill.objects.create(amount=3, recipient=root, source="shop.order$1")


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
    one()
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


def test_subclass_admin__process_now(client, bill):
    response = client.post(f"/admin/testapp/paybill/{bill.pk}/process/", follow=True)
    assert messages_of(response) == [f"testapp.paybill #{bill.pk}: processed"]
    assert states(bill) == ["processed"]


# --- SourceTriggersMixin -------------------------------------------------------


def test_source_triggers__listed_on_the_objects_page(client, root):
    mine = [one(source=f"auth.user${root.pk}"), failed(source=f"auth.user${root.pk}")]
    not_mine = one(source=f"auth.user${root.pk}0")
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
    one(source=f"auth.user${user.pk}")
    response = client.get(change_url(user, "auth/user"))
    assert response.status_code == 200
    assert "source_triggers" not in response.context
    assert "Triggers for this" not in response.content.decode()


def test_trigger_admin_is_the_registered_admin():
    assert isinstance(admin.site._registry[Trigger], TriggerAdmin)
    assert isinstance(admin.site._registry[PayBill], TriggerAdmin)


def test_search__a_source_with_dollar_is_a_prefix_match_on_source_only(client, root):
    from tests.testapp.models import NoopTrigger

    hit = NoopTrigger.objects.create(source="billing.invoice$12")
    longer = NoopTrigger.objects.create(source="billing.invoice$123")
    NoopTrigger.objects.create(source="x", last_error="see billing.invoice$12")
    response = client.get(CHANGELIST, {"q": "billing.invoice$12"})
    assert {t.pk for t in response.context["cl"].result_list} == {hit.pk, longer.pk}


# --- holes: moving process_after, searches, a trigger's lost data ---------------------


def change_form_data(trigger, when):
    local = timezone.localtime(when)
    return {
        "source": trigger.source or "",
        "process_after_0": f"{local:%Y-%m-%d}",
        "process_after_1": f"{local:%H:%M:%S}",
    }


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


def test_change_page__a_process_after_out_of_range_is_a_form_error(client, root):
    trigger = one()
    before = Trigger.objects.get(pk=trigger.pk).process_after
    data = {"source": "", "process_after_0": "9999-12-31", "process_after_1": "23:59:00"}
    with timezone.override("Europe/Brussels"):
        response = client.post(change_url(trigger), data)
    assert response.status_code == 200
    assert "too far ahead" in response.content.decode()
    assert Trigger.objects.get(pk=trigger.pk).process_after == before


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


@pytest.mark.parametrize("term", ["²", "٣", "99999999999", "-1", "1e3"])
def test_search__terms_that_look_like_ids_but_are_not(client, root, term):
    one(source="x")
    response = client.get(CHANGELIST, {"q": term})
    assert response.status_code == 200


def test_process_now__a_trigger_whose_own_data_row_is_gone_says_so(client, root):
    bill = PayBill.objects.create(amount=1, recipient=root)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {PayBill._meta.db_table} WHERE trigger_ptr_id = %s", [bill.pk])
    response = act(client, "process_triggers_now", [bill], follow=True)
    [message] = messages_of(response)
    assert "has lost its own data" in message
    assert PayBill._meta.db_table in message
