"""The SQLite event store: cycles, their events, and notification claims."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import NamedTuple

from icecycle.cycle import Cycle, Event, Settings

__all__ = ["DB_NAME", "SCHEMA_VERSION", "Claim", "Store", "StoreError", "resolve_data_dir"]

DB_NAME = "icecycle.sqlite3"
SCHEMA_VERSION = 2  # 2: claims record their owner and the notice, so another runner can finish them
_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE cycles (
    id           INTEGER PRIMARY KEY,
    window_start TEXT    NOT NULL,
    on_s         INTEGER NOT NULL,
    off_s        INTEGER NOT NULL,
    window_s     INTEGER NOT NULL,
    created      TEXT    NOT NULL,
    stopped      TEXT
);
CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    cycle_id INTEGER NOT NULL REFERENCES cycles(id),
    kind     TEXT    NOT NULL,
    at       TEXT    NOT NULL,
    data     TEXT
);
CREATE INDEX events_by_cycle ON events (cycle_id, id);
CREATE TABLE notifications (
    id          INTEGER PRIMARY KEY,
    cycle_id    INTEGER NOT NULL REFERENCES cycles(id),
    kind        TEXT    NOT NULL,
    phase_start TEXT    NOT NULL,
    seq         INTEGER NOT NULL DEFAULT 0,
    claimed     TEXT    NOT NULL,
    sent        TEXT,
    result      TEXT,
    owner       TEXT,
    notice      TEXT,
    UNIQUE (cycle_id, kind, phase_start, seq)
);
"""

#: From one schema version to the next, run inside one transaction on an existing file.
_MIGRATIONS = {
    1: "ALTER TABLE notifications ADD COLUMN owner TEXT; "
    "ALTER TABLE notifications ADD COLUMN notice TEXT;",
}


class StoreError(Exception):
    """The database cannot be used; the message names the file and what to do."""

    def __init__(self, message: str, *, busy: bool = False) -> None:
        super().__init__(message)
        #: another process held the write lock too long (it goes away by itself)
        self.busy = busy


class Claim(NamedTuple):
    id: int
    kind: str
    phase_start: datetime
    seq: int
    claimed: datetime
    sent: datetime | None
    result: str | None
    #: who took it ("pid.token") and the notice as JSON; None in claims from schema 1
    owner: str | None = None
    notice: str | None = None


StrPath = str | os.PathLike[str]  # os.path, not pathlib: pathlib costs `status` ~8 ms


def resolve_data_dir(arg: StrPath | None = None, env: Mapping[str, str] | None = None) -> str:
    """--data-dir, else $ICECYCLE_DATA_DIR, else the platform's user data directory."""
    env = os.environ if env is None else env
    if arg:
        return os.path.expanduser(arg)
    if env.get("ICECYCLE_DATA_DIR"):
        return os.path.expanduser(env["ICECYCLE_DATA_DIR"])
    import platformdirs  # only when needed: it is the one import on this path worth skipping

    return platformdirs.user_data_dir("icecycle", appauthor=False)


def _ts(moment: datetime) -> str:
    return moment.isoformat()


class _BadRow(Exception):
    """A stored time that cannot be read: the store names the table and row."""


