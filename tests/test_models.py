"""The seed README's API: typed subclasses, process(), process_after, sources, status."""

from datetime import timedelta

import pytest
from django.utils import timezone

from djtriggers.exceptions import ProcessError, ProcessLaterError, UnknownTriggerType
from djtriggers.models import Trigger, TriggerAttempt, TriggerResult
from tests.testapp.models import (
    BreakfastTrigger,
    FailingTrigger,
    LaterTrigger,
    Meal,
    NoopTrigger,
    PayBill,
)

pytestmark = pytest.mark.django_db


def test_typed_manager__returns_only_its_type(user):
    BreakfastTrigger.objects.create()
    PayBill.objects.create(amount=3, recipient=user)
    assert BreakfastTrigger.objects.count() == 1
    assert PayBill.objects.count() == 1
    assert Trigger.objects.count() == 2


def test_new_instance__gets_its_typed_as_trigger_type():
    assert BreakfastTrigger().trigger_type == "breakfast"


def test_typed__defaults_to_app_label_and_model_name(user):
    assert PayBill.typed == "testapp.paybill"
    assert PayBill.objects.create(amount=1, recipient=user).trigger_type == "testapp.paybill"


def test_as_typed__turns_a_base_row_into_its_proxy_class():
    trigger = BreakfastTrigger.objects.create(source="kitchen")
    typed = Trigger.objects.get(pk=trigger.pk).as_typed()
    assert type(typed) is BreakfastTrigger
    assert typed.source == "kitchen"


def test_as_typed__loads_multi_table_fields(user):
    bill = PayBill.objects.create(amount=42, recipient=user)
    typed = Trigger.objects.get(pk=bill.pk).as_typed()
    assert isinstance(typed, PayBill)
    assert typed.amount == 42


def test_as_typed__unknown_type_raises_a_clear_error():
    trigger = Trigger.objects.create(trigger_type="renamed")
    with pytest.raises(UnknownTriggerType, match="No Trigger subclass has typed = 'renamed'"):
        trigger.as_typed()


def test_process__runs_and_marks_processed():
    trigger = BreakfastTrigger.objects.create()
    trigger.process()
    trigger.refresh_from_db()
    assert trigger.successful is True
    assert trigger.date_processed is not None
    assert trigger.status == "processed"
    assert Meal.objects.filter(trigger_id=trigger.pk).count() == 1


def test_process__through_the_base_class_runs_the_subclass(user):
    bill = PayBill.objects.create(amount=5, recipient=user)
    Trigger.objects.get(pk=bill.pk).process(logger="DatabaseLogger")
    assert TriggerResult.objects.get(trigger=bill).result == "paid 5 to bob"


def test_process__already_processed_does_nothing():
    trigger = BreakfastTrigger.objects.create()
    trigger.process()
    trigger.process()
    assert Meal.objects.count() == 1
    assert TriggerAttempt.objects.count() == 1


def test_process__force_runs_a_processed_trigger_again():
    trigger = NoopTrigger.objects.create()
    trigger.process()
    trigger.process(force=True)
    assert TriggerAttempt.objects.filter(trigger=trigger, outcome="success").count() == 2


def test_process__not_due_raises_process_later():
    later = timezone.now() + timedelta(hours=8)
    trigger = BreakfastTrigger.objects.create(process_after=later)
    with pytest.raises(ProcessLaterError) as info:
        trigger.process()
    assert info.value.process_after == later
    assert Meal.objects.count() == 0


def test_process__force_runs_a_trigger_that_is_not_due():
    trigger = BreakfastTrigger.objects.create(process_after=timezone.now() + timedelta(hours=8))
    trigger.process(force=True)
    assert trigger.status == "processed"


def test_process__failure_is_recorded_and_raised_as_process_error():
    trigger = FailingTrigger.objects.create()
    with pytest.raises(ProcessError) as info:
        trigger.process()
    assert isinstance(info.value.__cause__, ValueError)
    assert isinstance(info.value.exception, ValueError)
    trigger.refresh_from_db()
    assert trigger.number_of_tries == 1
    assert trigger.last_error == f"ValueError: no coffee for trigger {trigger.pk}"
    assert trigger.successful is None
    assert trigger.date_processed is None
    # The failed try's writes are rolled back.
    assert Meal.objects.count() == 0
    attempt = TriggerAttempt.objects.get(trigger=trigger)
    assert attempt.outcome == "failure"
    assert attempt.exception_class == "ValueError"
    assert "Traceback" in attempt.traceback and "no coffee" in attempt.traceback


