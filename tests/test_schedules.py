"""Recurring schedules in process (djtriggers.schedules, .scheduler); workers: tests/system."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.db import connection, connections
from django.utils import timezone

from djtriggers import scheduler, schedules, signals
from djtriggers.lifecycle import State, Status
from djtriggers.models import OperatorAction, Schedule, Trigger
from djtriggers.worker import TriggerWorker
from tests.testapp.models import (
    BreakfastTrigger,
    CountingTrigger,
    LeapDayTrigger,
    NoopTrigger,
    PayBill,
)

pytestmark = pytest.mark.django_db


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def added(
    trigger_type: str = "noop",
    expression: str = "*/15 * * * *",
    *,
    next_run_at: datetime | None = None,
    **fields: object,
) -> Schedule:
    """An operator's schedule of ``trigger_type``, due at ``next_run_at``."""
    return Schedule.objects.create(
        trigger_type=trigger_type,
        expression=expression,
        time_zone=fields.pop("time_zone", "UTC"),
        next_run_at=next_run_at,
        **fields,
    )


@pytest.fixture
def operator(db) -> User:
    user = User.objects.create_user("ops")
    user.user_permissions.add(Permission.objects.get(codename="change_schedule"))
    return User.objects.get(pk=user.pk)


# --- declarations --------------------------------------------------------------------


def test_declaration__the_class_own_not_inherited(settings):
    assert schedules.declaration(LeapDayTrigger) == schedules.Declaration(
        "0 12 29 2 *", "Europe/Brussels", "one"
    )
    assert schedules.declaration(NoopTrigger) is None
    child = type(
        "LeapChild",
        (LeapDayTrigger,),
        {"__module__": __name__, "Meta": type("Meta", (), {"proxy": True, "app_label": "x"})},
    )
    assert schedules.declaration(child) is None


def test_declaration__time_zone_defaults_to_time_zone(settings, monkeypatch):
    settings.TIME_ZONE = "America/New_York"
    monkeypatch.setattr(LeapDayTrigger, "schedule_timezone", None)
    assert schedules.declaration(LeapDayTrigger).timezone == "America/New_York"
    settings.TIME_ZONE = None
    assert schedules.default_timezone() == "UTC"


def test_own_data__the_fields_a_trigger_cannot_be_made_without():
    assert schedules.own_data(PayBill) == ["amount", "recipient"]
    assert schedules.own_data(NoopTrigger) == []


def test_schedulable__a_known_type_without_own_data():
    assert schedules.schedulable("noop") is NoopTrigger
    with pytest.raises(ValueError, match="No trigger type 'nope': use one of"):
        schedules.schedulable("nope")
    with pytest.raises(ValueError, match=r"needs its own data \(amount, recipient\)"):
        schedules.schedulable("testapp.paybill")


def test_problems__none_for_a_good_declaration():
    assert schedules.problems(LeapDayTrigger) == []
    assert schedules.problems(NoopTrigger) == []


# --- sync ------------------------------------------------------------------------------


def test_sync__creates_the_declared_row_once():
    now = utc(2027, 1, 1)
    report = schedules.sync(now=now)
    assert report.created == ["leap_day"] and report.updated == [] and report.undeclared == []
    row = Schedule.objects.get()
    assert (row.trigger_type, row.expression, row.time_zone, row.catch_up, row.declared) == (
        "leap_day",
        "0 12 29 2 *",
        "Europe/Brussels",
        "one",
        True,
    )
    assert row.enabled and row.next_run_at == utc(2028, 2, 29, 11)
    again = schedules.sync(now=now)
    assert again.created == again.updated == []
    assert Schedule.objects.count() == 1


def test_sync__a_changed_expression_moves_the_next_run_and_keeps_it_disabled(monkeypatch):
    schedules.sync(now=utc(2027, 1, 1))
    monkeypatch.setattr(LeapDayTrigger, "schedule", "0 6 * * *")
    assert schedules.sync(now=utc(2027, 1, 1)).updated == ["leap_day"]
    row = Schedule.objects.get()
    assert (row.expression, row.next_run_at) == ("0 6 * * *", utc(2027, 1, 1, 5))
    schedules.disable(row)
    monkeypatch.setattr(LeapDayTrigger, "schedule", "0 7 * * *")
    monkeypatch.setattr(LeapDayTrigger, "schedule_catch_up", "none")
    assert schedules.sync().updated == ["leap_day"]
    row.refresh_from_db()
    # The operator's disable survives the sync.
    assert (row.expression, row.catch_up, row.enabled, row.next_run_at) == (
        "0 7 * * *",
        "none",
        False,
        None,
    )