def _dt(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise _BadRow(text) from None
    if moment.tzinfo is None:  # a naive time cannot be compared with the clock's
        raise _BadRow(text)
    return moment


class Store:
    """One open icecycle database. Every write is its own short transaction."""

    def __init__(self, path: str, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.version = SCHEMA_VERSION
        self.identity = _identity(path)  # which file we opened: see follow()
        #: a write of the person's is on disk: the command has done its job, whatever
        #: happens to its output afterwards
        self.committed = False
        self._gone: str | None = None  # why there is no file to use, once follow() saw it
        self.busy_timeout: float | None = None  # set_busy_timeout's, kept across reopens
        #: moves each time follow() opens another file at the path
        self.generation = 0
        # One descriptor of our own on the file, to look at its first bytes each tick. It
        # stays open as long as the connection does: closing any descriptor of a file drops
        # every POSIX lock this process holds on it, SQLite's included, and two writers
        # would then corrupt the database.
        self._head_fd: int | None = None
        with contextlib.suppress(OSError):
            self._head_fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._stamp: tuple[int, int] | None = None  # the file's size and time at the last look
        self._print: _Print | None = None  # what it held then: see _rewritten()

    @property
    def _claim_extra(self) -> str:
        # a schema-1 file we could not upgrade (read-only) still reads
        return ", owner, notice" if self.version >= 2 else ""

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, data_dir: StrPath, *, create: bool = True) -> Store | None:
        """Open (or, with `create`, make) the database; None if absent and not created.

        A file that is not an icecycle database is never written to.
        """
        data_dir = os.fspath(data_dir)
        path = os.path.join(data_dir, DB_NAME)
        try:
            if not cls._exists(data_dir, path):
                if not create:
                    return None
                cls._create(data_dir, path)
            cls._check_file(path)
            conn = sqlite3.connect(path, timeout=15, isolation_level=None)
        except StoreError:
            raise
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(_explain(path, exc)) from None
        store = cls(path, conn)
        try:
            store._check_schema()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Copy each commit into the file at once (a passive checkpoint): a WAL left with
            # frames would be laid over whatever is copied onto the file later (a backup put
            # back with `cat`), and the file alone is whole between writes (`cp` backs it up).
            conn.execute("PRAGMA wal_autocheckpoint=1")
            store._migrate()
        except StoreError:
            conn.close()
            raise
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(_explain(path, exc)) from None
        return store

    @staticmethod
    def _exists(data_dir: str, path: str) -> bool:
        """Whether the database is there; StoreError when something else is in the way
        (a missing database must never be mistaken for "no cycle is running")."""
        try:
            os.stat(path)
        except FileNotFoundError:
            if os.path.islink(path):
                raise StoreError(
                    f"{path} is a link to {os.readlink(path)}, which is not there; "
                    "put the database back, remove the link, or use --data-dir"
                ) from None
            return False
        except NotADirectoryError:
            raise StoreError(
                f"cannot use {path}: {data_dir} (or a folder above it) is a file, not a "
                "folder; move it aside or use --data-dir"
            ) from None
        return True

    @staticmethod
    def _create(data_dir: str, path: str) -> None:
        """Build a new database beside its final name, check it, then link it into place:
        a half-made file (a full disk, a crash) is never published under the real name."""
        try:
            os.makedirs(data_dir, mode=0o700)
        except FileExistsError:  # there already, or made by another first start just now
            pass
        else:
            os.chmod(data_dir, 0o700)  # makedirs' mode is filtered by the umask
        tmp = os.path.join(data_dir, f".{DB_NAME}.{os.getpid()}.{os.urandom(4).hex()}.new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.executescript(
                    f"BEGIN; {_SCHEMA} PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
                )
                # The schema is in the -wal until a checkpoint; the link below publishes
                # only the main file, so copy it there now, and say so if it did not fit.
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy:
                    raise sqlite3.OperationalError("the new database could not be checkpointed")
            finally:
                conn.close()
            _verify_new(tmp)
            with _creating(data_dir):
                if not os.path.lexists(path):  # else another process got there first
                    _set_aside_leftovers(path)
                    os.link(tmp, path)
            _fsync_dir(data_dir)
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.unlink(tmp + suffix)

    @staticmethod
    def _check_file(path: str) -> None:
        if os.path.isdir(path):
            raise StoreError(
                f"{path} is a directory, not a database; move it aside or use --data-dir"
            )
        with open(path, "rb") as fh:
            head = fh.read(len(_MAGIC))
        if head != _MAGIC:
            what = "is empty" if not head else "is not an SQLite database"
            raise StoreError(
                f"{path} {what}, so icecycle will not touch it; "
                "move it aside (icecycle then starts a new one) or use --data-dir"
            )

    def _check_schema(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer icecycle (schema {version}, "
                f"this one reads {SCHEMA_VERSION}); upgrade icecycle"
            )
        tables = {
            row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        # Another program's file with a user_version of its own: not ours either.
        if version < 1 or not {"cycles", "events", "notifications"} <= tables:
            raise StoreError(
                f"{self.path} is an SQLite database but not icecycle's; "
                "move it aside or use --data-dir"
            )

    def _migrate(self) -> None:
        """Bring an older file up to this schema in place, in one transaction (all or
        nothing); a file we may not write stays as it is and is still read."""
        self.version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if self.version >= SCHEMA_VERSION:
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc).lower() or "read-only" in str(exc).lower():
                return
            raise
        try:
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]  # another won?
            while version < SCHEMA_VERSION:
                for statement in _MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                version += 1
            self.conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            raise
        self.version = SCHEMA_VERSION

    def set_busy_timeout(self, seconds: float) -> None:
        """How long a write waits for another process's lock before giving up (the dashboard
        keeps it short, so its screen never freezes behind one; the runner retries)."""
        self.busy_timeout = seconds
        with self._errors():
            self.conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def close(self) -> None:
        self.conn.close()
        self._close_head()

    def _close_head(self) -> None:
        """(Only once the connection is closed: see __init__.)"""
        if self._head_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._head_fd)
            self._head_fd = None

    def _looks_like_sqlite(self) -> bool:
        """The file still starts as an SQLite database does (read on our own descriptor).
        An empty file does not: icecycle never publishes one, so it was truncated."""
        if self._head_fd is None:
            return True
        try:
            head = os.pread(self._head_fd, len(_MAGIC), 0)
        except OSError:
            return True  # unreadable for a moment: the next look decides
        return head == _MAGIC

    def _rewritten(self) -> bool:
        """Whether another database was copied over this one in place (`cat backup.sqlite3
        > icecycle.sqlite3`: same inode, and SQLite cannot tell, as it keeps its cache).

        Looked into only when the file's size or time moved (one fstat a tick): the cache is
        dropped and the file read again; what changed must then be explained by a commit
        (data_version) or a write of ours (total_changes), and nothing may have gone back
        (a cycle gone or remade, fewer events or claims) whatever explains it."""
        if self._head_fd is None:
            return False
        try:
            st = os.fstat(self._head_fd)
        except OSError:
            return False
        stamp = (st.st_size, st.st_mtime_ns)
        if stamp == self._stamp:
            return False
        try:
            self.conn.execute("PRAGMA shrink_memory")  # read the file, not the cache
            now = _Print(
                tuple(self.conn.execute("SELECT id, created, stopped FROM cycles ORDER BY id")),
                self.conn.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0],
                tuple(
                    self.conn.execute(
                        "SELECT coalesce(max(id), 0), count(sent) FROM notifications"
                    ).fetchone()
                ),
                self.conn.execute("PRAGMA data_version").fetchone()[0],  # (read last)
                self.conn.total_changes,
            )
        except sqlite3.Error:
            return False  # half copied, say: look again at the next tick
        self._stamp = stamp
        before, self._print = self._print, now
        return before is not None and _went_elsewhere(before, now)

    def follow(self) -> bool:
        """Make sure this is still the file at our path (cheap: one stat, each tick).

        An open connection keeps reading a file that was moved aside or deleted; people are
        told to move a damaged file aside, so follow the path: if another file is there now,
        open it instead and return True; if none is, raise StoreError until one appears.
        """
        now = _identity(self.path)
        if now is not None and now == self.identity:
            looks = self._looks_like_sqlite()
            if looks and not self._rewritten():
                return False
            # Overwritten in place (same inode, other bytes): let go of it at once, so that
            # nothing of ours is ever written into bytes we did not open, not even on exit.
            self.identity = None
            _abandon(self.conn)  # (its descriptor, and ours, stay open with it)
            self._head_fd = None
            self.conn = _closed_connection()  # any use now fails, with the reason
            self._stamp = self._print = None
            if not looks:
                self._gone = (
                    f"{self.path} is not an SQLite database any more, so icecycle will not "
                    "touch it; move it aside (icecycle then starts a new one) or use --data-dir"
                )
                raise StoreError(self._gone)
            # Another icecycle database (a backup put back): follow it, as a new file.
        if self.identity is not None:
            # Let go of the old file at once: closing checkpoints its -wal into it (wherever
            # it was moved) and removes the -wal and -shm it left under our path, which a
            # new database there must not inherit.
            self.identity = None
            with contextlib.suppress(sqlite3.Error):
                self.conn.close()
            self._close_head()
        gone = (
            f"{self.path}: the database was moved or deleted; "
            "waiting for a new one (`icecycle start` makes one)"
        )
        if now is None:
            self._gone = gone
            raise StoreError(gone)
        fresh = Store.open(os.path.dirname(self.path), create=False)
        if fresh is None:  # gone again between the stat and the open
            self._gone = gone
            raise StoreError(gone)
        self.conn, self.version, self.identity = fresh.conn, fresh.version, fresh.identity
        self.generation += 1
        self._head_fd, fresh._head_fd = fresh._head_fd, None
        if self.busy_timeout is not None:
            self.set_busy_timeout(self.busy_timeout)
        self._gone = None
        return True

    # -- transactions and change detection ----------------------------------------------

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction that holds the lock from the start (read, decide, append)."""
        with self._errors():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                # SQLite may have rolled back already (a full disk, an I/O error): a second
                # ROLLBACK would fail and hide the error that matters.
                if self.conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            self.committed = True

    @contextlib.contextmanager
    def _reading(self, table: str, row: tuple[object, ...]) -> Iterator[None]:
        """Turn an unreadable stored value into a one-line damaged-database error."""
        try:
            yield
        except (_BadRow, TypeError, ValueError) as exc:
            raise StoreError(
                f"{self.path} is damaged ({table} row {row[0]} holds {str(exc)[:40]!r}, "
                "which is not a time); move it aside (a new one is then started) "
                "or use --data-dir"
            ) from None

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            if self._gone is not None:
                raise StoreError(self._gone) from None
            if self.conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
            busy = any(w in str(exc).lower() for w in ("locked", "busy"))
            raise StoreError(_explain(self.path, exc), busy=busy) from None

    def data_version(self) -> int:
        """Changes whenever another connection commits: cheap to poll every second."""
        with self._errors():
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- cycles and events -------------------------------------------------------------

    def current(self) -> tuple[Cycle, list[Event]] | None:
        """The latest cycle that was not stopped, with its events; None if there is none."""
        with self._errors():
            row = self.conn.execute(
                "SELECT id, window_start, on_s, off_s, window_s FROM cycles "
                "WHERE stopped IS NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
        if row is None:
            return None
        with self._reading("cycles", row):
            cycle = _cycle(row)
        return cycle, self.events(cycle.id)

    def cycles(self) -> list[tuple[Cycle, datetime | None]]:
        """Every cycle, oldest first, with when it was stopped."""
        with self._errors():
            rows = self.conn.execute(
                "SELECT id, window_start, on_s, off_s, window_s, stopped FROM cycles ORDER BY id"
            ).fetchall()
        out = []
        for r in rows:
            with self._reading("cycles", r):
                out.append((_cycle(r[:5]), _dt(r[5]) if r[5] else None))
        return out

    def events(self, cycle_id: int) -> list[Event]:
        with self._errors():
            rows = self.conn.execute(
                "SELECT kind, at, data, id FROM events WHERE cycle_id = ? ORDER BY id", (cycle_id,)
            ).fetchall()
        out = []
        for k, a, d, i in rows:
            with self._reading("events", (i,)):
                out.append(Event(k, _dt(a), d, i))
        return out

    def new_cycle(
        self, window_start: datetime, settings: Settings, at: datetime, data: str | None = None
    ) -> Cycle:
        """Insert a cycle and its `started` event (call inside `transaction`); `data` is what
        the cycle runs under besides its lengths (quiet hours and time zone, as JSON)."""
        with self._errors():
            cur = self.conn.execute(
                "INSERT INTO cycles (window_start, on_s, off_s, window_s, created) "
                "VALUES (?, ?, ?, ?, ?)",
                (_ts(window_start), settings.on_s, settings.off_s, settings.window_s, _ts(at)),
            )
            assert cur.lastrowid is not None
            cycle = Cycle(cur.lastrowid, window_start, settings)
            self.append(cycle.id, "started", at, data)
        return cycle

    def append(self, cycle_id: int, kind: str, at: datetime, data: str | None = None) -> Event:
        with self._errors():
            cur = self.conn.execute(
                "INSERT INTO events (cycle_id, kind, at, data) VALUES (?, ?, ?, ?)",
                (cycle_id, kind, _ts(at), data),
            )
            if kind == "stop":
                self.conn.execute("UPDATE cycles SET stopped = ? WHERE id = ?", (_ts(at), cycle_id))
            if not self.conn.in_transaction:
                self.committed = True
        assert cur.lastrowid is not None
        return Event(kind, at, data, cur.lastrowid)

    # -- notification claims -----------------------------------------------------------

    def claim(
        self,
        cycle_id: int,
        kind: str,
        phase_start: datetime,
        seq: int,
        at: datetime | Callable[[], datetime],
        result: str | None = None,
        *,
        owner: str | None = None,
        notice: str | None = None,
        sent: datetime | None = None,
    ) -> int | None:
        """Claim one notification; the id if this caller won it, None if already claimed.

        `owner` and `notice` let another runner deliver it if this one never settles it;
        `sent` writes a claim that was delivered before it could be stored (a full disk).
        `at` may be the clock itself: then it is read once the write lock is held, so a
        wait for another process's lock is not taken for time the claim already existed.
        """

        def insert(moment: datetime) -> sqlite3.Cursor:
            return self.conn.execute(
                "INSERT OR IGNORE INTO notifications (cycle_id, kind, phase_start, seq, "
                "claimed, sent, result, owner, notice) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    cycle_id,
                    kind,
                    _ts(phase_start),
                    seq,
                    _ts(moment),
                    _ts(sent) if sent else None,
                    result,
                    owner,
                    notice,
                ),
            )

        if not callable(at):
            with self._errors():
                cur = insert(at)
        elif self.conn.in_transaction:
            with self._errors():
                cur = insert(at())
        else:
            committed = self.committed  # (a claim is not the person's write the CLI reports)
            with self.transaction():
                cur = insert(at())
            self.committed = committed
        return cur.lastrowid if cur.rowcount == 1 else None

    def holds(self, claim_id: int, owner: str, claimed: datetime) -> bool:
        """Whether this claim is still `owner`'s, as taken at `claimed`, and unsent: the
        fence a runner checks before it sends (another may have taken it over meanwhile)."""
        with self._errors():
            row = self.conn.execute(
                "SELECT 1 FROM notifications "
                "WHERE id = ? AND owner = ? AND claimed = ? AND sent IS NULL",
                (claim_id, owner, _ts(claimed)),
            ).fetchone()
        return row is not None

    def renew(self, claim_id: int, owner: str, claimed: datetime, at: datetime) -> bool:
        """Restart the lease of a claim still held (compare-and-swap, as take_over)."""
        with self._errors():
            cur = self.conn.execute(
                "UPDATE notifications SET claimed = ? "
                "WHERE id = ? AND owner = ? AND claimed = ? AND sent IS NULL",
                (_ts(at), claim_id, owner, _ts(claimed)),
            )
        return cur.rowcount == 1

    def take_over(self, claim: Claim, owner: str, at: datetime) -> bool:
        """Take an unsettled claim from its owner; True if this caller now holds it.

        Compare-and-swap on the claim time, so two runners cannot both take it over.
        """
        with self._errors():
            cur = self.conn.execute(
                "UPDATE notifications SET owner = ?, claimed = ? "
                "WHERE id = ? AND sent IS NULL AND claimed = ?",
                (owner, _ts(at), claim.id, _ts(claim.claimed)),
            )
        return cur.rowcount == 1

    def oldest_unsettled(self, cycle_id: int) -> datetime | None:
        """When the oldest claim still waiting to be sent was taken (cheap: every tick)."""
        if self.version < 2:
            return None
        with self._errors():
            row = self.conn.execute(
                "SELECT min(claimed) FROM notifications "
                "WHERE cycle_id = ? AND sent IS NULL AND notice IS NOT NULL",
                (cycle_id,),
            ).fetchone()
        if not row or not row[0]:
            return None
        with self._reading("notifications", ("with the oldest claim",)):
            return _dt(row[0])

    def settle(self, claim_id: int, at: datetime, result: str) -> None:
        """Close a claim nobody will deliver (a later notice made it pointless)."""
        self.record(claim_id, at, result)

    def record(
        self,
        claim_id: int,
        sent: datetime,
        result: str,
        *,
        owner: str | None = None,
        claimed: datetime | None = None,
    ) -> bool:
        """Settle a claim; with `owner` and `claimed`, only if it is still theirs as taken
        then (never over another runner's result). True if it was written."""
        with self._errors():
            if owner is None or claimed is None:
                cur = self.conn.execute(
                    "UPDATE notifications SET sent = ?, result = ? WHERE id = ?",
                    (_ts(sent), result, claim_id),
                )
            else:
                cur = self.conn.execute(
                    "UPDATE notifications SET sent = ?, result = ? "
                    "WHERE id = ? AND owner = ? AND claimed = ? AND sent IS NULL",
                    (_ts(sent), result, claim_id, owner, _ts(claimed)),
                )
        return cur.rowcount == 1

    def claimed_at(
        self, cycle_id: int, kind: str, phase_start: datetime, seq: int
    ) -> datetime | None:
        with self._errors():
            row = self.conn.execute(
                "SELECT claimed FROM notifications "
                "WHERE cycle_id = ? AND kind = ? AND phase_start = ? AND seq = ?",
                (cycle_id, kind, _ts(phase_start), seq),
            ).fetchone()
        if not row:
            return None
        with self._reading("notifications", (f"for {kind} {seq}",)):
            return _dt(row[0])

    def claims(self, cycle_id: int) -> list[Claim]:
        with self._errors():
            rows = self.conn.execute(
                f"SELECT id, kind, phase_start, seq, claimed, sent, result{self._claim_extra} "
                "FROM notifications WHERE cycle_id = ? ORDER BY id",
                (cycle_id,),
            ).fetchall()
        out = []
        for i, k, p, s, c, t, r, *more in rows:
            with self._reading("notifications", (i,)):
                out.append(Claim(i, k, _dt(p), s, _dt(c), _dt(t) if t else None, r, *more))
        return out

    def last_change(self) -> datetime | None:
        """The latest moment stored (an event, a cycle made, a notice claimed or sent): the
        clock cannot really be earlier, so it bounds "now" when the clock went back."""
        with self._errors():
            rows = [
                *self.conn.execute("SELECT at FROM events ORDER BY id DESC LIMIT 1"),
                *self.conn.execute("SELECT created FROM cycles ORDER BY id DESC LIMIT 1"),
            ]
            if self.version >= 1:
                for claimed, sent in self.conn.execute(
                    "SELECT claimed, sent FROM notifications ORDER BY id DESC LIMIT 8"
                ):
                    rows += [(claimed,), (sent,)]
        moments = []
        for (text,) in rows:
            with contextlib.suppress(_BadRow):  # (reading the row itself says it is damaged)
                if text:
                    moments.append(_dt(text))
        return max(moments, default=None)

    def session_notes(self, cycle_id: int) -> dict[datetime, str]:
        """For each ice session: what the runner did about its notification."""
        notes: dict[datetime, str] = {}
        for c in self.claims(cycle_id):
            if c.kind == "on" and c.seq == 0:
                notes[c.phase_start] = (c.result or "claimed").split(":")[0]
        return notes


class _Print(NamedTuple):
    """What the file held at a look: enough to tell it from another copy of itself."""

    cycles: tuple[tuple[int, str, str | None], ...]
    events: int  # the last event's id
    claims: tuple[int, int]  # the last claim's id, and how many were sent
    version: int  # data_version: moves with each commit of another connection
    changes: int  # total_changes: moves with each write of ours


def _went_elsewhere(before: _Print, now: _Print) -> bool:
    """Whether `now` cannot be `before` plus what was written since: another file."""
    made = {cid: created for cid, created, _ in now.cycles}
    if any(made.get(cid) != created for cid, created, _ in before.cycles):
        return True  # a cycle gone, or made again at another time
    if now.events < before.events or now.claims[0] < before.claims[0]:
        return True  # nothing is ever deleted
    if now.claims[1] < before.claims[1]:
        return True  # nor a sent notice unsent
    explained = now.version != before.version or now.changes != before.changes
    return not explained and now[:3] != before[:3]


def _verify_new(path: str) -> None:
    """The file alone (no -wal beside it) must be a whole icecycle database, on disk."""
    wal = path + "-wal"
    if os.path.exists(wal) and os.path.getsize(wal) > 0:
        raise sqlite3.OperationalError("the new database is incomplete (disk I/O error)")
    with open(path, "rb") as fh:
        if fh.read(len(_MAGIC)) != _MAGIC:
            raise sqlite3.OperationalError("the new database is incomplete (disk I/O error)")
        os.fsync(fh.fileno())
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()
    finally:
        conn.close()
    if ok != "ok" or version != SCHEMA_VERSION or tables[0] != 3:
        raise sqlite3.OperationalError(f"the new database did not verify ({ok})")


@contextlib.contextmanager
def _creating(data_dir: str) -> Iterator[None]:
    """Only one process at a time publishes a new database (two first starts at once)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: the link alone decides
        yield
        return
    fd = os.open(data_dir, os.O_RDONLY)  # the folder itself: no lock file left lying about
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _set_aside_leftovers(path: str) -> None:
    """A -wal or -shm under our name with no database beside it belongs to a file that was
    moved aside or deleted while open (SQLite then leaves them behind). A new database
    must not inherit them: SQLite would replay the old file's log into it. The -wal is
    kept under another name (it may hold the moved file's last changes); -shm is scratch."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    with contextlib.suppress(FileNotFoundError):
        os.rename(path + "-wal", f"{path}.left-{stamp}-wal")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path + "-shm")


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _abandon(conn: sqlite3.Connection) -> None:
    """Stop using a connection without ever closing it. Closing the last connection to a
    WAL database copies its -wal into the file: into whatever bytes now fill it. Kept
    referenced for good, it is never closed; at exit the -wal stays beside the file, and a
    new database there sets it aside (see _set_aside_leftovers)."""
    import ctypes

    _ABANDONED.append(conn)
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(conn))  # not freed even at interpreter exit


