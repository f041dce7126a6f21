"""Sample triggers in every status and of every demo type, for `make demo`."""

import contextlib
import logging
from datetime import timedelta

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from demo.triggers_demo.models import (
    BreakfastTrigger,
    FlakyWebhook,
    FraudAlert,
    Heartbeat,
    MonthlyReport,
    Newsletter,
    PartnerSync,
    PayBill,
    RateLimitedExport,
    SyncCustomer,
    WaitForStock,
)
from djtriggers import controls, cron, lifecycle, scheduler, schedules
from djtriggers.conf import settings as djtriggers_settings
from djtriggers.exceptions import ProcessError
from djtriggers.models import PausedType, Schedule, State, Trigger, TriggerAttempt


class Command(BaseCommand):
    help = (
        "Load sample triggers: pending, due, running, failed, processed and cancelled ones "
        "of every demo type. Does nothing if there are triggers already, unless --reset."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Delete every trigger first, then load."
        )

    def handle(self, *args, **options):
        existing = Trigger._base_manager.count()
        if existing and not options["reset"]:
            self.stdout.write(
                f"Kept the {existing} triggers already there (--reset replaces them with samples)."
            )
            return
        # Quiet: the failed samples log a traceback per try.
        with transaction.atomic(), quiet("djtriggers", unless=options["verbosity"] > 1):
            Trigger._base_manager.all().delete()  # subclass rows, attempts and results too
            PausedType.objects.all().delete()
            Schedule.objects.all().delete()
            load_samples()
        counts = Trigger.objects.status_counts()
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        self.stdout.write(f"Loaded {sum(counts.values())} sample triggers: {summary}.")


