"""The config file (TOML): defaults for `start`, quiet hours, notifications and hooks."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from icecycle.cycle import LIMITS, Settings
from icecycle.durations import SETTING_INPUT, InputError, QuietHours, format_span, parse_length

EXAMPLE = """\
# icecycle's settings. Every line is optional; delete what you do not need.
# Flags on the command line (icecycle start --on 20m) still win over these.

on = "25m"                    # ice on, each session
off = "90m"                   # ice off between sessions
window = "72h"                # how long the cycle runs from when the spasm began

# No sessions at night: one that would start inside quiet hours waits until they end
# (the rest runs on; a session under way ends on time first, with its alarm). Not a
# pause: `icecycle pause` still works during them.
# quiet_hours = "23:00-07:00"

[notifications]
desktop = true                # desktop notifications (plyer)
bell = true                   # the terminal bell in the dashboard
repeat_every = "2m"           # the "is the ice off?" reminder ...
repeat_count = 3              # ... at most this many times
sound = true                  # the take-it-off alarm makes a sound
# sound_file = "~/sounds/gong.oga"   # played when the notification server has no sound

[hooks]
# A command run at every phase change, with the state in ICECYCLE_* variables.
# It is a list of words, run without a shell. For example, to a phone via ntfy.sh:
# on_change = ["sh", "-c", "curl -s -d \\"$ICECYCLE_TITLE: $ICECYCLE_BODY\\" ntfy.sh/my-icecycle"]

