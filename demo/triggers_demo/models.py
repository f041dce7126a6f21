"""The seed README's triggers, plus a few that fail or reschedule, to show every status."""

import random
import time
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import models
from django.utils.timezone import now

from djtriggers.exceptions import ProcessLaterError
from djtriggers.models import Trigger


class BreakfastTrigger(Trigger):
    class Meta:
        # There is no trigger specific data so make a proxy model.
        # This ensures no additional db table is created.
        proxy = True

    typed = "breakfast"

    def _process(self, dictionary={}):  # noqa: B006  (the seed README's signature)
        return "toast, juice, eaten"


class PayBill(Trigger):
    class Meta:
        # We need a regular model as the trigger specific data needs a
        # place to live in the db.
        proxy = False

    amount = models.IntegerField()
    recipient = models.ForeignKey(User, on_delete=models.CASCADE)

    def _process(self, dictionary={}):  # noqa: B006
        if self.amount > 1000:
            raise ValueError(f"balance too low to pay {self.amount} to {self.recipient}")
        return f"paid {self.amount} to {self.recipient}"


class FlakyWebhook(Trigger):
    """Fails about half the time, like a webhook to an unreliable partner."""

    class Meta:
        proxy = True

    typed = "flaky_webhook"
    retry_delay_seconds = 5

    def _process(self, dictionary={}):  # noqa: B006
        if random.random() < 0.5:
            raise ConnectionError(f"partner timed out for {self.source}")
        return "delivered"


class WaitForStock(Trigger):
    """Reschedules itself until stock arrives."""

    class Meta:
        proxy = True

    typed = "wait_for_stock"

    def _process(self, dictionary={}):  # noqa: B006
        if random.random() < 0.7:
            raise ProcessLaterError(now() + timedelta(seconds=20))
        return "shipped"


class MonthlyReport(Trigger):
    """Takes a few seconds, so the worker is seen running it."""

    class Meta:
        proxy = True

    typed = "monthly_report"

    def _process(self, dictionary={}):  # noqa: B006
        time.sleep(3)
        return f"report for {self.source} sent"


class PartnerSync(Trigger):
    """Syncs an order to a partner; the demo pauses this type (the partner's API is down)."""

    class Meta:
        proxy = True

    typed = "partner_sync"

    def _process(self, dictionary={}):  # noqa: B006
        return f"synced {self.source}"


class RateLimitedExport(Trigger):
    """Calls a rate-limited API: at most two run at once, over all workers."""

    class Meta:
        proxy = True

    typed = "rate_limited_export"
    max_concurrency = 2

    def _process(self, dictionary={}):  # noqa: B006
        time.sleep(4)
        return f"exported {self.source}"


class FraudAlert(Trigger):
    """Urgent: runs before every other due trigger (priority 0 runs first, 9 last)."""

    class Meta:
        proxy = True

    typed = "fraud_alert"
    default_priority = 0

    def _process(self, dictionary={}):  # noqa: B006
        return f"analyst paged about {self.source}"


class Newsletter(Trigger):
    """Can wait: runs after everything else that is due."""

    class Meta:
        proxy = True

    typed = "newsletter"
    default_priority = 9

    def _process(self, dictionary={}):  # noqa: B006
        return f"newsletter sent to {self.source}"


class SyncCustomer(Trigger):
    """One unfinished sync per customer: ``create_unique`` returns the one that waits."""

    class Meta:
        proxy = True

    typed = "sync_customer"
    unique_key = True  # its source

    def _process(self, dictionary={}):  # noqa: B006
        return f"{self.source} synced to the CRM"


class Heartbeat(Trigger):
    """Checks the partner's status page every five minutes: a recurring schedule."""

    class Meta:
        proxy = True

    typed = "heartbeat"
    schedule = "*/5 * * * *"
    schedule_timezone = "Europe/Brussels"

    def _process(self, dictionary={}):  # noqa: B006
        return "partner status page: up"
