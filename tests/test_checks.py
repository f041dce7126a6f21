"""System checks: each bad setting or trigger class gets an error that says how to fix it."""

import pytest
from django.core import checks
from django.db import models

from djtriggers.checks import check_settings, check_trigger_types
from djtriggers.models import Trigger


def ids(errors):
    return [error.id for error in errors]


def test_defaults_pass():
    assert check_settings() == []
    assert check_trigger_types() == []


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
    ],
)
def test_bad_setting__e003_names_it_and_the_default(settings, name, value):
    setattr(settings, name, value)
    errors = check_settings()
    assert ids(errors) == ["djtriggers.E003"]
    assert name in errors[0].msg
    assert "default" in errors[0].hint


def test_unimportable_logger__e004(settings):
    settings.DJTRIGGERS_LOGGERS = ["djtriggers.loggers.nope.Missing"]
    errors = check_settings()
    assert ids(errors) == ["djtriggers.E004"]
    assert "djtriggers.loggers.nope.Missing" in errors[0].msg


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


def test_missing_import_export_app__e005(settings):
    from djtriggers.checks import check_installed_apps

    assert check_installed_apps() == []
    settings.INSTALLED_APPS = [app for app in settings.INSTALLED_APPS if app != "import_export"]
    errors = check_installed_apps()
    assert ids(errors) == ["djtriggers.E005"]
    assert errors[0].hint == 'Add "import_export" to INSTALLED_APPS.'
