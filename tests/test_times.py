"""Times and durations as people type them: parsed in one place, always within range."""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from djtriggers.times import (
    DISPLAY_EARLIEST,
    EARLIEST,
    LATEST,
    MAX_DURATION,
    check_in_range,
    displayable,
    ends_in_range,
    in_range,
    parse_duration,
    parse_when,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/Brussels", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


@contextmanager
def zone(name):
    with override_settings(TIME_ZONE=name), timezone.override(name):
        yield


# --- the range ------------------------------------------------------------------------


def test_bounds__latest_converts_to_every_zone_and_a_day_later_still_does():
    for name in ("Pacific/Kiritimati", "Etc/GMT-14", "Etc/GMT+12"):
        local = LATEST.astimezone(ZoneInfo(name)) + timedelta(days=1)
        assert local.astimezone(UTC).year == 9999
        assert EARLIEST.astimezone(ZoneInfo(name)).year in (1969, 1970)


def test_max_duration__is_a_hundred_years():
    assert timedelta(days=36525) == MAX_DURATION


def test_in_range__includes_both_bounds():
    assert in_range(EARLIEST)
    assert in_range(LATEST)
    assert not in_range(LATEST + timedelta(microseconds=1))
    assert not in_range(EARLIEST - timedelta(microseconds=1))


def test_in_range__takes_a_naive_value_as_utc():
    assert in_range(datetime(2026, 1, 1))
    assert not in_range(datetime(9999, 12, 31))


def test_ends_in_range__up_to_the_latest_time_without_overflowing():
    assert ends_in_range(LATEST - timedelta(days=2), timedelta(days=2))
    assert ends_in_range(LATEST, timedelta())
    assert not ends_in_range(LATEST - timedelta(days=2), timedelta(days=2, microseconds=1))
    # LATEST + 2 days is past datetime's range: adding would raise OverflowError.
    assert not ends_in_range(LATEST, timedelta(days=2))
    assert not ends_in_range(LATEST, MAX_DURATION)
    kiritimati = datetime(9999, 12, 30, 13, 0, tzinfo=ZoneInfo("Pacific/Kiritimati"))
    assert not ends_in_range(kiritimati, timedelta(days=2))  # +14:00, in range itself


def test_ends_in_range__takes_a_naive_start_as_utc():
    assert ends_in_range(datetime(9999, 12, 29), timedelta(days=1))
    assert not ends_in_range(datetime(9999, 12, 30), timedelta(days=2))


def test_check_in_range__names_the_bound_it_is_past():
    with pytest.raises(ValueError) as ahead:
        check_in_range(datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
    assert str(ahead.value) == (
        "9999-12-31 23:59 UTC is too far ahead: the latest time is 9999-12-30 00:00 UTC."
    )
    with pytest.raises(ValueError) as back:
        check_in_range(datetime(1969, 12, 31, tzinfo=UTC))
    assert str(back.value) == (
        "1969-12-31 00:00 UTC is too far back: the earliest is 1970-01-01 00:00 UTC."
    )
    assert check_in_range(NOW) is NOW


def test_check_in_range__a_naive_value_is_shown_without_a_zone():
    with pytest.raises(ValueError) as ahead:
        check_in_range(datetime(9999, 12, 31, 12, 0))
    assert str(ahead.value) == (
        "9999-12-31 12:00 is too far ahead: the latest time is 9999-12-30 00:00 UTC."
    )


def test_displayable__brings_stored_values_to_the_nearest_bound():
    assert displayable(None) is None
    assert displayable(NOW) == NOW
    assert displayable(datetime(9999, 12, 31, 23, 59, tzinfo=UTC)) == LATEST
    assert displayable(datetime(1, 1, 1, tzinfo=UTC)) == DISPLAY_EARLIEST
    assert displayable(datetime(1, 1, 1)) == DISPLAY_EARLIEST.replace(tzinfo=None)


def test_displayable__result_displays_in_any_zone():
    for stored in (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)):
        shown = timezone.localtime(displayable(stored), ZoneInfo("Pacific/Kiritimati"))
        assert f"{shown:%Y-%m-%d %H:%M}"


# --- durations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("60d", timedelta(days=60)),
        ("1w2d", timedelta(days=9)),
        (" 1 W 2 D ", timedelta(days=9)),
        ("0s", timedelta()),
        ("36525d", MAX_DURATION),
        ("0000000000000000000001s", timedelta(seconds=1)),
    ],
)
def test_parse_duration__accepts(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["inf", "nan", "-1d", "1.5h", "5x", "d", "1e3s", "\u0663d", "\uff11h", "\u017f", "1d-"],
)
def test_parse_duration__refuses_what_is_not_a_duration(text):
    with pytest.raises(ValueError, match="is not a duration: use a number and a unit"):
        parse_duration(text)


