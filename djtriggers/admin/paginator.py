"""Counting without a full COUNT(*): the changelist stays fast on millions of rows."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from django.core.paginator import Paginator

from ..db import estimated_rows

# A filtered changelist counts at most this many rows and then says "more".
COUNT_CAP = 10_000

if TYPE_CHECKING:
    _Paginator = Paginator[Any]
else:  # not subscriptable at run time
    _Paginator = Paginator


class CappedPaginator(_Paginator):
    """Counts up to COUNT_CAP rows (``capped`` tells when there are more).

    The unfiltered table on PostgreSQL is counted from the planner's estimate
    instead, which costs nothing (``estimated`` tells).
    """

    capped = False
    estimated = False

    @cached_property
    def count(self) -> int:
        qs: Any = self.object_list
        query = getattr(qs, "query", None)
        if query is None:
            return super().count
        if not query.where:
            estimate = estimated_rows(qs.model, qs.db)
            if estimate is not None and estimate > COUNT_CAP:
                self.capped = self.estimated = True
                return estimate
        count: int = qs.order_by()[: COUNT_CAP + 1].count()
        if count > COUNT_CAP:
            self.capped = True
            return COUNT_CAP
        return count
