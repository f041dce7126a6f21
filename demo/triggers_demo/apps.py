from django.apps import AppConfig


class TriggersDemoConfig(AppConfig):
    name = "demo.triggers_demo"
    label = "triggers_demo"
    default_auto_field = "django.db.models.BigAutoField"
