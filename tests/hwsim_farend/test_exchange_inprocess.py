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
    with pytest.raises(ValueError, match="digits"):
        net.ex.caller().dial("ss7", "11a")
    with pytest.raises(ValueError, match="no telephone"):
        net.ex.caller().pickup(7)
