"""`icecycle export`: a phone calendar you can trust.

The main check is a replay: a small calendar, written here, imports the exports in order the
way phone calendars do (replace by UID, keep the higher SEQUENCE, drop STATUS:CANCELLED), and
after every import must hold exactly the sessions the cycle holds then: those already over as
they happened (no alarm, not cancelled), the one under way and those ahead at their current
times, with no alarm in a pause or while the take-it-off alarm is unanswered, and nothing else.
"""

from __future__ import annotations

import io
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from icecycle import cli
from icecycle.cycle import fold
from icecycle.ics import PRODID, TITLES
from icecycle.store import Store

from .conftest import T0, FakeClock

LIVE = ("upcoming", "in progress")
PAST_TITLES = {TITLES[k] for k in ("done", "skipped", "missed")}


class Copy(NamedTuple):
    """One event as the phone holds it."""

    seq: int
    start: datetime
    end: datetime
    status: str
    alarms: tuple[datetime, ...]
    summary: str = ""

    @property
    def past(self) -> bool:
        return self.summary in PAST_TITLES


class Phone:
    """A calendar that imports .ics files the way phones do: by UID, honouring SEQUENCE
    (an older copy never replaces a newer one) and STATUS:CANCELLED."""

    def __init__(self) -> None:
        self.events: dict[str, Copy] = {}

    def import_file(self, path: Path) -> None:
        cal = Calendar.from_ical(path.read_bytes())
        assert cal.walk("VEVENT"), "RFC 5545: a calendar holds at least one component"
        seen: set[str] = set()
        for ev in cal.walk("VEVENT"):
            uid = str(ev["uid"])
            assert uid not in seen, f"{uid} twice in one file"
            seen.add(uid)
            start, end = ev.decoded("dtstart"), ev.decoded("dtend")
            alarms = []
            for alarm in ev.walk("VALARM"):
                trigger = alarm["trigger"]
                assert trigger.params.get("RELATED", "START") == "START"  # start-relative only
                alarms.append(start + alarm.decoded("trigger"))
            new = Copy(
                int(ev.get("sequence", 0)),
                start,
                end,
                str(ev.get("status", "CONFIRMED")).upper(),
                tuple(sorted(alarms)),
                str(ev.get("summary", "")),
            )
            old = self.events.get(uid)
            if old is not None and new.seq < old.seq:
                continue  # an older copy: the phone keeps what it has
            if old is not None and new.seq == old.seq:
                assert new == old, f"{uid} changed without a higher SEQUENCE: {old} -> {new}"
            self.events[uid] = new

    def live(self) -> list[Copy]:
        """The ice sessions to come (and the one under way): those with alarms."""
        return sorted(
            (c for c in self.events.values() if c.status != "CANCELLED" and c.summary in LIVE_T),
            key=lambda c: c.start,
        )

    def past(self, prefix: str = "icecycle-") -> list[Copy]:
        """The sessions already over, as the phone shows them."""
        return sorted(
            (
                c
                for u, c in self.events.items()
                if c.status != "CANCELLED" and c.past and u.startswith(prefix)
            ),
            key=lambda c: c.start,
        )

    def alarm_events(self) -> list[Copy]:
        return [c for c in self.events.values() if c.status != "CANCELLED" and c.summary == ALARM_T]


LIVE_T, ALARM_T = TITLES["upcoming"], TITLES["alarm"]


class Held(NamedTuple):
    ahead: list[tuple[datetime, datetime]]
    past: list[tuple[datetime, datetime, str]]
    cycle_id: int
    alarm: bool


def held_now(data_dir: Path, now: datetime, paused_by_hand: bool) -> Held:
    """What the phone should hold: the cycle's sessions over, as they happened (a session
    skipped before it began is not one); the one under way and those ahead, except while
    paused by hand (quiet hours resume by themselves, so their sessions stay) or while the
    take-it-off alarm is unanswered (then one event asks to answer it)."""
    store = Store.open(data_dir, create=False)
    if store is None:
        return Held([], [], 0, False)
    try:
        current = store.current()
        if current is None:
            return Held([], [], 0, False)
        cycle, events = current
        notes = store.session_notes(cycle.id)
        acc = fold(cycle, events, notes)
        alarm = acc.state_at(now).alarm is not None
        all_ = acc.sessions(now)
        past = [
            (s.start, s.end, TITLES[s.status])
            for s in all_
            if s.status in ("done", "skipped", "missed")
            and s.start < now
            and not (
                s.status == "skipped"
                and (
                    s.end == s.start
                    or (s.ended_by == "skip" and s.end - s.start == cycle.settings.on)
                )
            )
        ]
        ahead = (
            [] if paused_by_hand or alarm else [(s.start, s.end) for s in all_ if s.status in LIVE]
        )
        return Held(sorted(ahead), sorted(past), cycle.id, alarm)
    finally:
        store.close()


