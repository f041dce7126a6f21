"""One try (djtriggers.attempts): whatever _process does, one recorded and counted Attempt."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from djtriggers import attempts, lifecycle
from djtriggers.attempts import (
    INSERT_CHUNK,
    Attempt,
    Outcome,
    TriggerTimeout,
    describe,
    insert_attempt_rows,
    storable,
    time_limit,
)
from djtriggers.exceptions import ProcessError
from djtriggers.logic import process_triggers
from djtriggers.models import Trigger, TriggerAttempt
from djtriggers.times import LATEST
from tests.factories import due, make
from tests.testapp.models import (
    BadDelayTrigger,
    FailingTrigger,
    NoopTrigger,
    PoisonTrigger,
    Run,
    UnprintableError,
)
from tests.workers import create_counting, runs_per_trigger

pytestmark = pytest.mark.django_db


# --- misbehaving triggers, through a worker's pass ------------------------------------------


MISBEHAVIOURS = {
    "exit": "SystemExit",
    "interrupt": "KeyboardInterrupt",
    "generator": "GeneratorExit",
    "unprintable": "UnprintableError",
    "nul": "ValueError",
    "badlogger": "ValueError",
}


@pytest.mark.parametrize(("how", "exception_class"), MISBEHAVIOURS.items())
def test_misbehaving_trigger__each_try_recorded_and_counted_others_run_once(how, exception_class):
    others = create_counting(3)
    poison = PoisonTrigger.objects.create(source=how)

    for tries in range(1, PoisonTrigger.max_tries + 1):
        counts = process_triggers()  # returns: the pass was not ended by the trigger
        assert counts.failed == 1
        poison.refresh_from_db()
        assert poison.number_of_tries == tries
    assert poison.status == "failed"
    assert poison.successful is False
    attempts = TriggerAttempt.objects.filter(trigger=poison)
    assert attempts.count() == PoisonTrigger.max_tries
    assert set(attempts.values_list("exception_class", flat=True)) == {exception_class}
    assert set(attempts.values_list("outcome", flat=True)) == {"failure"}
    # Its own writes were rolled back each time; the others ran exactly once.
    assert runs_per_trigger() == dict.fromkeys(others, 1)


def test_unstorable_messages__are_stored_escaped():
    poison = PoisonTrigger.objects.create(source="nul")
    process_triggers()
    attempt = TriggerAttempt.objects.get(trigger=poison)
    assert attempt.message == "a NUL \\x00 and a lone surrogate \\ud800"
    assert "\\x00" in Trigger.objects.get(pk=poison.pk).last_error


def test_unprintable_exception__recorded_with_a_placeholder_message():
    poison = PoisonTrigger.objects.create(source="unprintable")
    process_triggers()
    attempt = TriggerAttempt.objects.get(trigger=poison)
    assert attempt.message == "<the message could not be read: RuntimeError>"
    assert "UnprintableError" in attempt.traceback


def test_retry_delay_override_that_raises__falls_back_to_a_minute():
    trigger = BadDelayTrigger.objects.create()
    before = timezone.now()
    process_triggers()
    trigger.refresh_from_db()
    assert trigger.number_of_tries == 1
    assert 50 < (trigger.process_after - before).total_seconds() < 70


def test_weird_tries_written_by_other_code__still_recorded():
    below = FailingTrigger.objects.create(number_of_tries=-5)
    top = FailingTrigger.objects.create(number_of_tries=2**31 - 1)
    process_triggers()
    assert TriggerAttempt.objects.get(trigger=below).number == 1
    assert TriggerAttempt.objects.get(trigger=top).number == 2**31 - 1
    assert Trigger.objects.get(pk=top.pk).status == "failed"


def test_process__a_trigger_raising_systemexit_is_a_processerror():
    from djtriggers.exceptions import ProcessError

    poison = PoisonTrigger.objects.create(source="exit")
    with pytest.raises(ProcessError) as caught:
        poison.process()
    assert isinstance(caught.value.exception, SystemExit)
    assert poison.number_of_tries == 1
    assert not Run.objects.exists()


@override_settings(DJTRIGGERS_TIMEOUT_SECONDS=0.2)
def test_timeout__in_process_too():
    [hung] = create_counting(1, seconds=5)
    started = time.monotonic()
    process_triggers()
    assert time.monotonic() - started < 3
    assert TriggerAttempt.objects.get(trigger_id=hung).exception_class == "TriggerTimeout"


def test_process__gives_up_at_tries_before_error(settings, caplog):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 3
    settings.DJTRIGGERS_TRIES_BEFORE_WARNING = 2
    caplog.set_level("INFO", logger="djtriggers")
    trigger = FailingTrigger.objects.create()
    levels = []
    for _ in range(3):
        caplog.clear()
        with pytest.raises(ProcessError):
            trigger.process()
        levels.append([r.levelname for r in caplog.records if r.name == "djtriggers"])
    assert levels == [["INFO"], ["WARNING"], ["ERROR"]]
    trigger.refresh_from_db()
    assert trigger.status == "failed"
    assert trigger.successful is False
    assert trigger.date_processed is not None
    assert trigger.number_of_tries == 3
    # A failed trigger is final: processing it again does nothing.
    trigger.process()
    assert TriggerAttempt.objects.filter(trigger=trigger).count() == 3


# --- texts that every database stores ----------------------------------------------------------


def test_storable__escapes_nul_and_lone_surrogates_only():
    assert storable("caf\u00e9 \U0001f600") == "caf\u00e9 \U0001f600"
    assert storable("a\x00b\ud800c") == "a\\x00b\\ud800c"


def test_describe__the_message_or_a_placeholder_when_it_cannot_be_read():
    assert describe(ValueError("boom\x00")) == "boom\\x00"
    assert describe(UnprintableError()) == "<the message could not be read: RuntimeError>"


# --- an Attempt ------------------------------------------------------------------------------


def failure(trigger=None, exc=None, **kwargs):
    """A failed try of ``trigger`` (an unsaved FailingTrigger) raising ``exc`` (ValueError)."""
    trigger = trigger or FailingTrigger(pk=1)
    return Attempt.failure(trigger, exc or ValueError("boom"), timezone.now(), **kwargs)


def test_failure__a_traceback_that_cannot_be_formatted_is_left_empty(monkeypatch):
    def cannot(exc):
        raise RuntimeError("no traceback for you")

    monkeypatch.setattr(attempts.traceback, "format_exception", cannot)
    attempt = failure()
    assert (attempt.error_class, attempt.error_message, attempt.traceback) == (
        "ValueError",
        "boom",
        "",
    )


def test_failure__an_exception_without_a_message_is_named_by_its_class():
    assert failure(exc=KeyError()).error_line() == "KeyError"
    assert failure().error_line() == "ValueError: boom"


def test_number__the_try_after_those_recorded_within_the_column():
    assert failure(FailingTrigger(number_of_tries=None)).number == 1
    assert failure(FailingTrigger(number_of_tries=2)).number == 3
    assert failure(FailingTrigger(number_of_tries=lifecycle.MAX_TRIES_COUNT)).number == (
        lifecycle.MAX_TRIES_COUNT
    )


def test_gives_up__only_a_failure_at_the_budget_or_told_to(settings):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 3
    now = timezone.now()
    assert not Attempt(FailingTrigger(number_of_tries=9), Outcome.SUCCESS, now, now).gives_up
    assert not Attempt(FailingTrigger(number_of_tries=9), Outcome.LATER, now, now).gives_up
    assert not failure(FailingTrigger(number_of_tries=1)).gives_up
    assert failure(FailingTrigger(number_of_tries=2)).gives_up
    assert failure(FailingTrigger(number_of_tries=0), give_up=True).gives_up


def test_gives_up__a_budget_that_cannot_be_read_is_the_setting(settings, caplog, monkeypatch):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 2

    def broken(self):
        raise ZeroDivisionError

    monkeypatch.setattr(FailingTrigger, "get_max_tries", broken)
    assert failure(FailingTrigger(pk=1, number_of_tries=1)).gives_up
    assert "get_max_tries() of failing #1 failed; using the setting" in caplog.text


def test_transition__of_each_outcome(settings):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 2
    now = timezone.now()
    trigger = FailingTrigger(pk=1, number_of_tries=0)
    succeeded = Attempt(trigger, Outcome.SUCCESS, now, now)
    assert succeeded.transition(now) == (lifecycle.SUCCEED, {"now": now})
    transition, params = failure(trigger).transition(now)
    assert transition is lifecycle.RETRY
    assert (params["tries"], params["error"], params["when"]) == (1, "ValueError: boom", now)
    transition, params = failure(FailingTrigger(pk=1, number_of_tries=1)).transition(now)
    assert (transition, params["tries"], params["now"]) == (lifecycle.GIVE_UP, 2, now)


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        (None, "now"),
        (timedelta(hours=-1), "now"),
        (timedelta(hours=1), "asked"),
        ("latest", "latest"),
    ],
)
def test_transition__later_is_never_in_the_past_nor_after_the_latest_time(asked, expected):
    now = timezone.now()
    when = LATEST if asked == "latest" else None if asked is None else now + asked
    later = Attempt(NoopTrigger(pk=1), Outcome.LATER, now, now, process_after=when)
    transition, params = later.transition(now)
    assert transition is lifecycle.LATER
    assert params["when"] == {"now": now, "asked": when, "latest": LATEST}[expected]


def test_retry_delay__an_override_returning_no_timedelta_is_a_minute(caplog, monkeypatch):
    monkeypatch.setattr(FailingTrigger, "get_retry_delay", lambda self, tries: 30)
    assert failure().retry_delay() == timedelta(minutes=1)
    assert "get_retry_delay() returned 30, not a timedelta" in caplog.text


def test_retry_delay__within_zero_and_the_longest_delay(monkeypatch):
    monkeypatch.setattr(FailingTrigger, "get_retry_delay", lambda self, tries: timedelta(-5))
    assert failure().retry_delay() == timedelta()
    monkeypatch.setattr(FailingTrigger, "get_retry_delay", lambda self, tries: timedelta(9999))
    assert failure().retry_delay() == lifecycle.MAX_RETRY_DELAY


@pytest.mark.parametrize(
    ("tries", "level"), [(0, logging.INFO), (2, logging.WARNING), (4, logging.ERROR)]
)
def test_log_failure__info_then_warning_then_error(settings, caplog, tries, level):
    settings.DJTRIGGERS_TRIES_BEFORE_WARNING = 3
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 5
    caplog.set_level(logging.INFO, logger="djtriggers")
    failure(FailingTrigger(pk=7, number_of_tries=tries)).log_failure()
    [record] = caplog.records
    assert record.levelno == level
    message = f"Processing of failing 7 raised a ValueError (try nr. {tries + 1})"
    assert record.getMessage() == message
    assert (record.exc_info is not None) == (level > logging.INFO)


def test_log_failure__nothing_for_a_success(caplog):
    now = timezone.now()
    Attempt(NoopTrigger(pk=1), Outcome.SUCCESS, now, now).log_failure()
    assert not caplog.records


def test_log_failure__a_logging_handler_that_fails_does_not_fail_the_group(caplog):
    with mock.patch.object(attempts.log, "log", side_effect=RuntimeError("handler down")):
        failure(FailingTrigger(pk=7)).log_failure()
    assert "(the exception could not be logged)" in caplog.text


def test_row__a_long_traceback_keeps_its_end(settings):
    settings.DJTRIGGERS_TRACEBACK_MAX_CHARS = 100
    attempt = failure()
    attempt.traceback = "x" * 50 + "y" * 100
    row = attempt.row("w" * 150, connection)
    assert row[2] == "w" * 100
    assert row[-1] == "… (cut)\n" + "y" * 100


# --- running a try ---------------------------------------------------------------------------


def test_time_limit__none_outside_the_main_thread(settings):
    settings.DJTRIGGERS_TIMEOUT_SECONDS = 0.05
    finished = []

    def slow():
        with time_limit(NoopTrigger()):
            time.sleep(0.2)
        finished.append(True)

    thread = threading.Thread(target=slow)
    thread.start()
    thread.join()
    assert finished == [True]


def test_time_limit__interrupts_a_try_and_restores_the_alarm(settings):
    import signal

    settings.DJTRIGGERS_TIMEOUT_SECONDS = 0.05
    before = signal.getsignal(signal.SIGALRM)
    with (
        pytest.raises(TriggerTimeout, match=r"longer than its timeout of 0\.05s"),
        time_limit(NoopTrigger()),
    ):
        time.sleep(5)
    assert signal.getsignal(signal.SIGALRM) == before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_insert_attempt_rows__many_rows_in_chunks():
    triggers = make(INSERT_CHUNK + 5)
    now = timezone.now()
    rows = [Attempt(t, Outcome.SUCCESS, now, now) for t in triggers]
    insert_attempt_rows(rows, "w1", "default")
    assert TriggerAttempt.objects.filter(worker="w1", number=1).count() == INSERT_CHUNK + 5


def test_save_attempts__nothing_to_save_is_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        attempts.save_attempts([], "w1", "default")


def test_run_attempt__a_try_without_queries_opens_no_savepoint():
    trigger = due()
    attempt = attempts.run_attempt(trigger, {}, None, "default")
    assert (attempt.outcome, attempt.savepoint) == (Outcome.SUCCESS, False)
