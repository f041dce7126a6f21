"""The pictures' layout (dashboard.charts): round ticks, coordinates, the lag bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from dashboard import charts, stats

START = datetime(2026, 1, 1, 10, 35, tzinfo=UTC)


def hour(start: datetime = START, **values: list[int]) -> stats.Throughput:
    minutes = [start + timedelta(minutes=i) for i in range(60)]
    return stats.Throughput(
        minutes=minutes,
        processed=values.get("processed", [0] * 60),
        failed=values.get("failed", [0] * 60),
    )


def row(typed: str, p50: float | None, p95: float | None) -> stats.DueRow:
    return stats.DueRow(
        trigger_type=typed,
        due=0,
        oldest_due_age=None,
        lag_p50=None if p50 is None else timedelta(seconds=p50),
        lag_p95=None if p95 is None else timedelta(seconds=p95),
        processed_last_hour=1,
    )


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (7, [0, 2, 4, 6, 8]),
        (23, [0, 5, 10, 15, 20, 25]),
        (30, [0, 10, 20, 30]),
        (100, [0, 20, 40, 60, 80, 100]),
        (999, [0, 200, 400, 600, 800, 1000]),
    ],
)
def test_value_ticks__round_steps_of_1_2_5_from_zero_past_the_peak(peak, ticks):
    assert charts.value_ticks(peak) == ticks


def test_time_ticks__every_ten_minutes_across_the_hour():
    minutes = hour().minutes  # 10:35 to 11:34
    labels = [minutes[i].strftime("%H:%M") for i in charts.time_ticks(minutes)]
    assert labels == ["10:40", "10:50", "11:00", "11:10", "11:20", "11:30"]


def test_time_ticks__round_in_local_time():
    minutes = hour().minutes
    with timezone.override("Asia/Kolkata"):  # UTC+5:30: 10:35 is 16:05
        ticks = charts.time_ticks(minutes)
        labels = [timezone.localtime(minutes[i]).strftime("%H:%M") for i in ticks]
    assert labels == ["16:10", "16:20", "16:30", "16:40", "16:50", "17:00"]


def test_time_ticks__fewer_minutes_closer_ticks_many_minutes_hourly():
    assert charts.time_ticks(hour().minutes[:5]) == [0, 1, 2, 3, 4]
    long = [START + timedelta(minutes=i) for i in range(600)]
    assert [long[i].minute for i in charts.time_ticks(long)] == [0] * 10


@pytest.mark.parametrize(
    ("seconds", "scale"),
    [(0.5, 1), (70, 120), (300, 300), (4000, 7200), (100_000, 172_800)],
)
def test_duration_scale__the_next_round_duration(seconds, scale):
    assert charts.duration_scale(seconds) == scale


def test_throughput_chart__points_from_the_left_edge_to_the_right_up_to_the_top_tick():
    processed = [0] * 60
    processed[-1] = 8  # ticks 0..8: the last minute is at the top right
    chart = charts.throughput_chart(hour(processed=processed, failed=[1] + [0] * 59))
    top, bottom = charts.TOP, charts.BOTTOM
    assert chart.processed_line.split()[-1] == f"{charts.RIGHT:.1f},{top:.1f}"
    assert chart.processed_line.split()[0] == f"{charts.LEFT:.1f},{bottom:.1f}"
    assert chart.processed_area.startswith(f"{charts.LEFT:.1f},{bottom} ")
    assert chart.processed_area.endswith(f" {charts.RIGHT:.1f},{bottom}")
    assert chart.failed_marks == [(charts.LEFT, round(bottom - (bottom - top) / 8, 1))]
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    assert chart.y_ticks[-1].at == top
    assert (chart.total_processed, chart.total_failed, chart.peak) == (8, 1, 8)
    assert (chart.first, chart.last) == ("10:35", "11:34")


def test_throughput_chart__each_minute_has_a_hit_area_that_tiles_the_plot():
    chart = charts.throughput_chart(hour(processed=[1] * 60))
    assert len(chart.minutes) == 60
    assert chart.minutes[0].left == charts.LEFT
    ends = [round(m.left + m.width, 1) for m in chart.minutes]
    assert ends[-1] == charts.RIGHT
    assert all(abs(end - m.left) < 0.2 for end, m in zip(ends, chart.minutes[1:], strict=False))


def test_throughput_chart__an_hour_without_tries_is_empty():
    assert charts.throughput_chart(hour()).empty
    nothing = charts.throughput_chart(stats.Throughput(minutes=[], processed=[], failed=[]))
    assert nothing.empty
    assert (nothing.processed_area, nothing.first, nothing.peak) == ("", "", 0)


def test_lag_chart__bars_on_one_scale_with_the_due_threshold():
    chart = charts.lag_chart([row("a", 30, 90), row("b", 0, 400), row("c", None, None)], 300)
    assert chart.scale == timedelta(minutes=8)  # 400s, and a little room: 8 minutes
    assert chart.limit == timedelta(minutes=5)
    assert chart.limit_at == 62.5
    assert [(b.trigger_type, b.p50_width, b.p95_width, b.over_limit) for b in chart.bars] == [
        ("a", 6.25, 18.75, False),
        ("b", 0.0, 83.33, True),  # a lag of 0s is a lag: drawn
    ]


def test_lag_chart__short_lags_are_drawn_against_the_threshold():
    chart = charts.lag_chart([row("a", 1, 2)], 300)
    assert chart.scale == timedelta(minutes=6)
    assert chart.bars[0].p95_width == 0.56


def test_lag_chart__no_measured_lag_no_bars():
    assert charts.lag_chart([row("c", None, None)], 300).bars == []
