"""Interop with Debian libss7 2.0 (an SS7 stack nobody here wrote) on a SOCK_SEQPACKET socketpair.

The far end is tests/peers/libss7_peer.c (libss7 in ITU mode, DAHDI D-channel transport: one signal unit + 2 FCS
octets per datagram), a separate program driven by line commands, reporting every libss7 event as JSON. Our end is
the ctid stack: SeqpacketTransport -> Mtp2Link (emergency proving) -> Mtp3Layer -> IsupCallControl, on a real
Twisted reactor (a fresh PollReactor per test, driven with ``iterate()``; no global reactor is run).

Proves: MTP2 alignment and MTP3 (SLTM/SLTA, TRA) bring the linkset up at both ends; GRS/GRA both ways (with the
blocking state in the GRA); calls both ways (IAM called/calling checked at the far end, ACM, ANM, REL with the
cause seen at the other end, RLC) cleared from either end, and refused busy; RSC both ways; SUS/RES both ways;
BLO/UBL and CGB/CGU (maintenance and hardware) both ways; UCIC for a circuit one end does not have; an IAM on a
circuit blocked at the far end. Every expectation comes from what the sending side was told to send. One call's
signalling is written to a pcap that tshark decodes.

The waits have generous limits (liveness only: nothing here asserts a duration).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import pytest
from twisted.internet.pollreactor import PollReactor

from ctid.signaling.ss7 import isup
from ctid.signaling.ss7.isup_cc import IsupCallControl, State
from ctid.signaling.ss7.mtp2_link import LinkState, Mtp2Link
from ctid.signaling.ss7.mtp3_layer import Mtp3Layer
from ctid.signaling.ss7.transport import LinkCapture, SeqpacketTransport

from peers.libss7 import Libss7Peer

OUR_PC, PEER_PC = 0x2A51, 0x0123      # ITU 14-bit; ours is higher: we control the even CICs (Q.764 2.10.1.4)
CICS = range(1, 31)
WAIT = 10.0                           # liveness limit for each wait, seconds


class Rig:
    """Our stack and the libss7 peer on the two ends of a socketpair."""

    def __init__(self, exe, our_cics=CICS, peer_cics=(1, 30), emergency=True):
        self.reactor = PollReactor()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        debug = os.environ.get("CTID_LIBSS7_DEBUG", "") not in ("", "0")   # libss7's own trace on its stderr
        self.peer = Libss7Peer(exe, theirs, PEER_PC, OUR_PC, *peer_cics, debug=debug)
        theirs.close()
        self.transport = SeqpacketTransport(ours, self.reactor)
        self.link = Mtp2Link(self.reactor, self.transport, name="ctid", emergency=emergency)
        self.capture = LinkCapture(self.link, clock=self.reactor)
        self.mtp = Mtp3Layer(self.reactor, OUR_PC, "itu", name="ctid")
        self.mtp.add_linkset(PEER_PC, [self.link])
        self.sent: list = []          # ISUP messages our call control handed to MTP3
        self.received: list = []      # ISUP messages MTP3 delivered to it
        self.incoming: list = []
        self._used: set[int] = set()      # indices of peer events already consumed by peer_event()
        transfer = self.mtp.transfer

        def tap(dpc, sls, si, payload, ni=2):
            if si == 5:
                self.sent.append(isup.decode(payload))
            return transfer(dpc, sls, si, payload, ni)
        self.mtp.transfer = tap
        self.cc = IsupCallControl(self.mtp, PEER_PC, our_cics, self.reactor, on_incoming=self.incoming.append)
        deliver = self.cc.mtp_transfer

        def rx(ind):
            self.received.append(isup.decode(bytes(ind.payload)))
            deliver(ind)
        self.cc.mtp_transfer = rx

    # -- driving ---------------------------------------------------------------------------------------------
    def wait(self, pred, what: str, timeout: float = WAIT):
        deadline = time.monotonic() + timeout
        while True:
            self.peer.poll()
            got = pred()
            if got:
                return got
            if time.monotonic() > deadline or self.peer.proc.poll() is not None:
                raise AssertionError(f"{what}: not seen within {timeout} s\n{self.report()}")
            self.reactor.iterate(0.005)

    def peer_event(self, event: str, what: str | None = None, **match) -> dict:
        """Wait for the peer's next-or-earlier event ``event`` matching ``match`` (first unconsumed one)."""
        def found():
            for i, e in enumerate(self.peer.events):
                if i not in self._used and e["event"] == event and all(e.get(k) == v for k, v in match.items()):
                    self._used.add(i)
                    return e
            return None
        return self.wait(found, what or f"libss7 event {event} {match}")

    def our(self, name: str, cic: int | None = None):
        return [m for m in self.received if m.NAME == name and (cic is None or m.cic == cic)]

    def our_sent(self, name: str, cic: int | None = None):
        return [m for m in self.sent if m.NAME == name and (cic is None or m.cic == cic)]

    def cc_events(self, name: str, cic: int | None = None):
        return [(n, c, i) for n, c, i in self.cc.events if n == name and (cic is None or c == cic)]

    def report(self) -> str:
        return (f"libss7 events: {self.peer.events[-20:]}\nsent to libss7: {self.peer.sent[-10:]}\n"
                f"ours sent: {[(m.NAME, m.cic) for m in self.sent[-15:]]}\n"
                f"ours received: {[(m.NAME, m.cic) for m in self.received[-15:]]}\n"
                f"our cc events: {self.cc.events[-15:]}\nour link: {self.link.state} mtp3: {self.mtp.events[-8:]}\n"
                f"libss7 stderr: {self.peer.stderr_tail(1500)}")

    def up(self, timeout: float = WAIT) -> None:
        self.mtp.start()
        self.wait(lambda: self.link.state == LinkState.IN_SERVICE, "our MTP2 link in service", timeout)
        self.peer_event("link_up", "libss7's MTP2 link in service")
        self.peer_event("up", "libss7's linkset up")
        # MTP-RESUME at our end starts a group reset of all our circuits (Q.764 2.9.3.1)
        self.wait(lambda: self.cc_events("group_reset_complete"), "our GRS acknowledged")
        self.wait(lambda: self.idle(), "all our circuits idle")

    def idle(self) -> bool:
        return all(c.state is State.IDLE and c.call is None for c in self.cc.circuits.values()
                   if not c.remote_unequipped)

    def close(self) -> None:
        self.peer.close()
        self.capture.stop()
        self.link.close()
        self.transport.close()
        for dc in self.reactor.getDelayedCalls():
            if dc.active():
                dc.cancel()
        self.reactor.removeAll()
        waker = getattr(self.reactor, "waker", None)
        if waker is not None:
            try:
                waker.connectionLost(None)
            except Exception:
                pass


