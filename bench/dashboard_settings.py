"""Settings for ``dashboard.py``: those of the admin benchmark, plus the dashboard app.

The database comes from BENCH_DB and BENCH_DB_NAME (see ``common.py``), which
``dashboard.py`` sets before it starts Django. The cache is Django's default,
a per-process LocMemCache, as in a project that configures none.
"""

from admin_settings import *  # noqa: F403
from admin_settings import INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "django_htmx",
    "template_partials",
    "django_filters",
    "dashboard",
]
MIDDLEWARE = [*MIDDLEWARE, "django_htmx.middleware.HtmxMiddleware"]
ROOT_URLCONF = "dashboard_urls"
