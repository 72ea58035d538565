"""Parsing and formatting of durations ("25 min", "1.5h"), moments ("9pm") and quiet hours."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import NamedTuple

__all__ = [
    "SETTING_INPUT",
    "InputError",
    "QuietHours",
    "format_clock",
    "format_countdown",
    "format_duration",
    "format_range",
    "format_span",
    "parse_duration",
    "parse_length",
    "parse_when",
]

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
#: every way a unit may be written; "m" is minutes (never months), so a month is refused
_UNIT_WORDS = {
    **dict.fromkeys(("w", "wk", "wks", "week", "weeks"), "w"),
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
}
# Patterns are kept as text and compiled on first use (re caches them): `icecycle status`
# imports this module to format, never to parse, and should not pay for compiling them.
_TERM = r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)"
_MAX_DIGITS = 7  # keeps a silly input like 99999999999d from overflowing datetime

#: How each setting is typed: the unit of a bare number, and an example that fits its range.
SETTING_INPUT = {"on": ("m", "25m"), "off": ("m", "90m"), "window": ("h", "72h or 2d")}

_CLOCK_24 = r"(?P<h24>[0-9]{1,2}):(?P<m24>[0-9]{2})"
_CLOCK_12 = r"(?P<h12>[0-9]{1,2})(?::(?P<m12>[0-9]{2}))?\s*(?P<half>am|pm|a\.m\.|p\.m\.)"
_CLOCK = f"(?:{_CLOCK_24}|{_CLOCK_12})"
# "yesterday 21:00", "today at 9pm", "9pm yesterday", or a clock time alone
_WHEN_CLOCK = (
    rf"(?:(?P<day>today|yesterday)\s+(?:at\s+)?)?{_CLOCK}(?:\s+(?P<day2>today|yesterday))?"
)
_WHEN_EXAMPLES = "3h ago, 90 minutes ago, 14:30, 9pm, yesterday 21:00 or 2026-11-25T08:00"


class InputError(ValueError):
    """A duration or a moment the person typed could not be understood."""


def _show(text: str) -> str:
    """The input as it should appear inside an error: quoted, short, printable."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown) if not shown.isprintable() else f"'{shown}'"


def _seconds(text: str, bare_unit: str | None) -> int:
    """Seconds in text; InputError saying what is wrong, without a hint (the caller adds one).

    Terms run from the largest unit to the smallest, each at most once (1h30m, 1 hour 30
    minutes); a decimal is taken only alone (1.5h) and must come to whole seconds. A bare
    number is read in `bare_unit`, and refused when that is None.
    """
    compact = text.strip().lower()
    if compact.isascii() and compact.isdigit() and bare_unit is not None:
        if len(compact) > _MAX_DIGITS:
            raise InputError(f"{_show(text)} is not a duration")
        return int(compact) * _UNITS[bare_unit]
    terms, pos, term = [], 0, re.compile(_TERM)
    while pos < len(compact):
        match = term.match(compact, pos)
        if match is None:
            raise InputError(f"{_show(text)} is not a duration")
        terms.append((match[1], match[2]))
        pos = match.end()
    order = list(_UNITS)
    last = -1
    for number, word in terms:
        unit = _UNIT_WORDS.get(word)
        if unit is None or order.index(unit) <= last or len(number) > _MAX_DIGITS:
            raise InputError(f"{_show(text)} is not a duration")
        last = order.index(unit)
        if "." in number and len(terms) > 1:  # 1.5h30m: which part did they mean?
            raise InputError(f"{_show(text)} is not a duration")
    if not terms:
        raise InputError(f"{_show(text)} is not a duration")
    total = 0
    for number, word in terms:
        whole, _, fraction = number.partition(".")
        scaled = int(whole + fraction) * _UNITS[_UNIT_WORDS[word]]
        if scaled % 10 ** len(fraction):
            raise InputError(f"{_show(text)} is not a whole number of seconds")
        total += scaled // 10 ** len(fraction)
    return total


