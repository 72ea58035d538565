"""The dashboard's keys, in one table: the footer, the help screen and the command palette."""

from __future__ import annotations

from typing import NamedTuple

from textual.binding import Binding


class Key(NamedTuple):
    """One key of the dashboard (`footer` False: kept out of the footer, for narrow ones)."""

    key: str  # Textual's name for it
    shown: str  # how the help screen writes it
    action: str  # the App's action_ method, without the prefix
    label: str  # the footer's word
    does: str  # the help screen's line
    palette: str  # the command palette's title ("" = not in the palette)
    palette_help: str = ""
    footer: bool = True


KEYS: tuple[Key, ...] = (
    Key(
        "space",
        "space",
        "toggle_ice",
        "On/off",
        "ice off when it is on; ice on when it is off (asks first if the rest is not over); "
        "during the take-it-off alarm it only acknowledges",
        "Ice on / ice off",
        "Whichever applies now",
    ),
    Key(
        "a",
        "a",
        "ack",
        "Ack",
        'answer the prompt: "the ice is on, with a towel", or "the ice is off"',
        "Acknowledge",
        "The ice is on with a towel / the ice is off",
    ),
    Key(
        "s",
        "s",
        "skip",
        "Skip",
        "skip this session; while resting, skip the next one",
        "Skip a session",
        "This one, or while resting the next one",
    ),
    Key(
        "p",
        "p",
        "pause_resume",
        "Pause",
        "pause / resume (the window keeps running)",
        "Pause or resume",
        "The window keeps running",
    ),
    Key(
        "n",
        "n",
        "new_cycle",
        "New",
        "start a new cycle, once none runs or the window is over",
        "Start a new cycle",
        "When none runs or the window is over",
        footer=False,  # the DONE screen says "press n"; the footer keeps to what is daily
    ),
    Key("h", "h", "history", "History", "history", "History", "Every session so far"),
    Key("question_mark", "?", "help", "Help", "this help", "Help and tips", "Keys, tips, limits"),
    Key(
        "q",
        "q",
        "quit_calmly",
        "Quit",
        "quit; a running cycle goes on, and `icecycle status` still knows where it stands",
        "",
    ),
)


def bindings() -> list[Binding | tuple[str, str] | tuple[str, str, str]]:
    return [Binding(k.key, f"app.{k.action}", k.label, show=k.footer) for k in KEYS]


def help_table() -> str:
    rows = "\n".join(f"| {k.shown} | {k.does} |" for k in KEYS)
    return f"| key | does |\n|---|---|\n{rows}\n"
