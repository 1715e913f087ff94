"""Named one-shot timers on an injected Twisted ``IReactorTime`` (``task.Clock`` in tests)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from .variant import TimerSpec

log = logging.getLogger("ctid.signaling.china1")


@dataclass(frozen=True)
class ProtocolError:
    """A protocol error a machine logged and recovered from (never raised)."""

    where: str       # e.g. "line out 0/1"
    state: str
    message: str

    def __str__(self) -> str:
        return f"{self.where} [{self.state}]: {self.message}"


class Timers:
    """At most one running timer per key; ``start`` restarts it."""

    def __init__(self, clock):
        self.clock = clock
        self._calls: dict[str, object] = {}

    def start(self, spec: TimerSpec, fn, *args) -> None:
        self.stop(spec.key)

        def fire():
            self._calls.pop(spec.key, None)
            fn(spec, *args)

        self._calls[spec.key] = self.clock.callLater(spec.seconds, fire)

    def stop(self, key: str) -> None:
        c = self._calls.pop(key, None)
        if c is not None and c.active():
            c.cancel()

    def stop_all(self) -> None:
        for k in list(self._calls):
            self.stop(k)

    def running(self) -> list[str]:
        return sorted(self._calls)
