"""Per-tick CPU of the daemon's board runtime with 30 China No.1 channels in register signalling at once:
MF tones as per-channel Python sources (``mc.set_source(cc.audio)``: R2Generator + A-law per channel per tick,
the path before the tones moved native) against the native tone of the batched media tick
(``CasChannel(tone_sink=...)`` -> ``mc.tone(r2mf.tone_def(...))``, as ``ctid.core.trunks.china1`` does).

hwsim: board 0 (the measured BoardRuntime, 30 outgoing channels) cabled to board 1 (a CasBoard with 30 incoming
channels), driven clock. Each run dials the same numbers on every channel at once; the BoardRuntime tick's
thread CPU time is summed over the ticks while at least one register runs. Prints ms per tick (mean, median)
and the ticks the set-up took. Asserts nothing about time.

    python bench/bench_china1_tones.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from twisted.internet import task  # noqa: E402

from ctid.drivers import AbcdEvent, open_board  # noqa: E402
from ctid.drivers.hwsim import World  # noqa: E402
from ctid.drivers.model import VOICE_TIMESLOTS  # noqa: E402
from ctid.dsp import r2mf  # noqa: E402
from ctid.dsp.params import R2Params  # noqa: E402
from ctid.media import BoardRuntime  # noqa: E402
from ctid.signaling.china1 import CHINA, CasBoard, CasChannel, NumberRules  # noqa: E402


class Shim:
    def __init__(self, mc):
        self.mc = mc

    def set_mask(self, number, kind):
        self.mc.detect(dtmf=False, r2f=(kind == "r2f"), r2b=(kind == "r2b"))


def run(native: bool, seed: int):
    world = World(seed)
    world.create_board(0, spans=1)
    world.create_board(1, spans=1)
    world.cable(0, 0, 1, 0)
    a = open_board("hwsim", 0, world=world, span_config="cas")
    b = open_board("hwsim", 1, world=world, span_config="cas")
    world.tick(5)
    a.events(), b.events()
    clock = task.Clock()
    rt = BoardRuntime(a, clock)
    rt.bank.set_r2_params(R2Params.defaults(backward=True, china=True))
    far = CasBoard(b, clock, CHINA)
    chans = {}
    for ts in VOICE_TIMESLOTS:
        far.add(0, ts, "in", numbers=NumberRules(default_length=8))
        drv = a.spans[0].timeslot(ts)
        mc = rt.channel(drv.number)
        if native:
            sink = (lambda m: (lambda s: m.stop_tone(r2mf.RAMP_SAMPLES) if s is None
                               else m.tone(r2mf.tone_def(s, False))))(mc)
            cc = CasChannel("out", drv, Shim(mc), clock, CHINA, tone_sink=sink)
        else:
            cc = CasChannel("out", drv, Shim(mc), clock, CHINA)
            mc.set_source(cc.audio)
        mc.on_tone = (lambda c: (lambda ev: c.on_tone(ev.type == "on", ev.value)
                                 if ev.kind in ("r2f", "r2b") and ev.type in ("on", "off") else None))(cc)
        chans[drv.number] = cc

    def abcd(ev):
        if isinstance(ev, AbcdEvent):
            c = chans.get(ev.span * 32 + ev.timeslot)
            if c is not None:
                c.on_abcd(ev.abcd)

    rt.add_event_handler(abcd)

    def step():
        world.tick(1)
        clock.advance(0.02)
        t0 = time.thread_time()
        rt.tick()
        dt = time.thread_time() - t0
        far.step()
        return dt

    for _ in range(10):
        step()
    for cc in chans.values():
        assert cc.call("88881234", "13800138000")
    per_tick = []
    for _ in range(1500):
        dt = step()
        active = any(c.register is not None and c.register.result is None for c in chans.values())
        if active:
            per_tick.append(dt)
        elif per_tick:
            break
    ok = sum(1 for c in chans.values() if c.result is not None and c.result.outcome == "free")
    world.close()
    return per_tick, ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print("30 outgoing China No.1 channels dialling 8 + 11 digits at once; BoardRuntime.tick CPU per tick")
    print(f"{'tones':<18}{'ticks':>7}{'free':>6}{'mean ms':>10}{'median ms':>11}")
    for native in (False, True):
        allv, ticks, ok = [], [], 0
        for r in range(args.rounds):
            v, ok = run(native, 7 + r)
            allv += v
            ticks.append(len(v))
        name = "native tick" if native else "Python sources"
        print(f"{name:<18}{statistics.median(ticks):>7.0f}{ok:>6}{1000 * statistics.mean(allv):>10.3f}"
              f"{1000 * statistics.median(allv):>11.3f}")


if __name__ == "__main__":
    main()
