"""Fault run on a private D-Bus (issue 19, findings 7 and 9): the take-it-off alarm against
strangers forging answers, a server restarting and reusing its numbers, a server that is
absent, hangs, closes notices at once, or drowns in a flood of signals; random timing.

    .venv/bin/python benchmarks/fault_bus.py [RUNS]      (50 of each by default)

Prints, per finding: take-it-off alarms due, delivered, lost, duplicated, answered by a
stranger (lost and stranger must be 0), and for finding 9 whether the sound played.
`main(runs)` returns the same figures as a dict (benchmarks/faults.py calls it).
Outside `make test`: it takes a minute or two.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from icecycle.answers import BUS_NAME, OBJECT  # noqa: E402
from icecycle.notify import DesktopNotifier, ice_off  # noqa: E402
from tests.desktop import BUS_CONFIG  # noqa: E402  (the test suite's private bus)

FAKE = ROOT / "tests" / "fake_notifyd.py"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
#: How long one run waits for the alarm to reach a working server.
DELIVER_S = 6.0


class Bus:
    """A private session bus, fake servers on it, and a stranger's connection."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "bus").mkdir()
        conf = root / "bus.conf"
        conf.write_text(BUS_CONFIG.format(dir=root / "bus"))
        self.daemon = subprocess.Popen(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.daemon.stdout is not None
        self.address = self.daemon.stdout.readline().decode().strip()
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = self.address
        self.servers: list[subprocess.Popen[bytes]] = []
        from jeepney.io.blocking import open_dbus_connection

        self.stranger = open_dbus_connection(self.address)
        self.lock = threading.Lock()

    def server(self, record: Path, mode: str = "ok", first_id: int = 1) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, str(FAKE), str(record), "actions,body", mode, str(first_id)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        self.servers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=5)
        from jeepney.bus_messages import message_bus

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with self.lock:
                reply = self.stranger.send_and_get_reply(
                    message_bus.NameHasOwner(BUS_NAME), timeout=2
                )
            if not reply.body[0]:
                return
            time.sleep(0.02)

    def forge(self, nid: int, key: str, member: str = "ActionInvoked") -> None:
        """A stranger's signal: what a server would send, from another connection."""
        from jeepney import DBusAddress, new_signal

        emitter = DBusAddress(OBJECT, interface=BUS_NAME)
        body: tuple[Any, ...] = (nid, key) if member == "ActionInvoked" else (nid, 2)
        with self.lock:
            self.stranger.send(new_signal(emitter, member, "us" if body[1] == key else "uu", body))

    def notify_as_stranger(self) -> int:
        """Another program shows a notice of its own; the server's number for it."""
        from jeepney import DBusAddress, new_method_call

        server = DBusAddress(OBJECT, bus_name=BUS_NAME, interface=BUS_NAME)
        msg = new_method_call(
            server,
            "Notify",
            "susssasa{sv}i",
            ("other", 0, "", "Someone else's notice", "", ["default", "Open"], {}, -1),
        )
        with self.lock:
            return int(self.stranger.send_and_get_reply(msg, timeout=5).body[0])

    def stop(self) -> None:
        for proc in self.servers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
        self.stranger.close()
        self.daemon.send_signal(signal.SIGTERM)
        self.daemon.wait(timeout=5)


