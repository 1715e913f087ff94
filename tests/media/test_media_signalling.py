"""Signalling through the runtime's plumbing: a China No.1 call between two boards where each BoardRuntime
carries the ABCD events (event handler), the MF register tones (the bank's r2 detectors -> on_tone, and the
register generator as the channel's Python source), then the answered call's media: the IVR side plays a prompt
the caller hears bit-exact and collects the digit the caller dials. Also: a failing board does not stop the
others' ticks."""
import numpy as np

from media_rig import find_offset

from ctid.drivers import AbcdEvent
from ctid.dsp.params import R2Params
from ctid.signaling.china1 import CHINA, CasChannel, LineState as S, NumberRules

TS = 5


def cas_on_runtime(rt, ts, role, **kw):
    """What ctid.core does for a China No.1 channel on a BoardRuntime."""
    ch = rt.board.spans[0].timeslot(ts)
    cc = CasChannel(role, ch, rt.bank, rt.clock, CHINA, **kw)
    mc = rt.channel(ch.number)

    def tones(ev):
        if ev.kind in ("r2f", "r2b") and ev.type in ("on", "off"):
            cc.on_tone(ev.type == "on", ev.value)

    def abcd(ev):
        if isinstance(ev, AbcdEvent) and ev.span * 32 + ev.timeslot == ch.number:
            cc.on_abcd(ev.abcd)

    mc.on_tone = tones
    mc.set_source(cc.audio)
    rt.add_event_handler(abcd)
    return cc, mc


def test_china1_call_then_ivr_media(rig):
    rig.ra.bank.set_r2_params(R2Params.defaults(backward=True, china=True))
    out, caller = cas_on_runtime(rig.ra, TS, "out")
    inc, ivr = cas_on_runtime(rig.rb, TS, "in", numbers=NumberRules(default_length=3))
    rig.run(0.2)
    assert out.call("114", "13800138000")
    offered = []
    inc.listener = lambda ch, e, **k: offered.append(k["result"]) if e == "offered" else None
    for _ in range(500):
        rig.run(0.02)
        if offered:
            break
    assert offered and offered[0].called == "114" and offered[0].calling == "13800138000"
    assert inc.answer()
    rig.run(0.5)
    assert out.line.state is S.ANSWERED and inc.line.state is S.ANSWERED
    # the IVR plays a prompt: the caller hears it bit-exact
    heard = rig.listen(rig.ra, [TS])
    prompt = np.random.default_rng(4).integers(0, 256, 4000, dtype=np.uint8)
    assert rig.run_until(ivr.play(prompt))["reason"] == "done"
    rig.run(0.1)
    got = heard(TS)
    L = find_offset(prompt, got)
    np.testing.assert_array_equal(got[L:L + len(prompt)], prompt)
    # then collects a digit the caller dials (the register detectors are off again: DTMF only)
    d = ivr.collect(max_digits=1, timeout=3)
    caller.dtmf("2")
    assert rig.run_until(d) == {"digits": "2", "reason": "max", "tries": 1, "valid": True}
    assert not out.line.errors and not inc.line.errors


def test_a_failing_board_does_not_stop_the_other(rig):
    rig.a.close()                     # every driver call on board 0 now raises
    d = rig.rb.channel(3).play(np.zeros(800, np.uint8))
    assert rig.run_until(d)["reason"] == "done"
    assert rig.ra.tick_failures >= 5 and rig.pacer.running
