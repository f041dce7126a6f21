"""Waking idle workers (djtriggers.wakeup): notifications, probes, and a real worker woken."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from djtriggers import actions, wakeup
from djtriggers.engine import Engine
from djtriggers.models import Trigger
from djtriggers.wakeup import Listener, Watcher
from tests.factories import due, failed, make, pending
from tests.testapp.models import NoopTrigger
from tests.workers import TIMEOUT, create_counting, runs_per_trigger, wait_for


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


class Inbox:
    """A LISTENing connection of the test's own: the notifications the code sent."""

    def __init__(self) -> None:
        import psycopg

        self.connection = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        self.connection.execute(f'LISTEN "{wakeup.channel()}"')

    def received(self, wait: float = 0.3) -> int:
        """How many notifications came (waiting up to ``wait`` for the first one)."""
        count = len(list(self.connection.notifies(timeout=wait, stop_after=1)))
        return count + len(list(self.connection.notifies(timeout=0.05)))


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    if not is_postgres():
        pytest.skip("notifications are PostgreSQL's")
    wakeup._last_sent.clear()  # no debounce left over from an earlier test
    box = Inbox()
    yield box
    box.connection.close()


# --- notifications (PostgreSQL) -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_created_due__notifies_once_committed(inbox):
    with transaction.atomic():
        due()
        assert inbox.received(wait=0.2) == 0  # not before the commit
    assert inbox.received() == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back__notifies_nothing(inbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        due()
        raise RuntimeError
    assert inbox.received() == 0


@pytest.mark.django_db(transaction=True)
def test_due_later_than_the_poll_interval__notifies_nothing(inbox, settings):
    settings.DJTRIGGERS_POLL_INTERVAL_SECONDS = 5
    pending(due_in=timedelta(seconds=60))
    make(3, process_after=timezone.now() + timedelta(hours=1))
    assert inbox.received() == 0
    pending(due_in=timedelta(seconds=2))  # within the poll interval: the worker may sleep past it
    assert inbox.received() == 1


def claimed() -> Any:
    trigger = due()
    assert Engine(worker="w").claim(1) == [trigger.pk]
    return trigger.pk


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("prepare", "write"),
    [
        pytest.param(lambda: None, lambda _: make(5), id="bulk_create"),
        pytest.param(lambda: None, lambda _: NoopTrigger.objects.create(), id="create"),
        pytest.param(
            lambda: failed().pk,
            lambda pk: actions.perform("reprocess", Trigger.objects.filter(pk=pk)),
            id="reprocess-from-the-admin-or-dashboard",
        ),
        pytest.param(
            lambda: failed().pk,
            lambda pk: Trigger.objects.filter(pk=pk).reprocess(),
            id="reprocess",
        ),
        pytest.param(
            lambda: failed().pk,
            lambda pk: Trigger.objects.filter(pk=pk).update(date_processed=None),
            id="2.x-update",
        ),
        pytest.param(
            claimed, lambda pk: Engine(worker="w").release([pk]), id="released-by-a-stopping-worker"
        ),
    ],
)
def test_every_way_a_trigger_becomes_due__notifies(inbox, prepare, write):
    prepared = prepare()
    inbox.received(wait=0.1)
    wakeup._last_sent.clear()
    write(prepared)
    assert inbox.received() == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_and_processing__notify_nothing(inbox):
    trigger = pending(due_in=timedelta(days=1))
    inbox.received()
    Trigger.objects.filter(pk=trigger.pk).cancel()
    assert inbox.received() == 0


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_inserts__a_few_notifications_not_one_each(inbox):
    started = time.monotonic()
    for _ in range(300):
        NoopTrigger.objects.create()  # each in a transaction of its own
    seconds = time.monotonic() - started
    received = inbox.received()
    assert 1 <= received <= seconds / wakeup.DEBOUNCE_SECONDS + 2
    assert received < 300


@pytest.mark.django_db(transaction=True)
def test_notifications_off__none_sent(inbox, settings):
    settings.DJTRIGGERS_NOTIFICATIONS = False
    due()
    assert inbox.received() == 0
    assert not wakeup.notifies("default")


