"""The admin on triggers dispatched to a task and not started (djtriggers.admin.dispatched)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from djtriggers.admin import dispatched as display
from djtriggers.models import Trigger
from tests.admin.conftest import CHANGELIST, change_url, listed
from tests.factories import dispatched, due, processed, running

pytestmark = pytest.mark.django_db

BADGE = '<span class="djt-badge djt-dispatched">dispatched</span>'


def test_list__a_dispatched_trigger_is_dispatched_with_its_deadline(client, root):
    deadline = timezone.now() + timedelta(minutes=5)
    dispatched(deadline=deadline)
    running(until=deadline)  # a worker's: running
    content = client.get(CHANGELIST).content.decode()
    assert content.count(BADGE) == 1
    assert content.count('<span class="djt-badge djt-running">running</span>') == 1
    when = f"{timezone.localtime(deadline):%H:%M:%S}"
    assert f'{BADGE}<br><span class="djt-deadline">by {when}</span>' in content


def test_list__a_dispatched_trigger_past_its_deadline_says_by_how_much(client, root):
    dispatched(deadline=timezone.now() - timedelta(minutes=3, seconds=10))
    content = client.get(CHANGELIST).content.decode()
    assert f'{BADGE}<br><span class="djt-overdue">3\xa0minutes past its deadline</span>' in content


def test_status_filter__dispatched_lists_those_not_started_first_deadline_first(client, root):
    now = timezone.now()
    later = dispatched(token="a", deadline=now + timedelta(minutes=5))
    sooner = dispatched(token="b", deadline=now - timedelta(minutes=1))
    others = [running(), due(), processed()]
    response = client.get(f"{CHANGELIST}?status=dispatched")
    assert response.status_code == 200
    assert [t.pk for t in response.context["cl"].result_list] == [sooner.pk, later.pk]
    # Still running as stored: the running filter lists them with the worker's.
    running_pks = listed(client.get(f"{CHANGELIST}?status=running"))
    assert running_pks == {later.pk, sooner.pk, others[0].pk}


def test_status_filter__offers_dispatched_not_started(client, root):
    content = client.get(CHANGELIST).content.decode()
    assert '?status=dispatched"' in content
    assert "dispatched, not started" in content


def test_page__a_dispatched_trigger_shows_its_holder_and_deadline(client, root):
    deadline = timezone.now() + timedelta(minutes=5)
    trigger = dispatched(token="abc", deadline=deadline)
    content = client.get(change_url(trigger)).content.decode()
    assert '<span class="djt-badge djt-dispatched djt-large">dispatched</span>' in content
    when = f"{timezone.localtime(deadline):%Y-%m-%d %H:%M:%S}"
    assert (
        '<p class="djt-holder">Dispatched to a task (dispatched:abc), not started yet: if no '
        f"task starts it by {when}, the dispatcher publishes it again.</p>"
    ) in content


def test_page__a_dispatched_trigger_past_its_deadline_is_to_be_published_again(client, root):
    trigger = dispatched(token="abc", deadline=timezone.now() - timedelta(minutes=1))
    content = client.get(change_url(trigger)).content.decode()
    assert re.search(
        r'<p class="djt-holder">Dispatched to a task \(dispatched:abc\), not started by its '
        r"deadline [\d-]+ [\d:]+: the dispatcher publishes it again at its next sweep\.</p>",
        content,
    )


def test_page__a_running_trigger_shows_its_worker_and_lease(client, root):
    until = timezone.now() + timedelta(minutes=2)
    trigger = running(worker="host:42:abc", until=until)
    content = client.get(change_url(trigger)).content.decode()
    assert '<span class="djt-badge djt-running djt-large">running</span>' in content
    when = f"{timezone.localtime(until):%Y-%m-%d %H:%M:%S}"
    assert f'<p class="djt-holder">Running on host:42:abc, its lease until {when}.</p>' in content


def test_page__a_waiting_trigger_has_no_holder(client, root):
    content = client.get(change_url(due())).content.decode()
    assert "djt-holder" not in content
    assert '<span class="djt-badge djt-due djt-large">due</span>' in content


def test_holder__a_running_row_without_a_lease_end():
    trigger = running(worker="w9")
    Trigger._base_manager.filter(pk=trigger.pk).update(locked_until=None)
    trigger.refresh_from_db()
    assert display.holder(trigger) == "Running on w9, its lease until -."
    assert display.deadline(trigger) == ""


def test_deadline__of_a_dispatched_row_without_one_is_empty():
    trigger = dispatched()
    trigger.locked_until = None
    assert display.deadline(trigger) == ""
    assert display.badge(trigger) == ("dispatched", "dispatched")
