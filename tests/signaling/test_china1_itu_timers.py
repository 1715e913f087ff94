"""The ITU variant's timers and pulse timing against what the R2 Recommendations give (Q.421, Q.442, Q.476).

The expectations are transcribed here, independently of ctid.signaling.china1.variant, from the sources cited in
variant.py that quote the Recommendations: [DLG] Dialogic 6.2 User Manual, Table 18 (seizing acknowledgement
100-200 ms terrestrial, 1-2 s with a satellite link) and Table 19 (Q.442: backward pulse 100-200 ms, not before
100 ms after the last backward signal; Q.476: outgoing T1 12-18 s, outgoing T2 > 24 s, incoming T3 8-24 s);
[3COM] 3Com Router 5000/6000 Command Reference (pulse 150 +- 30 ms; pulsed A3 -> a group II signal follows).
Each timer is then driven on a task.Clock: it does not fire before its value, it fires at it, with the outcome
the machines give (register failed naming the timer, line cleared, tones removed).
"""
from __future__ import annotations

import dataclasses

import pytest
from twisted.internet import task

from ctid.signaling.china1 import BACKWARD, FORWARD, NumberRules
from ctid.signaling.china1.channel import CasChannel
from ctid.signaling.china1.line import LineState, OutgoingLine
from ctid.signaling.china1.register import BackwardRegister, ForwardRegister, RState
from ctid.signaling.china1.variant import CHINA, ITU, TimerSpec, Variant

# key -> (Recommendation, quoted range in ms (low, high); high None = no upper bound), and ctid's choice
QUOTED = {
    "seize_ack": ("Q.421", (1000, 2000)),     # [DLG] T18: 1-2 s with a satellite link (100-200 ms without)
    "out_t1": ("Q.476", (12000, 18000)),      # [DLG] T19: start of a forward signal -> its cessation
    "out_t2": ("Q.476", (24000, None)),       # [DLG] T19: > 24 s while no forward signal is sent
    "in_t3": ("Q.476", (8000, 24000)),        # [DLG] T19: between the recognition of two forward signals
    "pulse": ("Q.442", (100, 200)),           # [DLG] T19 (150 +- 30 ms [3COM])
    "pre_pulse": ("Q.442", (100, None)),      # [DLG] T19: >= 100 ms after the end of the last backward signal
}
CHOSEN = {"seize_ack": 2000, "out_t1": 15000, "out_t2": 30000, "in_t3": 15000, "pulse": 150, "pre_pulse": 100}
NATIONAL = ("answer", "release_guard")       # [DLG] T18: "refer to network specification"


@pytest.mark.parametrize("key", sorted(QUOTED))
def test_itu_timer_inside_the_quoted_range(key):
    rec, (low, high) = QUOTED[key]
    spec = ITU.timer(key)
    assert spec.ms == CHOSEN[key]
    assert spec.ms >= low and (high is None or spec.ms <= high)
    if key == "out_t2":
        assert spec.ms > 24000                                   # "> 24 s", strictly
    assert rec in spec.source and rec in spec.label and str(spec.ms) in spec.label
    assert spec.range_ms == (low, high)


def test_itu_national_timers_and_nothing_left_unchecked():
    for key in NATIONAL:
        assert "national" in ITU.timer(key).source
    for spec in ITU.timers.values():
        assert "not checked" not in spec.source and "OpenR2" not in spec.source
    assert "mf_back_cycle" not in ITU.timers            # supervised by T1 / T2 / T3 instead
    assert ITU.pulse_ms == 150 and ITU.pulse.ms == 150


def test_china_timers_unchanged():
    want = {"seize_ack": 8000, "answer": 60000, "mf_back_cycle": 5000, "release_guard": 8000, "clear_forward": 30000}
    assert {k: s.ms for k, s in CHINA.timers.items()} == want
    assert "OpenR2 1.3.3" in CHINA.timer("mf_back_cycle").source
    assert CHINA.pulse.ms == 150 and "pulse" not in CHINA.timers and "pre_pulse" not in CHINA.timers


def test_timer_ranges_are_enforced():
    with pytest.raises(ValueError, match="outside its range"):
        TimerSpec("out_t1", 20000, "x", range_ms=(12000, 18000))
    with pytest.raises(ValueError, match="positive"):
        TimerSpec("pulse", 0, "x")
    timers = {k: v for k, v in ITU.timers.items() if k != "in_t3"}
    with pytest.raises(ValueError, match="mf_back_cycle"):
        Variant(name="bad", description="", line=ITU.line, group_i=ITU.group_i, group_ii=ITU.group_ii,
                group_a=ITU.group_a, group_b=ITU.group_b, timers=timers)