@pytest.mark.django_db(transaction=True)
def test_notify_failing__logged_never_raised(inbox, caplog, monkeypatch):
    monkeypatch.setattr(wakeup, "channel", lambda: "x" * 100)  # too long for NOTIFY
    due()
    assert "Could not notify the workers" in caplog.text
    assert Trigger.objects.count() == 1


def test_channel__the_trigger_table():
    assert wakeup.channel() == Trigger._meta.db_table == "djtriggers_trigger"


def test_soon__due_within_the_poll_interval(settings):
    settings.DJTRIGGERS_POLL_INTERVAL_SECONDS = 5
    now = timezone.now()
    assert wakeup.soon(None)
    assert wakeup.soon(now - timedelta(days=1))
    assert wakeup.soon(now + timedelta(seconds=4))
    assert not wakeup.soon(now + timedelta(seconds=30))


def test_other_databases__never_notify():
    if is_postgres():
        pytest.skip("PostgreSQL notifies")
    assert not wakeup.notifies("default")


# --- the listener (PostgreSQL) ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_listener__woken_by_a_notification_and_reads_all_that_came(inbox):
    listener = Listener("default")
    try:
        assert not listener.listening  # connects when first waiting
        assert listener.wait(0.05) is False
        assert listener.listening
        # One commit delivers the three together; separate commits may arrive apart.
        with transaction.atomic(), connection.cursor() as cursor:
            for _ in range(3):
                cursor.execute("SELECT pg_notify(%s, %s)", [wakeup.channel(), str(_)])
        assert listener.wait(TIMEOUT) is True
        assert listener.wait(0.05) is False
    finally:
        listener.close()


@pytest.mark.django_db(transaction=True)
def test_listener__a_lost_connection_is_logged_and_replaced(inbox, caplog, monkeypatch):
    monkeypatch.setattr(wakeup, "RECONNECT_SECONDS", 0.0)
    listener = Listener("default")
    try:
        assert listener.wait(0.01) is False
        pid = listener._connection.info.backend_pid
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert listener.wait(1) is None
        assert "Lost the connection listening for new triggers" in caplog.text
        assert listener.wait(0.01) is False  # listening again
        assert listener._connection.info.backend_pid != pid
    finally:
        listener.close()


@pytest.mark.django_db(transaction=True)
def test_listener__cannot_connect__logged_and_tried_again_later(inbox, caplog, monkeypatch):
    params = connection.get_connection_params()
    monkeypatch.setattr(connection, "get_connection_params", lambda: {**params, "port": 1})
    listener = Listener("default")
    assert listener.wait(0.01) is None
    assert "Could not listen for new triggers" in caplog.text
    assert listener._retry_at > time.monotonic()
    assert listener.wait(0.01) is None  # not tried again at once
    listener.close()


# --- the watcher: how an idle worker sleeps --------------------------------------------


def watcher(**engine: Any) -> Watcher:
    return Watcher("default", Engine(worker="w", **engine).earliest_scheduled, threading.Event())


def in_a_thread(after: float, action: Any) -> threading.Thread:
    def run() -> None:
        try:
            time.sleep(after)
            action()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_watcher__sleeps_until_the_next_trigger_is_due():
    pending(due_in=timedelta(seconds=0.4))
    sleeper = watcher()
    started = time.monotonic()
    sleeper.sleep(30)
    sleeper.close()
    assert 0.3 < time.monotonic() - started < 5


@pytest.mark.django_db(transaction=True)
def test_watcher__a_trigger_created_while_it_sleeps_wakes_it(settings):
    # With notifications off: the probes alone (on PostgreSQL, notifications
    # would do it sooner).
    settings.DJTRIGGERS_NOTIFICATIONS = False
    sleeper = watcher()
    thread = in_a_thread(0.3, due)
    started = time.monotonic()
    sleeper.sleep(30)
    thread.join(TIMEOUT)
    assert 0.2 < time.monotonic() - started < 5