# [phone]
# A CalDAV calendar icecycle keeps up to date, for your phone to follow (docs/phone.md).
# caldav_url = "https://cloud.example.org/remote.php/dav/calendars/me/icecycle/"
# username = "me"
# password_command = ["pass", "show", "caldav/icecycle"]   # a list of words, no shell
# ca_file = "~/my-ca.pem"                                  # only for a private CA
"""


class ConfigError(Exception):
    """The file cannot be used for what was asked: the message names the file and the key."""


_DEFAULT = Settings()  # the one place the defaults live

#: A config file is a few lines; a bigger one is not read (a FIFO, /dev/zero or a runaway
#: file must not hang whoever reads it).
MAX_BYTES = 64 * 1024
#: tomllib takes quadratic time over a long dotted key (32000 dots: 16 s); no real file
#: comes near this many dots.
MAX_DOTS = 2000


class Problem(NamedTuple):
    """One thing wrong in the file. Its key falls back to the default; nothing stops."""

    key: str  # "notifications.repeat_count"; "" when the whole file could not be used
    what: str  # the file, the key and what is wrong with it
    instead: str  # what icecycle does instead: "using 25m"

    @property
    def line(self) -> str:
        return f"{self.what}; {self.instead}"


class PhoneSettings(NamedTuple):
    """[phone]: the CalDAV calendar to keep converged (the password is never kept here)."""

    caldav_url: str
    username: str
    password_command: tuple[str, ...] = ()
    ca_file: str | None = None


class Config(NamedTuple):
    on_s: int = _DEFAULT.on_s
    off_s: int = _DEFAULT.off_s
    window_s: int = _DEFAULT.window_s
    quiet_hours: str | None = None
    desktop: bool = True
    bell: bool = True
    repeat_every_s: int = 120
    repeat_count: int = 3
    on_change: tuple[str, ...] = ()
    sound: bool = True
    sound_file: str | None = None
    path: str = ""
    #: where each value came from: "default" or the file
    sources: Mapping[str, str] = {}
    phone: PhoneSettings | None = None
    #: what was wrong in the file, each key concerned left at its default
    problems: tuple[Problem, ...] = ()

    @property
    def settings(self) -> Settings:
        """The lengths a new cycle starts with, unless the person gives others."""
        return Settings(self.on_s, self.off_s, self.window_s)

    def bad(self, key: str) -> Problem | None:
        """The problem that left `key` at its default, if any (the whole file counts)."""
        for p in self.problems:
            if p.key in ("", key):
                return p
        return None


#: The settings a person can give (the rest say where they came from).
SETTINGS = Config._fields[:11]

_D = Config()


def config_path(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("ICECYCLE_CONFIG"):
        return os.path.abspath(os.path.expanduser(env["ICECYCLE_CONFIG"]))
    import platformdirs

    return os.path.join(platformdirs.user_config_dir("icecycle", appauthor=False), "config.toml")


def parse_quiet_hours(text: str) -> tuple[int, int]:
    """'23:00-07:00' -> minutes after midnight of the start and the end (QuietHours.parse)."""
    return QuietHours.parse(text)


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """The effective settings: defaults, then what the file says. Never raises: a file that
    cannot be read, or a bad value, leaves those keys at their defaults, in `problems`."""
    path = config_path(env)
    defaults = {k: "default" for k in SETTINGS}
    try:
        raw = _read_bounded(path)
    except FileNotFoundError:
        return Config(path=path, sources=defaults)
    except _Unusable as exc:
        return Config(path=path, sources=defaults, problems=(_whole(path, str(exc)),))
    try:
        if raw.count(b".") > MAX_DOTS:
            raise _Unusable(f"holds more than {MAX_DOTS} dots; is it really icecycle's config?")
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Unusable(f"is not valid TOML ({exc})") from None
        doc, skipped = _parse(path, source)
    except _Unusable as exc:
        return Config(path=path, sources=defaults, problems=(_whole(path, str(exc)),))
    cfg = _read(doc, path)
    return _trusted(cfg._replace(problems=(*skipped, *cfg.problems)), path)


#: A typo such as `repeat_count = three` is not TOML at all: that line is left out (its key
#: at its default) and the rest read, up to this many lines; past it, the whole file.
_MAX_SKIPPED = 10


def _parse(path: str, source: str) -> tuple[dict[str, Any], list[Problem]]:
    import re
    import tomllib

    lines = source.split("\n")
    skipped: list[Problem] = []
    while True:
        try:
            return tomllib.loads("\n".join(lines)), skipped
        except tomllib.TOMLDecodeError as exc:
            why = " ".join(str(exc).split())
            where = re.search(r"at line (\d+)", why)
            n = int(where.group(1)) - 1 if where else -1
            if not 0 <= n < len(lines) or not lines[n].strip() or len(skipped) >= _MAX_SKIPPED:
                raise _Unusable(f"is not valid TOML ({why})") from None
            key = _key_of(lines, n)
            name = key or f"line {n + 1}"
            skipped.append(Problem(key, f"{path}: {name}: not valid TOML ({why})", _instead(key)))
            lines[n] = ""  # (keeps the numbering of the lines after it)


def _key_of(lines: list[str], n: int) -> str:
    """The dotted key line `n` sets (under the table above it), or "" if it is not clear."""
    import re

    line = re.match(r"\s*([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*=", lines[n])
    if line is None:
        return ""
    table = ""
    for above in reversed(lines[:n]):
        header = re.match(r"\s*\[\s*([A-Za-z0-9_.-]+)\s*\]\s*(#.*)?$", above)
        if header:
            table = header.group(1)
            break
    name = re.sub(r"\s+", "", line.group(1))
    return f"{table}.{name}" if table else name


def _instead(key: str) -> str:
    """What a key left out is read as: its default, in words."""
    if key in KEYS:
        return f"using {KEYS[key].default}"
    return "that line is ignored; the rest of the file is read"


class _Unusable(Exception):
    """The file is there but cannot be read as a config (the reason, after its path)."""


def _whole(path: str, why: str) -> Problem:
    return Problem("", f"{path} {why}", "icecycle uses the defaults until it is fixed")


def _read_bounded(path: str) -> bytes:
    """The file's bytes, without ever waiting: not a FIFO, a device or a huge file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _Unusable(f"cannot be read ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Unusable("is not a regular file")
        chunks, size = [], 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_BYTES:
            raise _Unusable(
                f"is larger than {MAX_BYTES // 1024} kB; is it really icecycle's config?"
            )
        return b"".join(chunks)
    except OSError as exc:
        raise _Unusable(f"cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)


def others_can_change(path: str) -> str | None:
    """Who else could change this file, if anyone: the file or a folder above it that is
    not yours (or root's), or that others may write (a sticky folder such as /tmp is fine
    for the folders). None when only you can. The one check for every setting that runs a
    command or silences an alert."""
    me = os.geteuid()
    try:
        st = os.stat(path)
    except OSError:
        return None  # nothing there to trust or distrust
    if st.st_uid not in (me, 0):
        return f"{path} belongs to someone else"
    if st.st_mode & 0o022:
        return f"others can write {path} (fix: chmod go-w {path})"
    folder = os.path.dirname(os.path.realpath(path))
    while True:
        try:
            st = os.stat(folder)
        except OSError:
            return None
        if st.st_uid not in (me, 0):
            return f"the folder {folder} belongs to someone else"
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            return f"others can write the folder {folder} (fix: chmod go-w {folder})"
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _silences(cfg: Config) -> list[tuple[str, str]]:
    """The settings of `cfg` that would quiet an alert, or run a command: (key, as written)."""
    out = []
    for name, key in (("desktop", "desktop"), ("bell", "bell"), ("sound", "sound")):
        if getattr(cfg, name) is False:
            out.append((name, f"notifications.{key} = false"))
    if cfg.sound_file is not None:
        out.append(("sound_file", "notifications.sound_file"))
    if cfg.repeat_count < _D.repeat_count:
        out.append(("repeat_count", f"notifications.repeat_count = {cfg.repeat_count}"))
    if cfg.repeat_every_s > _D.repeat_every_s:
        out.append(("repeat_every_s", "notifications.repeat_every"))
    if cfg.on_change:
        out.append(("on_change", "hooks.on_change"))
    if cfg.phone is not None and cfg.phone.password_command:
        out.append(("phone", "phone.password_command"))
    return out


def _trusted(cfg: Config, path: str) -> Config:
    """A file others can change may not silence an alert, nor name a command to run:
    those settings are ignored (each left at its default), loudly."""
    quiet = _silences(cfg)
    if not quiet:
        return cfg
    who = others_can_change(path)
    if who is None:
        return cfg
    values: dict[str, Any] = {}
    sources = dict(cfg.sources)
    problems = list(cfg.problems)
    for name, written in quiet:
        values[name] = getattr(_D, name)
        if name in sources:
            sources[name] = "default"
        dotted = written.split(" ")[0]
        problems.append(
            Problem(
                dotted,
                f"{path}: {written} is ignored because {who}",
                "a setting that quiets an alert, or runs a command, must be yours alone",
            )
        )
    return cfg._replace(**values, sources=sources, problems=tuple(problems))


class _Bad(Exception):
    """A value that cannot be used (why, in a few words)."""


def _duration(name: str, unit: str, low: int, high: int, example: str) -> _Reader:
    def read(value: Any, folder: str) -> int:
        if not isinstance(value, str):
            first = example.split()[0]
            raise _Bad(f'give a duration in quotes, e.g. {name.split(".")[-1]} = "{first}"')
        try:
            return parse_length(
                value, field=name, low=low, high=high, bare_unit=unit, example=example
            )
        except InputError as exc:
            raise _Bad(str(exc)) from None

    return read


def _length(name: str) -> _Reader:
    unit, example = SETTING_INPUT[name]
    return _duration(name, unit, *LIMITS[name], example)


def _quiet_hours(value: Any, folder: str) -> str:
    if not isinstance(value, str):
        raise _Bad('give it in quotes, e.g. quiet_hours = "23:00-07:00"')
    try:
        # Kept canonically: a cycle records this text, and reads it back later.
        return str(QuietHours.parse(value))
    except InputError as exc:
        raise _Bad(str(exc)) from None


def _flag(value: Any, folder: str) -> bool:
    if not isinstance(value, bool):
        raise _Bad("should be true or false")
    return value


def _count(value: Any, folder: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10:
        raise _Bad("should be a whole number from 0 to 10")
    return value


def _sound(value: Any, folder: str) -> str:
    try:
        return _sound_file(value, folder)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _hook(value: Any, folder: str) -> tuple[str, ...]:
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        raise _Bad('should be a list of words, e.g. ["notify-phone", "--quiet"]')
    if any("\0" in v for v in value) or not value[0]:
        raise _Bad("a word is empty or holds a NUL character; remove it")
    return tuple(value)


_Reader = Callable[[Any, str], Any]


class _Key(NamedTuple):
    field: str  # of Config
    read: _Reader  # (value, the config's folder) -> the setting, or _Bad
    default: str  # the default, as a person would write it


#: Every key a file may hold, by its dotted name.
KEYS: dict[str, _Key] = {
    "on": _Key("on_s", _length("on"), format_span(_D.on_s)),
    "off": _Key("off_s", _length("off"), format_span(_D.off_s)),
    "window": _Key("window_s", _length("window"), format_span(_D.window_s)),
    "quiet_hours": _Key("quiet_hours", _quiet_hours, "no quiet hours"),
    "notifications.desktop": _Key("desktop", _flag, "true"),
    "notifications.bell": _Key("bell", _flag, "true"),
    "notifications.repeat_every": _Key(
        "repeat_every_s",
        _duration("notifications.repeat_every", "m", 10, 3600, "2m"),
        format_span(_D.repeat_every_s),
    ),
    "notifications.repeat_count": _Key("repeat_count", _count, str(_D.repeat_count)),
    "notifications.sound": _Key("sound", _flag, "true"),
    "notifications.sound_file": _Key("sound_file", _sound, "the default sound"),
    "hooks.on_change": _Key("on_change", _hook, "no hook"),
}
_TABLES = ("notifications", "hooks")


def _read(doc: Mapping[str, Any], path: str) -> Config:
    """Each key on its own: a bad one is left at its default and noted, the rest are read."""
    values: dict[str, Any] = {}
    sources = {k: "default" for k in SETTINGS}
    problems: list[Problem] = []
    folder = os.path.dirname(path)
    found: list[tuple[str, Any]] = []
    for key, value in doc.items():
        if key == "phone":
            try:
                values["phone"] = _phone(value)
            except _Bad as exc:
                problems.append(Problem(key, f"{path}: {exc}", _PHONE_OFF))
            continue
        if key in _TABLES and isinstance(value, dict):
            found += [(f"{key}.{sub}", v) for sub, v in value.items()]
        elif key in _TABLES:
            why = f"should be a table: [{key}]"
            problems.append(Problem(key, f"{path}: {key}: {why}", "using its defaults"))
        else:
            found.append((key, value))
    for name, value in found:
        spec = KEYS.get(name)
        if spec is None:
            problems.append(_unknown(path, name))
            continue
        try:
            values[spec.field] = spec.read(value, folder)
        except _Bad as exc:
            problems.append(Problem(name, f"{path}: {name}: {exc}", f"using {spec.default}"))
            continue
        sources[spec.field] = path
    return Config(**values, path=path, sources=sources, problems=tuple(problems))


def _phone(table: Any) -> PhoneSettings:
    """[phone]: caldav_url (https, or http to this computer), username, password_command
    (a list of words, no shell), ca_file."""
    from urllib.parse import urlsplit

    def bad(key: str, why: str) -> _Bad:
        return _Bad(f"{key}: {why}")

    if not isinstance(table, dict):
        raise bad("phone", "should be a table: [phone]")
    keys = {"caldav_url", "username", "password_command", "ca_file"}
    for key in table:
        if key not in keys:
            raise bad(f"phone.{key}", f"unknown key; known keys are {', '.join(sorted(keys))}")
    url = table.get("caldav_url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad("phone.caldav_url", 'give the calendar\'s address, e.g. "https://host/dav/cal/"')
    if parts.username or parts.password:
        raise bad(
            "phone.caldav_url", "put the name in username and the password in password_command"
        )
    local = parts.hostname in ("localhost", "::1") or parts.hostname.startswith("127.")
    if parts.scheme == "http" and not local:
        raise bad("phone.caldav_url", "use https (plain http only to this computer)")
    user = table.get("username")
    if not isinstance(user, str) or not user or "\0" in user:
        raise bad("phone.username", 'give the account name in quotes, e.g. username = "me"')
    argv = table.get("password_command", [])
    if not (isinstance(argv, list) and all(isinstance(v, str) for v in argv)) or (
        argv and (not argv[0] or any("\0" in v for v in argv))
    ):
        raise bad("phone.password_command", 'should be a list of words, e.g. ["pass", "show", "x"]')
    ca = table.get("ca_file")
    if ca is not None:
        if not isinstance(ca, str) or not os.path.isfile(os.path.expanduser(ca)):
            raise bad("phone.ca_file", "should be the path of a PEM file of your CA certificate")
        ca = os.path.abspath(os.path.expanduser(ca))
    return PhoneSettings(str(url), user, tuple(argv), ca)


_PHONE_OFF = "the phone calendar is not kept until it is fixed"


def _unknown(path: str, name: str) -> Problem:
    table, _, _ = name.rpartition(".")
    known = sorted(
        k.removeprefix(f"{table}.")
        for k in (*KEYS, *_TABLES)
        if k.rpartition(".")[0] == table and k != name
    )
    word = "known key is" if len(known) == 1 else "known keys are"
    return Problem(name, f"{path}: {name}: unknown key", f"ignored; {word} {', '.join(known)}")


def _sound_file(value: Any, folder: str = "") -> str:
    """A readable file, by its full path: a relative one is taken from the config file's
    folder (the player runs wherever icecycle was started, a user service in $HOME)."""
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ValueError('give a path in quotes, e.g. sound_file = "~/sounds/gong.oga"')
    path = os.path.abspath(os.path.join(folder, os.path.expanduser(value)))
    shown = value if path == value else f"{value} ({path})"
    if not os.path.isfile(path):
        raise ValueError(f"{shown} is not a file; give the path of a sound file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{shown} cannot be read; check its permissions")
    return path


def init_config(env: Mapping[str, str] | None = None) -> str:
    """Write the commented example, yours alone (0600, in folders 0700 where it makes
    them) whatever the umask; never over an existing file. Returns the path."""
    path = config_path(env)
    try:
        made = _missing_folders(os.path.dirname(path) or ".")
        os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        for folder in made:
            os.chmod(folder, 0o700)  # makedirs' mode is filtered by the umask
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            raise ConfigError(f"{path} already exists; icecycle will not overwrite it") from None
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fd, 0o600)
            fh.write(EXAMPLE)
    except OSError as exc:
        # FileExistsError from makedirs: a file is where a folder should be
        why = "a file is in the way" if isinstance(exc, FileExistsError) else exc.strerror
        raise ConfigError(
            f"cannot write {path} ({why or exc}); "
            "check that folder's permissions, or set ICECYCLE_CONFIG to another path"
        ) from None
    return path


def _missing_folders(folder: str) -> list[str]:
    """The folders makedirs would create for `folder`, outermost first."""
    missing: list[str] = []
    folder = os.path.abspath(folder)
    while not os.path.lexists(folder):
        missing.insert(0, folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing
