"""Error codes of the CTI protocol (docs/cti-protocol.md, section 5)."""
from __future__ import annotations

ERROR_NAMES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    429: "overloaded",
    500: "internal",
    503: "unavailable",
}


class OpError(Exception):
    """An error answered to a request: `code` from ERROR_NAMES, `message` naming what was wrong."""

    def __init__(self, code: int, message: str, **extra):
        if code not in ERROR_NAMES:
            raise ValueError(f"not a CTI error code: {code!r}")
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.extra = extra          # more fields of the error object (e.g. "cause" of a failed originate)

    @property
    def name(self) -> str:
        return ERROR_NAMES[self.code]

    def to_dict(self) -> dict:
        d = {"code": self.code, "name": self.name, "message": self.message}
        d.update(self.extra)
        return d

    def __str__(self) -> str:
        return f"{self.code} {self.name}: {self.message}"


class FramingLost(Exception):
    """The input can no longer be split into frames: answer `error` then close the connection."""

    def __init__(self, error: OpError):
        super().__init__(str(error))
        self.error = error
