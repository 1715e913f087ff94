#!/usr/bin/env python3
"""Throughput benchmark: ctid's Bank against spandsp 0.0.6 on the same multi-channel A-law corpus.

A benchmark, not a test: it prints, it asserts nothing about time.

Corpus: NCHAN channels x SECONDS of A-law, frame-major as an E1 board delivers it, deterministic per channel
(numpy synthesis, independent of both implementations): bursts of DTMF digits, MFC R2 forward signals, China
call-progress tones (dial, busy, congestion, ringback) and speech-like noise, over a -60 dBm0 noise floor.
The expected event counts are known from construction.

ours:    Bank.process_raw (160-frame ticks) + events_array from Python, Python overhead included, as banks of
         E1 size (30 channels, or 32) and as one bank of all channels; DTMF only, CPT only, R2 forward only, all.
spandsp: bench/peers/spandsp_bench.c (dtmf_rx, super_tone_rx with the China set, r2_mf_rx forward), per channel
         per 160-sample block, A-law decode included, timed inside the program.

    python bench/bench_dsp.py            # 480 channels x 60 s (run on a quiet machine)
    python bench/bench_dsp.py --quick    # 96 channels x 10 s
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from peers import PeerUnavailable, build, cache_dir  # noqa: E402
from peers import signals as sg  # noqa: E402

RATE = 8000
TICK = 160
CORPUS_VERSION = 2
CPT_NAMES = ["dial", "busy", "congestion", "ringback", "call_waiting", "vacant", "special_dial"]
MODES = {"dtmf": "dtmf", "cpt": "cpt", "r2": "r2f", "all": "dtmf,cpt,r2f", "decode": ""}


# ------------------------------------------------------------------------------------------------ corpus
def channel_program(c: int, seconds: float):
    """One channel's signal (float, int16 scale) and its expected counts."""
    rng = np.random.default_rng(20240 + c)
    n = int(seconds * RATE)
    x = rng.standard_normal(n) * (sg.peak(-60.0) / np.sqrt(2))   # noise floor
    exp = Counter()
    pos = int(rng.uniform(0.0, 0.5) * RATE)
    while True:
        kind = rng.choice(["dtmf", "r2", "cpt", "speech"], p=[0.35, 0.30, 0.15, 0.20])
        parts, guard, counts = [], 0.3, Counter()
        if kind == "dtmf":
            # Q.24: operate within +-1.5 % offset, 8 dB normal / 4 dB reverse twist; well inside here.
            level, twist = rng.uniform(-22, -5), rng.uniform(-3, 4)
            for d in rng.choice(list(sg.DTMF_DIGITS), size=int(rng.integers(3, 9))):
                parts.append(sg.dtmf(d, rng.uniform(60, 100), level, twist, rng.uniform(-1.0, 1.0), rng=rng))
                parts.append(np.zeros(int(rng.uniform(60, 100) * 8)))
                counts["dtmf"] += 1
        elif kind == "r2":
            # Q.441: +-10 Hz, level difference < 5 dB adjacent; China No.1 -11 dBm0 per tone.
            for s in rng.choice(list(sg.R2_SIGNALS), size=int(rng.integers(2, 6))):
                parts.append(sg.r2(s, rng.uniform(100, 200), False, rng.uniform(-14, -8), rng.uniform(-2, 2),
                                   rng.uniform(-5, 5), rng=rng))
                parts.append(np.zeros(int(rng.uniform(100, 150) * 8)))
                counts["r2"] += 1
        elif kind == "cpt":
            # China tones, 450 Hz at -10 +-3 dBm0 (YD/T 1277; Asterisk indications.conf [cn]).
            name = rng.choice(["dial", "busy", "congestion", "ringback"])
            level = rng.uniform(-13, -7)
            if name == "dial":
                parts.append(sg.cadence(sg.CHINA_TONE_HZ, (rng.uniform(2500, 3500), 0), 1, level, rng=rng))
            elif name == "busy":
                parts.append(sg.cadence(sg.CHINA_TONE_HZ, (350, 350), int(rng.integers(4, 8)), level, rng=rng))
            elif name == "congestion":
                parts.append(sg.cadence(sg.CHINA_TONE_HZ, (700, 700), int(rng.integers(3, 5)), level, rng=rng))
            else:
                parts.append(sg.cadence(sg.CHINA_TONE_HZ, (1000, 4000), 2, level, rng=rng))
            counts["cpt"] += 1
            counts["cpt_" + name] += 1
            guard = 1.5
        else:
            parts.append(sg.speechlike(int(rng.uniform(0.5, 2.0) * RATE), rng.uniform(-35, -25), rng))
        seg = np.concatenate(parts)
        end = pos + len(seg) + int(guard * RATE)
        if end > n:
            break
        x[pos:pos + len(seg)] += seg
        exp.update(counts)
        pos = end + int(rng.uniform(0.1, 0.6) * RATE)
    return x, exp


