"""The CTI server: a Twisted Factory bound to the call engine and the user store (docs/cti-protocol.md).

    server = CtiServer(engine, users, clock=reactor)
    server.register_op("hospital.departments", handler, roles={"admin", "ivr", "supervisor", "agent"})
    ports = yield server.listen(reactor, ["tcp:7000:interface=127.0.0.1"])

Engine events are fanned out to every logged-in connection that subscribed to them and may see them: the
event's frame is encoded once (and once more masked, for monitors), each connection only adds its own seq.
"""
from __future__ import annotations

import re

from twisted.internet import defer, threads
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.python.failure import Failure

from .auth import UserThrottle
from .errors import ERROR_NAMES, OpError
from .framing import MAX_FRAME
from .ops import OpSpec, builtin_ops, schema_from_simple
from .protocol import SESSION_OPS, CtiProtocol, _dumps
from .visibility import OwnershipIndex, mask_data

log = Logger()


def is_private_endpoint(desc: str) -> bool:
    """True for TLS and UNIX endpoints and for TCP bound to loopback; False for plain TCP open to a network."""
    parts = re.split(r"(?<!\\):", desc)
    if parts[0] not in ("tcp", "tcp6"):
        return True
    for part in parts[1:]:
        if part.startswith("interface="):
            iface = part[len("interface="):].replace("\\", "")
            return iface.startswith("127.") or iface in ("::1", "localhost")
    return False


class CtiServer(Factory):
    protocol = CtiProtocol

    def __init__(self, engine, users, clock=None, *, version: str = "0.1.0", queue_limit: int = 1000,
                 ping_interval: float = 30.0, max_missed_pings: int = 3, login_timeout: float = 60.0,
                 overflow_grace: float = 30.0, max_frame: int = MAX_FRAME, max_inflight: int = 256,
                 max_inflight_ivr: int = 4096, run_blocking=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.engine = engine
        self.users = users
        self.clock = clock
        self.version = version
        self.queue_limit = queue_limit
        self.ping_interval = ping_interval
        self.max_missed_pings = max_missed_pings
        self.login_timeout = login_timeout
        self.overflow_grace = overflow_grace
        self.max_frame = max_frame
        self.max_inflight = max_inflight
        # An IVR connection holds one long request (play, collect, record) per call it serves: up to every
        # channel of the daemon at once (480 on 16 E1s), so its bound is higher than other clients'.
        self.max_inflight_ivr = max(max_inflight, max_inflight_ivr)
        # The user store may block (database): by default it runs in the reactor's thread pool.
        self.run_blocking = run_blocking or threads.deferToThread
        self.user_throttle = UserThrottle(clock)
        self.connections: set[CtiProtocol] = set()
        self.ops: dict[str, OpSpec] = {spec.name: spec for spec in builtin_ops()}
        self.index = OwnershipIndex()
        self._unsubscribe = None
        self.events_in = 0

    # -- ops ------------------------------------------------------------------------------------------------
    def register_op(self, name: str, handler, roles, *, args: dict | None = None, scope: str | None = None) -> None:
        """Add a data op: handler(ctx, args) -> dict | Deferred[dict]; roles: the roles allowed.

        `args` is {name: (type, required)} (type str, int, float, bool, list, dict) or {name: ops.Arg}; without
        it the handler gets no arguments and any argument is refused. `scope` ("number" | "call") limits users
        who are only agents to their own calls (spec section 10).
        """
        if not isinstance(name, str) or not name or name in SESSION_OPS:
            raise ValueError(f"cannot register op {name!r}")
        if scope not in (None, "number", "call"):
            raise ValueError(f"scope must be None, 'number' or 'call', not {scope!r}")
        roles = frozenset(roles)
        self.ops[name] = OpSpec(name, handler, roles, schema_from_simple(args), scope=scope)

    def to_op_error(self, failure: Failure, op: str) -> OpError:
        """An engine or handler failure as a protocol error: OpError as is, `.code` errors (EngineError) by
        code, anything else 500 (logged, not shown)."""
        exc = failure.value
        if isinstance(exc, OpError):
            return exc
        code = getattr(exc, "code", None)
        if isinstance(code, int) and code in ERROR_NAMES and code != 500:
            msg = getattr(exc, "message", None) or (exc.args[-1] if exc.args else str(exc))
            cause = getattr(exc, "cause", None)
            if isinstance(cause, int) and not isinstance(cause, bool):
                return OpError(code, str(msg), cause=cause)
            return OpError(code, str(msg))
        log.failure("CTI op {op} failed", failure, op=op)
        return OpError(500, f"internal error in op {op!r}")

    # -- engine binding -------------------------------------------------------------------------------------
    def startFactory(self):
        self.attach()

    def stopFactory(self):
        self.detach()

    def attach(self) -> None:
        """Start receiving the engine's events (done by listen(); call it when you build protocols yourself)."""
        if self._unsubscribe is None:
            self.index.seed(self.engine.snapshot())
            self._unsubscribe = self.engine.subscribe(self.on_engine_event)

    def detach(self) -> None:
        if self._unsubscribe is not None:
            unsub, self._unsubscribe = self._unsubscribe, None
            unsub()

    def on_engine_event(self, event: dict) -> None:
        """Fan one engine event out. Never raises into the engine."""
        try:
            self._fan_out(event)
        except Exception:  # noqa: BLE001
            log.failure("CTI fan-out of {event!r} failed", event=event)

    def _fan_out(self, event: dict) -> None:
        name = event.get("event")
        if not isinstance(name, str):
            log.error("CTI: engine event without a name: {event!r}", event=event)
            return
        self.events_in += 1
        data = {k: v for k, v in event.items() if k != "event"}
        index = self.index
        index.before(name, data)
        # One frame template per view, built once: each connection only fills in its seq.
        head = b'{"type":"event","seq":%d,"event":' + _dumps(name).replace(b"%", b"%%") + b',"data":'
        full = masked = None
        for conn in tuple(self.connections):
            s = conn.session
            if s is None:
                continue
            hit = conn._match_cache.get(name)
            if hit is None:
                hit = conn.wants(name)
            if not hit:
                continue
            view = s.view
            if view == "all":
                if full is None:
                    full = head + _dumps(data).replace(b"%", b"%%") + b"}"
                conn.offer_event(full)
            elif view == "masked":
                if masked is None:
                    masked = head + _dumps(mask_data(data)).replace(b"%", b"%%") + b"}"
                conn.offer_event(masked)
            elif index.agent_may_see(s.agent, name, data):
                if full is None:
                    full = head + _dumps(data).replace(b"%", b"%%") + b"}"
                conn.offer_event(full)
        index.after(name, data)

    # -- listening ------------------------------------------------------------------------------------------
    def listen(self, reactor, endpoints) -> defer.Deferred:
        """Listen on Twisted server endpoint strings; fires with the list of IListeningPorts."""
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        for desc in endpoints:
            if not is_private_endpoint(desc):
                log.warn("CTI listens on {desc} without TLS beyond loopback: passwords, tokens and patient data "
                         "cross it in clear (use an ssl: endpoint)", desc=desc)
        ds = [serverFromString(reactor, desc).listen(self) for desc in endpoints]
        return defer.gatherResults(ds, consumeErrors=True)

    def close_all(self) -> None:
        for conn in tuple(self.connections):
            conn.close("server shutting down")
