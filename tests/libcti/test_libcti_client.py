"""libcti against the real CTI server on loopback: inlineCallbacks and async/await, helpers, reconnect, resync."""
from __future__ import annotations

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from ctid.cti import CtiServer
from cti_helpers import ServerMixin
from libcti import Channel, Client, CtiError, Event, connect


def turn(t=0.0):
    return task.deferLater(reactor, t, lambda: None)


@defer.inlineCallbacks
def until(pred, what, rounds=500):
    for _ in range(rounds):
        if pred():
            return
        yield turn(0.005)
    raise AssertionError(f"never happened: {what}")


class ClientBasics(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    def endpoint(self):
        return f"tcp:127.0.0.1:{self.portno}"

    @defer.inlineCallbacks
    def connect(self, **kw):
        kw.setdefault("reactor", reactor)
        c = yield connect(self.endpoint(), **kw)
        self.addCleanup(c.close)
        return c

    @defer.inlineCallbacks
    def test_inline_callbacks_round_trip(self):
        c = yield self.connect(user="1001", password="a1-pw")
        self.assertEqual(c.session, {"user": "1001", "roles": ["agent"], "agent": "1001"})
        self.assertEqual([a["agent"] for a in c.snapshot_data["agents"]], ["1001"])
        got = []
        off = c.on("agent.*", got.append)
        r = yield c.subscribe(["agent.*", "call.*"])
        self.assertEqual(r["events"], ["agent.*", "call.*"])
        agent = c.agent()
        self.assertEqual(agent.id, "1001")
        yield agent.login(extension="analog/2")
        yield agent.ready()
        yield agent.not_ready("lunch")
        with self.assertRaises(CtiError) as cm:
            yield c.agent("1002").ready()
        self.assertEqual((cm.exception.code, cm.exception.name), (403, "forbidden"))
        yield agent.logout()
        self.assertEqual([(e.name, e["state"], e.seq) for e in got],
                         [("agent.state", "not_ready", 1), ("agent.state", "ready", 2),
                          ("agent.state", "not_ready", 3), ("agent.state", "logged_out", 4)])
        self.assertIsInstance(got[0], Event)
        self.assertEqual(got[2].get("reason"), "lunch")
        off()
        later = []
        c.on("agent.st?te", later.append)                 # added after events of that name were dispatched
        self.engine.emit({"event": "agent.state", "agent": "1001", "state": "ready", "reason": ""})
        snap = yield c.snapshot()
        self.assertEqual(snap["seq"], 5)
        self.assertEqual(len(got), 4)                      # removed handler: nothing more
        self.assertEqual([e.seq for e in later], [5])
        with self.assertRaises(CtiError) as cm:
            yield c.request("originate", trunk="ss7", called="1")
        self.assertEqual(cm.exception.code, 403)
        with self.assertRaises(CtiError) as cm:
            yield c.request("no.such.op")
        self.assertEqual(cm.exception.code, 400)

    def test_async_await_channel_helpers(self):
        async def flow():
            c = await self.connect(token="tok-ivr", framing="length")
            incoming = defer.Deferred()
            c.on("channel.incoming", lambda ev: incoming.callback(ev) if not incoming.called else None)
            await c.subscribe(["channel.*"])
            self.engine.incoming("ss7/1", "c9", calling="13800138000")
            ev = await incoming
            self.assertEqual((ev.name, ev["calling"], ev["call"]), ("channel.incoming", "13800138000", "c9"))
            ch = c.channel(ev["channel"], call=ev["call"])
            self.assertIsInstance(ch, Channel)
            self.assertIs(c.channel("ss7/1"), ch)
            await ch.answer()
            r = await ch.play("welcome", {"tone": "beep"}, barge_in=True)
            self.assertEqual(r["reason"], "done")
            await ch.say("欢迎致电", voice="zh")
            self.engine.collect_result = {"digits": "2", "reason": "max", "tries": 1}
            r = await ch.collect("main_menu", max_digits=1, timeout=7.5, valid_regex="[0-4]", invalid_prompts=["invalid"])
            self.assertEqual(r["digits"], "2")
            r = await ch.record(max_seconds=30, silence_seconds=None, beep=False, purpose="voicemail")
            self.assertEqual(r["recording"], "r1")
            await ch.stop()
            await ch.transfer(queue="frontdesk")
            self.engine.incoming("ss7/2", "c10")
            await ch.bridge(c.channel("ss7/2"))
            hung = ch.wait_hangup()
            self.engine.end("c9")
            hev = await hung
            self.assertEqual((hev.name, hev["cause"]), ("channel.hangup", 16))
            self.assertTrue(ch.hungup)
            with self.assertRaises(CtiError) as cm:
                await ch.play("welcome")
            self.assertEqual(cm.exception.code, 409)
            self.assertIsNot(c.channel("ss7/1"), ch)        # a new call on the channel gets a new object
            calls = [(name, a, kw) for name, a, kw in self.engine.calls]
            self.assertEqual([x[0] for x in calls],
                             ["answer", "play", "play", "collect", "record", "stop_media", "transfer", "bridge"])
            self.assertEqual(calls[1][1][1], [{"prompt": "welcome"}, {"tone": "beep"}])
            self.assertEqual(calls[2][1][1], [{"text": "欢迎致电", "voice": "zh"}])
            self.assertEqual(calls[3][2]["timeout"], 7.5)
            self.assertEqual(calls[3][2]["invalid_prompts"], [{"prompt": "invalid"}])
            self.assertEqual(calls[4][2]["silence_seconds"], None)
            self.assertEqual(calls[6][2], {"queue": "frontdesk", "to": None})
            self.assertEqual(calls[7][1], ("ss7/1", "ss7/2"))
            with self.assertRaises(CtiError) as cm:
                await c.request("originate", trunk="ss7", called="busy")
            self.assertEqual((cm.exception.code, cm.exception.cause), (409, 17))
            r = await c.request("originate", trunk="ss7", called="12345")
            self.assertEqual(r, {"channel": "ss7/2"})
        return defer.Deferred.fromCoroutine(flow())

    @defer.inlineCallbacks
    def test_hangup_tracked_without_explicit_subscription(self):
        c = yield self.connect(token="tok-ivr")
        self.engine.incoming("ss7/1", "c1")
        ch = c.channel("ss7/1")
        yield until(lambda: "channel.hangup" in c.patterns and self.server.connections and all(
            conn.patterns for conn in self.server.connections), "auto-subscription")
        yield ch.hangup(cause=17)
        ev = yield ch.wait_hangup()
        self.assertEqual(ev["cause"], 17)

    @defer.inlineCallbacks
    def test_login_failure_and_timeouts(self):
        with self.assertRaises(CtiError) as cm:
            yield connect(self.endpoint(), user="1001", password="nope", reactor=reactor)
        self.assertEqual(cm.exception.code, 401)
        clock = task.Clock()
        c = yield self.connect(token="tok-ivr", clock=clock, ping_interval=0)
        self.engine.incoming("ss7/1", "c1")
        self.engine.hold_media = True
        d = c.request("collect", channel="ss7/1", request_timeout=5)
        clock.advance(5)
        with self.assertRaises(CtiError) as cm:
            yield d
        self.assertEqual((cm.exception.code, cm.exception.name), (408, "timeout"))
        d = c.channel("ss7/1").play("welcome")       # media ops have no default timeout
        yield until(lambda: len(self.engine.pending) == 2, "play reaches the engine")
        clock.advance(3600)
        self.assertFalse(d.called)
        self.engine.pending[-1][1].callback({"reason": "hangup", "digit": None})
        r = yield d
        self.assertEqual(r["reason"], "hangup")
        self.assertRaises(ValueError, Client, self.endpoint(), user="x")
        self.assertRaises(ValueError, Client, "tls:127.0.0.1", token="t")

    @defer.inlineCallbacks
    def test_keepalive_both_ways(self):
        self.server.clock = task.Clock()            # new connections use this clock for their timers
        cclock = task.Clock()
        c = yield self.connect(user="admin", password="admin-pw", clock=cclock)
        [conn] = self.server.connections
        for _ in range(5):                          # server pings; libcti answers with pong
            self.server.clock.advance(30)
            yield until(lambda: conn.missed_pings == 0 and conn.last_rx == self.server.clock.seconds(), "pong")
        self.assertTrue(c.connected)
        sent_before = conn.requests_seen
        cclock.advance(30)                          # silence from the server: libcti pings it
        yield until(lambda: conn.requests_seen > sent_before, "client ping")
        self.assertTrue(c.connected)

    @defer.inlineCallbacks
    def test_wait_for(self):
        clock = task.Clock()
        c = yield self.connect(user="sup", password="sup-pw", clock=clock, ping_interval=0)
        yield c.subscribe(["agent.*"])
        d = c.wait_for("agent.*", where=lambda ev: ev["state"] == "ready")
        self.engine.emit({"event": "agent.state", "agent": "1001", "state": "not_ready", "reason": ""})
        self.engine.emit({"event": "agent.state", "agent": "1001", "state": "ready", "reason": ""})
        ev = yield d
        self.assertEqual((ev["state"], ev.seq), ("ready", 2))
        d = c.wait_for("call.offered", timeout=5)
        clock.advance(5)
        with self.assertRaises(CtiError) as cm:
            yield d
        self.assertEqual(cm.exception.code, 408)
        self.assertEqual(len(c._listeners), 0)             # one-shot handlers are gone

    @defer.inlineCallbacks
    def test_overflow_triggers_resync(self):
        c = yield self.connect(user="sup", password="sup-pw")
        got = []
        c.on("cti.*", got.append)
        yield c.subscribe(["*"])
        [conn] = self.server.connections
        conn._write_event(b'{"type":"event","seq":%d,"event":"cti.overflow","data":{"dropped":7}}')
        yield until(lambda: any(e.name == "cti.resync" for e in got), "resync after overflow")
        self.assertEqual([e.name for e in got], ["cti.overflow", "cti.resync"])
        self.assertEqual(got[0]["dropped"], 7)
        self.assertEqual(len(got[1]["channels"]), len(self.engine.channels))


class UnixSocket(unittest.TestCase):
    @defer.inlineCallbacks
    def test_unix_endpoint(self):
        import tempfile

        from cti_doubles import FakeEngine, demo_users

        path = tempfile.mktemp(prefix="cti-", suffix=".sock", dir="/tmp")
        server = CtiServer(FakeEngine(), demo_users())
        [port] = yield server.listen(reactor, [f"unix:{path}:mode=600"])
        self.addCleanup(port.stopListening)
        c = yield connect(f"unix:{path}", user="ivr", password="ivr-pw", reactor=reactor)
        snap = yield c.snapshot()
        self.assertEqual(len(snap["channels"]), 6)
        yield c.close()


class Version(unittest.TestCase):
    @defer.inlineCallbacks
    def test_other_protocol_version_is_refused(self):
        from twisted.internet.protocol import Factory, Protocol

        class Future(Protocol):
            def connectionMade(self):
                self.transport.write(b'{"type":"hello","protocol":"ctid-cti/2","server":"ctid 9"}\n')
        port = reactor.listenTCP(0, Factory.forProtocol(Future), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        with self.assertRaises(CtiError) as cm:
            yield connect(f"tcp:127.0.0.1:{port.getHost().port}", token="t", reactor=reactor)
        self.assertIn("ctid-cti/2", cm.exception.message)
        yield turn(0.02)


class Reconnect(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_server_restart_on_same_port(self):
        clock = task.Clock()
        c = yield connect(f"tcp:127.0.0.1:{self.portno}", token="tok-ivr", reactor=reactor, clock=clock)
        self.addCleanup(c.close)
        got = []
        c.on("*", got.append)
        yield c.subscribe(["channel.*", "trunk.*"])
        self.engine.incoming("ss7/1", "c1")
        ch = c.channel("ss7/1", call="c1")
        yield until(lambda: got, "first event")

        # the daemon goes away (port closed, connections dropped), the call ends meanwhile
        yield self.port.stopListening()
        for conn in list(self.server.connections):
            conn.transport.abortConnection()
        yield until(lambda: not c.connected, "client notices")
        with self.assertRaises(CtiError) as cm:
            yield c.request("snapshot")
        self.assertEqual(cm.exception.code, 503)
        self.engine.channels["ss7/1"].update(state="idle", call=None)
        self.engine.call_info.clear()
        clock.advance(1)                            # first retry: refused (nothing listens)
        yield turn(0.05)
        self.assertFalse(c.connected)

        self.server.detach()
        self.server = CtiServer(self.engine, self.users)
        [self.port] = yield self.server.listen(reactor, [f"tcp:{self.portno}:interface=127.0.0.1"])
        for _ in range(10):
            clock.advance(30)
            yield turn(0.02)
            if c.connected:
                break
        yield until(lambda: any(e.name == "cti.resync" for e in got), "resync")
        resync = [e for e in got if e.name == "cti.resync"][0]
        self.assertEqual(len(resync.data["channels"]), len(self.engine.channels))
        self.assertTrue(ch.hungup)                  # the call ended while we were away
        self.assertEqual(ch.hangup_event["cause_text"], "gone after resync")
        self.engine.emit({"event": "trunk.state", "trunk": "ss7", "up": True})   # re-subscribed by itself
        yield until(lambda: got[-1].name == "trunk.state", "event after reconnect")
        self.assertEqual(got[-1].seq, 1)            # a new connection: seq starts again
        r = yield c.request("ping")
        self.assertIn("time", r)
