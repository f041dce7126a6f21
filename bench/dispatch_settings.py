"""bench/dispatch.py's settings: ours, with Celery over RabbitMQ and django-tasks-db.

BENCH_DISPATCH (unset, "celery" or "tasks") is DJTRIGGERS_DISPATCH; BENCH_QUEUE is
the queue the triggers are published to (one of the benchmark's own, so that other
Celery workers on the same broker never take its messages).
"""

import os

from ours.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks", "django_tasks_db"]  # noqa: F405

DJTRIGGERS_DISPATCH = os.environ.get("BENCH_DISPATCH") or None
DJTRIGGERS_DISPATCH_QUEUE = os.environ.get("BENCH_QUEUE") or None

CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connection before and after every task
# unless this says after how many tasks: a new connection per trigger otherwise
# (2.5x slower here).
CELERY_DB_REUSE_MAX = 1000

# db_worker closes the connection between tasks unless it may live on.
for _database in DATABASES.values():  # noqa: F405
    _database["CONN_MAX_AGE"] = 600

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}

if DJTRIGGERS_DISPATCH == "celery":
    # The project's Celery app, as a project's __init__.py imports it.
    import celery_app  # noqa: F401
