"""Compelled MFC R2 register signalling (Q.442-style cycle) in both roles, driven by tone ON/OFF events.

The compelled cycle: forward tone on -> the backward side acknowledges with its tone on -> forward tone off ->
backward tone off -> the forward side sends the next signal. The backward signal carries the meaning (group A:
send next digit, send KA and calling number, change over to group B, congestion; group B: the called party's
condition). When the forward side has nothing to send (China has no end-of-number signal), the backward side
decides by length or by timeout and then sends A3 as a *pulsed* signal (tone on for ``variant.pulse_ms``).

Both machines take tone events as ``on_tone(on, signal)`` (from ``ctid.dsp.Bank`` events of kind ``r2b`` on the
forward side, ``r2f`` on the backward side) and produce tones through ``send(signal_or_None)`` (the caller feeds
an ``R2Generator``). Errors are recorded (``errors``) and end register signalling with ``outcome="failed"``;
nothing raises.
"""
from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

from .timers import ProtocolError, Timers
from .variant import OUTCOMES, M, TimerSpec, Variant

log = logging.getLogger("ctid.signaling.china1")

A_NEXT, A_CHANGEOVER_B, A_CONGESTION, A_SEND_ANI = M.NEXT, M.CHANGEOVER_B, M.CONGESTION, M.SEND_KA_CALLING
REPEATS = {M.REPEAT_1: 1, M.REPEAT_2: 2, M.REPEAT_3: 3}


@dataclass
class RegisterResult:
    outcome: str                    # free, busy, congestion, failed, ...
    called: str = ""
    calling: str = ""
    ka: int | None = None
    kd: int | None = None
    b_signal: str | None = None
    detail: str = ""


class RState(str, enum.Enum):
    IDLE = "IDLE"
    SENDING = "SENDING"            # forward: our tone on, waiting for the backward acknowledgement
    ACKED = "ACKED"                # forward: backward tone seen, ours off, waiting for backward off
    WAIT_PULSE = "WAIT_PULSE"      # forward: nothing to send, waiting for a pulsed backward signal
    WAIT_SIGNAL = "WAIT_SIGNAL"    # backward: waiting for the next forward tone
    RESPONDING = "RESPONDING"      # backward: our acknowledgement on, waiting for forward off
    PULSING = "PULSING"            # backward: a pulsed signal on
    DONE = "DONE"


class _Register:
    def __init__(self, variant: Variant, clock, send, on_done=None, name: str = ""):
        self.variant = variant
        self.clock = clock
        self._send_fn = send
        self.on_done = on_done
        self.name = name or type(self).__name__
        self.timers = Timers(clock)
        self.state = RState.IDLE
        self.errors: list[ProtocolError] = []
        self.result: RegisterResult | None = None
        self.log: list[tuple[str, str]] = []     # ("tx"/"rx", signal) in order, for tests and traces
        self.sending: str | None = None
        self.tone_off_at: float | None = None     # clock time our last tone ended

    def _spec(self, key: str) -> TimerSpec | None:
        """The variant's timer ``key`` if it has one (``out_t1`` / ``out_t2`` / ``in_t3``: the Recommendations'
        register time-outs; a variant without them supervises each phase with ``mf_back_cycle``)."""
        return self.variant.timers.get(key)

    def _send(self, sig: str | None) -> None:
        if sig is None and self.sending is not None:
            self.tone_off_at = self.clock.seconds()
        self.sending = sig
        if sig is not None:
            self.log.append(("tx", sig))
        self._send_fn(sig)

    def _error(self, message: str) -> None:
        err = ProtocolError(self.name, self.state.value, message)
        self.errors.append(err)
        log.warning("protocol error: %s", err)

    def _finish(self, result: RegisterResult) -> None:
        if self.state is RState.DONE:
            return
        self.timers.stop_all()
        if self.sending is not None:
            self._send(None)
        self.state = RState.DONE
        self.result = result
        if self.on_done:
            try:
                self.on_done(result)
            except Exception:  # noqa: BLE001
                log.exception("%s: on_done failed", self.name)

    def _fail(self, message: str) -> None:
        self._error(message)
        self._finish(self._result("failed", detail=message))

    def _result(self, outcome: str, **kw) -> RegisterResult:
        raise NotImplementedError

    def abort(self, reason: str = "aborted") -> None:
        """Stop (the line was cleared): tone off, timers off, outcome 'aborted'."""
        if self.state not in (RState.DONE,):
            self._finish(self._result("aborted", detail=reason))

    def on_tone(self, on: bool, signal: str) -> None:
        if self.state is RState.DONE or self.state is RState.IDLE:
            return
        try:
            self._on_tone(bool(on), str(signal).upper())
        except Exception as exc:  # noqa: BLE001
            log.exception("%s: internal error on tone", self.name)
            self._fail(f"internal error on tone {signal!r}: {exc!r}")

    def _timeout(self, spec: TimerSpec, what: str) -> None:
        self._fail(f"timer {spec.label} expired: {what}")


