"""The forms of the admin's actions live in ``djtriggers.forms``; these names stay importable."""

from __future__ import annotations

from datetime import datetime

from .. import times
from ..forms import ActionForm, PeriodField, WhenField

__all__ = ["ActionForm", "PeriodField", "WhenField", "parse_when"]


def parse_when(text: str) -> datetime:
    """An absolute date and time, or a delay from now such as ``+2h`` (see ``times.parse_when``)."""
    return times.parse_when(text)
