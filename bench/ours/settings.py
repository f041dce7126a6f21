from common import SECRET_KEY, TIME_ZONE, USE_TZ, databases  # noqa: F401

DEBUG = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "djtriggers", "ours"]
DATABASES = databases()