# ---------------------------------------------------------------------------------------------- registers

class Tx:
    """Records what a register sends, with the clock time."""

    def __init__(self, clock):
        self.clock, self.events = clock, []

    def __call__(self, sig):
        self.events.append((round(self.clock.seconds(), 6), sig))

    @property
    def on(self):
        return self.events[-1][1] if self.events else None


def fwd_reg(called="12"):
    clock = task.Clock()
    tx = Tx(clock)
    reg = ForwardRegister(ITU, clock, tx, called, kd=1)
    reg.start()
    return reg, clock, tx


def test_outgoing_t1_releases_the_register_when_a_forward_signal_is_not_acknowledged():
    reg, clock, tx = fwd_reg()
    t1 = CHOSEN["out_t1"] / 1000
    clock.advance(t1 - 0.01)
    assert reg.result is None and tx.on == "1"
    clock.advance(0.02)
    assert reg.result.outcome == "failed" and reg.state is RState.DONE
    assert "outgoing register T1" in reg.result.detail and "Q.476" in reg.result.detail
    assert tx.on is None                                   # the forward signal is removed
    assert not clock.getDelayedCalls()


def test_outgoing_t1_runs_per_forward_signal():
    reg, clock, tx = fwd_reg()
    clock.advance(10)
    reg.on_tone(True, "1")                                 # A-1 after 10 s: digit 1 may cease
    reg.on_tone(False, "1")
    assert tx.on == "2"                                    # the next digit, with a fresh T1
    clock.advance(CHOSEN["out_t1"] / 1000 - 0.01)
    assert reg.result is None
    clock.advance(0.02)
    assert "outgoing register T1" in reg.result.detail


def test_outgoing_t2_when_the_backward_signal_is_not_removed():
    reg, clock, tx = fwd_reg()
    reg.on_tone(True, "1")                                 # acknowledged: our signal ceases, T2 runs
    assert tx.on is None
    clock.advance(CHOSEN["out_t1"] / 1000 + 1)             # T1 does not apply any more
    assert reg.result is None
    clock.advance(CHOSEN["out_t2"] / 1000 - CHOSEN["out_t1"] / 1000 - 1.01)
    assert reg.result is None
    clock.advance(0.02)
    assert reg.result.outcome == "failed"
    assert "outgoing register T2" in reg.result.detail and "A1 not removed" in reg.result.detail


def test_outgoing_t2_is_not_restarted_while_waiting_for_a_pulsed_signal():
    reg, clock, tx = fwd_reg("1")
    reg.on_tone(True, "1")
    reg.on_tone(False, "1")
    assert tx.on == "F"                                    # I-15 end of pulsing
    reg.on_tone(True, "1")                                 # T2 starts with this acknowledgement ...
    clock.advance(10)
    reg.on_tone(False, "1")                                # ... A-1 again: nothing left, wait for a pulse
    assert reg.state is RState.WAIT_PULSE
    clock.advance(CHOSEN["out_t2"] / 1000 - 10 - 0.01)
    assert reg.result is None
    clock.advance(0.02)                                    # T2 from the acknowledgement, not from its end
    assert "outgoing register T2" in reg.result.detail and "no pulsed backward signal" in reg.result.detail


def test_pulsed_a3_while_waiting_sends_the_category_and_a4_a6_a15_end_signalling():
    """[3COM]: on a pulsed A3 the outgoing side sends a group II signal; on A4, A6 or A15 no further forward
    signal, register signalling ends (congestion, address complete, congestion)."""
    for a, outcome in (("3", None), ("4", "congestion"), ("6", "free"), ("F", "congestion")):
        reg, clock, tx = fwd_reg("1")
        for sig in ("1", "1"):                             # digit 1, then I-15, each answered with A-1
            reg.on_tone(True, sig)
            reg.on_tone(False, sig)
        assert reg.state is RState.WAIT_PULSE
        clock.advance(1)
        reg.on_tone(True, a)
        clock.advance(CHOSEN["pulse"] / 1000)
        reg.on_tone(False, a)
        if outcome is None:
            assert tx.on == "1" and reg.group == "B" and reg.result is None     # II-1 (KD 1)
        else:
            assert reg.result.outcome == outcome and tx.on is None


def bwd_reg(numbers=NumberRules(default_length=None, end_timeout_ms=3000), variant=ITU):
    clock = task.Clock()
    tx = Tx(clock)
    reg = BackwardRegister(variant, clock, tx, want_calling=False, numbers=numbers)
    reg.start()
    return reg, clock, tx


def step(clock, seconds, dt=0.001):
    """Advance in 1 ms steps, so that what is sent is recorded at the time it was sent."""
    for _ in range(round(seconds / dt)):
        clock.advance(dt)


