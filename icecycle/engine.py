"""The one factory of the engine: the notifier and the Runner, built from a Config, for the
daemon and the dashboard alike (so the two cannot drift apart)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import IO

from icecycle import text
from icecycle.clock import Clock
from icecycle.config import Config
from icecycle.notify import FanOut, Notice, Notifier, TerminalNotifier, notifier_for
from icecycle.runner import Report, Runner
from icecycle.store import Store


def build_notifier(
    cfg: Config, log: Callable[[str], None], *, terminal: IO[str] | None = None
) -> Notifier:
    """Every notifier the config asks for: desktop (with its sound settings) or none, the
    hook, and the terminal's bell when `terminal` is given (the daemon run by hand)."""
    notifier = notifier_for(
        cfg.desktop, cfg.on_change, log, sound=cfg.sound, sound_file=cfg.sound_file
    )
    if terminal is not None:
        notifier = FanOut([notifier, TerminalNotifier(terminal)], log)
    return notifier


def build_runner(
    store: Store,
    clock: Clock,
    cfg: Config,
    *,
    report: Callable[[Report], None] | None = None,
    log: Callable[[str], None] = lambda line: None,
    notifier: Notifier | None = None,
    terminal: IO[str] | None = None,
) -> Runner:
    """The Runner the config describes. `notifier` replaces the one the config would build
    (tests bring their own); `log` takes the notifiers' own lines (a hook that failed)."""
    if notifier is None:
        notifier = build_notifier(cfg, log, terminal=terminal)
    return Runner(
        store,
        clock,
        notifier,
        report=report,
        repeat_every=timedelta(seconds=cfg.repeat_every_s),
        repeat_count=cfg.repeat_count,
    )


def config_notice(cfg: Config) -> Notice | None:
    """The one notice that says what was wrong in the config, if anything was."""
    if not cfg.problems:
        return None
    body = text.config_notice([p.line for p in cfg.problems])
    return Notice("config", text.CONFIG_NOTICE_TITLE, body)


def tell_config_problems(runner: Runner, cfg: Config) -> None:
    """Send the config's notice once, on a thread of its own: it waits for nothing and
    holds up nothing (it has no buttons and no sound, so it never takes an alarm's place)."""
    notice = config_notice(cfg)
    if notice is None:
        return
    notifier = runner.notifier

    def send() -> None:
        try:
            notifier.send(notice)
        except Exception:  # a courtesy: the dashboard's line and the log say it too
            return

    threading.Thread(target=send, name="icecycle-config-notice", daemon=True).start()
