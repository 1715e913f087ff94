"""Interoperability with spandsp 0.0.6 (Debian libspandsp-dev), an independent implementation.

spandsp runs as a separate program of ours (tests/peers/spandsp_peer.c) that links against it; audio crosses
as A-law bytes, the way an E1 carries it. Expectations are what was sent, never a detector's recorded output.

- G.711: bit-exact against spandsp's g711.h for all 65536 linear inputs and all 256 codes.
- DTMF: our generator -> spandsp dtmf_rx, and spandsp dtmf_tx -> our Bank, all 16 digits.
- MFC R2: all 15 signals, forward and backward, our r2mf_tx -> spandsp r2_mf_rx and spandsp r2_mf_tx -> our Bank.
- Call progress: our China tone generator -> spandsp super_tone_rx (the sent tone is among its reports).
- Caller ID: Bell 202 (spandsp ADSI "CLASS") and V.23 ("CLIP") on-hook transmissions both ways: our fsk_tx ->
  spandsp adsi_rx, spandsp adsi_tx -> our Bank (message bytes compared, checksum verified).
The peer itself is checked first (spandsp's own tx -> rx), so a broken peer is not mistaken for a ctid fault.
"""
from __future__ import annotations

import numpy as np
import pytest

from ctid.dsp import Bank, g711
from ctid.dsp._native import ffi, lib

pytestmark = pytest.mark.spandsp

DTMF_DIGITS = "0123456789*#ABCD"
R2_SIGNALS = "1234567890BCDEF"      # Q.441 signals 1..15 (10 = '0', 11..15 = B..F)
ALAW_IDLE = 0xD5                    # G.711 A-law code of +0 (idle channel pattern)
NCHAN = 37                          # not a multiple of the 8-lane tile: a partial tile exists


def rotate(s: str, k: int) -> str:
    k %= len(s)
    return s[k:] + s[:k]


# ---------------------------------------------------------------------------------------------- G.711
@pytest.fixture(scope="module")
def tables(spandsp):
    return spandsp.g711_tables()


ALL16 = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)
CODES = np.arange(256, dtype=np.uint8)


def test_alaw_encode_bit_exact_all_inputs(tables):
    assert np.array_equal(g711.alaw_encode(ALL16), tables["linear_to_alaw"])


def test_alaw_decode_bit_exact_all_codes(tables):
    assert np.array_equal(g711.alaw_decode(CODES), tables["alaw_to_linear"])


def test_ulaw_decode_bit_exact_all_codes(tables):
    assert np.array_equal(g711.ulaw_decode(CODES), tables["ulaw_to_linear"])


def test_ulaw_encode_all_inputs(tables):
    """mu-law encode: identical for x >= -1; below that ctid follows ITU-T G.191 (one's complement of negative
    inputs, |x| - 1) where spandsp negates (|x|), so ctid(x) must equal spandsp(x + 1) for every x <= -2.
    Both rules agree except at the 127 negative decision values: that count is checked too."""
    ours = g711.ulaw_encode(ALL16)
    theirs = tables["linear_to_ulaw"]
    nonneg = ALL16 >= -1
    assert np.array_equal(ours[nonneg], theirs[nonneg])
    # theirs is indexed by x + 32768, so spandsp(x + 1) for x = -32768..-2 is theirs[1:32768]
    assert np.array_equal(ours[:32767], theirs[1:32768])
    differ = int(np.count_nonzero(ours != theirs))
    assert differ == 127, f"{differ} inputs differ (expected the 127 negative mu-law decision values)"


def test_alaw_ulaw_transcoding_against_spandsp(tables):
    """ctid implements G.711 tables 3 and 4 (tests/test_g711.py checks the standard's double-conversion notes).
    spandsp 0.0.6's tables agree everywhere except at mu-law value 80 and A-law value 80 (both signs): there
    spandsp maps mu 80 -> A 80 and A 80 -> mu 80, which would make the A-mu-A double conversion transparent
    for A 80 and not for A 81, contrary to G.711's note naming A 80 among the changed values."""
    a2u = np.array([lib.ctid_alaw_to_ulaw(int(c)) for c in CODES], dtype=np.uint8)
    u2a = np.array([lib.ctid_ulaw_to_alaw(int(c)) for c in CODES], dtype=np.uint8)
    mu80 = {c for c in range(256) if ((c ^ 0xFF) & 0x7F) == 80}
    a80 = {c for c in range(256) if ((c ^ 0xD5) & 0x7F) + 1 == 80}
    assert {int(c) for c in CODES if u2a[c] != tables["ulaw_to_alaw"][c]} == mu80
    assert {int(c) for c in CODES if a2u[c] != tables["alaw_to_ulaw"][c]} == a80
    # spandsp's own double conversion at those points, against G.711's note for A-mu-A:
    theirs = {int(c): int(tables["ulaw_to_alaw"][tables["alaw_to_ulaw"][c]]) for c in a80}
    assert all(back == c for c, back in theirs.items()), "spandsp's A 80 round trip (documented difference)"


