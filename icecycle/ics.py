"""`icecycle export`: the sessions ahead as an iCalendar file, so a phone can remind you too.

An export converges: a calendar that imports the exports in order, replacing events by UID
(and honouring SEQUENCE and STATUS:CANCELLED), ends up holding exactly what the cycle holds
now (the sessions already over, as they happened and with no alarm; the one under way and
those ahead) and nothing else. For that, every export

- gives each session a UID that stays the same across exports (its place in the cycle),
- withdraws (STATUS:CANCELLED) every UID icecycle ever exported that is no longer planned,
  from this cycle and from the cycles before it, so skipping an import costs nothing,
- raises an event's SEQUENCE whenever it moves, ends, is withdrawn or comes back.

What the phone was given is remembered as an `exported` event on each cycle (the fold ignores
that kind), holding that cycle's UIDs with their SEQUENCE, times and status: the ledger.
`wanted` is the one list of events both the export and the phone calendar (phone.py) write.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from icecycle.cycle import Cycle, Event, Session, fold

if TYPE_CHECKING:
    from icecycle.store import Store

PRODID = "-//icecycle//cold therapy timer//EN"
TITLE = "Ice on — towel between ice and skin"
OFF_TEXT = "Take the ice off now"
DESCRIPTION = "Thin towel between the ice pack and your skin. Take the ice off when this ends."
EXPORTED = "exported"  # the event kind that records what an export gave the phone

UPCOMING, IN_PROGRESS, CANCELLED = "upcoming", "in progress", "cancelled"
#: Sessions already over, kept as they happened (no alarm): their status in the cycle.
PAST = ("done", "skipped", "missed")
#: The one event of a held schedule: an unanswered take-it-off alarm, ringing now.
ALARM = "alarm"
#: The one event of a file with nothing else to say (RFC 5545 wants one component).
PLACEHOLDER = "placeholder"

#: What each kind of event is called on the phone.
TITLES = {
    UPCOMING: TITLE,
    IN_PROGRESS: TITLE,
    "done": "Ice session done",
    "skipped": "Ice session skipped",
    "missed": "Ice session missed",
    ALARM: "Answer the take-it-off alarm",
    PLACEHOLDER: "icecycle: nothing planned",
    CANCELLED: TITLE,
}
DESCRIPTIONS = {
    ALARM: "The ice should be off by now. Take it off, then answer the alarm on the computer "
    "(or `icecycle ack`): no new session begins until you do.",
    "done": "Done. No alarm: this session is over.",
    "skipped": "Skipped. No alarm: this session is over.",
    "missed": "Missed. No alarm: this session is over.",
}
ALARM_LENGTH = timedelta(minutes=5)


class CalendarError(Exception):
    """The file cannot be written (or is not ours to overwrite), or there is nothing to say."""


class Entry(NamedTuple):
    """One event as an export writes it (and as the ledger remembers it)."""

    uid: str
    seq: int
    start: datetime
    end: datetime
    status: str  # UPCOMING, IN_PROGRESS, one of PAST, ALARM, PLACEHOLDER or CANCELLED

    @property
    def alarms(self) -> list[datetime]:
        """When its alarms ring: at the start (not for the session under way, whose start
        has passed) and at the end. A session over, or a withdrawn event, has none."""
        if self.status == UPCOMING:
            return [self.start, self.end]
        if self.status == IN_PROGRESS:
            return [self.end]
        return [self.start] if self.status == ALARM else []

    @property
    def live(self) -> bool:
        """On the phone's calendar (not withdrawn)."""
        return self.status not in (CANCELLED, PLACEHOLDER)

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
    held: bool = False  # a take-it-off alarm is unanswered: one event asks to answer it

    def message(self, path: str) -> list[str]:
        plural = "" if self.upcoming == 1 else "s"
        ended = self.withdrawn
        also = (
            f" It also withdraws {ended} event{'' if ended == 1 else 's'} from earlier exports "
            "that moved away or are over."
            if ended
            else ""
        )
        if self.held:
            lines = [
                f"The take-it-off alarm is unanswered, so {path} holds no ice sessions, only one "
                f"event now asking you to answer it.{also}",
                "After `icecycle ack`, export and import again to bring the sessions back.",
            ]
        elif self.state in ("on", "off", "paused") and not self.paused:
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
    ledgers = {cycle.id: _ledger(store.events(cycle.id)) for cycle, _ in store.cycles()}
    known = {key: e for ledger in ledgers.values() for key, e in ledger.items()}
    w = wanted(store, now, known)
    state, keep, want = w.state, w.keep, {e.uid: e for e in w.entries}
    silenced = w.silenced
    current = store.current()

    if current is not None:
        ledgers.setdefault(current[0].id, {})
    changed: dict[int, list[Entry]] = {}
    entries: list[Entry] = []
    withdrawn = 0
    for cycle_id, ledger in ledgers.items():
        new: dict[str, Entry] = {}
        for key, old in ledger.items():
            target = want.pop(key, None)
            if target is None:  # no longer planned: moved out of the window, or paused
                target = old._replace(status=CANCELLED)
                withdrawn += old.live
            new[key] = _bump(old, target)
        mine = {k: e for k, e in want.items() if k.startswith(f"icecycle-{cycle_id}-")}
        new.update(mine)  # on the phone for the first time: SEQUENCE 0
        for key in mine:
            del want[key]
        if new != ledger:
            changed[cycle_id] = list(new.values())
        entries.extend(new.values())
    entries.sort(key=lambda e: (not e.live, e.start, e.uid))
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
        held=w.held,
    )
    return result, changed