@pytest.mark.django_db(transaction=True)
def test_watcher__becomes_due_a_second_after_it_was_created(settings):
    settings.DJTRIGGERS_NOTIFICATIONS = False
    sleeper = watcher()
    thread = in_a_thread(0.1, lambda: pending(due_in=timedelta(seconds=1)))
    started = time.monotonic()
    sleeper.sleep(30)
    thread.join(TIMEOUT)
    assert 1.0 < time.monotonic() - started < 5


@pytest.mark.django_db(transaction=True)
def test_watcher__notified_at_once_even_when_probing_rarely(inbox, settings):
    settings.DJTRIGGERS_PROBE_INTERVAL_SECONDS = 60
    sleeper = watcher()
    thread = in_a_thread(0.3, due)
    started = time.monotonic()
    sleeper.sleep(30)
    thread.join(TIMEOUT)
    sleeper.close()
    assert time.monotonic() - started < 5


@pytest.mark.django_db(transaction=True)
def test_watcher__ignores_triggers_of_other_types(settings):
    settings.DJTRIGGERS_PROBE_INTERVAL_SECONDS = 0.05
    sleeper = watcher(types=["breakfast"])
    thread = in_a_thread(0.1, due)
    started = time.monotonic()
    sleeper.sleep(0.6)
    thread.join(TIMEOUT)
    sleeper.close()
    assert time.monotonic() - started >= 0.6


@pytest.mark.django_db(transaction=True)
def test_watcher__a_due_trigger_it_could_not_claim_is_looked_at_again_after_a_probe(settings):
    settings.DJTRIGGERS_PROBE_INTERVAL_SECONDS = 0.2
    due()  # due, as if another worker held its row
    sleeper = watcher()
    started = time.monotonic()
    sleeper.sleep(30)
    sleeper.close()
    assert 0.15 < time.monotonic() - started < 5


@pytest.mark.django_db(transaction=True)
def test_watcher__interrupted_at_once_even_while_listening(settings):
    # On PostgreSQL it waits in select() on its listening connection, which a
    # signal would not end: interrupt() (what stop() calls) writes to a pipe.
    settings.DJTRIGGERS_PROBE_INTERVAL_SECONDS = 60
    sleeper = watcher()
    thread = in_a_thread(0.3, sleeper.interrupt)
    started = time.monotonic()
    sleeper.sleep(30)
    thread.join(TIMEOUT)
    sleeper.interrupt()  # again: harmless
    sleeper.close()
    assert time.monotonic() - started < 5


@pytest.mark.django_db
def test_watcher__woken_by_its_event():
    sleeper = watcher()
    sleeper.wake.set()
    started = time.monotonic()
    sleeper.sleep(30)
    sleeper.close()
    assert time.monotonic() - started < 1


@pytest.mark.django_db(transaction=True)
def test_watcher__probes_sqlite_only_after_another_connection_wrote():
    sleeper = watcher()
    assert sleeper.changed()  # the first look
    if connection.vendor != "sqlite":
        assert sleeper.changed()  # a probe is one index step: always
        return
    assert not sleeper.changed()
    due()  # this connection's own write
    assert not sleeper.changed()
    in_a_thread(0, due).join(TIMEOUT)  # another connection's
    assert sleeper.changed()
    assert not sleeper.changed()
    connection.close()  # a new connection counts afresh
    assert sleeper.changed()


# --- a real worker ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["notified", "probed"])
def test_a_real_idle_worker__starts_a_new_trigger_long_before_its_poll_interval(workers, how):
    if how == "notified" and not is_postgres():
        pytest.skip("notifications are PostgreSQL's")
    # Probes too rare to matter, or notifications off: each way alone wakes it.
    env = (
        {"DJTRIGGERS_TEST_PROBE_INTERVAL_SECONDS": "3600"}
        if how == "notified"
        else {"DJTRIGGERS_TEST_NOTIFICATIONS": "off"}
    )
    worker = workers.start("--poll-interval", "3600", **env)
    wait_for(lambda: worker.stderr.count("started") or not worker.is_running(), what="a start")
    time.sleep(0.5)  # asleep by now
    [pk] = create_counting(1)
    wait_for(lambda: runs_per_trigger().get(pk), timeout=TIMEOUT, what="the trigger to run")
    assert worker.stop() == 0
    assert runs_per_trigger() == {pk: 1}
