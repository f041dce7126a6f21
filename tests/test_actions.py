"""Operator actions (djtriggers.actions): the table, validation, perform in chunks, process now."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from djtriggers import actions
from djtriggers.actions import perform
from djtriggers.models import OperatorAction, Trigger
from djtriggers.times import LATEST
from tests.conftest import locked_elsewhere
from tests.factories import due, failed, make, pending, processed, running
from tests.testapp.models import ScriptedTrigger

pytestmark = pytest.mark.django_db


def test_cancel__reports_changed_and_skipped_with_reasons(user):
    user.is_superuser = True
    user.save()
    make(3)
    processed()
    processed()
    running(worker="w")
    report = perform("cancel", Trigger.objects.all(), user=user, reason="partner down")
    assert report.changed == 3
    assert dict(report.skipped) == {"already processed": 2, "running": 1}
    assert report.message() == "3 cancelled, 3 skipped: 2 already processed, 1 running"
    action = OperatorAction.objects.get()
    assert (action.kind, action.user, action.reason) == ("cancel", user, "partner down")
    assert (action.changed, action.skipped) == (3, 3)
    assert set(action.triggers.values_list("pk", flat=True)) == set(
        Trigger.objects.cancelled().values_list("pk", flat=True)
    )


def test_reprocess__in_chunks_over_the_whole_set():
    for _ in range(25):
        failed(tries=5)
    report = perform("reprocess", Trigger.objects.failed(), chunk_size=4)
    assert report.changed == 25
    assert report.message() == "25 reprocessed"
    assert Trigger.objects.due().count() == 25
    assert OperatorAction.objects.get().triggers.count() == 25


def test_reschedule__to_a_time():
    make(2)
    when = timezone.now() + timedelta(days=2)
    report = perform("reschedule", Trigger.objects.all(), when=when)
    assert report.changed == 2
    assert set(Trigger.objects.values_list("process_after", flat=True)) == {when}
    assert OperatorAction.objects.get().process_after == when


def test_reprocess__spread_paces_the_set_over_the_period():
    for _ in range(10):
        failed()
    start = timezone.now()
    perform("reprocess", Trigger.objects.all(), spread=timedelta(minutes=10))
    times = sorted(Trigger.objects.values_list("process_after", flat=True))
    assert times[0] - start < timedelta(seconds=5)
    assert timedelta(minutes=8) < times[-1] - start < timedelta(minutes=10)
    assert len(set(times)) == 10


def test_unknown_action__clear_error_and_no_audit_row():
    with pytest.raises(ValueError, match="use one of reprocess, reschedule, cancel"):
        perform("delete", Trigger.objects.all())
    assert not OperatorAction.objects.exists()


def test_query_count_grows_with_chunks_not_rows(django_assert_max_num_queries):
    make(40)
    # audit row, then per chunk: ids, lock, update, links (plus savepoints), then audit update
    with django_assert_max_num_queries(3 + 2 * 7):
        perform("cancel", Trigger.objects.all(), chunk_size=20)


# --- the table of actions -----------------------------------------------------------------------


def test_table__one_entry_per_action_named_as_its_operator_action_kind():
    assert list(actions.ACTIONS) == ["reprocess", "reschedule", "cancel", "process", "priority"]
    # ... and more kinds: a correction of a trigger's own data (djtriggers.corrections),
    # a type paused and resumed (djtriggers.controls), and issue 10's others.
    assert set(OperatorAction.Kind.values) - set(actions.ACTIONS) >= {
        OperatorAction.Kind.EDIT,
        OperatorAction.Kind.PAUSE,
        OperatorAction.Kind.RESUME,
    }
    assert actions.get("cancel") is actions.CANCEL
    with pytest.raises(ValueError, match="Unknown operator action 'delete'; use one of"):
        actions.get("delete")


def test_for_trigger__what_applies_to_it_and_the_user_may_take(user):
    user.user_permissions.add(Permission.objects.get(codename="cancel_trigger"))
    user = type(user).objects.get(pk=user.pk)  # permissions are cached per instance
    assert actions.for_trigger(due(), user) == [actions.CANCEL]
    assert actions.for_trigger(failed(), user) == []
    root = type(user).objects.create_superuser("root")
    assert actions.for_trigger(due(), root) == [
        actions.REPROCESS,
        actions.RESCHEDULE,
        actions.CANCEL,
        actions.PROCESS,
        actions.PRIORITY,
    ]
    assert actions.for_trigger(pending(), root) == [
        actions.REPROCESS,
        actions.RESCHEDULE,
        actions.CANCEL,
        actions.PRIORITY,
    ]
    assert actions.for_trigger(running(), root) == []


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "values", "error"),
    [
        ("reschedule", {}, "Reschedule needs a time: when should the triggers be processed?"),
        ("reprocess", {"when": "now"}, "Reprocess takes no time; reschedule to choose one."),
        ("reschedule", {"when": "far"}, "is too far ahead: the latest time is 9999-12-30"),
        ("cancel", {"spread": timedelta(hours=1)}, "Cancel cannot be spread over a period."),
        ("reprocess", {"spread": timedelta(days=36526)}, "Spread over at most 36525 days."),
        ("reprocess", {"spread": -timedelta(seconds=1)}, "Spread over at most 36525 days."),
        (
            "reschedule",
            {"when": "late", "spread": timedelta(days=2)},
            "the last triggers would be due after the latest time",
        ),
        ("cancel", {"reason": "x" * 1001}, "The reason is 1001 characters long; keep it to 1000."),
    ],
)
def test_validate__refuses_values_an_action_cannot_take_saying_how_to_fix_them(
    action, values, error
):
    times = {
        "now": timezone.now(),
        "far": LATEST + timedelta(days=1),
        "late": LATEST - timedelta(days=1),
    }
    if "when" in values:
        values = {**values, "when": times[values["when"]]}
    with pytest.raises(actions.ActionError) as refused:
        actions.validate(actions.get(action), **values)
    assert error in str(refused.value)


def test_validate__a_spread_from_the_latest_time_past_year_9999_is_refused():
    with pytest.raises(actions.ActionError, match="would be due after the latest time"):
        actions.validate(actions.RESCHEDULE, when=LATEST, spread=timedelta(days=2))


def test_validate__a_spread_ending_exactly_at_the_latest_time_is_accepted():
    actions.validate(actions.RESCHEDULE, when=LATEST - timedelta(days=2), spread=timedelta(days=2))
    actions.validate(actions.RESCHEDULE, when=LATEST, spread=timedelta())
    with pytest.raises(actions.ActionError, match="would be due after the latest time"):
        actions.validate(
            actions.RESCHEDULE,
            when=LATEST - timedelta(days=2),
            spread=timedelta(days=2, microseconds=1),
        )


def test_perform__a_spread_past_year_9999_changes_nothing_and_leaves_no_audit_row():
    trigger = failed()
    with pytest.raises(actions.ActionError, match="would be due after the latest time"):
        perform("reschedule", Trigger.objects.all(), when=LATEST, spread=timedelta(days=2))
    assert Trigger.objects.get(pk=trigger.pk).status == "failed"
    assert not OperatorAction.objects.exists()


def test_validate__accepts_what_each_action_takes():
    now = timezone.now()
    actions.validate(actions.REPROCESS, spread=timedelta(hours=1), reason="x" * 1000)
    actions.validate(actions.RESCHEDULE, when=now, spread=timedelta())
    actions.validate(actions.CANCEL, reason="dup")
    actions.validate(actions.PROCESS)


def test_perform__invalid_values_change_nothing_and_leave_no_audit_row():
    trigger = failed()
    with pytest.raises(actions.ActionError):
        perform("reschedule", Trigger.objects.all())
    assert Trigger.objects.get(pk=trigger.pk).status == "failed"
    assert not OperatorAction.objects.exists()


def test_perform__process_now_is_not_a_transition():
    with pytest.raises(ValueError, match=r"Process now runs triggers: use actions\.process\(\)"):
        perform("process", Trigger.objects.all())


def test_perform__a_person_needs_the_actions_permission(user):
    due()
    with pytest.raises(PermissionDenied, match=r"needs the permission djtriggers\.cancel_trigger"):
        perform("cancel", Trigger.objects.all(), user=user)
    assert Trigger.objects.due().count() == 1
    assert not OperatorAction.objects.exists()


def deleting_the_first_of_each_chunk(monkeypatch):
    """Each chunk's first row deleted after the chunk was read, before it is locked."""
    chunks = actions._chunks

    def with_a_deleted_row(queryset, size):
        for pks in chunks(queryset, size):
            Trigger.objects.filter(pk=pks[0]).delete()
            yield pks

    monkeypatch.setattr(actions, "_chunks", with_a_deleted_row)


