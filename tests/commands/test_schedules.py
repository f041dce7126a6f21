"""manage.py schedules: list, sync, disable and enable, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from djtriggers.lifecycle import State
from djtriggers.models import OperatorAction, Schedule
from tests.testapp.models import NoopTrigger

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("schedules", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_sync_then_list():
    assert run("--list") == "No schedule.\n"
    assert run("--sync") == "Created the schedule of leap_day.\n"
    assert run("--sync") == "The declared schedules match their classes.\n"
    row = Schedule.objects.get()
    trigger = NoopTrigger.objects.create(state=State.FAILED)
    Schedule.objects.filter(pk=row.pk).update(
        last_run_at=datetime(2024, 2, 29, 11, tzinfo=UTC), last_trigger_id=trigger.pk
    )
    assert run() == (
        f"{row.pk} leap_day 0 12 29 2 * Europe/Brussels (declared): next 2028-02-29 11:00 UTC, "
        "last 2024-02-29 11:00 UTC, last outcome failed\n"
    )


def test_sync__reports_updates_and_rows_no_class_declares(monkeypatch):
    from tests.testapp.models import LeapDayTrigger

    run("--sync")
    gone = Schedule.objects.create(
        trigger_type="noop", expression="@daily", time_zone="UTC", declared=True
    )
    monkeypatch.setattr(LeapDayTrigger, "schedule", "@hourly")
    assert run("--sync") == (
        "Updated the schedule of leap_day.\n"
        f"Schedule {gone.pk} of noop: its class declares no schedule any more; no worker runs "
        "it (delete it in the admin).\n"
    )
    listing = run("--list")
    assert f"{gone.pk} noop @daily UTC (declared): next not run: its class declares" in listing


def test_disable_and_enable():
    run("--sync")
    pk = Schedule.objects.get().pk
    assert run("--disable", str(pk), "--reason", "too noisy") == f"Disabled schedule {pk}.\n"
    assert run("--disable", str(pk)) == f"Schedule {pk} was disabled already.\n"
    assert "(declared): next disabled, last -, last outcome -" in run()
    assert run("--enable", str(pk)) == f"Enabled schedule {pk}.\n"
    assert run("--enable", str(pk)) == f"Schedule {pk} was enabled already.\n"
    assert list(OperatorAction.objects.order_by("pk").values_list("kind", "reason")) == [
        ("disable", "too noisy"),
        ("enable", ""),
    ]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--disable", "999"], "No schedule has the id 999: see manage.py schedules --list."),
        (["--sync", "--list"], "Give one of --list, --sync, --disable or --enable."),
        (["--enable", "1", "--disable", "1"], "Give one of --list, --sync, --disable or --enable."),
    ],
)
def test_bad_input__an_error_and_nothing_changes(args, says):
    with pytest.raises(CommandError, match=says):
        run(*args)
    assert not Schedule.objects.exists()


def test_reason_too_long__an_error():
    run("--sync")
    pk = Schedule.objects.get().pk
    with pytest.raises(CommandError, match="Shorten the reason"):
        run("--disable", str(pk), "--reason", "x" * 1001)
    assert Schedule.objects.get().enabled