# ---------------------------------------------------------------------------------------------- helpers
def our_dtmf_tx(digits: str, level: float | None = None, twist: float | None = None,
                on_ms: int | None = None, off_ms: int | None = None) -> np.ndarray:
    """ctid's DTMF generator through the C API (int16), its defaults unless overridden."""
    p = ffi.new("ctid_dtmf_tx_params_t *")
    lib.ctid_dtmf_tx_defaults(p)
    if level is not None:
        p.level_dbm0 = level
    if twist is not None:
        p.twist_db = twist
    if on_ms is not None:
        p.on_ms = on_ms
    if off_ms is not None:
        p.off_ms = off_ms
    s = ffi.gc(lib.ctid_dtmf_tx_new(p), lib.ctid_dtmf_tx_free)
    assert s != ffi.NULL, "ctid_dtmf_tx_new refused its own defaults"
    assert lib.ctid_dtmf_tx_put(s, digits.encode()) >= 0
    out, buf = [], np.zeros(160, np.int16)
    for _ in range(100000):
        n = lib.ctid_dtmf_tx_generate(s, ffi.from_buffer("int16_t[]", buf), 160)
        if n > 0:
            out.append(buf[:n].copy())
        if n < 160:
            break
    return np.concatenate(out) if out else np.zeros(0, np.int16)


def our_r2_tx(signals: str, backward: bool, on_ms: int = 100, off_ms: int = 100,
              level: float = -11.0) -> np.ndarray:
    """ctid's R2 generator (int16): each signal on_ms then off_ms of silence. -11 dBm0 per tone (China No.1)."""
    s = ffi.gc(lib.ctid_r2mf_tx_new(int(backward), level), lib.ctid_r2mf_tx_free)
    assert s != ffi.NULL
    out = []
    for sig, dur in _interleave(signals, on_ms, off_ms):
        assert lib.ctid_r2mf_tx_set(s, ord(sig) if sig else 0) == 0, sig
        buf = np.zeros(dur * 8, np.int16)
        assert lib.ctid_r2mf_tx_generate(s, ffi.from_buffer("int16_t[]", buf), len(buf)) == len(buf)
        out.append(buf)
    return np.concatenate(out)


def _interleave(signals, on_ms, off_ms):
    for c in signals:
        yield c, on_ms
        yield "", off_ms


def our_tone_tx(tone, ms: int) -> np.ndarray:
    from ctid.dsp.tones import tone_def_to_c

    s = ffi.gc(lib.ctid_tone_gen_new(tone_def_to_c(tone)), lib.ctid_tone_gen_free)
    assert s != ffi.NULL
    buf = np.zeros(ms * 8, np.int16)
    lib.ctid_tone_gen_generate(s, ffi.from_buffer("int16_t[]", buf), len(buf))
    return buf


def frames(channels: list[np.ndarray], lead: list[int] | None = None, tail: int = 1600) -> np.ndarray:
    """Interleave per-channel A-law code arrays into frames (n, nchan), idle-padded; channel c delayed by lead[c]."""
    lead = lead or [0] * len(channels)
    n = max(len(a) + d for a, d in zip(channels, lead)) + tail
    out = np.full((n, len(channels)), ALAW_IDLE, dtype=np.uint8)
    for c, (a, d) in enumerate(zip(channels, lead)):
        out[d:d + len(a), c] = a
    return out


def run_bank(fr: np.ndarray, mask: str, tick: int = 160):
    bank = Bank(fr.shape[1], law="alaw")
    bank.set_mask_all(mask)
    events = []
    for i in range(0, len(fr), tick):
        events.extend(bank.process(fr[i:i + tick]))
    return events


