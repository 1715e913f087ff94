"""ISUP call control ctid against ctid over a loopback MTP: calls, release, timers, suspend/resume."""
from __future__ import annotations

import pytest

from ctid.signaling.ss7 import CodecError, isup
from ctid.signaling.ss7.isup_cc import TIMER_DEFAULTS, State
from isup_cc_rig import Rig

FORMATS = ["itu", "china"]


def _fired(d):
    out = []
    d.addCallback(lambda v: out.append(v) or v)
    return out


@pytest.mark.parametrize("pc_format", FORMATS)
@pytest.mark.parametrize("caller", ["a", "b"])
@pytest.mark.parametrize("releaser", ["caller", "called"])
def test_call_both_directions(pc_format, caller, releaser):
    rig = Rig(pc_format)
    src, dst = (rig.a, rig.b) if caller == "a" else (rig.b, rig.a)
    n_src, n_dst = len(src.mtp.tap), len(dst.mtp.tap)
    call = src.cc.setup("12345", calling="8675309", category=0x0A)
    alerted, answered, released = _fired(call.alerted), _fired(call.answered), _fired(call.released)
    rig.settle()
    assert len(dst.incoming) == 1
    inc = dst.incoming[0]
    assert (inc.called, inc.calling, inc.category, inc.cic) == ("12345", "8675309", 0x0A, call.cic)
    assert alerted and answered and not released
    assert call.state == State.ANSWERED.value and inc.state == State.ANSWERED_IN.value
    iam = src.sent_messages(n_src)[0]
    assert iam.NAME == "IAM" and iam.called.digits == "12345F" and iam.cic == call.cic
    inc_released = _fired(inc.released)
    if releaser == "caller":
        src.cc.release(call, 16)
    else:
        dst.cc.release(inc, 17)
    rig.settle()
    cause = 16 if releaser == "caller" else 17
    assert released == [cause] and inc_released == [cause]
    assert set(src.states().values()) == {"IDLE"} and set(dst.states().values()) == {"IDLE"}
    if releaser == "caller":
        assert src.sent(n_src) == ["IAM", "REL"] and dst.sent(n_dst) == ["ACM", "ANM", "RLC"]
    else:
        assert src.sent(n_src) == ["IAM", "RLC"] and dst.sent(n_dst) == ["ACM", "ANM", "REL"]
    rel = [m for m in (src if releaser == "caller" else dst).sent_messages() if m.NAME == "REL"][0]
    assert rel.cause.cause == cause


def test_timer_defaults_within_q764_ranges():
    ranges = {"T1": (15, 60), "T5": (300, 900), "T7": (20, 30), "T9": (90, 180), "T12": (15, 60),
              "T13": (300, 900), "T14": (15, 60), "T15": (300, 900), "T16": (15, 60), "T17": (300, 900),
              "T18": (15, 60), "T19": (300, 900), "T20": (15, 60), "T21": (300, 900), "T22": (15, 60),
              "T23": (300, 900), "T35": (15, 20)}
    for name, (lo, hi) in ranges.items():
        assert lo <= TIMER_DEFAULTS[name] <= hi, name


def test_t7_expiry_when_far_end_never_answers_iam():
    rig = Rig()
    rig.b.mode = "none"                        # B's application sits on the IAM: no ACM ever
    call = rig.a.cc.setup("555")
    released = _fired(call.released)
    rig.settle()
    rig.advance(TIMER_DEFAULTS["T7"] - 1)
    assert not released and call.state == "WAIT_ACM"
    rig.advance(2)
    assert released == [102]                   # Q.850 102 recovery on timer expiry
    assert rig.b.incoming[0].cause == 102      # the REL reached B, B answered RLC
    assert set(rig.a.states().values()) == {"IDLE"} and set(rig.b.states().values()) == {"IDLE"}
    assert ("T7_expired", call.cic, {}) in rig.a.cc.events


def test_t9_expiry_no_answer():
    rig = Rig()
    rig.b.mode = "alert"
    call = rig.a.cc.setup("555")
    released = _fired(call.released)
    rig.settle()
    assert call.state == "WAIT_ANSWER"
    rig.advance(TIMER_DEFAULTS["T9"] + 1)
    assert released == [19]
    assert set(rig.a.states().values()) == {"IDLE"}


