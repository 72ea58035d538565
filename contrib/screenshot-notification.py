"""Saves docs/screenshots/notification.png: the take-it-off notice in dunst under Xvfb."""

# Run from the repository: .venv/bin/python contrib/screenshot-notification.py
# Needs dbus-daemon, Xvfb, dunst and ImageMagick's `import` (and dmenu, if installed, for
# dunst's menu of the notice's buttons).
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from icecycle import notify  # noqa: E402
from tests.desktop import Desktop  # noqa: E402

DUNSTRC = """[global]
    font = DejaVu Sans 11
    width = 420
    origin = top-right
    offset = 12x76
    frame_width = 2
    frame_color = "#88c0d0"
    show_indicators = yes
    dmenu = /usr/bin/dmenu -l 6 -fn "DejaVu Sans-11" -p "Answer:"
    format = "<b>%s</b>\\n%b"
[urgency_critical]
    background = "#2e3440"
    foreground = "#eceff4"
    frame_color = "#bf616a"
"""


def main() -> int:
    out = ROOT / "docs" / "screenshots" / "notification.png"
    with tempfile.TemporaryDirectory() as tmp:
        d = Desktop(Path(tmp))
        (Path(tmp) / "dunst").mkdir()
        (Path(tmp) / "dunst" / "dunstrc").write_text(DUNSTRC)
        d.env["XDG_CONFIG_HOME"] = tmp
        d.start()
        try:
            os.environ.update(d.env)
            now = datetime.now(UTC)
            n = notify.DesktopNotifier(sound=False)
            off = notify.ice_off(now, now, now + timedelta(minutes=90), False)
            assert n.send(off).ok
            if shutil.which("dmenu"):  # dunst shows a notice's buttons in its menu
                subprocess.Popen(["dunstctl", "context"], env=d.env)
            time.sleep(1.0)
            subprocess.run(
                ["import", "-window", "root", "-crop", "640x170+0+0", str(out)],
                env=d.env,
                check=True,
            )
            n.close()
        finally:
            d.stop()
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
