"""The dashboard and its health check on triggers dispatched to a task and not started yet."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.views import dispatched_context
from tests.dashboard.conftest import HEALTH, INDEX, LIVE
from tests.factories import dispatched, due, running, worker
from tests.testapp.models import BreakfastTrigger

pytestmark = pytest.mark.django_db

PANEL = 'id="djt-dispatched"'
ADMIN_LIST = "/admin/djtriggers/trigger/?status=dispatched"


def panel(content: bytes) -> str:
    """The panel's HTML, or "" when the page has none."""
    found = re.search(r'<section [^>]*id="djt-dispatched".*?</section>', content.decode(), re.S)
    return found.group(0) if found else ""


def test_panel__hidden_while_dispatch_is_off_and_none_is_dispatched(client, root):
    due()
    running()  # a worker's
    assert PANEL not in client.get(INDEX).content.decode()


def test_panel__while_dispatch_is_on_says_none_waits(client, root, settings):
    settings.DJTRIGGERS_DISPATCH = "celery"
    running()
    html = panel(client.get(INDEX).content)
    assert "No trigger waits for a task." in html
    assert "Due triggers are dispatched to celery" in html


def test_panel__the_count_the_oldest_and_those_past_their_deadline(client, root, settings):
    settings.DJTRIGGERS_DISPATCH = "tasks"
    settings.DJTRIGGERS_DISPATCH_DEADLINE_SECONDS = 300
    now = timezone.now()
    # Published 10 minutes ago: 5 minutes past its deadline.
    dispatched(token="a", deadline=now - timedelta(minutes=5))
    dispatched(BreakfastTrigger, token="a", deadline=now + timedelta(minutes=4))
    dispatched(token="b", deadline=now + timedelta(minutes=5))
    running()  # a worker's: not counted
    html = panel(client.get(INDEX, headers=LIVE).content)
    assert f'<a href="{ADMIN_LIST}">3</a>' in html
    assert re.search(r"<td>10m \ds ago</td>", html), html
    assert "<td>1 <span" in html and "(to be published again)" in html
    assert 'class="djt-bad"' in html
    assert "Due triggers are dispatched to tasks" in html


def test_panel__shown_while_some_are_dispatched_though_dispatch_is_off(client, root):
    # Left by a dispatcher since turned off (any worker's sweep runs them after the deadline).
    dispatched()
    html = panel(client.get(INDEX).content)
    assert f'<a href="{ADMIN_LIST}">1</a>' in html
    assert "<td>0</td>" in html and "djt-bad" not in html
    assert "dispatched to" not in html


def test_panel__refreshes_with_the_live_fragment(client, root):
    response = client.get(INDEX, headers=LIVE)
    assert PANEL not in response.content.decode()
    dispatched()
    assert PANEL in client.get(INDEX, headers=LIVE).content.decode()


def test_dispatched_context__no_query_while_nothing_runs(settings, django_assert_num_queries):
    settings.DJTRIGGERS_DISPATCH = "celery"
    dispatched()  # the counters say otherwise below: running=0 is believed
    with django_assert_num_queries(0):
        context = dispatched_context(timezone.now(), running=0)
    assert context["dispatched"].count == 0
    assert context["dispatched_age"] is None


def test_dispatched_context__an_age_is_never_negative(settings):
    # Published "in the future": the deadline setting was lowered since.
    settings.DJTRIGGERS_DISPATCH_DEADLINE_SECONDS = 1
    dispatched(deadline=timezone.now() + timedelta(hours=1))
    context = dispatched_context(timezone.now(), running=1)
    assert context["dispatched_age"] == timedelta(0)


def test_list__a_dispatched_row_is_dispatched_as_in_the_admin(client, root):
    waiting = dispatched()
    started = running()
    content = client.get(INDEX).content.decode()
    row = re.search(rf'<tr id="djt-trigger-{waiting.pk}".*?</tr>', content, re.S).group(0)
    assert '<span class="djt-badge djt-dispatched">dispatched</span>' in row
    row = re.search(rf'<tr id="djt-trigger-{started.pk}".*?</tr>', content, re.S).group(0)
    assert '<span class="djt-badge djt-running">running</span>' in row


# --- the health check ------------------------------------------------------------------


def test_health__dispatched_past_the_deadline_by_more_than_the_threshold_is_503(
    client, viewer, settings
):
    settings.DJTRIGGERS_HEALTH_MAX_DUE_AGE_SECONDS = 60
    now = timezone.now()
    worker(seconds_ago=1)
    dispatched(token="a", deadline=now - timedelta(seconds=30))  # within the threshold
    dispatched(token="a", deadline=now - timedelta(seconds=300))
    dispatched(token="b", deadline=now - timedelta(seconds=120))
    response = client.get(HEALTH)
    assert response.status_code == 503
    [problem] = response.json()["problems"]
    assert re.fullmatch(
        r"2 dispatched triggers are past the deadline by more than 60s, the oldest by 30\ds: "
        r"no task started them and nothing published them again; is the dispatcher "
        r"\(run_triggers\) running\?",
        problem,
    ), problem


def test_health__one_dispatched_trigger_long_past_its_deadline(client, viewer, settings):
    settings.DJTRIGGERS_HEALTH_MAX_DUE_AGE_SECONDS = 60
    dispatched(deadline=timezone.now() - timedelta(seconds=600))
    [problem] = client.get(HEALTH).json()["problems"]
    assert problem.startswith("1 dispatched trigger is past the deadline by more than 60s")


def test_health__dispatched_within_the_threshold_is_healthy(client, viewer, settings):
    settings.DJTRIGGERS_HEALTH_MAX_DUE_AGE_SECONDS = 60
    now = timezone.now()
    dispatched(token="a", deadline=now + timedelta(minutes=5))
    dispatched(token="b", deadline=now - timedelta(seconds=30))
    running(until=now - timedelta(hours=1))  # a worker's lost lease: not a dispatch problem
    response = client.get(HEALTH)
    assert response.status_code == 200, response.json()