def says(proc: subprocess.Popen[bytes], line: str) -> None:
    """The server itself emitting a signal."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(line.encode() + b"\n")
        proc.stdin.flush()
    except (BrokenPipeError, ValueError):
        pass


def calls(record: Path) -> list[dict[str, Any]]:
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line.strip()]


def alarm_ids(record: Path) -> tuple[int, list[int]]:
    """(how many alarms the server was shown, the alarm notices it has open now)."""
    shown, open_ids = 0, []
    for doc in calls(record):
        if "close" in doc:
            open_ids = [i for i in open_ids if i != doc["close"]]
        elif doc.get("summary") == "Take the ice off now" and "id" in doc:
            shown += 1
            if not doc["replaces"]:
                open_ids.append(doc["id"])
    return shown, open_ids


def wait_until(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


class Tally:
    def __init__(self) -> None:
        self.due = self.delivered = self.lost = self.duplicated = self.stranger = 0
        self.sound = 0
        self.faults: dict[str, int] = {}

    def as_dict(self, with_sound: bool) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "due": self.due,
            "delivered": self.delivered,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "answered_by_stranger": self.stranger,
            "faults": self.faults,
        }
        if with_sound:
            doc["sound_played"] = self.sound
        return doc


def answer_and_count(
    bus: Bus, n: DesktopNotifier, heard: list[str], server: subprocess.Popen[bytes], record: Path
) -> tuple[bool, bool, bool]:
    """After the faults: (delivered, duplicated, answered by a stranger). A stranger's
    answer is one heard before the real server's own."""
    delivered = wait_until(lambda: alarm_ids(record)[1] != [], DELIVER_S)
    stranger = bool(heard)
    if not delivered:
        return False, False, stranger
    wait_until(lambda: n.waiting() is not None and n._waiter is not None, 2.0)
    time.sleep(0.1)
    open_ids = alarm_ids(record)[1]
    duplicated = len(open_ids) > 1
    says(server, f"action {open_ids[-1]} ice-off")
    wait_until(lambda: heard, 3.0)
    return True, duplicated, stranger or len(heard) > 1


def run_stranger(bus: Bus, root: Path, rng: random.Random, t: Tally, i: int) -> None:
    """Finding 7: forged answers from a stranger, before, during and after the send; in half
    the runs the server restarts mid-way, numbering from 1 again, and answers its own
    (other program's) notice with the alarm's old number."""
    record = root / f"s{i}.jsonl"
    server = bus.server(record, first_id=rng.randint(1, 3))
    n = DesktopNotifier(sound=False, retry_s=(0.2, 0.4))
    heard: list[str] = []
    n.listen(lambda notice, key: heard.append(key))
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            bus.forge(rng.randint(1, 4), rng.choice(["ice-off", "default", "skip"]))
            if rng.random() < 0.2:
                bus.forge(rng.randint(1, 4), "", member="NotificationClosed")
            time.sleep(rng.uniform(0, 0.02))

    forger = threading.Thread(target=flood, daemon=True)
    forger.start()
    time.sleep(rng.uniform(0, 0.2))
    t.due += 1
    n.send(ice_off(T0, T0, None, False))
    restart = rng.random() < 0.5
    if restart:
        t.faults["restart"] = t.faults.get("restart", 0) + 1
        time.sleep(rng.uniform(0, 0.3))
        bus.kill(server)
        record = root / f"s{i}-after.jsonl"
        server = bus.server(record, first_id=1)
        # Another program's notice on the new server, numbered from 1 again (the number
        # the alarm had, likely), clicked: it must not answer the alarm.
        other = bus.notify_as_stranger()
        says(server, f"action {other} ice-off")
        says(server, f"action {other} default")
    time.sleep(rng.uniform(0, 0.3))
    stop.set()
    forger.join()
    delivered, duplicated, stranger = answer_and_count(bus, n, heard, server, record)
    t.delivered += delivered
    t.lost += not delivered
    t.duplicated += duplicated
    t.stranger += stranger
    n.close()
    bus.kill(server)


