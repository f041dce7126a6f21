"""System checks: each bad setting or trigger class gets an error that says how to fix it."""

import math

import pytest
from django.core import checks
from django.db import models

from dashboard.checks import check_dashboard_settings
from dashboard.conf import DashboardSettings
from djtriggers.checks import (
    check_priorities_and_keys,
    check_settings,
    check_trigger_overrides,
    check_trigger_types,
)
from djtriggers.conf import BOUNDS, DEFAULTS
from djtriggers.loggers.base import TriggerLogger
from djtriggers.models import Trigger

DASHBOARD_DEFAULTS = {name: s.default for name, s in DashboardSettings.declared().items()}
# DASHBOARD_ADMIN_SITE has a check of its own (E010, tests/dashboard/test_sites.py).
DASHBOARD_BOUNDS = {
    name: s.bounds for name, s in DashboardSettings.declared().items() if s.bounds is not None
}


def setting_checks():
    """The errors of every settings check: djtriggers' and the dashboard's."""
    return check_settings() + check_dashboard_settings()


def ids(errors):
    return [error.id for error in errors]


def test_defaults_pass():
    assert setting_checks() == []
    assert check_trigger_types() == []
    assert check_trigger_overrides() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJTRIGGERS_TRIES_BEFORE_ERROR", 0),
        ("DJTRIGGERS_TRIES_BEFORE_WARNING", "3"),
        ("DJTRIGGERS_BATCH_SIZE", True),
        ("DJTRIGGERS_LEASE_SECONDS", 0),
        ("DJTRIGGERS_COMMIT_INTERVAL_SECONDS", -1),
        ("DJTRIGGERS_RETRY_DELAY_SECONDS", -5),
        ("DJTRIGGERS_RETRY_BACKOFF", 0.5),
        ("DJTRIGGERS_RETRY_JITTER", 1),
        ("DJTRIGGERS_LOGGERS", "djtriggers.loggers.database.DatabaseLogger"),
        ("DJTRIGGERS_LOGGERS", None),
        # Not finite, or absurdly large.
        ("DJTRIGGERS_LEASE_SECONDS", math.inf),
        ("DJTRIGGERS_POLL_INTERVAL_SECONDS", math.nan),
        ("DJTRIGGERS_HEARTBEAT_SECONDS", -math.inf),
        ("DJTRIGGERS_RETRY_DELAY_SECONDS", math.nan),
        ("DJTRIGGERS_RETRY_MAX_DELAY_SECONDS", math.inf),
        ("DJTRIGGERS_RETRY_BACKOFF", 1e300),
        ("DJTRIGGERS_RETRY_BACKOFF", math.nan),
        ("DJTRIGGERS_RETRY_JITTER", math.nan),
        ("DJTRIGGERS_TRIES_BEFORE_ERROR", 10**9),
        ("DJTRIGGERS_TRIES_BEFORE_WARNING", 10**400),
        ("DJTRIGGERS_TRIES_BEFORE_ERROR", 5.0),
        ("DJTRIGGERS_BATCH_SIZE", 10_001),
        ("DJTRIGGERS_TRACEBACK_MAX_CHARS", 99),
        ("DJTRIGGERS_HEALTH_MAX_DUE_AGE_SECONDS", 1e300),
        ("DJTRIGGERS_DASHBOARD_REFRESH_SECONDS", 0.3),
        ("DJTRIGGERS_DASHBOARD_REFRESH_SECONDS", 2.5),
        ("DJTRIGGERS_DASHBOARD_REFRESH_SECONDS", 0),
        ("DJTRIGGERS_DASHBOARD_REFRESH_SECONDS", 3601),
        ("DJTRIGGERS_DASHBOARD_REFRESH_SECONDS", True),
        ("DJTRIGGERS_PROBE_INTERVAL_SECONDS", 0),
        ("DJTRIGGERS_PROBE_INTERVAL_SECONDS", 0.001),
        ("DJTRIGGERS_PROBE_INTERVAL_SECONDS", math.nan),
        ("DJTRIGGERS_NOTIFICATIONS", "false"),
        ("DJTRIGGERS_NOTIFICATIONS", None),
        ("DJTRIGGERS_NOTIFICATIONS", 0),
    ],
)
def test_bad_setting__e003_names_it_and_the_default(settings, name, value):
    setattr(settings, name, value)
    errors = setting_checks()
    assert ids(errors) == ["djtriggers.E003"]
    assert name in errors[0].msg
    assert "default" in errors[0].hint


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "LEASE_SECONDS",
            math.inf,
            "a number of seconds greater than 0 and at most 86_400 (1 day)",
        ),
        ("RETRY_BACKOFF", 1e300, "a number from 1 to 10 (2 doubles each delay"),
        ("TRIES_BEFORE_ERROR", 10**9, "a whole number from 1 to 1000"),
        ("DASHBOARD_REFRESH_SECONDS", 0.3, "a whole number of seconds from 1 to 3600 (1 hour)"),
        ("RETRY_JITTER", 1, "a number from 0 up to (not including) 1"),
    ],
)
def test_bad_setting__message_and_hint_say_what_is_expected(settings, name, value, expected):
    setattr(settings, f"DJTRIGGERS_{name}", value)
    [error] = setting_checks()
    assert f"DJTRIGGERS_{name} = {value!r} is not valid: it must be {expected}" in error.msg
    assert error.hint.startswith(f"Set it to {expected}")
    default = {**DEFAULTS, **DASHBOARD_DEFAULTS}[name]
    assert error.hint.endswith(f"or remove it to use the default ({default!r}).")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJTRIGGERS_TRIES_BEFORE_ERROR", 1000),
        ("DJTRIGGERS_TRIES_BEFORE_WARNING", 9),  # above TRIES_BEFORE_ERROR: never warns
        ("DJTRIGGERS_RETRY_DELAY_SECONDS", 0),
        ("DJTRIGGERS_RETRY_DELAY_SECONDS", 7 * 24 * 3600),
        ("DJTRIGGERS_RETRY_BACKOFF", 1),
        ("DJTRIGGERS_RETRY_BACKOFF", 10),
        ("DJTRIGGERS_RETRY_MAX_DELAY_SECONDS", 365 * 24 * 3600),
        ("DJTRIGGERS_COMMIT_INTERVAL_SECONDS", 0.05),
        ("DJTRIGGERS_DASHBOARD_REFRESH_SECONDS", 1),
        ("DJTRIGGERS_DASHBOARD_REFRESH_SECONDS", 60.0),
        ("DJTRIGGERS_LOGGERS", []),
        ("DJTRIGGERS_PROBE_INTERVAL_SECONDS", 0.01),
        ("DJTRIGGERS_PROBE_INTERVAL_SECONDS", 3600),
        ("DJTRIGGERS_NOTIFICATIONS", False),
    ],
)
def test_values_at_the_bounds_pass(settings, name, value):
    setattr(settings, name, value)
    assert setting_checks() == []


