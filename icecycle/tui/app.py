"""The app a person leaves open through recovery: it hosts the runner, the dashboard and the
dialogs, and carries out what the keys ask through the shared actions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen

from icecycle import actions, text
from icecycle.actions import Plan, Refused
from icecycle.clock import Clock, SystemClock
from icecycle.config import Config
from icecycle.cycle import Session, State
from icecycle.engine import build_runner, tell_config_problems
from icecycle.notify import Notifier
from icecycle.runner import Report
from icecycle.store import Store, StoreError
from icecycle.tui.keys import KEYS
from icecycle.tui.screens.dashboard import DashboardScreen
from icecycle.tui.screens.towel import towel_for

# The help, history and start screens are imported when first shown: Markdown, DataTable
# and Input cost the first frame more than the whole dashboard does.

QUIT_MESSAGE = (
    "icecycle closed; the cycle goes on. `icecycle status` shows where it "
    "stands, and `icecycle` opens this again."
)
QUIT_DONE = "icecycle closed. The window is over; `icecycle history` shows how it went."
QUIT_IDLE = "icecycle closed. No cycle is running; `icecycle start` or `icecycle` begins one."


def desktop_status(ok: bool, detail: str = "") -> str:
    if ok:
        return "Desktop notifications: working"
    return f"Desktop notifications: NOT working: {detail}. Alerts still show here, with the bell."


_SECOND, _MINUTE = timedelta(seconds=1), timedelta(minutes=1)


class IceCycleApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "icecycle"

    def __init__(
        self,
        store: Store,
        clock: Clock,
        notifier: Notifier | None = None,
        *,
        use_scheduler: bool = True,
        bell: bool = True,
        config: Config | None = None,
    ) -> None:
        self.desktop_line = "Desktop notifications: not tried yet (`icecycle notify-test` checks)"
        if config is not None and not config.desktop:
            self.desktop_line = "Desktop notifications: off in your config. Alerts show here."
        super().__init__()
        self.store, self.clock = store, clock
        # A foreign lock must never freeze the screen: writes give up fast, the runner
        # retries at the next tick, and a key says "busy, try again".
        store.set_busy_timeout(0.25)
        self._behind = timedelta(0)
        self.bell_enabled = bell
        self.config = config or Config()
        # The one factory the daemon uses too (a notifier given here replaces the config's).
        self.runner = build_runner(
            store, clock, self.config, report=self._on_report, notifier=notifier
        )
        self.use_scheduler = use_scheduler
        self.state: State | None = None
        self.urgent = False
        self._phase_key: tuple[object, ...] | None = None
        self._strip_key: tuple[object, ...] | None = None
        self._sessions: list[Session] | None = None
        self._quiet: list[tuple[datetime, datetime]] = []
        self._opening: set[type] = set()
        #: The phone calendar's worker (phone.py), once the runner runs; None without [phone].
        self.phone: Any = None
        self._phone_line = ""
        self._restore_signals: Callable[[], None] = lambda: None

    def get_driver_class(self) -> Any:
        """Textual's own driver, but on Linux one whose input thread sleeps until a key."""
        from textual import constants
        from textual.drivers.linux_driver import LinuxDriver

        driver = super().get_driver_class()
        if driver is LinuxDriver and constants.DRIVER is None:  # ($TEXTUAL_DRIVER wins)
            from icecycle.tui.driver import QuietDriver

            return QuietDriver
        return driver

    def get_default_screen(self) -> Screen[Any]:
        return DashboardScreen(self.desktop_line, self._dashboard_ready)

    @property
    def dashboard(self) -> DashboardScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, DashboardScreen)
        return screen

    # -- starting and stopping ---------------------------------------------------------

    def on_mount(self) -> None:
        # SIGTERM or SIGHUP (the terminal window closed, a logout): leave as `q` does, so
        # the terminal gets its normal screen back and the runner stops cleanly; and
        # within a second whatever happens, when the terminal itself is gone.
        import asyncio

        from icecycle.tui import hangup

        loop = asyncio.get_running_loop()
        self._restore_signals = hangup.install(
            lambda: self.exit(None, 0, QUIT_MESSAGE), loop.call_soon_threadsafe
        )

    def _dashboard_ready(self) -> None:
        """The dashboard is composed: fill it, then start the runner."""
        try:
            self._last_known_result()
            self.runner.reload()
        except StoreError as exc:
            self.show_notice(str(exc))
        self.refresh_view()
        self._config_problems()
        # The scheduler (and its import) can wait until the first frame is on the screen.
        self.call_after_refresh(self._start_runner)

    async def _start_runner(self) -> None:
        # The runner wakes for a change, a boundary or a lease; and, for this screen, the
        # next second it shows while in front, the next minute while not.
        self.runner.host_wake = self._next_redraw
        self.runner.after_tick = self._redraw_soon
        self.watch(self, "app_focus", lambda _: self.runner.wake(), init=False)
        await self.runner.start(use_scheduler=self.use_scheduler, own_tick=True)
        tell_config_problems(self.runner, self.config)
        if self.config.phone is not None:  # imported here: never on the first frame's path
            from icecycle import phone

            self.phone = phone.attach(self.runner, self.config.phone, self.clock)
        if self.runner.passed_on_open:
            n = self.runner.passed_on_open
            self.show_notice(
                f"{n} {'session' if n == 1 else 'sessions'} passed while icecycle was closed."
            )
        self.refresh_view()

    def _config_problems(self) -> None:
        """What was wrong in the config, said once: the notice line (and one desktop
        notice). Those keys use their defaults; the alerts go on. No toast: on a small
        terminal it covered the towel question's buttons and the alarm's line."""
        problems = self.config.problems
        if not problems:
            return
        self.show_notice(text.config_notice([p.line for p in problems]))

    async def on_unmount(self) -> None:
        if self.phone is not None:
            self.phone.stop()
        await self.runner.stop()
        self._restore_signals()

    # -- keeping up with the clock and the store ----------------------------------------

    async def sync(self) -> None:
        """Let the runner look at the store and the clock, then redraw (tests call this
        for one tick; the runner's own wake loop does the same)."""
        self.runner.tick()
        self._redraw_soon()

    def _next_redraw(self, now: datetime) -> datetime:
        """In front, the countdown's next second; behind, the next minute (an alarm or a
        change elsewhere wakes the runner by itself)."""
        st = self.state
        if self.app_focus:
            if st is not None and st.phase is not None:
                at = st.phase.end - (st.phase.end - now) // _SECOND * _SECOND
                return at if at > now else at + _SECOND
            return now + _SECOND
        return now.replace(second=0, microsecond=0) + _MINUTE

    def _redraw_soon(self) -> None:
        """Redraw after a tick (nothing while blurred if nothing new). An error here is
        shown on one line; the ticks go on."""
        try:
            self._show_phone()
            if self._nothing_new():
                return
            self.refresh_view()
            behind = getattr(self.clock, "behind", timedelta(0))
            if behind != self._behind:
                self._behind = behind
                held = getattr(self.clock, "held_at", None)
                if behind > timedelta(0) and held is not None:  # behind from the start
                    self.show_notice(text.clock_held(held, self.clock.now()))
                elif behind > timedelta(0):
                    self.show_notice(text.clock_changed(behind))
        except StoreError as exc:
            self.show_notice(str(exc))
        except Exception as exc:  # the screen must keep counting whatever happens
            self.show_notice(f"icecycle hit an unexpected {type(exc).__name__}: {exc}")

    def _nothing_new(self) -> bool:
        """While the terminal is not in front the countdown shows minutes: redraw only when
        the store changed, a boundary was handled (an alarm turns red within this tick), or
        the minute turned. In front, every second is drawn."""
        if self.app_focus or self.state is None:
            self._blur_key = None
            return False
        now = self.clock.now()
        key = (self.runner.seen_version, self.runner.armed, self.urgent, now.minute, now.hour)
        if key == self._blur_key:
            return True
        self._blur_key = key
        return False

    _blur_key: tuple[object, ...] | None = None

    def _show_phone(self) -> None:
        """The phone calendar's word, beside the desktop's (the worker's thread sets it)."""
        if self.phone is not None and self.phone.line() != self._phone_line:
            self._phone_line = self.phone.line()
            self.dashboard.set_line("#desktop", self._desktop_text())

    def _desktop_text(self) -> str:
        return (
            f"{self.desktop_line}  ·  {self._phone_line}" if self._phone_line else self.desktop_line
        )

    def refresh_view(self) -> None:
        st = self.runner.state()
        before = self.state
        if st is None:
            if before is not None and (before.state == "on" or before.alarm is not None):
                # Stopped elsewhere (`icecycle stop`) with the ice on or its alarm unanswered.
                self.ring()
                self.notify(
                    f"{text.TAKE_OFF} The cycle was stopped while the ice was on.",
                    severity="error",
                    timeout=60,
                )
            self.state = None
            self._phase_key = None
            self._offer_start(can_cancel=False)
            return
        self._close_start_screen(st)
        if (
            before is None
            or before.cycle is None
            or (st.cycle is not None and before.cycle.id != st.cycle.id)
        ):
            self.show_notice("")  # a new cycle: the last one's notices are done with
        self.state = st
        self.urgent = st.alarm is not None
        key = (st.state, st.phase.start if st.phase else None, st.alarm, st.raised)
        if key != self._phase_key:
            self._phase_changed(st, self._phase_key)
            self._phase_key = key
        self.dashboard.show(st, self.urgent, self.runner.acc, self._strip(st), self._quiet)

    def _strip(self, st: State) -> list[Session] | None:
        """The sessions for the window strip, worked out again only when they can differ."""
        acc = self.runner.acc
        if acc is None or st.cycle is None:
            return None
        key = (st.cycle.id, st.state, st.phase, st.counts, st.alarm, st.now.minute)
        if key != self._strip_key:
            self._strip_key = key
            self._sessions = acc.sessions(st.now, self.runner.notes)
            self._quiet = acc.quiet_spans(st.cycle.window_start, st.cycle.window_end)
        return self._sessions

    def _close_start_screen(self, st: State) -> None:
        """A cycle started elsewhere (`icecycle start`) while the start screen waited for
        one: show it at once, alarms and all."""
        from icecycle.tui.screens.start import StartScreen

        if st.state != "done" and isinstance(self.screen, StartScreen):
            self.screen.dismiss(None)

    #: The line "the 14:25 take-it-off was never answered" while it is true.
    _held_notice: str | None = None

    def _phase_changed(self, st: State, before: tuple[object, ...] | None) -> None:
        first = before is None
        if st.alarm is None and self._held_notice is not None:
            # Answered: the line saying it never was must not outlive it.
            if self.dashboard.line("#notice") == self._held_notice:
                self.show_notice("")
            self._held_notice = None
        self._close_stale_towel(st)
        self._close_stale_question()
        if st.state == "on" and st.phase and not st.acknowledged:
            self.ring()
            start = st.phase.start
            self._open_once(
                towel_for(start, st.phase.end, st.now),
                lambda answer: self._towel_answer(answer, start),
            )
        elif st.alarm is not None and (first or before[2:] != (st.alarm, st.raised)):  # type: ignore[index]
            self.ring()
            if st.raised is not None:  # a session start it held: raised again, on every screen
                self._held_notice = text.held_alarm_body(st)
                self.show_notice(self._held_notice)
                self.notify(
                    text.held_alarm_body(st), title=text.HELD_TITLE, severity="error", timeout=60
                )
        if st.state == "done" and not first and before is not None and before[0] != "done":
            self.show_notice(
                f"The window is over: {text.counts_line(st.counts)}. Press n for a new cycle."
            )

    def ring(self) -> None:
        if self.bell_enabled:
            self.bell()

    def _on_report(self, report: Report) -> None:
        if report.kind in ("failed", "recovered") or (
            report.kind == "sent" and self.runner.last_result is not None
        ):
            result = self.runner.last_result
            if result is not None and self.config.desktop:
                self.desktop_line = desktop_status(result.ok, result.detail)
                self.dashboard.set_line("#desktop", self._desktop_text())
        if report.kind == "passed":
            return  # shown once on opening, from runner.passed_on_open
        if report.kind in ("error", "refused"):
            # "refused": a button on an old notice changed nothing, and says so here.
            self.show_notice(report.text)
        if report.notice is not None and report.notice.kind == "remind":
            self.ring()
            self.notify(report.notice.body, title=report.notice.title, severity="error", timeout=30)

    def _last_known_result(self) -> None:
        """Until something is sent, say how the last notification of this cycle went."""
        if not self.config.desktop:
            return
        current = self.store.current()
        claims = [c for c in self.store.claims(current[0].id) if c.sent] if current else []
        if claims:
            last = claims[-1]
            ok = last.result in ("sent", "late")
            detail = (last.result or "").removeprefix("failed: ")
            self.desktop_line = desktop_status(ok, detail)
            self.dashboard.set_line("#desktop", self._desktop_text())

    def show_notice(self, line: str) -> None:
        self.dashboard.set_line("#notice", line)

    # -- the person's actions ------------------------------------------------------------

    last_action: str | None = None

    def perform(self, kind: str) -> bool:
        try:
            kind, before, after, acc = actions.act(self.store, kind, self.clock.now, "keys")
        except Refused as exc:
            line = str(exc)
            self.notify(line[:1].upper() + line[1:], severity="warning", timeout=6)
            return False
        except StoreError as exc:
            self.notify(str(exc), severity="error", timeout=15)
            return False
        self.last_action = kind
        self.runner.poke()
        if kind == "off" or (kind == "ack" and before.state != "on"):
            self.ask_pain()  # once per session: after it ended by hand, or its alarm answered
        message = text.confirmation(kind, before, after, acc, "keys")
        urgent = message.startswith(text.TAKE_OFF)
        self.notify(message, timeout=8, severity="warning" if urgent else "information")
        self.refresh_view()
        return True

    def _open_once(self, screen: Screen[Any], callback: Callable[[Any], None]) -> None:
        """Open a dialog after the next refresh (so the dashboard is painted behind it),
        unless one of its kind is open or on its way: never two of the same."""
        kind = type(screen)
        if kind in self._opening or any(isinstance(s, kind) for s in self.screen_stack):
            return
        self._opening.add(kind)

        def push() -> None:
            self._opening.discard(kind)
            if not any(isinstance(s, kind) for s in self.screen_stack):
                self.push_screen(screen, callback)

        self.call_after_refresh(push)

    def ask_pain(self) -> None:
        from icecycle.tui.screens.pain import PainScreen

        self._open_once(PainScreen(), self._pain_answer)

    def _pain_answer(self, score: int | None) -> None:
        if score is None:
            return
        try:
            actions.record_pain(self.store, score, self.clock.now)
        except (Refused, StoreError) as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"Pain {score}/10 noted.", timeout=4)

    def action_toggle_ice(self) -> None:
        st = self.state
        if st is None:
            return
        if self.urgent:
            self.perform("ack")  # during the alarm, space means "it is off", never "ice on"
        elif st.state == "on":
            self.perform("off")
        elif (
            st.state in ("off", "paused")
            and st.rest_owed > timedelta(0)
            and st.cycle is not None
            and st.now + st.cycle.settings.on <= st.cycle.window_end  # (else: refused)
        ):
            self._ask_before_ice(st)
        else:
            self.perform("on")

    def _ask_before_ice(self, st: State) -> None:
        """Ice back on before the rest is over: ask, with resting as the default answer."""
        from icecycle.durations import format_duration
        from icecycle.tui.screens.confirm import ConfirmScreen

        seconds = -(-st.rest_owed.total_seconds() // 1)
        owed = format_duration(seconds, with_seconds=seconds < 600)
        dialog = ConfirmScreen(
            "The rest is not over",
            f"The plan rests your skin {owed} more before the next session. Skin needs "
            "the time to warm up again. Put the ice on anyway?",
            yes="Ice on anyway",
            no="Keep resting",
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.perform("on")

        self._open_once(dialog, answer)

    def action_ack(self) -> None:
        self.perform("ack")

    def action_skip(self) -> None:
        st = self.state
        if st is not None and actions.skipped_in_this_rest(st, self.runner.events):
            self._ask_before_second_skip(st)
            return
        self.perform("skip")

    def _ask_before_second_skip(self, st: State) -> None:
        """A second `s` in one rest (pressed twice quickly?): ask, keeping the session."""
        from icecycle.tui.screens.confirm import ConfirmScreen

        dialog = ConfirmScreen(
            "Skip another session?",
            f"A session was already skipped in this rest ({text.describe(st)}). "
            "Skipping one more leaves a long gap without ice. Skip it too?",
            yes="Skip another",
            no="Keep it",
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.perform("skip")

        self._open_once(dialog, answer)

    def action_pause_resume(self) -> None:
        if self.state is not None:
            self.perform("resume" if self.state.state == "paused" else "pause")

    def action_new_cycle(self) -> None:
        st = self.state
        if st is not None and st.state != "done":
            self.notify(
                f"A cycle is running ({text.describe(st)}). `icecycle start --force` "
                "replaces it from the command line.",
                severity="warning",
                timeout=6,
            )
            return
        self._offer_start(can_cancel=True)

    def _offer_start(self, *, can_cancel: bool) -> None:
        from icecycle.tui.screens.start import StartScreen

        if not isinstance(self.screen, StartScreen):
            self.push_screen(
                StartScreen(self.config, self.clock.now, can_cancel=can_cancel), self._started
            )

    def action_history(self) -> None:
        try:
            current = self.store.current()
            if current is None:
                self.notify("No cycle yet: nothing to show.", timeout=4)
                return
            cycle, events = current
            now = self.clock.now()
            acc = self.runner.acc
            notes = self.store.session_notes(cycle.id)
            if acc is None or acc.cycle.id != cycle.id:
                from icecycle.cycle import fold

                acc = fold(cycle, events)
            rows = acc.sessions(now, notes)
            st = acc.state_at(now, notes)
        except StoreError as exc:
            self.notify(str(exc), severity="error", timeout=15)
            return
        totals = f"Totals: {text.counts_line(st.counts)}"
        trend = text.pain_trend(actions.pain_scores(events))
        totals += f"   {trend}" if trend else ""
        from icecycle.tui.screens.history import HistoryScreen

        quiet = acc.quiet_spans(cycle.window_start, cycle.window_end)
        self.push_screen(HistoryScreen(cycle, rows, totals, now, quiet))

    def action_help(self) -> None:
        from icecycle.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_quit_calmly(self) -> None:
        st = self.state
        if st is None:
            self.exit(message=QUIT_IDLE)
        elif st.state == "done":
            self.exit(message=QUIT_DONE)
        else:
            self.exit(message=QUIT_MESSAGE)

    def _close_stale_towel(self, st: State) -> None:
        """A towel question belongs to its session: once that is over, the dialog goes, so a
        late "Ice is on" can never answer (and silence) the alarm to take the ice off."""
        from icecycle.tui.screens.towel import TowelScreen

        current = st.phase.start if st.state == "on" and st.phase else None
        screen = self.screen
        if isinstance(screen, TowelScreen) and screen.session_start != current:
            screen.dismiss(None)  # (one lower in the stack is caught by _towel_answer)

    def _close_stale_question(self) -> None:
        """ "Put the ice on anyway?" belongs to the rest it was asked in."""
        from icecycle.tui.screens.confirm import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            self.screen.dismiss(False)

    def _towel_answer(self, answer: str | None, session_start: datetime) -> None:
        st = self.runner.state()
        if answer not in ("ack", "skip") or st is None:
            return
        if st.state != "on" or st.phase is None or st.phase.start != session_start:
            self.notify("That session is already over; nothing was changed.", timeout=5)
            return
        self.perform(answer)

    def _started(self, plan: Plan | None) -> None:
        if plan is None:
            return
        try:
            actions.start(self.store, plan, self.clock.now, self.config)
        except (Refused, StoreError) as exc:
            self.notify(str(exc), severity="error")
            return
        self.runner.poke()
        self._phase_key = None
        self.refresh_view()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for key in KEYS:
            if key.palette:
                yield SystemCommand(
                    key.palette, key.palette_help, getattr(self, f"action_{key.action}")
                )


def make_app(
    store: Store,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    config: Config | None = None,
    **kw: bool,
) -> IceCycleApp:
    """The app as the CLI runs it (settings from the config) and as the tests build it."""
    cfg = config or Config()
    kw.setdefault("bell", cfg.bell)
    return IceCycleApp(store, clock or SystemClock(), notifier, config=cfg, **kw)
