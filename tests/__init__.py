"""The test suite, and the project package of the processes the Celery tests start.

As Celery's Django guide has a project import its Celery app in its package's
``__init__.py``, so that ``manage.py`` commands (a dispatching
``run_triggers``) and the Celery workers have it as their app: only in the
processes given a broker (tests/celery_workers.py), so that the rest of the
suite runs without Celery, as a project without it would.
"""

from __future__ import annotations

import os

if os.environ.get("DJTRIGGERS_TEST_CELERY_BROKER"):
    from .celery_app import app as celery_app

    __all__ = ["celery_app"]
