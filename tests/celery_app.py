"""The Celery app of the test project, as Celery's Django guide has a project write it.

The tests' "project package" (tests/__init__.py) imports it in the processes
the Celery tests start (a dispatching ``run_triggers``, ``celery -A
tests.celery_app worker``), so that it is their current app and djtriggers'
shared tasks bind to it. Its configuration is the CELERY_* block of
tests/settings.py: the broker and queue come from the environment
(tests/celery_workers.py sets them).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
# djtriggers.tasks (and any other installed app's tasks module).
app.autodiscover_tasks()