def test_sync__only_the_catch_up_changed(monkeypatch):
    schedules.sync(now=utc(2027, 1, 1))
    monkeypatch.setattr(LeapDayTrigger, "schedule_catch_up", "none")
    assert schedules.sync(now=utc(2027, 6, 1)).updated == ["leap_day"]
    row = Schedule.objects.get()
    assert (row.catch_up, row.next_run_at) == ("none", utc(2028, 2, 29, 11))


def test_sync__a_row_no_class_declares_any_more_is_kept_and_reported():
    gone = added("noop", declared=True)
    operators = added("noop")
    report = schedules.sync()
    assert report.undeclared == [gone]
    assert Schedule.objects.filter(pk__in=[gone.pk, operators.pk]).count() == 2
    assert schedules.runnable(gone) == "its class declares no schedule any more"
    assert schedules.runnable(operators) == ""
    assert schedules.runnable(added("gone.type")) == "no class has this type"


def test_sync__an_invalid_declaration_is_left_to_the_checks(monkeypatch):
    monkeypatch.setattr(LeapDayTrigger, "schedule", "every day")
    assert schedules.sync().created == []
    assert not Schedule.objects.exists()


# --- firing -------------------------------------------------------------------------------


def test_fire__one_trigger_at_the_slot_and_the_next_slot_after_now():
    now = utc(2026, 12, 4, 12, 5)
    schedule = added(next_run_at=utc(2026, 12, 4, 12, 0))
    pk = scheduler.fire(schedule, now=now)
    trigger = Trigger.objects.get(pk=pk)
    assert (trigger.trigger_type, trigger.process_after, trigger.state) == (
        "noop",
        utc(2026, 12, 4, 12, 0),
        State.SCHEDULED,
    )
    assert trigger.source == f"schedule${schedule.pk}$2026-12-04T12:00"
    assert trigger.get_source() == ("schedule", str(schedule.pk), "2026-12-04T12:00")
    schedule.refresh_from_db()
    assert (schedule.next_run_at, schedule.last_run_at, schedule.last_trigger_id) == (
        utc(2026, 12, 4, 12, 15),
        utc(2026, 12, 4, 12, 0),
        pk,
    )
    assert (
        scheduler.slot_key(schedule, utc(2026, 12, 4, 12))
        == f"schedule:{schedule.pk}:2026-12-04T12:00"
    )


def test_fire__a_slot_read_before_someone_else_won_it_makes_nothing():
    schedule = added(next_run_at=utc(2026, 12, 4, 12, 0))
    stale = Schedule.objects.get(pk=schedule.pk)
    assert scheduler.fire(schedule, now=utc(2026, 12, 4, 12, 1)) is not None
    assert scheduler.fire(stale, now=utc(2026, 12, 4, 12, 1)) is None
    assert Trigger.objects.count() == 1


def test_fire__the_slot_unique_key_refuses_a_second_unfinished_trigger():
    slot, now = utc(2026, 12, 4, 12, 0), utc(2026, 12, 4, 12, 1)
    schedule = added(next_run_at=slot)
    first = scheduler.fire(schedule, now=now)
    # Someone puts the slot back by hand: the compare-and-set lets it through again,
    # the database's unique key does not.
    Schedule.objects.filter(pk=schedule.pk).update(next_run_at=slot)
    schedule.refresh_from_db()
    assert scheduler.fire(schedule, now=now) == first
    assert Trigger.objects.count() == 1
    assert Trigger.objects.get().trigger_key == f"schedule:{schedule.pk}:2026-12-04T12:00"


def test_fire__not_due_disabled_or_never_nothing():
    future = added(next_run_at=timezone.now() + timedelta(minutes=5))
    assert scheduler.fire(future) is None
    never = added(next_run_at=None)
    assert scheduler.fire(never) is None
    off = added(next_run_at=utc(2026, 1, 1), enabled=False)
    assert scheduler.fire(off) is None
    assert not Trigger.objects.exists()


def test_catch_up_one__one_run_for_every_missed_slot_at_the_latest():
    schedule = added(next_run_at=utc(2026, 12, 4, 9, 0))  # down from 09:00 to 12:07
    pk = scheduler.fire(schedule, now=utc(2026, 12, 4, 12, 7))
    assert Trigger.objects.count() == 1
    assert Trigger.objects.get(pk=pk).process_after == utc(2026, 12, 4, 12, 0)
    schedule.refresh_from_db()
    assert (schedule.last_run_at, schedule.next_run_at) == (
        utc(2026, 12, 4, 12, 0),
        utc(2026, 12, 4, 12, 15),
    )


