"""JSON decoding for libcti: orjson when it is installed (several times faster on event frames), else the
standard library's json, with the same results either way.

orjson differs from json.loads on a few inputs: it refuses NaN/Infinity, out-of-range floats (1e400), lone
surrogates ("\\ud800"), non-UTF-8 encodings and very deep nesting (json.loads accepts all of these), and it turns
integers beyond 64 bits into floats. loads() therefore uses orjson only when the frame has no run of 19 or more
digits (every integer that fits orjson's range exactly has fewer, or it is a 64-bit one that json reads the same
way too: such runs go to json, which is always right) and falls back to json.loads whenever orjson refuses the
frame; json.loads then gives its own result or its own error (ValueError, UnicodeDecodeError).
"""
from __future__ import annotations

import json

try:                     # optional: pip install orjson (the "fast" extra)
    import orjson
except ImportError:      # pragma: no cover - depends on the environment
    orjson = None

# digits -> "0", everything else -> " ": a run of 19 digits is then a plain substring search (a regex is
# several times slower than this and than orjson itself)
_DIGITS = bytes(0x30 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_RUN = b"0" * 19
_stdlib_loads = json.loads


def _loads_orjson(frame: bytes):
    if _RUN not in frame.translate(_DIGITS):
        try:
            return _orjson_loads(frame)
        except _OrjsonError:
            pass
    return _stdlib_loads(frame)


if orjson is not None:
    _orjson_loads = orjson.loads
    _OrjsonError = orjson.JSONDecodeError
    loads = _loads_orjson
    BACKEND = "orjson"
else:
    loads = _stdlib_loads
    BACKEND = "json"