def test_every_setting_has_bounds_or_a_check_of_its_own():
    checked_apart = {
        *("LOGGERS", "STATSD_ADDRESS", "STATSD_PREFIX", "NOTIFICATIONS", "PROMETHEUS"),
        *("DISPATCH", "ASYNC_HANDLING", "DISPATCH_QUEUE", "TASKS_BACKEND"),
        "CELERY_TASK_MAX_RETRIES",
    }
    assert set(BOUNDS) | checked_apart == set(DEFAULTS)


def test_defaults_are_within_their_bounds():
    for name, bounds in BOUNDS.items():
        assert bounds.accepts(DEFAULTS[name]), name
    for name, bounds in DASHBOARD_BOUNDS.items():
        assert bounds.accepts(DASHBOARD_DEFAULTS[name]), name


def test_unimportable_logger__e004(settings):
    settings.DJTRIGGERS_LOGGERS = ["djtriggers.loggers.nope.Missing"]
    errors = check_settings()
    assert ids(errors) == ["djtriggers.E004"]
    assert "djtriggers.loggers.nope.Missing" in errors[0].msg
    assert "cannot be imported" in errors[0].msg


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("builtins.object", "which is not a TriggerLogger subclass."),
        ("djtriggers.loggers.base.TYPE_CHECKING", "which is not a TriggerLogger subclass."),
        ("nodots", "which cannot be imported"),
        (42, "which is not a dotted path (a string)."),
    ],
)
def test_logger_that_is_not_a_trigger_logger__e004(settings, entry, problem):
    settings.DJTRIGGERS_LOGGERS = ["djtriggers.loggers.database.DatabaseLogger", entry]
    [error] = check_settings()
    assert error.id == "djtriggers.E004"
    assert error.msg.startswith(f"DJTRIGGERS_LOGGERS names {entry!r}, {problem}")
    assert "Name a subclass of djtriggers.loggers.base.TriggerLogger" in error.hint