class Wanted(NamedTuple):
    """What a calendar should hold now, worked out once for the export and the phone."""

    entries: list[Entry]
    state: str  # of the current cycle ("stopped" when none is running)
    keep: bool  # the sessions ahead are on the calendar (not paused by hand, not held)
    silenced: int  # sessions ahead left off because of a pause by hand or a held schedule
    held: bool  # a take-it-off alarm is unanswered: no ice until it is


def wanted(store: Store, now: datetime, known: Mapping[str, Entry] | None = None) -> Wanted:
    """Every event the calendar should hold at `now`:

    - the current cycle's sessions already over, as they happened, with no alarm (a session
      skipped before it began never happened, and is not kept);
    - its session under way (take-it-off alarm) and those ahead (ice-on and take-it-off
      alarms), unless paused by hand (no end: the phone goes quiet) or held by an
      unanswered take-it-off alarm (then one ALARM event instead, ringing now);
    - the sessions over of earlier cycles that the calendar already has (`known`, what the
      calendar was last given, by UID).

    The held schedule is read from State.alarm, so it holds whatever the fold schedules
    meanwhile. An ALARM event the calendar already has keeps its start: it rings once."""
    known = known or {}
    current = store.current()
    current_id = current[0].id if current is not None else None
    entries: list[Entry] = []
    state, keep, silenced, held = "stopped", False, 0, False
    for cycle, _ in store.cycles():
        is_current = cycle.id == current_id
        if not is_current and not any(k.startswith(f"icecycle-{cycle.id}-") for k in known):
            continue
        events = current[1] if is_current and current is not None else store.events(cycle.id)
        notes = store.session_notes(cycle.id)
        acc = fold(cycle, events)
        st = acc.state_at(now, notes)
        live = is_current and st.state in ("on", "off", "paused")
        if is_current:
            state = st.state
            held = st.alarm is not None
            # Quiet hours pause the cycle until a set time, and it resumes by itself: the
            # sessions after them are real. A pause by hand has no end.
            keep = not held and (
                st.state in ("on", "off")
                or (st.state == "paused" and getattr(st, "quiet_until", None) is not None)
            )
        for number, s in enumerate(acc.sessions(now, notes), 1):
            key = uid(cycle, number)
            if s.status in (UPCOMING, IN_PROGRESS):
                if live and keep:
                    entries.append(Entry(key, 0, s.start, s.end, s.status))
                elif live:
                    silenced += 1
            elif s.status in PAST and s.start < now and (is_current or key in known):
                if _never_begun(s, cycle):
                    continue
                entries.append(Entry(key, 0, s.start, s.end, s.status))
        if held and st.alarm is not None:
            key = f"icecycle-{cycle.id}-alarm-{int(st.alarm.timestamp())}@icecycle"
            given = known.get(key)
            start = given.start if given is not None and given.live else now.replace(microsecond=0)
            entries.append(Entry(key, 0, start, start + ALARM_LENGTH, ALARM))
    return Wanted(entries, state, keep, silenced, held)


