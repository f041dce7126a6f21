"""Upgrading a 2.x database: its migrations are kept, and 0008 moves on from them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

LAST_2X = ("djtriggers", "0007_auto_20201001_1530")


@pytest.mark.django_db(transaction=True)
def test_upgrade_from_2x__existing_rows_get_their_status():
    executor = MigrationExecutor(connection)
    executor.migrate([LAST_2X])
    old = executor.loader.project_state([LAST_2X]).apps.get_model("djtriggers", "Trigger")
    now = timezone.now()
    ids = {
        "waiting": old.objects.create(trigger_type="noop").pk,
        "processed": old.objects.create(
            trigger_type="noop", date_processed=now, successful=True
        ).pk,
        "failed": old.objects.create(
            trigger_type="noop", date_processed=now, successful=False, number_of_tries=5
        ).pk,
        "processed_before_successful_existed": old.objects.create(
            trigger_type="noop", date_processed=now
        ).pk,
    }

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    from djtriggers.models import Trigger

    statuses = {name: Trigger.objects.get(pk=pk).status for name, pk in ids.items()}
    assert statuses == {
        "waiting": "due",
        "processed": "processed",
        "failed": "failed",
        "processed_before_successful_existed": "processed",
    }
