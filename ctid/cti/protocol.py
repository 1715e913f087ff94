"""One CTI connection: framing, requests, login, subscriptions, the bounded event queue and keep-alive.

The protocol is its transport's streaming producer: when the transport's buffer is full it calls
pauseProducing(); from then on events wait in a bounded queue (overflow policy: spec section 11) and requests
are held unprocessed (at most 1 MiB); resumeProducing() flushes the queue and processes them.
"""
from __future__ import annotations

import fnmatch
import json
import re
from collections import deque

from twisted.internet import defer
from twisted.internet.protocol import Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer
from twisted.internet.interfaces import IPushProducer

from .auth import ConnectionThrottle, Session
from .errors import FramingLost, OpError
from .fastwrite import DirectWriter
from .framing import LengthDecoder, LineDecoder
from .ops import Arg, RequestContext, parse_args
from .visibility import agent_view, mask_snapshot

log = Logger()

PROTOCOL = "ctid-cti/1"
BINARY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_BAD_FRAMES = 16
MAX_PATTERNS = 64
MAX_HELD = 1 << 20        # input held while output is blocked; more and the connection is dropped
SESSION_OPS = {"hello", "login", "logout", "ping", "pong", "subscribe", "unsubscribe", "snapshot"}
PRE_LOGIN = {"hello", "login", "ping", "pong"}

_HELLO_ARGS = {"framing": Arg("str", max_len=16), "client": Arg("str", max_len=128)}
_LOGIN_ARGS = {"user": Arg("str", max_len=128), "password": Arg("str", max_len=1024),
               "token": Arg("str", max_len=1024)}
_SUB_ARGS = {"events": Arg("patterns", required=True), "snapshot": Arg("bool", default=False)}
_UNSUB_ARGS = {"events": Arg("patterns", default=None, nullable=True)}
_NO_ARGS: dict = {}


def _dumps(obj) -> bytes:
    """Compact UTF-8 JSON; strings holding lone surrogates (JSON allows "\\ud800") go out as ASCII escapes."""
    try:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":")).encode("ascii")


def error_frame(rid, err: OpError) -> bytes:
    return _dumps({"type": "response", "id": rid, "ok": False, "error": err.to_dict()})


