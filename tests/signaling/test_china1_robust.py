"""Property tests: any sequence of received ABCD codes, tone events, commands and timer advances leaves the
machines in a named state, never raises, and every refusal is a recorded protocol error."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import task

from ctid.signaling.china1 import (CHINA, BackwardRegister, ForwardRegister, IncomingLine, LineState,
                                   OutgoingLine, RState)
from ctid.signaling.china1.variant import ITU, REGISTER_TIMERS

variants = st.sampled_from([CHINA, ITU])
abcd = st.one_of(st.integers(0, 15), st.sampled_from([-1, 16, None, "1011", 2.5]))
line_ops = st.lists(st.one_of(
    st.tuples(st.just("rx"), abcd),
    st.tuples(st.just("wait"), st.sampled_from([0.02, 1.0, 6.0, 9.0, 61.0])),
    st.tuples(st.just("cmd"), st.sampled_from(["seize", "release", "expect_answer", "answer", "clear_back",
                                               "force_release", "block", "unblock", "span_down", "span_up"])),
), max_size=40)


class Chan:
    def __init__(self):
        self.sent = []

    def set_abcd(self, v):
        assert isinstance(v, int) and 0 <= v <= 15
        self.sent.append(v)


@settings(max_examples=200, deadline=None)
@given(variants, st.sampled_from(["out", "in"]), st.sampled_from(["back_off", "keep", "yield"]), st.booleans(),
       line_ops)
def test_line_machines_never_raise(variant, role, policy, both_way, ops):
    """Also per dual-seizure policy (outgoing) and on a both-way circuit (incoming)."""
    clock, ch = task.Clock(), Chan()
    if role == "out":
        line = OutgoingLine(variant, clock, ch, dual_seizure=policy)
    else:
        line = IncomingLine(variant, clock, ch)
        line.both_way = both_way
    for op, arg in ops:
        if op == "rx":
            line.on_abcd(arg)
        elif op == "wait":
            clock.advance(arg)
        else:
            fn = getattr(line, arg, None)
            if fn is not None:
                fn()
        assert isinstance(line.state, LineState)
        assert line.tx in {s.abcd for s in variant.line}
    # after a long quiet time nothing is left pending but what the state explains
    for _ in range(240):
        clock.advance(0.5)
    assert len(clock.getDelayedCalls()) == 0


tones = st.lists(st.one_of(
    st.tuples(st.booleans(), st.sampled_from(list("1234567890BCDEF") + ["x", ""])),
    st.tuples(st.just("wait"), st.sampled_from([0.01, 0.2, 2.0, 6.0])),
), max_size=60)


@settings(max_examples=200, deadline=None)
@given(variants, st.sampled_from(["fwd", "bwd"]), tones)
def test_register_machines_never_raise(variant, role, events):
    clock, sent = task.Clock(), []
    if role == "fwd":
        reg = ForwardRegister(variant, clock, sent.append, "88881234", "13800138000")
    else:
        reg = BackwardRegister(variant, clock, sent.append)
    reg.start()
    for a, b in events:
        if a == "wait":
            clock.advance(b)
        else:
            reg.on_tone(a, b)
        assert isinstance(reg.state, RState)
        assert all(s is None or s in "1234567890BCDEF" for s in sent)
    longest = max(s.seconds for k, s in variant.timers.items() if k == "mf_back_cycle" or k in REGISTER_TIMERS)
    for _ in range(int(2 * (longest + 1) / 0.5)):       # every waiting state has a timer: all end
        clock.advance(0.5)                              # (small steps: Clock.advance does not cascade)
    assert reg.state is RState.DONE and not clock.getDelayedCalls()
    assert reg.sending is None                          # a finished register leaves no tone on
    assert reg.result.outcome in {"free", "busy", "congestion", "unallocated", "out of order",
                                  "special information tone", "failed"}
