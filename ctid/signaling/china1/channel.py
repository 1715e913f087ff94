"""A China No.1 CAS channel (line + register machines + MF tone generator) and a per-board runner.

Per 20 ms tick the runner (:class:`CasBoard`) does: driver events (``AbcdEvent`` -> the channel's line
machine), ``read_block`` -> ``Bank.process`` (``r2f``/``r2b`` ON/OFF events -> the channel's register machine),
then every channel with a register active generates its MF tones (``R2Generator``, 160 samples, A-law) into
its timeslot's column of the block written with ``write_block``.

Here (``CasBoard``, the runner of tests and of hwsim far ends) the tones are generated per channel in Python
(one ``R2Generator.generate(160)`` + A-law encode per active channel per tick). On the media runtime (the daemon,
``ctid.core.trunks.china1``) a channel is built with ``tone_sink``: the register's signal changes go to the
native tone generator of the batched media tick instead (``ctid.dsp.r2mf.tone_def``: the same two frequencies
at the same level), and no Python runs per tick for tones.
"""
from __future__ import annotations

import logging

import numpy as np

from ctid.drivers.model import BLOCK_FRAMES, VOICE_TIMESLOTS, AbcdEvent, Alarm, AlarmEvent, OverrunEvent
from ctid.dsp import Bank
from ctid.dsp.g711 import alaw_encode
from ctid.dsp.params import R2Params
from ctid.dsp.r2mf import R2Generator

from .line import IncomingLine, LineState, OutgoingLine
from .register import BackwardRegister, ForwardRegister, RegisterResult
from .variant import BACKWARD, CHINA, Variant

log = logging.getLogger("ctid.signaling.china1")

SILENCE = 0xD5
#: receive alarms under which ABCD bits mean nothing (G.775 LOS/AIS, G.706 LOF, CAS multiframe lost)
SPAN_DOWN_ALARMS = Alarm.LOS | Alarm.LOF | Alarm.AIS | Alarm.LOMF


