"""Real ``run_triggers`` and ``process_triggers`` subprocesses, for the worker tests.

A test that uses them needs committed data (``django_db(transaction=True)``):
the subprocesses talk to the test database over their own connections. Every
wait is bounded, and ``Workers.close()`` kills whatever is still running, so a
bug fails a test instead of hanging the suite.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from django.db import connection

from djtriggers.models import Trigger
from tests.testapp.models import CountingTrigger, Run

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 30.0  # the longest any single wait may take

_T = TypeVar("_T")


def wait_for(
    condition: Callable[[], _T], *, timeout: float = TIMEOUT, what: str = "the condition"
) -> _T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout:.0f}s waiting for {what}.")
        time.sleep(0.05)


def die_with_parent() -> None:
    """In the child: be killed if pytest dies without running its finalizers (Linux)."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


PR_SET_PDEATHSIG = 1


class WorkerProcess:
    """One management command running in a subprocess; its output goes to files."""

    # In a process group of its own (a command with children, killed as a group).
    new_session = False

    def __init__(self, args: list[str], env: dict[str, str], log_dir: Path, label: str) -> None:
        self.label = label
        self._stdout = log_dir / f"{label}.out"
        self._stderr = log_dir / f"{label}.err"
        with self._stdout.open("wb") as out, self._stderr.open("wb") as err:
            self.popen = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                preexec_fn=die_with_parent,
                start_new_session=self.new_session,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def stdout(self) -> str:
        return self._stdout.read_text()

    @property
    def stderr(self) -> str:
        return self._stderr.read_text()

    def is_running(self) -> bool:
        return self.popen.poll() is None

    def send_signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = TIMEOUT) -> int:
        """The exit code; fails (showing the worker's stderr) if it has not exited in time."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{self.label} still running after {timeout:.0f}s. Its stderr:\n{self.stderr}"
            ) from None

    def stop(self, timeout: float = TIMEOUT) -> int:
        """SIGTERM, then the exit code."""
        self.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.is_running():
            self.popen.kill()
        self.popen.wait(TIMEOUT)


class Workers:
    """Starts commands against the test database; ``close()`` kills leftovers."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.side_effects_file = tmp_path / "side_effects.log"
        self.processes: list[WorkerProcess] = []

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DJTRIGGERS_TEST_DB": os.environ.get("DJTRIGGERS_TEST_DB", "sqlite"),
            # The database this test process uses, i.e. the test database.
            "DJTRIGGERS_DB_NAME": str(connection.settings_dict["NAME"]),
            "DJTRIGGERS_TEST_SIDE_EFFECTS": str(self.side_effects_file),
            **extra,
        }

    def start(self, *options: str, command: str = "run_triggers", **env: str) -> WorkerProcess:
        """Start ``manage.py command *options``; ``env`` adds environment variables.

        A ``run_triggers`` worker is named after its label (``worker-1``, ...)
        unless the options name it.
        """
        kind = "worker" if command == "run_triggers" else command
        label = f"{kind}-{len(self.processes) + 1}"
        args = [sys.executable, "manage.py", command, *options]
        if command == "run_triggers" and "--name" not in options:
            args += ["--name", label]
        process = WorkerProcess(args, self.env(**env), self.tmp_path, label)
        self.processes.append(process)
        return process

    def run(self, *options: str, command: str = "run_triggers", **env: str) -> WorkerProcess:
        """Start a command and wait until it exits by itself."""
        process = self.start(*options, command=command, **env)
        process.wait()
        return process

    def side_effects(self) -> list[int]:
        """The pks that CountingTrigger runs wrote to the side-effect file, in order."""
        if not self.side_effects_file.exists():
            return []
        return [int(line) for line in self.side_effects_file.read_text().split()]

    def close(self) -> None:
        for process in self.processes:
            process.kill()


# --- data helpers ----------------------------------------------------------------


def create_counting(count: int, *, seconds: float | None = None, **fields: Any) -> list[int]:
    """Create ``count`` CountingTriggers (sleeping ``seconds`` each); their pks, ascending."""
    return create_sleeping([seconds] * count, **fields)


def create_sleeping(seconds: Sequence[float | None], **fields: Any) -> list[int]:
    """Create one CountingTrigger per item of ``seconds``, sleeping that long; their pks."""
    before = Trigger.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    CountingTrigger.objects.bulk_create(
        [CountingTrigger(source=None if s is None else str(s), **fields) for s in seconds],
        batch_size=500,
    )
    # MariaDB's bulk_create does not return pks.
    pks = list(
        CountingTrigger.objects.filter(pk__gt=before).order_by("pk").values_list("pk", flat=True)
    )
    assert len(pks) == len(seconds)
    return pks


def runs_per_trigger(pks: Iterable[int] | None = None) -> dict[int, int]:
    """How many committed Run rows each trigger has (triggers without any are left out)."""
    counts: dict[int, int] = {}
    runs = Run.objects.all() if pks is None else Run.objects.filter(trigger_id__in=list(pks))
    for trigger_id in runs.values_list("trigger_id", flat=True):
        counts[trigger_id] = counts.get(trigger_id, 0) + 1
    return counts


def states(pks: Iterable[int]) -> dict[int, str]:
    return dict(Trigger.objects.filter(pk__in=list(pks)).values_list("pk", "state"))


def all_in_state(pks: Iterable[int], *wanted: str) -> bool:
    pks = list(pks)
    return not Trigger.objects.filter(pk__in=pks).exclude(state__in=wanted).exists()
