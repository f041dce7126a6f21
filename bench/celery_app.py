"""The benchmark's Celery app, set up as a Django project's ``proj/celery.py`` is."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dispatch_settings")

app = Celery("bench")
# CELERY_* settings (CELERY_BROKER_URL, ...) from Django's settings.
app.config_from_object("django.conf:settings", namespace="CELERY")
# The installed apps' tasks modules: djtriggers.tasks among them.
app.autodiscover_tasks()
