"""China No.1 calls between ctid and OpenR2 1.3.3 (Debian libopenr2), an independent implementation.

OpenR2 runs as a separate program of ours (tests/peers/openr2_peer.c, China variant "CN", one channel) whose
/dev/dahdi/channel is tests/peers/fakedahdi.c (LD_PRELOAD): ABCD changes and 20 ms A-law blocks cross a Unix
socket to a Python bridge (tests/peers/openr2.py) that puts them on timeslot 1 of hwsim board B's CAS span.
ctid's CasBoard runs on board A; the boards are cabled in one hwsim world. Per tick: the world ticks, ctid's
task.Clock advances 20 ms, board A runs one CasBoard step, then the bridge hands OpenR2 its events and its block
and waits until OpenR2 has processed it (lock step; OpenR2's gettimeofday is the same virtual clock), so nothing
depends on the speed of the machine.

Expectations come from what each side was told: the numbers and categories we sent must be what OpenR2 reports,
the number OpenR2 dialled must be what we report; the ABCD codes each side puts on the wire are the China codes
of ctid's variant table (telephony-facts.md, OpenR2 CN); the category names are the Q.441 group II meanings
(II-1 national subscriber, II-2 priority, II-3 test equipment) that OpenR2 names.
"""
from __future__ import annotations

import pytest
from twisted.internet import task

from ctid.drivers import open_board
from ctid.drivers.hwsim import World
from ctid.signaling.china1 import BACKWARD, CHINA, FORWARD, CasBoard, LineState as S, NumberRules

pytestmark = pytest.mark.openr2

CALLED, CALLING = "88881234", "13800138000"
TS = 1
TICK = 0.02
#: KA (the calling party's category, a group II meaning sent as KA in China) -> OpenR2's category name
CATEGORY_NAMES = {1: "National Subscriber", 2: "National Priority Subscriber", 3: "Test Equipment"}
#: OpenR2's name for each category it can be told to send
OPENR2_CATEGORY = {1: "NATIONAL_SUBSCRIBER", 2: "NATIONAL_PRIORITY_SUBSCRIBER"}


class NativeRunner:
    """Board A as the daemon runs it: a BoardRuntime (one native media tick per board) and a CasChannel whose
    MF signals are the channel's native tone (``tone_sink``, as ctid.core.trunks.china1 does); the R2 detectors
    are the runtime's bank, the ABCD events come through its event handler."""

    def __init__(self, board, clock):
        from ctid.dsp.params import R2Params
        from ctid.media import BoardRuntime

        self.rt = BoardRuntime(board, clock)
        self.rt.bank.set_r2_params(R2Params.defaults(backward=True, china=True))
        self.board = board
        self.clock = clock
        self.ch = None

    def add(self, span, ts, role, **kw):
        from ctid.dsp import r2mf
        from ctid.drivers import AbcdEvent
        from ctid.signaling.china1 import CasChannel

        drv = self.board.spans[span].timeslot(ts)
        mc = self.rt.channel(drv.number)

        class Shim:
            def set_mask(self, number, kind):
                mc.detect(dtmf=False, r2f=(kind == "r2f"), r2b=(kind == "r2b"))

        def sink(sig, bwd=(role == "in")):
            if sig is None:
                mc.stop_tone(r2mf.RAMP_SAMPLES)
            else:
                mc.tone(r2mf.tone_def(sig, bwd))

        ch = CasChannel(role, drv, Shim(), self.clock, CHINA, tone_sink=sink, **kw)
        mc.on_tone = lambda ev: ch.on_tone(ev.type == "on", ev.value) \
            if ev.kind in ("r2f", "r2b") and ev.type in ("on", "off") else None
        self.rt.add_event_handler(lambda ev: ch.on_abcd(ev.abcd) if isinstance(ev, AbcdEvent)
                                  and ev.span * 32 + ev.timeslot == drv.number else None)
        now = drv.get_abcd()
        if now is not None:
            ch.on_abcd(now)
        self.ch, self.mc = ch, mc
        return ch

    def step(self):
        self.rt.tick()
        assert not self.rt._sources and not self.rt.errors          # no per-channel Python source


