"""Several real workers at once, a crashed worker, and operators acting meanwhile."""

from __future__ import annotations

import random
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.db.models import Count
from django.utils import timezone

from djtriggers import actions
from djtriggers.engine import Engine
from djtriggers.models import OperatorAction, Trigger, TriggerAttempt, Worker
from tests.testapp.models import Run
from tests.workers import (
    TIMEOUT,
    WorkerProcess,
    Workers,
    all_in_state,
    create_counting,
    create_sleeping,
    runs_per_trigger,
    states,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sqlite() -> bool:
    return connection.vendor == "sqlite"


def start_workers(workers: Workers, count: int, *options: str) -> list[WorkerProcess]:
    """Start ``count`` workers and wait until each has registered its Worker row."""
    started = [workers.start("--poll-interval", "0.2", *options) for _ in range(count)]
    wait_for(
        lambda: Worker.objects.count() == count or not all(w.is_running() for w in started),
        what=f"{count} workers to register",
    )
    for worker in started:
        assert worker.is_running(), worker.stderr
    return started


def wait_until_settled(timeout: float = 60) -> None:
    """Wait until no trigger is due and the workers have stopped making progress."""
    last: dict[str, int] = {}
    changed = time.monotonic()

    def settled() -> bool:
        nonlocal last, changed
        counts = Trigger.objects.status_counts()
        if counts != last:
            last, changed = counts, time.monotonic()
        idle = time.monotonic() - changed > 1
        return not counts["due"] and (not counts["running"] or idle)

    wait_for(settled, timeout=timeout, what="the workers to finish")


def stop_all(started: list[WorkerProcess]) -> None:
    for worker in started:
        worker.send_signal(signal.SIGTERM)
    for worker in started:
        assert worker.wait() == 0, worker.stderr
    assert not Worker.objects.exists(), "\n".join(worker.stderr for worker in started)


def test_several_workers__process_each_trigger_exactly_once(workers):
    count, worker_count = (600, 3) if sqlite() else (3000, 4)
    started = start_workers(workers, worker_count)

    pks = create_counting(count)
    wait_until_settled()
    stop_all(started)
    # Workaround for the bug in test_claimed_trigger_locked_for_a_moment__...:
    # a few claims may be stuck under a live worker until it stops. Its stop
    # hands them back; a pass of process_triggers finishes them.
    assert workers.run(command="process_triggers").popen.returncode == 0

    assert runs_per_trigger() == dict.fromkeys(pks, 1)
    attempts = TriggerAttempt.objects.values_list("outcome").annotate(n=Count("pk"))
    assert list(attempts) == [("success", count)]
    assert not Trigger.objects.filter(locked_by__isnull=False).exists()
    if not sqlite():
        # The work was shared: SKIP LOCKED lets them claim side by side. (SQLite
        # has one writer at a time, and whoever holds the lock tends to take it
        # again while the others back off, so one worker may do it all.)
        assert Run.objects.values("pid").distinct().count() > 1


def test_sigkill_mid_trigger__another_worker_redoes_it_once_the_lease_ends(workers):
    [slow] = create_counting(1, seconds=2)
    fast = create_counting(3)
    batch = [slow, *fast]
    killed = workers.start("--batch-size", "10", DJTRIGGERS_TEST_LEASE_SECONDS="2")
    wait_for(lambda: slow in workers.side_effects(), what="the slow trigger to start")
    assert states(batch) == dict.fromkeys(batch, "running")

    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL
    # The killed run's writes were rolled back; its claims stay until the lease ends.
    assert not Run.objects.exists()
    assert states(batch) == dict.fromkeys(batch, "running")

    taker = workers.start("--poll-interval", "0.2", DJTRIGGERS_TEST_LEASE_SECONDS="2")
    wait_for(lambda: all_in_state(batch, "processed"), what="the batch to be taken over")

    assert runs_per_trigger() == dict.fromkeys(batch, 1)
    assert set(Run.objects.values_list("pid", flat=True)) == {taker.pid}
    # Outside the database it is at least once: the killed run's side effect stays.
    side_effects = workers.side_effects()
    assert side_effects.count(slow) == 2
    assert all(side_effects.count(pk) == 1 for pk in fast)
    assert taker.stop() == 0


def test_cancel_and_reprocess__never_touch_what_workers_hold(workers):
    """cancel() and reprocess() are conditional UPDATEs that skip running and processed rows.

    So whatever operators do while workers run, no trigger runs twice, and a
    cancelled trigger never ran until it is reprocessed.
    """
    # Small claims, so that most triggers wait where an operator can reach them.
    started = start_workers(workers, 2 if sqlite() else 3, "--batch-size", "5")
    due = create_sleeping(([None] * 4 + [0.1]) * 60)
    # Triggers the workers will not reach by themselves, so that the operators
    # always find some waiting, however fast the workers are (on SQLite they
    # may hold the write lock until nearly everything due is done). A few of
    # them are never reprocessed: the last cancel surely catches those.
    pending = create_counting(30, process_after=timezone.now() + timedelta(hours=1))
    reserved, revivable = pending[:10], pending[10:]
    pks = due + pending
    rng = random.Random(1234)
    cancelled = revived = rounds = 0

    deadline = time.monotonic() + 30
    while rounds < 3 or Trigger.objects.filter(pk__in=due).processed().count() < len(due) * 2 // 3:
        assert time.monotonic() < deadline, "the workers made too little progress"
        cancelled += Trigger.objects.filter(pk__in=rng.sample(pks, 20)).cancel()
        to_revive = rng.sample(due, 15) + rng.sample(revivable, 5)
        revived += Trigger.objects.filter(pk__in=to_revive).reprocess()
        rounds += 1
        time.sleep(0.02)
    # At last, cancel all that waits, and let the workers finish what they hold.
    cancelled += Trigger.objects.filter(pk__in=pks).cancel()
    wait_until_settled()
    stop_all(started)

    assert cancelled and revived  # the operators really acted
    by_state = states(pks)
    # (scheduled: only claims stuck by the bug in the next test, handed back by the stop)
    assert set(by_state.values()) <= {"processed", "cancelled", "scheduled"}
    done = {pk for pk, state in by_state.items() if state == "processed"}
    dropped = {pk for pk, state in by_state.items() if state == "cancelled"}
    assert dropped >= set(reserved)
    assert runs_per_trigger() == dict.fromkeys(done, 1)
    assert set(TriggerAttempt.objects.values_list("trigger_id", flat=True)) == done
    assert TriggerAttempt.objects.count() == len(done)

    # Cancelled triggers brought back run once, like the rest.
    assert Trigger.objects.filter(pk__in=dropped).reprocess() == len(dropped)
    assert workers.run(command="process_triggers").popen.returncode == 0
    assert runs_per_trigger() == dict.fromkeys(pks, 1)


def test_claimed_trigger_locked_for_a_moment__is_not_left_claimed_forever():
    """What an operator's UPDATE (or another worker's) does to a row it merely looks at.

    PostgreSQL's UPDATE locks the newest version of a row that changed under it
    before rechecking its WHERE clause; InnoDB locks every row it scans. Either
    holds a claimed row for the rest of that statement.
    """
    if sqlite():
        pytest.skip("SQLite locks the whole database, not rows")
    pks = create_counting(2)
    engine = Engine(worker="tests")
    assert sorted(engine.claim(10)) == pks
    locked = threading.Event()

    def hold_row_lock(seconds: float) -> None:
        try:
            with transaction.atomic():
                list(Trigger.objects.select_for_update().filter(pk=pks[0]))
                locked.set()
                time.sleep(seconds)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_row_lock, args=[1.0])
    holder.start()
    try:
        assert locked.wait(TIMEOUT)
        engine.process(pks)
    finally:
        holder.join(TIMEOUT)

    assert runs_per_trigger()[pks[1]] == 1
    # Processing it after the lock or handing it back would both do; not this:
    trigger = Trigger.objects.get(pk=pks[0])
    assert (trigger.state, trigger.locked_by) != ("running", engine.worker)


