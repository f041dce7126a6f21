from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class DjtriggersConfig(AppConfig):
    name = "djtriggers"
    verbose_name = _("Triggers")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # checks registers the system checks.
        from . import checks, counts, legacy, prometheus, statsd  # noqa: F401

        statsd.connect()
        prometheus.connect()
        post_migrate.connect(legacy.reinstall_on_sqlite, sender=self)
        post_migrate.connect(counts.after_migrate, sender=self)
