"""Small display helpers shared by the TUI and the status line, importing no UI."""

from __future__ import annotations


def countdown(seconds: float) -> str:
    """12:34, or 1:05:00 past an hour; rounded up, so 00:00 shows only at the very end."""
    total = max(0, int(-(-seconds // 1)))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"
