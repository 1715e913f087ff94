"""MTP2 (Q.703) links back to back over a hwsim CCS cable and over a SOCK_SEQPACKET socketpair."""
from __future__ import annotations

import os
import socket
import sys

import pytest
from twisted.internet import task

sys.path.insert(0, os.path.dirname(__file__))
from mtp_rig import TICK, Rig  # noqa: E402

from ctid.signaling.ss7 import mtp2  # noqa: E402
from ctid.signaling.ss7.mtp2_link import LinkState, Mtp2Link, Mtp2Timers  # noqa: E402
from ctid.signaling.ss7.transport import HdlcTransport, SeqpacketTransport  # noqa: E402


def msu(i: int, tag: int = 0) -> bytes:
    return bytes([0x85, tag, 0x11, 0x22]) + i.to_bytes(2, "big")


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


def bring_up(r, a, b, limit=20.0):
    a.start()
    b.start()
    assert r.run(limit, until=lambda: a.in_service and b.in_service), (a.state, b.state, a.events, b.events)


def test_alignment_and_normal_proving_period(rig):
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    states = [s for _, s in a.history]
    assert states == ["INITIAL_ALIGNMENT", "ALIGNED_READY", "IN_SERVICE"]
    # the proving period measured on the driven clock is T4n (to within the 20 ms step)
    for link in (a, b):
        assert link.proving_period == Mtp2Timers().t4n
        done = [t for t, what in link.events if what.startswith("proving complete")]
        assert len(done) == 1
        assert abs((done[0] - link.proving_started_at) - 8.5) <= TICK + 1e-9
    t_in = dict((s, t) for t, s in a.history)
    assert 8.5 <= t_in["IN_SERVICE"] - t_in["INITIAL_ALIGNMENT"] <= 8.5 + 0.2


def test_emergency_proving_uses_t4e(rig):
    a, b = rig.link_pair(emergency=True)
    bring_up(rig, a, b, limit=3)
    assert a.proving_period == b.proving_period == 0.5


def test_far_end_emergency_shortens_our_proving(rig):
    a, b = rig.link_pair()
    a.set_emergency(True)
    bring_up(rig, a, b, limit=3)
    assert b.proving_period == 0.5     # SIE received: Q.703 7.3 emergency proving at both ends


def test_msus_flow_both_ways_in_order(rig):
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    got_a, got_b = [], []
    a.on_msu, b.on_msu = got_a.append, got_b.append
    sent_a = [msu(i, 1) for i in range(300)]
    sent_b = [msu(i, 2) for i in range(300)]
    for x, y in zip(sent_a, sent_b):
        a.send_msu(x)
        b.send_msu(y)
    rig.run(3, until=lambda: len(got_a) == len(got_b) == 300)
    rig.run(0.2)
    assert got_b == sent_a and got_a == sent_b
    assert not a.rtb and not a.running("t7")   # everything acknowledged, T7 stopped
    assert a.stats["retransmitted"] == 0 and a.state == LinkState.IN_SERVICE


def test_bit_errors_every_msu_once_in_order(rig):
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    got_a, got_b = [], []
    a.on_msu, b.on_msu = got_a.append, got_b.append
    for board in (0, 1):
        rig.world.fault_ber(board, 0, 3e-5)
    sent_a = [msu(i, 1) for i in range(1500)]
    sent_b = [msu(i, 2) for i in range(1500)]
    pending = [list(sent_a), list(sent_b)]

    def feed():      # 50 MSUs per direction per 20 ms block
        for link, q in ((a, pending[0]), (b, pending[1])):
            for _ in range(min(50, len(q))):
                link.send_msu(q.pop(0))
    rig.hooks.append(feed)
    rig.run(30, until=lambda: len(got_a) == len(got_b) == 1500 and not a.rtb and not b.rtb)
    assert a.state == b.state == LinkState.IN_SERVICE, (a.events, b.events)
    assert got_b == sent_a and got_a == sent_b
    # errors were seen and repaired by retransmission, and the monitors counted them
    assert a.stats["su_errors"] + b.stats["su_errors"] > 0
    assert a.stats["retransmitted"] + b.stats["retransmitted"] > 0
    assert a.stats["nacks_sent"] + b.stats["nacks_sent"] > 0
    assert rig.boards[1].span_status(0).hdlc_bad_fcs + rig.boards[0].span_status(0).hdlc_bad_fcs > 0


