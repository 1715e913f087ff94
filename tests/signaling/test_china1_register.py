"""Compelled register signalling, the two machines joined by an ideal tone path with a detection delay."""
from __future__ import annotations

import pytest
from twisted.internet import task

from ctid.signaling.china1 import CHINA, BackwardRegister, ForwardRegister, NumberRules, RState

DELAY = 0.03      # tone on/off seen by the far side 30 ms later


class Path:
    """Carries ``send(sig|None)`` of one side to ``on_tone(on, sig)`` of the other after DELAY."""

    def __init__(self, clock, mute=False):
        self.clock, self.mute, self.target, self.cur, self.sent = clock, mute, None, None, []

    def __call__(self, sig):
        self.sent.append(sig)
        if self.mute:
            return
        if self.cur is not None:
            self.clock.callLater(DELAY, self.target.on_tone, False, self.cur)
        if sig is not None:
            self.clock.callLater(DELAY, self.target.on_tone, True, sig)
        self.cur = sig


def pair(called="88881234", calling="13800138000", decide=None, numbers=NumberRules(default_length=8),
         want_calling=True, mute_back=False, variant=CHINA):
    clock = task.Clock()
    f2b, b2f = Path(clock), Path(clock, mute=mute_back)
    fwd = ForwardRegister(variant, clock, f2b, called, calling, ka=1, kd=3)
    bwd = BackwardRegister(variant, clock, b2f, decide=decide, numbers=numbers, want_calling=want_calling)
    f2b.target, b2f.target = bwd, fwd
    bwd.start()
    fwd.start()
    return clock, fwd, bwd


def run(clock, seconds=30):
    for _ in range(int(seconds / 0.01)):
        clock.advance(0.01)


def test_full_flow_free():
    clock, fwd, bwd = pair()
    run(clock)
    assert fwd.state is bwd.state is RState.DONE
    assert fwd.result.outcome == bwd.result.outcome == "free"
    assert (bwd.called, bwd.calling, bwd.ka, bwd.kd) == ("88881234", "13800138000", 1, 3)
    assert fwd.sending is None and bwd.sending is None          # every tone removed at the end
    assert not fwd.errors and not bwd.errors


def test_without_calling_number():
    clock, fwd, bwd = pair(want_calling=False)
    run(clock)
    assert bwd.result.called == "88881234" and bwd.calling == "" and bwd.ka is None
    assert ("rx", "A6") not in fwd.log


def test_decide_b_signal_and_bad_decision():
    clock, fwd, bwd = pair(decide=lambda *a: "busy")
    run(clock)
    assert fwd.result.outcome == "busy" and fwd.result.b_signal == "2"
    clock, fwd, bwd = pair(decide=lambda *a: "maybe")      # not a B signal: refused with B2 (busy), logged
    run(clock)
    assert fwd.result.outcome == "busy" and bwd.errors and "maybe" in bwd.errors[0].message
    assert not fwd.errors


def test_end_of_number_by_timeout_pulses_a3():
    rules = NumberRules(default_length=None, end_timeout_ms=2000)
    clock, fwd, bwd = pair(numbers=rules)
    run(clock)
    assert fwd.result.outcome == "free" and bwd.called == "88881234"
    assert fwd.log[-3:] == [("rx", "A3"), ("tx", "3"), ("rx", "B1")]


def test_no_backward_acknowledgement_times_out():
    clock, fwd, bwd = pair(mute_back=True)
    limit = CHINA.timer("mf_back_cycle").seconds
    clock.advance(limit - 0.1)
    assert fwd.state is RState.SENDING
    clock.advance(0.2)
    assert fwd.result.outcome == "failed" and "mf_back_cycle (OpenR2 1.3.3: 5000 ms)" in fwd.errors[0].message
    assert fwd.sending is None                                # our tone is off after the failure


