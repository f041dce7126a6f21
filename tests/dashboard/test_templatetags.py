"""The dashboard's template filters and tags (dashboard.templatetags.dashboard)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from dashboard import stats
from dashboard.templatetags.dashboard import duration, get, since


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (timedelta(seconds=3), "3s"),
        (250, "4m 10s"),
        (timedelta(hours=2, minutes=5, seconds=9), "2h 5m"),
        (timedelta(days=3, hours=4), "3d 4h"),
    ],
)
def test_duration(value, text):
    assert duration(value) == text


def test_duration__a_float_of_seconds_is_cut_to_whole_seconds():
    assert duration(59.9) == "59s"


def test_since__is_the_time_between_two_moments():
    later = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)
    assert since(later, later - timedelta(minutes=5)) == timedelta(minutes=5)
    rendered = Template("{% load dashboard %}{{ later|since:earlier|duration }}").render(
        Context({"later": later, "earlier": later - timedelta(hours=2, minutes=5)})
    )
    assert rendered == "2h 5m"


def test_get__reads_a_key_and_shows_nothing_for_a_missing_one():
    assert get({"due": 3}, "due") == 3
    assert get({"due": 3}, "failed") == ""


def render(template: str, **context: object) -> str:
    return Template("{% load dashboard %}" + template).render(Context(context))


def hour(**values: list[int]) -> stats.Throughput:
    start = datetime(2026, 1, 1, 10, 35, tzinfo=UTC)
    return stats.Throughput(
        minutes=[start + timedelta(minutes=i) for i in range(60)],
        processed=values.get("processed", [0] * 60),
        failed=values.get("failed", [0] * 60),
    )


def busy_hour() -> stats.Throughput:
    return hour(processed=[i % 13 for i in range(60)], failed=[i % 2 for i in range(60)])


def test_throughput_chart__a_legend_that_tells_the_lines_apart_without_colour():
    html = render("{% throughput_chart data %}", data=busy_hour())
    legend = html[html.index('<ul class="djt-chart-legend">') : html.index("</ul>")]
    assert "processed (340), solid line" in legend
    assert "failed (30), dashed line with dots" in legend
    assert html.index("</ul>") < html.index('<svg class="djt-chart"')
    assert 'class="djt-line-failed"' in html and html.count('class="djt-mark-failed"') == 31


def test_throughput_chart__axes_with_units_and_round_ticks():
    html = render("{% throughput_chart data %}", data=busy_hour())  # peak 12: 0, 5, 10, 15
    assert ">triggers/min</text>" in html
    assert ">time (UTC)</text>" in html
    assert re.findall(r'text-anchor="end">(\d+)</text>', html) == ["0", "5", "10", "15"]
    assert re.findall(r'text-anchor="middle">([\d:]+)</text>', html) == [
        "10:40",
        "10:50",
        "11:00",
        "11:10",
        "11:20",
        "11:30",
    ]


def test_throughput_chart__one_title_per_minute_with_its_values():
    html = render("{% throughput_chart data %}", data=busy_hour())
    titles = re.findall(r"<title>([^<]*)</title>", html)
    assert len(titles) == 60
    assert titles[0] == "10:35 — 0 processed, 0 failed"
    assert titles[12] == "10:47 — 12 processed, 0 failed"
    assert titles[-1] == "11:34 — 7 processed, 1 failed"
    assert "from 10:35 to 11:34: 340 processed, 30 failed, at most 12 in one minute." in html


def test_throughput_chart__the_numbers_in_a_table_behind_a_disclosure():
    html = render("{% throughput_chart data %}", data=busy_hour())
    table = html[html.index("<details") : html.index("</details>")]
    assert "<summary>Show the numbers</summary>" in table
    assert '<tr><th scope="row">10:47</th><td>12</td><td>0</td></tr>' in table
    assert table.count('<th scope="row">') == 60


def test_throughput_chart__coordinates_stay_unlocalized_the_words_translated():
    with translation.override("nl"):
        html = render("{% throughput_chart data %}", data=busy_hour())
    points = re.search(r'class="djt-line-processed" points="([^"]+)"', html)
    assert points and re.fullmatch(r"[\d., ]+", points.group(1)) and "," in points.group(1)
    assert re.search(r'class="djt-hit" x="[\d.]+" y="34" width="\d+\.\d"', html)
    assert ">tijd (UTC)</text>" in html
    assert "<title>10:47 — 12 verwerkt, 0 mislukt</title>" in html


def test_throughput_chart__local_time_on_the_axis():
    with timezone.override("Europe/Amsterdam"):
        html = render("{% throughput_chart data %}", data=busy_hour())
    assert ">time (Europe/Amsterdam)</text>" in html
    assert "<title>11:35 — 0 processed, 0 failed</title>" in html


def test_throughput_chart__an_empty_hour_says_so_instead_of_a_flat_chart():
    html = render("{% throughput_chart data %}", data=hour())
    assert "Nothing processed or failed in the last hour." in html
    assert "<svg" not in html
    empty = stats.Throughput(minutes=[], processed=[], failed=[])
    assert "<svg" not in render("{% throughput_chart data %}", data=empty)


def lag_row(typed: str, p50: float | None, p95: float | None) -> stats.DueRow:
    return stats.DueRow(
        trigger_type=typed,
        due=1,
        oldest_due_age=None,
        lag_p50=None if p50 is None else timedelta(seconds=p50),
        lag_p95=None if p95 is None else timedelta(seconds=p95),
        processed_last_hour=1,
    )


def test_lag_chart__p50_and_p95_per_type_with_the_due_limit():
    rows = [lag_row("breakfast", 30, 90), lag_row("<b>late</b>", 60, 400), lag_row("x", None, None)]
    html = render("{% lag_chart rows threshold %}", rows=rows, threshold=300)
    assert '<span class="djt-lag-type">breakfast</span>' in html
    assert "p50 30s, p95 1m 30s</span>" in html
    assert "p50 1m 0s, p95 6m 40s <strong>(over the due limit)</strong>" in html
    assert "&lt;b&gt;late&lt;/b&gt;" in html and "<b>late" not in html
    assert ">x</span>" not in html  # no lag measured: no bar
    assert "due limit 5m 0s, dashed line" in html
    assert html.count('class="djt-lag-limit" x1="62.5"') == 2
    assert '<rect class="djt-lag-p95" x="0" y="1" width="83.33"' in html
    assert "<span>8m 0s</span>" in html


def test_lag_chart__no_lag_measured_says_so():
    html = render("{% lag_chart rows 300 %}", rows=[lag_row("x", None, None)])
    assert "No lag measured in the last hour" in html
    assert "<svg" not in html
