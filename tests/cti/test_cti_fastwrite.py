"""ctid.cti.fastwrite.DirectWriter: direct sends on idle plain TCP, order kept under partial sends, fallbacks.

Real sockets on loopback: a server-side Twisted TCP transport writes through a DirectWriter to a plain
socket that does not read until the kernel buffers are full, then drains.
"""
from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path

from twisted.internet import defer, reactor, task
from twisted.internet.endpoints import (SSL4ClientEndpoint, UNIXClientEndpoint, connectProtocol,
                                        serverFromString)
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.ssl import CertificateOptions
from twisted.internet.testing import StringTransport
from twisted.trial import unittest

from ctid.cti.fastwrite import DirectWriter, supports_direct
from cti_helpers import ServerMixin
from tls_certs import make_certs


def turn(t=0.0):
    return task.deferLater(reactor, t, lambda: None)


class Accepting(Protocol):
    def connectionMade(self):
        self.factory.accepted.append(self)

    def dataReceived(self, data):
        pass


class Collect(Protocol):
    def __init__(self):
        self.data = b""
        self.closed = defer.Deferred()

    def dataReceived(self, data):
        self.data += data

    def connectionLost(self, reason=None):
        self.closed.callback(None)


def accepting_factory():
    f = Factory.forProtocol(Accepting)
    f.accepted = []
    return f


@defer.inlineCallbacks
def wait_until(pred, timeout=5.0):
    for _ in range(int(timeout / 0.005)):
        if pred():
            return
        yield turn(0.005)
    raise AssertionError("condition not reached in time")


class SpySend:
    """Wraps socket.send: records (bytes offered, bytes taken or the errno)."""

    def __init__(self, send):
        self.send = send
        self.calls = []

    def __call__(self, data):
        try:
            n = self.send(data)
        except OSError as exc:
            self.calls.append((len(data), exc.errno))
            raise
        self.calls.append((len(data), n))
        return n


def frames(start, count):
    """Frames of varying length, each naming its index: b'000012:xxxx...\\n'."""
    return [b"%06d:" % i + bytes([97 + i % 26]) * (700 + (i * 389) % 5000) + b"\n"
            for i in range(start, start + count)]


