"""A fake notification server for the private test bus: chosen capabilities, may hang."""

# python tests/fake_notifyd.py RECORD_FILE CAPS MODE [FIRST_ID [NAME]]
#   CAPS: comma-separated capabilities ("body" for a server without buttons or sound)
#   MODE: "ok" answers every call; "hang" answers GetCapabilities but never Notify;
#         "close" closes every notice as soon as it is shown (NotificationClosed, expired).
#   FIRST_ID: the first notice's number (a restarted server starts again at 1).
#   NAME: what GetServerInformation says.
# Each Notify and CloseNotification call is appended to RECORD_FILE as one JSON line. It
# prints "ready" once it owns the name. Lines on stdin make it speak as the server would:
#   "action ID KEY"  emits ActionInvoked(ID, KEY) (KEY in JSON if it starts with ");
#   "closed ID REASON"  emits NotificationClosed(ID, REASON).
from __future__ import annotations

import json
import os
import select
import sys

from jeepney import HeaderFields, MessageType, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection
from jeepney.wrappers import DBusAddress

NAME = "org.freedesktop.Notifications"
EMITTER = DBusAddress("/org/freedesktop/Notifications", interface=NAME)


def main() -> int:
    record, caps, mode = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
    next_id = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    server_name = sys.argv[5] if len(sys.argv) > 5 else "fake"
    conn = open_dbus_connection(bus="SESSION")
    conn.send_and_get_reply(message_bus.RequestName(NAME, 4))  # 4: do not queue
    print("ready", flush=True)

    def write(doc: dict[str, object]) -> None:
        with open(record, "a") as fh:
            fh.write(json.dumps(doc) + "\n")

    def closed(nid: int, reason: int) -> None:
        conn.send(new_signal(EMITTER, "NotificationClosed", "uu", (nid, reason)))

    pending = b""
    while True:
        if select.select([0], [], [], 0)[0]:
            chunk = os.read(0, 1 << 20)
            if not chunk:
                return 0
            pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            words = line.decode().split(" ", 2)
            if words[0] == "action":  # a key in quotes is JSON: it may hold a newline
                key = json.loads(words[2]) if words[2].startswith('"') else words[2]
                conn.send(new_signal(EMITTER, "ActionInvoked", "us", (int(words[1]), key)))
            elif words[0] == "closed":
                closed(int(words[1]), int(words[2]))
        try:
            msg = conn.receive(timeout=0.05)
        except TimeoutError:
            continue
        if msg.header.message_type != MessageType.method_call:
            continue
        member = msg.header.fields.get(HeaderFields.member)
        if member == "GetCapabilities":
            conn.send(new_method_return(msg, "as", (caps,)))
        elif member == "GetServerInformation":
            conn.send(new_method_return(msg, "ssss", (server_name, "icecycle tests", "1", "1.2")))
        elif member == "Notify":
            _app, replaces, _icon, summary, _body, actions, hints, _expire = msg.body
            nid = replaces or next_id
            write(
                {
                    "summary": summary,
                    "actions": list(actions),
                    "hints": {k: v[1] for k, v in hints.items()},
                    "replaces": replaces,
                    **({"id": nid} if mode != "hang" else {}),
                }
            )
            if mode == "hang":
                continue
            if not replaces:
                next_id += 1
            conn.send(new_method_return(msg, "u", (nid,)))
            if mode == "close":
                closed(nid, 1)
        elif member == "CloseNotification":
            write({"close": msg.body[0]})
            conn.send(new_method_return(msg))
            closed(msg.body[0], 3)


if __name__ == "__main__":
    sys.exit(main())
