"""System checks: duplicate trigger types and bad DJTRIGGERS_ settings."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from .conf import DEFAULTS, settings
from .registry import trigger_classes

POSITIVE_INTS = ("TRIES_BEFORE_WARNING", "TRIES_BEFORE_ERROR", "BATCH_SIZE", "TRACEBACK_MAX_CHARS")
POSITIVE_NUMBERS = (
    "LEASE_SECONDS",
    "CLAIM_SECONDS",
    "COMMIT_INTERVAL_SECONDS",
    "HEARTBEAT_SECONDS",
    "POLL_INTERVAL_SECONDS",
    "RETRY_MAX_DELAY_SECONDS",
    "HEALTH_MAX_DUE_AGE_SECONDS",
    "HEALTH_MAX_HEARTBEAT_AGE_SECONDS",
    "DASHBOARD_REFRESH_SECONDS",
)
NON_NEGATIVE_NUMBERS = ("RETRY_DELAY_SECONDS",)


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
        f"DJTRIGGERS_{name} = {value!r} is not valid.",
        hint=f"Set it to {expected}, or remove it to use the default ({DEFAULTS[name]!r}).",
        id="djtriggers.E003",
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
    errors = []
    for name in POSITIVE_INTS:
        value = getattr(settings, name)
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            errors.append(_setting_error(name, "a whole number of at least 1"))
    for name in POSITIVE_NUMBERS:
        value = getattr(settings, name)
        if not (_is_number(value) and value > 0):
            errors.append(_setting_error(name, "a number of seconds greater than 0"))
    for name in NON_NEGATIVE_NUMBERS:
        value = getattr(settings, name)
        if not (_is_number(value) and value >= 0):
            errors.append(_setting_error(name, "a number of seconds of at least 0"))
    backoff = settings.RETRY_BACKOFF
    if not (_is_number(backoff) and backoff >= 1):
        errors.append(
            _setting_error("RETRY_BACKOFF", "a number of at least 1 (2 doubles each delay)")
        )
    jitter = settings.RETRY_JITTER
    if not (_is_number(jitter) and 0 <= jitter < 1):
        errors.append(_setting_error("RETRY_JITTER", "a fraction from 0 up to (not including) 1"))
    errors += _check_loggers()
    return errors


def _check_loggers() -> list[Error]:
    loggers = settings.LOGGERS
    if isinstance(loggers, str) or not isinstance(loggers, list | tuple):
        return [_setting_error("LOGGERS", "a list of dotted paths of TriggerLogger classes")]
    errors = []
    for path in loggers:
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(
                Error(
                    f"DJTRIGGERS_LOGGERS names {path!r}, which cannot be imported: {exc}",
                    hint="Fix the dotted path or remove the entry.",
                    id="djtriggers.E004",
                )
            )
    return errors
