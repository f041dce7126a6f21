"""The dashboard's pictures in a real browser: a minute's values on hover, a phone's width,
the colours of both schemes.

The same Chromium (tests/system/conftest.py) and dashboard page as tests/system/test_browser.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from djtriggers.models import TriggerAttempt
from tests import factories
from tests.system import test_browser
from tests.system.browsing import expect
from tests.testapp.models import BreakfastTrigger, NoopTrigger

# Its dashboard page and marks (slow; on the SQLite run only); the browser is conftest's.
dashboard = test_browser.dashboard
pytestmark = test_browser.pytestmark

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def busy_hour(transactional_db) -> str:
    """Tries over the last hour (12 processed and 1 failed 7 minutes ago), and two lags."""
    now = timezone.now()
    trigger = factories.due(NoopTrigger)
    at = now - timedelta(minutes=7)
    TriggerAttempt.objects.bulk_create(
        TriggerAttempt(trigger=trigger, number=1, started_at=t, finished_at=t, outcome=outcome)
        for t, outcome in [
            *[(at, "success")] * 12,
            (at, "failure"),
            *[(now - timedelta(minutes=m), "success") for m in range(2, 60, 3)],
        ]
    )
    for lag in (30, 90):
        factories.processed(
            BreakfastTrigger,
            process_after=now - timedelta(minutes=10, seconds=lag),
            at=now - timedelta(minutes=10),
        )
    return timezone.localtime(at).strftime("%H:%M")


def hovered_title(page: Any) -> str:
    """The <title> of the innermost element under the mouse: what the browser's tooltip shows."""
    return page.evaluate(
        "() => [...document.querySelectorAll(':hover')].pop().querySelector('title').textContent"
    )


def test_throughput__hovering_a_minute_shows_its_values(busy_hour, dashboard):
    page = dashboard
    minute = page.locator("rect.djt-hit", has=page.locator("title", has_text=busy_hour))
    expect(minute).to_have_count(1)
    box = minute.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert hovered_title(page) == f"{busy_hour} — 12 processed, 1 failed"
    assert minute.evaluate("rect => getComputedStyle(rect).fillOpacity") == "0.15"  # marked
    # ... and the same numbers for a screen reader, or anyone, in the table behind a disclosure.
    assert timed_refresh_may_run(page)
    page.get_by_text("Show the numbers").click()
    expect(page.locator(".djt-chart-numbers tr", has_text=busy_hour)).to_have_text(
        f"{busy_hour}121"
    )
    assert not timed_refresh_may_run(page)  # it would close the table under the reader


def timed_refresh_may_run(page: Any) -> bool:
    """The condition of the live part's timed refresh, evaluated in the page as htmx does."""
    trigger = page.locator("#djt-live").get_attribute("hx-trigger")
    condition = trigger[trigger.index("[") + 1 : trigger.rindex("]")]
    return page.evaluate(f"() => ({condition})")


def test_charts__fit_a_phone_without_scrolling_sideways(busy_hour, dashboard):
    page = dashboard
    page.set_viewport_size(PHONE)
    page.reload()
    for picture in (page.locator("svg.djt-chart"), page.locator(".djt-lag")):
        box = picture.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    for panel in page.locator(".djt-panel", has=page.locator("svg.djt-chart, .djt-lag")).all():
        # A panel may scroll its table sideways; the pictures in it fit without.
        picture = panel.locator("svg.djt-chart, .djt-lag").first
        assert picture.evaluate("e => e.getBoundingClientRect().right") <= panel.evaluate(
            "e => e.getBoundingClientRect().right"
        )
    # Letters grow as the chart shrinks: about 10 CSS pixels on the phone, not 7.
    size = page.locator("svg.djt-chart .djt-axis").first.evaluate(
        "t => t.getBoundingClientRect().height"
    )
    assert size >= 9


def _luminance(rgb: str) -> float:
    channels = [int(c) / 255 for c in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    lighter, darker = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


# What must stand out against the page, and how much (WCAG: text 4.5:1, lines 3:1).
COLOURS = [
    (".djt-chart-legend li", "color", 4.5),
    ("svg.djt-chart .djt-axis", "fill", 4.5),
    ("svg.djt-chart .djt-axis-title", "fill", 4.5),
    (".djt-lag-values", "color", 4.5),
    ("svg.djt-chart .djt-line-processed", "stroke", 3),
    ("svg.djt-chart .djt-line-failed", "stroke", 3),
    ("svg.djt-chart .djt-baseline", "stroke", 3),
    (".djt-lag-bars .djt-lag-p50", "fill", 3),
    (".djt-lag-bars .djt-lag-p95", "stroke", 3),
    (".djt-lag-bars .djt-lag-limit", "stroke", 3),
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_charts__readable_in_both_colour_schemes(busy_hour, dashboard, scheme):
    page = dashboard
    page.emulate_media(color_scheme=scheme)
    background = page.locator(".djt-panel").first.evaluate(
        "e => getComputedStyle(document.body).backgroundColor"
    )
    for selector, prop, least in COLOURS:
        colour = page.locator(selector).first.evaluate(f"e => getComputedStyle(e).{prop}")
        assert contrast(colour, background) >= least, (scheme, selector, colour, background)
