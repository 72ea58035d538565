"""The systemd user unit: started with the desktop session, never in a restart loop."""

from __future__ import annotations

import configparser
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from icecycle import cli
from icecycle.store import DB_NAME

SYSTEMD = Path(__file__).parent.parent / "contrib" / "systemd"
UNIT = SYSTEMD / "icecycle.service"
TARGET = SYSTEMD / "icecycle-session.target"


def _read(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def test_the_unit_follows_the_graphical_session() -> None:
    unit = _read(UNIT)
    # PartOf stops it at logout; WantedBy the same target starts it again at the next login.
    assert unit["Install"]["WantedBy"] == "graphical-session.target"
    assert unit["Unit"]["PartOf"] == "graphical-session.target"
    assert "graphical-session.target" in unit["Unit"]["After"]
    assert unit["Service"]["ExecStart"].endswith("icecycle daemon")
    assert unit["Service"]["Restart"] == "on-failure"
    # A permanent error (exit 1: unusable database or config) is not retried every 5 s ...
    assert "1" in unit["Service"]["RestartPreventExitStatus"].split()
    # ... and any other crash loop ends at the start limit.
    assert int(unit["Unit"]["StartLimitBurst"]) <= 10
    target = _read(TARGET)
    assert target["Unit"]["BindsTo"] == "graphical-session.target"


def _daemon(env: dict[str, str]) -> tuple[int, str]:
    err = io.StringIO()
    code = cli.main(["daemon"], out=io.StringIO(), err=err, env=env)
    return code, err.getvalue()


def test_the_daemon_exits_1_on_what_a_restart_cannot_fix(tmp_path: Path) -> None:
    """The unit's RestartPreventExitStatus=1 relies on this."""
    # (A bad config is not one of them: its keys fall back to their defaults and the daemon
    # runs, tests/test_config_fallback.py.)
    config = tmp_path / "config.toml"
    config.write_text("")
    env = {"ICECYCLE_DATA_DIR": str(tmp_path / "data"), "ICECYCLE_CONFIG": str(config)}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / DB_NAME).write_bytes(b"not a database\n" * 10)
    code, err = _daemon(env)
    assert code == 1 and "is not an SQLite database" in err and err.count("\n") == 1


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here"
)
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # %h/.local/bin/icecycle must exist for verify to pass: a stand-in in a home of our own.
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    stub = home / ".local" / "bin" / "icecycle"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    r = subprocess.run(
        ["systemd-analyze", "--user", "verify", str(UNIT), str(TARGET)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if r.returncode != 0 and "Failed to initialize manager" in r.stderr:
        pytest.skip(f"systemd-analyze cannot run a user manager here: {r.stderr.strip()}")
    # Unknown keys and bad values are only warnings: any line about our files fails the test.
    ours = [line for line in r.stderr.splitlines() if "icecycle" in line]
    assert r.returncode == 0 and not ours, r.stderr
