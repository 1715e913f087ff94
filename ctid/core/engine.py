"""The Engine: calls and legs over trunk channels, media per channel, bridging, transfer, originate, CDRs, ACD.

Used by the CTI server and the daemon through the interface of the issue 5 contract (every operation returns a
Deferred or raises :class:`~ctid.core.errors.EngineError` at once for a bad argument: 400 bad argument, 404
unknown channel/trunk/agent/queue, 409 wrong state, 503 no resource). Events go to every subscriber as dicts
``{"event": name, ...}``; see docs/call-control.md.

A call is created by an incoming call (its first leg) or by :meth:`originate`; legs join it when an agent's
extension is offered the call, when a transfer dials out, or when :meth:`bridge` joins two calls (the second
call's legs move into the first). The call ends when its first leg hangs up, or when a bridged leg hangs up
(the others are then hung up with the same cause). At the end a CDR goes to ``cdr_sink(dict) -> Deferred``; the
call stays in the snapshot (state ``ended``) until the sink's Deferred fires, and is retried on failure.
"""
from __future__ import annotations

import logging
import os
import re
import uuid

import numpy as np
from twisted.internet import defer

from .acd import Acd
from .errors import EngineError
from .prompts import MediaDirs, check_prompts, render_local
from .trunks import make_trunk
from .trunks.base import IDLE, INCOMING, RINGING, UP, cause_text

log = logging.getLogger("ctid.core.engine")

CDR_RETRY = (1.0, 5.0, 30.0, 120.0)       # seconds between CDR sink attempts (the last repeats)
TRANSFER_TIMEOUT = 60.0                    # seconds a transfer target may ring before it is given up (cause 19)
FILE_CACHE_SECONDS = 2.0                   # a file prompt read through read_file is reused this long
FILE_CACHE_ENTRIES = 256


class Call:
    def __init__(self, call_id: str, first, started: float, direction: str):
        self.id = call_id
        self.legs: list = [first]          # TrunkChannel objects; legs[0] is the call's own (CDR) leg
        self.state = "setup"
        self.queue: str | None = None
        self.agent: str | None = None
        self.started = started
        self.answered: float | None = None
        self.ended: float | None = None
        self.direction = direction         # "in" | "out"
        self.calling = first.calling
        self.called = first.called
        self.trunk = first.trunk.name
        self.channel = first.id
        self.cause: int | None = None
        self.recording: str | None = None
        self.bridged: tuple | None = None  # (channel, channel) while bridged
        self.connected = False             # has been bridged (to an agent or a transfer target)
        self.originate: defer.Deferred | None = None
        self.moved: dict = {}              # channel id -> the channel a leg moved to (China No.1 dual seizure)

    def info(self) -> dict:
        return {"call": self.id, "channels": [c.id for c in self.legs], "state": self.state, "queue": self.queue,
                "agent": self.agent, "started": self.started}


