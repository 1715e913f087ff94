"""Errors of the call core, with the CTI protocol's codes."""
from __future__ import annotations

NAMES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict",
         413: "too_large", 429: "overloaded", 500: "internal", 503: "unavailable"}


class EngineError(Exception):
    """``code`` as in the CTI protocol (400, 403, 404, 409, 500, 503); ``name`` its protocol name.
    ``cause`` is the Q.850 cause when a call attempt failed (originate)."""

    def __init__(self, code: int, message: str, cause: int | None = None):
        super().__init__(message)
        self.code = int(code)
        self.name = NAMES.get(self.code, "error")
        self.message = message
        self.cause = cause

    def __repr__(self) -> str:
        return f"EngineError({self.code}, {self.message!r})"
