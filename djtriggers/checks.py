"""System checks: duplicate trigger types, bad DJTRIGGERS_ settings and class attributes."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning
from django.utils.module_loading import import_string

from . import priorities
from .conf import BOUNDS, BaseSettings, settings
from .loggers.base import TriggerLogger
from .registry import trigger_classes

if TYPE_CHECKING:
    from .models import Trigger

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


def _setting_error(group: BaseSettings, name: str, expected: str) -> Error:
    value = getattr(group, name)
    default = type(group).declared()[name].default
    return Error(
        f"DJTRIGGERS_{name} = {value!r} is not valid: it must be {expected}.",
        hint=f"Set it to {expected}, or remove it to use the default ({default!r}).",
        id="djtriggers.E003",
    )


def setting_errors(group: BaseSettings) -> list[Error]:
    """An E003 error for each of ``group``'s settings outside its bounds."""
    return [
        _setting_error(group, name, setting.bounds.describe())
        for name, setting in type(group).declared().items()
        if setting.bounds is not None and not setting.bounds.accepts(getattr(group, name))
    ]


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
            errors += _check_max_concurrency(cls)
    return errors


def _check_max_concurrency(cls: Any) -> list[Error]:
    value = cls.max_concurrency
    if value is None or (type(value) is int and value > 0):
        return []
    return [
        Error(
            f"{cls.__name__}.max_concurrency = {value!r} is not valid: it must be a whole "
            "number of at least 1.",
            hint="Set it to how many of its triggers may run at once over all workers, or "
            "remove it (or set None) for no limit.",
            obj=cls,
            id="djtriggers.E012",
        )
    ]


