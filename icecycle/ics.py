"""`icecycle export`: the sessions ahead as an iCalendar file, so a phone can remind you too."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from icecycle.cycle import Cycle, Event, sessions

PRODID = "-//icecycle//cold therapy timer//EN"
TITLE = "Ice on — towel between ice and skin"


class CalendarError(Exception):
    """The file cannot be written (or is not ours to overwrite)."""


def export_ics(
    path: str, cycle: Cycle, events: list[Event], now: datetime, force: bool = False
) -> int:
    """Write the upcoming sessions; returns how many. UIDs are the session's number in the
    cycle, so importing a later export (after a pause, say) moves events instead of adding."""
    from icalendar import Alarm, Calendar
    from icalendar import Event as VEvent

    _check_overwrite(path, force)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "icecycle")
    count = 0
    for number, s in enumerate(sessions(cycle, events, now), 1):
        if s.status != "upcoming":
            continue
        ev = VEvent()
        ev.add("uid", f"icecycle-{cycle.id}-{number}@icecycle")
        ev.add("dtstamp", now)
        ev.add("dtstart", s.start)
        ev.add("dtend", s.end)
        ev.add("summary", TITLE)
        ev.add(
            "description",
            "Thin towel between the ice pack and your skin. Take the ice off when this ends.",
        )
        start_alarm = Alarm()
        start_alarm.add("action", "DISPLAY")
        start_alarm.add("description", TITLE)
        start_alarm.add("trigger", timedelta(0))
        ev.add_component(start_alarm)
        end_alarm = Alarm()
        end_alarm.add("action", "DISPLAY")
        end_alarm.add("description", "Take the ice off now")
        end_alarm.add("trigger", timedelta(0), parameters={"RELATED": "END"})
        ev.add_component(end_alarm)
        cal.add_component(ev)
        count += 1
    tmp = f"{path}.icecycle-tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(cal.to_ical())
        os.replace(tmp, path)
    except OSError as exc:
        raise CalendarError(f"cannot write {path} ({exc.strerror})") from None
    return count


def _check_overwrite(path: str, force: bool) -> None:
    """Replace an earlier export freely; anything else only with --force."""
    if force or not os.path.exists(path):
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise CalendarError(f"cannot read {path} ({exc.strerror})") from None
    if PRODID.encode() not in head:
        raise CalendarError(
            f"{path} exists and was not written by icecycle; choose another name or add --force"
        )
