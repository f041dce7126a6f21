"""Triggers used by the tests: the seed README's examples and a few misbehaving ones."""

from django.contrib.auth.models import User
from django.db import models

from djtriggers.exceptions import ProcessLaterError
from djtriggers.models import Trigger


class Meal(models.Model):
    """Written by BreakfastTrigger, to see that a trigger's writes commit with it."""

    trigger_id = models.BigIntegerField(unique=True)
    eaten = models.CharField(max_length=50)


class BreakfastTrigger(Trigger):
    class Meta:
        # There is no trigger specific data so make a proxy model.
        proxy = True

    typed = "breakfast"

    def _process(self, dictionary={}):  # noqa: B006  (the seed's signature)
        Meal.objects.create(trigger_id=self.pk, eaten="toast")
        return "eaten"


class PayBill(Trigger):
    class Meta:
        # Trigger-specific data needs a table of its own.
        proxy = False

    amount = models.IntegerField()
    recipient = models.ForeignKey(User, on_delete=models.CASCADE)

    def _process(self, dictionary={}):  # noqa: B006
        if self.source and self.source.startswith("sleep:"):  # to be caught mid-run
            import time

            time.sleep(float(self.source.removeprefix("sleep:")))
        return f"paid {self.amount} to {self.recipient.username}"


class FailingTrigger(Trigger):
    class Meta:
        proxy = True

    typed = "failing"

    def _process(self, dictionary):
        Meal.objects.create(trigger_id=self.pk, eaten="half")  # rolled back with the failure
        raise ValueError(f"no coffee for trigger {self.pk}")


class LaterTrigger(Trigger):
    class Meta:
        proxy = True

    typed = "later"

    def _process(self, dictionary):
        raise ProcessLaterError(dictionary["when"])


class NoopTrigger(Trigger):
    class Meta:
        proxy = True

    typed = "noop"

    def _process(self, dictionary):
        return None


class Run(models.Model):
    """One committed run of a CountingTrigger: the test for exactly-once database effects."""

    trigger_id = models.BigIntegerField(db_index=True)
    pid = models.IntegerField()


class CountingTrigger(Trigger):
    """Records each run; sleeps ``source`` seconds (a float) if set, to be caught mid-run."""

    class Meta:
        proxy = True

    typed = "counting"

    def _process(self, dictionary):
        import os
        import time

        Run.objects.create(trigger_id=self.pk, pid=os.getpid())
        log = os.environ.get("DJTRIGGERS_TEST_SIDE_EFFECTS")
        if log:  # an external side effect: at-least-once
            with open(log, "a") as f:
                f.write(f"{self.pk}\n")
        if self.source:
            time.sleep(float(self.source))


class OnCommitTrigger(Trigger):
    """Registers an on_commit callback returning its pk; fails when source is "fail"."""

    class Meta:
        proxy = True

    typed = "on_commit"

    def _process(self, dictionary):
        from django.db import transaction

        pk = self.pk
        transaction.on_commit(lambda: pk)
        if self.source == "fail":
            raise RuntimeError("failing after on_commit")


class UnprintableError(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")


class _FailingLogger:
    def log_result(self, trigger, message, level=None):
        pass

    def log_message(self, trigger, message, level=None):
        raise OSError("the log server is down")


class PoisonTrigger(Trigger):
    """Misbehaves as its ``source`` says, after writing a Run row (rolled back with the try)."""

    class Meta:
        proxy = True

    typed = "poison"
    max_tries = 3

    def _process(self, dictionary):
        import os
        import signal

        Run.objects.create(trigger_id=self.pk, pid=os.getpid())
        how = self.source
        if how == "exit":
            raise SystemExit(3)
        if how == "interrupt":
            raise KeyboardInterrupt
        if how == "generator":
            raise GeneratorExit
        if how == "unprintable":
            raise UnprintableError
        if how == "nul":
            raise ValueError("a NUL \x00 and a lone surrogate \ud800")
        if how == "badlogger":
            raise ValueError("and the logger fails too")
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        return "fine"

    @property
    def logger(self):
        return _FailingLogger() if self.source == "badlogger" else super().logger


class BadDelayTrigger(Trigger):
    """Fails, and its retry delay override fails too."""

    class Meta:
        proxy = True

    typed = "failing_delay"

    def _process(self, dictionary):
        raise ValueError("down")

    def get_retry_delay(self, tries):
        raise ZeroDivisionError("oops")


class ScriptedError(Exception):
    """An exception whose message cannot even be read: ``str()`` raises."""

    def __str__(self):
        raise RuntimeError("this message cannot be read")


class ScriptedTrigger(Trigger):
    """Writes a Run row (committed only with its success), then does what ``source`` says.

    ok: returns; fail: ValueError; later: ProcessLaterError in 10 minutes;
    exit: SystemExit(3); interrupt: KeyboardInterrupt; badstr: ScriptedError.
    """

    class Meta:
        proxy = True

    typed = "scripted"

    def _process(self, dictionary):
        import os
        from datetime import timedelta

        from django.utils import timezone

        Run.objects.create(trigger_id=self.pk, pid=os.getpid())
        how = self.source
        if how == "fail":
            raise ValueError(f"scripted failure of {self.pk}")
        if how == "later":
            raise ProcessLaterError(timezone.now() + timedelta(minutes=10))
        if how == "exit":
            raise SystemExit(3)
        if how == "interrupt":
            raise KeyboardInterrupt
        if how == "badstr":
            raise ScriptedError
        return "ok"


class Span(models.Model):
    """When one run of a LimitedTrigger or SpanTrigger started and ended (time.time())."""

    trigger_id = models.BigIntegerField(db_index=True)
    trigger_type = models.CharField(max_length=100)
    pid = models.IntegerField()
    started = models.FloatField()
    ended = models.FloatField()


def _record_span(trigger):
    import os
    import time

    started = time.time()
    if trigger.source:
        time.sleep(float(trigger.source))
    Span.objects.create(
        trigger_id=trigger.pk,
        trigger_type=trigger.trigger_type,
        pid=os.getpid(),
        started=started,
        ended=time.time(),
    )


class LimitedTrigger(Trigger):
    """At most two run at once; records its span, sleeping ``source`` seconds."""

    class Meta:
        proxy = True

    typed = "limited"
    max_concurrency = 2

    def _process(self, dictionary):
        _record_span(self)


class SpanTrigger(Trigger):
    """Records its span like LimitedTrigger, without a limit."""

    class Meta:
        proxy = True

    typed = "span"

    def _process(self, dictionary):
        _record_span(self)


class UrgentTrigger(Trigger):
    """A class whose triggers run before the default ones."""

    class Meta:
        proxy = True

    typed = "urgent"
    default_priority = 1

    def _process(self, dictionary):
        return None


class UniqueSourceTrigger(Trigger):
    """At most one unfinished trigger per source."""

    class Meta:
        proxy = True

    typed = "unique_source"
    unique_key = True

    def _process(self, dictionary):
        return None


class UniqueBill(PayBill):
    """A PayBill that is never due twice at once for the same recipient and amount."""

    class Meta:
        proxy = True

    typed = "unique_bill"
    unique_key = ("recipient", "amount")


class LeapDayTrigger(Trigger):
    """Declares a schedule that never comes during a test run (noon on 29 February)."""

    class Meta:
        proxy = True

    typed = "leap_day"
    schedule = "0 12 29 2 *"
    schedule_timezone = "Europe/Brussels"

    def _process(self, dictionary):
        return "a leap day"
