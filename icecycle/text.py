"""Words the product shows: state descriptions, confirmations and refusals, in one place."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from icecycle.cycle import Counts, Cycle, Fold, Session, Settings, State
from icecycle.durations import format_clock, format_duration, format_span

TOWEL = "Keep a thin towel between the ice pack and your skin."
#: `status --follow --format` when the state cannot be read (the reason goes to stderr).
FOLLOW_ERROR = "icecycle: error (its state cannot be read; see its log)"
NOT_ADVICE = (
    "icecycle is a timer, not a doctor: it keeps the schedule you set and gives no medical "
    "advice. If the pain is severe, spreads, or comes with numbness or weakness, see a clinician."
)
PROTOCOL = (
    "For the first 48 to 72 hours after a back spasm: ice on for 25 minutes, then off for "
    "90 minutes, and again, for as long as the window lasts."
)


def protocol(on_s: int, off_s: int, window_s: int) -> str:
    """The protocol in the lengths that will be used (the start screen, from the config)."""
    if (on_s, off_s) == (25 * 60, 90 * 60) and window_s in (48 * 3600, 72 * 3600):
        return PROTOCOL
    return (
        f"Ice on for {format_span(on_s)}, then off for {format_span(off_s)}, and again, for "
        f"as long as the window lasts ({format_span(window_s)}), as your settings say."
    )


TIPS = [
    "Before you roll over, sit up or stand, press four fingers flat beside your spine over the "
    "spasm. If it grips as you move, press a little harder and wait for it to let go, then try "
    "again. Once you are up, stay still a few seconds; you can keep your fingers there as you "
    "take your first steps.",
    "Later, when the spasm has settled, strength work keeps the back in balance: if you train "
    "your upper back (pull-ups, rows), squeeze your shoulder blades together on every rep so "
    "the muscles that hold them back get stronger too.",
    "Check your skin when the ice comes off. Red is expected; white, waxy, blistered or numb "
    "skin is not - leave the ice off and get it looked at.",
]


TAKE_OFF = "Take the ice off now."

#: Who reads a sentence: someone at the command line, or at the dashboard's keys.
Audience = Literal["commands", "keys"]
_KEYS = {
    "on": "space",
    "off": "space",
    "skip": "s",
    "pause": "p",
    "resume": "p",
    "ack": "a",
    "start": "n",
    "stop": "`icecycle stop`",
    "history": "h",
}


def do(action: str, audience: Audience = "commands") -> str:
    """How the reader does an action: `icecycle skip`, or the key s."""
    if audience == "keys":
        return _KEYS.get(action, f"`icecycle {action}`")
    return f"`icecycle {action}`"


def clock(moment: datetime, now: datetime) -> str:
    return format_clock(moment, now)


def describe(st: State) -> str:
    """The state in a few words: 'ice is on until 15:20'."""
    if st.state == "on" and st.phase:
        return f"ice is on until {clock(st.phase.end, st.now)}"
    alarm = (
        f" (and the ice should have come off at {clock(st.alarm, st.now)})"
        if st.alarm is not None
        else ""
    )
    return _describe_rest(st) + alarm


def _describe_rest(st: State) -> str:
    if st.state == "off" and st.phase:
        if st.quiet_until:
            return f"quiet hours until {clock(st.quiet_until, st.now)}; the ice is off"
        return f"ice is off; the rest lasts until {clock(st.phase.end, st.now)}"
    if st.state == "paused":
        return "the cycle is paused"
    if st.state == "done" and st.cycle:
        return f"the window ended {clock(st.cycle.window_end, st.now)}"
    return "no cycle is running"


_VERBS = {
    "on": "put the ice on",
    "off": "take the ice off",
    "skip": "skip a session",
    "pause": "pause",
    "resume": "resume",
    "stop": "stop",
    "ack": "acknowledge",
    "pain": "note a pain score",
}


def _hint(action: str, st: State, reason: str | None, a: Audience) -> str:
    """What would work instead, for what the person was trying to do (never ice on to
    someone taking it off)."""
    state = st.state
    if state == "idle":
        return f"{do('start', a)} begins one"
    if state == "done":
        return f"{do('start', a)} begins a new cycle"
    if reason == "no-room":
        return "the cycle ends in rest"
    if reason == "nothing-to-skip" and st.alarm is not None:
        # Held by the unanswered alarm: there is no next session to skip until it is answered.
        return (
            f"the next session waits for the take-it-off alarm: once the ice is off, {do('ack', a)}"
        )
    if reason == "nothing-to-skip":
        return "no session is left to skip in this window"
    if action == "ack":
        if state == "on":
            return "this session is already confirmed"
        return "there is nothing to acknowledge"
    if action == "on":  # only refused while the ice is on
        return f"{do('off', a)} when you take it off"
    if action in ("off", "skip") and state == "paused":
        return f"no session comes until you resume ({do('resume', a)})"
    if action == "off":
        more = (
            state == "off"
            and st.phase is not None
            and st.cycle is not None
            and st.phase.end < st.cycle.window_end
        )
        return f"{do('skip', a)} skips the next session" if more else ""
    if action == "pause":
        return f"{do('resume', a)} resumes it"
    if action == "resume":
        if st.quiet_until or st.quiet_next:
            until = clock(st.quiet_until or st.quiet_next or st.now, st.now)
            return (
                f"quiet hours: the next session starts at {until}; "
                f"{do('on', a)} starts one now if you want it"
            )
        return f"it is not paused; {do('pause', a)} pauses it"
    return ""


def refusal(
    action: str, st: State, reason: str | None = None, audience: Audience = "commands"
) -> str:
    """Why an action does not apply now, and what would."""
    if reason == "no-room" and st.cycle is not None:
        where = (
            f"less than {format_span(st.cycle.settings.on_s)} is left before the window ends "
            f"at {clock(st.cycle.window_end, st.now)}"
        )
    elif action == "ack" and reason == "nothing-to-ack":
        where = describe(st)
        return f"nothing to acknowledge now: {where}" + (
            "; this session is already confirmed" if st.state == "on" else ""
        )
    else:
        where = describe(st)
    hint = _hint(action, st, reason, audience)
    return f"cannot {_VERBS.get(action, action)} now: {where}" + (f"; {hint}" if hint else "")


def already_running(st: State) -> str:
    return (
        f"a cycle is already running ({describe(st)}); "
        "`icecycle start --force` stops it and starts anew"
    )


def no_room_to_start(
    settings: Settings, window_end: datetime, now: datetime, audience: Audience = "commands"
) -> str:
    fix = (
        "give a later --since or a longer --window"
        if audience == "commands"
        else "give a later time the spasm began or a longer window"
    )
    return (
        f"the window would end {clock(window_end, now)}, too soon for one "
        f"{format_span(settings.on_s)} session; {fix}"
    )


def long_ice_warning(on_s: int) -> str:
    return (
        f"{format_span(on_s)} of ice at a time is longer than the usual 25 minutes; "
        "ask a clinician before using it"
    )


def rest_owed_warning(st: State, settings: Settings) -> str:
    """For `on` before the rest is over: how much rest was still owed."""
    rested = settings.off - st.rest_owed
    return (
        f"the ice came off only {format_duration(rested.total_seconds())} ago; "
        f"{format_duration(st.rest_owed.total_seconds())} of the "
        f"{format_span(settings.off_s)} rest was still owed"
    )


def next_session(st: State, upcoming_on: datetime | None) -> str:
    if upcoming_on is None:
        return "No more sessions in this window."
    wait = format_duration((upcoming_on - st.now).total_seconds(), with_seconds=False)
    return f"Next session at {clock(upcoming_on, st.now)} (in {wait})."


def second_skip(st: State, audience: Audience = "commands") -> str:
    """Refusing a second skip in one rest, unless asked again."""
    how = "press s again and confirm" if audience == "keys" else "`icecycle skip --again`"
    return (
        "a session was already skipped in this rest; skipping another leaves a long gap "
        f"without ice ({describe(st)}); to skip one more anyway: {how}"
    )


def next_change(st: State) -> str:
    """What happens at the next change, and when: 'ice off at 15:20'."""
    assert st.next_change is not None and st.cycle is not None
    at = clock(st.next_change, st.now)
    if st.next_change >= st.cycle.window_end:
        return f"the window ends at {at}; that is the last change"
    if st.quiet_next:
        return f"quiet hours until {at}, then ice on"
    return f"ice off at {at}" if st.state == "on" else f"ice on at {at}"


def window_line(st: State, *, coarse: bool = False) -> str:
    assert st.cycle is not None
    end = format_clock(st.cycle.window_end, st.now)
    if st.window_remaining.total_seconds() <= 0:
        return f"Window: over, ended {end}"
    left = -(-st.window_remaining.total_seconds() // 1)
    return f"Window: {bar_left(left) if coarse else format_duration(left)} left, ends {end}"


def counts_line(c: Counts) -> str:
    """The one way counts read everywhere: '3 done (2 confirmed) · 1 missed · 0 skipped ·
    34 left'."""
    return (
        f"{c.done} done ({c.confirmed} confirmed) · {c.missed} missed · "
        f"{c.skipped} skipped · {c.left} left"
    )


