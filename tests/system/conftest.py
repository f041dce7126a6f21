"""The browser of the browser tests (see browsing.py): one Chromium per module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.system.browsing import CHROMIUM, CHROMIUM_ARGS, unavailable


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module; each test gets its own context (cookies)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("The playwright package is missing (pip install -e '.[dev]').")
    if not shutil.which(CHROMIUM):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium).")
    # Playwright's sync API keeps an asyncio loop running in this thread, so
    # Django takes the tests' (synchronous) ORM calls for async-unsafe ones.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
