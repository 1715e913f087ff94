"""TTS: libespeak-ng (child process) rendered to 8 kHz A-law at -6 dBm0 peak, the disk cache, errors, render_async."""
from __future__ import annotations

import os
import queue
import threading

import numpy as np
import pytest

from ctid.dsp import g711
from ctid.media.tts import DBM0_PEAK, EngineMissing, EspeakLib, Tts, TtsError, UnknownVoice
from tts_check import need_espeak

pytestmark = need_espeak

ZH = "欢迎致电人民医院"
EN = "Welcome to the hospital"


class CountingEngine(EspeakLib):
    """The real libespeak-ng backend, counting synth calls and keeping the engine's output (test double)."""

    def __init__(self):
        super().__init__()
        self.calls: list[tuple[str, str, int]] = []
        self.last = None

    def synth(self, text, voice, rate):
        self.calls.append((text, voice, rate))
        self.last = super().synth(text, voice, rate)
        return self.last


@pytest.fixture
def engine():
    return CountingEngine()


@pytest.fixture
def tts(tmp_path, engine):
    return Tts(str(tmp_path / "cache"), backend=engine)


def _level_db(codes) -> float:
    x = g711.alaw_decode(codes).astype(np.float64)
    return 20 * np.log10(np.max(np.abs(x)) / DBM0_PEAK)


@pytest.mark.parametrize("text,voice,lo,hi", [(ZH, "zh", 1.5, 6.0), (EN, "en", 0.8, 4.0)])
def test_render_gives_8k_alaw_speech(tts, engine, text, voice, lo, hi):
    a = tts.render(text, voice)
    assert a.dtype == np.uint8
    assert lo < len(a) / 8000 < hi  # plausible duration of the sentence at 8 kHz
    pcm, sr = engine.last
    assert sr == 22050 and abs(len(a) - len(pcm) * 8000 / sr) <= 1  # resampled 22050 -> 8000
    assert abs(_level_db(a) - (-6.0)) < 0.5  # peak of a -6 dBm0 sine
    x = g711.alaw_decode(a).astype(np.float64)
    frames = np.abs(x[: len(x) // 80 * 80]).reshape(-1, 80).mean(axis=1)  # 10 ms frames
    assert np.mean(frames > 300) > 0.4  # speech over much of it (about -30 dBm0 and up), not a click in silence
    assert engine.calls == [(text, {"zh": "cmn", "en": "en"}[voice], tts.rate)]


def test_voices_give_different_audio(tts):
    assert not np.array_equal(tts.render("一二三", "zh"), tts.render("one two three", "en"))


def test_cache_hit_does_not_call_the_engine(tmp_path, tts, engine):
    a = tts.render(ZH, "zh")
    b = tts.render(ZH, "zh")
    c = tts.render(ZH, "cmn")  # the same espeak-ng voice
    assert len(engine.calls) == 1 and np.array_equal(a, b) and np.array_equal(a, c)
    other = CountingEngine()  # a new Tts on the same directory (e.g. after a restart): from disk
    d = Tts(str(tmp_path / "cache"), backend=other).render(ZH, "zh")
    assert other.calls == [] and np.array_equal(a, d)
    files = [f for _, _, fs in os.walk(tmp_path / "cache") for f in fs]
    assert files == [tts.cache_key(ZH, "zh") + ".al"]  # no temporary files left behind


def test_cache_key_covers_text_voice_rate_and_engine_version(tmp_path, tts, engine):
    k = tts.cache_key(ZH, "zh")
    assert k == tts.cache_key(ZH, "cmn")
    assert k != tts.cache_key(ZH + "。", "zh")
    assert k != tts.cache_key(ZH, "en")
    assert k != Tts(str(tmp_path), backend=engine, rate=120).cache_key(ZH, "zh")
    engine._info = {**engine.info(), "version": "0.0-other"}
    assert k != tts.cache_key(ZH, "zh")


def test_truncated_cache_file_is_rendered_again(tts, engine):
    tts.render(EN, "en")
    path = tts.cache_path(tts.cache_key(EN, "en"))
    open(path, "wb").close()
    fresh = Tts(tts.cache_dir, backend=engine)
    a = fresh.render(EN, "en")
    assert len(engine.calls) == 2 and os.path.getsize(path) == len(a) > 0


def test_unwritable_cache_still_renders(tmp_path, engine):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    tts = Tts(str(blocker / "cache"), backend=engine)
    a = tts.render(EN, "en")
    assert len(a) > 8000 and len(engine.calls) == 1


def test_concurrent_renders_of_one_text_call_the_engine_once(tts, engine):
    barrier = threading.Barrier(4)
    out = []

    def worker():
        barrier.wait()
        out.append(tts.render("请稍候", "zh"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(out) == 4 and len(engine.calls) == 1
    assert all(np.array_equal(out[0], o) for o in out)


def test_errors(tmp_path, tts):
    with pytest.raises(UnknownVoice, match="unknown voice 'xx-nonexistent'.*'zh'.*'en'"):
        tts.render(ZH, "xx-nonexistent")
    with pytest.raises(TtsError, match="empty"):
        tts.render("   ", "zh")
    with pytest.raises(TtsError, match="must be a string"):
        tts.render(None, "zh")
    with pytest.raises(EngineMissing, match="'/no/such/espeak-ng' not found.*apt-get install espeak-ng"):
        Tts(str(tmp_path), engine="/no/such/espeak-ng").render(ZH, "zh")
    with pytest.raises(TtsError, match="unsupported TTS engine 'festival'"):
        Tts(str(tmp_path), engine="festival")
    with pytest.raises(TtsError, match="rate"):
        Tts(str(tmp_path), rate=5)


class ThreadReactor:
    """Test double for the reactor side of deferToThreadPool: callFromThread queues; the test pumps."""

    def __init__(self):
        self.calls: queue.Queue = queue.Queue()

    def callFromThread(self, f, *a, **kw):
        self.calls.put((f, a, kw))

    def pump_one(self, timeout=60):
        f, a, kw = self.calls.get(timeout=timeout)
        f(*a, **kw)


def test_render_async_runs_in_a_thread(tmp_path):
    from twisted.python.threadpool import ThreadPool

    threads = []

    class ThreadNoting(CountingEngine):
        def synth(self, text, voice, rate):
            threads.append(threading.current_thread())
            return super().synth(text, voice, rate)

    reactor, pool = ThreadReactor(), ThreadPool(1, 1, name="test-tts")
    pool.start()
    try:
        tts = Tts(str(tmp_path), backend=ThreadNoting(), reactor=reactor, threadpool=pool)
        got = []
        tts.render_async(EN, "en").addBoth(got.append)
        reactor.pump_one()
        assert isinstance(got[0], np.ndarray) and len(got[0]) > 8000
        assert threads and threads[0] is not threading.main_thread()
        tts.render_async(EN, "xx-nonexistent").addBoth(got.append)
        reactor.pump_one()
        assert got[1].check(UnknownVoice)
    finally:
        pool.stop()
