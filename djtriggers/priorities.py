"""Priorities: which due trigger a worker starts first.

A trigger's ``priority`` is a small integer from ``HIGHEST`` (0) to ``LOWEST``
(9): **the lower the number, the sooner it runs**, as in Oban and Unix ``nice``.
A class sets its default with ``default_priority`` (5 unless it says otherwise,
and 5 for rows inserted without one: 2.x code, raw SQL); a trigger may be
given its own (``PayBill.objects.create(..., priority=1)``), and operators
change it with the "priority" action (``djtriggers.actions``).

Workers take due triggers by priority, then by ``process_after``. The claim
reads the index ``(state, priority, process_after, trigger_type)`` one
priority at a time, each one range scan (``state = scheduled AND priority = p
AND process_after <= now``), the highest first, until the claim is full: a
single scan over all priorities would have to step over every *future* trigger
of a higher priority before it found a due one of a lower priority. Which
priorities have due triggers is asked first, in one query (an index dive per
priority, no locks), so a claim usually costs two queries whatever the mix.

Starvation is bounded: every ``OLDEST_FIRST_EVERY``-th claim of a worker takes
the oldest due triggers whatever their priority (the range scan along
``(state, process_after)`` that claims used before priorities existed). A due
trigger of the lowest priority therefore waits at most until the triggers due
before it have run, at a tenth of the workers' pace.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connections
from django.db.models import QuerySet
from django.utils.translation import gettext

from .lifecycle import State, Transition

HIGHEST = 0
LOWEST = 9
DEFAULT = 5
LEVELS = tuple(range(HIGHEST, LOWEST + 1))
OLDEST_FIRST_EVERY = 10

# An operator's change of priority: on waiting and failed triggers (a failed one
# keeps it for when it is reprocessed), never on a running one. Not a change of
# state: the target is only the main source.
PRIORITIZE = Transition(
    "prioritize",
    (State.SCHEDULED, State.FAILED),
    State.SCHEDULED,
    frozenset(["priority"]),
    lambda priority: {"priority": priority},
)


def is_priority(value: object) -> bool:
    return type(value) is int and HIGHEST <= value <= LOWEST


def check(value: object) -> int:
    """``value`` as a priority, or ValueError saying what a priority is."""
    if not is_priority(value):
        raise ValueError(out_of_range(value))
    assert isinstance(value, int)
    return value


def out_of_range(value: object) -> str:
    shown = value if isinstance(value, str) else repr(value)
    return gettext(
        "%(value)s is not a priority: give a whole number from %(highest)d (runs first) "
        "to %(lowest)d (runs last)."
    ) % {"value": shown, "highest": HIGHEST, "lowest": LOWEST}


def parse(text: str) -> int:
    """A priority typed by a person (ASCII digits only), or ValueError saying how to fix it."""
    text = text.strip()
    if not text or not (text.isascii() and text.lstrip("-").isdigit()):
        raise ValueError(out_of_range(text))
    return check(int(text))


def levels_due(scheduled: QuerySet[Any], cutoff: datetime) -> list[int]:
    """The priorities whose first scheduled row in ``scheduled`` is due by ``cutoff``.

    One query, unlocked: per priority, the first ``process_after`` of
    ``(state, priority)`` in the index, one index dive each. (Not "any row due by
    the cutoff": with the cutoff in the query the planner may walk all due rows
    along ``(state, process_after)`` looking for one of a rare priority.)
    """
    connection = connections[scheduled.db]
    parts: list[str] = []
    params: list[Any] = []
    for level in LEVELS:
        probe = (
            scheduled.filter(priority=level, process_after__isnull=False)
            .order_by("process_after")
            .values("priority", "process_after")[:1]
        )
        sql, args = probe.query.sql_with_params()
        # The LIMIT keeps the cutoff out of the subquery (no database pushes it in).
        parts.append(f"SELECT priority FROM ({sql}) level{level} WHERE process_after <= %s")
        params += [*args, connection.ops.adapt_datetimefield_value(cutoff)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return sorted(row[0] for row in cursor.fetchall())


class Due(NamedTuple):
    """A due row a claim may take, with what orders it."""

    priority: int
    process_after: datetime
    pk: Any
    run_alone: bool


FIELDS = ("priority", "process_after", "pk", "run_alone")


def claim_order(oldest_first: bool) -> Callable[[Due], tuple[Any, ...]]:
    """How claimed rows of several queries are merged: as each query orders them."""
    if oldest_first:
        return lambda row: (row.process_after, row.pk)
    return lambda row: (row.priority, row.process_after, row.pk)


def _locking(scheduled: QuerySet[Any], cutoff: datetime) -> QuerySet[Any]:
    return scheduled.filter(process_after__lte=cutoff).select_for_update(skip_locked=True)


def claim_in_order(
    scheduled: QuerySet[Any], cutoff: datetime, limit: int, *, oldest_first: bool
) -> list[Due]:
    """Up to ``limit`` of the due rows, locked: by priority, then by process_after,
    one range scan per priority that has due rows (see the module's docstring);
    or, ``oldest_first``, by process_after alone. ``scheduled``: the scheduled
    rows a worker may take, unlocked."""
    locking = _locking(scheduled, cutoff)
    if oldest_first:
        return _rows(locking.order_by("process_after"), limit)
    found: list[Due] = []
    for level in levels_due(scheduled, cutoff):
        found += _rows(locking.filter(priority=level).order_by("process_after"), limit - len(found))
        if len(found) >= limit:
            break
    return found


def claim_of_one_type(
    scheduled: QuerySet[Any], cutoff: datetime, limit: int, *, oldest_first: bool
) -> list[Due]:
    """Up to ``limit`` due rows of one type (a limited one, a few at a time), locked:
    in one query, in the claim's order."""
    order = ("process_after",) if oldest_first else ("priority", "process_after")
    return _rows(_locking(scheduled, cutoff).order_by(*order), limit)


def _rows(rows: QuerySet[Any], limit: int) -> list[Due]:
    return [Due(*row) for row in rows.values_list(*FIELDS)[:limit]]
