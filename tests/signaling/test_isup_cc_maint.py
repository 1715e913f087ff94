"""ISUP circuit supervision ctid against ctid: BLO/UBL, CGB/CGU, GRS/GRA, RSC, UCIC, dual seizure, MTP pause."""
from __future__ import annotations

import pytest

from ctid.signaling.ss7.isup_cc import TIMER_DEFAULTS, State
from isup_cc_rig import Rig


def _all_idle(side):
    return set(side.states().values()) == {"IDLE"}


def _fill(side, n):
    """Set up n calls from ``side``; returns them."""
    calls = [side.cc.setup(str(100 + i)) for i in range(n)]
    side.rig.settle()
    return calls


@pytest.mark.parametrize("pc_format", ["itu", "china"])
def test_blo_ubl_blocked_circuit_not_used(pc_format):
    rig = Rig(pc_format, cics_a=range(1, 5), cics_b=range(1, 5))
    n = len(rig.a.mtp.tap)
    rig.a.cc.block(2)
    rig.settle()
    assert rig.a.sent(n) == ["BLO"] and rig.b.sent() == ["BLA"]
    assert rig.a.cc.circuits[2].blocking == "LOCALLY_BLOCKED"
    assert rig.b.cc.circuits[2].blocking == "REMOTELY_BLOCKED"
    assert "T12" not in rig.a.cc.circuits[2].timers and "T13" not in rig.a.cc.circuits[2].timers
    for side in (rig.b, rig.a):                 # neither end uses circuit 2 for a new call
        calls = _fill(side, 4)
        assert sorted(c.cic for c in calls[:3]) == [1, 3, 4] and calls[3].cause == 34
        for c in calls[:3]:
            side.cc.release(c)
        rig.settle()
    rig.a.cc.unblock(2)
    rig.settle()
    assert rig.a.cc.circuits[2].blocking == "UNBLOCKED" and rig.b.cc.circuits[2].blocking == "UNBLOCKED"
    assert not rig.a.cc.circuits[2].timers
    calls = _fill(rig.b, 4)
    assert sorted(c.cic for c in calls) == [1, 2, 3, 4]


def test_blo_repeated_on_t12_and_t13():
    rig = Rig()
    rig.a.mtp.drop = lambda p: True             # BLO never arrives
    n = len(rig.a.mtp.tap)
    rig.a.cc.block(3)
    rig.advance(TIMER_DEFAULTS["T12"] + 1)
    assert rig.a.sent(n) == ["BLO", "BLO"]
    rig.advance(TIMER_DEFAULTS["T13"])
    assert any(e[0] == "maintenance_alert" and e[2]["timer"] == "T13" for e in rig.a.cc.events)
    rig.a.mtp.drop = None
    rig.advance(TIMER_DEFAULTS["T13"])
    assert rig.b.cc.circuits[3].remote_blocked and not rig.a.cc.circuits[3].timers


def test_blo_during_outgoing_setup_moves_the_call():
    rig = Rig(cics_a=range(1, 5), cics_b=range(1, 5))
    call = rig.a.cc.setup("555")                # on the wire
    first = call.cic
    rig.b.cc.block(first)                        # crosses the IAM
    rig.settle()
    assert rig.a.cc.circuits[first].remote_blocked
    assert call.cic != first and call.state == "ANSWERED"
    assert any(e[0] == "repeat_attempt" for e in call.events)


def test_cgb_cgu():
    rig = Rig(cics_a=range(1, 11), cics_b=range(1, 11))
    n = len(rig.a.mtp.tap)
    rig.a.cc.block_group(2, 6)                   # circuits 2..7
    rig.settle()
    assert rig.a.sent(n) == ["CGB"] and rig.b.sent() == ["CGBA"]
    cgba = rig.b.sent_messages()[0]
    assert cgba.range_status.range == 5 and cgba.range_status.circuits() == [True] * 6
    assert [c for c, circ in rig.b.cc.circuits.items() if circ.remote_blocked] == [2, 3, 4, 5, 6, 7]
    assert not rig.a.cc.groups
    calls = _fill(rig.b, 5)
    assert sorted(c.cic for c in calls[:4]) == [1, 8, 9, 10] and calls[4].cause == 34
    for c in calls[:4]:
        rig.b.cc.release(c)
    rig.settle()
    rig.a.cc.unblock_group(2, 6)
    rig.settle()
    assert not any(circ.remote_blocked for circ in rig.b.cc.circuits.values())
    assert not any(circ.local_blocked for circ in rig.a.cc.circuits.values())
    assert not rig.a.cc.groups
    assert len([c for c in _fill(rig.b, 10) if c.cause is None]) == 10