class CasChannel:
    """One bearer channel in one role (``"out"`` = forward/outgoing, ``"in"`` = backward/incoming).

    Application events go to ``listener(event, **info)`` and into ``events`` (a list of ``(event, info)``):
    out: ``seize_ack``, ``dual_seizure`` (policy), ``register_done`` (result), ``ringing``, ``answer``,
    ``clear_back``, ``idle`` (after a dual seizure with ``dual_seizure=True`` when the circuit is left to the far
    end's call), ``failed``; in: ``seized``, ``register_done`` (result), ``offered`` (result; call :meth:`answer`),
    ``clear_forward``, ``idle``; both: ``protocol_error`` (error), ``out_of_service`` (the span went down:
    the call is released locally), ``in_service``.
    """

    def __init__(self, role: str, channel, bank: Bank, clock, variant: Variant = CHINA, listener=None,
                 decide=None, want_calling: bool = True, numbers=None, tone_sink=None, dual_seizure: str = "back_off",
                 both_way: bool = False):
        if role not in ("out", "in"):
            raise ValueError(f"role must be 'out' or 'in', not {role!r}")
        self.role = role
        self.channel = channel
        self.number = channel.number if hasattr(channel, "number") else None
        self.bank = bank
        self.clock = clock
        self.variant = variant
        self.listener = listener
        self.decide = decide
        self.want_calling = want_calling
        self.numbers = numbers
        self.events: list[tuple[str, dict]] = []
        name = f"{role} ch{self.number}"
        # dual_seizure: what the outgoing line does when both ends seize at once (line.DUAL_SEIZURE_POLICIES)
        kw = dict(dual_seizure=dual_seizure) if role == "out" else {}
        cls = OutgoingLine if role == "out" else IncomingLine
        self.line = cls(variant, clock, channel, name=f"line {name}", listener=self._on_line, **kw)
        if role == "in":
            self.line.both_way = both_way     # on a both-way circuit (see IncomingLine.both_way)
        #: ``tone_sink(signal or None)``: where the register's MF signal changes go when something else (the
        #: native media tick) generates the tones; None: this channel's own ``R2Generator`` via :meth:`audio`
        self.tone_sink = tone_sink
        self.gen = R2Generator(backward=(role == "in"))
        self.register: ForwardRegister | BackwardRegister | None = None
        self.result: RegisterResult | None = None
        self._call: dict | None = None
        self._tail = 0          # blocks still to generate after the tone stopped (the ramp down)

    # application API -------------------------------------------------------------------------------
    def call(self, called: str, calling: str = "", ka: int = 1, kd: int = 1) -> bool:
        """Outgoing: seize and, on seize-ack, send the numbers."""
        if self.role != "out":
            raise ValueError("call() is for an outgoing channel")
        ForwardRegister(self.variant, self.clock, lambda s: None, called, calling, ka, kd)   # validates now
        self._call = dict(called=called, calling=calling, ka=ka, kd=kd)
        self.result = None
        return self.line.seize()

    def answer(self) -> bool:
        """Incoming: answer (after register signalling ended with the called party free)."""
        if self.register is not None and self.register.result is None:
            self.line._error("answer refused: register signalling is still running")
            return False
        return self.line.answer()

    def hangup(self) -> None:
        """Release from this end: clear-forward (outgoing) or clear-back (incoming, answered)."""
        if self.role == "out":
            self._stop_register("local release")
            self.line.release("local hangup")
        elif self.line.state is LineState.ANSWERED:
            self.line.clear_back()
        elif self.line.state is LineState.SEIZE_ACK:
            self._stop_register("local release")
            self.line.force_release()

    # inputs ------------------------------------------------------------------------------------------
    def on_abcd(self, abcd: int) -> None:
        self.line.on_abcd(abcd)

    def on_span(self, alarms: Alarm) -> None:
        """The span's receive alarms changed between down (any of SPAN_DOWN_ALARMS) and up: the line machine is
        told (down: local release of a call; up: the far end's current ABCD)."""
        if alarms & SPAN_DOWN_ALARMS:
            self.line.span_down(f"span {self.channel.span} alarms {'|'.join(alarms.names())}")
        else:
            self.line.span_up(self.channel.get_abcd())

    def resync(self) -> None:
        """Feed the line the ABCD value the board holds now (after lost driver events)."""
        v = self.channel.get_abcd()
        if v is not None:
            self.on_abcd(v)

    def on_tone(self, on: bool, signal: str) -> None:
        if self.register is not None:
            self.register.on_tone(on, signal)

    def audio(self) -> np.ndarray | None:
        """The next 20 ms of this channel (A-law codes), or None when it sends nothing of its own."""
        if self.gen.signal is None:
            if self._tail <= 0:
                return None
            self._tail -= 1
        else:
            self._tail = 1
        return alaw_encode(self.gen.generate(BLOCK_FRAMES))

    # internals ---------------------------------------------------------------------------------------
    def _emit(self, event: str, **info) -> None:
        self.events.append((event, info))
        if self.listener:
            try:
                self.listener(self, event, **info)
            except Exception:  # noqa: BLE001
                log.exception("channel %s: listener failed on %s", self.number, event)

    def _tone(self, sig) -> None:
        if self.tone_sink is not None:
            self.tone_sink(sig)
        else:
            self.gen.set(sig)

    def _mask(self, on: bool) -> None:
        if self.number is None:
            return
        kind = "r2b" if self.role == "out" else "r2f"
        self.bank.set_mask(self.number, kind if on else 0)

    def _stop_register(self, reason: str) -> None:
        if self.register is not None:
            self.register.abort(reason)
            self.register = None
        self._tone(None)
        self._mask(False)

    def _on_line(self, event: str, **info) -> None:
        if event == "state":
            return
        if event == "protocol_error":
            self._emit("protocol_error", **info)
            return
        if event == "out_of_service":
            self._stop_register("span down")
            self._emit(event, **info)
            return
        if self.role == "out":
            if event == "seize_ack" and self._call is not None:
                self._mask(True)
                c = self._call
                self.register = ForwardRegister(self.variant, self.clock, self._tone, c["called"], c["calling"],
                                                c["ka"], c["kd"], on_done=self._register_done,
                                                name=f"register fwd ch{self.number}")
                self._emit("seize_ack")
                self.register.start()
                return
            if event in ("idle", "clear_forward"):
                self._stop_register(event)
        else:
            if event == "seized":
                self._mask(True)
                self.register = BackwardRegister(self.variant, self.clock, self._tone, decide=self.decide,
                                                 want_calling=self.want_calling, numbers=self.numbers,
                                                 on_done=self._register_done, name=f"register bwd ch{self.number}")
                self._emit("seized")
                self.register.start()
                return
            if event in ("clear_forward", "idle"):
                self._stop_register(event)
        self._emit(event, **info)

    def _register_done(self, result: RegisterResult) -> None:
        self.result = result
        reg = self.register
        for err in (reg.errors if reg else []):
            self._emit("protocol_error", error=err)
        self._mask(False)
        self._emit("register_done", result=result)
        if result.outcome == "aborted":
            return
        if self.role == "out":
            if result.outcome == "free":
                self.line.expect_answer()
                self._emit("ringing", result=result)
            else:
                self._emit("failed", result=result)
                self.line.release(f"register signalling: {result.outcome}")
        else:
            if result.outcome == "free":
                self._emit("offered", result=result)
            elif result.outcome == "failed":
                if self.variant.has_line_signal(BACKWARD, "forced_release"):
                    self.line.force_release()        # starts the clear-forward wait too
                else:
                    # no forced release in this variant (Q.421): the forward side is to clear forward; if it
                    # never does, the clear-forward wait (Q.118 timed release) blocks the channel
                    self.line.await_clear_forward(f"after register failure ({result.detail})")
            else:
                # refused (busy, congestion ...): the forward side is to clear forward; if it never does,
                # the clear-forward wait (ITU-T Q.118 timed release) releases the channel from this end
                sig = f"B{result.b_signal}" if result.b_signal else "the refusal"
                self.line.await_clear_forward(f"after {sig} ({result.outcome})")


