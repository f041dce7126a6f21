"""Database helpers (djtriggers.db): write transactions, the planner's row estimate."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from djtriggers.db import estimated_rows, write_transaction
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
