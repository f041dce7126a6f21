"""djtriggers' app config (djtriggers.apps): its checks, and the 2.x triggers kept on SQLite."""

from __future__ import annotations

from django.apps import apps
from django.core import checks
from django.db.models.signals import post_migrate

from djtriggers.legacy import reinstall_on_sqlite


def test_app__named_triggers():
    config = apps.get_app_config("djtriggers")
    assert (config.name, str(config.verbose_name)) == ("djtriggers", "Triggers")


def test_ready__registers_the_system_checks():
    registered = {check.__module__ for check in checks.registry.registry.get_checks()}
    assert "djtriggers.checks" in registered


def test_ready__reinstalls_the_sqlite_triggers_after_each_migrate_of_the_app():
    config = apps.get_app_config("djtriggers")
    receivers = post_migrate._live_receivers(config)
    receivers = receivers[0] if isinstance(receivers, tuple) else receivers
    assert reinstall_on_sqlite in receivers
    other = apps.get_app_config("auth")
    others = post_migrate._live_receivers(other)
    others = others[0] if isinstance(others, tuple) else others
    assert reinstall_on_sqlite not in others