@pytest.fixture
def make_rig(libss7_peer_exe):
    rigs = []

    def make(timeout=WAIT, **kw):
        rig = Rig(libss7_peer_exe, **kw)
        rigs.append(rig)
        rig.up(timeout)
        return rig
    yield make
    bad = []
    for r in rigs:
        r.peer.poll()
        if os.environ.get("CTID_LIBSS7_DEBUG", "") not in ("", "0"):
            print(r.peer.stderr_tail(10 ** 7))
            print("libss7 peer events:", r.peer.events)
        # a refused command or an unreadable line from the peer means the test did not do what it says
        bad += [e for e in r.peer.events if e["event"] in ("error", "unparsed")]
        r.close()
    assert not bad, f"libss7 peer reported: {bad}"


@pytest.fixture
def rig(make_rig):
    return make_rig()


# -------------------------------------------------------------------------------------------------- link / reset
def test_linkset_up_and_our_group_reset(rig):
    assert rig.link.state == LinkState.IN_SERVICE
    notes = " | ".join(n for _, n in rig.mtp.events)
    assert "received SLTA" in notes and "received SLTM" in notes and "received TRA" in notes
    # the GRS(s) we sent at MTP-RESUME, as libss7 saw them, and its GRA(s) back
    grs = [m for m in rig.sent if m.NAME == "GRS"]
    assert grs
    for m in grs:
        e = rig.peer_event("GRS", cic=m.cic)
        assert (e["first"], e["last"]) == (m.cic, m.cic + m.range_status.range)
        gra = rig.our("GRA", m.cic)
        assert gra and gra[0].range_status.range == m.range_status.range
        assert not any(gra[0].range_status.circuits())      # nothing blocked at libss7


