"""Which libespeak-ng ctid speaks with, loaded before pyttsx3's driver; and a renderer on it in a child process.

Debian bookworm's espeak-ng 1.51 reads most Chinese characters as English-read pinyin with English tone numbers
(espeak-ng issues #1028/#1044): ``espeak-ng -v cmn -x "欢迎致电人民医院"`` gives ``(en)hj,u:55a#55nf'aI55v_| ...``
("huan five ying two ..."). espeak-ng 1.52 reads them right. The PyPI package ``espeakng-loader`` (a dependency of
ctid) ships libespeak-ng 1.52 with its espeak-ng-data; this module picks the library (:func:`choose`):

1. ``CTID_ESPEAK_LIBRARY=/path/libespeak-ng.so.1``: that library; its data from ``CTID_ESPEAK_DATA`` if set, else
   ``ESPEAK_DATA_PATH`` if set, else the library's own default.
2. else espeakng-loader's library, with its data (``ESPEAK_DATA_PATH`` set by the user is kept, and
   ``CTID_ESPEAK_DATA`` overrides both);
3. else the system's ``libespeak-ng.so.1`` with its default data (or ``CTID_ESPEAK_DATA``/``ESPEAK_DATA_PATH``).

:func:`preload` (called before ``pyttsx3.drivers._espeak`` is imported) sets ``ESPEAK_DATA_PATH`` to the chosen
data (only when the user did not set it, or ``CTID_ESPEAK_DATA`` says so) and loads the library with
``RTLD_GLOBAL``: pyttsx3's ``cdll.LoadLibrary("libespeak-ng.so.1")`` then gets that library, because the dynamic
linker hands out an already loaded library with that SONAME. A library older than 1.52 used for a Mandarin voice
is logged once as a warning (:func:`warn_if_old_mandarin`).

The same library renders in a child process (``EspeakLib`` in ctid.media.tts, engine ``espeak-ng``), through
libespeak-ng's synchronous API; the Debian ``espeak-ng`` program is not used, because it is 1.51 and cannot be
pointed at the 1.52 data (data of another version gives garbage)::

    python -m ctid.media.espeak_lib --version                   # {"version": "1.52.0", "library": ..., "data": ...}
    python -m ctid.media.espeak_lib --voices                    # one JSON object per voice
    echo 欢迎致电人民医院 | python -m ctid.media.espeak_lib --voice cmn --phonemes   # phoneme mnemonics per line
    echo 欢迎致电人民医院 | python -m ctid.media.espeak_lib --voice cmn --rate 160 --out f.wav

``--library PATH`` and ``--data DIR`` pick the library explicitly (the parent passes its choice). Exit status 0,
1 (engine failure, message on stderr), 2 (bad arguments or unknown voice, message on stderr).

This file imports only the standard library (and espeakng-loader when present), so the parent can run it as a
script (``python -P .../espeak_lib.py``) without importing numpy or Twisted for every rendering.
"""
from __future__ import annotations

import ctypes
import json
import os
import re
import sys
import threading
from dataclasses import dataclass

ENV_LIBRARY = "CTID_ESPEAK_LIBRARY"
ENV_DATA = "CTID_ESPEAK_DATA"
SYSTEM_LIBRARY = "libespeak-ng.so.1"
FIXED = (1, 52)                     # the first espeak-ng that reads Mandarin right
BUG = "espeak-ng issues #1028/#1044"

# speak_lib.h
AUDIO_OUTPUT_SYNCHRONOUS = 2
CHARS_UTF8 = 1
ENDPAUSE = 0x1000
POS_CHARACTER = 1
RATE, VOLUME = 1, 2
EE_OK = 0


@dataclass(frozen=True)
class Choice:
    """The libespeak-ng to use: ``library`` (a path or a SONAME), ``data`` (an espeak-ng-data directory, None for
    the library's default), ``set_data`` (whether ESPEAK_DATA_PATH is to be set to ``data``), ``source``."""

    library: str
    data: str | None
    set_data: bool
    source: str


def _loader() -> tuple[str, str] | None:
    try:
        import espeakng_loader
    except ImportError:
        return None
    try:
        lib, data = espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    except Exception:  # noqa: BLE001 - a broken install counts as absent
        return None
    return (lib, data) if os.path.isfile(lib) and os.path.isdir(data) else None


