"""Frame readers for the ctid CTI protocol (client side): JSON lines and 4-byte big-endian length prefixes."""
from __future__ import annotations

import struct

MAX_SERVER_FRAME = 64 * 1024 * 1024     # frames from the server (snapshots) may be large


class FramingError(Exception):
    pass


class LineReader:
    framing = "line"

    def __init__(self, max_frame: int = MAX_SERVER_FRAME):
        self.max_frame = max_frame
        self.buf = bytearray()

    def feed(self, data: bytes) -> None:
        self.buf += data

    def split(self, data: bytes) -> list[bytes]:
        """feed(data), then every complete frame at once (blank lines skipped): one `bytes.split` for a whole
        read instead of a search and a buffer copy per frame."""
        buf = self.buf
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        lines = data.split(b"\n")
        tail = lines.pop()
        if tail:
            if len(tail) > self.max_frame:
                raise FramingError(f"line longer than {self.max_frame} bytes from the server")
            buf += tail
        return [line for line in lines if line.strip()]

    def next_frame(self) -> bytes | None:
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                if len(self.buf) > self.max_frame:
                    raise FramingError(f"line longer than {self.max_frame} bytes from the server")
                return None
            line = bytes(self.buf[:nl])
            del self.buf[:nl + 1]
            if line.strip():
                return line

    @staticmethod
    def encode(payload: bytes) -> bytes:
        return payload + b"\n"


class LengthReader:
    framing = "length"

    def __init__(self, max_frame: int = MAX_SERVER_FRAME):
        self.max_frame = max_frame
        self.buf = bytearray()

    def feed(self, data: bytes) -> None:
        self.buf += data

    def next_frame(self) -> bytes | None:
        if len(self.buf) < 4:
            return None
        (n,) = struct.unpack_from(">I", self.buf, 0)
        if n > self.max_frame:
            raise FramingError(f"frame of {n} bytes from the server is over {self.max_frame}")
        if len(self.buf) < 4 + n:
            return None
        frame = bytes(self.buf[4:4 + n])
        del self.buf[:4 + n]
        return frame

    @staticmethod
    def encode(payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + payload
