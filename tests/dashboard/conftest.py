"""Fixtures and helpers of the dashboard's tests: its URLs, htmx headers, a failure group."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.urls import reverse

from djtriggers.fingerprints import fingerprint
from tests.conftest import login
from tests.factories import failed

INDEX = reverse("dashboard:index")
SUMMARY = reverse("dashboard:summary")
HEALTH = reverse("dashboard:health")
METRICS = reverse("dashboard:metrics")
LIVE = {"HX-Request": "true", "HX-Target": "djt-live"}
LIST = {"HX-Request": "true", "HX-Target": "djt-list"}
HTMX = {"HX-Request": "true"}
XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
STATUSES = ["pending", "due", "running", "failed", "processed", "cancelled"]


@pytest.fixture(autouse=True)
def _clear_cache():
    # The processed column of the type matrix is cached for five minutes.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def viewer(client):
    return login(client, "view_trigger")


def action_url(trigger, kind):
    return reverse("dashboard:trigger_action", args=[trigger.pk, kind])


def group_url(kind):
    return reverse("dashboard:group_action", args=[kind])


def rows(content: bytes) -> list[int]:
    """The trigger ids of the list's rows, in order."""
    return [int(pk) for pk in re.findall(rb'<tr id="djt-trigger-(\d+)"', content)]


@pytest.fixture
def group():
    """Two failures alike (differing only by an id) and one other failure."""
    alike = fingerprint("noop", "ValueError", "no coffee for trigger 1")
    assert alike == fingerprint("noop", "ValueError", "no coffee for trigger 2")
    triggers = [
        failed(error=f"ValueError: no coffee for trigger {i}", fingerprint=alike) for i in (1, 2)
    ]
    other = failed(error="KeyError: 'x'", fingerprint=fingerprint("noop", "KeyError", "'x'"))
    return {"trigger_type": "noop", "fingerprint": alike, "triggers": triggers, "other": other}


def group_data(group, **extra):
    return {"trigger_type": group["trigger_type"], "fingerprint": group["fingerprint"], **extra}