class PlainTcp(unittest.TestCase):
    @defer.inlineCallbacks
    def setUp(self):
        f = accepting_factory()
        self.port = yield serverFromString(reactor, "tcp:0:interface=127.0.0.1").listen(f)
        self.addCleanup(self.port.stopListening)
        self.reader = socket.socket()
        self.reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.reader.connect(("127.0.0.1", self.port.getHost().port))   # loopback: the kernel completes it
        self.reader.setblocking(False)
        self.addCleanup(self.reader.close)
        yield wait_until(lambda: f.accepted)
        self.proto = f.accepted[0]
        self.transport = self.proto.transport
        self.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        self.addCleanup(self.close_transport)
        self.writer = DirectWriter(self.transport)
        self.spy = self.writer._send = SpySend(self.writer._send)

    def close_transport(self):
        self.transport.abortConnection()
        return turn(0.01)

    @defer.inlineCallbacks
    def drain(self, want: int, got: bytearray, step=None):
        """Read from the plain socket (reactor turns in between) until `want` bytes; `step(got)` after each read."""
        for _ in range(4000):
            try:
                chunk = self.reader.recv(65536)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                raise AssertionError("the connection closed")
            if chunk:
                got += chunk
                if step is not None:
                    step(got)
            if len(got) >= want:
                return got
            yield turn(0.001 if chunk is None else 0)
        raise AssertionError(f"only {len(got)} of {want} bytes arrived")

    def test_plain_tcp_is_direct(self):
        self.assertTrue(supports_direct(self.transport))
        self.assertTrue(self.writer.direct)

    @defer.inlineCallbacks
    def test_order_kept_under_partial_sends_and_a_full_kernel_buffer(self):
        first = frames(0, 300)                   # ~800 kB: far more than the kernel buffers hold
        written = 0
        while written < len(first):              # one frame per reactor turn: each may go directly
            self.writer.write(first[written])
            written += 1
            if self.spy.calls[-1][1] != self.spy.calls[-1][0]:
                break                            # the kernel took part of it (or none: EAGAIN)
            yield turn()
        # the kernel took the first frames whole, then part of one (or none); the rest went to Twisted's buffer
        self.assertEqual(len(self.spy.calls), written)
        incomplete = [i for i, (size, n) in enumerate(self.spy.calls) if n != size]
        self.assertEqual(incomplete, [written - 1], self.spy.calls[-5:])
        self.assertGreater(self.writer.direct_frames, 1)
        self.assertGreater(self.transport._tempDataLen + len(self.transport.dataBuffer), 0)
        self.assertTrue(any(isinstance(n, int) and n > 0 for _, n in self.spy.calls))
        for fr in first[written:]:               # while anything is buffered: no direct send, in later turns too
            self.writer.write(fr)
            if written % 50 == 0:
                yield turn()
            written += 1
        self.assertEqual(len(self.spy.calls), len(incomplete) + incomplete[0])
        self.assertEqual(self.writer.direct_frames + self.writer.buffered_frames, len(first))

        # more frames while the reader drains slowly: all of them go behind the buffered bytes
        second = frames(300, 200)
        pending = list(second)

        def step(got):
            for _ in range(3):
                if pending:
                    self.writer.write(pending.pop(0))
        expected = b"".join(first + second)
        got = yield self.drain(len(expected), bytearray(), step)
        self.assertEqual(pending, [])
        self.assertEqual(len(got), len(expected))
        self.assertEqual(bytes(got), expected)

        # drained: Twisted's buffer is empty again and the next frame goes straight to the socket
        yield wait_until(lambda: not self.transport._tempDataLen and not self.transport.dataBuffer)
        yield turn()
        before = (self.writer.direct_frames, len(self.spy.calls))
        self.writer.write(b"last\n")
        self.assertEqual((self.writer.direct_frames, len(self.spy.calls)), (before[0] + 1, before[1] + 1))
        got = yield self.drain(5, bytearray())
        self.assertEqual(bytes(got), b"last\n")

    @defer.inlineCallbacks
    def test_a_burst_in_one_turn_sends_once_then_together(self):
        yield turn()
        burst = [b"a" * 100 + b"\n", b"b" * 100 + b"\n", b"c" * 100 + b"\n"]
        for fr in burst:
            self.writer.write(fr)
        self.assertEqual(len(self.spy.calls), 1)           # the first at once, the others to Twisted's buffer
        self.assertEqual((self.writer.direct_frames, self.writer.buffered_frames), (1, 2))
        got = yield self.drain(303, bytearray())
        self.assertEqual(bytes(got), b"".join(burst))
        yield wait_until(lambda: not self.transport._tempDataLen and not self.transport.dataBuffer)
        yield turn()
        self.writer.write(b"next turn\n")                 # a new turn, nothing buffered: direct again
        self.assertEqual((self.writer.direct_frames, len(self.spy.calls)), (2, 2))
        got = yield self.drain(10, bytearray())
        self.assertEqual(bytes(got), b"next turn\n")

    @defer.inlineCallbacks
    def test_nothing_direct_after_lose_or_abort(self):
        self.writer.write(b"before\n")
        self.transport.loseConnection()
        self.writer.write(b"queued\n")          # after loseConnection: Twisted sends it, then closes
        self.assertEqual(len(self.spy.calls), 1)
        got = yield self.drain(len(b"before\nqueued\n"), bytearray())
        self.assertEqual(bytes(got), b"before\nqueued\n")

    @defer.inlineCallbacks
    def test_nothing_sent_after_abort(self):
        self.writer.write(b"before\n")
        self.transport.abortConnection()
        self.writer.write(b"after\n")
        self.assertEqual(len(self.spy.calls), 1)
        yield turn(0.01)
        got = bytearray()
        try:
            while chunk := self.reader.recv(65536):
                got += chunk
        except (BlockingIOError, ConnectionResetError):
            pass
        self.assertEqual(bytes(got), b"before\n")

    @defer.inlineCallbacks
    def test_send_error_falls_back_and_twisted_closes(self):
        lost = defer.Deferred()
        self.proto.connectionLost = lambda reason=None: lost.callback(None)
        self.reader.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.reader.close()                      # RST: the server's next send fails (ECONNRESET / EPIPE)
        self.writer.write(b"one\n")              # must not raise
        self.writer.write(b"two\n")
        self.assertFalse(self.writer.direct)
        self.assertIn(self.spy.calls[0][1], (errno.ECONNRESET, errno.EPIPE))
        self.assertEqual(len(self.spy.calls), 1)           # no further direct sends
        yield lost.addTimeout(5, reactor)        # Twisted noticed and closed the connection
        self.writer.write(b"three\n")            # after the close: ignored, as transport.write does


