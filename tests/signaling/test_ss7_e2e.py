"""SS7 end to end: two exchanges, each ISUP call control (30 CICs) over Mtp3Layer over MTP2 links on hwsim CCS
spans cabled together, the world clock driving a task.Clock (one 20 ms block per tick).

Proves: the linkset comes up and MTP-RESUME starts a circuit group reset (GRS/GRA) at both ends; calls each way
go through IAM, ACM, ANM, REL, RLC; bit errors on the cable during calls are repaired by MTP2 retransmission with
no call failing; cutting the cables makes the destination inaccessible (MTP-PAUSE) and releases the calls on it at
both ends with a cause; restoring them realigns the linkset, MTP-RESUME resets the circuits (GRS) and all end
idle, after which a new call completes."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from mtp_rig import Rig  # noqa: E402

from ctid.signaling.ss7 import isup  # noqa: E402
from ctid.signaling.ss7.isup_cc import CAUSE_NETWORK_OUT_OF_ORDER, CAUSE_NORMAL, IsupCallControl, State  # noqa: E402
from ctid.signaling.ss7.mtp3_layer import Mtp3Layer  # noqa: E402

PCS = {"itu": (0x2A51, 0x0123), "china": (0x0A0B0C, 0x010203)}
CICS = range(1, 31)


class Exchange:
    def __init__(self, name, layer, dpc):
        self.name, self.layer = name, layer
        self.sent = []          # names of the ISUP messages handed to MTP3 by this exchange
        self.incoming = []
        orig = layer.transfer

        def tap(dpc_, sls, si, payload, ni=2):
            if si == 5:
                self.sent.append(isup.decode(payload, self.cc.variant).NAME)
            return orig(dpc_, sls, si, payload, ni)
        layer.transfer = tap
        self.cc = IsupCallControl(layer, dpc, CICS, layer.clock, on_incoming=self.handle)

    def handle(self, call):
        self.incoming.append(call)
        self.cc.alert(call)
        self.cc.answer(call)

    def idle(self):
        return all(c.state is State.IDLE and c.call is None for c in self.cc.circuits.values())

    def event_names(self):
        return [e[0] for e in self.cc.events]


class Net:
    def __init__(self, pc_format="itu", nlinks=2, seed=21):
        self.nlinks = nlinks
        self.rig = Rig(spans=nlinks, seed=seed)
        self.pa, self.pb = PCS[pc_format]
        pairs = [self.rig.link_pair(s) for s in range(nlinks)]
        clock = self.rig.clock
        self.A = Mtp3Layer(clock, self.pa, pc_format, name="A")
        self.B = Mtp3Layer(clock, self.pb, pc_format, name="B")
        self.A.add_linkset(self.pb, [p[0] for p in pairs])
        self.B.add_linkset(self.pa, [p[1] for p in pairs])
        self.a = Exchange("A", self.A, self.pb)
        self.b = Exchange("B", self.B, self.pa)
        self.A.start()
        self.B.start()

    def accessible(self):
        return self.A.linksets[self.pb].accessible and self.B.linksets[self.pa].accessible

    def run(self, seconds, until=None):
        return self.rig.run(seconds, until=until)

    def up_and_reset(self, limit=25):
        """Linkset accessible at both ends, then every circuit idle with no group reset pending."""
        assert self.run(limit, until=self.accessible), (self.A.events, self.B.events)
        assert self.run(5, until=lambda: self.a.idle() and self.b.idle() and not self.a.cc.groups
                        and not self.b.cc.groups), (self.a.cc.events[-5:], self.b.cc.events[-5:])

    def call(self, src, called="13800138000"):
        call = src.cc.setup(called, calling="1068886666")
        assert call.cic in src.cc.circuits
        return call

    def cut(self):
        for s in range(self.nlinks):
            self.rig.world.cut(0, s)

    def restore(self):
        for s in range(self.nlinks):
            self.rig.world.restore(0, s)

    def close(self):
        self.rig.close()


def results(call):
    got = {}
    call.answered.addCallback(lambda c: got.setdefault("answered", True))
    call.released.addCallback(lambda cause: got.setdefault("released", cause))
    return got


def complete_call(net, src, dst):
    """One call src -> dst answered by dst, released by src; returns the messages each end sent for it."""
    s0, d0, n_in = len(src.sent), len(dst.sent), len(dst.incoming)
    call = net.call(src)
    got = results(call)
    assert net.run(3, until=lambda: "answered" in got), call.events
    assert len(dst.incoming) == n_in + 1
    incoming = dst.incoming[-1]
    assert incoming.cic == call.cic and incoming.called == call.called
    got_in = results(incoming)
    src.cc.release(call, CAUSE_NORMAL)
    assert net.run(3, until=lambda: "released" in got_in and src.cc.circuits[call.cic].state is State.IDLE)
    assert got["released"] == CAUSE_NORMAL and got_in["released"] == CAUSE_NORMAL
    assert dst.cc.circuits[call.cic].state is State.IDLE
    return src.sent[s0:], dst.sent[d0:]


def batch(net, per_side):
    """per_side calls each way at once, all answered, then all released by their callers; none may fail."""
    n_in = (len(net.a.incoming), len(net.b.incoming))
    calls = [net.call(net.a) for _ in range(per_side)] + [net.call(net.b) for _ in range(per_side)]
    outs = [results(c) for c in calls]
    assert net.run(5, until=lambda: all("answered" in g for g in outs)), [c.events for c in calls]
    assert all("released" not in g for g in outs)
    ins = [results(c) for c in net.a.incoming[n_in[0]:] + net.b.incoming[n_in[1]:]]
    assert len(ins) == 2 * per_side
    for c in calls:
        (net.a if c in calls[:per_side] else net.b).cc.release(c, CAUSE_NORMAL)
    assert net.run(5, until=lambda: all("released" in g for g in outs + ins) and net.a.idle() and net.b.idle())
    assert all(g["released"] == CAUSE_NORMAL for g in outs + ins)


def check_start(net):
    net.up_and_reset()
    for x in (net.a, net.b):
        # MTP-RESUME at start-up -> a GRS over the 30 circuits, answered by the far end's GRA
        assert "mtp_resume" in x.event_names()
        assert "GRS" in x.sent and "GRA" in x.sent
        assert "group_reset_complete" in x.event_names()


@pytest.fixture
def net():
    n = Net("itu", nlinks=2)
    yield n
    n.close()


def test_itu_linkset_reset_calls_ber_cut_and_restore(net):
    check_start(net)

    # a call each way, full message sequence
    sa, sb = complete_call(net, net.a, net.b)
    assert sa == ["IAM", "REL"] and sb == ["ACM", "ANM", "RLC"]
    sb, sa = complete_call(net, net.b, net.a)
    assert sb == ["IAM", "REL"] and sa == ["ACM", "ANM", "RLC"]

    # bit errors on the cable during calls: MTP2 repairs them, no call fails
    mtp2 = [sl.mtp2 for sl in net.A.linksets[net.pb].links + net.B.linksets[net.pa].links]
    retx0 = sum(l.stats["retransmitted"] for l in mtp2)
    err0 = sum(l.stats["su_errors"] for l in mtp2)
    for board in (0, 1):
        for s in range(net.nlinks):
            net.rig.world.fault_ber(board, s, 1e-4)
    for _ in range(6):
        batch(net, 14)
    for board in (0, 1):
        for s in range(net.nlinks):
            net.rig.world.fault_ber(board, s, 0.0)
    assert net.accessible()
    # errors really hit the links and were repaired by retransmission, the links stayed in service
    assert sum(l.stats["su_errors"] for l in mtp2) > err0
    assert sum(l.stats["retransmitted"] for l in mtp2) > retx0
    assert all(l.stats["failures"] == 0 for l in mtp2)
    print("BER phase:", {k: sum(l.stats[k] for l in mtp2) for k in ("su_errors", "retransmitted", "nacks_sent")})

    cut_and_restore(net)


def cut_and_restore(net):
    """Calls up both ways, the signalling cable(s) cut: MTP-PAUSE, calls released at both ends with cause 38;
    restored: realignment, MTP-RESUME, GRS, every circuit idle, then a new call completes."""
    # calls up on the linkset, then the cables are cut
    n_in = (len(net.a.incoming), len(net.b.incoming))
    calls = [net.call(net.a) for _ in range(3)] + [net.call(net.b) for _ in range(2)]
    outs = [results(c) for c in calls]
    assert net.run(3, until=lambda: all("answered" in g for g in outs))
    ins = [results(c) for c in net.a.incoming[n_in[0]:] + net.b.incoming[n_in[1]:]]
    assert len(ins) == 5 and all("released" not in g for g in outs + ins)
    net.cut()
    assert net.run(5, until=lambda: not net.A.linksets[net.pb].accessible and not net.B.linksets[net.pa].accessible)
    assert "mtp_pause" in net.a.event_names() and "mtp_pause" in net.b.event_names()
    assert net.run(1, until=lambda: all("released" in g for g in outs + ins))
    assert all(g["released"] == CAUSE_NETWORK_OUT_OF_ORDER for g in outs + ins)
    # no new call while the destination is inaccessible: refused at once with cause 38
    refused = net.a.cc.setup("13800138000")
    assert refused.cause == CAUSE_NETWORK_OUT_OF_ORDER and refused.cic is None
    assert net.a.idle() and net.b.idle()
    resumes = [x.event_names().count("mtp_resume") for x in (net.a, net.b)]
    grs = [x.sent.count("GRS") for x in (net.a, net.b)]

    net.restore()
    net.up_and_reset(limit=30)
    for i, x in enumerate((net.a, net.b)):
        assert x.event_names().count("mtp_resume") == resumes[i] + 1
        assert x.sent.count("GRS") > grs[i]
        assert x.idle()
    sa, sb = complete_call(net, net.a, net.b)
    assert sa == ["IAM", "REL"] and sb == ["ACM", "ANM", "RLC"]


def test_china_24bit_single_link():
    net = Net("china", nlinks=1, seed=5)
    try:
        check_start(net)
        sa, sb = complete_call(net, net.a, net.b)
        assert sa == ["IAM", "REL"] and sb == ["ACM", "ANM", "RLC"]
        sb, sa = complete_call(net, net.b, net.a)
        assert sb == ["IAM", "REL"] and sa == ["ACM", "ANM", "RLC"]
        assert net.a.cc.variant == net.b.cc.variant == "china"
        cut_and_restore(net)
    finally:
        net.close()
