"""The core and the status path stay free of the UI, the scheduler and the notifier."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("textual", "apscheduler", "plyer")


@pytest.mark.parametrize(
    "code",
    [
        "import icecycle.cycle, icecycle.durations, icecycle.store",
        "import icecycle.actions, icecycle.formats, icecycle.text",
        "from icecycle import cli; cli.main(['status']); cli.main(['status', '--json'])",
    ],
)
def test_no_heavy_imports(code: str) -> None:
    check = (
        f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    r = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
