"""Far-end load for bench/bench_daemon.py, run by ``hwsim exchange --script`` in its own process.

``--arg mode=load`` (goal 1): one call on every bearer channel of every span (dials spread over ``ramp``
seconds). Each answered caller then repeats a ``period``-second cycle until ``hold`` seconds after the last
answer: press two digits (DTMF, 80 ms on / 80 ms off, -10 dBm0), speak (noise at about -20 dBm0) for
``speak`` seconds, stay silent. Every digit's first sample is placed at a random offset inside a 20 ms block and
recorded as a world sample; the monotonic time (CLOCK_MONOTONIC, shared by the processes of the machine) at
which the world tick that carried that block returned is recorded too (the lock-stepped cable: the daemon's
board gets the block in the same tick). The tone's start in wall time is that stamp minus the samples of the
block after the tone's first one. The list is written to ``digits_out`` (JSON) at the end.

``--arg mode=cps`` (goal 3): call attempts at ``rate`` per second for ``seconds``, spread over the spans
(round robin); each call: IAM (or China No.1 seizure and register signalling), wait for the answer (``answer_
timeout``), hear ``listen`` seconds of the prompt, hang up, wait for the circuit to be idle. Every outcome other
than answered-and-cleared counts as a failure (busy, congestion, no answer, no prompt heard, release before
the caller's hang-up, no free circuit at the far end).

Progress lines (``emit``): ``ready``, ``stats`` every 2 s (world seconds and monotonic time, calls up), ``all_up``
(load: every call answered or failed), ``done``-like summaries ``load_result`` / ``cps_result``.
"""
from __future__ import annotations

import json
import random
import time

import numpy as np
from twisted.internet import defer

from ctid.dsp.dtmf import DtmfGenerator
from ctid.dsp.g711 import alaw_encode
from hwsim.callers import DBM0_REF, speech_level

RATE = 8000
BLOCK = 160


class Stamps:
    """world.time (end of the block just exchanged) -> time.monotonic() right after that world tick returned."""

    def __init__(self, world):
        self.world = world
        self.at: dict[int, float] = {}
        orig = world.tick

        def tick(n=1):
            orig(n)
            self.at[world.time] = time.monotonic()
        world.tick = tick


def _noise(rng, seconds, level_dbm0=-20.0):
    n = int(seconds * RATE)
    x = rng.standard_normal(n)
    env = 0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * np.arange(n) / RATE + rng.uniform(0, 6.28))   # syllabic
    x = x * env
    rms = DBM0_REF * 10 ** (level_dbm0 / 20)
    return x * (rms / max(1e-9, np.sqrt(np.mean(x * x))))


def channel_id(leg, prefix: str) -> str | None:
    ch = getattr(leg, "channel", None)
    if ch is None:
        return None
    return f"{prefix}{ch // 32}/{ch % 32}"


async def _stats_loop(ctx, state):
    w = ctx.runner.world
    while not state["stop"]:
        ctx.emit(event="stats", world=round(w.seconds, 3), mono=round(time.monotonic(), 4), **state["counts"])
        await ctx.sleep(2.0)


# ------------------------------------------------------------------------------------------------ load
_SILENT = alaw_encode(np.zeros(BLOCK, np.int16))


def _lighten_listener(c):
    """A caller that listens only through ``hear``: keep received audio only while a hear() is pending."""
    rx, tx = c._rx, c._tx

    def fast_rx(block):
        if c._hear:
            rx(block)

    def fast_tx():
        if not c._tx_queue and not c._sent_d:
            return _SILENT
        return tx()
    c._rx, c._tx = fast_rx, fast_tx


def _lighten(c):
    """The load callers never listen: skip keeping what they receive, and send a shared silent block while
    nothing is queued (the far end's CPU is not what is measured, but it must keep the pace on a busy machine)."""
    tx = c._tx

    def fast_tx():
        if not c._tx_queue and not c._sent_d:
            return _SILENT
        return tx()
    c._tx = fast_tx
    c._rx = lambda block: None