def parse_duration(text: str, bare_unit: str = "m") -> int:
    """Seconds in a duration such as 25m, 25 min, 1.5h, 1h30m, 72 hours, 2d or 45s.

    A bare number is read in `bare_unit` ("m" for ice on/off, "h" for the window).
    """
    try:
        return _seconds(text, bare_unit)
    except InputError as exc:
        raise InputError(f"{exc}; try 25m or 1h30m") from None


def parse_length(
    text: str, *, field: str, low: int, high: int, bare_unit: str = "m", example: str = "25m"
) -> int:
    """Seconds in text, from low to high; else an InputError naming the field and its range.

    `field` is what the person filled in as they know it (--on, on, ice on), and `example` a
    value that fits it: "'3h' is out of range; --on takes 1s to 2h, e.g. 25m".
    """
    hint = f"{field} takes {format_range(low, high)}, e.g. {example}"
    try:
        seconds = _seconds(text, bare_unit)
    except InputError as exc:
        raise InputError(f"{exc}; {hint}") from None
    if not low <= seconds <= high:
        raise InputError(f"{_show(text)} is out of range; {hint}")
    return seconds


def format_range(low: int, high: int) -> str:
    """A range of lengths as a person reads it: 1s to 2h, 5s to 7d."""
    return f"{_range_end(low)} to {_range_end(high)}"


def _range_end(seconds: int) -> str:
    # Days only past the protocol's own 72h, which reads best in hours, as people type it.
    if seconds > 72 * 3600 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    return format_span(seconds)


