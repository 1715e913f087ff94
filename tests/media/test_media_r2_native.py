"""MFC R2 register tones from the batched native media tick (the daemon's China No.1 path) against the Python-side
generator they replace (``ctid.dsp.r2mf.R2Generator``): the same two frequencies, the same level per frequency,
measured with a Goertzel filter on the A-law both put on the wire; the release fades out over the generator's
ramp without a TONE_DONE event; the daemon's trunk runs no per-channel Python source while it signals."""
from __future__ import annotations

import numpy as np
import pytest

from ctid.dsp import r2mf
from ctid.dsp._native import ffi, lib
from ctid.dsp.g711 import alaw_decode, alaw_encode
from ctid.dsp.tones import tone_def_to_c

NCH = 3
CH = 1


def goertzel_db(x: np.ndarray, freq: float, rate: int = 8000) -> float:
    """Level of ``freq`` in ``x`` (dB, relative: both sides are measured the same way)."""
    n = len(x)
    w = 2.0 * np.pi * freq / rate
    s1 = s2 = 0.0
    coeff = 2.0 * np.cos(w)
    for v in x.astype(float):
        s1, s2 = v + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 10.0 * np.log10(max(power, 1e-9) * 2.0 / (n * n))


class Media:
    def __init__(self):
        self.m = ffi.gc(lib.ctid_media_new(NCH), lib.ctid_media_free)
        self.rx = np.full((160, NCH), 0xD5, np.uint8)
        self.tx = np.empty_like(self.rx)
        self.ev = ffi.new("ctid_media_event_t[]", 16)

    def tick(self) -> np.ndarray:
        n = lib.ctid_media_tick(self.m, ffi.from_buffer("uint8_t[]", self.rx), ffi.from_buffer("uint8_t[]", self.tx),
                                160, NCH)
        assert n >= 0
        evs = []
        while True:
            k = lib.ctid_media_events(self.m, self.ev, 16)
            if k <= 0:
                break
            evs += [(self.ev[i].type, self.ev[i].value) for i in range(k)]
        self.events = evs
        assert np.all(self.tx[:, [c for c in range(NCH) if c != CH]] == 0xD5)
        return self.tx[:, CH].copy()


def python_wire(sig, backward, blocks=5):
    g = r2mf.R2Generator(backward=backward)
    g.set(sig)
    return alaw_decode(np.concatenate([alaw_encode(g.generate(160)) for _ in range(blocks)]))


def native_wire(sig, backward, blocks=5):
    md = Media()
    assert lib.ctid_media_tone(md.m, CH, tone_def_to_c(r2mf.tone_def(sig, backward)), 0, 7) == 0
    return alaw_decode(np.concatenate([md.tick() for _ in range(blocks)]))


CASES = [(s, False) for s in r2mf.SIGNALS] + [(s, True) for s in r2mf.SIGNALS]


@pytest.mark.parametrize("sig,backward", CASES, ids=[f"{'bwd' if b else 'fwd'}-{s}" for s, b in CASES])
def test_native_tone_equals_the_generator(sig, backward):
    freqs = r2mf.BACKWARD_FREQS if backward else r2mf.FORWARD_FREQS
    want = set(r2mf.pair(sig, backward))                     # the Q.441 code table of ctid.dsp.r2mf
    # skip the first block (the generator's 0.5 ms ramp-up), measure 4 blocks = 80 ms (12.5 Hz bins)
    py, nat = python_wire(sig, backward)[160:], native_wire(sig, backward)[160:]
    lp = {f: goertzel_db(py, f) for f in freqs}
    ln = {f: goertzel_db(nat, f) for f in freqs}
    top_py = set(sorted(freqs, key=lambda f: -lp[f])[:2])
    top_nat = set(sorted(freqs, key=lambda f: -ln[f])[:2])
    assert top_py == want and top_nat == want
    for f in want:
        assert abs(ln[f] - lp[f]) < 0.3, (f, ln[f], lp[f])      # same level per frequency
        others = [ln[g] for g in freqs if g not in want]
        assert ln[f] - max(others) > 25                          # the other four of the group are absent
    # the level is the generator's nominal one: total power of two tones at L dBm0 each = L + 3 dB
    assert abs(10 * np.log10(np.mean(nat.astype(float) ** 2)) - 10 * np.log10(np.mean(py.astype(float) ** 2))) < 0.2


def test_tone_def_is_the_generator_table_and_level():
    for backward in (False, True):
        for s in r2mf.SIGNALS:
            t = r2mf.tone_def(s, backward)
            assert (t.freq1, t.freq2) == r2mf.pair(s, backward)
            assert t.level_dbm0 == r2mf.NOMINAL_LEVEL_DBM0 and t.cadence_ms == ()
    assert r2mf.tone_def("b") is r2mf.tone_def("B")            # cached
    with pytest.raises(ValueError):
        r2mf.tone_def("A")


def test_release_fades_over_the_ramp_without_tone_done():
    md = Media()
    assert lib.ctid_media_tone(md.m, CH, tone_def_to_c(r2mf.tone_def("5", False)), 0, 9) == 0
    md.tick()
    full = np.abs(alaw_decode(md.tick()).astype(int)).max()
    assert lib.ctid_media_tone_release(md.m, CH, r2mf.RAMP_SAMPLES) == 1
    blk = alaw_decode(md.tick()).astype(int)
    assert md.events == []                                     # a release is not a TONE_DONE
    assert np.all(np.abs(blk[r2mf.RAMP_SAMPLES:]) <= 8)       # silence (A-law 0xD5 decodes to +-8)
    assert np.any(np.abs(blk[:r2mf.RAMP_SAMPLES]) > 8)        # the fade
    assert np.all(np.abs(blk[:r2mf.RAMP_SAMPLES]) < full)
    assert lib.ctid_media_tone_release(md.m, CH, 4) == 0      # nothing left
    assert lib.ctid_media_tone_release(md.m, CH, -1) == lib.CTID_ERR_ARG
    assert lib.ctid_media_tone_release(md.m, CH, lib.CTID_MEDIA_MAX_RAMP + 1) == lib.CTID_ERR_ARG
    assert lib.ctid_media_tone_release(md.m, NCH, 4) == lib.CTID_ERR_CHANNEL
    assert lib.ctid_media_tone_release(ffi.NULL, 0, 4) == lib.CTID_ERR_CHANNEL
    # a release with 0 samples stops at once; a timed tone still ends with TONE_DONE
    assert lib.ctid_media_tone(md.m, CH, tone_def_to_c(r2mf.tone_def("5", False)), 0, 9) == 0
    assert lib.ctid_media_tone_release(md.m, CH, 0) == 1
    assert np.all(np.abs(alaw_decode(md.tick()).astype(int)) <= 8)
    assert lib.ctid_media_tone(md.m, CH, tone_def_to_c(r2mf.tone_def("5", False)), 20, 11) == 0
    md.tick()
    assert md.events == [(lib.CTID_MEDIA_EV_TONE_DONE, 11)]
