"""Rows written the 2.x way: date_processed set means finished, on every write path.

Upgraders' code, fixtures, scripts and other services keep writing the 2.x
columns (date_processed, successful, number_of_tries) with save(), create(),
bulk_create(), update(), fixtures or raw SQL. Each such row must be finished
everywhere: its status, the querysets, the counts, the admin, the dashboard,
cleaning, operator actions, and never claimed by a worker.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import stats
from djtriggers import actions, legacy, lifecycle
from djtriggers.cleaning import clean
from djtriggers.engine import Engine
from djtriggers.lifecycle import State
from djtriggers.logic import process_triggers
from djtriggers.models import Trigger
from tests.conftest import login
from tests.testapp.models import CountingTrigger, Run

pytestmark = pytest.mark.django_db

LONG_AGO = timezone.now() - timedelta(days=90)


def _raw_update(pk, date_processed, successful):
    table = Trigger._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET date_processed = %s, successful = %s WHERE id = %s",
            [date_processed, successful, pk],
        )


def _raw_insert(date_processed, successful):
    """An INSERT of the columns 2.x had (state comes from its column default: none)."""
    table = Trigger._meta.db_table
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (trigger_type, source, date_received, date_processed, "
            "process_after, number_of_tries, successful, state, last_error, "
            "error_fingerprint, run_alone) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            ["counting", None, now, date_processed, now, 0, successful, "scheduled", "", "", False],
        )
    return Trigger.objects.latest("pk").pk


def by_save(when, successful):
    trigger = CountingTrigger.objects.create()
    trigger = CountingTrigger.objects.get(pk=trigger.pk)
    trigger.date_processed, trigger.successful = when, successful
    trigger.save()
    return trigger.pk


def by_create(when, successful):
    return CountingTrigger.objects.create(date_processed=when, successful=successful).pk


def by_bulk_create(when, successful):
    [trigger] = CountingTrigger.objects.bulk_create(
        [CountingTrigger(date_processed=when, successful=successful)]
    )
    return trigger.pk


def by_update(when, successful):
    pk = CountingTrigger.objects.create().pk
    Trigger.objects.filter(pk=pk).update(date_processed=when, successful=successful)
    return pk


def by_raw_update(when, successful):
    pk = CountingTrigger.objects.create().pk
    _raw_update(pk, when, successful)
    return pk


def by_raw_insert(when, successful):
    return _raw_insert(when, successful)


def by_fixture(when, successful, tmp_path):
    pk = 4242
    fixture = tmp_path / "triggers.json"
    fields = {
        "trigger_type": "counting",
        "date_received": when.isoformat(),
        "date_processed": when.isoformat(),
        "process_after": when.isoformat(),
        "number_of_tries": 1,
        "successful": successful,
    }
    fixture.write_text(json.dumps([{"model": "djtriggers.trigger", "pk": pk, "fields": fields}]))
    call_command("loaddata", str(fixture), verbosity=0)
    return pk


WRITES = [by_save, by_create, by_bulk_create, by_update, by_raw_update, by_raw_insert, by_fixture]


def write(how, tmp_path, when, successful):
    return how(when, successful, tmp_path) if how is by_fixture else how(when, successful)


@pytest.mark.parametrize("how", WRITES, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("successful", "status"), [(True, "processed"), (None, "processed"), (False, "failed")]
)
def test_written_finished__is_finished_everywhere(how, successful, status, tmp_path):
    pk = write(how, tmp_path, timezone.now(), successful)
    trigger = Trigger.objects.get(pk=pk)

    assert trigger.status == status
    assert trigger.state == status
    assert set(Trigger.objects.with_status(status).values_list("pk", flat=True)) == {pk}
    assert not Trigger.objects.due().exists()
    counts = Trigger.objects.status_counts()
    assert counts[status] == 1 and sum(counts.values()) == 1
    assert stats.status_counts() == counts
    # Never claimed, never run.
    assert Engine().claim(10) == []
    process_triggers()
    assert not Run.objects.exists()
    assert Trigger.objects.get(pk=pk).state == status


@pytest.mark.parametrize("how", WRITES, ids=lambda f: f.__name__)
def test_written_finished_long_ago__is_cleaned(how, tmp_path):
    pk = write(how, tmp_path, LONG_AGO, True)
    assert clean(older_than=timezone.now() - timedelta(days=60)) == 1
    assert not Trigger.objects.filter(pk=pk).exists()


@pytest.mark.parametrize("how", [by_update, by_raw_update], ids=lambda f: f.__name__)
def test_written_finished__operator_actions_skip_or_revive_it(how, tmp_path):
    processed = write(how, tmp_path, timezone.now(), True)
    failed = write(how, tmp_path, timezone.now(), False)
    queryset = Trigger.objects.filter(pk__in=[processed, failed])

    cancel = actions.perform("cancel", queryset)
    assert cancel.message() == "0 cancelled, 2 skipped: 1 already failed, 1 already processed"
    reprocess = actions.perform("reprocess", queryset)
    assert reprocess.message() == "1 reprocessed, 1 skipped: already processed"
    assert Trigger.objects.get(pk=failed).status == "due"


def test_written_finished__admin_filters_and_dashboard_agree(client):
    login(client, superuser=True)
    pks = {
        status: by_raw_update(timezone.now(), ok)
        for status, ok in [("processed", True), ("failed", False)]
    }
    for status, pk in pks.items():
        page = client.get(f"/admin/djtriggers/trigger/?status={status}")
        assert [t.pk for t in page.context["cl"].result_list] == [pk]
    summary = client.get("/triggers/summary.json").json()
    assert summary["counts"]["processed"] == 1
    assert summary["counts"]["failed"] == 1
    assert summary["counts"]["due"] == 0


@pytest.mark.parametrize("how", [by_update, by_raw_update], ids=lambda f: f.__name__)
def test_cleared_date_processed__runs_again_the_2x_way(how, tmp_path):
    pk = CountingTrigger.objects.create().pk
    process_triggers()
    assert Run.objects.filter(trigger_id=pk).count() == 1
    # 2.x's way to run a trigger again: clear date_processed (and the tries).
    if how is by_update:
        Trigger.objects.filter(pk=pk).update(date_processed=None, successful=None)
    else:
        _raw_update(pk, None, None)
    assert Trigger.objects.get(pk=pk).status == "due"
    process_triggers()
    assert Run.objects.filter(trigger_id=pk).count() == 2


def test_a_running_trigger_marked_finished__is_let_go_by_its_worker():
    pk = CountingTrigger.objects.create().pk
    engine = Engine(worker="w")
    assert engine.claim(10) == [pk]
    Trigger.objects.filter(pk=pk).update(date_processed=timezone.now(), successful=True)
    row = Trigger.objects.get(pk=pk)
    assert (row.state, row.locked_by, row.locked_until) == ("processed", None, None)
    engine.process([pk])
    assert not Run.objects.exists()
    assert Trigger.objects.get(pk=pk).state == "processed"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"state": "failed"}, ("failed", False)),
        ({"state": "processed"}, ("processed", None)),
        ({"state": "cancelled"}, ("cancelled", None)),
    ],
)
def test_a_final_state_written_alone__fills_in_the_2x_columns(fields, expected):
    pk = CountingTrigger.objects.create().pk
    Trigger.objects.filter(pk=pk).update(**fields)
    row = Trigger.objects.get(pk=pk)
    assert (row.state, row.successful) == expected
    assert row.date_processed is not None
    assert lifecycle.consistent(row.state, row.date_processed, row.successful)


def test_the_database_and_python_settle_rows_alike():
    now = timezone.now()
    for state in State:
        for done in (None, now):
            for ok in (True, False, None):
                pk = CountingTrigger.objects.create().pk
                table = Trigger._meta.db_table
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {table} SET state = %s, date_processed = %s, successful = %s "
                        "WHERE id = %s",
                        [state.value, done, ok, pk],
                    )
                row = Trigger.objects.get(pk=pk)
                expected = lifecycle.settle(state, done, ok, before=State.SCHEDULED, now=now)
                assert (row.state, row.date_processed is None, row.successful) == (
                    expected[0],
                    expected[1] is None,
                    expected[2],
                ), (state, done, ok)


@pytest.mark.django_db(transaction=True)  # DDL commits on MariaDB
def test_install__settles_rows_written_before_the_triggers_existed():
    legacy.uninstall(connection)
    try:
        pk = CountingTrigger.objects.create().pk
        Trigger.objects.filter(pk=pk).update(date_processed=timezone.now(), successful=False)
        assert Trigger.objects.get(pk=pk).state == "scheduled"  # no trigger: left as written
    finally:
        legacy.install(connection)
    assert Trigger.objects.get(pk=pk).state == "failed"


def test_instance__status_follows_the_2x_columns_before_saving():
    trigger = CountingTrigger(date_processed=timezone.now(), successful=False)
    assert trigger.status == "failed"
    trigger.save()
    assert trigger.state == "failed"
    assert Trigger.objects.get(pk=trigger.pk).state == "failed"


def test_bulk_create__the_instances_agree_with_their_rows():
    [done, failed] = CountingTrigger.objects.bulk_create(
        [
            CountingTrigger(date_processed=timezone.now(), successful=True),
            CountingTrigger(state="failed"),
        ]
    )
    assert (done.state, failed.state, failed.successful) == ("processed", "failed", False)
    assert failed.date_processed is not None


# --- the SQL of each database -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("vendor", "installs", "drops"),
    [
        ("postgresql", ["FUNCTION djtriggers_settle()", "TRIGGER djtriggers_settle "], 2),
        ("mysql", ["TRIGGER djtriggers_settle_insert", "TRIGGER djtriggers_settle_update"], 2),
        ("sqlite", ["TRIGGER djtriggers_settle_insert", "TRIGGER djtriggers_settle_update"], 2),
    ],
)
def test_statements__install_and_uninstall_per_database(vendor, installs, drops):
    install, uninstall = legacy.statements(vendor)
    sql = "\n".join(install)
    for name in installs:
        assert f"CREATE {name}" in sql or f"CREATE OR REPLACE {name}" in sql
    assert len(uninstall) == drops
    assert all(statement.startswith("DROP ") for statement in uninstall)


def test_statements__another_database_is_refused_saying_which_are_supported():
    with pytest.raises(
        NotImplementedError, match="PostgreSQL, MariaDB/MySQL and SQLite, not 'oracle'"
    ):
        legacy.statements("oracle")


def test_reinstall_on_sqlite__puts_back_triggers_a_rebuilt_table_lost():
    if connection.vendor != "sqlite":
        legacy.reinstall_on_sqlite()  # nothing to do elsewhere
        pk = CountingTrigger.objects.create().pk
        Trigger.objects.filter(pk=pk).update(date_processed=timezone.now())
        assert Trigger.objects.get(pk=pk).state == "processed"
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER djtriggers_settle_update")
    pk = CountingTrigger.objects.create().pk
    Trigger.objects.filter(pk=pk).update(date_processed=timezone.now())
    assert Trigger.objects.get(pk=pk).state == "scheduled"  # no trigger to settle it
    legacy.reinstall_on_sqlite()
    assert Trigger.objects.get(pk=pk).state == "processed"  # settled on install


def test_reinstall_on_sqlite__nothing_before_the_table_exists(monkeypatch):
    monkeypatch.setattr(connection.introspection, "table_names", lambda *args: [])
    with CaptureQueriesContext(connection) as queries:
        legacy.reinstall_on_sqlite()
    assert not queries.captured_queries