def parse_when(text: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """The moment meant by now, 3h ago, 90 minutes ago, 14:30, 9pm, 2:30pm, yesterday 21:00
    or an ISO 8601 date and time.

    `now` is aware; `tz` is the local zone (None: the system's). The result is in UTC. A
    bare clock time is today's, or yesterday's if today's is still to come; "today" and
    "yesterday" name the day outright. "2 days ago" is 48 hours ago (durations are
    absolute). A local time that the clocks skipped or went through twice is refused.
    """
    compact = " ".join(text.lower().split())
    if compact == "now":
        return now.astimezone(UTC)
    if compact.endswith("ago"):
        try:
            seconds = _seconds(compact[: -len("ago")], None)
        except InputError:
            raise InputError(f"{_show(text)} is not a time; try 3h ago or 90 minutes ago") from None
        try:
            return (now - timedelta(seconds=seconds)).astimezone(UTC)
        except OverflowError:  # before the year 1
            raise InputError(f"{_show(text)} is too long ago; try 3h ago") from None
    clock = re.fullmatch(_WHEN_CLOCK, compact)
    if clock:
        return _clock_time(text, clock, now, tz).astimezone(UTC)
    if compact in ("today", "yesterday"):
        raise InputError(f"{_show(text)} needs a time of day; try {compact} 21:00")
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{_show(text)} is not a time; try {_WHEN_EXAMPLES}") from None
    try:
        if parsed.tzinfo is None:
            parsed = _localize(parsed, tz, text)
        return parsed.astimezone(UTC)
    except InputError:
        raise
    except (ValueError, OverflowError):  # year 1 or 9999 and an offset: off the calendar
        raise InputError(
            f"{_show(text)} is too far from today; give when the spasm began"
        ) from None


def _clock_time(text: str, clock: re.Match[str], now: datetime, tz: tzinfo | None) -> datetime:
    if clock["h24"] is not None:
        hour, minute = int(clock["h24"]), int(clock["m24"])
        if hour > 23 or minute > 59:
            raise InputError(f"{_show(text)} is not a clock time; try 14:30")
    else:
        hour, minute = int(clock["h12"]), int(clock["m12"] or 0)
        if not 1 <= hour <= 12 or minute > 59:
            raise InputError(f"{_show(text)} is not a clock time; try 9pm or 2:30pm")
        hour = hour % 12 + (12 if clock["half"].startswith("p") else 0)
    local_now = _local(now, tz).replace(tzinfo=None)
    wall = datetime.combine(local_now.date(), time(hour, minute))
    if clock["day"] and clock["day2"]:
        raise InputError(f"{_show(text)} is not a time; try yesterday 21:00")
    day = clock["day"] or clock["day2"]
    # Compared on the wall clock, so a time the clocks skip or repeat today stays today's
    # and is refused rather than quietly read as yesterday's.
    if day == "yesterday" or (day is None and wall > local_now):
        wall -= timedelta(days=1)
    return _localize(wall, tz, text)


def _local(moment: datetime, tz: tzinfo | None) -> datetime:
    return moment.astimezone(tz) if tz is not None else moment.astimezone()


def _localize(naive: datetime, tz: tzinfo | None, text: str) -> datetime:
    """A naive local wall time made aware, refused if the clocks skipped it or went through
    it twice (a daylight-saving change): which one was meant cannot be known."""
    early, late = _aware(naive, tz, 0), _aware(naive, tz, 1)
    if early.utcoffset() == late.utcoffset():
        return early
    # Through UTC: astimezone() to the zone a moment already has changes nothing.
    skipped = _local(early.astimezone(UTC), tz).replace(tzinfo=None) != naive
    what = "did not happen" if skipped else "happened twice"
    change = "forward" if skipped else "back"
    raise InputError(
        f"{_show(text)} {what} on {naive:%a %d %b} (the clocks went {change}); "
        "try how long ago instead, e.g. 3h ago"
    )


def _aware(naive: datetime, tz: tzinfo | None, fold: int) -> datetime:
    # The system's rules when tz is None: astimezone() reads them, fold included.
    naive = naive.replace(fold=fold)
    return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()


class QuietHours(NamedTuple):
    """Hours without sessions each night, as minutes after local midnight (may cross it)."""

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """'23:00-07:00' (or 23:00–07:00, 7:00 for 07:00); strict, refusing anything else."""
        parts = re.split(r"\s*[-\u2013]\s*", text.strip())
        minutes = [_minute_of_day(part) for part in parts] if len(parts) == 2 else [None]
        if None in minutes:
            raise InputError(f"{_show(text)} is not a span of hours; try 23:00-07:00")
        start, end = minutes
        assert start is not None and end is not None
        if start == end:
            raise InputError(f"{_show(text)} starts and ends at the same time; try 23:00-07:00")
        return cls(start, end)

    def format(self) -> str:
        """The span as the config writes it: 23:00-07:00."""
        return "-".join(f"{m // 60:02d}:{m % 60:02d}" for m in self)

    def __str__(self) -> str:
        return self.format()


def _minute_of_day(text: str) -> int | None:
    match = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", text)
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        return None
    return int(match[1]) * 60 + int(match[2])


def format_duration(seconds: float, *, with_seconds: bool | None = None) -> str:
    """A short human duration: 45s, 12m 05s, 61h 12m.

    Seconds are shown below an hour unless `with_seconds` says otherwise.
    """
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    show_seconds = hours == 0 if with_seconds is None else with_seconds
    if hours:
        text = f"{hours}h {minutes:02d}m"
        return f"{text} {secs:02d}s" if show_seconds else text
    if minutes:
        return f"{minutes}m {secs:02d}s" if show_seconds else f"{minutes}m"
    return f"{secs}s" if show_seconds else "0m"


def format_span(seconds: int) -> str:
    """A duration the way a person would type it: 25m, 1h30m, 72h, 45s."""
    parts, rest = [], max(0, int(seconds))
    for unit in "hms":
        amount, rest = divmod(rest, _UNITS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts) or "0s"


def format_countdown(seconds: float) -> str:
    """12:34, or 1:05:00 past an hour; rounded up, so 00:00 shows only at the very end."""
    total = max(0, int(-(-seconds // 1)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_clock(moment: datetime, now: datetime, tz: tzinfo | None = None) -> str:
    """A local clock time, with the day when it is not today: 15:20, or Fri 28 Nov 09:30."""
    local, local_now = _local(moment, tz), _local(now, tz)
    if local.date() == local_now.date():
        return local.strftime("%H:%M")
    return local.strftime("%a %d %b %H:%M")
