"""Cron expressions and their slots, in a time zone, by cronsim (as Debian's cron reads them).

An expression has five fields (minute hour day-of-month month day-of-week) or is
one of the nicknames (``@hourly`` ...). Its slots are the times it names, in its
time zone; ``next_slot`` and ``latest_slot`` give them in UTC.

Daylight saving time follows Debian/Vixie cron, as cronsim does: a job at a fixed
time (neither the minute nor the hour field starts with ``*``) runs once on the
days the clocks change: at the first 02:30 when it comes twice (fall back), and
right after the gap when 02:30 does not exist (spring forward: at 03:00). Other
jobs (``*/15 * * * *``, ``0 * * * *``) follow real time: every 15 minutes of
elapsed time, through the gap and through the repeated hour.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from cronsim import CronSim, CronSimError
from django.utils.translation import gettext

NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = 5
# The most slots looked at to find one after a time: guards against an expression
# whose slots all lie in the past of what it is asked (never in practice).
MAX_STEPS = 1000


class CronError(ValueError):
    """A cron expression or time zone that cannot be used; the message says how to fix it."""


def expand(expression: str) -> str:
    """The five fields of ``expression`` (a nickname expanded); CronError if it is not valid."""
    text = " ".join(str(expression).split())
    fields = NICKNAMES.get(text.lower(), text)
    if len(fields.split()) != FIELDS:
        raise CronError(
            gettext(
                "%(expression)s is not a cron expression: give five fields (minute hour "
                "day-of-month month day-of-week, e.g. */15 * * * *) or one of %(nicknames)s."
            )
            % {"expression": repr(expression), "nicknames": ", ".join(NICKNAMES)}
        )
    try:
        CronSim(fields, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise CronError(
            gettext(
                "%(expression)s is not a cron expression: %(problem)s (fields: minute 0-59, "
                "hour 0-23, day-of-month 1-31, month 1-12, day-of-week 0-7, e.g. 30 2 * * 1-5)."
            )
            % {"expression": repr(expression), "problem": str(exc).lower()}
        ) from None
    return fields


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone(name: str) -> ZoneInfo:
    """The time zone called ``name`` (e.g. ``Europe/Brussels``); CronError if there is none."""
    if not isinstance(name, str) or name not in _zone_names():
        raise CronError(
            gettext(
                "%(zone)s is not a time zone: use an IANA name such as Europe/Brussels, "
                "America/New_York or UTC."
            )
            % {"zone": repr(name)}
        )
    return ZoneInfo(name)


def next_slot(expression: str, tz: str, after: datetime) -> datetime | None:
    """The first slot strictly after ``after``, in UTC (None: the expression names no more)."""
    slots = CronSim(expand(expression), after.astimezone(zone(tz)))
    for _ in range(MAX_STEPS):
        try:
            slot = next(slots).astimezone(UTC)
        except StopIteration:  # pragma: no cover - cronsim stops only past the year 9999
            return None
        # On the day clocks fall back a fixed-time slot read on the repeated hour's
        # wall clock can lie before ``after``: it ran already.
        if slot > after:
            return slot
    return None  # pragma: no cover - see MAX_STEPS


def latest_slot(expression: str, tz: str, at: datetime) -> datetime | None:
    """The last slot at or before ``at``, in UTC (None: none before it).

    A fixed-time slot in the spring gap (02:30) is moved to the gap's end (03:00),
    which a time after the gap is not before: the slot is never after ``at``.
    """
    # Reverse iteration yields slots strictly before its start: start a second later.
    start = at.replace(microsecond=0) + timedelta(seconds=1)
    slots = CronSim(expand(expression), start.astimezone(zone(tz)), reverse=True)
    try:
        return next(slots).astimezone(UTC)
    except StopIteration:  # pragma: no cover - cronsim stops only before the year 1
        return None
