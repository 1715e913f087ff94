"""Test signals synthesised with numpy alone (independent of ctid's generators and of spandsp).

Levels are dBm0 with the A-law convention used throughout ctid: a 0 dBm0 sine has peak 22827 (int16 scale),
so a full-scale sine is +3.14 dBm0 (ITU-T G.711 / O.131 digital milliwatt).
Frequencies: DTMF ITU-T Q.23; MFC R2 ITU-T Q.441 (forward 1380..1980, backward 1140..540 Hz, 120 Hz apart);
China call-progress 450 Hz (YD/T 1277, Asterisk indications.conf [cn]).
"""
from __future__ import annotations

import numpy as np

RATE = 8000
DBM0_PEAK = 22827.0

DTMF_LOW = (697.0, 770.0, 852.0, 941.0)          # Q.23 low group
DTMF_HIGH = (1209.0, 1336.0, 1477.0, 1633.0)     # Q.23 high group
DTMF_KEYS = ("123A", "456B", "789C", "*0#D")
DTMF_DIGITS = "0123456789*#ABCD"

R2_FWD = (1380.0, 1500.0, 1620.0, 1740.0, 1860.0, 1980.0)   # Q.441 forward f0..f5
R2_BWD = (1140.0, 1020.0, 900.0, 780.0, 660.0, 540.0)       # Q.441 backward f0..f5
R2_SIGNALS = "1234567890BCDEF"
# Q.441 2-out-of-6 code: signal n (1..15) -> pair of frequency indices
R2_PAIRS = [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3), (0, 4), (1, 4), (2, 4), (3, 4),
            (0, 5), (1, 5), (2, 5), (3, 5), (4, 5)]

CHINA_TONE_HZ = 450.0


def peak(dbm0: float) -> float:
    return DBM0_PEAK * 10.0 ** (dbm0 / 20.0)


def dtmf_freqs(digit: str) -> tuple[float, float]:
    for r, row in enumerate(DTMF_KEYS):
        c = row.find(digit.upper())
        if c >= 0:
            return DTMF_LOW[r], DTMF_HIGH[c]
    raise ValueError(f"not a DTMF digit: {digit!r}")


def r2_freqs(signal: str, backward: bool = False) -> tuple[float, float]:
    i, j = R2_PAIRS[R2_SIGNALS.index(signal.upper())]
    f = R2_BWD if backward else R2_FWD
    return f[i], f[j]


def tones(n: int, freqs, levels_dbm0, phase=None, rng=None) -> np.ndarray:
    """Sum of sines (float64, int16 scale) of n samples; random start phases when rng is given."""
    t = np.arange(n) / RATE
    x = np.zeros(n)
    for k, (f, lv) in enumerate(zip(freqs, levels_dbm0)):
        ph = rng.uniform(0, 2 * np.pi) if rng is not None else (0.0 if phase is None else phase[k])
        x += peak(lv) * np.sin(2 * np.pi * f * t + ph)
    return x


def dtmf(digit: str, ms: float, level_dbm0: float = -10.0, twist_db: float = 0.0, offset_pct: float = 0.0,
         rng=None) -> np.ndarray:
    """One DTMF digit; level is the low-group tone, twist = high minus low (dB)."""
    lo, hi = dtmf_freqs(digit)
    k = 1.0 + offset_pct / 100.0
    return tones(int(round(ms * 8)), (lo * k, hi * k), (level_dbm0, level_dbm0 + twist_db), rng=rng)


def r2(signal: str, ms: float, backward: bool = False, level_dbm0: float = -11.0, diff_db: float = 0.0,
       offset_hz: float = 0.0, rng=None) -> np.ndarray:
    f1, f2 = r2_freqs(signal, backward)
    return tones(int(round(ms * 8)), (f1 + offset_hz, f2 + offset_hz), (level_dbm0, level_dbm0 + diff_db), rng=rng)


def cadence(freq: float, segs_ms, cycles: int, level_dbm0: float = -10.0, rng=None) -> np.ndarray:
    """A cadenced single tone: segs_ms = (on, off, on, off, ...), repeated `cycles` times. Phase-continuous."""
    total = int(round(sum(segs_ms) * cycles * 8))
    x = tones(total, (freq,), (level_dbm0,), rng=rng)
    gate = np.zeros(total)
    pos = 0
    for _ in range(cycles):
        for i, ms in enumerate(segs_ms):
            n = int(round(ms * 8))
            if i % 2 == 0:
                gate[pos:pos + n] = 1.0
            pos += n
    return x * gate


def speechlike(n: int, level_dbm0: float, rng) -> np.ndarray:
    """Band-limited noise (300-3400 Hz) with a 3-6 Hz syllabic envelope: a cheap stand-in for speech energy."""
    from scipy.signal import butter, sosfilt

    sos = butter(4, (300, 3400), btype="bandpass", fs=RATE, output="sos")
    x = sosfilt(sos, rng.standard_normal(n))
    t = np.arange(n) / RATE
    env = np.clip(np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6.28)), 0, None) ** 0.5
    x *= env
    rms = np.sqrt(np.mean(x * x)) + 1e-12
    return x * (peak(level_dbm0) / np.sqrt(2) / rms)


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


# ------------------------------------------------------------------------------------------------ A-law (numpy)
def alaw_encode(x: np.ndarray) -> np.ndarray:
    """G.711 A-law encoder in numpy (independent of ctid's C code): 13-bit magnitude, segment, even-bit inversion."""
    lin = np.asarray(x).astype(np.int32)
    mag = np.where(lin >= 0, lin, -lin - 1) >> 3          # 12-bit magnitude (13-bit sign-magnitude)
    mag = np.minimum(mag, 4095)
    seg = np.zeros_like(mag)
    for s in range(1, 8):
        seg = np.where(mag >= (16 << s), s, seg)
    q = np.where(seg == 0, mag >> 1, (mag >> seg) & 0x0F)
    code = (seg << 4) | q
    code = np.where(lin >= 0, code | 0x80, code)
    return (code ^ 0x55).astype(np.uint8)
