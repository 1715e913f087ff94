"""MFC R2 register signals (ITU-T Q.440-Q.442; China No.1 register signalling): tables and generator.

Signals are written ``"1234567890BCDEF"`` (signal 10 is ``"0"``, 11..15 are ``"B"``..``"F"``). Each is two of six
frequencies of the group, f0..f5 in the order below (Q.441 code table). China No.1 backward signalling uses only
f0..f3 of the backward group (1140/1020/900/780 Hz, 2-of-4), i.e. signals 1-6.

Receiving is done by the bank (``Bank.set_mask(ch, "r2f")`` / ``"r2b"``); its events carry ``value`` = the
signal character, ``level`` = the mean level of the two tones (dBm0) and ``aux`` = the level of the pair's
second tone minus its first (f0..f5 order, e.g. for signal 1: L(f1) - L(f0)). Receiver parameters:
:class:`ctid.dsp.params.R2Params` (``R2Params.defaults(backward=True, china=True)`` for China No.1).

>>> pcm = generate("123", backward=False, on_ms=60, off_ms=60)   # int16, 8 kHz
>>> gen = R2Generator(backward=True); gen.set("1"); a = gen.generate(400); gen.set(None); b = gen.generate(80)
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ._native import ffi, lib

RATE = 8000

#: Q.441 forward (I/II) group, f0..f5, Hz.
FORWARD_FREQS = (1380.0, 1500.0, 1620.0, 1740.0, 1860.0, 1980.0)
#: Q.441 backward (A/B) group, f0..f5, Hz.
BACKWARD_FREQS = (1140.0, 1020.0, 900.0, 780.0, 660.0, 540.0)
#: The 15 signals in code order (signal n is SIGNALS[n-1]).
SIGNALS = "1234567890BCDEF"
#: Q.441 code: signal -> (index of the first frequency, index of the second) in f0..f5.
PAIRS = {
    "1": (0, 1), "2": (0, 2), "3": (1, 2), "4": (0, 3), "5": (1, 3), "6": (2, 3), "7": (0, 4), "8": (1, 4),
    "9": (2, 4), "0": (3, 4), "B": (0, 5), "C": (1, 5), "D": (2, 5), "E": (3, 5), "F": (4, 5),
}
#: China No.1 backward signals: 2-of-4 over 1140/1020/900/780 Hz.
CHINA_BACKWARD_SIGNALS = "123456"
CHINA_BACKWARD_FREQS = BACKWARD_FREQS[:4]
#: Nominal send level per tone (Q.441 / China No.1), dBm0.
NOMINAL_LEVEL_DBM0 = -11.0


def _norm(signal) -> str:
    if isinstance(signal, int) and not isinstance(signal, bool):
        if 1 <= signal <= 15:
            return SIGNALS[signal - 1]
        raise ValueError(f"R2 signal number must be 1..15, not {signal}")
    if not isinstance(signal, str) or len(signal) != 1 or signal.upper() not in PAIRS:
        raise ValueError(f"unknown R2 signal {signal!r}; use one of {SIGNALS!r} (or 1..15)")
    return signal.upper()


def signal_number(signal) -> int:
    """``"1"`` -> 1 ... ``"0"`` -> 10, ``"B"`` -> 11 ... ``"F"`` -> 15."""
    return SIGNALS.index(_norm(signal)) + 1


def pair(signal, backward: bool = False) -> tuple[float, float]:
    """The two frequencies (Hz) of a signal, f_a first (Q.441 order)."""
    a, b = PAIRS[_norm(signal)]
    freqs = BACKWARD_FREQS if backward else FORWARD_FREQS
    return freqs[a], freqs[b]


#: Edge ramp of the generator (native r2mf_tx.c R2TX_RAMP), samples: the batched media tick releases a signal
#: with the same length of fade (``ctid_media_tone_release``).
RAMP_SAMPLES = 4
#: name prefix of the tone definitions made by :func:`tone_def` ("R2 fwd 1", "R2 bwd 6")
TONE_PREFIX = "R2 "


def tone_def(signal, backward: bool = False, level_dbm0: float = NOMINAL_LEVEL_DBM0):
    """The R2 signal as a continuous two-frequency :class:`ctid.dsp.tones.ToneDef` (the frequencies of
    :func:`pair`, each at ``level_dbm0``), for the native tone generator of the media tick: the same signal
    :class:`R2Generator` sends, from the same table. Cached (one object per signal, group and level)."""
    key = (_norm(signal), bool(backward), float(level_dbm0))
    t = _TONE_DEFS.get(key)
    if t is None:
        from .tones import ToneDef

        f1, f2 = pair(key[0], key[1])
        t = ToneDef(f"{TONE_PREFIX}{'bwd' if key[1] else 'fwd'} {key[0]}", f1, f2, level_dbm0=key[2],
                    detect_ms=40)       # (detect_ms: for call-progress detectors only; R2 has its own receiver)
        _TONE_DEFS[key] = t
    return t


_TONE_DEFS: dict = {}


class R2Generator:
    """Streaming R2 sender over the native generator: ``set()`` a signal (or None), pull samples.

    The pair stays on until ``set(None)`` (compelled signalling); edges are 0.5 ms raised-cosine ramps,
    phase runs on across ``generate()`` calls.
    """

    def __init__(self, backward: bool = False, level_dbm0: float = NOMINAL_LEVEL_DBM0):
        ptr = lib.ctid_r2mf_tx_new(int(bool(backward)), float(level_dbm0))
        if ptr == ffi.NULL:
            raise ValueError(f"invalid R2 generator level {level_dbm0!r} dBm0 (allowed -90..0)")
        self._g = ffi.gc(ptr, lib.ctid_r2mf_tx_free)
        self.backward = bool(backward)
        self.level_dbm0 = float(level_dbm0)
        self.signal: str | None = None

    def set(self, signal) -> None:
        """Start sending ``signal`` (``"1"``..``"F"`` or 1..15); ``None`` / ``""`` stops."""
        if signal is None or signal == "" or signal == 0:
            lib.ctid_r2mf_tx_set(self._g, 0)
            self.signal = None
            return
        sig = _norm(signal)
        if lib.ctid_r2mf_tx_set(self._g, ord(sig)) < 0:  # pragma: no cover - _norm already validated
            raise ValueError(f"unknown R2 signal {signal!r}")
        self.signal = sig

    def generate(self, n: int) -> np.ndarray:
        """The next ``n`` samples (int16)."""
        n = int(n)
        if n < 0:
            raise ValueError("sample count must be >= 0")
        out = np.zeros(n, dtype=np.int16)
        if n:
            lib.ctid_r2mf_tx_generate(self._g, ffi.from_buffer("int16_t[]", out), n)
        return out

    def reset(self) -> None:
        lib.ctid_r2mf_tx_reset(self._g)
        self.signal = None


def generate(signals: Iterable | str, backward: bool = False, level_dbm0: float = NOMINAL_LEVEL_DBM0,
             on_ms: float = 100.0, off_ms: float = 100.0) -> np.ndarray:
    """A sequence of R2 signals, each ``on_ms`` on then ``off_ms`` off, as int16 8 kHz samples."""
    if on_ms <= 0 or off_ms < 0:
        raise ValueError("on_ms must be > 0 and off_ms >= 0")
    sigs = [_norm(s) for s in signals]
    gen = R2Generator(backward, level_dbm0)
    on_n = int(round(on_ms * RATE / 1000.0))
    off_n = int(round(off_ms * RATE / 1000.0))
    parts = []
    for sig in sigs:
        gen.set(sig)
        parts.append(gen.generate(on_n))
        gen.set(None)
        parts.append(gen.generate(off_n))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)


def receiver_params(backward: bool = False, china: bool = False, **overrides):
    """Receiver parameters for one group (defaults from the native receiver), with overrides."""
    from .params import R2Params

    p = R2Params.defaults(backward=backward, china=china)
    return p.replace(**overrides) if overrides else p
