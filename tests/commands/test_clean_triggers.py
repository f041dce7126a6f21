"""clean_triggers (djtriggers.management.commands.clean_triggers): options, output, progress."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from djtriggers.models import Trigger, TriggerAttempt, TriggerResult
from tests import factories
from tests.testapp.models import NoopTrigger, PayBill

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def days_ago(days: int):
    return timezone.now() - timedelta(days=days)


def test_clean_triggers__deletes_old_finished_rows_with_subclass_rows(user):
    with time_machine.travel(days_ago(90)):
        old_bill = PayBill.objects.create(amount=1, recipient=user)
        old_bill.process(logger="DatabaseLogger")
    recent = factories.processed(at=days_ago(1))
    waiting = NoopTrigger.objects.create()
    output = run("clean_triggers")
    assert "Deleted 1 processed/failed/cancelled trigger finished before " in output
    assert set(Trigger.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not PayBill.objects.exists()
    assert not TriggerAttempt.objects.filter(trigger_id=old_bill.pk).exists()
    assert not TriggerResult.objects.exists()


def test_clean_triggers__says_trigger_for_one_and_triggers_for_more():
    factories.processed(at=days_ago(90))
    assert "Would delete 1 processed trigger finished before " in run(
        "clean_triggers", "--status", "processed", "--dry-run"
    )
    factories.processed(at=days_ago(90))
    assert "Would delete 2 processed triggers finished before " in run(
        "clean_triggers", "--status", "processed", "--dry-run"
    )
    assert "Deleted 2 processed triggers finished before " in run(
        "clean_triggers", "--status", "processed"
    )
    assert "Deleted 0 processed triggers finished before " in run(
        "clean_triggers", "--status", "processed"
    )


def test_clean_triggers__status_older_than_and_dry_run():
    factories.failed(at=days_ago(3))
    processed = factories.processed(at=days_ago(3))
    assert "Would delete 1 failed trigger finished" in run(
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
    factories.processed(at=days_ago(90))
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("clean_triggers", *args)
    assert Trigger.objects.count() == 1


def test_clean_triggers__the_longest_age_deletes_nothing_recent():
    factories.processed(at=days_ago(90))
    assert "Deleted 0 " in run("clean_triggers", "--older-than", "36525d")
    assert Trigger.objects.count() == 1


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_clean_triggers__shows_its_progress_on_a_terminal(monkeypatch):
    for _ in range(3):
        factories.processed(at=days_ago(90))
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    run("clean_triggers", "--batch-size", "2")
    assert terminal.getvalue() == (f"\r[{'#' * 20}{'.' * 10}] 2/3\r[{'#' * 30}] 3/3\n")
    assert not Trigger.objects.exists()


def test_clean_triggers__no_progress_without_a_terminal_or_for_a_dry_run(monkeypatch):
    factories.processed(at=days_ago(90))
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    run("clean_triggers", "--dry-run")
    run("clean_triggers", "--verbosity", "0")
    assert terminal.getvalue() == ""
    assert not Trigger.objects.exists()


def test_clean_triggers__verbosity_0_prints_nothing():
    factories.processed(at=days_ago(90))
    assert run("clean_triggers", "--verbosity", "0") == ""
    assert not Trigger.objects.exists()
