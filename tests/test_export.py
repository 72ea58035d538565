"""`icecycle export`: the .ics file read back with icalendar."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from icalendar import Calendar

from .conftest import T0


def parse(path: Path) -> list:
    cal = Calendar.from_ical(path.read_bytes())
    return [c for c in cal.walk("VEVENT")]


def test_export_sessions_with_alarms_and_stable_uids(run, clock, tmp_path: Path) -> None:
    run("start", "--since", "2h ago")  # 37 sessions; the first is under way
    out = tmp_path / "cycle.ics"
    r = run("export", str(out))
    assert r.code == 0 and r.out.startswith("Wrote 36 upcoming sessions")
    events = parse(out)
    assert len(events) == 36
    first = events[0]
    assert first.decoded("dtstart") == T0 + timedelta(minutes=115)
    assert first.decoded("dtend") - first.decoded("dtstart") == timedelta(minutes=25)
    assert str(first["summary"]) == "Ice on — towel between ice and skin"
    alarms = first.walk("VALARM")
    assert [str(a["action"]) for a in alarms] == ["DISPLAY", "DISPLAY"]
    assert alarms[0].decoded("trigger") == timedelta(0)
    assert alarms[1]["trigger"].params["RELATED"] == "END"
    uids = [str(e["uid"]) for e in events]
    assert len(set(uids)) == 36
    assert run("export", str(out)).code == 0  # exported again, unchanged: the same UIDs
    assert [str(e["uid"]) for e in parse(out)] == uids
    # After a pause the times move, and the same sessions keep their UIDs.
    clock.advance(minutes=5)
    run("pause")
    clock.advance(hours=3)
    run("resume")
    assert run("export", str(out)).code == 0
    again = parse(out)
    assert [str(e["uid"]) for e in again][:5] == [
        u for u in uids if u in {str(e["uid"]) for e in again}
    ][:5]
    assert again[0].decoded("dtstart") != first.decoded("dtstart")


def test_export_never_overwrites_someone_elses_file(run, tmp_path: Path) -> None:
    run("start")
    other = tmp_path / "mine.ics"
    other.write_text("BEGIN:VCALENDAR\nPRODID:-//someone//else//EN\nEND:VCALENDAR\n")
    before = other.read_bytes()
    r = run("export", str(other))
    assert r.code == 1 and "was not written by icecycle" in r.err and other.read_bytes() == before
    assert run("export", str(other), "--force").code == 0


def test_export_without_a_cycle(run, tmp_path: Path) -> None:
    r = run("export", str(tmp_path / "x.ics"))
    assert r.code == 1 and "no cycle is running" in r.err
