"""Help: the keys, the protocol, the towel and skin check, two tips, and what this is not."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Markdown

from icecycle import text

KEYS = """\
| key | does |
|---|---|
| space | ice on / ice off, whichever applies |
| a | acknowledge: "the ice is on, with a towel" or "the ice is off" |
| s | skip this session |
| p | pause / resume (the window keeps running) |
| h | history |
| ? | this help |
| q | quit; the cycle goes on, and `icecycle status` still knows where it stands |
"""


def help_markdown() -> str:
    tips = "\n".join(f"- {tip}" for tip in text.TIPS)
    return (
        f"# icecycle\n\n## Keys\n\n{KEYS}\n## The protocol\n\n{text.PROTOCOL} "
        "Each change comes with a notification, and the alarm to take the ice off repeats "
        "until you acknowledge it.\n\n"
        f"## Towel and skin\n\n{text.TOWEL} The towel lets the cold through while keeping "
        f"the skin from freezing.\n\n## Tips\n\n{tips}\n\n---\n\n{text.NOT_ADVICE}\n"
    )


class HelpScreen(Screen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Back")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_markdown())
        yield Footer()
