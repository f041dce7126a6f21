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


@pytest.mark.django_db(transaction=True)
def test_counters__migration_0011_counts_the_rows_already_there():
    from djtriggers import counts
    from djtriggers.models import Trigger

    executor = MigrationExecutor(connection)
    before = [("djtriggers", "0010_verbose_names")]
    executor.migrate(before)
    counts.after_migrate()  # post_migrate with no counters yet: nothing to do
    # The rows as the table was then (today's model has columns added since).
    old = executor.loader.project_state(before).apps.get_model("djtriggers", "Trigger")
    now = timezone.now()
    for _ in range(3):
        old.objects.create(trigger_type="noop", process_after=now)
    old.objects.create(
        trigger_type="noop",
        state="failed",
        date_processed=now,
        successful=False,
        last_error="ValueError: x",
        number_of_tries=5,
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    by_type = counts.by_type()
    assert by_type == _actual(Trigger)
    assert sum(n for states in by_type.values() for n in states.values()) == 4


def _actual(model):
    from collections import defaultdict

    from django.db.models import Count

    rows = defaultdict(dict)
    for typed, state, n in model._base_manager.values_list("trigger_type", "state").annotate(
        n=Count("pk")
    ):
        rows[typed][state] = n
    return dict(rows)


@pytest.mark.django_db(transaction=True)
def test_schedules__0017_adds_the_schedule_table_and_0016_takes_it_away():
    before = ("djtriggers", "0016_priority_unique")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    assert "djtriggers_schedule" not in connection.introspection.table_names()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert "djtriggers_schedule" in connection.introspection.table_names()

    from djtriggers import schedules
    from djtriggers.models import Schedule

    schedules.sync()
    assert Schedule.objects.filter(declared=True).count() == 1
