"""Call-progress tone generator (native ``ctid_tone_gen``): any :class:`~ctid.dsp.tones.ToneDef`, cadenced,
one or two frequencies each at the tone's level (or an override), repeating forever.

>>> pcm = generate("busy", 2000)                       # 2 s of China busy tone, int16 at 8 kHz
>>> gen = ToneGenerator(tones_for("cn")[0]); gen.generate(160)
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ._native import ffi, lib
from .tones import ToneDef, tone_def_to_c, tones_for

RATE = 8000


def _resolve(tone: ToneDef | str, level_dbm0: float | None, country: str) -> ToneDef:
    if isinstance(tone, str):
        table = {t.name: t for t in tones_for(country)}
        if tone not in table:
            raise ValueError(f"no tone {tone!r} in the {country} table; known: {', '.join(table)}")
        tone = table[tone]
    if not isinstance(tone, ToneDef):
        raise ValueError(f"a tone is a ToneDef or a tone name, not {type(tone).__name__}")
    if level_dbm0 is not None:
        tone = dataclasses.replace(tone, level_dbm0=float(level_dbm0))   # re-validated by ToneDef
    return tone


class ToneGenerator:
    """Streaming generator: successive :meth:`generate` calls continue the cadence."""

    def __init__(self, tone: ToneDef | str, level_dbm0: float | None = None, country: str = "cn"):
        self.tone = _resolve(tone, level_dbm0, country)
        ptr = lib.ctid_tone_gen_new(tone_def_to_c(self.tone))
        if ptr == ffi.NULL:
            raise ValueError(f"tone generator refused tone {self.tone.name!r}")
        self._g = ffi.gc(ptr, lib.ctid_tone_gen_free)

    def generate(self, n: int) -> np.ndarray:
        """The next ``n`` samples (int16)."""
        if n < 0:
            raise ValueError("sample count must be >= 0")
        out = np.zeros(n, dtype=np.int16)
        if n:
            lib.ctid_tone_gen_generate(self._g, ffi.from_buffer("int16_t[]", out), n)
        return out

    def reset(self) -> None:
        """Restart at the beginning of the first on-segment."""
        lib.ctid_tone_gen_reset(self._g)


def generate(tone: ToneDef | str, ms: float, level_dbm0: float | None = None, country: str = "cn") -> np.ndarray:
    """``ms`` milliseconds of ``tone`` (a ToneDef or a name in the ``country`` table) from the cadence start."""
    if ms < 0:
        raise ValueError("duration must be >= 0 ms")
    return ToneGenerator(tone, level_dbm0, country).generate(int(round(ms * RATE / 1000)))
