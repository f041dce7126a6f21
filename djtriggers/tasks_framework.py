"""The task for Django's Tasks framework (``django.tasks`` on Django 6, the
``django-tasks`` backport on 5.2: the ``tasks`` extra), imported only when
it runs triggers. Any backend the project configured will do, as long as its
workers run the project's code: the task takes its claim and runs the
trigger in the task worker (see dispatch.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from django.tasks import task
except ImportError:  # Django 5.2
    from django_tasks import task

from . import dispatch
from .conf import settings


@task()
def run_trigger(trigger_id: int, token: str | None = None, using: str = "default") -> str:
    """Run a trigger dispatched by ``run_triggers`` (see ``dispatch.run``)."""
    return dispatch.run(trigger_id, token, using=using, via="tasks")


def publish(pks: Sequence[Any], token: str, using: str) -> None:
    """One ``run_trigger`` task per trigger, on the configured backend and queue."""
    options: dict[str, Any] = {"backend": settings.TASKS_BACKEND}
    if settings.DISPATCH_QUEUE:
        options["queue_name"] = settings.DISPATCH_QUEUE
    enqueue = run_trigger.using(**options).enqueue
    for pk in pks:
        enqueue(pk, token, using)
