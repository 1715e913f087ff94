"""Prompt dicts (the contract's): validation and the local renderings (file, tone, silence).

``{"file": path}`` (WAV 8 kHz mono A-law or 16-bit PCM), ``{"text": str, "voice": "zh"|"en"}`` (TTS),
``{"prompt": name}`` (catalogue), ``{"tone": "dial"|"ringback"|"busy"|"beep"}`` (optional ``"seconds"``),
``{"silence": seconds}``. Text and catalogue prompts go to the renderer the daemon injects (TTS / catalogue).
"""
from __future__ import annotations

import numpy as np

from ctid.dsp.g711 import alaw_encode
from ctid.dsp.tonegen import generate as tone_generate
from ctid.dsp.wavfile import AudioFileError, read_audio

from .errors import EngineError

KINDS = ("file", "text", "prompt", "tone", "silence")
TONES = {"dial": 1.0, "ringback": 5.0, "busy": 1.4, "congestion": 1.4, "beep": 0.3}   # default seconds
MAX_SECONDS = 600.0
SILENCE = 0xD5


def check_prompt(p, where: str = "prompt") -> str:
    """The prompt's kind; EngineError(400) naming what is wrong."""
    if not isinstance(p, dict):
        raise EngineError(400, f"{where}: {p!r} is not a prompt object")
    kinds = [k for k in KINDS if k in p]
    if len(kinds) != 1:
        raise EngineError(400, f"{where}: {p!r} must have exactly one of {', '.join(KINDS)}")
    kind = kinds[0]
    v = p[kind]
    if kind in ("file", "text", "prompt") and (not isinstance(v, str) or not v):
        raise EngineError(400, f"{where}.{kind}: {v!r} is not a non-empty string")
    if kind == "text" and p.get("voice", "zh") not in ("zh", "en"):
        raise EngineError(400, f"{where}.voice: {p.get('voice')!r} is not 'zh' or 'en'")
    if kind == "tone" and v not in TONES:
        raise EngineError(400, f"{where}.tone: {v!r} is not one of {', '.join(TONES)}")
    if kind == "silence" or "seconds" in p:
        s = v if kind == "silence" else p["seconds"]
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 <= s <= MAX_SECONDS:
            raise EngineError(400, f"{where}: {s!r} seconds is not a duration of 0..{MAX_SECONDS:g}")
    unknown = set(p) - {kind, "voice", "seconds"}
    if unknown:
        raise EngineError(400, f"{where}: unknown field {sorted(unknown)[0]!r}")
    return kind


def check_prompts(prompts, where: str = "prompts") -> list[dict]:
    if prompts is None:
        return []
    if isinstance(prompts, dict):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)):
        raise EngineError(400, f"{where}: {prompts!r} is not a list of prompts")
    for i, p in enumerate(prompts):
        check_prompt(p, f"{where}[{i}]")
    return list(prompts)


def render_local(p: dict) -> np.ndarray:
    """A-law codes of a file, tone or silence prompt (EngineError 400 for a bad file)."""
    kind = check_prompt(p)
    if kind == "silence":
        return np.full(int(round(p["silence"] * 8000)), SILENCE, np.uint8)
    if kind == "tone":
        secs = float(p.get("seconds", TONES[p["tone"]]))
        if p["tone"] == "beep":
            n = int(round(secs * 8000))
            pcm = (np.sin(2 * np.pi * 1000 * np.arange(n) / 8000) * 7000).astype(np.int16)
        else:
            pcm = tone_generate(p["tone"], secs * 1000)
        return alaw_encode(pcm)
    if kind == "file":
        try:
            audio = read_audio(p["file"])
        except AudioFileError as exc:
            raise EngineError(400, f"prompt file: {exc}") from None
        if audio.rate != 8000:
            raise EngineError(400, f"prompt file {p['file']}: {audio.rate} Hz, expected 8000 Hz mono")
        return audio.data.copy() if audio.law == "alaw" else alaw_encode(audio.linear())
    raise EngineError(400, f"prompt {p!r} needs the TTS/catalogue renderer")
