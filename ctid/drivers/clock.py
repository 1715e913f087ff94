"""Clocks for simulated boards: the world runs on a driven clock (``world.tick(n)``: as fast as the CPU
allows, for tests and soak runs) or in real time, paced by :class:`Pacer` from Twisted's reactor.

A real board is paced by its own hardware clock: the driver's read returns (or its fd becomes readable) every
20 ms. A simulated world has no hardware, so in real time something must call ``tick`` every 20 ms; the
pacer does that with a :class:`twisted.internet.task.LoopingCall` whose clock is injectable, so tests drive
it with :class:`twisted.internet.task.Clock` and a daemon uses the reactor.
"""
from __future__ import annotations

from typing import Callable, Protocol

from twisted.internet import task

BLOCK_SECONDS = 0.020   # one block: 160 frames at 8000 frames/s


class Tickable(Protocol):
    def tick(self, nblocks: int = 1) -> None: ...


class Pacer:
    """Tick ``world`` once per ``interval`` seconds of ``clock`` (default: the global reactor).

    If the clock jumps (a slow callback, a busy machine, ``Clock.advance(1.0)`` in a test) the missed
    intervals are ticked at once, up to ``max_catch_up`` blocks per call; beyond that they are dropped and
    counted in :attr:`dropped` (world time then falls behind the wall clock, as a real board reports an
    overrun). After every block each listener is called with the world (to read and write that block).
    """

    def __init__(self, world: Tickable, clock=None, interval: float = BLOCK_SECONDS, max_catch_up: int = 50,
                 burst: int | None = None):
        if interval <= 0:
            raise ValueError(f"interval must be positive, not {interval!r}")
        if max_catch_up < 1:
            raise ValueError(f"max_catch_up must be at least 1, not {max_catch_up!r}")
        if burst is not None and burst < 1:
            raise ValueError(f"burst must be at least 1 (or None), not {burst!r}")
        self.world = world
        self.interval = interval
        self.max_catch_up = max_catch_up
        # burst: at most this many blocks per reactor turn while catching up; the rest follow in later turns
        # (callLater(0)) so the reactor serves its sockets in between (a daemon behind by a second would
        # otherwise hold every CTI request and event for that second). None: all at once.
        self.burst = burst
        self._owed = 0
        self._drain_call = None
        self.ticks = 0
        self.dropped = 0
        self.late_calls = 0
        self._listeners: list[Callable] = []
        self._loop = task.LoopingCall.withCount(self._run)
        if clock is None:
            from twisted.internet import reactor as clock
        self._loop.clock = clock
        self._deferred = None

    def add_listener(self, fn: Callable) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable) -> None:
        self._listeners.remove(fn)

    @property
    def running(self) -> bool:
        return self._loop.running

    def start(self):
        """Start pacing (first tick one interval from now); returns the LoopingCall's Deferred."""
        self._deferred = self._loop.start(self.interval, now=False)
        return self._deferred

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()
        if self._drain_call is not None and self._drain_call.active():
            self._drain_call.cancel()
        self._drain_call = None
        self._owed = 0

    def _run(self, count: int) -> None:
        if count > 1:
            self.late_calls += 1
        owed = self._owed + count
        n = min(owed, self.max_catch_up)
        self.dropped += owed - n
        if self.burst is None:
            self._owed = 0
            self._tick(n)
            return
        self._owed = n
        self._drain()

    def _drain(self) -> None:
        self._drain_call = None
        n = min(self._owed, self.burst)
        self._owed -= n
        self._tick(n)
        if self._owed and self._loop.running:
            self._drain_call = self._loop.clock.callLater(0, self._drain)

    def _tick(self, n: int) -> None:
        for _ in range(n):
            self.world.tick(1)
            self.ticks += 1
            for fn in list(self._listeners):
                fn(self.world)
