"""MTP3 (Q.704) over hwsim: a 2-link linkset between two MTP3 instances, SLTM/SLTA, TRA, load sharing by SLS,
changeover and changeback with no MSU lost or duplicated, China 24-bit labels."""
from __future__ import annotations

import os
import sys
from collections import Counter, defaultdict

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mtp_rig import Rig  # noqa: E402

from ctid.signaling.ss7 import mtp2, mtp3  # noqa: E402
from ctid.signaling.ss7.mtp3_layer import Mtp3Layer  # noqa: E402
from ctid.signaling.ss7.primitives import LoopbackMtp, MtpUser  # noqa: E402

PCS = {"itu": (0x1234, 0x0567), "china": (0x0A0B0C, 0x112233)}


class User(MtpUser):
    def __init__(self):
        self.got, self.paused, self.resumed, self.status = [], [], [], []

    def mtp_status(self, dpc, cause):
        self.status.append((dpc, cause))

    def mtp_transfer(self, ind):
        self.got.append(ind)

    def mtp_pause(self, dpc):
        self.paused.append(dpc)

    def mtp_resume(self, dpc):
        self.resumed.append(dpc)


class Net:
    def __init__(self, pc_format="itu", nlinks=2):
        self.rig = Rig(spans=nlinks, seed=11)
        self.pa, self.pb = PCS[pc_format]
        pairs = [self.rig.link_pair(s) for s in range(nlinks)]
        self.la, self.lb = [p[0] for p in pairs], [p[1] for p in pairs]
        self.A = Mtp3Layer(self.rig.clock, self.pa, pc_format, name="A")
        self.B = Mtp3Layer(self.rig.clock, self.pb, pc_format, name="B")
        self.A.add_linkset(self.pb, self.la)
        self.B.add_linkset(self.pa, self.lb)
        self.ua, self.ub = User(), User()
        self.A.register_user(5, self.ua)
        self.B.register_user(5, self.ub)
        self.A.start()
        self.B.start()

    def up(self, limit=20):
        ok = self.rig.run(limit, until=lambda: self.A.linksets[self.pb].accessible and
                          self.B.linksets[self.pa].accessible and
                          all(l.available for l in self.A.linksets[self.pb].links + self.B.linksets[self.pa].links))
        assert ok, (self.A.events, self.B.events)

    def close(self):
        self.rig.close()


@pytest.fixture
def net():
    n = Net()
    yield n
    n.close()


def names(layer, prefix):
    return [what for _, what in layer.events if what.startswith(prefix)]


def test_linkset_comes_up_with_slt_and_tra(net):
    net.up()
    for layer in (net.A, net.B):
        got = names(layer, "received")
        for slc in (0, 1):
            assert any(f"received SLTM on link {slc}" in g for g in got)
            assert any(f"received SLTA on link {slc}" in g for g in got)
        assert any(g.startswith("received TRA") for g in got)
    assert net.ua.resumed == [net.pb] and net.ub.resumed == [net.pa]


def test_user_traffic_load_shares_by_sls(net):
    net.up()
    before = [l.stats["msu_tx"] for l in net.la]
    sent = []
    for i in range(160):
        sls = i % 16
        payload = bytes([0x01, 0x00, 0x01]) + i.to_bytes(2, "big")
        net.A.transfer(net.pb, sls, 5, payload)
        sent.append((sls, payload))
    net.rig.run(1, until=lambda: len(net.ub.got) == 160)
    got = [(ind.sls, ind.payload) for ind in net.ub.got]
    assert sorted(got) == sorted(sent)
    for ind in net.ub.got:
        assert (ind.opc, ind.dpc, ind.si, ind.ni) == (net.pa, net.pb, 5, 2)
    per_link = [l.stats["msu_tx"] - b for l, b in zip(net.la, before)]
    # home link of SLS s is link s % 2: 80 MSUs each, and per SLS the order is kept
    assert per_link == [80, 80]
    for s in range(16):
        assert [p for x, p in got if x == s] == [p for x, p in sent if x == s]


