"""Real CalDAV servers on 127.0.0.1 for the phone tests (Radicale with htpasswd, Xandikos),
a switchable TCP proxy for the faults, and a reader that is not phone.py's client."""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from icalendar import Calendar

USER, PASSWORD = "ann", "s3cret-Pa55word-xyzzy"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read() if proc.stderr else ''}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("the server did not start listening")


class Server(NamedTuple):
    name: str
    root: str  # e.g. http://127.0.0.1:PORT/ann/
    proc: subprocess.Popen[bytes]
    port: int
    tls: bool = False


def start_radicale(
    tmp: Path, port: int | None = None, cert: tuple[str, str] | None = None
) -> Server:
    port = port or free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    users = tmp / "users"
    users.write_text(f"{USER}:{PASSWORD}\n")
    argv = [
        sys.executable,
        "-m",
        "radicale",
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--storage-filesystem-folder",
        str(tmp / "collections"),
        "--auth-type",
        "htpasswd",
        "--auth-htpasswd-filename",
        str(users),
        "--auth-htpasswd-encryption",
        "plain",
        "--rights-type",
        "owner_only",
        "--logging-level",
        "warning",
    ]
    if cert is not None:
        argv += ["--server-ssl", "True", "--server-certificate", cert[0], "--server-key", cert[1]]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_listening(port, proc)
    scheme = "https" if cert else "http"
    return Server("radicale", f"{scheme}://127.0.0.1:{port}/{USER}/", proc, port, bool(cert))


def start_xandikos(tmp: Path) -> Server:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "xandikos",
        "serve",
        "-d",
        str(tmp / "dav"),
        "--state-dir",
        str(tmp / "state"),
        "-l",
        "127.0.0.1",
        "-p",
        str(port),
        "--current-user-principal",
        f"/{USER}/",
        "--defaults",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_listening(port, proc)
    return Server("xandikos", f"http://127.0.0.1:{port}/{USER}/calendars/", proc, port)


def stop(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(5)
    except subprocess.TimeoutExpired:
        server.proc.kill()


def self_signed(tmp: Path) -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by itself (openssl)."""
    if shutil.which("openssl") is None:
        import pytest

        pytest.skip("openssl is not installed")
    cert, key = str(tmp / "cert.pem"), str(tmp / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


# -- a separate client ---------------------------------------------------------------------


class Seen(NamedTuple):
    """One event as the server holds it."""

    name: str
    uid: str
    summary: str
    start: datetime
    end: datetime
    alarms: tuple[datetime, ...]
    etag: str
    raw: bytes


class Reader:
    """Plain WebDAV over http.client: MKCALENDAR, a calendar-query REPORT, PUT as a phone."""

    def __init__(self, url: str, cafile: str | None = None) -> None:
        self.url = url
        self.cafile = cafile
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def _req(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(self.url)
        if parts.scheme == "https":
            import ssl

            ctx = ssl.create_default_context(cafile=self.cafile)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", parts.port, context=ctx, timeout=10
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            conn.request(
                method, path, body=body or None, headers={**self.headers, **(headers or {})}
            )
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def new_calendar(self) -> str:
        """A fresh calendar under the server's root; its URL."""
        path = urlsplit(self.url).path + f"ice-{uuid.uuid4().hex[:8]}/"
        body = (
            b'<?xml version="1.0" encoding="utf-8"?>'
            b'<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            b"<d:set><d:prop><d:displayname>icecycle</d:displayname></d:prop></d:set>"
            b"</c:mkcalendar>"
        )
        status, _, data = self._req("MKCALENDAR", path, body)
        assert status in (201, 200), (status, data[:300])
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{path}"

    def events(self, calendar: str) -> list[Seen]:
        path = urlsplit(calendar).path
        body = (
            b'<?xml version="1.0" encoding="utf-8"?>'
            b'<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            b"<d:prop><d:getetag/><c:calendar-data/></d:prop>"
            b'<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/>'
            b"</c:comp-filter></c:filter></c:calendar-query>"
        )
        status, _, data = self._req(
            "REPORT", path, body, {"Depth": "1", "Content-Type": "application/xml"}
        )
        assert status == 207, (status, data[:300])
        out: list[Seen] = []
        for resp in ET.fromstring(data).iter("{DAV:}response"):
            href = resp.findtext("{DAV:}href") or ""
            etag = resp.findtext(".//{DAV:}getetag") or ""
            text = resp.findtext(".//{urn:ietf:params:xml:ns:caldav}calendar-data")
            if not text:
                continue
            raw = text.encode()
            for ev in Calendar.from_ical(raw).walk("VEVENT"):
                start = ev.decoded("dtstart")
                alarms = tuple(sorted(start + a.decoded("trigger") for a in ev.walk("VALARM")))
                out.append(
                    Seen(
                        href.rsplit("/", 1)[-1],
                        str(ev["uid"]),
                        str(ev.get("summary", "")),
                        start,
                        ev.decoded("dtend"),
                        alarms,
                        etag,
                        raw,
                    )
                )
        return sorted(out, key=lambda s: (s.start, s.uid))

    def put_as_phone(self, calendar: str, seen: Seen, summary: str) -> None:
        """The person edits one event on the phone: its ETag changes."""
        body = seen.raw.replace(
            f"SUMMARY:{seen.summary}".encode(), f"SUMMARY:{summary}".encode(), 1
        )
        path = urlsplit(calendar).path + seen.name
        status, _, data = self._req(
            "PUT", path, body, {"If-Match": seen.etag, "Content-Type": "text/calendar"}
        )
        assert status in (200, 201, 204), (status, data[:300])


# -- faults --------------------------------------------------------------------------------


class Proxy:
    """127.0.0.1:port forwarding to a server, that can be switched to "down" (connections
    refused: nothing listens) or "hang" (accepts, reads, never answers)."""

    def __init__(self, target_port: int) -> None:
        self.target = target_port
        self.port = free_port()
        self.mode = "up"
        self._listener: socket.socket | None = None
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self.listen()

    def listen(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self) -> None:
        self.mode = "down"
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        self._drop_held()

    def up(self) -> None:
        self.mode = "up"
        self._drop_held()
        if self._listener is None:
            self.listen()

    def hang(self) -> None:
        self.mode = "hang"
        if self._listener is None:
            self.listen()

    def _drop_held(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for c in held:
            with contextlib.suppress(OSError):
                c.close()

    def _accept(self, s: socket.socket) -> None:
        while True:
            try:
                client, _ = s.accept()
            except OSError:
                return
            if self.mode == "hang":
                with self._lock:
                    self._held.append(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), 5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._held += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.down()


def _pipe(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)


def env_without_password() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "ICECYCLE_CALDAV_PASSWORD"}
