"""djtriggers' settings: one typed attribute each, read lazily so ``override_settings`` works.

Every setting is ``DJTRIGGERS_<NAME>`` in the project's settings. Each one
declares its default and the values it accepts (``Bounds``); ``checks.py``
holds the project's values to them at start-up. The dashboard declares its own
settings the same way in ``dashboard/conf.py``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

from django.conf import settings as django_settings

HOUR = 3600
DAY = 24 * HOUR
WEEK = 7 * DAY
YEAR = 365 * DAY
_SPANS = {YEAR: "1 year", WEEK: "1 week", DAY: "1 day", HOUR: "1 hour"}

T = TypeVar("T")


@dataclass(frozen=True)
class Bounds:
    """The values a numeric setting accepts: finite, from ``low`` to ``high``."""

    low: float
    high: float
    # An int (a number of things); ``whole`` also allows a float such as 5.0.
    count: bool = False
    whole: bool = False
    low_open: bool = False  # ``low`` itself is not allowed
    high_open: bool = False
    seconds: bool = False
    note: str = ""
    optional: bool = False  # None is allowed (and means: none)

    def accepts(self, value: object) -> bool:
        if value is None and self.optional:
            return True
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if isinstance(value, float) and (
            self.count or not math.isfinite(value) or (self.whole and not value.is_integer())
        ):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe(self) -> str:
        kind = "whole number" if self.count or self.whole else "number"
        unit = " of seconds" if self.seconds else ""
        low = f"greater than {_show(self.low)}" if self.low_open else f"from {_show(self.low)}"
        if self.high_open:
            high = f"up to (not including) {_show(self.high)}"
        else:
            high = f"{'and at most' if self.low_open else 'to'} {_show(self.high)}"
        span = _SPANS.get(int(self.high)) if self.seconds else None
        extra = f" ({span})" if span else ""
        note = f" ({self.note})" if self.note else ""
        none = ", or None" if self.optional else ""
        return f"a {kind}{unit} {low} {high}{extra}{note}{none}"


def _show(number: float) -> str:
    """As in a settings file: 3600, 1_000_000, 0.5."""
    if not float(number).is_integer():
        return f"{number:g}"
    return f"{int(number):_}" if number >= 10_000 else str(int(number))


class Setting(Generic[T]):
    """``DJTRIGGERS_<name>`` from the project's settings, else ``default``.

    ``bounds`` are the values the system checks accept (None: checked
    elsewhere). The bounds are finite and small enough that a typo (an extra
    zero or three) is caught at start-up, not in production.
    """

    def __init__(self, default: T, bounds: Bounds | None = None) -> None:
        self.default = default
        self.bounds = bounds
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> Setting[T] | T:
        if instance is None:
            return self
        value: T = getattr(django_settings, f"DJTRIGGERS_{self.name}", self.default)
        return value


def setting(default: T, bounds: Bounds | None = None) -> T:
    """Declares a setting, as ``dataclasses.field`` declares a field: the class
    attribute is a ``Setting``, typed as its value (``LEASE_SECONDS: float``)."""
    return cast(T, Setting(default, bounds))


class BaseSettings:
    """A group of settings; ``settings.NAME`` is the project's value (or the default).

    Each is declared with its type and ``setting(default, bounds)``, so that
    type checkers and ``typing.get_type_hints`` see ``LEASE_SECONDS: float``.
    """

    @classmethod
    def declared(cls) -> dict[str, Setting[Any]]:
        return {
            name: value
            for klass in reversed(cls.__mro__)
            for name, value in vars(klass).items()
            if isinstance(value, Setting)
        }

    def __getattr__(self, name: str) -> Any:  # only called for names not declared
        raise AttributeError(f"Unknown djtriggers setting {name!r}")


class Settings(BaseSettings):
    # A failed trigger logs a warning from this try on ...
    # (It may exceed TRIES_BEFORE_ERROR: failures are then never logged as
    # warnings, which is harmless.)
    TRIES_BEFORE_WARNING: int = setting(3, Bounds(1, 1000, count=True))
    # ... and fails for good (successful=False) at this try.
    TRIES_BEFORE_ERROR: int = setting(5, Bounds(1, 1000, count=True))
    # Retry delay: RETRY_DELAY_SECONDS * RETRY_BACKOFF ** (tries - 1), capped at
    # RETRY_MAX_DELAY_SECONDS, then spread by +/- RETRY_JITTER (a fraction).
    RETRY_DELAY_SECONDS: float = setting(30.0, Bounds(0, WEEK, seconds=True))
    RETRY_BACKOFF: float = setting(
        2.0, Bounds(1, 10, note="2 doubles each delay, 1 keeps it constant")
    )
    RETRY_MAX_DELAY_SECONDS: float = setting(3600.0, Bounds(0, YEAR, low_open=True, seconds=True))
    RETRY_JITTER: float = setting(
        0.2, Bounds(0, 1, high_open=True, note="a fraction of each delay")
    )
    # How long a worker's claim on a trigger holds without a heartbeat before
    # another worker may take the trigger.
    LEASE_SECONDS: float = setting(60.0, Bounds(0, DAY, low_open=True, seconds=True))
    # Fast triggers are committed in groups: a group's transaction is committed
    # once it has run this long.
    COMMIT_INTERVAL_SECONDS: float = setting(0.2, Bounds(0, HOUR, low_open=True, seconds=True))
    # A worker claims about CLAIM_SECONDS of work at its measured pace, at most
    # BATCH_SIZE triggers: slow triggers are claimed one by one and spread over
    # the workers, fast ones in large batches.
    BATCH_SIZE: int = setting(500, Bounds(1, 10_000, count=True))
    CLAIM_SECONDS: float = setting(1.0, Bounds(0, HOUR, low_open=True, seconds=True))
    # The worker loop's longest sleep when nothing is due.
    POLL_INTERVAL_SECONDS: float = setting(5.0, Bounds(0, DAY, low_open=True, seconds=True))
    # An idle worker looks this often whether a trigger became due (one indexed
    # read; on SQLite only when another connection wrote since the last look;
    # at most once a second while PostgreSQL notifications arrive).
    PROBE_INTERVAL_SECONDS: float = setting(0.25, Bounds(0.01, HOUR, seconds=True))
    # PostgreSQL: a commit that makes triggers due sends a NOTIFY, and workers
    # LISTEN on a connection of their own, so they start within milliseconds.
    # Turn off behind a transaction-mode pooler (PgBouncer), where LISTEN does
    # not work; the probes above still wake workers.
    NOTIFICATIONS: bool = setting(True)
    # How often a worker writes its heartbeat row.
    HEARTBEAT_SECONDS: float = setting(1.0, Bounds(0, HOUR, low_open=True, seconds=True))
    # A try still running after this many seconds is interrupted (a failed
    # try); None lets triggers run as long as they like. A class's
    # timeout_seconds overrides it.
    TIMEOUT_SECONDS: float | None = setting(
        None, Bounds(0, DAY, low_open=True, seconds=True, optional=True)
    )
    # Tracebacks and messages kept per attempt are cut to this many characters.
    TRACEBACK_MAX_CHARS: int = setting(20_000, Bounds(100, 1_000_000, count=True))
    # The admin's import refuses files with more rows than this.
    IMPORT_MAX_ROWS: int = setting(10_000, Bounds(1, 1_000_000, count=True))
    # 2.x's statsd metrics: "host:port" of a statsd server (None: none are sent),
    # and a prefix for their names (checked by checks.check_settings).
    STATSD_ADDRESS: str | None = setting(None)
    STATSD_PREFIX: str = setting("")
    # Prometheus metrics (djtriggers.prometheus), with the prometheus_client
    # package: counters and histograms fed by the signals, gauges read from the
    # database at scrape time (checked by checks.check_settings).
    PROMETHEUS: bool = setting(False)
    # Where due triggers run (see dispatch.py): None in the worker itself
    # (run_triggers), "celery" on Celery workers, "tasks" through Django's
    # Tasks framework; run_triggers then only dispatches. 2.x's
    # ASYNC_HANDLING = True means "celery". (Checked by checks._check_dispatch.)
    DISPATCH: str | None = setting(None)
    ASYNC_HANDLING: bool = setting(False)
    # A dispatched trigger that no task started this long after it was
    # published (a lost message, a killed task worker) is published again. It
    # must be longer than a message may wait in the queue.
    DISPATCH_DEADLINE_SECONDS: float = setting(300.0, Bounds(1, DAY, seconds=True))
    # At most this many triggers wait dispatched and not started: a backlog
    # stays in the database, not in the broker.
    DISPATCH_MAX_IN_FLIGHT: int = setting(1000, Bounds(1, 1_000_000, count=True))
    # The Celery queue, or the Tasks framework's queue_name, of the messages
    # (None: the default one); and the Tasks framework's backend alias.
    DISPATCH_QUEUE: str | None = setting(None)
    TASKS_BACKEND: str = setting("default")
    # 2.x passed it to Celery's apply_async, where it did nothing: accepted,
    # with a warning (djtriggers.W022).
    CELERY_TASK_MAX_RETRIES: int | None = setting(None)
    # Checked by checks._check_loggers: dotted paths of TriggerLogger classes.
    LOGGERS: Sequence[str] = setting(
        (
            "djtriggers.loggers.python_logging.PythonLogger",
            "djtriggers.loggers.database.DatabaseLogger",
            "djtriggers.loggers.database.DatabaseSerializeLogger",
        )
    )


settings = Settings()

DEFAULTS: dict[str, Any] = {name: s.default for name, s in Settings.declared().items()}
BOUNDS: dict[str, Bounds] = {
    name: s.bounds for name, s in Settings.declared().items() if s.bounds is not None
}
