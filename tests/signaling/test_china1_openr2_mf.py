"""MFC R2 tones against OpenR2 1.3.3's MF engine (Debian libopenr2-dev), an independent implementation.

OpenR2's generator and receiver run in a separate program of ours (tests/peers/openr2_mf.c, linked statically
against libopenr2.a); audio crosses as A-law bytes, the way TS1..31 of an E1 carry it. Expectations are the
signals that were sent, never a detector's recorded output.

- the peer itself first: OpenR2 tx -> OpenR2 rx, and its A-law output is the G.711 encoding of its linear output
  (so the A-law path is the standard one, not a private code);
- every forward signal (15, 2-of-6, 1380..1980 Hz) and every backward signal (15 of ITU R2, and the 6 China No.1
  2-of-4 signals over 1140..780 Hz) of ctid's generator is recognised by OpenR2's receiver, and every one of
  OpenR2's by ctid's Bank (``r2f``, ``r2b``, ``r2b`` with the China 2-of-4 parameters), at several cadences and
  offsets in one multi-channel bank.
"""
from __future__ import annotations

import numpy as np
import pytest

from ctid.dsp import Bank
from ctid.dsp.g711 import alaw_decode, alaw_encode
from ctid.dsp.params import R2Params
from ctid.dsp.r2mf import CHINA_BACKWARD_SIGNALS, SIGNALS, generate

pytestmark = pytest.mark.openr2

ALAW_IDLE = 0xD5
CADENCES = [(60, 60), (100, 100), (150, 60), (80, 200)]     # on/off ms; compelled cycles run ~ 60..150 ms on
GROUPS = [
    # id, backward, signals, China 2-of-4 receiver
    ("fwd", False, SIGNALS, False),
    ("bwd", True, SIGNALS, False),
    ("bwd-china", True, CHINA_BACKWARD_SIGNALS, True),
]


def rotate(s: str, k: int) -> str:
    k %= len(s)
    return s[k:] + s[:k]


# ---------------------------------------------------------------------------------------------- the peer itself
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "bwd"])
def test_peer_self_check(openr2_mf, backward):
    """OpenR2 tx -> OpenR2 rx: the peer works, so failures below are about ctid."""
    audio = openr2_mf.tx(SIGNALS, backward=backward)
    assert audio.dtype == np.uint8 and len(audio) == len(SIGNALS) * 1600
    assert openr2_mf.rx(audio, backward=backward).digits == SIGNALS


@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "bwd"])
def test_peer_alaw_is_g711(openr2_mf, backward):
    """The peer's A-law output is ctid's (spandsp-exact) G.711 encoding of its linear output, and its receiver
    decodes A-law the same way (a linear feed of our decoded A-law gives the same report as the A-law feed)."""
    lin = openr2_mf.tx("159CF", backward=backward, law="linear")
    assert np.any(lin != 0)
    assert np.array_equal(openr2_mf.tx("159CF", backward=backward), alaw_encode(lin))
    codes = np.arange(256, dtype=np.uint8)
    probe = np.concatenate([alaw_encode(lin), np.tile(codes, 10)])
    a = openr2_mf.rx(probe, backward=backward)
    b = openr2_mf.rx(alaw_decode(probe), backward=backward, law="linear")
    assert a.digits == b.digits == "159CF" and [e.t for e in a.events] == [e.t for e in b.events]


# ---------------------------------------------------------------------------------------------- ours -> OpenR2
@pytest.mark.parametrize("on_ms,off_ms", CADENCES)
@pytest.mark.parametrize("gid,backward,signals,china", GROUPS, ids=[g[0] for g in GROUPS])
def test_our_signals_into_openr2(openr2_mf, gid, backward, signals, china, on_ms, off_ms):
    tx = generate(signals, backward=backward, on_ms=on_ms, off_ms=off_ms)      # -11 dBm0 per tone
    assert np.any(tx != 0), "ctid's R2 generator produced silence"
    got = openr2_mf.rx(alaw_encode(tx), backward=backward)
    assert got.digits == signals
    assert len(got.ons) == len(signals) and all(e.type in ("on", "off") for e in got.events)


# ---------------------------------------------------------------------------------------------- OpenR2 -> ours
def _bank_for(backward: bool, china: bool, nchan: int) -> Bank:
    bank = Bank(nchan, law="alaw")
    if backward:
        bank.set_r2_params(R2Params.defaults(backward=True, china=china))
    bank.set_mask_all("r2b" if backward else "r2f")
    return bank


@pytest.mark.parametrize("gid,backward,signals,china", GROUPS, ids=[g[0] for g in GROUPS])
def test_openr2_signals_into_our_bank(openr2_mf, gid, backward, signals, china):
    """OpenR2's tones, one channel per (cadence, rotation), each channel delayed by a different offset so the
    tones start at every phase of our 20 ms block, all through one Bank."""
    sent, chans = [], []
    for c in range(2 * len(CADENCES)):
        on_ms, off_ms = CADENCES[c % len(CADENCES)]
        s = rotate(signals, c)
        sent.append(s)
        chans.append(openr2_mf.tx(s, backward=backward, on_ms=on_ms, off_ms=off_ms))
    lead = [37 * c for c in range(len(chans))]
    n = max(len(a) + d for a, d in zip(chans, lead)) + 1600
    fr = np.full((n - n % 160 + 160, len(chans)), ALAW_IDLE, dtype=np.uint8)
    for c, (a, d) in enumerate(zip(chans, lead)):
        fr[d:d + len(a), c] = a
    bank = _bank_for(backward, china, len(chans))
    kind = "r2b" if backward else "r2f"
    got = [""] * len(chans)
    for i in range(0, len(fr), 160):
        for e in bank.process(fr[i:i + 160]):
            if e.kind == kind and e.type == "on":
                got[e.channel] += e.value
    assert got == sent


# ------------------------------------------------------------------------- the daemon's native tones -> OpenR2
@pytest.mark.parametrize("gid,backward,signals,china", GROUPS, ids=[g[0] for g in GROUPS])
def test_native_media_tick_tones_into_openr2(openr2_mf, gid, backward, signals, china):
    """The MF signals of the daemon's path (the native tone of the batched media tick, set and released per
    signal as the China No.1 trunk does, 20 ms ticks) are recognised by OpenR2's receiver."""
    from ctid.dsp import r2mf
    from ctid.dsp._native import ffi, lib
    from ctid.dsp.tones import tone_def_to_c

    nch, ch = 4, 2
    m = ffi.gc(lib.ctid_media_new(nch), lib.ctid_media_free)
    rx = np.full((160, nch), ALAW_IDLE, np.uint8)
    tx = np.empty_like(rx)
    out = []

    def tick():
        assert lib.ctid_media_tick(m, ffi.from_buffer("uint8_t[]", rx), ffi.from_buffer("uint8_t[]", tx), 160, nch) >= 0
        out.append(tx[:, ch].copy())

    for k, sig in enumerate(signals):
        on_ticks, off_ticks = 3 + k % 4, 3 + (k * 3) % 4            # 60..120 ms on, 60..120 ms off
        assert lib.ctid_media_tone(m, ch, tone_def_to_c(r2mf.tone_def(sig, backward)), 0, k + 1) == 0
        for _ in range(on_ticks):
            tick()
        assert lib.ctid_media_tone_release(m, ch, r2mf.RAMP_SAMPLES) == 1
        for _ in range(off_ticks):
            tick()
    got = openr2_mf.rx(np.concatenate(out), backward=backward)
    assert got.digits == signals
    assert len(got.ons) == len(signals)
