"""The one error type every SS7 codec raises for bad input."""
from __future__ import annotations


class CodecError(ValueError):
    """Malformed, truncated or inconsistent SS7 data (or an unencodable value); the message says what and where."""
