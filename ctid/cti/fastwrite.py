"""Direct writes to an idle plain-TCP transport: one `send` instead of Twisted's buffer-and-wait write path.

Twisted's `transport.write(data)` only appends to a buffer and registers the socket for writability with the
reactor; the next reactor turn sends the buffer and unregisters the socket again. For a fan-out of one small
event frame to hundreds of idle connections that is two `epoll_ctl` calls and a reactor dispatch per frame,
about as much CPU as the `send` itself, and every frame waits for the end of the fan-out loop.

    writer = DirectWriter(transport)   # once, in connectionMade
    writer.write(frame)                # instead of transport.write(frame)

`write` sends at once with the socket's `send` when, and only when:

* the transport is Twisted's own TCP connection (`twisted.internet.tcp.Server` or `tcp.Client`, exactly: not
  a subclass such as the UNIX socket transport, not TLS: neither an `ssl:` endpoint, whose transport is a
  `TLSMemoryBIOProtocol`, nor a connection after `startTLS`) with the attributes this relies on (`socket`,
  `dataBuffer`, `offset`, `_tempDataBuffer`, `_tempDataLen`), checked once when the writer is made;
* it is connected and not closing (`disconnecting`, `_aborting`, `_writeDisconnected`, `_writeDisconnecting` all
  false: after `loseConnection()` or `abortConnection()` bytes go to `transport.write`, which sends what was
  written before a `loseConnection` and nothing after an abort, as without this writer);
* nothing is buffered in it (`_tempDataLen == 0` and `offset == len(dataBuffer)`), so the bytes cannot
  overtake earlier ones;
* it is the first write to this connection in the current reactor turn. Frames that follow in the same turn
  (a burst: several events of one media tick, pipelined responses) go to `transport.write` and leave together
  with one `send` on the next turn, as before: one `send` per frame would cost more than Twisted's buffering
  once a burst has more than a few frames. A turn is marked by a `callLater(0)` on the transport's reactor,
  scheduled once per turn in which some writer sent directly.

Whatever `send` did not take (the kernel's socket buffer is full: EAGAIN, or a partial send) goes to
`transport.write`, which buffers it and sends it when the socket is writable; from then on the buffer is not
empty, so later frames go through `transport.write` too until Twisted has sent it all: the byte order on the
wire is the order of the `write` calls. Because the remainder goes through `transport.write`, Twisted's
producer flow control is unchanged: its buffer grows only with what the kernel refused, and past
`transport.bufferSize` it pauses the registered streaming producer (the CTI connection), which then queues
events under the bounded-queue policy (docs/cti-protocol.md, section 11) exactly as before.

A socket error other than EAGAIN (EPIPE, ECONNRESET, ...) is not raised: the data goes to `transport.write`,
whose own `send` on the next reactor turn fails the same way and makes Twisted close the connection and call
`connectionLost` as usual. After such an error the writer stops sending directly.

Any other transport (TLS, UNIX sockets, `StringTransport` in tests, a wrapped transport) gets every byte through
`transport.write`, unchanged.
"""
from __future__ import annotations

import errno

from twisted.internet import tcp

_DIRECT_TYPES = (tcp.Server, tcp.Client)
_NEEDED = ("socket", "dataBuffer", "offset", "_tempDataBuffer", "_tempDataLen", "connected", "disconnecting",
           "_writeDisconnected", "_writeDisconnecting", "_aborting", "TLS", "reactor")
_WOULD_BLOCK = {errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS, errno.EINTR}


def supports_direct(transport) -> bool:
    """True when `transport` is a plain (not TLS) Twisted TCP connection with the expected internals."""
    if type(transport) not in _DIRECT_TYPES:
        return False
    if not all(hasattr(transport, name) for name in _NEEDED):
        return False
    if getattr(transport, "TLS", True):
        return False
    send = getattr(transport.socket, "send", None)
    return callable(send)


class _Turns:
    """Counts a reactor's turns, lazily: `number` changes once after every turn in which `mark()` was called."""

    __slots__ = ("reactor", "number", "_pending")

    def __init__(self, reactor):
        self.reactor = reactor
        self.number = 0
        self._pending = False

    def mark(self) -> None:
        if not self._pending:
            self._pending = True
            self.reactor.callLater(0, self._next)

    def _next(self) -> None:
        self._pending = False
        self.number += 1


_turns: dict[int, _Turns] = {}     # id(reactor) -> its turn counter (a process normally has one reactor)


def _turns_of(reactor) -> _Turns:
    t = _turns.get(id(reactor))
    if t is None or t.reactor is not reactor:
        t = _turns[id(reactor)] = _Turns(reactor)
    return t


class DirectWriter:
    """Writes to one transport: directly with `send` when the transport is idle plain TCP, else `transport.write`.

    `direct_frames` / `buffered_frames` count the writes that went each way (for tests and diagnostics).
    """

    __slots__ = ("transport", "direct", "_send", "_turns", "_last_turn", "direct_frames", "buffered_frames")

    def __init__(self, transport):
        self.transport = transport
        self.direct = supports_direct(transport)
        self._send = transport.socket.send if self.direct else None
        self._turns = _turns_of(transport.reactor) if self.direct else None
        self._last_turn = -1
        self.direct_frames = 0
        self.buffered_frames = 0

    def write(self, data: bytes) -> None:
        t = self.transport
        if not self.direct or t.TLS or not t.connected or t.disconnecting or t._aborting or t._writeDisconnected \
                or t._writeDisconnecting or t._tempDataLen or t.offset != len(t.dataBuffer) \
                or type(data) is not bytes or self._last_turn == self._turns.number:
            self.buffered_frames += 1
            t.write(data)
            return
        turns = self._turns
        self._last_turn = turns.number
        turns.mark()
        try:
            n = self._send(data)
        except OSError as exc:
            if exc.errno not in _WOULD_BLOCK:
                # EPIPE, ECONNRESET, ...: Twisted's own send fails the same way on its next turn and closes
                # the connection (connectionLost); we only stop sending directly.
                self.direct = False
            n = 0
        if n >= len(data):
            self.direct_frames += 1
            return
        self.buffered_frames += 1
        t.write(data[n:] if n else data)