def test_t1_repeats_rel_then_t5_resets_circuit():
    rig = Rig()
    call = rig.a.cc.setup("555")
    rig.settle()
    cic = call.cic
    rig.b.mtp.drop = lambda p: True            # B's RLC (and everything else from B) is lost
    start = len(rig.a.mtp.tap)
    rig.a.cc.release(call)
    rig.advance(TIMER_DEFAULTS["T1"] * 2 + 1)
    assert rig.a.sent(start) == ["REL", "REL", "REL"]            # first REL + one per T1 expiry
    rig.advance(TIMER_DEFAULTS["T5"])
    sent = rig.a.sent(start)
    assert sent[-1] == "RSC" and "RSC" not in sent[:-1]          # T5: RSC, T1 stopped
    assert rig.a.cc.circuits[cic].state is State.RESETTING
    assert any(e[0] == "maintenance_alert" and e[2]["timer"] == "T5" for e in rig.a.cc.events)
    n = len(rig.a.mtp.tap)
    rig.advance(TIMER_DEFAULTS["T1"] * 3)
    assert rig.a.sent(n) == []                                   # no more REL
    rig.b.mtp.drop = None
    rig.advance(TIMER_DEFAULTS["T17"])                           # RSC repeated at T17, now answered
    assert rig.a.sent(n) == ["RSC"]
    assert rig.a.cc.circuits[cic].state is State.IDLE


def test_release_collision():
    rig = Rig()
    call = rig.a.cc.setup("555")
    rig.settle()
    inc = rig.b.incoming[0]
    rig.a.cc.release(call, 16)
    rig.b.cc.release(inc, 16)                  # both REL cross on the link
    rig.settle()
    assert set(rig.a.states().values()) == {"IDLE"} and set(rig.b.states().values()) == {"IDLE"}
    assert not rig.a.cc.circuits[call.cic].timers and not rig.b.cc.circuits[call.cic].timers


@pytest.mark.parametrize("network", [True, False])
def test_suspend_resume(network):
    rig = Rig()
    call = rig.a.cc.setup("555")
    rig.settle()
    inc = rig.b.incoming[0]
    rig.b.cc.suspend(inc, network=network)      # called party on-hook: SUS backward
    rig.settle()
    assert call.state == "SUSPENDED" and inc.state == "SUSPENDED_IN"
    timer = "T6" if network else "T2"
    assert timer in rig.a.cc.circuits[call.cic].timers
    rig.advance(5)
    rig.b.cc.resume(inc, network=network)
    rig.settle()
    assert call.state == "ANSWERED" and inc.state == "ANSWERED_IN"
    assert not rig.a.cc.circuits[call.cic].timers
    # suspended again and never resumed: the controlling exchange releases at T6/T2 expiry
    released = _fired(call.released)
    rig.b.cc.suspend(inc, network=network)
    rig.advance(TIMER_DEFAULTS[timer] + 1)
    assert released == [102] and inc.cause == 102
    assert set(rig.a.states().values()) == {"IDLE"} and set(rig.b.states().values()) == {"IDLE"}


def test_overlap_sam_and_cpg():
    rig = Rig()
    rig.b.mode = "none"
    call = rig.a.cc.setup("55", complete=False)
    rig.settle()
    inc = rig.b.incoming[0]
    assert inc.called == "55" and not inc.complete
    rig.a.cc.send_digits(call, "12")
    rig.a.cc.send_digits(call, "3", last=True)
    rig.settle()
    assert inc.called == "55123" and inc.complete
    rig.b.cc.alert(inc)
    rig.b.cc.progress(inc, 3)
    rig.settle()
    assert ("progress", {"event": 3}) in call.events
    rig.b.cc.answer(inc)
    rig.settle()
    assert call.state == "ANSWERED"


def test_answer_without_acm_sends_con():
    rig = Rig()
    rig.b.mode = "none"
    call = rig.a.cc.setup("555")
    rig.settle()
    n = len(rig.b.mtp.tap)
    rig.b.cc.answer(rig.b.incoming[0])
    rig.settle()
    assert rig.b.sent(n) == ["CON"]
    assert call.state == "ANSWERED" and call.alerted.called and call.answered.called
    assert not rig.a.cc.circuits[call.cic].timers                # CON stopped T7, no T9
    rig.advance(TIMER_DEFAULTS["T7"] + TIMER_DEFAULTS["T9"])
    assert call.state == "ANSWERED"


def test_no_circuit_and_no_application():
    rig = Rig(cics_a=[1], cics_b=[1])
    rig.b.cc.on_incoming = None                 # nobody takes incoming calls at B: refused, cause 27
    call = rig.a.cc.setup("1")
    rig.settle()
    assert call.cause == 27
    c1 = rig.a.cc.setup("1")
    c2 = rig.a.cc.setup("2")                    # only circuit busy
    assert c1.state == "WAIT_ACM" and c2.cause == 34


def test_china_ccl_clears_answered_call():
    rig = Rig("china")
    call = rig.a.cc.setup("555")
    rig.settle()
    rig.a.inject(isup.encode(isup.CCL(cic=call.cic)))
    rig.settle()
    assert rig.b.incoming[0].cause == 16


