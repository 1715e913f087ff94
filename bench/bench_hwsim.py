"""Benchmark (not a test): hwsim through the Python driver API, for 2 and 16 E1 spans.

Set-up per size N: board A (the daemon's, N spans) cabled span by span to board B (the far end, N spans), spans
alternating CAS and CCS with CRC-4 on half of them (hwsim.rig.span_plan). Each tick, through ctid.drivers:
write the whole block of both boards, tick the world, read the whole block of both boards, drain both boards'
events. The world simulates both ends (2N spans: framers, HDLC, elastic stores, the cable bit streams).

1. Real time: ticks paced every 20 ms for --seconds (default 10) with a deadline loop; CPU from
   time.process_time over wall time = fraction of one core; per span = that / N (the daemon's spans; the far
   end's N spans are simulated in the same process and included).
2. Driven clock: as many ticks as the CPU allows for --blocks blocks (default 1000 = 20 s of line time);
   speed = simulated time / wall time.

Goals (issue 3): 16 spans in real time under 10 % of one core; the in-process rig at least 20x real time for 16.

    python bench/bench_hwsim.py [--seconds 10] [--blocks 1000] [--spans 2,16] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from ctid.drivers import get_backend, open_board  # noqa: E402
from hwsim.rig import span_plan  # noqa: E402


def build(nspans: int, seed: int = 1):
    world = get_backend("hwsim").World(seed)
    plan = span_plan(nspans)
    a = open_board("hwsim", 0, world=world, spans=nspans, span_config=plan)
    b = open_board("hwsim", 1, world=world, spans=nspans, span_config=plan)
    for s in range(nspans):
        world.cable(0, s, 1, s)
    world.tick(10)
    a.events(), b.events()
    return world, a, b


def one_tick(world, boards, tx, rx):
    for bd, blk in zip(boards, tx):
        bd.write_block(blk)
    world.tick(1)
    for bd, out in zip(boards, rx):
        bd.read_block(out)
        bd.events()


def realtime(nspans: int, seconds: float) -> dict:
    world, a, b = build(nspans)
    boards = (a, b)
    rng = np.random.default_rng(1)
    tx = [rng.integers(0, 256, bd.block_shape, dtype=np.uint8) for bd in boards]
    rx = [bd.new_block() for bd in boards]
    nticks = int(round(seconds / 0.020))
    late = 0
    c0, w0 = time.process_time(), time.perf_counter()
    deadline = w0
    for _ in range(nticks):
        deadline += 0.020
        one_tick(world, boards, tx, rx)
        pause = deadline - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        else:
            late += 1
    wall = time.perf_counter() - w0
    cpu = time.process_time() - c0
    world.close()
    return {"spans": nspans, "mode": "realtime", "ticks": nticks, "wall_s": round(wall, 3), "cpu_s": round(cpu, 4),
            "core_pct": round(100 * cpu / wall, 3), "core_pct_per_span": round(100 * cpu / wall / nspans, 4),
            "late_ticks": late}


def driven(nspans: int, blocks: int) -> dict:
    world, a, b = build(nspans)
    boards = (a, b)
    rng = np.random.default_rng(2)
    tx = [rng.integers(0, 256, bd.block_shape, dtype=np.uint8) for bd in boards]
    rx = [bd.new_block() for bd in boards]
    one_tick(world, boards, tx, rx)
    w0 = time.perf_counter()
    for _ in range(blocks):
        one_tick(world, boards, tx, rx)
    wall = time.perf_counter() - w0
    # the C world alone (no Python per tick beyond the call), for comparison
    w1 = time.perf_counter()
    world.tick(blocks)
    wall_c = time.perf_counter() - w1
    world.close()
    sim = blocks * 0.020
    return {"spans": nspans, "mode": "driven", "blocks": blocks, "sim_s": sim, "wall_s": round(wall, 4),
            "x_realtime": round(sim / wall, 1), "us_per_tick": round(1e6 * wall / blocks, 1),
            "x_realtime_world_only": round(sim / wall_c, 1),
            "frames_per_s_per_span": round(blocks * 160 / wall),
            "span_frames_per_s": round(blocks * 160 * 2 * nspans / wall)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0, help="real-time run length per size (default 10)")
    p.add_argument("--blocks", type=int, default=1000, help="driven-clock blocks per size (default 1000 = 20 s)")
    p.add_argument("--spans", default="2,16", help="comma list of span counts (default 2,16)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    sizes = [int(x) for x in args.spans.split(",") if x]
    results = []
    for n in sizes:
        results.append(driven(n, args.blocks))
        results.append(realtime(n, args.seconds))
    for r in results:
        if args.json:
            print(json.dumps(r))
        elif r["mode"] == "realtime":
            print(f"{r['spans']:2d} spans  real time : {r['core_pct']:6.3f} % of one core over {r['wall_s']:.1f} s "
                  f"({r['core_pct_per_span']:.4f} % per span, {r['late_ticks']} late ticks)")
        else:
            print(f"{r['spans']:2d} spans  driven    : {r['x_realtime']:7.1f} x real time ({r['us_per_tick']} us per "
                  f"20 ms tick incl. Python block I/O; world alone {r['x_realtime_world_only']} x; "
                  f"{r['span_frames_per_s']} span-frames/s over {2 * r['spans']} simulated spans)")
    if not args.json:
        by = {(r["spans"], r["mode"]): r for r in results}
        if (16, "realtime") in by:
            ok = by[(16, "realtime")]["core_pct"] < 10
            print(f"goal: 16 spans in real time < 10 % of one core: {'met' if ok else 'NOT met'}")
        if (16, "driven") in by:
            ok = by[(16, "driven")]["x_realtime"] >= 20
            print(f"goal: in-process rig >= 20x real time for 16 spans: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
