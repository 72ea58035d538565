"""`status --format` and `status --waybar` in every state, with bad templates and a damaged
database: always one line, and a template is text to fill in, never code to run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from icecycle.store import DB_NAME

ALL = "|".join(
    f"{{{f}}}"
    for f in (
        "state",
        "phase",
        "phase_remaining",
        "phase_ends",
        "next_change",
        "window_remaining",
        "window_ends",
        "done",
        "skipped",
        "left",
    )
)

# (name, steps: a command or minutes to wait, quiet hours?, --format ALL, Waybar text, tooltip's
# first line)
STATES = [
    ("idle", [], False, "idle|idle||||||0|0|0", "idle", "No cycle is running."),
    (
        "on",
        ["start", 10],
        False,
        "on|ICE ON|15:00|10:25|10:25|71h 50m|Sat 28 Nov 10:00|0|0|38",
        "ICE ON 15m",
        "Ice on: 15m left, off at 10:25.",
    ),
    (
        "off",
        ["start", 40, "ack"],  # (ack: the alarm at 10:25 is answered)
        False,
        "off|REST|1:15:00|11:55|11:55|71h 20m|Sat 28 Nov 10:00|1|0|37",
        "REST 1h 15m",
        "Ice off (rest): 1h 15m left, next session at 11:55.",
    ),
    (
        "paused",
        ["start", 40, "ack", "pause", 5],
        False,
        "paused|PAUSED||||71h 15m|Sat 28 Nov 10:00|1|0|37",
        "PAUSED",
        "Paused: reminders are off until you resume",
    ),
    (
        "quiet hours",
        ["start", 30, "ack", 13 * 60],
        True,
        # Quiet hours are a longer rest, not a pause (issue 10); the six sessions after the
        # first passed with nothing running: missed, so no late alarm either.
        "off|REST|7:30:00|Thu 26 Nov 07:00|Thu 26 Nov 07:00|58h 30m|Sat 28 Nov 10:00|1|0|20",
        "REST 7h 30m",
        "Quiet hours until Thu 26 Nov 07:00",
    ),
    (
        "done",
        ["start --window 2h", 30, "ack", 120],  # 11:55 would end after 12:00: not planned
        False,
        "done|DONE||||0m|12:00|1|0|0",
        "DONE",
        "Done: the window ended 12:00.",
    ),
    ("stopped", ["start", 10, "off", "stop"], False, "idle|idle||||||0|0|0", "idle", "No cycle"),
]


def _setup(run, clock, steps, quiet: bool) -> None:
    if quiet:
        Path(os.environ["ICECYCLE_CONFIG"]).write_text('quiet_hours = "23:00-07:00"\n')
    for step in steps:
        if isinstance(step, int):
            clock.advance(minutes=step)
        else:
            assert run(*step.split()).code == 0, step


@pytest.mark.parametrize(
    ("steps", "quiet", "line", "text", "tooltip"),
    [s[1:] for s in STATES],
    ids=[s[0] for s in STATES],
)
def test_every_state(run, clock, steps, quiet, line, text, tooltip) -> None:
    _setup(run, clock, steps, quiet)
    r = run("status", "--format", ALL)
    assert (r.code, r.out, r.err) == (0, line + "\n", "")
    r = run("status", "--waybar")
    assert r.code == 0 and r.err == "" and r.out.count("\n") == 1
    doc = json.loads(r.out)
    state = line.split("|")[0]
    assert doc["text"] == text and doc["alt"] == state
    classes = doc["class"] if isinstance(doc["class"], list) else [doc["class"]]
    assert state in classes and "error" not in classes
    assert doc["tooltip"].startswith(tooltip)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{phase.x}", "'{phase.x}' is not a field"),
        ("{done[0]}", "'{done[0]}' is not a field"),
        ("{phase.__class__}", "'{phase.__class__}' is not a field"),
        ("{state.__class__.__mro__}", "is not a field"),
        ("{}", "'{}' is not a field"),
        ("{0}", "'{0}' is not a field"),
        ("{nope}", "unknown field 'nope'; fields are state, phase"),
        ("{phase:>9999999999}", "too wide"),
        ("{phase:>201}", "too wide"),
        ("{done:.999}", "too wide"),
        ("{phase:{left}}", "cannot hold another field"),
        ("{phase!x}", "only !s and !r"),
        ("{done:s}", "Unknown format code 's'"),
        ("{phase:d}", "Unknown format code 'd'"),
        ("{", "Single '{'"),
        ("}", "Single '}'"),
    ],
)
@pytest.mark.parametrize("state", ["idle", "on"])
def test_bad_templates_are_refused_in_one_line(run, state, template, message) -> None:
    if state == "on":
        run("start")
    r = run("status", "--format", template)
    assert r.code == 2 and r.out == ""
    assert r.err.count("\n") == 1 and message in r.err, r.err
    assert "unexpected" not in r.err and "Traceback" not in r.err


@pytest.mark.parametrize(
    ("template", "out"),
    [
        ("{phase:>8}|", "  ICE ON|"),
        ("{left:03d} left", "038 left"),
        ("{phase!r}", "'ICE ON'"),
        ("{{literal}} {state}", "{literal} on"),
        ("{phase:.3}", "ICE"),
        ("{phase:*^200}", "*" * 97 + "ICE ON" + "*" * 97),
    ],
)
def test_ordinary_specs_still_work(run, template, out) -> None:
    run("start")
    r = run("status", "--format", template)
    assert (r.code, r.out) == (0, out + "\n")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"SQLite format 3\x00" + b"\x10\x00" + b"\xff" * 200, "is damaged"),
        (b"not a database\n" * 10, "is not an SQLite database"),
        (b"", "is empty"),
    ],
)
def test_a_damaged_database(run, data_dir: Path, content, reason) -> None:
    data_dir.mkdir()
    (data_dir / DB_NAME).write_bytes(content)
    # Waybar hides a module that fails or prints nothing: one JSON line, exit 0.
    r = run("status", "--waybar")
    assert r.code == 0 and r.out.count("\n") == 1
    doc = json.loads(r.out)
    assert doc["class"] == "error" and doc["alt"] == "error" and doc["text"]
    assert "\n" not in doc["tooltip"] and reason in doc["tooltip"]
    assert r.err.count("\n") == 1 and reason in r.err
    # The other forms fail as every command does: exit 1, one line, nothing on stdout.
    for argv in (["status", "--format", "{phase}"], ["status", "--json"], ["status"]):
        r = run(*argv)
        assert r.code == 1 and r.out == "" and r.err.count("\n") == 1 and reason in r.err
    # A bad template is still a bad template, whatever the database.
    r = run("status", "--format", "{phase.x}")
    assert r.code == 2 and "is not a field" in r.err
    assert (data_dir / DB_NAME).read_bytes() == content


def test_waybar_reports_an_unexpected_failure_too(run, monkeypatch) -> None:
    from icecycle import formats

    def broken(st):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(formats, "waybar", broken)
    r = run("status", "--waybar")
    doc = json.loads(r.out)
    assert r.code == 0 and doc["class"] == "error"
    assert doc["tooltip"].endswith("unexpected RuntimeError: boom second line (please report it)")
