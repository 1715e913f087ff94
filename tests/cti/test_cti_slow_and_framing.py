"""Slow clients (bounded queue, cti.overflow, disconnect after 30 s blocked) and length-prefixed framing."""
from __future__ import annotations

import socket
import struct

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from cti_helpers import ServerMixin, error_code

def turn(t=0.0):
    return task.deferLater(reactor, t, lambda: None)


class SlowClient(ServerMixin, unittest.TestCase):
    def setUp(self):
        self.clock = task.Clock()
        return self.start_server(queue_limit=100)

    @defer.inlineCallbacks
    def stalled_client(self):
        # small kernel buffers on both ends so that a client that does not read blocks the server quickly (the
        # client's before it connects: a window once offered is not taken back)
        c = yield self.client("admin", "admin-pw", rcvbuf=4096)
        yield c.request("subscribe", events=["*"])
        [conn] = [x for x in self.server.connections if x.session.user == "admin"]
        conn.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        c.transport.pauseProducing()          # the client stops reading
        self.emitted = 0
        stable, last_seq = 0, -1
        for chunk in range(60):               # until the kernel buffers are full: nothing more gets written
            for _ in range(300):
                self.engine.emit({"event": "channel.dtmf", "channel": "ss7/1", "call": "c1", "digit": "5",
                                  "n": self.emitted})
                self.emitted += 1
            yield turn(0.005)                 # let the reactor push what it can into the sockets
            stable = stable + 1 if conn.paused and conn.seq == last_seq and conn.dropped > 0 else 0
            last_seq = conn.seq
            if stable >= 3:
                break
        self.assertTrue(conn.paused)
        self.assertIsNotNone(conn.overflow_since)
        self.assertLessEqual(conn.queued_events, 100)
        # frames went straight to the socket until the kernel refused, then through Twisted's buffer, whose
        # limit paused the connection (it resumes once that buffer is empty): the bounded queue works with the
        # direct writes (ctid.cti.fastwrite)
        self.assertGreater(conn.writer.direct_frames, 0)
        self.assertGreater(conn.writer.buffered_frames, 0)
        self.assertGreater(conn.transport._tempDataLen + len(conn.transport.dataBuffer) - conn.transport.offset, 0)
        return c, conn

    @defer.inlineCallbacks
    def test_overflow_is_announced_and_seq_stays_gap_free(self):
        c, conn = yield self.stalled_client()
        c.transport.resumeProducing()
        yield c.wait_for(lambda m: m.get("data", {}).get("n") == self.emitted - 1, timeout=10)
        evs = c.events()
        self.assertEqual([e["seq"] for e in evs], list(range(1, len(evs) + 1)))
        overflows = [e for e in evs if e["event"] == "cti.overflow"]
        self.assertGreaterEqual(len(overflows), 1)
        dropped = sum(e["data"]["dropped"] for e in overflows)
        delivered = [e["data"]["n"] for e in evs if e["event"] == "channel.dtmf"]
        self.assertGreater(dropped, 0)
        self.assertEqual(len(delivered) + dropped, self.emitted)
        self.assertEqual(delivered, sorted(delivered))           # order kept, only whole runs dropped
        self.assertIsNone(conn.overflow_since)                   # drained: the 30 s clock is off
        self.clock.advance(60)
        r = yield c.request("ping")
        self.assertTrue(r["ok"])

    @defer.inlineCallbacks
    def test_client_blocked_30s_after_overflow_is_disconnected(self):
        other = yield self.client("sup", "sup-pw")
        c, conn = yield self.stalled_client()
        self.clock.advance(29)
        yield turn(0.02)
        self.assertFalse(conn.transport.disconnected)
        self.clock.advance(2)
        for _ in range(100):
            if conn.transport.disconnected:
                break
            yield turn(0.01)
        self.assertTrue(conn.transport.disconnected)
        self.assertNotIn(conn, self.server.connections)
        r = yield other.request("ping")                         # the others carry on
        self.assertTrue(r["ok"])
        c.transport.resumeProducing()
        yield c.closed


