"""The CTI server over TLS (Twisted ssl: endpoint) with libcti verifying the certificate against a CA file."""
from __future__ import annotations

import tempfile
from pathlib import Path

from twisted.internet import defer, reactor, task
from twisted.trial import unittest

from ctid.cti import CtiServer
from cti_doubles import FakeEngine, demo_users
from libcti import Client, CtiError
from tls_certs import make_certs


class Tls(unittest.TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="cti-tls-"))
        self.certs = make_certs(self.tmp)
        self.engine = FakeEngine()
        self.server = CtiServer(self.engine, demo_users())
        desc = f"ssl:0:interface=127.0.0.1:privateKey={self.certs['key']}:certKey={self.certs['cert']}"
        [self.port] = yield self.server.listen(reactor, [desc])
        self.portno = self.port.getHost().port
        self.addCleanup(self.port.stopListening)

    @defer.inlineCallbacks
    def test_login_request_and_events_over_tls(self):
        for host in ("127.0.0.1", "localhost"):
            c = Client(f"ssl:{host}:{self.portno}:caFile={self.certs['ca']}", user="ivr", password="ivr-pw",
                       reactor=reactor, reconnect=False)
            yield c.connect()
            self.assertEqual(c.session["roles"], ["ivr"])
            got = []
            c.on("channel.*", got.append)
            yield c.subscribe(["channel.*"])
            self.engine.incoming("ss7/1", "c1")
            snap = yield c.snapshot()
            self.assertEqual([e.name for e in got], ["channel.incoming"])
            self.assertEqual(snap["seq"], 1)
            self.engine.channels["ss7/1"].update(state="idle", call=None)
            yield c.close()

    @defer.inlineCallbacks
    def test_untrusted_certificate_is_refused(self):
        other = make_certs(Path(tempfile.mkdtemp(prefix="cti-tls-other-")), ca_name="someone else")
        c = Client(f"tls:127.0.0.1:{self.portno}:caFile={other['ca']}", token="tok-admin", reactor=reactor,
                   reconnect=False, timeout=5)
        with self.assertRaises(CtiError) as cm:
            yield c.connect()
        self.assertEqual(cm.exception.code, 503)
        self.assertIn("certificate verify failed", cm.exception.message)
        for _ in range(200):
            if not self.server.connections:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(self.server.connections, set())
        good = Client(f"tls:127.0.0.1:{self.portno}", token="tok-admin", reactor=reactor, reconnect=False,
                      ca_file=str(self.certs["ca"]))
        yield good.connect()
        yield good.close()
        with self.assertRaises(CtiError) as cm:
            yield good.request("ping")
        self.assertEqual(cm.exception.code, 503)
