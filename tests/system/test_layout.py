"""The pages' layout in a real browser: a compact list, and a phone's width.

A 50-row page of the dashboard's list fits in about two screens (each row
shows only the actions that apply to it; those that ask for a value are in a
closed disclosure). At 390 px wide no page scrolls sideways as a whole, wide
tables scroll inside their panel, and the tiles and the controls of the
action areas are at least 44 px tall (and wide), large enough to tap.

The browser is conftest.py's; the helpers are in browsing.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from djtriggers import controls
from djtriggers.models import Schedule, Trigger
from tests import factories
from tests.system.browsing import PASSWORD, TIMEOUT_MS, expect, log_in, on_sqlite_only, watch
from tests.testapp.models import FailingTrigger, LaterTrigger, NoopTrigger

pytestmark = [pytest.mark.slow, on_sqlite_only]

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
TAP = 44  # px: the smallest target a finger hits reliably (WCAG 2.5.5)
CHANGELIST = "/admin/djtriggers/trigger/"


@pytest.fixture
def site(live_server, transactional_db, settings) -> Any:
    settings.DJTRIGGERS_DASHBOARD_REFRESH_SECONDS = 3600  # no timed refresh mid-measure
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.create_superuser("admin", "admin@example.com", PASSWORD)
    return live_server


@pytest.fixture
def pages(browser, site) -> Iterator[Callable[..., Any]]:
    """Logged-in pages of a given viewport; each fails the test on a JavaScript error."""
    opened: list[Any] = []

    def new(viewport: dict[str, int], next_url: str = "/triggers/") -> Any:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.problems = watch(page)
        log_in(page, site, next_url)
        opened.append(page)
        return page

    yield new
    for page in opened:
        page.context.close()
    assert [problem for page in opened for problem in page.problems] == []


@pytest.fixture
def rows(site) -> dict[str, Trigger]:
    """Triggers in every status with long sources and errors, a failure group, a paused
    type, a schedule, workers: every panel of the dashboard has something to show."""
    now = timezone.now()
    source = "shop.order.with-a-rather-long-name$1234567890"
    made: dict[str, Trigger] = {
        "pending": factories.pending(NoopTrigger, source=source),
        "due": factories.due(NoopTrigger, source=source),
        "running": factories.running(NoopTrigger, until=now + timedelta(minutes=5)),
        "dispatched": factories.dispatched(NoopTrigger, deadline=now - timedelta(minutes=1)),
        "processed": factories.processed(NoopTrigger),
        "cancelled": factories.cancelled(NoopTrigger),
        "paused": factories.due(LaterTrigger),
        "failed": factories.failed(FailingTrigger, error="KeyError: 'beans' " * 8, source=source),
    }
    controls.pause(LaterTrigger, reason="the later service is down")
    Schedule.objects.create(
        trigger_type="noop",
        expression="*/15 * * * *",
        time_zone="Europe/Brussels",
        next_run_at=now + timedelta(minutes=10),
    )
    factories.worker("w1", seconds_ago=1, host="a-worker-host-with-a-long-name.example.com")
    return made


@pytest.fixture
def many(site) -> list[Trigger]:
    """60 triggers, more than a page: failed with long errors, pending, due, processed."""
    made = []
    for i in range(15):
        made.append(factories.failed(FailingTrigger, error=f"ValueError: no coffee {i} " * 6))
        made.append(factories.pending(NoopTrigger, source=f"shop.order${i}"))
        made.append(factories.due(NoopTrigger, source=f"shop.invoice${i}"))
        made.append(factories.processed(NoopTrigger, source=f"shop.refund${i}"))
    return made


def height(page: Any, selector: str) -> float:
    return page.locator(selector).bounding_box()["height"]


# --- a compact list ---------------------------------------------------------------


def test_list__fifty_rows_fit_in_two_screens(many, pages, capsys):
    page = pages(DESKTOP)
    expect(page.locator("#djt-list tr.djt-row")).to_have_count(50)
    section = height(page, "#djt-list-section")
    with capsys.disabled():
        total = page.evaluate("document.documentElement.scrollHeight")
        print(f"\n50-row list section at 1400x900: {section:.0f} px; the page: {total} px")
    assert section <= 2 * DESKTOP["height"]


def test_list__rows_offer_only_their_actions_the_valued_ones_in_a_closed_disclosure(rows, pages):
    page = pages(DESKTOP)

    def buttons(name: str) -> list[str]:
        visible = page.locator(f"#djt-trigger-{rows[name].pk} .djt-actions button:visible")
        return [text.strip() for text in visible.all_inner_texts()]

    assert buttons("failed") == ["Reprocess"]
    assert buttons("pending") == ["Reprocess", "Cancel"]
    assert buttons("running") == buttons("processed") == []
    more = page.locator(f"#djt-trigger-{rows['failed'].pk} details.djt-more")
    expect(more.locator("input[name=process_after]")).to_be_hidden()
    more.locator("summary").click()
    expect(more.locator("input[name=process_after]")).to_be_visible()
    expect(more.get_by_role("button", name="Change priority")).to_be_visible()


def test_list__reschedule_from_the_disclosure_with_the_keyboard_then_it_closes(rows, pages):
    failed = rows["failed"]
    page = pages(DESKTOP)
    summary = page.locator(f"#djt-trigger-{failed.pk} details.djt-more summary")
    summary.focus()
    page.keyboard.press("Enter")  # a summary opens with Enter, as a button does
    when = page.locator(f"#djt-trigger-{failed.pk} input[name=process_after]")
    expect(when).to_be_visible()
    when.fill("+2h")
    page.keyboard.press("Enter")  # submits the reschedule form

    expect(page.locator("#djt-flash")).to_contain_text(f"Trigger {failed.pk}: 1 rescheduled")
    expect(page.locator(f"#djt-trigger-{failed.pk} .djt-badge")).to_have_text("pending")
    expect(page.locator(f"#djt-trigger-{failed.pk} details.djt-more")).not_to_have_attribute(
        "open", ""
    )
    failed.refresh_from_db()
    assert failed.process_after > timezone.now() + timedelta(minutes=119)


def test_list__a_bad_time_keeps_the_disclosure_open_with_the_error(rows, pages):
    failed = rows["failed"]
    page = pages(DESKTOP)
    more = page.locator(f"#djt-trigger-{failed.pk} details.djt-more")
    more.locator("summary").click()
    more.locator("input[name=process_after]").fill("soon")
    more.get_by_role("button", name="Reschedule").click()

    expect(page.locator(f"#djt-trigger-{failed.pk} [role=alert]")).to_contain_text(
        "Not rescheduled"
    )
    expect(page.locator(f"#djt-trigger-{failed.pk} details.djt-more")).to_have_attribute("open", "")


def test_live__the_timed_refresh_waits_while_a_disclosure_is_open(rows, pages):
    """The refresh's own condition, evaluated on the page: an open reason box is not wiped."""
    page = pages(DESKTOP)
    waits = """() => {
        const when = document.getElementById('djt-live').getAttribute('hx-trigger');
        const condition = when.slice(when.indexOf('[') + 1, when.lastIndexOf(']'));
        return !Function(`return (${condition})`)();
    }"""
    assert page.evaluate(waits) is False
    pause = page.locator(".djt-matrix details.djt-more").first
    pause.locator("summary").click()
    assert page.evaluate(waits) is True
    pause.locator("summary").click()
    assert page.evaluate(waits) is False


