"""The command line: a few lines per command over the cycle, the store and the runner."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

from icecycle import __version__, actions, formats, text
from icecycle.actions import (
    Refused,
    _idle,
    parse_setting,
    sync_quiet_hours,
)
from icecycle.clock import Clock, SystemClock
from icecycle.config import ConfigError
from icecycle.cycle import ALLOWED, State, fold
from icecycle.durations import (
    InputError,
    format_span,
)
from icecycle.ics import CalendarError
from icecycle.store import Store, StoreError, resolve_data_dir

if TYPE_CHECKING:
    import argparse

    from icecycle.config import Config


def _parser_class() -> type[argparse.ArgumentParser]:
    import argparse

    class _Parser(argparse.ArgumentParser):
        """argparse, with refusals on one line instead of the usage block."""

        def error(self, message: str) -> NoReturn:
            self.exit(2, f"icecycle: error: {message} (see icecycle --help)\n")

    return _Parser


def _duration(name: str, bare_unit: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            return parse_setting(name, value)
        except InputError as exc:
            import argparse

            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


def _score(value: str) -> int:
    if value.isascii() and value.isdigit() and int(value) <= 10:
        return int(value)
    import argparse

    raise argparse.ArgumentTypeError(f"'{value}' is not a pain score; give a whole number 0 to 10")


def build_parser() -> argparse.ArgumentParser:
    import argparse

    _Parser = _parser_class()
    data_dir = _Parser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="where the database lives (default: $ICECYCLE_DATA_DIR, else your user data folder)",
    )
    parser = _Parser(
        prog="icecycle",
        allow_abbrev=False,  # `start --for` must not quietly mean --force
        parents=[data_dir],
        description="A calm timer for cold therapy after a back spasm: "
        "25 min ice on, 90 min off, through the first 48-72 hours.",
        epilog=text.NOT_ADVICE,
    )
    parser.add_argument("--version", action="version", version=f"icecycle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help_text, description=help_text, parents=[data_dir], allow_abbrev=False
        )

    start = cmd("start", "start a new cycle (ice goes on now)")
    start.add_argument(
        "--since",
        metavar="WHEN",
        default="now",
        help="when the spasm began: now, 3h ago, 14:30 or 2026-11-25T08:00",
    )
    start.add_argument(
        "--on",
        metavar="DUR",
        type=_duration("on", "m"),
        default=None,
        help="ice-on length (default 25m; a bare number is minutes)",
    )
    start.add_argument(
        "--off",
        metavar="DUR",
        type=_duration("off", "m"),
        default=None,
        help="ice-off length (default 90m; a bare number is minutes)",
    )
    start.add_argument(
        "--window",
        metavar="DUR",
        type=_duration("window", "h"),
        default=None,
        help="how long the cycle runs from --since (default 72h; bare = hours)",
    )
    start.add_argument("--force", action="store_true", help="stop a running cycle first")
    status = cmd("status", "where the cycle stands now")
    shape = status.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="one JSON object (for scripts)")
    shape.add_argument(
        "--format",
        metavar="TEMPLATE",
        default=None,
        help="one line from a template, e.g. '{state} {phase_remaining}'; "
        f"fields: {', '.join(formats.FORMAT_FIELDS)}",
    )
    shape.add_argument(
        "--waybar",
        action="store_true",
        help="JSON for a Waybar custom module (text, tooltip, class)",
    )
    status.add_argument(
        "--follow",
        action="store_true",
        help="keep running and print a new line each time it would change (for status bars)",
    )
    for name, help_text in [
        ("on", "ice on now"),
        ("off", "ice off now (ends this session)"),
        ("skip", "skip this ice session"),
        ("pause", "pause the cycle and its reminders (the window keeps running)"),
        ("resume", "resume a paused cycle (after any rest still owed)"),
        ("stop", "end the cycle (it stays in history)"),
        ("ack", "acknowledge the current prompt (towel reminder, ice-off alarm)"),
    ]:
        sub_cmd = cmd(name, help_text)
        if name == "skip":
            sub_cmd.add_argument(
                "--again",
                action="store_true",
                help="skip another session in the same rest (one skip per rest without it)",
            )
    history = cmd("history", "every session so far, with totals")
    history.add_argument("--json", action="store_true", help="JSON instead of a table")
    pain = cmd("pain", "record how much it hurts now, 0 (none) to 10 (worst)")
    pain.add_argument("score", type=_score, help="0 to 10")
    export = cmd("export", "write the sessions ahead as a calendar file for your phone")
    export.add_argument("file", metavar="FILE.ics")
    export.add_argument(
        "--force", action="store_true", help="overwrite FILE even if icecycle did not write it"
    )
    config = cmd("config", "show the settings in effect and where each comes from")
    config.add_argument(
        "--init", action="store_true", help="write a commented example config file (never over one)"
    )
    cmd("daemon", "send notifications without the TUI (for a systemd user service)")
    cmd("notify-test", "send one test notification and say whether it worked")
    phone = cmd("phone", "the CalDAV calendar your phone follows ([phone] in the config)")
    which = phone.add_subparsers(dest="phone_command", metavar="sync|status", required=True)
    which.add_parser("sync", help="bring the phone calendar up to date now")
    which.add_parser("status", help="the last sync, what is on the server, the last error")
    return parser


class Context:
    """What every command needs: where the data is, the clock, and the output streams."""

    def __init__(
        self,
        args: argparse.Namespace,
        clock: Clock,
        out: IO[str],
        err: IO[str],
        env: dict[str, str] | os._Environ[str],
    ) -> None:
        self.args, self.clock, self.out, self.err = args, clock, out, err
        self.env = env
        self.data_dir = resolve_data_dir(getattr(args, "data_dir", None), env)
        self._store: Store | None = None

    def store(self, *, create: bool = False) -> Store | None:
        if self._store is None:
            self._store = Store.open(self.data_dir, create=create)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def config(self, *, warn: bool = True) -> Config:
        """The settings in effect; what was wrong in the file said on stderr, one line each
        (those keys use their defaults: a bad value never stops anything)."""
        from icecycle.config import load_config

        cfg = load_config(self.env)
        if warn:
            for problem in cfg.problems:
                self.warn(problem.line)
        return cfg

    def say(self, line: str) -> None:
        print(line, file=self.out)

    def warn(self, line: str) -> None:
        print(f"icecycle: warning: {line}", file=self.err)


def _status_now(ctx: Context) -> State:
    """The state now, with the runner's notes so missed sessions count as missed."""
    store = ctx.store()
    current = store.current() if store else None
    now = ctx.clock.now()
    if store is None or current is None:
        return _idle(now)
    last = store.last_change()
    if last is not None and now < last - actions.CLOCK_SLACK:
        # The clock went back: no moment is earlier than the last one stored.
        ctx.warn(text.clock_held(last, now))
        now = last
    return fold(*current, store.session_notes(current[0].id)).state_at(now)


