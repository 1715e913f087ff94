"""A raw CTI client for the server tests: sends bytes or JSON frames and collects what the server sends."""
from __future__ import annotations

import json
import socket
import struct

from twisted.internet import defer, reactor
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol

from ctid.cti import CtiServer
from cti_doubles import FakeEngine, demo_users


class RawClient(Protocol):
    def __init__(self):
        self.buf = b""
        self.frames = []          # parsed JSON objects in arrival order
        self.framing = "line"
        self.waiters = []         # (predicate, Deferred)
        self.closed = defer.Deferred()
        self.lost = False
        self.next_id = 0

    def dataReceived(self, data):
        self.buf += data
        while True:
            if self.framing == "line":
                nl = self.buf.find(b"\n")
                if nl < 0:
                    break
                raw, self.buf = self.buf[:nl], self.buf[nl + 1:]
            else:
                if len(self.buf) < 4:
                    break
                (n,) = struct.unpack(">I", self.buf[:4])
                if len(self.buf) < 4 + n:
                    break
                raw, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
            msg = json.loads(raw)
            self.frames.append(msg)
            if msg.get("type") == "response" and msg.get("result", {}).get("framing") == "length":
                self.framing = "length"
            for w in list(self.waiters):
                pred, d = w
                if pred(msg):
                    self.waiters.remove(w)
                    d.callback(msg)

    def connectionLost(self, reason=None):
        self.lost = True
        self.closed.callback(None)

    def wait_for(self, pred, timeout=5.0):
        for m in self.frames:
            if pred(m) and not m.get("_seen"):
                m["_seen"] = True
                return defer.succeed(m)
        d = defer.Deferred()
        self.waiters.append((pred, d))

        def mark(m):
            m["_seen"] = True
            return m
        d.addCallback(mark)
        return d.addTimeout(timeout, reactor)

    def send_raw(self, data: bytes):
        self.transport.write(data)

    def send(self, obj):
        payload = json.dumps(obj).encode()
        if self.framing == "line":
            self.transport.write(payload + b"\n")
        else:
            self.transport.write(struct.pack(">I", len(payload)) + payload)

    def request(self, op, **args):
        self.next_id += 1
        rid = self.next_id
        self.send(dict(id=rid, op=op, **args))
        return self.wait_for(lambda m: m.get("type") == "response" and m.get("id") == rid)

    def response(self, rid=None):
        return self.wait_for(lambda m: m.get("type") == "response" and m.get("id") == rid)

    def events(self):
        return [m for m in self.frames if m.get("type") == "event"]


def _connect_small_window(port: int, rcvbuf: int) -> defer.Deferred:
    """A RawClient on a socket whose receive buffer is set *before* connecting, so the TCP window it
    advertises stays that small (set after the handshake, Linux keeps the larger window already offered and a
    client that stops reading may still take tens of kB later)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))          # loopback: completes at once
    s.setblocking(False)
    proto = RawClient()
    reactor.adoptStreamConnection(s.fileno(), socket.AF_INET, Factory.forProtocol(lambda: proto))
    s.close()                                # the reactor has its own duplicate of the descriptor
    return defer.succeed(proto)


@defer.inlineCallbacks
def raw_client(port: int, login: tuple | None = None, rcvbuf: int | None = None):
    if rcvbuf is None:
        c = yield connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), RawClient())
    else:
        c = yield _connect_small_window(port, rcvbuf)
    yield c.wait_for(lambda m: m.get("type") == "hello")
    if login is not None:
        r = yield c.request("login", user=login[0], password=login[1])
        assert r["ok"], r
    return c


def error_code(resp):
    assert resp["type"] == "response", resp
    return None if resp["ok"] else resp["error"]["code"]


class ServerMixin:
    """setUp helper for trial TestCases: a CtiServer over the FakeEngine on a loopback port."""

    clock = None
    server_kwargs: dict = {}

    @defer.inlineCallbacks
    def start_server(self, **kw):
        self.engine = FakeEngine()
        self.users = demo_users()
        args = dict(self.server_kwargs)
        args.update(kw)
        self.server = CtiServer(self.engine, self.users, clock=self.clock or reactor, **args)
        [self.port] = yield self.server.listen(reactor, ["tcp:0:interface=127.0.0.1"])
        self.portno = self.port.getHost().port
        self.clients = []
        self.addCleanup(self.stop_server)

    @defer.inlineCallbacks
    def stop_server(self):
        for c in self.clients:
            if not c.lost:
                c.transport.abortConnection()
                yield c.closed
        for conn in list(self.server.connections):
            conn.transport.abortConnection()
        yield self.port.stopListening()
        yield self._drain()

    def _drain(self):
        from twisted.internet import task
        return task.deferLater(reactor, 0.01, lambda: None)

    @defer.inlineCallbacks
    def client(self, user=None, password=None, rcvbuf=None):
        c = yield raw_client(self.portno, (user, password) if user else None, rcvbuf)
        self.clients.append(c)
        return c