def test_heavy_bit_errors_trip_suerm(rig):
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    rig.world.fault_ber(0, 0, 1e-3)
    assert rig.run(5, until=lambda: a.state == b.state == LinkState.OUT_OF_SERVICE)
    # the end receiving the errors fails on its SUERM; the other sees its SIOS
    assert a.stats["suerm_failures"] + b.stats["suerm_failures"] == 1
    assert any("SUERM threshold" in what for _, what in a.events + b.events)


def test_idle_link_with_board_filtering_delivers_few_units_and_counts_all(rig):
    """The rig's boards filter repeated FISUs (HdlcTransport turns the board's filter on): an idle in-service link
    hands the host a handful of units, and the link still counts every unit on the line (SUERM's D count)."""
    a, b = rig.link_pair()
    assert a.transport.filters_repeats and b.transport.filters_repeats
    bring_up(rig, a, b)
    delivered = []
    real = b.receive_su
    b.receive_su = lambda raw: (delivered.append(raw), real(raw))
    rx0, filt0 = b.stats["su_rx"], b.stats["su_filtered"]
    b.suerm_count = 10
    rig.run(10.0)
    assert a.in_service and b.in_service
    rx, filt = b.stats["su_rx"] - rx0, b.stats["su_filtered"] - filt0
    assert len(delivered) <= 3 and rx > 10000 and filt == rx - len(delivered)
    assert b.suerm_count == max(0, 10 - rx // 256) == 0


def test_su_repeated_decrements_suerm_once_per_256_units(rig):
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    b.suerm_count, b._suerm_su = 5, 250
    b.su_repeated(5)
    assert (b.suerm_count, b._suerm_su) == (5, 255)
    b.su_repeated(1 + 256 * 2)
    assert (b.suerm_count, b._suerm_su) == (2, 0)
    b.su_repeated(256 * 10)
    assert b.suerm_count == 0


def test_abnormal_bsn_repeated_fails_the_link_through_the_filter(rig):
    """Q.703 5.3.1: two abnormal BSNs in three units fail the link. The far end's idle fill carries a BSN outside
    the window; the board's filter still delivers a repeated unit three times, so the rule still fires."""
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    bad = mtp2.encode(mtp2.SignalUnit(bsn=(a.fsn_last_sent + 40) % 128, bib=a.fib, fsn=b.fsn_last_sent, fib=b.fib),
                      fcs=False)
    b.transport.send_su(bad)
    assert rig.run(1.0, until=lambda: not a.in_service)
    assert any("abnormal BSN" in what for _, what in a.events), a.events


def test_heavy_bit_errors_trip_suerm_without_board_filtering():
    r = Rig()
    try:
        ta = HdlcTransport(r.boards[0], 0, 16, filter_repeats=False)
        tb = HdlcTransport(r.boards[1], 0, 16, filter_repeats=False)
        r.ports[0].transports[(0, 16)], r.ports[1].transports[(0, 16)] = ta, tb
        a, b = Mtp2Link(r.clock, ta, name="A"), Mtp2Link(r.clock, tb, name="B")
        bring_up(r, a, b)
        assert b.stats["su_filtered"] == 0 and b.stats["su_rx"] > 1000
        r.world.fault_ber(0, 0, 1e-3)
        assert r.run(5, until=lambda: a.state == b.state == LinkState.OUT_OF_SERVICE)
        assert a.stats["suerm_failures"] + b.stats["suerm_failures"] == 1
    finally:
        r.close()


def test_cut_cable_fails_link_and_restore_realigns(rig):
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    reasons = []
    a.on_out_of_service = b.on_out_of_service = reasons.append
    a.send_msu(msu(1))
    rig.world.cut(0, 0)
    assert rig.run(3, until=lambda: a.state == b.state == LinkState.OUT_OF_SERVICE)
    assert reasons and all("SUERM" in x or "T7" in x or "received SIOS" in x for x in reasons), reasons
    rig.world.restore(0, 0)
    rig.run(0.2)
    got = []
    b.on_msu = got.append
    bring_up(rig, a, b)
    a.send_msu(msu(2))
    rig.run(0.5, until=lambda: got)
    assert got == [msu(2)]


def test_no_acknowledgement_t7(rig):
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    b.transport.send_su = lambda su: True      # b goes deaf-mute: a's MSU is never acknowledged
    a.send_msu(msu(7))
    assert rig.run(3, until=lambda: a.state == LinkState.OUT_OF_SERVICE)
    assert any("Q.703 T7 expired" in what for _, what in a.events)
    fail_t = [t for t, what in a.events if what.startswith("link failure")][0]
    sent_t = [t for t, what in a.events if "T7 expired" in what][0]
    assert fail_t == sent_t


def test_garbage_signal_unit_is_an_error_not_a_crash(rig):
    a, b = rig.link_pair()
    bring_up(rig, a, b)
    before = b.stats["su_errors"]
    b.receive_su(b"\x80\x80\x05\x01")     # LI 5 but one octet follows
    b.receive_su(b"\x01")
    assert b.stats["su_errors"] == before + 2 and b.in_service


def test_seqpacket_socketpair_comes_in_service():
    clock = task.Clock()
    sa, sb = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ta, tb = SeqpacketTransport(sa), SeqpacketTransport(sb)
    a = Mtp2Link(clock, ta, name="A", fill_interval=0.05)
    b = Mtp2Link(clock, tb, name="B", fill_interval=0.05)
    got = []
    b.on_msu = got.append
    a.start()
    b.start()
    for _ in range(2000):
        clock.advance(0.01)
        ta.doRead()
        tb.doRead()
        if a.in_service and b.in_service:
            break
    assert a.in_service and b.in_service
    for i in range(100):
        a.send_msu(msu(i))
    for _ in range(20):
        clock.advance(0.01)
        tb.doRead()
        ta.doRead()
    assert got == [msu(i) for i in range(100)]
    assert not a.rtb
    # each datagram is the SU plus its real FCS
    raw = mtp2.encode(mtp2.SignalUnit(status="SIOS"))
    sa.send(raw)
    data = sb.recv(64)
    assert mtp2.check_fcs(data) == raw[:-2]
    a.close(), b.close()
    ta.close(), tb.close()


def test_seqpacket_fcs_is_real():
    sa, sb = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    t = SeqpacketTransport(sa)
    su = mtp2.encode(mtp2.SignalUnit(status="SIO"), fcs=False)
    t.send_su(su)
    data = sb.recv(64)
    assert mtp2.check_fcs(data) == su and len(data) == len(su) + 2
    t.close()
    sb.close()


def test_seqpacket_peer_close_and_short_datagram():
    sa, sb = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    t = SeqpacketTransport(sa)
    link = Mtp2Link(task.Clock(), t, name="A")
    sb.send(b"\x01\x02")                 # shorter than header + FCS: an error, not a crash
    t.doRead()
    assert t.short == 1 and link.stats["su_errors"] == 1
    sb.close()
    t.doRead()
    assert t.closed_reason in ("peer closed the socket", "receive failed: Connection reset by peer")
    assert t.send_su(b"\xff\xff\x00") is True      # sending to a gone peer is not an exception
    link.close()
    t.close()
