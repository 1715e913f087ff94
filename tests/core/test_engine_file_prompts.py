"""File prompts read through the engine's read_file runner are reused for FILE_CACHE_SECONDS (found by
bench/bench_daemon.py cps: at 100 calls/s each call's read queued in the thread pool)."""
import numpy as np
from twisted.internet import defer, task

from ctid.core import engine as engine_mod
from ctid.core.engine import Engine
from ctid.dsp.g711 import alaw_decode
from ctid.dsp.wavfile import write_wav


def test_file_prompt_read_once_per_cache_period(tmp_path):
    path = str(tmp_path / "p.wav")
    codes = np.arange(0, 256, dtype=np.uint8).repeat(4)
    write_wav(path, alaw_decode(codes))
    clock = task.Clock()
    reads = []

    def read_file(fn, *a):
        reads.append(a)
        return defer.maybeDeferred(fn, *a)
    eng = Engine(clock, [], read_file=read_file, media_dirs=[str(tmp_path)])
    got = []
    for _ in range(3):
        eng._render([{"file": path}]).addCallback(got.append)
    assert len(reads) == 1
    assert all(np.array_equal(g[0], codes) for g in got)
    got[1][0][:] = 0                                            # a caller's copy: the cache is not changed
    eng._render([{"file": path}]).addCallback(got.append)
    assert np.array_equal(got[-1][0], codes) and len(reads) == 1
    # replaced on disk: heard once the cache period is over
    write_wav(path, alaw_decode(codes[::-1].copy()))
    clock.advance(engine_mod.FILE_CACHE_SECONDS + 0.1)
    eng._render([{"file": path}]).addCallback(got.append)
    assert len(reads) == 2 and np.array_equal(got[-1][0], codes[::-1])


def test_file_prompt_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_mod, "FILE_CACHE_ENTRIES", 3)
    clock = task.Clock()
    eng = Engine(clock, [], read_file=lambda fn, *a: defer.maybeDeferred(fn, *a), media_dirs=[str(tmp_path)])
    for i in range(6):
        path = str(tmp_path / f"p{i}.wav")
        write_wav(path, np.zeros(80, np.int16))
        eng._render([{"file": path}])
    assert len(eng._file_cache) <= 3
