"""Settings for the test suite.

DJTRIGGERS_TEST_DB picks the database: sqlite, postgres or mariadb.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TIME_ZONE = "UTC"
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "import_export",
    "django_filters",
    "djtriggers",
    "dashboard",
    "tests.testapp",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # In a checkout the apps' templates and static files are in the
        # top-level folders; the wheel ships them inside the apps.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# One catalogue for both apps, in djtriggers (the dashboard always runs with it):
# `make messages` runs makemessages with these settings, and files outside
# djtriggers/ (the dashboard, the top-level templates) land in the first of these.
LOCALE_PATHS = [BASE_DIR / "djtriggers" / "locale"]

DB = os.environ.get("DJTRIGGERS_TEST_DB", "sqlite")
# Each test run gets its own test database, so runs can overlap. A worker
# subprocess started by a test is told the test database's name instead.
RUN_DB_NAME = os.environ.get("DJTRIGGERS_DB_NAME")
TEST_DB_NAME = f"test_djtriggers_{os.getpid()}"
if DB == "sqlite":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": RUN_DB_NAME or BASE_DIR / "test.sqlite3",
            # A file (not memory) so that worker subprocesses share the test database.
            "TEST": {"NAME": str(BASE_DIR / f"{TEST_DB_NAME}.sqlite3")},
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
elif DB == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": RUN_DB_NAME or "postgres",
            "TEST": {"NAME": TEST_DB_NAME},
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": "5432",
        }
    }
elif DB == "mariadb":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": RUN_DB_NAME or "test",
            "USER": "root",
            "PASSWORD": "",
            "HOST": "127.0.0.1",
            "PORT": "3306",
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"NAME": TEST_DB_NAME, "CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"},
        }
    }
else:
    raise RuntimeError(f"DJTRIGGERS_TEST_DB={DB!r}: use sqlite, postgres or mariadb.")

# Tests retry quickly.
DJTRIGGERS_RETRY_DELAY_SECONDS = 0
DJTRIGGERS_RETRY_JITTER = 0
# Worker subprocesses started by a test may be given a short lease, so that a
# killed worker's claims end quickly.
DJTRIGGERS_LEASE_SECONDS = float(os.environ.get("DJTRIGGERS_TEST_LEASE_SECONDS", 60))
# Leases are renewed at least twice per lease (check djtriggers.E009).
DJTRIGGERS_HEARTBEAT_SECONDS = min(1.0, DJTRIGGERS_LEASE_SECONDS / 2)
# A worker test may give its subprocess a timeout for the triggers' tries.
if os.environ.get("DJTRIGGERS_TEST_TIMEOUT_SECONDS"):
    DJTRIGGERS_TIMEOUT_SECONDS = float(os.environ["DJTRIGGERS_TEST_TIMEOUT_SECONDS"])
# A worker test may have its subprocess send statsd packets to a test's UDP socket.
if os.environ.get("DJTRIGGERS_TEST_STATSD_ADDRESS"):
    DJTRIGGERS_STATSD_ADDRESS = os.environ["DJTRIGGERS_TEST_STATSD_ADDRESS"]
# A wake-up test may make its subprocess probe rarely (to see notifications alone
# at work) or turn notifications off (to see probes alone).
if os.environ.get("DJTRIGGERS_TEST_PROBE_INTERVAL_SECONDS"):
    DJTRIGGERS_PROBE_INTERVAL_SECONDS = float(os.environ["DJTRIGGERS_TEST_PROBE_INTERVAL_SECONDS"])
DJTRIGGERS_NOTIFICATIONS = os.environ.get("DJTRIGGERS_TEST_NOTIFICATIONS", "on") == "on"
# A worker test may have its subprocess record Prometheus metrics.
if os.environ.get("DJTRIGGERS_TEST_PROMETHEUS"):
    DJTRIGGERS_PROMETHEUS = True

# --- TASKS: Django's Tasks framework (the django-tasks backport on 5.2) -------------
# DJTRIGGERS_DISPATCH = "tasks" is tested with a real backend, django-tasks-db: its
# tasks are rows in the test database, run by its `manage.py db_worker` (in
# subprocesses, or its Worker class in-process). Any queue name is valid ("QUEUES":
# []), so that a test can set DJTRIGGERS_DISPATCH_QUEUE.
# DJTRIGGERS_TEST_WITHOUT_TASKS leaves them out, for a subprocess that checks what the
# core imports by itself.
if not os.environ.get("DJTRIGGERS_TEST_WITHOUT_TASKS"):
    INSTALLED_APPS += ["django_tasks", "django_tasks_db"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []}}
# --- end of TASKS --------------------------------------------------------------------

# --- Celery (tests/celery_app.py, tests/celery_workers.py) ---------------------------
# The Celery tests start real Celery workers and dispatching run_triggers
# processes, each given a broker (RabbitMQ by default, or Redis) and a queue of
# the test's own, so that tests and overlapping runs never see each other's
# messages. The tests' own process uses a queue per run.
CELERY_BROKER_URL = os.environ.get(
    "DJTRIGGERS_TEST_CELERY_BROKER", "amqp://guest:guest@127.0.0.1:5672//"
)
CELERY_TASK_DEFAULT_QUEUE = os.environ.get(
    "DJTRIGGERS_TEST_CELERY_QUEUE", f"djtriggers-tests-{os.getpid()}"
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# No remote control, events or pidbox queues: nothing of a test's workers is
# left on the broker, and workers do not talk to other tests' workers.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_WORKER_SEND_TASK_EVENTS = False
# A process started by a dispatch test (Celery's or the Tasks framework's) may
# dispatch, with a short deadline.
if os.environ.get("DJTRIGGERS_TEST_DISPATCH"):
    DJTRIGGERS_DISPATCH = os.environ["DJTRIGGERS_TEST_DISPATCH"]
if os.environ.get("DJTRIGGERS_TEST_DISPATCH_DEADLINE_SECONDS"):
    DJTRIGGERS_DISPATCH_DEADLINE_SECONDS = float(
        os.environ["DJTRIGGERS_TEST_DISPATCH_DEADLINE_SECONDS"]
    )
if os.environ.get("DJTRIGGERS_TEST_DISPATCH_MAX_IN_FLIGHT"):
    DJTRIGGERS_DISPATCH_MAX_IN_FLIGHT = int(os.environ["DJTRIGGERS_TEST_DISPATCH_MAX_IN_FLIGHT"])
# --- end of Celery ---------------------------------------------------------------------
