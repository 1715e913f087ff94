"""libcti.Client: a Twisted client for the ctid CTI protocol (docs/cti-protocol.md).

Every call returns a Deferred, so it works with inlineCallbacks (`yield`) and with `async def` (`await`, run
through Deferred.fromCoroutine / ensureDeferred). The client keeps its session: when the connection drops it
reconnects with backoff, logs in again, re-subscribes, takes a snapshot and emits a `cti.resync` event.
"""
from __future__ import annotations

import fnmatch
import json
import random

from twisted.internet import defer
from twisted.internet.error import ConnectError
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from .endpoints import client_endpoint
from ._json import loads
from .framing import FramingError, LengthReader, LineReader

log = Logger()

PROTOCOL = "ctid-cti/1"
# ops that end on their own (media, outbound calls): no client-side timeout unless given
LONG_OPS = {"play", "collect", "record", "originate"}
PRE_LOGIN = {"hello", "login", "ping"}
_CLIENT_EVENTS = frozenset({"channel.hangup", "cti.overflow"})    # see Client._event


class CtiError(Exception):
    """An error response (code and name as in the spec), or a client-side one: 408 timeout, 503 not connected.
    `details` holds the error object's other fields; `cause` the Q.850 cause of a failed call attempt (or None)."""

    def __init__(self, code: int, name: str, message: str, **details):
        super().__init__(code, name, message)
        self.code = code
        self.name = name
        self.message = message
        self.details = details
        self.cause = details.get("cause")

    def __str__(self):
        return f"{self.code} {self.name}: {self.message}"


class Event:
    """An event: `name` ("channel.incoming"), `data` (dict), `seq` (per connection, 0 for client-made events)."""

    __slots__ = ("name", "data", "seq")

    def __init__(self, name: str, data: dict, seq: int = 0):
        self.name = name
        self.data = data
        self.seq = seq

    def __getitem__(self, key):
        return self.data[key]

    def get(self, key, default=None):
        return self.data.get(key, default)

    def __eq__(self, other):
        return isinstance(other, Event) and (self.name, self.data, self.seq) == (other.name, other.data, other.seq)

    def __repr__(self):
        return f"Event({self.name!r}, {self.data!r}, seq={self.seq})"


