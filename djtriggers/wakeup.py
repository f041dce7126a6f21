"""Waking idle workers as soon as a trigger is due, without polling hard.

Three parts, from the fastest to the safety net:

- **Notifications** (PostgreSQL, ``DJTRIGGERS_NOTIFICATIONS``): a commit that
  creates, reprocesses or reschedules triggers due within the poll interval
  sends ``NOTIFY`` on the trigger table's channel; each worker ``LISTEN``\\s on
  an autocommit connection of its own and wakes within milliseconds. Each
  process sends at most one notification per ``DEBOUNCE_SECONDS``, so a burst
  of inserts is a handful of notifications, not one per row.
- **Probes** (every database): an idle worker looks every
  ``DJTRIGGERS_PROBE_INTERVAL_SECONDS`` for the earliest scheduled trigger,
  one step down an index, and sleeps until exactly that time. On SQLite it
  first asks ``PRAGMA data_version``, which changes only when another
  connection committed, so an idle worker on an idle database reads nothing.
  Probes also catch what notifications cannot: rows written by raw SQL or
  another service, a notification suppressed by the debounce, one lost with a
  connection.
- **The poll interval**: the longest an idle worker sleeps in any case.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from .conf import settings

log = logging.getLogger("djtriggers.worker")

# At most one notification per process and database this often.
DEBOUNCE_SECONDS = 0.05
# After losing its listening connection, a worker tries again this much later
# (probing meanwhile).
RECONNECT_SECONDS = 5.0
# While notifications arrive, probes only catch rows no notification announced
# (raw SQL, another service): once a second is enough.
LISTENING_PROBE_SECONDS = 1.0

_last_sent: dict[str, float] = {}


def channel() -> str:
    """The notification channel: the trigger table's name (one per database already)."""
    from .models import Trigger

    return Trigger._meta.db_table


def notifies(using: str) -> bool:
    return bool(settings.NOTIFICATIONS) and connections[using].vendor == "postgresql"


def poke(using: str, when: datetime | None = None) -> None:
    """Tell idle workers, once this transaction commits, that triggers are due at ``when``.

    ``when`` None means now. Only triggers due within the poll interval are
    worth a notification: the workers' probes see the others in time.
    """
    if notifies(using) and soon(when):  # pragma: no cover - PostgreSQL only
        transaction.on_commit(lambda: _notify(using), using=using)


def soon(when: datetime | None) -> bool:
    """Whether a trigger due at ``when`` (None: now) is due within the poll interval."""
    horizon = timezone.now() + timedelta(seconds=settings.POLL_INTERVAL_SECONDS)
    return when is None or when <= horizon


def _notify(using: str) -> None:  # pragma: no cover - PostgreSQL only
    now = monotonic()
    if now - _last_sent.get(using, -DEBOUNCE_SECONDS) < DEBOUNCE_SECONDS:
        return
    _last_sent[using] = now
    try:
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [channel()])
    except DatabaseError:
        # The workers' probes find the triggers a little later.
        log.warning("Could not notify the workers", exc_info=True)


class Listener:  # pragma: no cover - PostgreSQL only
    """A connection of its own (autocommit, outside Django's) that LISTENs on ``channel()``."""

    def __init__(self, using: str) -> None:
        self.using = using
        self._connection: Any = None
        self._retry_at = 0.0

    @property
    def listening(self) -> bool:
        return self._connection is not None

    def wait(self, timeout: float, interrupt: int | None = None) -> bool | None:
        """Wait up to ``timeout`` for a notification; True if one came (all that came are read).

        ``interrupt`` is a file descriptor that ends the wait when it becomes
        readable (True too). None if there is no listening connection right
        now (the caller waits its own way); a broken one is replaced later.
        """
        connection = self._connect()
        if connection is None:
            return None
        watched = [connection.fileno()] + ([] if interrupt is None else [interrupt])
        try:
            # select() sleeps in the kernel; psycopg's own timed wait polls.
            ready, _, _ = select.select(watched, [], [], timeout)
            if not ready:
                return False
            if interrupt in ready:
                return True
            if list(connection.notifies(timeout=0)):
                return True
            # Something else came: a closed connection says so here.
            connection.execute("SELECT 1")
            return False
        except Exception:
            log.warning("Lost the connection listening for new triggers", exc_info=True)
            self.close()
            self._retry_at = monotonic() + RECONNECT_SECONDS
            return None

    def _connect(self) -> Any:
        if self._connection is not None or monotonic() < self._retry_at:
            return self._connection
        try:
            import psycopg

            wrapper = connections[self.using]
            connection = psycopg.connect(**wrapper.get_connection_params(), autocommit=True)
            connection.execute(f'LISTEN "{channel()}"')
        except Exception:
            log.warning(
                "Could not listen for new triggers (probing every %gs instead)",
                settings.PROBE_INTERVAL_SECONDS,
                exc_info=True,
            )
            self._retry_at = monotonic() + RECONNECT_SECONDS
            return None
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


