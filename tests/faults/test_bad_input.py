"""Bad command lines: each one exit 2 and one clear line on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

BAD = [
    # durations
    (["start", "--on", "25x"], "is not a duration"),
    (["start", "--on", ""], "is not a duration"),
    (["start", "--on", "-5m"], "expected one argument"),
    (["start", "--for"], "unrecognized arguments"),
    (["start", "--on", "1.5h30m"], "is not a duration"),
    (["start", "--on", "2.5h"], "out of range"),
    (["start", "--on", "0"], "out of range"),
    (["start", "--on", "0s"], "out of range"),
    (["start", "--on", "3h"], "out of range"),
    (["start", "--on", "121"], "out of range"),
    (["start", "--off", "25h"], "out of range"),
    (["start", "--off", "0m"], "out of range"),
    (["start", "--off", "m"], "is not a duration"),
    (["start", "--window", "4s"], "out of range"),
    (["start", "--window", "8d"], "out of range"),
    (["start", "--window", "169"], "out of range"),
    (["start", "--window", "h72"], "is not a duration"),
    (["start", "--window", "72 hourz"], "is not a duration"),
    (["start", "--window", "2w"], "--window takes 5s to 7d, e.g. 72h or 2d"),
    (["start", "--since", "3 fortnights ago"], "is not a time"),
    (["start", "--since", "9999999d ago"], "is too long ago"),
    (["start", "--on", "9" * 400], "is not a duration"),
    (["start", "--on", "25m" * 300], "is not a duration"),
    (["start", "--on", "²"], "is not a duration"),
    (["start", "--on", "25\u200bm"], "is not a duration"),
    # times
    (["start", "--since", "tomorrow"], "is not a time"),
    (["start", "--since", "25:00"], "is not a clock time"),
    (["start", "--since", "12:60"], "is not a clock time"),
    (["start", "--since", "3 ago"], "is not a time"),
    (["start", "--since", "ago"], "is not a time"),
    (["start", "--since", "2099-01-01T00:00"], "is in the future"),
    (["start", "--since", "2020-01-01T00:00"], "window would already be over"),
    (["start", "--since", "4d ago"], "window would already be over"),
    (["start", "--since", "2h ago", "--window", "1h"], "window would already be over"),
    (["start", "--since", "2026-13-45"], "is not a time"),
    (["start", "--since", "x" * 5000], "is not a time"),
    (["start", "--since", "\x00"], "is not a time"),
    # commands and flags
    (["frobnicate"], "invalid choice"),
    (["Status"], "invalid choice"),
    (["status", "--jsn"], "unrecognized arguments"),
    (["status", "extra"], "unrecognized arguments"),
    (["start", "--on"], "expected one argument"),
    (["start", "--force", "--force", "--bogus"], "unrecognized arguments"),
    (["on", "now"], "unrecognized arguments"),
    (["history", "--json", "--table"], "unrecognized arguments"),
    (["--data-dir"], "expected one argument"),
    (["--versio"], "unrecognized arguments"),
    (["-x"], "unrecognized arguments"),
    (["start", "--since"], "expected one argument"),
    (["pause", "--for", "1h"], "unrecognized arguments"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a)[:40] for a, _ in BAD])
def test_bad_command_line(run, argv, message) -> None:
    r = run(*argv)
    assert r.code == 2, (argv, r.err)
    assert r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith("icecycle: error: ")
    assert message in r.err and "Traceback" not in r.err
    assert len(r.err) < 400  # a very long input is shortened in the message


def test_at_least_forty_bad_inputs() -> None:
    assert len(BAD) >= 40


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"25\xc3m", b"\xe2\x82", b"--on=\xff"])
def test_non_utf8_bytes(raw: bytes) -> None:
    argv = [b"start", b"--on", raw] if not raw.startswith(b"--") else [b"start", raw]
    r = subprocess.run([sys.executable, "-m", "icecycle", *argv], capture_output=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.count(b"\n") == 1 and b"Traceback" not in r.stderr
    assert r.stderr.startswith(b"icecycle: error: ")