def sessions_line(st: State) -> str:
    return f"Sessions: {counts_line(st.counts)}"


def alarm_line(st: State, audience: Audience = "commands") -> str:
    assert st.alarm is not None
    ago = format_duration((st.now - st.alarm).total_seconds(), with_seconds=False)
    late = (
        f" (due {clock(st.alarm, st.now)}, {ago} ago)"
        if st.now - st.alarm >= timedelta(minutes=1)
        else ""
    )
    answer = "press a" if audience == "keys" else "then `icecycle ack`"
    paused = " The cycle is paused." if st.state == "paused" else ""
    held = f" {held_line(st)}" if st.held is not None else ""
    return f"TAKE THE ICE OFF NOW{late}; {answer} once it is off.{paused}{held}"


def held_line(st: State) -> str:
    """While the open alarm holds the schedule: what happened, and what answering does."""
    assert st.held is not None and st.cycle is not None
    rest = format_span(st.cycle.settings.off_s)
    if st.state == "done":
        return (
            f"The {clock(st.held, st.now)} session did not start because that alarm was "
            "unanswered, and the window has ended."
        )
    return (
        f"The {clock(st.held, st.now)} session did not start because that alarm is "
        f"unanswered; the next one starts a full rest ({rest}) after your answer."
    )


HELD_TITLE = "Take the ice off now: the alarm is still unanswered"