def test_process__seed_readme_error_handling_catches_failures():
    trigger = FailingTrigger.objects.create()
    reported = []
    try:
        trigger.process()
    except ProcessError as e:
        reported.append(e)
    assert reported


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


def test_process__retry_waits_with_backoff(settings):
    settings.DJTRIGGERS_RETRY_DELAY_SECONDS = 60
    settings.DJTRIGGERS_RETRY_BACKOFF = 2
    trigger = FailingTrigger.objects.create()
    before = timezone.now()
    with pytest.raises(ProcessError):
        trigger.process()
    assert trigger.status == "pending"
    assert timedelta(seconds=59) < trigger.process_after - before < timedelta(seconds=62)
    assert trigger.get_retry_delay(3) == timedelta(seconds=240)


def test_retry_delay__jitter_and_cap(settings):
    settings.DJTRIGGERS_RETRY_DELAY_SECONDS = 10
    settings.DJTRIGGERS_RETRY_JITTER = 0.5
    settings.DJTRIGGERS_RETRY_MAX_DELAY_SECONDS = 100
    delays = {NoopTrigger().get_retry_delay(10).total_seconds() for _ in range(50)}
    assert all(50 <= d <= 150 for d in delays)
    assert len(delays) > 1


def test_retry_delay__per_class_override(settings):
    class Quick(NoopTrigger):
        class Meta:
            proxy = True
            app_label = "testapp"

        typed = "quick-test-only"
        retry_delay_seconds = 1
        max_tries = 9

    assert Quick().get_retry_delay(1) == timedelta(seconds=1)
    assert Quick().get_max_tries() == 9


def test_process__process_later_from_process_reschedules_without_a_try():
    when = timezone.now() + timedelta(minutes=5)
    trigger = LaterTrigger.objects.create()
    trigger.process(dictionary={"when": when})
    trigger.refresh_from_db()
    assert trigger.process_after == when
    assert trigger.number_of_tries == 0
    assert trigger.status == "pending"


def test_process__saves_an_unsaved_trigger():
    trigger = BreakfastTrigger()
    trigger.process()
    assert trigger.pk is not None
    assert trigger.status == "processed"


def test_delayed_processing__as_in_the_seed_readme():
    trigger = BreakfastTrigger()
    trigger.process_after = timezone.now() + timedelta(hours=8)
    trigger.save()
    assert trigger.status == "pending"
    assert list(Trigger.objects.pending()) == [trigger]
    assert not Trigger.objects.due().exists()


def test_source__set_and_get():
    trigger = BreakfastTrigger()
    trigger.set_source("auth.user", 12, "x")
    assert trigger.source == "auth.user$12$x"
    assert trigger.get_source() == ("auth.user", "12", "x")
    assert BreakfastTrigger().get_source() == ()


def test_get_unprocessed_triggers():
    waiting = BreakfastTrigger.objects.create()
    BreakfastTrigger.objects.create().process()
    assert list(BreakfastTrigger.objects.get_unprocessed_triggers()) == [waiting]


def test_database_serialize_logger__one_line_per_item():
    from djtriggers.loggers.database import DatabaseSerializeLogger

    trigger = NoopTrigger.objects.create()
    DatabaseSerializeLogger().log_result(trigger, [1, "two"])
    DatabaseSerializeLogger().log_result(trigger, None)
    assert [r.result for r in TriggerResult.objects.all()] == ["1\ntwo"]


def test_unknown_logger__clear_error():
    with pytest.raises(ValueError, match="add the dotted path of its class to DJTRIGGERS_LOGGERS"):
        NoopTrigger.objects.create().process(logger="Nope")


def test_repr_and_str():
    trigger = NoopTrigger.objects.create()
    assert repr(trigger) == f"Trigger {trigger.pk} of type noop (not processed)"
    assert str(trigger) == f"noop #{trigger.pk}"


def test_failures_alike_share_a_fingerprint():
    from djtriggers.fingerprints import fingerprint, normalize

    first, second = FailingTrigger.objects.create(), FailingTrigger.objects.create()
    for trigger in (first, second):
        with pytest.raises(ProcessError):
            trigger.process()
    assert first.error_fingerprint == second.error_fingerprint != ""
    assert normalize("user 42 'bob' at 0xdeadbeef") == "user # # at #"
    assert fingerprint("a", "ValueError", "x 1") != fingerprint("b", "ValueError", "x 1")
    first.reprocess()
    assert first.error_fingerprint == ""