def test_parse_duration__empty_says_what_to_type():
    with pytest.raises(ValueError, match="The duration is empty: type a number and a unit"):
        parse_duration("  ")


@pytest.mark.parametrize("text", ["36526d", "99999999999d", "9" * 5000 + "s", "5300w"])
def test_parse_duration__refuses_more_than_a_hundred_years(text):
    with pytest.raises(ValueError, match="is too long: the longest duration is 100 years"):
        parse_duration(text)


# --- times ------------------------------------------------------------------------------


def test_parse_when__a_delay_is_added_to_now():
    assert parse_when("+2h", now=NOW) == NOW + timedelta(hours=2)
    assert parse_when(" +1d12h ", now=NOW) == NOW + timedelta(days=1, hours=12)
    assert parse_when("+0s", now=NOW) == NOW


def test_parse_when__now():
    assert parse_when("now", now=NOW) == NOW
    assert parse_when(" NOW ", now=NOW) == NOW


def test_parse_when__defaults_to_the_current_time():
    with time_machine.travel(NOW, tick=False):
        assert parse_when("+1h") == NOW + timedelta(hours=1)
        assert parse_when("now") == NOW


def test_parse_when__a_naive_time_is_in_the_current_time_zone():
    with zone("Europe/Brussels"):
        when = parse_when("2026-12-24 18:00")
    assert when == datetime(2026, 12, 24, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-24T18:00", datetime(2026, 12, 24, 18, tzinfo=UTC)),
        ("2026-12-24 18:00+02:00", datetime(2026, 12, 24, 16, tzinfo=UTC)),
        ("2026-12-24T18:00Z", datetime(2026, 12, 24, 18, tzinfo=UTC)),
        ("1970-01-01 00:00", EARLIEST),
        ("9999-12-30 00:00", LATEST),
    ],
)
def test_parse_when__absolute_times(text, expected):
    assert parse_when(text) == expected


def test_parse_when__the_result_is_in_utc():
    with zone("Europe/Brussels"):
        assert parse_when("2026-12-24 18:00").tzinfo is UTC
        assert parse_when("2026-12-24 18:00+05:00").tzinfo is UTC
        assert parse_when("+1h").tzinfo is UTC
        assert parse_when("now", now=timezone.localtime(NOW)).tzinfo is UTC


def test_parse_when__adding_to_the_result_counts_real_time_across_a_dst_change():
    with zone("Europe/Brussels"):
        when = parse_when("2026-10-25 01:30")
    assert when + timedelta(hours=2) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["9999-12-31 23:59Z", "9999-12-31 23:59", "9999-12-30 01:01"])
def test_parse_when__year_9999_in_a_zone_east_of_utc_is_too_far_ahead(text):
    with zone("Europe/Brussels"), pytest.raises(ValueError, match="is too far ahead: the latest"):
        parse_when(text)


def test_parse_when__year_1_west_of_utc_is_too_far_back():
    with (
        zone("America/New_York"),
        pytest.raises(ValueError, match="too far back: the earliest is 1970-01-01 00:00 UTC"),
    ):
        parse_when("0001-01-01 00:00")


