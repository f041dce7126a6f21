from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction


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
