from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from djtriggers.models import Trigger
from tests import factories
from tests.workers import TIMEOUT, Workers


@pytest.fixture
def user(db) -> User:
    return User.objects.create(username="bob")


def login(client: Client, *codenames: str, superuser: bool = False, staff: bool = True) -> User:
    """A staff user with exactly these djtriggers permissions (or a superuser), logged in."""
    name = "root" if superuser else "user_" + "_".join(codenames)
    user = User.objects.create_user(name, is_staff=staff, is_superuser=superuser)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="djtriggers", codename__in=codenames)
    )
    client.force_login(user)
    return user


@pytest.fixture
def root(client: Client) -> User:
    return login(client, superuser=True)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Real worker processes against the test database, stopped after the test."""
    pool = Workers(tmp_path)
    yield pool
    pool.close()


@pytest.fixture
def one_of_each(db) -> dict[str, Trigger]:
    """One trigger in every status, by status name; a live worker holds the running one."""
    triggers = {
        status: make() for status, make in factories.BY_STATUS.items() if status != "running"
    }
    triggers["running"] = factories.running(until=timezone.now() + timedelta(minutes=1))
    return {status: triggers[status] for status in factories.BY_STATUS}


@contextmanager
def locked_elsewhere(*pks: int) -> Iterator[None]:
    """The rows of ``pks`` locked by another connection (a worker's transaction) meanwhile.

    For ``django_db(transaction=True)`` tests on PostgreSQL and MariaDB: SQLite
    has no row locks (its writers take the whole database).
    """
    if connection.vendor == "sqlite":
        pytest.skip("SQLite has no row locks")
    locked, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                list(Trigger._base_manager.select_for_update().filter(pk__in=pks))
                locked.set()
                release.wait(TIMEOUT)
        except BaseException as exc:
            failures.append(exc)
            locked.set()
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(TIMEOUT), "the other connection never locked the rows"
        assert not failures, failures
        yield
    finally:
        release.set()
        holder.join(TIMEOUT)
