"""The commands in-process: options, output, and bad input that changes nothing."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from djtriggers.logic import clean_triggers, process_triggers
from djtriggers.models import Trigger, TriggerAttempt, TriggerResult, Worker
from djtriggers.worker import TriggerWorker
from tests.testapp.models import BreakfastTrigger, FailingTrigger, NoopTrigger, PayBill

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


def _finished(trigger, days_ago, state="processed"):
    # successful agrees with the state, as the engine writes them.
    Trigger.objects.filter(pk=trigger.pk).update(
        state=state,
        date_processed=timezone.now() - timedelta(days=days_ago),
        successful={"processed": True, "failed": False}.get(state),
    )


def test_clean_triggers__deletes_old_finished_rows_with_subclass_rows(user):
    old_bill = PayBill.objects.create(amount=1, recipient=user)
    old_bill.process(logger="DatabaseLogger")
    _finished(old_bill, days_ago=90)
    recent = NoopTrigger.objects.create()
    _finished(recent, days_ago=1)
    waiting = NoopTrigger.objects.create()
    output = run("clean_triggers")
    assert "Deleted 1 processed/failed/cancelled triggers" in output
    assert set(Trigger.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not PayBill.objects.exists()
    assert not TriggerAttempt.objects.filter(trigger_id=old_bill.pk).exists()
    assert not TriggerResult.objects.exists()


def test_clean_triggers__status_older_than_and_dry_run():
    failed = NoopTrigger.objects.create()
    _finished(failed, days_ago=3, state="failed")
    processed = NoopTrigger.objects.create()
    _finished(processed, days_ago=3)
    assert "Would delete 1 failed" in run(
        "clean_triggers", "--older-than", "2d", "--status", "failed", "--dry-run"
    )
    assert Trigger.objects.count() == 2
    run("clean_triggers", "--older-than", "2d", "--status", "failed", "--batch-size", "1")
    assert list(Trigger.objects.values_list("pk", flat=True)) == [processed.pk]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "5x"], "'5x' is not a duration: use a number and a unit"),
        (["--older-than=-1d"], "is not a duration"),
        (["--status", "due"], "invalid choice: 'due'"),
        (["--batch-size", "0"], "'0' is not a whole number of at least 1"),
        (["--older-than", "99999999999d"], "'99999999999d' is too long: the longest duration"),
        (["--older-than", "36526d"], "is too long: the longest duration is 100 years (36525d)"),
        (["--older-than", "inf"], "'inf' is not a duration"),
        (["--older-than", "\u0663d"], "'\u0663d' is not a duration"),
        (["--older-than", ""], "The duration is empty: type a number and a unit"),
        (["--batch-size", "10001"], "at most 10_000"),
    ],
)
def test_clean_triggers__bad_options_change_nothing(args, message):
    old = NoopTrigger.objects.create()
    _finished(old, days_ago=90)
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("clean_triggers", *args)
    assert Trigger.objects.count() == 1


def test_clean_triggers__the_longest_age_deletes_nothing_recent():
    old = NoopTrigger.objects.create()
    _finished(old, days_ago=90)
    assert "Deleted 0 " in run("clean_triggers", "--older-than", "36525d")
    assert Trigger.objects.count() == 1


def test_logic_entry_points():
    NoopTrigger.objects.create()
    assert process_triggers().succeeded == 1
    old = NoopTrigger.objects.create()
    _finished(old, days_ago=61)
    assert clean_triggers() == 1
    assert clean_triggers(expiration_dt=timezone.now() + timedelta(days=1)) == 1


@pytest.mark.parametrize("name", ["", "x" * 101])
def test_run_triggers__a_worker_name_that_does_not_fit_is_refused(name):
    with pytest.raises(CommandError, match="is not a worker name"):
        call_command("run_triggers", "--name", name, "--max-runtime", "1")
