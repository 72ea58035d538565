"""What a person can do to a cycle, shared by the command line and the dashboard.

Each use case is one transaction checked against the state now; it returns an outcome that
either shell renders. Nothing here prints, and nothing here imports a shell.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
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
    #: The last cycle had been stopped (not run to its window's end) before this start.
    after_stop: bool = False


def start(store: Store, plan: Plan, clock: Now, cfg: Config, *, force: bool = False) -> Started:
    """Begin a cycle, stopping a finished one (or, with force, a running one) first. It
    records the config's quiet hours and the zone they are read in.

    Whatever the last cycle left (ice on, its take-it-off alarm unanswered, a rest not over
    since its last ice), the new one begins with the rest owed, never with ice; an open
    alarm goes on into the new cycle, ringing until someone answers it."""
    data = cycle_data(cfg)
    with store.transaction():
        now = clock()
        current = store.current()
        replaced, after_stop = None, False
        last: tuple[Fold, State] | None = None
        if current:
            acc = fold(*current, store.session_notes(current[0].id))
            st = acc.state_at(now)
            if st.state != "done" and not force:
                raise Refused(text.already_running(st))
            replaced = st if st.state != "done" else None
            store.append(current[0].id, "stop", now)
            last = acc, st
        else:
            last = _as_stopped(store)  # `stop`, then `start`: the same care as --force
            after_stop = last is not None
        if last is not None:
            acc, st = last
            owed = _rest_left(acc, st, plan.settings)
            if st.state != "on" and st.alarm is None:  # (stopped earlier: less the time since)
                owed -= now - st.now
            if owed > timedelta(0):
                data = _with(data, rest_us=owed // timedelta(microseconds=1))
            alarm, session = st.alarm, st.alarm_session
            if st.state == "on" and st.phase is not None:  # the ice is on: it comes off now
                alarm, session = st.now, st.phase.start
            if alarm is not None:  # the ice may be on: the alarm rings on in the new cycle
                data = _with(
                    data,
                    alarm=alarm.isoformat(),
                    alarm_session=(session or alarm).isoformat(),
                )
        since = now if plan.since_now else plan.since
        cycle = store.new_cycle(since, plan.settings, now, data)
    state = fold(cycle, [Event("started", now, data)]).state_at(now)
    return Started(cycle, state, replaced, after_stop)


def _as_stopped(store: Store) -> tuple[Fold, State] | None:
    """The last cycle, if it was stopped, as it stood the moment before its `stop`: ice on,
    an alarm unanswered, or a rest under way then are still owed to a new cycle."""
    cycles = store.cycles()
    if not cycles or cycles[-1][1] is None:
        return None
    cycle, stopped = cycles[-1]
    events = store.events(cycle.id)
    before = [e for e in events if not (e.kind == "stop" and e.at == stopped)]
    if not before or stopped is None:
        return None
    acc = fold(cycle, before, store.session_notes(cycle.id))
    return acc, acc.state_at(stopped)


def _rest_left(acc: Fold, st: State, settings: Settings) -> timedelta:
    """The rest a new cycle owes first, to the microsecond: a whole one (of the new length)
    if the ice is on or its alarm unanswered, else what is left of the last one."""
    if st.state == "on" or st.alarm is not None:
        return settings.off
    if st.state != "done":
        return st.rest_owed
    # The window ended: a rest (the old cycle's) from the last time ice came off.
    ends = [s.end for s in acc.sessions(st.now) if s.status == "done"]
    if acc.last_off is not None:
        ends.append(datetime.fromtimestamp(acc.last_off / 1e6, UTC))
    last = max((e for e in ends if e <= st.now), default=None)
    if last is None:
        return timedelta(0)
    return max(timedelta(0), acc.cycle.settings.off - (st.now - last))


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


def act(
    store: Store | None,
    kind: str,
    clock: Now,
    audience: text.Audience = "commands",
    *,
    again: bool = True,
) -> Done:
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
        notes = store.session_notes(cycle.id)
        acc = fold(cycle, events, notes)  # which sessions were announced: where it holds
        before = acc.state_at(now)
        last = events[-1].at if events else None
        if kind in ("on", "resume") and last is not None and now < last - CLOCK_SLACK:
            # The clock went back: a session anchored at the last recorded moment would run
            # long by the real clock. Taking the ice off always works.
            raise Refused(text.clock_behind(now, last))
        if kind == "off" and before.state != "on" and before.alarm is not None:
            kind = "ack"  # "I took it off": answers the alarm
        reason = acc.check(kind, now)
        if reason is not None:
            raise Refused(text.refusal(kind, before, reason, audience))
        if kind == "skip" and not again and skipped_in_this_rest(before, events):
            raise Refused(text.second_skip(before, audience))
        if kind == "stop" and (before.state == "on" or before.alarm is not None):
            # A stopped cycle has no alarm to ring: the take-it-off is answered first.
            raise Refused(text.stop_needs_answer(before, audience))
        store.append(cycle.id, kind, now)
    acc.apply(Event(kind, now))
    return Done(kind, before, acc.state_at(now), acc)


def skipped_in_this_rest(st: State, events: list[Event]) -> bool:
    """Whether a session was already skipped during the rest going on now: a second `s`
    pressed quickly would skip another, so it asks (the CLI wants --again)."""
    if st.state != "off" or st.phase is None:
        return False
    return any(e.kind == "skip" and e.at >= st.phase.start for e in events)


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
    "skipped_in_this_rest",
    "start",
    "start_cycle",
    "sync_quiet_hours",
]