def test_release__does_not_deadlock_with_another_workers_commit():
    """A worker stopping while another commits a group: both succeed.

    Otherwise the stopping worker gives up cleaning up (its claims stay running
    until the lease ends, its Worker row stays); at startup the same deadlock in
    extend_leases() ends the worker.
    """
    [busy] = create_counting(1, seconds=1)
    other = Engine(worker="other")
    assert other.claim(10) == [busy]
    [mine] = create_counting(1)
    stopping = Engine(worker="stopping")
    assert stopping.claim(10) == [mine]
    errors: list[BaseException] = []

    def process_busy() -> None:
        try:
            other.process([busy])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=process_busy)
    thread.start()
    try:
        wait_for(lambda: other.current == busy, what="the other worker to start its group")
        released = stopping.release()
    finally:
        thread.join(TIMEOUT)

    assert not errors
    assert released == 1
    assert runs_per_trigger() == {busy: 1}


def test_operator_action__chosen_as_a_deadlock_victim__tries_its_chunk_again(caplog):
    """A real deadlock between an action's chunk and another transaction.

    The chunk holds its triggers' row locks and waits for the audit row (its
    links' foreign key); the rival holds the audit row and waits for a trigger.
    The database aborts the chunk (the lighter transaction, and on PostgreSQL
    the first to wait); the chunk runs again and counts everything once.
    """
    if sqlite():
        pytest.skip("SQLite locks the whole database: no deadlocks")
    [target] = create_counting(1)
    ballast = create_counting(30)  # makes the rival the heavier transaction
    link = OperatorAction.triggers.through._meta.db_table
    rival_locked, rival_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    seen = {"links": 0, "locks": 0}

    def rival() -> None:
        try:
            with transaction.atomic():
                audit = OperatorAction.objects.latest("pk")
                list(OperatorAction.objects.select_for_update().filter(pk=audit.pk))
                Trigger._base_manager.filter(pk__in=ballast).update(source="ballast")
                rival_locked.set()
                time.sleep(0.3)  # the chunk waits first
                Trigger._base_manager.filter(pk=target).update(source="rival")
                transaction.set_rollback(True)
        except BaseException as exc:
            errors.append(exc)
        finally:
            rival_done.set()
            connections.close_all()

    thread = threading.Thread(target=rival)

    def meet_the_rival(execute, sql, params, many, context):
        if sql.startswith("INSERT") and link in sql and not seen["links"]:
            seen["links"] += 1
            thread.start()
            assert rival_locked.wait(TIMEOUT)
        elif "FOR UPDATE" in sql and Trigger._meta.db_table in sql:
            seen["locks"] += 1
            if seen["locks"] > 1:  # the chunk again: once the rival is gone
                assert rival_done.wait(TIMEOUT)
        return execute(sql, params, many, context)

    caplog.set_level("INFO", logger="djtriggers")
    try:
        with connection.execute_wrapper(meet_the_rival):
            report = actions.perform("cancel", Trigger.objects.filter(pk=target))
    finally:
        if thread.is_alive() or thread.ident:
            thread.join(TIMEOUT)

    assert not errors
    assert seen == {"links": 1, "locks": 2}
    assert "Deadlock broken by the database" in caplog.text
    assert (report.changed, sum(report.skipped.values())) == (1, 0)
    assert states([target]) == {target: "cancelled"}
    audit = OperatorAction.objects.get()
    assert (audit.changed, audit.skipped) == (1, 0)
    assert list(audit.triggers.values_list("pk", flat=True)) == [target]
