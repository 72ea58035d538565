"""What a person types for a new cycle: --on/--off/--window and --since, checked one way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from icecycle.actions import parse_setting, parse_since
from icecycle.config import load_config
from icecycle.cycle import LIMITS
from icecycle.durations import InputError, format_range

NOW = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")

SETTINGS = [  # name, text -> seconds
    ("on", "25m", 1500),
    ("on", "25", 1500),
    ("on", "25min", 1500),
    ("on", "25 min", 1500),
    ("on", "1.5h", 5400),
    ("on", "2h", 7200),
    ("off", "90 minutes", 5400),
    ("off", "1.5h", 5400),
    ("off", "24 hours", 86400),
    ("window", "72", 259200),  # a bare number is hours for the window
    ("window", "2d", 172800),
    ("window", "2.5 days", 216000),
    ("window", "1w", 604800),
    ("window", "48 hours", 172800),
]


@pytest.mark.parametrize(("name", "text", "seconds"), SETTINGS)
def test_settings(name: str, text: str, seconds: int) -> None:
    assert parse_setting(name, text) == seconds


BAD_SETTINGS = [  # name, text -> the whole refusal
    ("window", "2w", "'2w' is out of range; --window takes 5s to 7d, e.g. 72h or 2d"),
    ("window", "8d", "'8d' is out of range; --window takes 5s to 7d, e.g. 72h or 2d"),
    ("window", "4s", "'4s' is out of range; --window takes 5s to 7d, e.g. 72h or 2d"),
    ("on", "3h", "'3h' is out of range; --on takes 1s to 2h, e.g. 25m"),
    ("on", "0", "'0' is out of range; --on takes 1s to 2h, e.g. 25m"),
    ("on", "25x", "'25x' is not a duration; --on takes 1s to 2h, e.g. 25m"),
    ("on", "1.5", "'1.5' is not a duration; --on takes 1s to 2h, e.g. 25m"),
    ("off", "25h", "'25h' is out of range; --off takes 1s to 24h, e.g. 90m"),
    ("off", "1:30", "'1:30' is not a duration; --off takes 1s to 24h, e.g. 90m"),
]


@pytest.mark.parametrize(("name", "text", "message"), BAD_SETTINGS)
def test_bad_settings_name_the_field_with_an_example_that_fits_it(
    name: str, text: str, message: str
) -> None:
    with pytest.raises(InputError) as info:
        parse_setting(name, text)
    assert str(info.value) == message


def test_a_form_names_the_field_its_own_way() -> None:
    with pytest.raises(InputError) as info:
        parse_setting("on", "3h", field="ice on")
    assert str(info.value) == "'3h' is out of range; ice on takes 1s to 2h, e.g. 25m"


@pytest.mark.parametrize(("name", "bad"), [("on", "3h"), ("off", "25h"), ("window", "2w")])
def test_the_range_reads_the_same_on_the_command_line_and_in_the_config(
    run, cfg_file: Path, name: str, bad: str
) -> None:
    shown = f"{name} takes {format_range(*LIMITS[name])}, e.g. "
    r = run("start", f"--{name}", bad)
    assert r.code == 2 and f"--{shown}" in r.err
    cfg_file.write_text(f'{name} = "{bad}"\n')
    (problem,) = load_config().problems
    assert f": {shown}" in problem.line.replace(";", ":")


@pytest.fixture
def cfg_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ICECYCLE_CONFIG", str(path))
    return path


SINCE = [  # text, zone, window -> when the spasm began
    ("now", UTC, "72h", NOW),
    ("3 hours ago", UTC, "72h", NOW - timedelta(hours=3)),
    ("2 days ago", UTC, "72h", NOW - timedelta(days=2)),
    ("90 minutes ago", UTC, "72h", NOW - timedelta(minutes=90)),
    ("yesterday 21:00", UTC, "72h", datetime(2026, 11, 24, 21, tzinfo=UTC)),
    ("yesterday 21:00", BERLIN, "72h", datetime(2026, 11, 24, 20, tzinfo=UTC)),
    ("9pm", BERLIN, "72h", datetime(2026, 11, 24, 20, tzinfo=UTC)),
    ("2:30pm", UTC, "72h", datetime(2026, 11, 24, 14, 30, tzinfo=UTC)),
    ("2:30pm", BERLIN, "72h", datetime(2026, 11, 24, 13, 30, tzinfo=UTC)),
]


@pytest.mark.parametrize(("text", "zone", "window", "expected"), SINCE)
def test_since(text: str, zone: ZoneInfo, window: str, expected: datetime) -> None:
    assert parse_since(text, NOW, parse_setting("window", window), zone) == expected


BAD_SINCE = [  # text, window -> what the refusal says
    ("today 9pm", "72h", "'today 9pm' is in the future; give when the spasm began, e.g. 3h ago"),
    ("2026-11-26T10:00", "72h", "is in the future"),
    ("4 days ago", "72h", "'4 days ago' is more than 72h ago, so the window would already be over"),
    ("2 days ago", "1d", "give a later time or a longer window"),  # no CLI syntax: forms say it
    ("3 ago", "72h", "'3 ago' is not a time; try 3h ago"),
    ("yesterday", "72h", "'yesterday' needs a time of day; try yesterday 21:00"),
]


@pytest.mark.parametrize(("text", "window", "message"), BAD_SINCE)
def test_bad_since(text: str, window: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_since(text, NOW, parse_setting("window", window), UTC)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--since", "3 hours ago"], "2026-11-25T07:00:00+00:00"),
        (["--since", "yesterday 21:00"], "2026-11-24T21:00:00+00:00"),
        (["--since", "9pm", "--on", "25 min", "--window", "2 days"], "2026-11-24T21:00:00+00:00"),
    ],
)
def test_start_takes_the_natural_forms(run, argv: list[str], expected: str) -> None:
    import json

    assert run("start", *argv).code == 0
    assert json.loads(run("status", "--json").out)["window"]["start"] == expected
