"""The one parser of the times and delays people type, and the range they must lie in.

A time is ``now``, a delay from now (``+2h``, ``+1d12h``) or a date and time
(``2026-12-24 18:00``, ISO 8601 with ``T`` or an offset; without an offset it
is in the current Django time zone). A duration is a number and a unit, or
several: ``90s``, ``15m``, ``2h``, ``60d``, ``1w2d``. Every parser here raises
only ValueError, with a message saying what to type instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

# Every time a person may set lies in [EARLIEST, LATEST]. A stored time must be
# displayable in any time zone: LATEST is more than a day before the end of
# datetime's range (year 9999), so converting it to the furthest zone ahead of
# UTC (+14:00) and then adding a day (a date range's end, "tomorrow") still
# cannot overflow. EARLIEST is the Unix epoch: nothing is scheduled before it,
# and converting it to the furthest zone behind UTC (-12:00) stays in range.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
# The longest delay or period accepted: 100 years.
MAX_DURATION = timedelta(days=36525)

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"([0-9]+)([smhdw])", re.ASCII)
_WHOLE = re.compile(r"(?:[0-9]+[smhdw])+", re.ASCII)
_MAX_SECONDS = int(MAX_DURATION.total_seconds())

# The parsers read the same units (s, m, h, d, w) and the word "now" in every language.
# Translators: keep the examples as they are (the units are typed in English).
DURATION_EXAMPLES = _("e.g. 90s, 15m, 2h, 60d or 1w2d")
# Translators: keep the examples and the last word, "now", as they are: it is what people type.
WHEN_EXAMPLES = _("a date and time (2026-12-24 18:00), a delay from now (+2h, +30m, +1d) or now")


def _utc(when: datetime) -> str:
    return f"{when:%Y-%m-%d %H:%M}"


def _show(when: datetime) -> str:
    """``when`` in its own time zone, without converting it (which might overflow)."""
    text = when.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")
    if when.tzinfo is None:
        return text
    return f"{text} {when.tzname() or ''}".rstrip()


def _bound(when: datetime) -> tuple[datetime, datetime]:
    """The range to compare ``when`` with: naive values are taken as UTC."""
    if timezone.is_naive(when):
        return EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)
    return EARLIEST, LATEST


def in_range(when: datetime) -> bool:
    earliest, latest = _bound(when)
    return earliest <= when <= latest


def check_in_range(when: datetime) -> datetime:
    """Return ``when``, or raise ValueError saying which bound it is past."""
    earliest, latest = _bound(when)
    if when > latest:
        raise ValueError(
            gettext("%(when)s is too far ahead: the latest time is %(latest)s UTC.")
            % {"when": _show(when), "latest": _utc(LATEST)}
        )
    if when < earliest:
        raise ValueError(
            gettext("%(when)s is too far back: the earliest is %(earliest)s UTC.")
            % {"when": _show(when), "earliest": _utc(EARLIEST)}
        )
    return when


def ends_in_range(start: datetime, period: timedelta) -> bool:
    """Whether ``start + period`` is at most LATEST, for a ``start`` in range.

    Compared as the room left before LATEST, never by adding: near year 9999
    ``start + period`` is past datetime's range and raises OverflowError.
    """
    _, latest = _bound(start)
    return period <= latest - start


# The earliest stored time shown as it is: a day after datetime's first, so
# that converting it to a zone behind UTC cannot overflow.
DISPLAY_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)


def displayable(when: datetime | None) -> datetime | None:
    """A stored time that any page can show in any time zone.

    Code written for 2.x, or raw SQL, may store any time; one within a day of
    the ends of datetime's range would fail every page that shows it in local
    time. Read back, such a time is brought to the nearest time that can be shown.
    """
    if when is None:
        return None
    if when.tzinfo is None:  # USE_TZ = False
        earliest, latest = DISPLAY_EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)
    else:
        earliest, latest = DISPLAY_EARLIEST, LATEST
    # Every row read goes through here: one comparison in the usual case.
    if earliest <= when <= latest:
        return when
    return earliest if when < earliest else latest


class _TooLong(ValueError):
    pass


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``2h``, ``60d``, ``1w2d``: at least 0, at most MAX_DURATION.

    Units are case-insensitive and spaces are ignored; digits are ASCII only.
    """
    cleaned = "".join(text.split()).lower()
    if not cleaned:
        raise ValueError(
            gettext("The duration is empty: type a number and a unit, %(examples)s.")
            % {"examples": DURATION_EXAMPLES}
        )
    if not (cleaned.isascii() and _WHOLE.fullmatch(cleaned)):
        raise ValueError(
            gettext(
                "%(text)s is not a duration: use a number and a unit (s, m, h, d or w), "
                "%(examples)s, with the digits 0-9."
            )
            % {"text": repr(text.strip()), "examples": DURATION_EXAMPLES}
        )
    seconds = 0
    for amount, unit in _PART.findall(cleaned):
        digits = amount.lstrip("0")
        # More digits than the longest duration has seconds is too long in any unit;
        # checked before int() so that a very long number costs nothing.
        if len(digits) > len(str(_MAX_SECONDS)):
            seconds = _MAX_SECONDS + 1
            break
        seconds += int(digits or "0") * UNIT_SECONDS[unit]
    if seconds > _MAX_SECONDS:
        raise _TooLong(
            gettext("%(text)s is too long: the longest duration is 100 years (%(days)dd).")
            % {"text": repr(text.strip()), "days": MAX_DURATION.days}
        )
    return timedelta(seconds=seconds)