def test_logger_subclass_outside_djtriggers_passes(settings):
    settings.DJTRIGGERS_LOGGERS = ("tests.test_checks.QuietLogger",)
    assert check_settings() == []


class QuietLogger(TriggerLogger):
    pass


def test_duplicate_typed__e001_says_how_to_fix(settings):
    class Twin(Trigger):
        class Meta:
            proxy = True
            app_label = "testapp"

        typed = "noop"

    try:
        errors = check_trigger_types()
        assert ids(errors) == ["djtriggers.E001"]
        assert "share typed = 'noop'" in errors[0].msg
        assert "its own typed" in errors[0].hint
        assert errors[0].level == checks.ERROR
    finally:
        _unregister(Twin)


def test_typed_too_long__e002():
    class Long(Trigger):
        class Meta:
            proxy = True
            app_label = "testapp"

        typed = "x" * 101

    try:
        assert ids(check_trigger_types()) == ["djtriggers.E002"]
    finally:
        _unregister(Long)


def _unregister(model: type[models.Model]) -> None:
    from django.apps import apps

    del apps.all_models["testapp"][model._meta.model_name]
    apps.clear_cache()


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        ("max_tries", 0, "a whole number from 1 to 1000"),
        ("max_tries", 10**6, "a whole number from 1 to 1000"),
        ("max_tries", 2.5, "a whole number from 1 to 1000"),
        ("retry_delay_seconds", math.inf, "a number of seconds from 0 to 604_800 (1 week)"),
        ("retry_delay_seconds", -1, "a number of seconds from 0 to 604_800 (1 week)"),
        ("retry_max_delay_seconds", math.nan, "greater than 0 and at most 31_536_000 (1 year)"),
        ("retry_max_delay_seconds", "60", "greater than 0 and at most 31_536_000 (1 year)"),
    ],
)
def test_bad_class_override__e008_on_the_class(attribute, value, expected):
    Odd = type(
        "Odd",
        (Trigger,),
        {
            "__module__": __name__,
            "Meta": type("Meta", (), {"proxy": True, "app_label": "testapp"}),
            "typed": "odd",
            attribute: value,
        },
    )
    try:
        [error] = check_trigger_overrides()
        assert error.id == "djtriggers.E008"
        assert error.obj is Odd
        assert error.msg.startswith(f"Odd.{attribute} = {value!r} is not valid: it must be")
        assert expected in error.msg
        assert "or remove it (or set None) to use DJTRIGGERS_" in error.hint
    finally:
        _unregister(Odd)


def test_class_overrides_within_bounds_pass():
    class Patient(Trigger):
        class Meta:
            proxy = True
            app_label = "testapp"

        typed = "patient"
        max_tries = 1000
        retry_delay_seconds = 0
        retry_max_delay_seconds = 600

    try:
        assert check_trigger_overrides() == []
    finally:
        _unregister(Patient)


def test_heartbeat_longer_than_half_the_lease__is_an_error(settings):
    from djtriggers.checks import check_settings

    settings.DJTRIGGERS_HEARTBEAT_SECONDS = 40.0
    settings.DJTRIGGERS_LEASE_SECONDS = 60.0
    assert [e.id for e in check_settings()] == ["djtriggers.E009"]


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "2"])
def test_bad_max_concurrency__e012_on_the_class(value):
    Odd = type(
        "Odd",
        (Trigger,),
        {
            "__module__": __name__,
            "Meta": type("Meta", (), {"proxy": True, "app_label": "testapp"}),
            "typed": "odd",
            "max_concurrency": value,
        },
    )
    try:
        [error] = check_trigger_overrides()
        assert error.id == "djtriggers.E012"
        assert error.obj is Odd
        assert error.msg == (
            f"Odd.max_concurrency = {value!r} is not valid: "
            "it must be a whole number of at least 1."
        )
    finally:
        _unregister(Odd)