def check(phone: Phone, data_dir: Path, now: datetime, paused_by_hand: bool) -> None:
    live = phone.live()
    want = held_now(data_dir, now, paused_by_hand)
    assert [(c.start, c.end) for c in live] == want.ahead
    past = phone.past(f"icecycle-{want.cycle_id}-")
    assert [(c.start, c.end, c.summary) for c in past] == want.past
    assert all(not c.alarms for c in past)  # over: nothing rings for it
    assert len(phone.alarm_events()) == want.alarm
    for c in live:
        in_progress = c.start <= now < c.end
        # The one under way rings only to take the ice off; the rest at start and end.
        assert c.alarms == ((c.end,) if in_progress else (c.start, c.end))
        assert all(a > now for a in c.alarms)  # nothing rings for a moment already past


class Driver:
    """The command line in-process, against a fake clock and its own data folder."""

    def __init__(self, root: Path, quiet: bool = False) -> None:
        self.root = root
        self.clock = FakeClock()
        self.data_dir = root / "data"
        config = root / "config.toml"
        if quiet:
            config.write_text('quiet_hours = "23:00-07:00"\n')
        self.env = {"ICECYCLE_DATA_DIR": str(self.data_dir), "ICECYCLE_CONFIG": str(config)}
        self.phone = Phone()
        self.paused_by_hand = False
        self.exports = 0

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(list(argv), clock=self.clock, out=out, err=err, env=self.env)
        assert "unexpected" not in err.getvalue() and "Traceback" not in err.getvalue()
        return code, out.getvalue(), err.getvalue()

    def act(self, *argv: str) -> int:
        code = self.run(*argv)[0]
        assert code in (0, 1), argv
        if code == 0 and argv[0] in ("pause", "resume", "on", "start", "stop"):
            self.paused_by_hand = argv[0] == "pause"
        return code

    def export(self, imported: bool = True) -> str:
        self.exports += 1
        path = self.root / f"export-{self.exports}.ics"
        code, out, err = self.run("export", str(path))
        if code == 1:  # nothing ever started: nothing to say
            assert "nothing to export" in err and not path.exists()
            return err
        assert code == 0, err
        if imported:
            self.phone.import_file(path)
            check(self.phone, self.data_dir, self.clock.now(), self.paused_by_hand)
        return out


