"""Celery tasks (the ``celery`` extra): imported only when Celery runs triggers.

The names are 2.x's, so that celery beat entries and messages queued before
an upgrade keep working: ``process_trigger(id, app_label, class_name,
use_statsd=...)``, ``process_triggers`` and ``clean_triggers``. The
dispatcher publishes ``run_trigger(id, token, using)`` (see dispatch.py).
``use_statsd`` is accepted and ignored: metrics go to DJTRIGGERS_STATSD_ADDRESS
whenever it is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from celery import shared_task

from . import dispatch, logic
from .conf import settings

# A publish waits this long at most for a broker that went away, then fails:
# the dispatcher gives its claims back and retries later (worker backoff).
RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}


@shared_task(name="djtriggers.tasks.run_trigger", ignore_result=True)
def run_trigger(trigger_id: Any, token: str | None = None, using: str = "default") -> str:
    """Run a trigger dispatched by ``run_triggers`` (see ``dispatch.run``)."""
    return dispatch.run(trigger_id, token, using=using, via="celery")


@shared_task(name="djtriggers.tasks.process_trigger", ignore_result=True)
def process_trigger(
    trigger_id: Any, app_label: str, class_name: str, use_statsd: bool = False
) -> str:
    """2.x's task: run the trigger ``trigger_id`` of model ``app_label.class_name``."""
    return dispatch.run_legacy(trigger_id, app_label, class_name, via="celery")


@shared_task(name="djtriggers.tasks.process_triggers", ignore_result=True)
def process_triggers(use_statsd: bool = False) -> str:
    """2.x's beat task: one pass over what is due (dispatched, with DJTRIGGERS_DISPATCH)."""
    return logic.process_triggers().summary()


@shared_task(name="djtriggers.tasks.clean_triggers", ignore_result=True)
def clean_triggers(expiration_dt: datetime | str | None = None) -> int:
    """2.x's beat task: delete finished triggers older than ``expiration_dt`` (60 days)."""
    if isinstance(expiration_dt, str):  # a JSON message carries the date as text
        expiration_dt = datetime.fromisoformat(expiration_dt)
    return logic.clean_triggers(expiration_dt)


def publish(pks: Sequence[Any], token: str, using: str) -> None:
    """One ``run_trigger`` message per trigger, over one broker connection."""
    app = run_trigger.app
    options: dict[str, Any] = {"retry": True, "retry_policy": RETRY_POLICY}
    if settings.DISPATCH_QUEUE:
        options["queue"] = settings.DISPATCH_QUEUE
    with app.producer_or_acquire() as producer:
        for pk in pks:
            run_trigger.apply_async((pk, token, using), producer=producer, **options)
