"""The ITU variant against ITU-T Q.421 (digital line signalling code) and Q.441 (register signal meanings).

The expectations are transcribed here, independently of ctid.signaling.china1.variant, from the tabulations of
the Recommendations cited in variant.py ([HP] HP MSR Voice Configuration Guide V7 Tables 2-5, [ACC] Accutone
Alpha 1100 guide Tables 7-9, [INT] Intel Voice API guide Table 24, [AST] an Asterisk guide's Q.441/Q.421 tables):
signal numbers, a/b bit pairs and key words of each meaning. Behaviour follows from them: the forward register
acts on what each group A / group B signal means, the incoming line on what b_f = 1 means.
"""
from __future__ import annotations

import pytest
from twisted.internet import task

from ctid.dsp.r2mf import SIGNALS
from ctid.signaling.china1 import BACKWARD, FORWARD
from ctid.signaling.china1.line import IncomingLine, LineState
from ctid.signaling.china1.register import ForwardRegister, RState
from ctid.signaling.china1.variant import ITU, M, OUTCOMES, parse_abcd

# Q.421 digital line signalling code: state -> (a_f b_f, a_b b_b); C D = 0 1 ([HP] Table 3, [AST])
Q421 = {
    "idle": ("10", "10"), "seize": ("00", None), "seize_ack": (None, "11"), "answer": (None, "01"),
    "clear_back": (None, "11"), "clear_forward": ("10", None), "blocked": (None, "11"),
    "release_guard": (None, "10"), "fault": ("11", None),       # [HP] Table 2: b_f = 1 faulty
}

# Q.441 group I ([ACC] Table 7, [INT] Table 24, [HP] Table 4): words each meaning must contain
Q441_I = {
    1: ("digit 1", "french"), 2: ("digit 2", "english"), 3: ("digit 3", "german"), 4: ("digit 4", "russian"),
    5: ("digit 5", "spanish"), 6: ("digit 6", "spare"), 7: ("digit 7", "spare"), 8: ("digit 8", "spare"),
    9: ("digit 9", "discriminating"), 10: ("digit 0", "discriminating"),
    11: ("country code indicator", "outgoing half-echo suppressor required", "incoming operator", "code 11"),
    12: ("country code indicator", "no echo suppressor", "delay operator", "code 12", "request not accepted"),
    13: ("test call", "test equipment", "code 13", "satellite link not included"),
    14: ("country code indicator", "half-echo suppressor inserted", "incoming half-echo suppressor required",
         "satellite link included"),
    15: ("not used", "end of pulsing", "code 15", "end of identification"),
}
# Q.441 group II ([ACC] Table 8, [AST])
Q441_II = {
    1: ("subscriber without priority",), 2: ("subscriber with priority",), 3: ("maintenance equipment",),
    4: ("spare",), 5: ("operator",), 6: ("data transmission",),
    7: ("without forward transfer", "international"), 8: ("data transmission", "international"),
    9: ("subscriber with priority", "international"), 10: ("operator with forward transfer", "international"),
    **{n: ("spare for national use",) for n in range(11, 16)},
}
# Q.441 group A ([ACC] Table 9, [HP] Table 5, [AST], [RU]): what the forward register must do
Q441_A = {
    1: M.NEXT, 2: M.REPEAT_1, 3: M.CHANGEOVER_B, 4: M.CONGESTION, 5: M.SEND_CATEGORY, 6: M.COMPLETE_CHARGE,
    7: M.REPEAT_2, 8: M.REPEAT_3, 9: "spare", 10: "spare", 11: "country code indicator",
    12: "language or discriminating digit", 13: "nature of circuit", 14: "echo suppressor",
    15: M.CONGESTION_INTERNATIONAL,
}
# Q.441 group B ([AST], [RU]): the call outcome each signal reports (None: spare, no outcome)
Q441_B = {1: None, 2: "special information tone", 3: "busy", 4: "congestion", 5: "unallocated", 6: "free",
          7: "free", 8: "out of order", **{n: None for n in range(9, 16)}}


@pytest.mark.parametrize("name", sorted(Q421))
def test_q421_line_codes(name):
    fwd, bwd = Q421[name]
    if fwd is not None:
        assert ITU.code(FORWARD, name) == parse_abcd(fwd + "01")
    if bwd is not None:
        assert ITU.code(BACKWARD, name) == parse_abcd(bwd + "01")


def test_q421_has_no_forced_release():
    assert not ITU.has_line_signal(BACKWARD, "forced_release")


@pytest.mark.parametrize("group,table", [("i", Q441_I), ("ii", Q441_II)])
def test_q441_forward_groups(group, table):
    got = getattr(ITU, f"group_{group}")
    assert set(got) == set(SIGNALS)
    for n, words in table.items():
        meaning = got[SIGNALS[n - 1]].lower()
        for w in words:
            assert w in meaning, (group, n, w, meaning)


def test_q441_group_a_meanings():
    assert set(ITU.group_a) == set(SIGNALS)
    for n, want in Q441_A.items():
        got = ITU.group_a[SIGNALS[n - 1]]
        assert got == want or want in got, (n, got, want)


def test_q441_group_b_outcomes():
    assert set(ITU.group_b) == set(SIGNALS)
    for n, want in Q441_B.items():
        assert OUTCOMES.get(ITU.group_b[SIGNALS[n - 1]]) == want, (n, ITU.group_b[SIGNALS[n - 1]])
    assert ITU.b_signal_for("free") == "6" and ITU.b_signal_for("busy") == "3"


def _forward_register(sent):
    clock = task.Clock()
    reg = ForwardRegister(ITU, clock, sent.append, "1234", "", ka=1, kd=1)
    reg.start()
    return reg


@pytest.mark.parametrize("n", range(1, 16))
def test_forward_register_acts_on_every_group_a_signal(n):
    """The forward register's reaction to A-n after the first digit follows Q.441's meaning of A-n."""
    sent = []
    reg = _forward_register(sent)
    assert sent == ["1"]
    sig = SIGNALS[n - 1]
    reg.on_tone(True, sig)
    reg.on_tone(False, sig)
    want = Q441_A[n]
    if want == M.NEXT:
        assert sent[-1] == "2" and reg.result is None
    elif want in (M.CHANGEOVER_B, M.SEND_CATEGORY):
        assert sent[-1] == "1" and reg.result is None             # II-1 (KD 1): the category, group II
    elif want == M.COMPLETE_CHARGE:
        assert reg.result.outcome == "free"
    elif want in (M.CONGESTION, M.CONGESTION_INTERNATIONAL):
        assert reg.result.outcome == "congestion"
    elif want in (M.REPEAT_1, M.REPEAT_2, M.REPEAT_3):
        assert reg.result.outcome == "failed"                     # only one digit sent: nothing to repeat
    else:                                                         # spare / international requests: unsupported
        assert reg.result.outcome == "failed" and reg.state is RState.DONE


def test_incoming_line_takes_q421_fault_as_far_end_unavailable():
    class Ch:
        def __init__(self):
            self.sent = []

        def set_abcd(self, v):
            self.sent.append(v)

    ch = Ch()
    ln = IncomingLine(ITU, task.Clock(), ch)
    ln.on_abcd(parse_abcd("11" + "01"))                # a_f b_f = 1 1
    assert ln.far_blocked and not ln.errors and ln.state is LineState.IDLE
    ln.on_abcd(parse_abcd("10" + "01"))                # idle again
    assert not ln.far_blocked and not ln.errors
    ln.on_abcd(parse_abcd("00" + "01"))                # seize
    assert ln.state is LineState.SEIZE_ACK and ch.sent[-1] == parse_abcd("11" + "01")
