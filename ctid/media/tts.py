"""Text to speech for prompts: espeak-ng, rendered to 8 kHz A-law, cached on disk.

Engine: the ``espeak-ng`` program (``espeak-ng -v VOICE -s RATE -b 1 --stdin -w out.wav``), one process per
rendering. pyttsx3 2.99 (whose Linux driver is the same libespeak-ng) can save to a file headless, but it was not
chosen: its driver writes every file with a fixed 22050 Hz header whatever the voice's real rate, prints
"Audio saved to ..." on stdout for every file, keeps one process-wide engine with one callback (renderings from the
thread pool would have to be serialised), queues property changes so that an unknown voice is silently ignored (no
error to report) and cannot be timed out. The CLI is the same engine and voice data, reports its real sample rate
in the WAV header, fails with an exit status and a message, and runs in parallel and under a timeout.

Pipeline: 16-bit PCM at the engine's rate (22050 Hz for the espeak-ng voices) -> 8 kHz with
:func:`scipy.signal.resample_poly` (its anti-alias FIR) -> peak normalised to the peak of a -6 dBm0 sine (a 0 dBm0
sine has peak 22827 in the A-law convention of docs/dsp.md, so the peak is 11441) -> A-law (:mod:`ctid.dsp.g711`).

Cache: ``<cache_dir>/<k[:2]>/<k>.al`` (raw A-law) where ``k = sha256(engine, engine version, voice, rate, text,
output format)``; written to a temporary file in the same directory, fsync'd and renamed, so a reader never sees a
partial file. Recent renderings are also kept in memory. A cache that cannot be read or written is logged and the
text rendered (and returned) anyway: a broken cache costs time, never a prompt.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import wave
from collections import OrderedDict
from math import gcd

import numpy as np
from scipy.signal import resample_poly

from twisted.logger import Logger

from ctid.dsp import g711

RATE = 8000
DBM0_PEAK = 22827  # peak of a 0 dBm0 sine, A-law convention (docs/dsp.md)
PEAK_DBM0 = -6.0
MAX_TEXT = 4000
FORMAT = "alaw-8000-resample_poly-peak{peak:.1f}dBm0-v1"
# friendly names -> espeak-ng voice; "zh" must not fall to the MBROLA voice mb-cn1 (needs mbrola, 16 kHz)
VOICE_ALIASES = {"zh": "cmn", "zh-cn": "cmn", "cmn": "cmn", "mandarin": "cmn", "en": "en", "english": "en"}


_log = Logger(namespace="ctid.media.tts")


class TtsError(Exception):
    """Text could not be rendered; the message says why (bad text, unknown voice, engine failure)."""


class UnknownVoice(TtsError):
    pass


class EngineMissing(TtsError):
    pass


class EspeakNg:
    """The espeak-ng command-line program as a synthesis backend."""

    name = "espeak-ng"

    def __init__(self, program: str = "espeak-ng", timeout: float = 60.0):
        self.program = program
        self.timeout = timeout
        self._version: str | None = None
        self._voices: frozenset[str] | None = None

    def _path(self) -> str:
        path = shutil.which(self.program)
        if path is None:
            raise EngineMissing(
                f"TTS engine {self.program!r} not found (looked on PATH and as a path); install it (Debian: apt-get install espeak-ng)"
            )
        return path

    def _run(self, args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([self._path(), *args], input=stdin, capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise TtsError(f"{self.program} did not finish within {self.timeout:g} s") from None
        except OSError as e:
            raise EngineMissing(f"cannot run TTS engine {self.program!r}: {e}") from None

    def version(self) -> str:
        if self._version is None:
            out = self._run(["--version"])
            text = out.stdout.decode("utf-8", "replace")
            m = re.search(r"text-to-speech:\s*(\S+)", text)
            if out.returncode != 0 or m is None:
                raise EngineMissing(f"{self.program} --version failed: {text.strip() or out.stderr.decode()!s}")
            self._version = m.group(1)
        return self._version

    def voices(self) -> frozenset[str]:
        """Names espeak-ng accepts for -v: languages, voice names, voice files (with and without directory)."""
        if self._voices is None:
            out = self._run(["--voices"])
            names: set[str] = set()
            for line in out.stdout.decode("utf-8", "replace").splitlines()[1:]:
                cols = line.split()
                if len(cols) < 5:
                    continue
                names.update({cols[1].lower(), cols[3].lower(), cols[4].lower(), cols[4].rsplit("/", 1)[-1].lower()})
                names.update(m.lower() for m in re.findall(r"\(([^ )]+) \d+\)", line))
            self._voices = frozenset(names)
        return self._voices

    def synth(self, text: str, voice: str, rate: int) -> tuple[np.ndarray, int]:
        """Render ``text`` with ``voice`` at ``rate`` words/minute: (int16 samples, sample rate)."""
        fd, path = tempfile.mkstemp(prefix="ctid-tts-", suffix=".wav")
        os.close(fd)
        try:
            out = self._run(["-v", voice, "-s", str(int(rate)), "-b", "1", "--stdin", "-w", path],
                            stdin=text.encode("utf-8"))
            if out.returncode != 0:
                msg = out.stderr.decode("utf-8", "replace").strip() or f"exit status {out.returncode}"
                raise TtsError(f"{self.program} failed for voice {voice!r}: {msg}")
            try:
                with wave.open(path, "rb") as w:
                    if w.getsampwidth() != 2 or w.getnchannels() != 1:
                        raise TtsError(f"{self.program} wrote {w.getnchannels()} channel(s) of "
                                       f"{8 * w.getsampwidth()}-bit audio; expected 16-bit mono")
                    sr = w.getframerate()
                    pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
            except (wave.Error, EOFError, OSError) as e:
                raise TtsError(f"{self.program} did not write a usable WAV file: {e}") from None
            return pcm, sr
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass


def to_alaw_8k(pcm: np.ndarray, rate: int, peak_dbm0: float = PEAK_DBM0) -> np.ndarray:
    """16-bit PCM at ``rate`` -> 8 kHz, peak normalised to a ``peak_dbm0`` sine's peak, A-law codes."""
    x = np.asarray(pcm, dtype=np.float64)
    if rate != RATE:
        g = gcd(int(rate), RATE)
        x = resample_poly(x, RATE // g, int(rate) // g)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak < 1.0:
        raise TtsError("the engine rendered silence")
    target = DBM0_PEAK * 10 ** (peak_dbm0 / 20)
    y = np.clip(np.rint(x * (target / peak)), -32768, 32767).astype(np.int16)
    return g711.alaw_encode(y)


class Tts:
    """Text to 8 kHz A-law, cached on disk (see the module docstring).

    ``engine`` is the espeak-ng program (name on PATH or a path); ``backend`` replaces it with any object having
    ``name``, ``version()``, ``voices()`` and ``synth(text, voice, rate) -> (int16, rate)``.
    """

    def __init__(self, cache_dir: str, engine: str = "espeak-ng", *, rate: int = 160, backend=None,
                 peak_dbm0: float = PEAK_DBM0, memory_bytes: int = 32 << 20, reactor=None, threadpool=None):
        if backend is None:
            if not os.path.basename(engine).startswith("espeak"):
                raise TtsError(f"unsupported TTS engine {engine!r}; supported: espeak-ng")
            backend = EspeakNg(engine)
        self.backend = backend
        self.cache_dir = os.fspath(cache_dir)
        if not 80 <= int(rate) <= 450:
            raise TtsError(f"TTS rate {rate!r} out of range: 80..450 words per minute")
        self.rate = int(rate)
        self.peak_dbm0 = float(peak_dbm0)
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memory_bytes = 0
        self._memory_limit = memory_bytes
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._reactor = reactor
        self._threadpool = threadpool

    # -- keys and voices ----------------------------------------------------------------------------------------
    def resolve_voice(self, voice: str) -> str:
        """The espeak-ng voice for ``voice`` ('zh' and 'cmn' -> cmn, 'en' -> en, or any espeak-ng voice name)."""
        if not isinstance(voice, str) or not voice:
            raise UnknownVoice(f"bad voice {voice!r}: use 'zh' (Mandarin) or 'en' (English)")
        v = VOICE_ALIASES.get(voice.lower(), voice.lower())
        if v not in self.backend.voices():
            raise UnknownVoice(
                f"unknown voice {voice!r}: use 'zh' (Mandarin) or 'en' (English), or a voice listed by "
                f"'{self.backend.name} --voices'"
            )
        return v

    @staticmethod
    def _check_text(text) -> str:
        if not isinstance(text, str):
            raise TtsError(f"TTS text must be a string, got {type(text).__name__}")
        if not text.strip():
            raise TtsError("TTS text is empty")
        if len(text) > MAX_TEXT:
            raise TtsError(f"TTS text is {len(text)} characters; at most {MAX_TEXT}")
        return text

    def cache_key(self, text: str, voice: str) -> str:
        spec = {"engine": self.backend.name, "version": self.backend.version(), "voice": self.resolve_voice(voice),
                "rate": self.rate, "text": self._check_text(text), "format": FORMAT.format(peak=self.peak_dbm0)}
        return hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()

    def cache_path(self, key: str) -> str:
        return os.path.join(self.cache_dir, key[:2], key + ".al")

    # -- rendering ----------------------------------------------------------------------------------------------
    def render(self, text: str, voice: str = "zh") -> np.ndarray:
        """``text`` spoken by ``voice`` as 8 kHz A-law codes (uint8), from the cache when already rendered."""
        key = self.cache_key(text, voice)
        hit = self._from_memory(key)
        if hit is not None:
            return hit
        with self._lock:
            klock = self._key_locks.setdefault(key, threading.Lock())
        with klock:  # one rendering per key at a time; the others then find it cached
            try:
                audio = self._from_disk(key)
                if audio is None:
                    pcm, sr = self.backend.synth(text, self.resolve_voice(voice), self.rate)
                    try:
                        audio = to_alaw_8k(pcm, sr, self.peak_dbm0)
                    except TtsError as e:
                        raise TtsError(f"{e} for {text[:40]!r} (voice {voice!r})") from None
                    try:
                        self._store(key, audio)
                    except TtsError as e:  # the caller still gets its audio; only the cache is lost
                        _log.warn("TTS cache not written: {error}", error=str(e))
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)
        self._remember(key, audio)
        return audio.copy()

    def render_async(self, text: str, voice: str = "zh"):
        """:meth:`render` in a thread pool; a Deferred fires with the A-law array (or a TtsError failure)."""
        from twisted.internet.threads import deferToThreadPool

        reactor = self._reactor
        if reactor is None:
            from twisted.internet import reactor
        pool = self._threadpool if self._threadpool is not None else reactor.getThreadPool()
        return deferToThreadPool(reactor, pool, self.render, text, voice)

    def _from_memory(self, key: str) -> np.ndarray | None:
        with self._lock:
            a = self._memory.get(key)
            if a is None:
                return None
            self._memory.move_to_end(key)
            return a.copy()

    def _remember(self, key: str, audio: np.ndarray) -> None:
        with self._lock:
            if key in self._memory or audio.nbytes > self._memory_limit:
                return
            self._memory[key] = audio.copy()
            self._memory_bytes += audio.nbytes
            while self._memory_bytes > self._memory_limit:
                _, old = self._memory.popitem(last=False)
                self._memory_bytes -= old.nbytes

    def _from_disk(self, key: str) -> np.ndarray | None:
        try:
            with open(self.cache_path(key), "rb") as f:
                blob = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:  # rendered again rather than failing the prompt
            _log.warn("TTS cache {path} not readable: {error}", path=self.cache_path(key), error=e.strerror or str(e))
            return None
        return np.frombuffer(blob, dtype=np.uint8).copy() if blob else None

    def _store(self, key: str, audio: np.ndarray) -> None:
        path = self.cache_path(key)
        d = os.path.dirname(path)
        try:
            os.makedirs(d, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-", suffix=".al")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(audio.tobytes())
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except OSError as e:
            raise TtsError(f"TTS cache {d}: cannot write: {e.strerror or e}") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m ctid.media.tts [--voice zh] [--cache DIR] -o out.wav TEXT``: render to an 8 kHz A-law WAV."""
    import argparse
    import sys

    from ctid.dsp.wavfile import write_wav

    p = argparse.ArgumentParser(prog="python -m ctid.media.tts", description="render text to 8 kHz A-law WAV")
    p.add_argument("text")
    p.add_argument("--voice", default="zh", help="zh (Mandarin), en (English) or an espeak-ng voice")
    p.add_argument("--rate", type=int, default=160, help="words per minute (default %(default)s)")
    p.add_argument("--cache", default="ctid-data/tts", help="cache directory (default %(default)s)")
    p.add_argument("-o", "--output", required=True, help="WAV file to write")
    a = p.parse_args(argv)
    try:
        codes = Tts(a.cache, rate=a.rate).render(a.text, a.voice)
    except TtsError as e:
        print(f"tts: {e}", file=sys.stderr)
        return 1
    write_wav(a.output, g711.alaw_decode(codes), law="alaw")
    print(f"{a.output}: {len(codes) / RATE:.2f} s, 8 kHz A-law")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
