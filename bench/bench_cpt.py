"""Throughput of call-progress detection through the Bank: 480 channels, A-law in, China table.

    python tests/bench_cpt.py [seconds]

Prints ns per channel-sample for the bank with CPT enabled on every channel and with nothing enabled (A-law
decode + bank overhead only); the difference is the detector. Each 160-frame tick through Bank.process_raw is
timed on its own (events drained as a numpy array outside the timed call); the median over 3 passes is the
figure to quote (robust against preemption on a shared machine). Channels carry a mix: the seven China tones
with staggered starts, noise, silence.
"""
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")     # no BLAS threads competing for the cores
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # this worktree's ctid

import numpy as np  # noqa: E402

from ctid.dsp import Bank  # noqa: E402
from ctid.dsp.g711 import alaw_encode  # noqa: E402
from ctid.dsp.tonegen import generate  # noqa: E402
from ctid.dsp.tones import china_tones  # noqa: E402

NCH = 480


def make_frames(seconds, rng):
    n = seconds * 8000
    tones = china_tones()
    sig = np.zeros((n, NCH), np.int16)
    for c in range(NCH):
        k = c % 9
        if k < 7:
            off = int(rng.integers(0, 8000))
            sig[off:, c] = generate(tones[k], (n - off) / 8)[: n - off]
        elif k == 7:
            sig[:, c] = np.clip(rng.normal(0, 1000, n), -32768, 32767).astype(np.int16)
    codes = alaw_encode(sig.reshape(-1)).reshape(n, NCH)
    return [np.ascontiguousarray(codes[i:i + 160]).tobytes() for i in range(0, n, 160)]


def run(blocks, mask):
    """Per-tick process times (s) for one pass."""
    bank = Bank(NCH, law="alaw")
    if mask:
        bank.set_mask_all(mask)
    times = np.empty(len(blocks))
    nev = 0
    for i, blk in enumerate(blocks):
        t0 = time.perf_counter()
        bank.process_raw(blk)
        times[i] = time.perf_counter() - t0
        nev += len(bank.events_array())
    return times, nev


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    blocks = make_frames(seconds, np.random.default_rng(1))
    per = 160 * NCH
    res = {"": [], "cpt": []}
    nev = 0
    for _ in range(3):
        for mask in res:
            t, n = run(blocks, mask)
            res[mask].append(t)
            nev = n if mask else nev
    print(f"{NCH} channels x {seconds} s, A-law, China table; {nev} CPT events per pass; ns per channel-sample")
    print("                     median   p10    mean")
    stats = {}
    for mask, label in (("", "decode only"), ("cpt", "decode + CPT")):
        t = np.concatenate(res[mask]) / per * 1e9
        stats[mask] = (np.median(t), np.percentile(t, 10), t.mean())
        print(f"{label:20s} {stats[mask][0]:6.3f} {stats[mask][1]:6.3f} {stats[mask][2]:6.3f}")
    d = [c - b for c, b in zip(stats["cpt"], stats[""])]
    print(f"{'CPT detector alone':20s} {d[0]:6.3f} {d[1]:6.3f} {d[2]:6.3f}")


if __name__ == "__main__":
    main()
