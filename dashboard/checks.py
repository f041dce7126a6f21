"""The dashboard's requirements and settings, checked at start-up (only when it is installed)."""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings
from django.core.checks import Error, Tags, register
from django.urls import get_resolver

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


@register(Tags.urls)
def check_dashboard_admin_site(**kwargs: Any) -> list[Error]:
    """The admin site the dashboard links to is in the URLconf."""
    name = settings.DASHBOARD_ADMIN_SITE
    sites = get_resolver().app_dict.get("admin", [])
    if isinstance(name, str) and name in sites:
        return []
    return [
        Error(
            f"DJTRIGGERS_DASHBOARD_ADMIN_SITE = {name!r} names no admin site in the URLconf.",
            hint="Set it to the name of the AdminSite whose trigger pages the dashboard "
            f"links to (in the URLconf: {', '.join(map(repr, sorted(sites))) or 'none'}).",
            id="djtriggers.E010",
        )
    ]