def cmd_start(ctx: Context) -> None:
    args = ctx.args
    cfg = ctx.config(warn=False)
    for key in ("on", "off", "window", "quiet_hours"):
        problem = cfg.bad(key)
        if problem is not None and getattr(args, key, None) is None:
            # A new cycle records its lengths: never start one the file did not mean.
            flag = key if problem.key == key and key != "quiet_hours" else None
            raise ConfigError(text.config_blocks_start(problem.what, flag))
    for problem in cfg.problems:
        ctx.warn(problem.line)
    plan = actions.plan_start(cfg, ctx.clock.now(), args.since, args.on, args.off, args.window)
    for warning in plan.warnings:
        ctx.warn(warning)
    store = ctx.store(create=True)
    assert store is not None
    started = actions.start(store, plan, ctx.clock.now, cfg, force=args.force)
    ctx.say(text.started(started.state, started.replaced, started.after_stop))


def cmd_status(ctx: Context) -> None:
    if ctx.args.waybar and not getattr(ctx.args, "follow", False):
        return _status_waybar(ctx)
    if ctx.args.format is not None:
        try:
            formats.check_template(ctx.args.format)  # a bad template is refused in any state
        except ValueError as exc:
            raise Refused(f"argument --format: {exc}", 2) from None
    if getattr(ctx.args, "follow", False):
        return _status_follow(ctx)
    st = _status_now(ctx)
    if ctx.args.json:
        import json

        ctx.say(json.dumps(formats.status_json(st)))
        return
    if ctx.args.format is not None:
        try:
            ctx.say(formats.format_status(ctx.args.format, st))
        except ValueError as exc:
            raise Refused(f"argument --format: {exc}", 2) from None
        return
    ctx.say(text.phase_line(st))
    if st.cycle is None:
        return
    if st.next_change is not None:
        ctx.say(f"Next change: {text.next_change(st)}")
    ctx.say(text.window_line(st))
    ctx.say(text.sessions_line(st))


