"""Shared fixtures: a fake clock, and the developer's own data and config kept out of the tests."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from icecycle import cli

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


class FakeClock:
    """A wall clock that moves only when told to."""

    def __init__(self, start: datetime = T0) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self.t += timedelta(seconds=seconds, **kw)
        return self.t

    def set(self, moment: datetime) -> None:
        self.t = moment


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICECYCLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ICECYCLE_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("TZ", "UTC")
    # The host's sound theme and players stay out too (a desktop has them, CI has not):
    # a test that wants a player puts one in a folder of its own and points here.
    monkeypatch.setenv("ICECYCLE_SOUND_THEME_DIR", str(tmp_path / "no-sound-theme"))
    monkeypatch.setenv("ICECYCLE_PLAYER_PATH", str(tmp_path / "no-players"))
    monkeypatch.delenv("ICECYCLE_DEBUG", raising=False)
    time.tzset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@dataclass
class Result:
    code: int
    out: str
    err: str
    lines: list[str] = field(default_factory=list)


@pytest.fixture
def run(clock: FakeClock):
    """Run the CLI in-process against the fake clock; returns exit code and output."""

    def _run(*argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = cli.main(list(argv), clock=clock, out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue(), out.getvalue().splitlines())

    return _run