def test_far_end_emergency_gives_the_short_proving_period(make_rig):
    """Our link not in emergency: libss7 aligns its link with SIE (emergency alignment, which Q.704 clause 12
    allows while no link of the set is available), and by Q.703 clause 7 the proving period is then Pe (T4e) at
    both ends, whichever end asked for it."""
    rig = make_rig(emergency=False)
    assert rig.link.state == LinkState.IN_SERVICE and not rig.link.emergency
    assert rig.link.proving_period == rig.link.timers.t4e
    assert any(what.startswith("proving complete") for _, what in rig.link.events)
    call = rig.cc.setup("10086", calling="12345")
    assert rig.peer_event("IAM", cic=call.cic)["called"] == "10086#"


def test_group_reset_from_libss7_reports_our_blocking(rig):
    rig.cc.block(3)
    rig.peer_event("BLO", cic=3)
    rig.wait(lambda: rig.cc_events("blocked", 3), "BLA for our BLO")
    rig.peer.send("grs 1 8")
    e = rig.peer_event("GRA", cic=1)
    assert (e["first"], e["last"]) == (1, 8)
    # Q.764 2.9.3.1: the GRA's status bits are the circuits blocked for maintenance at the receiving end (ours)
    assert e["status"] == [1 if c == 3 else 0 for c in range(1, 9)]
    assert rig.cc_events("group_reset_received", 1)
    assert rig.cc.circuits[3].local_blocked


# -------------------------------------------------------------------------------------------------- calls
@pytest.mark.parametrize("clearer", ["ctid", "libss7"])
def test_call_from_ctid_to_libss7(rig, clearer):
    released = []
    call = rig.cc.setup("13800138000", calling="1068886666")
    call.released.addCallback(released.append)
    cic = call.cic
    iam = rig.peer_event("IAM", cic=cic)
    assert iam["called"] == "13800138000#"     # libss7 shows the ST (end of pulsing) we send as '#'
    assert iam["calling"] == "1068886666"
    assert iam["category"] == 0x0A
    assert iam["opc"] == OUR_PC
    rig.peer.send(f"acm {cic}")
    rig.wait(lambda: call.alerted.called, "ACM at our end")
    rig.peer.send(f"answer {cic}")
    rig.wait(lambda: call.answered.called, "ANM at our end")
    assert rig.cc.circuits[cic].state is State.ANSWERED
    if clearer == "ctid":
        rig.cc.release(call, 16)
        rel = rig.peer_event("REL", cic=cic)
        assert rel["cause"] == 16
        rig.peer.send(f"rlc {cic}")
        rig.wait(lambda: rig.cc.circuits[cic].state is State.IDLE, "RLC at our end")
        assert released == [16]
    else:
        rig.peer.send(f"hangup {cic} 17")
        rig.wait(lambda: released, "REL at our end")
        assert released == [17]
        rig.peer_event("RLC", cic=cic)
    assert [m.NAME for m in rig.sent if m.cic == cic] == (["IAM", "REL"] if clearer == "ctid" else ["IAM", "RLC"])
    assert rig.idle()


