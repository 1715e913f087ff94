"""Test doubles for the CTI tests: an in-memory call engine that records calls and emits events, and a user
store. Used by tests/cti and tests/libcti (and bench/bench_cti.py); test code only."""
from __future__ import annotations

from dataclasses import dataclass

from twisted.internet import defer


class EngineError(Exception):
    def __init__(self, code: int, message: str, cause: int | None = None):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.cause = cause


@dataclass(frozen=True)
class Principal:
    user: str
    roles: frozenset
    agent: str | None = None


class FakeUsers:
    """authenticate / authenticate_token like ctid.db.users.UserStore; counts calls."""

    def __init__(self):
        self.users = {}
        self.tokens = {}
        self.calls = 0
        self.broken = False

    def add(self, name, password, roles, agent=None, token=None):
        self.users[name] = (password, Principal(name, frozenset(roles), agent))
        if token:
            self.tokens[token] = name

    def authenticate(self, user, password):
        self.calls += 1
        if self.broken:
            raise RuntimeError("database is down")
        entry = self.users.get(user)
        if entry is None or entry[0] != password:
            return None
        return entry[1]

    def authenticate_token(self, token):
        self.calls += 1
        if self.broken:
            raise RuntimeError("database is down")
        name = self.tokens.get(token)
        return None if name is None else self.users[name][1]


def demo_users() -> FakeUsers:
    u = FakeUsers()
    u.add("admin", "admin-pw", {"admin"}, token="tok-admin")
    u.add("sup", "sup-pw", {"supervisor"})
    u.add("ivr", "ivr-pw", {"ivr"}, token="tok-ivr")
    u.add("1001", "a1-pw", {"agent"}, agent="1001")
    u.add("1002", "a2-pw", {"agent"}, agent="1002")
    u.add("wall", "wall-pw", {"monitor"})
    return u


