"""The list's compact row actions: only those that apply, the valued ones in a disclosure.

An action that asks for nothing (reprocess, cancel) is a button; one that asks
for a value first (reschedule: a time; change priority: a number) is a form in
a closed ``<details>``, which opens without JavaScript and posts as any form.
The failure groups' actions, a type's Pause and a schedule's Disable/Enable
(with their reason) are disclosed the same way.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from djtriggers.models import Schedule
from tests.dashboard.conftest import HTMX, INDEX, LIVE, action_url, group_url
from tests.factories import cancelled, due, failed, pending, processed, running

pytestmark = pytest.mark.django_db

DISCLOSURE = re.compile(
    r'<details class="djt-more"( open)?><summary>(.*?)</summary>(.*?)</details>', re.S
)


def row_html(content: str, trigger) -> str:
    match = re.search(rf'<tr id="djt-trigger-{trigger.pk}".*?</tr>', content, re.S)
    assert match, f"no row of trigger {trigger.pk}"
    return match.group(0)


def kinds(html: str, trigger) -> list[str]:
    """The actions whose forms ``html`` holds for ``trigger``, in order."""
    return re.findall(rf'action="/triggers/triggers/{trigger.pk}/(\w+)/"', html)


def buttons_and_disclosed(html: str, trigger) -> tuple[list[str], list[str]]:
    disclosures = DISCLOSURE.findall(html)
    assert len(disclosures) <= 1
    disclosed = disclosures[0][2] if disclosures else ""
    return kinds(DISCLOSURE.sub("", html), trigger), kinds(disclosed, trigger)


@pytest.mark.parametrize(
    ("make", "buttons", "disclosed"),
    [
        (pending, ["reprocess", "cancel"], ["reschedule", "priority"]),
        (due, ["reprocess", "cancel"], ["reschedule", "priority"]),
        (failed, ["reprocess"], ["reschedule", "priority"]),
        (cancelled, ["reprocess"], ["reschedule"]),
        (running, [], []),
        (processed, [], []),
    ],
)
def test_row__only_the_actions_of_its_status_the_valued_ones_disclosed(
    client, root, make, buttons, disclosed
):
    trigger = make()
    html = row_html(client.get(INDEX).content.decode(), trigger)
    assert buttons_and_disclosed(html, trigger) == (buttons, disclosed)
    assert ("djt-more" in html) == bool(disclosed)
    assert 'placeholder="+1h"' not in DISCLOSURE.sub("", html)  # no time box on the row itself


def test_row__the_disclosure_is_closed_and_named(client, root):
    trigger = failed()
    html = row_html(client.get(INDEX).content.decode(), trigger)
    [(opened, summary, _)] = DISCLOSURE.findall(html)
    assert (opened, summary) == ("", "More…")


def test_row__a_bad_value_answers_with_the_disclosure_open(client, root):
    trigger = failed()
    url = action_url(trigger, "reschedule")
    response = client.post(url, {"process_after": "soon"}, headers=HTMX)
    html = row_html(response.content.decode(), trigger)
    assert '<details class="djt-more" open>' in html
    assert "Not rescheduled" in html


def test_row__done_it_answers_with_the_disclosure_closed(client, root):
    trigger = failed()
    url = action_url(trigger, "reschedule")
    response = client.post(url, {"process_after": "+1h"}, headers=HTMX)
    html = row_html(response.content.decode(), trigger)
    assert '<details class="djt-more">' in html
    assert response["HX-Trigger"] == "triggers-changed"


def test_row__an_error_of_a_button_leaves_the_disclosure_closed(client, root):
    trigger = failed()
    response = client.post(action_url(trigger, "cancel"), {"confirm": "yes"}, headers=HTMX)
    html = row_html(response.content.decode(), trigger)
    assert "Not cancelled: already failed." in html
    assert '<details class="djt-more">' in html


def test_row__the_disclosed_form_posts_without_javascript(client, root):
    """A browser without JavaScript opens the details and posts its form: a plain form."""
    trigger = failed()
    html = row_html(client.get(INDEX).content.decode(), trigger)
    [(_, _, disclosed)] = DISCLOSURE.findall(html)
    url = action_url(trigger, "reschedule")
    assert f'<form method="post" action="{url}"' in disclosed
    assert 'name="csrfmiddlewaretoken"' in disclosed
    assert 'name="process_after"' in disclosed

    response = client.post(url, {"process_after": "+3h"})
    assert response.status_code == 302
    trigger.refresh_from_db()
    assert trigger.process_after > timezone.now() + timedelta(hours=2, minutes=59)


def test_groups__reprocess_a_button_the_valued_ones_disclosed(client, root, group):
    html = client.get(INDEX, headers=LIVE).content.decode()
    cell = re.search(r'<tr id="djt-group-.*?</tr>', html, re.S).group(0)
    [(opened, summary, disclosed)] = DISCLOSURE.findall(cell)
    assert (opened, summary) == ("", "More…")
    assert group_url("reschedule") in disclosed and group_url("priority") in disclosed
    assert group_url("reprocess") in DISCLOSURE.sub("", cell)
    assert group_url("reprocess") not in disclosed


def test_types_and_schedules__pause_disable_enable_asked_in_a_disclosure(client, root):
    due()
    Schedule.objects.create(trigger_type="noop", expression="*/5 * * * *")
    Schedule.objects.create(trigger_type="noop", expression="0 * * * *", enabled=False)
    html = client.get(INDEX, headers=LIVE).content.decode()
    summaries = {summary: body for _, summary, body in DISCLOSURE.findall(html)}
    assert {"Pause…", "Disable…", "Enable…"} <= set(summaries)
    for body in (summaries["Pause…"], summaries["Disable…"], summaries["Enable…"]):
        assert 'name="reason"' in body
