"""The far-end exchange in one process: board B (the exchange) cabled to board A (ctid's stacks answering, a
stand-in for the daemon), one world, a task.Clock advanced 20 ms per tick.

Proves: the SS7 link aligns and the exchange resets the circuits (GRS/GRA); calls over SS7, China No.1 and an
analogue line with FSK caller ID are answered; the caller hears the answering side's audio (matches() true
against that rendering, false against another); DTMF pressed by the caller is detected by board A's Bank and
switches what it hears; hang-ups clear the trunk (REL/RLC, clear-forward then idle, line on hook); a release
from board A reaches the caller; a busy/unknown trunk gives a clear error."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from twisted.internet import defer, task

sys.path.insert(0, os.path.dirname(__file__))
from answerer import HOSPITAL, Answerer, pattern  # noqa: E402

from ctid.drivers import open_board  # noqa: E402
from ctid.drivers.hwsim import World  # noqa: E402
from hwsim.callers import similarity, tone_level  # noqa: E402
from hwsim.exchange import AnalogTrunk, FarEndExchange, No1Trunk, Ss7Trunk  # noqa: E402

A, B = 0, 1


class Net:
    def __init__(self, seed=11):
        self.world = World(seed)
        self.world.create_board(A, spans=2, ports=["fxo", "fxs"])
        self.world.create_board(B, spans=2)
        for s in (0, 1):
            self.world.cable(A, s, B, s)
        self.a = open_board("hwsim", A, world=self.world, span_config=["ccs", "cas"])
        self.b = open_board("hwsim", B, world=self.world, span_config=["ccs", "cas"])
        self.world.tick(5)
        self.a.events(), self.b.events()
        self.clock = task.Clock()
        self.ans = Answerer(self.a, self.clock)
        self.ex = FarEndExchange(self.b, self.clock, {
            "ss7": Ss7Trunk(span=0), "no1": No1Trunk(span=1),
            "analog": AnalogTrunk(lines={0: self.world.line(A, 0)})}, phones={1: self.world.phone(A, 1)})

    def step(self):
        self.world.tick(1)
        self.clock.advance(0.02)
        self.ans.step()
        self.ex.step()

    def run(self, seconds, until=None):
        for _ in range(int(round(seconds / 0.02))):
            self.step()
            if until is not None and until():
                return True
        return until is None

    def wait(self, d, seconds=30):
        got = []
        d.addBoth(got.append)
        assert self.run(seconds, until=lambda: bool(got)), f"not fired within {seconds} s"
        if isinstance(got[0], Exception) or hasattr(got[0], "raiseException"):
            got[0].raiseException()
        return got[0]

    def close(self):
        self.world.close()


@pytest.fixture(scope="module")
def net():
    n = Net()
    assert n.run(10, until=lambda: n.ex.ready and n.ans.mtp3.linksets[0x0123].accessible and not n.ans.cc.groups)
    yield n
    n.close()


def test_ss7_start_resets_circuits(net):
    names = [m[3] for m in net.ex.trunks["ss7"].messages]
    assert "GRS" in names and "GRA" in names
    assert net.ex.state()["ss7"]["link"] == "IN_SERVICE" and net.ex.state()["ss7"]["busy"] == []


@pytest.mark.parametrize("trunk", ["ss7", "no1", "analog"])
def test_call_hear_press_hangup(net, trunk):
    c = net.ex.caller(f"c-{trunk}")
    r = net.wait(c.dial(trunk, HOSPITAL, calling="13800138000"), 20)
    assert r.outcome == "answered", r
    audio = net.wait(c.hear(2.0))
    assert audio.dtype == np.uint8 and audio.size == 16000
    assert c.heard_speech(audio)
    assert c.matches(pattern(1), audio) and not c.matches(pattern(3), audio)
    assert similarity(audio, pattern(1)) > 0.9 and similarity(audio, pattern(3)) < 0.4
    n = c.leg.channel if trunk != "analog" else net.ans.fxo[0]
    net.wait(c.press("2"))
    net.run(0.2)
    assert net.ans.digits[n] == "2"
    after = net.wait(c.hear(2.0))
    assert c.matches(pattern(2), after) and not c.matches(pattern(1), after)
    seen = net.wait(c.hangup())
    if trunk == "ss7":
        assert seen.index("tx REL") < seen.index("rx RLC")
        assert any(w.startswith("tx IAM") for w in seen) and "rx ACM" in seen and "rx ANM" in seen
        assert all(x.state.name == "IDLE" for x in net.ans.cc.circuits.values())
    elif trunk == "no1":
        assert seen.index("clear-forward sent") < seen.index("idle") and seen[-1] == "trunk idle", seen
        assert net.ans.cas[n].line.state.name == "IDLE"
        assert net.ans.cas[n].result.calling == "13800138000" and net.ans.cas[n].result.called == HOSPITAL
    else:
        assert "board off hook" in seen and seen.index("line hang-up (busy tone)") < seen.index("board on hook")
        assert net.ans.cids[0]["number"] == "13800138000"
        assert not net.a.port_state(0).offhook
    assert c.state == "cleared" and c.cleared_by == "us"


def test_release_from_the_answering_side(net):
    c = net.ex.caller("far-clear")
    assert net.wait(c.dial("ss7", HOSPITAL, calling="1068886666")).answered
    call = net.ans.calls[-1]
    assert call.calling == "1068886666"
    net.ans.release_ss7(call, 16)
    net.wait(c.wait_cleared())
    assert c.cleared_by == "far" and c.cause == 16
    assert "rx REL" in c.seen() and "tx RLC" in c.seen()


def test_tone_both_ways_and_goertzel(net):
    c = net.ex.caller("tone")
    assert net.wait(c.dial("ss7", HOSPITAL)).answered
    # the answering side's pattern is no tone; a 1 kHz tone sent by the caller reaches board A's bearer
    audio = net.wait(c.hear(0.5))
    assert not c.detect_tone(1000, audio)
    n = c.leg.channel
    got = []
    orig = net.ans.step

    def tap():
        orig()
        got.append(net.a.read_block()[:, n].copy())
    net.ans.step = tap
    try:
        net.wait(c.send_tone(1000, 0.6))
    finally:
        net.ans.step = orig
    rx = np.concatenate(got)
    lvl, share = tone_level(rx, 1000)
    assert share > 0.9 and -12 < lvl < -8, (lvl, share)
    assert c.detect_tone(1000, rx) and not c.detect_tone(1400, rx)
    net.wait(c.hangup())


def test_phone_pickup_hears_the_board(net):
    c = net.ex.caller("agent")
    d = c.pickup(1, timeout=5)
    net.run(0.1)
    net.a.port_ring(1, True)
    assert net.wait(d).answered
    net.a.port_ring(1, False)
    assert net.a.port_state(1).offhook
    # board A sends a tone pattern on the FXS port channel: the phone hears it
    n = net.ans.fxo[0] + 1
    net.ans.playing[n] = [pattern(5), 0]
    audio = net.wait(c.hear(1.0))
    assert c.matches(pattern(5), audio)
    net.ans.playing.pop(n)
    net.wait(c.hangup())
    assert not net.a.port_state(1).offhook


def test_bad_requests_are_clear_errors(net):
    c = net.ex.caller("bad")
    with pytest.raises(ValueError, match="unknown trunk"):
        c.dial("isdn", HOSPITAL)
    assert c.state == "idle"                       # nothing happened: the caller can dial again
    with pytest.raises(ValueError, match="no line on port 5"):
        c.dial("analog/5", HOSPITAL)
    with pytest.raises(ValueError, match="digits"):
        net.ex.caller().dial("ss7", "11a")
    with pytest.raises(ValueError, match="no telephone"):
        net.ex.caller().pickup(7)


def test_calls_from_board_a_are_answered_by_the_exchange(net):
    """Calls placed towards the exchange (the daemon's originate): SS7 IAM and a China No.1 seizure on board A
    are answered; each becomes an incoming Caller that hears board A and can hang up."""
    offered = []
    net.ex.on_incoming = offered.append
    call = net.ans.cc.setup("13900001111", calling="114")
    got = {}
    call.answered.addCallback(lambda c: got.setdefault("answered", True))
    assert net.run(3, until=lambda: "answered" in got)
    inc = net.ex.incoming[-1]
    assert offered == [inc]
    net.ex.on_incoming = None
    assert inc.trunk == "ss7" and inc.called == "13900001111" and inc.calling == "114" and inc.state == "answered"
    n = 0 * 32 + call.cic
    net.ans._answer_channel(n)                     # board A now plays its pattern into the call
    assert inc.matches(pattern(1), net.wait(inc.hear(1.0)))
    seen = net.wait(inc.hangup())
    assert "tx REL" in seen and "rx RLC" in seen and call.cause == 16
    # China No.1: board A's timeslot 31 turns forward and calls; the exchange's backward register takes the digits
    from ctid.signaling.china1 import CHINA, CasChannel
    hw = net.a.spans[1].timeslot(31)
    out = CasChannel("out", hw, net.ans.bank, net.clock, CHINA)
    old = net.ans.cas[hw.number]
    net.ans.cas[hw.number] = out
    try:
        assert out.call("13900002222", "114", ka=1, kd=3)
        assert net.run(10, until=lambda: out.line.state.name == "ANSWERED")
        inc = net.ex.incoming[-1]
        assert inc.trunk == "no1" and inc.called == "13900002222" and inc.calling == "114"
        out.hangup()                                # clear-forward from board A
        assert net.run(5, until=lambda: out.line.state.name == "IDLE")
        net.wait(inc.wait_cleared())
        assert inc.cleared_by == "far" and "clear_forward" in inc.seen()
    finally:
        net.ans.cas[hw.number] = old


def test_tone_crosses_a_bridge_both_ways(net):
    """Board A bridges an SS7 call to its FXS phone (timeslot switching both ways); the caller and the phone
    each send a tone and detect the other's (the e2e's agent bridge check)."""
    caller, agent = net.ex.caller("patient"), net.ex.caller("agent")
    assert net.wait(caller.dial("ss7", HOSPITAL, calling="13800138000")).answered
    n = caller.leg.channel
    net.ans._stop_channel(n)
    d = agent.pickup(1, timeout=5)
    net.a.port_ring(1, True)
    assert net.wait(d).answered
    net.a.port_ring(1, False)
    phone_ch = net.a.info.nspans * 32 + 1
    net.a.connect(n, A, phone_ch)
    net.a.connect(phone_ch, A, n)
    try:
        a1, a2 = caller.send_tone(1000, 1.0), agent.send_tone(1400, 1.0)
        h1, h2 = caller.hear(1.0), agent.hear(1.0)
        heard_by_caller, heard_by_agent = net.wait(h1), net.wait(h2)
        net.wait(a1), net.wait(a2)
        assert caller.detect_tone(1400, heard_by_caller[1600:]) and not caller.detect_tone(1000, heard_by_caller[1600:])
        assert agent.detect_tone(1000, heard_by_agent[1600:]) and not agent.detect_tone(1400, heard_by_agent[1600:])
    finally:
        net.a.disconnect(n)
        net.a.disconnect(phone_ch)
    net.wait(agent.hangup())
    net.wait(caller.hangup())


def test_phone_lifted_before_a_call(net):
    agent = net.ex.caller("agent")
    assert net.wait(agent.pickup(1, wait_ring=False)).answered
    assert net.a.port_state(1).offhook
    with pytest.raises(ValueError, match="already in use"):
        net.ex.caller().pickup(1)
    net.wait(agent.hangup())
    assert not net.a.port_state(1).offhook


def test_demo_scenario_one_round(net):
    """The built-in demo scenario (what ctid demo runs) for one round, with the exchange of this process."""
    from types import SimpleNamespace

    from hwsim.exchange import SCENARIOS, ScenarioContext
    out = []
    runner = SimpleNamespace(ex=net.ex, clock=net.clock, references={"p1": pattern(1)}, ports=None,
                             script_args={"rounds": "1", "listen": "1.0", "gap": "0.1", "press": "2,0"},
                             log=lambda **kw: out.append(kw))
    ctx = ScenarioContext(runner)
    result = net.wait(defer.ensureDeferred(SCENARIOS["demo"](ctx)), 40)
    assert result is True
    calls = [x for x in out if x["event"] == "call"]
    assert sorted(c["trunk"] for c in calls) == ["analog", "no1", "ss7"]
    assert all(c["dial"]["outcome"] == "answered" and c["speech"] and c["matches"]["p1"] > 0.9 for c in calls)
    # the choices alternate: board A heard "2" on some calls and "0" on the others
    pressed = {c["trunk"]: [w for w in c["view"] if w.startswith("press")] for c in calls}
    assert pressed == {"ss7": ["press 2"], "no1": ["press 0"], "analog": ["press 2"]}
    assert "0" in net.ans.digits[32 + 1]     # the China No.1 call (timeslot 1 of span 1) pressed 0


def test_cables_cut_and_restored():
    """The daemon's side goes away (cables cut) mid-call: the SS7 and China No.1 callers are cleared (cause 38,
    the span out of service), the exchange is not ready; restored: the link realigns, the circuits are reset
    (GRS again) and a new call completes."""
    n = Net(seed=12)
    try:
        assert n.run(10, until=lambda: n.ex.ready and not n.ans.cc.groups)
        c1, c2 = n.ex.caller("ss7"), n.ex.caller("no1")
        d1, d2 = c1.dial("ss7", HOSPITAL, calling="1"), c2.dial("no1", HOSPITAL, calling="2")
        assert n.wait(d1).answered and n.wait(d2).answered
        grs = [m[3] for m in n.ex.trunks["ss7"].messages].count("GRS")
        for s in (0, 1):
            n.world.cut(A, s)
        w1, w2 = c1.wait_cleared(), c2.wait_cleared()
        n.wait(w1, 15), n.wait(w2, 15)
        assert c1.cleared_by == "far" and c1.cause == 38 and c2.cleared_by == "far" and c2.cause == 38
        assert not n.ex.ready
        r = n.wait(n.ex.caller().dial("no1", HOSPITAL))
        assert r.outcome == "failed" and r.cause == 38
        for s in (0, 1):
            n.world.restore(A, s)
        assert n.run(15, until=lambda: n.ex.ready and not n.ans.cc.groups)
        assert [m[3] for m in n.ex.trunks["ss7"].messages].count("GRS") > grs
        assert all(ch.role == "in" for ch in n.ex.trunks["no1"].channels.values())   # waiting for seizures again
        c3, c4 = n.ex.caller("again"), n.ex.caller("again-no1")
        assert n.wait(c3.dial("ss7", HOSPITAL)).answered
        assert n.wait(c4.dial("no1", HOSPITAL, calling="3")).answered
        n.wait(c3.hangup()), n.wait(c4.hangup())
    finally:
        n.close()


def test_no1_cable_connected_after_start_no_protocol_error():
    """The daemon's start-up against the exchange: both sides' China No.1 channels wait in the incoming role
    before the cable connects (the exchange blocks its channels, 1111, while its span is down). Once the
    cable is in: no protocol error on either side, every line idle (docs/signaling-china1.md, start-up)."""
    from ctid.signaling.china1 import CasBoard, LineState
    from ctid.drivers.model import VOICE_TIMESLOTS

    world = World(5)
    world.create_board(A, spans=1)
    world.create_board(B, spans=1)
    a = open_board("hwsim", A, world=world, span_config=["cas"])
    b = open_board("hwsim", B, world=world, span_config=["cas"])
    clock = task.Clock()
    try:
        ours = CasBoard(a, clock)
        chans = [ours.add(0, ts, "in") for ts in VOICE_TIMESLOTS]
        ex = FarEndExchange(b, clock, {"no1": No1Trunk(span=0)})

        def step(n):
            for _ in range(n):
                world.tick(1)
                clock.advance(0.02)
                ours.step()
                ex.step()

        step(5)
        world.cable(A, 0, B, 0)
        step(50)
        theirs = list(ex.trunks["no1"].channels.values())
        assert len(theirs) == len(chans) == 30
        for c in chans + theirs:
            assert not c.line.errors, [str(e) for e in c.line.errors]
            assert c.line.state is LineState.IDLE
        assert any(e == "far_blocked" for c in chans for e, _ in c.events)   # the exchange did block meanwhile
    finally:
        world.close()
