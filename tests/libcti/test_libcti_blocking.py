"""libcti.blocking.BlockingClient, used from a worker thread while the reactor runs (as in a script)."""
from __future__ import annotations

from twisted.internet import defer, reactor, threads
from twisted.trial import unittest

from cti_helpers import ServerMixin
from libcti import CtiError
from libcti.blocking import BlockingClient


class Blocking(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_blocking_calls_and_events(self):
        endpoint = f"tcp:127.0.0.1:{self.portno}"
        engine = self.engine

        def script():
            out = {}
            with BlockingClient(endpoint, user="wall", password="wall-pw") as c:
                out["session"] = c.session
                out["queues"] = c.snapshot()["queues"]
                c.subscribe(["channel.incoming", "call.*"])
                reactor.callFromThread(engine.incoming, "ss7/1", "c1", "13800138000", "114")
                reactor.callFromThread(engine.end, "c1")
                out["events"] = [(ev.name, ev.data.get("calling")) for ev in c.events(timeout=0.5)]
                try:
                    c.request("hangup", channel="ss7/1")
                except CtiError as exc:
                    out["error"] = exc.code
                out["next"] = c.next_event(timeout=0.01)
                reactor.callFromThread(engine.emit, {"event": "call.queued", "call": "c2", "queue": "frontdesk",
                                                     "position": 1})
                reactor.callFromThread(engine.emit, {"event": "call.queued", "call": "c3", "queue": "frontdesk",
                                                     "position": 2})
                ev = c.wait_for("call.*", where=lambda e: e["position"] == 2, timeout=5)
                out["waited"] = (ev.name, ev["call"])
                out["none"] = c.wait_for("call.*", timeout=0.05)
            try:
                BlockingClient(endpoint, user="wall", password="bad")
            except CtiError as exc:
                out["login"] = exc.code
            return out

        out = yield threads.deferToThread(script)
        self.assertEqual(out["session"], {"user": "wall", "roles": ["monitor"], "agent": None})
        self.assertEqual(out["queues"], [{"queue": "frontdesk", "waiting": 0, "ready_agents": 0}])
        self.assertEqual(out["events"], [("channel.incoming", "*******8000"), ("call.ended", None)])
        self.assertEqual(out["error"], 403)
        self.assertIsNone(out["next"])
        self.assertEqual(out["waited"], ("call.queued", "c3"))
        self.assertIsNone(out["none"])
        self.assertEqual(out["login"], 401)
