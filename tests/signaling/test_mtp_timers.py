"""MTP2 timers and monitors against a scripted far end (a fake transport, task.Clock): Q.703 T1-T7, AERM, SUERM,
processor outage, negative acknowledgement and retransmission."""
from __future__ import annotations

import pytest
from twisted.internet import task

from ctid.signaling.ss7 import mtp2
from ctid.signaling.ss7.mtp2_link import AERM_TIN, SUERM_D, SUERM_T, LinkState, Mtp2Link, Mtp2Timers


class Fake:
    repeats_idle = True

    def __init__(self):
        self.sent = []
        self.link = None

    def send_su(self, su):
        self.sent.append(mtp2.decode(su, fcs=False))
        return True

    def last_status(self):
        return self.sent[-1].status


def lssu(st, **kw):
    return mtp2.encode(mtp2.SignalUnit(status=st, **kw), fcs=False)


def fisu(**kw):
    return mtp2.encode(mtp2.SignalUnit(**kw), fcs=False)


def msu_su(fsn, payload, fib=1, bsn=127, bib=1):
    return mtp2.encode(mtp2.SignalUnit(fsn=fsn, fib=fib, bsn=bsn, bib=bib, payload=payload), fcs=False)


@pytest.fixture
def link():
    clock = task.Clock()
    t = Fake()
    l = Mtp2Link(clock, t, name="L")
    l.clock_ = clock
    l.reasons = []
    l.on_out_of_service = l.reasons.append
    return l


def align(l, emergency=False):
    l.start()
    l.receive_su(lssu("SIO"))
    l.receive_su(lssu("SIE" if emergency else "SIN"))
    assert l.iac.value == "PROVING"


def in_service(l):
    align(l)
    l.clock_.advance(Mtp2Timers().t4n)
    l.receive_su(fisu())
    assert l.state == LinkState.IN_SERVICE


def test_out_of_service_sends_sios_and_start_sends_sio(link):
    assert link.transport.last_status() == "SIOS"
    link.start()
    assert link.transport.last_status() == "SIO" and link.state == LinkState.INITIAL_ALIGNMENT


def test_t2_not_aligned(link):
    link.start()
    link.clock_.advance(49.9)
    assert link.state == LinkState.INITIAL_ALIGNMENT
    link.clock_.advance(0.2)
    assert link.state == LinkState.OUT_OF_SERVICE and "T2" in link.reasons[0]


def test_t3_aligned(link):
    link.start()
    link.receive_su(lssu("SIO"))
    assert link.transport.last_status() == "SIN"
    link.clock_.advance(1.6)
    assert link.state == LinkState.OUT_OF_SERVICE and "T3" in link.reasons[0]


def test_proving_t4n_then_t1(link):
    align(link)
    link.clock_.advance(8.4)
    assert link.state == LinkState.INITIAL_ALIGNMENT
    link.clock_.advance(0.2)
    assert link.state == LinkState.ALIGNED_READY and link.transport.sent[-1].kind == "FISU"
    link.clock_.advance(45.0)
    assert link.state == LinkState.OUT_OF_SERVICE and "T1" in link.reasons[0]


def test_aerm_aborts_proving_and_fails_after_five(link):
    align(link)
    link.clock_.advance(4.0)
    for attempt in range(1, 5):
        link.su_error(AERM_TIN)                 # threshold Tin reached: proving restarts (T4 again)
        assert link.proving_attempts == attempt and link.state == LinkState.INITIAL_ALIGNMENT
        link.clock_.advance(8.4)
        assert link.state == LinkState.INITIAL_ALIGNMENT   # a new full period
    link.su_error(AERM_TIN)
    assert link.state == LinkState.OUT_OF_SERVICE and "AERM" in link.reasons[0]


def test_emergency_aerm_threshold_is_one(link):
    align(link, emergency=True)
    link.su_error(1)
    assert link.proving_attempts == 1


def test_suerm_leaky_bucket(link):
    in_service(link)
    good = fisu()
    # one error per D good units never accumulates
    for _ in range(200):
        link.su_error(1)
        for _ in range(SUERM_D):
            link.receive_su(good)
    assert link.state == LinkState.IN_SERVICE and link.suerm_count <= 1
    n, c0 = 0, link.suerm_count
    while link.state == LinkState.IN_SERVICE and n < 1000:
        link.su_error(1)
        n += 1
    # T=64 errors in a row (one more if a decrement of every D units falls in between)
    assert SUERM_T - c0 <= n <= SUERM_T - c0 + 1
    assert link.state == LinkState.OUT_OF_SERVICE and "SUERM" in link.reasons[0]


def test_t7_and_positive_ack(link):
    in_service(link)
    link.send_msu(b"\x85abc")
    assert link.transport.sent[-2].payload == b"\x85abc" and link.transport.sent[-2].fsn == 0
    link.clock_.advance(0.9)
    link.receive_su(fisu(bsn=0, bib=1))        # acknowledged: T7 stopped
    assert not link.rtb and not link.running("t7")
    link.send_msu(b"\x85def")
    link.clock_.advance(1.01)
    assert link.state == LinkState.OUT_OF_SERVICE and "T7" in link.reasons[0]