def test_grs_at_startup_all_idle():
    rig = Rig(cics_a=range(1, 41), cics_b=range(1, 41))
    rig.b.cc.circuits[5].local_blocked = True    # B has circuit 5 blocked for maintenance
    na = len(rig.a.mtp.tap)
    rig.a.cc.reset_group()                       # 40 circuits: GRS 1..32, GRS 33..40
    for circ in rig.a.cc.circuits.values():
        assert circ.state is State.RESETTING
    rig.settle()
    # GRA from B reported circuit 5 as locally blocked (status bit): A now treats it as remotely blocked
    assert [c for c, circ in rig.a.cc.circuits.items() if circ.remote_blocked] == [5]
    assert rig.b.sent() == ["GRA", "GRA"]
    rig.b.cc.reset_group()
    rig.settle()
    assert rig.a.sent(na).count("GRS") == 2 and rig.a.sent(na).count("GRA") == 2
    grs = [m for m in rig.a.sent_messages(na) if m.NAME == "GRS"]
    assert [(m.cic, m.range_status.range) for m in grs] == [(1, 31), (33, 7)]
    assert _all_idle(rig.a) and _all_idle(rig.b)
    assert not rig.a.cc.groups and not rig.b.cc.groups
    assert [c for c, circ in rig.a.cc.circuits.items() if circ.remote_blocked] == [5]
    assert not any(circ.timers for circ in rig.a.cc.circuits.values())


def test_grs_clears_calls_and_is_repeated_on_t22():
    rig = Rig()
    calls = _fill(rig.a, 3)
    incoming = list(rig.b.incoming)
    rig.b.mtp.drop = lambda p: True              # GRA lost at first
    rig.a.cc.reset_group(1, 8)
    assert all(c.cause == 41 for c in calls)
    rig.settle()
    assert all(c.cause == 41 for c in incoming) and _all_idle(rig.b)
    n = len(rig.a.mtp.tap)
    rig.b.mtp.drop = None
    rig.advance(TIMER_DEFAULTS["T22"] + 1)
    assert rig.a.sent(n) == ["GRS"]
    assert _all_idle(rig.a) and not rig.a.cc.groups


def test_rsc_on_established_call():
    rig = Rig()
    call = rig.a.cc.setup("555")
    rig.settle()
    inc = rig.b.incoming[0]
    n = len(rig.b.mtp.tap)
    rig.a.cc.reset(call.cic)
    rig.settle()
    assert call.cause == 41 and inc.cause == 41
    assert rig.b.sent(n) == ["RLC"]
    assert _all_idle(rig.a) and _all_idle(rig.b) and not rig.a.cc.circuits[call.cic].timers


def test_rsc_on_locally_blocked_circuit_reblocks():
    rig = Rig()
    rig.b.cc.block(4)
    rig.settle()
    n = len(rig.b.mtp.tap)
    rig.a.cc.reset(4)                             # removes A's remote blocking of 4 ...
    rig.settle()
    assert rig.b.sent(n) == ["BLO", "RLC"]        # ... B re-blocks before RLC (Q.764 2.9.3.1)
    assert rig.a.cc.circuits[4].remote_blocked and rig.a.cc.circuits[4].state is State.IDLE


def test_ucic_for_unequipped_cic():
    rig = Rig(cics_a=range(1, 9), cics_b=range(1, 7))   # A believes in circuits 7 and 8, B does not have them
    n = len(rig.b.mtp.tap)
    call = rig.a.cc.setup("555", cic=8)
    rig.settle()
    assert rig.b.sent(n)[0] == "UCIC"
    assert rig.a.cc.circuits[8].remote_unequipped
    assert call.cic != 8 and call.state == "ANSWERED"   # repeat attempt on an equipped circuit
    assert any(e[0] == "unequipped_cic" and e[1] == 8 for e in rig.b.cc.events)
    calls = _fill(rig.a, 8)
    assert 8 not in [c.cic for c in calls]
    # maintenance on an unequipped CIC: UCIC, and the BLO stops being repeated
    rig.a.cc.block(7)
    rig.advance(TIMER_DEFAULTS["T12"] * 2)
    assert rig.a.cc.circuits[7].remote_unequipped and not rig.a.cc.circuits[7].timers


@pytest.mark.parametrize("cic", [2, 3])
def test_dual_seizure(cic):
    rig = Rig()
    # A has the higher point code: it controls the even CICs, B the odd ones (Q.764 2.10.1.4)
    assert rig.a.cc.controls(2) and not rig.a.cc.controls(3)
    assert rig.b.cc.controls(3) and not rig.b.cc.controls(2)
    ca = rig.a.cc.setup("111", cic=cic)
    cb = rig.b.cc.setup("222", cic=cic)          # both IAMs cross
    rig.settle()
    winner, loser = (ca, cb) if cic % 2 == 0 else (cb, ca)
    assert winner.cic == cic and loser.cic != cic
    assert any(e[0] == "repeat_attempt" and e[1]["why"] == "dual_seizure" for e in loser.events)
    assert ca.state == "ANSWERED" and cb.state == "ANSWERED"
    assert [c.called for c in rig.b.incoming] == ["111"] and [c.called for c in rig.a.incoming] == ["222"]
    assert rig.a.incoming[0].cic == cb.cic and rig.b.incoming[0].cic == ca.cic
    rig.a.cc.release(ca)
    rig.b.cc.release(cb)
    rig.settle()
    assert _all_idle(rig.a) and _all_idle(rig.b)


