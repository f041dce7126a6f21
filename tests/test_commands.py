"""The commands in-process: options, output, and bad input that changes nothing."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from djtriggers.logic import clean_triggers, process_triggers
from djtriggers.models import Trigger, TriggerAttempt, TriggerResult
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
    ],
)
def test_process_triggers__bad_options_change_nothing(args, message):
    NoopTrigger.objects.create()
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call_command("process_triggers", *args)
    assert Trigger.objects.due().count() == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--poll-interval", "abc"], "'abc' is not a number of seconds greater than 0"),
        (["--max-runtime", "0"], "'0' is not a number of seconds greater than 0"),
        (["--max-triggers", "-1"], "'-1' is not a whole number of at least 1"),
    ],
)
def test_run_triggers__bad_options(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("run_triggers", *args)


def test_run_triggers__max_triggers_exits_by_itself():
    NoopTrigger.objects.bulk_create([NoopTrigger() for _ in range(5)])
    output = run("run_triggers", "--max-triggers", "3", "--poll-interval", "0.1")
    assert "processed 3 triggers" in output
    assert Trigger.objects.processed().count() == 3


def _finished(trigger, days_ago, state="processed"):
    Trigger.objects.filter(pk=trigger.pk).update(
        state=state, date_processed=timezone.now() - timedelta(days=days_ago)
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
    ],
)
def test_clean_triggers__bad_options_change_nothing(args, message):
    old = NoopTrigger.objects.create()
    _finished(old, days_ago=90)
    with pytest.raises(CommandError, match=message):
        call_command("clean_triggers", *args)
    assert Trigger.objects.count() == 1


def test_logic_entry_points():
    NoopTrigger.objects.create()
    assert process_triggers().succeeded == 1
    old = NoopTrigger.objects.create()
    _finished(old, days_ago=61)
    assert clean_triggers() == 1
    assert clean_triggers(expiration_dt=timezone.now() + timedelta(days=1)) == 1
