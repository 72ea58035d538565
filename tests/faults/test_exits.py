"""How commands end: signals, Ctrl-C, a full or closed output, POSIX time zones, and the
small refusals; each says one line and exits by what it did."""

from __future__ import annotations

import errno
import io
import json
import os
import pty
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from icecycle import cli
from icecycle.store import DB_NAME

from ..conftest import FakeClock


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err and "unexpected" not in err


# -- finding 8: POSIX TZ strings --------------------------------------------------------


@pytest.mark.parametrize("posix", ["JST-9", "UTC0", "CET-1CEST,M3.5.0,M10.5.0/3"])
def test_quiet_hours_under_a_posix_tz(run, data_dir, tmp_path, monkeypatch, posix) -> None:
    config = tmp_path / "config.toml"
    config.write_text('quiet_hours = "23:00-07:00"\n')
    monkeypatch.setenv("ICECYCLE_CONFIG", str(config))
    monkeypatch.setenv("TZ", posix)
    time.tzset()
    r = run("start")
    assert r.code == 0, r.err
    assert run("status").code == 0
    monkeypatch.setenv("TZ", "UTC")  # and later, with another TZ (or none)
    time.tzset()
    for argv in (["status"], ["history"], ["pause"]):
        r = run(*argv)
        assert r.code == 0, (argv, r.err)
    with sqlite3.connect(data_dir / DB_NAME) as conn:
        [data] = conn.execute("SELECT data FROM events WHERE kind = 'started'").fetchone()
    assert json.loads(data) == {"quiet_hours": "23:00-07:00", "tz": None}  # not a zone name


def test_a_damaged_zone_in_stored_data_leaves_the_database_usable(run, data_dir) -> None:
    assert run("start").code == 0
    with sqlite3.connect(data_dir / DB_NAME) as conn:
        conn.execute(
            "INSERT INTO events (cycle_id, kind, at, data) VALUES (1, 'quiet', ?, ?)",
            ("2026-11-25T10:00:01+00:00", '{"quiet_hours": "23:00-07:00", "tz": "JST-9"}'),
        )
    for argv in (["status"], ["status", "--json"], ["history"], ["pause"]):
        r = run(*argv)
        assert r.code == 0, (argv, r.err)


# -- finding 11: exit by what was done, whatever happens to the output -----------------