class Rig:
    """ctid on board A (role ``ours``), OpenR2 on board B, one CAS cable, lock-step ticks. ``runner``:
    ``"casboard"`` (CasBoard, Python tone generator) or ``"native"`` (the daemon's path, :class:`NativeRunner`)."""

    def __init__(self, programs, ours: str, max_ani: int, max_dnis: int = len(CALLED), loglevel="error,warning",
                 runner: str = "casboard", **kw):
        from peers.openr2 import OpenR2Channel

        self.world = World(11)
        for b in (0, 1):
            self.world.create_board(b, spans=1)
        self.world.cable(0, 0, 1, 0)
        self.a = open_board("hwsim", 0, world=self.world, span_config="cas")
        self.b = open_board("hwsim", 1, world=self.world, span_config="cas")
        self.world.tick(5)                # frame and multiframe alignment first
        self.a.events(), self.b.events()
        self.clock = task.Clock()
        self.A = CasBoard(self.a, self.clock) if runner == "casboard" else NativeRunner(self.a, self.clock)
        self.ch = self.A.add(0, TS, ours, **kw)
        self.peer = OpenR2Channel(programs, self.b, 0, TS, max_ani=max_ani, max_dnis=max_dnis, loglevel=loglevel)
        self.ticks = 0
        self.run(3)

    def run(self, n=1, until=None) -> bool:
        for _ in range(n):
            self.world.tick(1)
            self.clock.advance(TICK)
            self.ticks += 1
            self.A.step()
            self.peer.step()
            if until is not None and until():
                return True
        return False

    def ours(self) -> list[str]:
        return [e for e, _ in self.ch.events]

    def close(self):
        self.peer.close()
        self.world.close()


def squeeze(codes):
    """Consecutive repeats removed (DAHDI_SETTXBITS may repeat a code)."""
    out = []
    for c in codes:
        if not out or out[-1] != c:
            out.append(c)
    return out


def peer_codes(rig):
    return squeeze([abcd for _, abcd in rig.peer.tx_abcd])


def assert_clean(rig):
    assert not rig.ch.line.errors and "protocol_error" not in rig.ours(), rig.ch.line.errors
    assert "protocol_error" not in rig.peer.names(), rig.peer.log()[-3000:]
    assert "os_error" not in rig.peer.names(), rig.peer.log()[-3000:]
    assert "fakedahdi:" not in rig.peer.log(), rig.peer.log()[-3000:]     # every DAHDI call OpenR2 made is served


