"""The phone calendar over CalDAV, against real servers on 127.0.0.1 (Radicale with htpasswd
auth, and Xandikos), read back with a client of the tests' own (tests/caldav_servers.py).

After each step of a story the server must hold exactly: the sessions over, as they happened
(no alarm); the one under way (its take-it-off alarm); those ahead (alarms at start and end);
or, while the take-it-off alarm is unanswered, one event asking to answer it; nothing stale,
nothing twice. The faults: a server down then back, one that never answers, a wrong password,
an event edited on the phone (412), a self-signed certificate; the password in no output.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from icecycle import phone
from icecycle.config import PhoneSettings
from icecycle.ics import TITLES
from icecycle.runner import Runner
from icecycle.store import Store

from .caldav_servers import (
    PASSWORD,
    USER,
    Proxy,
    Reader,
    Server,
    self_signed,
    start_radicale,
    start_xandikos,
    stop,
)
from .conftest import T0
from .test_export import Driver, held_now
from .test_runner import Recorder

PAST = {TITLES[k] for k in ("done", "skipped", "missed")}


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    stop(server)


@pytest.fixture(scope="session")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_xandikos(tmp_path_factory.mktemp("xandikos"))
    yield server
    stop(server)


@pytest.fixture(params=["radicale", "xandikos"])
def server(request: pytest.FixtureRequest) -> Server:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


class Phone(Driver):
    """The command line against a calendar of its own on a real server."""

    def __init__(self, root: Path, url: str, password: str = PASSWORD, extra: str = "") -> None:
        root.mkdir(parents=True, exist_ok=True)
        super().__init__(root)
        self.url = url
        self.reader = Reader(url, ca_file_of(extra))
        Path(self.env["ICECYCLE_CONFIG"]).write_text(
            f'[phone]\ncaldav_url = "{url}"\nusername = "{USER}"\n{extra}'
        )
        self.env["ICECYCLE_CALDAV_PASSWORD"] = password
        self.outputs: list[str] = []

    def run(self, *argv: str) -> tuple[int, str, str]:
        code, out, err = super().run(*argv)
        self.outputs += [out, err]
        return code, out, err

    def sync(self) -> str:
        code, out, err = self.run("phone", "sync")
        assert code == 0, err
        assert out.startswith("Phone calendar synced:")
        return out

    def check(self) -> None:
        converged(self.reader, self.url, self.data_dir, self.clock.now(), self.paused_by_hand)


def ca_file_of(extra: str) -> str | None:
    for line in extra.splitlines():
        if line.startswith("ca_file"):
            return line.split('"')[1]
    return None


def converged(reader: Reader, url: str, data_dir: Path, now, paused_by_hand: bool) -> None:
    seen = reader.events(url)
    names = [s.name for s in seen]
    assert len(names) == len(set(names)) and len({s.uid for s in seen}) == len(seen)
    want = held_now(data_dir, now, paused_by_hand)
    prefix = f"icecycle-{want.cycle_id}-"
    ahead = [s for s in seen if s.summary == TITLES["upcoming"]]
    assert [(s.start, s.end) for s in ahead] == want.ahead
    for s in ahead:
        assert s.alarms == ((s.end,) if s.start <= now else (s.start, s.end))
    past = [s for s in seen if s.summary in PAST and s.uid.startswith(prefix)]
    assert [(s.start, s.end, s.summary) for s in past] == want.past
    alarm = [s for s in seen if s.summary == TITLES["alarm"]]
    assert len(alarm) == want.alarm
    for s in alarm:
        assert s.alarms == (s.start,) and s.start <= now + timedelta(seconds=1)
    others = [s for s in seen if s not in ahead and s not in past and s not in alarm]
    # Only the sessions over of earlier cycles, as they happened.
    assert all(s.summary in PAST and not s.alarms for s in others), others


def test_a_story_through_the_command_line(server: Server, tmp_path: Path) -> None:
    d = Phone(tmp_path, Reader(server.root).new_calendar())
    d.act("start")
    out = d.sync()
    assert "37 upcoming, 1 in progress, 0 over" in out
    d.check()

    d.clock.advance(minutes=10)
    d.act("skip")  # during the session: it stays, as it happened, without alarms
    d.sync()
    d.check()

    d.clock.set(T0.replace(hour=23))
    d.act("pause")  # overnight: nothing rings
    d.sync()
    d.check()

    d.clock.set(T0.replace(hour=7) + timedelta(days=1))
    d.act("resume")
    d.sync()
    d.check()

    d.clock.advance(hours=2)
    d.act("on")
    d.clock.advance(minutes=30)  # ended by the clock, and nobody says the ice is off
    out = d.sync()
    assert "0 upcoming" in out and "answer the take-it-off alarm" in out
    d.check()
    d.act("ack")
    d.sync()
    d.check()

    d.clock.advance(minutes=5)
    d.act("stop")
    d.sync()
    d.check()
    d.clock.advance(minutes=5)
    d.act("start", "--force")
    d.sync()
    d.check()

    code, out, _ = d.run("phone", "status")
    assert code == 0 and "Last error: none" in out and "On the server:" in out
    assert PASSWORD not in "".join(d.outputs)


def test_one_skip_is_one_request(radicale: Server, tmp_path: Path) -> None:
    d = Phone(tmp_path, Reader(radicale.root).new_calendar())
    d.act("start")
    d.clock.advance(minutes=5)
    d.act("off")
    store = Store.open(d.data_dir, create=False)
    assert store is not None
    settings = PhoneSettings(d.url, USER)
    first = phone.sync(store, settings, str(d.data_dir), d.clock.now(), PASSWORD)
    assert first.put == 38 and first.requests == 39  # a listing first, then one per event
    again = phone.sync(store, settings, str(d.data_dir), d.clock.now(), PASSWORD)
    assert again.requests == 0  # nothing changed: nothing sent
    d.clock.advance(minutes=10)
    d.act("skip")  # the next session, in the rest before it: only it changes
    done = phone.sync(store, settings, str(d.data_dir), d.clock.now(), PASSWORD)
    store.close()
    assert done.requests == 1 and done.deleted == 1
    d.check()


# -- through the runner ----------------------------------------------------------------


async def wait_for(cond, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.02)


def worker_for(runner: Runner, d: Phone, **kw) -> phone.Worker:
    settings = PhoneSettings(d.url, USER)
    w = phone.Worker(settings, str(d.data_dir), d.clock, d.env, **kw)
    runner.on_change = w.kick
    return w.start()


async def test_the_runner_keeps_the_calendar_converged(radicale: Server, tmp_path: Path) -> None:
    d = Phone(tmp_path, Reader(radicale.root).new_calendar())
    d.act("start")
    store = Store.open(d.data_dir, create=False)
    assert store is not None
    rec = Recorder()
    runner = Runner(store, d.clock, rec)
    await runner.start(use_scheduler=False, own_tick=False)
    w = worker_for(runner, d)
    try:
        await wait_for(lambda: w.syncs >= 1)  # its first sync, on starting
        d.check()
        for step in (("skip",), ("pause",), ("resume",)):
            d.clock.advance(minutes=20)
            before = w.syncs
            d.act(*step)
            runner.tick()  # sees the change another process made, and kicks the worker
            await wait_for(lambda b=before: w.syncs > b and not w.error)
            d.check()
        for minutes in (60, 20, 10):  # sessions begin and end by the clock: boundaries
            before = w.syncs
            d.clock.advance(minutes=minutes)
            runner.tick()
            await wait_for(lambda b=before: w.syncs > b)
            d.check()
        # Nobody said the ice is off: the alarm went out, and it holds the schedule.
        assert rec.sent[-1].kind in ("off", "remind") and runner.state().alarm is not None
        assert d.reader.events(d.url) and held_now(d.data_dir, d.clock.now(), False).alarm
        for step in (("ack",), ("stop",), ("start", "--force")):
            d.clock.advance(minutes=5)
            before = w.syncs
            d.act(*step)
            runner.tick()
            await wait_for(lambda b=before: w.syncs > b and not w.error)
            d.check()
        assert w.line().startswith("Phone calendar: synced ")
    finally:
        w.stop()
        await runner.stop()
        store.close()


# -- faults ----------------------------------------------------------------------------


async def test_a_server_down_then_back_converges_within_one_retry(
    radicale: Server, tmp_path: Path
) -> None:
    url = Reader(radicale.root).new_calendar()
    proxy = Proxy(radicale.port)
    via = url.replace(f":{radicale.port}/", f":{proxy.port}/")
    d = Phone(tmp_path, via)
    d.reader = Reader(url)
    d.act("start")
    store = Store.open(d.data_dir, create=False)
    assert store is not None
    rec = Recorder()
    runner = Runner(store, d.clock, rec)
    proxy.down()
    await runner.start(use_scheduler=False, own_tick=False)
    w = worker_for(runner, d, retry_s=(0.5,))
    try:
        await wait_for(lambda: w.syncs >= 1)
        assert w.error and "connection refused" in w.error
        assert "trying again at" in w.line()
        assert [n.kind for n in rec.sent] == ["on"]  # the alert went out all the same
        proxy.up()
        t = time.monotonic()
        await wait_for(lambda: w.error is None and w.syncs >= 2, timeout=5)
        assert time.monotonic() - t < 2  # one retry period (0.5 s here), not a change
        converged(d.reader, url, d.data_dir, d.clock.now(), False)
    finally:
        w.stop()
        proxy.close()
        await runner.stop()
        store.close()


async def test_a_server_that_never_answers_delays_nothing(radicale: Server, tmp_path: Path) -> None:
    proxy = Proxy(radicale.port)
    proxy.hang()
    d = Phone(tmp_path, f"http://127.0.0.1:{proxy.port}/{USER}/never/")
    d.act("start")
    store = Store.open(d.data_dir, create=False)
    assert store is not None
    rec = Recorder()
    runner = Runner(store, d.clock, rec, repeat_count=0)
    await runner.start(use_scheduler=False, own_tick=False)
    w = worker_for(runner, d, total_s=1.0, retry_s=(60.0,))
    try:
        # (the ice-on notice first: once its session is over it would be stale, and withheld)
        await wait_for(lambda: len(rec.sent) == 1, timeout=1)
        d.clock.advance(minutes=25)  # the take-it-off alarm is due while the sync hangs
        t = time.monotonic()
        runner.tick()
        await wait_for(lambda: len(rec.sent) == 2, timeout=1)
        assert time.monotonic() - t < 1 and rec.sent[-1].kind == "off"  # on time
        await wait_for(lambda: w.syncs >= 1, timeout=3)
        assert time.monotonic() - t < 2.5  # gave up at its deadline (1 s here, 30 s really)
        assert w.error and "did not answer in time" in w.error
    finally:
        w.stop()
        proxy.close()
        await runner.stop()
        store.close()


def test_a_wrong_password_is_one_line(radicale: Server, tmp_path: Path) -> None:
    wrong = "not-the-Pa55word-42"
    d = Phone(tmp_path, Reader(radicale.root).new_calendar(), password=wrong)
    d.act("start")
    code, out, err = d.run("phone", "sync")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "refused the username or password (401)" in err
    code, out, _ = d.run("phone", "status")
    assert "401" in out
    code, out, _ = d.run("status")  # nothing else is affected
    assert code == 0 and "on" in out.lower()
    assert wrong not in "".join(d.outputs)
    assert wrong.encode() not in (d.data_dir / "phone.json").read_bytes()


def test_an_event_edited_on_the_phone_is_left_as_the_phone_has_it(
    server: Server, tmp_path: Path
) -> None:
    d = Phone(tmp_path, Reader(server.root).new_calendar())
    d.act("start")
    d.sync()
    under_way = d.reader.events(d.url)[0]
    d.reader.put_as_phone(d.url, under_way, "Ice (moved to the sofa)")
    d.clock.advance(minutes=10)
    d.act("off")  # changes that event and every one ahead
    out = d.sync()
    assert "1 event changed on the phone left as they are" in out
    seen = {s.uid: s for s in d.reader.events(d.url)}
    assert seen[under_way.uid].summary == "Ice (moved to the sofa)"
    assert seen[under_way.uid].end == under_way.end  # not overwritten
    ahead = sorted((s.start, s.end) for s in seen.values() if s.summary == TITLES["upcoming"])
    assert ahead == held_now(d.data_dir, d.clock.now(), False).ahead  # the rest converged


def test_a_self_signed_certificate_is_refused_then_accepted_with_ca_file(
    tmp_path: Path,
) -> None:
    cert, key = self_signed(tmp_path)
    server = start_radicale(tmp_path / "tls", cert=(cert, key))
    try:
        url = Reader(server.root, cert).new_calendar()
        d = Phone(tmp_path / "a", url)
        d.act("start")
        code, _, err = d.run("phone", "sync")
        assert code == 1 and "certificate is refused" in err and "ca_file" in err
        d = Phone(tmp_path / "b", url, extra=f'ca_file = "{cert}"\n')
        d.act("start")
        d.sync()
        d.check()
    finally:
        stop(server)


def test_plain_http_is_refused_unless_to_this_computer(tmp_path: Path) -> None:
    d = Phone(tmp_path, "http://cloud.example.org/dav/cal/")
    code, _, err = d.run("phone", "sync")
    assert code == 1 and "use https" in err


@pytest.fixture
def redirect_loop() -> Iterator[str]:
    class Loop(http.server.BaseHTTPRequestHandler):
        def do_PROPFIND(self) -> None:
            if "/status-" in self.path:  # /status-503/: that answer, always
                self.send_response(int(self.path.split("/status-")[1][:3]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(301)
            elsewhere = "http://127.0.0.2:8/cal/" if "elsewhere" in self.path else self.path
            self.send_header("Location", elsewhere)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Loop)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/ann/cal/"
    srv.shutdown()


def test_a_redirect_loop_is_one_line(redirect_loop: str, tmp_path: Path) -> None:
    d = Phone(tmp_path, redirect_loop)
    d.act("start")
    code, _, err = d.run("phone", "sync")
    assert code == 1 and err.count("\n") == 1 and "redirects in a loop" in err


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (403, "does not let this account list the calendar there (403)"),
        (404, "no calendar at caldav_url (404); check the address"),
        (503, "had an error (HTTP 503); trying again later"),
    ],
)
def test_each_refusal_is_one_line(
    redirect_loop: str, tmp_path: Path, status: int, says: str
) -> None:
    d = Phone(tmp_path, redirect_loop.replace("/cal/", f"/status-{status}/"))
    d.act("start")
    code, out, err = d.run("phone", "sync")
    assert code == 1 and out == "" and err.count("\n") == 1 and says in err


def test_a_redirect_to_another_host_is_not_followed(redirect_loop: str, tmp_path: Path) -> None:
    d = Phone(tmp_path, redirect_loop.replace("/cal/", "/elsewhere/"))
    d.act("start")
    code, _, err = d.run("phone", "sync")
    assert code == 1 and "sends icecycle to 127.0.0.2" in err and "caldav_url" in err


def test_the_password_is_in_no_output_log_or_file(radicale: Server, tmp_path: Path) -> None:
    d = Phone(tmp_path, Reader(radicale.root).new_calendar())
    d.act("start")
    d.sync()
    d.run("phone", "status")
    d.run("config")
    lines: list[str] = []
    w = phone.Worker(PhoneSettings(d.url, USER), str(d.data_dir), d.clock, d.env, lines.append)
    w._once()
    assert lines == [w.line()] and "synced" in lines[0]
    blob = "".join(d.outputs + lines).encode()
    for path in d.data_dir.iterdir():
        blob += path.read_bytes()
    assert PASSWORD.encode() not in blob


def test_the_password_command_runs_without_a_shell(radicale: Server, tmp_path: Path) -> None:
    script = tmp_path / "pw"
    script.write_text(f"#!/bin/sh\necho '{PASSWORD}'\n")
    script.chmod(0o700)
    d = Phone(
        tmp_path,
        Reader(radicale.root).new_calendar(),
        password="wrong",
        extra=f'password_command = ["{script}"]\n',
    )
    d.act("start")
    d.sync()  # password_command wins over the environment
    d.check()


# -- the dashboard ---------------------------------------------------------------------


async def test_the_dashboard_says_how_the_phone_calendar_stands(
    radicale: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from icecycle.config import Config
    from icecycle.tui.app import make_app

    from .tui_helpers import text_of

    d = Phone(tmp_path, Reader(radicale.root).new_calendar())
    d.act("start")
    monkeypatch.setenv("ICECYCLE_CALDAV_PASSWORD", PASSWORD)
    store = Store.open(d.data_dir, create=False)
    assert store is not None
    cfg = Config(phone=PhoneSettings(d.url, USER))
    app = make_app(store, d.clock, Recorder(), config=cfg, use_scheduler=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await wait_for(lambda: app.phone is not None and app.phone.syncs >= 1)
        await app.sync()
        await pilot.pause()
        line = text_of(app, "#desktop")
        assert line.startswith("Desktop notifications") and "Phone calendar: synced 10:00" in line
        d.check()
    store.close()


async def test_the_dashboard_keeps_ticking_while_the_server_never_answers(
    radicale: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from icecycle.config import Config
    from icecycle.tui.app import make_app

    from .tui_helpers import text_of

    proxy = Proxy(radicale.port)
    proxy.hang()
    d = Phone(tmp_path, f"http://127.0.0.1:{proxy.port}/{USER}/never/")
    d.act("start")
    monkeypatch.setenv("ICECYCLE_CALDAV_PASSWORD", PASSWORD)
    store = Store.open(d.data_dir, create=False)
    assert store is not None
    rec = Recorder()
    app = make_app(
        store, d.clock, rec, config=Config(phone=PhoneSettings(d.url, USER)), use_scheduler=False
    )
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            await wait_for(lambda: app.phone is not None)
            for _ in range(26):  # a minute a tick, through the end of the session
                d.clock.advance(60)
                t = time.monotonic()
                await app.sync()
                await pilot.pause()
                assert time.monotonic() - t < 1  # the screen never waits on the network (30 s)
            await wait_for(lambda: [n.kind for n in rec.sent][-1:] == ["off"], timeout=2)
            assert text_of(app, "#headline") != "ICE ON"
            assert app.phone.syncs == 0 and "not synced yet" in text_of(app, "#desktop")
    finally:
        proxy.close()
        store.close()


def test_two_runners_syncing_at_once_do_not_mistake_each_other_for_the_phone(
    radicale: Server, tmp_path: Path
) -> None:
    d = Phone(tmp_path, Reader(radicale.root).new_calendar())
    d.act("start")
    settings = PhoneSettings(d.url, USER)
    results: list[phone.Synced] = []

    def one() -> None:
        store = Store.open(d.data_dir, create=False)
        assert store is not None
        try:
            results.append(phone.sync(store, settings, str(d.data_dir), d.clock.now(), PASSWORD))
        finally:
            store.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 2 and sorted(r.put for r in results) == [0, 38]
    d.clock.advance(minutes=10)
    d.act("off")
    d.sync()
    one()
    assert results[-1].kept == 0 and results[-1].requests == 0
    d.check()


# -- the config ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ('caldav_url = "ftp://h/x/"\nusername = "a"', "phone.caldav_url: give the calendar"),
        ('caldav_url = "http://cloud.example.org/x/"\nusername = "a"', "use https"),
        ('caldav_url = "https://a:pw@h/x/"\nusername = "a"', "password in password_command"),
        ('caldav_url = "https://h/x/"', "phone.username"),
        ('caldav_url = "https://h/x/"\nusername = "a"\npassword_command = "pass x"', "list of"),
        ('caldav_url = "https://h/x/"\nusername = "a"\npassword = "x"', "unknown key"),
        ('caldav_url = "https://h/x/"\nusername = "a"\nca_file = "/nope.pem"', "PEM file"),
    ],
)
def test_a_bad_phone_section_is_one_line(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str, says: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[phone]\n{table}\n")
    monkeypatch.setenv("ICECYCLE_CONFIG", str(config))
    r = run("phone", "status")
    assert r.code == 1 and r.err.count("\n") == 1 and says in r.err
    assert "pw" not in r.err.replace("password", "")


def test_a_password_command_in_a_file_others_can_change_is_refused(
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[phone]\ncaldav_url = "https://h/x/"\nusername = "a"\npassword_command = ["pass", "x"]\n'
    )
    config.chmod(0o666)
    monkeypatch.setenv("ICECYCLE_CONFIG", str(config))
    r = run("phone", "sync")
    assert r.code == 1 and "chmod go-w" in r.err


def test_phone_commands_without_a_phone_section(run) -> None:
    r = run("phone", "sync")
    assert r.code == 1 and "no phone calendar is set up" in r.err and "[phone]" in r.err


def test_the_daemon_keeps_the_calendar_and_logs_how_it_stands(
    radicale: Server, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    d = Phone(tmp_path, Reader(radicale.root).new_calendar())
    env = {**os.environ, **d.env, "ICECYCLE_DATA_DIR": str(d.data_dir)}
    start = subprocess.run(
        [sys.executable, "-m", "icecycle", "start"], env=env, capture_output=True, timeout=30
    )
    assert start.returncode == 0, start.stderr
    log = tmp_path / "daemon.log"
    with log.open("w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "icecycle", "daemon"], env=env, stdout=fh, stderr=fh
        )
    try:
        end = time.monotonic() + 20
        while "Phone calendar: synced" not in log.read_text():
            assert time.monotonic() < end and proc.poll() is None, log.read_text()
            time.sleep(0.05)
        seen = d.reader.events(d.url)
        assert len([s for s in seen if s.summary == TITLES["upcoming"]]) == 38
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert PASSWORD not in log.read_text()