def test_catch_up_none__a_slot_missed_by_more_than_the_grace_is_skipped():
    schedule = added(next_run_at=utc(2026, 12, 4, 9, 0), catch_up="none")
    assert scheduler.fire(schedule, now=utc(2026, 12, 4, 12, 7)) is None
    assert not Trigger.objects.exists()
    schedule.refresh_from_db()
    assert (schedule.last_run_at, schedule.next_run_at) == (None, utc(2026, 12, 4, 12, 15))
    # Within the grace, the slot runs.
    late = scheduler.CATCH_UP_GRACE - timedelta(seconds=1)
    assert scheduler.fire(schedule, now=utc(2026, 12, 4, 12, 15) + late) is not None


def test_fire__daily_job_after_a_night_of_downtime_across_fall_back():
    # A job at 02:30 Brussels, workers down from Saturday 00:00 to Monday 08:00 UTC.
    schedule = added(
        expression="30 2 * * *", time_zone="Europe/Brussels", next_run_at=utc(2026, 10, 24, 0, 30)
    )
    scheduler.fire(schedule, now=utc(2026, 10, 26, 8))
    schedule.refresh_from_db()
    assert schedule.last_run_at == utc(2026, 10, 26, 1, 30)  # Monday 02:30 CET
    assert schedule.next_run_at == utc(2026, 10, 27, 1, 30)
    assert Trigger.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_fire__racing_threads_make_one_trigger_per_slot():
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:"):
        pytest.skip("an in-memory SQLite database is one connection")  # pragma: no cover
    schedule = added(next_run_at=utc(2026, 12, 4, 12, 0))
    now = utc(2026, 12, 4, 12, 1)
    start = threading.Barrier(4, timeout=30)
    won: list[object] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            mine = Schedule.objects.get(pk=schedule.pk)  # each read the same slot
            start.wait()
            won.append(scheduler.fire(mine, now=now))
        except BaseException as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len([pk for pk in won if pk is not None]) == 1
    assert Trigger.objects.count() == 1


# --- the worker's side ----------------------------------------------------------------------


def test_scheduler__fires_due_schedules_and_reads_the_next_run_at_most_once_a_second(
    django_assert_num_queries,
):
    now = timezone.now()
    schedule = added(next_run_at=now - timedelta(minutes=1))
    watcher = scheduler.Scheduler()
    assert watcher.fire_due(now) == 1
    schedule.refresh_from_db()
    with django_assert_num_queries(1):
        assert watcher.next_run() == schedule.next_run_at
        assert watcher.fire_due(now) == 0  # not due: no more queries
        assert watcher.next_run() == schedule.next_run_at


def test_scheduler__none_when_nothing_is_scheduled():
    added(next_run_at=None)
    assert scheduler.Scheduler().next_run() is None
    assert scheduler.Scheduler().fire_due() == 0


def test_scheduler__skips_what_it_cannot_run_without_busy_looping(caplog):
    now = timezone.now()
    gone = added("gone.type", next_run_at=now - timedelta(minutes=1))
    broken = added("noop", next_run_at=now - timedelta(minutes=2))
    Schedule.objects.filter(pk=broken.pk).update(expression="nonsense")
    fine = added("breakfast", next_run_at=now + timedelta(hours=1))
    watcher = scheduler.Scheduler()
    assert watcher.fire_due(now) == 0
    assert watcher.skipped == {gone.pk, broken.pk}
    assert "not run by this worker: no class has this type" in caplog.text
    assert "cannot run" in caplog.text
    assert watcher.next_run() == fine.next_run_at


def test_scheduler__only_the_worker_types():
    now = timezone.now()
    added("noop", next_run_at=now - timedelta(minutes=1))
    worker = TriggerWorker(types=["breakfast"])
    assert worker.scheduler.next_run() is None
    assert worker.scheduler.fire_due(now) == 0


def test_worker__syncs_fires_and_processes_a_due_schedule():
    added("breakfast", next_run_at=timezone.now() - timedelta(minutes=20))
    counts = TriggerWorker(burst=True).run()
    assert counts.succeeded == 1
    assert Trigger.objects.get().trigger_type == "breakfast"
    assert Schedule.objects.filter(declared=True, trigger_type="leap_day").exists()


def test_worker__sleeps_until_the_next_slot():
    worker = TriggerWorker()
    assert worker._next_due() is None
    schedule = added(next_run_at=timezone.now() + timedelta(hours=1))
    later = NoopTrigger.objects.create(process_after=timezone.now() + timedelta(hours=2))
    worker.scheduler.forget()
    assert worker._next_due() == schedule.next_run_at
    Schedule.objects.all().delete()
    worker.scheduler.forget()
    assert worker._next_due() == later.process_after


def test_paused_type__its_schedule_still_makes_the_trigger_which_waits():
    NoopTrigger.pause(reason="partner down")
    added("noop", next_run_at=timezone.now() - timedelta(minutes=1))
    TriggerWorker(burst=True).run()
    assert Trigger.objects.get().status == Status.DUE


