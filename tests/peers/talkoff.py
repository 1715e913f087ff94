"""Synthetic talk-off corpus: espeak-ng speech (Mandarin and English, several voices, pitches and speeds) and
music-like signals, 8 kHz A-law, cached in ~/.cache/ctid-talkoff (``$CTID_TALKOFF_CACHE``), never in git.

Used by bench/talkoff.py (full table) and tests/test_talkoff.py. Counting helpers run ctid's Bank and the
spandsp peer on the same audio and return the number of (false) ON events per item.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import signals as sg
from .talkoff_texts import TEXTS

RATE = 8000
SPEECH_DBM0 = -18.0      # active speech level (ITU-T P.56 style: RMS over the active part), near nominal
MUSIC_DBM0 = -16.0
CORPUS_VERSION = 1

# (voice, pitch 0..99, speed wpm, text). espeak-ng voices: sit/cmn Mandarin, gmw/en, gmw/en-US; +fN/+mN variants.
SPEECH = [
    ("cmn", 50, 150, "zh1"), ("cmn", 20, 120, "zh2"), ("cmn+f3", 80, 180, "zh1"), ("cmn+f2", 65, 200, "zh2"),
    ("cmn", 35, 160, "zh2"), ("cmn+m3", 40, 140, "zh1"),
    ("en", 50, 150, "en1"), ("en-us", 30, 170, "en2"), ("en-us+f3", 75, 190, "en1"), ("en+f2", 60, 130, "en2"),
    ("en-us+m3", 20, 200, "en2"), ("en+f4", 80, 160, "en1"),
    ("cmn+f4", 70, 130, "zh2"), ("en-us", 45, 120, "en1"), ("cmn", 60, 170, "zh1"),
]
MUSIC = ["chords", "arpeggios", "sweeps"]
MUSIC_SECONDS = 60

# The fast (non-slow) subset: ~2 minutes.
FAST = [("speech", 0, 45.0), ("speech", 6, 45.0), ("music", 0, 15.0), ("music", 2, 15.0)]


@dataclass
class Item:
    name: str
    kind: str            # speech / music
    alaw: np.ndarray     # uint8 A-law codes, 8 kHz

    @property
    def seconds(self) -> float:
        return len(self.alaw) / RATE


class CorpusUnavailable(RuntimeError):
    pass


def cache_dir() -> Path:
    d = Path(os.environ.get("CTID_TALKOFF_CACHE", Path.home() / ".cache" / "ctid-talkoff"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _key(*parts) -> str:
    return hashlib.sha256(repr((CORPUS_VERSION,) + parts).encode()).hexdigest()[:12]


def _normalise(x: np.ndarray, dbm0: float) -> np.ndarray:
    """Scale so the RMS over active 20 ms frames (those within 30 dB of the loudest) is `dbm0`."""
    n = len(x) // 160 * 160
    if n == 0:
        return x
    fr = x[:n].reshape(-1, 160)
    p = np.mean(fr * fr, axis=1)
    active = p > p.max() * 1e-3
    rms = np.sqrt(np.mean(p[active])) if active.any() else 1.0
    return x * (sg.peak(dbm0) / np.sqrt(2) / max(rms, 1e-9))


def render_speech(voice: str, pitch: int, speed: int, text_id: str) -> np.ndarray:
    """espeak-ng -> 22050 Hz WAV -> 8 kHz (resample_poly 160/441) -> level -> A-law. Cached."""
    from scipy.io import wavfile
    from scipy.signal import resample_poly

    path = cache_dir() / f"speech-{voice.replace('+', '_')}-p{pitch}-s{speed}-{text_id}-{_key(voice, pitch, speed, TEXTS[text_id])}.alaw"
    if path.exists():
        return np.fromfile(path, dtype=np.uint8)
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise CorpusUnavailable("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as td:
        txt, wav = Path(td) / "t.txt", Path(td) / "o.wav"
        txt.write_text(" ".join(TEXTS[text_id].split()), encoding="utf-8")
        subprocess.run([exe, "-v", voice, "-p", str(pitch), "-s", str(speed), "-f", str(txt), "-w", str(wav)],
                       check=True, capture_output=True)
        rate, x = wavfile.read(wav)
    x = x.astype(np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != 22050:
        raise CorpusUnavailable(f"espeak-ng wrote {rate} Hz, expected 22050")
    y = resample_poly(x, 160, 441)
    codes = sg.alaw_encode(sg.to_int16(_normalise(y, SPEECH_DBM0)))
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    codes.tofile(tmp)
    os.replace(tmp, path)
    return codes


def _note(f0: float, n: int, rng, nharm: int = 4) -> np.ndarray:
    """A harmonic note: fundamental plus decaying harmonics below 3.6 kHz, with attack/decay envelope."""
    t = np.arange(n) / RATE
    x = np.zeros(n)
    for h in range(1, nharm + 1):
        if f0 * h < 3600:
            x += (0.6 ** (h - 1)) * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6.28))
    env = np.minimum(1.0, t / 0.02) * np.exp(-t * rng.uniform(0.5, 3.0))
    return x * env


def render_music(kind: str) -> np.ndarray:
    path = cache_dir() / f"music-{kind}-{MUSIC_SECONDS}s-{_key(kind, MUSIC_SECONDS)}.alaw"
    if path.exists():
        return np.fromfile(path, dtype=np.uint8)
    rng = np.random.default_rng({"chords": 1, "arpeggios": 2, "sweeps": 3}[kind])
    n = MUSIC_SECONDS * RATE
    x = np.zeros(n)
    notes = 440.0 * 2.0 ** ((np.arange(-24, 25)) / 12.0)     # equal-tempered, 110..1760 Hz
    pos = 0
    if kind == "chords":
        while pos < n:
            d = int(rng.uniform(0.25, 0.9) * RATE)
            root = int(rng.integers(5, 30))
            chord = [(0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 5, 9), (0, 7, 12, 16)][int(rng.integers(0, 5))]
            seg = sum(_note(notes[min(root + s, len(notes) - 1)], min(d, n - pos), rng) for s in chord)
            x[pos:pos + len(seg)] += seg
            pos += d
    elif kind == "arpeggios":
        while pos < n:
            d = int(rng.uniform(0.08, 0.2) * RATE)
            f = notes[int(rng.integers(10, 48))]
            seg = _note(f, min(int(d * 2.5), n - pos), rng, nharm=int(rng.integers(1, 6)))
            x[pos:pos + len(seg)] += seg
            pos += d
    else:  # sweeps: linear and exponential chirps, one or two at once, 300..3400 Hz
        from scipy.signal import chirp

        while pos < n:
            d = int(rng.uniform(0.5, 3.0) * RATE)
            m = min(d, n - pos)
            t = np.arange(m) / RATE
            f0, f1 = rng.uniform(300, 3400, size=2)
            seg = chirp(t, f0, t[-1] if m > 1 else 1, f1, method=rng.choice(["linear", "logarithmic"]))
            if rng.uniform() < 0.5:
                g0, g1 = rng.uniform(300, 3400, size=2)
                seg = seg + chirp(t, g0, t[-1] if m > 1 else 1, g1)
            x[pos:pos + m] += seg * np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02 + 1e-3)
            pos += d
    codes = sg.alaw_encode(sg.to_int16(_normalise(x, MUSIC_DBM0)))
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    codes.tofile(tmp)
    os.replace(tmp, path)
    return codes


def speech_name(i: int) -> str:
    v, p, s, t = SPEECH[i]
    return f"{t}:{v}:p{p}:s{s}"


def build(fast: bool = False) -> list[Item]:
    """The full corpus (about 34 minutes of speech plus 3 minutes of music), or the ~2-minute fast subset."""
    items = []
    if fast:
        for kind, i, secs in FAST:
            if kind == "speech":
                codes = render_speech(*SPEECH[i])
                items.append(Item(speech_name(i), "speech", codes[:int(secs * RATE)]))
            else:
                items.append(Item(f"music:{MUSIC[i]}", "music", render_music(MUSIC[i])[:int(secs * RATE)]))
        return items
    for i in range(len(SPEECH)):
        items.append(Item(speech_name(i), "speech", render_speech(*SPEECH[i])))
    for m in MUSIC:
        items.append(Item(f"music:{m}", "music", render_music(m)))
    return items


# ------------------------------------------------------------------------------------------------ counting
KINDS = ("dtmf", "r2f", "r2b", "cpt")
ALAW_IDLE = 0xD5


def control_signal() -> tuple[np.ndarray, str]:
    """A positive control: the 16 DTMF digits (numpy synthesis, -10 dBm0, 80/80 ms) in A-law, and the digits."""
    parts = []
    for d in sg.DTMF_DIGITS:
        parts += [sg.dtmf(d, 80, -10.0), np.zeros(640)]
    x = np.concatenate([np.zeros(800)] + parts + [np.zeros(1600)])
    return sg.alaw_encode(sg.to_int16(x)), sg.DTMF_DIGITS


def ours(items: list[Item], kinds=KINDS, with_control: bool = True):
    """Run ctid's Bank with one channel per item (plus a DTMF control channel last) and every detector in
    `kinds` enabled; returns (per-item Counter of ON events by kind, control channel digits)."""
    from ctid.dsp import Bank

    chans = [it.alaw for it in items]
    ctl, _ = control_signal()
    if with_control:
        chans = chans + [ctl]
    n = max(len(c) for c in chans)
    n = -(-n // 160) * 160
    fr = np.full((n, len(chans)), ALAW_IDLE, dtype=np.uint8)
    for c, a in enumerate(chans):
        fr[:len(a), c] = a
    bank = Bank(len(chans), law="alaw")
    bank.set_mask_all(",".join(kinds))
    counts = [Counter() for _ in chans]
    digits = ""
    for i in range(0, n, 160):
        for e in bank.process(fr[i:i + 160]):
            if e.type == "on":
                counts[e.channel][e.kind] += 1
                if with_control and e.channel == len(chans) - 1 and e.kind == "dtmf":
                    digits += e.value
    if with_control:
        counts = counts[:-1]
    return counts, digits


def theirs(peer, items: list[Item], kinds=KINDS) -> list[Counter]:
    """spandsp on the same items: dtmf_rx, r2_mf_rx forward and backward, super_tone_rx (China set)."""
    out = []
    for it in items:
        c = Counter()
        if "dtmf" in kinds:
            c["dtmf"] = len(peer.dtmf_rx(it.alaw).ons)
        if "r2f" in kinds:
            c["r2f"] = len(peer.r2_rx(it.alaw, backward=False).ons)
        if "r2b" in kinds:
            c["r2b"] = len(peer.r2_rx(it.alaw, backward=True).ons)
        if "cpt" in kinds:
            c["cpt"] = len(peer.cpt_rx(it.alaw).ons)
        out.append(c)
    return out
