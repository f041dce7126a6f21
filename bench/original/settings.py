from common import SECRET_KEY, TIME_ZONE, USE_TZ, databases  # noqa: F401

DEBUG = False
# The original's migrations use AutoField.
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djtriggers", "original"]
DATABASES = databases()
# Its redis_lock() locks when this starts with "redis"; run.py replaces the lock for
# the runs without it.
DJTRIGGERS_REDIS_URL = "redis://127.0.0.1:6379/15"