class FakeEngine:
    """The contract's Engine interface over dicts. Every call is recorded in `calls` as (method, args, kwargs).

    Channel states follow the contract loosely: unknown channel -> 404, an op on a channel that is not up (or
    hung up) -> 409. `pending` holds Deferreds of media ops when `hold_media` is set, for tests to fire.
    """

    def __init__(self, clock=None):
        self.clock = clock
        self.listeners = []
        self.calls = []
        self.channels = {}
        self.call_info = {}
        self.agents = {}
        self.queues = {"frontdesk": {"queue": "frontdesk", "waiting": 0, "ready_agents": 0}}
        self.hold_media = False
        self.pending = []
        self.collect_result = {"digits": "1", "reason": "max", "tries": 1}
        for ch in ("ss7/1", "ss7/2", "no1/1", "analog/0", "analog/2", "analog/3"):
            trunk = ch.split("/")[0]
            kind = {"ss7": "ss7", "no1": "no1"}.get(trunk, "fxs")
            self.channels[ch] = {"channel": ch, "trunk": trunk, "kind": kind, "state": "idle", "call": None,
                                 "calling": None, "called": None, "media": "idle"}
        for a, ext in (("1001", None), ("1002", None)):
            self.agents[a] = {"agent": a, "state": "logged_out", "extension": ext, "call": None,
                              "queues": ["frontdesk"]}

    # -- Engine interface ---------------------------------------------------------------------------------
    def snapshot(self):
        return {"channels": [dict(c) for c in self.channels.values()],
                "calls": [dict(c, channels=list(c["channels"])) for c in self.call_info.values()],
                "agents": [dict(a) for a in self.agents.values()],
                "queues": [dict(q) for q in self.queues.values()]}

    def subscribe(self, listener):
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def emit(self, event):
        for fn in list(self.listeners):
            fn(dict(event))

    def _chan(self, channel, need_up=False):
        ch = self.channels.get(channel)
        if ch is None:
            raise EngineError(404, f"no channel {channel!r}")
        if need_up and ch["state"] not in ("up", "incoming", "ringing"):
            raise EngineError(409, f"channel {channel} is {ch['state']}")
        return ch

    def _rec(self, name, *a, **kw):
        self.calls.append((name, a, kw))

    def answer(self, channel):
        self._rec("answer", channel)
        ch = self._chan(channel, need_up=True)
        ch["state"] = "up"
        self.emit({"event": "channel.answered", "channel": channel, "call": ch["call"]})
        return defer.succeed(None)

    def hangup(self, channel, cause=16):
        self._rec("hangup", channel, cause)
        ch = self._chan(channel, need_up=True)
        call = ch["call"]
        ch.update(state="idle", call=None, calling=None, called=None)
        self.emit({"event": "channel.hangup", "channel": channel, "call": call, "cause": cause,
                   "cause_text": "normal clearing" if cause == 16 else "other"})
        return defer.succeed(None)

    def _media(self, name, result, channel, *a, **kw):
        self._rec(name, channel, *a, **kw)
        self._chan(channel, need_up=True)
        if self.hold_media:
            d = defer.Deferred()
            self.pending.append((name, d))
            return d
        return defer.succeed(result)

    def play(self, channel, prompts, barge_in=False):
        return self._media("play", {"reason": "done", "digit": None}, channel, prompts, barge_in=barge_in)

    def collect(self, channel, **kw):
        return self._media("collect", dict(self.collect_result), channel, **kw)

    def record(self, channel, **kw):
        return self._media("record", {"recording": "r1", "path": "/tmp/r1.wav", "duration": 1.0, "reason": "max"},
                           channel, **kw)

    def stop_media(self, channel):
        self._rec("stop_media", channel)
        self._chan(channel)
        return defer.succeed(None)

    def bridge(self, a, b):
        self._rec("bridge", a, b)
        ca, cb = self._chan(a, True), self._chan(b, True)
        call = ca["call"] or cb["call"]
        self.emit({"event": "call.bridged", "call": call, "channels": [a, b]})
        return defer.succeed(None)

    def transfer(self, channel, *, queue=None, to=None):
        self._rec("transfer", channel, queue=queue, to=to)
        self._chan(channel, True)
        if queue is not None and queue not in self.queues:
            raise EngineError(404, f"no queue {queue!r}")
        return defer.succeed(None)

    def originate(self, trunk, called, calling=None, timeout=60.0):
        self._rec("originate", trunk, called, calling, timeout)
        if trunk not in ("ss7", "no1", "analog"):
            return defer.fail(EngineError(404, f"no trunk {trunk!r}"))
        if called == "busy":
            return defer.fail(EngineError(409, "called party busy", cause=17))
        return defer.succeed(f"{trunk}/2")

    def _agent(self, agent):
        a = self.agents.get(agent)
        if a is None:
            raise EngineError(404, f"no agent {agent!r}")
        return a

    def _agent_state(self, a, state, reason=""):
        a["state"] = state
        self.emit({"event": "agent.state", "agent": a["agent"], "state": state, "reason": reason})

    def agent_login(self, agent, extension):
        self._rec("agent_login", agent, extension)
        a = self._agent(agent)
        self._chan(extension)
        a["extension"] = extension
        self._agent_state(a, "not_ready", "login")
        return defer.succeed(None)

    def agent_logout(self, agent):
        self._rec("agent_logout", agent)
        a = self._agent(agent)
        a["extension"] = None
        self._agent_state(a, "logged_out")
        return defer.succeed(None)

    def agent_ready(self, agent):
        self._rec("agent_ready", agent)
        a = self._agent(agent)
        if a["state"] == "logged_out":
            raise EngineError(409, f"agent {agent} is not logged in")
        self._agent_state(a, "ready")
        return defer.succeed(None)

    def agent_not_ready(self, agent, reason=""):
        self._rec("agent_not_ready", agent, reason)
        a = self._agent(agent)
        if a["state"] == "logged_out":
            raise EngineError(409, f"agent {agent} is not logged in")
        self._agent_state(a, "not_ready", reason)
        return defer.succeed(None)

    # -- scripted call progress (what the real engine would do) --------------------------------------------
    def incoming(self, channel, call, calling="13800138000", called="114"):
        ch = self.channels[channel]
        ch.update(state="incoming", call=call, calling=calling, called=called)
        self.call_info[call] = {"call": call, "channels": [channel], "state": "setup", "queue": None,
                                "agent": None, "started": 0.0}
        self.emit({"event": "channel.incoming", "channel": channel, "call": call, "trunk": ch["trunk"],
                   "kind": ch["kind"], "calling": calling, "called": called, "category": 1})

    def offer(self, call, agent):
        c = self.call_info[call]
        c.update(state="offered", agent=agent, queue="frontdesk")
        a = self.agents[agent]
        a.update(state="offered", call=call)
        if a["extension"]:
            ext = self.channels[a["extension"]]
            ext.update(state="ringing", call=call)
            c["channels"].append(a["extension"])
        first = self.channels[c["channels"][0]]
        self.emit({"event": "call.offered", "call": call, "agent": agent, "queue": "frontdesk",
                   "calling": first["calling"], "called": first["called"]})

    def end(self, call, cause=16):
        c = self.call_info.pop(call)
        for chid in c["channels"]:
            ch = self.channels[chid]
            if ch["call"] == call:
                ch.update(state="idle", call=None, calling=None, called=None)
                self.emit({"event": "channel.hangup", "channel": chid, "call": call, "cause": cause,
                           "cause_text": "normal clearing"})
        self.emit({"event": "call.ended", "call": call, "cause": cause})