def choose(environ=None) -> Choice:
    """The library and data to use, from the environment (see the module docstring)."""
    env = os.environ if environ is None else environ
    user_data = env.get("ESPEAK_DATA_PATH") or None
    override_data = env.get(ENV_DATA) or None
    lib = env.get(ENV_LIBRARY) or None
    if lib:
        if override_data:
            return Choice(lib, override_data, True, ENV_LIBRARY)
        return Choice(lib, user_data, False, ENV_LIBRARY)
    found = _loader()
    if found is not None:
        if override_data:
            return Choice(found[0], override_data, True, "espeakng-loader")
        if user_data:
            return Choice(found[0], user_data, False, "espeakng-loader")
        return Choice(found[0], found[1], True, "espeakng-loader")
    if override_data:
        return Choice(SYSTEM_LIBRARY, override_data, True, "system")
    return Choice(SYSTEM_LIBRARY, user_data, False, "system")


def version_tuple(version: str | None) -> tuple[int, int] | None:
    m = re.match(r"\s*(\d+)\.(\d+)", version or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


class Library:
    """ctypes bindings of the libespeak-ng functions used here (one library, loaded once per process)."""

    def __init__(self, path: str, global_: bool = False):
        try:
            self.dll = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL if global_ else ctypes.DEFAULT_MODE)
        except OSError as e:
            raise OSError(f"cannot load libespeak-ng {path!r}: {e}") from None
        self.path = path
        d = self.dll
        d.espeak_Info.restype = ctypes.c_char_p
        d.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        d.espeak_Initialize.restype = ctypes.c_int
        d.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        d.espeak_SetVoiceByName.restype = ctypes.c_int
        d.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        d.espeak_SetParameter.restype = ctypes.c_int
        d.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        d.espeak_Synth.restype = ctypes.c_int
        d.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                   ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        d.espeak_SetSynthCallback.restype = None
        d.espeak_TextToPhonemes.restype = ctypes.c_char_p
        d.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        d.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        d.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        self._callback = None

    def info(self) -> tuple[str, str | None]:
        """(version, data directory in use): the data directory is known after :meth:`initialize`."""
        path = ctypes.c_char_p()
        v = self.dll.espeak_Info(ctypes.byref(path))
        return (v or b"unknown").decode("ascii", "replace"), (path.value.decode("utf-8", "replace")
                                                                if path.value else None)

    def initialize(self, data: str | None) -> int:
        """espeak_Initialize in synchronous mode: the output sample rate, or OSError."""
        rate = self.dll.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                          data.encode("utf-8") if data else None, 0)
        if rate <= 0:
            raise OSError(f"libespeak-ng {self.path!r} could not initialise (data: {data or 'its default'})")
        return rate

    def sample_rate(self, default: int) -> int:
        fn = getattr(self.dll, "espeak_ng_GetSampleRate", None)
        if fn is None:
            return default
        fn.restype = ctypes.c_int
        r = int(fn())
        return r if r > 0 else default

    def set_voice(self, voice: str) -> bool:
        """Select ``voice`` (a name :func:`voice_names` lists, with an optional ``+variant``); False if unknown
        (espeak_SetVoiceByName alone takes any name and falls back to a default voice)."""
        if voice.lower().split("+", 1)[0] not in voice_names(self.voices()):
            return False
        return self.dll.espeak_SetVoiceByName(voice.encode("utf-8")) == EE_OK

    def voices(self) -> list[dict]:
        out = []
        arr = self.dll.espeak_ListVoices(None)
        i = 0
        while arr[i]:
            v = arr[i].contents
            langs, addr = [], v.languages
            while addr and ctypes.c_ubyte.from_address(addr).value:    # (priority byte, language, NUL)*, then 0
                lang = ctypes.string_at(addr + 1)
                langs.append(lang.decode("utf-8", "replace"))
                addr += 2 + len(lang)
            out.append({"name": (v.name or b"").decode("utf-8", "replace"),
                        "identifier": (v.identifier or b"").decode("utf-8", "replace"), "languages": langs})
            i += 1
        return out

    def phonemes(self, text: str) -> str:
        """espeak_TextToPhonemes (phoneme mnemonics, as ``espeak-ng -x``), clauses joined by a space."""
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        parts = []
        while ptr.value:
            r = self.dll.espeak_TextToPhonemes(ctypes.byref(ptr), CHARS_UTF8, 0)
            if r:
                parts.append(r.decode("utf-8", "replace"))
        return " ".join(p for p in parts if p)

    def synth(self, text: str, rate: int) -> bytes:
        """Render ``text`` at ``rate`` words/minute with the voice set: 16-bit native-endian PCM."""
        chunks: list[bytes] = []

        def collect(wav, numsamples, events):
            if numsamples > 0 and wav:
                chunks.append(ctypes.string_at(wav, numsamples * 2))
            return 0

        self._callback = _SYNTH_CALLBACK(collect)
        self.dll.espeak_SetSynthCallback(self._callback)
        self.dll.espeak_SetParameter(RATE, int(rate), 0)
        self.dll.espeak_SetParameter(VOLUME, 100, 0)
        data = text.encode("utf-8") + b"\0"
        r = self.dll.espeak_Synth(data, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8 | ENDPAUSE, None, None)
        if r != EE_OK:
            raise OSError(f"espeak_Synth failed (error {r})")
        return b"".join(chunks)


