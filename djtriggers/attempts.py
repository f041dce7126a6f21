"""Running ``_process`` once, and writing down how it ended.

A trigger may raise anything (``SystemExit`` included), return anything, and
raise exceptions that cannot even be printed. Whatever it does ends as one
``Attempt`` whose texts are computed here, once, so that nothing that runs
after ``_process`` (logging, storing, computing the retry delay) can fail
because of the trigger: a failure there would roll back, and repeat, every
other trigger of the group.
"""

from __future__ import annotations

import logging
import signal
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from . import lifecycle, signals
from .conf import settings
from .exceptions import ProcessLaterError
from .fingerprints import fingerprint
from .loggers.base import TriggerLogger
from .models import Trigger, TriggerAttempt
from .times import LATEST

log = logging.getLogger("djtriggers")

Outcome = TriggerAttempt.Outcome


class StopNow(KeyboardInterrupt):
    """Raised by a worker's second stop signal: record the try in hand, commit, exit."""


class TriggerTimeout(Exception):
    """A try ran longer than its trigger's timeout and was interrupted."""


class WorkerLost(Exception):
    """A trigger's worker stopped renewing its lease while running it alone."""


def storable(text: str) -> str:
    """``text`` as every database stores it: no NUL characters, no lone surrogates."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def describe(exc: BaseException) -> str:
    """``str(exc)``, even for an exception whose ``__str__`` raises."""
    try:
        return storable(str(exc))
    except BaseException as inner:
        return f"<the message could not be read: {type(inner).__name__}>"


@dataclass
class Attempt:
    """How one run of ``_process`` ended."""

    trigger: Trigger
    outcome: str
    started_at: datetime
    finished_at: datetime
    process_after: datetime | None = None
    exception: BaseException | None = None
    error_class: str = ""
    error_message: str = ""
    traceback: str = ""
    give_up: bool = False  # fail for good whatever the tries budget says
    savepoint: bool = False  # whether _process queried the database (and so got a savepoint)
    stop_now: bool = False  # the worker was told to stop at once during the try

    @classmethod
    def failure(
        cls,
        trigger: Trigger,
        exc: BaseException,
        started_at: datetime,
        *,
        give_up: bool = False,
        savepoint: bool = False,
    ) -> Attempt:
        try:
            tb = "".join(traceback.format_exception(exc))
        except BaseException:
            tb = ""
        return cls(
            trigger,
            Outcome.FAILURE,
            started_at,
            timezone.now(),
            exception=exc,
            error_class=type(exc).__qualname__,
            error_message=describe(exc),
            traceback=storable(tb),
            give_up=give_up,
            savepoint=savepoint,
            stop_now=isinstance(exc, StopNow),
        )

    @property
    def number(self) -> int:
        """Which try this was (the trigger's fields are those from before it)."""
        tries = max(self.trigger.number_of_tries or 0, 0)  # 2.x code may write anything
        return min(tries + 1, lifecycle.MAX_TRIES_COUNT)

    @property
    def gives_up(self) -> bool:
        """Whether this is a failed last try."""
        if self.outcome != Outcome.FAILURE:
            return False
        try:
            budget = int(self.trigger.get_max_tries())
        except Exception:
            log.exception("get_max_tries() of %s failed; using the setting", self.trigger)
            budget = settings.TRIES_BEFORE_ERROR
        return self.give_up or self.number >= budget

    def error_line(self) -> str:
        if not self.error_message:
            return self.error_class
        return f"{self.error_class}: {self.error_message}"

    def transition(self, now: datetime) -> tuple[lifecycle.Transition, dict[str, Any]]:
        """The lifecycle transition that records this attempt, and its parameters."""
        if self.outcome == Outcome.SUCCESS:
            return lifecycle.SUCCEED, {"now": now}
        if self.outcome == Outcome.LATER:
            # A time in the past means "as soon as possible": now, so that a
            # pass over what is due does not pick the trigger up again.
            when = self.process_after if self.process_after else now
            return lifecycle.LATER, {"when": min(max(when, now), LATEST)}
        error = {
            "tries": self.number,
            "error": self.error_line()[:1000],
            "fingerprint": fingerprint(
                self.trigger.trigger_type, self.error_class, self.error_message
            ),
        }
        if self.gives_up:
            return lifecycle.GIVE_UP, {**error, "now": now}
        return lifecycle.RETRY, {**error, "when": now + self.retry_delay()}

    def retry_delay(self) -> timedelta:
        """The trigger's retry delay, within bounds whatever an override returns."""
        try:
            delay = self.trigger.get_retry_delay(self.number)
            if not isinstance(delay, timedelta):
                raise TypeError(f"get_retry_delay() returned {delay!r}, not a timedelta")
        except Exception:
            log.exception("get_retry_delay() of %s failed; retrying in a minute", self.trigger)
            delay = timedelta(minutes=1)
        return min(max(delay, timedelta()), lifecycle.MAX_RETRY_DELAY)

    def log_failure(self) -> None:
        """Log a failed try: WARNING from TRIES_BEFORE_WARNING on, ERROR when giving up."""
        if self.outcome != Outcome.FAILURE:
            return
        trigger = self.trigger
        if self.gives_up:
            level = logging.ERROR
        elif self.number >= settings.TRIES_BEFORE_WARNING:
            level = logging.WARNING
        else:
            level = logging.INFO
        message = (
            f"Processing of {trigger.trigger_type} {trigger.pk} raised a "
            f"{self.error_class} (try nr. {self.number})"
        )
        # Neither a logging handler nor the trigger's logger may fail the group.
        try:
            log.log(level, message, exc_info=self.exception if level > logging.INFO else None)
        except Exception:
            log.error("%s (the exception could not be logged)", message)
        try:
            trigger.logger.log_message(trigger, message, level=level)
        except Exception:
            log.exception("The trigger logger of %s failed to log a failed try", trigger)

    def row(self, worker: str, connection: BaseDatabaseWrapper) -> tuple[Any, ...]:
        """The attempt's TriggerAttempt row, in ``ATTEMPT_COLUMNS`` order."""
        limit = settings.TRACEBACK_MAX_CHARS
        tb = self.traceback
        if len(tb) > limit:
            tb = "… (cut)\n" + tb[-limit:]
        adapt = connection.ops.adapt_datetimefield_value
        return (
            self.trigger.pk,
            self.number,
            worker[:100],
            adapt(self.started_at),
            adapt(self.finished_at),
            str(self.outcome),
            self.error_class[:255],
            self.error_message[:limit],
            tb,
        )


class _SavepointOnFirstQuery:
    """An execute wrapper that opens a savepoint just before the trigger's first query.

    Triggers that never touch the database (or only call out) then cost no
    savepoint round trips; those that do can still be rolled back on their own.
    """

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.sid: str | None = None
        self.opening = False

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if self.sid is None and not self.opening:
            self.opening = True  # the SAVEPOINT statement itself comes through here too
            self.sid = self.connection.savepoint()
        return execute(sql, params, many, context)


def run_attempt(
    trigger: Trigger, dictionary: dict[str, Any], logger: TriggerLogger | None, using: str
) -> Attempt:
    """Run ``_process`` (inside the caller's transaction), undoing only its own work on failure.

    ``logger`` gets the result; None means the trigger's own logger.

    Catches everything, ``SystemExit``, ``KeyboardInterrupt`` and
    ``GeneratorExit`` included: each is a failed try of this trigger, so a
    trigger that raises one cannot end the worker again and again.
    """
    connection = connections[using]
    savepoint = _SavepointOnFirstQuery(connection)
    callbacks = len(connection.run_on_commit)
    started = timezone.now()
    try:
        with connection.execute_wrapper(savepoint), time_limit(trigger):
            result = trigger._process(dictionary)
            (logger or trigger.logger).log_result(trigger, result)
    except BaseException as exc:
        if savepoint.sid is not None:
            connection.savepoint_rollback(savepoint.sid)
        # What transaction.atomic() would do for a savepoint rolled back: the
        # transaction is usable again, and the failed try's on_commit
        # callbacks are dropped.
        connection.needs_rollback = False
        del connection.run_on_commit[callbacks:]
        used = savepoint.sid is not None
        if isinstance(exc, ProcessLaterError) and isinstance(exc.process_after, datetime):
            return Attempt(
                trigger, Outcome.LATER, started, timezone.now(), exc.process_after, savepoint=used
            )
        return Attempt.failure(trigger, exc, started, savepoint=used)
    if savepoint.sid is not None:
        connection.savepoint_commit(savepoint.sid)
    return Attempt(
        trigger, Outcome.SUCCESS, started, timezone.now(), savepoint=savepoint.sid is not None
    )


@contextmanager
def time_limit(trigger: Trigger) -> Iterator[None]:
    """Interrupt the try with TriggerTimeout once it has run for the trigger's timeout.

    With SIGALRM, so only in a process's main thread (a worker's): a request
    thread running "process now" has no limit. A blocking call is interrupted
    too; code that never gives the interpreter back (a C extension's loop) is
    not, and ends when its worker is killed: a lost try, counted.
    """
    seconds = trigger.get_timeout()
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise TriggerTimeout(f"the try ran longer than its timeout of {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


ATTEMPT_COLUMNS = (
    "trigger_id",
    "number",
    "worker",
    "started_at",
    "finished_at",
    "outcome",
    "exception_class",
    "message",
    "traceback",
)


def save_attempts(attempts: Sequence[Attempt], worker: str, using: str) -> None:
    """Write the attempts' outcomes: one UPDATE for all successes, one per other row.

    Each is its lifecycle transition from ``running``. The TriggerAttempt rows
    go in as one statement of plain values per many rows: on the hot path,
    ``bulk_create`` spent more time preparing values than the database spent
    storing them.
    """
    if not attempts:
        return
    now = timezone.now()
    base = Trigger._base_manager.using(using)
    succeeded = [a.trigger.pk for a in attempts if a.outcome == Outcome.SUCCESS]
    if succeeded:
        lifecycle.SUCCEED.apply(base.filter(pk__in=succeeded), now=now)
    for attempt in attempts:
        if attempt.outcome != Outcome.SUCCESS:
            transition, params = attempt.transition(now)
            transition.apply(base.filter(pk=attempt.trigger.pk), **params)
    insert_attempt_rows(attempts, worker, using)
    signals.announce_attempts(attempts, worker, using)


def insert_attempt_rows(attempts: Sequence[Attempt], worker: str, using: str) -> None:
    connection = connections[using]
    table = connection.ops.quote_name(TriggerAttempt._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column) for column in ATTEMPT_COLUMNS)
    rows = [attempt.row(worker, connection) for attempt in attempts]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # pragma: no cover - PostgreSQL only
            # One array per column: a short statement that psycopg need not parse per row.
            arrays = ", ".join(f"%s::{kind}[]" for kind in POSTGRES_TYPES)
            sql = f"INSERT INTO {table} ({columns}) SELECT * FROM unnest({arrays})"
            cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
            return
        placeholders = "({})".format(", ".join(["%s"] * len(ATTEMPT_COLUMNS)))
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholders] * len(chunk))}"
            cursor.execute(sql, [value for row in chunk for value in row])


POSTGRES_TYPES = ("bigint", "integer", "text", "timestamptz", "timestamptz") + ("text",) * 4
# Rows per INSERT statement elsewhere: far below every backend's limit on parameters.
INSERT_CHUNK = 100
