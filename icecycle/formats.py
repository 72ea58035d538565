"""Machine output: status and history JSON, and the one ISO 8601 helper."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from icecycle import text
from icecycle.cycle import Counts, Cycle, State
from icecycle.durations import format_clock, format_countdown, format_duration


def iso(moment: datetime | None) -> str | None:
    """A moment in local time with its offset, to the second (None stays None)."""
    return moment.astimezone().isoformat(timespec="seconds") if moment else None


def _up(delta: timedelta) -> int:
    """Whole seconds, rounded up: 0 only when nothing is left."""
    return max(0, -(-delta // timedelta(seconds=1)))


def sessions_json(c: Counts) -> dict[str, int]:
    return {
        "done": c.done,
        "confirmed": c.confirmed,
        "skipped": c.skipped,
        "missed": c.missed,
        "left": c.left,
    }


def status_json(st: State) -> dict[str, Any]:
    """`status --json` (DESIGN.md's contract). Remaining times round up and elapsed is the
    rest of the length, so the two always add up and 0 means over."""
    window_left = _up(st.window_remaining)
    cyc = st.cycle if st.state != "idle" else None
    return {
        "state": st.state,
        "now": iso(st.now),
        "phase": None
        if st.phase is None
        else {
            "kind": st.phase.kind,
            "started": iso(st.phase.start),
            "ends": iso(st.phase.end),
            "remaining_s": _up(st.phase_remaining),
        },
        "next_change": iso(st.next_change),
        "window": None
        if cyc is None
        else {
            "start": iso(cyc.window_start),
            "end": iso(cyc.window_end),
            "length_s": cyc.settings.window_s,
            "elapsed_s": cyc.settings.window_s - window_left,
            "remaining_s": window_left,
        },
        "sessions": sessions_json(st.counts),
        "alarm": iso(st.alarm),
        # The session the open alarm belongs to, and (while it holds the schedule) since
        # when no session has begun and when it was last raised again.
        "alarm_session": None
        if st.alarm is None
        else {"start": iso(st.alarm_session or st.alarm), "ended": iso(st.alarm)},
        "held": None if st.held is None else {"since": iso(st.held), "raised": iso(st.raised)},
        "settings": None
        if cyc is None
        else {
            "on_s": cyc.settings.on_s,
            "off_s": cyc.settings.off_s,
            "window_s": cyc.settings.window_s,
        },
    }


def history_json(
    cycle: Cycle, stopped: datetime | None, st: State, rows: list[Any], pain: list[Any]
) -> dict[str, Any]:
    return {
        "id": cycle.id,
        "window": {"start": iso(cycle.window_start), "end": iso(cycle.window_end)},
        "stopped": iso(stopped) if stopped else None,
        "settings": {
            "on_s": cycle.settings.on_s,
            "off_s": cycle.settings.off_s,
            "window_s": cycle.settings.window_s,
        },
        "sessions": [
            {
                "start": iso(s.start),
                "end": iso(s.end),
                "status": s.status,
                "confirmed": s.confirmed,
                "note": s.note or None,
                "reason": s.reason or None,
            }
            for s in rows
        ],
        "totals": sessions_json(st.counts),
        "pain": pain,
    }


FORMAT_FIELDS = (
    "state",
    "phase",
    "phase_remaining",
    "phase_ends",
    "next_change",
    "window_remaining",
    "window_ends",
    "done",
    "confirmed",
    "skipped",
    "missed",
    "left",
    "alarm",
)
_SHORT = {"on": "ICE ON", "off": "REST", "paused": "PAUSED", "done": "DONE", "idle": "idle"}


def _clock_or_empty(moment: datetime | None, now: datetime) -> str:
    return format_clock(moment, now) if moment else ""


def status_fields(st: State) -> dict[str, str | int]:
    """The values `status --format` can use, all short enough for a status bar.

    Every state gives every field (empty when it does not apply), so no template fails on
    one state and works on another."""
    cyc = st.cycle
    phase = st.phase
    return {
        "state": str(st.state),
        "phase": _SHORT.get(st.state, str(st.state).upper()),
        "phase_remaining": (
            format_countdown(st.phase_remaining.total_seconds()) if phase is not None else ""
        ),
        "phase_ends": _clock_or_empty(phase.end if phase is not None else None, st.now),
        "next_change": _clock_or_empty(st.next_change, st.now),
        "window_remaining": (
            format_duration(st.window_remaining.total_seconds(), with_seconds=False) if cyc else ""
        ),
        "window_ends": _clock_or_empty(cyc.window_end if cyc else None, st.now),
        "done": st.done,
        "confirmed": st.confirmed,
        "skipped": st.skipped,
        "missed": st.missed,
        "left": st.left,
        "alarm": "TAKE THE ICE OFF" if st.alarm is not None else "",
    }


#: The widest a field may be padded to (`{phase:>12}`): a status line, not a page.
MAX_WIDTH = 200


class TemplateError(ValueError):
    """A `status --format` template that cannot be used; the message is one line."""


def check_template(template: str) -> None:
    """Refuse anything but plain {field} and {field:spec} with a sane width.

    Attribute and index lookups (`{phase.__class__}`, `{done[0]}`), positional fields and
    nested specs are refused before anything is formatted."""
    import re
    import string

    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise TemplateError(f"{exc} (write {{{{ and }}}} for literal braces)") from None
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FORMAT_FIELDS:
            if not name or any(c in name for c in ".[]") or name.isdigit():
                raise TemplateError(
                    f"'{{{name}}}' is not a field; write a field by its name alone, "
                    f"e.g. {{phase}}; fields are {', '.join(FORMAT_FIELDS)}"
                )
            raise TemplateError(f"unknown field '{name}'; fields are {', '.join(FORMAT_FIELDS)}")
        if conversion not in (None, "s", "r"):
            raise TemplateError(f"'!{conversion}' in {{{name}}}: only !s and !r are known")
        if spec and ("{" in spec or "}" in spec):
            raise TemplateError(f"'{{{name}:{spec}}}': a field's spec cannot hold another field")
        if spec and any(int(n) > MAX_WIDTH for n in re.findall(r"\d+", spec)):
            raise TemplateError(
                f"'{{{name}:{spec}}}' is too wide; a width or precision is at most {MAX_WIDTH}"
            )


def format_status(template: str, st: State) -> str:
    """`status --format`: the template with {field}s filled in; TemplateError (a ValueError,
    one line) for a template that cannot be used."""
    check_template(template)
    try:
        return template.format_map(status_fields(st))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TemplateError(
            f"{reason}; done, confirmed, skipped, missed and left are numbers, the rest text"
        ) from None


def waybar_error(reason: str) -> dict[str, str]:
    """The Waybar JSON when the state cannot be read: still one line, so the module shows a
    warning (with the reason on hover) instead of vanishing."""
    line = " ".join(reason.split()) or "unknown error"
    return {
        "text": "icecycle: error",
        "tooltip": f"icecycle cannot read its state: {line}",
        "class": "error",
        "alt": "error",
    }


def status_error_json(reason: str) -> dict[str, str]:
    """`status --follow --json` when the state cannot be read: a line still comes, so a
    reader can show that something is wrong instead of a stale state."""
    return {"state": "error", "error": " ".join(reason.split()) or "unknown error"}


def waybar(st: State) -> dict[str, Any]:
    """A Waybar custom module's JSON: text, tooltip, class (the state) and alt. Times left
    in whole minutes (text.bar_left): `status --follow --waybar` prints once a minute."""
    fields = status_fields(st)
    label = str(fields["phase"])
    if st.phase is not None:
        label = f"{label} {text.bar_left(st.phase_remaining.total_seconds())}"
    tooltip = [text.phase_line(st, coarse=True)]
    if st.cycle is not None:
        if st.next_change is not None:
            tooltip.append(f"Next change: {text.next_change(st)}")
        tooltip += [text.window_line(st, coarse=True), text.sessions_line(st)]
    # An unanswered take-it-off alarm is the one thing a status bar must shout about.
    css = ["urgent", st.state] if st.alarm is not None else st.state
    if st.alarm is not None:
        label = "TAKE THE ICE OFF"
    return {"text": label, "tooltip": "\n".join(tooltip), "class": css, "alt": st.state}


def hook_env(st: State) -> tuple[tuple[str, str], ...]:
    """The state for a hook, as ICECYCLE_* variables (times in ISO 8601, local offset)."""

    cyc = st.cycle
    return (
        ("ICECYCLE_STATE", st.state),
        ("ICECYCLE_PHASE_ENDS", iso(st.phase.end if st.phase else None) or ""),
        ("ICECYCLE_NEXT_CHANGE", iso(st.next_change) or ""),
        ("ICECYCLE_WINDOW_ENDS", iso(cyc.window_end if cyc else None) or ""),
        ("ICECYCLE_SESSIONS_DONE", str(st.done)),
        ("ICECYCLE_SESSIONS_CONFIRMED", str(st.confirmed)),
        ("ICECYCLE_SESSIONS_SKIPPED", str(st.skipped)),
        ("ICECYCLE_SESSIONS_MISSED", str(st.missed)),
        ("ICECYCLE_ALARM", iso(st.alarm) or ""),
        ("ICECYCLE_ALARM_SESSION", iso(st.alarm_session) or ""),
        ("ICECYCLE_HELD", iso(st.held) or ""),
        ("ICECYCLE_SESSIONS_LEFT", str(st.left)),
    )
