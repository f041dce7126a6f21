"""The dashboard's template filters and tags (dashboard.templatetags.dashboard)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template

from dashboard import stats
from dashboard.templatetags.dashboard import duration, get, since, throughput_chart


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


@pytest.mark.django_db
def test_throughput_chart__an_svg_with_one_point_per_minute():
    svg = throughput_chart(stats.throughput())
    assert svg.startswith("<svg")
    assert svg.count('class="djt-line-') == 2
    assert "1/min" in svg


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


def test_throughput_chart__scales_to_the_peak_with_the_first_and_last_minute():
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    data = stats.Throughput(
        minutes=[start, start + timedelta(minutes=1), start + timedelta(minutes=2)],
        processed=[0, 4, 2],
        failed=[1, 0, 0],
    )
    svg = throughput_chart(data)
    assert "4/min" in svg
    assert ">10:00<" in svg and ">10:02<" in svg
    # x runs over the width (600), y from the baseline (120) to the peak (10 from the top).
    assert 'points="0.0,120.0 300.0,10.0 600.0,65.0"' in svg
    assert 'points="0.0,92.5 300.0,120.0 600.0,120.0"' in svg


def test_throughput_chart__no_minutes_draws_an_empty_chart():
    svg = throughput_chart(stats.Throughput(minutes=[], processed=[], failed=[]))
    assert svg.startswith("<svg")
    assert 'points=""' in svg