def _status_follow(ctx: Context) -> None:
    from icecycle.follow import follow

    args = ctx.args
    shape = (
        "waybar"
        if args.waybar
        else "json"
        if args.json
        else "format"
        if args.format is not None
        else ""
    )
    follow(ctx.data_dir, ctx.clock, shape, args.format, ctx.out, ctx.err)


def _status_waybar(ctx: Context) -> None:
    """Waybar hides a module whose command fails or prints nothing, so this always prints
    one JSON line and exits 0: the state, or an `error` class with the reason on hover (the
    reason also goes to stderr, for a terminal)."""
    import json

    try:
        doc = formats.waybar(_status_now(ctx))
    except Exception as exc:
        if os.environ.get("ICECYCLE_DEBUG"):
            raise
        reason = (
            str(exc)
            if isinstance(exc, StoreError | ConfigError)
            else f"unexpected {type(exc).__name__}: {exc} (please report it)"
        )
        doc = formats.waybar_error(reason)
        print(f"icecycle: error: {' '.join(reason.split())}", file=ctx.err)
    ctx.say(json.dumps(doc))


def cmd_action(ctx: Context) -> None:
    """on, off, skip, pause, resume, stop, ack: check, append, confirm."""
    again = bool(getattr(ctx.args, "again", False))
    kind, before, after, acc = actions.act(
        ctx.store(), ctx.args.command, ctx.clock.now, again=again
    )
    if kind == "on" and before.rest_owed.total_seconds() >= 1:
        ctx.warn(text.rest_owed_warning(before, acc.cycle.settings))
    ctx.say(text.confirmation(kind, before, after, acc))


def cmd_history(ctx: Context) -> None:
    store = ctx.store()
    now = ctx.clock.now()
    cycles = store.cycles() if store else []
    if not cycles:
        if ctx.args.json:
            ctx.say('{"cycles": []}')
        else:
            ctx.say("No cycles yet. Start one with: icecycle start")
        return
    assert store is not None
    report = []
    for cycle, stopped in cycles:
        events = store.events(cycle.id)
        notes = store.session_notes(cycle.id)
        acc = fold(cycle, events, notes)
        st = acc.state_at(now)
        rows = acc.sessions(now)
        pain: list[dict[str, Any]] = [
            {"at": e.at.astimezone().isoformat(timespec="seconds"), "score": int(e.data)}
            for e in events
            if e.kind == "pain" and e.data and e.data.isascii() and e.data.isdigit()
        ]
        report.append((cycle, stopped, st, rows, pain, acc.quiet))
    if ctx.args.json:
        import json

        ctx.say(json.dumps({"cycles": [formats.history_json(*r[:5]) for r in report]}))
        return
    for i, (cycle, stopped, st, rows, pain, quiet) in enumerate(report):
        if i:
            ctx.say("")
        for line in text.history_table(cycle, stopped, st, rows, quiet):
            ctx.say(line)
        trend = text.pain_trend([int(p["score"]) for p in pain])
        if trend:
            ctx.say(f"  {trend}")


def cmd_pain(ctx: Context) -> None:
    scores = actions.record_pain(ctx.store(), ctx.args.score, ctx.clock.now)
    ctx.say(text.pain_noted(scores))


def cmd_export(ctx: Context) -> None:
    from icecycle.ics import export_calendar

    done = export_calendar(ctx.store(), ctx.args.file, ctx.clock.now(), force=ctx.args.force)
    for line in done.message(ctx.args.file):
        ctx.say(line)


def cmd_phone(ctx: Context) -> None:
    from icecycle import phone

    cfg = ctx.config(warn=False)  # what concerns the phone is the error; the rest, warnings
    wrong = [p for p in cfg.problems if p.key.partition(".")[0] in ("phone", "")]
    for problem in cfg.problems:
        if problem not in wrong[:1] or cfg.phone is not None:
            ctx.warn(problem.line)
    if cfg.phone is None and wrong:
        raise CalendarError(f"the phone calendar is not set up: {wrong[0].line}")
    if cfg.phone is None:
        raise CalendarError(
            f"no phone calendar is set up; add a [phone] section to {cfg.path} (docs/phone.md)"
        )
    if ctx.args.phone_command == "status":
        for line in phone.status_lines(cfg.phone, ctx.data_dir, ctx.clock.now()):
            ctx.say(line)
        return
    store = ctx.store()
    if store is None:
        raise CalendarError("nothing to put on the phone yet; `icecycle start` begins a cycle")
    try:
        password = phone.get_password(cfg.phone, ctx.env)
        done = phone.sync(store, cfg.phone, ctx.data_dir, ctx.clock.now(), password, full=True)
    except phone.PhoneError as exc:
        raise CalendarError(f"the phone calendar was not synced: {exc}") from None
    ctx.say(done.line())