def voice_names(voices: list[dict]) -> frozenset[str]:
    """The names a voice is selected by (lower case): its identifier (``sit/cmn``), the identifier's last part
    (``cmn``), its name and its languages (``cmn``, ``zh``)."""
    names: set[str] = set()
    for v in voices:
        ident = v.get("identifier", "").lower()
        names.update(n for n in (ident, ident.rsplit("/", 1)[-1], v.get("name", "").lower(),
                                 *(str(lang).lower() for lang in v.get("languages", []))) if n)
    return frozenset(names)


class _Voice(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


# -- in-process: the library pyttsx3 will get ------------------------------------------------------------------
_preload_lock = threading.Lock()
_preloaded: tuple[Choice, Library] | None = None
_NOT_SET = object()
_user_data_path = _NOT_SET      # ESPEAK_DATA_PATH as it was before preload() set it (None: unset)
_warned: set[str] = set()


def _log():
    from twisted.logger import Logger

    return Logger(namespace="ctid.media.espeak_lib")


def preload() -> Choice:
    """Load the chosen libespeak-ng (RTLD_GLOBAL) and set ESPEAK_DATA_PATH, once per process, so that pyttsx3's
    driver gets it. Call before ``pyttsx3.drivers._espeak`` is imported; later calls return the same choice. A
    library that cannot be loaded is logged and the choice falls back to the system library."""
    global _preloaded
    with _preload_lock:
        if _preloaded is not None:
            return _preloaded[0]
        choice = choose()
        if "pyttsx3.drivers._espeak" in sys.modules:
            _log().warn("libespeak-ng chosen ({lib}) after pyttsx3's driver was already loaded: pyttsx3 keeps the "
                        "library it loaded", lib=choice.library)
        try:
            lib = Library(choice.library, global_=True)
        except OSError as e:
            if choice.library == SYSTEM_LIBRARY:
                raise
            _log().error("{error}; using the system's {sys}", error=str(e), sys=SYSTEM_LIBRARY)
            choice = Choice(SYSTEM_LIBRARY, os.environ.get(ENV_DATA) or os.environ.get("ESPEAK_DATA_PATH") or None,
                            bool(os.environ.get(ENV_DATA)), "system")
            lib = Library(choice.library, global_=True)
        if choice.set_data and choice.data:
            global _user_data_path
            _user_data_path = os.environ.get("ESPEAK_DATA_PATH")
            os.environ["ESPEAK_DATA_PATH"] = choice.data
        _preloaded = (choice, lib)
        _log().info("libespeak-ng {version} from {source} ({lib}; data: {data})", version=lib.info()[0],
                    source=choice.source, lib=choice.library, data=choice.data or "the library's default")
        return choice


def child_environ() -> dict[str, str]:
    """The environment for a child process: this one's, with ESPEAK_DATA_PATH as the user had it (not as
    :func:`preload` set it for this process's library, which may not be the child's)."""
    env = dict(os.environ)
    if _user_data_path is not _NOT_SET:
        if _user_data_path is None:
            env.pop("ESPEAK_DATA_PATH", None)
        else:
            env["ESPEAK_DATA_PATH"] = _user_data_path
    return env


def preloaded_version() -> str | None:
    return _preloaded[1].info()[0] if _preloaded is not None else None


def same_library(dll) -> bool | None:
    """Whether ctypes library ``dll`` (e.g. pyttsx3's ``_espeak.dll``) is the preloaded one (None: none preloaded)."""
    if _preloaded is None:
        return None
    a = ctypes.cast(_preloaded[1].dll.espeak_Info, ctypes.c_void_p).value
    b = ctypes.cast(dll.espeak_Info, ctypes.c_void_p).value
    return a == b


def is_mandarin(voice: str) -> bool:
    v = str(voice).lower().rsplit("/", 1)[-1].split("+", 1)[0]
    return v in ("cmn", "zh", "zh-cn", "cmn-latn-pinyin") or v.startswith("cmn")


def warn_if_old_mandarin(version: str | None, voice: str, engine: str) -> bool:
    """Log once per (engine, version) that a libespeak-ng older than 1.52 garbles Mandarin; True if it is old."""
    vt = version_tuple(version)
    if vt is None or vt >= FIXED or not is_mandarin(voice):
        return False
    key = f"{engine} {version}"
    if key not in _warned:
        _warned.add(key)
        _log().warn(
            "TTS engine {engine} uses libespeak-ng {version}: before 1.52 its Mandarin voice reads most Chinese "
            "characters as English-spelt pinyin with English tone numbers ({bug}). Install espeakng-loader "
            "(pip install espeakng-loader), or set CTID_ESPEAK_LIBRARY/CTID_ESPEAK_DATA to an espeak-ng >= 1.52",
            engine=engine, version=version, bug=BUG)
    return True


# -- the child-process renderer ------------------------------------------------------------------------------------
def _open(args) -> tuple[Library, str | None]:
    if args.library:
        choice = Choice(args.library, args.data, bool(args.data), "--library")
    else:
        choice = choose()
        if args.data:
            choice = Choice(choice.library, args.data, True, choice.source)
    lib = Library(choice.library)
    return lib, choice.data


def _write_wav(path: str, pcm: bytes, rate: int) -> None:
    import wave

    if sys.byteorder != "little":
        import array

        a = array.array("h", pcm)
        a.byteswap()
        pcm = a.tobytes()
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m ctid.media.espeak_lib",
                                description="render text (stdin, UTF-8) with the libespeak-ng ctid uses")
    p.add_argument("--library", help="libespeak-ng to load (default: see CTID_ESPEAK_LIBRARY, espeakng-loader)")
    p.add_argument("--data", help="espeak-ng-data directory (default: the chosen library's)")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--version", action="store_true", help="print the library's version as JSON")
    what.add_argument("--voices", action="store_true", help="print the voices, one JSON object per line")
    what.add_argument("--phonemes", action="store_true", help="print each stdin line's phoneme mnemonics")
    what.add_argument("--out", help="WAV file to write (16-bit mono at the voice's rate)")
    p.add_argument("--voice", default="en", help="espeak-ng voice (default %(default)s)")
    p.add_argument("--rate", type=int, default=175, help="words per minute (default %(default)s)")
    a = p.parse_args(argv)
    try:
        lib, data = _open(a)
        sr = lib.initialize(data)
        if a.version:
            version, path = lib.info()
            print(json.dumps({"version": version, "library": lib.path, "data": path, "rate": sr}))
            return 0
        if a.voices:
            for v in lib.voices():
                print(json.dumps(v, ensure_ascii=False))
            return 0
        if not 80 <= a.rate <= 450:
            print(f"rate {a.rate} out of range: 80..450 words per minute", file=sys.stderr)
            return 2
        if not lib.set_voice(a.voice):
            print(f"libespeak-ng has no voice {a.voice!r}", file=sys.stderr)
            return 2
        text = sys.stdin.buffer.read().decode("utf-8")
        if a.phonemes:
            for line in text.splitlines():
                print(lib.phonemes(line) if line.strip() else "")
            return 0
        if not text.strip():
            print("no text on stdin", file=sys.stderr)
            return 2
        pcm = lib.synth(text, a.rate)
        _write_wav(a.out, pcm, lib.sample_rate(sr))
        return 0
    except UnicodeDecodeError as e:
        print(f"text is not UTF-8: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(str(e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
