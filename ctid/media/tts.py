"""Text to speech for prompts: libespeak-ng through pyttsx3 or in a child process, 8 kHz A-law, cached on disk.

The libespeak-ng is the one :mod:`ctid.media.espeak_lib` chooses: espeakng-loader's 1.52 (a dependency), because
Debian bookworm's 1.51 reads most Chinese characters as English-spelt pinyin (espeak-ng issues #1028/#1044);
``CTID_ESPEAK_LIBRARY``/``CTID_ESPEAK_DATA`` override it. A library older than 1.52 used for a Mandarin voice is
logged once as a warning. Two backends render with that library; ``Tts(cache_dir, engine=...)`` (config
``[tts] engine``) picks:

* ``pyttsx3`` (:class:`Pyttsx3`): pyttsx3 with its espeak driver, driven so that its known faults in 2.99 do not
  reach a prompt. The chosen library is loaded (``espeak_lib.preload``) before pyttsx3's driver, which then gets it
  for its ``libespeak-ng.so.1``. pyttsx3 keeps one engine per process with one process-wide synthesis callback, so
  one dedicated worker thread (:class:`Pyttsx3Worker`) owns the engine and renders the requests it takes from a
  queue one at a time (``save_to_file`` + ``runAndWait`` into a temporary WAV). Its driver writes a 22050 Hz header
  whatever the voice's real rate: the header is read and checked against libespeak-ng's real output rate
  (``espeak_ng_GetSampleRate``), which wins. Its "Audio saved to ..." line on stdout is dropped (only in that
  module). It queues property changes and reports a bad voice only through its ``error`` notification: a voice is
  looked up in ``getProperty('voices')`` first (unknown: :class:`UnknownVoice`), errors notified during the
  rendering fail it, and the voice in force afterwards is checked. A rendering not done in ``timeout`` seconds is
  aborted (the synthesis callback returns 1) and reported; the worker goes on.
* ``espeak-ng`` (:class:`EspeakLib`): the same library in a child process per rendering (``python -P
  ctid/media/espeak_lib.py --library LIB --voice VOICE --rate RATE --out out.wav < text``, libespeak-ng's
  synchronous API), in parallel, under a timeout, killed at it; it writes the voice's real rate in the header.
  The Debian ``espeak-ng`` program is not used: it is 1.51 and cannot read the 1.52 data.
* a path to an espeak-ng program (:class:`EspeakNg`, ``/usr/local/bin/espeak-ng``): that program (``-v VOICE -s
  RATE -b 1 --stdin -w out.wav``), one process per rendering, for a system whose espeak-ng is 1.52 or later.
* ``auto`` (default): pyttsx3 when it imports and renders a short text in a self-check, else ``espeak-ng``; the
  choice and the reason are logged. A pyttsx3 rendering that fails twice is made by ``espeak-ng``.

Pipeline: 16-bit PCM at the engine's rate (22050 Hz for the espeak-ng voices) -> 8 kHz with
:func:`scipy.signal.resample_poly` (its anti-alias FIR) -> peak normalised to the peak of a -6 dBm0 sine (a 0 dBm0
sine has peak 22827 in the A-law convention of docs/dsp.md, so the peak is 11441) -> A-law (:mod:`ctid.dsp.g711`).

Cache: ``<cache_dir>/<k[:2]>/<k>.al`` (raw A-law) where ``k = sha256(engine, engine version, voice, rate, text,
output format)`` (so the backends never share an entry, and renderings of another libespeak-ng version, such as
1.51's garbled Mandarin, are not reused); written to a temporary file in the same directory, fsync'd and renamed,
so a reader never sees a partial file. Recent renderings are also kept in memory. A cache
that cannot be read or written is logged and the text rendered (and returned) anyway: a broken cache costs time,
never a prompt.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
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
    """An espeak-ng command-line program as a synthesis backend (``[tts] engine = "/path/to/espeak-ng"``): for a
    system whose espeak-ng is 1.52 or later (Debian bookworm's 1.51 garbles Mandarin, see
    :mod:`ctid.media.espeak_lib`)."""

    name = "espeak-ng-program"

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

    espeak_version = version

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
            return _read_wav(path, self.program)
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass


class EspeakLib:
    """libespeak-ng (the one :func:`ctid.media.espeak_lib.choose` picks: espeakng-loader's 1.52 when installed) in a
    child process per rendering (``python -P ctid/media/espeak_lib.py --voice V --rate R --out f.wav < text``),
    so renderings run in parallel, a stuck one is killed at the timeout, and no library state is shared."""

    name = "espeak-ng"

    def __init__(self, timeout: float = 60.0, library: str | None = None, data: str | None = None):
        from . import espeak_lib

        self.timeout = timeout
        if library is None:
            choice = espeak_lib.choose()
            library, data = choice.library, choice.data
        self.library, self.data = library, data
        self._script = espeak_lib.__file__
        self._info: dict | None = None
        self._voices: frozenset[str] | None = None

    def _run(self, args: list[str], stdin: bytes | None = None) -> subprocess.CompletedProcess:
        from .espeak_lib import child_environ

        cmd = [sys.executable, "-P", self._script, "--library", self.library]
        if self.data:
            cmd += ["--data", self.data]
        try:
            return subprocess.run(cmd + args, input=stdin, capture_output=True, timeout=self.timeout,
                                  env=child_environ())
        except subprocess.TimeoutExpired:
            raise TtsError(f"libespeak-ng renderer did not finish within {self.timeout:g} s") from None
        except OSError as e:
            raise EngineMissing(f"cannot run the libespeak-ng renderer ({sys.executable}): {e}") from None

    @staticmethod
    def _message(out: subprocess.CompletedProcess) -> str:
        return out.stderr.decode("utf-8", "replace").strip() or f"exit status {out.returncode}"

    def info(self) -> dict:
        """{"version", "library", "data", "rate"} of the library the renderer loads."""
        if self._info is None:
            out = self._run(["--version"])
            try:
                info = json.loads(out.stdout) if out.returncode == 0 else None
            except ValueError:
                info = None
            if not isinstance(info, dict) or "version" not in info:
                raise EngineMissing(f"libespeak-ng {self.library!r} cannot be used: {self._message(out)} "
                                    "(pip install espeakng-loader, or apt-get install libespeak-ng1)")
            self._info = info
        return self._info

    def version(self) -> str:
        return str(self.info()["version"])

    espeak_version = version

    def voices(self) -> frozenset[str]:
        """Voice identifiers (``sit/cmn``), their last part (``cmn``), names and languages (``zh``)."""
        if self._voices is None:
            from .espeak_lib import voice_names

            out = self._run(["--voices"])
            if out.returncode != 0:
                raise EngineMissing(f"libespeak-ng {self.library!r} cannot list its voices: {self._message(out)}")
            voices = []
            for line in out.stdout.decode("utf-8", "replace").splitlines():
                try:
                    voices.append(json.loads(line))
                except ValueError:
                    continue
            self._voices = voice_names(voices)
        return self._voices

    def phonemes(self, texts: list[str], voice: str) -> list[str]:
        """Each text's phoneme mnemonics (as ``espeak-ng -x``) with ``voice``; texts must not hold line breaks."""
        if any("\n" in t or "\r" in t for t in texts):
            raise TtsError("phonemes: one line per text")
        out = self._run(["--voice", voice, "--phonemes"], stdin="\n".join(texts).encode("utf-8") + b"\n")
        if out.returncode != 0:
            raise TtsError(f"libespeak-ng failed for voice {voice!r}: {self._message(out)}")
        lines = out.stdout.decode("utf-8", "replace").splitlines()
        if len(lines) != len(texts):
            raise TtsError(f"phonemes: {len(lines)} lines for {len(texts)} texts")
        return lines

    def synth(self, text: str, voice: str, rate: int) -> tuple[np.ndarray, int]:
        """Render ``text`` with ``voice`` at ``rate`` words/minute: (int16 samples, sample rate)."""
        fd, path = tempfile.mkstemp(prefix="ctid-tts-", suffix=".wav")
        os.close(fd)
        try:
            out = self._run(["--voice", voice, "--rate", str(int(rate)), "--out", path], stdin=text.encode("utf-8"))
            if out.returncode == 2 and "no voice" in self._message(out):
                raise UnknownVoice(f"libespeak-ng {self.version()} has no voice {voice!r}")
            if out.returncode != 0:
                raise TtsError(f"libespeak-ng failed for voice {voice!r}: {self._message(out)}")
            return _read_wav(path, "libespeak-ng renderer")
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass


def _read_wav(path: str, who: str) -> tuple[np.ndarray, int]:
    """A 16-bit mono WAV file written by an engine: (int16 samples, its rate)."""
    try:
        with wave.open(path, "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise TtsError(f"{who} wrote {w.getnchannels()} channel(s) of {8 * w.getsampwidth()}-bit audio; "
                               "expected 16-bit mono")
            sr = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    except (wave.Error, EOFError, OSError) as e:
        raise TtsError(f"{who} did not write a usable WAV file: {e}") from None
    return pcm, sr


class _Request:
    """A rendering (text, voice, rate) or a call ``fn(engine, *args)`` for the worker thread."""

    __slots__ = ("text", "voice", "rate", "call", "done", "result", "error")

    def __init__(self, text: str = "", voice: str = "", rate: int = 0, call=None):
        self.text, self.voice, self.rate, self.call = text, voice, rate, call
        self.done = threading.Event()
        self.result: tuple[np.ndarray, int] | None = None
        self.error: BaseException | None = None


def _quiet_print(*args, **kw):
    """Stands in for ``print`` inside pyttsx3.drivers.espeak: drops its "Audio saved to ..." chatter only."""
    if args and isinstance(args[0], str) and args[0].startswith("Audio saved to "):
        return
    print(*args, **kw)


def _pyttsx3_engine():
    """The process's pyttsx3 engine on its espeak driver (called on the worker thread only), on the libespeak-ng
    :func:`ctid.media.espeak_lib.preload` chose (loaded before pyttsx3's driver loads "libespeak-ng.so.1")."""
    from . import espeak_lib

    espeak_lib.preload()
    import pyttsx3
    from pyttsx3.drivers import _espeak
    from pyttsx3.drivers import espeak as espeak_driver

    if espeak_lib.same_library(_espeak.dll) is False:
        _log.warn("pyttsx3 loaded another libespeak-ng than the one chosen ({lib}): its SONAME is not "
                  "libespeak-ng.so.1, or pyttsx3's driver was imported first", lib=espeak_lib.choose().library)
    espeak_driver.print = _quiet_print       # module global shadows the builtin for that module only
    return pyttsx3.init("espeak")


class Pyttsx3Worker:
    """One thread owning the process's single pyttsx3 engine; :meth:`synth` requests are queued to it.

    pyttsx3's espeak driver initialises libespeak-ng once per process and installs one process-wide synthesis
    callback, so every rendering goes through this one thread. A request that is not done within ``timeout``
    is aborted (the synthesis callback returns 1, which makes libespeak-ng stop, then ``espeak_Cancel``) and
    reported as a TtsError; the worker then takes the next request. An engine that does not come back even
    ``grace`` seconds after the deadline wedges the worker: its callers and all later ones get a TtsError
    saying so (rather than waiting for ever). ``factory`` builds the engine on the worker thread (tests pass a
    test double).
    """

    def __init__(self, factory=_pyttsx3_engine, timeout: float = 60.0, grace: float = 10.0):
        self.factory = factory
        self.timeout = float(timeout)
        self.grace = float(grace)
        self._queue: "queue.Queue[_Request | None]" = queue.Queue()
        self._engine = None
        self._driver = None
        self._espeak = None
        self._capture: list[bytes] | None = None    # the current rendering's samples, as libespeak-ng hands them
        self._errors: list[BaseException] = []
        self._abort = False
        self._finished = threading.Event()
        self._ready = threading.Event()
        self._init_error: BaseException | None = None
        self._wedged: str | None = None
        self._busy_since: float | None = None            # monotonic start of the request being worked on
        self._thread = threading.Thread(target=self._run, name="ctid-pyttsx3", daemon=True)
        self._thread.start()

    # -- caller side ------------------------------------------------------------------------------------------
    def _wait_ready(self) -> None:
        if not self._ready.wait(self.timeout):
            raise TtsError(f"pyttsx3 did not start within {self.timeout:g} s")
        if self._init_error is not None:
            raise EngineMissing(f"pyttsx3 with its espeak driver cannot start: {self._init_error}")

    def call(self, fn, *args):
        """Run ``fn(engine, *args)`` on the worker thread (property reads); returns its result."""
        return self._submit(_Request(call=(fn, args)))

    def synth(self, text: str, voice: str, rate: int) -> tuple[np.ndarray, int]:
        return self._submit(_Request(text, voice, int(rate)))

    def _submit(self, req: _Request):
        self._wait_ready()
        if self._wedged is not None:
            raise TtsError(f"pyttsx3 worker is stuck ({self._wedged}); restart the daemon or use engine = \"espeak-ng\"")
        self._queue.put(req)
        # The worker aborts a rendering at its deadline itself; a request still running 10 s after that (the
        # engine ignored the abort) wedges the worker. Requests queued behind others wait their turn.
        grace = self.timeout + self.grace
        while not req.done.wait(min(1.0, grace)):
            since = self._busy_since
            if since is not None and time.monotonic() - since > grace:
                self._wedged = f"a rendering did not return {grace:g} s after it started"
                raise TtsError(f"pyttsx3 did not finish within {self.timeout:g} s and does not respond")
        if req.error is not None:
            raise req.error
        return req.result

    # -- worker side ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._engine = self.factory()
            self._engine.connect("error", self._on_error)
            self._engine.connect("finished-utterance", self._on_finished)
            self._driver = getattr(getattr(self._engine, "proxy", None), "_driver", None)
            self._hook_callback()
        except Exception as exc:  # noqa: BLE001 - reported to every caller
            self._init_error = exc
            self._ready.set()
            return
        self._ready.set()
        while True:
            req = self._queue.get()
            self._busy_since = time.monotonic()
            try:
                if req.call is not None:
                    fn, args = req.call
                    req.result = fn(self._engine, *args)
                else:
                    req.result = self._render(req)
            except TtsError as exc:
                req.error = exc
            except Exception as exc:  # noqa: BLE001 - the engine's failure, reported; the worker goes on
                req.error = TtsError(f"pyttsx3 failed: {type(exc).__name__}: {exc}")
            finally:
                self._busy_since = None
                req.done.set()

    def _on_error(self, name=None, exception=None, **kw):
        self._errors.append(exception if exception is not None else RuntimeError("unknown pyttsx3 error"))

    def _on_finished(self, name=None, completed=True, **kw):
        # only a completed utterance: a rendering aborted earlier (timeout) may still report its end
        # (completed=False) while the next one renders
        if completed:
            self._finished.set()

    def _hook_callback(self) -> None:
        """Wrap the espeak driver's synthesis callback so a rendering past its deadline can be aborted."""
        if self._driver is None or not hasattr(self._driver, "_onSynth"):
            return
        from pyttsx3.drivers import _espeak

        self._espeak = _espeak
        on_synth = self._driver._onSynth

        def callback(wav, numsamples, events):
            if self._abort:
                return 1                                  # libespeak-ng: non-zero stops the synthesis
            # keep the samples ourselves: pyttsx3 2.99's driver writes its WAV file when it sees the end event,
            # before it appends the samples that came with that same callback (a short text can come out empty,
            # and the rest leaks into the next utterance)
            if numsamples > 0 and self._capture is not None:
                self._capture.append(ctypes.string_at(wav, numsamples * 2))
            r = on_synth(wav, numsamples, events)
            return 1 if self._abort else (r or 0)
        _espeak.SetSynthCallback(callback)

    def _engine_rate(self) -> int | None:
        """libespeak-ng's real output rate for the current voice (22050 Hz; 16000 Hz for MBROLA voices)."""
        if self._espeak is None:
            return None
        fn = getattr(self._espeak.dll, "espeak_ng_GetSampleRate", None)
        if fn is None:
            return None
        fn.restype = ctypes.c_int
        r = int(fn())
        return r if r > 0 else None

    def _expire(self) -> None:
        """The deadline passed: make the synthesis callback refuse more audio (libespeak-ng then stops)."""
        self._abort = True
        if self._driver is not None:
            self._driver._stopping = True               # a driver loop still running ends at its next turn

    def _cancel(self) -> None:
        """Stop libespeak-ng's synthesis thread; when espeak_Cancel returns it is ready for a new text."""
        self._expire()
        if self._espeak is not None:
            try:
                self._espeak.Cancel()
            except Exception:  # noqa: BLE001
                _log.failure("espeak_Cancel")

    def _render(self, req: _Request) -> tuple[np.ndarray, int]:
        eng = self._engine
        self._errors.clear()
        self._finished.clear()
        self._abort = False
        if self._driver is not None:
            self._driver._stopping = False
        fd, path = tempfile.mkstemp(prefix="ctid-pyttsx3-", suffix=".wav")
        os.close(fd)
        os.unlink(path)                                  # written by the driver; its absence means no audio
        self._capture = [] if self._espeak is not None else None
        deadline = time.monotonic() + self.timeout
        timer = threading.Timer(self.timeout, self._expire)   # for a driver that renders inside runAndWait
        timer.daemon = True
        try:
            if self._espeak is not None:
                # The first utterance after pyttsx3's driver starts is sometimes spoken at the rate the driver
                # set when it started (200 words/minute) instead of the one queued below (seen with
                # libespeak-ng 1.51 and 1.52 in about half the runs when the engine had been idle after its
                # start): setting the rate once directly, before the voice, makes it take every time.
                self._espeak.SetParameter(self._espeak.RATE, int(req.rate), 0)
            eng.setProperty("voice", req.voice)
            eng.setProperty("rate", req.rate)
            eng.setProperty("volume", 1.0)
            eng.save_to_file(req.text, path)
            timer.start()
            # runs the queued commands and starts the synthesis; in AUDIO_OUTPUT_RETRIEVAL mode libespeak-ng
            # renders on its own thread and the driver writes the file at the end ("finished-utterance")
            eng.runAndWait()
            if self._errors:
                self._cancel()
                raise TtsError(f"pyttsx3 failed for voice {req.voice!r}: {self._errors[0]}")
            if not self._finished.wait(max(0.0, deadline - time.monotonic())) or self._abort:
                self._cancel()
                raise TtsError(f"pyttsx3 did not finish within {self.timeout:g} s ({len(req.text)} characters)")
            timer.cancel()
            if self._errors:
                raise TtsError(f"pyttsx3 failed for voice {req.voice!r}: {self._errors[0]}")
            current = eng.getProperty("voice")
            if current != req.voice:
                raise UnknownVoice(f"pyttsx3 did not take voice {req.voice!r} (it has {current!r})")
            if self._capture is not None:
                # the samples libespeak-ng produced for this utterance, at its real rate (see _hook_callback)
                pcm = np.frombuffer(b"".join(self._capture), dtype="<i2").astype(np.int16)
                return pcm, self._engine_rate() or 22050
            try:
                with wave.open(path, "rb") as w:
                    if w.getsampwidth() != 2 or w.getnchannels() != 1:
                        raise TtsError(f"pyttsx3 wrote {w.getnchannels()} channel(s) of {8 * w.getsampwidth()}-bit "
                                       "audio; expected 16-bit mono")
                    header_rate = w.getframerate()
                    pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
            except FileNotFoundError:
                raise TtsError(f"pyttsx3 wrote no audio for voice {req.voice!r}") from None
            except (wave.Error, EOFError, OSError) as e:
                raise TtsError(f"pyttsx3 did not write a usable WAV file: {e}") from None
            real = self._engine_rate()
            if real is not None and real != header_rate:
                # pyttsx3 2.99 writes 22050 Hz whatever libespeak-ng produced: the samples are at the real rate
                _log.debug("pyttsx3 header says {h} Hz, libespeak-ng renders {r} Hz: using {r}",
                           h=header_rate, r=real)
                header_rate = real
            return pcm, header_rate
        finally:
            self._capture = None
            timer.cancel()
            self._abort = False
            if self._driver is not None:
                self._driver._stopping = False
            try:
                os.unlink(path)
            except OSError:
                pass


_shared_worker: Pyttsx3Worker | None = None
_shared_lock = threading.Lock()


def shared_pyttsx3_worker(timeout: float = 60.0) -> Pyttsx3Worker:
    """The process's one pyttsx3 worker (created on first use)."""
    global _shared_worker
    with _shared_lock:
        if _shared_worker is None:
            _shared_worker = Pyttsx3Worker(timeout=timeout)
        return _shared_worker


class Pyttsx3:
    """pyttsx3 with its espeak(-ng) driver as a synthesis backend (same interface as :class:`EspeakLib`).

    All instances share the process's one :class:`Pyttsx3Worker` unless ``worker`` is given. Voice names are
    the espeak-ng voice identifiers pyttsx3 lists (``sit/cmn``), their last part (``cmn``) and their language
    (``en-gb``); :meth:`synth` takes any of them and refuses names pyttsx3 does not list.
    """

    name = "pyttsx3"

    def __init__(self, worker: Pyttsx3Worker | None = None, timeout: float = 60.0):
        try:
            import pyttsx3  # noqa: F401
        except ImportError as exc:
            raise EngineMissing(f"pyttsx3 is not installed ({exc}); pip install pyttsx3, or use engine = \"espeak-ng\"") from None
        self.worker = worker if worker is not None else shared_pyttsx3_worker(timeout)
        self._version: str | None = None
        self._ids: dict[str, str] | None = None

    def version(self) -> str:
        if self._version is None:
            import importlib.metadata

            try:
                own = importlib.metadata.version("pyttsx3")
            except importlib.metadata.PackageNotFoundError:
                own = "unknown"
            self._version = f"{own}/espeak-ng-{self.espeak_version()}"
        return self._version

    def espeak_version(self) -> str:
        """The version of the libespeak-ng pyttsx3 renders with (``espeak_Info``)."""
        return self.worker.call(_espeak_version)

    def _voice_ids(self) -> dict[str, str]:
        """name -> voice identifier, from ``getProperty('voices')``."""
        if self._ids is None:
            ids: dict[str, str] = {}
            for v in self.worker.call(lambda eng: eng.getProperty("voices")):
                vid = str(v.id).lower()
                for n in [*(str(lang).lower() for lang in (v.languages or []) if lang), vid.rsplit("/", 1)[-1], vid]:
                    ids[n] = vid                 # later (more specific) names win
            self._ids = ids
        return self._ids

    def voices(self) -> frozenset[str]:
        return frozenset(self._voice_ids())

    def synth(self, text: str, voice: str, rate: int) -> tuple[np.ndarray, int]:
        vid = self._voice_ids().get(str(voice).lower())
        if vid is None:
            raise UnknownVoice(f"pyttsx3 has no voice {voice!r} (getProperty('voices'))")
        return self.worker.synth(text, vid, rate)


def _espeak_version(engine) -> str:
    try:
        from . import espeak_lib

        espeak_lib.preload()
        from pyttsx3.drivers import _espeak

        fn = _espeak.dll.espeak_Info
        fn.restype = ctypes.c_char_p
        return (fn(None) or b"unknown").decode("ascii", "replace")
    except Exception:  # noqa: BLE001
        return "unknown"


ENGINES = ("auto", "pyttsx3", "espeak-ng")


def is_program_path(engine: str) -> bool:
    """Whether ``engine`` names an espeak-ng program by path (``/usr/local/bin/espeak-ng``): the user's choice of
    a program (for a system espeak-ng of 1.52 or later)."""
    return isinstance(engine, str) and os.sep in engine and os.path.basename(engine).startswith("espeak")


def self_check(backend) -> None:
    """Render a short English text with ``backend``; TtsError unless it gives non-silent audio at a sane rate."""
    pcm, sr = backend.synth("ok", "en", 160)
    if not 8000 <= int(sr) <= 48000:
        raise TtsError(f"{backend.name} self-check: sample rate {sr} Hz")
    if len(pcm) < int(sr) // 20 or int(np.max(np.abs(np.asarray(pcm, dtype=np.int32)))) < 256:
        raise TtsError(f"{backend.name} self-check: {len(pcm)} samples, silent or too short")


def make_backend(engine: str = "auto", timeout: float = 60.0):
    """The synthesis backend for ``engine`` (see :class:`Tts`); ``auto`` is logged with the reason."""
    if not isinstance(engine, str) or not engine:
        raise TtsError(f"unsupported TTS engine {engine!r}; supported: {', '.join(ENGINES)}")
    if engine == "pyttsx3":
        return Pyttsx3(timeout=timeout)
    if engine == "espeak-ng":
        return EspeakLib(timeout=timeout)
    if is_program_path(engine):
        return EspeakNg(engine, timeout=timeout)
    if engine != "auto":
        raise TtsError(f"unsupported TTS engine {engine!r}; supported: {', '.join(ENGINES)} "
                       "(or the path of an espeak-ng program)")
    try:
        backend = Pyttsx3(timeout=timeout)
        self_check(backend)
    except TtsError as exc:
        _log.warn("TTS engine: libespeak-ng in a child process (pyttsx3 not usable: {error})", error=str(exc))
        return EspeakLib(timeout=timeout)
    _log.info("TTS engine: pyttsx3 {version} (espeak driver)", version=backend.version())
    return backend


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

    ``engine``: ``"pyttsx3"`` (pyttsx3 with its espeak-ng driver, :class:`Pyttsx3`), ``"espeak-ng"``
    (libespeak-ng in a child process, :class:`EspeakLib`), the path of an espeak-ng program (:class:`EspeakNg`)
    or ``"auto"`` (the default: pyttsx3 when it imports and passes a self-check, else espeak-ng; the choice is
    logged). ``backend`` replaces the engine with any object
    having ``name``, ``version()``, ``voices()`` and ``synth(text, voice, rate) -> (int16, rate)``. The cache key
    holds the backend's name and version, so renderings of different engines never mix.
    """

    def __init__(self, cache_dir: str, engine: str = "auto", *, rate: int = 160, backend=None,
                 peak_dbm0: float = PEAK_DBM0, memory_bytes: int = 32 << 20, reactor=None, threadpool=None,
                 timeout: float = 60.0):
        if isinstance(rate, bool) or not isinstance(rate, int) or not 80 <= rate <= 450:
            raise TtsError(f"TTS rate {rate!r} out of range: 80..450 words per minute")
        if backend is None:
            backend = make_backend(engine, timeout=timeout)
        self.backend = backend
        self._fallback = None       # EspeakLib, if pyttsx3 fails a rendering twice (see _synthesise)
        self.cache_dir = os.fspath(cache_dir)
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
                f"unknown voice {voice!r} for the {self.backend.name} engine: use 'zh' (Mandarin) or 'en' "
                "(English), or an espeak-ng voice ('espeak-ng --voices')"
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
                    audio = self._synthesise(text, voice)
                    try:
                        self._store(key, audio)
                    except TtsError as e:  # the caller still gets its audio; only the cache is lost
                        _log.warn("TTS cache not written: {error}", error=str(e))
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)
        self._remember(key, audio)
        return audio.copy()

    def _synthesise(self, text: str, voice: str) -> np.ndarray:
        """Render with the backend; a failed or silent rendering by pyttsx3 (its in-process libespeak-ng is
        asynchronous: a rare rendering comes back empty) is tried once more, then by :class:`EspeakLib` (the
        same library in a child process), so a caller never gets silence or an error where speech can be made. Unknown voices and
        texts are not retried."""
        def once(backend):
            v = self.resolve_voice(voice)
            version = getattr(backend, "espeak_version", None)
            if version is not None:
                from . import espeak_lib

                espeak_lib.warn_if_old_mandarin(version(), v, backend.name)
            pcm, sr = backend.synth(text, v, self.rate)
            try:
                return to_alaw_8k(pcm, sr, self.peak_dbm0)
            except TtsError as e:
                raise TtsError(f"{e} for {text[:40]!r} (voice {voice!r})") from None
        try:
            return once(self.backend)
        except UnknownVoice:
            raise
        except TtsError as first:
            if not isinstance(self.backend, Pyttsx3):
                raise
            _log.warn("TTS: pyttsx3 failed ({error}); trying again", error=str(first))
            try:
                return once(self.backend)
            except UnknownVoice:
                raise
            except TtsError as second:
                _log.warn("TTS: pyttsx3 failed again ({error}); rendering with libespeak-ng in a child process",
                          error=str(second))
                if self._fallback is None:
                    self._fallback = EspeakLib()
                return once(self._fallback)

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
    p.add_argument("--engine", default="auto",
                   help="auto, pyttsx3, espeak-ng or the path of an espeak-ng program (default %(default)s)")
    p.add_argument("-o", "--output", required=True, help="WAV file to write")
    a = p.parse_args(argv)
    try:
        tts = Tts(a.cache, a.engine, rate=a.rate)
        codes = tts.render(a.text, a.voice)
    except TtsError as e:
        print(f"tts: {e}", file=sys.stderr)
        return 1
    write_wav(a.output, g711.alaw_decode(codes), law="alaw")
    print(f"{a.output}: {len(codes) / RATE:.2f} s, 8 kHz A-law ({tts.backend.name} {tts.backend.version()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
