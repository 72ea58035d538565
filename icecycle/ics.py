"""`icecycle export`: the sessions ahead as an iCalendar file, so a phone can remind you too.

An export converges: a calendar that imports the exports in order, replacing events by UID
(and honouring SEQUENCE and STATUS:CANCELLED), ends up holding exactly the sessions the cycle
holds now (the one under way and those ahead) and nothing else. For that, every export

- gives each session a UID that stays the same across exports (its place in the cycle),
- withdraws (STATUS:CANCELLED) every UID icecycle ever exported that is no longer ahead,
  from this cycle and from the cycles before it, so skipping an import costs nothing,
- raises an event's SEQUENCE whenever it moves, is withdrawn or comes back.

What the phone was given is remembered as an `exported` event on each cycle (the fold ignores
that kind), holding that cycle's UIDs with their SEQUENCE, times and status: the ledger.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from icecycle.cycle import Cycle, Event, fold

if TYPE_CHECKING:
    from icecycle.store import Store

PRODID = "-//icecycle//cold therapy timer//EN"
TITLE = "Ice on — towel between ice and skin"
OFF_TEXT = "Take the ice off now"
DESCRIPTION = "Thin towel between the ice pack and your skin. Take the ice off when this ends."
EXPORTED = "exported"  # the event kind that records what an export gave the phone

UPCOMING, IN_PROGRESS, CANCELLED = "upcoming", "in progress", "cancelled"


class CalendarError(Exception):
    """The file cannot be written (or is not ours to overwrite), or there is nothing to say."""


class Entry(NamedTuple):
    """One event as an export writes it (and as the ledger remembers it)."""

    uid: str
    seq: int
    start: datetime
    end: datetime
    status: str  # UPCOMING, IN_PROGRESS or CANCELLED

    @property
    def alarms(self) -> list[datetime]:
        """When its alarms ring: at the start (not for the session under way, whose start
        has passed) and at the end. A withdrawn event has none."""
        if self.status == CANCELLED:
            return []
        return [self.end] if self.status == IN_PROGRESS else [self.start, self.end]

    def same_as(self, other: Entry) -> bool:
        return (self.start, self.end, self.status) == (other.start, other.end, other.status)


class Export(NamedTuple):
    """What one export wrote, and what to tell the person about it."""

    entries: list[Entry]  # every event in the file, in file order
    state: str  # of the current cycle ("stopped" when none is running)
    upcoming: int  # sessions ahead written with their alarms
    in_progress: bool  # the session under way written with its take-it-off alarm
    paused: bool  # paused by hand: the sessions ahead are withdrawn
    silenced: int  # sessions ahead withdrawn because of that
    withdrawn: int  # events the phone had from earlier exports, withdrawn now

    def message(self, path: str) -> list[str]:
        plural = "" if self.upcoming == 1 else "s"
        ended = self.withdrawn
        also = (
            f" It also withdraws {ended} event{'' if ended == 1 else 's'} from earlier exports "
            "that moved away or are over."
            if ended
            else ""
        )
        if self.state in ("on", "off", "paused") and not self.paused:
            under_way = (
                ", and the session under way with its take-it-off alarm" if self.in_progress else ""
            )
            lines = [
                f"Wrote {self.upcoming} upcoming session{plural} to {path}, each with an alarm at "
                f"its start and end{under_way}.{also}"
            ]
        elif self.state == "paused":
            n = self.silenced
            lines = [
                f"The cycle is paused, so {path} withdraws the {n} session{'' if n == 1 else 's'} "
                f"ahead: once imported, your phone stays quiet.{also}",
                "After `icecycle resume`, export and import again to bring them back.",
            ]
        else:
            why = (
                "The cycle's window is over"
                if self.state == "done"
                else "No cycle is running (it was stopped)"
            )
            what = (
                f"withdraws the {ended} event{'' if ended == 1 else 's'} icecycle put on "
                "your phone before"
                if ended
                else "has nothing left to withdraw from your phone"
            )
            lines = [f"{why}: {path} {what}."]
        lines.append(
            "Import it in your phone's calendar; importing a later export moves and withdraws "
            "events instead of doubling them."
        )
        return lines


def export_calendar(store: Store | None, path: str, now: datetime, force: bool = False) -> Export:
    """`icecycle export`: work out the file, remember what it gives the phone, write it.

    The ledger is updated and the file replaced in one transaction: if the file cannot be
    written, nothing is remembered."""
    if store is None or not store.cycles():
        raise CalendarError("no cycle is running, so there is nothing to export; `icecycle start`")
    _check_overwrite(path, force)
    with store.transaction():
        result, changed = plan(store, now)
        for cycle_id, entries in changed.items():
            store.append(cycle_id, EXPORTED, now, _dump(entries))
        _write(path, render(result.entries, now))
    return result


def plan(store: Store, now: datetime) -> tuple[Export, dict[int, list[Entry]]]:
    """The export at `now`, and the new ledger of each cycle whose ledger it changes."""
    current = store.current()
    want: dict[str, Entry] = {}  # the running cycle's sessions ahead, as the phone should have them
    state, keep = "stopped", False
    if current is not None:
        cycle, events = current
        acc = fold(cycle, events, store.session_notes(cycle.id))
        st = acc.state_at(now)
        state = st.state
        # Quiet hours pause the cycle until a set time, and it resumes by itself: the sessions
        # after them are real. A pause by hand has no end: the phone must go quiet.
        # Held by an unanswered take-it-off alarm: no session has a time until someone
        # answers, so the phone must go quiet too (the alarm rings on the computer).
        keep = (state in ("on", "off") and st.held is None) or (
            state == "paused" and getattr(st, "quiet_until", None) is not None
        )
        if state in ("on", "off", "paused"):
            for number, s in enumerate(acc.sessions(now), 1):
                if s.status in (UPCOMING, IN_PROGRESS):
                    status = s.status if keep else CANCELLED
                    entry = Entry(uid(cycle, number), 0, s.start, s.end, status)
                    want[entry.uid] = entry
    silenced = sum(e.status == CANCELLED for e in want.values())

    ledgers = {cycle.id: _ledger(store.events(cycle.id)) for cycle, _ in store.cycles()}
    if current is not None:
        ledgers.setdefault(current[0].id, {})
    changed: dict[int, list[Entry]] = {}
    entries: list[Entry] = []
    withdrawn = 0
    for cycle_id, ledger in ledgers.items():
        new: dict[str, Entry] = {}
        for key, old in ledger.items():
            target = want.pop(key, None)
            if target is None:  # no longer ahead: ended, skipped, or dropped by a pause
                target = old._replace(status=CANCELLED)
                withdrawn += old.status != CANCELLED
            new[key] = _bump(old, target)
        if current is not None and cycle_id == current[0].id:
            new.update(want)  # on the phone for the first time: SEQUENCE 0
            want = {}
        if new != ledger:
            changed[cycle_id] = list(new.values())
        entries.extend(new.values())
    entries.sort(key=lambda e: (e.status == CANCELLED, e.start, e.uid))
    if not entries:  # RFC 5545: a calendar holds at least one component
        entries = [_placeholder(store)]
    result = Export(
        entries,
        state,
        upcoming=sum(e.status == UPCOMING for e in entries),
        in_progress=any(e.status == IN_PROGRESS for e in entries),
        paused=state == "paused" and not keep,
        silenced=silenced,
        withdrawn=withdrawn,
    )
    return result, changed


def uid(cycle: Cycle, number: int) -> str:
    """A session's UID: its place in the cycle, so a moved session keeps it."""
    return f"icecycle-{cycle.id}-{number}@icecycle"