def run_with_traffic(net, seconds, sent, per_tick=8, until=None):
    seq = [len(sent)]

    def feed():
        for _ in range(per_tick):
            i = seq[0]
            seq[0] += 1
            sls = i % 16
            payload = bytes([0x02, 0x00]) + i.to_bytes(4, "big")
            if net.A.linksets[net.pb].accessible:
                net.A.transfer(net.pb, sls, 5, payload)
                sent.append((sls, payload))
    net.rig.hooks.append(feed)
    try:
        return net.rig.run(seconds, until=until)
    finally:
        net.rig.hooks.remove(feed)


def check_exactly_once_in_order(sent, got):
    c = Counter(got)
    dups = [k for k, v in c.items() if v > 1]
    assert not dups, f"{len(dups)} MSUs duplicated"
    missing = set(sent) - set(got)
    assert not missing, f"{len(missing)} MSUs lost"
    by_sls_sent, by_sls_got = defaultdict(list), defaultdict(list)
    for s, p in sent:
        by_sls_sent[s].append(p)
    for s, p in got:
        by_sls_got[s].append(p)
    assert by_sls_sent == by_sls_got       # order per SLS kept


def test_changeover_and_changeback_lose_nothing(net):
    net.up()
    sent = []
    run_with_traffic(net, 1.0, sent)
    net.rig.world.cut(0, 1)
    run_with_traffic(net, 3.0, sent)
    assert not net.A.linksets[net.pb].links[1].available
    assert any("sent COO" in w or "received COO" in w for _, w in net.A.events)
    assert any("COA" in w for _, w in net.A.events)
    assert net.A.linksets[net.pb].accessible            # the other link carries everything
    net.rig.world.restore(0, 1)
    ls = net.A.linksets[net.pb]
    run_with_traffic(net, 25.0, sent, until=lambda: ls.links[1].available and not ls.held)
    run_with_traffic(net, 1.0, sent)
    net.rig.run(1.0)
    assert ls.links[1].available
    assert any("sent CBD" in w for _, w in net.A.events) and any("received CBA" in w for _, w in net.A.events)
    got = [(ind.sls, ind.payload) for ind in net.ub.got]
    check_exactly_once_in_order(sent, got)
    assert len(sent) > 2000
    assert net.A.stats["time_controlled_lost"] == 0
    # link 1 carries its home SLSs again
    t1 = net.la[1].stats["msu_tx"]
    run_with_traffic(net, 0.5, sent)
    assert net.la[1].stats["msu_tx"] > t1


def test_last_link_down_pauses_and_resumes(net):
    net.up()
    net.rig.world.cut(0, 0)
    net.rig.world.cut(0, 1)
    assert net.rig.run(3, until=lambda: net.ua.paused)
    assert net.ua.paused == [net.pb]
    net.rig.world.restore(0, 0)
    net.rig.world.restore(0, 1)
    net.up(limit=25)
    assert net.ua.resumed == [net.pb, net.pb]


def test_china_24bit_labels_on_the_wire():
    net = Net("china", nlinks=1)
    try:
        wire = []
        t = net.la[0].transport
        orig = t.send_su

        def spy(su):
            wire.append(su)
            return orig(su)
        t.send_su = spy
        net.up()
        net.A.transfer(net.pb, 7, 5, b"\x05\x00\x01\x02")
        net.rig.run(0.5, until=lambda: net.ub.got)
        msus = [mtp2.decode(su, fcs=False) for su in wire]
        labels = [mtp3.decode_msu(m.payload, "china") for m in msus if m.kind == "MSU"]
        assert labels and all((m.opc, m.dpc) == (net.pa, net.pb) for m in labels)
        assert [m.data for m in labels if m.si == 5] == [b"\x05\x00\x01\x02"]
        assert {m.si for m in labels} >= {0, 1, 5}       # TRA, SLTM/SLTA, ISUP
        ind = net.ub.got[0]
        assert (ind.opc, ind.dpc, ind.sls) == (net.pa, net.pb, 7)
    finally:
        net.close()


