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


PHONE = ("icecycle.phone", "http.client")  # the CalDAV sync and its HTTP client

FIRST_FRAME = """
import asyncio, sys
from icecycle.config import Config, PhoneSettings
from icecycle.store import Store
from icecycle.tui.app import make_app
from tests.test_runner import Recorder

store = Store.open(sys.argv[1])
cfg = Config(phone=PhoneSettings("http://127.0.0.1:9/cal/", "ann"))
app = make_app(store, notifier=Recorder(), config=cfg, use_scheduler=False)
seen = []
ready = app._dashboard_ready
def on_ready():
    ready()
    seen.append(sorted(m for m in sys.modules if m in PHONE))
app._dashboard_ready = on_ready
async def main():
    async with app.run_test() as pilot:
        await pilot.pause()
asyncio.run(main())
print(seen[0])
"""


def test_status_and_the_first_frame_do_not_load_the_phone_sync(tmp_path) -> None:
    code = "from icecycle import cli; cli.main(['status']); cli.main(['status', '--json'])"
    check = f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m in {PHONE!r}))"
    r = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
    r = subprocess.run(
        [sys.executable, "-c", f"PHONE = {PHONE!r}\n{FIRST_FRAME}", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
