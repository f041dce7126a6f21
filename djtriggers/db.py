from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

T = TypeVar("T")
log = logging.getLogger("djtriggers")

# A transaction the database chose to abort so that another could go on:
# InnoDB's deadlock (1213), PostgreSQL's deadlock and serialization failure.
CONFLICTS: dict[str, set[object]] = {"mysql": {1213}, "postgresql": {"40P01", "40001"}}


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


def is_conflict(error: DatabaseError, vendor: str) -> bool:
    """Whether ``error`` aborted the transaction only to break a deadlock (try again)."""
    if vendor == "mysql":
        code = error.args[0] if error.args else None
    else:
        cause = error.__cause__
        # psycopg 3 says sqlstate, psycopg2 pgcode.
        code = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return code in CONFLICTS.get(vendor, ())


def retrying_transaction(using: str, work: Callable[[], T], tries: int = 4) -> T:
    """Run ``work`` in a ``write_transaction``, again if the database aborts it to break a deadlock.

    Deadlocks are part of normal life with row locks ("always be prepared to
    re-issue a transaction", in MySQL's words): InnoDB in particular takes
    locks on index entries and parent rows of foreign keys that no ordering of
    statements fully avoids. ``work`` must have no effect outside the
    transaction, as it may run more than once. Inside an outer transaction
    nothing is retried: the deadlock aborted that one too.
    """

    def transaction_of_work() -> T:
        with write_transaction(using):
            return work()

    return retrying(using, transaction_of_work, tries)


def retrying(using: str, work: Callable[[], T], tries: int = 4) -> T:
    """Run ``work`` (one statement, or a transaction of its own), again after a deadlock.

    Outside a transaction a statement commits alone, so a deadlock undid all of
    it and it can simply run again; inside one, the error goes to the caller,
    whose whole transaction the database aborted.
    """
    connection = connections[using]
    for attempt in range(1, tries + 1):  # pragma: no branch - returns or raises
        try:
            return work()
        except DatabaseError as error:
            conflict = is_conflict(error, connection.vendor)
            retry = conflict and attempt < tries and not connection.in_atomic_block
            if retry:  # pragma: no cover - no deadlocks on SQLite
                log.info("Deadlock broken by the database (%s); trying again", error)
                # Out of step with whoever we met, so as not to meet again.
                time.sleep(random.uniform(0.01, 0.05) * attempt)
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover - the last try returns or raises


def sqlite_triggers(connection: BaseDatabaseWrapper, prefix: str) -> int:
    """How many of SQLite's triggers are named ``<prefix>_...``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
            [f"{prefix}_%"],
        )
        return int(cursor.fetchone()[0])


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