def test_types_and_schedules__pause_and_disable_behind_their_disclosures(rows, pages):
    page = pages(DESKTOP)
    pause = page.locator(".djt-matrix details.djt-more").filter(has_text="Pause")
    expect(pause.locator("input[name=reason]").first).to_be_hidden()
    pause.first.locator("summary").click()
    pause.first.locator("input[name=reason]").fill("maintenance")
    pause.first.get_by_role("button", name="Pause").click()
    expect(page.locator("#djt-flash")).to_contain_text("Paused")
    # The change refreshes the live part (HX-Trigger): the new badge says it is done.
    expect(page.locator(".djt-matrix .djt-paused")).to_have_count(2)

    disable = page.locator("#djt-schedules details.djt-more")
    disable.locator("summary").click()
    disable.get_by_role("button", name="Disable").click()
    expect(page.locator("#djt-flash")).to_contain_text("Disabled the schedule of noop.")
    expect(page.locator("#djt-schedules details.djt-more summary")).to_have_text("Enable…")


# --- a phone ------------------------------------------------------------------------


def no_js_confirmation(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
    """The dashboard's confirmation page, as a browser without JavaScript gets it."""
    page.goto(f"{site.url}/triggers/")
    cancel = page.locator(f"#djt-trigger-{rows['pending'].pk} form").filter(
        has=page.get_by_role("button", name="Cancel")
    )
    with page.expect_navigation():
        cancel.evaluate("form => form.submit()")
    expect(page.get_by_role("button", name="Yes, cancel it")).to_be_visible()


def goto(path: str) -> Callable[[Any, Any, dict[str, Trigger]], None]:
    def visit(page: Any, site: Any, rows: dict[str, Trigger]) -> None:
        page.goto(site.url + path.format(**{name: row.pk for name, row in rows.items()}))

    return visit


PHONE_PAGES = {
    "dashboard": goto("/triggers/"),
    "admin-list": goto(CHANGELIST),
    "failed-trigger": goto(CHANGELIST + "{failed}/change/"),
    "confirmation": no_js_confirmation,
    "paused-types": goto("/admin/djtriggers/pausedtype/"),
}


@pytest.mark.parametrize("name", PHONE_PAGES)
def test_phone__no_page_scrolls_sideways(name, rows, pages, site, capsys):
    page = pages(PHONE)
    PHONE_PAGES[name](page, site, rows)
    width = page.evaluate("document.documentElement.scrollWidth")
    with capsys.disabled():
        print(f"\n{name} at 390x844: {width} px wide")
    assert width <= page.evaluate("window.innerWidth")


def test_phone__wide_tables_scroll_inside_their_panel(rows, pages):
    page = pages(PHONE)
    tables = page.locator("#djt-dashboard table")
    assert tables.count() > 5
    for table in tables.all():
        scroller = table.evaluate(
            """table => {
                for (let box = table.parentElement; box; box = box.parentElement) {
                    if (getComputedStyle(box).overflowX === 'auto') {
                        const r = box.getBoundingClientRect();
                        return {left: r.left, right: r.right};
                    }
                }
                return null;
            }"""
        )
        assert scroller is not None, table.evaluate("t => t.outerHTML.slice(0, 120)")
        assert scroller["left"] >= 0 and scroller["right"] <= PHONE["width"]


# The dashboard's controls that a finger taps: tiles, and whatever is in an action area.
TAPPABLE = """
    .djt-tile, .djt-toolbar label, .djt-toolbar a,
    :is(.djt-actions, .djt-confirm, .djt-paused-banner, .djt-filters)
        :is(button, a, input:not([type=hidden]), select, summary)
"""


def too_small(page: Any) -> list[str]:
    """The visible tappable controls less than TAP px tall, or buttons less than TAP wide."""
    return page.evaluate(
        """([selector, tap]) => [...document.querySelectorAll(selector)]
            .filter(el => el.offsetParent !== null)
            .map(el => [el, el.getBoundingClientRect()])
            .filter(([el, r]) => r.height < tap || (el.matches('button, summary') && r.width < tap))
            .map(([el, r]) => `${el.tagName} "${(el.textContent || el.name).trim().slice(0, 30)}"`
                              + ` ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        [TAPPABLE, TAP],
    )


def test_phone__tiles_and_actions_are_large_enough_to_tap(rows, pages, site):
    page = pages(PHONE)
    for more in page.locator("details.djt-more").all():
        more.evaluate("details => details.open = true")
    visible = "s => [...document.querySelectorAll(s)].filter(el => el.offsetParent).length"
    assert page.evaluate(visible, TAPPABLE) > 20
    assert too_small(page) == []

    no_js_confirmation(page, site, rows)
    assert too_small(page) == []