@pytest.mark.parametrize("clearer", ["ctid", "libss7"])
def test_call_from_libss7_to_ctid(rig, clearer):
    cic = 7
    rig.peer.send(f"call {cic} 861012345# 13912345678")   # '#': libss7 sends ST
    rig.wait(lambda: rig.incoming, "IAM at our end")
    call = rig.incoming[0]
    assert (call.cic, call.called.rstrip("F"), call.calling) == (cic, "861012345", "13912345678")
    released = []
    call.released.addCallback(released.append)
    rig.cc.alert(call)
    acm = rig.peer_event("ACM", cic=cic)
    assert acm["called_status"] == 1        # we sent "subscriber free" with the ACM
    rig.cc.answer(call)
    rig.peer_event("ANM", cic=cic)
    if clearer == "ctid":
        rig.cc.release(call, 31)
        assert rig.peer_event("REL", cic=cic)["cause"] == 31
        rig.peer.send(f"rlc {cic}")
        rig.wait(lambda: rig.cc.circuits[cic].state is State.IDLE, "RLC at our end")
        assert released == [31]
    else:
        rig.peer.send(f"hangup {cic} 16")
        rig.wait(lambda: released, "REL at our end")
        assert released == [16]
        rig.peer_event("RLC", cic=cic)
    assert rig.idle()


def test_call_refused_busy_by_libss7(rig):
    call = rig.cc.setup("13800138000", calling="1068886666")
    released = []
    call.released.addCallback(released.append)
    rig.peer_event("IAM", cic=call.cic)
    rig.peer.send(f"hangup {call.cic} 17")          # user busy, straight after the IAM
    rig.wait(lambda: released, "REL at our end")
    assert released == [17] and not call.answered.called
    rig.peer_event("RLC", cic=call.cic)
    assert rig.idle()


def test_circuit_reset_both_ways(rig):
    rig.cc.reset(12)
    rig.peer_event("RSC", cic=12)
    rig.wait(lambda: rig.cc_events("reset_complete", 12), "RLC for our RSC")
    rig.peer.send("rsc 14")
    rlc = rig.peer_event("RLC", cic=14)
    assert rig.our_sent("RLC", 14) and rlc["cic"] == 14
    assert rig.cc_events("reset_received", 14)
    assert rig.idle()


def test_calls_both_ways_at_once(rig):
    out = [rig.cc.setup(f"1380013800{i}", calling="10688") for i in range(3)]
    for cic in (11, 13, 15):
        rig.peer.send(f"call {cic} 5551{cic}# 777")
    for call in out:
        assert rig.peer_event("IAM", cic=call.cic)["called"] == call.called + "#"
        rig.peer.send(f"acm {call.cic}")
        rig.peer.send(f"answer {call.cic}")
    rig.wait(lambda: len(rig.incoming) == 3, "3 IAMs at our end")
    incoming = sorted(rig.incoming, key=lambda c: c.cic)
    got = [(c.cic, c.called.rstrip("F"), c.calling) for c in incoming]
    assert got == [(c, f"5551{c}", "777") for c in (11, 13, 15)]
    # the first is alerted then answered (ACM, ANM); the others answered at once (Q.764 2.1.7: CON)
    rig.cc.alert(incoming[0])
    for call in incoming:
        rig.cc.answer(call)
    rig.wait(lambda: all(c.answered.called for c in out), "our calls answered")
    rig.peer_event("ACM", cic=11)
    rig.peer_event("ANM", cic=11)
    rig.peer_event("CON", cic=13)
    rig.peer_event("CON", cic=15)
    for call in out + incoming:
        rig.cc.release(call, 16)
        rig.peer_event("REL", cic=call.cic, cause=16)
        rig.peer.send(f"rlc {call.cic}")
    rig.wait(rig.idle, "all circuits idle")


def test_suspend_resume_both_ways(rig):
    call = rig.cc.setup("13800138000", calling="1068886666")
    cic = call.cic
    rig.peer_event("IAM", cic=cic)
    rig.peer.send(f"acm {cic}")
    rig.peer.send(f"answer {cic}")
    rig.wait(lambda: call.answered.called, "answered")
    # the called side (libss7) suspends and resumes, network initiated
    rig.peer.send(f"sus {cic} 1")
    rig.wait(lambda: rig.cc.circuits[cic].state is State.SUSPENDED, "SUS at our end")
    assert rig.our("SUS", cic)[0].suspend_resume.network_initiated == 1
    rig.peer.send(f"res {cic} 1")
    rig.wait(lambda: rig.cc.circuits[cic].state is State.ANSWERED, "RES at our end")
    assert [n for n, _ in call.events if n in ("suspended", "resumed")] == ["suspended", "resumed"]
    # and we suspend / resume
    rig.cc.suspend(call, network=False)
    assert rig.peer_event("SUS", cic=cic)["indicator"] == 0
    rig.cc.resume(call, network=False)
    assert rig.peer_event("RES", cic=cic)["indicator"] == 0
    rig.cc.release(call, 16)
    rig.peer_event("REL", cic=cic, cause=16)
    rig.peer.send(f"rlc {cic}")
    rig.wait(rig.idle, "idle")


