"""A trigger's story (djtriggers.admin.timeline): created, tries, operator actions, results."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from djtriggers.admin.timeline import timeline
from djtriggers.models import OperatorAction, TriggerAttempt, TriggerResult
from tests.admin.conftest import CHANGELIST, change_url, confirm, messages_of
from tests.factories import due, failed, make

pytestmark = pytest.mark.django_db


def test_change_page__timeline(client, root):
    received = timezone.now() - timedelta(hours=1)
    trigger = failed(date_received=received, error="ValueError: boom")
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
    response = confirm(client, "cancel_triggers", [due()])  # another trigger: not shown
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


def test_audit__shown_on_the_trigger_page_and_in_its_history(client, root):
    trigger = due()
    confirm(client, "cancel_triggers", [trigger], reason="partner down")
    html = client.get(change_url(trigger)).content.decode()
    assert "Cancelled by an operator" in html
    assert "partner down" in html
    history = client.get(f"{CHANGELIST}{trigger.pk}/history/").content.decode()
    assert "1 cancelled — partner down" in history


def test_timeline__oldest_first_in_three_queries(django_assert_num_queries):
    received = timezone.now() - timedelta(hours=2)
    trigger = due(date_received=received)
    for minutes in (30, 10):
        when = received + timedelta(minutes=minutes)
        TriggerAttempt.objects.create(
            trigger=trigger, number=1, started_at=when, finished_at=when, outcome="success"
        )
        TriggerResult.objects.create(trigger=trigger, result=str(minutes), date_created=when)
    with django_assert_num_queries(3):
        events = timeline(trigger)
    assert [event.when for event in events] == sorted(event.when for event in events)
    assert [event.kind for event in events] == ["created"] + ["attempt", "result"] * 2


@pytest.mark.parametrize(
    ("exception_class", "message", "detail"),
    [("ValueError", "boom", "ValueError: boom"), ("KeyError", "", "KeyError"), ("", "", "")],
)
def test_timeline__a_try_says_how_it_failed(exception_class, message, detail):
    trigger = due()
    now = timezone.now()
    TriggerAttempt.objects.create(
        trigger=trigger,
        number=2,
        started_at=now,
        finished_at=now,
        outcome="failure" if exception_class else "success",
        exception_class=exception_class,
        message=message,
    )
    [_, attempt] = timeline(trigger)
    assert attempt.detail == detail
    assert attempt.title == f"Try 2: {'failed' if exception_class else 'succeeded'}"


def test_timeline__an_operator_reschedule_says_when_to():
    trigger = due()
    when = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    action = OperatorAction.objects.create(kind="reschedule", process_after=when, changed=1)
    action.triggers.add(trigger)
    assert timeline(trigger)[-1].title == "Rescheduled by an operator to 2031-01-02 03:04:05 UTC"


def test_timeline__an_action_kind_no_longer_known_is_shown_by_its_name():
    trigger = due()
    action = OperatorAction.objects.create(kind="archive", changed=1)
    action.triggers.add(trigger)
    event = timeline(trigger)[-1]
    assert (event.kind, event.title, event.who) == ("operator", "Archive by an operator", "")


def test_timeline__a_correction_shows_each_fields_old_and_new_value(root):
    from djtriggers.models import Trigger
    from tests.testapp.models import PayBill

    bill = failed(PayBill, amount=1500, recipient=root)
    action = OperatorAction.objects.create(
        kind="edit",
        user=root,
        changed=1,
        changes=[
            {"field": "amount", "old": "1500", "new": "150"},
            {"field": "removed_since", "old": "a", "new": "b"},
        ],
    )
    action.triggers.add(bill)
    for trigger in (bill, Trigger.objects.get(pk=bill.pk)):  # the subclass's page and the Trigger's
        [event] = [e for e in timeline(trigger) if e.kind == "operator"]
        assert event.title == "Data corrected by an operator"
        assert event.changes == [("amount", "1500", "150"), ("removed_since", "a", "b")]
        assert event.who == "root"
