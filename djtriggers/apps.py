from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class DjtriggersConfig(AppConfig):
    name = "djtriggers"
    verbose_name = _("Triggers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, prometheus, statsd  # noqa: F401  (registers the system checks)
        from .legacy import reinstall_on_sqlite

        statsd.connect()
        prometheus.connect()
        post_migrate.connect(reinstall_on_sqlite, sender=self)
