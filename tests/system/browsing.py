"""The browser tests' helpers: Chromium's path, logging in, watching for errors.

Playwright drives ``/usr/bin/chromium`` (``apt-get install chromium``; never
``playwright install``) against pytest-django's ``live_server``, which serves
the test database and the static files from this process. Outside CI a
missing browser skips these tests; in CI (``CI`` set) it fails them.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 10_000  # for any one wait in the browser
PASSWORD = "browser-test"

# The browser tests test the UI, not the database: they run on the SQLite run
# only, unless DJTRIGGERS_BROWSER_TESTS=every-db asks for them on another.
on_sqlite_only = pytest.mark.skipif(
    os.environ.get("DJTRIGGERS_TEST_DB", "sqlite") != "sqlite"
    and os.environ.get("DJTRIGGERS_BROWSER_TESTS") != "every-db",
    reason="tests the UI, not the database: runs on the SQLite run only",
)


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason} CI must run the browser tests: see .ci/system-packages.sh.")
    pytest.skip(reason)


def log_in(page: Any, live_server: Any, next_url: str) -> None:
    """Log in as ``admin`` (a superuser with PASSWORD) through the admin's form."""
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}{next_url}")


def watch(page: Any) -> list[str]:
    """The page's JavaScript errors and failed requests, as they come."""
    problems: list[str] = []

    def on_response(response: Any) -> None:
        if response.status >= 400:
            problems.append(f"{response.status} {response.request.method} {response.url}")

    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on("response", on_response)
    return problems


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect

    return expect(locator)
