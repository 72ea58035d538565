"""DUR, WHEN and quiet-hours parsing: tables of good and bad input, and random strings."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icecycle.durations import (
    InputError,
    QuietHours,
    format_clock,
    format_duration,
    format_range,
    format_span,
    parse_duration,
    parse_length,
    parse_when,
)

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # a Wednesday; 14:00 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")
# Berlin's two changes in 2026: 02:00 -> 03:00 on 29 March, 03:00 -> 02:00 on 25 October.
SPRING = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # 14:00 CEST, the day 02:30 never came
AUTUMN = datetime(2026, 10, 25, 12, 0, tzinfo=UTC)  # 13:00 CET, the day 02:30 came twice


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# -- durations ------------------------------------------------------------------------

DURATIONS = [
    # the compact forms taken from the start
    ("25m", "m", 1500),
    ("90m", "m", 5400),
    ("1h30m", "m", 5400),
    ("72h", "h", 259200),
    ("2d", "h", 172800),
    ("45s", "m", 45),
    ("1d2h3m4s", "m", 93784),
    ("25", "m", 1500),
    ("72", "h", 259200),
    (" 1h 30m ", "m", 5400),
    ("1H30M", "m", 5400),
    # unit words
    ("25min", "m", 1500),
    ("25 min", "m", 1500),
    ("25 mins", "m", 1500),
    ("25 minutes", "m", 1500),
    ("1 minute", "m", 60),
    ("90 secs", "m", 90),
    ("45 seconds", "m", 45),
    ("72 hours", "h", 259200),
    ("2 hrs", "m", 7200),
    ("1 hour 30 minutes", "m", 5400),
    ("1hr 30min", "m", 5400),
    ("2 days", "h", 172800),
    ("25 MIN", "m", 1500),
    # a decimal, alone, coming to whole seconds
    ("1.5h", "m", 5400),
    ("1.5 hours", "m", 5400),
    ("0.5h", "m", 1800),
    ("1.25m", "m", 75),
    ("2.5d", "h", 216000),
    ("1.50h", "m", 5400),
    # weeks read, so that a week too many is refused by its range, not as gibberish
    ("1w", "h", 604800),
    ("2w", "h", 1209600),
    ("2 weeks", "h", 1209600),
]


@pytest.mark.parametrize(("text", "unit", "seconds"), DURATIONS)
def test_durations(text: str, unit: str, seconds: int) -> None:
    assert parse_duration(text, unit) == seconds


BAD_DURATIONS = [
    "25x",
    "",
    "m",
    "h30",
    "-5m",
    "30m1h",  # the units run from the largest down
    "1h 1h",
    "²",
    "1e3",
    "99999999999d",
    "1.5",  # a bare decimal: 1.5 minutes, or 1:30?
    "1.30",
    "1:30",  # hours and minutes, or minutes and seconds?
    ".5h",
    "1.h",
    "1,5h",
    "1.5h30m",  # a decimal only alone
    "1h30",  # 30 what?
    "2 5m",  # used to be read as 25m
    "25\u200bm",
    "3 months",
    "3mo",
    "25 ms",
    "1 hour and 30 minutes",
]


@pytest.mark.parametrize("text", BAD_DURATIONS)
def test_bad_durations_quote_the_input_and_show_an_example(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_duration(text)
    assert str(info.value).endswith("is not a duration; try 25m or 1h30m")
    if text.isprintable():
        assert f"'{text.strip()[:10]}" in str(info.value)


@pytest.mark.parametrize("text", ["0.1s", "1.333h", "0.01m"])
def test_a_decimal_must_come_to_whole_seconds(text: str) -> None:
    with pytest.raises(InputError, match="is not a whole number of seconds; try 25m"):
        parse_duration(text)


LENGTHS = [  # text, field, range, bare unit, example -> seconds or the whole refusal
    ("25 min", "--on", (1, 7200), "m", "25m", 1500),
    ("1.5h", "--on", (1, 7200), "m", "25m", 5400),
    ("1w", "--window", (5, 604800), "h", "72h or 2d", 604800),
    (
        "2w",
        "--window",
        (5, 604800),
        "h",
        "72h or 2d",
        "'2w' is out of range; --window takes 5s to 7d, e.g. 72h or 2d",
    ),
    ("3h", "--on", (1, 7200), "m", "25m", "'3h' is out of range; --on takes 1s to 2h, e.g. 25m"),
    ("0", "--off", (1, 86400), "m", "90m", "'0' is out of range; --off takes 1s to 24h, e.g. 90m"),
    (
        "25x",
        "ice on",
        (1, 7200),
        "m",
        "25m",
        "'25x' is not a duration; ice on takes 1s to 2h, e.g. 25m",
    ),
    (
        "0.5s",
        "window",
        (5, 604800),
        "h",
        "72h or 2d",
        "'0.5s' is not a whole number of seconds; window takes 5s to 7d, e.g. 72h or 2d",
    ),
]


@pytest.mark.parametrize(("text", "field", "limits", "unit", "example", "expected"), LENGTHS)
def test_lengths_name_the_field_its_range_and_an_example(
    text: str,
    field: str,
    limits: tuple[int, int],
    unit: str,
    example: str,
    expected: int | str,
) -> None:
    low, high = limits
    kw = {"field": field, "low": low, "high": high, "bare_unit": unit, "example": example}
    if isinstance(expected, int):
        assert parse_length(text, **kw) == expected  # type: ignore[arg-type]
    else:
        with pytest.raises(InputError) as info:
            parse_length(text, **kw)  # type: ignore[arg-type]
        assert str(info.value) == expected


@pytest.mark.parametrize(
    ("low", "high", "shown"),
    [
        (1, 7200, "1s to 2h"),
        (1, 86400, "1s to 24h"),
        (5, 604800, "5s to 7d"),
        (10, 3600, "10s to 1h"),
    ],
)
def test_ranges_read_as_people_type_them(low: int, high: int, shown: str) -> None:
    assert format_range(low, high) == shown


# -- moments --------------------------------------------------------------------------

WHEN = [  # text, zone, now -> the moment in UTC
    ("now", UTC, NOW, NOW),
    ("NOW", UTC, NOW, NOW),
    ("3h ago", UTC, NOW, utc(2026, 11, 25, 10)),
    ("1h30m ago", UTC, NOW, utc(2026, 11, 25, 11, 30)),
    ("3hago", UTC, NOW, utc(2026, 11, 25, 10)),
    ("3 hours ago", UTC, NOW, utc(2026, 11, 25, 10)),
    ("3  Hours  Ago", UTC, NOW, utc(2026, 11, 25, 10)),
    ("2 days ago", UTC, NOW, utc(2026, 11, 23, 13)),
    ("90 minutes ago", UTC, NOW, utc(2026, 11, 25, 11, 30)),
    ("1.5h ago", UTC, NOW, utc(2026, 11, 25, 11, 30)),
    ("1 hour 30 minutes ago", UTC, NOW, utc(2026, 11, 25, 11, 30)),
    # a bare clock time: today's, or yesterday's if today's is still to come
    ("14:30", UTC, NOW, utc(2026, 11, 24, 14, 30)),
    ("09:15", UTC, NOW, utc(2026, 11, 25, 9, 15)),
    ("9:15", UTC, NOW, utc(2026, 11, 25, 9, 15)),
    ("13:00", UTC, NOW, NOW),  # this very minute is today's
    ("9pm", UTC, NOW, utc(2026, 11, 24, 21)),
    ("9 PM", UTC, NOW, utc(2026, 11, 24, 21)),
    ("9am", UTC, NOW, utc(2026, 11, 25, 9)),
    ("2:30pm", UTC, NOW, utc(2026, 11, 24, 14, 30)),
    ("2:30 p.m.", UTC, NOW, utc(2026, 11, 24, 14, 30)),
    ("12:30pm", UTC, NOW, utc(2026, 11, 25, 12, 30)),
    ("12am", UTC, NOW, utc(2026, 11, 25, 0)),  # midnight this morning
    ("12:15am", UTC, NOW, utc(2026, 11, 25, 0, 15)),
    # a named day
    ("yesterday 21:00", UTC, NOW, utc(2026, 11, 24, 21)),
    ("yesterday 9pm", UTC, NOW, utc(2026, 11, 24, 21)),
    ("yesterday at 9pm", UTC, NOW, utc(2026, 11, 24, 21)),
    ("9pm yesterday", UTC, NOW, utc(2026, 11, 24, 21)),
    ("Yesterday 08:00", UTC, NOW, utc(2026, 11, 24, 8)),
    ("today 9am", UTC, NOW, utc(2026, 11, 25, 9)),
    ("today 9pm", UTC, NOW, utc(2026, 11, 25, 21)),  # the future: parse_since refuses it
    # ISO 8601
    ("2026-11-25T08:00", UTC, NOW, utc(2026, 11, 25, 8)),
    ("2026-11-25T08:00+02:00", UTC, NOW, utc(2026, 11, 25, 6)),
    ("2026-11-25 08:00", UTC, NOW, utc(2026, 11, 25, 8)),
    # Berlin in November is UTC+1
    ("14:30", BERLIN, NOW, utc(2026, 11, 24, 13, 30)),  # 14:00 there now: yesterday's
    ("09:15", BERLIN, NOW, utc(2026, 11, 25, 8, 15)),
    ("9pm", BERLIN, NOW, utc(2026, 11, 24, 20)),
    ("yesterday 21:00", BERLIN, NOW, utc(2026, 11, 24, 20)),
    ("12am", BERLIN, NOW, utc(2026, 11, 24, 23)),
    ("3 hours ago", BERLIN, NOW, utc(2026, 11, 25, 10)),
    ("2026-11-25T08:00", BERLIN, NOW, utc(2026, 11, 25, 7)),
    # the day the clocks went forward in Berlin (02:00 CET -> 03:00 CEST)
    ("01:30", BERLIN, SPRING, utc(2026, 3, 29, 0, 30)),
    ("03:30", BERLIN, SPRING, utc(2026, 3, 29, 1, 30)),
    ("9pm", BERLIN, SPRING, utc(2026, 3, 28, 20)),  # yesterday was still CET
    ("yesterday 02:30", BERLIN, SPRING, utc(2026, 3, 28, 1, 30)),
    ("12 hours ago", BERLIN, SPRING, utc(2026, 3, 29, 0)),
    ("1 day ago", BERLIN, SPRING, utc(2026, 3, 28, 12)),  # 24 hours, not the same wall time
    ("2026-03-29T02:30+01:00", BERLIN, SPRING, utc(2026, 3, 29, 1, 30)),
    # the day the clocks went back (03:00 CEST -> 02:00 CET)
    ("01:30", BERLIN, AUTUMN, utc(2026, 10, 24, 23, 30)),
    ("03:30", BERLIN, AUTUMN, utc(2026, 10, 25, 2, 30)),
    ("yesterday 21:00", BERLIN, AUTUMN, utc(2026, 10, 24, 19)),
    ("2026-10-25T02:30+01:00", BERLIN, AUTUMN, utc(2026, 10, 25, 1, 30)),
    ("2026-10-25T02:30+02:00", BERLIN, AUTUMN, utc(2026, 10, 25, 0, 30)),
]


@pytest.mark.parametrize(
    ("text", "zone", "now", "expected"), WHEN, ids=[f"{w[0]}-{w[1]}-{w[2]:%m%d}" for w in WHEN]
)
def test_when(text: str, zone: ZoneInfo, now: datetime, expected: datetime) -> None:
    moment = parse_when(text, now, zone)
    assert moment == expected and moment.tzinfo is UTC


BAD_WHEN = [  # text, zone, now, what the refusal says
    ("tomorrow", UTC, NOW, "is not a time; try 3h ago, 90 minutes ago, 14:30, 9pm"),
    ("3 ago", UTC, NOW, "is not a time; try 3h ago or 90 minutes ago"),  # 3 what?
    ("ago", UTC, NOW, "is not a time; try 3h ago"),
    ("x ago", UTC, NOW, "is not a time; try 3h ago"),
    ("3x ago", UTC, NOW, "is not a time; try 3h ago"),
    ("3 months ago", UTC, NOW, "is not a time; try 3h ago"),
    ("9999999w ago", UTC, NOW, "is too long ago; try 3h ago"),  # was an OverflowError
    ("25:00", UTC, NOW, "is not a clock time; try 14:30"),
    ("14:60", UTC, NOW, "is not a clock time; try 14:30"),
    ("13pm", UTC, NOW, "is not a clock time; try 9pm or 2:30pm"),
    ("14:30pm", UTC, NOW, "is not a clock time; try 9pm or 2:30pm"),
    ("0am", UTC, NOW, "is not a clock time; try 9pm or 2:30pm"),
    ("9", UTC, NOW, "is not a time"),  # nine o'clock, nine minutes?
    ("930", UTC, NOW, "is not a time"),
    ("9.30pm", UTC, NOW, "is not a time"),
    ("9:5", UTC, NOW, "is not a time"),
    ("yesterday", UTC, NOW, "needs a time of day; try yesterday 21:00"),
    ("today", UTC, NOW, "needs a time of day; try today 21:00"),
    ("yesterday 9pm today", UTC, NOW, "is not a time; try yesterday 21:00"),
    ("last night", UTC, NOW, "is not a time"),
    ("2026-13-01T00:00", UTC, NOW, "is not a time"),
    # a wall time the clocks skipped, or went through twice: which was meant is not known
    ("02:30", BERLIN, SPRING, "'02:30' did not happen on Sun 29 Mar (the clocks went forward)"),
    ("2:30am", BERLIN, SPRING, "did not happen on Sun 29 Mar"),
    ("2026-03-29T02:30", BERLIN, SPRING, "did not happen on Sun 29 Mar"),
    ("02:30", BERLIN, AUTUMN, "'02:30' happened twice on Sun 25 Oct (the clocks went back)"),
    ("today 2:30am", BERLIN, AUTUMN, "happened twice on Sun 25 Oct"),
    ("2026-10-25T02:30", BERLIN, AUTUMN, "happened twice on Sun 25 Oct"),
]


@pytest.mark.parametrize(
    ("text", "zone", "now", "message"), BAD_WHEN, ids=[f"{b[0]}-{b[2]:%m%d}" for b in BAD_WHEN]
)
def test_bad_when(text: str, zone: ZoneInfo, now: datetime, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_when(text, now, zone)
    assert message in str(info.value) and text in str(info.value) and "try" in str(info.value)


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        ("01:30", SPRING, utc(2026, 3, 29, 0, 30)),
        ("yesterday 21:00", AUTUMN, utc(2026, 10, 24, 19)),
        ("02:30", SPRING, "did not happen"),
        ("02:30", AUTUMN, "happened twice"),
    ],
)
def test_the_system_zone_follows_the_same_rules(
    monkeypatch: pytest.MonkeyPatch, text: str, now: datetime, expected: datetime | str
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    if isinstance(expected, datetime):
        assert parse_when(text, now) == expected
    else:
        with pytest.raises(InputError, match=expected):
            parse_when(text, now)


@given(st.text(max_size=30))
def test_parse_duration_returns_seconds_or_raises_input_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except InputError:
        return
    assert isinstance(value, int) and value >= 0


@given(
    st.one_of(
        st.text(max_size=40),
        st.from_regex(r"(yesterday |today )?[0-9]{1,2}(:[0-9]{2})? ?(am|pm)?", fullmatch=True),
        st.from_regex(r"[0-9]{1,9}(\.[0-9])? ?(w|d|h|m|s|hours|min) ago", fullmatch=True),
    ),
    st.sampled_from([NOW, SPRING, AUTUMN]),
)
def test_parse_when_returns_utc_or_raises_input_error(text: str, now: datetime) -> None:
    try:
        value = parse_when(text, now, BERLIN)
    except InputError:
        return
    assert value.utcoffset() == timedelta(0)


@given(st.lists(st.one_of(st.none(), st.integers(0, 999)), min_size=4, max_size=4))
def test_parse_duration_reads_every_well_formed_duration(parts: list[int | None]) -> None:
    if all(p is None for p in parts):
        return
    text = "".join(f"{p}{u}" for p, u in zip(parts, "dhms", strict=True) if p is not None)
    expected = sum((p or 0) * k for p, k in zip(parts, (86400, 3600, 60, 1), strict=True))
    assert parse_duration(text) == expected


# -- quiet hours ----------------------------------------------------------------------

QUIET = [
    ("23:00-07:00", (1380, 420), "23:00-07:00"),
    ("22:30-06:30", (1350, 390), "22:30-06:30"),
    ("20:00-23:00", (1200, 1380), "20:00-23:00"),  # not crossing midnight
    ("23:00 - 7:00", (1380, 420), "23:00-07:00"),
    ("23:00\u201307:00", (1380, 420), "23:00-07:00"),  # an en dash, as typeset
    ("00:00-23:59", (0, 1439), "00:00-23:59"),
]


@pytest.mark.parametrize(("text", "minutes", "shown"), QUIET)
def test_quiet_hours(text: str, minutes: tuple[int, int], shown: str) -> None:
    quiet = QuietHours.parse(text)
    assert quiet == minutes and (quiet.start_min, quiet.end_min) == minutes
    assert str(quiet) == quiet.format() == shown
    assert QuietHours.parse(str(quiet)) == quiet


BAD_QUIET = [
    ("late", "is not a span of hours; try 23:00-07:00"),
    ("", "is not a span of hours"),
    ("23:00", "is not a span of hours"),
    ("23-07", "is not a span of hours"),
    ("11pm-7am", "is not a span of hours"),
    ("24:00-07:00", "is not a span of hours"),
    ("23:60-07:00", "is not a span of hours"),
    ("23:00-07:00-08:00", "is not a span of hours"),
    ("\u0662\u0663:00-07:00", "is not a span of hours"),  # Arabic-Indic digits
    ("23:00-23:00", "starts and ends at the same time; try 23:00-07:00"),
    ("7:00-07:00", "starts and ends at the same time"),
]


@pytest.mark.parametrize(("text", "message"), BAD_QUIET)
def test_bad_quiet_hours(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        QuietHours.parse(text)
    assert message in str(info.value) and f"'{text}'" in str(info.value)


# -- formatting -----------------------------------------------------------------------


def test_formatting() -> None:
    assert format_duration(754) == "12m 34s"
    assert format_duration(61 * 3600 + 12 * 60 + 5) == "61h 12m"
    assert format_duration(45) == "45s"
    assert format_span(5400) == "1h30m" and format_span(259200) == "72h" and format_span(2) == "2s"
    later = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    assert format_clock(later, NOW, UTC) == "Sat 28 Nov 09:30"
    assert format_clock(NOW + timedelta(minutes=20), NOW, UTC) == "13:20"