def build_corpus(nchan: int, seconds: float, log=print):
    """Frame-major A-law (nframes, nchan) and the expected counts; cached in ~/.cache/ctid-bench."""
    d = Path(os.environ.get("CTID_BENCH_CACHE", Path.home() / ".cache" / "ctid-bench"))
    d.mkdir(parents=True, exist_ok=True)
    stem = d / f"corpus-v{CORPUS_VERSION}-{nchan}x{seconds:g}s"
    raw, meta = stem.with_suffix(".alaw"), stem.with_suffix(".json")
    n = int(seconds * RATE) // TICK * TICK
    if raw.exists() and meta.exists() and raw.stat().st_size == n * nchan:
        fr = np.fromfile(raw, dtype=np.uint8).reshape(n, nchan)
        return fr, json.loads(meta.read_text()), raw
    log(f"building corpus {nchan} channels x {seconds:g} s ...")
    t0 = time.perf_counter()
    fr = np.empty((n, nchan), dtype=np.uint8)
    exp = Counter()
    for c in range(nchan):
        x, e = channel_program(c, seconds)
        fr[:, c] = sg.alaw_encode(sg.to_int16(x[:n]))
        exp.update(e)
    fr.tofile(raw)
    meta.write_text(json.dumps(dict(exp)))
    log(f"  done in {time.perf_counter() - t0:.1f} s -> {raw}")
    return fr, dict(exp), raw


# ------------------------------------------------------------------------------------------------ runners
def run_ours(fr: np.ndarray, bank_size: int, mode: str):
    from ctid.dsp import Bank
    from ctid.dsp._native import lib

    nframes, nchan = fr.shape
    groups = [(lo, min(lo + bank_size, nchan)) for lo in range(0, nchan, bank_size)]
    banks = []
    for lo, hi in groups:
        b = Bank(hi - lo, law="alaw")
        b.set_mask_all(MODES[mode])
        data = np.ascontiguousarray(fr[:, lo:hi]).reshape(-1)
        banks.append((b, memoryview(data), TICK * (hi - lo)))
    chunks = []
    nticks = nframes // TICK
    gc.collect()
    gc.disable()   # as timeit does: the growing list of event arrays must not make the collector's cost quadratic
    w0, c0 = time.perf_counter(), time.process_time()
    for i in range(nticks):
        for b, mv, tb in banks:
            if b.process_raw(mv[i * tb:(i + 1) * tb]):
                chunks.append(b.events_array())
    w1, c1 = time.perf_counter(), time.process_time()
    gc.enable()
    ev = np.concatenate(chunks) if chunks else np.zeros(0)
    samples = nticks * TICK * nchan
    counts = Counter()
    if len(ev):
        on = ev[ev["type"] == lib.CTID_EVT_ON]
        counts["dtmf"] = int(np.count_nonzero(on["kind"] == lib.CTID_EV_DTMF))
        counts["r2"] = int(np.count_nonzero(on["kind"] == lib.CTID_EV_R2F))
        cpt = on[on["kind"] == lib.CTID_EV_CPT]
        counts["cpt"] = len(cpt)
        for i, name in enumerate(CPT_NAMES):
            counts["cpt_" + name] = int(np.count_nonzero(cpt["value"] == i))
    dropped = sum(b.dropped for b, _, _ in banks)
    return {"ns": (w1 - w0) * 1e9 / samples, "cpu_ns": (c1 - c0) * 1e9 / samples, "counts": counts,
            "dropped": dropped}


def run_spandsp(exe: Path, raw: Path, nchan: int, mode: str):
    out = subprocess.run([str(exe), str(raw), str(nchan), mode], capture_output=True, text=True, check=True).stdout
    kv = dict(line.split() for line in out.splitlines() if line.strip())
    counts = Counter({"dtmf": int(kv["dtmf_on"]), "r2": int(kv["r2_on"]), "cpt": int(kv["cpt_on"])})
    for i, name in enumerate(CPT_NAMES):
        counts["cpt_" + name] = int(kv[f"cpt_on_{i}"])
    return {"ns": float(kv["ns_per_sample"]), "cpu_ns": float(kv["cpu_ns_per_sample"]), "counts": counts}


# ------------------------------------------------------------------------------------------------ report
def kinds_for(mode):
    return {"dtmf": ["dtmf"], "cpt": ["cpt"], "r2": ["r2"], "all": ["dtmf", "cpt", "r2"], "decode": []}[mode]


