"""Trunk adapters over hwsim against our own signalling stacks on the far boards: SS7 (ISUP/MTP3/MTP2),
China No.1 (CAS + MFC R2) and analogue (FXO with FSK caller ID, FXS extension)."""
from __future__ import annotations

import pytest

from ctid.core.errors import EngineError
from ctid.core.trunks import make_trunk
from ctid.signaling.china1.line import LineState
from ctid.signaling.ss7.isup_cc import State

from .rig import Rig
from ctid.media.runtime import BoardRuntime


class Trunks:
    def __init__(self, rig):
        self.rig = rig
        self.events = []
        self.trunk_events = []
        self.trunks = {}
        for tc in rig.cfg.trunks:
            t = make_trunk(tc, rig.board, rig.rt, rig.clock)
            t.listener = lambda ch, ev, info: self.events.append((ch.id, ev, info))
            t.trunk_listener = lambda tr, ev, info: self.trunk_events.append((tr.name, ev, info))
            t.start()
            self.trunks[t.name] = t

    def seen(self, chan, event):
        return [i for c, e, i in self.events if c == chan and e == event]

    def wait(self, chan, event, seconds=5):
        return self.rig.run(seconds, until=lambda: bool(self.seen(chan, event)))


@pytest.fixture(scope="module")
def env():
    rig = Rig(BoardRuntime)
    t = Trunks(rig)
    # SS7 linkset alignment (emergency proving), MTP-RESUME, GRS at both ends
    assert rig.run(20, until=lambda: t.trunks["ss7"].up and rig.far_ss7.up)
    cc = t.trunks["ss7"].cc
    assert rig.run(5, until=lambda: any(e[0] == "group_reset_complete" for e in cc.events) and not cc.groups
                   and all(c.state == "idle" for c in t.trunks["ss7"].channels.values()))
    yield rig, t
    rig.close()


def test_ss7_incoming_answer_release_by_us(env):
    rig, t = env
    assert ("ss7", "state", {"up": True}) in t.trunk_events
    assert any(e[0] == "group_reset_complete" for e in t.trunks["ss7"].cc.events)
    far = rig.far_ss7
    call = far.cc.setup("114", calling="13800138000")
    ch = f"ss7/{call.cic}"
    assert t.wait(ch, "incoming")
    (inc,) = t.seen(ch, "incoming")
    assert inc == {"calling": "13800138000", "called": "114", "category": 0x0A}
    chan = t.trunks["ss7"].channels[call.cic]
    assert chan.state == "incoming"
    got = {}
    call.answered.addCallback(lambda _c: got.setdefault("answered", True))
    call.released.addCallback(lambda cause: got.setdefault("cause", cause))
    chan.answer()
    assert rig.run(2, until=lambda: "answered" in got)
    assert chan.state == "up"
    chan.hangup(17)
    assert rig.run(2, until=lambda: "cause" in got and chan.state == "idle")
    assert got["cause"] == 17 and t.seen(ch, "hangup") == [{"cause": 17}]
    assert far.cc.circuits[call.cic].state is State.IDLE


def test_ss7_far_release_and_originate(env):
    rig, t = env
    far = rig.far_ss7
    trunk = t.trunks["ss7"]
    chan = trunk.originate("13800138000")
    assert chan.state == "dialing"
    assert rig.run(2, until=lambda: bool(far.incoming) and far.incoming[-1].cic == chan.cic)
    fin = far.incoming[-1]
    assert fin.called == "13800138000" and fin.calling == "1068880000"
    far.cc.alert(fin)
    assert t.wait(chan.id, "ringing") and chan.state == "ringing"
    far.cc.answer(fin)
    assert t.wait(chan.id, "answered") and chan.state == "up"
    far.cc.release(fin, 16)
    assert t.wait(chan.id, "hangup")
    assert t.seen(chan.id, "hangup")[-1] == {"cause": 16}
    assert rig.run(2, until=lambda: chan.state == "idle")


def test_no1_incoming_answer_far_clear(env):
    rig, t = env
    far = rig.far_no1
    assert far.out.call("88881234", "13800138000", ka=1, kd=1)
    assert t.wait("no1/1", "incoming", 8)
    assert t.seen("no1/1", "incoming") == [{"calling": "13800138000", "called": "88881234", "category": 1}]
    chan = t.trunks["no1"].channels[1]
    chan.answer()
    assert rig.run(2, until=lambda: far.out.line.state is LineState.ANSWERED)
    far.out.hangup()                         # clear-forward
    assert t.wait("no1/1", "hangup")
    assert rig.run(2, until=lambda: chan.state == "idle" and far.out.line.state is LineState.IDLE)


def test_no1_route_number_complete_at_its_length(env):
    """"114" is an exact route: the called number ends at 3 digits (A3 at once), not by the 3 s timeout."""
    rig, t = env
    far = rig.far_no1
    n = len(t.seen("no1/1", "incoming"))
    t0 = rig.world.seconds
    assert far.out.call("114", "13800138000", ka=1, kd=1)
    assert rig.run(8, until=lambda: len(t.seen("no1/1", "incoming")) > n)
    assert t.seen("no1/1", "incoming")[-1]["called"] == "114"
    assert rig.world.seconds - t0 < 2.5          # simulated time: 3 + 11 digits compelled, no end-of-number wait
    far.out.hangup()
    assert rig.run(3, until=lambda: t.trunks["no1"].channels[1].state == "idle"
                   and far.out.line.state is LineState.IDLE)


