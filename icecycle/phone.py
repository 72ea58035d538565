"""Keeps a CalDAV calendar converged with the schedule (a worker of the runner).

The phone subscribes to that calendar (DAVx5, iOS) and rings by itself when the computer
sleeps. The events are the ones `icecycle export` writes (ics.wanted, ics.vevent): one
resource per event, named after its UID. One sync:

- works out what the calendar should hold now, and compares it with what it was last given
  (the ledger, a small file beside the database: UIDs, SEQUENCE, ETags; never a password);
- PUTs each event that changed (If-Match its ETag; If-None-Match * for a new one) and
  DELETEs each one no longer planned (If-Match): one request per changed event, nothing for
  the rest. A 412 means someone changed that event on the phone: it is left as they have it;
- lists the calendar first (one PROPFIND) when it has not seen it before, or when asked.

The HTTP client is the standard library's http.client over ssl (certificates checked; a
`ca_file` for a private CA), imported only when a sync runs. Every sync is bounded: 5 s to
connect, 30 s in all (a timer closes the connection at the deadline, so a server that
accepts and never answers cannot hold it). The worker runs syncs on a thread of its own, so
nothing here can delay a notification or the dashboard.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, unquote, urljoin, urlsplit

from icecycle import __version__
from icecycle.config import PhoneSettings
from icecycle.ics import PAST, Entry, render_one, wanted

if TYPE_CHECKING:
    from icecycle.clock import Clock
    from icecycle.store import Store

LEDGER = "phone.json"  # beside the database
PASSWORD_ENV = "ICECYCLE_CALDAV_PASSWORD"
CONNECT_S = 5.0  # to open the connection (TCP and TLS)
TOTAL_S = 30.0  # one whole sync, every request in it
PASSWORD_S = 10.0  # password_command
#: After a failed sync, the next try (seconds), then longer each time; a change tries at once.
RETRY_S = (180.0, 360.0, 720.0, 900.0)
MAX_BODY = 4 * 1024 * 1024  # more than a calendar listing of ours ever is
MAX_REDIRECTS = 5


class PhoneError(Exception):
    """A sync that did not happen, in one line that says why (never the password)."""


class Synced(NamedTuple):
    """What one sync did."""

    requests: int
    put: int
    deleted: int
    kept: int  # events changed on the phone, left as the phone has them
    counts: Mapping[str, int]  # what is on the calendar now: upcoming, in progress, over, alarm

    def line(self) -> str:
        return f"Phone calendar synced: {describe(self.counts)}; {self.requests} requests." + (
            f" {self.kept} event{'s' if self.kept != 1 else ''} changed on the phone left as "
            "they are."
            if self.kept
            else ""
        )


def describe(counts: Mapping[str, int]) -> str:
    parts = [
        f"{counts.get('upcoming', 0)} upcoming",
        f"{counts.get('in progress', 0)} in progress",
        f"{counts.get('over', 0)} over",
    ]
    if counts.get("alarm"):
        parts.append("1 asking you to answer the take-it-off alarm")
    return ", ".join(parts)


# -- the ledger ----------------------------------------------------------------------------


class Record(NamedTuple):
    """An event as the calendar was last given it."""

    entry: Entry
    etag: str | None
    flag: str = ""  # "" ours and current, "gone" deleted by us, "phone" changed on the phone


class Ledger(NamedTuple):
    url: str = ""
    records: dict[str, Record] = {}
    last_ok: str | None = None
    last_try: str | None = None
    last_error: str | None = None

    def counts(self) -> dict[str, int]:
        out = {"upcoming": 0, "in progress": 0, "over": 0, "alarm": 0, "phone": 0}
        for r in self.records.values():
            if r.flag == "phone":
                out["phone"] += 1
            elif not r.flag:
                s = r.entry.status
                key = "over" if s in PAST else s
                if key in out:
                    out[key] += 1
        return out


def ledger_path(data_dir: str) -> str:
    return os.path.join(data_dir, LEDGER)


def load_ledger(data_dir: str) -> Ledger:
    try:
        with open(ledger_path(data_dir), encoding="utf-8") as fh:
            doc = json.load(fh)
        records = {
            str(u): Record(
                Entry(str(u), int(q), datetime.fromisoformat(s), datetime.fromisoformat(e), str(t)),
                str(tag) if tag else None,
                str(flag),
            )
            for u, q, s, e, t, tag, flag in doc["events"]
        }
        return Ledger(
            str(doc["url"]), records, doc.get("last_ok"), doc.get("last_try"), doc.get("last_error")
        )
    except (OSError, ValueError, TypeError, KeyError):
        return Ledger()  # none, or unreadable: the next sync lists the calendar first


def _row(r: Record) -> list[object]:
    e = r.entry
    return [e.uid, e.seq, e.start.isoformat(), e.end.isoformat(), e.status, r.etag, r.flag]


def save_ledger(data_dir: str, ledger: Ledger) -> None:
    doc = {
        "v": 1,
        "url": ledger.url,
        "last_ok": ledger.last_ok,
        "last_try": ledger.last_try,
        "last_error": ledger.last_error,
        "events": [_row(r) for r in ledger.records.values()],
    }
    path = ledger_path(data_dir)
    tmp = f"{path}.tmp"
    with contextlib.suppress(OSError):  # the next sync lists the calendar if this is lost
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, separators=(",", ":"))
        os.replace(tmp, path)


# -- the password --------------------------------------------------------------------------


def get_password(settings: PhoneSettings, env: Mapping[str, str]) -> str:
    """From password_command (argv, no shell; its first line), else the environment."""
    if settings.password_command:
        argv = list(settings.password_command)
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=PASSWORD_S,
                check=False,
            )
        except FileNotFoundError:
            raise PhoneError(f"password_command: {argv[0]} was not found") from None
        except subprocess.TimeoutExpired:
            raise PhoneError(f"password_command gave no password within {PASSWORD_S:g} s") from None
        except OSError as exc:
            raise PhoneError(f"password_command cannot run ({exc.strerror})") from None
        if done.returncode != 0:  # its output is never shown: it may hold the secret
            raise PhoneError(f"password_command failed (exit status {done.returncode})")
        lines = done.stdout.decode("utf-8", "replace").splitlines()
        if not lines or not lines[0]:
            raise PhoneError("password_command printed no password")
        return lines[0]
    value = env.get(PASSWORD_ENV)
    if value:
        return value
    raise PhoneError(f"no password: set password_command in [phone], or {PASSWORD_ENV}")


# -- HTTP ----------------------------------------------------------------------------------


def check_url(url: str) -> None:
    """https, or http to this computer only (a password must not cross a network in clear)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PhoneError(f"caldav_url {url!r} is not an http(s) address")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise PhoneError("caldav_url must use https (plain http only to this computer)")


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Response(NamedTuple):
    status: int
    headers: Mapping[str, str]
    body: bytes


