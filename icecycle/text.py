"""Words the product shows: state descriptions, confirmations and refusals, in one place."""

from __future__ import annotations

from datetime import datetime

from icecycle.cycle import Fold, State
from icecycle.durations import format_clock, format_duration

TOWEL = "Keep a thin towel between the ice pack and your skin."
NOT_ADVICE = (
    "icecycle is a timer, not a doctor: it keeps the schedule you set and gives no medical "
    "advice. If the pain is severe, spreads, or comes with numbness or weakness, see a clinician."
)
PROTOCOL = (
    "For the first 48 to 72 hours after a back spasm: ice on for 25 minutes, then off for "
    "90 minutes, and again, for as long as the window lasts."
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


def clock(moment: datetime, now: datetime) -> str:
    return format_clock(moment, now)


def describe(st: State) -> str:
    """The state in a few words: 'ice is on until 15:20'."""
    if st.state == "on" and st.phase:
        return f"ice is on until {clock(st.phase.end, st.now)}"
    if st.state == "off" and st.phase:
        return f"ice is off; the rest lasts until {clock(st.phase.end, st.now)}"
    if st.state == "paused":
        return "the cycle is paused"
    if st.state == "done" and st.cycle:
        return f"the window ended {clock(st.cycle.window_end, st.now)}"
    return "no cycle is running"


_HINTS = {
    "on": "`icecycle off`, `skip` or `pause` would work",
    "off": "`icecycle on` or `pause` would work",
    "paused": "`icecycle resume` or `on` would work",
    "done": "`icecycle start` begins a new cycle",
    "idle": "`icecycle start` begins one",
}


_VERBS = {
    "on": "put the ice on",
    "off": "take the ice off",
    "skip": "skip a session",
    "pause": "pause",
    "resume": "resume",
    "stop": "stop",
    "ack": "acknowledge",
}


def refusal(action: str, st: State) -> str:
    return f"cannot {_VERBS.get(action, action)} now: {describe(st)}; {_HINTS[st.state]}"


def next_session(st: State, upcoming_on: datetime | None) -> str:
    if upcoming_on is None:
        return "No more sessions in this window."
    return f"Next session at {clock(upcoming_on, st.now)}."


def next_change(st: State) -> str:
    """What happens at the next change, and when: 'ice off at 15:20'."""
    assert st.next_change is not None and st.cycle is not None
    at = clock(st.next_change, st.now)
    if st.next_change >= st.cycle.window_end:
        return f"the window ends at {at}; that is the last change"
    if st.state == "paused":
        return f"ice on at {at}, when quiet hours end"
    if st.quiet_next:
        return f"quiet hours from {at} until {clock(st.quiet_next, st.now)}"
    return f"ice off at {at}" if st.state == "on" else f"ice on at {at}"


def window_line(st: State) -> str:
    assert st.cycle is not None
    end = format_clock(st.cycle.window_end, st.now)
    if st.window_remaining.total_seconds() <= 0:
        return f"Window: over, ended {end}"
    return f"Window: {format_duration(st.window_remaining.total_seconds())} left, ends {end}"


def sessions_line(st: State) -> str:
    return f"Sessions: {st.done} done, {st.skipped} skipped, {st.left} left"


def phase_line(st: State) -> str:
    """The headline: which phase, how long is left in it, and when it ends."""
    if st.phase is None:
        if st.state == "paused" and st.quiet_until:
            return (
                f"Quiet hours until {clock(st.quiet_until, st.now)}: no reminders; the "
                "next session starts then."
            )
        if st.state == "paused":
            return "Paused: reminders are off until you resume (icecycle resume)."
        if st.state == "done":
            return f"Done: {describe(st)}."
        return "No cycle is running. Start one with: icecycle start"
    left = format_duration(-(-st.phase_remaining.total_seconds() // 1))  # up, like the countdown
    ends = clock(st.phase.end, st.now)
    if st.state == "on":
        return f"Ice on: {left} left, off at {ends}. {TOWEL}"
    if st.cycle and st.phase.end >= st.cycle.window_end:
        return f"Ice off (rest): {left} left; the window ends at {ends}."
    if st.quiet_next:
        return (
            f"Ice off (rest): {left} left; then quiet hours until "
            f"{clock(st.quiet_next, st.now)}, and the next session."
        )
    return f"Ice off (rest): {left} left, next session at {ends}."


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


def confirmation(kind: str, before: State, after: State, acc: Fold) -> str:
    """One short line saying what the action changed."""
    now = after.now
    upcoming = next(
        (p.start for p in acc.phases_from(now) if p.kind == "on" and p.start > now), None
    )
    nxt = next_session(after, upcoming)
    if kind == "on":
        assert after.phase is not None
        return f"Ice on until {format_clock(after.phase.end, now)}. {TOWEL}"
    if kind == "off":
        return f"Ice off; that session counts as done. {nxt}"
    if kind == "skip":
        return f"Session skipped; rest as usual. {nxt}"
    if kind == "pause":
        return (
            "Paused: no reminders until `icecycle resume`. The window does not stop: "
            f"it still ends {format_clock(before.cycle.window_end, now)}."  # type: ignore[union-attr]
        )
    if kind == "resume":
        if after.state == "off" and after.phase:
            return (
                f"Resumed: rest still owed until {format_clock(after.phase.end, now)}, then ice on."
            )
        return f"Resumed: ice on now. {TOWEL}"
    if kind == "stop":
        return (
            f"Stopped the cycle ({after.done} sessions done, {after.skipped} skipped); "
            "`icecycle history` keeps it."
        )
    if before.state == "on":
        return "Confirmed: ice is on, with a towel under it."
    return "Acknowledged: the ice is off. No more reminders for this rest."


def quiet_span(quiet: tuple[int, int]) -> str:
    (sh, sm), (eh, em) = divmod(quiet[0], 60), divmod(quiet[1], 60)
    return f"{sh:02d}:{sm:02d}-{eh:02d}:{em:02d}"
