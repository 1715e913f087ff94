"""DTMF generation (the native ``ctid_dtmf_tx_*`` generator) on numpy arrays.

Detection runs in the multi-channel :class:`ctid.dsp.Bank` (``bank.set_mask(ch, "dtmf")``); parameters are
:class:`ctid.dsp.params.DtmfParams`.

>>> pcm = generate("0123456789*#ABCD", level_dbm0=-10.0, twist_db=2.0, on_ms=50, off_ms=50)
>>> gen = DtmfGenerator(on_ms=80, off_ms=80)
>>> gen.put("123")
>>> block = gen.generate(160)          # 20 ms; shorter once the queue runs dry
"""
from __future__ import annotations

import numpy as np

from ._native import ffi, lib
from .bank import DspError, check

DIGITS = "0123456789*#ABCD"

# Nominal frequencies (ITU-T Q.23), Hz: row (low group) and column (high group) of each key.
ROW_FREQS = (697.0, 770.0, 852.0, 941.0)
COL_FREQS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")


def digit_freqs(digit: str) -> tuple[float, float]:
    """(low, high) nominal frequencies of a DTMF digit."""
    d = digit.upper()
    for r, row in enumerate(KEYPAD):
        c = row.find(d)
        if c >= 0 and len(d) == 1:
            return ROW_FREQS[r], COL_FREQS[c]
    raise ValueError(f"not a DTMF digit: {digit!r} (use 0-9 * # A-D)")


def _defaults() -> dict:
    p = ffi.new("ctid_dtmf_tx_params_t *")
    lib.ctid_dtmf_tx_defaults(p)
    return {"level_dbm0": p.level_dbm0, "twist_db": p.twist_db, "on_ms": p.on_ms, "off_ms": p.off_ms}


DEFAULTS = _defaults()


class DtmfGenerator:
    """Streaming DTMF generator: queue digits with :meth:`put`, pull samples with :meth:`generate`.

    ``level_dbm0`` is the low-group tone's level, ``twist_db`` the high-group level minus the low-group
    level; each digit is ``on_ms`` of tone then ``off_ms`` of silence. Defaults come from the native
    ``ctid_dtmf_tx_defaults`` (Q.23 practice: -10 dBm0, +2 dB, 80/80 ms).
    """

    def __init__(self, level_dbm0: float | None = None, twist_db: float | None = None,
                 on_ms: int | None = None, off_ms: int | None = None):
        p = ffi.new("ctid_dtmf_tx_params_t *")
        lib.ctid_dtmf_tx_defaults(p)
        if level_dbm0 is not None:
            p.level_dbm0 = float(level_dbm0)
        if twist_db is not None:
            p.twist_db = float(twist_db)
        if on_ms is not None:
            p.on_ms = int(on_ms)
        if off_ms is not None:
            p.off_ms = int(off_ms)
        ptr = lib.ctid_dtmf_tx_new(p)
        if ptr == ffi.NULL:
            raise DspError(
                f"invalid DTMF generator parameters: level {p.level_dbm0} dBm0, twist {p.twist_db} dB "
                f"(each tone at most +3.1 dBm0), on {p.on_ms} ms (1..60000), off {p.off_ms} ms (0..60000)"
            )
        self._g = ffi.gc(ptr, lib.ctid_dtmf_tx_free)
        self.level_dbm0 = float(p.level_dbm0)
        self.twist_db = float(p.twist_db)
        self.on_ms = int(p.on_ms)
        self.off_ms = int(p.off_ms)

    def put(self, digits: str) -> int:
        """Queue digits (0-9 * # A-D, a-d accepted); returns how many were queued. A bad digit queues none."""
        if not isinstance(digits, str):
            raise TypeError("digits must be a str")
        bad = [d for d in digits if d.upper() not in DIGITS]
        if bad:
            raise ValueError(f"not DTMF digits: {''.join(bad)!r} (use 0-9 * # A-D)")
        return check(lib.ctid_dtmf_tx_put(self._g, digits.encode("ascii")), "DTMF queue")

    @property
    def pending(self) -> int:
        """Samples still to be generated for the queued digits (tones and pauses)."""
        return check(lib.ctid_dtmf_tx_pending(self._g), "DTMF pending")

    def generate(self, n: int | None = None) -> np.ndarray:
        """Up to ``n`` int16 samples (all pending ones if ``n`` is None); fewer when the queue runs dry."""
        if n is None:
            n = self.pending
        if n < 0:
            raise ValueError("sample count must be >= 0")
        out = np.zeros(n, dtype=np.int16)
        got = check(lib.ctid_dtmf_tx_generate(self._g, ffi.from_buffer("int16_t[]", out), n), "DTMF generate")
        return out[:got]

    def reset(self) -> None:
        """Drop queued digits and restart."""
        lib.ctid_dtmf_tx_reset(self._g)


def generate(digits: str, level_dbm0: float = -10.0, twist_db: float = 0.0, on_ms: int = 50,
             off_ms: int = 50) -> np.ndarray:
    """The digits as int16 8 kHz PCM: each digit ``on_ms`` of tone then ``off_ms`` of silence."""
    gen = DtmfGenerator(level_dbm0=level_dbm0, twist_db=twist_db, on_ms=on_ms, off_ms=off_ms)
    gen.put(digits)
    return gen.generate()