def test_allocation_prefers_controlled_circuits():
    rig = Rig(cics_a=range(1, 7), cics_b=range(1, 7))
    a_calls = [rig.a.cc.setup("1") for _ in range(3)]
    b_calls = [rig.b.cc.setup("2") for _ in range(3)]
    rig.settle()
    assert sorted(c.cic for c in a_calls) == [2, 4, 6] and sorted(c.cic for c in b_calls) == [1, 3, 5]


def test_mtp_pause_clears_calls_and_resume_resets():
    rig = Rig()
    calls = _fill(rig.a, 2)
    rig.a.mtp.pause()
    assert all(c.cause == 38 for c in calls) and all(c.cause == 38 for c in rig.b.incoming)
    assert rig.a.cc.setup("1").cause == 38
    rig.a.mtp.resume()
    rig.settle()
    assert _all_idle(rig.a) and _all_idle(rig.b) and not rig.a.cc.groups
    assert rig.a.cc.setup("1").cause is None


def test_mux_serves_two_destinations_with_the_same_cics():
    """One MTP, two far exchanges: each destination has its own CIC 1..4; indications are routed by OPC."""
    from twisted.internet import task

    from ctid.signaling.ss7.isup_cc import IsupCallControl, IsupMux
    from isup_cc_rig import LoopbackMtp

    clock = task.Clock()
    hub_b, far_b = LoopbackMtp.pair(100, 200, "itu", clock=clock)
    hub_c, far_c = LoopbackMtp.pair(100, 300, "itu", clock=clock)

    class Hub:   # the one MTP of the hub exchange: routes by DPC to the loopback towards it
        opc, pc_format = 100, "itu"

        def register_user(self, si, user):
            hub_b.register_user(si, user)
            hub_c.register_user(si, user)

        def transfer(self, dpc, sls, si, payload, ni=2):
            (hub_b if dpc == 200 else hub_c).transfer(dpc, sls, si, payload, ni)

    hub = Hub()
    mux = IsupMux(hub)
    to_b = IsupCallControl(hub, 200, range(1, 5), clock, mux=mux)
    to_c = IsupCallControl(hub, 300, range(1, 5), clock, mux=mux)
    got = {}
    far = {n: IsupCallControl(m, 100, range(1, 5), clock, on_incoming=lambda call, n=n: got.setdefault(n, call))
           for n, m in (("b", far_b), ("c", far_c))}
    cb, cc_ = to_b.setup("222"), to_c.setup("333")
    for _ in range(10):
        clock.advance(0)
    assert got["b"].called == "222" and got["c"].called == "333"
    assert cb.cic == cc_.cic                       # the same CIC number, two different circuits
    far["b"].alert(got["b"])
    for _ in range(10):
        clock.advance(0)
    assert cb.state == "WAIT_ANSWER" and cc_.state == "WAIT_ACM"
    with pytest.raises(ValueError):
        IsupCallControl(hub, 200, [9], clock, mux=mux)


@pytest.mark.parametrize("how", ["grs", "rsc"])
def test_reset_keeps_our_maintenance_blocking(how):
    rig = Rig()
    rig.a.cc.block(3)
    rig.settle()
    assert rig.b.cc.circuits[3].remote_blocked
    if how == "grs":
        rig.a.cc.reset_group()
    else:
        rig.a.cc.reset(3)
    rig.settle()
    assert rig.b.cc.circuits[3].remote_blocked and rig.a.cc.circuits[3].local_blocked
    assert _all_idle(rig.a) and _all_idle(rig.b)
    assert not any(circ.timers for circ in rig.a.cc.circuits.values())
    assert not [e for side in (rig.a, rig.b) for e in side.cc.events if e[0] == "unexpected"]


def test_cgb_hardware_clears_calls_both_sides():
    rig = Rig()
    calls = _fill(rig.a, 4)
    incoming = list(rig.b.incoming)
    rig.b.cc.block_group(1, 8, hardware=True)
    rig.settle()
    assert all(c.cause == 41 for c in calls + incoming)
    assert _all_idle(rig.a) and _all_idle(rig.b)
    assert all(circ.remote_blocked for circ in rig.a.cc.circuits.values())
    assert rig.a.cc.setup("1").cause == 34