def test_loopback_mtp_pair():
    a, b = LoopbackMtp.pair(1, 2, "itu")
    ub = User()
    b.register_user(5, ub)
    a.transfer(2, 3, 5, b"xyz")
    a.transfer(9, 3, 5, b"lost")
    assert [(i.opc, i.dpc, i.sls, i.payload) for i in ub.got] == [(1, 2, 3, b"xyz")]
    assert a.dropped == 1


def test_time_controlled_changeover_without_coa(net):
    net.up()
    for layer in (net.A, net.B):          # COO and COA never get through: Q.704 T2 then T1, time-controlled
        orig = layer._mgmt

        def mgmt(sl, m, msg, orig=orig):
            if msg.name not in ("COO", "COA"):
                orig(sl, m, msg)
        layer._mgmt = mgmt
    sent = []
    run_with_traffic(net, 1.0, sent)
    net.rig.world.cut(0, 1)
    run_with_traffic(net, 4.0, sent)
    net.rig.run(1.0)
    assert any(w.startswith("Q.704 T2 expired") for _, w in net.A.events)
    assert any("time-controlled changeover" in w for _, w in net.A.events)
    got = [(ind.sls, ind.payload) for ind in net.ub.got]
    assert len(set(got)) == len(got)                                     # never duplicated
    missing = set(sent) - set(got)
    assert len(missing) <= net.A.stats["time_controlled_lost"]           # only discarded ones may be missing
    for s in range(16):                                                  # order per SLS kept
        mine = [p for x, p in sent if x == s and (x, p) not in missing]
        assert [p for x, p in got if x == s] == mine


def test_bad_input_is_counted_not_a_crash(net):
    net.up()
    B = net.B
    deliver = net.lb[0].on_msu                       # what MTP2 calls for each accepted MSU
    deliver(b"\x05\x01\x02")                         # shorter than SIO + label
    assert B.stats["bad_msu"] == 1
    other = mtp3.encode_msu(mtp3.Msu(si=5, dpc=net.pb ^ 1, opc=net.pa, data=b"\x01\x02"))
    deliver(other)                                   # not for us (no STP function)
    assert B.stats["discarded_not_for_us"] == 1
    coo_no_body = mtp3.encode_msu(mtp3.Msu(si=0, dpc=net.pb, opc=net.pa, data=b"\x11"))
    deliver(coo_no_body)                             # COO heading without its FSN octet
    assert B.stats["bad_msu"] == 2
    deliver(mtp3.encode_msu(mtp3.Msu(si=9, dpc=net.pb, opc=net.pa, data=b"\x01")))
    assert B.stats["unknown_si"] == 1 and net.ub.got == []
    with pytest.raises(ValueError, match="service indicator"):
        B.register_user(0, User())
    with pytest.raises(ValueError, match="SLS"):
        B.transfer(net.pa, 16, 5, b"x")
    assert all(l.in_service for l in net.lb)


def test_transfer_to_inaccessible_destination_is_dropped(net):
    net.A.transfer(net.pb, 1, 5, b"\x01\x02\x03")    # before the linkset is up
    net.A.transfer(0x3FFF, 1, 5, b"\x01\x02\x03")    # no route at all
    assert net.A.stats["dropped_inaccessible"] == 2
    net.up()
    net.rig.run(0.5)
    assert net.ub.got == []


