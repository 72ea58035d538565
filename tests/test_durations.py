"""DUR and WHEN parsing: tables of good and bad input, and random strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icecycle.durations import (
    InputError,
    format_clock,
    format_duration,
    format_span,
    parse_duration,
    parse_when,
)

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "unit", "seconds"),
    [
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
    ],
)
def test_durations(text: str, unit: str, seconds: int) -> None:
    assert parse_duration(text, unit) == seconds


@pytest.mark.parametrize(
    "text",
    ["25x", "", "m", "h30", "1.5h", "-5m", "30m1h", "²", "1e3", "99999999999d", "25 minutes"],
)
def test_bad_durations_quote_the_input_and_show_an_example(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_duration(text)
    assert "is not a duration; try 25m or 1h30m" in str(info.value)
    assert text.strip()[:10] in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("3h ago", NOW - timedelta(hours=3)),
        ("1h30m ago", NOW - timedelta(minutes=90)),
        ("14:30", datetime(2026, 11, 24, 14, 30, tzinfo=UTC)),  # today's is still to come
        ("09:15", datetime(2026, 11, 25, 9, 15, tzinfo=UTC)),
        ("2026-11-25T08:00", datetime(2026, 11, 25, 8, 0, tzinfo=UTC)),
        ("2026-11-25T08:00+02:00", datetime(2026, 11, 25, 6, 0, tzinfo=UTC)),
    ],
)
def test_when(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW, UTC) == expected


def test_when_uses_the_local_zone_for_clock_times_and_naive_iso() -> None:
    berlin = ZoneInfo("Europe/Berlin")  # UTC+1 in November
    assert parse_when("09:15", NOW, berlin) == datetime(2026, 11, 25, 8, 15, tzinfo=UTC)
    assert parse_when("2026-11-25T08:00", NOW, berlin) == datetime(2026, 11, 25, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "text", ["tomorrow", "3 ago", "ago", "25:00", "14:60", "x ago", "3x ago", "2026-13-01T00:00"]
)
def test_bad_when(text: str) -> None:
    with pytest.raises(InputError) as info:
        parse_when(text, NOW, UTC)
    assert text in str(info.value) and "try" in str(info.value)


@given(st.text(max_size=30))
def test_parse_duration_returns_seconds_or_raises_input_error(text: str) -> None:
    try:
        value = parse_duration(text)
    except InputError:
        return
    assert isinstance(value, int) and value >= 0


@given(st.text(max_size=40))
def test_parse_when_returns_utc_or_raises_input_error(text: str) -> None:
    try:
        value = parse_when(text, NOW, UTC)
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


def test_formatting() -> None:
    assert format_duration(754) == "12m 34s"
    assert format_duration(61 * 3600 + 12 * 60 + 5) == "61h 12m"
    assert format_duration(45) == "45s"
    assert format_span(5400) == "1h30m" and format_span(259200) == "72h" and format_span(2) == "2s"
    later = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    assert format_clock(later, NOW, UTC) == "Sat 28 Nov 09:30"
    assert format_clock(NOW + timedelta(minutes=20), NOW, UTC) == "13:20"
