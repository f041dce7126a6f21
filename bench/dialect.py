"""The SQL that differs between PostgreSQL, MariaDB and SQLite, for the fills of bench/.

A fill is one ``INSERT … SELECT`` over a series of numbers, written once with
these helpers for the database of Django's default connection. They return SQL
for ``cursor.execute`` with parameters: a literal ``%`` is written ``%%``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection


def vendor() -> str:
    """Django's name of the database: ``postgresql``, ``mysql`` (MariaDB) or ``sqlite``."""
    return connection.vendor


def version() -> str:
    """The database and its version, e.g. ``PostgreSQL 15.20``."""
    if vendor() == "postgresql":
        return "PostgreSQL " + ".".join(str(n) for n in divmod(connection.pg_version, 10000))
    if vendor() == "mysql":
        return "MariaDB " + ".".join(str(n) for n in connection.mysql_version)
    return f"SQLite {connection.Database.sqlite_version}"


def series(n: int, alias: str = "g") -> str:
    """A table of the numbers 1 to ``n`` in column ``<alias>.i`` (64-bit, signed)."""
    if vendor() == "postgresql":
        return f"generate_series(1::bigint, {int(n)}) AS {alias}(i)"
    if vendor() == "mysql":  # the Sequence engine's numbers are unsigned
        return f"(SELECT CAST(seq AS SIGNED) AS i FROM seq_1_to_{int(n)}) AS {alias}"
    return (
        f"(WITH RECURSIVE {alias}_n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM {alias}_n "
        f"WHERE i < {int(n)}) SELECT i FROM {alias}_n) AS {alias}"
    )


def plus(base: str, micros: str) -> str:
    """The time ``base`` plus ``micros`` microseconds (both SQL expressions)."""
    if vendor() == "postgresql":
        return f"({base} + ({micros}) * interval '1 microsecond')"
    if vendor() == "mysql":
        return f"({base} + INTERVAL ({micros}) MICROSECOND)"
    # SQLite has no time type: Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC).
    # Whole seconds from the first 19 characters: strftime rounds a fraction.
    total = (
        f"(CAST(strftime('%%s', substr({base}, 1, 19)) AS INTEGER) * 1000000 "
        f"+ CAST(substr({base}, 21, 6) AS INTEGER) + CAST(round({micros}) AS INTEGER))"
    )
    return (
        f"(strftime('%%Y-%%m-%%d %%H:%%M:%%S', {total} / 1000000, 'unixepoch') "
        f"|| printf('.%%06d', {total} %% 1000000))"
    )


def param(value: datetime) -> Any:
    """A time as the backend takes it in raw SQL (MariaDB and SQLite: naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)


def cat(*parts: str) -> str:
    """The SQL strings (or numbers) ``parts`` one after the other."""
    if vendor() == "mysql":  # || is OR there
        return f"CONCAT({', '.join(parts)})"
    # SQLite's || binds tighter than any arithmetic.
    return "(" + " || ".join(f"({part})" for part in parts) + ")"


def div(a: str, b: int) -> str:
    """Whole-number division (MariaDB's ``/`` gives a decimal)."""
    return f"({a} DIV {b})" if vendor() == "mysql" else f"({a} / {b})"


def split_part(text: str, separator: str, n: int) -> str:
    """The ``n``th part of ``text`` split at ``separator`` (a Python string), as PostgreSQL's."""
    sep = "'" + separator.replace("'", "''") + "'"
    if vendor() == "postgresql":
        return f"split_part({text}, {sep}, {n})"
    if vendor() == "mysql":
        return f"SUBSTRING_INDEX(SUBSTRING_INDEX({text}, {sep}, {n}), {sep}, -1)"
    for _ in range(n - 1):
        text = f"substr({text}, instr({text}, {sep}) + {len(separator)})"
    return f"substr({text}, 1, instr({text} || {sep}, {sep}) - 1)"


def compact(*tables: str) -> None:
    """Give back the space of rows deleted from ``tables`` (PostgreSQL and MariaDB
    keep it in the table's file, which a sequential scan reads whole)."""
    with connection.cursor() as cursor:
        if vendor() == "postgresql":
            for table in tables:
                cursor.execute(f"VACUUM FULL {table}")
        elif vendor() == "mysql":
            cursor.execute(f"OPTIMIZE TABLE {', '.join(tables)}")
            cursor.fetchall()


def analyze(*tables: str, vacuum: bool = False) -> None:
    """Statistics for the planner of ``tables`` (all when none), as the database would
    soon gather them on its own.

    ``vacuum``: on PostgreSQL also the visibility map, which index-only scans
    need (what autovacuum does to a table filled at once). SQLite's VACUUM
    rewrites the whole file: it is left out.
    """
    tables = tables or tuple(connection.introspection.table_names())
    with connection.cursor() as cursor:
        if vendor() == "postgresql":
            for table in tables:
                cursor.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE {table}")
        elif vendor() == "mysql":
            cursor.execute(f"ANALYZE TABLE {', '.join(tables)}")
            cursor.fetchall()
        else:
            for table in tables:
                cursor.execute(f"ANALYZE {table}")
