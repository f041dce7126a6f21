"""run_triggers (djtriggers.management.commands.run_triggers): options, then the worker."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from djtriggers.models import Trigger, TriggerAttempt, Worker
from djtriggers.worker import TriggerWorker
from tests.testapp.models import BreakfastTrigger, NoopTrigger, Run
from tests.workers import create_counting, states

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--poll-interval", "abc"], "'abc' is not a number of seconds greater than 0"),
        (["--max-runtime", "0"], "'0' is not a number of seconds greater than 0"),
        (["--max-triggers", "-1"], "'-1' is not a whole number of at least 1"),
        (["--poll-interval", "nan"], "'nan' is not a number of seconds greater than 0 and at most"),
        (["--poll-interval", "inf"], "'inf' is not a number of seconds"),
        (["--poll-interval=-inf"], "'-inf' is not a number of seconds"),
        (["--poll-interval", "86401"], "at most 86_400 (1 day)"),
        (["--poll-interval", "\u0663"], "'\u0663' is not a number of seconds"),
        (["--poll-interval", "1e400"], "'1e400' is not a number of seconds"),
        (["--max-runtime", "NaN"], "'NaN' is not a number of seconds"),
        (["--max-runtime", "Infinity"], "'Infinity' is not a number of seconds"),
        (["--max-runtime", "31536001"], "at most 31_536_000 (1 year)"),
        (["--max-triggers", "\u0665"], "'\u0665' is not a whole number of at least 1"),
        (["--max-triggers", "1000000001"], "at most 1_000_000_000"),
        (["--batch-size", "10001"], "at most 10_000"),
        (["--types", " , "], "argument --types: ' , ' is empty: name at least one type"),
        (["--exclude-types", " "], "argument --exclude-types: ' ' is empty"),
    ],
)
def test_run_triggers__bad_options_change_nothing(args, message):
    BreakfastTrigger.objects.create()
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("run_triggers", "--max-runtime", "1", *args)
    assert BreakfastTrigger.objects.due().count() == 1
    assert not Worker.objects.exists()


@pytest.mark.parametrize(
    ("args", "max_runtime"), [(["--max-runtime", "31536000"], 31536000.0), ([], None)]
)
def test_run_triggers__the_largest_values_are_accepted(monkeypatch, args, max_runtime):
    seen = {}

    def fake_run(worker):
        seen.update(poll=worker.poll_interval, runtime=worker.max_runtime)
        return worker.counts

    monkeypatch.setattr(TriggerWorker, "run", fake_run)
    run("run_triggers", "--poll-interval", "86400", "--batch-size", "10000", *args)
    assert seen == {"poll": 86400.0, "runtime": max_runtime}


def test_run_triggers__max_triggers_exits_by_itself():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(5)])
    output = run("run_triggers", "--max-triggers", "3", "--poll-interval", "0.1")
    assert "processed 3 triggers" in output
    assert Trigger.objects.processed().count() == 3


@pytest.mark.parametrize("name", ["", "x" * 101])
def test_run_triggers__a_worker_name_that_does_not_fit_is_refused(name):
    with pytest.raises(CommandError, match="is not a worker name"):
        call_command("run_triggers", "--name", name, "--max-runtime", "1")


# --- in a process of its own: the command as cron or a shell runs it ---------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--batch-size", "0"], "argument --batch-size: '0' is not a whole number of at least 1"),
        (
            ["--poll-interval", "abc"],
            "argument --poll-interval: 'abc' is not a number of seconds greater than 0",
        ),
        (["--types", "unknown"], "Unknown trigger type(s): unknown. Known types: breakfast,"),
    ],
    ids=["batch-size", "poll-interval", "types"],
)
def test_bad_option__exits_non_zero_with_a_clear_error_and_changes_nothing(workers, options, error):
    [pk] = create_counting(1)

    worker = workers.run(*options)

    assert worker.popen.returncode != 0
    assert error in worker.stderr
    assert states([pk]) == {pk: "scheduled"}
    assert not Run.objects.exists()
    assert not TriggerAttempt.objects.exists()
    assert not Worker.objects.exists()


def test_run_triggers__verbosity_0_prints_nothing():
    NoopTrigger.objects.create()
    output = run(
        "run_triggers", "--max-triggers", "1", "--poll-interval", "0.1", "--verbosity", "0"
    )
    assert output == ""
    assert Trigger.objects.processed().count() == 1


def test_run_triggers__hands_its_options_to_the_worker(monkeypatch):
    seen = {}

    def fake_run(worker):
        seen.update(
            name=worker.name,
            burst=worker.burst,
            types=worker.engine.types,
            exclude=worker.engine.exclude_types,
            batch=worker.batch_size,
            triggers=worker.max_triggers,
        )
        return worker.counts

    monkeypatch.setattr(TriggerWorker, "run", fake_run)
    output = run(
        "run_triggers",
        *("--name", " billing-1 ", "--types", "noop", "--exclude-types", "breakfast"),
        *("--batch-size", "7", "--max-triggers", "9"),
    )
    assert seen == {
        "name": "billing-1",
        "burst": False,
        "types": ["noop"],
        "exclude": ["breakfast"],
        "batch": 7,
        "triggers": 9,
    }
    assert output.startswith("Worker billing-1 processed 0 triggers")
