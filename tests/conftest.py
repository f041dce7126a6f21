from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from tests.workers import Workers


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
