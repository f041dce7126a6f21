"""The dashboard's app config (dashboard.apps): its label and its system checks."""

from __future__ import annotations

from django.apps import apps
from django.core import checks


def test_app__labelled_apart_from_the_dashboard_of_a_project():
    config = apps.get_app_config("djtriggers_dashboard")
    assert (config.name, str(config.verbose_name)) == ("dashboard", "Triggers dashboard")


def test_ready__registers_the_system_checks():
    registered = {check.__module__ for check in checks.registry.registry.get_checks()}
    assert "dashboard.checks" in registered