def _bump(old: Entry, want: Entry) -> Entry:
    """`want` with the SEQUENCE the phone needs: the old one if nothing changed, else one more.
    A withdrawn event stays as it was withdrawn (its times no longer matter)."""
    if old.same_as(want) or old.status == want.status == CANCELLED:
        return old
    return want._replace(seq=old.seq + 1)


def _placeholder(store: Store) -> Entry:
    """For a file with nothing else to say: a withdrawn event that never changes, so clients
    that show withdrawn events show one, once."""
    cycle, _ = store.cycles()[-1]
    start = cycle.window_start
    return Entry(
        f"icecycle-{cycle.id}-ended@icecycle", 0, start, start + timedelta(minutes=1), CANCELLED
    )


# -- the ledger ----------------------------------------------------------------------------


def _dump(entries: list[Entry]) -> str:
    return json.dumps(
        {
            "v": 1,
            "events": [
                [e.uid, e.seq, e.start.isoformat(), e.end.isoformat(), e.status] for e in entries
            ],
        },
        separators=(",", ":"),
    )


def _ledger(events: list[Event]) -> dict[str, Entry]:
    """A cycle's ledger: its latest readable `exported` record ({} if it never exported)."""
    for event in reversed(events):
        if event.kind != EXPORTED:
            continue
        try:
            doc = json.loads(event.data or "")
            entries = [
                Entry(str(u), int(q), datetime.fromisoformat(s), datetime.fromisoformat(e), str(t))
                for u, q, s, e, t in doc["events"]
            ]
        except (ValueError, TypeError, KeyError):
            continue  # a damaged record: the one before it still says what the phone has
        return {e.uid: e for e in entries}
    return {}


# -- the file ------------------------------------------------------------------------------


def render(entries: list[Entry], now: datetime) -> bytes:
    """The iCalendar text. Alarms trigger relative to the start (the RFC 5545 default), which
    every client reads the same way; RELATED=END is not read by all."""
    from icalendar import Alarm, Calendar
    from icalendar import Event as VEvent
    from icalendar.prop import vDuration

    class Trigger(vDuration):
        """A start-relative trigger; zero as PT0S, the form most clients write themselves."""

        def to_ical(self) -> bytes:
            return b"PT0S" if not self.td else bytes(super().to_ical())  # type: ignore[no-untyped-call]

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "icecycle")
    for entry in entries:
        ev = VEvent()
        ev.add("uid", entry.uid)
        ev.add("sequence", entry.seq)
        ev.add("dtstamp", now)
        ev.add("dtstart", entry.start)
        ev.add("dtend", entry.end)
        ev.add("summary", TITLE)
        if entry.status == CANCELLED:
            ev.add("status", "CANCELLED")
        else:
            ev.add("status", "CONFIRMED")
            ev.add("description", DESCRIPTION)
        for moment in entry.alarms:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", TITLE if moment == entry.start else OFF_TEXT)
            alarm.add("trigger", Trigger(moment - entry.start))
            ev.add_component(alarm)
        cal.add_component(ev)
    return bytes(cal.to_ical())


def _write(path: str, data: bytes) -> None:
    tmp = f"{path}.icecycle-tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CalendarError(f"cannot write {path} ({exc.strerror})") from None


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