_ABANDONED: list[sqlite3.Connection] = []


def _closed_connection() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.close()
    return conn


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _cycle(row: tuple[int, str, int, int, int]) -> Cycle:
    cid, start, on_s, off_s, window_s = row
    return Cycle(cid, _dt(start), Settings(on_s, off_s, window_s))


def _nearly_full(path: str) -> bool:
    """SQLite reports a full disk under WAL as a plain I/O error; ask the filesystem."""
    try:
        st = os.statvfs(os.path.dirname(path) or ".")
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def _explain(path: str, exc: BaseException) -> str:
    """One line that names the file, what went wrong, and what to do about it."""
    text = str(exc) or type(exc).__name__
    low = text.lower()
    folder = os.path.dirname(path) or "."
    import errno

    if getattr(exc, "errno", None) == errno.EROFS or (
        os.path.isdir(folder) and not os.access(folder, os.W_OK)
    ):
        # SQLite needs to write beside its file (the -wal and -shm), even to read it.
        why = getattr(exc, "strerror", None) or "Read-only file system"
        if getattr(exc, "errno", None) != errno.EROFS:
            why = "no permission to write in it"
        return (
            f"cannot use {path}: its folder is read-only ({why}); icecycle writes beside the "
            f"file, even to read it: make {folder} writable or use --data-dir"
        )
    if isinstance(exc, PermissionError) or "readonly" in low or "read-only" in low:
        return (
            f"cannot write {path} ({text}); "
            f"check the permissions of {os.path.dirname(path)} or use --data-dir"
        )
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return (
            f"{path} is damaged ({text}); icecycle will not touch it: "
            "move it aside (a new one is then started) or use --data-dir"
        )
    if "disk is full" in low or "no space" in low or ("i/o error" in low and _nearly_full(path)):
        return f"cannot write {path}: the disk is full; free some space and try again"
    if "locked" in low or "busy" in low:
        return f"{path} is busy in another icecycle for too long ({text}); try again"
    if isinstance(exc, IsADirectoryError | NotADirectoryError | FileNotFoundError):
        return f"cannot use {path} ({text}); check the path or use --data-dir"
    return f"cannot use {path} ({text}); check the file and its folder or use --data-dir"
