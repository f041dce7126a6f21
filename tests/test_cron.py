"""Cron expressions and their slots, through daylight saving time (djtriggers.cron)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from djtriggers import cron


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def slots(expression: str, tz: str, start: datetime, end: datetime) -> list[datetime]:
    """Every slot after ``start`` up to ``end``, by next_slot step by step (as workers go)."""
    found = []
    at = start
    while (slot := cron.next_slot(expression, tz, at)) is not None and slot <= end:
        found.append(slot)
        at = slot
    return found


def local(tz: str, found: list[datetime]) -> list[str]:
    return [f"{slot.astimezone(cron.zone(tz)):%m-%d %H:%M%z}" for slot in found]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/15 * * * *", "*/15 * * * *"),
        ("  30   2 * *  1-5 ", "30 2 * * 1-5"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
        ("0 9 * * MON", "0 9 * * MON"),
    ],
)
def test_expand__five_fields_or_a_nickname(expression, expected):
    assert cron.expand(expression) == expected


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("* * * *", "give five fields"),
        ("0 0 * * * *", "give five fields"),  # no seconds field
        ("@fortnightly", "give five fields"),
        ("61 * * * *", "bad minute"),
        ("0 25 * * *", "bad hour"),
        ("0 0 31 2 *", "bad day-of-month"),
        ("0 0 * 13 *", "bad month"),
        ("0 0 * * 8", "bad day-of-week"),
        ("*/0 * * * *", "bad minute"),
    ],
)
def test_expand__bad_expressions_say_what_and_how(expression, says):
    with pytest.raises(cron.CronError) as raised:
        cron.expand(expression)
    assert says in str(raised.value)
    assert repr(expression) in str(raised.value)


def test_zone__iana_names_only():
    assert str(cron.zone("Europe/Brussels")) == "Europe/Brussels"
    assert str(cron.zone("UTC")) == "UTC"
    for bad in ["Mars/Olympus", "", "europe/brussels", "../etc/passwd", None]:
        with pytest.raises(cron.CronError, match="is not a time zone: use an IANA name"):
            cron.zone(bad)  # type: ignore[arg-type]


def test_next_slot__strictly_after_in_utc():
    assert cron.next_slot("*/15 * * * *", "UTC", utc(2026, 12, 4, 12, 0)) == utc(
        2026, 12, 4, 12, 15
    )
    assert cron.next_slot("*/15 * * * *", "UTC", utc(2026, 12, 4, 12, 14, 59, 999999)) == utc(
        2026, 12, 4, 12, 15
    )
    # Brussels is UTC+1 in winter: 02:30 there is 01:30 UTC.
    assert cron.next_slot("30 2 * * *", "Europe/Brussels", utc(2026, 12, 4, 12)) == utc(
        2026, 12, 5, 1, 30
    )


def test_latest_slot__at_or_before():
    assert cron.latest_slot("*/15 * * * *", "UTC", utc(2026, 12, 4, 12, 15)) == utc(
        2026, 12, 4, 12, 15
    )
    assert cron.latest_slot("*/15 * * * *", "UTC", utc(2026, 12, 4, 12, 29, 59, 5)) == utc(
        2026, 12, 4, 12, 15
    )


# --- daylight saving time ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "expected"),
    [
        # Spring forward: 02:30 does not exist; cron runs it right after the gap.
        ("Europe/Brussels", utc(2026, 3, 29), ["03-28 02:30+0100", "03-29 03:00+0200"]),
        ("America/New_York", utc(2026, 3, 8, 5), ["03-07 02:30-0500", "03-08 03:00-0400"]),
        # Fall back: 02:30 comes twice; cron runs it once, the first time.
        ("Europe/Brussels", utc(2026, 10, 25), ["10-24 02:30+0200", "10-25 02:30+0200"]),
        ("America/New_York", utc(2026, 11, 1, 4), ["10-31 02:30-0400", "11-01 02:30-0500"]),
    ],
)
def test_fixed_time_job__runs_once_on_the_days_the_clocks_change(tz, day, expected):
    found = slots("30 2 * * *", tz, day - timedelta(days=1), day + timedelta(hours=23))
    assert local(tz, found) == expected


@pytest.mark.parametrize(
    ("tz", "day"),
    [("Europe/Brussels", utc(2026, 10, 25)), ("America/New_York", utc(2026, 11, 1, 4))],
)
def test_fixed_time_job_in_the_repeated_hour__runs_once_on_its_first_pass(tz, day):
    # 01:30 New York / 02:30 Brussels falls in the repeated hour: after its first
    # pass, asking from inside the second pass gives tomorrow, not the same wall time.
    first = cron.next_slot("30 2 * * *" if "Brussels" in tz else "30 1 * * *", tz, day)
    assert first is not None
    after_second_pass_began = first + timedelta(minutes=45)  # wall clock back before 02:30
    again = cron.next_slot("30 2 * * *" if "Brussels" in tz else "30 1 * * *", tz, first)
    assert again is not None and again - first > timedelta(hours=23)
    assert (
        cron.next_slot(
            "30 2 * * *" if "Brussels" in tz else "30 1 * * *", tz, after_second_pass_began
        )
        == again
    )


@pytest.mark.parametrize(
    ("tz", "gap_utc"),
    [("Europe/Brussels", utc(2026, 3, 29, 1)), ("America/New_York", utc(2026, 3, 8, 7))],
)
def test_interval_job__every_15_minutes_of_real_time_through_the_gap(tz, gap_utc):
    found = slots("*/15 * * * *", tz, gap_utc - timedelta(hours=1), gap_utc + timedelta(hours=1))
    # Every 15 minutes of elapsed time, nothing repeated, nothing lost.
    assert [b - a for a, b in itertools.pairwise(found)] == [timedelta(minutes=15)] * 7
    assert len(set(found)) == 8
    # The local clock jumps from 01:45 (02:00 does not exist) to 03:00.
    assert local(tz, found)[2:4] == (
        ["03-29 01:45+0100", "03-29 03:00+0200"]
        if "Brussels" in tz
        else ["03-08 01:45-0500", "03-08 03:00-0400"]
    )


@pytest.mark.parametrize(
    ("tz", "repeat_utc"),
    [("Europe/Brussels", utc(2026, 10, 25, 1)), ("America/New_York", utc(2026, 11, 1, 6))],
)
def test_interval_job__every_15_minutes_of_real_time_through_the_repeated_hour(tz, repeat_utc):
    found = slots(
        "*/15 * * * *", tz, repeat_utc - timedelta(hours=1), repeat_utc + timedelta(hours=1)
    )
    assert [b - a for a, b in itertools.pairwise(found)] == [timedelta(minutes=15)] * 7
    # The wall clock shows the repeated hour twice, once per offset.
    shown = local(tz, found)
    assert len(set(shown)) == 8
    hour = "02" if "Brussels" in tz else "01"
    assert sum(f" {hour}:15" in s for s in shown) == 2


def test_latest_slot__across_the_gap_is_never_after_the_time_asked():
    # At 03:10 CEST on the spring day, the latest 02:30 job is the one moved to 03:00.
    at = utc(2026, 3, 29, 1, 10)
    assert cron.latest_slot("30 2 * * *", "Europe/Brussels", at) == utc(2026, 3, 29, 1, 0)
    assert cron.latest_slot("30 2 * * *", "Europe/Brussels", utc(2026, 3, 29, 0, 59)) == utc(
        2026, 3, 28, 1, 30
    )
