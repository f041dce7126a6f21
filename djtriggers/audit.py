"""The audit trail of what people do to triggers: Django's admin log, beside ``OperatorAction``."""

from __future__ import annotations

from typing import Any

from django.apps import apps

from .models import OperatorAction, Trigger


def log_entries(
    audit: OperatorAction | None,
    summary: str,
    user: Any,
    messages: dict[Any, str] | None = None,
) -> None:
    """One entry in Django's admin log per trigger linked to ``audit``, if a person acted.

    Each says ``summary`` (and the reason), or its own line of ``messages``.
    """
    who = person(user)
    if audit is None or who is None or not apps.is_installed("django.contrib.admin"):
        return
    # Imported here: the admin's models exist only where the admin is installed
    # (a worker-only service may leave it out).
    from django.contrib.admin.models import CHANGE, LogEntry
    from django.contrib.contenttypes.models import ContentType

    summary += f" — {audit.reason}" if audit.reason else ""
    content_type = ContentType.objects.get_for_model(Trigger, for_concrete_model=False)
    links = audit.triggers.through.objects.filter(operatoraction_id=audit.pk)
    pks = links.values_list("trigger_id", flat=True).order_by("trigger_id")
    batch: list[Any] = []
    for pk in pks.iterator(chunk_size=2000):
        text = messages[pk] if messages else summary
        batch.append(
            LogEntry(
                user_id=who.pk,
                content_type=content_type,
                object_id=str(pk),
                object_repr=f"Trigger #{pk}",
                action_flag=CHANGE,
                change_message=text,
            )
        )
        if len(batch) == 2000:
            LogEntry.objects.bulk_create(batch)
            batch = []
    LogEntry.objects.bulk_create(batch)


def person(user: Any) -> Any:
    return user if getattr(user, "pk", None) else None
