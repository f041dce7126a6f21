"""The settings (djtriggers.conf): typed attributes read lazily, and the values each accepts."""

from __future__ import annotations

import math
import typing
from collections.abc import Sequence

import pytest

from djtriggers.conf import DEFAULTS, Bounds, Setting, Settings
from djtriggers.conf import settings as conf


def test_settings__typed_attributes_with_their_defaults(settings):
    assert conf.LEASE_SECONDS == 60.0
    settings.DJTRIGGERS_LEASE_SECONDS = 90.0
    assert conf.LEASE_SECONDS == 90.0
    with pytest.raises(AttributeError, match="Unknown djtriggers setting 'LEASE'"):
        conf.LEASE  # noqa: B018


def test_settings__each_declared_with_its_type():
    from dashboard.conf import DashboardSettings

    hints = typing.get_type_hints(Settings)
    assert set(hints) == set(DEFAULTS)
    assert hints["LEASE_SECONDS"] is float
    assert hints["BATCH_SIZE"] is int
    assert hints["TIMEOUT_SECONDS"] == float | None
    assert hints["LOGGERS"] == Sequence[str]
    assert typing.get_type_hints(DashboardSettings)["DASHBOARD_ADMIN_SITE"] is str
    for name, value in DEFAULTS.items():
        kind = typing.get_origin(hints[name]) or hints[name]
        assert value is None or isinstance(value, kind), name


def test_settings__on_the_class_each_is_its_declaration():
    declared = Settings.LEASE_SECONDS
    assert isinstance(declared, Setting)
    assert declared.default == DEFAULTS["LEASE_SECONDS"] == 60.0
    assert declared.bounds.describe() == (
        "a number of seconds greater than 0 and at most 86_400 (1 day)"
    )


@pytest.mark.parametrize(
    ("bounds", "accepted", "refused"),
    [
        (Bounds(1, 10, count=True), [1, 10], [0, 11, 2.0, True, "3", None]),
        (Bounds(1, 10, whole=True), [1, 5.0], [2.5, math.inf, 0.0]),
        (Bounds(0, 1, low_open=True, high_open=True), [0.5], [0, 1, math.nan]),
        (Bounds(0, 1, optional=True), [None, 0, 1], [-1, "0"]),
    ],
)
def test_bounds__accept_finite_numbers_between_low_and_high(bounds, accepted, refused):
    assert all(bounds.accepts(value) for value in accepted)
    assert not any(bounds.accepts(value) for value in refused)


@pytest.mark.parametrize(
    ("bounds", "described"),
    [
        (Bounds(0.5, 2.5), "a number from 0.5 to 2.5"),
        (Bounds(0, 1e-3, low_open=True), "a number greater than 0 and at most 0.001"),
        (Bounds(1, 1_000_000, count=True), "a whole number from 1 to 1_000_000"),
        (
            Bounds(0, 3600, seconds=True, optional=True),
            "a number of seconds from 0 to 3600 (1 hour), or None",
        ),
        (
            Bounds(0, 7, high_open=True, note="days"),
            "a number from 0 up to (not including) 7 (days)",
        ),
    ],
)
def test_bounds__describe_them_as_a_settings_file_writes_numbers(bounds, described):
    assert bounds.describe() == described
