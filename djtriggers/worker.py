"""The background loop: claim due triggers, process them, sleep until the next one."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from time import monotonic
from types import FrameType
from typing import Any

from django.db import DatabaseError, connections
from django.utils import timezone
from django.utils.translation import gettext

from . import counts, dispatch, models, scheduler, schedules, signals
from .attempts import StopNow
from .conf import settings
from .engine import Counts, Engine
from .wakeup import Watcher

log = logging.getLogger("djtriggers.worker")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STALE_WORKER_ROWS = timedelta(hours=1)
# How often a worker merges the counter rows of closed connections and of the
# minutes and hours gone by (counts.fold).
FOLD_SECONDS = 60.0
# A burst pass (process_triggers) gives up after this many errors in a row
# outside any trigger, rather than retry forever from cron.
BURST_MAX_ERRORS = 3


class GaveUp(Exception):
    """A burst pass met the same trouble outside any trigger again and again."""


class TriggerWorker:
    """Processes triggers until stopped (``run_triggers``) or until none is due (``burst``).

    The management commands only parse options and build one of these; tests
    drive it in-process.
    """

    def __init__(
        self,
        *,
        batch_size: int | None = None,
        poll_interval: float | None = None,
        types: Sequence[str] = (),
        exclude_types: Sequence[str] = (),
        max_runtime: float | None = None,
        max_triggers: int | None = None,
        burst: bool = False,
        using: str = "default",
        name: str | None = None,
        dictionary: dict[str, Any] | None = None,
    ) -> None:
        self.batch_size = batch_size or settings.BATCH_SIZE
        self.poll_interval = (
            settings.POLL_INTERVAL_SECONDS if poll_interval is None else poll_interval
        )
        self.max_runtime = max_runtime
        self.max_triggers = max_triggers
        self.burst = burst
        self.using = using
        self.engine = Engine(
            worker=name,
            using=using,
            types=types,
            exclude_types=exclude_types,
            # A burst pass takes what is due when it starts, so a trigger that
            # reschedules itself to "now" cannot keep it running forever.
            due_before=timezone.now() if burst else None,
            dictionary=dictionary,
        )
        # With DJTRIGGERS_DISPATCH, due triggers are published to tasks, not run here.
        kind = dispatch.mode()
        self.dispatcher = dispatch.Dispatcher(self.engine, kind) if kind else None
        # The recurring schedules of its types: the worker creates their triggers.
        self.scheduler = scheduler.Scheduler(using, scope=self.engine._scope)
        self.stopping: str | None = None
        self._deadline: float | None = None
        self._wake = threading.Event()
        self._last_heartbeat = 0.0
        self._next_fold = 0.0
        self._reported: Any = None  # the current trigger the last heartbeat showed
        self._watcher: Watcher | None = None  # made at the first sleep

    @property
    def name(self) -> str:
        return self.engine.worker

    @property
    def counts(self) -> Counts:
        return self.engine.counts

    # --- stopping ------------------------------------------------------------

    def stop(self, reason: str = "stop requested") -> None:
        """Stop claiming; the trigger in hand is finished, the rest released."""
        if not self.stopping:
            self.stopping = reason
            log.info("Worker %s stopping (%s)", self.name, reason)
        if self._watcher is not None:
            self._watcher.interrupt()
        self._wake.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            # A second signal: stop now. The trigger running is interrupted (a
            # failed try), the group commits what it did, and the worker exits.
            raise StopNow(f"the worker was stopped at once ({signal.Signals(signum).name} twice)")
        self.stop(signal.Signals(signum).name)

    # --- the loop ------------------------------------------------------------

    def run(self) -> Counts:
        handlers = self._install_signal_handlers()
        started = monotonic()
        log.info("Worker %s started", self.name)
        signals.send(signals.worker_started, type(self), worker=self.name)
        self._deadline = None if self.max_runtime is None else started + self.max_runtime
        failures = 0
        registered = False
        try:
            while not self.stopping:
                if self._deadline is not None and monotonic() >= self._deadline:
                    self.stop("max runtime reached")
                    break
                limit, done = self.engine.claim_size(self.batch_size), self.counts.attempted
                if self.dispatcher is not None:  # publishing is fast: whole batches
                    limit, done = self.batch_size, self.counts.dispatched
                if self.max_triggers is not None:
                    limit = min(limit, self.max_triggers - done)
                    if limit <= 0:
                        self.stop("max triggers reached")
                        break
                # Nothing the database does may end the loop: every step is retried.
                try:
                    if not registered:
                        self._heartbeat(register=True)
                        # The classes' schedules as this code declares them.
                        schedules.sync(using=self.using)
                        registered = True
                    worked = self._run_batch(limit)
                    if not worked and not self.burst:
                        self._sleep()
                    failures = 0
                except Exception as exc:
                    failures += 1
                    if self.burst and failures >= BURST_MAX_ERRORS:
                        # Shown to people by process_triggers (a CommandError).
                        raise GaveUp(
                            gettext(
                                "Stopped after %(count)d errors in a row outside any trigger, "
                                "the last: %(error)s. Is the database reachable?"
                            )
                            % {"count": failures, "error": f"{type(exc).__name__}: {exc}"}
                        ) from exc
                    self._recover(failures)
                    continue
                if not worked and self.burst:
                    break
        finally:
            self.counts.seconds = monotonic() - started
            self._shutdown()
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        log.info("Worker %s stopped: %s", self.name, self.counts.summary())
        signals.send(signals.worker_stopped, type(self), worker=self.name, counts=self.counts)
        return self.counts

    def _run_batch(self, limit: int) -> bool:
        self.scheduler.fire_due()
        if self.dispatcher is not None:
            published = self.dispatcher.dispatch(limit)
            self._heartbeat()
            if self.dispatcher.full and not self.burst:
                # The tasks are behind: look again soon, not at once.
                self._wake.wait(min(self.poll_interval, 1.0))
            return bool(published)
        pks = self.engine.claim(limit)
        if pks:
            self.engine.process(
                pks, should_stop=lambda: bool(self.stopping), between_groups=self._heartbeat
            )
        self._heartbeat()
        return bool(pks)

    def _recover(self, failures: int) -> None:
        """After an error outside any trigger (e.g. the database went away): back off, reconnect."""
        delay = min(2.0 ** (failures - 1), 30.0)
        log.exception("Worker %s hit an error; retrying in %.0fs", self.name, delay)
        with contextlib.suppress(DatabaseError):
            connections[self.using].close()
        self._wake.wait(delay)
        try:
            self.engine.release()  # what we claimed and did not finish is due again
        except Exception:
            log.warning("Worker %s could not release its claims yet", self.name, exc_info=True)

    def _sleep(self) -> None:
        """Sleep up to the poll interval, until a trigger is due (see wakeup.Watcher)."""
        seconds = self.poll_interval
        if self._deadline is not None:
            seconds = min(seconds, max(self._deadline - monotonic(), 0.0))
        if self._watcher is None:
            self._watcher = Watcher(self.using, self._next_due, self._wake)
        self._watcher.sleep(seconds)

    def _next_due(self) -> datetime | None:
        """When the next trigger is due or the next schedule's slot comes, whichever is first."""
        times = [self.engine.earliest_scheduled(), self.scheduler.next_run()]
        return min((t for t in times if t is not None), default=None)

    # --- heartbeat -----------------------------------------------------------

    def _heartbeat(self, register: bool = False) -> None:
        """Refresh this worker's row and leases, at most every HEARTBEAT_SECONDS."""
        now = monotonic()
        current = self.engine.current
        # Slow triggers run one per group: show each one in hand, whatever the interval.
        new_slow = (
            current is not None and current != self._reported and self.engine.last_group_size <= 1
        )
        if not (register or new_slow) and now - self._last_heartbeat < settings.HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = now
        self._reported = current
        workers = models.Worker.objects.using(self.using)
        values = {
            "last_seen": timezone.now(),
            "processed": self.counts.succeeded,
            "failed": self.counts.failed,
            "current_trigger_id": self.engine.current,
        }
        if register:
            workers.filter(last_seen__lt=timezone.now() - STALE_WORKER_ROWS).delete()
        if register or not workers.filter(name=self.name).update(**values):
            # New, restarted under a fixed --name, or its row was cleaned away.
            workers.update_or_create(
                name=self.name,
                defaults={
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "started_at": timezone.now(),
                    **values,
                },
            )
        self.engine.extend_leases()
        if now >= self._next_fold:
            self._next_fold = now + FOLD_SECONDS
            counts.fold(self.using)

    def _shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
        try:
            released = self.engine.release()
            if released:
                log.info("Worker %s released %d claimed triggers", self.name, released)
            models.Worker.objects.using(self.using).filter(name=self.name).delete()
        except DatabaseError:
            log.warning(
                "Worker %s could not clean up; its claims end with their lease",
                self.name,
                exc_info=True,
            )

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