def ons_by_channel(events, kind: str, nchan: int) -> list[str]:
    got = [""] * nchan
    for e in events:
        if e.kind == kind and e.type == "on":
            got[e.channel] += e.value
    return got


# ---------------------------------------------------------------------------------------------- the peer itself
def test_peer_self_check_dtmf(spandsp):
    """spandsp tx -> spandsp rx: the peer works, so failures below are about ctid."""
    audio = spandsp.dtmf_tx(DTMF_DIGITS)
    assert audio.dtype == np.uint8 and len(audio) > 16 * 400
    assert spandsp.dtmf_rx(audio).digits == DTMF_DIGITS


@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "bwd"])
def test_peer_self_check_r2(spandsp, backward):
    audio = spandsp.r2_tx(R2_SIGNALS, backward=backward)
    assert spandsp.r2_rx(audio, backward=backward).digits == R2_SIGNALS


# ---------------------------------------------------------------------------------------------- DTMF
@pytest.mark.parametrize("variant", [
    {},                                                            # the generator's defaults
    {"level": -20.0, "twist": 2.0, "on_ms": 70, "off_ms": 70},     # quieter, high group louder
], ids=["defaults", "minus20dBm0"])
def test_our_dtmf_into_spandsp(spandsp, variant):
    tx = our_dtmf_tx(DTMF_DIGITS, **variant)
    assert len(tx) > 0, "ctid's DTMF generator produced no audio"
    audio = np.concatenate([g711.alaw_encode(tx), np.full(800, ALAW_IDLE, np.uint8)])
    assert spandsp.dtmf_rx(audio).digits == DTMF_DIGITS


def test_spandsp_dtmf_into_our_bank(spandsp):
    """37 channels at once, each with its own rotation of the 16 digits, level (-6..-28 dBm0) and start.
    (-6 dBm0 low tone with +3 dB twist still peaks below A-law full scale; -4 dBm0 would clip.)"""
    sent, chans = [], []
    for c in range(NCHAN):
        digits = rotate(DTMF_DIGITS, c)
        level = -6 - (c * 7) % 23
        twist = (-2, 0, 2, 3)[c % 4]
        chans.append(spandsp.dtmf_tx(digits, level=level, twist=twist))
        sent.append(digits)
    fr = frames(chans, lead=[37 * c for c in range(NCHAN)])
    assert ons_by_channel(run_bank(fr, "dtmf"), "dtmf", NCHAN) == sent


def test_spandsp_dtmf_into_our_bank_odd_ticks(spandsp):
    """Same audio in 1..257-frame ticks: block boundaries must not depend on the caller's tick size."""
    sent = [rotate(DTMF_DIGITS, 3 * c) for c in range(9)]
    fr = frames([spandsp.dtmf_tx(d) for d in sent], lead=[101 * c for c in range(9)])
    bank = Bank(9, law="alaw")
    bank.set_mask_all("dtmf")
    rng = np.random.default_rng(7)
    events, i = [], 0
    while i < len(fr):
        k = int(rng.integers(1, 258))
        events.extend(bank.process(fr[i:i + k]))
        i += k
    assert ons_by_channel(events, "dtmf", 9) == sent


# ---------------------------------------------------------------------------------------------- MFC R2
@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "bwd"])
def test_our_r2_into_spandsp(spandsp, backward):
    tx = our_r2_tx(R2_SIGNALS, backward)
    assert np.any(tx != 0), "ctid's R2 generator produced silence"
    audio = g711.alaw_encode(tx)
    assert spandsp.r2_rx(audio, backward=backward).digits == R2_SIGNALS


@pytest.mark.parametrize("backward", [False, True], ids=["fwd", "bwd"])
def test_spandsp_r2_into_our_bank(spandsp, backward):
    sent = [rotate(R2_SIGNALS, c) for c in range(NCHAN)]
    chans = [spandsp.r2_tx(s, backward=backward, on_ms=(80, 100, 150)[c % 3], off_ms=(80, 100, 60)[c % 3])
             for c, s in enumerate(sent)]
    fr = frames(chans, lead=[53 * c for c in range(NCHAN)])
    kind = "r2b" if backward else "r2f"
    assert ons_by_channel(run_bank(fr, kind), kind, NCHAN) == sent