def test_no1_originate_and_clear_back_by_far(env):
    rig, t = env
    far = rig.far_no1
    chan = t.trunks["no1"].originate("66667777")
    assert chan.n == 3 and chan.state == "dialing"      # the highest both-way timeslot
    assert t.wait("no1/3", "ringing", 8)
    assert far.inc.result.called == "66667777" and far.inc.result.calling == "1068880000"
    far.inc.answer()
    assert t.wait("no1/3", "answered") and chan.state == "up"
    far.inc.hangup()                          # clear-back: we clear forward
    assert t.wait("no1/3", "hangup")
    assert rig.run(3, until=lambda: chan.state == "idle" and far.inc.line.state is LineState.IDLE)
    rig.run(0.1)
    assert chan.cas.role == "in"              # back to waiting for incoming calls


def test_fxo_caller_id_answer_far_hangup(env):
    rig, t = env
    rig.line.ring("13912345678")
    assert t.wait("analog/0", "incoming", 8)
    assert t.seen("analog/0", "incoming")[0]["calling"] == "13912345678"
    chan = t.trunks["analog"].channels[0]
    chan.answer()
    rig.run(0.2)
    assert rig.line.state["board_offhook"]
    rig.line.hangup()                         # polarity back and busy tone
    assert t.wait("analog/0", "hangup", 3)
    assert chan.state == "idle" and not rig.line.state["board_offhook"]


def test_fxo_far_clear_by_busy_tone_only(env):
    """A line without polarity reversal: the far end's clearing is heard as busy tone (cpt detector)."""
    rig, t = env
    rig.board.port_polarity(0, False)            # the exchange option "reverse polarity on answer" off
    try:
        n = len(t.seen("analog/0", "incoming"))
        rig.line.ring("13911112222")
        assert rig.run(8, until=lambda: len(t.seen("analog/0", "incoming")) > n)
        chan = t.trunks["analog"].channels[0]
        chan.answer()
        rig.run(0.3)
        assert not chan.reversed
        h = len(t.seen("analog/0", "hangup"))
        rig.line.hangup()
        assert rig.run(3, until=lambda: len(t.seen("analog/0", "hangup")) > h)
        assert chan.state == "idle" and not rig.line.state["board_offhook"]
    finally:
        rig.board.port_polarity(0, True)


def test_fxs_offer_and_dial(env):
    rig, t = env
    chan = t.trunks["analog"].channels[2]
    chan.dial(None)
    assert rig.run(1, until=lambda: rig.phone.ringing)
    rig.phone.hook(True)
    assert t.wait("analog/2", "answered") and chan.state == "up"
    rig.phone.hook(False)
    assert t.wait("analog/2", "hangup") and chan.state == "idle"
    # off hook and dial: an outgoing call request from the extension
    rig.phone.hook(True)
    rig.run(0.3)
    assert chan.state == "dialing"
    rig.phone.dial("8001#")
    assert t.wait("analog/2", "incoming", 3)
    assert t.seen("analog/2", "incoming")[-1]["called"] == "8001"
    rig.phone.hook(False)
    assert rig.run(1, until=lambda: chan.state == "idle")


def test_analog_resync_after_lost_events(env):
    """Driver events lost (an overrun): the trunk polls the ports and sees the phone that went off hook."""
    rig, t = env
    chan = t.trunks["analog"].channels[3]
    assert chan.state == "idle"
    rig.phone2.hook(True)
    rig.world.tick(1)
    rig.board.events()                            # the HookEvent is lost
    assert chan.state == "idle"
    t.trunks["analog"].resync()
    assert chan.state == "dialing" and chan.offhook
    rig.phone2.hook(False)
    assert rig.run(1, until=lambda: chan.state == "idle")


def test_originate_errors(env):
    rig, t = env
    with pytest.raises(EngineError) as exc:
        t.trunks["analog"].originate("")
    assert exc.value.code == 400 and "'' is not a number" in str(exc.value)
    with pytest.raises(EngineError, match="called number '12A'"):
        t.trunks["ss7"].originate("12A")
    with pytest.raises(EngineError, match="digits 0-9"):
        t.trunks["no1"].originate("12A")


def test_no1_register_tones_are_native(env):
    """The daemon's China No.1 channels send their MF signals from the native media tick: no per-channel
    Python source at any tick of a call set-up, and the channel's tone is the R2 backward signal of the
    register (ctid.dsp.r2mf table) while it acknowledges."""
    rig, t = env
    far = rig.far_no1
    n = len(t.seen("no1/1", "incoming"))
    chan = t.trunks["no1"].channels[1]
    tones, sources = set(), []

    def watch():
        sources.append(len(rig.rt._sources))
        if chan.mc.tone_playing:
            tones.add(chan.mc.tone_playing)
        return len(t.seen("no1/1", "incoming")) > n

    assert far.out.call("114", "13800138000", ka=1, kd=1)
    assert rig.run(8, until=watch)
    assert set(sources) == {0}
    sent = [s for d, s in chan.cas.register.log if d == "tx"]
    assert {f"R2 bwd {s[-1]}" for s in sent} == tones and tones
    far.out.hangup()
    assert rig.run(3, until=lambda: chan.state == "idle" and far.out.line.state is LineState.IDLE)


def test_no1_startup_cable_no_protocol_error():
    """Daemon start-up on a span whose far exchange waits in the incoming role (it blocks, 1111, until its own
    span is up): the trunk's channels log no protocol error and end idle (see docs/signaling-china1.md)."""
    rig = Rig(BoardRuntime, tmp="/tmp/ctid-core-test-startup")
    try:
        t = Trunks(rig)
        rig.run(2)
        no1 = t.trunks["no1"]
        for ts, ch in no1.channels.items():
            assert not ch.cas.line.errors, (ts, [str(e) for e in ch.cas.line.errors])
            assert ch.state == "idle" and ch.cas.line.state is LineState.IDLE, (ts, ch.state)
        assert no1.up
    finally:
        rig.close()
