"""What a person can do to a cycle, shared by the command line and the dashboard.

Each use case is one transaction checked against the state now; it returns an outcome that
either shell renders. Nothing here prints, and nothing here imports a shell.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, NamedTuple

from icecycle import text
from icecycle.cycle import LIMITS, Cycle, Event, Fold, Settings, State, fold, pain_scores
from icecycle.durations import SETTING_INPUT, InputError, format_span, parse_length, parse_when
from icecycle.store import Store

if TYPE_CHECKING:
    from icecycle.config import Config

ICE_WARN_S = 30 * 60  # ice on longer than this is allowed, with a warning


class Refused(Exception):
    """An action that does not apply now (exit 1), or a bad argument found late (exit 2)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def parse_setting(name: str, value: str, field: str | None = None) -> int:
    """Seconds for on, off or window, within LIMITS; an InputError naming `field` otherwise.

    `field` is the name the person knows it by: --on (the default) or the form's own label.
    """
    bare_unit, example = SETTING_INPUT[name]
    low, high = LIMITS[name]
    return parse_length(
        value,
        field=field or f"--{name}",
        low=low,
        high=high,
        bare_unit=bare_unit,
        example=example,
    )


def parse_since(value: str, now: datetime, window_s: int, tz: tzinfo | None = None) -> datetime:
    """When the spasm began: not in the future, and not so long ago the window is over.

    `tz` is the local zone clock times are read in (None: the system's).
    """
    since = parse_when(value, now, tz)
    if since > now + timedelta(seconds=1):
        raise InputError(f"'{value}' is in the future; give when the spasm began, e.g. 3h ago")
    if since + timedelta(seconds=window_s) <= now:
        raise InputError(
            f"'{value}' is more than {format_span(window_s)} ago, so the window would already "
            "be over; give a later time or a longer window"
        )
    return min(since, now)


def _idle(now: datetime) -> State:
    return State("idle", now, None, None, None)


Now = Callable[[], datetime]  # the clock, read only once the write lock is held
#: A clock this far behind the last stored change has stepped back.
CLOCK_SLACK = timedelta(seconds=2)


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
    from icecycle.config import parse_quiet_hours

    if cfg.bad("quiet_hours") is not None:
        return False  # a mistake in the file: the cycle keeps the quiet hours it has
    wanted = parse_quiet_hours(cfg.quiet_hours) if cfg.quiet_hours else None
    with store.transaction():
        current = store.current()
        if current is None:
            return False
        cycle, events = current
        if fold(cycle, events).quiet == wanted:
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


# -- starting a cycle -------------------------------------------------------------------


class Plan(NamedTuple):
    """A checked request to start: when the spasm began, the lengths, and any cautions."""

    since: datetime
    settings: Settings
    warnings: tuple[str, ...] = ()
    #: "now": the window starts when the cycle does, to the microsecond.
    since_now: bool = False


#: What the start screen calls each field (the command line says --on, --since, ...).
FORM_FIELDS = {
    "since": "Spasm began",
    "on": "Ice on for",
    "off": "Ice off for",
    "window": "Window",
}


def plan_start(
    cfg: Config,
    now: datetime,
    since: str = "now",
    on: str | int | None = None,
    off: str | int | None = None,
    window: str | int | None = None,
    audience: text.Audience = "commands",
) -> Plan:
    """Check a start request (the CLI's options or the start screen's fields) against the
    config's defaults and the limits. Raises Refused with code 2 naming the bad field."""

    def bad(name: str, why: object) -> Refused:
        if audience == "keys":  # (a length's message already names its field)
            return Refused(str(why) if name != "since" else f"{FORM_FIELDS[name]}: {why}", 2)
        return Refused(f"argument --{name}: {why}", 2)

    values = {"on": on, "off": off, "window": window}
    defaults = dict(zip(("on", "off", "window"), cfg.settings, strict=True))
    lengths: dict[str, int] = {}
    for name, value in values.items():
        if value is None:
            lengths[name] = defaults[name]
        elif isinstance(value, int):
            lengths[name] = value
        else:
            field = FORM_FIELDS[name] if audience == "keys" else None
            try:
                lengths[name] = parse_setting(name, value, field)
            except InputError as exc:
                raise bad(name, exc) from None
    settings = Settings(lengths["on"], lengths["off"], lengths["window"])
    try:
        began = parse_since(since, now, settings.window_s)
    except InputError as exc:
        raise bad("since", exc) from None
    except (OverflowError, ValueError) as exc:  # e.g. year 1: out of datetime's range
        raise bad("since", f"'{since}' is out of range ({exc})") from None
    window_end = began + settings.window
    if now + settings.on > window_end:
        raise Refused(text.no_room_to_start(settings, window_end, now, audience), 2)
    warnings = (text.long_ice_warning(settings.on_s),) if settings.on_s > ICE_WARN_S else ()
    return Plan(began, settings, warnings, since.strip().lower() == "now")


