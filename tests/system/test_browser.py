"""The dashboard in a real browser: htmx swaps rows, refreshes the live parts, pushes URLs.

The browser is conftest.py's; the helpers are in browsing.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User

from djtriggers.models import Trigger
from tests import factories
from tests.system.browsing import PASSWORD, TIMEOUT_MS, expect, log_in, on_sqlite_only, watch
from tests.testapp.models import FailingTrigger, NoopTrigger

pytestmark = [pytest.mark.slow, on_sqlite_only]


@pytest.fixture
def dashboard(browser, live_server, transactional_db, settings) -> Iterator[Any]:
    """A page logged in through the admin's form, on /triggers/.

    Set up the rows first: the page loads when the fixture runs. It fails the
    test on any JavaScript error or failed request.
    """
    # Only the triggers-changed event may refresh the live parts, not the timer.
    settings.DJTRIGGERS_DASHBOARD_REFRESH_SECONDS = 3600
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems = watch(page)
    log_in(page, live_server, "/triggers/")
    page.evaluate("window.__marker = 1")  # see assert_not_reloaded
    try:
        yield page
    finally:
        context.close()
    assert problems == []


def assert_not_reloaded(page: Any) -> None:
    """The marker set after login is gone after a full reload: htmx swapped parts only."""
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def row(page: Any, trigger: Trigger) -> Any:
    return page.locator(f"tr#djt-trigger-{trigger.pk}")


def tile_count(page: Any, status: str) -> Any:
    return page.locator(f".djt-tile-{status} .djt-tile-count")


@pytest.fixture
def failed(transactional_db) -> Trigger:
    return factories.failed(FailingTrigger, error="ValueError: no coffee", tries=5)


@pytest.fixture
def pending(transactional_db) -> Trigger:
    return factories.pending(NoopTrigger)


def test_reprocess__swaps_the_row_and_refreshes_the_tiles(failed, dashboard):
    page = dashboard
    failed_row = row(page, failed)
    expect(failed_row.locator(".djt-badge")).to_have_text("failed")
    expect(tile_count(page, "failed")).to_have_text("1")
    expect(tile_count(page, "due")).to_have_text("0")

    failed_row.get_by_role("button", name="Reprocess").click()

    expect(failed_row.locator(".djt-badge")).to_have_text("due")
    expect(page.locator("#djt-flash")).to_contain_text(f"Trigger {failed.pk}:")
    expect(tile_count(page, "failed")).to_have_text("0")
    expect(tile_count(page, "due")).to_have_text("1")
    expect(page.get_by_text("No failed triggers.")).to_be_visible()
    assert_not_reloaded(page)
    failed.refresh_from_db()
    assert failed.state == "scheduled"


def test_cancel__asks_first_then_shows_cancelled(pending, dashboard):
    page = dashboard
    pending_row = row(page, pending)
    expect(pending_row.locator(".djt-badge")).to_have_text("pending")

    pending_row.get_by_role("button", name="Cancel").click()

    expect(pending_row).to_contain_text(f"Cancel trigger #{pending.pk}")
    pending.refresh_from_db()
    assert pending.state == "scheduled"  # not until confirmed

    pending_row.get_by_role("button", name="Yes, cancel it").click()

    expect(pending_row.locator(".djt-badge")).to_have_text("cancelled")
    expect(pending_row.get_by_role("button", name="Cancel")).to_have_count(0)
    expect(tile_count(page, "cancelled")).to_have_text("1")
    expect(tile_count(page, "pending")).to_have_text("0")
    assert_not_reloaded(page)
    pending.refresh_from_db()
    assert pending.state == "cancelled"


def test_filter__updates_the_list_and_pushes_the_url(failed, pending, dashboard):
    page = dashboard
    expect(row(page, failed)).to_be_visible()
    expect(row(page, pending)).to_be_visible()

    page.locator("form.djt-filters select[name=status]").select_option("failed")

    expect(row(page, pending)).to_have_count(0)
    expect(row(page, failed)).to_be_visible()
    assert "status=failed" in page.url
    assert_not_reloaded(page)

    page.go_back()

    expect(row(page, pending)).to_be_visible()
    assert "status=failed" not in page.url
    assert_not_reloaded(page)
