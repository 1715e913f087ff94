"""Frame decoders for the CTI protocol: JSON lines (default) and 4-byte big-endian length prefixes.

Both are incremental: feed() bytes, then take complete frames with next_frame() until it returns None. A decoder raises FramingLost when the
stream can no longer be split (a line or a length over the limit); the protocol then answers and closes.
"""
from __future__ import annotations

import struct

from .errors import FramingLost, OpError

MAX_FRAME = 65536


class _Decoder:
    """Bytes in (``feed``), whole frames out (``next_frame``), at most ``max_frame`` bytes each."""

    def __init__(self, max_frame: int = MAX_FRAME):
        self.max_frame = max_frame
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data


class LineDecoder(_Decoder):
    framing = "line"

    def next_frame(self) -> bytes | None:
        """The next complete frame, or None until more bytes arrive. Blank lines are skipped."""
        while True:
            nl = self._buf.find(b"\n", 0, self.max_frame + 2)
            if nl < 0:
                if len(self._buf) > self.max_frame + 1:
                    raise FramingLost(OpError(413, f"line longer than {self.max_frame} bytes without a newline"))
                return None
            line = bytes(self._buf[:nl])
            del self._buf[:nl + 1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > self.max_frame:
                raise FramingLost(OpError(413, f"frame of {len(line)} bytes is over the limit of {self.max_frame}"))
            if line.strip():
                return line

    def take_rest(self) -> bytes:
        """Bytes received after the last complete frame (handed to the next decoder on a framing switch)."""
        rest = bytes(self._buf)
        self._buf.clear()
        return rest

    @staticmethod
    def encode(payload: bytes) -> bytes:
        return payload + b"\n"


class LengthDecoder(_Decoder):
    framing = "length"

    def next_frame(self) -> bytes | None:
        if len(self._buf) < 4:
            return None
        (n,) = struct.unpack_from(">I", self._buf, 0)
        if n > self.max_frame:
            raise FramingLost(OpError(413, f"length prefix {n} is over the limit of {self.max_frame}"))
        if len(self._buf) - 4 < n:
            return None
        frame = bytes(self._buf[4:4 + n])
        del self._buf[:4 + n]
        return frame

    def take_rest(self) -> bytes:
        rest = bytes(self._buf)
        self._buf.clear()
        return rest

    @staticmethod
    def encode(payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + payload


DECODERS = {"line": LineDecoder, "length": LengthDecoder}
