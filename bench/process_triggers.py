"""Benchmark: one ``process_triggers`` pass over N due no-op triggers, ours vs the original.

    .venv/bin/python bench/process_triggers.py [--n 5000] [--quick] [--repeat 1]

For each database (SQLite with the default rollback journal, SQLite in WAL mode,
PostgreSQL on 127.0.0.1) it times, each in a fresh database and its own process
(``bench/run.py``): this library under .venv, and the original django-triggers
2.1.5 under bench/.venv-original (created here if missing) without and with its
Redis lock. It then prints triggers/s, our ratios and the goals, and profiles one
of our SQLite passes. Results go to bench/results/ too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from common import positive_int, postgres_admin

BENCH = Path(__file__).resolve().parent
OURS_PYTHON = BENCH.parent / ".venv" / "bin" / "python"
ORIGINAL_VENV = BENCH / ".venv-original"
ORIGINAL_PYTHON = ORIGINAL_VENV / "bin" / "python"
# The release's metadata asks for Django>=2.1.5, celery>=5, python-dateutil and redis>=3;
# it runs unchanged on Django 5.2, so both sides use the same Django.
ORIGINAL_REQUIREMENTS = ["django-triggers==2.1.5", "Django>=5.2,<6", "psycopg[binary]>=3.1"]
# Another name (BENCH_PG_DATABASE) lets a smoke run beside a full one.
PG_DATABASE = os.environ.get("BENCH_PG_DATABASE", "djtriggers_bench")
REDIS = ("127.0.0.1", 6379)
DATABASES = ["sqlite", "sqlite-wal", "postgres"]
# Goals for ours / original without its lock.
GOALS = {"sqlite": 10.0, "sqlite-wal": 10.0, "postgres": 2.0}
IMPLS = {
    "ours": "ours",
    "original": "original 2.1.5",
    "original+lock": "original 2.1.5 + Redis lock",
}


@dataclass
class Row:
    db: str
    impl: str
    n: int
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def rate(self) -> float | None:
        return self.n / statistics.median(self.seconds) if self.seconds and not self.error else None

    @property
    def cpu_rate(self) -> float | None:
        return self.n / statistics.median(self.cpu) if self.cpu and not self.error else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=positive_int, default=5000, help="triggers (default 5000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: N=1000")
    parser.add_argument(
        "--repeat", type=positive_int, default=1, help="runs per row; the median is shown"
    )
    parser.add_argument(
        "--db", action="append", choices=DATABASES, help="only this database (repeatable)"
    )
    parser.add_argument("--no-original", action="store_true", help="time only ours")
    parser.add_argument("--no-profile", action="store_true", help="skip the profile")
    args = parser.parse_args()
    n = 1000 if args.quick else args.n

    notes: list[str] = []
    if not args.no_original:
        ensure_original_venv()
    dbs = [db for db in DATABASES if db in (args.db or DATABASES)]
    if "postgres" in dbs and not postgres_up():
        dbs.remove("postgres")
        notes.append("PostgreSQL is not up on 127.0.0.1:5432 (`make services`): skipped.")
    impls = ["ours"] if args.no_original else list(IMPLS)

    started = time.monotonic()
    rows: list[Row] = []
    with redis_server(notes) as redis_ok, tempfile.TemporaryDirectory() as tmp:
        if not redis_ok and "original+lock" in impls:
            impls.remove("original+lock")
        print(f"Processing {n} due no-op triggers per run, {args.repeat} run(s) per row.")
        for db in dbs:
            for impl in impls:
                row = Row(db, impl, n)
                rows.append(row)
                for _ in range(args.repeat):
                    run(row, tmp)
                print(f"  {db:<11} {IMPLS[impl]:<28} {fmt_rate(row.rate):>9}/s", flush=True)
        profile = "" if args.no_profile else run_profile(n, tmp)

    print()
    print(report(rows, notes, n))
    if profile:
        print(profile)
    print(f"Total time: {time.monotonic() - started:.0f}s")
    save(rows, profile, n)


# --- environments ----------------------------------------------------------


def ensure_original_venv() -> None:
    """Create bench/.venv-original with the original release, unless it is up to date."""
    marker = ORIGINAL_VENV / "bench-requirements.txt"
    wanted = "\n".join(ORIGINAL_REQUIREMENTS) + "\n"
    if ORIGINAL_PYTHON.exists() and marker.exists() and marker.read_text() == wanted:
        return
    print(f"Creating {ORIGINAL_VENV.relative_to(BENCH.parent)} with {ORIGINAL_REQUIREMENTS}")
    if not ORIGINAL_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", ORIGINAL_VENV], check=True)
    pip = [ORIGINAL_PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = subprocess.run([*pip, *ORIGINAL_REQUIREMENTS], capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"Installing the original failed:\n{result.stdout}{result.stderr}")
    marker.write_text(wanted)


def postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


def redis_ping() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(notes: list[str]) -> Iterator[bool]:
    """Yield whether Redis answers on 127.0.0.1:6379, starting one for the run if need be."""
    if redis_ping():
        yield True
        return
    binary = shutil.which("redis-server")
    if not binary:
        notes.append("Redis is not running and redis-server is missing: no runs with the lock.")
        yield False
        return
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(REDIS[1]),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            if redis_ping():
                break
            time.sleep(0.1)
        notes.append(f"Started redis-server (pid {process.pid}) for this run.")
        yield redis_ping()
    finally:
        process.terminate()
        process.wait(10)


# --- runs ------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(db: str, tmp: str) -> Iterator[str]:
    """The name of an empty database of kind ``db``, dropped afterwards."""
    if db.startswith("sqlite"):
        path = Path(tmp) / f"bench-{db}.sqlite3"
        try:
            yield str(path)
        finally:
            for leftover in Path(tmp).glob(f"{path.name}*"):
                leftover.unlink()
        return
    psql("DROP DATABASE IF EXISTS {} WITH (FORCE)")
    psql("CREATE DATABASE {}")
    try:
        yield PG_DATABASE
    finally:
        psql("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def psql(statement: str) -> None:
    with postgres_admin() as conn:
        conn.execute(statement.format(PG_DATABASE))


def run(row: Row, tmp: str, profile: str | None = None) -> None:
    """One pass in a subprocess; adds its time (or its error) to ``row``."""
    original = row.impl.startswith("original")
    python = ORIGINAL_PYTHON if original else OURS_PYTHON
    command = [python, BENCH / "run.py", "--impl", "original" if original else "ours"]
    command += ["--n", str(row.n)]
    if row.impl == "original+lock":
        command.append("--lock")
    if profile:
        command += ["--profile", profile]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with fresh_database(row.db, tmp) as name:
        env.update(BENCH_DB=row.db, BENCH_DB_NAME=name)
        result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tmp)
    if result.returncode:
        row.error = result.stderr.strip().splitlines()[-1] if result.stderr else "failed"
        print(result.stderr, file=sys.stderr)
        return
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    row.seconds.append(outcome["seconds"])
    row.cpu.append(outcome["cpu"])
    row.problems += [p for p in outcome["problems"] if p not in row.problems]


def run_profile(n: int, tmp: str) -> str:
    path = Path(tmp) / "profile.txt"
    row = Row("sqlite", "ours", n)
    run(row, tmp, profile=str(path))
    if row.error:
        return f"Profile failed: {row.error}"
    return path.read_text()


# --- report ----------------------------------------------------------------


def fmt_rate(rate: float | None) -> str:
    return "failed" if rate is None else f"{rate:,.0f}"


def report(rows: list[Row], notes: list[str], n: int) -> str:
    by = {(r.db, r.impl): r for r in rows}
    lines = [
        f"{'database':<11} {'implementation':<28} {'triggers/s':>10} {'seconds':>8} "
        f"{'cpu s':>6}  check",
    ]
    for r in rows:
        seconds = f"{statistics.median(r.seconds):.2f}" if r.seconds else "-"
        cpu = f"{statistics.median(r.cpu):.2f}" if r.cpu else "-"
        if r.error:
            check = f"ERROR: {r.error}"
        elif r.impl == "ours":
            check = "; ".join(r.problems) or f"ok: all {n} processed, {n} attempts recorded"
        else:
            check = "; ".join(r.problems) or f"ok: all {n} processed"
        lines.append(
            f"{r.db:<11} {IMPLS[r.impl]:<28} {fmt_rate(r.rate):>10} {seconds:>8} {cpu:>6}  {check}"
        )

    lines += [
        "",
        "Ours / original (triggers/s; cpu: per CPU second of the benchmark process):",
        f"{'database':<11} {'vs original':>12} {'vs +lock':>9} {'cpu vs original':>16}  goal",
    ]
    for db in dict.fromkeys(r.db for r in rows):
        ours = by.get((db, "ours"))
        ratio = {impl: ratio_of(ours, by.get((db, impl))) for impl in ("original", "original+lock")}
        plain = ratio["original"]
        cpu = ratio_of(ours, by.get((db, "original")), cpu=True)
        goal = GOALS[db]
        verdict = "-" if plain is None else ("met" if plain >= goal else "NOT MET")
        lines.append(
            f"{db:<11} {fmt_ratio(plain):>12} {fmt_ratio(ratio['original+lock']):>9} "
            f"{fmt_ratio(cpu):>16}  "
            f">= {goal:g}x vs original without lock: {verdict}"
        )
    lines += [
        "",
        "sqlite = default rollback journal (the reported SQLite figure); sqlite-wal = "
        "journal_mode=WAL; both with transaction_mode IMMEDIATE, a file in a temp dir. "
        "cpu s: CPU time of the benchmark process alone (no database server, no Redis).",
        f"Django {django_version()} on both sides; SQLite {sqlite3.sqlite_version}; "
        f"Python {platform.python_version()}.",
        *notes,
    ]
    return "\n".join(lines)


def ratio_of(ours: Row | None, other: Row | None, *, cpu: bool = False) -> float | None:
    if ours is None or other is None:
        return None
    mine, theirs = (ours.cpu_rate, other.cpu_rate) if cpu else (ours.rate, other.rate)
    return None if mine is None or theirs is None else mine / theirs


def fmt_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.1f}x"


def django_version() -> str:
    result = subprocess.run(
        [OURS_PYTHON, "-c", "import django; print(django.get_version())"],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def save(rows: list[Row], profile: str, n: int) -> None:
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    data = [{**r.__dict__, "rate": r.rate} for r in rows]
    (results / f"process_triggers-{stamp}.json").write_text(json.dumps(data, indent=2) + "\n")
    if profile:
        (results / f"profile-{stamp}.txt").write_text(profile)
    print(f"Saved to {results.relative_to(BENCH.parent)}/*-{stamp}.*")


if __name__ == "__main__":
    main()