class Watcher:
    """How an idle worker sleeps: until the next trigger is due, woken early by news of one.

    ``next_due`` is the worker's query for the earliest scheduled trigger it
    may take (its types); ``wake`` an event set to end the sleep at once.
    """

    def __init__(
        self,
        using: str,
        next_due: Callable[[], datetime | None],
        wake: threading.Event,
    ) -> None:
        self.using = using
        self.next_due = next_due
        self.wake = wake
        self.listener = Listener(using) if notifies(using) else None
        # Signals do not end a select() on the listening connection: stop()
        # writes to this pipe instead (see interrupt).
        self._pipe = os.pipe() if self.listener is not None else None
        if self._pipe is not None:  # pragma: no cover - PostgreSQL only
            for fd in self._pipe:
                os.set_blocking(fd, False)
        self._version: tuple[int, int] | None = None

    def interrupt(self) -> None:
        """End the sleep now (safe in a signal handler)."""
        self.wake.set()
        if self._pipe is not None:  # pragma: no cover - PostgreSQL only
            with contextlib.suppress(OSError):  # full: already interrupted
                os.write(self._pipe[1], b"!")

    def sleep(self, seconds: float) -> None:
        """Sleep up to ``seconds``; return early once a trigger is due.

        A trigger found due at once is one the claim just could not take
        (another worker holds its row for a moment): it is looked at again
        after a probe, not in a busy loop.
        """
        until = monotonic() + seconds
        interval = self._interval()
        next_probe = monotonic() + interval
        due = self.next_due()
        self.changed()  # the version the next probe compares with
        first = True
        while not self.wake.is_set():
            now = monotonic()
            if now >= until:
                return
            step = min(until, next_probe) - now
            if due is not None:
                due_in = (due - timezone.now()).total_seconds()
                if due_in <= 0 and not first:
                    return
                if 0 < due_in < step:
                    step = due_in
            first = False
            notified = self._wait(step)
            if self.wake.is_set():
                return
            if notified or monotonic() >= next_probe:
                interval = self._interval()
                next_probe = monotonic() + interval
                if notified or self.changed():
                    due = self.next_due()

    def _interval(self) -> float:
        interval = settings.PROBE_INTERVAL_SECONDS
        if (
            self.listener is not None and self.listener.listening
        ):  # pragma: no cover - PostgreSQL only
            return max(interval, LISTENING_PROBE_SECONDS)
        return interval

    def _wait(self, seconds: float) -> bool:
        """Whether a notification came (or the worker was woken) within ``seconds``."""
        if (
            self.listener is not None and self._pipe is not None
        ):  # pragma: no cover - PostgreSQL only
            notified = self.listener.wait(seconds, interrupt=self._pipe[0])
            if notified is not None:
                return notified
        return self.wake.wait(seconds)

    def changed(self) -> bool:
        """Whether the database may hold new triggers since the last call.

        Always on PostgreSQL and MariaDB (a probe is one index step); on SQLite
        only when another connection committed since.
        """
        connection = connections[self.using]
        if connection.vendor != "sqlite":  # pragma: no cover - the other runs of the suite
            return True
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA data_version")
            row = cursor.fetchone()
        # The version counts per connection: a new connection starts afresh.
        version = (id(connection.connection), int(row[0]))
        changed = version != self._version
        self._version = version
        return changed

    def close(self) -> None:
        if self.listener is not None:  # pragma: no cover - PostgreSQL only
            self.listener.close()
        if self._pipe is not None:  # pragma: no cover - PostgreSQL only
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None
