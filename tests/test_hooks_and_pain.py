"""Hooks at each change (environment, time limit, failure) and the pain log."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from icecycle.notify import FanOut, HookNotifier, Notice, Result
from icecycle.runner import Runner
from icecycle.store import Store

from .tui_helpers import Recorder, open_store, start_cycle

NOTICE = Notice(
    "off",
    "Take the ice off now",
    "This session is over.",
    "critical",
    (("ICECYCLE_STATE", "off"), ("ICECYCLE_PHASE_ENDS", "2026-11-25T11:55:00+00:00")),
)


def test_a_hook_gets_the_state_in_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    code = f"import json, os; json.dump(dict(os.environ), open({str(out)!r}, 'w'))"
    result = HookNotifier([sys.executable, "-c", code]).send(NOTICE)
    assert result.ok
    env = json.loads(out.read_text())
    assert env["ICECYCLE_STATE"] == "off" and env["ICECYCLE_KIND"] == "off"
    assert env["ICECYCLE_PHASE_ENDS"] == "2026-11-25T11:55:00+00:00"
    assert env["ICECYCLE_TITLE"] == "Take the ice off now"
    assert env["ICECYCLE_URGENCY"] == "critical"


def test_no_shell_interpolation(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = Notice("on", f"$(touch {marker})", f"`touch {marker}`")
    assert HookNotifier(["echo", "$ICECYCLE_TITLE"]).send(evil).ok
    assert not marker.exists()


def test_a_hanging_hook_is_killed_at_the_limit() -> None:
    t0 = time.monotonic()
    result = HookNotifier([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1).send(
        NOTICE
    )
    assert not result.ok and "took over 1s; stopped" in result.detail
    assert time.monotonic() - t0 < 5


def test_a_failing_or_missing_hook_is_a_result_not_a_crash() -> None:
    r = HookNotifier([sys.executable, "-c", "import sys; sys.exit('no network')"]).send(NOTICE)
    assert not r.ok and "failed: no network" in r.detail
    r = HookNotifier(["/nonexistent/notify-phone"]).send(NOTICE)
    assert not r.ok and "cannot run /nonexistent/notify-phone" in r.detail


def test_hook_failures_are_logged_and_the_alert_still_counts() -> None:
    logged: list[str] = []
    rec = Recorder()
    fan = FanOut([rec, HookNotifier(["/nonexistent/x"])], logged.append)
    assert fan.send(NOTICE) == Result("recorder", True)
    assert logged == ["hook: cannot run /nonexistent/x (No such file or directory)"]


async def test_the_runner_fills_the_hook_environment(data_dir: Path, clock) -> None:
    store = open_store(data_dir)
    start_cycle(store)
    rec = Recorder()
    await Runner(store, clock, rec).run_once()
    env = dict(rec.sent[0].env)
    assert env["ICECYCLE_STATE"] == "on" and env["ICECYCLE_LATE"] == "0"
    assert env["ICECYCLE_PHASE_ENDS"] == "2026-11-25T10:25:00+00:00"
    assert env["ICECYCLE_SESSIONS_LEFT"] == "37"


def test_pain_log_and_trend(run, clock) -> None:
    assert run("pain", "5").code == 1  # no cycle yet
    run("start")
    assert run("pain", "7").out == "Pain 7/10 noted.\n"
    clock.advance(hours=3)
    r = run("pain", "4")
    assert r.out == "Pain 4/10 noted. Since the start: ▆▄ (7 to 4).\n"
    for bad in ("11", "-1", "five", "4.5"):
        r = run("pain", bad)
        assert r.code == 2
        assert "is not a pain score" in r.err or "expected one argument" in r.err
    lines = run("history").lines
    assert lines[-1] == "  Pain: ▆▄ (7 to 4)"
    doc = json.loads(run("history", "--json").out)["cycles"][0]
    assert [p["score"] for p in doc["pain"]] == [7, 4]


async def test_the_window_summary_includes_the_pain_trend(data_dir: Path, clock) -> None:
    from icecycle.cycle import Settings

    store: Store = open_store(data_dir)
    cid = start_cycle(store, Settings(60, 60, 600), since_h=0)
    store.append(cid, "pain", clock.now(), "8")
    store.append(cid, "pain", clock.advance(300), "3")
    clock.advance(600)
    rec = Recorder()
    await Runner(store, clock, rec).run_once(force_reload=True)
    assert rec.sent[-1].kind == "done" and "Pain went from 8 to 3 out of 10." in rec.sent[-1].body
