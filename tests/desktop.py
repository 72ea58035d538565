"""A private desktop for tests: its own D-Bus session bus, Xvfb, dunst and dbus-monitor."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NOTIFICATION_DAEMON = "/usr/lib/notification-daemon/notification-daemon"
TOOLS = ("dbus-daemon", "dbus-monitor", "dbus-send", "Xvfb", "dunst", "notify-send")

# A session bus with no service activation, so "no notification daemon" can really happen
# (the stock session config would start dunst on demand from its .service file).
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def require_desktop() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not missing:
        return
    reason = f"needs a desktop stack; missing: {', '.join(missing)} (bash .ci/run installs them)"
    if os.environ.get("ICECYCLE_REQUIRE_DESKTOP") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Notify:
    time: float
    app: str
    summary: str
    body: str
    urgency: int | None
    #: The buttons, as the flat list the protocol sends: key, label, key, label, ...
    actions: list[str] = field(default_factory=list)
    sound_name: str | None = None
    replaces: int = 0


class Desktop:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = os.environ.copy()
        self.monitor_log = root / "monitor.log"

    def start(self, *, with_daemon: bool = True) -> Desktop:
        conf = self.root / "bus.conf"
        sock_dir = self.root / "bus"
        sock_dir.mkdir()
        conf.write_text(BUS_CONFIG.format(dir=sock_dir))
        bus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.procs["bus"] = bus
        assert bus.stdout is not None
        self.env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().decode().strip()
        r, w = os.pipe()
        xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-nolisten", "tcp", "-screen", "0", "640x480x24"],
            pass_fds=(w,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(w)
        self.procs["xvfb"] = xvfb
        with os.fdopen(r) as fh:
            self.env["DISPLAY"] = ":" + fh.readline().strip()
        if with_daemon:
            self.start_dunst()
        monitor = subprocess.Popen(
            [
                "dbus-monitor",
                "--session",
                "interface='org.freedesktop.Notifications',member='Notify'",
                "interface='org.freedesktop.Notifications',member='NotificationClosed'",
                "interface='org.freedesktop.Notifications',member='CloseNotification'",
            ],
            stdout=self.monitor_log.open("wb"),
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        self.procs["monitor"] = monitor
        time.sleep(0.3)  # dbus-monitor registers as a monitor
        return self

    def start_dunst(self) -> None:
        self.procs["dunst"] = subprocess.Popen(
            ["dunst"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.name_has_owner("org.freedesktop.Notifications"):
                return
            time.sleep(0.1)
        raise RuntimeError("dunst did not take the notifications name")

    def name_has_owner(self, name: str) -> bool:
        out = subprocess.run(
            [
                "dbus-send",
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.DBus",
                "/",
                "org.freedesktop.DBus.NameHasOwner",
                f"string:{name}",
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout
        return "boolean true" in out

    def start_fake(
        self,
        record: Path,
        caps: str,
        mode: str = "ok",
        *,
        first_id: int = 1,
        name: str = "fake",
        key: str = "fake",
    ) -> subprocess.Popen[bytes]:
        """A fake notification server (tests/fake_notifyd.py) in dunst's place."""
        script = str(Path(__file__).with_name("fake_notifyd.py"))
        fake = subprocess.Popen(
            [sys.executable, script, str(record), caps, mode, str(first_id), name],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.procs[key] = fake
        assert fake.stdout is not None
        assert fake.stdout.readline().strip() == b"ready"
        return fake

    def server_says(self, line: str, key: str = "fake") -> None:
        """Make the fake server emit a signal itself ("action ID KEY", "closed ID REASON")."""
        stdin = self.procs[key].stdin
        assert stdin is not None
        stdin.write(line.encode() + b"\n")
        stdin.flush()

    def stop_fake(self, key: str = "fake") -> None:
        proc = self.procs.pop(key)
        proc.kill()
        proc.wait(timeout=5)
        deadline = time.monotonic() + 5
        while self.name_has_owner("org.freedesktop.Notifications"):
            assert time.monotonic() < deadline, "the fake server kept its name"
            time.sleep(0.05)

    def start_notification_daemon(self) -> None:
        """GNOME's notification-daemon (one notice on screen at a time) on this bus."""
        if not os.access(NOTIFICATION_DAEMON, os.X_OK):
            reason = f"needs {NOTIFICATION_DAEMON} (Debian: notification-daemon; bash .ci/run)"
            if os.environ.get("ICECYCLE_REQUIRE_DESKTOP") == "1":
                pytest.fail(reason)
            pytest.skip(reason)
        self.procs["notification-daemon"] = subprocess.Popen(
            [NOTIFICATION_DAEMON],
            env={**self.env, "NO_AT_BRIDGE": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not self.name_has_owner("org.freedesktop.Notifications"):
            if time.monotonic() > deadline:
                raise RuntimeError("notification-daemon did not take the notifications name")
            time.sleep(0.1)

    def action(self, nid: int, key: str) -> None:
        """A stranger on the bus (dbus-send's own connection) forging a button press: an
        ActionInvoked signal that no notification server sent."""
        subprocess.run(
            [
                "dbus-send",
                "--session",
                "--type=signal",
                "/org/freedesktop/Notifications",
                "org.freedesktop.Notifications.ActionInvoked",
                f"uint32:{nid}",
                f"string:{key}",
            ],
            env=self.env,
            check=True,
            timeout=5,
        )

    def dunstctl(self, *args: str) -> str:
        return subprocess.run(
            ["dunstctl", *args], env=self.env, capture_output=True, text=True, timeout=5
        ).stdout.strip()

    def closed_signals(self) -> list[tuple[float, int, int]]:
        """Every NotificationClosed seen on the bus: (time, id, reason)."""
        text = self.monitor_log.read_text(errors="replace")
        out = []
        for block in re.split(r"\n(?=method call |signal |method return |error )", text):
            if block.startswith("signal") and "member=NotificationClosed" in block:
                stamp = float(re.search(r"time=([0-9.]+)", block).group(1))
                nid, reason = map(int, re.findall(r"^\s+uint32 (\d+)$", block, re.M)[:2])
                out.append((stamp, nid, reason))
        return out

    def hang_dunst(self) -> None:
        self.procs["dunst"].send_signal(signal.SIGSTOP)

    def notifications(self) -> list[Notify]:
        """Every Notify call seen on the bus, from dbus-monitor's log."""
        text = self.monitor_log.read_text(errors="replace")
        out = []
        for block in re.split(r"\n(?=method call |signal |method return |error )", text):
            if not block.startswith("method call") or "member=Notify" not in block:
                continue
            stamp = float(re.search(r"time=([0-9.]+)", block).group(1))
            strings = re.findall(r'^\s+string "(.*)"$', block, re.M)
            urgency = re.search(r'string "urgency"\s+variant\s+byte (\d+)', block)
            sound = re.search(r'string "sound-name"\s+variant\s+string "(.*)"', block)
            actions = re.search(r"\n   array \[\n(.*?)\n   \]", block, re.S)
            replaces = re.search(r"^\s+uint32 (\d+)$", block, re.M)
            out.append(
                Notify(
                    stamp,
                    strings[0],
                    strings[2],
                    strings[3],
                    int(urgency.group(1)) if urgency else None,
                    re.findall(r'string "(.*)"', actions.group(1)) if actions else [],
                    sound.group(1) if sound else None,
                    int(replaces.group(1)) if replaces else 0,
                )
            )
        return out

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