def test_china_mpm_and_opr_on_an_answered_call():
    rig = Rig("china")
    call = rig.a.cc.setup("555")
    rig.settle()
    incoming = rig.b.incoming[0]
    assert call.state == "ANSWERED" and incoming.state == "ANSWERED_IN"
    start = len(rig.b.sent())
    rig.b.cc.metering_pulse(incoming, b"\x00\x05")
    rig.b.cc.operator(incoming)
    rig.a.cc.operator(call)
    rig.settle()
    assert rig.b.sent(start) == ["MPM", "OPR"]
    assert [(n, i) for n, i in call.events if n in ("metering_pulse", "operator")] == \
        [("metering_pulse", {"charge": "0005"}), ("operator", {})]
    assert [n for n, _ in incoming.events if n == "operator"] == ["operator"]
    # MPM is backward only: from the calling side it is an unexpected message at the called side
    with pytest.raises(ValueError):
        rig.a.cc.metering_pulse(call, b"\x00\x01")
    rig.a.inject(isup.encode(isup.MPM(cic=call.cic, charge=isup.ChargeInformation(data=b"\x00\x01"))))
    rig.settle()
    assert ("unexpected", call.cic, {"message": "MPM", "state": "ANSWERED_IN"}) in rig.b.cc.events
    with pytest.raises(CodecError):
        rig.b.cc.metering_pulse(incoming, b"\x01")       # charge information is 2 octets
    assert call.state == "ANSWERED" and incoming.state == "ANSWERED_IN"


def test_china_messages_refused_on_itu():
    rig = Rig("itu")
    call = rig.a.cc.setup("555")
    rig.settle()
    with pytest.raises(ValueError, match="China"):
        rig.a.cc.operator(call)
    with pytest.raises(ValueError, match="China"):
        rig.b.cc.metering_pulse(rig.b.incoming[0], b"\x00\x01")


def test_synchronous_loopback_reentrancy():
    """Delivery inside transfer() (no callLater): replies arrive while the sender is still in its call."""
    from twisted.internet import task

    from ctid.signaling.ss7.isup_cc import IsupCallControl
    from isup_cc_rig import LoopbackMtp

    clock = task.Clock()
    ma, mb = LoopbackMtp.pair(0x2A51, 0x0123, "itu")          # no clock: synchronous
    a = IsupCallControl(ma, mb.opc, range(1, 5), clock)
    b = IsupCallControl(mb, ma.opc, range(1, 5), clock)
    b.on_incoming = lambda call: (b.alert(call), b.answer(call))
    a.reset_group()
    for _ in range(20):
        call = a.setup("123")
        assert call.state == "ANSWERED"
        a.release(call)
        assert call.cause == 16
    assert all(c.state is State.IDLE and not c.timers for cc in (a, b) for c in cc.circuits.values())


def test_with_the_mtp_primitives_loopback():
    from twisted.internet import task

    from ctid.signaling.ss7 import primitives as prim
    from ctid.signaling.ss7.isup_cc import IsupCallControl

    clock = task.Clock()
    ma, mb = prim.LoopbackMtp.pair(0x2A51, 0x0123, "itu", clock)
    a = IsupCallControl(ma, mb.opc, range(1, 5), clock)
    b = IsupCallControl(mb, ma.opc, range(1, 5), clock)
    b.on_incoming = lambda call: (b.alert(call), b.answer(call))
    call = a.setup("123")
    for _ in range(20):
        clock.advance(0)
    assert call.state == "ANSWERED"
    a.release(call)
    for _ in range(20):
        clock.advance(0)
    assert call.cause == 16 and all(c.state is State.IDLE for c in a.circuits.values())


def test_called_side_refuses_busy_and_application_failure():
    rig = Rig()
    rig.b.mode = "none"
    call = rig.a.cc.setup("555")
    rig.settle()
    rig.b.cc.release(rig.b.incoming[0], 17)              # user busy, before any ACM
    rig.settle()
    assert call.cause == 17 and not call.alerted.called
    assert set(rig.a.states().values()) == {"IDLE"} and set(rig.b.states().values()) == {"IDLE"}

    def broken(call):
        raise RuntimeError("application bug")
    rig.b.cc.on_incoming = broken
    call = rig.a.cc.setup("556")
    rig.settle()
    assert call.cause == 41                               # temporary failure, nothing raised
    assert set(rig.b.states().values()) == {"IDLE"}


def test_t35_incomplete_address():
    rig = Rig()
    rig.b.mode = "none"
    call = rig.a.cc.setup("55", complete=False)
    rig.settle()
    rig.advance(TIMER_DEFAULTS["T35"] - 2)
    rig.a.cc.send_digits(call, "1")                        # restarts T35 at B (and T7 at A)
    rig.advance(TIMER_DEFAULTS["T35"] - 2)
    assert call.cause is None and rig.b.incoming[0].called == "551"
    rig.advance(3)
    assert call.cause == 28 and rig.b.incoming[0].cause == 28   # address incomplete
    assert set(rig.a.states().values()) == {"IDLE"} and set(rig.b.states().values()) == {"IDLE"}
