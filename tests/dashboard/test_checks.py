"""The dashboard's system checks (dashboard.checks): its apps and middleware."""

from __future__ import annotations

import pytest

from dashboard.checks import check_dashboard_requirements


def test_checks__pass_with_the_test_settings():
    assert check_dashboard_requirements() == []


@pytest.mark.parametrize(
    ("app", "package"),
    [
        ("django_htmx", "django-htmx"),
        ("template_partials", "django-template-partials"),
        ("django_filters", "django-filter"),
    ],
)
def test_checks__e006_for_a_missing_app(settings, app, package):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != app]
    [error] = check_dashboard_requirements()
    assert error.id == "djtriggers.E006"
    assert package in error.msg
    assert error.hint.startswith(f'Add "{app}" to INSTALLED_APPS')


def test_checks__e007_for_a_missing_middleware(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "htmx" not in m]
    [error] = check_dashboard_requirements()
    assert error.id == "djtriggers.E007"
    assert error.hint == 'Add "django_htmx.middleware.HtmxMiddleware" to MIDDLEWARE.'
