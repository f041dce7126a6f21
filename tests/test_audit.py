"""The audit trail (djtriggers.audit): a LogEntry per trigger an action changed by a person."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import AnonymousUser

from djtriggers import audit
from djtriggers.audit import log_entries, person
from djtriggers.models import OperatorAction
from tests.factories import make

pytestmark = pytest.mark.django_db


def action_on(triggers, **fields):
    action = OperatorAction.objects.create(kind="cancel", changed=len(triggers), **fields)
    action.triggers.add(*triggers)
    return action


def test_person__a_saved_user_or_none(user):
    assert person(user) is user
    assert person(None) is None
    assert person(AnonymousUser()) is None


def test_log_entries__one_per_trigger_with_the_summary_and_the_reason(user):
    triggers = make(3)
    log_entries(action_on(triggers, reason="partner down"), "3 cancelled", user)
    entries = LogEntry.objects.order_by("object_id")
    assert [e.object_id for e in entries] == sorted(str(t.pk) for t in triggers)
    assert {(e.user, e.action_flag, e.change_message) for e in entries} == {
        (user, CHANGE, "3 cancelled — partner down")
    }
    assert {e.object_repr for e in entries} == {f"Trigger #{t.pk}" for t in triggers}
    assert {e.content_type.model for e in entries} == {"trigger"}


def test_log_entries__each_trigger_its_own_message(user):
    triggers = make(2)
    messages = {t.pk: f"Processed now: try {t.pk}" for t in triggers}
    log_entries(action_on(triggers), "2 processed now", user, messages=messages)
    assert dict(LogEntry.objects.values_list("object_id", "change_message")) == {
        str(pk): text for pk, text in messages.items()
    }


@pytest.mark.parametrize("who", [None, AnonymousUser()])
def test_log_entries__nothing_when_no_person_acted(who):
    log_entries(action_on(make(2)), "2 cancelled", who)
    assert not LogEntry.objects.exists()


def test_log_entries__nothing_without_an_action(user):
    log_entries(None, "nothing", user)
    assert not LogEntry.objects.exists()


def test_log_entries__nothing_where_the_admin_is_not_installed(user, monkeypatch):
    monkeypatch.setattr(audit.apps, "is_installed", lambda app: app != "django.contrib.admin")
    log_entries(action_on(make(1)), "1 cancelled", user)
    assert not LogEntry.objects.exists()


def test_log_entries__written_in_batches_of_2000(user, monkeypatch):
    triggers = make(2001)
    sizes = []
    bulk_create = LogEntry.objects.bulk_create

    def counted(entries, *args, **kwargs):
        sizes.append(len(entries))
        return bulk_create(entries, *args, **kwargs)

    monkeypatch.setattr(LogEntry.objects, "bulk_create", counted)
    log_entries(action_on(triggers), "2001 cancelled", user)
    assert sizes == [2000, 1]
    assert LogEntry.objects.count() == 2001
