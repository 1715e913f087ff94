"""G.711 against the standard's own description (ITU-T G.711 tables 1a/2a), independently of the C code.

The reference below is built from the segment end points and quantisation steps as G.711 states them, using
numpy searchsorted on the decision values, not the bit manipulations of native/g711.c. spandsp's g711.h is the
second, external reference (tests/test_spandsp_interop.py).
"""
import numpy as np
import pytest

from ctid.dsp import g711

ALL16 = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)


def alaw_reference_decode():
    """Decoder output for each A-law code (after even-bit inversion), from G.711 table 1a (13-bit, x8)."""
    out = {}
    for sign in (0, 1):
        for seg in range(8):
            for q in range(16):
                # 13-bit magnitudes: segment 0 spans 0..32 and segment 1 32..64, both in steps of 2; segment
                # s >= 2 spans 32 << (s-1) .. 32 << s in steps of 2 << (s-1). Reconstruction at the midpoint.
                step = 2 if seg <= 1 else 2 << (seg - 1)
                base = 0 if seg == 0 else 32 << (seg - 1)
                mag13 = base + q * step + step // 2
                code = (sign << 7) | (seg << 4) | q
                val = mag13 * 8 if sign else -mag13 * 8
                out[code ^ 0x55] = val
    return out


def test_alaw_decode_matches_g711_table():
    ref = alaw_reference_decode()
    got = g711.alaw_decode(np.arange(256, dtype=np.uint8))
    assert {c: int(v) for c, v in enumerate(got)} == ref


def test_alaw_encode_is_nearest_decision_interval():
    # Encoding picks the interval the input falls in: decision values are midway between the reconstruction
    # values of adjacent codes; G.711 intervals are closed at the lower magnitude end.
    ref = alaw_reference_decode()
    codes = g711.alaw_encode(ALL16)
    dec = np.array([ref[int(c)] for c in codes])
    err = np.abs(dec - ALL16.astype(np.int32))
    # Each reconstruction is the midpoint of its interval: error at most half the step of its segment (x8).
    mag = np.abs(dec)
    half_step = np.where(mag < 512, 8, 0)
    for seg in range(2, 8):
        lo, hi = (32 << (seg - 1)) * 8, (32 << seg) * 8
        half_step = np.where((mag >= lo) & (mag < hi), (1 << (seg - 1)) * 8, half_step)
    assert np.all(err <= half_step + 8), "quantisation error above half a step"
    # Monotonic: larger input never gives a smaller reconstruction.
    assert np.all(np.diff(dec) >= 0)


def test_alaw_known_values():
    assert g711.alaw_encode(np.array([0], np.int16))[0] == 0xD5   # A-law idle/silence pattern
    assert g711.alaw_encode(np.array([-1], np.int16))[0] == 0x55
    assert g711.alaw_decode(bytes([0xD5]))[0] == 8
    assert g711.alaw_decode(bytes([0xAA]))[0] == 32256         # largest positive
    assert g711.alaw_decode(bytes([0x2A]))[0] == -32256
    assert g711.alaw_encode(np.array([32767], np.int16))[0] == 0xAA
    assert g711.alaw_encode(np.array([-32768], np.int16))[0] == 0x2A


def test_alaw_codes_round_trip():
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(g711.alaw_encode(g711.alaw_decode(codes)), codes)


def ulaw_reference_decode():
    """mu-law reconstruction from G.711 table 2a (14-bit): segment s spans (32 << s) - 33 .. (64 << s) - 33 in
    steps of 2 << s, reconstructing at the interval midpoints (segment 0's first interval -1..1 gives 0)."""
    out = {}
    for sign in (0, 1):
        for seg in range(8):
            for q in range(16):
                step = 2 << seg
                mag14 = (32 << seg) - 33 + q * step + step // 2
                code = ((sign << 7) | (seg << 4) | q) ^ 0x7F
                out[code] = mag14 * 4 if sign else -mag14 * 4
    return out


def test_ulaw_decode_matches_g711_table():
    ref = ulaw_reference_decode()
    got = g711.ulaw_decode(np.arange(256, dtype=np.uint8))
    assert {c: int(v) for c, v in enumerate(got)} == ref


def test_ulaw_known_values_and_round_trip():
    assert g711.ulaw_encode(np.array([0], np.int16))[0] == 0xFF
    assert g711.ulaw_decode(bytes([0x80]))[0] == 32124
    assert g711.ulaw_decode(bytes([0x00]))[0] == -32124
    codes = np.array([c for c in range(256) if c != 0x7F], dtype=np.uint8)  # 0x7F is negative zero
    assert np.array_equal(g711.ulaw_encode(g711.ulaw_decode(codes)), codes)
    assert g711.ulaw_encode(g711.ulaw_decode(bytes([0x7F])))[0] == 0xFF
    dec = g711.ulaw_decode(g711.ulaw_encode(ALL16)).astype(np.int32)
    assert np.all(np.diff(dec) >= 0)