@implementer(IPushProducer)
class CtiProtocol(Protocol):
    def __init__(self):
        self.session: Session | None = None
        self.decoder = LineDecoder()
        self.encode = LineDecoder.encode
        self.requests_seen = 0
        self.bad_frames = 0
        self.inflight = 0
        self.login_pending = False
        self._after_login: list[bytes] = []
        self.closing = False
        self.seq = 0
        self.patterns: list[str] = []
        self._match_cache: dict[str, bool] = {}
        # output: deque of ("raw", framed bytes) | ("event", frame template) | ("overflow",)
        self.queue: deque = deque()
        self.queued_events = 0
        self.paused = False
        self._held = bytearray()
        self.dropped = 0
        self.overflow_since = None
        self._overflow_timer = None
        self._ping_timer = None
        self._login_timer = None
        self._abort_timer = None
        self.missed_pings = 0
        self.last_rx = 0.0
        self.writer: DirectWriter | None = None
        self._write = None            # writer.write: direct send on idle plain TCP, else transport.write

    # -- connection -------------------------------------------------------------------------------------------
    def connectionMade(self):
        f = self.factory
        self.clock = f.clock
        self.decoder = LineDecoder(f.max_frame)
        self.throttle = ConnectionThrottle(self.clock)
        self.last_rx = self.clock.seconds()
        f.connections.add(self)
        self.writer = DirectWriter(self.transport)
        self._write = self.writer.write
        nodelay = getattr(self.transport, "setTcpNoDelay", None)
        if nodelay is not None:   # small frames go out at once (no Nagle wait for the peer's delayed ACK)
            try:
                nodelay(True)
            except OSError:
                pass
        self.transport.registerProducer(self, True)
        self.send(_dumps({"type": "hello", "protocol": PROTOCOL, "server": f"ctid {f.version}",
                          "auth": ["password", "token"], "max_frame": f.max_frame}))
        self._ping_timer = self.clock.callLater(f.ping_interval, self._ping_tick)
        self._start_login_timer()

    def connectionLost(self, reason=None):
        self.closing = True
        self.factory.connections.discard(self)
        for name in ("_ping_timer", "_login_timer", "_overflow_timer", "_abort_timer"):
            t = getattr(self, name)
            if t is not None and t.active():
                t.cancel()
            setattr(self, name, None)
        self.queue.clear()
        self.queued_events = 0

    def close(self, why: str = "") -> None:
        """Close after what is already written; abort if the peer does not take it within 10 s."""
        if self.closing:
            return
        self.closing = True
        if why:
            log.info("CTI connection {peer} closed: {why}", peer=self._peer(), why=why)
        self.factory.connections.discard(self)
        for item in self.queue:          # responses waiting behind a blocked output still go (events do not)
            if item[0] == "raw":
                self._write(item[1])
        self.queue.clear()
        self.queued_events = 0
        self.transport.loseConnection()
        self._abort_timer = self.clock.callLater(10.0, self.abort)

    def abort(self) -> None:
        self.closing = True
        self.factory.connections.discard(self)
        abort = getattr(self.transport, "abortConnection", None)
        (abort or self.transport.loseConnection)()

    def _peer(self):
        try:
            return str(self.transport.getPeer())
        except Exception:  # noqa: BLE001 - only for logging
            return "?"

    # -- timers ---------------------------------------------------------------------------------------------
    def _start_login_timer(self):
        if self._login_timer is not None and self._login_timer.active():
            self._login_timer.cancel()
        self._login_timer = self.clock.callLater(self.factory.login_timeout, self._login_expired)

    def _login_expired(self):
        self._login_timer = None
        if self.session is None and not self.closing:
            self.send(error_frame(None, OpError(401, "no login within "
                                                     f"{self.factory.login_timeout:g} s: closing")))
            self.close("login timeout")

    def _ping_tick(self):
        self._ping_timer = None
        if self.closing:
            return
        interval = self.factory.ping_interval
        now = self.clock.seconds()
        idle = now - self.last_rx
        if idle >= interval:
            if self.missed_pings >= self.factory.max_missed_pings:
                self.close(f"{self.missed_pings} keep-alive pings unanswered")
                return
            self.send(_dumps({"type": "ping", "time": now}))
            self.missed_pings += 1
            delay = interval
        else:
            delay = interval - idle
        self._ping_timer = self.clock.callLater(delay, self._ping_tick)

    # -- input ----------------------------------------------------------------------------------------------
    def dataReceived(self, data: bytes):
        if self.closing:
            return
        self.last_rx = self.clock.seconds()
        self.missed_pings = 0
        if self.paused:
            # Output is blocked: hold the input unprocessed (its responses could not be sent anyway). Done
            # here rather than by pausing the transport's reading, which would stall a TLS handshake.
            self._held += data
            if len(self._held) > MAX_HELD:
                self.abort()
            return
        self.decoder.feed(data)
        while not self.closing:
            try:
                frame = self.decoder.next_frame()
            except FramingLost as exc:
                self.send(error_frame(None, exc.error))
                self.close(exc.error.message)
                return
            if frame is None:
                return
            self.handle_frame(frame)

    def handle_frame(self, frame: bytes) -> bool:
        """Parse and dispatch one frame; True when it switched the framing."""
        if self.login_pending:
            # requests pipelined behind a login run once it has completed (so they see its session)
            if len(self._after_login) >= self.factory.max_inflight:
                self.send(error_frame(None, OpError(429, "too many requests waiting for a login to complete")))
                return False
            self._after_login.append(frame)
            return False
        if not frame:
            return self._bad(None, OpError(400, "empty frame"))
        if BINARY.search(frame):
            self.send(error_frame(None, OpError(400, "binary data in a frame (control bytes): closing")))
            self.close("binary data")
            return False
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.send(error_frame(None, OpError(400, f"frame is not UTF-8 ({exc.reason} at byte {exc.start}): "
                                                     "closing")))
            self.close("invalid UTF-8")
            return False
        try:
            req = json.loads(text)
        except (ValueError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            pos = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            return self._bad(None, OpError(400, f"frame is not JSON: {msg}{pos}"))
        if not isinstance(req, dict):
            return self._bad(None, OpError(400, f"frame must be a JSON object, not {type(req).__name__}"))
        rid = req.get("id")
        if rid is not None and (isinstance(rid, bool) or not isinstance(rid, (int, str))
                                or isinstance(rid, str) and len(rid) > 64):
            return self._bad(None, OpError(400, "'id' must be an integer or a string of at most 64 characters"))
        op = req.get("op")
        if not isinstance(op, str):
            return self._bad(rid, OpError(400, "'op' missing or not a string"))
        self.bad_frames = 0
        first = self.requests_seen == 0
        self.requests_seen += 1
        if op == "pong":
            return False
        if op == "hello":
            return self._hello(rid, req, first)
        self.dispatch(rid, op, req)
        return False

    def _bad(self, rid, err: OpError) -> bool:
        self.bad_frames += 1
        self.send(error_frame(rid, err))
        if self.bad_frames >= MAX_BAD_FRAMES:
            self.close(f"{self.bad_frames} bad frames in a row")
        return False

    # -- session ops ----------------------------------------------------------------------------------------
    def _hello(self, rid, req, first) -> bool:
        try:
            args = parse_args("hello", _HELLO_ARGS, req)
            if self.session is not None:
                raise OpError(409, "hello: only before login")
            framing = args.get("framing")
            if framing not in (None, "line", "length"):
                raise OpError(400, f"hello: framing must be 'line' or 'length', not {framing!r}")
            switch = framing is not None and framing != self.decoder.framing
            if switch and not first:
                raise OpError(409, "hello: framing can be switched only by the first request")
        except OpError as err:
            self.send(error_frame(rid, err))
            return False
        if args.get("client"):
            log.info("CTI client {peer}: {client!r}", peer=self._peer(), client=args["client"])
        result = {"protocol": PROTOCOL, "server": f"ctid {self.factory.version}",
                  "framing": framing or self.decoder.framing}
        self.send(_dumps({"type": "response", "id": rid, "ok": True, "result": result}))
        if not switch:
            return False
        rest = self.decoder.take_rest()
        self.decoder = LengthDecoder(self.factory.max_frame)
        self.decoder.feed(rest)
        self.encode = LengthDecoder.encode
        return True

    def dispatch(self, rid, op: str, req: dict) -> None:
        f = self.factory
        spec = f.ops.get(op)
        if spec is None and op not in SESSION_OPS:
            self.send(error_frame(rid, OpError(400, f"unknown op {op!r}")))
            return
        if self.session is None and op not in PRE_LOGIN:
            self.send(error_frame(rid, OpError(401, f"log in first (op {op!r})")))
            return
        limit = f.max_inflight_ivr if self.session is not None and "ivr" in self.session.roles else f.max_inflight
        if self.inflight >= limit:
            self.send(error_frame(rid, OpError(429, f"more than {limit} requests in flight")))
            return
        try:
            if op in SESSION_OPS:
                d = getattr(self, "op_" + op)(rid, req)
            else:
                s = self.session
                if spec.roles is not None and not s.roles & spec.roles:
                    raise OpError(403, f"role {'/'.join(sorted(s.roles)) or 'none'} may not use op {op!r}")
                args = parse_args(op, spec.args, req)
                ctx = RequestContext(f, self, s)
                ctx.op = op
                if spec.scope is not None and not s.has("admin", "supervisor", "ivr"):
                    self._check_scope(ctx, spec, args)
                d = spec.handler(ctx, args)
        except OpError as err:
            self.send(error_frame(rid, err))
            return
        except Exception:  # noqa: BLE001 - EngineError raised at once, or a handler bug (logged, 500)
            self.send(error_frame(rid, f.to_op_error(Failure(), op)))
            return
        if not isinstance(d, defer.Deferred):
            self._respond(d, rid, op)
            return
        self.inflight += 1
        d.addCallbacks(self._respond, self._respond_error, callbackArgs=(rid, op), errbackArgs=(rid, op))
        d.addBoth(self._done_one)
        if op == "login":
            d.addBoth(self._login_done)

    def _login_done(self, _):
        waiting, self._after_login = self._after_login, []
        for frame in waiting:
            if self.closing:
                return
            self.handle_frame(frame)

    def _done_one(self, _):
        self.inflight -= 1

    def _check_scope(self, ctx, spec, args):
        if spec.scope == "number":
            number = args.get("number")
            if not isinstance(number, str) or not ctx.agent_has_number(number):
                raise OpError(403, f"{spec.name}: the number is not on a call offered to or held by "
                                   f"agent {self.session.agent!r}")
        elif spec.scope == "call":
            call = args.get("call")
            if call not in {c.get("call") for c in ctx.agent_calls()}:
                raise OpError(403, f"{spec.name}: call {call!r} is not offered to or held by "
                                   f"agent {self.session.agent!r}")

    def _respond(self, result, rid, op):
        if self.closing:
            return
        if result is None:
            result = {}
        if not isinstance(result, dict):
            log.error("CTI op {op} returned {t}, not a dict", op=op, t=type(result).__name__)
            self.send(error_frame(rid, OpError(500, f"internal error in op {op!r}")))
            return
        try:
            payload = _dumps({"type": "response", "id": rid, "ok": True, "result": result})
        except (TypeError, ValueError):
            log.failure("CTI op {op}: result not JSON", op=op)
            payload = error_frame(rid, OpError(500, f"internal error in op {op!r}"))
        self.send(payload)

    def _respond_error(self, failure: Failure, rid, op):
        if self.closing:
            return
        self.send(error_frame(rid, self.factory.to_op_error(failure, op)))

    def op_ping(self, rid, req):
        parse_args("ping", _NO_ARGS, req)
        return {"time": self.clock.seconds()}

    def op_login(self, rid, req):
        f = self.factory
        args = parse_args("login", _LOGIN_ARGS, req)
        if self.session is not None:
            raise OpError(409, f"already logged in as {self.session.user!r}: log out first")
        token = args.get("token")
        user, password = args.get("user"), args.get("password")
        if token is not None and (user is not None or password is not None):
            raise OpError(400, "login: give either 'token' or 'user' and 'password', not both")
        if token is None and (user is None or password is None):
            raise OpError(400, "login: give 'user' and 'password', or 'token'")
        wait = self.throttle.wait()
        if wait > 0:
            raise OpError(429, f"too many failed logins on this connection: retry in {wait:.0f} s")
        if user is not None:
            locked = f.user_throttle.locked_for(user)
            if locked > 0:
                raise OpError(429, f"too many failed logins for this user: retry in {locked:.0f} s")
            d = f.run_blocking(f.users.authenticate, user, password)
        else:
            d = f.run_blocking(f.users.authenticate_token, token)
        self.login_pending = True

        def checked(principal):
            self.login_pending = False
            if principal is None:
                log.info("CTI login failed for {who} from {peer}", peer=self._peer(),
                         who=repr(user[:64]) if user is not None else "a token")
                if user is not None:
                    f.user_throttle.failed(user)
                if self.throttle.failed():
                    self.clock.callLater(0, self.close, "too many failed logins")
                raise OpError(401, "login failed: wrong user, password or token")
            if user is not None:
                f.user_throttle.succeeded(user)
            self.throttle.succeeded()
            if self.closing:
                return {}
            self.session = Session.from_principal(principal)
            if self._login_timer is not None and self._login_timer.active():
                self._login_timer.cancel()
            self._login_timer = None
            log.info("CTI login {user!r} ({roles}) from {peer}", user=self.session.user,
                     roles=",".join(sorted(self.session.roles)), peer=self._peer())
            s = self.session
            return {"user": s.user, "roles": sorted(s.roles), "agent": s.agent,
                    "snapshot": self.view_snapshot(), "seq": self.seq}

        def store_failed(failure):
            self.login_pending = False
            if failure.check(OpError):
                return failure
            log.failure("CTI user store failed", failure)
            raise OpError(503, "the user database is unavailable")
        return d.addCallbacks(checked, store_failed)

    def op_logout(self, rid, req):
        parse_args("logout", _NO_ARGS, req)
        self.session = None
        self.patterns = []
        self._match_cache.clear()
        self._start_login_timer()
        return {}

    def op_subscribe(self, rid, req):
        args = parse_args("subscribe", _SUB_ARGS, req)
        new = [p for p in dict.fromkeys(args["events"]) if p not in self.patterns]
        if len(self.patterns) + len(new) > MAX_PATTERNS:
            raise OpError(400, f"subscribe: at most {MAX_PATTERNS} patterns per connection "
                               f"({len(self.patterns)} subscribed already)")
        self.patterns.extend(new)
        self._match_cache.clear()
        result = {"events": list(self.patterns)}
        if args["snapshot"]:
            result["snapshot"] = self.view_snapshot()
            result["seq"] = self.seq
        return result

    def op_unsubscribe(self, rid, req):
        args = parse_args("unsubscribe", _UNSUB_ARGS, req)
        if args.get("events") is None:
            self.patterns = []
        else:
            self.patterns = [p for p in self.patterns if p not in args["events"]]
        self._match_cache.clear()
        return {"events": list(self.patterns)}

    def op_snapshot(self, rid, req):
        parse_args("snapshot", _NO_ARGS, req)
        snap = self.view_snapshot()
        snap["seq"] = self.seq
        return snap

    def view_snapshot(self) -> dict:
        """The engine's snapshot as this session may see it. `seq` is taken together with it (no reactor turn)."""
        snap = self.factory.engine.snapshot()
        snap = {k: snap.get(k, []) for k in ("channels", "calls", "agents", "queues")}
        s = self.session
        if s.agent_only:
            return agent_view(snap, s.agent)
        if s.masked:
            return mask_snapshot(snap)
        return snap

    # -- events ---------------------------------------------------------------------------------------------
    def wants(self, name: str) -> bool:
        hit = self._match_cache.get(name)
        if hit is None:
            hit = any(fnmatch.fnmatchcase(name, p) for p in self.patterns)
            self._match_cache[name] = hit
        return hit

    def offer_event(self, template: bytes) -> None:
        """Queue or write one event (already filtered for this connection). `template` is the event frame with
        `%d` where the seq goes (any other % doubled)."""
        if self.closing:
            return
        if not self.paused and not self.queue:
            self.seq += 1
            self._write(self.encode(template % self.seq))
            return
        if self.queued_events >= self.factory.queue_limit:
            self._overflow()
        self.queue.append(("event", template))
        self.queued_events += 1

    def _overflow(self):
        kept = deque(item for item in self.queue if item[0] == "raw")
        self.dropped += self.queued_events
        self.queue = kept
        self.queued_events = 0
        self.queue.append(("overflow",))
        if self.overflow_since is None:
            self.overflow_since = self.clock.seconds()
            self._overflow_timer = self.clock.callLater(self.factory.overflow_grace, self._overflow_expired)

    def _overflow_expired(self):
        self._overflow_timer = None
        if self.overflow_since is not None and not self.closing:
            log.info("CTI connection {peer}: output blocked {s:g} s after overflow: disconnecting",
                     peer=self._peer(), s=self.factory.overflow_grace)
            self.abort()

    def _write_event(self, template: bytes) -> None:
        self.seq += 1
        self._write(self.encode(template % self.seq))

    def send(self, payload: bytes) -> None:
        """Write a non-event frame (response, hello, ping): queued behind events when paused, never dropped."""
        data = self.encode(payload)
        if self.paused or self.queue:
            self.queue.append(("raw", data))
        else:
            self._write(data)

    def _flush(self):
        q = self.queue
        while q and not self.paused and not self.closing:
            item = q.popleft()
            kind = item[0]
            if kind == "event":
                self.queued_events -= 1
                self._write_event(item[1])
            elif kind == "raw":
                self._write(item[1])
            else:
                dropped, self.dropped = self.dropped, 0
                self._write_event(b'{"type":"event","seq":%%d,"event":"cti.overflow","data":{"dropped":%d}}'
                                  % dropped)

    # IPushProducer
    def pauseProducing(self):
        if self.paused:
            return
        self.paused = True

    def resumeProducing(self):
        if not self.paused:
            return
        self.paused = False
        self._flush()
        if self.paused or self.closing:
            return
        if self.overflow_since is not None:
            self.overflow_since = None
            if self._overflow_timer is not None and self._overflow_timer.active():
                self._overflow_timer.cancel()
            self._overflow_timer = None
        if self._held:
            held, self._held = bytes(self._held), bytearray()
            self.dataReceived(held)

    def stopProducing(self):
        self.closing = True
        self.queue.clear()
        self.queued_events = 0
