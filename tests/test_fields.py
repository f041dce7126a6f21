"""A stored time never breaks a page: out-of-range times read back as displayable ones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from djtriggers.models import Trigger
from djtriggers.times import LATEST
from tests.conftest import login
from tests.testapp.models import FailingTrigger, NoopTrigger

pytestmark = pytest.mark.django_db

END = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
START = datetime(1, 1, 1, 0, 0, tzinfo=UTC)


def store(pk, **times):
    """Write times the way other code may: raw SQL, unchecked."""
    columns = ", ".join(f"{name} = %s" for name in times)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Trigger._meta.db_table} SET {columns} WHERE id = %s",
            [*(connection.ops.adapt_datetimefield_value(t) for t in times.values()), pk],
        )


PAGES = [
    "/admin/djtriggers/trigger/",
    "/admin/djtriggers/trigger/?status=pending",
    "/admin/djtriggers/trigger/{pk}/change/",
    "/triggers/",
    "/triggers/?status=pending",
    "/triggers/summary.json",
    "/admin/djtriggers/trigger/export/",
]


@pytest.mark.parametrize("zone", ["Europe/Brussels", "America/New_York", "Pacific/Kiritimati"])
def test_times_at_the_ends_of_the_range__every_page_shows(client: Client, zone):
    cache.clear()
    login(client, superuser=True)
    far = NoopTrigger.objects.create()
    store(far.pk, process_after=END, date_received=START)
    failed = FailingTrigger.objects.create()
    store(failed.pk, process_after=START)
    with override_settings(TIME_ZONE=zone), timezone.override(zone):
        for page in PAGES:
            response = client.get(page.format(pk=far.pk))
            assert response.status_code == 200, page
            if hasattr(response, "streaming_content"):
                b"".join(response.streaming_content)
        # The change page of the trigger with the early time, and an action's page.
        assert client.get(f"/admin/djtriggers/trigger/{failed.pk}/change/").status_code == 200
        confirm = client.post(
            "/admin/djtriggers/trigger/",
            {"action": "cancel_triggers", "_selected_action": [far.pk, failed.pk]},
        )
        assert confirm.status_code == 200
        csv = {"format": "0", "resource": "0", "triggerresource_process_after": "on"}
        export = client.post("/admin/djtriggers/trigger/export/", csv)
        assert export.status_code == 200
        assert b"\n9999-12-" in b"".join(export.streaming_content)


def test_read_back__brought_into_the_displayable_range():
    trigger = NoopTrigger.objects.create()
    store(trigger.pk, process_after=END, date_received=START)
    trigger.refresh_from_db()
    assert trigger.process_after == LATEST
    assert trigger.date_received == datetime(1, 1, 2, tzinfo=UTC)
    assert trigger.status == "pending"