@pytest.fixture
def rigs(openr2):
    made = []

    def make(*a, **kw):
        r = Rig(openr2, *a, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


B = lambda name: CHINA.code(BACKWARD, name)      # noqa: E731
F = lambda name: CHINA.code(FORWARD, name)       # noqa: E731


# ============================================================================== ctid forward, OpenR2 backward
def our_call(rig, ka=1, kd=1, calling=CALLING):
    assert rig.ch.call(CALLED, calling, ka=ka, kd=kd)
    assert rig.run(600, until=lambda: "offered" in rig.peer.names() or "idle" in rig.ours()), rig.peer.log()[-3000:]
    return rig.peer.first("offered")


@pytest.mark.parametrize("ka", sorted(CATEGORY_NAMES))
def test_our_forward_numbers_and_category_reach_openr2(rigs, ka):
    """OpenR2 (max_ani above the calling number's length: it ends the number on I-15) reports the called and
    calling numbers and the category we sent, digit by digit in the order we sent them."""
    rig = rigs("out", max_ani=20)
    offered = our_call(rig, ka=ka, kd=1)
    assert offered is not None, rig.peer.log()[-3000:]
    assert offered["dnis"] == CALLED and offered["ani"] == CALLING
    assert offered["category"] == CATEGORY_NAMES[ka]
    digits = [(e["event"], e["digit"]) for e in rig.peer.events if e["event"] in ("dnis_digit", "ani_digit")]
    # the backward side asks for KA + calling number after the first called digit (A6), then the rest
    assert digits == [("dnis_digit", CALLED[0])] + [("ani_digit", d) for d in CALLING] + \
        [("dnis_digit", d) for d in CALLED[1:]]
    assert rig.ch.line.state is S.SEIZE_ACK and rig.peer.first("call_init") is not None
    assert peer_codes(rig) == [B("idle"), B("seize_ack")]
    assert_clean(rig)


@pytest.mark.parametrize("runner", ["casboard", "native"])
def test_every_mf_signal_crossed_as_sent_both_ways(rigs, runner):
    """OpenR2's own MF trace (log level "all") against our forward register's log for a whole call set-up: the
    forward signals OpenR2 received are exactly the ones we sent (called and calling digits, KA, I-15, KD), and
    the backward signals we received are exactly the ones OpenR2 says it sent (A1/A6/A3, B1). Also with the
    daemon's path (native media-tick tones)."""
    import re

    rig = rigs("out", max_ani=20, loglevel="all", runner=runner)
    logs = []
    rig.ch.listener = lambda ch, e, **k: logs.append(list(ch.register.log)) if e == "register_done" else None
    assert our_call(rig, ka=2, kd=3)["dnis"] == CALLED
    rig.peer.command("accept")
    assert rig.run(100, until=lambda: "ringing" in rig.ours())
    ours = logs[0]
    trace = rig.peer.log()
    their_rx = re.findall(r"MF Rx << (\w) \[ON\]", trace)
    their_tx = re.findall(r"MF Tx >> (\w) \[ON\]", trace)
    assert their_rx == [sig for d, sig in ours if d == "tx"]
    assert their_tx == [sig[1:] for d, sig in ours if d == "rx"]
    assert ours[-2:] == [("tx", "3"), ("rx", "B1")]         # KD 3 sent and received; B1 back
    assert_clean(rig)


def test_our_forward_answered_then_cleared_back_by_openr2(rigs):
    rig = rigs("out", max_ani=20)
    assert our_call(rig)["dnis"] == CALLED
    rig.peer.command("accept")                       # OpenR2 accepts with charge: B1 (called party free)
    assert rig.run(100, until=lambda: "ringing" in rig.ours())
    res = rig.ch.result
    assert res.outcome == "free" and res.b_signal == CHINA.b_signal_for("free") == "1"
    assert (res.called, res.calling, res.ka, res.kd) == (CALLED, CALLING, 1, 1)
    rig.peer.command("answer")
    assert rig.run(20, until=lambda: rig.ch.line.state is S.ANSWERED)
    assert rig.b.get_abcd(0, TS) == F("seize") and rig.a.get_abcd(0, TS) == B("answer")
    rig.peer.command("hangup")                       # clear-back
    assert rig.run(20, until=lambda: rig.ch.line.state is S.CLEAR_BACK)
    rig.ch.hangup()                                  # clear-forward; OpenR2 answers with the release guard
    assert rig.run(50, until=lambda: rig.ch.line.state is S.IDLE and "end" in rig.peer.names())
    rig.run(5)
    assert rig.ch.line.history == [S.IDLE, S.SEIZED, S.SEIZE_ACK, S.ANSWERED, S.CLEAR_BACK, S.CLEAR_FWD, S.IDLE]
    assert peer_codes(rig) == [B("idle"), B("seize_ack"), B("answer"), B("clear_back"), B("release_guard")]
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == F("idle")
    assert_clean(rig)


def test_our_forward_answered_then_cleared_forward_by_us(rigs):
    rig = rigs("out", max_ani=20)
    our_call(rig)
    rig.peer.command("accept")
    assert rig.run(100, until=lambda: "ringing" in rig.ours())
    rig.peer.command("answer")
    assert rig.run(20, until=lambda: rig.ch.line.state is S.ANSWERED)
    rig.ch.hangup()                                  # clear-forward while answered
    assert rig.run(50, until=lambda: rig.ch.line.state is S.IDLE and "end" in rig.peer.names())
    disc = rig.peer.first("disconnect")
    assert disc is not None and disc["cause"] == "Normal Clearing", rig.peer.events
    assert rig.ch.line.history == [S.IDLE, S.SEIZED, S.SEIZE_ACK, S.ANSWERED, S.CLEAR_FWD, S.IDLE]
    assert peer_codes(rig) == [B("idle"), B("seize_ack"), B("answer"), B("release_guard")]
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == F("idle")
    assert_clean(rig)


def test_our_forward_busy_from_openr2(rigs):
    """OpenR2 refuses the offered call as busy: B2, we clear forward, both idle."""
    rig = rigs("out", max_ani=20)
    our_call(rig)
    rig.peer.command("hangup busy")
    assert rig.run(100, until=lambda: "failed" in rig.ours())
    assert rig.ch.result.outcome == "busy" and rig.ch.result.b_signal == CHINA.b_signal_for("busy") == "2"
    assert rig.run(50, until=lambda: rig.ch.line.state is S.IDLE and "end" in rig.peer.names())
    rig.run(5)
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == F("idle")
    assert "answered" not in rig.peer.names() and S.ANSWERED not in rig.ch.line.history
    assert_clean(rig)


# ============================================================================== OpenR2 forward, ctid backward
def their_call(rig, category=1):
    rig.peer.command(f"call - {CALLED} {OPENR2_CATEGORY[category]}")
    assert rig.run(600, until=lambda: "offered" in rig.ours() or "idle" in rig.ours()), rig.peer.log()[-3000:]


def our_backward(rigs, **kw):
    return rigs("in", max_ani=0, numbers=NumberRules(default_length=len(CALLED)), want_calling=False, **kw)


@pytest.mark.parametrize("category", sorted(OPENR2_CATEGORY))
def test_openr2_forward_number_reaches_us(rigs, category):
    rig = our_backward(rigs)
    their_call(rig, category)
    res = rig.ch.result
    assert res is not None and res.outcome == "free", rig.ch.events
    assert res.called == CALLED and res.calling == ""
    assert res.b_signal == CHINA.b_signal_for("free")
    # OpenR2 sends its category as the group II signal after A3 (our KD)
    assert res.kd == category
    assert rig.ch.line.state is S.SEIZE_ACK
    assert peer_codes(rig) == [F("idle"), F("seize")]
    assert rig.run(10, until=lambda: "accepted" in rig.peer.names())
    assert rig.peer.first("accepted")["mode"] == "Call With Charge"     # B1: free, with charge
    assert_clean(rig)


@pytest.mark.parametrize("runner", ["casboard", "native"])
def test_openr2_forward_mf_trace_matches_our_backward_register(rigs, runner):
    """The other direction: OpenR2's trace of what it sent and received equals our backward register's log
    (also with the daemon's path: native media-tick tones)."""
    import re

    rig = our_backward(rigs, loglevel="all", runner=runner)
    logs = []
    rig.ch.listener = lambda ch, e, **k: logs.append(list(ch.register.log)) if e == "register_done" else None
    their_call(rig, 2)
    ours = logs[0]
    trace = rig.peer.log()
    their_tx = re.findall(r"MF Tx >> (\w) \[ON\]", trace)
    their_rx = re.findall(r"MF Rx << (\w) \[ON\]", trace)
    assert their_tx == [sig.split("-")[-1] for d, sig in ours if d == "rx"]
    assert their_rx == [sig for d, sig in ours if d == "tx"]
    assert ours[-2:] == [("rx", "II-2"), ("tx", CHINA.b_signal_for("free"))]
    assert their_tx[:len(CALLED)] == list(CALLED)
    assert_clean(rig)


def test_openr2_forward_answered_then_cleared_forward_by_openr2(rigs):
    rig = our_backward(rigs)
    their_call(rig)
    assert rig.ch.answer()
    assert rig.run(20, until=lambda: "answered" in rig.peer.names())
    assert rig.a.get_abcd(0, TS) == F("seize") and rig.b.get_abcd(0, TS) == B("answer")
    rig.peer.command("hangup")                       # clear-forward
    assert rig.run(50, until=lambda: rig.ch.line.state is S.IDLE and "end" in rig.peer.names())
    assert "clear_forward" in rig.ours()
    assert rig.ch.line.history == [S.IDLE, S.SEIZED, S.SEIZE_ACK, S.ANSWERED, S.RELEASE_GUARD, S.IDLE]
    assert peer_codes(rig) == [F("idle"), F("seize"), F("clear_forward")]
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == F("idle")
    assert_clean(rig)


def test_openr2_forward_answered_then_cleared_back_by_us(rigs):
    rig = our_backward(rigs)
    their_call(rig)
    assert rig.ch.answer()
    assert rig.run(20, until=lambda: "answered" in rig.peer.names())
    rig.ch.hangup()                                  # clear-back; OpenR2 clears forward
    assert rig.run(50, until=lambda: rig.ch.line.state is S.IDLE and "end" in rig.peer.names())
    assert rig.peer.first("disconnect") is not None
    assert rig.ch.line.history == [S.IDLE, S.SEIZED, S.SEIZE_ACK, S.ANSWERED, S.CLEAR_BACK, S.RELEASE_GUARD,
                                   S.IDLE]
    assert peer_codes(rig) == [F("idle"), F("seize"), F("clear_forward")]
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == F("idle")
    assert_clean(rig)


# ============================================================================== dual seizure (both seize at once)
def both_seize(rig):
    """OpenR2 and ctid seize timeslot 1 in the same block: the peer takes its "call" command at its next block
    and its seizure reaches the line one world tick later, as ours does when we seize after that block."""
    rig.peer.command(f"call - {CALLED} NATIONAL_SUBSCRIBER")
    rig.run(1)
    assert rig.ch.call("22220001", CALLING)
    assert rig.run(20, until=lambda: "dual_seizure" in rig.ours()), rig.peer.log()[-3000:]


@pytest.mark.parametrize("policy", ["back_off", "yield"])
def test_dual_seizure_openr2_aborts_its_attempt(rigs, policy):
    """What OpenR2 1.3.3 (CN) does on dual seizure: our seizure (0011) is, to it, China's backward forced release
    while it waits for its seize-ack: it reports a disconnection "Forced Release" before the seize-ack, clears
    forward and idles: no retry in the library (the application decides). Against our back_off or yield the
    circuit is idle again at both ends, no protocol error on either side."""
    rig = rigs("out", max_ani=20, loglevel="all", dual_seizure=policy)
    both_seize(rig)
    assert rig.run(20, until=lambda: rig.ch.line.state is S.IDLE and "end" in rig.peer.names())
    assert rig.ours() == ["dual_seizure", "idle"]
    assert rig.ch.events[0][1] == {"policy": policy}
    disc = rig.peer.first("disconnect")
    assert disc is not None and disc["cause"] == "Forced Release"
    assert "Disconnection before seize ack detected" in rig.peer.log()
    assert peer_codes(rig) == [F("idle"), F("seize"), F("clear_forward")]
    assert "offered" not in rig.peer.names() and "call_init" not in rig.peer.names()
    rig.run(5)
    assert rig.ch.line.state is S.IDLE and rig.a.get_abcd(0, TS) == F("idle")
    assert_clean(rig)


def test_dual_seizure_keep_against_openr2_fails_both_attempts(rigs):
    """keep needs a far end that yields; OpenR2 does not: it waits (clear-forward sent) for our idle while we
    wait for its seize-ack: both seize-ack waits (8 s each, OpenR2's r2_seize and ours) expire, then both idle."""
    rig = rigs("out", max_ani=20, loglevel="all", dual_seizure="keep")
    both_seize(rig)
    assert rig.run(500, until=lambda: rig.ch.line.state is S.IDLE)
    assert rig.run(10, until=lambda: rig.peer.names()[-1] == "idle")
    assert [e for e in rig.ours() if e != "protocol_error"] == ["dual_seizure", "idle"]
    assert "no seize acknowledgement" in str(rig.ch.line.errors[0])
    assert rig.peer.first("protocol_error")["error"] == "Seize Timeout"


# ============================================================================== where OpenR2 1.3.3 deviates
def test_openr2_backward_max_ani_equal_to_calling_length_ignores_end_of_calling_number(rigs):
    """Documented deviation. The China flow ends the calling number with I-15 (GF002-9002; telephony-facts).
    OpenR2 configured with max_ani equal to the calling number's length stops at that length and asks for the
    next called digit with A1; our I-15 then arrives where it expects a called digit: OpenR2 reports a protocol
    error and drops the call. ctid reports the drop as a protocol error, clears forward, both sides end idle."""
    rig = rigs("out", max_ani=len(CALLING))
    assert rig.ch.call(CALLED, CALLING)
    assert rig.run(600, until=lambda: "idle" in rig.ours())
    assert "protocol_error" in rig.peer.names()
    assert "offered" not in rig.peer.names() and "ringing" not in rig.ours()
    ani = "".join(e["digit"] for e in rig.peer.events if e["event"] == "ani_digit")
    assert ani == CALLING                            # every calling digit arrived before the disagreement
    assert rig.ch.line.errors and rig.ch.line.state is S.IDLE
    rig.run(10)
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == F("idle")


def test_openr2_forward_asked_for_calling_number_sends_called_digits(rigs):
    """Documented deviation. Asked with A6 for KA and the calling number, OpenR2 1.3.3's CN forward side (no
    calling number, max_ani=0) sends KA and then answers each A1 with the next called digit, never I-15. Our
    backward register keeps waiting for the end of the calling number, its mf_back_cycle timer (5000 ms)
    expires, it names the timer in a protocol error and forces release; both sides end idle."""
    rig = rigs("in", max_ani=0, numbers=NumberRules(default_length=len(CALLED)), want_calling=True)
    rig.peer.command(f"call - {CALLED} NATIONAL_SUBSCRIBER")
    assert rig.run(1000, until=lambda: "idle" in rig.ours() and rig.ch.line.state is S.IDLE)
    res = rig.ch.result
    assert res.outcome == "failed" and "mf_back_cycle" in res.detail
    assert res.called == CALLED[0] and res.calling == CALLED[1:]      # its called digits, taken as calling
    assert S.FORCED_RELEASE in rig.ch.line.history
    assert "end" in rig.peer.names() or "disconnect" in rig.peer.names()
    rig.run(10)
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == F("idle")


@pytest.mark.parametrize("cause", ["congestion", "unallocated"])
def test_openr2_group_b_signals_outside_our_china_table(rigs, cause):
    """Open question, documented. Refusing an offered call for congestion or an unallocated number, OpenR2 1.3.3
    CN sends a group B signal other than B1/B2 (its CN configuration sets only B1/B2 and inherits its ITU defaults
    for these causes), while B1/B2 are the only group B meanings ctid's China table has (telephony-facts:
    B1 free, B2 busy; the rest of GF002-9002's KB table is not in our sources). ctid names the signal in a
    protocol error, fails the call and clears forward; both sides end idle."""
    rig = rigs("out", max_ani=20)
    our_call(rig)
    rig.peer.command(f"hangup {cause}")
    assert rig.run(100, until=lambda: "idle" in rig.ours())
    errors = [str(e["error"]) for n, e in rig.ch.events if n == "protocol_error"]
    assert errors and any("has no meaning in variant cn" in m for m in errors), errors
    sig = next(m.split("backward signal B", 1)[1][0] for m in errors if "backward signal B" in m)
    assert sig not in CHINA.group_b
    assert rig.ch.result.outcome == "failed" and "answered" not in rig.peer.names()
    assert rig.run(50, until=lambda: "end" in rig.peer.names())
    rig.run(5)
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == F("idle")


# ============================================================================== the fake DAHDI channel itself
def test_fakedahdi_semantics(openr2):
    """fakedahdi.c driven by a plain DAHDI client (tests/peers/fakedahdi_probe.c), the test playing the other end
    of the socket: what the client sees is what the test sent, what the test receives is what the client did."""
    import os
    import socket
    import subprocess

    import numpy as np

    from ctid.dsp.g711 import alaw_decode, alaw_encode
    from peers.openr2 import build_fakedahdi_probe

    probe = build_fakedahdi_probe()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ours.settimeout(10)
    env = dict(os.environ, LD_PRELOAD=str(openr2.fake), FAKEDAHDI_FD=str(theirs.fileno()))
    proc = subprocess.Popen([str(probe)], env=env, pass_fds=(theirs.fileno(),), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    theirs.close()

    def until_wait():
        got = []
        while (m := ours.recv(4096)) != b"D":
            assert m, "the probe closed the socket"
            got.append(m)
        return got

    blk1 = bytes(range(160))
    blk2 = bytes(range(255, 95, -1))
    blk3 = bytes([0xD5, 0x2A] * 80)                  # A-law +0-ish and a large negative code
    try:
        assert until_wait() == [b"T\x0b"]            # DAHDI_SETTXBITS 1011 before the first wait
        ours.send(b"B\x03")                          # rx bits 0011 (a seize)
        ours.send(b"R" + blk1)
        assert until_wait() == [b"W" + b"\x55" * 160]
        ours.send(b"R" + blk2)
        assert until_wait() == []
        ours.send(b"R" + blk3)
        after = until_wait()
        assert after[0] == b"W" + alaw_encode(np.full(160, 1000, np.int16)).tobytes()
        assert after[1] == b"F"                      # DAHDI_FLUSH of the write buffers
        assert after[2:] == [b"W" + b"\xd5" * 160] * 4
        ours.close()                                 # the "hardware" goes away
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    r = {}
    for line in out.decode().splitlines():
        k, *v = line.split()
        r[k] = v
    assert r["open"] == ["1"] and r["specify"] == ["0"] and r["channo"] == ["5"]
    assert r["params"] == ["0", "sigcas", "1"] and r["settxbits"] == ["0"]
    assert r["read_early"] == ["-1", "errno_eagain", "1"]          # nothing received yet
    assert r["poll"] == ["1", "pollin", "1", "pollpri", "1"]          # block and event
    assert r["event"] == ["13", "bitschanged", "1"] and r["event2"] == ["0"]   # DAHDI_EVENT_NONE after
    assert r["rxbits"] == ["3"]
    assert r["read1"] == ["160", "sum", str(sum(blk1))] and r["write1"] == ["160"]
    assert r["select"] == ["1", "isset", "1"] and r["read2"] == ["160", "sum", str(sum(blk2))]
    dec = alaw_decode(np.frombuffer(blk3[:2], np.uint8))
    assert r["iomux"] == ["0", "read", "1"] and r["read3"] == ["320", "first", str(dec[0]), str(dec[1])]
    assert r["write3"] == ["320"] and r["flush"] == ["0"]
    assert r["writes_until_full"] == ["4", "errno_eagain", "1"]       # 4 buffers of 160 (DAHDI default)
    assert r["writable_when_full"] == ["0"]
    assert r["unknown_ioctl"] == ["-1", "errno_enotty", "1"] and b"unsupported ioctl" in err
    assert r["elapsed_ms"] == ["60"]                                  # three blocks of virtual time
    assert r["iomux_after_close"] == ["-1", "errno_eio", "1"]