# -------------------------------------------------------------------------------------------------- blocking
def test_blocking_both_ways(rig):
    rig.cc.block(5)
    rig.peer_event("BLO", cic=5)
    rig.wait(lambda: rig.cc_events("blocked", 5), "BLA at our end")
    rig.cc.unblock(5)
    rig.peer_event("UBL", cic=5)
    rig.wait(lambda: rig.cc_events("unblocked", 5), "UBA at our end")
    assert rig.cc.circuits[5].blocking == "UNBLOCKED"
    # libss7 blocks circuit 9: we acknowledge, and no call of ours uses it
    rig.peer.send("blo 9")
    rig.peer_event("BLA", cic=9)
    assert rig.cc.circuits[9].remote_blocked
    assert rig.our("BLO", 9) and [m.NAME for m in rig.sent if m.cic == 9][-1] == "BLA"
    refused = rig.cc.setup("123", cic=9)
    assert refused.cause == 34 and refused.cic is None
    rig.peer.send("ubl 9")
    rig.peer_event("UBA", cic=9)
    assert not rig.cc.circuits[9].remote_blocked


def test_iam_on_a_circuit_we_blocked(rig):
    """Q.764 2.8.2.3 (xi): an IAM on a circuit blocked by the receiving exchange is not accepted; we re-send BLO
    and the call never reaches our application."""
    rig.cc.block(4)
    rig.peer_event("BLO", cic=4)
    rig.wait(lambda: rig.cc_events("blocked", 4), "blocked")
    rig.peer.send("call 4 12345 678")
    rig.wait(lambda: rig.cc_events("iam_on_locally_blocked", 4), "IAM on our blocked circuit")
    rig.peer_event("BLO", cic=4, what="our BLO repeated for the IAM")
    assert not rig.incoming


@pytest.mark.parametrize("hardware", [0, 1], ids=["maintenance", "hardware"])
def test_group_blocking_both_ways(rig, hardware):
    rig.cc.block_group(1, 8, hardware=bool(hardware))
    cgb = rig.peer_event("CGB", cic=1)
    assert (cgb["first"], cgb["last"], cgb["type"]) == (1, 8, hardware)
    assert cgb["status"] == [1] * 8
    rig.wait(lambda: rig.cc_events("group_blocked", 1), "CGBA at our end")
    assert rig.our("CGBA", 1)[0].supervision_type.type == hardware
    assert all(rig.cc.circuits[c].local_blocked for c in range(1, 9))
    rig.cc.unblock_group(1, 8, hardware=bool(hardware))
    assert rig.peer_event("CGU", cic=1)["type"] == hardware
    rig.wait(lambda: rig.cc_events("group_unblocked", 1), "CGUA at our end")
    assert not any(rig.cc.circuits[c].local_blocked for c in range(1, 9))
    # libss7 blocks 10..15, then unblocks them
    rig.peer.send(f"cgb 10 15 {hardware}")
    cgba = rig.peer_event("CGBA", cic=10)
    assert (cgba["first"], cgba["last"], cgba["type"]) == (10, 15, hardware) and cgba["status"] == [1] * 6
    assert all(rig.cc.circuits[c].remote_blocked for c in range(10, 16))
    assert not rig.cc.circuits[16].remote_blocked
    rig.peer.send(f"cgu 10 15 {hardware}")
    cgua = rig.peer_event("CGUA", cic=10)
    assert (cgua["first"], cgua["last"], cgua["type"]) == (10, 15, hardware)
    assert not any(rig.cc.circuits[c].remote_blocked for c in range(10, 16))