async def _load_caller(ctx, i, trunk, delay, state, stamps, rng):
    a = ctx.args
    await ctx.sleep(delay)
    c = ctx.caller(f"load-{i}")
    counts = state["counts"]
    counts["dialed"] += 1
    try:
        r = await c.dial(trunk, a.get("called", "5000"), calling=f"139{i:08d}", timeout=float(a.get("answer_timeout", 30)))
    except ValueError as exc:
        counts["failed"] += 1
        state["failures"].append(f"{i}: {exc}")
        return
    if not r.answered:
        counts["failed"] += 1
        state["failures"].append(f"{i} {trunk}: {r.as_dict()} {c.seen()[-4:]}")
        return
    counts["answered"] += 1
    chan = channel_id(c.leg, a.get("prefix", "s"))
    _lighten(c)
    await state["all_up"]
    period, speak = float(a.get("period", 4.0)), float(a.get("speak", 2.0))
    on_ms, off_ms = int(a.get("on_ms", 80)), int(a.get("off_ms", 80))
    await ctx.sleep(rng.uniform(0, period))
    w = ctx.runner.world
    nrng = np.random.default_rng(1000 + i)
    cycle = 0
    while not state["stop"] and c.state == "answered":
        t0 = ctx.clock.seconds()
        digits = f"{rng.randrange(1, 10)}{rng.randrange(0, 10)}"
        gen = DtmfGenerator(level_dbm0=-10.0, on_ms=on_ms, off_ms=off_ms)
        gen.put(digits)
        k = rng.randrange(0, BLOCK)                      # the tone starts anywhere inside a block
        pcm = np.concatenate([np.zeros(k), gen.generate(), _noise(nrng, speak)])
        base = w.time                                    # the next block sent starts at this world sample
        for j, d in enumerate(digits):
            s = base + k + j * (on_ms + off_ms) * RATE // 1000
            state["digits"].append([chan, d, s, (s // BLOCK + 1) * BLOCK])
        c.received = []
        await c.send(pcm)
        cycle += 1
        rest = period - (ctx.clock.seconds() - t0)
        if rest > 0:
            await ctx.sleep(rest)
    if c.state == "answered":
        counts["hung_up"] += 1
        await c.hangup()
    else:
        counts["cleared_by_daemon"] += 1
        state["failures"].append(f"{i}: cleared by the daemon: {c.seen()[-3:]}")


async def scenario_load(ctx):
    a = ctx.args
    stamps = Stamps(ctx.runner.world)
    rng = random.Random(int(a.get("seed", 1)))
    await ctx.wait_ready(float(a.get("ready_timeout", 120)))
    ctx.emit(event="ready")
    state = {"stop": False, "digits": [], "failures": [], "all_up": defer.Deferred(),
             "counts": {"dialed": 0, "answered": 0, "failed": 0, "hung_up": 0, "cleared_by_daemon": 0}}
    stats = defer.ensureDeferred(_stats_loop(ctx, state))
    trunks = sorted(ctx.ex.trunks)
    per = [(t, n) for t in trunks for n in range(len(_timeslots(ctx.ex.trunks[t])))]
    ramp = float(a.get("ramp", 10.0))
    calls = []
    for i, (t, _n) in enumerate(per):
        calls.append(defer.ensureDeferred(_load_caller(ctx, i, t, ramp * i / len(per), state, stamps, rng)))

    async def watch():
        c = state["counts"]
        while c["answered"] + c["failed"] < len(per):
            await ctx.sleep(0.1)
        ctx.emit(event="all_up", world=round(ctx.runner.world.seconds, 3), mono=round(time.monotonic(), 4), **c)
        state["all_up"].callback(None)
        await ctx.sleep(float(a.get("hold", 40)))
        state["stop"] = True
    await defer.ensureDeferred(watch())
    await defer.gatherResults(calls, consumeErrors=True)
    await ctx.sleep(1.0)
    out = []
    for chan, d, s, end in state["digits"]:
        m = stamps.at.get(end)
        out.append([chan, d, s, None if m is None else m - (end - s) / RATE])
    path = a.get("digits_out")
    if path:
        with open(path, "w") as f:
            json.dump(out, f)
    ctx.emit(event="load_result", calls=len(per), digits=len(out), failures=state["failures"][:100],
             **state["counts"])
    await stats
    return not state["failures"]


def _timeslots(trunk_obj):
    cfg = getattr(trunk_obj, "cfg", None)
    from hwsim.exchange import parse_ranges
    if hasattr(cfg, "cics"):
        return parse_ranges(cfg.cics)
    return parse_ranges(cfg.timeslots)


# ------------------------------------------------------------------------------------------------ cps
async def _cps_call(ctx, i, trunk, state):
    a = ctx.args
    counts = state["counts"]
    c = ctx.caller(f"cps-{i}")
    _lighten_listener(c)
    counts["attempts"] += 1
    counts["active"] += 1
    try:
        try:
            r = await c.dial(trunk, a.get("called", "5000"), calling=f"138{i:08d}",
                             timeout=float(a.get("answer_timeout", 10)))
        except ValueError as exc:
            state["failures"].append(f"{i} {trunk}: {exc}")
            counts["failed"] += 1
            return
        if not r.answered:
            state["failures"].append(f"{i} {trunk}: {r.as_dict()}")
            counts["failed"] += 1
            return
        counts["answered"] += 1
        t_ans = ctx.clock.seconds()
        heard = None
        while c.state == "answered" and ctx.clock.seconds() - t_ans < float(a.get("wait_prompt", 5.0)):
            t_chunk = ctx.clock.seconds()
            chunk = await c.hear(0.1)
            if speech_level(chunk) > -40.0:
                state["prompt_delay"].append(t_chunk - t_ans)      # the prompt began in this 0.1 s chunk
                heard = chunk
                break
        if heard is not None and c.state == "answered":
            await c.hear(float(a.get("listen", 0.3)))
        if c.state != "answered":
            state["failures"].append(f"{i} {trunk}: released by the daemon before the caller hung up")
            counts["failed"] += 1
            await c.wait_cleared()
            return
        await c.hangup()
        if heard is None:
            state["failures"].append(f"{i} {trunk}: no prompt heard within {a.get('wait_prompt', 5.0)} s")
            counts["failed"] += 1
            return
        counts["completed"] += 1
    finally:
        counts["active"] -= 1
        c.received = []


async def scenario_cps(ctx):
    a = ctx.args
    await ctx.wait_ready(float(a.get("ready_timeout", 120)))
    ctx.emit(event="ready")
    state = {"stop": False, "failures": [], "prompt_delay": [],
             "counts": {"attempts": 0, "answered": 0, "completed": 0, "failed": 0, "active": 0}}
    stats = defer.ensureDeferred(_stats_loop(ctx, state))
    await ctx.sleep(1.0)
    rate, seconds = float(a.get("rate", 100)), float(a.get("seconds", 30))
    trunks = sorted(ctx.ex.trunks)
    w = ctx.runner.world
    t0, m0 = w.seconds, time.monotonic()
    ctx.emit(event="cps_start", world=round(t0, 3), mono=round(m0, 4))
    calls = []
    n = int(rate * seconds)
    i = 0
    while i < n:
        # place every attempt whose time has come (several per 20 ms tick at high rates)
        target = min(n, int((w.seconds - t0) * rate) + 1)
        while i < target:
            calls.append(defer.ensureDeferred(_cps_call(ctx, i, trunks[i % len(trunks)], state)))
            i += 1
        await ctx.sleep(0.02)
    t1, m1 = w.seconds, time.monotonic()
    ctx.emit(event="cps_placed", world=round(t1, 3), mono=round(m1, 4), placed=i)
    await defer.gatherResults(calls, consumeErrors=True)
    state["stop"] = True
    t2, m2 = w.seconds, time.monotonic()
    ctx.emit(event="cps_result", world_placing=round(t1 - t0, 3), wall_placing=round(m1 - m0, 3),
             world_total=round(t2 - t0, 3), wall_total=round(m2 - m0, 3), failures=state["failures"][:20],
             prompt_delay_ms={q: round(1000 * float(np.percentile(state["prompt_delay"], q)), 0)
                              for q in (50, 95, 99)} if state["prompt_delay"] else None,
             **state["counts"])
    await stats
    return not state["failures"]


async def scenario(ctx):
    mode = ctx.args.get("mode", "load")
    if mode == "load":
        return await scenario_load(ctx)
    if mode == "cps":
        return await scenario_cps(ctx)
    raise ValueError(f"--arg mode={mode!r}: load or cps")