def test_parse_when__year_1_east_of_utc_is_too_far_back():
    with zone("Pacific/Kiritimati"), pytest.raises(ValueError, match="too far back"):
        parse_when("0001-01-01 00:00")


def test_parse_when__a_huge_delay_is_refused_not_an_overflow():
    with pytest.raises(ValueError, match=r"too far ahead: the longest delay is 100 years"):
        parse_when("+99999999d")


def test_parse_when__a_delay_past_the_latest_time_is_refused():
    with pytest.raises(ValueError, match="too far ahead: the latest time is 9999-12-30"):
        parse_when("+1d", now=LATEST)
    with pytest.raises(ValueError, match="too far ahead: the latest time is 9999-12-30"):
        parse_when("+36525d", now=datetime(9999, 12, 1, tzinfo=UTC))


@pytest.mark.parametrize("text", ["\u0663", "2026-12-\u0662\u0664 18:00", "+\u0663h", "+2h\u00e9"])
def test_parse_when__non_ascii_digits_are_refused(text):
    with pytest.raises(ValueError, match=r"use plain ASCII \(digits 0-9\)"):
        parse_when(text)


@pytest.mark.parametrize("text", ["", "   "])
def test_parse_when__empty_says_what_to_type(text):
    with pytest.raises(ValueError, match=r"No time given: type a date and time \(2026-12-24"):
        parse_when(text)


@pytest.mark.parametrize("text", ["inf", "nan", "next tuesday", "-2h"])
def test_parse_when__nonsense_says_what_to_type(text):
    with pytest.raises(ValueError, match=r"is neither a date and time .* nor a delay"):
        parse_when(text)


@pytest.mark.parametrize("text", ["+inf", "+nan", "+", "+-2h", "+2x"])
def test_parse_when__a_bad_delay_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="is not a delay: use \\+ and a number with a unit"):
        parse_when(text)


def test_parse_when__an_impossible_date_says_why():
    with pytest.raises(ValueError, match="is not a valid date and time: day is out of range"):
        parse_when("2026-02-30 10:00")


def test_parse_when__a_time_the_clocks_skip_is_refused():
    with (
        zone("Europe/Brussels"),
        pytest.raises(ValueError) as error,
    ):
        parse_when("2026-03-29 02:30")
    assert str(error.value) == (
        "'2026-03-29 02:30' does not exist in Europe/Brussels: the clocks skip it when "
        "daylight saving time starts. Type a time after the change (e.g. an hour later)."
    )


def test_parse_when__a_time_that_occurs_twice_is_the_first():
    with zone("Europe/Brussels"):
        when = parse_when("2026-10-25 02:30")
    assert when == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


# --- any text: a time in range or a ValueError, nothing else ----------------------------

TIMEISH = st.text(alphabet="0123456789-+:.TZtz nowdhmsW\u0663", max_size=30)


def _parses_or_refuses(text):
    try:
        when = parse_when(text)
    except ValueError:
        return
    assert when.tzinfo is UTC
    assert EARLIEST <= when <= LATEST
    assert f"{timezone.localtime(when):%Y-%m-%d %H:%M}"


@hypothesis_settings(database=None, max_examples=300)
@given(st.text())
def test_parse_when__any_text_is_a_time_in_range_or_a_value_error(text):
    _parses_or_refuses(text)


@hypothesis_settings(database=None, max_examples=300, deadline=None)
@given(st.one_of(TIMEISH, st.datetimes().map(str)), st.sampled_from(ZONES))
def test_parse_when__timeish_text_in_any_zone_is_a_time_in_range_or_a_value_error(text, name):
    with zone(name):
        _parses_or_refuses(text)


@hypothesis_settings(database=None, max_examples=300)
@given(st.text())
def test_parse_duration__any_text_is_a_bounded_duration_or_a_value_error(text):
    try:
        delay = parse_duration(text)
    except ValueError:
        return
    assert timedelta() <= delay <= MAX_DURATION
