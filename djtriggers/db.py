from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction
from django.db.models import Model


@contextmanager
def write_transaction(using: str) -> Iterator[None]:
    """``transaction.atomic`` that, on SQLite, takes the write lock when it begins.

    A default (deferred) SQLite transaction that reads first and writes later
    fails at once with "database is locked" when another connection wrote
    meanwhile; BEGIN IMMEDIATE waits for the lock instead. The other databases
    lock rows, so nothing changes there.
    """
    connection = connections[using]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        with transaction.atomic(using=using):
            yield
        return
    connection.ensure_connection()
    previous = connection.transaction_mode  # type: ignore[attr-defined]
    connection.transaction_mode = "IMMEDIATE"  # type: ignore[attr-defined]
    try:
        with transaction.atomic(using=using):
            yield
    finally:
        connection.transaction_mode = previous  # type: ignore[attr-defined]


def estimated_rows(model: type[Model], using: str = "default") -> int | None:
    """PostgreSQL's estimate of the table's row count, free to read; None elsewhere."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:  # pragma: no cover - PostgreSQL only
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    # -1 until the table is first vacuumed or analyzed: no estimate yet.
    return int(row[0]) if row and row[0] >= 0 else None  # pragma: no cover - PostgreSQL only