class LengthFraming(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_switch_then_session_in_length_frames(self):
        c = yield self.client()
        r = yield c.request("hello", framing="length", client="test 1.0")
        self.assertEqual(r["result"], {"protocol": "ctid-cti/1", "server": "ctid 0.1.0", "framing": "length"})
        self.assertEqual(c.framing, "length")
        r = yield c.request("login", user="admin", password="admin-pw")
        self.assertTrue(r["ok"])
        yield c.request("subscribe", events=["agent.*"])
        self.engine.emit({"event": "agent.state", "agent": "1001", "state": "ready", "reason": "x\ny"})
        ev = yield c.wait_for(lambda m: m.get("type") == "event")
        self.assertEqual(ev["data"]["reason"], "x\ny")
        c.send_raw(struct.pack(">I", 0))
        r = yield c.response(None)
        self.assertIn("empty frame", r["error"]["message"])
        r = yield c.request("hello", framing="line")
        self.assertEqual(error_code(r), 409)
        c.send_raw(struct.pack(">I", 70000) + b"{")
        r = yield c.wait_for(lambda m: m.get("type") == "response" and not m["ok"] and m["error"]["code"] == 413)
        self.assertIn("70000", r["error"]["message"])
        yield c.closed

    @defer.inlineCallbacks
    def test_switch_and_next_frame_in_one_packet(self):
        c = yield self.client()
        login = b'{"id":2,"op":"login","token":"tok-admin"}'
        c.send_raw(b'{"id":1,"op":"hello","framing":"length"}\n' + struct.pack(">I", len(login)) + login)
        c.framing = "line"
        r = yield c.response(2)
        self.assertTrue(r["ok"])

    @defer.inlineCallbacks
    def test_switch_only_first(self):
        c = yield self.client()
        yield c.request("ping")
        r = yield c.request("hello", framing="length")
        self.assertEqual(error_code(r), 409)
        r = yield c.request("hello", framing="morse")
        self.assertEqual(error_code(r), 400)
        r = yield c.request("hello")
        self.assertTrue(r["ok"])
        self.assertEqual(r["result"]["framing"], "line")


class Bounds(ServerMixin, unittest.TestCase):
    def setUp(self):
        self.clock = task.Clock()
        return self.start_server(queue_limit=100, max_inflight=2, max_inflight_ivr=3)

    @defer.inlineCallbacks
    def test_requests_in_flight_are_bounded(self):
        c = yield self.client("admin", "admin-pw")
        self.engine.incoming("ss7/1", "c1")
        self.engine.hold_media = True
        c.send({"id": "a", "op": "collect", "channel": "ss7/1"})
        c.send({"id": "b", "op": "record", "channel": "ss7/1"})
        r = yield c.request("play", channel="ss7/1", prompts=[{"prompt": "welcome"}])
        self.assertEqual(error_code(r), 429)
        self.assertIn("in flight", r["error"]["message"])
        self.engine.pending[0][1].callback({"digits": "", "reason": "timeout", "tries": 3})
        r = yield c.response("a")
        self.assertTrue(r["ok"])
        r = yield c.request("snapshot")                # one slot free again
        self.assertTrue(r["ok"])

    @defer.inlineCallbacks
    def test_ivr_connection_has_its_own_higher_bound(self):
        # an IVR holds one collect/record per call it serves: every channel at once (here max_inflight_ivr=3)
        c = yield self.client("ivr", "ivr-pw")
        chans = ["ss7/1", "ss7/2", "no1/1", "analog/0"]
        for n, ch in enumerate(chans):
            self.engine.incoming(ch, f"c{n}")
        self.engine.hold_media = True
        for n, ch in enumerate(chans[:3]):
            c.send({"id": f"r{n}", "op": "collect", "channel": ch})
        r = yield c.request("collect", channel=chans[3])
        self.assertEqual(error_code(r), 429)
        self.assertIn("more than 3 requests in flight", r["error"]["message"])
        self.engine.pending[0][1].callback({"digits": "", "reason": "timeout", "tries": 3})
        r = yield c.response("r0")
        self.assertTrue(r["ok"])

    @defer.inlineCallbacks
    def test_input_held_while_blocked_is_bounded(self):
        c = yield self.client("admin", "admin-pw")
        yield c.request("subscribe", events=["*"])
        [conn] = self.server.connections
        conn.pauseProducing()                           # as the transport does when its buffer is full
        self.engine.emit({"event": "trunk.state", "trunk": "ss7", "up": True})
        c.send({"id": "p", "op": "ping"})
        yield turn(0.05)
        self.assertEqual(conn.queued_events, 1)
        self.assertFalse(any(m.get("id") == "p" for m in c.frames))   # held, not answered yet
        conn.resumeProducing()
        r = yield c.response("p")
        self.assertTrue(r["ok"])
        self.assertEqual([m["type"] for m in c.frames[-2:]], ["event", "response"])   # order kept
        conn.pauseProducing()
        c.send_raw(b'{"op":"pong"}\n' * 80000)          # 1.1 MB while blocked
        yield c.closed
        self.assertNotIn(conn, self.server.connections)
