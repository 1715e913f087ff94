"""G.711 A-law and mu-law (bit-exact with ITU-T G.711), on numpy arrays."""
from __future__ import annotations

import numpy as np

from ._native import ffi, lib


def _i16(x) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(x), dtype=np.int16)


def _u8(x) -> np.ndarray:
    if isinstance(x, (bytes, bytearray, memoryview)):
        return np.frombuffer(x, dtype=np.uint8)
    return np.ascontiguousarray(np.asarray(x), dtype=np.uint8)


def _run(fn, src, dst_dtype, src_ctype, dst_ctype):
    out = np.empty(len(src), dtype=dst_dtype)
    fn(ffi.from_buffer(src_ctype, src), ffi.from_buffer(dst_ctype, out), len(src))
    return out


def alaw_encode(linear) -> np.ndarray:
    """int16 linear -> uint8 A-law codes."""
    return _run(lib.ctid_alaw_encode, _i16(linear), np.uint8, "int16_t[]", "uint8_t[]")


def alaw_decode(codes) -> np.ndarray:
    """uint8 A-law codes (array or bytes) -> int16 linear."""
    return _run(lib.ctid_alaw_decode, _u8(codes), np.int16, "uint8_t[]", "int16_t[]")


def ulaw_encode(linear) -> np.ndarray:
    return _run(lib.ctid_ulaw_encode, _i16(linear), np.uint8, "int16_t[]", "uint8_t[]")


def ulaw_decode(codes) -> np.ndarray:
    return _run(lib.ctid_ulaw_decode, _u8(codes), np.int16, "uint8_t[]", "int16_t[]")


ALAW_SILENCE = 0xD5
ULAW_SILENCE = 0xFF
