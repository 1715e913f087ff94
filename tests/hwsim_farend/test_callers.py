"""The callers' audio analysis: level, speech, Goertzel tone detection, prompt matching."""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import wave

import numpy as np
import pytest
from scipy.signal import resample_poly

sys.path.insert(0, os.path.dirname(__file__))
from answerer import pattern  # noqa: E402

from ctid.dsp.g711 import alaw_decode, alaw_encode  # noqa: E402
from hwsim.callers import level_dbm0, similarity, speech_level, tone_level, window_similarity  # noqa: E402


def sine(freq, seconds, level):
    amp = 32768 / 10 ** (3.14 / 20) * 10 ** (level / 20)
    return (amp * np.sin(2 * math.pi * freq * np.arange(int(seconds * 8000)) / 8000)).astype(np.int16)


@pytest.mark.parametrize("freq, level", [(400, -10.0), (1000, -20.0), (1400, -30.0), (3000, -6.0)])
def test_tone_level_goertzel(freq, level):
    x = alaw_encode(sine(freq, 0.5, level))
    lvl, share = tone_level(x, freq)
    assert abs(lvl - level) < 0.5 and share > 0.98
    assert abs(level_dbm0(x) - level) < 0.5
    other, share2 = tone_level(x, freq + 200)
    assert share2 < 0.02 and other < level - 20


def test_two_tones_share_the_energy():
    x = sine(1000, 0.5, -10) + sine(1400, 0.5, -10)
    assert 0.4 < tone_level(x, 1000)[1] < 0.6 and 0.4 < tone_level(x, 1400)[1] < 0.6


def test_speech_level_and_silence():
    assert speech_level(np.full(8000, 0xD5, np.uint8)) < -60
    assert speech_level(pattern(1)) > -20
    assert level_dbm0(np.zeros(0, np.uint8)) == float("-inf")


def test_similarity_offset_gain_reencoding_and_parts():
    p = pattern(1, 4.0)
    # a received excerpt: idle first, 3 dB down and A-law re-encoded
    part = alaw_encode((alaw_decode(p[5000:5000 + 16000]).astype(float) * 0.7).astype(np.int16))
    rx = np.concatenate([np.full(777, 0xD5, np.uint8), part, np.full(500, 0xD5, np.uint8)])
    assert similarity(rx, p) > 0.99
    assert similarity(p, rx) > 0.99                     # symmetric: the shorter one slides
    assert similarity(rx, pattern(2, 4.0)) < 0.3
    assert similarity(rx[:1000], p) == 0.0             # too little audio to say anything
    assert similarity(np.full(16000, 0xD5, np.uint8), p) == 0.0
    # a 1-sample shift between what is heard and the reference's start does not matter
    assert similarity(np.concatenate([np.array([0xD5], np.uint8), p[:8000]]), p) > 0.99


def test_window_similarity_for_audio_running_past_a_prompt():
    p1, p2, p3 = pattern(1), pattern(2), pattern(3)
    heard = np.concatenate([p1[-8000:], p2[:16000]])      # the end of one prompt, then the next
    assert similarity(heard, p1) < 0.7
    assert window_similarity(heard, p1) > 0.95 and window_similarity(heard, p2) > 0.95
    assert window_similarity(heard, p3) < 0.5
    assert window_similarity(np.full(16000, 0xD5, np.uint8), p1) == 0.0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_similarity_on_real_speech(tmp_path):
    """Two Mandarin sentences rendered by espeak-ng at test time: an excerpt of one matches it, not the other."""
    def render(text, name):
        path = tmp_path / name
        subprocess.run(["espeak-ng", "-v", "zh", "-w", str(path), text], check=True, capture_output=True)
        with wave.open(str(path)) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(float)
            rate = w.getframerate()
        g = math.gcd(8000, rate)
        x = resample_poly(x, 8000 // g, rate // g)
        return alaw_encode(np.clip(x, -32768, 32767).astype(np.int16))
    s1 = render("欢迎致电人民医院，预约挂号请按一，医院信息请按二", "a.wav")
    s2 = render("科室介绍：心内科在三楼，儿科在二楼，请按零转人工", "b.wav")
    heard = alaw_encode((alaw_decode(s1[4000:4000 + 3 * 8000]).astype(float) * 0.8).astype(np.int16))
    assert speech_level(heard) > -30
    assert similarity(heard, s1) > 0.95
    assert similarity(heard, s2) < 0.3 and similarity(s1, s2) < 0.3
