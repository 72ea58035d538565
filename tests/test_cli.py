"""The command line, in-process with a fake clock and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from icecycle.store import DB_NAME


def test_no_cycle(run) -> None:
    r = run("status")
    assert r.code == 0 and "No cycle is running" in r.out
    r = run("status", "--json")
    doc = json.loads(r.out)
    assert doc["state"] == "idle" and doc["phase"] is None and doc["window"] is None
    assert doc["settings"] is None


def test_start_then_status(run, clock) -> None:
    r = run("start", "--since", "2h ago")
    assert r.code == 0, r.err
    assert r.out.startswith("Started: ice on now, off at 10:25") and "towel" in r.out
    clock.advance(minutes=13)
    r = run("status")
    assert r.lines == [
        "Ice on: 12m 00s left, off at 10:25. Keep a thin towel between the ice pack and your skin.",
        "Next change: ice off at 10:25",
        "Window: 69h 47m left, ends Sat 28 Nov 08:00",
        "Sessions: 0 done (0 confirmed) · 0 missed · 0 skipped · 37 left",
    ]


def test_status_json_has_exactly_the_documented_keys(run, clock) -> None:
    run("start", "--since", "2h ago")
    clock.advance(minutes=30)
    doc = json.loads(run("status", "--json").out)
    assert set(doc) == {
        "state",
        "now",
        "phase",
        "next_change",
        "window",
        "sessions",
        "settings",
        "alarm",  # added by issue 10: when the ice should have come off, if unanswered
        "alarm_session",  # issue 18: the session that alarm belongs to
        "held",  # issue 18: while it holds the schedule, since when
    }
    assert doc["alarm_session"] == {
        "start": "2026-11-25T10:00:00+00:00",
        "ended": "2026-11-25T10:25:00+00:00",
    }
    assert doc["held"] is None
    assert doc["alarm"] == "2026-11-25T10:25:00+00:00"
    assert set(doc["phase"]) == {"kind", "started", "ends", "remaining_s"}
    assert set(doc["window"]) == {"start", "end", "length_s", "elapsed_s", "remaining_s"}
    assert doc["state"] == "off" and doc["phase"]["remaining_s"] == 85 * 60
    assert doc["window"] == {
        "start": "2026-11-25T08:00:00+00:00",
        "end": "2026-11-28T08:00:00+00:00",
        "length_s": 259200,
        "elapsed_s": 9000,
        "remaining_s": 250200,
    }
    # `start` put that session on (so it is not missed, though nobody confirmed it).
    assert doc["sessions"] == {"done": 1, "confirmed": 0, "skipped": 0, "missed": 0, "left": 36}

    assert doc["settings"] == {"on_s": 1500, "off_s": 5400, "window_s": 259200}
    assert doc["next_change"] == "2026-11-25T11:55:00+00:00"


def test_every_action_confirms_in_one_line(run, clock) -> None:
    run("start")
    steps = [
        ("ack", "Confirmed: ice is on"),
        ("off", "Ice off; that session counts as done. Next session at 11:40 (in 1h 30m)."),
        (
            "skip",
            "The 11:40 session is skipped; the rest runs on. Next session at 13:35 (in 3h 20m).",
        ),
        ("on", "Ice on until 10:40."),
        ("skip", "Session skipped; rest as usual. Next session at 11:50 (in 1h 30m)."),
        ("pause", "Paused: no reminders until you resume (`icecycle resume`)."),
        ("resume", "Resumed: rest still owed until 11:50, then ice on."),
        ("stop", "Stopped the cycle (1 done (1 confirmed) · 0 missed · 2 skipped · 0 left)"),
    ]
    for i, (command, expected) in enumerate(steps):
        clock.advance(minutes=5 if i != 3 else 0)
        r = run(command)
        assert r.code == 0, (command, r.err)
        assert len(r.lines) == 1 and expected.split(" (1 done")[0] in r.out
    assert json.loads(run("status", "--json").out)["state"] == "idle"


def test_on_too_soon_warns_but_obeys(run, clock) -> None:
    run("start")
    clock.advance(minutes=30)
    r = run("on")
    assert r.code == 0
    assert r.err.strip() == (
        "icecycle: warning: the ice came off only 5m 00s ago; "
        "1h 25m of the 1h30m rest was still owed"
    )


@pytest.mark.parametrize(
    ("setup", "command", "message"),
    [
        ([], "on", "cannot put the ice on now: no cycle is running; `icecycle start` begins one"),
        ([], "pause", "no cycle is running"),
        (["start"], "on", "cannot put the ice on now: ice is on until 10:25"),
        (["start"], "resume", "cannot resume now: ice is on until 10:25"),
        (["start", "pause"], "pause", "cannot pause now: the cycle is paused (and the ice"),
        (["start", "pause", "ack"], "pause", "the cycle is paused; `icecycle resume` resumes"),
        (["start", "pause", "ack"], "off", "cannot take the ice off now: the cycle is paused"),
        # Someone taking the ice off is never told to put it on (issue 10, finding 6).
        (
            ["start", "off"],
            "off",
            "cannot take the ice off now: ice is off; the rest lasts until 11:30; "
            "`icecycle skip` skips the next session",
        ),
        (["start", "ack"], "ack", "nothing to acknowledge now: ice is on until 10:25"),
        (["start", "off"], "ack", "nothing to acknowledge now: ice is off"),
        (
            ["start"],
            "start",
            "a cycle is already running (ice is on until 10:25); `icecycle start --force`",
        ),
    ],
)
def test_refusals_exit_1_with_one_line(run, setup, command, message) -> None:
    for step in setup:
        assert run(step).code == 0
    r = run(command)
    assert r.code == 1 and r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith("icecycle: error: ")
    assert message in r.err


def test_start_force_replaces_and_done_cycle_needs_no_force(run, clock) -> None:
    assert run("start", "--on", "2s", "--window", "10s").code == 0
    assert run("start", "--force").code == 0
    assert len(json.loads(run("history", "--json").out)["cycles"]) == 2
    run("start", "--force", "--on", "2s", "--window", "10s")
    clock.advance(11)
    assert json.loads(run("status", "--json").out)["state"] == "done"
    assert run("start").code == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["start", "--on", "25x"],
            "argument --on: '25x' is not a duration; --on takes 1s to 2h, e.g. 25m",
        ),
        (["start", "--on", "3h"], "'3h' is out of range; --on takes 1s to 2h"),
        (["start", "--on", "0s"], "--on takes 1s to 2h"),
        (["start", "--off", "25h"], "--off takes 1s to 24h"),
        (["start", "--window", "4s"], "--window takes 5s to 7d, e.g. 72h or 2d"),
        (["start", "--window", "8d"], "--window takes 5s to 7d, e.g. 72h or 2d"),
        (["start", "--since", "tomorrow"], "'tomorrow' is not a time"),
        (["start", "--since", "2026-11-26T10:00"], "is in the future"),
        (["start", "--since", "4d ago"], "window would already be over"),
        (["start", "--since", "2h ago", "--window", "1h"], "window would already be over"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["status", "--jsn"], "unrecognized arguments: --jsn"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(run, argv, message, data_dir: Path) -> None:
    r = run(*argv)
    assert r.code == 2 and r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith("icecycle: error: ")
    assert message in r.err
    assert not (data_dir / DB_NAME).exists()  # a refused start writes nothing


def test_long_ice_warns(run) -> None:
    r = run("start", "--on", "45m")
    assert r.code == 0 and "warning: 45m of ice at a time is longer than the usual 25" in r.err


def test_history_table_and_json(run, clock) -> None:
    run("start", "--on", "1m", "--off", "1m", "--window", "10m")
    clock.advance(minutes=1, seconds=30)
    run("ack")  # answered before the next session: the schedule is not held
    clock.advance(minutes=1)
    assert run("skip").code == 0
    clock.advance(minutes=10)
    lines = run("history").lines
    assert lines[0].startswith("Cycle 1: from 10:00")
    assert lines[2].split() == ["1", "10:00", "10:01", "done"]
    assert lines[3].split() == ["2", "10:02", "10:02", "skipped"]
    # After the skip at 10:02:30, sessions at 10:03:30, 10:05:30 and 10:07:30; one at
    # 10:09:30 would not fit before the window ends at 10:10, so the window ends in rest.
    # Nothing was running to alert for those three and nobody acted: missed.
    assert lines[4].split()[-4:] == ["missed", "passed", "while", "closed"]
    assert lines[-1] == "  Totals: 1 done (0 confirmed) · 3 missed · 1 skipped · 0 left"
    doc = json.loads(run("history", "--json").out)["cycles"][0]
    assert [s["status"] for s in doc["sessions"]] == ["done", "skipped"] + ["missed"] * 3
    assert doc["sessions"][-1]["end"] == "2026-11-25T10:08:30+00:00"
    assert doc["totals"] == {"done": 1, "confirmed": 0, "skipped": 1, "missed": 3, "left": 0}


def test_data_dir_flag_and_env_are_honoured(run, tmp_path: Path, monkeypatch) -> None:
    flag_dir, env_dir = tmp_path / "flag", tmp_path / "env"
    monkeypatch.setenv("ICECYCLE_DATA_DIR", str(env_dir))
    assert run("--data-dir", str(flag_dir), "start").code == 0
    assert (flag_dir / DB_NAME).exists() and not (env_dir / DB_NAME).exists()
    assert run("status", "--data-dir", str(flag_dir), "--json").out.count('"on"') >= 1
    assert run("start").code == 0
    assert (env_dir / DB_NAME).exists()


def test_new_data_dir_and_file_are_private(run, data_dir: Path) -> None:
    run("start")
    assert oct(data_dir.stat().st_mode & 0o777) == "0o700"
    assert oct((data_dir / DB_NAME).stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is not a database at all\n" * 40, "is not an SQLite database"),
        (b"", "is empty"),
        (b"SQLite format 3\x00" + b"\x10\x00" + b"\xff" * 200, "damaged"),
    ],
)
def test_a_bad_database_file_is_left_untouched(run, data_dir: Path, content, message) -> None:
    data_dir.mkdir()
    db = data_dir / DB_NAME
    db.write_bytes(content)
    for argv in (["status"], ["start", "--force"], ["on"], ["history"]):
        r = run(*argv)
        assert r.code == 1, argv
        assert r.err.count("\n") == 1 and str(db) in r.err and message in r.err
        assert "Traceback" not in r.err
    assert db.read_bytes() == content


def test_a_database_from_a_newer_icecycle_is_refused(run, data_dir: Path) -> None:
    run("start")
    import sqlite3

    conn = sqlite3.connect(data_dir / DB_NAME)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    before = (data_dir / DB_NAME).read_bytes()
    r = run("status")
    assert r.code == 1 and "written by a newer icecycle (schema 99" in r.err
    assert (data_dir / DB_NAME).read_bytes() == before


def test_a_data_dir_that_is_a_file(run, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    r = run("--data-dir", str(blocker / "sub"), "start")
    assert r.code == 1 and str(blocker) in r.err and r.err.count("\n") == 1


# -- as a real program ----------------------------------------------------------------


def icecycle(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "icecycle", *argv],
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=60,
    )


def test_version_and_help() -> None:
    r = icecycle("--version")
    assert r.returncode == 0 and r.stdout.startswith("icecycle 0.")
    r = icecycle("--help")
    assert r.returncode == 0 and "status" in r.stdout and "not a doctor" in r.stdout


def test_a_short_cycle_moves_on_its_own_with_nothing_running() -> None:
    """start --on 2s --off 3s --window 12s, then ask: on -> off -> on -> ... -> done."""
    assert icecycle("start", "--on", "2s", "--off", "3s", "--window", "12s").returncode == 0
    t0 = time.monotonic()
    seen = []
    while time.monotonic() - t0 < 14:
        doc = json.loads(icecycle("status", "--json").stdout)
        if not seen or seen[-1] != doc["state"]:
            seen.append(doc["state"])
            if seen == ["on", "off"]:  # the first session's alarm, answered in its rest
                assert icecycle("ack").returncode == 0
        if doc["state"] == "done":
            break
        time.sleep(0.2)
    assert seen == ["on", "off", "on", "off", "on", "done"]  # 0-2 on, 2-5 off, 5-7 on, ...


def test_non_utf8_argument_is_one_line_error() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "icecycle", "start", "--on", b"\xff\xfe"],
        capture_output=True,
        timeout=60,
    )
    assert r.returncode == 2 and r.stderr.count(b"\n") == 1 and b"not a duration" in r.stderr


def test_status_format_for_prompts(run, clock) -> None:
    assert run("status", "--format", "{phase}").out == "idle\n"
    run("start", "--since", "2h ago")
    clock.advance(minutes=3, seconds=29, microseconds=500_000)
    r = run("status", "--format", "{state} {phase_remaining} until {phase_ends}, {left} left")
    assert r.out == "on 21:31 until 10:25, 37 left\n"
    assert run("status", "--format", "{window_remaining} / {window_ends}").out == (
        "69h 56m / Sat 28 Nov 08:00\n"
    )
    r = run("status", "--format", "{nope}")
    assert r.code == 2 and "unknown field 'nope'; fields are state, phase" in r.err


def test_status_waybar(run, clock) -> None:
    run("start")
    clock.advance(minutes=30)
    doc = json.loads(run("status", "--waybar").out)
    # The session ended at 10:25 and nobody has said the ice is off: the bar shouts.
    assert doc["text"] == "TAKE THE ICE OFF" and doc["class"] == ["urgent", "off"]
    assert run("ack").code == 0
    doc = json.loads(run("status", "--waybar").out)
    assert doc["text"] == "REST 1h 25m" and doc["class"] == "off" and doc["alt"] == "off"
    assert doc["tooltip"].splitlines()[0] == "Ice off (rest): 1h 25m left, next session at 11:55."
    r = run("status", "--waybar", "--json")
    assert r.code == 2 and "not allowed with" in r.err


def test_status_fast_path_matches_argparse(run, clock) -> None:
    """The hand-parsed plain forms answer exactly as the full parser would."""
    from icecycle import cli

    run("start")
    for argv in (
        ["status"],
        ["status", "--json"],
        ["status", "--waybar"],
        ["status", "--format", "{state}"],
    ):
        fast = cli._fast_args(argv)
        full = cli.build_parser().parse_args(argv)
        assert fast is not None
        assert {k: getattr(fast, k) for k in ("command", "json", "waybar", "format")} == {
            k: getattr(full, k) for k in ("command", "json", "waybar", "format")
        }
