"""Help: the keys, the protocol, the towel and skin check, two tips, and what this is not."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown

from icecycle import text
from icecycle.tui.keys import help_table


def help_markdown() -> str:
    tips = "\n".join(f"- {tip}" for tip in text.TIPS)
    return (
        f"# icecycle\n\n## Keys\n\n{help_table()}\n## The protocol\n\n{text.PROTOCOL} "
        "Each change comes with a notification, and the alarm to take the ice off repeats "
        "(every 2 minutes, 3 times at most, unless your config says otherwise) until you "
        "acknowledge it, whatever ended the session: its own length, a pause, or "
        "the end of the window. A session is only planned if it fits whole before the "
        "window ends, so the window always ends in rest. Putting the ice back on before "
        "the rest is over asks first.\n\n"
        "Counts: *done* (and how many of those you *confirmed*), *skipped*, *missed* "
        "(passed while nothing of icecycle was running and nobody acted), and *left*.\n\n"
        f"## Towel and skin\n\n{text.TOWEL} The towel lets the cold through while keeping "
        f"the skin from freezing.\n\n## Tips\n\n{tips}\n\n---\n\n{text.NOT_ADVICE}\n"
    )


class HelpScreen(Screen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_markdown())
        yield Footer()
