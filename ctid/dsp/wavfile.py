"""Reading and writing 8 kHz telephony audio: WAV (A-law, mu-law, 16-bit PCM) and raw A-law/mu-law.

Python's :mod:`wave` handles only PCM, so this parses RIFF itself and names exactly what is wrong with a file
(rate, format, channels, truncation) in :class:`AudioFileError`.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np

from . import g711

RATE = 8000
WAVE_FORMAT_PCM = 1
WAVE_FORMAT_ALAW = 6
WAVE_FORMAT_MULAW = 7
_FORMAT_LAW = {WAVE_FORMAT_PCM: "linear", WAVE_FORMAT_ALAW: "alaw", WAVE_FORMAT_MULAW: "ulaw"}
_LAW_FORMAT = {v: k for k, v in _FORMAT_LAW.items()}
RAW_EXTENSIONS = {".al": "alaw", ".alaw": "alaw", ".ul": "ulaw", ".ulaw": "ulaw", ".mu": "ulaw", ".raw": None}


class AudioFileError(ValueError):
    """The file is not usable 8 kHz telephony audio; the message says why."""


@dataclass
class Audio:
    """Audio as it was stored: ``law`` is alaw/ulaw (``data`` uint8 codes) or linear (``data`` int16)."""

    law: str
    data: np.ndarray
    rate: int = RATE

    def linear(self) -> np.ndarray:
        if self.law == "linear":
            return self.data
        return g711.alaw_decode(self.data) if self.law == "alaw" else g711.ulaw_decode(self.data)

    @property
    def seconds(self) -> float:
        return len(self.data) / self.rate


def read_audio(path: str, law: str | None = None) -> Audio:
    """Read a WAV file (any of the three formats) or a raw A-law/mu-law file.

    ``law`` is only for raw files (default A-law); for a WAV the header decides, and a conflicting ``law``
    is an error rather than a silent reinterpretation.
    """
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as exc:
        raise AudioFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if blob[:4] == b"RIFF":
        audio = parse_wav(blob, path)
        if law is not None and law != audio.law:
            raise AudioFileError(f"{path}: the WAV header says {audio.law}, but --law {law} was given")
        return audio
    if blob[:4] == b"RIFX" or blob[:4] == b"RF64":
        raise AudioFileError(f"{path}: {blob[:4].decode()} files are not supported; use little-endian RIFF WAV")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".wav":
        raise AudioFileError(f"{path}: not a WAV file (no RIFF header)")
    raw_law = law or RAW_EXTENSIONS.get(ext) or "alaw"
    if raw_law == "linear":
        if len(blob) % 2:
            raise AudioFileError(f"{path}: raw 16-bit PCM needs an even number of bytes, file has {len(blob)}")
        return Audio("linear", np.frombuffer(blob, dtype="<i2").astype(np.int16))
    if raw_law not in ("alaw", "ulaw"):
        raise AudioFileError(f"{path}: unknown law {raw_law!r}")
    return Audio(raw_law, np.frombuffer(blob, dtype=np.uint8).copy())


def parse_wav(blob: bytes, name: str = "<wav>") -> Audio:
    if len(blob) < 12 or blob[8:12] != b"WAVE":
        raise AudioFileError(f"{name}: not a WAVE file (RIFF type {blob[8:12]!r})")
    pos = 12
    fmt = None
    data = None
    while pos + 8 <= len(blob):
        cid = blob[pos:pos + 4]
        (size,) = struct.unpack_from("<I", blob, pos + 4)
        body = blob[pos + 8:pos + 8 + size]
        if len(body) < size:
            raise AudioFileError(
                f"{name}: truncated: the {cid.decode('latin-1').strip()!r} chunk declares {size} bytes "
                f"but only {len(body)} are present"
            )
        if cid == b"fmt ":
            if len(body) < 16:
                raise AudioFileError(f"{name}: fmt chunk too short ({len(body)} bytes, need 16)")
            fmt = struct.unpack_from("<HHIIHH", body, 0)
            if fmt[0] == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: real tag in the sub-format GUID
                fmt = (struct.unpack_from("<H", body, 24)[0],) + fmt[1:]
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise AudioFileError(f"{name}: no fmt chunk")
    if data is None:
        raise AudioFileError(f"{name}: no data chunk (file truncated?)")
    tag, channels, rate, _byte_rate, _align, bits = fmt
    if tag not in _FORMAT_LAW:
        raise AudioFileError(
            f"{name}: unsupported WAV format tag {tag}; use 16-bit PCM (1), A-law (6) or mu-law (7)"
        )
    law = _FORMAT_LAW[tag]
    if channels != 1:
        raise AudioFileError(f"{name}: {channels} channels; telephony audio must be mono")
    if rate != RATE:
        raise AudioFileError(f"{name}: sample rate is {rate} Hz; expected {RATE} Hz (resample with: sox in.wav -r 8000 out.wav)")
    want_bits = 16 if law == "linear" else 8
    if bits != want_bits:
        raise AudioFileError(f"{name}: {law} WAV with {bits} bits per sample; expected {want_bits}")
    if law == "linear":
        if len(data) % 2:
            raise AudioFileError(f"{name}: truncated: odd number of bytes in 16-bit data")
        return Audio(law, np.frombuffer(data, dtype="<i2").astype(np.int16))
    return Audio(law, np.frombuffer(data, dtype=np.uint8).copy())


def encode(linear: np.ndarray, law: str) -> np.ndarray:
    linear = np.asarray(linear, dtype=np.int16)
    if law == "linear":
        return linear
    if law == "alaw":
        return g711.alaw_encode(linear)
    if law == "ulaw":
        return g711.ulaw_encode(linear)
    raise AudioFileError(f"unknown law {law!r}; use alaw, ulaw or linear")


def write_wav(path: str, linear: np.ndarray, law: str = "alaw") -> None:
    """Write int16 samples as an 8 kHz mono WAV in the given law (A-law by default, as on an E1)."""
    payload = encode(linear, law)
    raw = payload.astype("<i2").tobytes() if law == "linear" else payload.tobytes()
    bits = 16 if law == "linear" else 8
    tag = _LAW_FORMAT[law]
    block_align = bits // 8
    if law == "linear":
        fmt = struct.pack("<HHIIHH", tag, 1, RATE, RATE * block_align, block_align, bits)
    else:  # non-PCM formats carry cbSize
        fmt = struct.pack("<HHIIHHH", tag, 1, RATE, RATE * block_align, block_align, bits, 0)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if law != "linear":  # non-PCM WAVs need a fact chunk
        chunks += b"fact" + struct.pack("<II", 4, len(payload))
    chunks += b"data" + struct.pack("<I", len(raw)) + raw + (b"\0" if len(raw) & 1 else b"")
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    os.replace(tmp, path)