def test_negative_ack_retransmits_all_unacked(link):
    in_service(link)
    for p in (b"\x85aaa", b"\x85bbb", b"\x85ccc"):
        link.send_msu(p)
    n = len(link.transport.sent)
    link.receive_su(fisu(bsn=0, bib=0))        # FSN 0 acked, BIB inverted: retransmit 1 and 2 with FIB 0
    retx = [s for s in link.transport.sent[n:] if s.kind == "MSU"]
    assert [(s.fsn, s.fib, s.payload) for s in retx] == [(1, 0, b"\x85bbb"), (2, 0, b"\x85ccc")]


def test_gap_gives_negative_ack_and_discards(link):
    in_service(link)
    got = []
    link.on_msu = got.append
    link.receive_su(msu_su(0, b"\x85one"))
    link.receive_su(msu_su(2, b"\x85three"))   # FSN 1 lost
    assert got == [b"\x85one"] and link.bib == 0 and link.stats["nacks_sent"] == 1
    link.receive_su(msu_su(3, b"\x85four"))    # still FIB 1 != BIB 0: discarded, no second NACK
    assert link.stats["nacks_sent"] == 1
    link.receive_su(msu_su(1, b"\x85two", fib=0))
    link.receive_su(msu_su(2, b"\x85three", fib=0))
    link.receive_su(msu_su(2, b"\x85three", fib=0))   # duplicate
    assert got == [b"\x85one", b"\x85two", b"\x85three"]
    assert link.transport.sent[-1].bsn == 2 and link.transport.sent[-1].bib == 0


def test_remote_congestion_t6(link):
    in_service(link)
    link.send_msu(b"\x85abc")
    link.receive_su(lssu("SIB"))
    assert link.running("t6") and not link.running("t7")
    link.clock_.advance(4.9)
    assert link.state == LinkState.IN_SERVICE
    link.clock_.advance(0.2)
    assert link.state == LinkState.OUT_OF_SERVICE and "T6" in link.reasons[0]


def test_local_congestion_sib_every_t5(link):
    in_service(link)
    n = len(link.transport.sent)
    link.set_local_congestion(True)
    for _ in range(5):
        link.clock_.advance(0.1)
    sibs = [s for s in link.transport.sent[n:] if s.status == "SIB"]
    assert len(sibs) == 6
    link.set_local_congestion(False)
    m = len(link.transport.sent)
    link.clock_.advance(1)
    assert not [s for s in link.transport.sent[m:] if s.status == "SIB"]


def test_processor_outage(link):
    in_service(link)
    states = []
    link.on_remote_processor_outage = states.append
    link.receive_su(lssu("SIPO"))
    assert link.state == LinkState.PROCESSOR_OUTAGE and states == [True]
    link.receive_su(fisu())
    assert link.state == LinkState.IN_SERVICE and states == [True, False]
    link.set_local_processor_outage(True)
    assert link.transport.last_status() == "SIPO" and link.state == LinkState.PROCESSOR_OUTAGE
    got = []
    link.on_msu = got.append
    link.receive_su(msu_su(0, b"\x85abc"))      # not accepted nor acknowledged during local processor outage
    assert got == [] and link.bsn == 127
    link.set_local_processor_outage(False)
    link.receive_su(msu_su(0, b"\x85abc"))
    assert got == [b"\x85abc"] and link.state == LinkState.IN_SERVICE


def test_sio_in_service_is_link_failure(link):
    in_service(link)
    link.receive_su(lssu("SIO"))
    assert link.state == LinkState.OUT_OF_SERVICE and "SIO" in link.reasons[0]
    assert link.transport.last_status() == "SIOS"


def test_bad_msu_length_rejected(link):
    with pytest.raises(Exception, match="MSU of 2 octets"):
        link.send_msu(b"\x85a")


def test_abnormal_fib_two_of_three_fails(link):
    in_service(link)
    link.receive_su(msu_su(0, b"\x85one", fib=0))   # FIB inverted, no NACK sent by us
    assert link.state == LinkState.IN_SERVICE
    link.receive_su(fisu(fsn=0, fib=0))
    assert link.state == LinkState.OUT_OF_SERVICE and "abnormal FIB" in link.reasons[0]


def test_abnormal_bsn_two_of_three_fails(link):
    in_service(link)
    link.receive_su(fisu(bsn=50))                     # acknowledges MSUs never sent
    assert link.state == LinkState.IN_SERVICE
    link.receive_su(fisu(bsn=50))
    assert link.state == LinkState.OUT_OF_SERVICE and "abnormal BSN" in link.reasons[0]


from hypothesis import given, settings, strategies as hs  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(hs.lists(hs.binary(min_size=0, max_size=300), max_size=20))
def test_random_signal_units_never_crash(units):
    clock = task.Clock()
    link = Mtp2Link(clock, Fake(), name="R")
    link.clock_ = clock
    in_service(link)
    for u in units:
        link.receive_su(u)           # decoded, counted as an error, or a link failure: never an exception
        clock.advance(0.01)
    assert link.state in set(LinkState)


def test_remote_congestion_abates_without_outstanding_msus(link):
    in_service(link)
    seen = []
    link.on_remote_congestion = seen.append
    link.receive_su(lssu("SIB"))
    assert link.running("t6") and seen == [True]
    link.send_msu(b"\x85abc")                      # held while T6 runs
    assert not link.rtb and link.tb
    link.receive_su(fisu())                        # SIB no longer received: abatement
    assert not link.running("t6") and seen == [True, False]
    assert [s.payload for s in link.transport.sent if s.kind == "MSU"] == [b"\x85abc"]
