"""The op table of the CTI server: argument schemas, roles, and the built-in ops (spec section 10).

An op is an `OpSpec`: a handler `handler(ctx, args) -> dict | None | Deferred`, the roles allowed (None: any
logged-in user), an argument schema and an optional agent scope. The server checks the session, the role and
the arguments before calling the handler; handlers check ownership where the spec says so.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from twisted.internet import defer

from .errors import OpError

_MISSING = object()
DTMF = set("0123456789*#ABCD")
PROMPT_KINDS = {"file", "text", "prompt", "tone", "silence"}
TONES = {"dial", "ringback", "busy", "beep"}
VOICES = {"zh", "en"}


@dataclass(frozen=True)
class Arg:
    kind: str                       # str, int, number, bool, list, prompts, patterns, dtmf
    required: bool = False
    default: Any = _MISSING
    nullable: bool = False
    max_len: int = 1024
    lo: float | None = None
    hi: float | None = None


def _type_name(v) -> str:
    return "null" if v is None else type(v).__name__


def _check_prompts(op, name, v):
    if not isinstance(v, list):
        raise OpError(400, f"{op}: '{name}' must be a list of prompt objects, not {_type_name(v)}")
    if len(v) > 64:
        raise OpError(400, f"{op}: '{name}' has {len(v)} prompts, at most 64")
    for i, p in enumerate(v):
        where = f"{op}: {name}[{i}]"
        if not isinstance(p, dict):
            raise OpError(400, f"{where} must be an object, not {_type_name(p)}")
        kinds = PROMPT_KINDS.intersection(p)
        if len(kinds) != 1:
            raise OpError(400, f"{where} must have exactly one of {sorted(PROMPT_KINDS)}")
        kind = kinds.pop()
        extra = set(p) - {kind} - ({"voice"} if kind == "text" else set())
        if extra:
            raise OpError(400, f"{where} has unknown key(s) {sorted(extra)}")
        val = p[kind]
        if kind in ("file", "text", "prompt"):
            if not isinstance(val, str) or not val or len(val) > 4096:
                raise OpError(400, f"{where}.{kind} must be a non-empty string (at most 4096 chars)")
            if kind == "text" and "voice" in p and p["voice"] not in VOICES:
                raise OpError(400, f"{where}.voice must be one of {sorted(VOICES)}, not {p['voice']!r}")
        elif kind == "tone":
            if val not in TONES:
                raise OpError(400, f"{where}.tone must be one of {sorted(TONES)}, not {val!r}")
        elif kind == "silence":
            if isinstance(val, bool) or not isinstance(val, (int, float)) or not (0 <= val <= 60):
                raise OpError(400, f"{where}.silence must be a number of seconds 0..60, not {val!r}")


def check_value(op: str, name: str, spec: Arg, v):
    if v is None:
        if spec.nullable:
            return None
        raise OpError(400, f"{op}: argument '{name}' must not be null")
    k = spec.kind
    if k in ("str", "dtmf"):
        if not isinstance(v, str):
            raise OpError(400, f"{op}: argument '{name}' must be a string, not {_type_name(v)}")
        if len(v) > spec.max_len:
            raise OpError(400, f"{op}: argument '{name}' is longer than {spec.max_len} characters")
        if k == "dtmf" and not set(v) <= DTMF:
            raise OpError(400, f"{op}: argument '{name}' must hold only DTMF digits 0-9*#A-D, not {v!r}")
    elif k == "int":
        if isinstance(v, bool) or not isinstance(v, int):
            raise OpError(400, f"{op}: argument '{name}' must be an integer, not {_type_name(v)}")
    elif k == "number":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise OpError(400, f"{op}: argument '{name}' must be a number, not {v!r}")
    elif k == "bool":
        if not isinstance(v, bool):
            raise OpError(400, f"{op}: argument '{name}' must be true or false, not {v!r}")
    elif k == "patterns":
        if not isinstance(v, list) or not v or len(v) > 64 or not all(
                isinstance(p, str) and 0 < len(p) <= 128 for p in v):
            raise OpError(400, f"{op}: argument '{name}' must be a list of 1..64 patterns of 1..128 characters")
    elif k == "prompts":
        _check_prompts(op, name, v)
    elif k == "dict":
        if not isinstance(v, dict):
            raise OpError(400, f"{op}: argument '{name}' must be an object, not {_type_name(v)}")
    else:  # pragma: no cover - schema error in this module
        raise AssertionError(k)
    if spec.lo is not None and v < spec.lo or spec.hi is not None and v > spec.hi:
        raise OpError(400, f"{op}: argument '{name}' = {v!r} is out of range {spec.lo}..{spec.hi}")
    return v


def parse_args(op: str, schema: dict[str, Arg], request: dict) -> dict:
    unknown = set(request) - set(schema) - {"id", "op"}
    if unknown:
        raise OpError(400, f"{op}: unknown argument(s) {sorted(unknown)}")
    args = {}
    for name, spec in schema.items():
        if name in request:
            args[name] = check_value(op, name, spec, request[name])
        elif spec.required:
            raise OpError(400, f"{op}: missing argument '{name}'")
        elif spec.default is not _MISSING:
            args[name] = spec.default
    return args


@dataclass
class OpSpec:
    name: str
    handler: Callable
    roles: frozenset | None          # None: any logged-in user
    args: dict = field(default_factory=dict)
    auth: bool = True                # False: allowed before login
    scope: str | None = None         # "number" | "call": agent-only users limited to their calls
    timeout_default: float | None = None


class RequestContext:
    """What a handler gets: the server, the connection, the session (`principal`) and helpers."""

    def __init__(self, server, conn, session):
        self.server = server
        self.conn = conn
        self.session = session

    @property
    def principal(self):
        return self.session

    @property
    def engine(self):
        return self.server.engine

    def agent_calls(self) -> list[dict]:
        """CallInfo of the calls offered to or held by this session's agent (from the engine's snapshot)."""
        agent = self.session.agent if self.session else None
        if agent is None:
            return []
        snap = self.engine.snapshot()
        return [c for c in snap.get("calls", []) if c.get("agent") == agent]

    def agent_may_use_channel(self, channel: str) -> bool:
        agent = self.session.agent
        if agent is None:
            return False
        snap = self.engine.snapshot()
        for a in snap.get("agents", []):
            if a.get("agent") == agent and a.get("extension") == channel:
                return True
        mine = {c.get("call") for c in snap.get("calls", []) if c.get("agent") == agent}
        for c in snap.get("calls", []):
            if c.get("call") in mine and channel in (c.get("channels") or ()):
                return True
        for ch in snap.get("channels", []):
            if ch.get("channel") == channel and ch.get("call") is not None and ch.get("call") in mine:
                return True
        return False

    def agent_has_number(self, number: str) -> bool:
        calls = {c.get("call") for c in self.agent_calls()}
        if not calls:
            return False
        snap = self.engine.snapshot()
        for ch in snap.get("channels", []):
            if ch.get("call") in calls and number in (ch.get("calling"), ch.get("called")):
                return True
        return any(number in self.server.index.call_numbers.get(c, ()) for c in calls)


# -- built-in handlers ---------------------------------------------------------------------------------------

def _engine(ctx, method, *a, **kw):
    fn = getattr(ctx.engine, method, None)
    if fn is None:
        raise OpError(503, f"the call engine does not offer '{method}'")
    return defer.maybeDeferred(fn, *a, **kw)


def _empty(_):
    return {}


def _own_channel(ctx, channel):
    """Agent-only users may act on their calls' channels and their extension only."""
    s = ctx.session
    if s.has("admin", "ivr") or (s.has("supervisor") and ctx.op == "hangup"):
        return
    if not ctx.agent_may_use_channel(channel):
        raise OpError(403, f"channel {channel!r} is not on a call offered to or held by agent {s.agent!r}")