def held_alarm_body(st: State) -> str:
    """The alarm raised again at a session start the open alarm held."""
    assert st.alarm is not None
    then = (
        "then answer it; the window has ended, so no session follows."
        if st.state == "done"
        else "then answer: the next session starts a full rest after your answer."
    )
    return (
        f"The {clock(st.alarm, st.now)} take-it-off was never answered. If the ice is still "
        f"on, take it off now, {then}"
    )


def changed_elsewhere(kind: str | None, at: datetime | None, now: datetime) -> str:
    """The daemon's log line when another process changed the cycle."""
    if kind is None or at is None:
        return "the cycle changed elsewhere: no cycle is running now"
    what = {
        "started": "a new cycle started",
        "ack": "the alarm or the session was acknowledged",
        "pain": "a pain score was noted",
        "quiet": "the quiet hours changed",
    }.get(kind, f"`{kind}`")
    return f"the cycle changed elsewhere: {what} at {clock(at, now)}"


def bar_left(seconds: float) -> str:
    """Time left as a status bar shows it: whole minutes, rounded up (seconds only in the
    last minute), so that a bar that follows the state changes once a minute, not every
    second. The dashboard has the exact countdown."""
    left = -(-seconds // 1)
    if left < 60:
        return f"{int(left)}s"
    return format_duration(-(-left // 60) * 60, with_seconds=False)


def phase_line(st: State, *, coarse: bool = False) -> str:
    """The headline: which phase, how long is left in it, and when it ends (`coarse`: in
    whole minutes, as a status bar shows it)."""
    if st.alarm is not None:
        return alarm_line(st)
    if st.phase is None:
        if st.state == "paused":
            return "Paused: reminders are off until you resume (icecycle resume)."
        if st.state == "done":
            return f"Done: {describe(st)}."
        return "No cycle is running. Start one with: icecycle start"
    remaining = st.phase_remaining.total_seconds()
    # (rounded up, like the countdown)
    left = bar_left(remaining) if coarse else format_duration(-(-remaining // 1))
    ends = clock(st.phase.end, st.now)
    if st.state == "on":
        return f"Ice on: {left} left, off at {ends}. {TOWEL}"
    if st.cycle and st.phase.end >= st.cycle.window_end:
        return f"Ice off (rest): {left} left; the window ends at {ends}."
    if st.held is not None:
        return f"Ice off (rest), held: {held_line(st)}"
    if st.quiet_until:
        return f"Quiet hours until {ends}: no reminders; the next session starts then."
    if st.quiet_next:
        return f"Ice off (rest): {left} left; quiet hours run until {ends}, then the next session."
    return f"Ice off (rest): {left} left, next session at {ends}."


def window_done(c: Counts, window: timedelta, pain: list[int]) -> str:
    """The end-of-window summary."""
    trend = pain_trend(pain)
    return f"The {format_span(int(window.total_seconds()))} window is over: {counts_line(c)}." + (
        f" {trend}." if trend else ""
    )


HELD_NOTE = "held: the take-it-off alarm before it was unanswered"

NOTE_WORDS = {
    "missed": "passed while closed",
    "late": "notified late",
    "failed": "notification failed",
}


def session_note(status: str, confirmed: bool, note: str, ended_by: str, reason: str = "") -> str:
    """The notes column of a session in history (the CLI and the dashboard alike)."""
    words = [
        "confirmed" if confirmed and status == "done" else "",
        HELD_NOTE if reason == "held" else NOTE_WORDS["missed"] if status == "missed" else "",
        NOTE_WORDS.get(note, "") if note in ("late", "failed") else "",
        f"ended by {ended_by}" if ended_by in ("pause", "stop") else "",
    ]
    return ", ".join(w for w in words if w)


_BARS = "▁▂▃▄▅▆▇█"


def sparkline(scores: list[int]) -> str:
    """Pain scores 0-10 as a row of bars, oldest first."""
    return "".join(_BARS[min(7, round(score * 7 / 10))] for score in scores)


def pain_trend(scores: list[int]) -> str:
    """'Pain: ▇▆▅▄ (7 to 4)', or '' with no scores."""
    if not scores:
        return ""
    if len(scores) == 1:
        return f"Pain: {scores[0]}/10"
    return f"Pain: {sparkline(scores)} ({scores[0]} to {scores[-1]})"


def confirmation(
    kind: str, before: State, after: State, acc: Fold, audience: Audience = "commands"
) -> str:
    """One short line saying what the action changed."""
    now = after.now
    upcoming = next(
        (p.start for p in acc.phases_from(now) if p.kind == "on" and p.start > now), None
    )
    nxt = next_session(after, upcoming)
    # Ice on, or its take-it-off alarm unanswered: whatever this does, say it first.
    take_off = f"{TAKE_OFF} " if before.state == "on" or before.alarm is not None else ""
    if kind == "on":
        assert after.phase is not None
        return f"Ice on until {format_clock(after.phase.end, now)}. {TOWEL}"
    if kind == "off":
        return f"Ice off; that session counts as done. {nxt}"
    if kind == "skip" and before.state == "on":
        # The ice may be on the skin (confirmed or not): say first to take it off.
        first = f"{TAKE_OFF} "
        return f"{first}Session skipped; rest as usual. {nxt}"
    if kind == "skip":
        skipped = before.phase.end if before.phase else now
        return f"The {format_clock(skipped, now)} session is skipped; the rest runs on. {nxt}"
    if kind == "pause":
        if take_off:  # the take-it-off alarm and its reminders go on through a pause
            return (
                f"{take_off}Paused: no new sessions until you resume "
                f"({do('resume', audience)}); the take-it-off alarm rings on until you answer "
                f"it ({do('ack', audience)}). The window does not stop: "
                f"it still ends {format_clock(before.cycle.window_end, now)}."  # type: ignore[union-attr]
            )
        return (
            f"{take_off}Paused: no reminders until you resume ({do('resume', audience)}). "
            "The window does not stop: "
            f"it still ends {format_clock(before.cycle.window_end, now)}."  # type: ignore[union-attr]
        )
    if kind == "resume":
        if after.held is not None:  # held: the next ice waits for the answer
            return (
                f"{TAKE_OFF} Resumed, but the next session waits: the take-it-off alarm is "
                f"unanswered. Answer it ({do('ack', audience)}) once the ice is off; the next "
                "session starts a whole rest after your answer."
            )
        if after.alarm is not None and after.phase:
            return (
                f"{TAKE_OFF} Resumed: rest until {format_clock(after.phase.end, now)}. Answer "
                f"the take-it-off alarm ({do('ack', audience)}) once the ice is off: until "
                "you do, no session begins."
            )
        if after.state == "off" and after.phase:
            if after.quiet_next:
                return (
                    f"Resumed: quiet hours until {format_clock(after.phase.end, now)}, then ice on."
                )
            if after.cycle and after.phase.end >= after.cycle.window_end:
                return "Resumed: no session is left in this window; it ends in rest."
            return (
                f"Resumed: rest still owed until {format_clock(after.phase.end, now)}, then ice on."
            )
        return f"Resumed: ice on now. {TOWEL}"
    if kind == "stop":
        return (
            f"{take_off}Stopped the cycle ({counts_line(after.counts)}); "
            f"{do('history', audience)} keeps it."
        )
    if before.state == "on":
        return "Confirmed: ice is on, with a towel under it."
    return "Acknowledged: the ice is off. No more reminders for it."


# -- the config file ---------------------------------------------------------------------

NO_TERMINAL = (
    "the dashboard needs a terminal to read your keys from, and stdin is not one; "
    "`icecycle status` shows where the cycle stands, `icecycle daemon` alerts without one"
)
CONFIG_PROBLEMS = "Problems in the file (each of those keys uses its default until fixed):"
CONFIG_NOTICE_TITLE = "icecycle: a problem in your config"


def config_blocks_start(what: str, flag: str | None) -> str:
    """A new cycle records its lengths: it does not start with one the file did not mean."""
    flag = f" (or give --{flag})" if flag else ""
    return f"{what}; fix it{flag} and start again, so the cycle gets what you meant"


def config_notice(lines: list[str]) -> str:
    """The one notice (and the dashboard's line) about what was wrong in the config."""
    first = lines[0]
    more = f" (and {len(lines) - 1} more; `icecycle config` lists them)" if len(lines) > 1 else ""
    return f"Alerts go on with the defaults for what is wrong. {first}{more}"


def quiet_span(quiet: tuple[int, int]) -> str:
    (sh, sm), (eh, em) = divmod(quiet[0], 60), divmod(quiet[1], 60)
    return f"{sh:02d}:{sm:02d}-{eh:02d}:{em:02d}"


def stop_needs_answer(st: State, audience: Audience = "commands") -> str:
    """`stop` while the ice is on or its take-it-off unanswered: refused, since nothing
    would ring for a stopped cycle. What to do instead, in order."""
    answer = do("off", audience) if st.state == "on" else do("ack", audience)
    return (
        f"{TAKE_OFF} The cycle is not stopped yet: its take-it-off alarm rings until you "
        f"answer it. Once the ice is off, {answer}, then {do('stop', audience)} again."
    )


def started(st: State, replaced: State | None, after_stop: bool = False) -> str:
    """What `start` says: when the ice comes off (or, replacing a cycle whose ice was on,
    when it may go on again), the lengths, and the window's end."""
    assert st.cycle is not None and st.phase is not None
    s, now = st.cycle.settings, st.now
    lengths = (
        f"({format_span(s.on_s)} on, {format_span(s.off_s)} off; "
        f"window ends {clock(st.cycle.window_end, now)})"
    )
    if st.state == "off":
        # The alarm the last cycle left unanswered rings on in this one (st.alarm).
        on_skin = st.alarm is not None or (replaced is not None and replaced.state == "on")
        first = f"{TAKE_OFF} " if on_skin else ""
        old = (
            "The old cycle is stopped."
            if replaced is not None
            else "The last cycle was stopped."
            if after_stop
            else "The last window is over."
        )
        answer = (
            " Its take-it-off alarm is still unanswered: answer it (`icecycle ack`) once the "
            "ice is off."
            if st.alarm is not None
            else ""
        )
        if st.phase.end >= st.cycle.window_end:
            return (
                f"{first}{old} Started a new one, resting first; no session "
                f"fits before its window ends at {clock(st.cycle.window_end, now)} {lengths}."
                f"{answer}"
            )
        return (
            f"{first}{old} Started a new one, resting first: ice on at "
            f"{clock(st.phase.end, now)} {lengths}.{answer}"
        )
    return f"Started: ice on now, off at {clock(st.phase.end, now)} {lengths}. {TOWEL}"


def pain_noted(scores: list[int]) -> str:
    trend = (
        f" Since the start: {sparkline(scores)} ({scores[0]} to {scores[-1]})."
        if len(scores) > 1
        else ""
    )
    return f"Pain {scores[-1]}/10 noted.{trend}"


def cycle_end_label(cycle: Cycle, stopped: datetime | None, now: datetime) -> str:
    """'stopped 14:02', or 'window ended …' for a cycle that ran its course (even if a
    later start closed it)."""
    if stopped is not None and stopped < cycle.window_end:
        return f"stopped {clock(stopped, now)}"
    word = "ended" if (stopped or now) >= cycle.window_end else "ends"
    return f"window {word} {clock(cycle.window_end, now)}"


def history_table(
    cycle: Cycle,
    stopped: datetime | None,
    st: State,
    rows: list[Session],
    quiet: tuple[int, int] | None,
) -> list[str]:
    """`icecycle history` for one cycle: a heading, the sessions so far, the totals."""
    now = st.now
    quiet_text = f", quiet hours {quiet_span(quiet)}" if quiet else ""
    lines = [
        f"Cycle {cycle.id}: from {clock(cycle.window_start, now)}, "
        f"{cycle_end_label(cycle, stopped, now)}{quiet_text}",
        f"  {'#':>3}  {'ice on':<16}  {'off':<5}  {'status':<11}  note",
    ]
    for n, r in enumerate(rows, 1):
        if r.status == "upcoming":
            continue
        note = session_note(r.status, r.confirmed, r.note, r.ended_by, r.reason)
        lines.append(
            f"  {n:>3}  {clock(r.start, now):<16}  "
            f"{r.end.astimezone().strftime('%H:%M'):<5}  {r.status:<11}  {note}"
        )
    lines.append(f"  Totals: {counts_line(st.counts)}")
    return lines


def clock_behind(now: datetime, last: datetime) -> str:
    return (
        f"the system clock reads {clock(now, now)}, before the last change recorded "
        f"({clock(last, now)}): it went back, so icecycle cannot time a new session; fix the "
        "clock (taking the ice off, `off`/`ack`, always works)"
    )


def clock_held(last: datetime, now: datetime) -> str:
    """The clock reads earlier than the last change stored: "now" is held to that change."""
    at = clock(last, now)
    return (
        f"The system clock went back: it reads earlier than the last change recorded ({at}). "
        f"icecycle counts from {at} instead, so an alarm may come a little late; "
        "set the clock right."
    )


def clock_changed(behind: timedelta) -> str:
    return (
        f"The system clock went back {format_duration(behind.total_seconds(), with_seconds=False)};"
        " icecycle keeps counting real time, so sessions still end on time."
    )
