"""Test double of a libcti client/channel for IVR tests: scripted callers, every operation recorded.

A ``Caller`` script says what the person on the line does: the keys pressed at each ``collect`` (a digit, ``""``
for no key = timeout), digits pressed during barge-in prompts, how long they speak into a recording, and when they
hang up (``hangup_when(op, args)`` -> True leaves that operation pending and hangs up). When the script runs out of
keys the caller hangs up, so a looping flow cannot run forever.

Operations resolve synchronously; hang-ups are delivered through the ``task.Clock`` (``clock.advance``) so that the
flow is suspended on the pending operation when the hang-up arrives, as with a real server.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from twisted.internet import defer, task

from libcti import CtiError, Event

MAX_OPS = 500


FakeCtiError = CtiError          # the real error type: flows see what libcti raises
FakeEvent = Event

@dataclass
class Caller:
    keys: list = field(default_factory=list)           # per collect: "2", "" (timeout)
    barge: list = field(default_factory=list)          # digits pressed during barge-in plays, in order
    speak_seconds: float = 6.0                         # length of a recording
    hangup_when: Callable[[str, dict], bool] | None = None


def during(op: str, text: str | None = None, prompt: str | None = None):
    """A ``hangup_when`` predicate: the caller hangs up during ``op`` (optionally one whose prompts contain
    ``text`` in a TTS text, or the catalogue prompt ``prompt``)."""
    def pred(name, args):
        if name != op:
            return False
        prompts = args.get("prompts") or []
        if text is not None and not any(text in (p.get("text") or "") for p in prompts):
            return False
        if prompt is not None and not any(p.get("prompt") == prompt for p in prompts):
            return False
        return True
    return pred


class FakeChannel:
    def __init__(self, client: "FakeClient", channel_id: str):
        self.client = client
        self.id = channel_id
        self.hungup = False
        self.state = "incoming"
        self.pending: list[defer.Deferred] = []
        self._hangup_waiters: list[defer.Deferred] = []

    # every op goes through here
    def _op(self, op: str, **args):
        c = self.client
        if not c.connected:                          # like libcti without a connection: nothing reaches the server
            return defer.fail(CtiError(503, "unavailable", f"not connected (op {op!r})"))
        c.ops.append((self.id, op, args))
        if len(c.ops) > MAX_OPS:
            raise AssertionError("flow ran away: more than %d operations" % MAX_OPS)
        if self.hungup:
            return defer.fail(FakeCtiError(404, "not_found", f"channel {self.id} has no call"))
        err = c.fail_ops.get(op)
        if err is not None:
            return defer.fail(err)
        if op == "answer" and self.state != "incoming":
            return defer.fail(CtiError(409, "conflict", f"channel {self.id} is {self.state}"))
        caller = c.callers.get(self.id, Caller())
        gives_up = op == "collect" and not caller.keys       # the script ran out: the caller hangs up
        if gives_up or (caller.hangup_when is not None and caller.hangup_when(op, args)):
            if not gives_up:
                caller.hangup_when = None
            d = defer.Deferred()
            self.pending.append(d)
            c.clock.callLater(0.5, c.caller_hangup, self.id)
            return d
        return defer.succeed(self._result(op, args, caller))

    def _result(self, op, args, caller: Caller):
        c = self.client
        if op == "answer":
            self.state = "up"
            return None
        if op == "play":
            if args["barge_in"] and caller.barge:
                return {"reason": "dtmf", "digit": caller.barge.pop(0)}
            return {"reason": "done", "digit": None}
        if op == "collect":
            k = caller.keys.pop(0)
            return {"digits": k, "reason": "max" if k else "timeout", "tries": 1}
        if op == "record":
            return {"recording": f"rec-{len(c.ops)}", "path": f"/rec/{len(c.ops)}.wav",
                    "duration": caller.speak_seconds, "reason": "terminator"}
        if op == "transfer":
            self.state = "queued"
            return {"queue": args.get("queue"), "to": args.get("to")}
        if op == "hangup":
            self._clear(args.get("cause", 16))
            return None
        return None

    def _clear(self, cause):
        self.state = "idle"
        self.hungup = True
        self.client.emit("channel.hangup", channel=self.id, call=self.client.calls.get(self.id), cause=cause,
                         cause_text="normal")
        for d in self._hangup_waiters:
            d.callback(cause)

    # libcti.Channel's API
    def answer(self):
        return self._op("answer")

    def hangup(self, cause=16):
        return self._op("hangup", cause=cause)

    def play(self, *prompts, barge_in=False):
        return self._op("play", prompts=list(prompts), barge_in=barge_in)

    def say(self, text, voice="zh"):
        return self._op("play", prompts=[{"text": text, "voice": voice}], barge_in=False)

    def collect(self, prompts=(), **kw):
        return self._op("collect", prompts=list(prompts), **kw)

    def record(self, **kw):
        return self._op("record", **kw)

    def transfer(self, **kw):
        assert set(kw) in ({"queue"}, {"to"}), kw          # the protocol wants exactly one
        return self._op("transfer", **kw)

    def bridge(self, other):
        return self._op("bridge", other=other)

    def stop(self):
        return self._op("stop")

    def wait_hangup(self):
        if self.hungup:
            return defer.succeed(None)
        d = defer.Deferred()
        self._hangup_waiters.append(d)
        return d


class FakeClient:
    def __init__(self, clock: task.Clock | None = None):
        self.clock = clock or task.Clock()
        self.connected = True
        self.handlers: dict[str, list] = {}
        self.subscriptions: list[list[str]] = []
        self.ops: list[tuple[str, str, dict]] = []
        self.requests: list[tuple[str, dict]] = []
        self.data: dict = {}                          # op -> result, or an Exception to raise
        self.fail_ops: dict[str, Exception] = {}      # channel op -> error
        self.callers: dict[str, Caller] = {}
        self.calls: dict[str, str] = {}
        self.channels: dict[str, FakeChannel] = {}
        self._seq = 0
        self._ncall = 0

    def on(self, name, fn):
        self.handlers.setdefault(name, []).append(fn)

    def subscribe(self, patterns):
        self.subscriptions.append(list(patterns))
        return defer.succeed({"subscribed": list(patterns)})

    def channel(self, channel_id, call=None):
        if channel_id not in self.channels:
            self.channels[channel_id] = FakeChannel(self, channel_id)
        return self.channels[channel_id]

    def request(self, op, **args):
        self.requests.append((op, args))
        if op not in self.data:
            return defer.fail(FakeCtiError(400, "bad_request", f"unknown op {op!r}"))
        v = self.data[op]
        if isinstance(v, Exception):
            return defer.fail(v)
        return defer.succeed(v(**args) if callable(v) else v)

    def emit(self, name, **data):
        self._seq += 1
        ev = FakeEvent(name, data, self._seq)
        for fn in list(self.handlers.get(name, [])):
            fn(ev)

    # test helpers
    def incoming(self, channel_id, called="114", calling="13800138000", caller: Caller | None = None, **extra):
        self._ncall += 1
        call = extra.pop("call", "c%011d" % self._ncall)
        self.calls[channel_id] = call
        ch = self.channel(channel_id)
        ch.hungup, ch.state = False, "incoming"
        self.callers[channel_id] = caller or Caller()
        self.emit("channel.incoming", channel=channel_id, call=call, trunk=channel_id.split("/")[0], kind="ss7",
                  calling=calling, called=called, category=1, **extra)
        return call

    def caller_hangup(self, channel_id, cause=16):
        ch = self.channel(channel_id)
        if ch.hungup:
            return
        ch._clear(cause)

    def ops_of(self, channel_id, op=None):
        return [(o, a) for (c, o, a) in self.ops if c == channel_id and (op is None or o == op)]

    def played(self, channel_id):
        """Every prompt played on the channel (plays, and the prompts of collects), in order."""
        out = []
        for o, a in self.ops_of(channel_id):
            if o in ("play", "collect"):
                out.extend(a.get("prompts") or [])
        return out