def op_answer(ctx, a):
    _own_channel(ctx, a["channel"])
    return _engine(ctx, "answer", a["channel"]).addCallback(_empty)


def op_hangup(ctx, a):
    _own_channel(ctx, a["channel"])
    return _engine(ctx, "hangup", a["channel"], a["cause"]).addCallback(_empty)


def op_play(ctx, a):
    return _engine(ctx, "play", a["channel"], a["prompts"], barge_in=a["barge_in"])


def op_collect(ctx, a):
    if a["min_digits"] > a["max_digits"]:
        raise OpError(400, f"collect: min_digits {a['min_digits']} is more than max_digits {a['max_digits']}")
    if a["valid_regex"] is not None:
        try:
            re.compile(a["valid_regex"])
        except re.error as exc:
            raise OpError(400, f"collect: valid_regex is not a regular expression: {exc}") from None
    kw = {k: a[k] for k in ("prompts", "min_digits", "max_digits", "timeout", "inter_digit_timeout",
                            "terminators", "tries", "invalid_prompts", "valid_regex")}
    return _engine(ctx, "collect", a["channel"], **kw)


def op_record(ctx, a):
    kw = {k: a[k] for k in ("max_seconds", "silence_seconds", "terminators", "beep", "purpose")}
    return _engine(ctx, "record", a["channel"], **kw)


def op_stop_media(ctx, a):
    return _engine(ctx, "stop_media", a["channel"]).addCallback(_empty)


def op_bridge(ctx, a):
    if a["a"] == a["b"]:
        raise OpError(400, "bridge: 'a' and 'b' are the same channel")
    return _engine(ctx, "bridge", a["a"], a["b"]).addCallback(_empty)


def op_transfer(ctx, a):
    if (a.get("queue") is None) == (a.get("to") is None):
        raise OpError(400, "transfer: give exactly one of 'queue' or 'to'")
    return _engine(ctx, "transfer", a["channel"], queue=a.get("queue"), to=a.get("to")).addCallback(_empty)


def op_originate(ctx, a):
    d = _engine(ctx, "originate", a["trunk"], a["called"], a["calling"], a["timeout"])
    return d.addCallback(lambda ch: {"channel": ch})


