from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    label = "djtriggers_dashboard"
    verbose_name = "Triggers dashboard"
