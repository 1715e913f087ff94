"""Streaming A-law WAV writer for recordings, durable once closed.

The header is written first with zero sizes, audio is appended as it is drained from the native record buffer,
and :meth:`WavWriter.close` patches the sizes, flushes, ``fsync``s the file and its directory: when ``close``
returns, the whole recording is on disk (a crash before that leaves a file whose header says 0 bytes of audio,
which readers reject as truncated instead of playing garbage). The format is what ``ctid.dsp.wavfile``
reads: 8 kHz mono A-law (format tag 6) with ``cbSize`` and a ``fact`` chunk.
"""
from __future__ import annotations

import os
import struct

RATE = 8000
WAVE_FORMAT_ALAW = 6
_FMT = struct.pack("<HHIIHHH", WAVE_FORMAT_ALAW, 1, RATE, RATE, 1, 8, 0)
# RIFF(12) + "fmt "(8 + 18) + "fact"(8 + 4) + "data"(8)
HEADER_BYTES = 12 + 8 + len(_FMT) + 12 + 8
_FACT_AT = 12 + 8 + len(_FMT) + 8      # offset of the fact chunk's sample count
_DATA_SIZE_AT = HEADER_BYTES - 4        # offset of the data chunk's size


def wav_header(nbytes: int) -> bytes:
    """The 58-byte header of an A-law WAV with ``nbytes`` of audio."""
    riff = 4 + (8 + len(_FMT)) + 12 + 8 + nbytes + (nbytes & 1)
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVE" + b"fmt " + struct.pack("<I", len(_FMT)) + _FMT
            + b"fact" + struct.pack("<II", 4, nbytes) + b"data" + struct.pack("<I", nbytes))


class WavWriter:
    """Append A-law bytes to ``path``; :meth:`close` makes the file complete and durable."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.nbytes = 0
        self._f = open(self.path, "wb")   # OSError propagates: the caller reports it
        try:
            self._f.write(wav_header(0))
        except OSError:
            self._f.close()
            raise

    @property
    def closed(self) -> bool:
        return self._f is None

    @property
    def seconds(self) -> float:
        return self.nbytes / RATE

    def write(self, data) -> None:
        if self._f is None:
            raise ValueError(f"{self.path}: recording already closed")
        mv = memoryview(data).cast("B")
        if len(mv):
            self._f.write(mv)
            self.nbytes += len(mv)

    def close(self) -> None:
        """Pad to an even size, patch the header, flush and fsync (file and directory). Idempotent."""
        f = self._f
        if f is None:
            return
        self._f = None
        try:
            if self.nbytes & 1:
                f.write(b"\0")
            f.seek(0)
            f.write(wav_header(self.nbytes))
            f.flush()
            os.fsync(f.fileno())
        finally:
            f.close()
        dirfd = None
        try:
            dirfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
            os.fsync(dirfd)
        except OSError:
            pass   # some filesystems cannot fsync a directory; the file itself is synced
        finally:
            if dirfd is not None:
                os.close(dirfd)