class CasBoard:
    """Runs China No.1 on the CAS spans of one board: one :class:`CasChannel` per configured timeslot."""

    def __init__(self, board, clock, variant: Variant = CHINA):
        self.board = board
        self.clock = clock
        self.variant = variant
        self.bank = Bank(board.nchannels, law="alaw")
        if variant.backward_2of4:
            self.bank.set_r2_params(R2Params.defaults(backward=True, china=True))
        self.bank.set_mask_all(0)
        self.channels: dict[int, CasChannel] = {}
        self.other_events: list = []
        self.down_spans: set[int] = set()

    def add(self, span: int, timeslot: int, role: str, **kw) -> CasChannel:
        if timeslot not in VOICE_TIMESLOTS:
            raise ValueError(f"timeslot {timeslot!r} is not a bearer channel of a CAS span (1..15, 17..31)")
        ch = self.board.spans[span].timeslot(timeslot)
        if ch.number in self.channels:
            raise ValueError(f"span {span} timeslot {timeslot} already has a {self.channels[ch.number].role} channel")
        cc = CasChannel(role, ch, self.bank, self.clock, self.variant, **kw)
        self.channels[ch.number] = cc
        alarms = self.board.span_status(span).alarms
        if alarms & SPAN_DOWN_ALARMS:
            self.down_spans.add(span)
        if span in self.down_spans:
            cc.line.span_down(f"span {span} alarms {'|'.join(alarms.names())}")
        now = ch.get_abcd()
        if now is not None:          # what the far end sends already (the driver reports changes only)
            cc.on_abcd(now)
        return cc

    def replace(self, span: int, timeslot: int, role: str, **kw) -> CasChannel:
        """Both-way operation: the timeslot's channel (idle, or its call given up) is replaced by a new one in
        ``role`` (e.g. after a dual seizure this end yielded: ``replace(..., "in", both_way=True)`` serves the far
        end's call); the new line interprets the ABCD received now."""
        if timeslot not in VOICE_TIMESLOTS:
            raise ValueError(f"timeslot {timeslot!r} is not a bearer channel of a CAS span (1..15, 17..31)")
        old = self.channels.pop(self.board.spans[span].timeslot(timeslot).number, None)
        if old is not None:
            old.line.timers.stop_all()
            old._stop_register("channel replaced")
        return self.add(span, timeslot, role, **kw)

    def _on_alarm(self, ev: AlarmEvent) -> None:
        down = bool(ev.alarms & SPAN_DOWN_ALARMS)
        if down == (ev.span in self.down_spans):
            return
        if down:
            self.down_spans.add(ev.span)
        else:
            self.down_spans.discard(ev.span)
        for cc in self.channels.values():
            if cc.channel.span == ev.span:
                cc.on_span(ev.alarms)

    def resync(self) -> None:
        """Feed every channel the ABCD value the board holds now (after an event overrun)."""
        for cc in self.channels.values():
            cc.resync()

    def step(self) -> None:
        """One 20 ms tick: events, received block, tones, written block."""
        for ev in self.board.events():
            if isinstance(ev, AbcdEvent):
                cc = self.channels.get(ev.span * 32 + ev.timeslot)
                if cc is not None:
                    cc.on_abcd(ev.abcd)
            elif isinstance(ev, AlarmEvent):
                self._on_alarm(ev)
                self.other_events.append(ev)
            elif isinstance(ev, OverrunEvent):
                self.resync()              # ABCD changes may have been lost: poll the current values
                self.other_events.append(ev)
            else:
                self.other_events.append(ev)
        block = self.board.read_block()
        for ev in self.bank.process(block):
            if ev.kind in ("r2f", "r2b") and ev.type in ("on", "off"):
                cc = self.channels.get(ev.channel)
                if cc is not None:
                    cc.on_tone(ev.type == "on", ev.value)
        out = self.board.new_block(SILENCE)
        for n, cc in self.channels.items():
            a = cc.audio()
            if a is not None:
                out[:, n] = a
        self.board.write_block(out)
