"""Deleting old finished triggers in batches, subclass rows included."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from django.utils import timezone

from .lifecycle import FINAL
from .models import Trigger

DEFAULT_AGE = timedelta(days=60)


def clean(
    *,
    older_than: datetime | None = None,
    states: Sequence[str] = FINAL,
    batch_size: int = 1000,
    dry_run: bool = False,
    using: str = "default",
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Delete triggers in ``states`` finished before ``older_than``; return how many.

    Deleting through the ORM removes the rows of multi-table subclasses, the
    attempts and the results with them. Each batch is its own transaction, so a
    long clean never holds locks for long.
    """
    cutoff = older_than or timezone.now() - DEFAULT_AGE
    qs = Trigger._base_manager.using(using).filter(state__in=states, date_processed__lt=cutoff)
    total = qs.count()
    if dry_run or not total:
        return total
    deleted = 0
    while True:
        pks = list(qs.order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        _, per_model = Trigger._base_manager.using(using).filter(pk__in=pks).delete()
        deleted += per_model.get(Trigger._meta.label, 0)
        if progress:
            progress(deleted, total)
    return deleted
