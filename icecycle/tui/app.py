"""The dashboard a person leaves open through recovery; it hosts the runner."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label

from icecycle import text
from icecycle.actions import Refused, act, pain_scores, start_cycle
from icecycle.clock import Clock, SystemClock
from icecycle.config import Config
from icecycle.cycle import State, sessions
from icecycle.durations import format_duration
from icecycle.notify import Notifier, notifier_for
from icecycle.runner import Report, Runner
from icecycle.store import Store, StoreError
from icecycle.tui.screens.towel import towel_for
from icecycle.tui.widgets.phase import PhasePanel
from icecycle.tui.widgets.upcoming import Upcoming
from icecycle.tui.widgets.window import WindowPanel

if TYPE_CHECKING:
    from icecycle.tui.screens.start import StartRequest

# The help, history and start screens are imported when first shown: Markdown, DataTable
# and Input cost the first frame more than the whole dashboard does.

QUIT_MESSAGE = (
    "icecycle closed; the cycle goes on. `icecycle status` shows where it "
    "stands, and `icecycle` opens this again."
)


def desktop_status(ok: bool, detail: str = "") -> str:
    if ok:
        return "Desktop notifications: working"
    return f"Desktop notifications: NOT working: {detail}. Alerts still show here, with the bell."


class IceCycleApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "icecycle"
    BINDINGS = [
        Binding("space", "toggle_ice", "Ice on/off"),
        Binding("a", "ack", "Ack"),
        Binding("s", "skip", "Skip"),
        Binding("p", "pause_resume", "Pause"),
        Binding("h", "history", "History"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_calmly", "Quit"),
    ]

    def __init__(
        self,
        store: Store,
        clock: Clock,
        notifier: Notifier,
        *,
        use_scheduler: bool = True,
        bell: bool = True,
        config: Config | None = None,
    ) -> None:
        super().__init__()
        self.store, self.clock = store, clock
        self.bell_enabled = bell
        self.config = config or Config()
        self.runner = Runner(
            store,
            clock,
            notifier,
            report=self._on_report,
            repeat_every=timedelta(seconds=self.config.repeat_every_s),
            repeat_count=self.config.repeat_count,
        )
        self.use_scheduler = use_scheduler
        self.state: State | None = None
        self.urgent = False
        self._phase_key: tuple[str, object] | None = None
        self._opening: set[type] = set()
        self.desktop_line = "Desktop notifications: not tried yet (`icecycle notify-test` checks)"

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield PhasePanel(id="phase")
        with Horizontal(id="lower"):
            with Vertical(id="window-box") as box:
                box.border_title = "Window"
                yield WindowPanel()
            with Vertical(id="next-box") as box:
                box.border_title = "Next"
                yield Upcoming(id="upcoming")
        yield Label("", id="notice")
        yield Label(self.desktop_line, id="desktop")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._last_known_result()
        self.runner.reload()
        self.refresh_view()
        # The scheduler (and its import) can wait until the first frame is on the screen.
        self.call_after_refresh(self._start_runner)

    async def _start_runner(self) -> None:
        await self.runner.start(use_scheduler=self.use_scheduler, own_tick=False)
        self.set_interval(1.0, self.sync)
        if self.runner.passed_on_open:
            n = self.runner.passed_on_open
            self.show_notice(
                f"{n} {'session' if n == 1 else 'sessions'} passed while icecycle was closed."
            )
        self.refresh_view()

    async def on_unmount(self) -> None:
        await self.runner.stop()

    # -- keeping up with the clock and the store ----------------------------------------

    async def sync(self) -> None:
        """Once a second: let the runner look at the store and the clock, then redraw."""
        self.runner.tick()
        self.refresh_view()

    def refresh_view(self) -> None:
        st = self.runner.state()
        if st is None:
            self.state = None
            self._phase_key = None
            from icecycle.tui.screens.start import StartScreen

            if not isinstance(self.screen, StartScreen):
                self.push_screen(StartScreen(self.clock.now()), self._started)
            return
        self.state = st
        key = (st.state, st.phase.start if st.phase else None)
        if key != self._phase_key:
            self._phase_changed(st, first=self._phase_key is None)
            self._phase_key = key
        self.urgent = (
            st.state == "off"
            and st.phase is not None
            and not st.phase.by_person
            and not st.acknowledged
        )
        dashboard = self.screen_stack[0]
        dashboard.query_one(PhasePanel).show(st, self.urgent)
        dashboard.query_one(WindowPanel).show(st)
        dashboard.query_one(Upcoming).show(st, self.runner.acc)

    def _phase_changed(self, st: State, first: bool) -> None:
        self._close_stale_towel(st)
        if st.state == "on" and st.phase and not st.acknowledged:
            self.ring()
            start = st.phase.start
            self._open_once(
                towel_for(start, st.phase.end, st.now),
                lambda answer: self._towel_answer(answer, start),
            )
        elif st.state == "off" and st.phase and not st.phase.by_person and not st.acknowledged:
            self.ring()
        elif st.state == "done" and not first:
            self.show_notice(f"The window is over: {st.done} sessions done, {st.skipped} skipped.")

    def ring(self) -> None:
        if self.bell_enabled:
            self.bell()

    def _on_report(self, report: Report) -> None:
        if report.kind in ("failed", "recovered") or (
            report.kind == "sent" and self.runner.last_result is not None
        ):
            result = self.runner.last_result
            if result is not None:
                self.desktop_line = desktop_status(result.ok, result.detail)
                self._set_label("#desktop", self.desktop_line)
        if report.kind == "passed":
            return  # shown once on opening, from runner.passed_on_open
        if report.notice is not None and report.notice.kind == "remind":
            self.ring()
            self.notify(report.notice.body, title=report.notice.title, severity="error", timeout=30)

    def _last_known_result(self) -> None:
        """Until something is sent, say how the last notification of this cycle went."""
        current = self.store.current()
        claims = [c for c in self.store.claims(current[0].id) if c.sent] if current else []
        if claims:
            last = claims[-1]
            ok = last.result in ("sent", "late")
            detail = (last.result or "").removeprefix("failed: ")
            self.desktop_line = desktop_status(ok, detail)
            self._set_label("#desktop", self.desktop_line)

    def _set_label(self, selector: str, value: str) -> None:
        self.screen_stack[0].query_one(selector, Label).update(value)

    def show_notice(self, line: str) -> None:
        self._set_label("#notice", line)

    # -- the person's actions ------------------------------------------------------------

    last_action: str | None = None

    def perform(self, kind: str) -> bool:
        now = self.clock.now()
        try:
            kind, before, after, acc = act(self.store, kind, now)
        except Refused as exc:
            self.notify(str(exc), severity="warning", timeout=6)
            return False
        except StoreError as exc:
            self.notify(str(exc), severity="error", timeout=15)
            return False
        self.last_action = kind
        self.runner.poke()
        if kind == "off" or (kind == "ack" and before.state == "off"):
            self.ask_pain()
        message = text.confirmation(kind, before, after, acc).replace("`icecycle resume`", "p")
        if kind == "on" and before.rest_owed.total_seconds() >= 60:
            rested = acc.cycle.settings.off - before.rest_owed
            message += f" (Only {format_duration(rested.total_seconds())} of rest since the last.)"
        self.notify(message, timeout=5)
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
        current = self.store.current()
        if score is None or current is None:
            return
        try:
            self.store.append(current[0].id, "pain", self.clock.now(), str(score))
        except StoreError as exc:
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
        else:
            self.perform("on")

    def action_ack(self) -> None:
        self.perform("ack")

    def action_skip(self) -> None:
        self.perform("skip")

    def action_pause_resume(self) -> None:
        if self.state is not None:
            self.perform("resume" if self.state.state == "paused" else "pause")

    def action_history(self) -> None:
        current = self.store.current()
        if current is None:
            return
        cycle, events = current
        now = self.clock.now()
        rows = sessions(cycle, events, now, self.store.session_notes(cycle.id))
        st = self.state
        totals = f"Totals: {st.done} done, {st.skipped} skipped, {st.left} left" if st else ""
        trend = text.pain_trend(pain_scores(events))
        totals += f"   {trend}" if trend else ""
        from icecycle.tui.screens.history import HistoryScreen

        self.push_screen(HistoryScreen(rows, totals, now))

    def action_help(self) -> None:
        from icecycle.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen())

    def action_quit_calmly(self) -> None:
        self.exit(message=QUIT_MESSAGE)

    def _close_stale_towel(self, st: State) -> None:
        """A towel question belongs to its session: once that is over, the dialog goes, so a
        late "Ice is on" can never answer (and silence) the alarm to take the ice off."""
        from icecycle.tui.screens.towel import TowelScreen

        current = st.phase.start if st.state == "on" and st.phase else None
        screen = self.screen
        if isinstance(screen, TowelScreen) and screen.session_start != current:
            screen.dismiss(None)  # (one lower in the stack is caught by _towel_answer)

    def _towel_answer(self, answer: str | None, session_start: datetime) -> None:
        st = self.runner.state()
        if answer not in ("ack", "skip") or st is None:
            return
        if st.state != "on" or st.phase is None or st.phase.start != session_start:
            self.notify("That session is already over; nothing was changed.", timeout=5)
            return
        self.perform(answer)

    def _started(self, request: StartRequest | None) -> None:
        if request is None:
            return
        try:
            start_cycle(self.store, request.since, request.settings, self.clock.now())
        except (Refused, StoreError) as exc:
            self.notify(str(exc), severity="error")
            return
        self.runner.poke()
        self._phase_key = None
        self.refresh_view()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Ice on / ice off", "Whichever applies now", self.action_toggle_ice)
        yield SystemCommand(
            "Acknowledge", "The ice is on with a towel / the ice is off", self.action_ack
        )
        yield SystemCommand("Skip this session", "Rest as usual instead", self.action_skip)
        yield SystemCommand("Pause or resume", "The window keeps running", self.action_pause_resume)
        yield SystemCommand("History", "Every session so far", self.action_history)
        yield SystemCommand("Help and tips", text.NOT_ADVICE[:60] + "...", self.action_help)


def make_app(
    store: Store,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    config: Config | None = None,
    **kw: bool,
) -> IceCycleApp:
    """The app as the CLI runs it (settings from the config) and as the tests build it."""
    cfg = config or Config()
    if notifier is None:
        notifier = notifier_for(cfg.desktop, cfg.on_change, lambda line: None)
    kw.setdefault("bell", cfg.bell)
    return IceCycleApp(store, clock or SystemClock(), notifier, config=cfg, **kw)
