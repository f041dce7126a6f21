"""Rows written the 2.x way: the database keeps ``state`` and the 2.x columns agreeing.

Code, fixtures, scripts and other services written for 2.x mark a trigger
finished by setting ``date_processed`` (and ``successful``), and run it again
by clearing it, with ``save()``, ``update()``, ``bulk_create()`` or raw SQL.
Only the database sees every one of those writes, so database triggers apply
``lifecycle.settle`` to each inserted or updated row that disagrees with
itself. Rows written by ``lifecycle`` always agree, and cost a cheap check.

The triggers are installed by migration 0009 (and on SQLite again after a
``migrate`` that rebuilt the table, which drops its triggers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from .db import sqlite_triggers
from .lifecycle import FINAL, State

TABLE = "djtriggers_trigger"
NAME = "djtriggers_settle"

_S, _R, _P, _F, _C = (f"'{s}'" for s in State)
_FINAL = ", ".join(f"'{state}'" for state in FINAL)


@dataclass(frozen=True)
class _Dialect:
    """The few spellings that differ between the databases."""

    false: str
    true: str
    is_false: str  # a null-safe "= false", {} standing for the column
    now: str

    def consistent(self, row: str) -> str:
        """lifecycle.consistent, for ``row`` (NEW, or the table)."""
        is_false = self.is_false.format(f"{row}.successful")
        return f"""(
            ({row}.state IN ({_S}, {_R}) AND {row}.date_processed IS NULL)
            OR ({row}.date_processed IS NOT NULL AND (
                {row}.state = {_C}
                OR ({row}.state = {_P} AND NOT {is_false})
                OR ({row}.state = {_F} AND {is_false})))
        )"""

    def settled(self, explicit: str) -> dict[str, str]:
        """lifecycle.settle for an inconsistent row: an expression per column of NEW.

        ``explicit`` says whether the write set the state. For MariaDB the
        order matters (each assignment sees the ones before): the state last.
        """
        is_false = self.is_false.format("NEW.successful")
        # The row settles on a final state: it holds no claim.
        finished = f"""(({explicit}) AND NEW.state IN ({_FINAL}))
            OR (NOT ({explicit}) AND NEW.date_processed IS NOT NULL)"""
        return {
            "locked_by": f"CASE WHEN {finished} THEN NULL ELSE NEW.locked_by END",
            "locked_until": f"CASE WHEN {finished} THEN NULL ELSE NEW.locked_until END",
            "date_processed": f"""CASE
                WHEN NOT ({explicit}) THEN NEW.date_processed
                WHEN NEW.state IN ({_S}, {_R}) THEN NULL
                ELSE COALESCE(NEW.date_processed, {self.now}) END""",
            "successful": f"""CASE
                WHEN NOT ({explicit}) THEN NEW.successful
                WHEN NEW.state = {_F} THEN {self.false}
                WHEN NEW.state = {_P} AND {is_false} THEN {self.true}
                ELSE NEW.successful END""",
            "state": f"""CASE
                WHEN {explicit} THEN NEW.state
                WHEN NEW.date_processed IS NULL THEN {_S}
                WHEN {is_false} THEN {_F}
                ELSE {_P} END""",
        }


POSTGRESQL = _Dialect("false", "true", "{} IS NOT DISTINCT FROM false", "now()")
MYSQL = _Dialect("0", "1", "{} <=> 0", "UTC_TIMESTAMP(6)")
SQLITE = _Dialect("0", "1", "{} IS 0", "strftime('%Y-%m-%d %H:%M:%f', 'now')")
DIALECTS = {"postgresql": POSTGRESQL, "mysql": MYSQL, "sqlite": SQLITE}

# Whether the write set the state (lifecycle.settle's ``before``).
_EXPLICIT = {"INSERT": f"NEW.state IN ({_FINAL})", "UPDATE": "NEW.state <> OLD.state"}


def _postgresql() -> tuple[list[str], list[str]]:
    assignments = "\n".join(
        f"NEW.{column} := {expression};"
        for column, expression in POSTGRESQL.settled("state_set").items()
    )
    install = [
        f"""
        CREATE OR REPLACE FUNCTION {NAME}() RETURNS trigger AS $$
        DECLARE state_set boolean;
        BEGIN
            IF TG_OP = 'INSERT' THEN
                state_set := {_EXPLICIT["INSERT"]};
            ELSE
                state_set := {_EXPLICIT["UPDATE"]};
            END IF;
            {assignments}
            RETURN NEW;
        END
        $$ LANGUAGE plpgsql
        """,
        f"DROP TRIGGER IF EXISTS {NAME} ON {TABLE}",
        f"""
        CREATE TRIGGER {NAME} BEFORE INSERT OR UPDATE ON {TABLE}
        FOR EACH ROW WHEN (NOT {POSTGRESQL.consistent("NEW")}) EXECUTE FUNCTION {NAME}()
        """,
    ]
    uninstall = [f"DROP TRIGGER IF EXISTS {NAME} ON {TABLE}", f"DROP FUNCTION IF EXISTS {NAME}()"]
    return install, uninstall


def _mysql() -> tuple[list[str], list[str]]:
    # MariaDB and MySQL: no WHEN clause, and one event per trigger.
    install, uninstall = [], []
    for event, explicit in _EXPLICIT.items():
        name = f"{NAME}_{event.lower()}"
        assignments = ",\n".join(
            f"NEW.{column} = {expression}"
            for column, expression in MYSQL.settled("state_set").items()
        )
        install += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"""
            CREATE TRIGGER {name} BEFORE {event} ON {TABLE} FOR EACH ROW
            BEGIN
                DECLARE state_set BOOLEAN DEFAULT {explicit};
                IF NOT {MYSQL.consistent("NEW")} THEN
                    SET {assignments};
                END IF;
            END
            """,
        ]
        uninstall.append(f"DROP TRIGGER IF EXISTS {name}")
    return install, uninstall


def _sqlite() -> tuple[list[str], list[str]]:
    # SQLite cannot change NEW: the row is corrected right after the write (its
    # triggers are not recursive, and the corrected row agrees with itself).
    install, uninstall = [], []
    for event, explicit in _EXPLICIT.items():
        name = f"{NAME}_{event.lower()}"
        assignments = ", ".join(
            f"{column} = {expression}" for column, expression in SQLITE.settled(explicit).items()
        )
        install += [
            f"DROP TRIGGER IF EXISTS {name}",
            f"""
            CREATE TRIGGER {name} AFTER {event} ON {TABLE}
            FOR EACH ROW WHEN NOT {SQLITE.consistent("NEW")}
            BEGIN
                UPDATE {TABLE} SET {assignments} WHERE id = NEW.id;
            END
            """,
        ]
        uninstall.append(f"DROP TRIGGER IF EXISTS {name}")
    return install, uninstall


VENDORS = {"postgresql": _postgresql, "mysql": _mysql, "sqlite": _sqlite}


def statements(vendor: str) -> tuple[list[str], list[str]]:
    """The SQL that installs and uninstalls the triggers on ``vendor``."""
    try:
        return VENDORS[vendor]()
    except KeyError:
        raise NotImplementedError(
            f"djtriggers supports PostgreSQL, MariaDB/MySQL and SQLite, not {vendor!r}."
        ) from None


def install(connection: BaseDatabaseWrapper) -> None:
    """(Re)install the triggers, and settle the rows written the 2.x way before they existed."""
    sql, _ = statements(connection.vendor)
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)
        # A no-op UPDATE of each inconsistent row: its trigger settles it (as a
        # 2.x write: the state did not change).
        column = connection.ops.quote_name("date_processed")
        consistent = DIALECTS[connection.vendor].consistent(TABLE)
        cursor.execute(f"UPDATE {TABLE} SET {column} = {column} WHERE NOT {consistent}")


def uninstall(connection: BaseDatabaseWrapper) -> None:
    _, sql = statements(connection.vendor)
    with connection.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)


def reinstall_on_sqlite(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: SQLite drops a table's triggers when a migration rebuilds the table."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite" or TABLE not in connection.introspection.table_names():
        return
    if sqlite_triggers(connection, NAME) < 2:
        install(connection)
