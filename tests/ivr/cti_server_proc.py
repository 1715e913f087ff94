"""Test helper process: a CTI server (ctid.cti) over the Engine test double of tests/cti, on a real TCP port.

Run by test_ivrflows_standalone.py against `python -m ivrflows`. It prints one JSON line per step on stdout:
{"port": n} once listening; then, each time the ivr user is logged in and subscribed, it places the next
scripted call to 114 and prints {"call": id, "ops": [...]} when that call is transferred or hung up. Between the
calls it drops every connection so that the IVR process must reconnect (through libcti) to take the next one.
"""
from __future__ import annotations

import json
import os
import sys

from twisted.internet import defer, reactor, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ivr_engine import ScriptedEngine, demo_users  # noqa: E402

from ctid.cti.server import CtiServer  # noqa: E402

CALLS = [("ss7/1", "aaaaaaaaaaa1", ["0"]), ("no1/1", "aaaaaaaaaaa2", ["2", "0"])]


def out(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def ivr_ready(server) -> bool:
    return any(c.session is not None and c.session.user == "ivr" and c.wants("channel.incoming")
               for c in server.connections)


async def main():
    engine = ScriptedEngine(reactor)
    server = CtiServer(engine, demo_users(), reactor)
    server.register_op("hospital.departments",
                       lambda ctx, args: {"departments": [{"name": "Cardiology", "name_zh": "心内科", "floor": "3"}]},
                       roles={"ivr"})
    server.register_op("hospital.clinics", lambda ctx, args: {"date": args.get("date"), "clinics": []},
                       roles={"ivr"}, args={"date": (str, False)})
    ports = await server.listen(reactor, ["tcp:0:interface=127.0.0.1"])
    out({"port": ports[0].getHost().port})
    for i, (channel, call, keys) in enumerate(CALLS):
        while not ivr_ready(server):
            await task.deferLater(reactor, 0.05, lambda: None)
        done = defer.Deferred()
        engine.on_call_end = lambda op: reactor.callLater(0, lambda: done.called or done.callback(None))
        engine.keys = list(keys)
        engine.incoming(channel, call, called="114")
        await done
        await task.deferLater(reactor, 0.3, lambda: None)   # let the op's response reach the IVR first
        out({"call": call, "ops": [[n, list(a[1:]), kw] for n, a, kw in engine.calls if a and a[0] == channel]})
        if i + 1 < len(CALLS):
            server.close_all()                     # the IVR process must reconnect for the next call
            await task.deferLater(reactor, 0.2, lambda: None)


def run(_reactor):
    return defer.ensureDeferred(main())


if __name__ == "__main__":
    task.react(run)
