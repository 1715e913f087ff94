"""A blocking facade over libcti.Client for scripts: the Twisted reactor runs in a background thread.

    from libcti.blocking import BlockingClient
    with BlockingClient("tcp:127.0.0.1:7000", user="wall", password="...") as c:
        print(c.snapshot()["queues"])
        c.subscribe(["call.*"])
        for ev in c.events(timeout=60):      # stops after 60 s without an event
            print(ev.name, ev.data)

Never use it from the reactor's own thread (in a Twisted program use libcti.Client directly).
"""
from __future__ import annotations

import fnmatch
import queue
import threading
import time

from twisted.internet import threads

from .client import Client, CtiError, Event

_start_lock = threading.Lock()
_reactor_thread: threading.Thread | None = None


def _ensure_reactor():
    """The global reactor, running in a daemon thread if nobody runs it yet."""
    global _reactor_thread
    from twisted.internet import reactor

    with _start_lock:
        if reactor.running or (_reactor_thread is not None and _reactor_thread.is_alive()):
            if _reactor_thread is not None and threading.current_thread() is _reactor_thread:
                raise RuntimeError("BlockingClient cannot be used from the reactor thread")
            return reactor
        started = threading.Event()
        reactor.callWhenRunning(started.set)
        _reactor_thread = threading.Thread(target=reactor.run, kwargs={"installSignalHandlers": False},
                                           name="libcti-reactor", daemon=True)
        _reactor_thread.start()
    if not started.wait(10):
        raise RuntimeError("the Twisted reactor did not start")
    return reactor


class BlockingClient:
    """Blocking calls over a libcti.Client. Same arguments as Client (endpoint, user/password or token, ...)."""

    def __init__(self, endpoint, **kwargs):
        self._reactor = _ensure_reactor()
        kwargs.setdefault("reactor", self._reactor)
        self._events: queue.Queue = queue.Queue()

        def make():
            self.client = Client(endpoint, **kwargs)
            self.client.on("*", self._events.put)
            return self.client.connect()
        self._call(make)

    def _call(self, fn, *a, **kw):
        try:
            return threads.blockingCallFromThread(self._reactor, fn, *a, **kw)
        except CtiError:
            raise

    # -- requests --------------------------------------------------------------------------------------------
    def request(self, op: str, *, request_timeout: float | None = -1, **args) -> dict:
        """Send a request and wait for its result (raises CtiError; 408 after the timeout)."""
        return self._call(self.client.request, op, request_timeout=request_timeout, **args)

    def snapshot(self) -> dict:
        return self._call(self.client.snapshot)

    def ping(self) -> dict:
        return self._call(self.client.ping)

    def subscribe(self, patterns, snapshot: bool = False) -> dict:
        return self._call(self.client.subscribe, patterns, snapshot)

    def unsubscribe(self, patterns=None) -> dict:
        return self._call(self.client.unsubscribe, patterns)

    @property
    def session(self) -> dict | None:
        return self.client.session

    # -- events ----------------------------------------------------------------------------------------------
    def next_event(self, timeout: float | None = None) -> Event | None:
        """The next event (subscribe first), or None after `timeout` seconds without one."""
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def events(self, timeout: float | None = None):
        """Iterate over events as they come; ends after `timeout` seconds without an event (None: never)."""
        while True:
            ev = self.next_event(timeout)
            if ev is None:
                return
            yield ev

    def wait_for(self, pattern: str, where=None, timeout: float | None = None) -> Event | None:
        """The next event matching the glob `pattern` (and `where(event)`), skipping others; None after
        `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ev = self.next_event(left)
            if ev is None:
                return None
            if fnmatch.fnmatchcase(ev.name, pattern) and (where is None or where(ev)):
                return ev

    # -- closing ---------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._call(self.client.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
