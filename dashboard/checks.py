"""The dashboard's requirements and settings, checked at start-up (only when it is installed)."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.checks import Error, register

from djtriggers.checks import setting_errors

from .conf import settings

REQUIRED_APPS = {
    "django_htmx": "django-htmx",
    "template_partials": "django-template-partials",
    "django_filters": "django-filter",
}
MIDDLEWARE = "django_htmx.middleware.HtmxMiddleware"


@register()
def check_dashboard_requirements(**kwargs: Any) -> list[Error]:
    errors = [
        Error(
            f"The triggers dashboard needs {package}, and {app!r} is not in INSTALLED_APPS.",
            hint=f'Add "{app}" to INSTALLED_APPS (pip install "django-triggers[dashboard]").',
            id="djtriggers.E006",
        )
        for app, package in REQUIRED_APPS.items()
        if app not in django_settings.INSTALLED_APPS
    ]
    if MIDDLEWARE not in django_settings.MIDDLEWARE:
        errors.append(
            Error(
                "The triggers dashboard needs django-htmx's middleware.",
                hint=f'Add "{MIDDLEWARE}" to MIDDLEWARE.',
                id="djtriggers.E007",
            )
        )
    return errors


@register()
def check_dashboard_settings(**kwargs: Any) -> list[Error]:
    return setting_errors(settings)
