"""Real Celery workers and dispatching ``run_triggers`` processes, for the Celery tests.

Built on tests/workers.py: the processes get the same environment (the test
database, the side-effect file), write their output to files, and are killed
at teardown; every wait is bounded. Each test has a queue of its own on the
broker, deleted afterwards, so that tests (and runs overlapping on the same
machine) never see each other's messages. The processes import the tests'
Celery app as a project's would (tests/__init__.py, tests/celery_app.py).

A test that stops RabbitMQ for a moment takes ``rabbitmq_lock(exclusive=True)``;
every other test using RabbitMQ holds it shared, so an overlapping run waits
rather than fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kombu
import redis
from celery import Celery

from djtriggers.models import Worker
from tests.workers import TIMEOUT, WorkerProcess, Workers, wait_for

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/9"
REDIS_BINDINGS = ("binding", "binding_permanent")
BROKERS = {"rabbitmq": RABBITMQ, "redis": REDIS}
_PORTS = {"rabbitmq": 5672, "redis": 6379}
LOCK_FILE = Path(tempfile.gettempdir()) / "djtriggers-tests-rabbitmq.lock"
# The longest a test waits for an overlapping run's RabbitMQ tests to finish.
LOCK_TIMEOUT = 300.0


def require(broker: str) -> None:
    """Fail (with how to fix it) unless ``broker`` ("rabbitmq", "redis") listens."""
    try:
        socket.create_connection(("127.0.0.1", _PORTS[broker]), timeout=2).close()
    except OSError as exc:
        raise AssertionError(
            f"{broker} is not running on 127.0.0.1:{_PORTS[broker]} ({exc}): `make services` "
            "(.ci/services.sh) starts it."
        ) from None


@contextlib.contextmanager
def rabbitmq_lock(*, exclusive: bool = False) -> Iterator[None]:
    """Held (shared) while a test uses RabbitMQ; exclusive while one stops it."""
    with LOCK_FILE.open("a") as file:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH

        def take() -> bool:
            try:
                fcntl.flock(file, mode | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            return True

        wait_for(take, timeout=LOCK_TIMEOUT, what=f"{LOCK_FILE} (another run's RabbitMQ tests)")
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, timeout=TIMEOUT, capture_output=True)


@contextlib.contextmanager
def rabbitmq_stopped() -> Iterator[None]:
    """RabbitMQ's app stopped (connections dropped, nothing accepted) for the block.

    It is always started again, whatever the block raised.
    """
    rabbitmqctl("stop_app")
    try:
        yield
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
        wait_for(_rabbitmq_listens, what="RabbitMQ to listen again")


def _rabbitmq_listens() -> bool:
    try:
        socket.create_connection(("127.0.0.1", _PORTS["rabbitmq"]), timeout=1).close()
    except OSError:
        return False
    return True


class CeleryProcess(WorkerProcess):
    """``celery worker`` in a process group of its own, so that its pool dies with it."""

    new_session = True

    def pool(self) -> set[int]:
        """The pids of its pool processes (prefork), as /proc shows them now."""
        return {pid for pid in _pids() if parent_of(pid) == self.pid}

    def kill(self) -> None:
        """SIGKILL to the worker and its pool processes at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(TIMEOUT)

    def results(self, task_id: str) -> list[str]:
        """What the task ``task_id`` returned, as the worker logged it (its repr)."""
        pattern = rf"\[{re.escape(task_id)}\] succeeded in [\d.e-]+s: (.*)$"
        return re.findall(pattern, self.stderr, flags=re.MULTILINE)


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def parent_of(pid: int) -> int | None:
    """The parent of a live process (None once it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone meanwhile
        return None
    found = re.search(r"^PPid:\s+(\d+)$", status, flags=re.MULTILINE)
    return int(found.group(1)) if found else None


class CeleryWorkers:
    """Celery workers and dispatchers on ``broker``, with a queue of their own.

    ``close()`` (after ``Workers.close()`` killed the processes) deletes the queue.
    """

    def __init__(self, workers: Workers, broker: str) -> None:
        self.workers = workers
        self.broker = broker
        self.queue = f"djtriggers-test-{uuid.uuid4().hex[:12]}"
        # Plain Celery, as a 2.x project (or celery beat) sends its messages: no
        # Django settings, only the broker and the queue.
        self.client = Celery("tests-client", set_as_current=False)
        self.client.conf.update(
            broker_url=broker,
            task_default_queue=self.queue,
            broker_connection_retry_on_startup=True,
        )

    def env(self, **extra: str) -> dict[str, str]:
        return self.workers.env(
            DJTRIGGERS_TEST_CELERY_BROKER=self.broker,
            DJTRIGGERS_TEST_CELERY_QUEUE=self.queue,
            **extra,
        )

    def start_worker(self, *, concurrency: int = 3, **env: str) -> CeleryProcess:
        """``celery -A tests.celery_app worker`` (prefork) on the test's queue; once ready."""
        label = f"celery-{len(self.workers.processes) + 1}"
        args = [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "tests.celery_app",
            "worker",
            "--loglevel",
            "INFO",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--queues",
            self.queue,
            "--hostname",
            f"{label}.{self.queue}@%h",
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
        ]
        process = CeleryProcess(args, self.env(**env), self.workers.tmp_path, label)
        self.workers.processes.append(process)
        wait_for(
            lambda: " ready." in process.stderr or not process.is_running(),
            what=f"{label} to be ready",
        )
        assert process.is_running(), process.stderr
        return process

    def start_dispatcher(self, *options: str, **env: str) -> WorkerProcess:
        """``run_triggers`` with DJTRIGGERS_DISPATCH = "celery"; once it has registered."""
        process = self.workers.start(
            "--poll-interval", "0.2", *options, **self.env(DJTRIGGERS_TEST_DISPATCH="celery", **env)
        )
        wait_for(
            lambda: Worker.objects.filter(name=process.label).exists() or not process.is_running(),
            what=f"{process.label} to register",
        )
        assert process.is_running(), process.stderr
        return process

    def send_task(self, name: str, args: list[Any] | None = None, **kwargs: Any) -> str:
        """Send the task ``name`` with plain Celery; its id."""
        return str(self.client.send_task(name, args=args, kwargs=kwargs).id)

    def messages(self, count: int) -> list[kombu.Message]:
        """Take the ``count`` messages waiting in the test's queue (see take_messages)."""
        return take_messages(self.client, self.queue, count)

    def close(self) -> None:
        with self.client.connection_for_write() as conn:
            kombu.Queue(self.queue, no_declare=True)(conn.default_channel).delete()
        if self.broker == REDIS:  # kombu leaves the queue's (empty) bindings behind
            with redis.Redis.from_url(REDIS) as client:
                client.delete(*(f"_kombu.{kind}.{self.queue}" for kind in REDIS_BINDINGS))
        self.client.close()


def take_messages(app: Celery, queue: str, count: int) -> list[kombu.Message]:
    """Take the ``count`` messages waiting in ``queue`` off the broker, in order.

    Fails if fewer arrive in time, or more are there.
    """
    found: list[kombu.Message] = []
    with app.connection_for_read() as conn:
        # Declared as Celery declares it, in case nothing was published yet.
        waiting = app.amqp.queues[queue](conn.default_channel)
        waiting.declare()

        def taken() -> bool:
            while len(found) < count and (message := waiting.get(no_ack=True)) is not None:
                found.append(message)
            return len(found) == count

        wait_for(taken, what=f"{count} messages in {queue}")
        extra = waiting.get(no_ack=True)
        assert extra is None, f"more than {count} messages: {extra.payload}"
    return found