def test_hardware_group_blocking_from_libss7_clears_our_call(rig):
    """Q.764 2.8.2: a hardware failure oriented CGB clears the calls on the circuits, without REL."""
    call = rig.cc.setup("13800138000", calling="1068886666")
    released = []
    call.released.addCallback(released.append)
    rig.peer_event("IAM", cic=call.cic)
    rig.peer.send(f"answer {call.cic}")
    rig.wait(lambda: call.answered.called, "answered")
    rig.peer.send(f"cgb {call.cic} {call.cic + 3} 1")
    rig.peer_event("CGBA", cic=call.cic)
    assert released == [41]                                  # temporary failure, cleared locally
    assert not rig.our_sent("REL", call.cic)
    assert rig.cc.circuits[call.cic].remote_blocked and rig.cc.circuits[call.cic].state is State.IDLE


# -------------------------------------------------------------------------------------------------- unequipped
def test_unequipped_circuits_both_ways(make_rig):
    # we have circuit 35, libss7's end does not: our reset of it (RSC, a lone circuit) is answered with UCIC
    # (Q.764 2.12) and the circuit is never used for a call
    rig = make_rig(our_cics=[*range(1, 31), 35], peer_cics=(1, 30))
    rig.peer_event("RSC", cic=35, unequipped=True)
    assert rig.our("UCIC", 35) and rig.cc.circuits[35].remote_unequipped
    refused = rig.cc.setup("123456", cic=35)
    assert refused.cause == 34
    # libss7 calls on 50, which we do not have: we answer UCIC and our application never sees the call
    rig.peer.send("call 50 7654321# 123")
    rig.peer_event("UCIC", cic=50)
    assert rig.cc_events("unequipped_cic", 50) and not rig.incoming


# -------------------------------------------------------------------------------------------------- pcap / tshark
def test_call_capture_decodes_in_tshark(rig, tmp_path):
    tshark = shutil.which("tshark")
    if tshark is None:
        if os.environ.get("CTID_REQUIRE_PEERS", "") not in ("", "0"):
            pytest.fail("CTID_REQUIRE_PEERS=1 but tshark is not installed")
        pytest.skip("tshark not installed")
    rig.capture.frames.clear()
    call = rig.cc.setup("13800138000", calling="1068886666")
    cic = call.cic
    rig.peer_event("IAM", cic=cic)
    rig.peer.send(f"acm {cic}")
    rig.peer.send(f"answer {cic}")
    rig.wait(lambda: call.answered.called, "answered")
    rig.cc.release(call, 16)
    rig.peer_event("REL", cic=cic)
    rig.peer.send(f"rlc {cic}")
    rig.wait(rig.idle, "idle")
    path = tmp_path / "libss7-call.pcap"
    rig.capture.write(str(path))
    out = subprocess.run([tshark, "-r", str(path), "-o", "mtp2.capture_contains_frame_check_sequence:TRUE",
                          "-Y", "isup", "-T", "fields", "-E", "separator=;", "-e", "mtp3.opc", "-e", "mtp3.dpc",
                          "-e", "isup.cic", "-e", "isup.message_type", "-e", "isup.called",
                          "-e", "isup.calling", "-e", "isup.cause_indicator", "-e", "mtp2.fcs_16.status"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [line.split(";") for line in out.splitlines() if line.strip()]
    msgs = [(int(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]
    us, them = OUR_PC, PEER_PC
    assert msgs == [(us, them, cic, 0x01), (them, us, cic, 0x06), (them, us, cic, 0x09), (us, them, cic, 0x0C),
                    (them, us, cic, 0x10)]
    sent_iam = rig.our_sent("IAM", cic)[0]
    assert rows[0][4] == sent_iam.called.digits and rows[0][5] == "1068886666"
    assert rows[3][6] == "16"
    assert all(r[7] in ("1", "Good") for r in rows)