class ForwardRegister(_Register):
    """The outgoing (forward) register: sends the called number, KA + calling number on A6, KD on A3."""

    def __init__(self, variant: Variant, clock, send, called: str, calling: str = "", ka: int = 1, kd: int = 1,
                 on_done=None, name: str = ""):
        super().__init__(variant, clock, send, on_done, name or "register fwd")
        for what, num in (("called", called), ("calling", calling)):
            if not isinstance(num, str) or (num and not num.isdigit()):
                raise ValueError(f"{what} number {num!r}: digits 0-9 only")
        if not called:
            raise ValueError("called number is empty")
        variant.category_signal("KA", ka)
        variant.category_signal("KD", kd)
        self.called, self.calling, self.ka, self.kd = called, calling, ka, kd
        self.ci = 0            # next called digit to send
        self.ai = 0            # next calling digit to send
        self.mode = "called"   # what A1 asks for next: called, calling
        self.group = "A"
        self.pending: str | None = None    # backward signal being acknowledged
        self.b_signal: str | None = None
        self._eon_sent = False

    def _result(self, outcome: str, **kw) -> RegisterResult:
        return RegisterResult(outcome, self.called[:self.ci], self.calling[:self.ai], self.ka, self.kd,
                              self.b_signal, **kw)

    def start(self) -> None:
        self.state = RState.SENDING
        self._next_called()

    # what to send next ---------------------------------------------------------------------------
    def _tx(self, sig: str) -> None:
        self._send(sig)
        self.state = RState.SENDING
        t1 = self._spec("out_t1")
        if t1 is not None:
            # T1: from the start of a forward signal until it may cease (the backward acknowledgement)
            self.timers.stop("out_t2")
            self.timers.start(t1, self._timeout, f"no backward acknowledgement of forward signal {sig}")
        else:
            self.timers.start(self.variant.timer("mf_back_cycle"), self._timeout,
                              f"no backward acknowledgement of forward signal {sig}")

    def _start_t2(self) -> None:
        """T2 supervises the time no forward signal is on (from its cessation on an acknowledgement until the
        next forward signal): started once, not restarted by the phases within."""
        if "out_t2" not in self.timers.running():
            self.timers.start(self._spec("out_t2"), self._t2_expired)

    def _t2_expired(self, spec: TimerSpec) -> None:
        if self.state is RState.ACKED:
            what = f"backward signal {self.group}{self.pending} not removed"
        else:
            what = "called number sent, no pulsed backward signal followed"
        self._fail(f"timer {spec.label} expired: {what}")

    def _next_called(self) -> None:
        if self.ci < len(self.called):
            d = self.called[self.ci]
            self.ci += 1
            self._tx(self.variant.digit_signal(d))
        elif self.variant.end_of_number_signal and not self._eon_sent:
            self._eon_sent = True
            self._tx(self.variant.end_of_number_signal)
        else:
            # nothing left: the backward side ends the number by length/timeout and pulses A3
            self.state = RState.WAIT_PULSE
            if self._spec("out_t2") is not None:
                self._start_t2()
            else:
                self.timers.start(self.variant.timer("mf_back_cycle"), self._timeout,
                                  "called number sent, no pulsed backward signal followed")

    def _next_calling(self) -> None:
        if self.ai < len(self.calling):
            d = self.calling[self.ai]
            self.ai += 1
            self._tx(self.variant.digit_signal(d))
        else:
            self.mode = "called"
            self._tx(self.variant.end_of_calling_number_signal or "F")

    # events ----------------------------------------------------------------------------------------
    def _on_tone(self, on: bool, sig: str) -> None:
        if on:
            if self.state in (RState.SENDING, RState.WAIT_PULSE):
                self.timers.stop("mf_back_cycle")
                self.timers.stop("out_t1")
                self.log.append(("rx", self.group + sig))
                self.pending = sig
                if self.sending is not None:
                    self._send(None)          # compelled: forward tone off on the acknowledgement
                self.state = RState.ACKED
                if self._spec("out_t2") is not None:
                    self._start_t2()
                else:
                    self.timers.start(self.variant.timer("mf_back_cycle"), self._timeout,
                                      f"backward signal {self.group}{sig} not removed")
            else:
                self._error(f"backward tone {sig} on while {self.state.value}; ignored")
            return
        # tone off
        if self.state is not RState.ACKED:
            return    # an off after we already moved on (e.g. a detector glitch): nothing to do
        self.timers.stop("mf_back_cycle")
        sig, self.pending = self.pending, None
        if self.group == "A":
            self._on_group_a(sig)
        else:
            self._on_group_b(sig)

    def _on_group_a(self, sig: str) -> None:
        meaning = self.variant.group_a.get(sig)
        if meaning == M.NEXT:
            if self.mode == "calling":
                self._next_calling()
            else:
                self._next_called()
        elif meaning in REPEATS and self.mode == "called":
            idx = self.ci - 1 - REPEATS[meaning]
            if idx < 0:
                self._fail(f"backward signal A{sig} ({meaning}) but only {self.ci} digit(s) were sent")
                return
            self.ci = idx
            self._eon_sent = False
            self._next_called()
        elif meaning == M.SEND_KA_CALLING:
            self.mode = "calling"
            self._tx(self.variant.category_signal("KA", self.ka))
        elif meaning == M.SEND_CATEGORY:
            self._tx(self.variant.category_signal("KD", self.kd))      # group II, then back to group A
        elif meaning == M.CHANGEOVER_B:
            self.group = "B"
            self._tx(self.variant.category_signal("KD", self.kd))
        elif meaning == M.COMPLETE_CHARGE:
            self._finish(self._result("free", detail=f"A{sig}: {meaning}"))
        elif meaning in (M.CONGESTION, M.CONGESTION_INTERNATIONAL):
            self._finish(self._result("congestion", detail=f"A{sig}: {meaning}"))
        else:
            what = f"({meaning}) is not supported" if meaning else f"has no meaning in variant {self.variant.name}"
            self._fail(f"backward signal A{sig} {what}")

    def _on_group_b(self, sig: str) -> None:
        self.b_signal = sig
        meaning = self.variant.group_b.get(sig)
        if meaning not in OUTCOMES:
            what = f"({meaning}) is not supported" if meaning else f"has no meaning in variant {self.variant.name}"
            self._fail(f"backward signal B{sig} {what}")
            return
        self._finish(self._result(OUTCOMES[meaning], detail=f"B{sig}: {meaning}"))


