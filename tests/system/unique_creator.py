"""A creator process of test_unique_race: imports nothing of Django's until it is set up."""

from __future__ import annotations

import os
from typing import Any

TIMEOUT = 60


def create(database: str, key: str, barrier: Any, results: Any) -> None:
    """Set up Django on the test database, wait for the other creators, create the key."""
    os.environ["DJTRIGGERS_DB_NAME"] = database
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from tests.testapp.models import UniqueSourceTrigger

    UniqueSourceTrigger.objects.exists()  # connected before the start
    barrier.wait(TIMEOUT)
    trigger, created = UniqueSourceTrigger.objects.create_unique(source=key)
    results.put((trigger.pk, created))