def parse_when(text: str, *, now: datetime | None = None) -> datetime:
    """``now``, ``+<duration>`` or a date and time; in UTC and within range.

    The result is in UTC so that adding to it (spreading triggers over a period)
    counts real time, not wall-clock time across a daylight saving change.

    A naive date and time is in the current time zone. One that the clocks skip
    when daylight saving time starts (2026-03-29 02:30 in Europe/Brussels) is
    refused: it names no moment. One that occurs twice when the clocks go back
    is the first of the two.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError(gettext("No time given: type %(examples)s.") % {"examples": WHEN_EXAMPLES})
    if not stripped.isascii():
        raise ValueError(
            gettext("%(text)s is not a time: use plain ASCII (digits 0-9) and type %(examples)s.")
            % {"text": repr(stripped), "examples": WHEN_EXAMPLES}
        )
    now = timezone.now() if now is None else now
    if stripped.lower() == "now":
        when = check_in_range(now)
    elif stripped.startswith("+"):
        when = _after(now, stripped)
    else:
        when = _absolute(stripped)
    # In range, so the conversion cannot overflow.
    return when.astimezone(UTC)


def _after(now: datetime, text: str) -> datetime:
    try:
        delay = parse_duration(text[1:])
    except _TooLong:
        raise ValueError(
            gettext("%(text)s is too far ahead: the longest delay is 100 years (+%(days)dd).")
            % {"text": repr(text), "days": MAX_DURATION.days}
        ) from None
    except ValueError:
        raise ValueError(
            gettext(
                # Translators: keep the examples as they are (the units are typed in English).
                "%(text)s is not a delay: use + and a number with a unit "
                "(s, m, h, d or w), e.g. +90s, +30m, +2h or +1d12h."
            )
            % {"text": repr(text)}
        ) from None
    try:
        return check_in_range(now + delay)
    except OverflowError:
        raise ValueError(
            gettext("%(when)s is too far ahead: the latest time is %(latest)s UTC.")
            % {"when": repr(text), "latest": _utc(LATEST)}
        ) from None


def _absolute(text: str) -> datetime:
    try:
        when = parse_datetime(text)
    except ValueError as exc:  # well formed but impossible, such as 2026-02-30
        raise ValueError(
            gettext("%(text)s is not a valid date and time: %(error)s.")
            % {"text": repr(text), "error": exc}
        ) from None
    if when is None:
        raise ValueError(
            gettext(
                # Translators: keep the examples and "now" as they are: it is what people type.
                "%(text)s is neither a date and time (2026-12-24 18:00) nor a delay "
                "(+2h, +30m, +1d): type one of those, or now."
            )
            % {"text": repr(text)}
        )
    if timezone.is_aware(when):
        return check_in_range(when)
    zone = timezone.get_current_timezone()
    # Comparing with the bounds needs no conversion, so it cannot overflow; once
    # in range, the round trip through UTC cannot either.
    aware = check_in_range(timezone.make_aware(when, zone))
    # A time the clocks skip comes back from the round trip as another time.
    if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != when:
        raise ValueError(
            gettext(
                "%(text)s does not exist in %(zone)s: the clocks skip it when daylight saving "
                "time starts. Type a time after the change (e.g. an hour later)."
            )
            % {"text": repr(text), "zone": zone}
        )
    return aware