def _odd(**attributes):
    """A registered proxy trigger class with ``attributes`` (unregister it after)."""
    meta = type("Meta", (), {"proxy": True, "app_label": "testapp"})
    return type(
        "Odd", (Trigger,), {"__module__": __name__, "Meta": meta, "typed": "odd", **attributes}
    )


def test_priorities_and_keys__the_test_classes_pass():
    assert check_priorities_and_keys() == []


@pytest.mark.parametrize("value", [-1, 10, True, 2.0, "1", None])
def test_bad_default_priority__e015(value):
    Odd = _odd(default_priority=value)
    try:
        [error] = check_priorities_and_keys()
        assert (error.id, error.obj) == ("djtriggers.E015", Odd)
        assert error.msg == f"Odd.default_priority = {value!r} is not a priority."
        assert error.hint == (
            "Set a whole number from 0 (runs first) to 9 (runs last), or remove it to get 5."
        )
    finally:
        _unregister(Odd)


@pytest.mark.parametrize("value", ["source", (), ("source", 1), ["source"], None, 1])
def test_bad_unique_key__e016(value):
    Odd = _odd(unique_key=value)
    try:
        [error] = check_priorities_and_keys()
        assert (error.id, error.obj) == ("djtriggers.E016", Odd)
        assert error.msg == f"Odd.unique_key = {value!r} is not valid."
    finally:
        _unregister(Odd)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (("recipient",), "Odd.unique_key names recipient, which is not a field of the class."),
        (("source", "a", "b"), "Odd.unique_key names a, b, which are not fields of the class."),
    ],
)
def test_unique_key_naming_what_is_not_a_field__e017(value, message):
    Odd = _odd(unique_key=value)
    try:
        [error] = check_priorities_and_keys()
        assert (error.id, error.msg) == ("djtriggers.E017", message)
        assert error.hint == "Name fields of Odd (its own or Trigger's, e.g. source)."
    finally:
        _unregister(Odd)


@pytest.mark.parametrize("value", [True, False, ("source",), ("source", "priority")])
def test_good_unique_keys_pass(value):
    Odd = _odd(unique_key=value)
    try:
        assert check_priorities_and_keys() == []
    finally:
        _unregister(Odd)


def _scheduled(name: str, **attrs):
    """A proxy trigger class of testapp with these attributes (unregister it after)."""
    meta = attrs.pop("Meta", type("Meta", (), {"proxy": True, "app_label": "testapp"}))
    return type(name, (Trigger,), {"__module__": __name__, "Meta": meta, **attrs})


@pytest.mark.parametrize(
    ("attrs", "id_", "says"),
    [
        ({"schedule": "every day"}, "djtriggers.E018", "give five fields"),
        ({"schedule": "61 * * * *"}, "djtriggers.E018", "bad minute"),
        ({"schedule": "@daily", "schedule_catch_up": "all"}, "djtriggers.E018", "'all' is not"),
        ({"schedule": "@daily", "schedule_timezone": "Mars/Olympus"}, "djtriggers.E019", "Mars"),
    ],
)
def test_bad_schedule__an_error_on_the_class(attrs, id_, says):
    from djtriggers.checks import check_schedules

    Scheduled = _scheduled("Scheduled", typed="scheduled_check", **attrs)
    try:
        [error] = check_schedules()
        assert (error.id, error.obj) == (id_, Scheduled)
        assert says in error.msg
        assert error.hint
    finally:
        _unregister(Scheduled)


def test_schedule_on_a_type_with_own_data__e020():
    from djtriggers.checks import check_schedules

    meta = type("Meta", (), {"app_label": "testapp"})
    Needy = _scheduled(
        "Needy",
        Meta=meta,
        typed="needy",
        schedule="@daily",
        amount=models.IntegerField(),
        note=models.CharField(max_length=10, blank=True),
        count=models.IntegerField(default=0),
    )
    try:
        [error] = check_schedules()
        assert error.id == "djtriggers.E020"
        assert "need their own data (amount)" in error.msg
    finally:
        _unregister(Needy)


