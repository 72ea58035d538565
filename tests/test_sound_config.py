"""The two sound keys of [notifications]: read, checked, shown, and handed to the notifier."""

from __future__ import annotations

from pathlib import Path

import pytest

from icecycle.config import load_config
from icecycle.notify import DesktopNotifier, FanOut, notifier_for


@pytest.fixture
def cfg_file(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ICECYCLE_CONFIG", str(path))
    return path


def test_sound_is_on_by_default_with_the_default_file(cfg_file: Path) -> None:
    cfg = load_config()
    assert cfg.sound is True and cfg.sound_file is None


def test_a_sound_file_is_kept_by_its_full_path(cfg_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(cfg_file.parent))
    (cfg_file.parent / "gong.wav").write_bytes(b"RIFF")
    cfg_file.write_text('[notifications]\nsound = false\nsound_file = "~/gong.wav"\n')
    cfg = load_config()
    assert (cfg.sound, cfg.sound_file) == (False, str(cfg_file.parent / "gong.wav"))
    assert cfg.sources["sound"] == cfg.sources["sound_file"] == str(cfg_file)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ('sound = "yes"', "notifications.sound: should be true or false"),
        ("sound_file = 3", 'give a path in quotes, e.g. sound_file = "~/sounds/gong.oga"'),
        ('sound_file = ""', "give a path in quotes"),
        ('sound_file = "/no/such/gong.oga"', "/no/such/gong.oga is not a file"),
        ('sound_file = "/"', "/ is not a file; give the path of a sound file"),
        ("sounds = true", "known keys are bell, desktop, repeat_count, repeat_every, sound,"),
    ],
)
def test_bad_sound_settings_say_what_to_write(cfg_file: Path, content: str, why: str) -> None:
    cfg_file.write_text(f"[notifications]\n{content}\n")
    cfg = load_config()
    (problem,) = cfg.problems
    message = problem.line
    assert why in message and str(cfg_file) in message and "\n" not in message
    assert (cfg.sound, cfg.sound_file) == (True, None)  # the defaults, for that key alone


def test_config_shows_the_sound_keys(run, cfg_file: Path) -> None:
    cfg_file.write_text("[notifications]\nsound = false\n")
    r = run("config")
    assert any(line.split() == ["notifications.sound", "false", "(file)"] for line in r.lines)
    row = ["notifications.sound_file", "default", "(default)"]
    assert any(line.split() == row for line in r.lines)


def test_the_settings_reach_the_desktop_notifier(tmp_path: Path) -> None:
    n = notifier_for(True, (), print, sound=False, sound_file="/x.oga")
    assert isinstance(n, DesktopNotifier) and (n.sound, n.sound_file) == (False, "/x.oga")
    fan = notifier_for(True, ("true",), print, sound=True)
    assert isinstance(fan, FanOut) and isinstance(fan.notifiers[0], DesktopNotifier)


# -- issue 19, finding 14: the sound theme and the players are settings -----------------


def test_the_theme_folder_and_the_player_path_are_settings(tmp_path: Path, monkeypatch) -> None:
    """The tests (and a person with sounds elsewhere) say where to look; the host's own
    /usr/share/sounds and PATH are not read then."""
    from icecycle import answers

    theme, bin_dir = tmp_path / "theme", tmp_path / "bin"
    theme.mkdir()
    bin_dir.mkdir()
    assert answers.sound_file(None) == answers.shipped_sound()  # conftest: an empty theme
    assert answers.players(None) == []  # conftest: no players
    (theme / "alarm-clock-elapsed.oga").write_bytes(b"OggS")
    for name in ("paplay", "pw-play"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("ICECYCLE_SOUND_THEME_DIR", str(theme))
    monkeypatch.setenv("ICECYCLE_PLAYER_PATH", str(bin_dir))
    assert answers.sound_file(None) == str(theme / "alarm-clock-elapsed.oga")
    want = [
        [str(bin_dir / p), str(theme / "alarm-clock-elapsed.oga")] for p in ("pw-play", "paplay")
    ]
    assert answers.players(None) == want  # PipeWire first, then PulseAudio
    n = DesktopNotifier(sound_theme=str(tmp_path / "none"), player_path=str(tmp_path / "none"))
    assert n.players() == []  # a constructor argument wins over the environment


def test_untrusted_text_is_escaped_and_cut_for_the_log() -> None:
    from icecycle import answers
    from icecycle.notify import _why

    assert answers.printable("ice-off\nicecycle daemon 10:00 forged\x1b[2J") == (
        "ice-off\\nicecycle daemon 10:00 forged\\x1b[2J"
    )
    long = answers.printable("k" * 1_000_000)
    assert len(long) < 300 and long.endswith("(999800 more characters)")
    assert "\n" not in _why("boom\r\x1b]0;title\x07" + "x" * 5000)
