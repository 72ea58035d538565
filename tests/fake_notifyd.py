"""A fake notification server for the private test bus: chosen capabilities, may hang."""

# python tests/fake_notifyd.py RECORD_FILE CAPS MODE
#   CAPS: comma-separated capabilities ("body" for a server without buttons or sound)
#   MODE: "ok" answers every call; "hang" answers GetCapabilities but never Notify.
# Each Notify call is appended to RECORD_FILE as one JSON line. It prints "ready" once it
# owns the name.
from __future__ import annotations

import json
import sys

from jeepney import HeaderFields, MessageType, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"


def main() -> int:
    record, caps, mode = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    conn = open_dbus_connection(bus="SESSION")
    conn.send_and_get_reply(message_bus.RequestName(NAME, 4))  # 4: do not queue
    print("ready", flush=True)
    next_id = 0
    while True:
        msg = conn.receive()
        if msg.header.message_type != MessageType.method_call:
            continue
        member = msg.header.fields.get(HeaderFields.member)
        if member == "GetCapabilities":
            conn.send(new_method_return(msg, "as", (caps,)))
        elif member == "GetServerInformation":
            conn.send(new_method_return(msg, "ssss", ("fake", "icecycle tests", "1", "1.2")))
        elif member == "Notify":
            _app, replaces, _icon, summary, _body, actions, hints, _expire = msg.body
            with open(record, "a") as fh:
                doc = {
                    "summary": summary,
                    "actions": list(actions),
                    "hints": {k: v[1] for k, v in hints.items()},
                    "replaces": replaces,
                }
                fh.write(json.dumps(doc) + "\n")
            if mode == "hang":
                continue
            next_id += 1
            conn.send(new_method_return(msg, "u", (replaces or next_id,)))
        elif member == "CloseNotification":
            conn.send(new_method_return(msg))


if __name__ == "__main__":
    sys.exit(main())