# ---------------------------------------------------------------------------------------------- call progress
@pytest.mark.parametrize("name,ms", [("dial", 3000), ("busy", 3500), ("congestion", 5000), ("ringback", 10000)])
def test_our_china_tones_into_spandsp(spandsp, name, ms):
    from ctid.dsp.tones import china_tones

    tones = china_tones()
    idx = [t.name for t in tones].index(name)
    tx = our_tone_tx(tones[idx], ms)
    assert np.any(tx != 0), "ctid's tone generator produced silence"
    reports = spandsp.cpt_rx(g711.alaw_encode(tx))
    assert idx in [e.value for e in reports.ons], f"spandsp reported {[e.value for e in reports.ons]}"


# ---------------------------------------------------------------------------------------------- caller ID
def cid_message(number: str, name: str, when: str = "11231005") -> bytes:
    """An MDMF call-setup message (type 0x80, length, parameters; no checksum): date/time (1), calling
    number (2), name (7); the layout of Bellcore GR-30 / ETSI EN 300 659-3 / YD/T 1277."""
    body = b""
    for ptype, val in ((0x01, when), (0x02, number), (0x07, name)):
        body += bytes([ptype, len(val)]) + val.encode()
    return bytes([0x80, len(body)]) + body


def with_checksum(msg: bytes) -> bytes:
    """Append the checksum: two's complement of the modulo-256 sum of all preceding bytes (GR-30, EN 300 659)."""
    return msg + bytes([(-sum(msg)) & 0xFF])


def our_fsk_tx(msg: bytes, modem: int, level: float = -13.0, seizure: int = 300, mark: int = 180) -> np.ndarray:
    s = ffi.gc(lib.ctid_fsk_tx_new(modem, level), lib.ctid_fsk_tx_free)
    assert s != ffi.NULL
    data = with_checksum(msg)
    assert lib.ctid_fsk_tx_put(s, data, len(data), seizure, mark) >= 0
    out, buf = [np.zeros(800, np.int16)], np.zeros(160, np.int16)
    for _ in range(10000):
        n = lib.ctid_fsk_tx_generate(s, ffi.from_buffer("int16_t[]", buf), 160)
        if n > 0:
            out.append(buf[:n].copy())
        if n < 160:
            break
    out.append(np.zeros(800, np.int16))
    return np.concatenate(out)


MODEMS = [("class", "CTID_FSK_BELL202"), ("clip", "CTID_FSK_V23")]


@pytest.mark.parametrize("standard", ["class", "clip"])
def test_peer_self_check_callerid(spandsp, standard):
    msg = cid_message("13901248867", "ZHANG WEI")
    assert spandsp.adsi_rx(spandsp.adsi_tx(msg, standard), standard) == [msg]


@pytest.mark.parametrize("standard,modem", MODEMS, ids=["bell202", "v23"])
def test_our_callerid_into_spandsp(spandsp, standard, modem):
    msg = cid_message("13901248867", "ZHANG WEI")
    tx = our_fsk_tx(msg, getattr(lib, modem))
    assert np.any(tx != 0), "ctid's FSK generator produced silence"
    assert spandsp.adsi_rx(g711.alaw_encode(tx), standard) == [msg]


@pytest.mark.parametrize("standard,modem", MODEMS, ids=["bell202", "v23"])
def test_spandsp_callerid_into_our_bank(spandsp, standard, modem):
    from ctid.dsp.params import FskParams

    nchan = 11
    msgs = [cid_message(f"0{c:02d}8765432{c % 10}", f"CALLER {c}", f"1123{c:02d}{c:02d}") for c in range(nchan)]
    fr = frames([spandsp.adsi_tx(m, standard) for m in msgs], lead=[97 * c for c in range(nchan)])
    bank = Bank(nchan, law="alaw")
    bank.set_fsk_params(FskParams(modem=getattr(lib, modem)))
    bank.set_mask_all("cid")
    got = [[] for _ in range(nchan)]
    for i in range(0, len(fr), 160):
        if bank.process_raw(fr[i:i + 160].tobytes()):
            for e in bank.events_array():
                if e["kind"] == lib.CTID_EV_CID and e["type"] == lib.CTID_EVT_MSG:
                    got[int(e["channel"])].append(bank.cid_message(int(e["channel"])))
    assert got == [[with_checksum(m)] for m in msgs]