def test_replay_pause_resume_new_start_stop(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.act("start")
    out = d.export()
    assert out.startswith("Wrote 37 upcoming sessions") and "session under way" in out
    assert len(d.phone.live()) == 38
    d.clock.advance(minutes=30)
    d.act("ack")  # the first take-it-off answered (else it would hold the schedule)

    d.clock.set(T0.replace(hour=23))  # overnight pause
    d.act("ack")  # the first session's take-it-off alarm, answered (else it holds all)
    d.act("pause")
    out = d.export()
    assert "The cycle is paused" in out and "your phone stays quiet" in out
    assert "After `icecycle resume`, export and import again" in out
    assert d.phone.live() == []  # no alarm inside the pause

    d.clock.set(T0.replace(hour=7) + timedelta(days=1))
    d.act("resume")
    d.export()
    live = d.phone.live()
    assert live and live[0].start >= d.clock.now()
    assert all(c.seq > 0 for c in live)  # moved and brought back: a higher SEQUENCE
    # Fewer sessions fit after the night: the tail was withdrawn, not left to ring.
    assert len(d.phone.events) > len(live)

    d.clock.advance(hours=2)
    d.act("start", "--force")
    out = d.export()
    assert "withdraws" in out
    uids = {u for u, c in d.phone.events.items() if c.status != "CANCELLED" and c.alarms}
    assert uids and all(u.startswith("icecycle-2-") for u in uids)  # the new cycle only
    assert d.phone.past("icecycle-1-")  # the old cycle's sessions stay as they happened

    d.clock.advance(minutes=10)
    assert d.act("stop") == 1  # the alarm carried over is unanswered: answered first
    d.act("ack")
    assert d.act("stop") == 0
    out = d.export()
    assert out.startswith("No cycle is running") and "withdraws the" in out
    assert d.phone.live() == []


def test_a_late_import_of_only_the_last_export_converges_too(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    late = Phone()
    d.act("start")
    d.export()
    late.import_file(d.root / "export-1.ics")
    d.clock.advance(hours=5)
    d.act("pause")
    d.export(imported=False)
    d.clock.advance(hours=9)
    d.act("resume")
    d.export(imported=False)
    d.clock.advance(hours=1)
    d.act("start", "--force")
    d.export()
    late.import_file(d.root / f"export-{d.exports}.ics")
    check(late, d.data_dir, d.clock.now(), False)
    assert late.live() == d.phone.live()


def test_the_session_under_way_is_exported_with_its_take_it_off_alarm(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.act("start")
    d.clock.advance(minutes=10)
    d.export()
    first = d.phone.live()[0]
    assert first.start == T0 and first.alarms == (T0 + timedelta(minutes=25),)
    d.clock.advance(minutes=5)
    d.act("off")  # taken off early: the phone must not ring for it any more
    d.export()
    assert d.phone.live()[0].start > d.clock.now()
    over = d.phone.events["icecycle-1-1@icecycle"]  # kept as it happened, not cancelled
    assert over.status == "CONFIRMED" and over.summary == "Ice session done" and not over.alarms
    assert over.end == d.clock.now()


def test_an_unanswered_alarm_holds_the_phone_too(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.act("start")
    d.clock.advance(minutes=30)  # the session ended by the clock; nobody said the ice is off
    out = d.export()
    assert out.startswith("The take-it-off alarm is unanswered")
    assert d.phone.live() == []  # no ice while it is open
    (alarm,) = d.phone.alarm_events()
    assert alarm.start == d.clock.now() and alarm.alarms == (d.clock.now(),)
    d.clock.advance(minutes=1)
    d.export()
    assert d.phone.alarm_events() == [alarm]  # the same event: it rings once, not per export
    d.act("ack")
    d.export()
    assert d.phone.alarm_events() == [] and d.phone.live()
    assert d.phone.live()[0].start > d.clock.now()  # (a whole rest from the answer, with i18)


def test_quiet_hours_keep_the_sessions_after_them(tmp_path: Path) -> None:
    d = Driver(tmp_path, quiet=True)
    d.act("start")
    d.act("off")  # the first session, ended by hand: no alarm holds the schedule
    d.clock.set(T0.replace(hour=23, minute=30))  # paused by the quiet hours, not by hand
    out = d.export()
    assert out.startswith("Wrote")
    live = d.phone.live()
    assert live and live[0].start >= T0.replace(hour=7) + timedelta(days=1)


def test_a_finished_cycle_still_writes_a_valid_calendar(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.act("start", "--window", "2h")
    d.clock.advance(minutes=26)
    d.act("ack")
    d.clock.advance(hours=3)
    out = d.export()
    assert out.startswith("The cycle's window is over")
    cal = Calendar.from_ical((d.root / "export-1.ics").read_bytes())
    events = cal.walk("VEVENT")
    assert events and all(str(e["summary"]).startswith("Ice session") for e in events)
    assert not any(e.walk("VALARM") for e in events)  # over: kept as they happened


def test_an_empty_export_is_not_titled_like_an_ice_session(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.act("start")
    d.act("skip")  # skipped in the instant it began: no session happened
    d.act("stop")
    d.export()
    events = Calendar.from_ical((d.root / "export-1.ics").read_bytes()).walk("VEVENT")
    assert len(events) == 1 and str(events[0]["status"]) == "CANCELLED"
    assert str(events[0]["summary"]) not in set(TITLES.values()) - {TITLES["placeholder"]}
    assert "session" not in str(events[0]["summary"]).lower()  # calcurse ignores STATUS


def test_an_unchanged_export_changes_nothing(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.act("start")
    d.export()
    first = (d.root / "export-1.ics").read_bytes()
    d.export()
    assert (d.root / "export-2.ics").read_bytes() == first  # same SEQUENCE, same DTSTAMP
    store = Store.open(d.data_dir, create=False)
    assert store is not None
    kinds = [e.kind for e in store.events(1)]
    store.close()
    assert kinds.count("exported") == 1  # nothing new to remember


def test_a_failed_write_remembers_nothing(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.act("start")
    code, _, err = d.run("export", str(tmp_path / "missing" / "x.ics"))
    assert code == 1 and err.count("\n") == 1 and "cannot write" in err
    store = Store.open(d.data_dir, create=False)
    assert store is not None
    assert "exported" not in [e.kind for e in store.events(1)]
    store.close()


ACTIONS = [
    "start",
    "start --force",
    "on",
    "off",
    "skip",
    "pause",
    "resume",
    "stop",
    "ack",
    "export",
    "export",
    "export (not imported)",
]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    quiet=st.booleans(),
    window=st.sampled_from(["3h", "12h", "72h"]),
    steps=st.lists(
        st.tuples(
            st.sampled_from(ACTIONS),
            st.one_of(st.integers(0, 130), st.integers(0, 14 * 60)),  # minutes, or a night
        ),
        max_size=20,
    ),
)
def test_replay_converges_over_random_actions(quiet: bool, window: str, steps) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Driver(Path(tmp), quiet=quiet)
        d.act("start", "--window", window)
        for action, minutes in steps:
            d.clock.advance(minutes=minutes)
            if action.startswith("export"):
                d.export(imported="not" not in action)
            elif action.startswith("start"):
                d.act(*action.split(), "--window", window)
            else:
                d.act(action)
        d.clock.advance(minutes=1)
        d.export()


# -- independent parsers -----------------------------------------------------------------


def _by_icalendar(data: bytes) -> dict[str, tuple]:
    out = {}
    for ev in Calendar.from_ical(data).walk("VEVENT"):
        start = ev.decoded("dtstart")
        alarms = sorted(start + a.decoded("trigger") for a in ev.walk("VALARM"))
        out[str(ev["uid"])] = (start, ev.decoded("dtend"), str(ev["status"]), alarms)
    return out


def _by_vobject(data: bytes) -> dict[str, tuple]:
    vobject = pytest.importorskip("vobject")
    out = {}
    for ev in vobject.readOne(data.decode()).vevent_list:
        start = ev.dtstart.value
        alarms = sorted(start + a.trigger.value for a in ev.contents.get("valarm", []))
        out[ev.uid.value] = (start, ev.dtend.value, ev.status.value, alarms)
    return out


def _by_ics_py(data: bytes) -> dict[str, tuple]:
    ics = pytest.importorskip("ics")
    out = {}
    for ev in ics.Calendar(data.decode()).events:
        start = ev.begin.datetime
        alarms = sorted(start + a.trigger for a in ev.alarms)
        out[ev.uid] = (start, ev.end.datetime, ev.status, alarms)
    return out


def test_three_parsers_read_the_same_events_and_alarm_times(tmp_path: Path) -> None:
    d = Driver(tmp_path)
    d.act("start", "--window", "12h")
    d.export()
    d.clock.advance(minutes=30)
    d.act("ack")
    d.clock.advance(hours=2, minutes=30)
    d.act("pause")
    d.clock.advance(hours=2)
    d.act("resume")
    d.clock.advance(minutes=10)  # resumed with ice on: this session is under way
    d.export()
    data = (d.root / "export-2.ics").read_bytes()
    ours = _by_icalendar(data)
    statuses = {v[2] for v in ours.values()}
    assert statuses == {"CONFIRMED", "CANCELLED"}
    assert any(len(v[3]) == 1 for v in ours.values())  # the one under way
    assert _by_vobject(data) == ours
    assert _by_ics_py(data) == ours


def test_export_never_overwrites_someone_elses_file(run, tmp_path: Path) -> None:
    run("start")
    other = tmp_path / "mine.ics"
    other.write_text("BEGIN:VCALENDAR\nPRODID:-//someone//else//EN\nEND:VCALENDAR\n")
    before = other.read_bytes()
    r = run("export", str(other))
    assert r.code == 1 and "was not written by icecycle" in r.err and other.read_bytes() == before
    assert run("export", str(other), "--force").code == 0
    assert PRODID.encode() in other.read_bytes()
    assert run("export", str(other)).code == 0  # ours now: replaced freely


def test_export_without_a_cycle(run, tmp_path: Path) -> None:
    r = run("export", str(tmp_path / "x.ics"))
    assert r.code == 1 and "nothing to export" in r.err
    assert not (tmp_path / "x.ics").exists()
