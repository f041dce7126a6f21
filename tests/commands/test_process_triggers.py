"""process_triggers (djtriggers.management.commands.process_triggers): one pass, then exit."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from djtriggers.models import Trigger, Worker
from djtriggers.worker import GaveUp, TriggerWorker
from tests.testapp.models import BreakfastTrigger, FailingTrigger, NoopTrigger
from tests.workers import create_counting, runs_per_trigger, states

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_process_triggers__one_pass_and_a_summary():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(3)])
    FailingTrigger.objects.create()
    output = run("process_triggers")
    assert "4 triggers" in output
    assert "3 processed, 1 failed" in output
    assert Trigger.objects.processed().count() == 3


def test_process_triggers__one_trigger_is_one_trigger_not_one_triggers():
    NoopTrigger.objects.create()
    output = run("process_triggers")
    assert re.search(r"^Processed 1 trigger in [\d.]+s \(\d+/s\): 1 processed", output)


def test_process_triggers__types_and_limit():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(5)])
    BreakfastTrigger.objects.create()
    run("process_triggers", "--types", "noop", "--limit", "2")
    assert Trigger.objects.processed().count() == 2
    assert BreakfastTrigger.objects.due().count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--types", "nope"], "Unknown trigger type(s): nope. Known types:"),
        (["--exclude-types", "breakfast,nope"], "Unknown trigger type(s): nope."),
        (["--limit", "0"], "'0' is not a whole number of at least 1"),
        (["--batch-size", "x"], "'x' is not a whole number of at least 1"),
        (["--limit", "1000000001"], "'1000000001' is not a whole number of at least 1 and at most"),
        (["--limit", "\u0663"], "'\u0663' is not a whole number of at least 1"),
        (
            ["--batch-size", "10001"],
            "'10001' is not a whole number of at least 1 and at most 10_000",
        ),
        (["--batch-size", "9" * 5000], "is not a whole number of at least 1"),
        (["--types", " , "], "argument --types: ' , ' is empty: name at least one type, or leave"),
        (["--types", ""], "argument --types: '' is empty: name at least one type"),
        (["--exclude-types", ","], "argument --exclude-types: ',' is empty: name at least one"),
    ],
)
def test_process_triggers__bad_options_change_nothing(args, message):
    BreakfastTrigger.objects.create()
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("process_triggers", *args)
    assert BreakfastTrigger.objects.due().count() == 1


# --- in a process of its own: the command as cron or a shell runs it ---------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_process_triggers__processes_everything_due_and_prints_a_one_line_summary(workers):
    due = create_counting(5)
    later = create_counting(1, process_after=timezone.now() + timedelta(hours=1))

    command = workers.run(command="process_triggers")

    assert command.popen.returncode == 0, command.stderr
    assert re.fullmatch(
        r"Processed 5 triggers in [\d.]+s \(\d+/s\): "
        r"5 processed, 0 failed \(0 for good\), 0 rescheduled\n",
        command.stdout,
    )
    assert runs_per_trigger() == dict.fromkeys(due, 1)
    assert states(later) == dict.fromkeys(later, "scheduled")
    assert not Worker.objects.exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_process_triggers__gives_up_when_the_database_stays_away(workers):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite creates the database it is pointed at")
    gone = workers.start(command="process_triggers", DJTRIGGERS_DB_NAME="djtriggers_no_such_db")
    assert gone.wait() == 1
    assert "Stopped after 3 errors in a row outside any trigger" in gone.stderr


# --- in-process: what the command adds to the worker --------------------------------


def test_process_triggers__a_pass_that_gives_up_is_a_command_error(monkeypatch):
    def gives_up(worker):
        raise GaveUp("Stopped after 3 errors in a row outside any trigger")

    monkeypatch.setattr(TriggerWorker, "run", gives_up)
    with pytest.raises(CommandError, match="Stopped after 3 errors in a row") as error:
        call_command("process_triggers")
    assert isinstance(error.value.__cause__, GaveUp)


def test_process_triggers__verbosity_0_prints_nothing():
    NoopTrigger.objects.create()
    assert run("process_triggers", "--verbosity", "0") == ""
    assert Trigger.objects.processed().count() == 1


def test_process_triggers__hands_its_options_to_a_burst_worker(monkeypatch):
    seen = {}

    def fake_run(worker):
        seen.update(
            burst=worker.burst,
            types=worker.engine.types,
            exclude=worker.engine.exclude_types,
            limit=worker.max_triggers,
            batch=worker.batch_size,
        )
        return worker.counts

    monkeypatch.setattr(TriggerWorker, "run", fake_run)
    run("process_triggers", "--types", "noop,breakfast", "--exclude-types", "failing")
    assert seen == {
        "burst": True,
        "types": ["noop", "breakfast"],
        "exclude": ["failing"],
        "limit": None,
        "batch": 500,
    }
