"""Database helpers (djtriggers.db): write transactions, the planner's row estimate."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.db import OperationalError, connection, connections, transaction

from djtriggers.db import estimated_rows, is_conflict, retrying_transaction, write_transaction
from djtriggers.models import Trigger
from tests.factories import due, make

pytestmark = pytest.mark.django_db


def test_write_transaction__commits_and_rolls_back_like_atomic():
    with write_transaction("default"):
        kept = due()
    with pytest.raises(RuntimeError), write_transaction("default"):
        due()
        raise RuntimeError
    assert list(Trigger.objects.values_list("pk", flat=True)) == [kept.pk]


def test_write_transaction__inside_another_is_a_savepoint():
    with transaction.atomic():
        kept = due()
        with pytest.raises(RuntimeError), write_transaction("default"):
            due()
            raise RuntimeError
        assert list(Trigger.objects.values_list("pk", flat=True)) == [kept.pk]


@pytest.mark.django_db(transaction=True)
def test_write_transaction__on_sqlite_begins_immediate_then_restores_the_mode():
    if connection.vendor != "sqlite":
        with write_transaction("default"):
            assert connection.in_atomic_block
        return
    connection.ensure_connection()  # (connecting sets the mode of the settings)
    previous = connection.transaction_mode
    connection.transaction_mode = "DEFERRED"
    try:
        with write_transaction("default"):
            assert connection.transaction_mode == "IMMEDIATE"
            due()
        assert connection.transaction_mode == "DEFERRED"
        with pytest.raises(RuntimeError), write_transaction("default"):
            raise RuntimeError
        assert connection.transaction_mode == "DEFERRED"
    finally:
        connection.transaction_mode = previous
    assert Trigger.objects.count() == 1


def test_estimated_rows__only_on_postgresql():
    make(3)
    estimate = estimated_rows(Trigger)
    if connection.vendor != "postgresql":
        assert estimate is None
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Trigger._meta.db_table}")
    assert estimated_rows(Trigger) == 3


def conflict(vendor: str) -> OperationalError:
    """The error Django raises when the database aborts a transaction to break a deadlock."""
    if vendor == "mysql":
        return OperationalError(1213, "Deadlock found when trying to get lock")
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected()
    return error


def test_is_conflict__deadlocks_and_serialization_failures_only():
    assert is_conflict(conflict("mysql"), "mysql")
    assert is_conflict(conflict("postgresql"), "postgresql")
    serialization = OperationalError("could not serialize access")
    serialization.__cause__ = psycopg.errors.SerializationFailure()
    assert is_conflict(serialization, "postgresql")
    assert not is_conflict(OperationalError(1205, "Lock wait timeout exceeded"), "mysql")
    assert not is_conflict(OperationalError(), "mysql")
    assert not is_conflict(OperationalError("database is locked"), "sqlite")
    assert not is_conflict(OperationalError("no cause"), "postgresql")


class Flaky:
    """Work that the database aborts ``conflicts`` times with ``error``, then creates a trigger."""

    def __init__(self, conflicts: int, error: Exception) -> None:
        self.conflicts, self.error, self.calls = conflicts, error, 0

    def __call__(self) -> int:
        self.calls += 1
        pk = due().pk
        if self.calls <= self.conflicts:
            raise self.error
        return pk


@pytest.mark.django_db(transaction=True)
def test_retrying_transaction__runs_again_after_a_deadlock_and_keeps_one_effect(caplog):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no deadlocks to break")
    caplog.set_level("INFO", logger="djtriggers")
    work = Flaky(2, conflict(connection.vendor))
    pk = retrying_transaction("default", work)
    assert work.calls == 3
    assert list(Trigger.objects.values_list("pk", flat=True)) == [pk]
    assert caplog.text.count("Deadlock broken by the database") == 2


@pytest.mark.django_db(transaction=True)
def test_retrying_transaction__gives_up_after_its_tries():
    error = conflict(connection.vendor)
    work = Flaky(9, error)
    with pytest.raises(OperationalError) as raised:
        retrying_transaction("default", work, tries=2)
    assert raised.value is error
    assert work.calls == (1 if connection.vendor == "sqlite" else 2)
    assert not Trigger.objects.exists()


def test_retrying_transaction__not_inside_another_transaction_nor_for_other_errors():
    # Inside a test's transaction: the deadlock aborted the outer one too.
    work = Flaky(1, conflict(connection.vendor))
    with pytest.raises(OperationalError):
        retrying_transaction("default", work)
    assert work.calls == 1
    work = Flaky(1, OperationalError("disk I/O error"))
    with pytest.raises(OperationalError):
        retrying_transaction("default", work)
    assert work.calls == 1


@pytest.mark.django_db(transaction=True)
def test_cancel__runs_again_when_the_database_breaks_a_real_deadlock(caplog):
    """An operator's UPDATE of many rows meets a transaction that locks them the other way round.

    The other transaction has written more, so both databases abort the
    UPDATE (PostgreSQL the one that waited first, InnoDB the smaller): run on
    its own, it runs again and changes every row once. (Seen in CI: an
    operator's cancel under busy workers on MariaDB failed with 1213.)
    """
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no deadlocks to break")
    caplog.set_level("INFO", logger="djtriggers")
    first, second = make(2)
    holding = threading.Event()
    errors: list[BaseException] = []

    def lock_the_other_way_round() -> None:
        try:
            with transaction.atomic():
                make(20)  # the heavier transaction: InnoDB keeps it
                list(Trigger.objects.select_for_update().filter(pk=second.pk))
                holding.set()
                time.sleep(0.5)  # the UPDATE now waits for `second`, holding `first`
                list(Trigger.objects.select_for_update().filter(pk=first.pk))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connections.close_all()

    other = threading.Thread(target=lock_the_other_way_round)
    other.start()
    assert holding.wait(10)
    changed = Trigger.objects.filter(pk__in=[first.pk, second.pk]).cancel()
    other.join(10)

    assert not errors
    assert changed == 2
    assert caplog.text.count("Deadlock broken by the database") == 1
    assert Trigger.objects.filter(state="cancelled").count() == 2
