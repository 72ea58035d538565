"""Parsing and formatting of durations ("25m", "1h30m") and moments ("3h ago", "14:30")."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, tzinfo

__all__ = [
    "InputError",
    "format_clock",
    "format_countdown",
    "format_duration",
    "format_span",
    "parse_duration",
    "parse_when",
]

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DUR_RE = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_CLOCK_RE = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_MAX_DIGITS = 7  # keeps a silly input like 99999999999d from overflowing datetime


class InputError(ValueError):
    """A duration or a moment the person typed could not be understood."""


def _show(text: str) -> str:
    """The input as it should appear inside an error: quoted, short, printable."""
    shown = text if len(text) <= 40 else text[:37] + "..."
    return repr(shown) if not shown.isprintable() else f"'{shown}'"


def parse_duration(text: str, bare_unit: str = "m") -> int:
    """Seconds in a duration such as 25m, 1h30m, 72h, 2d or 45s.

    A bare number is read in `bare_unit` ("m" for ice on/off, "h" for the window).
    """
    compact = text.strip().lower().replace(" ", "")
    if compact.isascii() and compact.isdigit() and len(compact) <= _MAX_DIGITS:
        return int(compact) * _UNITS[bare_unit]
    match = _DUR_RE.fullmatch(compact)
    groups: tuple[str | None, ...] = match.groups() if match else ()
    if any(groups) and all(g is None or len(g) <= _MAX_DIGITS for g in groups):
        return sum(int(g) * _UNITS[u] for g, u in zip(groups, "dhms", strict=True) if g)
    raise InputError(f"{_show(text)} is not a duration; try 25m or 1h30m")


def parse_when(text: str, now: datetime, tz: tzinfo | None = None) -> datetime:
    """The moment meant by now, 3h ago, 1h30m ago, 14:30 or an ISO 8601 date and time.

    `now` is aware; `tz` is the local zone (None: the system's). The result is in UTC.
    A bare clock time is today's, or yesterday's if today's is still to come.
    """
    compact = text.strip().lower()
    if compact == "now":
        return now.astimezone(UTC)
    if compact.endswith(" ago") or compact.endswith("ago"):
        amount = compact[: -len("ago")].strip()
        try:
            bare = amount.isascii() and amount.isdigit()
            seconds = parse_duration(amount) if amount and not bare else None
        except InputError:
            seconds = None
        if seconds is None:
            raise InputError(f"{_show(text)} is not a time; try '3h ago' or '1h30m ago'")
        return (now - timedelta(seconds=seconds)).astimezone(UTC)
    clock = _CLOCK_RE.fullmatch(compact)
    if clock:
        hour, minute = int(clock[1]), int(clock[2])
        if hour > 23 or minute > 59:
            raise InputError(f"{_show(text)} is not a clock time; try 14:30")
        local_now = _local(now, tz)
        moment = _localize(datetime.combine(local_now.date(), time(hour, minute)), tz)
        if moment > now:
            moment = _localize(
                datetime.combine(local_now.date() - timedelta(days=1), time(hour, minute)), tz
            )
        return moment.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            f"{_show(text)} is not a time; try now, 3h ago, 14:30 or 2026-11-25T08:00"
        ) from None
    try:
        if parsed.tzinfo is None:
            parsed = _localize(parsed, tz)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # year 1 or 9999 and an offset: off the calendar
        raise InputError(
            f"{_show(text)} is too far from today; give when the spasm began"
        ) from None


def _local(moment: datetime, tz: tzinfo | None) -> datetime:
    return moment.astimezone(tz) if tz is not None else moment.astimezone()


def _localize(naive: datetime, tz: tzinfo | None) -> datetime:
    """A naive local wall time made aware (with the system's DST rules when tz is None)."""
    return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()


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
