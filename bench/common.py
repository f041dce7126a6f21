"""Settings shared by both sides of the benchmark; the database comes from the environment.

BENCH_DB is ``sqlite``, ``sqlite-wal``, ``postgres`` or ``mariadb``; BENCH_DB_NAME is
the SQLite file or the server's database. The driver scripts set both.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"


def databases() -> dict:
    kind = os.environ["BENCH_DB"]
    name = os.environ["BENCH_DB_NAME"]
    if kind.startswith("sqlite"):
        options: dict = {"timeout": 20}
        if os.environ.get("BENCH_SQLITE_IMMEDIATE", "1") == "1":
            options["transaction_mode"] = "IMMEDIATE"
        if kind == "sqlite-wal":
            options["init_command"] = "PRAGMA journal_mode=WAL;"
        return {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "OPTIONS": options}
        }
    if kind == "postgres":
        return {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": name,
                "USER": "postgres",
                "HOST": "127.0.0.1",
                "PORT": 5432,
            }
        }
    if kind == "mariadb":
        return {
            "default": {
                "ENGINE": "django.db.backends.mysql",
                "NAME": name,
                "USER": "root",
                "HOST": "127.0.0.1",
                "PORT": 3306,
                "OPTIONS": {"charset": "utf8mb4"},
            }
        }
    raise RuntimeError(f"BENCH_DB={kind!r}: use sqlite, sqlite-wal, postgres or mariadb.")


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer.")
    return number


def postgres_admin() -> Any:
    """An autocommit connection to the ``postgres`` database, to create and drop others."""
    import psycopg

    try:
        conn = psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True
        )
    except psycopg.OperationalError as error:
        sys.exit(f"PostgreSQL is not up on 127.0.0.1:5432 (`make services`): {error}")
    return conn


def mariadb_admin() -> Any:
    """A connection to MariaDB as root, to create and drop databases."""
    import MySQLdb

    try:
        return MySQLdb.connect(host="127.0.0.1", user="root", autocommit=True)
    except MySQLdb.OperationalError as error:
        sys.exit(f"MariaDB is not up on 127.0.0.1:3306 (`make services`): {error}")


def create_database(db: str, name: str) -> None:
    """A new empty database ``name`` on ``db`` (postgres or mariadb), replacing any."""
    drop_database(db, name)
    if db == "postgres":
        with postgres_admin() as conn:
            conn.execute(f"CREATE DATABASE {name}")
    else:
        conn = mariadb_admin()
        conn.cursor().execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        conn.close()


def drop_database(db: str, name: str) -> None:
    if db == "postgres":
        with postgres_admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    elif db == "mariadb":
        conn = mariadb_admin()
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}")
        conn.close()


TICKS = os.sysconf("SC_CLK_TCK")
RESULTS = Path(__file__).resolve().parent / "results"


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) process ``pid`` has used; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def save_results(name: str, args: argparse.Namespace, results: Any) -> None:
    """bench/results/<name>-<time>.json, and the line the smoke tests look for."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    document = {"machine": platform.platform(), "args": vars(args), "results": results}
    path.write_text(json.dumps(document, indent=1, default=str))
    print(f"\nSaved to {path.relative_to(RESULTS.parent.parent)}")


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = (
        statistics.quantiles(ordered, n=20, method="inclusive")[18]
        if len(ordered) > 1
        else ordered[0]
    )
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1], "n": len(ordered)}