def test_perform__a_row_gone_between_reading_and_locking_is_skipped_as_deleted(monkeypatch):
    trigger = due()
    deleting_the_first_of_each_chunk(monkeypatch)
    report = perform("cancel", Trigger.objects.filter(pk=trigger.pk))
    assert (report.changed, dict(report.skipped)) == (0, {"deleted": 1})
    assert report.message() == "0 cancelled, 1 skipped: deleted"
    assert OperatorAction.objects.get().skipped == 1


@pytest.mark.django_db(transaction=True)
def test_perform__a_row_a_worker_holds_right_now_is_skipped_as_running():
    held, free = due(), due()
    with locked_elsewhere(held.pk):
        report = perform("cancel", Trigger.objects.all())
    assert report.message() == "1 cancelled, 1 skipped: running"
    assert Trigger.objects.get(pk=held.pk).status == "due"
    assert Trigger.objects.get(pk=free.pk).status == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_perform__held_and_deleted_rows_of_one_chunk_are_told_apart(monkeypatch):
    gone, held, free = due(), due(), due()
    deleting_the_first_of_each_chunk(monkeypatch)  # gone, the lowest pk
    with locked_elsewhere(held.pk):
        report = perform("cancel", Trigger.objects.all())
    assert report.message() == "1 cancelled, 2 skipped: 1 deleted, 1 running"
    assert not Trigger.objects.filter(pk=gone.pk).exists()
    assert Trigger.objects.get(pk=held.pk).status == "due"
    assert Trigger.objects.get(pk=free.pk).status == "cancelled"


