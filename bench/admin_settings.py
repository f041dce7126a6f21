"""Settings for ``admin_changelist.py``: the admin over a PostgreSQL database.

The database comes from BENCH_DB and BENCH_DB_NAME (see ``common.py``), which
``admin_changelist.py`` sets before it starts Django.
"""

import sys
from importlib.util import find_spec
from pathlib import Path

from common import SECRET_KEY, TIME_ZONE, USE_TZ, databases  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
# tests.testapp (PayBill, for --paybills) is in the checkout; after bench/ on the path.
sys.path.append(str(ROOT))
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # The admin's export and import, when django-import-export is installed.
    *(["import_export"] if find_spec("import_export") else []),
    "djtriggers",
    "tests.testapp",  # PayBill, a concrete type with data of its own, and its admin
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "admin_urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The checkout's templates and static files are in the top-level folders.
        "DIRS": [ROOT / "templates"],
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
STATICFILES_DIRS = [ROOT / "static"]
DATABASES = databases()