class Engine:
    """``trunks``: started :class:`~ctid.core.trunks.Trunk` objects (or use :meth:`from_config`).

    ``renderer(prompt) -> Deferred[np.ndarray A-law]`` renders text and catalogue prompts (file, tone and silence
    are rendered here); ``cdr_sink(cdr) -> Deferred`` stores a CDR durably; ``recordings_dir`` is where
    :meth:`record` writes; ``queues``: ``ctid.config.QueueConfig`` list; ``read_file(fn, *a) -> Deferred``
    runs blocking file reads (default: in line; the daemon passes a thread-pool runner); ``media_dirs``: the
    directories file prompts may come from (:class:`~ctid.core.prompts.MediaDirs`; none: no file prompts), never
    from ``recordings_dir`` unless it is listed."""

    def __init__(self, clock, trunks, *, renderer=None, cdr_sink=None, recordings_dir: str = "recordings",
                 queues=(), read_file=None, media_dirs=()):
        self.clock = clock
        self.trunks = {t.name: t for t in trunks}
        self.channels = {}
        for t in trunks:
            t.listener = self._on_channel
            t.trunk_listener = self._on_trunk
            for ch in t.channels.values():
                self.channels[ch.id] = ch
        self.renderer = renderer
        self.cdr_sink = cdr_sink
        self.recordings_dir = recordings_dir
        self.read_file = read_file
        self.media = MediaDirs(media_dirs, exclude=[recordings_dir])
        # file prompts read through read_file are kept FILE_CACHE_SECONDS (a replaced file is heard after that
        # at the latest): at 100 calls/s the same prompt file was otherwise read 100 times a second in the
        # thread pool, and those reads queued behind each other (seconds of silence after the answer)
        self._file_cache: dict[str, tuple[float, np.ndarray]] = {}
        self.calls: dict[str, Call] = {}
        self.chan_call: dict[str, Call] = {}
        self._listeners: list = []
        self._holding: dict[str, bool] = {}
        self.cdr_failures = 0
        self.transfer_timeout = TRANSFER_TIMEOUT
        self._drain_waiters: list = []
        self.acd = Acd(self, queues, clock)

    @classmethod
    def from_config(cls, cfg, boards: dict, runtimes: dict, clock, **kw) -> "Engine":
        """Trunks of ``cfg`` on ``boards``/``runtimes`` (by board id), started; media directories from ``cfg``."""
        kw.setdefault("media_dirs", cfg.daemon.media_dirs)
        kw.setdefault("recordings_dir", cfg.daemon.recordings_dir)
        trunks = [make_trunk(t, boards[t.board], runtimes[t.board], clock) for t in cfg.trunks]
        eng = cls(clock, trunks, queues=cfg.queues, **kw)
        for t in trunks:
            t.start()
        return eng

    # ------------------------------------------------------------------------------------------ events
    def subscribe(self, listener):
        self._listeners.append(listener)

        def unsubscribe():
            if listener in self._listeners:
                self._listeners.remove(listener)
        return unsubscribe

    def emit(self, event: str, **fields) -> None:
        ev = {"event": event, **fields}
        for fn in list(self._listeners):
            try:
                fn(ev)
            except Exception:  # noqa: BLE001 - one subscriber's bug must not stop the others
                log.exception("event listener failed on %s", event)

    def _on_trunk(self, trunk, event, info) -> None:
        if event == "state":
            self.emit("trunk.state", trunk=trunk.name, up=info["up"])
        elif event == "alarm":
            self.emit("span.alarm", trunk=trunk.name, alarms=info["alarms"])

    def _on_channel(self, ch, event, info) -> None:
        call = self.chan_call.get(ch.id)
        if event == "incoming":
            if call is None:
                call = self._new_call(ch, "in")
            self.emit("channel.incoming", channel=ch.id, call=call.id, trunk=ch.trunk.name, kind=ch.kind,
                      calling=info.get("calling"), called=info.get("called"), category=info.get("category"))
        elif event == "ringing":
            if call is not None:
                self.emit("channel.ringing", channel=ch.id, call=call.id)
        elif event == "answered":
            if call is None:
                return
            if call.answered is None:
                call.answered = self.clock.seconds()
            self.emit("channel.answered", channel=ch.id, call=call.id)
            if call.originate is not None and ch is call.legs[0]:
                d, call.originate = call.originate, None
                d.callback(ch.id)
            self.acd.leg_answered(call, ch)
            waiter = ch._on_answer
            if waiter is not None:
                ch._on_answer = None
                waiter(ch)
        elif event == "dtmf":
            if call is not None:
                self.emit("channel.dtmf", channel=ch.id, call=call.id, digit=info["digit"])
        elif event == "hangup":
            self._leg_hangup(ch, call, info["cause"])
        elif event == "moved":
            self._leg_moved(ch, call, info["to"], info.get("reason", ""))
        elif event == "state" and info["state"] == IDLE and ch.kind == "fxs" and self.acd.waiting():
            # an agent's extension became free (phone back on hook): offer waiting calls, after this event
            self.clock.callLater(0, self.acd.dispatch)

    # ------------------------------------------------------------------------------------------ calls
    def _new_call(self, ch, direction: str) -> Call:
        call = Call(uuid.uuid4().hex[:12], ch, self.clock.seconds(), direction)
        self.calls[call.id] = call
        self.chan_call[ch.id] = call
        return call

    def _add_leg(self, call: Call, ch) -> None:
        call.legs.append(ch)
        self.chan_call[ch.id] = call

    def _leg_moved(self, ch, call: Call | None, new, reason: str) -> None:
        """A leg's outgoing call continues on another channel (the trunk's repeat attempt after dual seizure):
        the call, its CDR channel and what waits on the leg (answer, transfer) follow it."""
        if call is None:
            return
        self.chan_call.pop(ch.id, None)
        self.chan_call[new.id] = call
        call.legs = [new if leg is ch else leg for leg in call.legs]
        if call.channel == ch.id:
            call.channel = new.id
        call.moved[ch.id] = new
        new._on_answer, ch._on_answer = ch._on_answer, None
        new._transfer_from, ch._transfer_from = ch._transfer_from, None
        self.emit("channel.moved", channel=ch.id, to=new.id, call=call.id, reason=reason)

    @staticmethod
    def _follow(call: Call, ch):
        """The channel that carries what ``ch`` carried for ``call`` (after moves)."""
        seen = set()
        while ch.id in call.moved and ch not in call.legs and ch.id not in seen:
            seen.add(ch.id)
            ch = call.moved[ch.id]
        return ch

    def _leg_hangup(self, ch, call: Call | None, cause: int) -> None:
        self._holding.pop(ch.id, None)
        if call is None:                   # never announced (e.g. register signalling failed): nothing to tell
            return
        self.emit("channel.hangup", channel=ch.id, call=call.id, cause=cause, cause_text=cause_text(cause))
        self.chan_call.pop(ch.id, None)
        was_bridged = call.bridged is not None and ch.id in call.bridged
        if was_bridged:
            self._unbridge(call)
        if ch in call.legs:
            call.legs.remove(ch)
        if call.originate is not None and ch.id == call.channel:
            d, call.originate = call.originate, None
            d.errback(EngineError(503, f"call attempt on {ch.id} failed: {cause_text(cause)} (cause {cause})",
                                  cause=cause))
        ch._on_answer = None
        if ch.id == call.channel or was_bridged or not call.legs:
            self._end_call(call, cause)
            return
        src = ch._transfer_from
        if src is not None:                 # a transfer target that never answered: the caller is back
            ch._transfer_from = None
            self.unhold(src)
        self.acd.leg_gone(call, ch, cause)

    def _end_call(self, call: Call, cause: int) -> None:
        if call.state == "ended":
            return
        call.state = "ended"
        call.cause = cause
        call.ended = self.clock.seconds()
        self.acd.call_ended(call)
        for leg in list(call.legs):
            if leg.direction is not None:
                leg.hangup(cause)
            self.chan_call.pop(leg.id, None)
        self.emit("call.ended", call=call.id, cause=cause)
        self._write_cdr(call, self.cdr(call), 0)

    def cdr(self, call: Call) -> dict:
        end = call.ended if call.ended is not None else self.clock.seconds()
        if call.queue is not None and not call.connected:
            disposition = "abandoned"            # queued for an agent, ended before one took it
        elif call.answered is not None:
            disposition = "answered"
        elif call.cause == 17:
            disposition = "busy"
        elif call.cause in (16, 18, 19, 31):
            disposition = "no_answer"
        else:
            disposition = "failed"
        return {"call": call.id, "trunk": call.trunk, "channel": call.channel, "calling": call.calling,
                "called": call.called, "direction": call.direction, "start": call.started, "answer": call.answered,
                "end": end, "duration": round(end - call.started, 3),
                "billsec": round(end - call.answered, 3) if call.answered is not None else 0.0,
                "cause": call.cause, "disposition": disposition, "queue": call.queue, "agent": call.agent,
                "recording": call.recording}

    def _write_cdr(self, call: Call, cdr: dict, attempt: int) -> None:
        if self.cdr_sink is None:
            self.calls.pop(call.id, None)
            self._check_drained()
            return
        try:
            d = defer.maybeDeferred(self.cdr_sink, cdr)
        except Exception as exc:  # noqa: BLE001
            d = defer.fail(exc)

        def ok(_):
            self.calls.pop(call.id, None)
            self._check_drained()

        def failed(f):
            self.cdr_failures += 1
            delay = CDR_RETRY[min(attempt, len(CDR_RETRY) - 1)]
            log.error("CDR of call %s not stored (attempt %d): %s; retrying in %gs", call.id, attempt + 1,
                      f.getErrorMessage(), delay)
            self.clock.callLater(delay, self._write_cdr, call, cdr, attempt + 1)
        d.addCallbacks(ok, failed)

    def shutdown(self, cause: int = 41) -> defer.Deferred:
        """Hang up every call (Q.850 ``cause``, default 41 temporary failure) and fire once every CDR is stored
        (the daemon stops the reactor after this; a CDR the sink keeps refusing holds it: give it a timeout)."""
        for ch in list(self.channels.values()):
            if ch.direction is not None:
                try:
                    ch.hangup(cause)
                except Exception:  # noqa: BLE001 - a board gone away: the others still get released
                    log.exception("shutdown: hanging up %s", ch.id)
        d = defer.Deferred()
        self._drain_waiters.append(d)
        self._check_drained()
        return d

    def _check_drained(self) -> None:
        if self._drain_waiters and not self.calls:
            waiters, self._drain_waiters = self._drain_waiters, []
            for w in waiters:
                w.callback(None)

    # ------------------------------------------------------------------------------------------ lookups
    def _chan(self, channel):
        if not isinstance(channel, str):
            raise EngineError(400, f"channel: {channel!r} is not a channel id like \"ss7/5\"")
        ch = self.channels.get(channel)
        if ch is None:
            raise EngineError(404, f"channel {channel!r} does not exist")
        return ch

    def _up(self, channel):
        ch = self._chan(channel)
        if ch.state != UP or channel not in self.chan_call:
            raise EngineError(409, f"channel {channel} is {ch.state}, not up with a call")
        return ch

    def snapshot(self) -> dict:
        chans = []
        for ch in self.channels.values():
            call = self.chan_call.get(ch.id)
            info = ch.info()
            info.update(call=call.id if call else None, media=ch.mc.state)
            if ch.direction is None and ch.state not in (INCOMING,):
                info.update(calling=None, called=None)
            chans.append(info)
        return {"channels": chans, "calls": [c.info() for c in self.calls.values()],
                "agents": self.acd.agents_info(), "queues": self.acd.queues_info()}

    # ------------------------------------------------------------------------------------------ call control
    def answer(self, channel: str):
        ch = self._chan(channel)
        call = self.chan_call.get(channel)
        rung_extension = ch.kind == "fxs" and ch.state == RINGING and ch.direction == "out"
        if call is None or (ch.state != INCOMING and not rung_extension):
            raise EngineError(409, f"channel {channel} is {ch.state}: nothing to answer")
        try:
            ch.answer()
        except Exception as exc:  # noqa: BLE001 - the protocol refused (e.g. register signalling running)
            raise EngineError(409, f"channel {channel}: {exc}") from None
        if call.state == "setup" and ch is call.legs[0]:
            call.state = "ivr"
        return defer.succeed(None)

    def hangup(self, channel: str, cause: int = 16):
        ch = self._chan(channel)
        if isinstance(cause, bool) or not isinstance(cause, int) or not 1 <= cause <= 127:
            raise EngineError(400, f"cause: {cause!r} is not a Q.850 cause (1..127)")
        if channel not in self.chan_call or ch.direction is None:
            raise EngineError(409, f"channel {channel} is {ch.state}: no call to hang up")
        ch.hangup(cause)
        return defer.succeed(None)

    # ------------------------------------------------------------------------------------------ media
    def _render(self, prompts) -> defer.Deferred:
        ds = []
        for p in prompts:
            if any(k in p for k in ("text", "prompt")):
                if self.renderer is None:
                    raise EngineError(503, f"prompt {p!r}: no TTS/catalogue renderer configured")
                ds.append(defer.maybeDeferred(self.renderer, p))
            elif "file" in p and self.read_file is not None:
                ds.append(self._read_file_prompt(p))
            else:
                ds.append(defer.maybeDeferred(render_local, p, self.media))
        d = defer.gatherResults(ds, consumeErrors=True)

        def unwrap(f):
            exc = f.value.subFailure.value if isinstance(f.value, defer.FirstError) else f.value
            if isinstance(exc, EngineError):
                raise exc
            raise EngineError(500, f"rendering a prompt failed: {exc}")
        return d.addErrback(unwrap)

    def _read_file_prompt(self, p: dict) -> defer.Deferred:
        key, now = p["file"], self.clock.seconds()
        hit = self._file_cache.get(key)
        if hit is not None and hit[0] > now:
            return defer.succeed(hit[1].copy())
        d = self.read_file(render_local, p, self.media)     # the media-directory check runs on every read

        def keep(codes):
            if len(self._file_cache) >= FILE_CACHE_ENTRIES:
                for k in [k for k, (t, _c) in self._file_cache.items() if t <= now] or [next(iter(self._file_cache))]:
                    del self._file_cache[k]
            self._file_cache[key] = (now + FILE_CACHE_SECONDS, codes.copy())
            return codes
        return d.addCallback(keep)

    def _media_op(self, ch, kind: str, start) -> defer.Deferred:
        """Run ``start() -> Deferred`` as the channel's media operation ``kind``."""
        call = self.chan_call.get(ch.id)
        self._holding.pop(ch.id, None)      # a new operation ends the hold loop (the runtime cancels it)
        try:
            d = start()
        except ValueError as exc:            # ctid.media.channel.MediaError: arguments the runtime refused
            raise EngineError(400, f"{kind} on {ch.id}: {exc}") from None

        def done(result):
            if isinstance(result, dict) and self.chan_call.get(ch.id) is not call:
                result = dict(result, reason="hangup")
            return result
        return d.addBoth(done)

    def play(self, channel: str, prompts, barge_in: bool = False):
        ch = self._up(channel)
        prompts = check_prompts(prompts)
        if not prompts:
            raise EngineError(400, "prompts: at least one prompt")
        call = self.chan_call[channel]

        def go(audio):
            if self.chan_call.get(channel) is not call:
                return {"reason": "hangup", "digit": None}
            return self._media_op(ch, "playing", lambda: ch.mc.play(list(audio), barge_in=bool(barge_in)))

        def report(result):
            self.emit("channel.play_done", channel=channel, call=call.id, reason=result.get("reason"))
            return {"reason": result.get("reason"), "digit": result.get("digit")}
        return self._render(prompts).addCallback(go).addCallback(report)

    def collect(self, channel: str, *, prompts=(), min_digits=1, max_digits=1, timeout=5.0,
                inter_digit_timeout=3.0, terminators="#", tries=3, invalid_prompts=(), valid_regex=None):
        ch = self._up(channel)
        prompts = check_prompts(prompts)
        invalid = check_prompts(invalid_prompts, "invalid_prompts")
        for name, v, lo, hi in (("min_digits", min_digits, 0, 64), ("max_digits", max_digits, 1, 64),
                                ("tries", tries, 1, 20)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise EngineError(400, f"{name}: {v!r} is not an integer {lo}..{hi}")
        if min_digits > max_digits:
            raise EngineError(400, f"min_digits {min_digits} is more than max_digits {max_digits}")
        for name, v in (("timeout", timeout), ("inter_digit_timeout", inter_digit_timeout)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 600:
                raise EngineError(400, f"{name}: {v!r} is not a number of seconds 0..600")
        if not isinstance(terminators, str) or any(c not in "0123456789*#ABCD" for c in terminators):
            raise EngineError(400, f"terminators: {terminators!r} is not a string of DTMF digits")
        if valid_regex is not None:
            try:
                re.compile(valid_regex)
            except (re.error, TypeError) as exc:
                raise EngineError(400, f"valid_regex: {valid_regex!r}: {exc}") from None
        call = self.chan_call[channel]
        n = len(prompts)

        def go(audio):
            if self.chan_call.get(channel) is not call:
                return {"digits": "", "reason": "hangup", "tries": 0}
            return self._media_op(ch, "collecting", lambda: ch.mc.collect(
                prompts=list(audio[:n]), min_digits=min_digits, max_digits=max_digits, timeout=float(timeout),
                inter_digit_timeout=float(inter_digit_timeout), terminators=terminators, tries=tries,
                invalid_prompts=list(audio[n:]), valid_regex=valid_regex))

        def report(result):
            return {"digits": result.get("digits", ""), "reason": result.get("reason"),
                    "tries": result.get("tries", 0)}
        return self._render(prompts + invalid).addCallback(go).addCallback(report)

    def record(self, channel: str, *, max_seconds=60.0, silence_seconds=5.0, terminators="#", beep=True,
               purpose: str = "recording"):
        ch = self._up(channel)
        if isinstance(max_seconds, bool) or not isinstance(max_seconds, (int, float)) or not 0 < max_seconds <= 3600:
            raise EngineError(400, f"max_seconds: {max_seconds!r} is not 0..3600")
        if silence_seconds is not None and (isinstance(silence_seconds, bool) or not isinstance(
                silence_seconds, (int, float)) or not 0 < silence_seconds <= 600):
            raise EngineError(400, f"silence_seconds: {silence_seconds!r} is not 0..600 or null")
        if not isinstance(terminators, str) or any(c not in "0123456789*#ABCD" for c in terminators):
            raise EngineError(400, f"terminators: {terminators!r} is not a string of DTMF digits")
        if not isinstance(purpose, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", purpose):
            raise EngineError(400, f"purpose: {purpose!r} must be 1-32 letters, digits, '_' or '-'")
        call = self.chan_call[channel]
        rec_id = uuid.uuid4().hex[:12]
        os.makedirs(self.recordings_dir, exist_ok=True)
        path = os.path.join(self.recordings_dir, f"{purpose}-{call.id}-{rec_id}.wav")

        def report(result):
            duration = float(result.get("duration", 0.0))
            reason = result.get("reason")
            call.recording = rec_id
            self.emit("channel.record_done", channel=channel, call=call.id, recording=rec_id, duration=duration,
                      reason=reason)
            return {"recording": rec_id, "path": result.get("path", path), "duration": duration, "reason": reason}
        d = self._media_op(ch, "recording", lambda: ch.mc.record(
            path, max_seconds=float(max_seconds), silence_seconds=silence_seconds, terminators=terminators,
            beep=bool(beep)))
        return d.addCallback(report)

    def stop_media(self, channel: str):
        ch = self._chan(channel)
        self._holding.pop(channel, None)
        ch.mc.stop()
        return defer.succeed(None)

    def hold(self, ch, prompt: dict) -> None:
        """Loop ``prompt`` on ``ch`` until other media or a hangup (queue music)."""
        token = object()
        self._holding[ch.id] = token

        def loop(audio):
            if self._holding.get(ch.id) is not token or ch.state != UP:
                return None
            d = ch.mc.play(list(audio), loop=True)

            def ended(_r):
                if self._holding.get(ch.id) is token:
                    self._holding.pop(ch.id, None)
            d.addBoth(ended)
            return None
        try:
            self._render([prompt]).addCallback(loop).addErrback(
                lambda f: log.error("hold prompt on %s: %s", ch.id, f.getErrorMessage()))
        except EngineError as exc:
            log.error("hold prompt on %s: %s", ch.id, exc)

    def unhold(self, ch) -> None:
        if self._holding.pop(ch.id, None) is not None:
            ch.mc.stop()

    # ------------------------------------------------------------------------------------------ bridging
    def bridge(self, a: str, b: str):
        ca, cb = self._up(a), self._up(b)
        if a == b:
            raise EngineError(400, "bridge: a channel cannot be bridged to itself")
        call_a, call_b = self.chan_call[a], self.chan_call[b]
        for call in (call_a, call_b):
            if call.bridged is not None:
                raise EngineError(409, f"call {call.id} is already bridged ({' <-> '.join(call.bridged)})")
        self._connect(call_a, ca, cb, call_b)
        return defer.succeed(None)

    def _connect(self, call: Call, ca, cb, other: Call | None = None) -> None:
        """Join ``cb`` (and its call's legs) into ``call`` and switch ``ca`` <-> ``cb`` on the boards."""
        if other is not None and other is not call:
            for leg in list(other.legs):
                if leg not in call.legs:
                    self._add_leg(call, leg)
            other.legs = []
            if other.answered is not None and call.answered is None:
                call.answered = other.answered
            self.calls.pop(other.id, None)
            self.acd.call_merged(other)
        elif cb not in call.legs:
            self._add_leg(call, cb)
        for ch in (ca, cb):
            self.unhold(ch)
            ch.mc.stop()
        ba, bb = ca.trunk.board, cb.trunk.board
        ba.connect(ca.number, bb.board_id, cb.number)
        bb.connect(cb.number, ba.board_id, ca.number)
        cb._transfer_from = None
        call.bridged = (ca.id, cb.id)
        call.connected = True
        call.state = "connected"
        self.emit("call.bridged", call=call.id, channels=[ca.id, cb.id])

    def _unbridge(self, call: Call) -> None:
        for cid in call.bridged or ():
            ch = self.channels[cid]
            try:
                ch.trunk.board.disconnect(ch.number)
            except Exception:  # noqa: BLE001 - a board gone away must not stop the hangup
                log.exception("disconnecting %s", cid)
        call.bridged = None

    def transfer(self, channel: str, *, queue: str | None = None, to: str | None = None):
        ch = self._up(channel)
        call = self.chan_call[channel]
        if (queue is None) == (to is None):
            raise EngineError(400, "transfer: give exactly one of queue or to")
        if call.bridged is not None:
            raise EngineError(409, f"call {call.id} is bridged; hang up the other leg first")
        if queue is not None:
            self.acd.enqueue(call, ch, queue)
            return defer.succeed(None)
        if not isinstance(to, str) or not to:
            raise EngineError(400, f"to: {to!r} is not a channel id or a number")
        if "/" in to:
            target = self._chan(to)
            if target.state == UP and to in self.chan_call:
                self._connect(call, ch, target, self.chan_call[to])
                return defer.succeed(None)
            if target.kind != "fxs" or target.state != IDLE:
                raise EngineError(409, f"channel {to} is {target.state}: cannot take a transfer")
            try:
                target.dial(call.called, call.calling)
            except RuntimeError as exc:
                raise EngineError(409, f"channel {to}: {exc}") from None
        else:
            if not re.fullmatch(r"[0-9]{1,20}", to):
                raise EngineError(400, f"to: {to!r} is neither a channel id nor a number of 1-20 digits")
            calling = call.calling if call.calling and call.calling.isdigit() else None   # not an extension id
            target = self._dial_out(to, calling)
        self._add_leg(call, target)
        self.hold(ch, {"tone": "ringback"})
        timer = self.clock.callLater(self.transfer_timeout, self._transfer_timeout, call, target)

        def answered(t):
            if timer.active():
                timer.cancel()
            if self.chan_call.get(ch.id) is call and call.state != "ended":
                self._connect(call, ch, t)
        target._on_answer = answered
        target._transfer_from = ch
        return defer.succeed(None)

    def _transfer_timeout(self, call: Call, target) -> None:
        target = self._follow(call, target)
        if target in call.legs and target.state != UP and target.direction is not None:
            target.hangup(19)               # no answer: the leg goes, the caller is taken off hold

    def _dial_out(self, number: str, calling: str | None):
        errors = []
        for t in self.trunks.values():
            if t.kind == "analog" and not any(c.kind == "fxo" for c in t.channels.values()):
                continue
            try:
                return t.originate(number, calling)
            except EngineError as exc:
                errors.append(str(exc))
        raise EngineError(503, "no trunk can take the call: " + "; ".join(errors))

    def originate(self, trunk: str, called: str, calling: str | None = None, timeout: float = 60.0):
        t = self.trunks.get(trunk) if isinstance(trunk, str) else None
        if t is None:
            raise EngineError(404, f"trunk {trunk!r} does not exist (trunks: {', '.join(self.trunks)})")
        if not isinstance(called, str) or not re.fullmatch(r"[0-9]{1,20}", called):
            raise EngineError(400, f"called: {called!r} is not a number of 1-20 digits")
        if calling is not None and (not isinstance(calling, str) or not re.fullmatch(r"[0-9]{0,20}", calling)):
            raise EngineError(400, f"calling: {calling!r} is not a number of up to 20 digits")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
            raise EngineError(400, f"timeout: {timeout!r} is not 0..600 seconds")
        ch = t.originate(called, calling or None)
        call = self._new_call(ch, "out")
        d = call.originate = defer.Deferred()
        timer = self.clock.callLater(timeout, self._originate_timeout, call, ch)

        def stop_timer(result):
            if timer.active():
                timer.cancel()
            return result
        return d.addBoth(stop_timer)

    def _originate_timeout(self, call: Call, ch) -> None:
        ch = self._follow(call, ch)
        if call.originate is not None and ch.direction is not None:
            ch.hangup(19)

    # ------------------------------------------------------------------------------------------ agents
    def add_agent(self, agent: str, queues) -> None:
        """Make ``agent`` a member of ``queues`` (the daemon adds the database's agents this way)."""
        self.acd.add_agent(agent, list(queues))

    def agent_login(self, agent: str, extension: str):
        self.acd.login(agent, extension)
        return defer.succeed(None)

    def agent_logout(self, agent: str):
        self.acd.logout(agent)
        return defer.succeed(None)

    def agent_ready(self, agent: str):
        self.acd.ready(agent)
        return defer.succeed(None)

    def agent_not_ready(self, agent: str, reason: str = ""):
        self.acd.not_ready(agent, reason)
        return defer.succeed(None)
