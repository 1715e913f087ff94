"""Prompt dicts (the contract's): validation and the local renderings (file, tone, silence).

``{"file": path}`` (WAV 8 kHz mono A-law or 16-bit PCM), ``{"text": str, "voice": "zh"|"en"}`` (TTS),
``{"prompt": name}`` (catalogue), ``{"tone": "dial"|"ringback"|"busy"|"beep"}`` (optional ``"seconds"``),
``{"silence": seconds}``. Text and catalogue prompts go to the renderer the daemon injects (TTS / catalogue).

File prompts are confined to the media directories (:class:`MediaDirs`, config ``[daemon] media_dirs``): a
relative path is taken relative to the first one, the path is resolved (``realpath``: ``..`` and symlinks
followed) and must then lie inside one of them; the recordings directory is excluded unless it is itself (or a
directory inside it) a media directory. Anything else is EngineError 403 naming the path and the directories, so
a CTI client cannot make the daemon read arbitrary files (another caller's recording, voicemail, the database).
"""
from __future__ import annotations

import os

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


class MediaDirs:
    """Where file prompts may come from: ``dirs`` (the first is the base of relative paths), never from inside
    ``exclude`` (the recordings directory) unless a media directory is that directory or inside it."""

    def __init__(self, dirs=(), exclude=()):
        self.dirs = [self._real(d) for d in dirs if d]
        self.exclude = [x for x in (self._real(e) for e in exclude if e)
                        if not any(self._inside(d, x) for d in self.dirs)]

    @staticmethod
    def _real(d: str) -> str:
        return os.path.realpath(os.path.abspath(os.fspath(d)))

    @staticmethod
    def _inside(path: str, d: str) -> bool:
        return path == d or path.startswith(d.rstrip(os.sep) + os.sep)

    def describe(self) -> str:
        return ", ".join(self.dirs) if self.dirs else "none configured"

    def resolve(self, path: str) -> str:
        """The real path of file prompt ``path``; EngineError 403 when it is outside the media directories."""
        if not isinstance(path, str) or not path or "\0" in path:
            raise EngineError(400, f"prompt file: {path!r} is not a path")
        if not self.dirs:
            raise EngineError(403, f"prompt file {path!r}: file prompts are disabled (no media directories: "
                                   "configure [daemon] media_dirs)")
        real = os.path.realpath(path if os.path.isabs(path) else os.path.join(self.dirs[0], path))
        allowed = any(self._inside(real, d) and real != d for d in self.dirs)
        if allowed and not any(self._inside(real, x) for x in self.exclude):
            return real
        raise EngineError(403, f"prompt file {path!r} (resolved to {real}) is not in a media directory; "
                               f"allowed directories: {self.describe()}")


def render_local(p: dict, media: MediaDirs | None = None) -> np.ndarray:
    """A-law codes of a file, tone or silence prompt (EngineError 400 for a bad file, 403 for a file outside
    ``media``; without ``media`` no file prompt is allowed)."""
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
        path = (media if media is not None else MediaDirs()).resolve(p["file"])
        try:
            audio = read_audio(path)
        except AudioFileError as exc:
            raise EngineError(400, f"prompt file: {exc}") from None
        if audio.rate != 8000:
            raise EngineError(400, f"prompt file {p['file']}: {audio.rate} Hz, expected 8000 Hz mono")
        return audio.data.copy() if audio.law == "alaw" else alaw_encode(audio.linear())
    raise EngineError(400, f"prompt {p!r} needs the TTS/catalogue renderer")
