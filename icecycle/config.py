"""The config file (TOML): defaults for `start`, quiet hours, notifications and hooks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from icecycle.cycle import LIMITS, Settings
from icecycle.durations import SETTING_INPUT, InputError, QuietHours, parse_length

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
    """The file is not valid: the message names the file and the key."""


_DEFAULT = Settings()  # the one place the defaults live


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

    @property
    def settings(self) -> Settings:
        """The lengths a new cycle starts with, unless the person gives others."""
        return Settings(self.on_s, self.off_s, self.window_s)


#: The settings a person can give (the rest say where they came from).
SETTINGS = Config._fields[:11]


def config_path(env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    if env.get("ICECYCLE_CONFIG"):
        return os.path.expanduser(env["ICECYCLE_CONFIG"])
    import platformdirs

    return os.path.join(platformdirs.user_config_dir("icecycle", appauthor=False), "config.toml")


def parse_quiet_hours(text: str) -> tuple[int, int]:
    """'23:00-07:00' -> minutes after midnight of the start and the end (QuietHours.parse)."""
    return QuietHours.parse(text)


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """The effective settings: defaults, then the file if there is one."""
    path = config_path(env)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
            mode = os.fstat(fh.fileno()).st_mode
    except FileNotFoundError:
        return Config(path=path, sources={k: "default" for k in SETTINGS})
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror})") from None
    import tomllib

    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc})") from None
    cfg = _read(doc, path)
    if (cfg.on_change or (cfg.phone and cfg.phone.password_command)) and mode & 0o022:
        # Anyone who can write the file could make icecycle run their command as you.
        raise ConfigError(
            f"{path} names a command to run but others can change it; "
            f"make it yours alone with: chmod go-w {path}"
        )
    return cfg


def _read(doc: Mapping[str, Any], path: str) -> Config:
    values: dict[str, Any] = {}
    sources = {k: "default" for k in SETTINGS}

    def bad(key: str, why: str) -> ConfigError:
        return ConfigError(f"{path}: {key}: {why}")

    def duration(key: str, value: Any, unit: str, low: int, high: int, example: str) -> int:
        if not isinstance(value, str):
            first = example.split()[0]
            raise bad(key, f'give a duration in quotes, e.g. {key.split(".")[-1]} = "{first}"')
        try:
            return parse_length(
                value, field=key, low=low, high=high, bare_unit=unit, example=example
            )
        except InputError as exc:
            raise bad(key, str(exc)) from None

    known = {"on", "off", "window", "quiet_hours", "notifications", "hooks", "phone"}
    for key in doc:
        if key not in known:
            raise bad(key, f"unknown key; known keys are {', '.join(sorted(known))}")
    for key in ("on", "off", "window"):
        if key in doc:
            unit, example = SETTING_INPUT[key]
            values[f"{key}_s"] = duration(key, doc[key], unit, *LIMITS[key], example)
            sources[f"{key}_s"] = path
    if "quiet_hours" in doc:
        if not isinstance(doc["quiet_hours"], str):
            raise bad("quiet_hours", 'give it in quotes, e.g. quiet_hours = "23:00-07:00"')
        try:
            quiet = QuietHours.parse(doc["quiet_hours"])
        except InputError as exc:
            raise bad("quiet_hours", str(exc)) from None
        # Kept as written canonically: a cycle records this text, and reads it back later.
        values["quiet_hours"], sources["quiet_hours"] = str(quiet), path
    notes = doc.get("notifications", {})
    if not isinstance(notes, dict):
        raise bad("notifications", "should be a table: [notifications]")
    for key, value in notes.items():
        name = f"notifications.{key}"
        if key in ("desktop", "bell", "sound"):
            if not isinstance(value, bool):
                raise bad(name, "should be true or false")
            values[key] = value
        elif key == "repeat_every":
            values["repeat_every_s"] = duration(name, value, "m", 10, 3600, "2m")
            key = "repeat_every_s"
        elif key == "repeat_count":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10:
                raise bad(name, "should be a whole number from 0 to 10")
            values[key] = value
        elif key == "sound_file":
            try:
                values[key] = _sound_file(value)
            except ValueError as exc:
                raise bad(name, str(exc)) from None
        else:
            raise bad(
                name,
                "unknown key; known keys are bell, desktop, repeat_count, repeat_every, "
                "sound, sound_file",
            )
        sources[key] = path
    hooks = doc.get("hooks", {})
    if not isinstance(hooks, dict):
        raise bad("hooks", "should be a table: [hooks]")
    for key, value in hooks.items():
        if key != "on_change":
            raise bad(f"hooks.{key}", "unknown key; the known key is on_change")
        if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
            raise bad(
                "hooks.on_change", 'should be a list of words, e.g. ["notify-phone", "--quiet"]'
            )
        if any("\0" in v for v in value) or not value[0]:
            raise bad("hooks.on_change", "a word is empty or holds a NUL character; remove it")
        values["on_change"], sources["on_change"] = tuple(value), path
    if "phone" in doc:
        values["phone"] = _phone(doc["phone"], bad)
    return Config(**values, path=path, sources=sources)


def _phone(table: Any, bad: Any) -> PhoneSettings:
    """[phone]: caldav_url (https, or http to this computer), username, password_command
    (a list of words, no shell), ca_file."""
    from urllib.parse import urlsplit

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


def _sound_file(value: Any) -> str:
    """A readable file, by its full path (the player does not run where the config is)."""
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ValueError('give a path in quotes, e.g. sound_file = "~/sounds/gong.oga"')
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isfile(path):
        raise ValueError(f"{value} is not a file; give the path of a sound file")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{value} cannot be read; check its permissions")
    return path


def init_config(env: Mapping[str, str] | None = None) -> str:
    """Write the commented example; never over an existing file. Returns the path."""
    path = config_path(env)
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        try:
            with open(path, "x", encoding="utf-8") as fh:
                fh.write(EXAMPLE)
        except FileExistsError:
            raise ConfigError(f"{path} already exists; icecycle will not overwrite it") from None
    except OSError as exc:
        # FileExistsError from makedirs: a file is where a folder should be
        why = "a file is in the way" if isinstance(exc, FileExistsError) else exc.strerror
        raise ConfigError(
            f"cannot write {path} ({why or exc}); "
            "check that folder's permissions, or set ICECYCLE_CONFIG to another path"
        ) from None
    return path
