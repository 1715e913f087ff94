"""Q.764 2.9.5 compatibility (unrecognised messages/parameters), unexpected and malformed messages."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ss7_strategies as S
from ctid.signaling.ss7 import isup
from isup_cc_rig import Rig, TransferIndication

RELEASE, NOTIFY, DISCARD_MSG, DISCARD_PAR, LAST = 0x02, 0x04, 0x08, 0x10, 0x80


def _unknown(cic: int, code: int, mci: int | None) -> bytes:
    body = b"\x00" if mci is None else bytes((1, 0x38, 1, mci, 0))
    return bytes((cic & 0xFF, cic >> 8, code)) + body


def _cfns(side, start=0):
    return [m for m in side.sent_messages(start) if m.NAME == "CFN"]


def _answered_call(rig):
    call = rig.a.cc.setup("555")
    rig.settle()
    return call, rig.b.incoming[0]


def test_unknown_message_default_sends_cfn_97():
    rig = Rig()
    call, inc = _answered_call(rig)
    n = len(rig.b.mtp.tap)
    rig.a.inject(_unknown(call.cic, 0xF0, None))
    rig.settle()
    cfn = _cfns(rig.b, n)
    assert len(cfn) == 1 and cfn[0].cause.cause == 97 and cfn[0].cause.diagnostics == b"\xf0"
    assert cfn[0].cic == call.cic and inc.state == "ANSWERED_IN"      # call untouched
    assert any(e[0] == "confusion_received" and e[2]["cause"] == 97 for e in rig.a.cc.events)


def test_unknown_message_release_instruction():
    rig = Rig()
    call, inc = _answered_call(rig)
    rig.a.inject(_unknown(call.cic, 0xF1, LAST | RELEASE))
    rig.settle()
    assert inc.cause == 97 and call.cause == 97
    assert [m.NAME for m in rig.b.sent_messages()][-1] == "REL" and not _cfns(rig.b)


@pytest.mark.parametrize("instr,expect_cfn", [(LAST | DISCARD_MSG, False), (LAST | DISCARD_MSG | NOTIFY, True)])
def test_unknown_message_discard_instruction(instr, expect_cfn):
    rig = Rig()
    call, inc = _answered_call(rig)
    n = len(rig.b.mtp.tap)
    rig.a.inject(_unknown(call.cic, 0xF2, instr))
    rig.settle()
    assert bool(_cfns(rig.b, n)) == expect_cfn and rig.b.sent(n) == (["CFN"] if expect_cfn else [])
    assert inc.state == "ANSWERED_IN"


def _iam(cic, *optional):
    return isup.encode(isup.IAM(cic=cic, called=isup.CalledPartyNumber(digits="777F"), optional=optional))


def test_unknown_parameter_default_discarded_with_cfn_99():
    rig = Rig()
    rig.a.inject(_iam(3, isup.RawParameter(code=0xF5, data=b"\x01\x02")))
    rig.settle()
    assert [c.called for c in rig.b.incoming] == ["777"]           # the call was served (parameter dropped)
    assert rig.b.sent()[:3] == ["CFN", "ACM", "ANM"]              # (A never sent that IAM: it then resets)
    cfn = _cfns(rig.b)
    assert len(cfn) == 1 and cfn[0].cause.cause == 99 and cfn[0].cause.diagnostics == b"\xf5"


def test_unknown_parameter_release_instruction():
    rig = Rig()
    pci = isup.RawParameter(code=0x39, data=bytes((0xF5, LAST | RELEASE)))
    rig.a.inject(_iam(3, isup.RawParameter(code=0xF5, data=b"\x01"), pci))
    rig.settle()
    assert rig.b.incoming == []
    rel = [m for m in rig.b.sent_messages() if m.NAME == "REL"]
    assert len(rel) == 1 and rel[0].cause.cause == 99 and rel[0].cause.diagnostics == b"\xf5"
    assert rig.a.sent()[-1] == "RLC" and rig.b.cc.circuits[3].state.value == "IDLE"   # REL -> RLC -> idle


@pytest.mark.parametrize("instr,accepted,cfn_cause", [
    (LAST | DISCARD_MSG, False, None), (LAST | DISCARD_MSG | NOTIFY, False, 110),
    (LAST | DISCARD_PAR, True, None), (LAST | DISCARD_PAR | NOTIFY, True, 99)])
def test_unknown_parameter_discard_instructions(instr, accepted, cfn_cause):
    rig = Rig()
    pci = isup.RawParameter(code=0x39, data=bytes((0xF6, instr)))
    rig.a.inject(_iam(4, pci, isup.RawParameter(code=0xF6, data=b"")))
    rig.settle()
    assert bool(rig.b.incoming) == accepted
    assert [c.cause.cause for c in _cfns(rig.b)] == ([cfn_cause] if cfn_cause else [])


def test_unknown_parameter_in_rel_reported_in_rlc():
    rig = Rig()
    call, inc = _answered_call(rig)
    n = len(rig.b.mtp.tap)
    rig.a.cc.circuits[call.cic].state = rig.a.cc.circuits[call.cic].state.WAIT_RLC   # A "sent" this REL
    rig.a.inject(isup.encode(isup.REL(cic=call.cic, cause=isup.CauseIndicators(cause=16),
                                      optional=(isup.RawParameter(code=0xF7, data=b"x"),))))
    rig.settle()
    sent = rig.b.sent_messages(n)
    assert [m.NAME for m in sent] == ["RLC"]
    assert sent[0].get(isup.CauseIndicators).cause == 99 and inc.cause == 16


def test_unexpected_message_on_idle_circuit_resets_it():
    rig = Rig()
    rig.a.inject(isup.encode(isup.ANM(cic=5)))
    rig.settle()
    assert rig.b.sent() == ["RSC"] and rig.a.sent()[-1] == "RLC"
    assert rig.b.cc.circuits[5].state.value == "IDLE"
    n = len(rig.b.mtp.tap)
    rig.a.inject(isup.encode(isup.RLC(cic=5)))        # RLC on an idle circuit: discarded
    rig.settle()
    assert rig.b.sent(n) == []


def test_wrong_opc_and_si_ignored():
    rig = Rig()
    rig.b.cc.mtp_transfer(TransferIndication(opc=0x777, dpc=rig.b.mtp.opc, sls=0, si=5, ni=2,
                                             payload=_iam(1)))
    rig.b.cc.mtp_transfer(TransferIndication(opc=rig.a.mtp.opc, dpc=rig.b.mtp.opc, sls=0, si=3, ni=2,
                                             payload=_iam(1)))
    rig.settle()
    assert rig.b.incoming == [] and rig.b.sent() == []


def test_truncated_message_reported_not_raised():
    rig = Rig()
    good = _iam(2)
    for cut in range(len(good)):
        rig.b.cc.mtp_transfer(TransferIndication(opc=rig.a.mtp.opc, dpc=rig.b.mtp.opc, sls=0, si=5, ni=2,
                                                 payload=good[:cut]))
    assert rig.b.cc.counters["malformed"] == len(good)
    assert all(e[2]["error"] for e in rig.b.cc.events if e[0] == "malformed")
    assert not any(e[0] == "internal_error" for e in rig.b.cc.events)


GARBAGE = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutated(draw_msg: bytes, flips: list[tuple[int, int]]) -> bytes:
    b = bytearray(draw_msg)
    for pos, val in flips:
        if b:
            b[pos % len(b)] = val
    return bytes(b)


@GARBAGE
@given(payloads=st.lists(st.one_of(
    st.binary(max_size=40),
    st.builds(lambda m, f: _mutated(isup.encode(m), f), S.any_message,
              st.lists(st.tuples(st.integers(0, 60), st.integers(0, 255)), max_size=3)),
    st.builds(lambda cic, code, body: bytes((cic, 0, code)) + body, st.integers(1, 8), st.integers(0, 255),
              st.binary(max_size=12))), min_size=1, max_size=6),
       answered=st.booleans(), fmt=st.sampled_from(["itu", "china"]))
def test_garbage_never_raises(payloads, answered, fmt):
    rig = Rig(fmt)
    if answered:
        _answered_call(rig)
    for p in payloads:
        rig.a.inject(p)
    rig.advance(40)                                  # timers started by whatever the garbage caused
    for side in (rig.a, rig.b):
        assert not any(e[0] == "internal_error" for e in side.cc.events), side.cc.events
    # the pair still works: circuits recover after a reset and carry a call
    rig.a.cc.reset_group()
    rig.advance(40)
    for c in range(1, 9):
        rig.a.cc.unblock(c)
        rig.b.cc.unblock(c)
    rig.advance(40)
    call = rig.a.cc.setup("999")
    rig.settle()
    assert call.state == "ANSWERED", call.events


@pytest.mark.parametrize("name", ["RLC", "CFN"])
def test_no_cfn_in_reply_to_rlc_or_cfn(name):
    rig = Rig()
    call, inc = _answered_call(rig)
    rig.a.mtp.drop = lambda p: True                  # A's own RLC is lost
    rig.b.cc.release(inc)
    rig.settle()
    n = len(rig.b.mtp.tap)
    extra = (isup.RawParameter(code=0xF8, data=b"\x00"),)
    msg = isup.RLC(cic=call.cic, optional=extra) if name == "RLC" else \
        isup.CFN(cic=call.cic, cause=isup.CauseIndicators(cause=97), optional=extra)
    rig.b.cc.mtp_transfer(TransferIndication(opc=rig.a.mtp.opc, dpc=rig.b.mtp.opc, sls=0, si=5, ni=2,
                                             payload=isup.encode(msg)))
    rig.settle()
    assert rig.b.sent(n) == []                       # no CFN loop
    assert rig.b.cc.circuits[call.cic].state.value == ("IDLE" if name == "RLC" else "WAIT_RLC")