class FullOutput(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def run_into(stream: io.StringIO, clock: FakeClock, *argv: str) -> tuple[int, str]:
    err = io.StringIO()
    return cli.main(list(argv), clock=clock, out=stream, err=err), err.getvalue()


def test_a_full_stdout_after_a_committed_write_still_exits_0(run, clock, data_dir) -> None:
    assert run("start").code == 0
    code, err = run_into(FullOutput(), clock, "pain", "9")
    assert code == 0 and one_line(err) and "saved" in err
    with sqlite3.connect(data_dir / DB_NAME) as conn:
        assert conn.execute("SELECT data FROM events WHERE kind = 'pain'").fetchall() == [("9",)]


def test_a_full_stdout_for_a_read_says_so_in_one_line(run, clock) -> None:
    assert run("start").code == 0
    code, err = run_into(FullOutput(), clock, "history")
    assert code == 1 and one_line(err) and "cannot write the output" in err


def test_ctrl_c_says_one_line_and_after_a_committed_write_exits_0(
    run, clock, data_dir, monkeypatch
) -> None:
    assert run("start").code == 0

    def interrupted(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.formats, "format_status", interrupted)
    r = run("status", "--format", "{state}")
    assert r.code == 130 and r.err == "icecycle: interrupted; nothing was changed\n"
    monkeypatch.setattr(cli.text, "pain_noted", interrupted)  # right after the pain is stored
    r = run("pain", "4")
    assert r.code == 0 and r.err == ""
    with sqlite3.connect(data_dir / DB_NAME) as conn:
        assert conn.execute("SELECT data FROM events WHERE kind = 'pain'").fetchall() == [("4",)]


@pytest.mark.parametrize(
    ("argv", "code", "words"),
    [
        (["start", "--since", "0001-01-01T00:00"], 2, "too far"),
        (["start", "--since", "9999-12-31T23:59-05:00"], 2, "too far"),
        (["--data-dir", "", "status"], 2, "--data-dir"),
        (["status", "--data-dir", ""], 2, "--data-dir"),
    ],
)
def test_small_refusals_are_one_line(run, argv, code, words) -> None:
    r = run(*argv)
    assert r.code == code and one_line(r.err) and words in r.err, r.err


def test_config_init_where_it_cannot_write(run, tmp_path, monkeypatch) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("ICECYCLE_CONFIG", str(tmp_path / "a-file" / "config.toml"))
    r = run("config", "--init")
    assert r.code == 1 and one_line(r.err) and "cannot write" in r.err

    def refuse(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setenv("ICECYCLE_CONFIG", str(tmp_path / "ro" / "config.toml"))
    monkeypatch.setattr("icecycle.config.os.makedirs", refuse)
    r = run("config", "--init")
    assert r.code == 1 and one_line(r.err) and "Permission denied" in r.err


@pytest.mark.parametrize("mode", [0o620, 0o602])
def test_a_config_naming_a_command_must_be_yours_alone(run, tmp_path, monkeypatch, mode) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[hooks]\non_change = ["notify-phone"]\n')
    config.chmod(mode)
    monkeypatch.setenv("ICECYCLE_CONFIG", str(config))
    r = run("config")  # the hook is not run, and says why; the rest goes on
    assert r.code == 0 and "chmod go-w" in r.out
    assert any(line.split()[:3] == ["hooks.on_change", "none", "(default:"] for line in r.lines)
    config.chmod(0o600)
    r = run("config")
    assert r.code == 0 and "notify-phone" in r.out and "chmod" not in r.out


def test_a_nul_in_a_hook_is_refused_by_the_config_check(run, tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[hooks]\non_change = ["sh", "-c", "echo \\u0000"]\n')
    config.chmod(0o600)
    monkeypatch.setenv("ICECYCLE_CONFIG", str(config))
    r = run("config")
    assert r.code == 0 and "NUL" in r.out and r.err == ""


def test_notify_test_without_any_backend_says_what_to_install(run, tmp_path, monkeypatch) -> None:
    pytest.importorskip("plyer")
    try:
        import dbus  # noqa: F401

        pytest.skip("dbus-python is installed here")
    except ImportError:
        pass
    monkeypatch.setenv("PATH", str(tmp_path))  # no notify-send
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    r = run("notify-test")
    assert r.code == 1
    assert "NotImplementedError" not in r.out + r.err
    try:
        import jeepney  # noqa: F401  (Linux: icecycle speaks D-Bus itself, no plyer backend)
    except ImportError:
        assert "install" in r.out and "notify-send" in r.out and "dbus-python" in r.out
    else:
        assert "no D-Bus session bus" in r.out and len(r.out.splitlines()) == 1


# -- findings 2 and 11: SIGHUP and SIGTERM stop the daemon and the dashboard cleanly ---


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ICECYCLE_DATA_DIR": str(data_dir),
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }


def test_the_daemon_with_stderr_closed_stops_cleanly_on_sighup(run, data_dir) -> None:
    assert run("start").code == 0
    daemon = subprocess.Popen(
        ["sh", "-c", f"exec {sys.executable} -m icecycle daemon 2>&-"], env=_env(data_dir)
    )
    try:
        deadline = time.monotonic() + 15
        with sqlite3.connect(data_dir / DB_NAME) as conn:  # started: it has claimed "on"
            while not conn.execute("SELECT count(*) FROM notifications").fetchone()[0]:
                assert daemon.poll() is None, "the daemon died"
                assert time.monotonic() < deadline
                time.sleep(0.1)
        daemon.send_signal(signal.SIGHUP)
        assert daemon.wait(10) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()


def test_the_dashboard_restores_the_terminal_on_sigterm(run, data_dir) -> None:
    assert run("start").code == 0
    main, child = pty.openpty()
    env = {**_env(data_dir), "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    app = subprocess.Popen(
        [sys.executable, "-m", "icecycle"],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        start_new_session=True,
    )
    os.close(child)
    seen = b""

    def read_until(what: bytes, limit: float) -> bool:
        nonlocal seen
        deadline = time.monotonic() + limit
        while what not in seen and time.monotonic() < deadline:
            if select.select([main], [], [], 0.1)[0]:
                try:
                    seen += os.read(main, 65536)
                except OSError:  # the other end closed
                    return what in seen
        return what in seen

    try:
        assert read_until(b"Window", 20), seen[-300:]  # the dashboard is up
        mark = len(seen)
        app.send_signal(signal.SIGTERM)
        assert app.wait(10) == 0
        read_until(b"\x1b[?1049l", 2)
        after = seen[mark:]
        assert b"\x1b[?1049l" in after  # back from the alternate screen
        assert b"\x1b[?1000l" in after  # mouse reporting off
    finally:
        if app.poll() is None:
            app.kill()
        os.close(main)