# --- disable and enable --------------------------------------------------------------------


def test_disable_and_enable__audited_with_who_why_and_the_schedule(
    operator, django_capture_on_commit_callbacks
):
    heard = []

    def receiver(**kwargs):
        heard.append((kwargs["action"], kwargs["trigger_type"]))

    schedule = added(next_run_at=utc(2026, 1, 1))
    signals.operator_action.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert schedules.disable(schedule, reason="noisy", user=operator) is True
            assert schedules.disable(schedule, user=operator) is False
    finally:
        signals.operator_action.disconnect(receiver)
    assert heard == [("disable", "noop")]
    schedule.refresh_from_db()
    assert (schedule.enabled, schedule.next_run_at) == (False, None)
    before = timezone.now()
    assert schedules.enable(schedule, reason="fixed", user=operator) is True
    assert schedules.enable(schedule) is False
    schedule.refresh_from_db()
    # Enabled from the next slot after now: the slots it was off are not caught up.
    assert schedule.enabled and before < schedule.next_run_at <= before + timedelta(minutes=15)
    assert [
        (a.kind, a.trigger_type, a.reason, a.username, a.changes[0]["schedule"])
        for a in schedules.history(schedule)
    ] == [
        ("enable", "noop", "fixed", "ops", schedule.pk),
        ("disable", "noop", "noisy", "ops", schedule.pk),
    ]
    assert list(LogEntry.objects.order_by("pk").values_list("object_id", "change_message")) == [
        (str(schedule.pk), "Disabled — noisy"),
        (str(schedule.pk), "Enabled — fixed"),
    ]
    # Another schedule of the type has a history of its own.
    assert not schedules.history(added()).exists()


def test_disable__needs_the_change_permission_and_a_short_reason():
    schedule = added(next_run_at=utc(2026, 1, 1))
    nobody = User.objects.create_user("nobody", is_staff=True)
    with pytest.raises(PermissionDenied, match=r"djtriggers\.change_schedule"):
        schedules.disable(schedule, user=nobody)
    with pytest.raises(ValueError, match="Shorten the reason"):
        schedules.disable(schedule, reason="x" * 1001)
    schedule.refresh_from_db()
    assert schedule.enabled and not OperatorAction.objects.exists()


def test_disable__by_code_audited_without_a_person():
    schedule = added(next_run_at=utc(2026, 1, 1))
    assert schedules.disable(schedule) and schedules.enable(schedule)
    assert list(OperatorAction.objects.values_list("username", flat=True)) == ["", ""]
    assert not LogEntry.objects.exists()


# --- what operators see -------------------------------------------------------------------------


def test_outcome__the_last_trigger_status():
    now = timezone.now()
    rows = {
        "none": added(),
        "gone": added(last_trigger_id=10**6),
        "pending": added(
            last_trigger_id=NoopTrigger.objects.create(process_after=now + timedelta(hours=1)).pk
        ),
        "due": added(last_trigger_id=NoopTrigger.objects.create().pk),
        "processed": added(
            last_trigger_id=BreakfastTrigger.objects.create(state=State.PROCESSED).pk
        ),
        "failed": added(last_trigger_id=CountingTrigger.objects.create(state=State.FAILED).pk),
    }
    found = {
        row.pk: schedules.outcome(row, timezone.now())
        for row in schedules.with_outcomes(Schedule.objects.all())
    }
    assert {name: found[row.pk] for name, row in rows.items()} == {
        "none": None,
        "gone": None,
        "pending": Status.PENDING,
        "due": Status.DUE,
        "processed": Status.PROCESSED,
        "failed": Status.FAILED,
    }
    assert schedules.outcome(added()) is None  # not annotated
    assert schedules.triggers_of(rows["none"]) == f"schedule${rows['none'].pk}$"
    assert str(rows["none"]) == "noop (*/15 * * * *, UTC)"


def test_declaration__a_model_field_called_schedule_is_no_schedule():
    from django.db import models

    meta = type("Meta", (), {"app_label": "testapp"})
    Booking = type(
        "Booking",
        (Trigger,),
        {"__module__": __name__, "Meta": meta, "schedule": models.CharField(max_length=10)},
    )
    try:
        assert schedules.declaration(Booking) is None
    finally:
        from django.apps import apps

        del apps.all_models["testapp"]["booking"]
        apps.clear_cache()


def test_worker__an_idle_worker_wakes_for_the_next_slot():
    # Asleep for up to 30 s, it would reach max_runtime with nothing done.
    added("breakfast", next_run_at=timezone.now() + timedelta(seconds=0.3))
    worker = TriggerWorker(poll_interval=30, max_runtime=10, max_triggers=1)
    assert worker.run().succeeded == 1
    assert worker.stopping == "max triggers reached"
