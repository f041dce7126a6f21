"""The dashboard's requirements, checked at start-up."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

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
            hint=f'Add "{app}" to INSTALLED_APPS.',
            id="djtriggers.E006",
        )
        for app, package in REQUIRED_APPS.items()
        if app not in settings.INSTALLED_APPS
    ]
    if MIDDLEWARE not in settings.MIDDLEWARE:
        errors.append(
            Error(
                "The triggers dashboard needs django-htmx's middleware.",
                hint=f'Add "{MIDDLEWARE}" to MIDDLEWARE.',
                id="djtriggers.E007",
            )
        )
    return errors