def run_send(bus: Bus, root: Path, rng: random.Random, t: Tally, i: int, played: Path) -> None:
    """Finding 9: the server absent at the send (it comes later), hung (a working one takes
    its place), closing notices at once, or drowned in a stranger's flood."""
    record = root / f"d{i}.jsonl"
    fault = rng.choice(["absent", "hang", "close", "flood"])
    t.faults[fault] = t.faults.get(fault, 0) + 1
    before = len(played.read_text().splitlines()) if played.exists() else 0
    server = None
    if fault in ("close", "flood"):
        server = bus.server(record, mode="close" if fault == "close" else "ok")
    hung = bus.server(root / f"d{i}-hung.jsonl", mode="hang") if fault == "hang" else None
    n = DesktopNotifier(timeout=1.0, retry_s=(0.2, 0.4, 0.8), play_s=1.0)
    heard: list[str] = []
    n.listen(lambda notice, key: heard.append(key))
    stop = threading.Event()

    def flood() -> None:
        while not stop.is_set():
            for _ in range(50):
                bus.forge(rng.randint(1, 3), rng.choice(["ice-off", "default"]))
            time.sleep(0.001)

    forger = threading.Thread(target=flood, daemon=True)
    if fault == "flood":
        forger.start()
    t.due += 1
    sender = threading.Thread(target=n.send, args=(ice_off(T0, T0, None, False),))
    sender.start()
    if fault == "absent":
        time.sleep(rng.uniform(0, 1.5))
        server = bus.server(record)
    elif fault == "hang":
        time.sleep(rng.uniform(0.2, 1.5))
        assert hung is not None
        bus.kill(hung)
        server = bus.server(record)
    sender.join()
    assert server is not None
    if fault == "close":
        delivered = wait_until(lambda: alarm_ids(record)[0] > 0, DELIVER_S)
        duplicated = alarm_ids(record)[0] > 1
        stranger = bool(heard)
    else:
        delivered, duplicated, stranger = answer_and_count(bus, n, heard, server, record)
    stop.set()
    if forger.is_alive():
        forger.join()
    sound = wait_until(
        lambda: played.exists() and len(played.read_text().splitlines()) > before, 2.0
    )
    t.sound += sound
    t.delivered += delivered
    t.lost += not delivered
    t.duplicated += duplicated
    t.stranger += stranger
    n.close()
    bus.kill(server)


def main(runs: int = 50, seed: int | None = None) -> dict[str, Any]:
    """Run both fault sets `runs` times each on a private bus; the figures, as a dict."""
    if shutil.which("dbus-daemon") is None:
        raise SystemExit("fault_bus: needs dbus-daemon (Debian: dbus)")
    rng = random.Random(seed)
    saved = {k: os.environ.get(k) for k in ("DBUS_SESSION_BUS_ADDRESS", "ICECYCLE_PLAYER_PATH")}
    with tempfile.TemporaryDirectory(prefix="icecycle-fault-bus-") as tmp:
        root = Path(tmp)
        bin_dir = root / "bin"
        bin_dir.mkdir()
        played = root / "played"
        player = bin_dir / "pw-play"
        player.write_text(f'#!/bin/sh\necho "$$" >> {played}\nexec sleep 2\n')
        player.chmod(0o755)
        os.environ["ICECYCLE_PLAYER_PATH"] = str(bin_dir)
        bus = Bus(root)
        stranger, send = Tally(), Tally()
        started = time.monotonic()
        try:
            for i in range(runs):
                run_stranger(bus, root, rng, stranger, i)
                run_send(bus, root, rng, send, i, played)
        finally:
            bus.stop()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return {
        "runs": runs,
        "seconds": round(time.monotonic() - started, 1),
        "7 answers from strangers, server restarts": stranger.as_dict(False),
        "9 send failures, hangs, floods, closed at once": send.as_dict(True),
    }


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"fault run on a private D-Bus: {figures['runs']} runs of each, {figures['seconds']} s"
    ]
    head = f"{'finding':48} {'due':>4} {'delivered':>9} {'lost':>4} {'dup':>4} {'stranger':>8}"
    lines.append(head + "  sound")
    for name, doc in figures.items():
        if not isinstance(doc, dict):
            continue
        row = f"{name:48} {doc['due']:>4} {doc['delivered']:>9} {doc['lost']:>4} "
        row += f"{doc['duplicated']:>4} {doc['answered_by_stranger']:>8}"
        if "sound_played" in doc:
            row += f"  {doc['sound_played']}/{doc['due']}"
        faults = ", ".join(f"{k} {v}" for k, v in sorted(doc["faults"].items()))
        lines.append(row + (f"   ({faults})" if faults else ""))
    return "\n".join(lines)


if __name__ == "__main__":
    figures = main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
    print(report(figures))
    bad = any(
        isinstance(d, dict) and (d["lost"] or d["answered_by_stranger"]) for d in figures.values()
    )
    sys.exit(1 if bad else 0)
