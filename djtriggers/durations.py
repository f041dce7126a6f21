"""Kept for imports from earlier versions: durations are parsed in ``djtriggers.times``."""

from __future__ import annotations

from .times import parse_duration

__all__ = ["parse_duration"]
