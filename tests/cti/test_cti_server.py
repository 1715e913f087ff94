"""The CTI server over a real loopback TCP port: hello, login, roles, errors, garbage, subscriptions, views."""
from __future__ import annotations

from twisted.internet import defer
from twisted.trial import unittest

from cti_doubles import EngineError
from cti_helpers import ServerMixin, error_code


class Basics(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_hello_on_connect(self):
        c = yield self.client()
        hello = c.frames[0]
        self.assertEqual(hello["type"], "hello")
        self.assertEqual(hello["protocol"], "ctid-cti/1")
        self.assertEqual(hello["auth"], ["password", "token"])
        self.assertEqual(hello["max_frame"], 65536)
        self.assertTrue(hello["server"].startswith("ctid "))

    @defer.inlineCallbacks
    def test_login_password_token_and_failures(self):
        c = yield self.client()
        r = yield c.request("login", user="1001", password="a1-pw")
        self.assertTrue(r["ok"])
        res = r["result"]
        self.assertEqual((res["user"], res["roles"], res["agent"], res["seq"]), ("1001", ["agent"], "1001", 0))
        self.assertEqual([a["agent"] for a in res["snapshot"]["agents"]], ["1001"])   # an agent's view
        r = yield c.request("login", user="1001", password="a1-pw")
        self.assertEqual(error_code(r), 409)

        c2 = yield self.client()
        r = yield c2.request("login", user="1001", password="wrong")
        self.assertEqual(error_code(r), 401)
        self.assertEqual(r["error"]["name"], "unauthenticated")
        self.assertNotIn("1001", r["error"]["message"])     # does not say whether the user exists

        c3 = yield self.client()
        r = yield c3.request("login", token="tok-ivr")
        self.assertTrue(r["ok"])
        self.assertEqual(r["result"]["roles"], ["ivr"])
        self.assertEqual(len(r["result"]["snapshot"]["channels"]), len(self.engine.channels))

        c4 = yield self.client()
        r = yield c4.request("login", token="nope")
        self.assertEqual(error_code(r), 401)
        r = yield c4.request("login", user="1001")
        self.assertEqual(error_code(r), 400)
        r = yield c4.request("login", user="1001", password="a1-pw", token="tok-ivr")
        self.assertEqual(error_code(r), 400)

    @defer.inlineCallbacks
    def test_requests_pipelined_behind_login(self):
        c = yield self.client()
        c.send_raw(b'{"id":1,"op":"login","user":"wall","password":"wall-pw"}\n{"id":2,"op":"snapshot"}\n'
                   b'{"id":3,"op":"login","user":"wall","password":"wall-pw"}\n')
        r = yield c.response(3)
        self.assertEqual(error_code(r), 409)                 # already logged in by request 1
        r = yield c.response(2)
        self.assertTrue(r["ok"], r)
        self.assertEqual([m.get("id") for m in c.frames[1:]], [1, 2, 3])
        c2 = yield self.client()
        c2.send_raw(b'{"id":1,"op":"login","user":"wall","password":"bad"}\n{"id":2,"op":"snapshot"}\n')
        r = yield c2.response(2)
        self.assertEqual(error_code(r), 401)

    @defer.inlineCallbacks
    def test_user_store_down_is_503_and_server_keeps_going(self):
        self.users.broken = True
        c = yield self.client()
        r = yield c.request("login", user="1001", password="a1-pw")
        self.assertEqual(error_code(r), 503)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.users.broken = False
        r = yield c.request("ping")
        self.assertTrue(r["ok"])

    @defer.inlineCallbacks
    def test_unauthenticated_and_unknown_op(self):
        c = yield self.client()
        for op in ("snapshot", "subscribe", "answer", "agent.ready", "originate"):
            r = yield c.request(op)
            self.assertEqual(error_code(r), 401, op)
            self.assertIn(op, r["error"]["message"])
        r = yield c.request("fly")
        self.assertEqual(error_code(r), 400)
        self.assertIn("unknown op 'fly'", r["error"]["message"])
        r = yield c.request("ping")
        self.assertTrue(r["ok"])
        self.assertIn("time", r["result"])

    @defer.inlineCallbacks
    def test_logout_drops_session(self):
        c = yield self.client("admin", "admin-pw")
        r = yield c.request("logout")
        self.assertTrue(r["ok"])
        r = yield c.request("snapshot")
        self.assertEqual(error_code(r), 401)

    @defer.inlineCallbacks
    def test_argument_errors_name_the_argument(self):
        c = yield self.client("ivr", "ivr-pw")
        self.engine.incoming("ss7/1", "c1")
        cases = [
            (dict(op="collect", channel="ss7/1", max_digits="3"), "max_digits"),
            (dict(op="collect", channel="ss7/1", min_digits=3, max_digits=2), "min_digits"),
            (dict(op="collect", channel="ss7/1", valid_regex="("), "valid_regex"),
            (dict(op="collect", channel="ss7/1", terminators="#x"), "terminators"),
            (dict(op="play", channel="ss7/1"), "prompts"),
            (dict(op="play", channel="ss7/1", prompts=[{"tone": "siren"}]), "tone"),
            (dict(op="play", channel="ss7/1", prompts=[{"file": "a.wav", "text": "x"}]), "exactly one"),
            (dict(op="hangup", channel="ss7/1", cause=1000), "cause"),
            (dict(op="hangup", channel="ss7/1", cause=True), "cause"),
            (dict(op="answer", channel=5), "channel"),
            (dict(op="answer", channel="ss7/1", colour="red"), "colour"),
            (dict(op="transfer", channel="ss7/1"), "exactly one"),
            (dict(op="bridge", a="ss7/1", b="ss7/1"), "same channel"),
            (dict(op="subscribe", events="*"), "events"),
            (dict(op="record", channel="ss7/1", max_seconds=float("inf")), "max_seconds"),
        ]
        for req, needle in cases:
            op = req.pop("op")
            r = yield c.request(op, **req)
            self.assertEqual(error_code(r), 400, (op, req, r))
            self.assertIn(needle, r["error"]["message"])
        self.assertEqual([x for x in self.engine.calls], [])     # nothing reached the engine

    @defer.inlineCallbacks
    def test_engine_errors_are_mapped(self):
        c = yield self.client("ivr", "ivr-pw")
        r = yield c.request("answer", channel="ss7/99")
        self.assertEqual((error_code(r), r["error"]["name"]), (404, "not_found"))
        self.assertIn("ss7/99", r["error"]["message"])
        r = yield c.request("answer", channel="ss7/1")          # idle: wrong state
        self.assertEqual(error_code(r), 409)
        r = yield c.request("originate", trunk="mars", called="1")
        self.assertEqual(error_code(r), 404)
        self.assertNotIn("cause", r["error"])
        r = yield c.request("originate", trunk="ss7", called="busy")
        self.assertEqual(r["error"], {"code": 409, "name": "conflict", "message": "called party busy", "cause": 17})

        def boom(*a, **kw):
            raise KeyError("secret internals")
        self.engine.stop_media = boom
        r = yield c.request("stop_media", channel="ss7/1")
        self.assertEqual(error_code(r), 500)
        self.assertNotIn("secret", r["error"]["message"])
        self.flushLoggedErrors(KeyError)

        def data_op(ctx, args):
            if args["what"] == "missing":
                raise EngineError(404, "no such department")
            return 1 / 0
        self.server.register_op("hospital.fail", data_op, {"ivr"}, args={"what": (str, True)})
        r = yield c.request("hospital.fail", what="missing")
        self.assertEqual((error_code(r), r["error"]["message"]), (404, "no such department"))
        r = yield c.request("hospital.fail", what="bug")
        self.assertEqual((error_code(r), r["error"]["message"]), (500, "internal error in op 'hospital.fail'"))
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        r = yield c.request("ping")
        self.assertTrue(r["ok"])

    @defer.inlineCallbacks
    def test_ivr_ops_reach_the_engine(self):
        c = yield self.client("ivr", "ivr-pw")
        self.engine.incoming("ss7/1", "c1")
        r = yield c.request("answer", channel="ss7/1")
        self.assertEqual(r["result"], {})
        r = yield c.request("play", channel="ss7/1", prompts=[{"prompt": "welcome"}, {"text": "你好", "voice": "zh"},
                                                              {"silence": 0.5}], barge_in=True)
        self.assertEqual(r["result"], {"reason": "done", "digit": None})
        r = yield c.request("collect", channel="ss7/1", prompts=[{"prompt": "main_menu"}], max_digits=2,
                            valid_regex="[0-4]")
        self.assertEqual(r["result"]["digits"], "1")
        r = yield c.request("originate", trunk="no1", called="12345", calling="114")
        self.assertEqual(r["result"], {"channel": "no1/2"})
        r = yield c.request("transfer", channel="ss7/1", queue="frontdesk")
        self.assertTrue(r["ok"])
        names = [x[0] for x in self.engine.calls]
        self.assertEqual(names, ["answer", "play", "collect", "originate", "transfer"])
        collect = self.engine.calls[2]
        self.assertEqual(collect[2]["max_digits"], 2)
        self.assertEqual(collect[2]["inter_digit_timeout"], 3.0)
        self.assertEqual(collect[2]["valid_regex"], "[0-4]")
        self.assertEqual(self.engine.calls[1][2], {"barge_in": True})

    @defer.inlineCallbacks
    def test_responses_can_come_out_of_order(self):
        c = yield self.client("ivr", "ivr-pw")
        self.engine.incoming("ss7/1", "c1")
        self.engine.hold_media = True
        c.send({"id": "slow", "op": "collect", "channel": "ss7/1"})
        r = yield c.request("snapshot")
        self.assertTrue(r["ok"])
        self.assertEqual(self.engine.pending[0][0], "collect")
        self.engine.pending[0][1].callback({"digits": "9", "reason": "max", "tries": 1})
        r = yield c.response("slow")
        self.assertEqual(r["result"]["digits"], "9")


# role -> ops it may use (everything else must be 403). Agent ops here act on the user's own agent.
ALLOWED = {
    "admin": {"answer", "hangup", "play", "collect", "record", "stop_media", "bridge", "transfer", "originate",
              "agent.login", "agent.ready", "agent.not_ready", "agent.logout"},
    "supervisor": {"hangup", "agent.login", "agent.ready", "agent.not_ready", "agent.logout"},
    "ivr": {"answer", "hangup", "play", "collect", "record", "stop_media", "bridge", "transfer", "originate"},
    "agent": {"agent.login", "agent.ready", "agent.not_ready", "agent.logout"},
    "monitor": set(),
}
LOGINS = {"admin": ("admin", "admin-pw"), "supervisor": ("sup", "sup-pw"), "ivr": ("ivr", "ivr-pw"),
          "agent": ("1001", "a1-pw"), "monitor": ("wall", "wall-pw")}
REQUESTS = [
    ("answer", dict(channel="ss7/1")), ("hangup", dict(channel="ss7/2")),
    ("play", dict(channel="ss7/1", prompts=[{"tone": "beep"}])), ("collect", dict(channel="ss7/1")),
    ("record", dict(channel="ss7/1")), ("stop_media", dict(channel="ss7/1")), ("bridge", dict(a="ss7/1", b="ss7/2")),
    ("transfer", dict(channel="ss7/1", queue="frontdesk")), ("originate", dict(trunk="ss7", called="123")),
    ("agent.login", dict(agent="1001", extension="analog/2")), ("agent.ready", dict(agent="1001")),
    ("agent.not_ready", dict(agent="1001", reason="lunch")), ("agent.logout", dict(agent="1001")),
]


class Roles(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_every_role_allowed_and_denied(self):
        for role, (user, pw) in LOGINS.items():
            self.engine.incoming("ss7/1", "c1")
            self.engine.incoming("ss7/2", "c2")
            c = yield self.client(user, pw)
            for op, args in REQUESTS:
                self.engine.calls.clear()
                r = yield c.request(op, **args)
                if op in ALLOWED[role]:
                    self.assertNotEqual(error_code(r), 403, (role, op, r))
                    self.assertEqual(self.engine.calls[0][0], op.replace(".", "_"), (role, op))
                else:
                    self.assertEqual(error_code(r), 403, (role, op, r))
                    self.assertEqual(r["error"]["name"], "forbidden")
                    self.assertEqual(self.engine.calls, [], (role, op))
            for op in ("snapshot", "ping"):
                r = yield c.request(op)
                self.assertTrue(r["ok"], (role, op))
            for ch in ("ss7/1", "ss7/2"):
                self.engine.channels[ch].update(state="idle", call=None)
            self.engine.call_info.clear()

    @defer.inlineCallbacks
    def test_agent_acts_only_on_own_agent_and_calls(self):
        a1 = yield self.client("1001", "a1-pw")
        r = yield a1.request("agent.ready", agent="1002")
        self.assertEqual(error_code(r), 403)
        self.assertIn("1002", r["error"]["message"])
        r = yield a1.request("agent.login", extension="analog/2")      # agent defaults to the user's
        self.assertTrue(r["ok"], r)
        self.assertEqual(self.engine.calls[-1], ("agent_login", ("1001", "analog/2"), {}))
        self.engine.incoming("ss7/1", "c1")
        self.engine.incoming("ss7/2", "c2")
        r = yield a1.request("answer", channel="ss7/1")                 # not offered to 1001 yet
        self.assertEqual(error_code(r), 403)
        self.engine.offer("c1", "1001")
        r = yield a1.request("answer", channel="analog/2")              # own extension, ringing
        self.assertTrue(r["ok"], r)
        r = yield a1.request("hangup", channel="ss7/2")                 # someone else's caller
        self.assertEqual(error_code(r), 403)
        r = yield a1.request("hangup", channel="ss7/1")                 # the caller on 1001's call
        self.assertTrue(r["ok"], r)
        sup = yield self.client("sup", "sup-pw")
        r = yield sup.request("agent.login", agent="1002", extension="analog/3")
        self.assertTrue(r["ok"], r)
        r = yield sup.request("agent.ready")                            # supervisor without agent id
        self.assertEqual(error_code(r), 400)
        r = yield sup.request("hangup", channel="ss7/2")
        self.assertTrue(r["ok"], r)
        r = yield sup.request("answer", channel="analog/3")
        self.assertEqual(error_code(r), 403)


class Garbage(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_bad_frames_answered_connection_kept(self):
        good = yield self.client("admin", "admin-pw")
        c = yield self.client()
        for raw, needle in ((b"this is not json\n", "not JSON"), (b"[1,2]\n", "object"), (b"42\n", "object"),
                            (b'{"op": 5}\n', "op"), (b'{"id": [1], "op": "ping"}\n', "id"),
                            (b'{"id": true, "op": "ping"}\n', "id"), (b'{"id": 1}\n', "op"),
                            (b'{"id":1,"op":"ping","x":1e999999}\n', "unknown argument"),
                            (b'{"id":"\\ud800","op":"ping","x":[[[1]]]}\n',
                             "unknown argument")):
            c.send_raw(raw)
            r = yield c.wait_for(lambda m: m.get("type") == "response" and not m["ok"])
            self.assertIn(needle, r["error"]["message"])
            self.assertEqual(r["error"]["code"], 400)
        r = yield c.request("ping")
        self.assertTrue(r["ok"])
        self.assertFalse(c.lost)
        r = yield good.request("subscribe", events=["\ud800*"])     # echoed back as an ASCII escape
        self.assertEqual(r["result"]["events"], ["\ud800*"])
        r = yield good.request("snapshot")
        self.assertTrue(r["ok"])

    @defer.inlineCallbacks
    def test_binary_and_overlong_close_only_that_connection(self):
        good = yield self.client("admin", "admin-pw")
        for raw, code in ((b"\xff\xfe\xfd{}\n", 400), (b'{"op":"ping"}\x00\x01\n', 400),
                          (b"x" * 70000, 413), (b"{" + b" " * 65537 + b"}\n", 413)):
            c = yield self.client()
            c.send_raw(raw)
            r = yield c.wait_for(lambda m: m.get("type") == "response")
            self.assertEqual(r["error"]["code"], code, raw[:20])
            yield c.closed
            r = yield good.request("ping")
            self.assertTrue(r["ok"])
        self.assertEqual(len(self.server.connections), 1)

    @defer.inlineCallbacks
    def test_sixteen_bad_frames_in_a_row_close(self):
        c = yield self.client()
        c.send_raw(b"nope\n" * 15)
        c.send_raw(b'{"op":"ping"}\n')
        r = yield c.wait_for(lambda m: m.get("type") == "response" and m["ok"])
        self.assertFalse(c.lost)
        c.send_raw(b"nope\n" * 16)
        yield c.closed
        self.assertEqual(sum(1 for m in c.frames if m.get("type") == "response" and not m["ok"]), 31)

    @defer.inlineCallbacks
    def test_pong_gets_no_response_and_blank_lines_ignored(self):
        c = yield self.client()
        c.send_raw(b'\n\r\n{"op":"pong"}\n{"id":1,"op":"ping"}\n')
        yield c.response(1)
        self.assertEqual([m["type"] for m in c.frames], ["hello", "response"])


class Events(ServerMixin, unittest.TestCase):
    def setUp(self):
        return self.start_server()

    @defer.inlineCallbacks
    def test_subscription_filtering_and_seq(self):
        c = yield self.client("admin", "admin-pw")
        r = yield c.request("subscribe", events=["agent.*", "call.end?d"])
        self.assertEqual(r["result"]["events"], ["agent.*", "call.end?d"])
        self.engine.incoming("ss7/1", "c1")
        self.engine.emit({"event": "agent.state", "agent": "1001", "state": "ready", "reason": ""})
        self.engine.end("c1")
        r = yield c.request("unsubscribe", events=["agent.*"])
        self.assertEqual(r["result"]["events"], ["call.end?d"])
        self.engine.emit({"event": "agent.state", "agent": "1001", "state": "busy", "reason": ""})
        r = yield c.request("subscribe", events=["*"], snapshot=True)
        self.assertEqual(r["result"]["seq"], 2)
        self.assertEqual(len(r["result"]["snapshot"]["channels"]), len(self.engine.channels))
        self.engine.emit({"event": "trunk.state", "trunk": "ss7", "up": False})
        yield c.wait_for(lambda m: m.get("event") == "trunk.state")
        evs = c.events()
        self.assertEqual([(e["seq"], e["event"]) for e in evs],
                         [(1, "agent.state"), (2, "call.ended"), (3, "trunk.state")])
        r = yield c.request("subscribe", events=["p%d" % i for i in range(62)])
        self.assertTrue(r["ok"])                        # 64 now
        r = yield c.request("subscribe", events=["*", "one.more"])
        self.assertEqual(error_code(r), 400)
        self.assertIn("at most 64", r["error"]["message"])
        self.assertEqual(evs[0]["data"], {"agent": "1001", "state": "ready", "reason": ""})

    @defer.inlineCallbacks
    def test_monitor_sees_masked_numbers(self):
        m = yield self.client("wall", "wall-pw")
        sup = yield self.client("sup", "sup-pw")
        for c in (m, sup):
            yield c.request("subscribe", events=["*"])
        self.engine.incoming("ss7/1", "c1", calling="13800138000", called="114")
        ev = yield m.wait_for(lambda x: x.get("event") == "channel.incoming")
        self.assertEqual((ev["data"]["calling"], ev["data"]["called"]), ("*******8000", "***"))
        ev = yield sup.wait_for(lambda x: x.get("event") == "channel.incoming")
        self.assertEqual(ev["data"]["calling"], "13800138000")
        r = yield m.request("snapshot")
        ch = [x for x in r["result"]["channels"] if x["channel"] == "ss7/1"][0]
        self.assertEqual(ch["calling"], "*******8000")
        self.engine.offer("c1", "1001")
        ev = yield m.wait_for(lambda x: x.get("event") == "call.offered")
        self.assertEqual(ev["data"]["calling"], "*******8000")
        self.assertEqual(self.engine.channels["ss7/1"]["calling"], "13800138000")   # masking copies

    @defer.inlineCallbacks
    def test_agent_sees_only_own_calls_and_state(self):
        a1 = yield self.client("1001", "a1-pw")
        a2 = yield self.client("1002", "a2-pw")
        for c in (a1, a2):
            yield c.request("subscribe", events=["*"])
        yield a1.request("agent.login", extension="analog/2")
        yield a2.request("agent.login", extension="analog/3")
        self.engine.incoming("ss7/1", "c1")
        self.engine.offer("c1", "1001")
        self.engine.end("c1")
        self.engine.emit({"event": "span.alarm", "trunk": "ss7", "alarms": ["LOS"]})
        yield a1.request("ping")
        yield a2.request("ping")
        got1 = [(e["event"], e["data"].get("agent") or e["data"].get("channel")) for e in a1.events()]
        got2 = [(e["event"], e["data"].get("agent") or e["data"].get("channel")) for e in a2.events()]
        self.assertEqual(got1, [("agent.state", "1001"), ("call.offered", "1001"), ("channel.hangup", "ss7/1"),
                                ("channel.hangup", "analog/2"), ("call.ended", None)])
        self.assertEqual(got2, [("agent.state", "1002")])
        r = yield a2.request("snapshot")
        snap = r["result"]
        self.assertEqual([a["agent"] for a in snap["agents"]], ["1002"])
        self.assertEqual(snap["calls"], [])
        self.assertEqual([c["channel"] for c in snap["channels"]], ["analog/3"])

    @defer.inlineCallbacks
    def test_patient_lookup_scoped_to_agents_calls(self):
        looked = []

        def lookup(ctx, args):
            looked.append((ctx.principal.user, args["number"]))
            return {"patient": {"name": "Zhang San"} if args["number"] == "13800138000" else None}
        self.server.register_op("patient.lookup", lookup, {"admin", "ivr", "supervisor", "agent"},
                                args={"number": (str, True)}, scope="number")
        self.server.register_op("hospital.departments", lambda ctx, a: defer.succeed({"departments": ["心内科"]}),
                                {"admin", "ivr", "supervisor", "agent"})
        a1 = yield self.client("1001", "a1-pw")
        a2 = yield self.client("1002", "a2-pw")
        mon = yield self.client("wall", "wall-pw")
        ivr = yield self.client("ivr", "ivr-pw")
        yield a1.request("agent.login", extension="analog/2")
        self.engine.incoming("ss7/1", "c1", calling="13800138000")
        r = yield a1.request("patient.lookup", number="13800138000")
        self.assertEqual(error_code(r), 403)                     # not offered yet
        self.engine.offer("c1", "1001")
        r = yield a1.request("patient.lookup", number="13800138000")
        self.assertEqual(r["result"]["patient"]["name"], "Zhang San")
        r = yield a1.request("patient.lookup", number="13900000000")
        self.assertEqual(error_code(r), 403)
        r = yield a2.request("patient.lookup", number="13800138000")
        self.assertEqual(error_code(r), 403)
        r = yield mon.request("patient.lookup", number="13800138000")
        self.assertEqual(error_code(r), 403)
        r = yield ivr.request("patient.lookup", number="13900000000")
        self.assertTrue(r["ok"])
        r = yield ivr.request("patient.lookup")
        self.assertEqual(error_code(r), 400)
        r = yield a2.request("hospital.departments")
        self.assertEqual(r["result"], {"departments": ["心内科"]})
        r = yield a2.request("hospital.departments", date="x")
        self.assertEqual(error_code(r), 400)
        self.assertEqual(looked, [("1001", "13800138000"), ("ivr", "13900000000")])
        self.assertRaises(ValueError, self.server.register_op, "login", lookup, {"admin"})


class Endpoints(unittest.SynchronousTestCase):
    def test_plain_tcp_beyond_loopback_is_flagged(self):
        from ctid.cti.server import is_private_endpoint

        for desc in ("tcp:7000:interface=127.0.0.1", "tcp6:7000:interface=\\:\\:1", "unix:/run/ctid/cti.sock",
                     "ssl:7001:privateKey=k.pem:certKey=c.pem"):
            self.assertTrue(is_private_endpoint(desc), desc)
        for desc in ("tcp:7000", "tcp:7000:interface=0.0.0.0", "tcp:port=7000:interface=10.1.2.3",
                     "tcp6:7000:interface=\\:\\:"):
            self.assertFalse(is_private_endpoint(desc), desc)
