"""Pausing a type and concurrency limits, in process (the workers: tests/system/test_pause.py
and test_limits.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from djtriggers import controls, lifecycle, signals
from djtriggers.engine import Engine
from djtriggers.exceptions import UnknownTriggerType
from djtriggers.lifecycle import State
from djtriggers.models import OperatorAction, PausedType, Trigger, TriggerAttempt, TypeSlot
from tests.factories import due, make, running
from tests.testapp.models import CountingTrigger, LimitedTrigger, NoopTrigger

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db) -> User:
    user = User.objects.create_user("ops")
    user.user_permissions.add(Permission.objects.get(codename="pause_trigger_type"))
    return User.objects.get(pk=user.pk)


def test_pause__records_who_when_and_why_and_audits(operator, django_capture_on_commit_callbacks):
    heard = []

    def receiver(**kwargs):
        heard.append(kwargs)

    signals.operator_action.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert NoopTrigger.pause(reason="partner API down", user=operator) is True
    finally:
        signals.operator_action.disconnect(receiver)
    row = PausedType.objects.get()
    assert (row.trigger_type, row.username, row.user_pk, row.reason) == (
        "noop",
        "ops",
        str(operator.pk),
        "partner API down",
    )
    assert timezone.now() - row.paused_at < timedelta(seconds=10)
    audit = OperatorAction.objects.get()
    assert (audit.kind, audit.trigger_type, audit.reason, audit.username) == (
        "pause",
        "noop",
        "partner API down",
        "ops",
    )
    entry = LogEntry.objects.get()
    assert entry.object_repr == "noop"
    assert entry.change_message == "Paused — partner API down"
    assert heard[0]["action"] == "pause"
    assert heard[0]["trigger_type"] == "noop"
    assert heard[0]["user"] == operator
    assert NoopTrigger.is_paused()
    assert not CountingTrigger.is_paused()


def test_pause__twice_is_idempotent_and_says_so():
    assert NoopTrigger.pause(reason="first") is True
    assert NoopTrigger.pause(reason="second") is False
    assert PausedType.objects.get().reason == "first"
    assert OperatorAction.objects.count() == 1


def test_resume__of_a_type_not_paused_changes_nothing():
    assert NoopTrigger.resume() is False
    assert not OperatorAction.objects.exists()


def test_resume__audited_and_the_row_gone(operator):
    NoopTrigger.pause()
    assert NoopTrigger.resume(user=operator, reason="partner is back") is True
    assert not PausedType.objects.exists()
    assert not NoopTrigger.is_paused()
    audit = OperatorAction.objects.get(kind="resume")
    assert (audit.trigger_type, audit.reason, audit.username) == ("noop", "partner is back", "ops")
    assert LogEntry.objects.get().change_message == "Resumed — partner is back"


def test_pause__by_name_and_unknown_types():
    assert controls.pause("noop") is True
    assert controls.is_paused("noop")
    with pytest.raises(UnknownTriggerType, match="No trigger type 'nope': use one of"):
        controls.pause("nope")
    with pytest.raises(UnknownTriggerType):
        controls.resume("nope")
    assert controls.paused_types() == {"noop"}


def test_resume__a_paused_type_whose_class_is_gone():
    PausedType.objects.create(trigger_type="gone")
    assert controls.resume("gone") is True


def test_pause__needs_the_permission():
    user = User.objects.create_user("nobody")
    with pytest.raises(PermissionDenied, match=r"djtriggers\.pause_trigger_type"):
        NoopTrigger.pause(user=user)
    with pytest.raises(PermissionDenied):
        controls.resume("noop", user=user)
    assert not PausedType.objects.exists()


def test_pause__a_reason_too_long_changes_nothing():
    with pytest.raises(ValueError, match="at most 1000 characters"):
        NoopTrigger.pause(reason="x" * 1001)
    assert not PausedType.objects.exists()


def test_paused_set__read_again_at_most_once_a_second(django_assert_num_queries, monkeypatch):
    paused = controls.PausedSet()
    with django_assert_num_queries(1):
        assert paused.get() == set()
        assert paused.get() == set()
    NoopTrigger.pause()
    paused.forget()
    assert paused.get() == {"noop"}
    monkeypatch.setattr(controls, "PAUSED_SET_SECONDS", 0.0)
    NoopTrigger.resume()
    assert paused.get() == set()


# --- the claim ---------------------------------------------------------------------------


def test_claim__leaves_paused_types_and_takes_the_others():
    noop = due()
    counting = due(CountingTrigger)
    NoopTrigger.pause()
    engine = Engine()
    assert engine.claim(10) == [counting.pk]
    assert Trigger.objects.get(pk=noop.pk).state == State.SCHEDULED
    assert engine.earliest_scheduled() is None  # an idle worker does not wake for it
    NoopTrigger.resume()
    engine.paused.forget()
    assert engine.claim(10) == [noop.pk]


def test_claim__the_sweep_leaves_paused_types_for_the_due_query():
    trigger = due()
    Trigger.objects.filter(pk=trigger.pk).update(process_after=None)
    NoopTrigger.pause()
    engine = Engine()
    assert engine.claim(10) == []
    row = Trigger.objects.get(pk=trigger.pk)
    assert row.state == State.SCHEDULED
    assert row.process_after is not None  # found by the due query once resumed
    NoopTrigger.resume()
    engine.paused.forget()
    assert engine.claim(10) == [trigger.pk]


def test_claim__lost_triggers_of_a_paused_type_are_due_again_not_taken():
    lost = running(worker="dead", until=timezone.now() - timedelta(seconds=1))
    other = running(worker="dead", until=timezone.now() - timedelta(seconds=1))
    NoopTrigger.pause()
    assert Engine().claim(10) == []
    assert set(
        Trigger.objects.filter(pk__in=[lost.pk, other.pk]).values_list("state", flat=True)
    ) == {State.SCHEDULED}


def test_process__gives_back_claimed_triggers_of_a_type_paused_since():
    noops = make(3)
    counting = due(CountingTrigger)
    engine = Engine()
    pks = engine.claim(10)
    assert len(pks) == 4
    NoopTrigger.pause()
    engine.paused.forget()  # as a second later
    engine.process(pks)
    assert Trigger.objects.get(pk=counting.pk).state == State.PROCESSED
    rows = Trigger.objects.filter(pk__in=[t.pk for t in noops])
    assert set(rows.values_list("state", "number_of_tries", "locked_by")) == {
        (State.SCHEDULED, 0, None)
    }
    assert not TriggerAttempt.objects.filter(trigger_id__in=[t.pk for t in noops]).exists()
    assert engine.given_back == 3
    assert engine.counts.failed == 0
    assert not engine.held


# --- concurrency limits -------------------------------------------------------------------


def test_limits__from_the_classes():
    assert controls.limits() == {"limited": 2}


def test_claim__takes_at_most_the_free_slots_and_others_keep_flowing():
    limited = make(5, LimitedTrigger)
    noops = make(3)
    first = Engine(worker="w1")
    taken = first.claim(100)
    assert len([pk for pk in taken if pk in {t.pk for t in limited}]) == 2
    assert {t.pk for t in noops} <= set(taken)
    assert TypeSlot.objects.filter(trigger_type="limited").exists()
    more = make(2)
    second = Engine(worker="w2")
    assert sorted(second.claim(100)) == sorted(t.pk for t in more)  # the limit is reached
    first.process(taken)
    assert len(second.claim(100)) == 2  # two slots are free again


def test_claim__a_slot_held_by_a_dead_worker_frees_when_its_lease_ends():
    running(LimitedTrigger, worker="dead", until=timezone.now() + timedelta(minutes=1))
    running(LimitedTrigger, worker="dead", until=timezone.now() - timedelta(seconds=1))
    make(3, LimitedTrigger)
    assert controls.running_counts(["limited"]) == {"limited": 1}
    # The expired lease is not counted: one slot is free (the lost trigger, due again, takes it).
    assert len(Engine().claim(10)) == 1
    assert controls.running_counts(["limited"]) == {"limited": 2}


def test_claim__oldest_first_across_limited_and_other_types():
    now = timezone.now()
    old_limited = due(LimitedTrigger, process_after=now - timedelta(minutes=10))
    noop = due(process_after=now - timedelta(minutes=5))
    due(LimitedTrigger, process_after=now - timedelta(minutes=1))
    assert Engine().claim(2) == [old_limited.pk, noop.pk]


def test_claim__a_paused_limited_type_takes_no_slot_lock(django_assert_max_num_queries):
    make(2, LimitedTrigger)
    LimitedTrigger.pause()
    engine = Engine()
    assert engine.claim(10) == []
    assert not TypeSlot.objects.exists()


def test_free_slots__locks_in_one_order_and_counts_live_leases():
    running(LimitedTrigger, worker="w", until=timezone.now() + timedelta(minutes=1))
    controls.ensure_slots(["limited"])
    controls.ensure_slots(["limited"])  # once is enough; again is ignored
    assert TypeSlot.objects.count() == 1
    assert controls.free_slots({}, timezone.now()) == {}
    assert controls.free_slots({"limited": 2}, timezone.now()) == {"limited": 1}
    assert str(TypeSlot.objects.get()) == "limited"


def test_models_str():
    assert str(PausedType(trigger_type="noop")) == "noop"


def test_claim__release_of_a_limited_trigger_frees_its_slot():
    make(3, LimitedTrigger)
    engine = Engine()
    pks = engine.claim(10)
    assert len(pks) == 2
    engine.release()
    assert controls.running_counts(["limited"]) == {"limited": 0}
    assert lifecycle.State.RUNNING not in set(Trigger.objects.values_list("state", flat=True))


def test_claim__a_slot_row_deleted_by_hand_is_made_again():
    make(3, LimitedTrigger)
    engine = Engine()
    engine.claim(0)
    TypeSlot.objects.all().delete()
    assert len(engine.claim(10)) == 2
    assert TypeSlot.objects.filter(trigger_type="limited").exists()
