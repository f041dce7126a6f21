"""Claiming and processing triggers: the one place where ``_process`` runs.

A worker first *claims* due triggers in a short transaction (state
``running``, ``locked_by`` its name, ``locked_until`` the end of its lease),
so that everybody can see what is held. It then processes them in *groups*:
one transaction per group, and a savepoint for each trigger that touches the
database. A trigger's writes and its completion commit together, so a crash
rolls both back and the trigger becomes due again when the lease ends. A group
is committed once it has run ``COMMIT_INTERVAL_SECONDS``, so fast triggers
share a commit and slow ones get one each.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from . import controls, lifecycle, priorities, signals
from .attempts import Attempt, Outcome, WorkerLost, run_attempt, save_attempts
from .conf import settings
from .db import write_transaction
from .exceptions import ProcessError, ProcessLaterError
from .lifecycle import State
from .loading import load_typed
from .loggers import get_logger
from .models import Trigger

log = logging.getLogger("djtriggers")


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:100]


# PostgreSQL keeps up to 64 subtransactions per transaction in shared memory;
# past that, every snapshot in every session gets slower until the commit.
MAX_SAVEPOINTS_PER_GROUP = 50


@dataclass
class Counts:
    succeeded: int = 0
    failed: int = 0
    gave_up: int = 0
    rescheduled: int = 0
    seconds: float = 0.0
    dispatched: int = 0  # published to a task queue (dispatch mode)
    republished: int = 0  # of those, published again: not started by the deadline

    @property
    def attempted(self) -> int:
        return self.succeeded + self.failed + self.rescheduled

    def add(self, attempts: Iterable[Attempt]) -> None:
        for attempt in attempts:
            if attempt.outcome == Outcome.SUCCESS:
                self.succeeded += 1
            elif attempt.outcome == Outcome.LATER:
                self.rescheduled += 1
            else:
                self.failed += 1
                self.gave_up += attempt.gives_up

    def summary(self) -> str:
        rate = self.attempted / self.seconds if self.seconds else 0.0
        triggers = "trigger" if self.attempted == 1 else "triggers"
        if self.dispatched:
            rate = self.dispatched / self.seconds if self.seconds else 0.0
            triggers = "trigger" if self.dispatched == 1 else "triggers"
            return (
                f"{self.dispatched} {triggers} dispatched in {self.seconds:.2f}s ({rate:.0f}/s), "
                f"{self.republished} of them again after their deadline"
            )
        return (
            f"{self.attempted} {triggers} in {self.seconds:.2f}s ({rate:.0f}/s): "
            f"{self.succeeded} processed, {self.failed} failed ({self.gave_up} for good), "
            f"{self.rescheduled} rescheduled"
        )


class Engine:
    """Claims and processes triggers for one worker."""

    def __init__(
        self,
        *,
        worker: str | None = None,
        using: str = "default",
        types: Sequence[str] = (),
        exclude_types: Sequence[str] = (),
        due_before: datetime | None = None,
        dictionary: dict[str, Any] | None = None,
    ) -> None:
        self.worker = worker or default_worker_name()
        self.using = using
        self.types = list(types)
        self.exclude_types = list(exclude_types)
        self.due_before = due_before
        self.dictionary = dictionary or {}
        self.counts = Counts()
        self.current: Any = None
        self._next_sweep = 0.0
        self._pace: float | None = None  # triggers per second, measured per group
        self.last_group_size = 0
        self.held: set[Any] = set()  # claimed and not yet finished or released
        self.claims = 0  # every OLDEST_FIRST_EVERY-th takes the oldest due first
        self.paused = controls.PausedSet(using)
        # The types in scope with a max_concurrency (their TypeSlot rows made once).
        self.limited = {t: n for t, n in controls.limits().items() if self._in_scope(t)}
        self._slots_ready = False
        self.given_back = 0  # claimed triggers given back unstarted because their type paused

    def _in_scope(self, trigger_type: str) -> bool:
        if self.types and trigger_type not in self.types:
            return False
        return trigger_type not in self.exclude_types

    def _scope(self, qs: Any) -> Any:
        if self.types:
            qs = qs.filter(trigger_type__in=self.types)
        if self.exclude_types:
            qs = qs.exclude(trigger_type__in=self.exclude_types)
        return qs

    def earliest_scheduled(self) -> datetime | None:
        """When the first scheduled trigger this worker may take is due (maybe already)."""
        qs = Trigger._base_manager.using(self.using).filter(
            state=State.SCHEDULED, process_after__isnull=False
        )
        paused = self.paused.get()
        if paused:
            qs = qs.exclude(trigger_type__in=sorted(paused))
        first: datetime | None = (
            self._scope(qs)
            .order_by("process_after")
            .values_list("process_after", flat=True)
            .first()
        )
        return first

    def sweep_soon(self) -> None:
        """Have the next claim look for ended leases and expired dispatches, not wait its turn."""
        self._next_sweep = 0.0

    def claim_size(self, cap: int) -> int:
        """About CLAIM_SECONDS of work at the measured pace (a few to start with), at most cap."""
        if self._pace is None:
            return min(cap, 10)
        return max(1, min(cap, int(self._pace * settings.CLAIM_SECONDS)))

    def claim(
        self, limit: int, *, holder: str | None = None, seconds: float | None = None
    ) -> list[Any]:
        """Take up to ``limit`` due triggers for this worker (or for ``holder``).

        A trigger marked ``run_alone`` is claimed on its own: if its worker is
        lost again while running it, the lost try is surely its own. Due triggers
        are taken by priority, then oldest first (see ``priorities``). Paused
        types are left alone, and a type with a ``max_concurrency`` gets at
        most its free slots (see controls.py). The dispatcher claims for a
        task (``holder`` "dispatched:<token>", for ``seconds``): those claims
        are not this engine's to renew or release.
        """
        now = timezone.now()
        base = Trigger._base_manager.using(self.using)
        paused = self.paused.get()
        limited = {t: n for t, n in self.limited.items() if t not in paused}
        if limited and not self._slots_ready:
            controls.ensure_slots(limited, self.using)
            self._slots_ready = True
        held_back = paused | set(limited)
        with write_transaction(self.using):
            # SKIP LOCKED: rows another worker is claiming are left to it, no waiting.
            candidates: list[tuple[Any, bool]] = []
            if monotonic() >= self._next_sweep:
                # Now and then, not every claim, in one query: triggers of a worker
                # that died, and rows saved with process_after = None (which the
                # range scan below skips).
                self._next_sweep = monotonic() + settings.LEASE_SECONDS / 4
                swept = base.filter(
                    Q(state=State.RUNNING, locked_until__lt=now)
                    | Q(state=State.SCHEDULED, process_after__isnull=True)
                )
                # Unordered: with the model's ORDER BY -id and a LIMIT, MariaDB walks
                # the whole table by primary key once many rows are running.
                swept = self._scope(swept).select_for_update(skip_locked=True).order_by()
                rows = list(
                    swept.values_list("pk", "state", "run_alone", "locked_by", "trigger_type")[
                        :limit
                    ]
                )
                ended = [row for row in rows if row[1] == State.RUNNING]
                undelivered = [row for row in ended if _dispatched(row[3])]
                lost = [(pk, alone) for pk, _, alone, by, _ in ended if not _dispatched(by)]
                found: list[tuple[Any, bool]] = []
                if undelivered:
                    # Never started by a task: the message was lost. Published again.
                    found += self._undelivered(undelivered)
                if lost:
                    # Those lost among others are due again, each alone.
                    found += [(pk, True) for pk in self._recover_lost(lost, now)]
                    self._announce_lost(
                        [(pk, by) for pk, _, _, by, _ in ended if not _dispatched(by)]
                    )
                found += [(pk, alone) for pk, state, alone, _, _ in rows if state != State.RUNNING]
                # Paused and limited types are claimed by the due query alone (which
                # leaves paused ones and counts slots): made due there, not taken here.
                kinds = {pk: trigger_type for pk, _, _, _, trigger_type in rows}
                back = [pk for pk, _ in found if kinds[pk] in held_back]
                if back:
                    base.filter(pk__in=back, process_after__isnull=True).update(process_after=now)
                candidates += [(pk, alone) for pk, alone in found if kinds[pk] not in held_back]
                # More may wait than this claim takes (recovered triggers without
                # process_after among them): sweep again next time.
                taken = _alone_or_together(candidates)
                if ended or len(rows) == limit or len(taken) < len(candidates):
                    self._next_sweep = 0.0
            if len(candidates) < limit:
                # (Those the sweep just made due again are found again: once is enough.)
                swept_pks = {pk for pk, _ in candidates}
                candidates += [
                    c
                    for c in self._due(limit - len(candidates), now, held_back, limited)
                    if c[0] not in swept_pks
                ]
            pks = _alone_or_together(candidates)
            if pks:
                lifecycle.CLAIM.apply(
                    base.filter(pk__in=pks),
                    worker=holder or self.worker,
                    until=now + timedelta(seconds=seconds or settings.LEASE_SECONDS),
                )
        if holder is None:
            self.held.update(pks)
        return pks

    def _undelivered(self, rows: list[tuple[Any, str, bool, str | None, str]]) -> list[Any]:
        """Dispatched triggers no task started by their deadline: due again, to publish again."""
        pks = [pk for pk, _, _, _, _ in rows]
        lifecycle.RELEASE.apply(Trigger._base_manager.using(self.using).filter(pk__in=pks))
        self.counts.republished += len(pks)
        log.warning(
            "Worker %s: %d dispatched triggers were not started by a task before their "
            "deadline (a lost message, a task worker killed or too busy); publishing them "
            "again: %s",
            self.worker,
            len(pks),
            ", ".join(str(pk) for pk in pks[:20]) + (" ..." if len(pks) > 20 else ""),
        )
        return [(pk, alone) for pk, _, alone, _, _ in rows]

    def _due(
        self,
        limit: int,
        now: datetime,
        held_back: set[str] | frozenset[str],
        limited: dict[str, int],
    ) -> list[tuple[Any, bool]]:
        """Up to ``limit`` due triggers, by priority then oldest first (see
        priorities.py): of the types neither paused nor limited, and of each
        limited type up to its free slots."""
        cutoff = min(now, self.due_before or now)
        scheduled = self._scope(
            Trigger._base_manager.using(self.using).filter(state=State.SCHEDULED)
        )
        # The slots first: a claim that waits for another's slot lock holds no trigger rows.
        free = controls.free_slots(limited, now, self.using)
        self.claims += 1
        oldest_first = self.claims % priorities.OLDEST_FIRST_EVERY == 0
        others = scheduled.exclude(trigger_type__in=sorted(held_back)) if held_back else scheduled
        found = priorities.claim_in_order(others, cutoff, limit, oldest_first=oldest_first)
        if free:
            for trigger_type, slots in sorted(free.items()):
                if slots:
                    found += priorities.claim_of_one_type(
                        scheduled.filter(trigger_type=trigger_type),
                        cutoff,
                        min(slots, limit),
                        oldest_first=oldest_first,
                    )
            found.sort(key=priorities.claim_order(oldest_first))
        return [(row.pk, row.run_alone) for row in found[:limit]]

    def _announce_lost(self, lost: list[tuple[Any, str | None]]) -> None:
        """``signals.lease_lost`` per worker whose lease ended, once the claim commits."""
        by_worker: dict[str, list[Any]] = {}
        for pk, holder in lost:
            by_worker.setdefault(holder or "", []).append(pk)
        for holder, pks in by_worker.items():
            signals.on_commit(
                signals.lease_lost,
                Trigger,
                using=self.using,
                pks=pks,
                worker=holder,
                found_by=self.worker,
            )

    def _recover_lost(self, lost: list[tuple[Any, bool]], now: datetime) -> list[Any]:
        """Triggers whose worker's lease ended: lost with it (see lifecycle.LOSE).

        Returns those made due again (the others failed a try).
        """
        base = Trigger._base_manager.using(self.using)
        together = [pk for pk, alone in lost if not alone]
        if together:
            log.warning(
                "Worker %s: the lease of %d triggers ended without their worker finishing "
                "them; each runs alone from now on",
                self.worker,
                len(together),
            )
            lifecycle.LOSE.apply(base.filter(pk__in=together))
        alone = [pk for pk, alone in lost if alone]
        for row, typed, _ in load_typed(base.filter(pk__in=alone), self.using) if alone else []:
            # It ran alone: its worker died running it. That is a failed try.
            error = WorkerLost(
                f"Worker {row.locked_by} stopped while running this trigger (killed, out "
                "of memory, or crashed): its lease ended without the try finishing."
            )
            attempt = Attempt.failure(typed or row, error, now)
            attempt.traceback = ""
            attempt.log_failure()
            save_attempts([attempt], str(row.locked_by or ""), self.using)
            self.counts.add([attempt])
        return together

    def process(
        self,
        pks: Sequence[Any],
        *,
        should_stop: Callable[[], bool] = lambda: False,
        between_groups: Callable[[], None] = lambda: None,
    ) -> None:
        """Process claimed triggers group by group; release what is left on a stop.

        ``between_groups`` runs before each group, with ``current`` set to the
        trigger about to run (the worker's heartbeat).
        """
        remaining = list(pks)
        while remaining:
            if should_stop():
                self.release(remaining)
                return
            self.current = remaining[0]
            between_groups()
            started = monotonic()
            before = len(remaining)
            remaining = self._process_group(remaining, should_stop)
            elapsed = monotonic() - started
            self.last_group_size = before - len(remaining)
            self._pace = self.last_group_size / max(elapsed, 1e-6)
        self.current = None

    def _process_group(self, pks: list[Any], should_stop: Callable[[], bool]) -> list[Any]:
        deadline = monotonic() + settings.COMMIT_INTERVAL_SECONDS
        attempts: list[Attempt] = []
        savepoints = 0
        with write_transaction(self.using):
            # Rows that are no longer ours (the lease ended and another worker
            # took them) are dropped; SKIP LOCKED never waits for that worker.
            locked = (
                Trigger._base_manager.using(self.using)
                .select_for_update(skip_locked=True)
                .filter(pk__in=pks, state=State.RUNNING, locked_by=self.worker)
                .order_by("pk")
            )
            rows = load_typed(locked, self.using)
            paused: list[Any] = []
            for row, trigger, error in rows:
                if row.trigger_type in self.paused.get():
                    # Paused since the claim: given back below, not started.
                    paused.append(row.pk)
                    continue
                if trigger is None:
                    # Nothing will load it until someone restores its class or data.
                    now = timezone.now()
                    attempts.append(Attempt.failure(row, error or Exception(), now, give_up=True))
                    continue
                self.current = trigger.pk
                attempt = run_attempt(trigger, self.dictionary, None, self.using)
                attempts.append(attempt)
                savepoints += attempt.savepoint
                if (
                    attempt.stop_now
                    or monotonic() >= deadline
                    or savepoints >= MAX_SAVEPOINTS_PER_GROUP
                    or should_stop()
                ):
                    break
            for attempt in attempts:
                attempt.log_failure()
            save_attempts(attempts, self.worker, self.using)
        self.counts.add(attempts)
        done = {a.trigger.pk for a in attempts}
        self.held -= done
        kept = {row.pk for row, _, _ in rows} - set(paused)
        # A claimed row the lock-and-read skipped is either no longer ours or
        # was locked for a moment by someone else (an operator's UPDATE, another
        # worker's claim scan). Give it back rather than keep renewing a claim
        # nobody works on; the release only touches rows still ours.
        dropped = [pk for pk in pks if pk not in kept]
        if dropped:
            self.release(dropped)
        self.given_back += len(paused)
        return [pk for pk in pks if pk in kept and pk not in done]

    # Both look rows up by primary key: filtering on state and locked_by made
    # InnoDB lock every running row it scanned, and deadlock with other workers.

    def release(self, pks: Sequence[Any] | None = None) -> int:
        """Give back claimed triggers that were not started (all held ones if ``pks`` is None)."""
        pks = list(self.held if pks is None else pks)
        if not pks:
            return 0
        released = lifecycle.RELEASE.apply(self._ours(pks))
        self.held.difference_update(pks)
        return released

    def extend_leases(self) -> int:
        if not self.held:
            return 0
        until = timezone.now() + timedelta(seconds=settings.LEASE_SECONDS)
        return lifecycle.RENEW.apply(self._ours(self.held), until=until)

    def _ours(self, pks: Iterable[Any]) -> QuerySet[Trigger]:
        return Trigger._base_manager.using(self.using).filter(
            pk__in=sorted(pks), locked_by=self.worker
        )


def _dispatched(holder: str | None) -> bool:
    return (holder or "").startswith(lifecycle.DISPATCHED)


def _alone_or_together(candidates: list[tuple[Any, bool]]) -> list[Any]:
    """The candidates up to the first that must run alone, or that one alone."""
    for i, (pk, alone) in enumerate(candidates):
        if alone:
            return [pk] if i == 0 else [pk for pk, _ in candidates[:i]]
    return [pk for pk, _ in candidates]


def process_now(
    trigger: Trigger,
    *,
    force: bool = False,
    logger: str | None = None,
    dictionary: dict[str, Any] | None = None,
) -> None:
    """``Trigger.process()``: run one trigger in this process, if nobody else is.

    The trigger is claimed and run in one transaction, so nobody sees the claim.
    """
    using = trigger._state.db or "default"
    base = Trigger._base_manager.using(using)
    with write_transaction(using):
        row = base.select_for_update(skip_locked=True).filter(pk=trigger.pk).first()
        if row is None:
            if base.filter(pk=trigger.pk).exists():  # pragma: no cover - no row locks on SQLite
                return  # a worker is processing it right now
            raise Trigger.DoesNotExist(f"Trigger {trigger.pk} does not exist.")
        for name in lifecycle.LIFECYCLE_COLUMNS | {"trigger_type", "run_alone"}:
            setattr(trigger, name, getattr(row, name))
        if not force:
            if trigger.state != State.SCHEDULED:
                return  # running, or finished
            if trigger.process_after and trigger.process_after > timezone.now():
                raise ProcessLaterError(trigger.process_after)
        typed = trigger.as_typed()
        worker = f"{socket.gethostname()}:{os.getpid()} process()"[:100]
        claim = lifecycle.FORCE_CLAIM if force else lifecycle.CLAIM
        claim.apply(
            base.filter(pk=trigger.pk),
            worker=worker,
            until=timezone.now() + timedelta(seconds=settings.LEASE_SECONDS),
        )
        typed.state = State.RUNNING
        result_logger = get_logger(logger) if logger else None
        attempt = run_attempt(typed, dictionary or {}, result_logger, using)
        attempt.log_failure()
        save_attempts([attempt], worker, using)
    trigger.refresh_from_db(fields=sorted(lifecycle.LIFECYCLE_COLUMNS))
    if attempt.outcome == Outcome.FAILURE:
        raise ProcessError(attempt.error_line(), exception=attempt.exception) from attempt.exception