class Fallbacks(unittest.TestCase):
    def test_string_transport(self):
        t = StringTransport()
        w = DirectWriter(t)
        self.assertFalse(w.direct)
        w.write(b"a\n")
        w.write(b"b\n")
        self.assertEqual(t.value(), b"a\nb\n")
        self.assertEqual((w.direct_frames, w.buffered_frames), (0, 2))

    @defer.inlineCallbacks
    def check_fallback(self, server_desc, client_endpoint):
        f = accepting_factory()
        port = yield serverFromString(reactor, server_desc).listen(f)
        self.addCleanup(port.stopListening)
        c = yield connectProtocol(client_endpoint(port), Collect())
        yield wait_until(lambda: f.accepted)
        w = DirectWriter(f.accepted[0].transport)
        self.assertFalse(w.direct)
        sent = frames(0, 40)
        for fr in sent:
            w.write(fr)
        self.assertEqual((w.direct_frames, w.buffered_frames), (0, len(sent)))
        yield wait_until(lambda: len(c.data) >= sum(map(len, sent)))
        self.assertEqual(c.data, b"".join(sent))
        f.accepted[0].transport.loseConnection()
        yield c.closed

    def test_tls(self):
        certs = make_certs(Path(tempfile.mkdtemp(prefix="cti-fw-")))
        desc = f"ssl:0:interface=127.0.0.1:privateKey={certs['key']}:certKey={certs['cert']}"
        return self.check_fallback(desc, lambda port: SSL4ClientEndpoint(
            reactor, "127.0.0.1", port.getHost().port, CertificateOptions()))

    def test_unix_socket(self):
        path = os.path.join(tempfile.mkdtemp(prefix="cti-fw-"), "s")
        return self.check_fallback(f"unix:{path}", lambda port: UNIXClientEndpoint(reactor, path))


class FanOutWithADeadPeer(ServerMixin, unittest.TestCase):
    setUp = ServerMixin.start_server

    @defer.inlineCallbacks
    def plain_subscriber(self):
        """A client on a plain socket, logged in and subscribed to everything, that never reads again."""
        s = socket.socket()
        s.connect(("127.0.0.1", self.portno))
        s.setblocking(False)
        self.addCleanup(s.close)
        s.send(b'{"id":1,"op":"login","user":"sup","password":"sup-pw"}\n'
               b'{"id":2,"op":"subscribe","events":["*"]}\n')
        yield wait_until(lambda: any(c.session is not None and c.patterns for c in self.server.connections))
        [conn] = [c for c in self.server.connections if c.session is not None and c.patterns]
        return s, conn

    @defer.inlineCallbacks
    def test_peer_reset_mid_fan_out(self):
        victim, vconn = yield self.plain_subscriber()
        others = []
        for _ in range(3):
            c = yield self.client("admin", "admin-pw")
            yield c.request("subscribe", events=["*"])
            others.append(c)
        self.assertTrue(vconn.writer.direct)
        victim.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        victim.close()                           # RST before the server has noticed anything
        for n in range(5):                       # in one go: the server has no reactor turn in between
            self.engine.emit({"event": "channel.dtmf", "channel": "ss7/1", "call": "c1", "digit": "5", "n": n})
        self.assertFalse(vconn.writer.direct)     # its send failed; the fan-out went on (nothing raised)
        for c in others:
            yield c.wait_for(lambda m: m.get("data", {}).get("n") == 4)
            self.assertEqual([e["data"]["n"] for e in c.events()], [0, 1, 2, 3, 4])
            self.assertEqual([e["seq"] for e in c.events()], [1, 2, 3, 4, 5])
        yield wait_until(lambda: vconn not in self.server.connections)
        self.engine.emit({"event": "channel.dtmf", "channel": "ss7/1", "call": "c1", "digit": "6", "n": 5})
        for c in others:
            yield c.wait_for(lambda m: m.get("data", {}).get("n") == 5)
        self.assertEqual(others[0].events()[-1]["seq"], 6)