def cycle(reg, clock, sig, hold=0.06):
    """One compelled cycle seen by the backward register: forward on, (its acknowledgement), forward off."""
    reg.on_tone(True, sig)
    clock.advance(hold)
    reg.on_tone(False, sig)


def test_incoming_t3_between_forward_signals():
    reg, clock, tx = bwd_reg(NumberRules(default_length=None, end_timeout_ms=60000))
    t3 = CHOSEN["in_t3"] / 1000
    clock.advance(t3 - 5)
    cycle(reg, clock, "1")                                 # a forward signal recognised: T3 restarts
    assert tx.events[-2][1] == "1" and tx.on is None       # A-1 sent and removed
    clock.advance(t3 - 0.1)
    assert reg.result is None
    clock.advance(0.1)
    assert reg.result.outcome == "failed"
    assert "incoming register T3" in reg.result.detail and "Q.476" in reg.result.detail
    assert not clock.getDelayedCalls()


def test_incoming_t3_when_the_forward_signal_is_not_removed():
    reg, clock, tx = bwd_reg()
    reg.on_tone(True, "1")                                 # acknowledged with A-1, never removed
    assert tx.on == "1" and reg.state is RState.RESPONDING
    clock.advance(CHOSEN["in_t3"] / 1000 - 0.01)
    assert reg.result is None
    clock.advance(0.02)
    assert "incoming register T3" in reg.result.detail and "not removed" in reg.result.detail
    assert tx.on is None


def test_pulsed_a3_duration_and_pause_measured_from_the_tones():
    """End of number by time-out: A-3 is pulsed for 150 ms (Q.442), no earlier than 100 ms after the end of our
    last backward signal even when the end-of-number time-out is shorter."""
    reg, clock, tx = bwd_reg(NumberRules(default_length=None, end_timeout_ms=40))
    cycle(reg, clock, "5")
    cycle(reg, clock, "7")
    last_off = tx.events[-1][0]
    assert tx.events[-1][1] is None
    step(clock, 0.05)                                      # end-of-number time-out (40 ms) has passed ...
    assert tx.on is None and reg.state is RState.WAIT_SIGNAL       # ... but not the 100 ms pause
    step(clock, 0.06)
    on_at, sig = tx.events[-1]
    assert sig == "3" and reg.state is RState.PULSING
    assert on_at - last_off == pytest.approx(CHOSEN["pre_pulse"] / 1000, abs=0.002)
    step(clock, 0.2)
    off_at, off = tx.events[-1]
    assert off is None and off_at - on_at == pytest.approx(CHOSEN["pulse"] / 1000, abs=0.0011)
    cycle(reg, clock, "1")                                 # II-1: the category after the pulsed A-3
    assert reg.kd == 1 and reg.result is not None and reg.result.outcome == "free"


def test_forward_signal_during_the_pause_cancels_the_pulse():
    reg, clock, tx = bwd_reg(NumberRules(default_length=None, end_timeout_ms=40))
    cycle(reg, clock, "5")
    clock.advance(0.05)                                    # in the pause
    cycle(reg, clock, "6")                                 # another digit after all: answered with A-1
    assert reg.called == "56" and [s for _, s in tx.events if s] == ["1", "1"]
    clock.advance(0.5)
    assert [s for _, s in tx.events if s] == ["1", "1", "3"]      # then the pulse, once


def test_itu_registers_end_to_end_with_a_pulsed_a3():
    """Both ITU registers joined by a tone path (30 ms each way); the forward side has no end-of-pulsing signal
    here, so the backward side ends the number by time-out and pulses A-3; the forward side waits under T2."""
    variant = dataclasses.replace(ITU, name="itu-no-eop", end_of_number_signal=None)
    clock = task.Clock()
    delay = 0.03

    class Path:
        def __init__(self):
            self.target, self.cur, self.log = None, None, []

        def __call__(self, sig):
            self.log.append((round(clock.seconds(), 6), sig))
            if self.cur is not None:
                clock.callLater(delay, self.target.on_tone, False, self.cur)
            if sig is not None:
                clock.callLater(delay, self.target.on_tone, True, sig)
            self.cur = sig

    f2b, b2f = Path(), Path()
    fwd = ForwardRegister(variant, clock, f2b, "4711", kd=2)
    bwd = BackwardRegister(variant, clock, b2f, want_calling=False,
                           numbers=NumberRules(default_length=None, end_timeout_ms=2000))
    f2b.target, b2f.target = bwd, fwd
    bwd.start()
    fwd.start()
    step(clock, 4)
    assert fwd.result.outcome == bwd.result.outcome == "free"
    assert bwd.called == "4711" and bwd.kd == 2 and not fwd.errors and not bwd.errors
    ons = [(t, s) for t, s in b2f.log if s is not None]
    assert ons[-2][1] == "3"                               # the pulsed A-3 (then B-6 free, compelled by II-2)
    t_on = ons[-2][0]
    t_off = next(t for t, s in b2f.log if t > t_on and s is None)
    assert t_off - t_on == pytest.approx(CHOSEN["pulse"] / 1000, abs=0.0011)     # 1 ms steps
    assert not clock.getDelayedCalls()