def _never_begun(s: Session, cycle: Cycle) -> bool:
    """Skipped before it began: ahead of time (`skip` during the rest before it, which keeps
    its planned times) or in the instant it began."""
    length = s.end - s.start
    return s.status == "skipped" and (
        not length or (s.ended_by == "skip" and length == cycle.settings.on)
    )


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
    that show withdrawn events show one, once; not titled like an ice session, for the
    importers that ignore STATUS."""
    cycle, _ = store.cycles()[-1]
    start = cycle.window_start
    return Entry(
        f"icecycle-{cycle.id}-ended@icecycle", 0, start, start + timedelta(minutes=1), PLACEHOLDER
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
    """The iCalendar text (one VCALENDAR holding every entry)."""
    from icalendar import Calendar

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "icecycle")
    for entry in entries:
        cal.add_component(vevent(entry, now))
    return bytes(cal.to_ical())


def render_one(entry: Entry, now: datetime) -> bytes:
    """One event in a calendar of its own: a CalDAV resource."""
    return render([entry], now)


def vevent(entry: Entry, now: datetime) -> Any:
    """One event as icalendar builds it. Alarms trigger relative to the start (the RFC 5545
    default), which every client reads the same way; RELATED=END is not read by all."""
    from icalendar import Alarm
    from icalendar import Event as VEvent
    from icalendar.prop import vDuration

    class Trigger(vDuration):
        """A start-relative trigger; zero as PT0S, the form most clients write themselves."""

        def to_ical(self) -> bytes:
            return b"PT0S" if not self.td else bytes(super().to_ical())  # type: ignore[no-untyped-call]

    ev = VEvent()
    ev.add("uid", entry.uid)
    ev.add("sequence", entry.seq)
    ev.add("dtstamp", now)
    ev.add("dtstart", entry.start)
    ev.add("dtend", entry.end)
    ev.add("summary", TITLES.get(entry.status, TITLE))
    if not entry.live:
        ev.add("status", "CANCELLED")
    else:
        ev.add("status", "CONFIRMED")
        ev.add("description", DESCRIPTIONS.get(entry.status, DESCRIPTION))
    for moment in entry.alarms:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        what = TITLES[ALARM] if entry.status == ALARM else TITLE
        alarm.add("description", what if moment == entry.start else OFF_TEXT)
        alarm.add("trigger", Trigger(moment - entry.start))
        ev.add_component(alarm)
    return ev


def _write(path: str, data: bytes) -> None:
    """Replace `path` whole, as a file yours alone (0600 whatever the umask: it is a health
    record)."""
    tmp = f"{path}.icecycle-tmp"
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # a leftover of a crash (never written through: O_EXCL below)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fd, 0o600)
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CalendarError(f"cannot write {path} ({exc.strerror})") from None


def _check_overwrite(path: str, force: bool) -> None:
    """Replace an earlier export freely; another file only with --force; never a FIFO, a
    device or a folder (reading one could wait forever, replacing one is never meant)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CalendarError(f"cannot read {path} ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise CalendarError(
            f"{path} is not a regular file (a folder, a FIFO or a device); "
            "icecycle writes calendars only to files: choose another name"
        )
    if force:
        return
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise CalendarError(f"cannot read {path} ({exc.strerror})") from None
    if PRODID.encode() not in head:
        raise CalendarError(
            f"{path} exists and was not written by icecycle; choose another name or add --force"
        )
