"""Keep-alive, login timeout and login throttling, with the server's timers on a task.Clock (I/O is real)."""
from __future__ import annotations

from twisted.internet import defer, task
from twisted.trial import unittest

from cti_helpers import ServerMixin, error_code


class KeepAlive(ServerMixin, unittest.TestCase):
    def setUp(self):
        self.clock = task.Clock()
        return self.start_server()

    @defer.inlineCallbacks
    def test_pings_then_close_after_three_missed(self):
        c = yield self.client("admin", "admin-pw")
        for n in range(3):
            self.clock.advance(30)
            ping = yield c.wait_for(lambda m: m.get("type") == "ping")
            self.assertEqual(ping["time"], self.clock.seconds())
        self.assertFalse(c.lost)
        self.clock.advance(30)
        yield c.closed
        self.assertEqual(sum(1 for m in c.frames if m.get("type") == "ping"), 3)
        self.assertEqual(self.server.connections, set())

    @defer.inlineCallbacks
    def test_any_frame_resets_the_count(self):
        c = yield self.client("admin", "admin-pw")
        for n in range(6):
            self.clock.advance(30)
            yield c.wait_for(lambda m: m.get("type") == "ping")
            c.send({"op": "pong"})
            yield c.request("ping")       # a round trip: the pong has been read too
        self.assertFalse(c.lost)
        self.clock.advance(15)            # traffic inside the interval: no ping
        yield c.request("ping")
        self.clock.advance(20)
        yield c.request("ping")
        self.assertEqual(sum(1 for m in c.frames if m.get("type") == "ping"), 6)

    @defer.inlineCallbacks
    def test_login_timeout(self):
        c = yield self.client()
        self.clock.advance(59)
        r = yield c.request("ping")
        self.assertTrue(r["ok"])
        self.clock.advance(1.5)
        yield c.closed
        self.assertEqual(error_code(c.frames[-1]), 401)
        ok = yield self.client()
        yield ok.request("login", user="sup", password="sup-pw")
        self.clock.advance(61)
        r = yield ok.request("ping")
        self.assertTrue(r["ok"])


class Throttling(ServerMixin, unittest.TestCase):
    def setUp(self):
        self.clock = task.Clock()
        return self.start_server(login_timeout=1000.0)

    @defer.inlineCallbacks
    def test_per_connection_backoff_and_close(self):
        c = yield self.client()
        waits = [1, 2, 4, 8, 16, 30, 30, 30, 30]
        for n, wait in enumerate(waits):
            r = yield c.request("login", token="bad")
            self.assertEqual(error_code(r), 401, n)
            r = yield c.request("login", token="tok-ivr")       # right token, too early
            self.assertEqual(error_code(r), 429, n)
            self.assertIn(f"retry in {wait} s", r["error"]["message"])
            self.clock.advance(wait - 0.5)
            r = yield c.request("login", token="tok-ivr")
            self.assertEqual(error_code(r), 429, n)
            self.clock.advance(0.5)
        calls = self.users.calls
        r = yield c.request("login", token="bad")                # the 10th failure closes
        self.assertEqual(error_code(r), 401)
        self.clock.advance(0)
        yield c.closed
        self.assertEqual(self.users.calls, calls + 1)           # refused attempts never reached the store

    @defer.inlineCallbacks
    def test_success_resets_and_per_user_lockout(self):
        c = yield self.client()
        r = yield c.request("login", user="1001", password="x")
        self.assertEqual(error_code(r), 401)
        self.clock.advance(1)
        r = yield c.request("login", user="1001", password="a1-pw")
        self.assertTrue(r["ok"])
        # 10 failures for user 1002 from several connections lock that user name, not others
        for i in range(5):
            a = yield self.client()
            b = yield self.client()
            for x in (a, b):
                r = yield x.request("login", user="1002", password="guess%d" % i)
                self.assertEqual(error_code(r), 401)
        d = yield self.client()
        r = yield d.request("login", user="1002", password="a2-pw")
        self.assertEqual(error_code(r), 429)
        self.assertIn("this user", r["error"]["message"])
        e = yield self.client()
        r = yield e.request("login", user="1001", password="a1-pw")
        self.assertTrue(r["ok"])
        self.clock.advance(301)
        r = yield d.request("login", user="1002", password="a2-pw")
        self.assertTrue(r["ok"], r)
