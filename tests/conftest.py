from __future__ import annotations

import pytest
from django.contrib.auth.models import User


@pytest.fixture
def user(db) -> User:
    return User.objects.create(username="bob")
