"""Issue 19, findings 1, 2, 11, 12 and the config's part of 13: nothing optional in the
config stops a running cycle's alerts, a file others can change silences nothing, and the
daemon and the dashboard build their engine in one place."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from icecycle import daemon, engine
from icecycle.actions import sync_quiet_hours
from icecycle.config import MAX_BYTES, Config, init_config, load_config, others_can_change
from icecycle.notify import DesktopNotifier, FanOut, HookNotifier

from .conftest import T0
from .timing import within
from .tui_helpers import Recorder, open_store, start_cycle, text_of


@pytest.fixture
def cfg_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "conf"
    folder.mkdir(mode=0o700)
    path = folder / "config.toml"
    monkeypatch.setenv("ICECYCLE_CONFIG", str(path))
    return path


# -- 1 and 2: a bad or missing value falls back for that key alone ---------------------------


def test_a_typo_leaves_that_key_at_its_default_and_reads_the_rest(cfg_file: Path) -> None:
    cfg_file.write_text('on = "20m"\n[notifications]\nrepeat_count = "three"\nbell = false\n')
    cfg = load_config()
    assert (cfg.on_s, cfg.repeat_count, cfg.bell) == (1200, 3, False)
    (problem,) = cfg.problems
    assert problem.key == "notifications.repeat_count"
    assert problem.line.endswith("should be a whole number from 0 to 10; using 3")


def test_a_relative_sound_file_is_found_beside_the_config(cfg_file, tmp_path, monkeypatch) -> None:
    (cfg_file.parent / "gong.oga").write_bytes(b"OggS")
    cfg_file.write_text('[notifications]\nsound_file = "gong.oga"\n')
    monkeypatch.chdir(tmp_path)  # not where the config is: a user service runs in $HOME
    cfg = load_config()
    assert cfg.sound_file == str(cfg_file.parent / "gong.oga") and not cfg.problems


def test_a_missing_sound_file_means_the_default_sound(cfg_file: Path) -> None:
    cfg_file.write_text('[notifications]\nsound_file = "gone.oga"\n')
    cfg = load_config()
    assert cfg.sound_file is None and cfg.sound is True
    (problem,) = cfg.problems
    assert str(cfg_file.parent / "gone.oga") in problem.line
    assert problem.line.endswith("using the default sound")


def test_a_line_that_is_not_toml_is_left_out_alone(cfg_file: Path) -> None:
    cfg_file.write_text('on = "20m"\n[notifications]\nrepeat_count = three\nbell = false\n')
    cfg = load_config()
    assert (cfg.on_s, cfg.repeat_count, cfg.bell) == (1200, 3, False)
    (problem,) = cfg.problems
    assert problem.key == "notifications.repeat_count"
    assert "line 3" in problem.line and problem.line.endswith("not valid TOML") is False
    assert problem.line.endswith("; using 3")


def test_a_file_that_is_not_toml_means_every_default(cfg_file: Path) -> None:
    cfg_file.write_bytes(b'on = "20m"\n\xff\n')
    cfg = load_config()
    assert cfg[:11] == Config()[:11]
    (problem,) = cfg.problems
    assert problem.key == "" and "is not valid TOML" in problem.line
    assert problem.line.endswith("icecycle uses the defaults until it is fixed")


def test_the_daemon_keeps_alerting_with_a_missing_sound_file(cfg_file, tmp_path) -> None:
    """The exact report: sound_file set, a cycle started, the file removed and a typo made,
    the daemon (re)started: it must run, and say in its log what it fell back from."""
    sound = cfg_file.parent / "gone.oga"
    sound.write_bytes(b"OggS")
    cfg_file.write_text('[notifications]\nsound_file = "gone.oga"\n')
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DISPLAY", None)
    icecycle = [sys.executable, "-m", "icecycle"]
    subprocess.run([*icecycle, "start", "--on", "3m"], env=env, check=True, capture_output=True)
    sound.unlink()
    with open(cfg_file, "a") as fh:
        fh.write("repeat_count = three\n")
    log = tmp_path / "daemon.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([*icecycle, "daemon"], env=env, stderr=err, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 15
        while "started;" not in log.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert proc.poll() is None, log.read_text()
        text = log.read_text()
        assert "config: " in text and "gone.oga" in text and "repeat_count: not valid" in text
        assert "cycle is on" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_the_config_command_shows_what_fell_back(run, cfg_file: Path) -> None:
    cfg_file.write_text("[notifications]\nrepeat_count = 99\nvolume = 3\n")
    r = run("config")
    assert r.code == 0
    row = ["notifications.repeat_count", "3", "(default:", "see", "below)"]
    assert any(line.split() == row for line in r.lines)
    assert any("repeat_count: should be a whole number" in line for line in r.lines)
    assert any("notifications.volume: unknown key; ignored" in line for line in r.lines)


def test_start_goes_on_past_a_bad_bell_but_not_a_bad_length(run, cfg_file: Path) -> None:
    cfg_file.write_text('[notifications]\nbell = "yes"\n')
    r = run("start")
    assert r.code == 0 and "warning:" in r.err and "notifications.bell" in r.err
    cfg_file.write_text('off = "ninety"\n')
    r = run("start", "--force")
    assert r.code == 1 and r.err.count("\n") == 1 and "--off" in r.err
    assert run("start", "--force", "--off", "90m").code == 0  # the flag stands in for it


# -- 11: a file or folder others can write silences nothing -----------------------------------

SILENCING = [
    ("[notifications]\ndesktop = false\n", "desktop", True),
    ("[notifications]\nsound = false\n", "sound", True),
    ("[notifications]\nbell = false\n", "bell", True),
    ("[notifications]\nrepeat_count = 0\n", "repeat_count", 3),
    ('[notifications]\nrepeat_every = "1h"\n', "repeat_every_s", 120),
    ('[hooks]\non_change = ["notify-phone"]\n', "on_change", ()),
]


@pytest.mark.parametrize(("content", "field", "default"), SILENCING)
@pytest.mark.parametrize("open_to", ["file", "folder"])
def test_others_cannot_silence_the_alerts(cfg_file, content, field, default, open_to) -> None:
    cfg_file.write_text('on = "20m"\n' + content)
    cfg_file.chmod(0o600)
    assert getattr(load_config(), field) != default  # yours alone: it applies
    (cfg_file if open_to == "file" else cfg_file.parent).chmod(
        0o666 if open_to == "file" else 0o777
    )
    cfg = load_config()
    assert getattr(cfg, field) == default
    assert cfg.on_s == 1200  # a length silences nothing: still read
    (problem,) = cfg.problems
    assert "is ignored because others can write" in problem.line and "chmod go-w" in problem.line


def test_a_sticky_shared_folder_is_fine(tmp_path: Path, monkeypatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp: others cannot rename or remove your file
    path = shared / "config.toml"
    path.write_text("[notifications]\nsound = false\n")
    path.chmod(0o600)
    monkeypatch.setenv("ICECYCLE_CONFIG", str(path))
    assert others_can_change(str(path)) is None and load_config().sound is False


# -- 12: one factory for the daemon and the dashboard -----------------------------------------


async def test_sound_false_reaches_the_dashboards_notifier(data_dir, clock) -> None:
    from icecycle.tui.app import make_app

    store = open_store(data_dir)
    cfg = Config(sound=False, sound_file="/x.oga", on_change=("notify-phone",))
    app = make_app(store, clock, config=cfg, use_scheduler=False)
    fan = app.runner.notifier
    assert isinstance(fan, FanOut) and isinstance(fan.notifiers[1], HookNotifier)
    desktop = fan.notifiers[0]
    assert isinstance(desktop, DesktopNotifier)
    assert (desktop.sound, desktop.sound_file) == (False, "/x.oga")
    assert (app.runner.repeat_count, app.runner.repeat_every.total_seconds()) == (3, 120)


def test_the_daemon_and_the_dashboard_use_the_one_factory(monkeypatch, tmp_path) -> None:
    import inspect

    from icecycle.tui import app

    assert daemon.build_runner is engine.build_runner is app.build_runner
    for module in (daemon, app):
        assert "Runner(" not in inspect.getsource(module)  # built nowhere else
    built = engine.build_runner(
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        Config(desktop=False, repeat_count=5, repeat_every_s=60),
    )
    assert (built.repeat_count, built.repeat_every.total_seconds()) == (5, 60)


async def test_the_dashboard_says_what_fell_back_once(data_dir, clock, cfg_file) -> None:
    from icecycle.tui.app import make_app

    cfg_file.write_text("[notifications]\nrepeat_count = three\n")
    store = open_store(data_dir)
    start_cycle(store)
    recorder = Recorder()
    app = make_app(store, clock, recorder, load_config(), use_scheduler=False)
    app.bell = lambda: None  # type: ignore[method-assign]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        for _ in range(40):
            if any(n.kind == "config" for n in recorder.sent):
                break
            await pilot.pause(0.05)
        assert "repeat_count: not valid TOML" in text_of(app, "#notice")
        assert app.runner.state() is not None  # the cycle is there, alerts and all
    assert [n.kind for n in recorder.sent].count("config") == 1


# -- 13: a config path that is a FIFO, a device or a runaway file ---------------------------


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "huge", "dots", "dotted-keys"])
def test_a_strange_config_path_never_hangs(cfg_file: Path, monkeypatch, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(cfg_file, 0o600)
    elif kind == "dev-zero":
        monkeypatch.setenv("ICECYCLE_CONFIG", "/dev/zero")
    elif kind == "huge":
        cfg_file.write_text("# " + "x" * MAX_BYTES + "\n")
    elif kind == "dots":
        cfg_file.write_text("a" + ".a" * 40_000 + " = 1\n")
    else:
        cfg_file.write_text("".join(f"k{i}.x = 1\n" for i in range(100_000)))
    start = time.monotonic()
    cfg = within(5, load_config)
    assert time.monotonic() - start < 2
    assert cfg[:11] == Config()[:11]
    (problem,) = cfg.problems
    assert problem.key == "" and "\n" not in problem.line


def test_config_init_is_yours_alone_whatever_the_umask(tmp_path, monkeypatch) -> None:
    path = tmp_path / "new" / "icecycle" / "config.toml"
    monkeypatch.setenv("ICECYCLE_CONFIG", str(path))
    old = os.umask(0)
    try:
        init_config()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_a_mistake_in_quiet_hours_keeps_the_running_cycles(run, cfg_file, data_dir) -> None:
    cfg_file.write_text('quiet_hours = "23:00-07:00"\n')
    assert run("start").code == 0
    cfg_file.write_text('quiet_hours = "23:00-07"\n')  # a typo, made while the cycle runs
    store = open_store(data_dir)
    assert sync_quiet_hours(store, load_config(), T0 + timedelta(hours=1)) is False
    current = store.current()
    assert current is not None and [e.kind for e in current[1]].count("quiet") == 0