@register()
def check_settings(**kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    errors += setting_errors(settings)
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
    if not isinstance(settings.NOTIFICATIONS, bool):
        errors.append(_setting_error(settings, "NOTIFICATIONS", "True or False"))
    errors += _check_loggers()
    errors += _check_statsd()
    errors += _check_prometheus()
    errors += _check_dispatch()
    return errors


# The packages each DJTRIGGERS_DISPATCH needs (any one of them), and the extra that has them.
DISPATCH_NEEDS = {
    "celery": (("celery",), "celery"),
    "tasks": (("django.tasks", "django_tasks"), "tasks"),
}


def _check_dispatch() -> list[CheckMessage]:
    """DJTRIGGERS_DISPATCH and 2.x's ASYNC_HANDLING and CELERY_TASK_MAX_RETRIES."""
    dispatch, legacy = settings.DISPATCH, settings.ASYNC_HANDLING
    messages: list[CheckMessage] = []
    if not isinstance(legacy, bool):
        messages.append(_setting_error(settings, "ASYNC_HANDLING", "True or False"))
    if dispatch is not None and dispatch not in DISPATCH_NEEDS:
        messages.append(_setting_error(settings, "DISPATCH", 'None, "celery" or "tasks"'))
    elif legacy is True and dispatch not in (None, "celery"):
        messages.append(
            Error(
                f"DJTRIGGERS_ASYNC_HANDLING = True means Celery, but DJTRIGGERS_DISPATCH is "
                f"{dispatch!r}.",
                hint="Remove DJTRIGGERS_ASYNC_HANDLING (2.x's setting): DJTRIGGERS_DISPATCH "
                "alone says where triggers run.",
                id="djtriggers.E021",
            )
        )
    queue, backend = settings.DISPATCH_QUEUE, settings.TASKS_BACKEND
    if queue is not None and not (isinstance(queue, str) and queue.strip()):
        messages.append(_setting_error(settings, "DISPATCH_QUEUE", "a queue name, or None"))
    if not (isinstance(backend, str) and backend.strip()):
        messages.append(_setting_error(settings, "TASKS_BACKEND", "the alias of a TASKS backend"))
    kind = dispatch or ("celery" if legacy is True else None)
    if not messages and kind is not None:
        modules, extra = DISPATCH_NEEDS[kind]
        if not any(_importable(module) for module in modules):
            messages.append(
                Error(
                    f"Triggers run on {kind} (DJTRIGGERS_DISPATCH), but {' or '.join(modules)} "
                    "is not installed: run_triggers could not publish them.",
                    hint=f'pip install "django-triggers[{extra}]", or remove the setting to '
                    "run triggers in run_triggers itself.",
                    id="djtriggers.E022",
                )
            )
        elif kind == "celery" and _celery_app_name() == "default":
            messages.append(
                CheckWarning(
                    "Triggers run on Celery (DJTRIGGERS_DISPATCH), but no Celery app of the "
                    "project is loaded: run_triggers would publish through Celery's default app "
                    "(amqp://guest@localhost//, queue celery), where your workers may not listen.",
                    hint="Import your app in your project package's __init__.py: \"from .celery "
                    'import app as celery_app" (Celery\'s "First steps with Django").',
                    id="djtriggers.W025",
                )
            )
        elif kind == "tasks" and backend not in getattr(django_settings, "TASKS", {"default": {}}):
            messages.append(
                Error(
                    f"DJTRIGGERS_TASKS_BACKEND is {backend!r}, which is not a backend in the "
                    "TASKS setting: run_triggers could not enqueue triggers.",
                    hint="Name one of the TASKS setting's aliases, or add that backend.",
                    id="djtriggers.E024",
                )
            )
    if settings.CELERY_TASK_MAX_RETRIES is not None:
        messages.append(
            CheckWarning(
                "DJTRIGGERS_CELERY_TASK_MAX_RETRIES is deprecated: it never did anything (2.x "
                "passed it to apply_async, which ignores it). Retries follow "
                "DJTRIGGERS_TRIES_BEFORE_ERROR and the retry delay settings.",
                hint="Remove DJTRIGGERS_CELERY_TASK_MAX_RETRIES from your settings.",
                id="djtriggers.W023",
            )
        )
    return messages


def _celery_app_name() -> str | None:
    """The current Celery app's name: "default" when the project created none."""
    from celery import current_app

    name: str | None = current_app.main
    return name


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the parent package (django.tasks's django) has no such module
        return False


def _check_statsd() -> list[Error]:
    from .statsd import parse_address

    address, prefix = settings.STATSD_ADDRESS, settings.STATSD_PREFIX
    errors = []
    if address is not None and parse_address(address) is None:
        errors.append(_setting_error(settings, "STATSD_ADDRESS", 'a "host:port" string, or None'))
    if not isinstance(prefix, str) or any(c in prefix for c in ":|@# \n"):
        errors.append(
            _setting_error(settings, "STATSD_PREFIX", "a string without : | @ # or spaces")
        )
    return errors


def _check_prometheus() -> list[CheckMessage]:
    from .prometheus import available

    if not isinstance(settings.PROMETHEUS, bool):
        return [_setting_error(settings, "PROMETHEUS", "True or False")]
    if settings.PROMETHEUS and not available():
        return [
            CheckWarning(
                "DJTRIGGERS_PROMETHEUS is True but prometheus_client is not installed: no "
                "metrics are recorded, and the metrics views answer 501.",
                hint='pip install "django-triggers[prometheus]", or set '
                "DJTRIGGERS_PROMETHEUS = False.",
                id="djtriggers.W011",
            )
        ]
    return []


def _check_loggers() -> list[Error]:
    loggers = settings.LOGGERS
    if isinstance(loggers, str) or not isinstance(loggers, list | tuple):
        expected = "a list of dotted paths of TriggerLogger classes"
        return [_setting_error(settings, "LOGGERS", expected)]
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


@register(Tags.models)
def check_priorities_and_keys(**kwargs: Any) -> list[Error]:
    """``default_priority`` is a priority; ``unique_key`` is True or names the class's fields."""
    errors = []
    for _typed, classes in sorted(trigger_classes().items()):
        for cls in classes:
            if not priorities.is_priority(cls.default_priority):
                errors.append(
                    Error(
                        f"{cls.__name__}.default_priority = {cls.default_priority!r} is not a "
                        f"priority.",
                        hint=f"Set a whole number from {priorities.HIGHEST} (runs first) to "
                        f"{priorities.LOWEST} (runs last), or remove it to get "
                        f"{priorities.DEFAULT}.",
                        obj=cls,
                        id="djtriggers.E015",
                    )
                )
            errors += _key_errors(cls)
    return errors


def _key_errors(cls: Any) -> list[Error]:
    value = cls.unique_key
    if isinstance(value, bool):
        return []
    if not (isinstance(value, tuple) and value and all(isinstance(v, str) for v in value)):
        return [
            Error(
                f"{cls.__name__}.unique_key = {value!r} is not valid.",
                hint="Set True (one unfinished trigger per source), a tuple of the names of "
                'its fields (e.g. ("recipient", "amount")), or False.',
                obj=cls,
                id="djtriggers.E016",
            )
        ]
    names = {f.name for f in cls._meta.concrete_fields}
    unknown = [name for name in value if name not in names]
    if not unknown:
        return []
    return [
        Error(
            f"{cls.__name__}.unique_key names {', '.join(unknown)}, which "
            f"{'is not a field' if len(unknown) == 1 else 'are not fields'} of the class.",
            hint=f"Name fields of {cls.__name__} (its own or Trigger's, e.g. source).",
            obj=cls,
            id="djtriggers.E017",
        )
    ]


# The ids of what schedules.problems finds in a class's schedule.
SCHEDULE_PROBLEMS = {
    "expression": "djtriggers.E018",
    "zone": "djtriggers.E019",
    "type": "djtriggers.E020",
}


def _abstract_subclasses(cls: type[Trigger]) -> list[type[Trigger]]:
    found: list[type[Trigger]] = []
    for sub in cls.__subclasses__():
        found += [sub] if sub._meta.abstract else []
        found += _abstract_subclasses(sub)
    return found


@register(Tags.models)
def check_schedules(**kwargs: Any) -> list[Error]:
    """The schedules classes declare: a cron expression, a time zone, a type without own data."""
    from . import schedules
    from .models import Trigger

    installed = [cls for classes in trigger_classes().values() for cls in classes]
    errors: list[Error] = []
    for cls in [*_abstract_subclasses(Trigger), *installed]:
        for problem in schedules.problems(cls):
            error_id = SCHEDULE_PROBLEMS[problem.kind]
            errors.append(Error(problem.message, hint=problem.hint, obj=cls, id=error_id))
    return errors