def test_perform__an_empty_selection_is_audited_as_nothing_done():
    report = perform("reprocess", Trigger.objects.none(), spread=timedelta(hours=1))
    assert (report.kind, report.message()) == ("reprocess", "0 reprocessed")
    action = OperatorAction.objects.get()
    assert (action.changed, action.skipped, action.spread) == (0, 0, timedelta(hours=1))


def test_report__message_with_one_or_more_skip_reasons():
    report = actions.Report(actions.CANCEL, changed=2)
    assert report.message() == "2 cancelled"
    report.skipped["running"] = 0
    assert report.message() == "2 cancelled"
    report.skipped["already processed"] = 3
    assert report.message() == "2 cancelled, 3 skipped: already processed"
    report.skipped["running"] = 1
    assert report.message() == "2 cancelled, 4 skipped: 3 already processed, 1 running"


# --- process now -----------------------------------------------------------------------------


def test_process__says_how_each_trigger_went():
    ok = due()
    later = due(ScriptedTrigger, source="later")  # asks to run again in 10 minutes
    held = running()
    outcomes = actions.process(Trigger.objects.filter(pk__in=[ok.pk, later.pk, held.pk]))
    again = Trigger.objects.get(pk=later.pk).process_after
    assert [(t.pk, text, went) for t, text, went in outcomes] == [
        (ok.pk, "processed", True),
        (later.pk, f"asked to run again at {again:%Y-%m-%d %H:%M:%S}", True),
        (held.pk, "left alone: a worker is processing it", None),
    ]
    action = OperatorAction.objects.get()
    assert (action.kind, action.changed) == ("process", 2)
    assert set(action.triggers.values_list("pk", flat=True)) == {ok.pk, later.pk}


def test_process__nothing_ran_is_not_audited():
    held = running()
    [(_, text, went)] = actions.process(Trigger.objects.filter(pk=held.pk))
    assert (text, went) == ("left alone: a worker is processing it", None)
    assert not OperatorAction.objects.exists()


def test_process__a_trigger_deleted_meanwhile_is_said_so():
    trigger = due()
    Trigger.objects.filter(pk=trigger.pk).delete()
    assert actions._process_one(trigger) == ("not processed: it was deleted meanwhile", None)


def test_process__a_person_needs_the_reprocess_permission(user):
    due()
    with pytest.raises(PermissionDenied, match=r"djtriggers\.reprocess_trigger"):
        actions.process(Trigger.objects.all(), user=user)
    assert Trigger.objects.due().count() == 1
