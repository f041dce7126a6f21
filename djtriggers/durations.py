"""Durations written the way people type them: ``90s``, ``15m``, ``2h``, ``60d``, ``1w2d``."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = re.compile(r"(\d+)([smhdw])")
_WHOLE = re.compile(r"(?:\d+[smhdw])+")


def parse_duration(text: str) -> timedelta:
    """Parse ``text``; raise ValueError with a message saying what is expected."""
    cleaned = text.strip().lower().replace(" ", "")
    if not _WHOLE.fullmatch(cleaned):
        raise ValueError(
            f"{text!r} is not a duration: use a number and a unit (s, m, h, d or w), "
            "e.g. 90s, 15m, 2h, 60d or 1w2d."
        )
    delta = timedelta()
    for amount, unit in _PART.findall(cleaned):
        delta += timedelta(**{UNITS[unit]: int(amount)})
    return delta