def cmd_config(ctx: Context) -> None:
    from icecycle.config import SETTINGS, init_config

    if ctx.args.init:
        ctx.say(f"Wrote an example config to {init_config(ctx.env)}; edit it to taste.")
        return
    cfg = ctx.config(warn=False)
    import os.path

    where = cfg.path if os.path.lexists(cfg.path) else f"{cfg.path} (not there: defaults)"
    ctx.say(f"Config file: {where}")
    shown = {
        "on": format_span(cfg.on_s),
        "off": format_span(cfg.off_s),
        "window": format_span(cfg.window_s),
        "quiet_hours": cfg.quiet_hours or "none",
        "notifications.desktop": str(cfg.desktop).lower(),
        "notifications.bell": str(cfg.bell).lower(),
        "notifications.repeat_every": format_span(cfg.repeat_every_s),
        "notifications.repeat_count": str(cfg.repeat_count),
        "notifications.sound": str(cfg.sound).lower(),
        "notifications.sound_file": cfg.sound_file or "default",
        "hooks.on_change": " ".join(cfg.on_change) or "none",
    }
    for key, value in shown.items():
        name = key.split(".")[-1]
        source = cfg.sources.get(f"{name}_s" if f"{name}_s" in SETTINGS else name, "default")
        if source != "default":
            origin = "(file)"
        elif cfg.bad(key) is not None:
            origin = "(default: see below)"
        else:
            origin = "(default)"
        ctx.say(f"  {key:<28} {value:<16} {origin}")
    if cfg.problems:
        ctx.say(text.CONFIG_PROBLEMS)
        for problem in cfg.problems:
            ctx.say(f"  {problem.line}")


def cmd_daemon(ctx: Context) -> None:
    from icecycle.daemon import run_daemon

    cfg = ctx.config(warn=False)  # the daemon's log says what fell back
    store = ctx.store(create=True)
    assert store is not None
    sync_quiet_hours(store, cfg, ctx.clock.now())
    run_daemon(store, ctx.clock, ctx.err, cfg)


def cmd_notify_test(ctx: Context) -> None:
    from icecycle.notify import notify_test

    cfg = ctx.config()
    ok, line = notify_test(cfg.sound, cfg.sound_file)
    ctx.say(line)
    if not ok:
        raise Refused("the test notification did not arrive; see above", 1)


def cmd_tui(ctx: Context) -> None:
    if not _is_terminal(0):
        # Textual would fail deep inside (a traceback, and exit 0) with no keys to read.
        raise Refused(text.NO_TERMINAL, 1)
    from icecycle.tui.app import make_app

    cfg = ctx.config(warn=False)  # the dashboard says what fell back
    store = ctx.store(create=True)
    assert store is not None
    sync_quiet_hours(store, cfg, ctx.clock.now())
    make_app(store, ctx.clock, config=cfg).run()


