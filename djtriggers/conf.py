"""All of djtriggers' settings, read lazily so ``override_settings`` works.

Every setting is ``DJTRIGGERS_<NAME>`` in the project's settings; ``checks.py``
validates them against the ranges in ``checks.BOUNDS``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    # A failed trigger logs a warning from this try on ...
    "TRIES_BEFORE_WARNING": 3,
    # ... and fails for good (successful=False) at this try.
    "TRIES_BEFORE_ERROR": 5,
    # Retry delay: RETRY_DELAY_SECONDS * RETRY_BACKOFF ** (tries - 1), capped at
    # RETRY_MAX_DELAY_SECONDS, then spread by +/- RETRY_JITTER (a fraction).
    "RETRY_DELAY_SECONDS": 30.0,
    "RETRY_BACKOFF": 2.0,
    "RETRY_MAX_DELAY_SECONDS": 3600.0,
    "RETRY_JITTER": 0.2,
    # How long a worker's claim on a trigger holds without a heartbeat before
    # another worker may take the trigger.
    "LEASE_SECONDS": 60.0,
    # Fast triggers are committed in groups: a group's transaction is committed
    # once it has run this long.
    "COMMIT_INTERVAL_SECONDS": 0.2,
    # A worker claims about CLAIM_SECONDS of work at its measured pace, at most
    # BATCH_SIZE triggers: slow triggers are claimed one by one and spread over
    # the workers, fast ones in large batches.
    "BATCH_SIZE": 500,
    "CLAIM_SECONDS": 1.0,
    # The worker loop's longest sleep when nothing is due.
    "POLL_INTERVAL_SECONDS": 5.0,
    # How often a worker writes its heartbeat row.
    "HEARTBEAT_SECONDS": 1.0,
    # A try still running after this many seconds is interrupted (a failed
    # try); None lets triggers run as long as they like. A class's
    # timeout_seconds overrides it.
    "TIMEOUT_SECONDS": None,
    # Tracebacks and messages kept per attempt are cut to this many characters.
    "TRACEBACK_MAX_CHARS": 20_000,
    # The dashboard's health check fails when the oldest due trigger has waited
    # longer than this, or when triggers are due and no worker has sent a
    # heartbeat for HEALTH_MAX_HEARTBEAT_AGE_SECONDS.
    "HEALTH_MAX_DUE_AGE_SECONDS": 300.0,
    "HEALTH_MAX_HEARTBEAT_AGE_SECONDS": 60.0,
    # How often the dashboard refreshes itself.
    "DASHBOARD_REFRESH_SECONDS": 5.0,
    "LOGGERS": (
        "djtriggers.loggers.python_logging.PythonLogger",
        "djtriggers.loggers.database.DatabaseLogger",
        "djtriggers.loggers.database.DatabaseSerializeLogger",
    ),
}


class Settings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown djtriggers setting {name!r}")
        return getattr(django_settings, f"DJTRIGGERS_{name}", DEFAULTS[name])


settings = Settings()
