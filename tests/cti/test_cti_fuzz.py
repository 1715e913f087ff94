"""Random input never kills the CTI server: only the connection that sent it may be closed.

Property tests drive CtiProtocol through a StringTransport (fast, many examples); one test throws random
frames at a real loopback server from several connections while a well-behaved client keeps working.
"""
from __future__ import annotations

import json
import os
import random
import struct

from hypothesis import HealthCheck, given, settings, strategies as st
from twisted.internet import defer, reactor, task
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from ctid.cti import CtiServer
from cti_doubles import FakeEngine, demo_users
from cti_helpers import ServerMixin


def make_server():
    clock = task.Clock()
    engine = FakeEngine()
    server = CtiServer(engine, demo_users(), clock=clock, run_blocking=lambda f, *a: defer.maybeDeferred(f, *a))
    server.attach()
    return server, engine, clock


def connect(server):
    proto = server.buildProtocol(None)
    tr = StringTransport()
    proto.makeConnection(tr)
    return proto, tr


def frames_of(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.split(b"\n") if line]


scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
           | st.text(max_size=12) | st.sampled_from(["ss7/1", "analog/2", "*", "1001", "frontdesk"]))
json_values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.sampled_from(["tone", "text", "file"]),
                                                                        scalars, max_size=2).map(lambda d: [d])
OPS = ["hello", "login", "logout", "ping", "pong", "subscribe", "unsubscribe", "snapshot", "answer", "hangup",
       "play", "collect", "record", "stop_media", "bridge", "transfer", "originate", "agent.login", "agent.ready",
       "agent.logout", "agent.not_ready", "nope"]
requests = st.builds(lambda op, args, rid: dict(args, op=op, id=rid), st.sampled_from(OPS),
                     st.dictionaries(st.sampled_from(["channel", "events", "prompts", "user", "password", "token",
                                                      "agent", "cause", "max_digits", "framing", "queue", "to",
                                                      "a", "b", "snapshot", "x"]), json_values, max_size=4),
                     st.integers(0, 100) | st.text(max_size=5) | st.none())


class Properties(unittest.SynchronousTestCase):
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(chunks=st.lists(st.binary(max_size=300), max_size=8))
    def test_random_bytes(self, chunks):
        server, engine, clock = make_server()
        proto, tr = connect(server)
        for chunk in chunks:
            proto.dataReceived(chunk)
        engine.incoming("ss7/1", "c1")      # fan-out still works after whatever happened
        clock.advance(200)                  # timers run without errors
        out = tr.value()
        if proto.decoder.framing == "line":
            for f in frames_of(out):
                self.assertIn(f["type"], ("hello", "response", "ping", "event"))
        # a fresh connection on the same server still works
        p2, t2 = connect(server)
        p2.dataReceived(b'{"id":1,"op":"login","user":"admin","password":"admin-pw"}\n')
        self.assertTrue(frames_of(t2.value())[-1]["ok"])

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(chunks=st.lists(st.binary(max_size=200), max_size=6))
    def test_random_bytes_in_length_framing(self, chunks):
        server, engine, clock = make_server()
        proto, tr = connect(server)
        proto.dataReceived(b'{"id":1,"op":"hello","framing":"length"}\n')
        self.assertEqual(proto.decoder.framing, "length")
        for chunk in chunks:
            proto.dataReceived(chunk)
        engine.incoming("ss7/1", "c1")
        clock.advance(200)
        out = tr.value()
        out = out[out.index(b"\n", out.index(b'"framing"')) + 1:]     # the length-framed part
        while out:                                                    # every frame the server sent parses
            (n,) = struct.unpack(">I", out[:4])
            self.assertIn(json.loads(out[4:4 + n])["type"], ("response", "ping", "event"))
            out = out[4 + n:]

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(reqs=st.lists(requests, max_size=10), login=st.sampled_from(list(demo_users().users)))
    def test_random_requests_always_answered(self, reqs, login):
        server, engine, clock = make_server()
        engine.incoming("ss7/1", "c1")
        proto, tr = connect(server)
        pw = demo_users().users[login][0]
        proto.dataReceived(json.dumps({"id": "L", "op": "login", "user": login, "password": pw}).encode() + b"\n")
        sent = 1
        for r in reqs:
            if proto.closing:
                break
            try:
                line = json.dumps(r).encode() + b"\n"
            except ValueError:
                continue
            proto.dataReceived(line)
            sent += r.get("op") != "pong"
        if proto.decoder.framing != "line" or proto.closing:
            return
        responses = [f for f in frames_of(tr.value()) if f["type"] == "response"]
        self.assertEqual(len(responses), sent)
        for f in responses:
            if not f["ok"]:
                self.assertIn(f["error"]["code"], (400, 401, 403, 404, 409, 429))
                self.assertTrue(f["error"]["message"])


class RealSocket(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_random_frames_from_many_connections(self):
        rng = random.Random(5)
        good = yield self.client("ivr", "ivr-pw")
        yield good.request("subscribe", events=["*"])
        for i in range(30):
            c = yield self.client()
            kind = i % 3
            if kind == 0:
                c.send_raw(os.urandom(rng.randint(1, 5000)))
            elif kind == 1:
                c.send_raw(b"".join(struct.pack(">I", rng.randint(0, 2**32 - 1)) for _ in range(4)))
            else:
                c.send_raw(bytes(rng.choice(b'{}[]":,0123456789abc\n\\ ') for _ in range(3000)))
            yield task.deferLater(reactor, 0.002, lambda: None)
            self.engine.emit({"event": "trunk.state", "trunk": "ss7", "up": bool(i % 2)})
            r = yield good.request("ping")
            self.assertTrue(r["ok"])
        self.assertEqual(len([e for e in good.events() if e["event"] == "trunk.state"]), 30)
        self.assertEqual([e["seq"] for e in good.events()], list(range(1, 31)))
