"""The Trigger model (djtriggers.models): typing, sources, status, retries, operations, rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from djtriggers import lifecycle
from djtriggers.exceptions import ProcessError, TriggerDataMissing, UnknownTriggerType
from djtriggers.loggers.base import TriggerLogger
from djtriggers.loggers.python_logging import PythonLogger
from djtriggers.models import OperatorAction, Trigger, TriggerAttempt, TriggerResult
from tests.factories import advance, due, failed, worker
from tests.testapp.models import BreakfastTrigger, FailingTrigger, NoopTrigger, PayBill

pytestmark = pytest.mark.django_db


def test_new_instance__gets_its_typed_as_trigger_type():
    assert BreakfastTrigger().trigger_type == "breakfast"


def test_typed__defaults_to_app_label_and_model_name(user):
    assert PayBill.typed == "testapp.paybill"
    assert PayBill.objects.create(amount=1, recipient=user).trigger_type == "testapp.paybill"


def test_repr_and_str():
    trigger = NoopTrigger.objects.create()
    assert repr(trigger) == f"Trigger {trigger.pk} of type noop (not processed)"
    assert str(trigger) == f"noop #{trigger.pk}"


def test_source__set_and_get():
    trigger = BreakfastTrigger()
    trigger.set_source("auth.user", 12, "x")
    assert trigger.source == "auth.user$12$x"
    assert trigger.get_source() == ("auth.user", "12", "x")
    assert BreakfastTrigger().get_source() == ()


def test_delayed_processing__as_in_the_seed_readme():
    trigger = BreakfastTrigger()
    trigger.process_after = timezone.now() + timedelta(hours=8)
    trigger.save()
    assert trigger.status == "pending"
    assert list(Trigger.objects.pending()) == [trigger]
    assert not Trigger.objects.due().exists()


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


def test_process__saves_an_unsaved_trigger():
    trigger = BreakfastTrigger()
    trigger.process()
    assert trigger.pk is not None
    assert trigger.status == "processed"


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


def test_instance_operations__report_whether_they_changed_the_row(one_of_each):
    processed = one_of_each["processed"]
    assert processed.cancel() is False
    assert processed.status == "processed"
    due = one_of_each["due"]
    assert due.cancel() is True
    assert due.status == "cancelled"
    assert due.reprocess() is True
    assert due.status == "due"
    when = timezone.now() + timedelta(hours=2)
    assert due.reschedule(when) is True
    assert due.status == "pending" and due.process_after == when


def test_instance_operations__refresh_a_stale_instance(one_of_each):
    stale = Trigger.objects.get(pk=one_of_each["due"].pk)
    worker_claims = (lifecycle.CLAIM, {"worker": "w", "until": timezone.now()})
    advance(Trigger.objects.get(pk=stale.pk), worker_claims)
    assert stale.cancel() is False
    assert stale.status == "running"


def test_process__the_base_class_says_what_to_implement():
    with pytest.raises(NotImplementedError, match=r"NoopTrigger must implement _process\(dict"):
        Trigger._process(NoopTrigger(), {})


def test_typed__the_base_class_has_none():
    assert Trigger.typed is None
    assert Trigger().trigger_type == ""


def test_typed__an_explicit_trigger_type_is_kept():
    assert BreakfastTrigger(trigger_type="other").trigger_type == "other"


def test_as_typed__an_instance_of_its_own_class_is_itself():
    trigger = BreakfastTrigger.objects.create()
    assert trigger.as_typed() is trigger


def test_as_typed__a_proxy_gets_its_own_logger(settings):
    trigger = Trigger.objects.get(pk=NoopTrigger.objects.create().pk)
    assert isinstance(trigger.logger, TriggerLogger)  # cached on the instance
    typed = trigger.as_typed()
    assert type(typed) is NoopTrigger
    assert "logger" not in typed.__dict__


def test_as_typed__a_subclass_row_deleted_says_its_data_is_lost(user):
    bill = PayBill.objects.create(amount=1, recipient=user)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {PayBill._meta.db_table} WHERE trigger_ptr_id = %s", [bill.pk])
    with pytest.raises(TriggerDataMissing, match="has lost its own data") as error:
        Trigger.objects.get(pk=bill.pk).as_typed()
    assert (error.value.trigger_id, error.value.trigger_class) == (bill.pk, PayBill)


def test_status__of_an_unsaved_trigger_follows_process_after():
    assert NoopTrigger().status == "due"
    assert NoopTrigger(process_after=None).status == "due"
    assert NoopTrigger(process_after=timezone.now() + timedelta(minutes=1)).status == "pending"


def test_repr__of_a_processed_trigger():
    trigger = failed()
    assert repr(trigger) == f"Trigger {trigger.pk} of type noop (processed)"


def test_logger__the_classes_logger_or_one_that_does_nothing(monkeypatch):
    assert type(NoopTrigger().logger) is TriggerLogger
    monkeypatch.setattr(NoopTrigger, "_logger_class", "PythonLogger")
    assert type(NoopTrigger().logger) is PythonLogger


def test_get_timeout__the_classes_own_or_the_setting(settings, monkeypatch):
    assert NoopTrigger().get_timeout() is None
    settings.DJTRIGGERS_TIMEOUT_SECONDS = 30.0
    assert NoopTrigger().get_timeout() == 30.0
    monkeypatch.setattr(NoopTrigger, "timeout_seconds", 2.5)
    assert NoopTrigger().get_timeout() == 2.5


def test_get_max_tries__the_setting_by_default(settings):
    settings.DJTRIGGERS_TRIES_BEFORE_ERROR = 7
    assert NoopTrigger().get_max_tries() == 7


def test_reschedule__a_time_out_of_range_changes_nothing():
    trigger = failed()
    with pytest.raises(ValueError, match="too far ahead"):
        trigger.reschedule(timezone.now().replace(year=9999, month=12, day=31))
    assert Trigger.objects.get(pk=trigger.pk).status == "failed"


# --- the other models ----------------------------------------------------------------------


def test_trigger_result__reads_as_its_result():
    result = TriggerResult.objects.create(trigger=due(), result="paid 3")
    assert (str(result), repr(result)) == ("paid 3", "paid 3")


def test_trigger_attempt__says_which_try_and_how_long_it_took():
    trigger = due()
    start = timezone.now()
    attempt = TriggerAttempt.objects.create(
        trigger=trigger,
        number=2,
        started_at=start,
        finished_at=start + timedelta(seconds=3),
        outcome="failure",
    )
    assert str(attempt) == f"{trigger.pk} try 2: failure"
    assert attempt.duration == timedelta(seconds=3)


def test_worker__reads_as_its_name():
    assert str(worker("host:1:abc")) == "host:1:abc"


def test_operator_action__says_what_who_and_when(user):
    when = timezone.now().replace(year=2031, month=1, day=2, hour=3, minute=4)
    action = OperatorAction.objects.create(kind="cancel", user=user, created_at=when)
    assert str(action) == "Cancel by bob at 2031-01-02 03:04"
    anonymous = OperatorAction.objects.create(kind="process", created_at=when)
    assert str(anonymous) == "Process now by someone at 2031-01-02 03:04"