def test_schedule_on_an_abstract_class__e020():
    from djtriggers.checks import check_schedules

    meta = type("Meta", (), {"abstract": True, "app_label": "testapp"})
    Abstract = _scheduled("AbstractScheduled", Meta=meta, schedule="@daily")
    try:
        [error] = check_schedules()
        assert (error.id, error.obj) == ("djtriggers.E020", Abstract)
        assert "is abstract" in error.msg
    finally:
        Abstract.schedule = None  # it stays a subclass of Trigger until collected
        del Abstract


def test_good_schedules__no_error():
    from djtriggers.checks import check_schedules

    assert check_schedules() == []


# --- dispatch (DJTRIGGERS_DISPATCH, 2.x's ASYNC_HANDLING and CELERY_TASK_MAX_RETRIES) ---


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DISPATCH", "rq"),
        ("DISPATCH", True),
        ("ASYNC_HANDLING", "yes"),
        ("DISPATCH_QUEUE", ""),
        ("DISPATCH_QUEUE", 7),
        ("TASKS_BACKEND", " "),
        ("DISPATCH_DEADLINE_SECONDS", float("nan")),
        ("DISPATCH_MAX_IN_FLIGHT", 0),
    ],
)
def test_dispatch_settings__bad_values_e003(settings, name, value):
    setattr(settings, f"DJTRIGGERS_{name}", value)
    errors = check_settings()
    assert ids(errors) == ["djtriggers.E003"]
    assert f"DJTRIGGERS_{name}" in errors[0].msg


@pytest.fixture
def celery_app():
    """Makes ``Celery(name)`` the current app, as a project's __init__.py does; then restores."""
    from celery import Celery, current_app

    previous = current_app._get_current_object()
    yield lambda name: Celery(name).set_current()
    previous.set_current()


def test_dispatch_settings__celery_and_tasks_with_their_packages_pass(settings, celery_app):
    celery_app("proj")
    for value in ("celery", "tasks", None):
        settings.DJTRIGGERS_DISPATCH = value
        assert check_settings() == []
    settings.DJTRIGGERS_DISPATCH = None
    settings.DJTRIGGERS_ASYNC_HANDLING = True
    assert check_settings() == []


def test_async_handling_with_another_dispatch__e021(settings):
    settings.DJTRIGGERS_ASYNC_HANDLING = True
    settings.DJTRIGGERS_DISPATCH = "tasks"
    errors = check_settings()
    assert ids(errors) == ["djtriggers.E021"]
    assert "means Celery" in errors[0].msg


@pytest.mark.parametrize(("kind", "extra"), [("celery", "celery"), ("tasks", "tasks")])
def test_dispatch_without_its_package__e022(settings, monkeypatch, kind, extra):
    from djtriggers import checks

    # As if the package were not installed: a module name that exists nowhere.
    monkeypatch.setitem(checks.DISPATCH_NEEDS, kind, (("not_installed_anywhere.sub",), extra))
    settings.DJTRIGGERS_DISPATCH = kind
    errors = check_settings()
    assert ids(errors) == ["djtriggers.E022"]
    assert f'pip install "django-triggers[{extra}]"' in errors[0].hint


def test_dispatch_to_tasks_with_an_unknown_backend__e024(settings):
    settings.DJTRIGGERS_DISPATCH = "tasks"
    settings.DJTRIGGERS_TASKS_BACKEND = "elsewhere"
    errors = check_settings()
    assert ids(errors) == ["djtriggers.E024"]
    settings.TASKS = {"elsewhere": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    assert check_settings() == []


def test_dispatch_to_celery_without_the_projects_app__w025(settings, celery_app):
    settings.DJTRIGGERS_DISPATCH = "celery"
    celery_app("default")  # what Celery falls back to when the project made no app
    errors = check_settings()
    assert ids(errors) == ["djtriggers.W025"]
    assert "from .celery import app as celery_app" in errors[0].hint
    celery_app("proj")
    assert check_settings() == []


def test_celery_task_max_retries__deprecated_w023(settings):
    settings.DJTRIGGERS_CELERY_TASK_MAX_RETRIES = 3
    errors = check_settings()
    assert ids(errors) == ["djtriggers.W023"]
    assert "never did anything" in errors[0].msg
