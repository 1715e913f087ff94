"""Turning prompt parts into A-law for :meth:`MediaChannel.play`: audio files, tones, silence.

The Engine's prompt dicts map onto these (text and catalogue prompts come from ``ctid.media.tts`` /
``ctid.media.prompts``):

    {"file": path}      -> load_alaw(path)          WAV 8 kHz mono (A-law, mu-law or 16-bit PCM) or raw .al/.ul
    {"tone": name}      -> tone_alaw(name)          a tone of the country table or "beep", for its nominal length
    {"silence": s}      -> silence_alaw(s)

Everything returns a numpy uint8 array of A-law codes, ready to queue; errors are :class:`MediaError` naming the
file or value.
"""
from __future__ import annotations

import math

import numpy as np

from ctid.dsp.g711 import alaw_encode, ulaw_decode
from ctid.dsp.tonegen import ToneGenerator
from ctid.dsp.tones import ToneDef, tones_for
from ctid.dsp.wavfile import AudioFileError, read_audio

from .channel import BEEP_MS, EXTRA_TONES, MediaError

ALAW_SILENCE = 0xD5
MAX_SECONDS = 3600.0

#: default length of a tone played as a prompt part: one full cadence (at least 1 s), the beep 250 ms
TONE_PROMPT_MS = {"beep": BEEP_MS}


def load_alaw(path) -> np.ndarray:
    """An audio file as A-law codes (WAV: 8 kHz mono A-law, mu-law or 16-bit PCM; raw .al/.alaw/.ul files)."""
    try:
        audio = read_audio(str(path))
    except AudioFileError as exc:
        raise MediaError(str(exc)) from None
    if audio.law == "alaw":
        return audio.data
    if audio.law == "ulaw":
        return alaw_encode(ulaw_decode(audio.data))
    return alaw_encode(audio.data)


def silence_alaw(seconds: float) -> np.ndarray:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or not 0 <= seconds <= MAX_SECONDS:
        raise MediaError(f"silence must be 0..{MAX_SECONDS:g} seconds, not {seconds!r}")
    return np.full(int(round(seconds * 8000)), ALAW_SILENCE, dtype=np.uint8)


def resolve_tone(tone, country: str = "cn") -> ToneDef:
    if isinstance(tone, ToneDef):
        return tone
    if isinstance(tone, str):
        table = {t.name: t for t in tones_for(country)}
        table.update(EXTRA_TONES)
        if tone in table:
            return table[tone]
        raise MediaError(f"no tone {tone!r}; known: {', '.join(table)}")
    raise MediaError(f"a tone is a ToneDef or a tone name, not {type(tone).__name__}")


def tone_alaw(tone, seconds: float | None = None, country: str = "cn") -> np.ndarray:
    """``seconds`` of a tone (default: the beep's 250 ms, one cadence cycle of a cadenced tone but at least
    1 s, or 1 s of a continuous tone) as A-law, starting at the beginning of its cadence."""
    t = resolve_tone(tone, country)
    if seconds is None:
        ms = TONE_PROMPT_MS.get(t.name) or max(1000, t.period_ms)
    else:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
                or not 0 < seconds <= MAX_SECONDS:
            raise MediaError(f"tone length must be 0..{MAX_SECONDS:g} seconds, not {seconds!r}")
        ms = seconds * 1000
    return alaw_encode(ToneGenerator(t).generate(int(round(ms * 8))))