# ---------------------------------------------------------------------------------------------- line

class Chan:
    def __init__(self):
        self.sent = []

    def set_abcd(self, v):
        self.sent.append(v)


def test_q421_seize_ack_wait():
    clock, ch = task.Clock(), Chan()
    line = OutgoingLine(ITU, clock, ch, name="out")
    line.on_abcd(ITU.code(BACKWARD, "idle"))
    assert line.seize() and ch.sent[-1] == ITU.code(FORWARD, "seize")
    clock.advance(CHOSEN["seize_ack"] / 1000 - 0.01)
    assert line.state is LineState.SEIZED
    clock.advance(0.02)
    assert line.state is LineState.IDLE and ch.sent[-1] == ITU.code(FORWARD, "clear_forward")
    assert "seize-ack wait" in line.errors[-1].message and "Q.421" in line.errors[-1].message
    # acknowledged in time: no error
    line2 = OutgoingLine(ITU, clock, Chan(), name="out2")
    line2.on_abcd(ITU.code(BACKWARD, "idle"))
    line2.seize()
    clock.advance(CHOSEN["seize_ack"] / 1000 - 0.1)
    line2.on_abcd(ITU.code(BACKWARD, "seize_ack"))
    clock.advance(1)
    assert line2.state is LineState.SEIZE_ACK and not line2.errors


def test_itu_incoming_register_failure_waits_for_clear_forward():
    """No forced release in Q.421: when the incoming register gives up (T3), the channel waits for the forward
    side to clear forward (Q.118 timed release), then blocks; no attempt to send a forced-release code."""
    clock, ch = task.Clock(), Chan()
    tones = []
    chan = CasChannel("in", ch, None, clock, variant=ITU, want_calling=False, tone_sink=tones.append,
                      numbers=NumberRules(default_length=None, end_timeout_ms=3000))
    chan.on_abcd(ITU.code(FORWARD, "idle"))
    chan.on_abcd(ITU.code(FORWARD, "seize"))
    assert chan.line.state is LineState.SEIZE_ACK and chan.register is not None
    clock.advance(CHOSEN["in_t3"] / 1000 + 0.01)           # no forward signal at all
    assert chan.result.outcome == "failed" and "incoming register T3" in chan.result.detail
    assert chan.line.awaiting_clear_forward and "register failure" in chan.line.awaiting_clear_forward
    assert not any("forced_release" in e.message for e in chan.line.errors)
    assert all(t is None for t in tones)                   # no tone was left on
    clock.advance(ITU.timer("clear_forward").seconds)
    assert chan.line.state is LineState.BLOCKED and ch.sent[-1] == ITU.code(BACKWARD, "blocked")
    chan.on_abcd(ITU.code(FORWARD, "clear_forward"))
    assert chan.line.state is LineState.IDLE


def test_itu_outgoing_call_fails_on_t1_and_clears_forward():
    """The outgoing channel's view: no acknowledgement of the first digit -> after T1 the call fails with the
    register's cause naming Q.476 T1, the tone is removed and the line clears forward (then idle on the release
    guard)."""
    clock, ch = task.Clock(), Chan()
    tones = []
    chan = CasChannel("out", ch, None, clock, variant=ITU, tone_sink=tones.append)
    events = chan.events
    chan.on_abcd(ITU.code(BACKWARD, "idle"))
    assert chan.call("4711")
    chan.on_abcd(ITU.code(BACKWARD, "seize_ack"))
    assert tones == ["4"]                                  # the first digit is on
    clock.advance(CHOSEN["out_t1"] / 1000 - 0.01)
    assert not [e for e, _ in events if e == "failed"]
    clock.advance(0.02)
    failed = [k["result"] for e, k in events if e == "failed"]
    assert len(failed) == 1 and failed[0].outcome == "failed"
    assert "outgoing register T1" in failed[0].detail and "Q.476" in failed[0].detail
    assert tones[-1] is None
    assert ch.sent[-1] == ITU.code(FORWARD, "clear_forward") and chan.line.state is LineState.CLEAR_FWD
    chan.on_abcd(ITU.code(BACKWARD, "release_guard"))
    assert chan.line.state is LineState.IDLE
