"""What a person can do to a cycle, shared by the command line and the dashboard.

Each use case is one transaction checked against the state now; it returns an outcome that
either shell renders. Nothing here prints, and nothing here imports a shell.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from icecycle import text
from icecycle.cycle import ALLOWED, Cycle, Event, Fold, Settings, State, fold
from icecycle.durations import InputError, format_span, parse_duration, parse_when
from icecycle.store import Store

if TYPE_CHECKING:
    from icecycle.config import Config

LIMITS = {  # (shortest, longest) in seconds; the short ends are for trying it out
    "on": (1, 2 * 3600),
    "off": (1, 24 * 3600),
    "window": (5, 7 * 86400),
}
ICE_WARN_S = 30 * 60


class Refused(Exception):
    """An action that does not apply now (exit 1), or a bad argument found late (exit 2)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def parse_setting(name: str, value: str) -> int:
    """Seconds for --on, --off or --window, within their limits; InputError otherwise."""
    low, high = LIMITS[name]
    seconds = parse_duration(value, "h" if name == "window" else "m")
    if not low <= seconds <= high:
        raise InputError(
            f"'{value}' is out of range; --{name} takes {format_span(low)} to {format_span(high)}"
        )
    return seconds


def parse_since(value: str, now: datetime, window_s: int) -> datetime:
    """When the spasm began: not in the future, and not so long ago the window is over."""
    since = parse_when(value, now)
    if since > now + timedelta(seconds=1):
        raise InputError(f"'{value}' is in the future; give when the spasm began, e.g. 3h ago")
    if since + timedelta(seconds=window_s) <= now:
        raise InputError(
            f"'{value}' is more than {format_span(window_s)} ago, so the window would already "
            "be over; give a later time or a longer --window"
        )
    return min(since, now)


def _idle(now: datetime) -> State:
    return State("idle", now, None, None, None)


def cycle_data(cfg: Config) -> str | None:
    """What a new cycle records besides its lengths: the quiet hours and the time zone they
    are read in, so a later change of the config never rewrites the past."""
    if not cfg.quiet_hours:
        return None
    import json

    return json.dumps({"quiet_hours": cfg.quiet_hours, "tz": local_zone_name()})


def sync_quiet_hours(store: Store, cfg: Config, now: datetime) -> bool:
    """If the config's quiet hours differ from the running cycle's, record the change as an
    event from now on (the past keeps the quiet hours it had). True if one was recorded."""
    current = store.current()
    if current is None:
        return False
    cycle, events = current
    acc = fold(cycle, events)
    from icecycle.config import parse_quiet_hours

    wanted = parse_quiet_hours(cfg.quiet_hours) if cfg.quiet_hours else None
    if acc.quiet == wanted:
        return False
    store.append(cycle.id, "quiet", now, cycle_data(cfg) or "")
    return True


def local_zone_name() -> str | None:
    """The IANA name of the local time zone, if the system says it. A POSIX `TZ` rule
    (`JST-9`, `CET-1CEST,M3.5.0,M10.5.0/3`) is not one: None, and the C library's own
    rules apply."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            target = os.path.realpath("/etc/localtime")
        except OSError:
            return None
        name = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else ""
    if not name:
        return None
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # KeyError: ZoneInfoNotFoundError
        return None
    return name


def start_cycle(
    store: Store,
    since: datetime,
    settings: Settings,
    now: datetime,
    force: bool = False,
    data: str | None = None,
) -> Cycle:
    """Begin a cycle, stopping a finished one (or, with force, a running one) first."""
    with store.transaction():
        current = store.current()
        if current:
            st = fold(*current).state_at(now)
            if st.state != "done" and not force:
                raise Refused(
                    f"a cycle is already running ({text.describe(st)}); "
                    "`icecycle start --force` stops it and starts anew"
                )
            store.append(current[0].id, "stop", now)
        return store.new_cycle(since, settings, now, data)


class Done(NamedTuple):
    kind: str  # what was stored: `off` while resting is stored as `ack`
    before: State
    after: State
    acc: Fold


def act(store: Store | None, kind: str, now: datetime) -> Done:
    """Check an action against the state now and append it, in one transaction.

    Raises Refused if it does not apply.
    """
    if store is None:
        raise Refused(text.refusal(kind, _idle(now)))
    with store.transaction():
        current = store.current()
        if current is None:
            raise Refused(text.refusal(kind, _idle(now)))
        cycle, events = current
        acc = fold(cycle, events)
        before = acc.state_at(now)
        if kind == "off" and before.state == "off" and not before.acknowledged:
            kind = "ack"  # "I took it off": answers the ice-off alarm
        if before.state not in ALLOWED[kind]:
            raise Refused(text.refusal(kind, before))
        store.append(cycle.id, kind, now)
    acc.apply(Event(kind, now))
    return Done(kind, before, acc.state_at(now), acc)


def pain_scores(events: list[Event]) -> list[int]:
    return [int(e.data) for e in events if e.kind == "pain" and e.data and e.data.isdigit()]
