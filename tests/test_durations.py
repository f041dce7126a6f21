"""djtriggers.durations: parse_duration, importable from where earlier versions had it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from djtriggers import durations
from djtriggers.times import parse_duration


def test_durations_module__still_exports_parse_duration():
    assert durations.parse_duration is parse_duration


def test_durations_module__parses_as_times_does():
    assert durations.parse_duration("1w2d") == timedelta(days=9)
    with pytest.raises(ValueError, match="is not a duration"):
        durations.parse_duration("soon")