def _dumps(obj) -> bytes:
    """Compact UTF-8 JSON; strings holding lone surrogates (JSON allows "\\ud800") go out as ASCII escapes."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode("ascii")


class _Connection(Protocol):
    """One TCP/TLS connection; the Client drives the session over it."""

    def __init__(self, client):
        self.client = client
        self.reader = LineReader()
        self.encode = LineReader.encode
        self.hello = defer.Deferred()
        self.switch_after = None      # request id whose response switches to length framing
        self.lost = False

    def connectionMade(self):
        self.client._clock_rx()
        nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if nodelay is not None:
            try:
                nodelay(True)
            except OSError:
                pass

    def dataReceived(self, data):
        client = self.client
        client._clock_rx()
        reader = self.reader
        if self.switch_after is None and reader.framing == "line":
            # the common case: every complete line of this read at once, events straight to the client
            try:
                frames = reader.split(data)
            except FramingError as exc:
                log.error("libcti: {err}", err=exc)
                self.transport.loseConnection()
                return
            for frame in frames:
                if self.lost:
                    return
                try:
                    msg = loads(frame)
                except (UnicodeDecodeError, ValueError):
                    log.error("libcti: server sent a frame that is not JSON: {f!r}", f=frame[:200])
                    continue
                if type(msg) is dict and msg.get("type") == "event":
                    client._event_frame(self, msg)
                else:
                    self._message(msg)
            return
        # a framing switch may come with this read: one frame at a time, the reader may change in between
        reader.feed(data)
        while not self.lost:
            try:
                frame = self.reader.next_frame()
            except FramingError as exc:
                log.error("libcti: {err}", err=exc)
                self.transport.loseConnection()
                return
            if frame is None:
                return
            self._handle(frame)

    def _handle(self, frame: bytes) -> None:
        try:
            msg = loads(frame)
        except (UnicodeDecodeError, ValueError):
            log.error("libcti: server sent a frame that is not JSON: {f!r}", f=frame[:200])
            return
        self._message(msg)

    def _message(self, msg) -> None:
        if type(msg) is not dict:
            return
        kind = msg.get("type")
        if kind == "event":
            self.client._event_frame(self, msg)
            return
        if kind == "hello" and not self.hello.called:
            self.hello.callback(msg)
            return
        if self.switch_after is not None and kind == "response" and msg.get("id") == self.switch_after:
            # switch before the response is handed on: the next request must already be length-prefixed
            self.switch_after = None
            if msg.get("ok"):
                rest = bytes(self.reader.buf)
                self.reader = LengthReader()
                self.encode = LengthReader.encode
                self.reader.feed(rest)
        self.client._frame(self, msg)

    def send(self, obj) -> None:
        self.transport.write(self.encode(_dumps(obj)))

    def connectionLost(self, reason=None):
        self.lost = True
        if not self.hello.called:
            why = reason.getErrorMessage() if reason is not None else "closed"
            self.hello.errback(CtiError(503, "unavailable", f"connection closed before the server's hello: {why}"))
        self.client._lost(self, reason)


class _Factory(Factory):
    def __init__(self, client):
        self.client = client

    def buildProtocol(self, addr):
        p = _Connection(self.client)
        p.factory = self
        return p


class Client:
    """A CTI session that survives reconnects.

    Client(endpoint, user=..., password=... | token=..., reactor=...)
      endpoint: "tcp:127.0.0.1:7000", "tls:host:7001:caFile=ca.pem", ... or an IStreamClientEndpoint
      timeout: default request timeout (s); play/collect/record/originate have none unless given
      reconnect: reconnect after a lost connection (backoff 0.5 s doubling to max_backoff)
      framing: "line" or "length"; ping_interval: ping the server after this much silence (s)
      clock: IReactorTime for the client's timers (default: the reactor)
    """

    def __init__(self, endpoint, *, user: str | None = None, password: str | None = None,
                 token: str | None = None, reactor=None, timeout: float = 10.0, reconnect: bool = True,
                 ca_file: str | None = None, framing: str = "line", max_backoff: float = 30.0,
                 ping_interval: float = 30.0, client_name: str = "libcti", clock=None):
        if reactor is None:
            from twisted.internet import reactor
        if token is None and (user is None or password is None):
            raise ValueError("give user and password, or token")
        if framing not in ("line", "length"):
            raise ValueError(f"framing must be 'line' or 'length', not {framing!r}")
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor    # timers (task.Clock in tests)
        self.endpoint = client_endpoint(reactor, endpoint, ca_file)
        self.endpoint_desc = endpoint if isinstance(endpoint, str) else repr(endpoint)
        self._creds = {"token": token} if token is not None else {"user": user, "password": password}
        self.timeout = timeout
        self.reconnect = reconnect
        self.framing = framing
        self.max_backoff = max_backoff
        self.ping_interval = ping_interval
        self.client_name = client_name
        self.session: dict | None = None      # login result: user, roles, agent
        self.snapshot_data: dict | None = None  # the last snapshot taken by the client itself
        self.last_seq = 0
        self.patterns: list[str] = []
        self._conn: _Connection | None = None
        self._ready = False
        self._closing = False
        self._next_id = 0
        self._pending: dict = {}
        self._listeners: list = []
        self._by_name: dict = {}
        self._channels: dict = {}
        self._agents: dict = {}
        self._attempt = 0
        self._reconnect_call = None
        self._ping_call = None
        self._last_rx = 0.0
        self._closed = None
        self._resyncing = False

    # -- connection and session -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ready and self._conn is not None and not self._conn.lost

    def connect(self) -> defer.Deferred:
        """Connect and log in; fires with the client. Errbacks CtiError (503 when the server cannot be
        reached, 401 when the login fails); no retry here."""
        self._closing = False
        return self._establish(resync=False).addCallback(lambda _: self)

    @defer.inlineCallbacks
    def _establish(self, resync: bool):
        try:
            conn = yield self.endpoint.connect(_Factory(self))
        except (ConnectError, OSError) as exc:
            raise CtiError(503, "unavailable", f"cannot connect to {self.endpoint_desc}: {exc}") from exc
        try:
            greeting = yield self._with_timeout(conn.hello, self.timeout, "the server's hello")
            if greeting.get("protocol") != PROTOCOL:
                raise CtiError(503, "unavailable", f"the server speaks {greeting.get('protocol')!r}, "
                                                   f"libcti speaks {PROTOCOL!r}")
            self._conn = conn
            hello = {"client": self.client_name}
            if self.framing == "length":
                hello["framing"] = "length"
                conn.switch_after = self._next_id + 1
            yield self._raw(conn, "hello", hello, self.timeout)
            login = yield self._raw(conn, "login", dict(self._creds), self.timeout)
            self.session = {k: login.get(k) for k in ("user", "roles", "agent")}
            snap, seq = login.get("snapshot"), login.get("seq", 0)
            if self.patterns:
                sub = yield self._raw(conn, "subscribe", {"events": list(self.patterns), "snapshot": True},
                                      self.timeout)
                snap, seq = sub["snapshot"], sub["seq"]
        except Exception:
            conn.transport.loseConnection()
            raise
        if self._closing:            # close() was called while (re)connecting
            conn.transport.loseConnection()
            raise CtiError(503, "unavailable", "client closed")
        self._ready = True
        conn.established = True
        self._attempt = 0
        self.snapshot_data = snap
        self._schedule_ping()
        if resync:
            self._apply_resync(snap, seq)
        return self

    def _with_timeout(self, d, timeout, what):
        if timeout is None:
            return d

        def expired(result, t):
            raise CtiError(408, "timeout", f"no {what} within {t:g} s")
        d.addTimeout(timeout, self.clock, onTimeoutCancel=lambda r, t: expired(r, t))
        return d

    def close(self) -> defer.Deferred:
        """Disconnect (the server ends the session); no reconnect. Fires once the connection is closed."""
        self._closing = True
        self._ready = False
        for name in ("_reconnect_call", "_ping_call"):
            c = getattr(self, name)
            if c is not None and c.active():
                c.cancel()
            setattr(self, name, None)
        conn = self._conn
        if conn is None or conn.lost:
            return defer.succeed(None)
        self._closed = defer.Deferred()
        conn.transport.loseConnection()
        return self._closed

    def _lost(self, conn, reason):
        err = CtiError(503, "unavailable", "connection lost")
        for rid, (d, c) in list(self._pending.items()):
            if c is conn:
                del self._pending[rid]
                if not d.called:
                    d.errback(err)
        if conn is not self._conn:
            return
        if self._closed is not None:
            closed, self._closed = self._closed, None
            closed.callback(None)
        if not getattr(conn, "established", False):
            return
        self._ready = False
        if self._ping_call is not None and self._ping_call.active():
            self._ping_call.cancel()
        self._ping_call = None
        if self._closing or not self.reconnect or self.session is None:
            return
        self._schedule_reconnect()

    def _schedule_reconnect(self):
        delay = min(0.5 * 2 ** self._attempt, self.max_backoff) * random.uniform(0.8, 1.2)
        self._attempt += 1
        log.info("libcti: connection to {ep} lost; reconnecting in {d:.1f} s", ep=self.endpoint_desc, d=delay)
        self._reconnect_call = self.clock.callLater(delay, self._reconnect)

    def _reconnect(self):
        self._reconnect_call = None
        if self._closing:
            return

        def failed(f):
            if not self._closing:
                log.info("libcti: reconnect failed: {e}", e=f.getErrorMessage())
                self._schedule_reconnect()
        self._establish(resync=True).addErrback(failed)

    def _apply_resync(self, snap: dict, seq: int):
        self.snapshot_data = snap
        live = {ch.get("channel"): ch for ch in snap.get("channels", [])}
        for cid, ch in list(self._channels.items()):
            info = live.get(cid)
            gone = info is None or info.get("state") in ("idle", "down") or (
                ch.call is not None and info.get("call") != ch.call)
            if gone:
                ch._hungup_by(Event("channel.hangup", {"channel": cid, "call": ch.call, "cause": None,
                                                       "cause_text": "gone after resync"}))
        self._dispatch(Event("cti.resync", snap, seq))

    # -- keep-alive -----------------------------------------------------------------------------------------
    def _clock_rx(self):
        self._last_rx = self.clock.seconds()

    def _schedule_ping(self):
        if self.ping_interval and self._ping_call is None:
            self._ping_call = self.clock.callLater(self.ping_interval, self._ping_tick)

    def _ping_tick(self):
        self._ping_call = None
        conn = self._conn
        if conn is None or conn.lost or self._closing:
            return
        idle = self.clock.seconds() - self._last_rx
        if idle >= self.ping_interval:
            def dead(f):
                if f.check(CtiError) and f.value.code == 408 and not conn.lost:
                    log.info("libcti: server did not answer a ping: reconnecting")
                    conn.transport.abortConnection()
            self._raw(conn, "ping", {}, 10.0).addErrback(dead)
            delay = self.ping_interval
        else:
            delay = self.ping_interval - idle
        self._ping_call = self.clock.callLater(delay, self._ping_tick)

    # -- requests -------------------------------------------------------------------------------------------
    def _raw(self, conn, op: str, args: dict, timeout) -> defer.Deferred:
        self._next_id += 1
        rid = self._next_id
        d = defer.Deferred(lambda _d: self._pending.pop(rid, None))
        self._pending[rid] = (d, conn)
        msg = {"id": rid, "op": op}
        msg.update(args)
        conn.send(msg)
        if timeout is not None:
            def expired(result, t):
                self._pending.pop(rid, None)
                raise CtiError(408, "timeout", f"no response to {op!r} within {t:g} s")
            d.addTimeout(timeout, self.clock, onTimeoutCancel=expired)
        return d

    def request(self, op: str, *, request_timeout: float | None = -1, **args) -> defer.Deferred:
        """Send `op` with `args`; fires with the result dict or errbacks CtiError.

        request_timeout: seconds to wait for the response (None: no limit; on expiry CtiError 408); default:
        the client's `timeout`, none for play/collect/record/originate (they end on their own).
        """
        timeout = request_timeout
        if timeout == -1:
            timeout = None if op in LONG_OPS else self.timeout
        conn = self._conn
        if conn is None or conn.lost or not (self._ready or op in PRE_LOGIN):
            return defer.fail(CtiError(503, "unavailable", f"not connected (op {op!r})"))
        return self._raw(conn, op, args, timeout)

    def _frame(self, conn, msg: dict):
        kind = msg.get("type")
        if kind == "response":
            entry = self._pending.pop(msg.get("id"), None)
            if entry is None:
                return
            d = entry[0]
            if msg.get("ok"):
                d.callback(msg.get("result") or {})
            else:
                e = dict(msg.get("error") or {})
                d.errback(CtiError(e.pop("code", 500), e.pop("name", "internal"), e.pop("message", ""), **e))
        elif kind == "event":
            self._event_frame(conn, msg)
        elif kind == "ping":
            conn.send({"op": "pong"})

    def _event_frame(self, conn, msg: dict):
        seq = msg.get("seq", 0)
        if isinstance(seq, int):
            last = self.last_seq
            if last and seq != last + 1 and seq != 1 and conn is self._conn:
                log.warn("libcti: event seq jumped from {a} to {b}", a=last, b=seq)
            self.last_seq = seq
        name = msg.get("event", "")
        ev = Event(name, msg.get("data") or {}, seq)
        handlers = self._by_name.get(name)
        if handlers is None or name in _CLIENT_EVENTS:   # handlers not cached yet, or the client acts on it
            self._event(ev)
            return
        for fn in handlers:          # as _dispatch(ev), inline: this runs for every event
            try:
                r = fn(ev)
                if r is not None:
                    self._handler_result(r)
            except Exception:  # noqa: BLE001 - one bad handler must not stop the others
                log.failure("libcti: event handler for {name} failed", name=name)

    def _event(self, ev: Event):
        if ev.name == "channel.hangup":
            ch = self._channels.get(ev.data.get("channel"))
            if ch is not None and (ch.call is None or ev.data.get("call") in (None, ch.call)):
                ch._hungup_by(ev)
        self._dispatch(ev)
        if ev.name == "cti.overflow" and self._ready and not self._resyncing:
            self._resyncing = True

            def done(snap):
                self._resyncing = False
                seq = snap.pop("seq", 0)
                self._apply_resync(snap, seq)

            def failed(f):
                self._resyncing = False
                log.info("libcti: resync after overflow failed: {e}", e=f.getErrorMessage())
            self.request("snapshot").addCallbacks(done, failed)

    def _dispatch(self, ev: Event):
        handlers = self._by_name.get(ev.name)
        if handlers is None:     # the handlers for an event name, cached until on()/off() change them
            handlers = self._by_name[ev.name] = tuple(fn for pattern, fn in self._listeners
                                                      if fnmatch.fnmatchcase(ev.name, pattern))
        for fn in handlers:
            try:
                r = fn(ev)
                if r is not None:
                    self._handler_result(r)
            except Exception:  # noqa: BLE001 - one bad handler must not stop the others
                log.failure("libcti: event handler for {name} failed", name=ev.name)

    @staticmethod
    def _handler_result(r):
        """A handler returned a Deferred or an awaitable: run it, log its failure."""
        if isinstance(r, defer.Deferred):
            r.addErrback(lambda f: log.failure("libcti: event handler failed", f))
        elif hasattr(r, "__await__"):
            defer.ensureDeferred(r).addErrback(lambda f: log.failure("libcti: event handler failed", f))

    # -- events ---------------------------------------------------------------------------------------------
    def on(self, pattern: str, fn):
        """Call fn(Event) for events whose name matches the glob `pattern` (an async fn is run too).
        Returns a function that removes the handler. Events arrive only once subscribed (subscribe())."""
        entry = (pattern, fn)
        self._listeners.append(entry)
        self._by_name.clear()

        def off():
            if entry in self._listeners:
                self._listeners.remove(entry)
                self._by_name.clear()
        return off

    def wait_for(self, pattern: str, where=None, timeout: float | None = None) -> defer.Deferred:
        """Fires with the next Event matching the glob `pattern` (and `where(event)` if given); after `timeout`
        seconds errbacks CtiError 408. Subscribe to the events first."""
        d = defer.Deferred(lambda _d: remove())

        def check(ev):
            if d.called:
                return
            if where is None or where(ev):
                remove()
                d.callback(ev)
        remove = self.on(pattern, check)
        if timeout is not None:
            def expired(result, t):
                remove()
                raise CtiError(408, "timeout", f"no {pattern} event within {t:g} s")
            d.addTimeout(timeout, self.clock, onTimeoutCancel=expired)
        return d

    def off(self, pattern: str, fn) -> None:
        if (pattern, fn) in self._listeners:
            self._listeners.remove((pattern, fn))
            self._by_name.clear()

    def subscribe(self, patterns, snapshot: bool = False) -> defer.Deferred:
        """Subscribe to events (glob patterns); remembered for reconnects. Fires with the server's result."""
        if isinstance(patterns, str):
            patterns = [patterns]
        for p in patterns:
            if p not in self.patterns:
                self.patterns.append(p)
        return self.request("subscribe", events=list(patterns), snapshot=snapshot)

    def unsubscribe(self, patterns=None) -> defer.Deferred:
        if patterns is None:
            self.patterns = []
            return self.request("unsubscribe")
        if isinstance(patterns, str):
            patterns = [patterns]
        self.patterns = [p for p in self.patterns if p not in patterns]
        return self.request("unsubscribe", events=list(patterns))

    def snapshot(self) -> defer.Deferred:
        """Fires with {"channels", "calls", "agents", "queues", "seq"} as this user may see them."""
        def keep(snap):
            self.snapshot_data = {k: v for k, v in snap.items() if k != "seq"}
            return snap
        return self.request("snapshot").addCallback(keep)

    def ping(self) -> defer.Deferred:
        return self.request("ping")

    # -- helpers --------------------------------------------------------------------------------------------
    def channel(self, channel_id: str, call: str | None = None):
        """The libcti.Channel for a channel id (the same object until that channel hangs up)."""
        from .channel import Channel

        ch = self._channels.get(channel_id)
        if ch is None or ch.hungup:
            ch = Channel(self, channel_id, call)
            self._channels[channel_id] = ch
            if not any(fnmatch.fnmatchcase("channel.hangup", p) for p in self.patterns) and self._ready:
                self.subscribe(["channel.hangup"]).addErrback(
                    lambda f: log.info("libcti: subscribe channel.hangup failed: {e}", e=f.getErrorMessage()))
        elif ch.call is None and call is not None:
            ch.call = call
        return ch

    def _forget_channel(self, ch) -> None:
        if self._channels.get(ch.id) is ch:
            del self._channels[ch.id]

    def agent(self, agent_id: str | None = None):
        """The libcti.Agent helper for an agent id (default: the logged-in user's agent)."""
        from .channel import Agent

        if agent_id is None:
            agent_id = (self.session or {}).get("agent")
            if agent_id is None:
                raise ValueError("this user is not an agent: give the agent id")
        a = self._agents.get(agent_id)
        if a is None:
            a = self._agents[agent_id] = Agent(self, agent_id)
        return a


def connect(endpoint, **kwargs) -> defer.Deferred:
    """Client(endpoint, **kwargs).connect(): fires with the logged-in Client."""
    return Client(endpoint, **kwargs).connect()