def test_periodic_link_test_and_failed_test_changes_over(net):
    for layer in (net.A, net.B):
        layer.timers.q707_t2 = 5.0
    net.up()
    before = len(names(net.B, "received SLTM on link 0"))
    net.rig.run(11)
    assert len(names(net.B, "received SLTM on link 0")) - before == 2     # every Q.707 T2
    # B stops answering link tests on link 1: A's link test fails twice, the link is taken out with changeover
    orig = net.B._mgmt

    def mgmt(sl, m, msg):
        if not (msg.name == "SLTM" and sl.slc == 1):
            orig(sl, m, msg)
    net.B._mgmt = mgmt
    sent = []
    run_with_traffic(net, 15, sent, until=lambda: any("test failed twice" in w for _, w in net.A.events))
    run_with_traffic(net, 0.5, sent)
    net.rig.run(1.0)
    assert any(w.startswith("Q.707 T1 expired") for _, w in net.A.events)
    assert any("sent COO on link 0 for link 1" in w for _, w in net.A.events)
    check_exactly_once_in_order(sent, [(ind.sls, ind.payload) for ind in net.ub.got])


def test_random_msus_never_crash():
    from hypothesis import given, settings, strategies as hs
    from twisted.internet import task

    from ctid.signaling.ss7.mtp2_link import Mtp2Link

    class Fake:
        repeats_idle = True

        def send_su(self, su):
            return True

    clock = task.Clock()
    for fmt, (pa, pb) in PCS.items():
        layer = Mtp3Layer(clock, pa, fmt)
        link = Mtp2Link(clock, Fake())
        layer.add_linkset(pb, [link])
        layer.register_user(5, User())

        @settings(max_examples=200, deadline=None)
        @given(hs.integers(0, 5), hs.binary(min_size=0, max_size=40))
        def feed(si, body):
            sio = bytes([0x80 | si])
            label = mtp3.encode_msu(mtp3.Msu(si=si, dpc=pa, opc=pb, pc_format=fmt))[1:]
            link.on_msu(sio + label + body)
            link.on_msu(body)
        feed()


def test_unequipped_user_part_gives_upu():
    net = Net("china", nlinks=1)
    try:
        sccp = User()
        net.A.register_user(3, sccp)          # B has no SI 3 user
        net.up()
        net.A.transfer(net.pb, 2, 3, b"\x09\x00\x03")
        net.rig.run(0.5, until=lambda: sccp.status)
        assert sccp.status == [(net.pb, "user part unavailable (unequipped)")]
        assert net.B.stats["unknown_si"] == 1
    finally:
        net.close()


def test_far_end_congestion_gives_mtp_status(net):
    net.up()
    net.lb[0].set_local_congestion(True)        # B's MTP2 sends SIB every Q.703 T5
    net.rig.run(0.3, until=lambda: net.ua.status)
    assert net.ua.status == [(net.pb, "congestion")]
    assert net.la[0].running("t6")
    net.lb[0].set_local_congestion(False)
    net.A.transfer(net.pb, 0, 5, b"\x01\x02\x03")     # acknowledged: T6 stops, nothing fails
    net.rig.run(0.5, until=lambda: net.ub.got)
    assert net.ub.got and not net.la[0].running("t6") and net.la[0].in_service


def test_isup_messages_cross_the_linkset_intact():
    """ISUP messages from the codec through MTP3/MTP2/hwsim (China labels) decode to what was sent."""
    from ctid.signaling.ss7 import isup
    net = Net("china", nlinks=2)
    try:
        net.up()
        msgs = [isup.REL(cic=c, cause=isup.CauseIndicators(cause=16, location=2)) for c in range(1, 33)]
        msgs += [isup.RLC(cic=c) for c in range(1, 33)]
        for m in msgs:
            net.A.transfer(net.pb, m.cic & 0xF, 5, isup.encode(m))     # SLS = low CIC bits, as ISUP does
        net.rig.run(1, until=lambda: len(net.ub.got) == len(msgs))
        assert [isup.decode(ind.payload) for ind in net.ub.got if ind.sls == 1] == \
            [m for m in msgs if m.cic & 0xF == 1]
        assert sorted(isup.encode(isup.decode(ind.payload)) for ind in net.ub.got) == \
            sorted(isup.encode(m) for m in msgs)
        assert all(l.stats["msu_tx"] > 32 for l in net.la)            # both links carried ISUP
    finally:
        net.close()
