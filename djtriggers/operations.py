"""Operator actions as 3.0's previews ran them; see ``djtriggers.actions``.

``perform`` here records who acted but, as before, leaves the permission
check to its caller.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from . import actions
from .actions import CHUNK_SIZE, SKIP_REASONS, Report
from .audit import log_entries, person

__all__ = ["CHUNK_SIZE", "SKIP_REASONS", "VERBS", "Report", "perform"]

VERBS = {name: action.verb for name, action in actions.ACTIONS.items()}


def perform(kind: str, queryset: QuerySet[Any], *, user: Any = None, **options: Any) -> Report:
    report = actions.perform(kind, queryset, **options)
    if report.audit is not None and person(user) is not None:
        report.audit.user = user
        report.audit.save(update_fields=["user_pk", "username"])
        log_entries(report.audit, report.message(), user)
    return report
