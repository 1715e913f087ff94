"""TTS through pyttsx3 (its espeak-ng driver, one worker thread) and through libespeak-ng in a child process: both
render Mandarin and English to 8 kHz A-law speech, the same text the same way, refuse unknown voices, time out, and the
worker survives engine errors."""
from __future__ import annotations

import os
import threading
import wave

import numpy as np
import pytest
from scipy.signal import correlate

from ctid.dsp import g711
from ctid.media import tts as tts_mod
from ctid.media.tts import (EngineMissing, EspeakLib, EspeakNg, Pyttsx3, Pyttsx3Worker, Tts, TtsError, UnknownVoice,
                            make_backend)
from tts_check import need_espeak

pyttsx3 = pytest.importorskip("pyttsx3")
pytestmark = need_espeak

ZH = "欢迎致电人民医院"
EN = "Welcome to the hospital"


@pytest.fixture(scope="module")
def worker():
    return tts_mod.shared_pyttsx3_worker()


def _pcm(codes) -> np.ndarray:
    return g711.alaw_decode(codes).astype(np.float64)


def _envelope(x) -> np.ndarray:
    """RMS of 10 ms frames (80 samples at 8 kHz)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sqrt((x[: len(x) // 80 * 80].reshape(-1, 80) ** 2).mean(axis=1))


def _ncc(a, b) -> float:
    """Normalised cross-correlation at the best lag of two (mean-removed) sequences."""
    a = np.asarray(a, np.float64) - np.mean(a)
    b = np.asarray(b, np.float64) - np.mean(b)
    return float(correlate(a, b, mode="full").max() / np.sqrt(np.dot(a, a) * np.dot(b, b)))


def _similar(a, b) -> float:
    """How alike two renderings sound: NCC of their 10 ms energy envelopes (libespeak-ng carries waveform phase
    from one utterance to the next, so a second rendering in one process differs by a few samples' drift)."""
    return _ncc(_envelope(a), _envelope(b))


def _speech_fraction(codes) -> float:
    x = _pcm(codes)
    frames = np.abs(x[: len(x) // 80 * 80]).reshape(-1, 80).mean(axis=1)   # 10 ms frames
    return float(np.mean(frames > 300))


@pytest.mark.parametrize("engine", ["pyttsx3", "espeak-ng"])
@pytest.mark.parametrize("text,voice,lo,hi", [(ZH, "zh", 1.5, 6.0), (EN, "en", 0.8, 4.0)])
def test_both_engines_render_8k_alaw_speech(tmp_path, engine, text, voice, lo, hi):
    t = Tts(str(tmp_path), engine)
    assert t.backend.name == engine
    a = t.render(text, voice)
    assert a.dtype == np.uint8
    assert lo < len(a) / 8000 < hi
    assert _speech_fraction(a) > 0.4
    peak_db = 20 * np.log10(np.max(np.abs(_pcm(a))) / tts_mod.DBM0_PEAK)
    assert abs(peak_db - (-6.0)) < 0.5


@pytest.mark.parametrize("text,voice", [(ZH, "zh"), (EN, "en")])
def test_engines_render_the_same_text_alike(tmp_path, text, voice):
    a = _pcm(Tts(str(tmp_path / "p"), "pyttsx3").render(text, voice))
    b = _pcm(Tts(str(tmp_path / "e"), "espeak-ng").render(text, voice))
    assert abs(len(a) - len(b)) < 0.02 * len(b)
    assert _similar(a, b) > 0.95                             # the same libespeak-ng voice data
    other = _pcm(Tts(str(tmp_path / "o"), "espeak-ng").render("一二三四五六七八" if voice == "zh" else "one two three four",
                                                               voice))
    assert _similar(a, other) < 0.7                          # the measure tells different texts apart


def test_cache_keys_of_the_engines_differ(tmp_path):
    p, e = Tts(str(tmp_path), "pyttsx3"), Tts(str(tmp_path), "espeak-ng")
    assert p.cache_key(ZH, "zh") != e.cache_key(ZH, "zh")
    p.render(ZH, "zh")
    calls = []
    real = e.backend.synth
    e.backend.synth = lambda *a: calls.append(a) or real(*a)
    e.render(ZH, "zh")
    assert len(calls) == 1                                   # not served from pyttsx3's cache entry


def test_real_rate_wins_over_pyttsx3_header(worker, monkeypatch):
    pcm, sr = Pyttsx3().synth(EN, "en", 160)
    assert sr == 22050 and len(pcm) > 22050 // 2
    monkeypatch.setattr(worker, "_engine_rate", lambda: 16000)   # as for an MBROLA voice
    pcm2, sr2 = Pyttsx3().synth(EN, "en", 160)
    assert sr2 == 16000 and abs(len(pcm2) - len(pcm)) < 100 and _similar(pcm, pcm2) > 0.95


def test_no_stdout_chatter(tmp_path, capfd):
    Tts(str(tmp_path), "pyttsx3").render("请稍候", "zh")
    out, _ = capfd.readouterr()
    assert "Audio saved" not in out


def test_unknown_voice(tmp_path):
    with pytest.raises(UnknownVoice, match="unknown voice 'xx-nonexistent' for the pyttsx3 engine"):
        Tts(str(tmp_path), "pyttsx3").render(ZH, "xx-nonexistent")
    with pytest.raises(UnknownVoice, match="pyttsx3 has no voice 'klingon'"):
        Pyttsx3().synth(ZH, "klingon", 160)
    assert {"cmn", "en", "sit/cmn"} <= Pyttsx3().voices()


def test_worker_survives_engine_errors(worker, monkeypatch):
    good = worker.synth(EN, "gmw/en", 160)
    # a voice libespeak-ng refuses inside pyttsx3's command queue (reported only through its 'error' topic)
    with pytest.raises(TtsError, match="pyttsx3 failed for voice 'xx/bogus'.*SetVoiceByName"):
        worker.synth(EN, "xx/bogus", 160)
    # an exception out of the engine itself
    def boom(*a, **kw):
        raise RuntimeError("engine exploded")
    monkeypatch.setattr(worker._engine, "save_to_file", boom)
    with pytest.raises(TtsError, match="RuntimeError: engine exploded"):
        worker.synth(EN, "gmw/en", 160)
    monkeypatch.undo()
    again = worker.synth(EN, "gmw/en", 160)
    assert again[1] == good[1] and _similar(again[0], good[0]) > 0.95


def test_long_rendering_is_aborted_and_the_worker_goes_on(worker, monkeypatch):
    good = worker.synth(ZH, "sit/cmn", 160)
    monkeypatch.setattr(worker, "timeout", 0.001)     # expires during the synthesis of this long text
    with pytest.raises(TtsError, match="did not finish within"):
        worker.synth("今天出诊的医生有内科王医生外科李医生。" * 100, "sit/cmn", 160)
    monkeypatch.undo()
    again = worker.synth(ZH, "sit/cmn", 160)
    assert abs(len(again[0]) - len(good[0])) < 100 and _similar(again[0], good[0]) > 0.95


class _FakeDriver:
    def __init__(self):
        self._stopping = False


class _FakeEngine:
    """Test double of a pyttsx3 engine: writes a 1 kHz tone, or hangs until told to stop, or fails."""

    def __init__(self):
        self.proxy = type("P", (), {})()
        self.proxy._driver = _FakeDriver()
        self.props = {"voice": None}
        self.mode = "ok"
        self.file = None
        self.thread = None
        self.cbs = {}
        self.release = threading.Event()

    def connect(self, topic, cb):
        self.cbs[topic] = cb

    def setProperty(self, k, v):
        self.props[k] = v

    def getProperty(self, k):
        return self.props[k]

    def save_to_file(self, text, path):
        self.file = path

    def stop(self):
        pass

    def runAndWait(self):
        self.thread = threading.current_thread()
        if self.mode == "hang":                # never reports the end of the utterance
            return
        if self.mode == "stuck":               # never returns (until the test releases it)
            self.release.wait(30)
            return
        if self.mode == "fail":
            raise OSError("device gone")
        with wave.open(self.file, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(22050)
            w.writeframes((np.sin(np.arange(22050) * 2 * np.pi * 1000 / 22050) * 8000).astype("<i2").tobytes())
        self.cbs["finished-utterance"](name=None, completed=True)


def test_worker_timeout_and_errors_with_a_test_double():
    fake = _FakeEngine()
    w = Pyttsx3Worker(factory=lambda: fake, timeout=0.05)
    pcm, sr = w.synth("x", "v", 160)
    assert sr == 22050 and len(pcm) == 22050
    assert fake.thread is w._thread                    # rendered on the worker thread, not the caller's
    fake.mode = "hang"
    with pytest.raises(TtsError, match="did not finish within 0.05 s"):
        w.synth("x", "v", 160)
    fake.mode = "fail"
    with pytest.raises(TtsError, match="OSError: device gone"):
        w.synth("x", "v", 160)
    fake.mode = "ok"
    assert len(w.synth("x", "v", 160)[0]) == 22050


def test_a_stuck_engine_wedges_the_worker_with_an_error():
    fake = _FakeEngine()
    w = Pyttsx3Worker(factory=lambda: fake, timeout=0.05, grace=0.1)
    fake.mode = "stuck"
    try:
        with pytest.raises(TtsError, match="did not finish within 0.05 s and does not respond"):
            w.synth("x", "v", 160)
        with pytest.raises(TtsError, match="worker is stuck.*engine = \"espeak-ng\""):
            w.synth("x", "v", 160)
    finally:
        fake.release.set()


def test_worker_that_cannot_start_reports_it():
    def broken():
        raise OSError("libespeak-ng.so.1: cannot open shared object file")
    w = Pyttsx3Worker(factory=broken, timeout=5)
    with pytest.raises(EngineMissing, match="cannot start: libespeak-ng.so.1"):
        w.synth("x", "v", 160)


def test_engine_selection(monkeypatch):
    assert isinstance(make_backend("pyttsx3"), Pyttsx3)
    assert isinstance(make_backend("espeak-ng"), EspeakLib)
    prog = make_backend("/usr/bin/espeak-ng")                # a program by path: the user's explicit choice
    assert isinstance(prog, EspeakNg) and prog.program == "/usr/bin/espeak-ng"
    assert isinstance(make_backend("auto"), Pyttsx3)   # pyttsx3 works here
    with pytest.raises(TtsError, match="unsupported TTS engine 'festival'; supported: auto, pyttsx3, espeak-ng"):
        make_backend("festival")

    def no_pyttsx3(*a, **kw):
        raise EngineMissing("pyttsx3 is not installed")
    monkeypatch.setattr(tts_mod, "Pyttsx3", no_pyttsx3)
    assert isinstance(make_backend("auto"), EspeakLib)


def test_a_failed_pyttsx3_rendering_is_retried_then_made_by_the_child_process_renderer(tmp_path, monkeypatch):
    """No silence where speech can be made: pyttsx3 rendering silence twice -> libespeak-ng in a child renders."""
    import numpy as np

    from ctid.media import tts as T

    backend = T.Pyttsx3()
    calls = []

    def silent(text, voice, rate):
        calls.append(text)
        return np.zeros(8000, dtype=np.int16), 22050
    monkeypatch.setattr(backend, "synth", silent)
    t = T.Tts(str(tmp_path), backend=backend)
    audio = t.render("您好", "zh")
    assert len(calls) == 2                                   # tried twice with pyttsx3
    assert isinstance(t._fallback, EspeakLib)
    from ctid.dsp.g711 import alaw_decode
    assert int(np.max(np.abs(alaw_decode(audio).astype(np.int32)))) > 1000   # speech, not silence
