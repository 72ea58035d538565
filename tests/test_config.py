"""The config file: defaults, every key, a table of bad files, --init, and its effect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from icecycle.config import EXAMPLE, Config, load_config


@pytest.fixture
def cfg_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ICECYCLE_CONFIG", str(path))
    return path


def test_missing_file_means_defaults(cfg_file: Path) -> None:
    cfg = load_config()
    assert (cfg.on_s, cfg.off_s, cfg.window_s, cfg.quiet_hours) == (1500, 5400, 259200, None)
    assert set(cfg.sources.values()) == {"default"}


def test_every_key(cfg_file: Path) -> None:
    (cfg_file.parent / "gong.oga").write_bytes(b"OggS")
    cfg_file.write_text(
        'on = "20m"\noff = "1h"\nwindow = "48h"\nquiet_hours = "22:30-06:30"\n'
        '[notifications]\ndesktop = false\nbell = false\nrepeat_every = "3m"\n'
        f'repeat_count = 5\nsound = false\nsound_file = "{cfg_file.parent}/gong.oga"\n'
        '[hooks]\non_change = ["notify-phone", "--quiet"]\n'
    )
    cfg = load_config()
    assert cfg[:11] == (
        1200,
        3600,
        172800,
        "22:30-06:30",
        False,
        False,
        180,
        5,
        ("notify-phone", "--quiet"),
        False,
        str(cfg_file.parent / "gong.oga"),
    )
    assert set(cfg.sources.values()) == {str(cfg_file)}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('on = "25 min"\noff = "1.5h"\nwindow = "2 days"\n', (1500, 5400, 172800, None)),
        ('window = "72"\n', (1500, 5400, 259200, None)),  # a bare number: hours, as --window
        ('quiet_hours = "23:00 - 7:00"\n', (1500, 5400, 259200, "23:00-07:00")),
        ('quiet_hours = "20:00\u201323:00"\n', (1500, 5400, 259200, "20:00-23:00")),
    ],
)
def test_natural_values_are_read_and_quiet_hours_kept_canonical(
    cfg_file: Path, content: str, expected: tuple[object, ...]
) -> None:
    # A cycle records the quiet hours as text and the fold reads them back, so the config
    # hands on one spelling only, whatever the file says.
    cfg_file.write_text(content, encoding="utf-8")
    assert load_config()[:4] == expected


def test_the_example_is_valid_and_matches_the_defaults(cfg_file: Path) -> None:
    cfg_file.write_text(EXAMPLE)
    assert load_config()[:9] == (1500, 5400, 259200, None, True, True, 120, 3, ())


BAD = [
    ('on = "25x"\n', "on: '25x' is not a duration"),
    ("on = 25\n", 'on: give a duration in quotes, e.g. on = "25m"'),
    ('on = "25x"\n', "on: '25x' is not a duration; on takes 1s to 2h, e.g. 25m"),
    ('on = "3h"\n', "on: '3h' is out of range; on takes 1s to 2h, e.g. 25m"),
    ('off = "25h"\n', "off: '25h' is out of range; off takes 1s to 24h, e.g. 90m"),
    ('window = "8d"\n', "window: '8d' is out of range; window takes 5s to 7d, e.g. 72h or 2d"),
    ('window = "2w"\n', "window: '2w' is out of range; window takes 5s to 7d, e.g. 72h or 2d"),
    ("window = 72\n", 'window: give a duration in quotes, e.g. window = "72h"'),
    ('off = "1.5h30m"\n', "off: '1.5h30m' is not a duration; off takes 1s to 24h"),
    ('colour = "blue"\n', "colour: unknown key; ignored; known keys are hooks, notifications"),
    ('quiet_hours = "late"\n', "quiet_hours: 'late' is not a span of hours; try 23:00-07:00"),
    ('quiet_hours = "23:00-23:00"\n', "starts and ends at the same time"),
    ('quiet_hours = "\u0662\u0663:00-07:00"\n', "is not a span of hours; try 23:00-07:00"),
    ('quiet_hours = "11pm-7am"\n', "is not a span of hours; try 23:00-07:00"),
    ("quiet_hours = 23\n", "quiet_hours: give it in quotes"),
    ('[notifications]\ndesktop = "yes"\n', "notifications.desktop: should be true or false"),
    ("[notifications]\nrepeat_count = 11\n", "notifications.repeat_count: should be a whole"),
    (
        '[notifications]\nrepeat_every = "1s"\n',
        "notifications.repeat_every: '1s' is out of range; notifications.repeat_every takes "
        "10s to 1h, e.g. 2m",
    ),
    ("[notifications]\nrepeat_every = 2\n", 'give a duration in quotes, e.g. repeat_every = "2m"'),
    ("[notifications]\nvolume = 3\n", "notifications.volume: unknown key"),
    ('notifications = "on"\n', "notifications: should be a table"),
    ('[hooks]\non_change = "curl x"\n', "hooks.on_change: should be a list of words"),
    ("[hooks]\non_change = []\n", "hooks.on_change: should be a list of words"),
    ('[hooks]\nbefore = ["x"]\n', "hooks.before: unknown key"),
    ("on = \n", "on: not valid TOML"),  # that line alone is left out
    (b"\xff\xfe", "is not valid TOML"),
]


@pytest.mark.parametrize(("content", "message"), BAD, ids=[b[1][:30] for b in BAD])
def test_a_bad_value_falls_back_alone_and_names_the_file_and_the_key(
    cfg_file: Path, content: str | bytes, message: str
) -> None:
    # Nothing optional may stop a running cycle's alerts: the bad key takes its default,
    # the problem is one line, and a good key beside it is still read.
    good = (
        b'\n[hooks]\non_change = ["notify-phone"]\n'
        if b"[hooks]" not in (content if isinstance(content, bytes) else content.encode())
        else b""
    )
    cfg_file.write_bytes((content if isinstance(content, bytes) else content.encode()) + good)
    cfg_file.chmod(0o600)
    cfg = load_config()
    (problem,) = cfg.problems
    assert problem.line.startswith(str(cfg_file)) and message in problem.line
    assert "\n" not in problem.line
    whole = problem.key == ""
    assert cfg.on_change == (() if whole or not good else ("notify-phone",))
    assert cfg.bad(problem.key) is problem
    for field in ("on_s", "off_s", "window_s", "quiet_hours", "repeat_count", "repeat_every_s"):
        assert getattr(cfg, field) == getattr(Config(), field)


def test_start_uses_the_config_and_flags_win(run, cfg_file: Path) -> None:
    cfg_file.write_text('on = "20m"\noff = "1h"\nquiet_hours = "23:00-07:00"\n')
    assert run("start").code == 0
    doc = json.loads(run("status", "--json").out)
    assert doc["settings"] == {"on_s": 1200, "off_s": 3600, "window_s": 259200}
    assert run("start", "--force", "--on", "15m").code == 0
    assert json.loads(run("status", "--json").out)["settings"]["on_s"] == 900


def test_a_bad_config_stops_start_with_one_line(run, cfg_file: Path, data_dir: Path) -> None:
    cfg_file.write_text('on = "25x"\n')
    r = run("start")
    assert r.code == 1 and r.err.count("\n") == 1 and str(cfg_file) in r.err
    assert not data_dir.exists()
    assert run("status").code == 0  # status does not read the config at all


def test_config_command_and_init(run, cfg_file: Path) -> None:
    r = run("config")
    assert r.code == 0 and "(not there: defaults)" in r.lines[0]
    assert any(line.split()[:3] == ["on", "25m", "(default)"] for line in r.lines)
    r = run("config", "--init")
    assert r.code == 0 and cfg_file.read_text() == EXAMPLE
    cfg_file.write_text(EXAMPLE + "\n# mine\n")
    r = run("config", "--init")
    assert r.code == 1 and "will not overwrite" in r.err
    assert cfg_file.read_text().endswith("# mine\n")  # untouched


def test_quiet_hours_recorded_at_start_and_changes_recorded_later(run, cfg_file, clock) -> None:
    from icecycle.actions import sync_quiet_hours
    from icecycle.config import load_config as load
    from icecycle.store import Store

    cfg_file.write_text('quiet_hours = "23:00-07:00"\n')
    run("start")
    store = Store.open(Path(__import__("os").environ["ICECYCLE_DATA_DIR"]))
    started = store.events(1)[0]
    assert json.loads(started.data)["quiet_hours"] == "23:00-07:00"
    assert not sync_quiet_hours(store, load(), clock.now())  # unchanged: nothing recorded
    cfg_file.write_text('quiet_hours = "22:00-06:00"\n')
    assert sync_quiet_hours(store, load(), clock.now())
    assert store.events(1)[-1].kind == "quiet"
    assert json.loads(store.events(1)[-1].data)["quiet_hours"] == "22:00-06:00"
