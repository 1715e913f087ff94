"""Fuzz driver for the native media state (native/media.c), run in a SUBPROCESS by test_media_fuzz.py so that a
crash shows as a failed test with the last operation logged.

    python tests/media/media_fuzz.py SEED ITERATIONS

Random operations with random and nasty arguments (channels out of range, negative and huge sizes, NaN and
infinite levels, bad tone definitions, strides below the channel count, random ticks). The caller's side of the
contract is kept: play buffers stay alive for the whole run and every length passed is within the buffer given.
Every call must return a result or a negative error code; events must be well formed. Exit 0 = good, 1 = an
invariant failed, a signal = a crash.
"""
from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("CTID_FUZZ_ROOT") or os.path.dirname(os.path.dirname(HERE)))

from ctid.dsp._native import ffi, lib  # noqa: E402

VERBOSE = os.environ.get("CTID_FUZZ_VERBOSE", "") == "1"
NASTY_I = [0, -1, 1, 2, -2147483648, 2147483647, 160, 8000, 8001, 64 << 20, (64 << 20) + 1, 3]
NASTY_F = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e30, -200.0, 3.14, 3.15, -40.0, 2000.0, 450.0]


def log(*a):
    if VERBOSE:
        sys.stderr.write("op " + " ".join(str(x) for x in a) + "\n")
        sys.stderr.flush()


def fail(msg):
    sys.stderr.write("INVARIANT: " + msg + "\n")
    sys.exit(1)


def main(seed: int, iterations: int) -> None:
    rng = np.random.default_rng(seed)

    def pick_i(lo, hi):
        return int(rng.choice(NASTY_I)) if rng.random() < 0.3 else int(rng.integers(lo, hi))

    def pick_f(lo, hi):
        return float(rng.choice(NASTY_F)) if rng.random() < 0.3 else float(rng.uniform(lo, hi))

    keep = []
    for it in range(iterations):
        nchan = int(rng.integers(1, 70))
        log("new", nchan)
        m = lib.ctid_media_new(nchan)
        if m == ffi.NULL:
            fail(f"ctid_media_new({nchan}) failed")
        bufs = [ffi.new("uint8_t[]", bytes(rng.integers(0, 256, int(rng.integers(1, 3000)), dtype=np.uint8)))
                for _ in range(6)]
        keep.extend(bufs)
        out = ffi.new("uint8_t[]", 9000)
        levels = ffi.new("float[]", nchan)
        evs = ffi.new("ctid_media_event_t[]", 32)
        for _ in range(int(rng.integers(50, 300))):
            ch = pick_i(-2, nchan + 2)
            op = int(rng.integers(0, 12))
            if op == 0:
                b = bufs[int(rng.integers(0, len(bufs)))]
                n = int(rng.integers(-2, len(b) + 1))
                loop = int(rng.integers(0, 2))
                log("play", ch, n, loop)
                lib.ctid_media_play(m, ch, b if rng.random() > 0.05 else ffi.NULL, n, int(rng.integers(0, 9)), loop)
            elif op == 1:
                log("play_stop", ch)
                lib.ctid_media_play_stop(m, ch)
            elif op == 2:
                d = ffi.new("ctid_tone_def_t *")
                d.freq1 = pick_f(100, 3800)
                d.freq2 = pick_f(0, 3800) if rng.random() < 0.5 else 0.0
                d.level_dbm0 = pick_f(-60, 3)
                d.nsegs = pick_i(0, 17) if rng.random() < 0.5 else 0
                for j in range(16):
                    d.seg_ms[j] = pick_i(1, 500)
                dur = pick_i(0, 3000)
                log("tone", ch, d.freq1, d.freq2, d.level_dbm0, d.nsegs, list(d.seg_ms), dur)
                lib.ctid_media_tone(m, ch, d if rng.random() > 0.05 else ffi.NULL, dur, 1)
            elif op == 3:
                if rng.random() < 0.5:
                    log("tone_stop", ch)
                    lib.ctid_media_tone_stop(m, ch)
                else:
                    ramp = pick_i(0, 200)
                    log("tone_release", ch, ramp)
                    r = lib.ctid_media_tone_release(m, ch, ramp)
                    if 0 <= ch < nchan and 0 <= ramp <= lib.CTID_MEDIA_MAX_RAMP and r not in (0, 1):
                        fail(f"tone_release({ch}, {ramp}) returned {r}")
            elif op == 4:
                a = (pick_i(8000, 40000), pick_i(1, 40000), pick_i(0, 4000), pick_i(0, 2000), pick_f(-90, 3))
                log("record_start", ch, *a)
                lib.ctid_media_record_start(m, ch, *a)
            elif op == 5:
                cap = int(rng.integers(-1, 9001))
                log("record_read", ch, cap)
                r = lib.ctid_media_record_read(m, ch, out, cap)
                if r > max(cap, 0):
                    fail(f"record_read returned {r} > cap {cap}")
            elif op == 6:
                log("record_stop/release", ch)
                (lib.ctid_media_record_stop if rng.random() < 0.5 else lib.ctid_media_record_release)(m, ch)
            elif op == 7:
                conf, flags = pick_i(0, 4), pick_i(0, 4)
                log("conf", ch, conf, flags)
                lib.ctid_media_conf(m, ch, conf, flags)
            elif op == 8:
                t = pick_i(-2, nchan + 1)
                log("whisper", ch, t)
                lib.ctid_media_conf_whisper(m, ch, t)
            elif op == 9:
                log("reset", ch)
                lib.ctid_media_reset(m, ch)
            elif op == 10:
                n = int(rng.integers(-1, nchan + 1))
                log("levels", n)
                lib.ctid_media_levels(m, levels, n)
            else:
                nframes = pick_i(1, 400)
                stride = nchan + int(rng.integers(-1, 5))
                size = max(0, min(nframes, 8000)) * max(stride, 0)
                rx = ffi.new("uint8_t[]", bytes(rng.integers(0, 256, size, dtype=np.uint8)) if size else 1)
                tx = ffi.new("uint8_t[]", max(size, 1))
                log("tick", nframes, stride)
                r = lib.ctid_media_tick(m, rx, tx, nframes, stride)
                if (nframes < 1 or nframes > 8000 or stride < nchan) and r >= 0:
                    fail(f"tick accepted nframes={nframes} stride={stride}")
                while True:
                    k = lib.ctid_media_events(m, evs, 32)
                    if k < 0 or k > 32:
                        fail(f"events returned {k}")
                    for i in range(k):
                        e = evs[i]
                        if e.channel >= nchan or not 1 <= e.type <= 7:
                            fail(f"malformed event channel={e.channel} type={e.type}")
                        if e.t_sample > lib.ctid_media_time(m):
                            fail("event in the future")
                    if k < 32:
                        break
        log("free")
        lib.ctid_media_free(m)
    print("ok")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