def _is_terminal(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


COMMANDS: dict[str | None, Callable[[Context], None]] = {
    "start": cmd_start,
    "status": cmd_status,
    "history": cmd_history,
    "daemon": cmd_daemon,
    "notify-test": cmd_notify_test,
    "pain": cmd_pain,
    "export": cmd_export,
    "config": cmd_config,
    "phone": cmd_phone,
    None: cmd_tui,
    **{k: cmd_action for k in ALLOWED},
}


class _Args:
    """The parsed form of the plainest `status` calls (see _fast_args)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def _fast_args(argv: list[str]) -> Any:
    """`status` and `status --json` are what prompts and status bars call every few seconds:
    answer them without building the argparse parser."""
    if not argv or argv[0] != "status":
        return None
    rest = argv[1:]
    if rest in ([], ["--json"], ["--waybar"]):
        return _Args(
            command="status", json=rest == ["--json"], waybar=rest == ["--waybar"], format=None
        )
    if len(rest) == 2 and rest[0] == "--format":
        return _Args(command="status", json=False, waybar=False, format=rest[1])
    return None


def main(
    argv: Sequence[str] | None = None,
    *,
    clock: Clock | None = None,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
    env: dict[str, str] | None = None,
) -> int:
    """Run one command; the exit status says what it did (0 once its write is committed,
    whatever happens to the output afterwards). Never a traceback."""
    if out is None and err is None:
        _std_fds()
    watched = _Watched(out or sys.stdout or _devnull())
    out = cast("IO[str]", watched)
    err = err or sys.stderr or _devnull()  # `icecycle daemon 2>&-`
    argv = sys.argv[1:] if argv is None else list(argv)
    ctx: Context | None = None
    try:
        try:
            args = _fast_args(argv)
            if args is None:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    args = build_parser().parse_args(argv)
        except SystemExit as exc:  # argparse: --help, --version, or a one-line error
            return int(exc.code or 0)
        if getattr(args, "data_dir", None) == "":
            _say(err, "icecycle: error: argument --data-dir: give a folder (it was empty)")
            return 2
        ctx = Context(args, clock or SystemClock(), out, err, os.environ if env is None else env)
        COMMANDS[args.command](ctx)
        out.flush()
    except Refused as exc:
        return _fail(ctx, err, str(exc), exc.code)
    except (StoreError, ConfigError, CalendarError) as exc:
        return _fail(ctx, err, str(exc), 1)
    except KeyboardInterrupt:
        return _fail(ctx, err, "interrupted", 130)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        if watched.failed:
            _quiet(watched.inner)
            if isinstance(exc, BrokenPipeError):  # `icecycle status | head -c0`: not an error
                return 0
            return _fail(ctx, err, f"cannot write the output ({_strerror(exc)})", 1)
        if os.environ.get("ICECYCLE_DEBUG"):
            raise
        return _fail(
            ctx,
            err,
            f"unexpected {type(exc).__name__}: {exc} "
            "(set ICECYCLE_DEBUG=1 for details and please report it)",
            1,
        )
    finally:
        if ctx is not None:
            with contextlib.suppress(Exception):
                ctx.close()
    return 0


def _fail(ctx: Context | None, err: IO[str], message: str, code: int) -> int:
    """Say what went wrong in one line; but once the person's write is committed the
    command did its job, and exits 0 (Ctrl-C after the confirmation, a full stdout)."""
    committed = ctx is not None and ctx._store is not None and ctx._store.committed
    if message == "interrupted":  # Ctrl-C: one calm line, and none after a committed write
        if not committed:
            _say(err, "icecycle: interrupted; nothing was changed")
    elif committed:
        _say(err, f"icecycle: warning: your change was saved, but then: {message}")
    else:
        _say(err, f"icecycle: error: {message}")
    return 0 if committed else code


def _say(stream: IO[str], line: str) -> None:
    with contextlib.suppress(Exception):  # stderr itself may be closed, full or a dead pipe
        print(line, file=stream, flush=True)


class _Watched:
    """The output stream, noting whether writing to it failed (so that a full disk or a
    closed pipe is told apart from a failure of the command itself)."""

    def __init__(self, inner: IO[str]) -> None:
        self.inner = inner
        self.failed = False

    def write(self, text: str) -> int:
        try:
            return self.inner.write(text)
        except (OSError, ValueError):
            self.failed = True
            raise

    def flush(self) -> None:
        try:
            self.inner.flush()
        except (OSError, ValueError):
            self.failed = True
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _strerror(exc: BaseException) -> str:
    if isinstance(exc, UnicodeEncodeError):
        return f"it takes only {exc.encoding}; a UTF-8 locale shows everything"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _quiet(out: IO[str]) -> None:
    """Point stdout at /dev/null, so that Python's own flush at exit does not fail again
    and print a traceback of its own."""
    if out is sys.stdout:
        with contextlib.suppress(Exception):
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, sys.stdout.fileno())
            os.close(fd)


def _devnull() -> IO[str]:
    return open(os.devnull, "w", encoding="utf-8")  # (lives as long as we do)


def _std_fds() -> None:
    """With stdin, stdout or stderr closed (`icecycle daemon 2>&-`), the next file opened
    would take its number, and a stray write to "stderr" would land in the database:
    hold those numbers with /dev/null."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.open(os.devnull, os.O_RDWR)  # takes the lowest free number: this one