class BackwardRegister(_Register):
    """The incoming (backward) register: acknowledges with A1, asks for KA + calling number with A6, ends
    the called number by length (``variant.numbers``) or timeout, sends A3, then the B signal ``decide``
    returns for the received call (``"free"``, ``"busy"``, or a group B signal character)."""

    def __init__(self, variant: Variant, clock, send, decide=None, want_calling: bool = True,
                 numbers=None, on_done=None, name: str = ""):
        super().__init__(variant, clock, send, on_done, name or "register bwd")
        self.decide = decide or (lambda called, calling, ka, kd: "free")
        self.want_calling = want_calling and variant.has("a", M.SEND_KA_CALLING)
        self.numbers = numbers or variant.numbers
        self.called = ""
        self.calling = ""
        self.ka: int | None = None
        self.kd: int | None = None
        self.expect = "called"      # called, ka, calling, kd
        self.got_calling = False
        self.response: str | None = None
        self.b_signal: str | None = None

    def _result(self, outcome: str, **kw) -> RegisterResult:
        return RegisterResult(outcome, self.called, self.calling, self.ka, self.kd, self.b_signal, **kw)

    @property
    def eon_timer(self) -> TimerSpec:
        return TimerSpec("end_of_number", self.numbers.end_timeout_ms, "NumberRules", "end-of-number timeout")

    def start(self) -> None:
        self.state = RState.WAIT_SIGNAL
        t3 = self._spec("in_t3")
        if t3 is not None:
            self.timers.start(t3, self._t3_expired)     # from the seizure to the first forward signal too
        else:
            self.timers.start(self.variant.timer("mf_back_cycle"), self._timeout, "no first forward signal")

    def _t3_expired(self, spec: TimerSpec) -> None:
        """T3 (between the recognition of two forward signals) ran out: the register gives up."""
        if self.state is RState.RESPONDING:
            what = f"forward signal not removed after our acknowledgement {self.response}"
        elif self.state is RState.PULSING:
            what = "no forward signal before the end of our pulsed signal"
        else:
            what = f"no forward signal (expecting {self.expect})"
        self._fail(f"timer {spec.label} expired: {what}")

    def _a(self, meaning: str) -> str:
        return self.variant.signal_for("a", meaning)

    def _respond(self, forward_sig: str) -> str:
        """The backward signal compelled by ``forward_sig`` (and the new expectation)."""
        v = self.variant
        if self.expect == "called":
            if forward_sig == v.end_of_number_signal and self.called:
                if self.want_calling and not self.got_calling:
                    self.expect = "ka"
                    return self._a(A_SEND_ANI)
                self.expect = "kd"
                return self._a(A_CHANGEOVER_B)
            if not forward_sig.isdigit():
                raise _Bad(f"forward signal I-{_signal_value(forward_sig)} is not a digit of the called number")
            if len(self.called) >= self.numbers.max_length:
                raise _Bad(f"called number longer than {self.numbers.max_length} digits")
            self.called += forward_sig
            if self.want_calling and not self.got_calling and len(self.called) >= self.numbers.ani_after:
                self.expect = "ka"
                return self._a(A_SEND_ANI)
            if self.numbers.complete(self.called):
                self.expect = "kd"
                return self._a(A_CHANGEOVER_B)
            return self._a(A_NEXT)
        if self.expect == "ka":
            self.ka = _signal_value(forward_sig)
            self.expect = "calling"
            return self._a(A_NEXT)
        if self.expect == "calling":
            if forward_sig == v.end_of_calling_number_signal:
                self.got_calling = True
                if self.numbers.complete(self.called):
                    self.expect = "kd"
                    return self._a(A_CHANGEOVER_B)
                self.expect = "called"
                return self._a(A_NEXT)
            if not forward_sig.isdigit():
                raise _Bad(f"forward signal I-{_signal_value(forward_sig)} is not a calling-number digit")
            if len(self.calling) >= self.numbers.max_calling_length:
                raise _Bad(f"calling number longer than {self.numbers.max_calling_length} digits")
            self.calling += forward_sig
            return self._a(A_NEXT)
        if self.expect == "kd":
            self.kd = _signal_value(forward_sig)
            choice = self.decide(self.called, self.calling, self.ka, self.kd)
            sig = _b_signal(v, choice)
            self.b_signal = sig
            self.expect = "done"
            return sig
        raise _Bad(f"forward signal {forward_sig} after register signalling ended")

    def _on_tone(self, on: bool, sig: str) -> None:
        if on:
            if self.state is not RState.WAIT_SIGNAL:
                self._error(f"forward tone {sig} on while {self.state.value}; ignored")
                return
            self.timers.stop("mf_back_cycle")
            self.timers.stop("end_of_number")
            self.timers.stop("pre_pulse")
            t3 = self._spec("in_t3")
            if t3 is not None:
                self.timers.start(t3, self._t3_expired)      # restarted on each forward signal recognised
            self.log.append(("rx", ("II" if self.expect == "kd" else "I") + "-" + sig))
            try:
                resp = self._respond(sig)
            except _Bad as exc:
                self._fail(str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - e.g. decide() failed: refuse the call
                if self.expect == "kd":
                    # in group B: the only refusal the variant's group B defines is "busy"
                    resp = self.b_signal = self.variant.b_signal_for("busy")
                else:
                    resp = self._a(A_CONGESTION)
                self._error(f"deciding the answer to {sig} failed: {exc!r}; refusing with "
                            f"{'B' if self.expect == 'kd' else 'A'}{resp}")
                self.expect = "done"
            self.response = resp
            self._send(resp)
            self.state = RState.RESPONDING
            if t3 is None:
                self.timers.start(self.variant.timer("mf_back_cycle"), self._timeout,
                                  f"forward signal {sig} not removed after our acknowledgement {resp}")
            return
        if self.state is not RState.RESPONDING:
            return
        self.timers.stop("mf_back_cycle")
        self._send(None)
        self._after_cycle()

    def _after_cycle(self) -> None:
        if self.expect == "done":
            meaning = self.variant.group_b.get(self.b_signal or "") if self.b_signal else A_CONGESTION
            outcome = OUTCOMES.get(meaning, "other") if self.b_signal else "congestion"
            self._finish(self._result(outcome, detail=f"sent {'B' + self.b_signal if self.b_signal else 'A4'}"))
            return
        self.state = RState.WAIT_SIGNAL
        if self.expect == "called":
            self.timers.start(self.eon_timer, self._end_of_number)
        elif self._spec("in_t3") is None:
            self.timers.start(self.variant.timer("mf_back_cycle"), self._timeout,
                              f"no forward signal (expecting {self.expect})")

    def _end_of_number(self, spec: TimerSpec) -> None:
        if self.state is not RState.WAIT_SIGNAL:
            return
        if not self.called:
            self._fail(f"timer {spec.label} expired with no called digit")
            return
        if self.want_calling and not self.got_calling:
            self._fail(f"timer {spec.label} expired before the calling number was asked for")
            return
        # the number is complete by timeout: pulse A3 (no forward signal compels it), not before the variant's
        # pause after our last backward signal (Q.442 in the ITU variant)
        pre = self._spec("pre_pulse")
        if pre is not None and self.tone_off_at is not None:
            left = pre.ms - (self.clock.seconds() - self.tone_off_at) * 1000.0
            if left > 0:
                self.timers.start(TimerSpec(pre.key, max(1, math.ceil(left)), pre.source, pre.name),
                                  lambda _spec: self._pulse(A_CHANGEOVER_B))
                return
        self._pulse(A_CHANGEOVER_B)

    def _pulse(self, meaning: str) -> None:
        """Send the group A signal for ``meaning`` as a pulse (``variant.pulse``: Q.442 in the ITU variant)."""
        if self.state is not RState.WAIT_SIGNAL:
            return
        if meaning == A_CHANGEOVER_B:
            self.expect = "kd"
        self._send(self._a(meaning))
        self.state = RState.PULSING
        self.timers.start(self.variant.pulse, self._pulse_end)

    def _pulse_end(self, _spec: TimerSpec | None = None) -> None:
        if self.state is not RState.PULSING:
            return
        self._send(None)
        self.state = RState.WAIT_SIGNAL
        if self._spec("in_t3") is None:
            self.timers.start(self.variant.timer("mf_back_cycle"), self._timeout, "no KD after pulsed A3")


class _Bad(Exception):
    pass


def _signal_value(sig: str) -> int:
    from ctid.dsp.r2mf import SIGNALS

    return SIGNALS.index(sig) + 1 if sig in SIGNALS else 0


def _b_signal(variant: Variant, choice) -> str:
    if isinstance(choice, str) and len(choice) == 1 and choice.upper() in variant.group_b:
        return choice.upper()
    if choice in set(OUTCOMES.values()):
        try:
            return variant.b_signal_for(choice)
        except KeyError:
            pass
    raise ValueError(f"decide() returned {choice!r}: use an outcome ({', '.join(sorted(set(OUTCOMES.values())))}) "
                     f"the variant has a group B signal for, or a group B signal of variant {variant.name} "
                     f"({''.join(sorted(variant.group_b))})")
