"""Running ``_process`` once, and writing down how it ended."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from .conf import settings
from .exceptions import ProcessLaterError
from .fingerprints import fingerprint
from .loggers.base import TriggerLogger
from .models import Trigger, TriggerAttempt
from .states import State

log = logging.getLogger("djtriggers")

Outcome = TriggerAttempt.Outcome


@dataclass
class Attempt:
    """How one run of ``_process`` ended."""

    trigger: Trigger
    outcome: str
    started_at: datetime
    finished_at: datetime
    process_after: datetime | None = None
    exception: BaseException | None = None
    traceback: str = ""
    give_up: bool = False  # fail for good whatever the tries budget says
    savepoint: bool = False  # whether _process queried the database (and so got a savepoint)

    @property
    def number(self) -> int:
        """Which try this was (the trigger's fields are those from before it)."""
        return self.trigger.number_of_tries + 1

    @property
    def gives_up(self) -> bool:
        """Whether this is a failed last try."""
        return self.outcome == Outcome.FAILURE and (
            self.give_up or self.number >= self.trigger.get_max_tries()
        )

    def changes(self, now: datetime) -> dict[str, Any]:
        """The trigger's new field values."""
        if self.outcome == Outcome.SUCCESS:
            return success_changes(now)
        released = {"locked_by": None, "locked_until": None}
        if self.outcome == Outcome.LATER:
            # A time in the past means "as soon as possible": now, so that a
            # pass over what is due does not pick the trigger up again.
            when = max(self.process_after, now) if self.process_after else now
            return {"state": State.SCHEDULED, "process_after": when, **released}
        changes: dict[str, Any] = {
            "number_of_tries": self.number,
            "last_error": self.error_line()[:1000],
            "error_fingerprint": fingerprint(
                self.trigger.trigger_type, type(self.exception).__name__, str(self.exception)
            ),
            **released,
        }
        if self.gives_up:
            changes.update(state=State.FAILED, successful=False, date_processed=now)
        else:
            retry_at = now + self.trigger.get_retry_delay(self.number)
            changes.update(state=State.SCHEDULED, process_after=retry_at)
        return changes

    def error_line(self) -> str:
        return f"{type(self.exception).__name__}: {self.exception}"

    def log_failure(self) -> None:
        """Log a failed try: WARNING from TRIES_BEFORE_WARNING on, ERROR when giving up."""
        trigger = self.trigger
        if self.gives_up:
            level = logging.ERROR
        elif self.number >= settings.TRIES_BEFORE_WARNING:
            level = logging.WARNING
        else:
            level = logging.INFO
        message = (
            f"Processing of {trigger.trigger_type} {trigger.pk} raised a "
            f"{type(self.exception).__name__} (try nr. {self.number})"
        )
        log.log(level, message, exc_info=self.exception if level > logging.INFO else None)
        trigger.logger.log_message(trigger, message, level=level)

    def row(self, worker: str, connection: BaseDatabaseWrapper) -> tuple[Any, ...]:
        """The attempt's TriggerAttempt row, in ``ATTEMPT_COLUMNS`` order."""
        limit = settings.TRACEBACK_MAX_CHARS
        exc = self.exception
        tb = self.traceback
        if len(tb) > limit:
            tb = "… (cut)\n" + tb[-limit:]
        adapt = connection.ops.adapt_datetimefield_value
        return (
            self.trigger.pk,
            self.number,
            worker,
            adapt(self.started_at),
            adapt(self.finished_at),
            str(self.outcome),
            type(exc).__qualname__ if exc else "",
            str(exc)[:limit] if exc else "",
            tb,
        )


def success_changes(now: datetime) -> dict[str, Any]:
    return {
        "state": State.PROCESSED,
        "successful": True,
        "date_processed": now,
        "last_error": "",
        "error_fingerprint": "",
        "locked_by": None,
        "locked_until": None,
    }


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
    trigger: Trigger, dictionary: dict[str, Any], logger: TriggerLogger, using: str
) -> Attempt:
    """Run ``_process`` (inside the caller's transaction), undoing only its own work on failure."""
    connection = connections[using]
    savepoint = _SavepointOnFirstQuery(connection)
    callbacks = len(connection.run_on_commit)
    started = timezone.now()
    try:
        with connection.execute_wrapper(savepoint):
            logger.log_result(trigger, trigger._process(dictionary))
    except Exception as exc:
        if savepoint.sid is not None:
            connection.savepoint_rollback(savepoint.sid)
        # What transaction.atomic() would do for a savepoint rolled back: the
        # transaction is usable again, and the failed try's on_commit
        # callbacks are dropped.
        connection.needs_rollback = False
        del connection.run_on_commit[callbacks:]
        used = savepoint.sid is not None
        if isinstance(exc, ProcessLaterError):
            return Attempt(
                trigger, Outcome.LATER, started, timezone.now(), exc.process_after, savepoint=used
            )
        return Attempt(
            trigger,
            Outcome.FAILURE,
            started,
            timezone.now(),
            exception=exc,
            traceback=traceback.format_exc(),
            savepoint=used,
        )
    if savepoint.sid is not None:
        connection.savepoint_commit(savepoint.sid)
    return Attempt(
        trigger, Outcome.SUCCESS, started, timezone.now(), savepoint=savepoint.sid is not None
    )


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

    The TriggerAttempt rows go in as one statement of plain values per many
    rows: on the hot path, ``bulk_create`` spent more time preparing values
    than the database spent storing them.
    """
    if not attempts:
        return
    now = timezone.now()
    base = Trigger._base_manager.using(using)
    succeeded = [a.trigger.pk for a in attempts if a.outcome == Outcome.SUCCESS]
    if succeeded:
        base.filter(pk__in=succeeded).update(**success_changes(now))
    for attempt in attempts:
        if attempt.outcome != Outcome.SUCCESS:
            base.filter(pk=attempt.trigger.pk).update(**attempt.changes(now))
    insert_attempt_rows(attempts, worker, using)


def insert_attempt_rows(attempts: Sequence[Attempt], worker: str, using: str) -> None:
    connection = connections[using]
    table = connection.ops.quote_name(TriggerAttempt._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(column) for column in ATTEMPT_COLUMNS)
    rows = [attempt.row(worker, connection) for attempt in attempts]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
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
