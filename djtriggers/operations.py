"""Operator actions on any number of triggers: chunked, race-safe, audited.

Both the admin and the dashboard act through ``perform``. It walks the
selection by primary key in chunks, so a filtered set of millions is never
loaded at once; in each chunk it locks the rows it may change (skipping rows a
worker holds right now), changes them with one conditional UPDATE, and links
them to one ``OperatorAction`` row that says who did what, when and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import OperatorAction, Trigger
from .querysets import cancel_changes, revive_changes
from .states import CANCELLABLE, REVIVABLE, State

CHUNK_SIZE = 1000

# Why a row was left alone, by its state.
SKIP_REASONS: dict[str, str] = {
    State.RUNNING: "running",
    State.PROCESSED: "already processed",
    State.FAILED: "already failed",
    State.CANCELLED: "already cancelled",
}

VERBS: dict[str, str] = {
    OperatorAction.Kind.REPROCESS: "reprocessed",
    OperatorAction.Kind.RESCHEDULE: "rescheduled",
    OperatorAction.Kind.CANCEL: "cancelled",
    OperatorAction.Kind.PROCESS: "processed now",
}
# What perform() does; processing now is the engine's, only audited here.
BULK_KINDS = (
    OperatorAction.Kind.REPROCESS,
    OperatorAction.Kind.RESCHEDULE,
    OperatorAction.Kind.CANCEL,
)


@dataclass
class Report:
    """What an action changed, and what it skipped and why."""

    kind: str
    changed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    action: OperatorAction | None = None

    def message(self) -> str:
        """E.g. "3 cancelled, 2 skipped: already processed", or "…: 1 running, 1 …"."""
        text = f"{self.changed} {VERBS[self.kind]}"
        if len(self.skipped) == 1:
            [(reason, n)] = self.skipped.items()
            text += f", {n} skipped: {reason}"
        elif self.skipped:
            reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
            text += f", {sum(self.skipped.values())} skipped: {reasons}"
        return text


def perform(
    kind: str,
    queryset: QuerySet[Any],
    *,
    user: Any = None,
    reason: str = "",
    when: datetime | None = None,
    spread: timedelta | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Report:
    """Reprocess, reschedule (to ``when``) or cancel every trigger of ``queryset``.

    ``spread`` paces a reprocess or reschedule: the triggers become due one
    after another over that period instead of all at once.
    """
    if kind not in BULK_KINDS:
        raise ValueError(f"Unknown operator action {kind!r}; use one of {', '.join(BULK_KINDS)}.")
    start = when or timezone.now()
    allowed = CANCELLABLE if kind == OperatorAction.Kind.CANCEL else REVIVABLE
    report = Report(kind)
    total = queryset.count() if spread else 0
    action = OperatorAction.objects.create(
        kind=kind,
        user=user if getattr(user, "pk", None) else None,
        reason=reason,
        process_after=when if kind == OperatorAction.Kind.RESCHEDULE else None,
        spread=spread,
    )
    link = OperatorAction.triggers.through
    # Pacing steps: with N triggers over a period, one step per trigger (up to
    # 1000 steps, each a chunk of its own).
    if spread and total:
        chunk_size = max(1, -(-total // min(total, 1000)))
    seen = 0
    for pks in _chunks(queryset, chunk_size):
        if kind == OperatorAction.Kind.CANCEL:
            changes = cancel_changes(timezone.now())
        else:
            offset = spread * (seen / total) if spread and total else timedelta()
            changes = revive_changes(start + offset)
        seen += len(pks)
        with transaction.atomic():
            rows = dict(
                Trigger._base_manager.filter(pk__in=pks)
                .select_for_update(skip_locked=True)
                .values_list("pk", "state")
            )
            # Rows a worker holds in its transaction were skipped by the lock: running.
            report.skipped["running"] += len(pks) - len(rows)
            eligible = [pk for pk, state in rows.items() if state in allowed]
            for state in rows.values():
                if state not in allowed:
                    report.skipped[SKIP_REASONS[state]] += 1
            if eligible:
                changed = Trigger._base_manager.filter(pk__in=eligible, state__in=allowed)
                report.changed += changed.update(**changes)
                link.objects.bulk_create(
                    [link(operatoraction_id=action.pk, trigger_id=pk) for pk in eligible]
                )
    report.skipped = Counter({reason: n for reason, n in report.skipped.items() if n})
    action.changed = report.changed
    action.skipped = sum(report.skipped.values())
    action.save(update_fields=["changed", "skipped"])
    report.action = action
    return report


def record_processing(triggers: list[Trigger], *, user: Any, reason: str = "") -> OperatorAction:
    """Audit an operator's "process now" of ``triggers`` (each one's try is an attempt)."""
    action = OperatorAction.objects.create(
        kind=OperatorAction.Kind.PROCESS,
        user=user if getattr(user, "pk", None) else None,
        reason=reason,
        changed=len(triggers),
    )
    action.triggers.add(*triggers)
    return action


def _chunks(queryset: QuerySet[Any], size: int) -> Iterator[list[Any]]:
    """The primary keys of ``queryset`` in ascending chunks (keyset pagination)."""
    pks = queryset.order_by("pk").values_list("pk", flat=True)
    last = None
    while True:
        page = list((pks if last is None else pks.filter(pk__gt=last))[:size])
        if not page:
            return
        yield page
        last = page[-1]