def test_bad_forward_signals_fail_cleanly():
    clock = task.Clock()
    sent = []
    bwd = BackwardRegister(CHINA, clock, sent.append, numbers=NumberRules(default_length=8))
    bwd.start()
    bwd.on_tone(True, "C")                                     # I-12 is not a digit of the called number
    assert bwd.result.outcome == "failed" and "not a digit of the called number" in bwd.errors[0].message
    assert sent == []                                          # nothing was acknowledged
    bwd2 = BackwardRegister(CHINA, clock, sent.append)
    bwd2.start()
    bwd2.on_tone(False, "1")                                   # an OFF with nothing on: ignored
    bwd2.on_tone(True, "1")
    bwd2.on_tone(True, "2")                                    # a second ON while responding: logged, ignored
    assert bwd2.state is RState.RESPONDING and bwd2.errors


def test_unknown_backward_signal():
    clock = task.Clock()
    fwd = ForwardRegister(CHINA, clock, lambda s: None, "123")
    fwd.start()
    fwd.on_tone(True, "5")                                     # A5 has no meaning in the China table
    fwd.on_tone(False, "5")
    assert fwd.result.outcome == "failed" and "A5" in fwd.errors[0].message


def scripted_forward(variant, called, answers, kd=2):
    """A ForwardRegister against a scripted backward side: each answer acknowledges what is being sent."""
    from ctid.signaling.china1.variant import ITU  # noqa: F401

    clock = task.Clock()
    sent = []
    fwd = ForwardRegister(variant, clock, sent.append, called, kd=kd)
    fwd.start()
    for a in answers:
        assert fwd.sending is not None, f"nothing compelled for {a}; log {fwd.log}"
        fwd.on_tone(True, a)
        assert fwd.sending is None                      # compelled: forward tone off on the acknowledgement
        fwd.on_tone(False, a)
    return fwd, [x for x in sent if x is not None]


def test_itu_repeat_category_and_complete():
    from ctid.signaling.china1.variant import ITU

    # 1 (A1) 2 (A2: send n-1 = "1") 1 (A1) 2 (A5: category) II-2 (A1) 3 (A7: n-2 = "1") 1 (A1) 2 (A1) 3 (A6)
    fwd, sent = scripted_forward(ITU, "1234", ["1", "2", "1", "5", "1", "7", "1", "1", "6"])
    assert sent == ["1", "2", "1", "2", "2", "3", "1", "2", "3"]
    assert fwd.result.outcome == "free" and "charge" in fwd.result.detail


def test_repeat_beyond_first_digit_fails():
    from ctid.signaling.china1.variant import ITU

    fwd, sent = scripted_forward(ITU, "12", ["8"])        # A8: n-3 after one digit
    assert fwd.result.outcome == "failed" and "only 1 digit" in fwd.errors[0].message


@pytest.mark.parametrize("b,outcome", [("3", "busy"), ("4", "congestion"), ("5", "unallocated"),
                                       ("6", "free"), ("7", "free"), ("8", "out of order")])
def test_itu_group_b_outcomes(b, outcome):
    from ctid.signaling.china1.variant import ITU

    fwd, sent = scripted_forward(ITU, "1", ["3", b])
    assert sent == ["1", "2"] and fwd.result.outcome == outcome and fwd.result.b_signal == b


def test_china_a4_congestion():
    fwd, sent = scripted_forward(CHINA, "123", ["1", "4"])
    assert fwd.result.outcome == "congestion" and sent == ["1", "2"]


def test_decide_outcomes_map_to_variant_b_signals():
    from ctid.signaling.china1.variant import ITU

    for variant, choice, b in [(ITU, "busy", "3"), (ITU, "unallocated", "5"), (CHINA, "free", "1")]:
        clock, fwd, bwd = pair(decide=lambda *a, c=choice: c, variant=variant)
        run(clock)
        assert bwd.b_signal == b and fwd.result.b_signal == b
        assert (bwd.calling == "13800138000") == (variant is CHINA)     # only China asks for it (A6)
    clock, fwd, bwd = pair(decide=lambda *a: "unallocated")              # China has no B signal for it
    run(clock)
    assert fwd.result.outcome == "busy" and "unallocated" in bwd.errors[0].message


def test_spare_b_signal_fails_cleanly():
    from ctid.signaling.china1.variant import ITU

    fwd, sent = scripted_forward(ITU, "1", ["3", "1"])          # ITU B1 is spare for national use
    assert fwd.result.outcome == "failed" and "B1 (spare for national use) is not supported" in fwd.errors[0].message