class Dav:
    """A few WebDAV requests on one kept-alive connection, all within one deadline."""

    def __init__(
        self,
        settings: PhoneSettings,
        password: str,
        *,
        connect_s: float = CONNECT_S,
        total_s: float = TOTAL_S,
    ) -> None:
        check_url(settings.caldav_url)
        self.base = (
            settings.caldav_url if settings.caldav_url.endswith("/") else settings.caldav_url + "/"
        )
        self.ca_file = settings.ca_file
        token = base64.b64encode(f"{settings.username}:{password}".encode()).decode("ascii")
        self._auth = f"Basic {token}"
        self.connect_s = connect_s
        self.deadline = time.monotonic() + total_s
        self.total_s = total_s
        self.requests = 0
        self._conn: Any = None
        self._origin: tuple[str, str, int] | None = None
        self._lock = threading.Lock()
        self._aborted = False
        self._timer = threading.Timer(total_s, self.abort)
        self._timer.daemon = True
        self._timer.start()

    def close(self) -> None:
        self._timer.cancel()
        self._drop()

    def abort(self) -> None:
        """The deadline: close the socket under whatever request waits on it."""
        with self._lock:
            self._aborted = True
            conn = self._conn
        if conn is not None and conn.sock is not None:
            import socket

            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)

    def _drop(self) -> None:
        with self._lock:
            conn, self._conn, self._origin = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _connection(self, scheme: str, host: str, port: int) -> Any:
        import http.client

        if self._conn is not None and self._origin == (scheme, host, port):
            return self._conn
        self._drop()
        timeout = max(0.01, min(self.connect_s, self.deadline - time.monotonic()))
        conn: Any
        if scheme == "https":
            import ssl

            context = ssl.create_default_context(cafile=self.ca_file)
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        with self._lock:
            if self._aborted:
                raise TimeoutError
            self._conn, self._origin = conn, (scheme, host, port)
        conn.connect()
        return conn

    def request(
        self, method: str, url: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> Response:
        for _ in range(MAX_REDIRECTS + 1):
            r = self._once(method, url, body, headers or {})
            if r.status in (301, 302, 307, 308) and r.headers.get("location"):
                new = urljoin(url, r.headers["location"])
                if _origin(new) != _origin(url):
                    # The password goes only where the config says; the person decides.
                    raise PhoneError(
                        f"the CalDAV server sends icecycle to {_origin(new)[1]}; if that is "
                        "right, put that address in caldav_url"
                    )
                url = new
                if method == "PROPFIND" and urlsplit(url).path.endswith("/"):
                    self.base = url  # the calendar lives there
                continue
            return r
        raise PhoneError("the CalDAV server redirects in a loop; check caldav_url")

    def _once(self, method: str, url: str, body: bytes, headers: Mapping[str, str]) -> Response:
        import http.client
        import ssl

        parts = urlsplit(url)
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        try:
            for attempt in (0, 1):
                conn = self._connection(scheme, parts.hostname or "", port)
                left = self.deadline - time.monotonic()
                if left <= 0 or self._aborted:
                    raise TimeoutError
                if conn.sock is not None:
                    conn.sock.settimeout(left)
                all_headers = {
                    "Authorization": self._auth,
                    "User-Agent": f"icecycle/{__version__}",
                    **headers,
                }
                try:
                    self.requests += 1
                    conn.request(method, path, body=body or None, headers=all_headers)
                    resp = conn.getresponse()
                    data = resp.read(MAX_BODY)
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                    # A kept-alive connection the server closed meanwhile: once more, afresh.
                    self._drop()
                    if attempt or self._aborted:
                        raise
                    continue
                if resp.getheader("connection", "").lower() == "close":
                    self._drop()
                return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            why = exc.verify_message or "not trusted"
            raise PhoneError(
                f"the CalDAV server's certificate is refused ({why}); for a private CA, "
                "set ca_file in [phone]"
            ) from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            self._drop()
            if self._aborted or isinstance(exc, TimeoutError) or "timed out" in str(exc):
                raise PhoneError(
                    f"the CalDAV server did not answer in time ({self.total_s:g} s)"
                ) from None
            if isinstance(exc, ConnectionRefusedError):
                raise PhoneError(
                    f"cannot reach the CalDAV server at {parts.hostname} (connection refused)"
                ) from None
            if isinstance(exc, ssl.SSLError):
                raise PhoneError(f"TLS with the CalDAV server failed ({exc.reason})") from None
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise PhoneError(
                f"cannot reach the CalDAV server at {parts.hostname} ({why})"
            ) from None
        raise PhoneError("the CalDAV server closed the connection twice")  # pragma: no cover

    # -- WebDAV ------------------------------------------------------------------------

    def href(self, uid: str) -> str:
        return urljoin(self.base, quote(resource_name(uid)))

    def list(self) -> dict[str, str]:
        """The calendar's resources of ours: name -> ETag (one PROPFIND)."""
        body = (
            b'<?xml version="1.0" encoding="utf-8"?>'
            b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
        )
        r = self.request(
            "PROPFIND",
            self.base,
            body,
            {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        )
        if r.status != 207:
            raise PhoneError(refusal(r.status, "list the calendar"))
        return parse_listing(r.body)

    def etag(self, url: str) -> str | None:
        body = (
            b'<?xml version="1.0" encoding="utf-8"?>'
            b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
        )
        r = self.request(
            "PROPFIND", url, body, {"Depth": "0", "Content-Type": "application/xml; charset=utf-8"}
        )
        if r.status != 207:
            return None
        found = parse_listing(r.body, ours_only=False)
        return next(iter(found.values()), None)

    def put(self, uid: str, data: bytes, etag: str | None) -> tuple[int, str | None]:
        url = self.href(uid)
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        if etag is not None:
            headers["If-Match"] = etag
        else:
            headers["If-None-Match"] = "*"
        r = self.request("PUT", url, data, headers)
        if r.status == 412:
            return 412, None
        if r.status not in (200, 201, 204):
            raise PhoneError(refusal(r.status, "save an event"))
        return r.status, r.headers.get("etag") or self.etag(url)

    def delete(self, uid: str, etag: str | None) -> int:
        headers = {"If-Match": etag} if etag else {}
        r = self.request("DELETE", self.href(uid), b"", headers)
        if r.status in (200, 204, 404, 410, 412):
            return r.status
        raise PhoneError(refusal(r.status, "delete an event"))


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return (
        parts.scheme,
        parts.hostname or "",
        parts.port or (443 if parts.scheme == "https" else 80),
    )


def resource_name(uid: str) -> str:
    return uid.replace("@", "_") + ".ics"


def refusal(status: int, doing: str) -> str:
    """One line for an HTTP status that stops a sync."""
    if status == 401:
        return "the CalDAV server refused the username or password (401)"
    if status == 403:
        return f"the CalDAV server does not let this account {doing} there (403)"
    if status == 404:
        return "there is no calendar at caldav_url (404); check the address"
    if status >= 500:
        return f"the CalDAV server had an error (HTTP {status}); trying again later"
    return f"the CalDAV server answered HTTP {status} when asked to {doing}"


def parse_listing(body: bytes, ours_only: bool = True) -> dict[str, str]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise PhoneError("the CalDAV server's answer is not WebDAV XML") from None
    out: dict[str, str] = {}
    for resp in root.iter("{DAV:}response"):
        href = resp.findtext("{DAV:}href") or ""
        name = unquote(href.rstrip("/").rsplit("/", 1)[-1])
        etag = None
        for ps in resp.iter("{DAV:}propstat"):
            if " 200 " in (ps.findtext("{DAV:}status") or " 200 "):
                etag = ps.findtext("{DAV:}prop/{DAV:}getetag")
        if etag and (not ours_only or (name.startswith("icecycle-") and name.endswith(".ics"))):
            out[name] = etag
    return out


# -- one sync ------------------------------------------------------------------------------


def sync(
    store: Store,
    settings: PhoneSettings,
    data_dir: str,
    now: datetime,
    password: str,
    *,
    full: bool = False,
    connect_s: float = CONNECT_S,
    total_s: float = TOTAL_S,
) -> Synced:
    """Bring the calendar to what the schedule says at `now`. Raises PhoneError (after
    remembering every request that did succeed, and the error). One sync at a time per data
    folder (the dashboard, the daemon and `phone sync` may all be open): two at once would
    each take the other's new ETags for changes made on the phone."""
    with _one_at_a_time(data_dir, total_s):
        return _sync(store, settings, data_dir, now, password, full, connect_s, total_s)


@contextlib.contextmanager
def _one_at_a_time(data_dir: str, wait_s: float) -> Iterator[None]:
    import fcntl

    try:
        fd = os.open(os.path.join(data_dir, LEDGER + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise PhoneError(
            f"cannot keep the phone calendar's notes in {data_dir} ({exc.strerror})"
        ) from None
    try:
        end = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > end:
                    raise PhoneError("another icecycle is syncing the phone calendar") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


def _sync(
    store: Store,
    settings: PhoneSettings,
    data_dir: str,
    now: datetime,
    password: str,
    full: bool,
    connect_s: float,
    total_s: float,
) -> Synced:
    led = load_ledger(data_dir)
    if led.url != settings.caldav_url:
        led, full = Ledger(settings.caldav_url, {}), True
    records = dict(led.records)
    try_at = now.isoformat()
    dav: Dav | None = None
    put = deleted = kept = 0
    try:
        dav = Dav(settings, password, connect_s=connect_s, total_s=total_s)
        if full:
            on_server = dav.list()
            ours = [k for k, r in records.items() if not r.flag]
            if ours and not any(resource_name(k) in on_server for k in ours):
                # None of ours is there: a new or emptied calendar, not the phone's doing.
                records = {k: r._replace(flag="gone") for k, r in records.items()}
            for key, rec in list(records.items()):
                tag = on_server.pop(resource_name(key), None)
                if rec.flag == "phone":
                    continue
                if tag is None and not rec.flag:
                    records[key] = rec._replace(flag="phone")  # deleted there: left so
                elif tag is not None and rec.flag == "gone":
                    records[key] = rec._replace(etag=tag, flag="")  # back: ours to manage
                elif tag is not None and rec.etag is not None and tag != rec.etag:
                    records[key] = rec._replace(flag="phone")  # edited there
            for name, tag in on_server.items():  # ours, from an earlier ledger: adopt them
                stem, _, domain = name.removesuffix(".ics").rpartition("_")
                key = f"{stem}@{domain}"
                placeholder = Entry(key, 0, now, now, "unknown")
                records[key] = Record(placeholder, tag)
        known = {k: r.entry for k, r in records.items() if not r.flag}
        want = {e.uid: e for e in wanted(store, now, known).entries}
        for key, entry in want.items():
            old = records.get(key)
            if old is not None and old.flag == "phone":
                kept += 1
                continue
            if old is not None and not old.flag and old.entry.same_as(entry):
                continue
            entry = entry._replace(seq=old.entry.seq + 1 if old is not None else 0)
            status, tag = dav.put(
                key, render_one(entry, now), None if old is None or old.flag else old.etag
            )
            if status == 412:
                kept += 1
                records[key] = Record(entry, None, "phone")
            else:
                records[key] = Record(entry, tag)
                put += 1
        for key, rec in list(records.items()):
            if key in want or rec.flag:
                continue
            status = dav.delete(key, rec.etag)
            if status == 412:
                records[key] = rec._replace(flag="phone")
            else:
                records[key] = rec._replace(flag="gone")
                deleted += 1
    except Exception as exc:  # what did succeed is remembered, with its new ETags
        why = str(exc) if isinstance(exc, PhoneError) else f"unexpected {type(exc).__name__}"
        save_ledger(data_dir, led._replace(records=records, last_try=try_at, last_error=why))
        raise
    finally:
        if dav is not None:
            dav.close()
    done = led._replace(records=records, last_ok=try_at, last_try=try_at, last_error=None)
    save_ledger(data_dir, done)
    return Synced(dav.requests if dav else 0, put, deleted, kept, done.counts())


def status_lines(settings: PhoneSettings, data_dir: str, now: datetime) -> list[str]:
    """`icecycle phone status`: from the ledger (what the last sync left on the server)."""
    led = load_ledger(data_dir)
    lines = [f"Phone calendar: {settings.caldav_url} (as {settings.username})"]
    if led.url != settings.caldav_url or not (led.last_ok or led.last_try):
        return [*lines, "Not synced yet: `icecycle phone sync` does it now."]
    lines.append(f"Last synced: {_when(led.last_ok, now) if led.last_ok else 'never'}")
    counts = led.counts()
    lines.append(f"On the server: {describe(counts)}")
    if counts["phone"]:
        lines.append(f"Changed on the phone, left as they are: {counts['phone']}")
    if led.last_error:
        lines.append(f"Last error ({_when(led.last_try or '', now)}): {led.last_error}")
    else:
        lines.append("Last error: none")
    return lines


def _when(iso: str, now: datetime) -> str:
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return "?"
    minutes = int((now - at).total_seconds() // 60)
    ago = "just now" if minutes < 1 else f"{minutes} min ago" if minutes < 120 else ""
    return f"{at.astimezone():%Y-%m-%d %H:%M}" + (f" ({ago})" if ago else "")


# -- the worker ----------------------------------------------------------------------------


class Worker:
    """Syncs on a thread of its own whenever kicked (the runner does, after every change
    it handles), and again a few minutes after a failure, longer each time. `line()` says
    how it stands, for the dashboard; `report` hears each change of that line."""

    def __init__(
        self,
        settings: PhoneSettings,
        data_dir: str,
        clock: Clock,
        env: Mapping[str, str],
        report: Callable[[str], None] | None = None,
        *,
        retry_s: tuple[float, ...] = RETRY_S,
        connect_s: float = CONNECT_S,
        total_s: float = TOTAL_S,
    ) -> None:
        self.settings, self.data_dir, self.clock, self.env = settings, data_dir, clock, env
        self.report = report or (lambda line: None)
        self.retry_s, self.connect_s, self.total_s = retry_s, connect_s, total_s
        self._wake = threading.Event()
        self._stopped = False
        self._password: str | None = None
        self._failures = 0
        self._retry_at: float | None = None
        self.syncs = 0  # finished, either way (tests wait on it)
        self.last: Synced | None = None
        self.error: str | None = None
        self._line = "Phone calendar: not synced yet"
        led = load_ledger(data_dir)
        if led.last_ok and led.url == settings.caldav_url:
            self._line = f"Phone calendar: synced {_hhmm(led.last_ok)}"
        self._thread = threading.Thread(target=self._run, name="icecycle-phone", daemon=True)

    def start(self) -> Worker:
        self._thread.start()
        self.kick()
        return self

    def kick(self) -> None:
        """Sync soon (never waits: called from the runner's loop)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopped = True
        self._wake.set()

    def line(self) -> str:
        return self._line

    def _run(self) -> None:
        while not self._stopped:
            timeout = None
            if self._retry_at is not None:
                timeout = max(0.0, self._retry_at - time.monotonic())
            self._wake.wait(timeout)
            self._wake.clear()
            if self._stopped:
                return
            self._once()

    def _once(self) -> None:
        from icecycle.store import Store

        try:
            if self._password is None:
                self._password = get_password(self.settings, self.env)
            store = Store.open(self.data_dir, create=False)
            if store is None:
                return
            try:
                self.last = sync(
                    store,
                    self.settings,
                    self.data_dir,
                    self.clock.now(),
                    self._password,
                    connect_s=self.connect_s,
                    total_s=self.total_s,
                )
            finally:
                store.close()
        except Exception as exc:  # whatever it is, the runner never hears of it but here
            from icecycle.store import StoreError

            known = isinstance(exc, PhoneError | StoreError)
            why = str(exc) if known else f"unexpected {type(exc).__name__}"
            if "(401)" in why:
                self._password = None  # asked again next time: it may have been changed
            self.error = why
            self._failures += 1
            wait = self.retry_s[min(self._failures, len(self.retry_s)) - 1]
            self._retry_at = time.monotonic() + wait
            at = f"{(self.clock.now() + timedelta(seconds=wait)).astimezone():%H:%M}"
            self._say(f"Phone calendar: not synced: {why}; trying again at {at}")
        else:
            self.error, self._failures, self._retry_at = None, 0, None
            self._say(f"Phone calendar: synced {self.clock.now().astimezone():%H:%M}")
        finally:
            self.syncs += 1

    def _say(self, line: str) -> None:
        """Keep the line; report it when the news is new (not each sync that went well
        again, nor each retry that failed the same way)."""
        key = self.error or "synced"
        self._line, known = line, self._reported == key
        self._reported = key
        if not known:
            with contextlib.suppress(Exception):
                self.report(line)

    _reported: str | None = None


def _hhmm(iso: str) -> str:
    try:
        return f"{datetime.fromisoformat(iso).astimezone():%H:%M}"
    except ValueError:
        return "?"


def attach(
    runner: Any,
    settings: PhoneSettings | None,
    clock: Clock,
    env: Mapping[str, str] | None = None,
    report: Callable[[str], None] | None = None,
) -> Worker | None:
    """Start a phone worker for this runner (none without a [phone] section): the runner
    kicks it after each change it handles."""
    if settings is None:
        return None
    data_dir = os.path.dirname(runner.store.path)
    worker = Worker(settings, data_dir, clock, os.environ if env is None else env, report)
    runner.on_change = worker.kick
    return worker.start()