class Started(NamedTuple):
    cycle: Cycle
    state: State
    #: The running cycle that `force` stopped, as it stood (None if there was none).
    replaced: State | None


def start(store: Store, plan: Plan, clock: Now, cfg: Config, *, force: bool = False) -> Started:
    """Begin a cycle, stopping a finished one (or, with force, a running one) first. It
    records the config's quiet hours and the zone they are read in."""
    data = cycle_data(cfg)
    with store.transaction():
        now = clock()
        current = store.current()
        replaced = None
        if current:
            st = fold(*current).state_at(now)
            if st.state != "done" and not force:
                raise Refused(text.already_running(st))
            replaced = st if st.state != "done" else None
            store.append(current[0].id, "stop", now)
            # Ice on (or not rested enough) when replaced: the new cycle begins with the
            # rest owed, never with more ice at once.
            owed = plan.settings.off_s if st.state == "on" else st.rest_owed.total_seconds()
            if st.alarm is not None:  # ice maybe still on: a whole rest, as after `off`
                owed = plan.settings.off_s
            if replaced is not None and owed >= 1:
                data = _with(data, rest_s=int(owed))
        since = now if plan.since_now else plan.since
        cycle = store.new_cycle(since, plan.settings, now, data)
    return Started(cycle, fold(cycle, [Event("started", now, data)]).state_at(now), replaced)


def _with(data: str | None, **more: object) -> str:
    import json

    doc = json.loads(data) if data else {}
    doc.update(more)
    return json.dumps(doc)


def start_cycle(
    store: Store,
    since: datetime,
    settings: Settings,
    now: datetime,
    force: bool = False,
    data: str | None = None,
) -> Cycle:
    """Begin a cycle with explicit values (tests and tools; people go through `start`)."""
    with store.transaction():
        current = store.current()
        if current:
            st = fold(*current).state_at(now)
            if st.state != "done" and not force:
                raise Refused(text.already_running(st))
            store.append(current[0].id, "stop", now)
        return store.new_cycle(since, settings, now, data)


# -- acting on the running cycle --------------------------------------------------------


class Done(NamedTuple):
    kind: str  # what was stored: `off` while the alarm rings is stored as `ack`
    before: State
    after: State
    acc: Fold


def act(store: Store | None, kind: str, clock: Now, audience: text.Audience = "commands") -> Done:
    """Check an action against the state now and append it, in one transaction.

    The clock is read once the write lock is held, so no event is ever stamped earlier
    than the one committed before it. Raises Refused if the action does not apply.
    """
    if store is None:
        raise Refused(text.refusal(kind, _idle(clock()), None, audience))
    with store.transaction():
        now = clock()
        current = store.current()
        if current is None:
            raise Refused(text.refusal(kind, _idle(now), None, audience))
        cycle, events = current
        acc = fold(cycle, events)
        notes = store.session_notes(cycle.id)
        before = acc.state_at(now, notes)
        last = events[-1].at if events else None
        if kind in ("on", "resume") and last is not None and now < last - CLOCK_SLACK:
            # The clock went back: a session anchored at the last recorded moment would run
            # long by the real clock. Taking the ice off always works.
            raise Refused(text.clock_behind(now, last))
        if kind == "off" and before.state != "on" and before.alarm is not None:
            kind = "ack"  # "I took it off": answers the alarm
        reason = acc.check(kind, now, notes)
        if reason is not None:
            raise Refused(text.refusal(kind, before, reason, audience))
        store.append(cycle.id, kind, now)
    acc.apply(Event(kind, now))
    return Done(kind, before, acc.state_at(now, notes), acc)


def record_pain(store: Store | None, score: int, clock: Now) -> list[int]:
    """Note a pain score in the running cycle; every score so far, oldest first."""
    if store is None:
        raise Refused(text.refusal("pain", _idle(clock())))
    with store.transaction():
        current = store.current()
        if current is None:
            raise Refused(text.refusal("pain", _idle(clock())))
        store.append(current[0].id, "pain", clock(), str(score))
    return pain_scores(store.events(current[0].id))


__all__ = [
    "ICE_WARN_S",
    "LIMITS",
    "Done",
    "Plan",
    "Refused",
    "Started",
    "act",
    "cycle_data",
    "local_zone_name",
    "pain_scores",
    "parse_setting",
    "parse_since",
    "plan_start",
    "record_pain",
    "start",
    "start_cycle",
    "sync_quiet_hours",
]
