from django.apps import AppConfig


class DjtriggersConfig(AppConfig):
    name = "djtriggers"
    verbose_name = "Triggers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
