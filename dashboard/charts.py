"""The dashboard's pictures, laid out in Python and drawn by templates/dashboard/charts.html.

Server-rendered SVG, no chart library: the numbers are those the page already
has (``stats.throughput()`` and the due board's lags), so a picture costs no
query. Here are the round ticks and the coordinates; the template only writes
them out (escaped, as any template).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from .stats import DueRow, Throughput

# The throughput chart's viewBox and plot area, in SVG units (it scales to its panel).
WIDTH, HEIGHT = 800, 258
LEFT, RIGHT, TOP, BOTTOM = 60, 770, 34, 200
MOST_VALUE_TICKS = 5  # intervals on the y axis, at most
MOST_TIME_TICKS = 7
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60)  # minutes between time ticks
# Lag scales end on one of these (seconds), or on whole days beyond them.
DURATION_STEPS = (
    *(1, 2, 5, 10, 15, 20, 30, 45),
    *(60 * m for m in (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45)),
    *(3600 * h for h in (1, 2, 3, 4, 6, 8, 12)),
)
HEADROOM = 1.05  # the due threshold's line stays inside the picture
DAY = 86400


def value_ticks(peak: int, most: int = MOST_VALUE_TICKS) -> list[int]:
    """0 up to at least ``peak`` in 1-2-5 steps, at most ``most`` intervals: 23 -> 0, 5, ... 25."""
    peak = max(peak, 1)
    magnitude = 10 ** max(math.floor(math.log10(peak / most)), 0)
    step = next(s * magnitude for s in (1, 2, 5, 10) if s * magnitude * most >= peak)
    return list(range(0, math.ceil(peak / step) * step + 1, step))


def time_ticks(minutes: list[datetime], most: int = MOST_TIME_TICKS) -> list[int]:
    """The indices of the minutes that are round in local time (every 10 minutes for an hour)."""
    every = next((s for s in TIME_STEPS if len(minutes) / s <= most), TIME_STEPS[-1])
    return [i for i, m in enumerate(minutes) if timezone.localtime(m).minute % every == 0]


def duration_scale(seconds: float) -> int:
    """The first round duration (seconds) at or above ``seconds``: 70 -> 120, 4000 -> 7200."""
    ceiling = next((s for s in DURATION_STEPS if s >= seconds), None)
    return ceiling or math.ceil(seconds / DAY) * DAY


@dataclass
class Tick:
    at: float  # the SVG coordinate
    label: str


@dataclass
class Minute:
    time: str  # HH:MM, local
    processed: int
    failed: int
    x: float
    left: float  # the hit area: from left to left + width, over the plot's height
    width: float


@dataclass
class ThroughputChart:
    minutes: list[Minute]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    processed_line: str  # points of a polyline
    processed_area: str  # points of a polygon, down to the baseline
    failed_line: str
    failed_marks: list[tuple[float, float]]  # a marker where a minute has failures
    total_processed: int
    total_failed: int
    first: str
    last: str
    peak: int

    @property
    def empty(self) -> bool:
        return not (self.total_processed or self.total_failed)


def throughput_chart(data: Throughput) -> ThroughputChart:
    n = len(data.minutes)
    step = (RIGHT - LEFT) / max(n - 1, 1)
    ticks = value_ticks(data.peak)
    top = ticks[-1]

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(value: int) -> float:
        return round(BOTTOM - value * (BOTTOM - TOP) / top, 1)

    def points(values: list[int]) -> str:
        return " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(values))

    times = [timezone.localtime(m).strftime("%H:%M") for m in data.minutes]
    minutes = []
    for i, (time, ok, ko) in enumerate(zip(times, data.processed, data.failed, strict=True)):
        left = max(x(i) - step / 2, LEFT)
        right = min(x(i) + step / 2, RIGHT)
        minutes.append(Minute(time, ok, ko, x(i), round(left, 1), round(right - left, 1)))
    area = f"{x(0)},{BOTTOM} {points(data.processed)} {x(n - 1)},{BOTTOM}" if n else ""
    return ThroughputChart(
        minutes=minutes,
        y_ticks=[Tick(y(v), str(v)) for v in ticks],
        x_ticks=[Tick(x(i), times[i]) for i in time_ticks(data.minutes)],
        processed_line=points(data.processed),
        processed_area=area,
        failed_line=points(data.failed),
        failed_marks=[(x(i), y(v)) for i, v in enumerate(data.failed) if v],
        total_processed=sum(data.processed),
        total_failed=sum(data.failed),
        first=times[0] if times else "",
        last=times[-1] if times else "",
        peak=data.peak if n else 0,
    )


@dataclass
class LagBar:
    trigger_type: str
    p50: timedelta
    p95: timedelta
    p50_width: float  # percent of the scale
    p95_width: float
    over_limit: bool


@dataclass
class LagChart:
    bars: list[LagBar]
    scale: timedelta  # the bars' full width
    limit: timedelta  # the due threshold, drawn as a line
    limit_at: float  # percent of the scale


def lag_chart(rows: list[DueRow], threshold: float) -> LagChart:
    """p50 and p95 per type, on one scale that holds the longest p95 and the due threshold."""
    measured = [
        (r.trigger_type, r.lag_p50, r.lag_p95)
        for r in rows
        if r.lag_p50 is not None and r.lag_p95 is not None
    ]
    longest = max([p95.total_seconds() for _, _, p95 in measured] + [threshold, 1])
    scale = duration_scale(longest * HEADROOM)

    def percent(seconds: float) -> float:
        return round(100 * seconds / scale, 2)

    return LagChart(
        bars=[
            LagBar(
                trigger_type=typed,
                p50=p50,
                p95=p95,
                p50_width=percent(p50.total_seconds()),
                p95_width=percent(p95.total_seconds()),
                over_limit=p95.total_seconds() > threshold,
            )
            for typed, p50, p95 in measured
        ],
        scale=timedelta(seconds=scale),
        limit=timedelta(seconds=threshold),
        limit_at=percent(threshold),
    )
