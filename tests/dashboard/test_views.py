"""The dashboard's views: access, page and fragments, JSON, health, actions, escaping, queries."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from dashboard.views import PAGE_SIZE, health_check
from djtriggers.models import OperatorAction, Trigger, TriggerAttempt
from tests.conftest import login
from tests.dashboard.conftest import (
    ESCAPED,
    HEALTH,
    HTMX,
    INDEX,
    LIST,
    LIVE,
    METRICS,
    STATUSES,
    SUMMARY,
    XSS,
    action_url,
    group_data,
    group_url,
    rows,
)
from tests.factories import (
    cancelled,
    dispatched,
    due,
    failed,
    make,
    pending,
    processed,
    running,
    worker,
)
from tests.testapp.models import BreakfastTrigger, CountingTrigger, NoopTrigger

pytestmark = pytest.mark.django_db


GETS = [INDEX, SUMMARY, HEALTH, METRICS]


def posts():
    trigger = failed()
    return [action_url(trigger, "reprocess"), group_url("reprocess")]


@pytest.mark.parametrize("url", GETS)
def test_access__anonymous_is_redirected_to_the_admin_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={url}"


def test_access__anonymous_actions_are_redirected_and_change_nothing(client):
    for url in posts():
        response = client.post(url, {"confirm": "yes"})
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert Trigger.objects.get().state == "failed"


@pytest.mark.parametrize("url", GETS)
def test_access__non_staff_is_redirected_even_with_the_permission(client, url):
    login(client, "view_trigger", staff=False)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", GETS)
def test_access__staff_without_view_trigger_is_forbidden(client, url):
    login(client)
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("url", GETS)
def test_access__staff_with_view_trigger_may_look(client, viewer, url, settings):
    settings.DJTRIGGERS_PROMETHEUS = True  # METRICS is 404 while it is off
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("kind", ["reprocess", "reschedule", "cancel"])
def test_row_action__needs_its_own_permission(client, kind):
    others = {"reprocess", "reschedule", "cancel"} - {kind}
    login(client, "view_trigger", *(f"{other}_trigger" for other in others))
    trigger = due()
    data = {"confirm": "yes", "process_after": "+1h"}
    assert client.post(action_url(trigger, kind), data, headers=HTMX).status_code == 403
    assert client.post(action_url(trigger, kind), data).status_code == 403
    trigger.refresh_from_db()
    assert trigger.status == "due"
    assert not OperatorAction.objects.exists()


@pytest.mark.parametrize("kind", ["reprocess", "reschedule"])
def test_group_action__needs_its_own_permission(client, kind):
    login(client, "view_trigger", "cancel_trigger")
    failed(fingerprint="abc")
    data = {"trigger_type": "noop", "fingerprint": "abc", "confirm": "yes", "process_after": "+1h"}
    assert client.post(group_url(kind), data, headers=HTMX).status_code == 403
    assert Trigger.objects.get().state == "failed"


def test_row_action__only_offers_the_permitted_actions(client):
    login(client, "view_trigger", "reschedule_trigger")
    trigger = due()
    failed(fingerprint="abc")
    content = client.get(INDEX).content.decode()
    assert action_url(trigger, "reschedule") in content
    assert action_url(trigger, "reprocess") not in content
    assert action_url(trigger, "cancel") not in content
    assert group_url("reschedule") in content
    assert group_url("reprocess") not in content


def test_row_action__offers_only_actions_valid_for_the_state(client, root):
    due_now, done, failure = due(), processed(), failed()
    content = client.get(INDEX).content.decode()
    for kind in ("reprocess", "reschedule", "cancel"):
        assert action_url(due_now, kind) in content
        assert action_url(done, kind) not in content
    assert action_url(failure, "reprocess") in content
    assert action_url(failure, "cancel") not in content


def test_actions__unknown_action_or_trigger_is_not_found(client, root):
    trigger = due()
    assert client.post(action_url(trigger, "delete"), headers=HTMX).status_code == 404
    assert client.post(group_url("cancel"), headers=HTMX).status_code == 404
    missing = reverse("dashboard:trigger_action", args=[trigger.pk + 1000, "reprocess"])
    assert client.post(missing, headers=HTMX).status_code == 404


def test_actions__get_is_not_allowed(client, root):
    trigger = due()
    assert client.get(action_url(trigger, "cancel")).status_code == 405
    assert client.get(group_url("reprocess")).status_code == 405


def test_actions__csrf_is_enforced():
    client = Client(enforce_csrf_checks=True)
    login(client, superuser=True)
    trigger = failed(fingerprint="abc")
    group = {"trigger_type": "noop", "fingerprint": "abc", "confirm": "yes"}
    assert client.post(action_url(trigger, "reprocess"), headers=HTMX).status_code == 403
    assert client.post(group_url("reprocess"), group, headers=HTMX).status_code == 403
    assert Trigger.objects.get().state == "failed"
    assert not OperatorAction.objects.exists()

    page = client.get(INDEX).content.decode()
    # htmx sends the token as a header (hx-headers on the container) ...
    header = re.search(r"hx-headers='\{\"X-CSRFToken\": \"([^\"]+)\"\}'", page)
    assert header
    response = client.post(
        action_url(trigger, "reprocess"), headers={**HTMX, "X-CSRFToken": header.group(1)}
    )
    assert response.status_code == 200
    assert Trigger.objects.get().status == "due"
    # ... and the forms carry it for browsers without JavaScript.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    response = client.post(action_url(trigger, "cancel"), {"csrfmiddlewaretoken": token.group(1)})
    assert response.status_code == 200  # the confirmation page


def test_index__renders_everything_server_side_without_javascript(client, root):
    now = timezone.now()
    due(source="due$1")
    pending(source="later$2")
    failed(error="ValueError: boom", fingerprint="f1")
    worker(name="host:1")
    response = client.get(INDEX)
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" in content
    assert 'id="djt-live"' in content
    assert 'id="djt-list"' in content
    # tiles, due board, workers, upcoming, failure groups, throughput, list
    for status in STATUSES:
        assert f"djt-tile-{status}" in content
    assert "Due board" in content
    assert 'title="host:1"' in content
    assert "later$2" in content
    assert "ValueError: boom" in content
    assert "<svg" in content
    assert len(rows(response.content)) == 3
    assert response.context["counts"] == Trigger.objects.status_counts()
    assert response.context["now"] >= now
    # every htmx link has a plain href or form action next to it
    assert 'href="?status=due#djt-list-section"' in content
    assert 'method="get" action="/triggers/"' in content


def test_index__htmx_live_target_gets_only_the_live_fragment(client, root):
    failed(error="ValueError: boom", fingerprint="f1")
    response = client.get(INDEX, headers=LIVE)
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="djt-live"')
    assert "<html" not in content
    assert 'id="djt-list"' not in content
    assert "ValueError: boom" in content
    assert "Vary" in response and "HX-Request" in response["Vary"]


def test_index__htmx_list_target_gets_only_the_list_fragment(client, root):
    trigger = due()
    response = client.get(INDEX, headers=LIST)
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="djt-list"')
    assert "<html" not in content
    assert 'id="djt-live"' not in content
    assert rows(response.content) == [trigger.pk]


def test_index__a_plain_page_and_its_fragments_are_told_apart_for_caches(client, root):
    response = client.get(INDEX)
    assert "HX-Target" in response["Vary"]


def test_index__live_parts_refresh_on_the_changed_event(client, root):
    content = client.get(INDEX).content.decode()
    assert "triggers-changed from:body" in content
    assert content.count("triggers-changed from:body") == 2  # live and list


def test_index__timed_refresh_waits_for_a_confirmation_a_typed_time_and_the_numbers(client, root):
    live = client.get(INDEX, headers=LIVE).content.decode()
    trigger = re.search(r'hx-trigger="every 5s \[(.+?)\], triggers-changed from:body"', live)
    assert trigger
    assert "#djt-live .djt-confirm" in trigger.group(1)
    assert "#djt-live input:focus" in trigger.group(1)
    assert "#djt-live .djt-chart-numbers')?.open" in trigger.group(1)  # the numbers are read
    assert "#djt-live details.djt-more[open]" in trigger.group(1)  # a reason is being typed


def test_index__workers_show_a_stale_flag(client, root):
    worker(name="fresh", seconds_ago=1)
    worker(name="gone", seconds_ago=3600)
    content = client.get(INDEX, headers=LIVE).content.decode()
    assert content.count("(stale)") == 1
    assert 'title="gone"' in content


def test_index__due_board_and_upcoming(client, root):
    now = timezone.now()
    due(process_after=now - timedelta(minutes=10))
    pending(source="soon$1")
    processed(
        BreakfastTrigger,
        process_after=now - timedelta(minutes=5),
        at=now - timedelta(minutes=4),
    )
    response = client.get(INDEX)
    board = {row.trigger_type: row for row in response.context["due_board"]}
    assert board["noop"].due == 1
    assert board["breakfast"].lag_p50 == timedelta(minutes=1)
    content = response.content.decode()
    assert "10m 0s" in content or "10m 1s" in content
    assert "1m 0s" in content
    assert "soon$1" in content


def test_index__the_throughput_legend_below_its_header_the_lags_on_the_due_board(client, root):
    now = timezone.now()
    processed(
        BreakfastTrigger,
        process_after=now - timedelta(minutes=5),
        at=now - timedelta(minutes=4),
    )
    trigger = due()
    TriggerAttempt.objects.create(
        trigger=trigger, number=1, started_at=now, finished_at=now, outcome="success"
    )
    content = client.get(INDEX, headers=LIVE).content.decode()
    assert re.search(r'<h2>Throughput, last hour</h2>\s*<ul class="djt-chart-legend">', content)
    assert "processed (1), solid line" in content
    assert content.count("<title>") == 60
    board = content[content.index("<h2>Due board</h2>") : content.index("<h2>Workers</h2>")]
    assert '<span class="djt-lag-type">breakfast</span>' in board
    assert "p50 1m 0s, p95 1m 0s</span>" in board
    assert '<span class="djt-lag-type">noop</span>' not in board  # due, nothing processed


def test_index__an_idle_hour_says_so_on_both_pictures(client, root):
    due()
    content = client.get(INDEX, headers=LIVE).content.decode()
    assert "Nothing processed or failed in the last hour." in content
    assert "No lag measured in the last hour" in content
    assert 'class="djt-chart"' not in content


def test_index__nothing_yet(client, root):
    content = client.get(INDEX).content.decode()
    assert "No triggers match." in content
    assert "No failed triggers." in content
    assert "No worker is running." in content
    assert "Nothing scheduled for later." in content


def test_list__keyset_pagination_50_per_page_newest_first(client, root):
    triggers = make(PAGE_SIZE + 5, source="page")
    processed(source="page")  # filtered out
    pks = sorted((t.pk for t in triggers), reverse=True)
    first = client.get(INDEX, {"status": "due"}, headers=LIST)
    assert PAGE_SIZE == 50
    assert rows(first.content) == pks[:50]
    content = first.content.decode()
    assert f"?status=due&amp;before={pks[49]}" in content
    assert f'href="?status=due&amp;before={pks[49]}#djt-list-section"' in content
    second = client.get(INDEX, {"status": "due", "before": pks[49]}, headers=LIST)
    assert rows(second.content) == pks[50:]
    assert "before=" not in second.content.decode()  # no further page
    # Without htmx the same link renders the whole page at that position.
    page = client.get(INDEX, {"status": "due", "before": pks[49]})
    assert rows(page.content) == pks[50:]


def test_list__exactly_a_page_has_no_next_link(client, root):
    make(PAGE_SIZE)
    response = client.get(INDEX, headers=LIST)
    assert len(rows(response.content)) == PAGE_SIZE
    assert "before=" not in response.content.decode()


# "²" and fullwidth "12" are digits to str.isdigit(), and no trigger id.
@pytest.mark.parametrize("before", ["abc", "-1", "1.5", "\u00b2", "\uff11\uff12"])
def test_list__bad_before_says_how_to_fix_it(client, root, before):
    due()
    response = client.get(INDEX, {"before": before}, headers=LIST)
    assert response.status_code == 200
    assert rows(response.content) == []
    assert "&#x27;before&#x27; must be a trigger id" in response.content.decode()


def test_list__before_beyond_any_id_lists_from_the_newest(client, root):
    trigger = due()
    response = client.get(INDEX, {"before": "9" * 30}, headers=LIST)
    assert response.status_code == 200
    assert rows(response.content) == [trigger.pk]


def test_summary__counts_by_type_oldest_due_and_workers(client, viewer):
    now = timezone.now()
    due(process_after=now - timedelta(minutes=2))
    pending()
    failed()
    processed()
    cancelled(BreakfastTrigger, at=now)
    running(worker="w1")
    worker(name="w1", seconds_ago=2)
    response = client.get(SUMMARY)
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert list(data["counts"]) == STATUSES
    assert data["counts"] == Trigger.objects.status_counts()
    assert data["counts"] == dict.fromkeys(STATUSES, 1)
    assert data["by_type"] == {
        "breakfast": {**dict.fromkeys(STATUSES, 0), "cancelled": 1},
        "noop": {**dict.fromkeys(STATUSES, 1), "cancelled": 0},
    }
    assert 120 <= data["oldest_due_age_seconds"] < 130
    [w] = data["workers"]
    assert (w["name"], w["stale"]) == ("w1", False)


def test_summary__empty(client, viewer):
    data = client.get(SUMMARY).json()
    assert data["counts"] == dict.fromkeys(STATUSES, 0)
    assert data["by_type"] == {}
    assert data["oldest_due_age_seconds"] is None
    assert data["workers"] == []


def test_health__nothing_due_and_no_workers_is_healthy(client, viewer):
    pending()
    failed()
    response = client.get(HEALTH)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "problems": [],
        "oldest_due_age_seconds": None,
        "paused": [],
    }


def test_health__due_with_a_recent_heartbeat_is_healthy(client, viewer):
    due(process_after=timezone.now() - timedelta(seconds=10))
    worker(seconds_ago=5)
    response = client.get(HEALTH)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_health__oldest_due_too_old_is_503_with_the_reason(client, viewer, settings):
    settings.DJTRIGGERS_HEALTH_MAX_DUE_AGE_SECONDS = 60
    due(process_after=timezone.now() - timedelta(seconds=600))
    worker(seconds_ago=1)
    response = client.get(HEALTH)
    assert response.status_code == 503
    data = response.json()
    assert data["status"] == "unhealthy"
    assert len(data["problems"]) == 1
    assert re.fullmatch(
        r"the oldest due trigger has waited 60\ds \(more than 60s\)", data["problems"][0]
    )
    assert data["oldest_due_age_seconds"] >= 600


@pytest.mark.parametrize("heartbeat", [None, 120])
def test_health__due_without_a_recent_heartbeat_is_503(client, viewer, settings, heartbeat):
    settings.DJTRIGGERS_HEALTH_MAX_HEARTBEAT_AGE_SECONDS = 30
    due(process_after=timezone.now() - timedelta(seconds=1))
    if heartbeat is not None:
        worker(seconds_ago=heartbeat)
    response = client.get(HEALTH)
    assert response.status_code == 503
    assert response.json()["problems"] == [
        "triggers are due and no worker has sent a heartbeat for 30s"
    ]


def test_health__a_due_trigger_without_process_after_counts(client, viewer, settings):
    settings.DJTRIGGERS_HEALTH_MAX_DUE_AGE_SECONDS = 60
    due(process_after=None, date_received=timezone.now() - timedelta(seconds=600))
    response = client.get(HEALTH)
    assert response.status_code == 503
    assert len(response.json()["problems"]) == 2


def test_metrics__the_scrape_for_staff(client, viewer, settings):
    settings.DJTRIGGERS_PROMETHEUS = True
    due()
    response = client.get(METRICS)
    assert response["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(response.content.decode())}
    [due_noop] = [
        s
        for s in families["djtriggers_triggers"].samples
        if s.labels == {"trigger_type": "noop", "status": "due"}
    ]
    assert due_noop.value == 1
    assert "djtriggers_tries" in families


def test_metrics__off_is_404_for_staff_too(client, viewer):
    response = client.get(METRICS)
    assert response.status_code == 404
    assert b"DJTRIGGERS_PROMETHEUS = True" in response.content


def test_health_check__needs_no_login():
    due(process_after=timezone.now() - timedelta(seconds=1))
    request = RequestFactory().get("/health/")
    response = health_check(request)
    assert response.status_code == 503
    assert json.loads(response.content)["status"] == "unhealthy"
    Trigger.objects.update(state="processed")
    assert health_check(RequestFactory().get("/health/")).status_code == 200


def test_reprocess__htmx_returns_the_row_and_the_changed_event(client, root):
    trigger = failed(error="ValueError: boom")
    response = client.post(action_url(trigger, "reprocess"), headers=HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "triggers-changed"
    content = response.content.decode()
    assert content.lstrip().startswith(f'<tr id="djt-trigger-{trigger.pk}"')
    assert "1 reprocessed" in content
    assert 'hx-swap-oob="innerHTML"' in content  # the flash message, into the live region
    trigger.refresh_from_db()
    assert (trigger.status, trigger.number_of_tries, trigger.last_error) == ("due", 0, "")
    action = OperatorAction.objects.get()
    assert (action.kind, action.user, action.changed) == ("reprocess", root, 1)
    assert list(action.triggers.all()) == [trigger]


def test_reprocess__the_row_keeps_every_permitted_action(client, root):
    trigger = failed()
    content = client.post(action_url(trigger, "reprocess"), headers=HTMX).content.decode()
    for kind in ("reprocess", "reschedule", "cancel"):
        assert action_url(trigger, kind) in content


def test_reschedule__to_a_delay_or_a_date(client, root):
    trigger = failed()
    response = client.post(
        action_url(trigger, "reschedule"), {"process_after": "+2h"}, headers=HTMX
    )
    assert response["HX-Trigger"] == "triggers-changed"
    trigger.refresh_from_db()
    assert trigger.status == "pending"
    assert abs(trigger.process_after - (timezone.now() + timedelta(hours=2))) < timedelta(minutes=1)
    client.post(action_url(trigger, "reschedule"), {"process_after": "2031-01-02 03:04"})
    trigger.refresh_from_db()
    assert trigger.process_after.isoformat() == "2031-01-02T03:04:00+00:00"


@pytest.mark.parametrize("when", ["", "tomorrow", "+2 fortnights", "2026-02-30 10:00"])
def test_reschedule__a_time_that_does_not_parse_is_an_inline_message(client, root, when):
    trigger = failed()
    response = client.post(action_url(trigger, "reschedule"), {"process_after": when}, headers=HTMX)
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    content = response.content.decode()
    assert 'role="alert">Not rescheduled: ' in content
    assert content.lstrip().startswith(f'<tr id="djt-trigger-{trigger.pk}"')
    trigger.refresh_from_db()
    assert trigger.state == "failed"
    assert not OperatorAction.objects.exists()


def test_cancel__asks_first_and_changes_nothing(client, root):
    trigger = due(source="invoice$7")
    response = client.post(action_url(trigger, "cancel"), headers=HTMX)
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    content = response.content.decode()
    assert f"Cancel trigger #{trigger.pk} (noop, invoice$7)?" in content
    assert 'name="confirm" value="yes"' in content
    trigger.refresh_from_db()
    assert trigger.status == "due"
    assert not OperatorAction.objects.exists()


def test_cancel__confirmed_with_a_reason(client, root):
    trigger = due()
    response = client.post(
        action_url(trigger, "cancel"), {"confirm": "yes", "reason": "partner down"}, headers=HTMX
    )
    assert response["HX-Trigger"] == "triggers-changed"
    assert "1 cancelled" in response.content.decode()
    trigger.refresh_from_db()
    assert trigger.status == "cancelled"
    assert OperatorAction.objects.get().reason == "partner down"


@pytest.mark.parametrize(
    ("kind", "data", "verb"),
    [
        ("reprocess", {}, "reprocessed"),
        ("reschedule", {"process_after": "+1h"}, "rescheduled"),
        ("cancel", {"confirm": "yes"}, "cancelled"),
    ],
)
def test_row_action__a_trigger_processed_meanwhile_is_left_alone(client, root, kind, data, verb):
    trigger = due()  # the operator sees it due ...
    Trigger.objects.filter(pk=trigger.pk).update(  # ... and a worker processes it
        state="processed", date_processed=timezone.now(), successful=True
    )
    response = client.post(action_url(trigger, kind), data, headers=HTMX)
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    assert f"Not {verb}: already processed." in response.content.decode()
    trigger.refresh_from_db()
    assert trigger.state == "processed"


def test_row_action__a_running_trigger_is_left_alone(client, root):
    trigger = running(worker="w1")
    response = client.post(action_url(trigger, "cancel"), {"confirm": "yes"}, headers=HTMX)
    assert "Not cancelled: running." in response.content.decode()
    assert Trigger.objects.get().state == "running"


def test_row_action__without_htmx_redirects_with_a_message(client, root):
    trigger = failed()
    response = client.post(action_url(trigger, "reprocess"))
    assert response.status_code == 302
    assert response["Location"] == INDEX
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["1 reprocessed"]
    trigger.refresh_from_db()
    assert trigger.status == "due"
    page = client.get(response["Location"]).content.decode()
    assert "1 reprocessed" in page


def test_row_action__without_htmx_a_bad_time_redirects_with_an_error(client, root):
    trigger = failed()
    response = client.post(
        action_url(trigger, "reschedule"), {"process_after": "soon"}, follow=True
    )
    content = response.content.decode()
    assert response.redirect_chain == [(INDEX, 302)]
    assert "Not rescheduled: &#x27;soon&#x27; is neither a date and time" in content
    assert 'class="error"' in content
    assert Trigger.objects.get(pk=trigger.pk).state == "failed"


def test_cancel__without_htmx_confirms_on_a_page_of_its_own(client, root):
    trigger = due()
    response = client.post(action_url(trigger, "cancel"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" in content
    assert f"Cancel trigger #{trigger.pk}" in content
    assert f'action="{action_url(trigger, "cancel")}"' in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert Trigger.objects.get().status == "due"
    response = client.post(action_url(trigger, "cancel"), {"confirm": "yes"})
    assert response.status_code == 302
    assert Trigger.objects.get().status == "cancelled"


def test_group__listed_once_with_its_count(client, root, group):
    response = client.get(INDEX)
    groups = response.context["failure_groups"]
    assert [(g.fingerprint, g.count) for g in groups] == [
        (group["fingerprint"], 2),
        (group["other"].error_fingerprint, 1),
    ]


def test_group_reprocess__asks_first_showing_how_many(client, root, group):
    response = client.post(group_url("reprocess"), group_data(group), headers=HTMX)
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    content = response.content.decode()
    assert "Reprocess 2 failed triggers of this group?" in content
    assert "Yes, reprocess 2" in content
    assert Trigger.objects.failed().count() == 3
    assert not OperatorAction.objects.exists()


def test_group_reprocess__confirmed_changes_the_group_only(client, root, group):
    response = client.post(group_url("reprocess"), group_data(group, confirm="yes"), headers=HTMX)
    assert response["HX-Trigger"] == "triggers-changed"
    content = response.content.decode()
    assert "2 reprocessed" in content
    # The live part refreshes on the event, so the outcome goes to the flash outside it too.
    assert '<div id="djt-flash" hx-swap-oob="innerHTML"' in content
    assert "Reprocess failure group (noop): 2 reprocessed" in content
    assert set(Trigger.objects.due()) == set(group["triggers"])
    assert list(Trigger.objects.failed()) == [group["other"]]
    assert OperatorAction.objects.get().changed == 2


def test_group_reschedule__confirms_the_time_then_reschedules(client, root, group):
    data = group_data(group, process_after="+1h")
    response = client.post(group_url("reschedule"), data, headers=HTMX)
    content = response.content.decode()
    assert "Reschedule 2 failed triggers of this group to +1h?" in content
    assert 'name="process_after" value="+1h"' in content
    assert Trigger.objects.failed().count() == 3
    response = client.post(group_url("reschedule"), {**data, "confirm": "yes"}, headers=HTMX)
    assert response["HX-Trigger"] == "triggers-changed"
    assert set(Trigger.objects.pending()) == set(group["triggers"])


@pytest.mark.parametrize("confirm", ["", "yes"])
def test_group_reschedule__a_bad_time_is_an_inline_message(client, root, group, confirm):
    data = group_data(group, process_after="next week", confirm=confirm)
    response = client.post(group_url("reschedule"), data, headers=HTMX)
    assert "HX-Trigger" not in response
    assert 'role="alert">Not rescheduled: ' in response.content.decode()
    assert Trigger.objects.failed().count() == 3
    assert not OperatorAction.objects.exists()


def test_group_reprocess__a_group_gone_meanwhile_changes_nothing(client, root, group):
    Trigger.objects.filter(error_fingerprint=group["fingerprint"]).update(
        state="processed", successful=True
    )
    response = client.post(group_url("reprocess"), group_data(group, confirm="yes"), headers=HTMX)
    assert "HX-Trigger" not in response
    assert "0 reprocessed" in response.content.decode()
    assert Trigger.objects.processed().count() == 2


def test_group_action__without_htmx_confirms_on_a_page_then_redirects(client, root, group):
    response = client.post(group_url("reprocess"), group_data(group))
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" in content
    assert "Reprocess 2 failed triggers of this group?" in content
    assert Trigger.objects.failed().count() == 3
    response = client.post(group_url("reprocess"), group_data(group, confirm="yes"), follow=True)
    assert response.redirect_chain == [(INDEX, 302)]
    assert "2 reprocessed" in response.content.decode()
    assert Trigger.objects.failed().count() == 1


def test_escaping__nothing_from_a_trigger_appears_raw(client, root):
    due(source=XSS, trigger_type=XSS)
    pending(source=XSS)
    failed(source=XSS, error=XSS, fingerprint=XSS[:16])
    worker(name=XSS)
    pages = [
        client.get(INDEX),
        client.get(INDEX, headers=LIVE),
        client.get(INDEX, headers=LIST),
        client.get(INDEX, {"source": XSS}),
    ]
    for trigger in Trigger.objects.all():
        pages.append(client.post(action_url(trigger, "cancel"), headers=HTMX))
        pages.append(client.post(action_url(trigger, "cancel")))
        pages.append(client.post(action_url(trigger, "reprocess"), headers=HTMX))
    data = {"trigger_type": XSS, "fingerprint": XSS, "process_after": XSS}
    pages.append(client.post(group_url("reschedule"), data, headers=HTMX))
    pages.append(client.post(group_url("reprocess"), data, headers=HTMX))
    pages.append(client.post(group_url("reprocess"), data))
    for response in pages:
        content = response.content.decode()
        assert XSS not in content, response.request
        assert "<script>alert" not in content
    assert ESCAPED in pages[0].content.decode()


@pytest.fixture(params=[10, 60])
def busy(request):
    """``n`` triggers in every status and several types, failures in as many groups, workers
    and attempts: the number of queries must not depend on ``n``."""
    n = request.param
    now = timezone.now()
    per = n // 5
    make(per)
    make(per, cls=BreakfastTrigger, process_after=now + timedelta(minutes=5))
    for i in range(per):
        processed(at=now)
        cancelled(at=now)
        failed(error=f"E{i}", fingerprint=f"f{i}")
    trigger = Trigger.objects.first()
    TriggerAttempt.objects.bulk_create(
        TriggerAttempt(
            trigger=trigger,
            number=1,
            started_at=now - timedelta(minutes=i % 50),
            finished_at=now - timedelta(minutes=i % 50),
            outcome="success" if i % 3 else "failure",
        )
        for i in range(n)
    )
    for i in range(n // 10):
        worker(name=f"w{i}", seconds_ago=i * 30)
    assert Trigger.objects.count() == n
    return n


# The session and the user, then the dashboard's own queries, the same on every database
# and at any size: the due split (2: the counters, this hour's rows and each type's
# oldest), the counts per state, the lags (3: processed from the counters and this
# minute's rows, the percentiles), upcoming, failure groups (2), workers, throughput;
# the list (1); the summary: the due split (2), counts, oldest due (2), workers.
# The page and the live fragment: and the paused types (with their backlog when any are),
# and the schedules with their last outcomes (1); none for the dispatched triggers' panel
# while no trigger runs (see test_queries__live_fragment_with_dispatched_triggers).
QUERIES = {"page": 16, "live": 15, "list": 3, "summary": 8}
if connection.vendor == "mysql":  # the failure groups: the counters, then their rows
    QUERIES = {**QUERIES, "page": 17, "live": 16}


def test_queries__page(client, root, busy, django_assert_num_queries):
    with django_assert_num_queries(QUERIES["page"]):
        response = client.get(INDEX)
    assert len(rows(response.content)) == min(busy, PAGE_SIZE)


def test_queries__live_fragment(client, root, busy, django_assert_num_queries):
    with django_assert_num_queries(QUERIES["live"]):
        client.get(INDEX, headers=LIVE)


def test_queries__list_fragment(client, root, busy, django_assert_num_queries):
    with django_assert_num_queries(QUERIES["list"]):
        response = client.get(INDEX, headers=LIST)
    assert len(rows(response.content)) == min(busy, PAGE_SIZE)


def test_queries__summary(client, root, busy, django_assert_num_queries):
    with django_assert_num_queries(QUERIES["summary"]):
        client.get(SUMMARY)


# The dispatched triggers' panel: no query while nothing runs (the counters say so), even
# with dispatch on; while some run, one (are any dispatched?), and one more if some are
# (how many are past their deadline?).
@pytest.mark.parametrize("mode", [None, "celery"])
def test_queries__live_fragment_with_dispatched_triggers(
    client, root, busy, settings, mode, django_assert_num_queries
):
    settings.DJTRIGGERS_DISPATCH = mode
    with django_assert_num_queries(QUERIES["live"]):
        client.get(INDEX, headers=LIVE)
    for i in range(busy // 10):
        running(worker=f"w{i}")
    with django_assert_num_queries(QUERIES["live"] + 1):
        client.get(INDEX, headers=LIVE)
    for i in range(busy // 10):
        dispatched(token=f"t{i}", deadline=timezone.now() - timedelta(seconds=i))
    with django_assert_num_queries(QUERIES["live"] + 2):
        response = client.get(INDEX, headers=LIVE)
    assert b'id="djt-dispatched"' in response.content


def test_row_action__writes_the_admin_log_like_the_admin(client):
    from django.contrib.admin.models import LogEntry

    user = login(client, "view_trigger", "reprocess_trigger")
    trigger = failed()
    client.post(action_url(trigger, "reprocess"), {"reason": "fixed"}, headers=HTMX)
    entry = LogEntry.objects.get()
    assert (entry.user, entry.object_id) == (user, str(trigger.pk))
    assert entry.change_message == "1 reprocessed — fixed"
    assert OperatorAction.objects.get().user == user


def test_group_action__writes_the_admin_log_per_trigger(client, root, group):
    from django.contrib.admin.models import LogEntry

    client.post(group_url("reprocess"), group_data(group, confirm="yes"), headers=HTMX)
    assert set(LogEntry.objects.values_list("object_id", flat=True)) == {
        str(t.pk) for t in group["triggers"]
    }


@pytest.mark.parametrize("when", ["9999-12-31 23:59Z", "+99999999d", "0001-01-01 00:00"])
def test_reschedule__a_time_out_of_range_is_an_inline_message(client, root, when):
    trigger = failed()
    with timezone.override("America/New_York"):
        response = client.post(
            action_url(trigger, "reschedule"), {"process_after": when}, headers=HTMX
        )
    assert 'role="alert">Not rescheduled: ' in response.content.decode()
    assert Trigger.objects.get(pk=trigger.pk).state == "failed"
    assert not OperatorAction.objects.exists()


def test_group_reschedule__a_time_out_of_range_is_an_inline_message(client, root, group):
    data = group_data(group, process_after="+99999999d", confirm="yes")
    response = client.post(group_url("reschedule"), data, headers=HTMX)
    assert 'role="alert">Not rescheduled: ' in response.content.decode()
    assert Trigger.objects.failed().count() == 3


def test_reschedule__a_spread_past_year_9999_is_an_inline_message(client, root):
    trigger = failed()
    data = {"process_after": "9999-12-30 00:00", "spread": "2d"}
    response = client.post(action_url(trigger, "reschedule"), data, headers=HTMX)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'role="alert">Not rescheduled: Spread over 2 days' in content
    assert "would be due after the latest time" in content
    assert "HX-Trigger" not in response
    assert Trigger.objects.get(pk=trigger.pk).state == "failed"
    assert not OperatorAction.objects.exists()


@pytest.mark.parametrize("confirm", ["", "yes"])
def test_group_reschedule__a_spread_past_year_9999_is_an_inline_message(
    client, root, group, confirm
):
    data = group_data(group, process_after="9999-12-30 00:00", spread="2d", confirm=confirm)
    response = client.post(group_url("reschedule"), data, headers=HTMX)
    assert response.status_code == 200
    content = response.content.decode()
    assert 'role="alert">Not rescheduled: ' in content
    assert "would be due after the latest time" in content
    assert Trigger.objects.failed().count() == 3
    assert not OperatorAction.objects.exists()


def test_failure_group_of_a_type_without_a_class__its_link_lists_it(client, root):
    gone = failed(trigger_type="billing.removed", error="UnknownTriggerType: gone")
    page = client.get(INDEX).content.decode()
    assert "?status=failed&amp;type=billing.removed" in page
    response = client.get(INDEX, {"status": "failed", "type": "billing.removed"}, headers=LIST)
    assert rows(response.content) == [gone.pk]


def test_health__a_paused_type_with_an_old_backlog_is_503_naming_it(client, viewer, settings):
    settings.DJTRIGGERS_HEALTH_MAX_DUE_AGE_SECONDS = 60
    due(process_after=timezone.now() - timedelta(seconds=600))
    due(CountingTrigger, process_after=timezone.now() - timedelta(seconds=10))
    worker(seconds_ago=1)
    NoopTrigger.pause(reason="partner down")
    CountingTrigger.pause()
    response = client.get(HEALTH)
    assert response.status_code == 503
    data = response.json()
    [problem] = data["problems"]
    assert re.fullmatch(
        r"noop is paused and its oldest due trigger has waited 60\ds \(more than 60s; 1 due\)",
        problem,
    )
    assert data["oldest_due_age_seconds"] is None  # the others: nothing due
    assert [(p["trigger_type"], p["due"], p["reason"]) for p in data["paused"]] == [
        ("counting", 1, ""),
        ("noop", 1, "partner down"),
    ]


def test_health__a_paused_type_without_an_old_backlog_is_reported_and_healthy(client, viewer):
    NoopTrigger.pause()
    response = client.get(HEALTH)
    assert response.status_code == 200
    [paused] = response.json()["paused"]
    assert paused["trigger_type"] == "noop"
    assert paused["due"] == 0
    assert paused["oldest_due_age_seconds"] is None