def fmt_counts(c, mode):
    return "/".join(str(c.get(k, 0)) for k in kinds_for(mode))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="96 channels x 10 s")
    ap.add_argument("--channels", type=int, default=None)
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--modes", default="decode,dtmf,cpt,r2,all",
                    help="decode = no detector: the bank's decode plus the Python call overhead (spandsp: gather + decode)")
    ap.add_argument("--bank-sizes", default=None, help="comma list; default: 30 (E1 voice channels) and all")
    ap.add_argument("--no-spandsp", action="store_true")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest is reported (default 3)")
    args = ap.parse_args(argv)
    nchan = args.channels or (96 if args.quick else 480)
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    modes = [m for m in args.modes.split(",") if m]
    sizes = [int(s) for s in args.bank_sizes.split(",")] if args.bank_sizes else [30 if nchan % 30 == 0 else 32, nchan]

    load = os.getloadavg()
    print(f"ctid DSP benchmark: {nchan} channels x {seconds:g} s A-law, 160-frame ticks, best of {args.repeat}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} CPUs")
    fr, exp, raw = build_corpus(nchan, seconds)
    print("expected (from construction): " + ", ".join(f"{k} {v}" for k, v in sorted(exp.items())))

    exe = None
    if not args.no_spandsp:
        try:
            exe = build(ROOT / "bench" / "peers" / "spandsp_bench.c", cflags=("-O2",))
        except PeerUnavailable as exc:
            print(f"spandsp unavailable, ours only: {exc}")

    rows = []
    def best(fn, *a):
        runs = [fn(*a) for _ in range(max(1, args.repeat))]
        assert all(r["counts"] == runs[0]["counts"] for r in runs), "event counts differ between repeats"
        return min(runs, key=lambda r: r["ns"])

    for mode in modes:
        theirs = best(run_spandsp, exe, raw, nchan, mode) if exe else None
        for size in sizes:
            rows.append((mode, size, best(run_ours, fr, size, mode), theirs))

    hdr = (f"{'mode':5} {'banks':>9} | {'ours ns/s':>9} {'cpu':>6} {'RT ch/core':>10} | {'spandsp':>8} {'cpu':>6} "
           f"{'RT ch/core':>10} | {'speedup':>7} | {'events ours / spandsp / expected':>34}")
    print()
    print(hdr)
    print("-" * len(hdr))
    for mode, size, o, t in rows:
        nb = -(-nchan // size)
        e = Counter(exp)
        line = (f"{mode:5} {f'{nb}x{size}':>9} | {o['ns']:9.3f} {o['cpu_ns']:6.2f} {125000 / o['ns']:10.0f} | ")
        if t:
            line += f"{t['ns']:8.3f} {t['cpu_ns']:6.2f} {125000 / t['ns']:10.0f} | {t['ns'] / o['ns']:6.2f}x | "
        else:
            line += f"{'-':>8} {'-':>6} {'-':>10} | {'-':>7} | "
        line += f"{fmt_counts(o['counts'], mode)} / {fmt_counts(t['counts'], mode) if t else '-'} / {fmt_counts(e, mode)}"
        if o["dropped"]:
            line += f"  (ours dropped {o['dropped']})"
        print(line)
    print()
    print("ns/s = wall ns per sample (per channel-sample); cpu = process CPU ns per sample; RT ch/core = "
          "125000 / ns (channels one core keeps up with in real time); speedup = spandsp ns / ours ns.")
    print("events: DTMF digits / CPT tone reports / R2 signals (ON events), in the mode's order.")
    for mode, size, o, t in rows:
        if mode in ("cpt", "all") and size == sizes[0]:
            def per(c):
                return " ".join(f"{n}={c.get('cpt_' + n, 0)}" for n in CPT_NAMES)
            print(f"CPT by tone ({mode}): expected {per(exp)}")
            print(f"                ours     {per(o['counts'])}")
            if t:
                print(f"                spandsp  {per(t['counts'])}")
    goal = [(o, t) for mode, size, o, t in rows if mode == "all" and t]
    if goal:
        best = min(goal, key=lambda r: r[0]["ns"])
        o, t = best
        same = all(o["counts"].get(k, 0) == t["counts"].get(k, 0) for k in ("dtmf", "cpt", "r2"))
        exact = all(o["counts"].get(k, 0) == exp.get(k, 0) for k in ("dtmf", "cpt", "r2"))
        print(f"\ngoal (all three >= 3x spandsp): {t['ns'] / o['ns']:.2f}x "
              f"({'met' if t['ns'] / o['ns'] >= 3 else 'NOT met'}); counts ours==spandsp: {same}; "
              f"ours==expected: {exact}")
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
