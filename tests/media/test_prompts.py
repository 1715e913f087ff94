"""The prompt catalogue: Mandarin TTS prompts, recorded WAV files replacing them, clear errors for bad files."""
from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from ctid.dsp import g711
from ctid.dsp.wavfile import write_wav
from ctid.media.prompts import PROMPTS, PromptCatalogue, PromptError
from ctid.media.tts import EspeakLib, Tts
from tts_check import need_espeak

pytestmark = need_espeak


class CountingEngine(EspeakLib):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def synth(self, text, voice, rate):
        self.calls += 1
        return super().synth(text, voice, rate)


@pytest.fixture
def engine():
    return CountingEngine()


@pytest.fixture
def cat(tmp_path, engine):
    d = tmp_path / "prompts"
    d.mkdir()
    return PromptCatalogue(str(d), Tts(str(tmp_path / "cache"), backend=engine))


def tone(seconds=0.5, hz=1000.0, amp=8000):
    t = np.arange(int(8000 * seconds)) / 8000
    return np.rint(amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_menu_prompts_have_mandarin_texts():
    for name in ("welcome", "main_menu", "appointments", "info_intro", "departments_intro", "agent_wait",
                 "apology", "invalid", "timeout", "goodbye"):
        assert any("\u4e00" <= ch <= "\u9fff" for ch in PROMPTS[name]), name
    assert all(k in PROMPTS["main_menu"] for k in ("按1", "按2", "按0"))


def test_tts_prompt(cat, engine):
    a = cat.render("goodbye")
    assert np.array_equal(a, cat.tts.render(PROMPTS["goodbye"], "zh")) and engine.calls == 1
    assert len(a) > 8000
    listed = {p["name"]: p for p in cat.list()}
    assert set(PROMPTS) <= set(listed) and listed["goodbye"] == {
        "name": "goodbye", "text": PROMPTS["goodbye"], "source": "tts", "file": None}


def test_recorded_alaw_file_replaces_tts(cat, engine):
    path = os.path.join(cat.directory, "welcome.wav")
    write_wav(path, tone(), law="alaw")
    a = cat.render("welcome")
    assert engine.calls == 0
    assert np.array_equal(a, g711.alaw_encode(tone()))
    assert {p["name"]: p for p in cat.list()}["welcome"]["source"] == "recorded"
    # replaced by a 16-bit PCM recording of another tone: picked up, converted to A-law
    write_wav(path, tone(0.25, 440.0), law="linear")
    os.utime(path, ns=(1, 1))
    assert np.array_equal(cat.render("welcome"), g711.alaw_encode(tone(0.25, 440.0)))
    # removed: back to TTS
    os.unlink(path)
    cat.render("welcome")
    assert engine.calls == 1


def test_recording_only_prompt(cat):
    write_wav(os.path.join(cat.directory, "holiday_notice.wav"), tone(), law="ulaw")
    assert {p["name"]: p for p in cat.list()}["holiday_notice"]["text"] is None
    a = cat.render("holiday_notice")
    assert np.max(np.abs(g711.alaw_decode(a).astype(int) - tone())) < 400  # mu-law -> A-law re-encoding


def _wav(rate=8000, channels=1, bits=16, tag=1, data=b"\0\0" * 100):
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    body = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


@pytest.mark.parametrize("blob,needle", [
    (_wav(rate=44100), "sample rate is 44100 Hz"),
    (_wav(channels=2, data=b"\0" * 400), "2 channels"),
    (_wav(tag=3, bits=32, data=b"\0" * 400), "unsupported WAV format tag 3"),
    (b"this is not audio at all", "not a WAV file"),
    (_wav()[:60], "truncated"),
    (_wav(data=b""), "no audio"),
])
def test_bad_recorded_file_gives_a_clear_error(cat, engine, blob, needle):
    path = os.path.join(cat.directory, "invalid.wav")
    with open(path, "wb") as f:
        f.write(blob)
    with pytest.raises(PromptError) as ei:
        cat.render("invalid")
    assert "'invalid'" in str(ei.value) and needle in str(ei.value)
    assert engine.calls == 0  # a broken recording is reported, not silently replaced


def test_unknown_and_bad_names(cat):
    with pytest.raises(PromptError, match="unknown prompt 'nope'; known prompts: .*welcome"):
        cat.render("nope")
    with pytest.raises(PromptError, match="bad prompt name '../etc/passwd'"):
        cat.render("../etc/passwd")
    with pytest.raises(PromptError, match="bad prompt name 'Bad Name'"):
        PromptCatalogue(None, cat.tts, texts={"Bad Name": "x"})


def test_catalogue_without_directory_and_custom_texts(tmp_path, engine):
    cat = PromptCatalogue(None, Tts(str(tmp_path), backend=engine), texts={"hello": "Hello"}, voice="en")
    assert [p["name"] for p in cat.list()] == ["hello"]
    assert len(cat.render("hello")) > 2000 and engine.calls == 1