def load_samples():
    now = timezone.now()
    landlord = recipient("landlord")
    energy = recipient("energy-co")

    # Processed: run here, so they have attempts like any processed trigger.
    for table in range(1, 5):
        BreakfastTrigger.objects.create(source=f"kitchen$table-{table}").process()
    for amount, to in ((40, energy), (120, landlord), (75, energy)):
        PayBill.objects.create(amount=amount, recipient=to).process()

    load_history(now, energy)

    # Failed: bills the balance cannot cover, tried until the tries ran out. The
    # first is bad data, an invoice of 120.00 typed in cents: on its admin page,
    # correct the amount to 120 and "Save and reprocess" (the worker pays it).
    for source, amount in (("invoice$2026-118 (120.00)", 12000), (None, 2500), (None, 4800)):
        bill = PayBill.objects.create(amount=amount, recipient=landlord, source=source)
        while bill.state != State.FAILED:
            with contextlib.suppress(ProcessError):
                bill.process(force=True)  # force: skip the retry delay
        # Tried a minute apart, the last a minute ago, as a worker would have.
        for attempt in bill.attempts.all():
            when = now - timedelta(minutes=bill.number_of_tries - attempt.number + 1)
            TriggerAttempt.objects.filter(pk=attempt.pk).update(started_at=when, finished_at=when)
        received = now - timedelta(minutes=bill.number_of_tries + 1)
        PayBill.objects.filter(pk=bill.pk).update(date_received=received, process_after=received)

    # Cancelled.
    for days in (1, 2):
        PayBill.objects.create(
            amount=60, recipient=energy, process_after=now + timedelta(days=days)
        ).cancel()
    BreakfastTrigger.objects.create(source="kitchen$room-service").cancel()

    # Running: claimed by a worker that crashed; the demo worker takes it over
    # once the lease ends, two minutes from now.
    held = BreakfastTrigger.objects.create(
        source="kitchen$table-9", process_after=now - timedelta(minutes=5)
    )
    lifecycle.CLAIM.apply(
        Trigger.objects.filter(pk=held.pk),
        worker="crashed-worker:4242:demo",
        until=now + timedelta(minutes=2),
    )

    # Dispatched: claimed for a task (DJTRIGGERS_DISPATCH = "celery" or "tasks") that has
    # not started them yet. The first was published eight minutes ago and its message
    # was lost: past its deadline, the next sweep publishes it again (here the demo
    # worker, which runs triggers itself, takes it over; the others at their deadline).
    deadline = timedelta(seconds=djtriggers_settings.DISPATCH_DEADLINE_SECONDS)
    for source, published in (
        ("customers$fr", timedelta(minutes=8)),
        ("kitchen$table-11", timedelta(minutes=1)),
        ("kitchen$table-12", timedelta(seconds=20)),
    ):
        model = Newsletter if source.startswith("customers") else BreakfastTrigger
        sent = model.objects.create(source=source, process_after=now - published)
        lifecycle.CLAIM.apply(
            Trigger.objects.filter(pk=sent.pk),
            worker=f"{lifecycle.DISPATCHED}demo-{sent.pk}",
            until=now - published + deadline,
        )

    # Due: the worker gets these at once. Flaky webhooks retry and some fail for
    # good; stock waits reschedule themselves; the last bill has one try left.
    for order in range(1001, 1007):
        FlakyWebhook.objects.create(source=f"order${order}")
    for sku in ("sku-17", "sku-23", "sku-42"):
        WaitForStock.objects.create(source=sku, process_after=now - timedelta(minutes=1))
    MonthlyReport.objects.create(source="sales$last-month")
    BreakfastTrigger.objects.create(source="kitchen$table-5")
    PayBill.objects.create(amount=30, recipient=energy, process_after=now - timedelta(hours=1))
    last_try = PayBill.objects.create(amount=1500, recipient=landlord)
    last_try.number_of_tries = last_try.get_max_tries() - 1
    last_try.save(update_fields=["number_of_tries"])
    # A row whose class was removed from the code: the worker fails it with a hint.
    Trigger.objects.create(trigger_type="legacy_sms_reminder", source="customer$77")

    # Paused: the partner's API is down, so an operator paused the type; its due
    # triggers pile up (see the dashboard's banner) until someone resumes it.
    for order in range(2001, 2009):
        PartnerSync.objects.create(
            source=f"order${order}", process_after=now - timedelta(minutes=40 - order % 10)
        )
    controls.pause(PartnerSync, reason="Partner API down since 03:10 (incident #4711)")

    # Limited: at most two exports run at once; the others wait their turn.
    for batch in range(1, 7):
        RateLimitedExport.objects.create(source=f"export$batch-{batch}")

    # Priorities (0 runs first, 9 last): the alerts run before everything else due,
    # the newsletters after it; one breakfast was given a priority of its own.
    for card in ("card$4417", "card$9012"):
        FraudAlert.objects.create(source=card)
    for segment in ("customers$nl", "customers$be", "customers$de"):
        Newsletter.objects.create(source=segment, process_after=now - timedelta(minutes=10))
    BreakfastTrigger.objects.create(source="kitchen$vip-table", priority=1)

    # One trigger per key: a second sync of customer 42 returns the one that waits;
    # customer 7's finished sync does not block a new one.
    SyncCustomer.objects.create_unique(
        source="customer$42", process_after=now + timedelta(minutes=2)
    )
    SyncCustomer.objects.create_unique(source="customer$42")
    SyncCustomer.objects.create_unique(source="customer$7")[0].cancel()
    SyncCustomer.objects.create_unique(
        source="customer$7", process_after=now + timedelta(minutes=4)
    )

    # Scheduled: Heartbeat declares "*/5 * * * *" (Brussels time). Its last slot ran
    # here, so its schedule shows a last run and outcome; the worker makes the next.
    schedules.sync()
    beat = Schedule.objects.get(trigger_type=Heartbeat.typed)
    beat.next_run_at = cron.latest_slot(beat.expression, beat.time_zone, now)
    beat.save(update_fields=["next_run_at"])
    Heartbeat.objects.get(pk=scheduler.fire(beat, now=now)).process()
    # An operator's schedule (added in the admin), disabled for now, with a reason.
    report = Schedule.objects.create(
        trigger_type=MonthlyReport.typed,
        expression="0 6 1 * *",
        time_zone="Europe/Brussels",
        next_run_at=cron.next_slot("0 6 1 * *", "Europe/Brussels", now),
    )
    schedules.disable(report, reason="Finance: no reports until the year-end audit is done")

    # Pending: a steady flow over the next minutes, and some far ahead.
    for i in range(1, 16):
        BreakfastTrigger.objects.create(
            source=f"kitchen$order-{i}", process_after=now + timedelta(seconds=20 * i)
        )
    for minutes in (1, 3):
        MonthlyReport.objects.create(
            source=f"stock$in-{minutes}-min", process_after=now + timedelta(minutes=minutes)
        )
    FlakyWebhook.objects.create(source="order$1010", process_after=now + timedelta(seconds=45))
    for delay, amount in ((timedelta(hours=8), 900), (timedelta(days=7), 950)):
        PayBill.objects.create(amount=amount, recipient=landlord, process_after=now + delay)


def load_history(now, to):
    """The last hour's work, for the dashboard's throughput chart and lag.

    Breakfasts served every minute, a few seconds late, and every sixth minute a
    bill that failed once (12.00 typed as 1200) and was paid after a fix. They run
    now, then move back in time with an UPDATE, which the counters follow.
    """
    for minutes in range(59, 0, -1):
        served = []
        for n in range(2 + minutes * 7 % 5):
            breakfast = BreakfastTrigger.objects.create(source=f"kitchen$earlier-{minutes}-{n}")
            breakfast.process()
            served.append(breakfast.pk)
        if minutes % 6 == 0:
            bill = PayBill.objects.create(amount=1200, recipient=to)
            with contextlib.suppress(ProcessError):
                bill.process()
            bill.amount = 12
            bill.save(update_fields=["amount"])
            bill.process(force=True)
            served.append(bill.pk)
        done = now - timedelta(minutes=minutes)
        due = done - timedelta(seconds=minutes * 37 % 90)
        Trigger._base_manager.filter(pk__in=served).update(
            date_received=due, process_after=due, date_processed=done
        )
        TriggerAttempt.objects.filter(trigger__in=served).update(started_at=done, finished_at=done)


def recipient(username):
    user, _ = User.objects.get_or_create(username=username)
    return user


@contextlib.contextmanager
def quiet(name, *, unless=False):
    logger = logging.getLogger(name)
    level = logger.level
    if not unless:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
