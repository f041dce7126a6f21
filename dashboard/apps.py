from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardConfig(AppConfig):
    name = "dashboard"
    label = "djtriggers_dashboard"
    verbose_name = _("Triggers dashboard")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