def _agent_of(ctx, a) -> str:
    s = ctx.session
    agent = a.get("agent")
    if agent is None:
        if s.agent is None:
            raise OpError(400, f"{ctx.op}: missing argument 'agent' (user {s.user!r} is not an agent)")
        return s.agent
    if agent != s.agent and not s.has("admin", "supervisor"):
        raise OpError(403, f"{ctx.op}: user {s.user!r} may act only on agent {s.agent!r}, not {agent!r}")
    return agent


def op_agent_login(ctx, a):
    agent = _agent_of(ctx, a)
    ext = a["extension"]

    def done(_):
        ctx.server.index.extension_agent[ext] = agent
        return {}
    return _engine(ctx, "agent_login", agent, ext).addCallback(done)


def op_agent_logout(ctx, a):
    return _engine(ctx, "agent_logout", _agent_of(ctx, a)).addCallback(_empty)


def op_agent_ready(ctx, a):
    return _engine(ctx, "agent_ready", _agent_of(ctx, a)).addCallback(_empty)


def op_agent_not_ready(ctx, a):
    return _engine(ctx, "agent_not_ready", _agent_of(ctx, a), a["reason"]).addCallback(_empty)


CHANNEL = Arg("str", required=True, max_len=64)
AGENT = Arg("str", nullable=True, default=None, max_len=64)
CONTROL = frozenset({"admin", "ivr"})
AGENT_OPS = frozenset({"admin", "supervisor", "agent"})


def builtin_ops() -> list[OpSpec]:
    """The engine ops; the session ops (hello, login, ...) live in the protocol."""
    return [
        OpSpec("answer", op_answer, frozenset({"admin", "ivr", "agent"}), {"channel": CHANNEL}),
        OpSpec("hangup", op_hangup, frozenset({"admin", "ivr", "supervisor", "agent"}),
               {"channel": CHANNEL, "cause": Arg("int", default=16, lo=1, hi=127)}),
        OpSpec("play", op_play, CONTROL,
               {"channel": CHANNEL, "prompts": Arg("prompts", required=True), "barge_in": Arg("bool", default=False)}),
        OpSpec("collect", op_collect, CONTROL, {
            "channel": CHANNEL, "prompts": Arg("prompts", default=[]),
            "min_digits": Arg("int", default=1, lo=0, hi=64), "max_digits": Arg("int", default=1, lo=1, hi=64),
            "timeout": Arg("number", default=5.0, lo=0.001, hi=3600),
            "inter_digit_timeout": Arg("number", default=3.0, lo=0.001, hi=3600),
            "terminators": Arg("dtmf", default="#", max_len=16), "tries": Arg("int", default=3, lo=1, hi=10),
            "invalid_prompts": Arg("prompts", default=[]),
            "valid_regex": Arg("str", default=None, nullable=True, max_len=256)}),
        OpSpec("record", op_record, CONTROL, {
            "channel": CHANNEL, "max_seconds": Arg("number", default=60.0, lo=0.001, hi=36000),
            "silence_seconds": Arg("number", default=5.0, nullable=True, lo=0.001, hi=3600),
            "terminators": Arg("dtmf", default="#", max_len=16), "beep": Arg("bool", default=True),
            "purpose": Arg("str", default="recording", max_len=64)}),
        OpSpec("stop_media", op_stop_media, CONTROL, {"channel": CHANNEL}),
        OpSpec("bridge", op_bridge, CONTROL, {"a": CHANNEL, "b": CHANNEL}),
        OpSpec("transfer", op_transfer, CONTROL, {
            "channel": CHANNEL, "queue": Arg("str", default=None, nullable=True, max_len=64),
            "to": Arg("str", default=None, nullable=True, max_len=64)}),
        OpSpec("originate", op_originate, CONTROL, {
            "trunk": Arg("str", required=True, max_len=64), "called": Arg("str", required=True, max_len=64),
            "calling": Arg("str", default=None, nullable=True, max_len=64),
            "timeout": Arg("number", default=60.0, lo=0.001, hi=600)}),
        OpSpec("agent.login", op_agent_login, AGENT_OPS, {"agent": AGENT, "extension": CHANNEL}),
        OpSpec("agent.logout", op_agent_logout, AGENT_OPS, {"agent": AGENT}),
        OpSpec("agent.ready", op_agent_ready, AGENT_OPS, {"agent": AGENT}),
        OpSpec("agent.not_ready", op_agent_not_ready, AGENT_OPS,
               {"agent": AGENT, "reason": Arg("str", default="", max_len=256)}),
    ]


def schema_from_simple(args: dict | None) -> dict[str, Arg]:
    """register_op's `args`: {name: Arg} or {name: (type, required)} with type str/int/float/bool/list/dict."""
    kinds = {str: "str", int: "int", float: "number", bool: "bool", list: "patterns", dict: "dict"}
    out = {}
    for name, spec in (args or {}).items():
        if isinstance(spec, Arg):
            out[name] = spec
        else:
            typ, required = spec
            out[name] = Arg(kinds.get(typ, typ), required=required, default=_MISSING if required else None,
                            nullable=not required)
    return out