def _mu_number(code):      # G.711 table 2: mu-law value number 0..127 and sign (True = negative)
    u = code ^ 0xFF
    return u & 0x7F, bool(u & 0x80)


def _a_number(code):       # G.711 table 1: A-law value number 1..128 and sign
    a = code ^ 0xD5
    return (a & 0x7F) + 1, bool(a & 0x80)


def test_transcoding_double_conversion_follows_g711_notes():
    """G.711 tables 3 and 4, notes 2: a mu-A-mu double conversion changes only mu-law values 0, 2, 4, ..., 14
    (each increased by one, only bit 8 changing); an A-mu-A one changes only A-law values 26, 28, 30, 32, 45,
    47, 63 and 80 (only bit 8 changing). Everything else is transparent."""
    from ctid.dsp._native import lib

    for code in range(256):
        back = lib.ctid_alaw_to_ulaw(lib.ctid_ulaw_to_alaw(code))
        n, neg = _mu_number(code)
        if n in (0, 2, 4, 6, 8, 10, 12, 14):
            assert back == code ^ 0x01 and _mu_number(back) == (n + 1, neg), hex(code)
        else:
            assert back == code, hex(code)
        back = lib.ctid_ulaw_to_alaw(lib.ctid_alaw_to_ulaw(code))
        m, neg = _a_number(code)
        if m in (26, 28, 30, 32, 45, 47, 63, 80):
            assert back == code ^ 0x01, hex(code)
        else:
            assert back == code, hex(code)


def test_transcoding_is_monotonic_signed_and_close():
    from ctid.dsp._native import lib

    u2a = [_a_number(lib.ctid_ulaw_to_alaw(c)) for c in range(256)]
    a2u = [_mu_number(lib.ctid_alaw_to_ulaw(c)) for c in range(256)]
    for code in range(256):   # the sign is kept, including mu-law's negative zero (0x7F -> A-law -1: 0x55)
        assert u2a[code][1] == _mu_number(code)[1] and a2u[code][1] == _a_number(code)[1]
    assert lib.ctid_ulaw_to_alaw(0x7F) == 0x55 and lib.ctid_ulaw_to_alaw(0xFF) == 0xD5
    by_mu = [u2a[c][0] for c in sorted(range(128, 256), key=lambda c: _mu_number(c)[0])]
    by_a = [a2u[c][0] for c in sorted((c for c in range(256) if not _a_number(c)[1]), key=lambda c: _a_number(c)[0])]
    assert all(x <= y for x, y in zip(by_mu, by_mu[1:])) and all(x <= y for x, y in zip(by_a, by_a[1:]))
    assert by_mu[0] == 1 and by_mu[-1] == 128 and by_a[0] == 1 and by_a[-1] == 127
    # The converted value stays within one A-law (resp. mu-law) step of the original.
    for code in range(256):
        a = lib.ctid_ulaw_to_alaw(code)
        v, w = int(g711.ulaw_decode(bytes([code]))[0]), int(g711.alaw_decode(bytes([a]))[0])
        assert abs(v - w) <= max(16, abs(v) // 16 + 8), (hex(code), v, w)


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_bank_vector_decode_equals_g711_for_every_code(law):
    """The bank's float decode stage agrees with G.711 for all 256 codes and respects the row stride."""
    from ctid.dsp._native import ffi, lib

    codes = np.tile(np.arange(256, dtype=np.uint8), 3)          # 3 frames of 256 "channels"
    out = np.full(3 * 264, -1.0, dtype=np.float32)               # stride 264: padding must stay untouched
    rc = lib.ctid_g711_decode_rows(lib.CTID_LAW_ALAW if law == "alaw" else lib.CTID_LAW_ULAW,
                                   ffi.from_buffer("uint8_t[]", codes), 256,
                                   ffi.from_buffer("float[]", out), 264, 3)
    assert rc == 0
    ref = (g711.alaw_decode if law == "alaw" else g711.ulaw_decode)(np.arange(256, dtype=np.uint8))
    rows = out.reshape(3, 264)
    for r in rows:
        assert np.array_equal(r[:256], ref.astype(np.float32))
        assert np.all(r[256:] == -1.0)
    assert lib.ctid_g711_decode_rows(lib.CTID_LAW_LINEAR16, ffi.from_buffer("uint8_t[]", codes), 256,
                                     ffi.from_buffer("float[]", out), 264, 1) == lib.CTID_ERR_ARG
