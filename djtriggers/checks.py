"""System checks: duplicate trigger types and bad DJTRIGGERS_ settings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, settings
from .loggers.base import TriggerLogger
from .registry import trigger_classes

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365 * DAY
_SPANS = {YEAR: "1 year", WEEK: "1 week", DAY: "1 day", HOUR: "1 hour"}


@dataclass(frozen=True)
class Bounds:
    """The values a numeric setting accepts: finite, from ``low`` to ``high``."""

    low: float
    high: float
    # An int (a number of things); ``whole`` also allows a float such as 5.0.
    count: bool = False
    whole: bool = False
    low_open: bool = False  # ``low`` itself is not allowed
    high_open: bool = False
    seconds: bool = False
    note: str = ""
    optional: bool = False  # None is allowed (and means: none)

    def accepts(self, value: object) -> bool:
        if value is None and self.optional:
            return True
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and (
            self.count or not math.isfinite(value) or (self.whole and not value.is_integer())
        ):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        kind = "whole number" if self.count or self.whole else "number"
        unit = " of seconds" if self.seconds else ""
        low = f"greater than {_show(self.low)}" if self.low_open else f"from {_show(self.low)}"
        if self.high_open:
            high = f"up to (not including) {_show(self.high)}"
        else:
            high = f"{'and at most' if self.low_open else 'to'} {_show(self.high)}"
        span = _SPANS.get(int(self.high)) if self.seconds else None
        extra = f" ({span})" if span else ""
        note = f" ({self.note})" if self.note else ""
        none = ", or None" if self.optional else ""
        return f"a {kind}{unit} {low} {high}{extra}{note}{none}"


def _show(number: float) -> str:
    """As in a settings file: 3600, 1_000_000, 0.5."""
    if not float(number).is_integer():
        return f"{number:g}"
    return f"{int(number):_}" if number >= 10_000 else str(int(number))


# What each numeric DJTRIGGERS_ setting accepts: finite, and small enough that
# a typo (an extra zero or three) is caught at start-up, not in production.
BOUNDS: dict[str, Bounds] = {
    # TRIES_BEFORE_WARNING may exceed TRIES_BEFORE_ERROR: failures are then never
    # logged as warnings, which is harmless.
    "TRIES_BEFORE_WARNING": Bounds(1, 1000, count=True),
    "TRIES_BEFORE_ERROR": Bounds(1, 1000, count=True),
    "BATCH_SIZE": Bounds(1, 10_000, count=True),
    "TRACEBACK_MAX_CHARS": Bounds(100, 1_000_000, count=True),
    "RETRY_DELAY_SECONDS": Bounds(0, WEEK, seconds=True),
    "RETRY_BACKOFF": Bounds(1, 10, note="2 doubles each delay, 1 keeps it constant"),
    "RETRY_MAX_DELAY_SECONDS": Bounds(0, YEAR, low_open=True, seconds=True),
    "RETRY_JITTER": Bounds(0, 1, high_open=True, note="a fraction of each delay"),
    "LEASE_SECONDS": Bounds(0, DAY, low_open=True, seconds=True),
    "COMMIT_INTERVAL_SECONDS": Bounds(0, HOUR, low_open=True, seconds=True),
    "CLAIM_SECONDS": Bounds(0, HOUR, low_open=True, seconds=True),
    "POLL_INTERVAL_SECONDS": Bounds(0, DAY, low_open=True, seconds=True),
    "HEARTBEAT_SECONDS": Bounds(0, HOUR, low_open=True, seconds=True),
    "TIMEOUT_SECONDS": Bounds(0, DAY, low_open=True, seconds=True, optional=True),
    "HEALTH_MAX_DUE_AGE_SECONDS": Bounds(0, WEEK, low_open=True, seconds=True),
    "HEALTH_MAX_HEARTBEAT_AGE_SECONDS": Bounds(0, WEEK, low_open=True, seconds=True),
    # The dashboard shows and polls "every Ns": a fraction would be rounded.
    "DASHBOARD_REFRESH_SECONDS": Bounds(1, HOUR, whole=True, seconds=True),
}
# Trigger class attributes that override a setting, checked with its bounds.
CLASS_OVERRIDES = {
    "max_tries": "TRIES_BEFORE_ERROR",
    "retry_delay_seconds": "RETRY_DELAY_SECONDS",
    "retry_max_delay_seconds": "RETRY_MAX_DELAY_SECONDS",
    "timeout_seconds": "TIMEOUT_SECONDS",
}


@register(Tags.models)
def check_trigger_types(**kwargs: Any) -> list[Error]:
    from .models import Trigger

    errors = []
    max_length = Trigger._meta.get_field("trigger_type").max_length or 0
    for typed, classes in sorted(trigger_classes().items()):
        if len(classes) > 1:
            names = ", ".join(cls._meta.label for cls in classes)
            errors.append(
                Error(
                    f"Trigger classes {names} share typed = {typed!r}.",
                    hint="Give each Trigger subclass its own typed (or leave it out to get a "
                    "unique default, app_label.modelname).",
                    obj=classes[1],
                    id="djtriggers.E001",
                )
            )
        if len(typed) > max_length:
            errors.append(
                Error(
                    f"typed = {typed!r} is longer than {max_length} characters.",
                    hint="Set a shorter typed on the class.",
                    obj=classes[0],
                    id="djtriggers.E002",
                )
            )
    return errors


def _setting_error(name: str, expected: str) -> Error:
    value = getattr(settings, name)
    return Error(
        f"DJTRIGGERS_{name} = {value!r} is not valid: it must be {expected}.",
        hint=f"Set it to {expected}, or remove it to use the default ({DEFAULTS[name]!r}).",
        id="djtriggers.E003",
    )


@register(Tags.models)
def check_trigger_overrides(**kwargs: Any) -> list[Error]:
    """A Trigger subclass's ``max_tries`` and retry delays are held to the settings' bounds."""
    errors = []
    for _typed, classes in sorted(trigger_classes().items()):
        for cls in classes:
            for attribute, setting in CLASS_OVERRIDES.items():
                value = getattr(cls, attribute)
                bounds = BOUNDS[setting]
                if value is None or bounds.accepts(value):
                    continue
                expected = bounds.describe()
                errors.append(
                    Error(
                        f"{cls.__name__}.{attribute} = {value!r} is not valid: "
                        f"it must be {expected}.",
                        hint=f"Set it to {expected}, or remove it (or set None) to use "
                        f"DJTRIGGERS_{setting}.",
                        obj=cls,
                        id="djtriggers.E008",
                    )
                )
    return errors


@register()
def check_installed_apps(**kwargs: Any) -> list[Error]:
    from django.conf import settings as django_settings

    if "import_export" in django_settings.INSTALLED_APPS:
        return []
    return [
        Error(
            "djtriggers' admin exports and imports triggers with django-import-export, "
            "which is not in INSTALLED_APPS.",
            hint='Add "import_export" to INSTALLED_APPS.',
            id="djtriggers.E005",
        )
    ]


@register()
def check_settings(**kwargs: Any) -> list[Error]:
    errors = [
        _setting_error(name, bounds.describe())
        for name, bounds in BOUNDS.items()
        if not bounds.accepts(getattr(settings, name))
    ]
    if not errors and settings.HEARTBEAT_SECONDS * 2 > settings.LEASE_SECONDS:
        errors.append(
            Error(
                f"DJTRIGGERS_HEARTBEAT_SECONDS ({settings.HEARTBEAT_SECONDS}) is more than half "
                f"of DJTRIGGERS_LEASE_SECONDS ({settings.LEASE_SECONDS}): a worker's leases "
                "would end between its heartbeats, and other workers would take its triggers.",
                hint="Renew leases at least twice per lease: lower the heartbeat or "
                "lengthen the lease.",
                id="djtriggers.E009",
            )
        )
    errors += _check_loggers()
    return errors


def _check_loggers() -> list[Error]:
    loggers = settings.LOGGERS
    if isinstance(loggers, str) or not isinstance(loggers, list | tuple):
        return [_setting_error("LOGGERS", "a list of dotted paths of TriggerLogger classes")]
    errors = []
    for path in loggers:
        problem = _logger_problem(path)
        if problem:
            errors.append(
                Error(
                    f"DJTRIGGERS_LOGGERS names {path!r}, {problem}",
                    hint="Name a subclass of djtriggers.loggers.base.TriggerLogger by its "
                    "dotted path (e.g. djtriggers.loggers.database.DatabaseLogger), or "
                    "remove the entry.",
                    id="djtriggers.E004",
                )
            )
    return errors


def _logger_problem(path: object) -> str | None:
    if not isinstance(path, str):
        return "which is not a dotted path (a string)."
    try:
        logger = import_string(path)
    except Exception as exc:  # ImportError, or whatever importing the module raised
        return f"which cannot be imported: {exc}"
    if not (isinstance(logger, type) and issubclass(logger, TriggerLogger)):
        return "which is not a TriggerLogger subclass."
    return None
