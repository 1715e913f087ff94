"""Watching a board's event fd from a Twisted reactor.

Every :class:`~ctid.drivers.Board` exposes ``fileno()``: a descriptor that becomes readable while events are
pending (hwsim: an eventfd; DAHDI: the channel fd's exception/priority events; a vendor SDK: its event
handle). :func:`watch_board` registers it with the reactor and calls ``callback(event)`` for each event.
"""
from __future__ import annotations

from typing import Callable

from twisted.internet.interfaces import IReadDescriptor
from twisted.python import log
from zope.interface import implementer

from .model import Board, Event


@implementer(IReadDescriptor)
class BoardReader:
    """An IReadDescriptor over a board's event fd; each readable edge drains every pending event."""

    def __init__(self, reactor, board: Board, callback: Callable[[Event], object]):
        self.reactor = reactor
        self.board = board
        self.callback = callback
        self._fd = board.fileno()
        self.watching = False
        self.delivered = 0

    def fileno(self) -> int:
        return self._fd

    def doRead(self):
        for ev in self.board.events():
            self.delivered += 1
            try:
                self.callback(ev)
            except Exception:  # noqa: BLE001 - one bad callback must not stop the event stream
                log.err(None, f"board {self.board.board_id}: event callback failed for {ev!r}")

    def connectionLost(self, reason):
        self.watching = False

    def logPrefix(self) -> str:
        return f"{self.board.backend}-board-{self.board.board_id}"

    def start(self) -> "BoardReader":
        if not self.watching:
            self.reactor.addReader(self)
            self.watching = True
        return self

    def stop(self) -> None:
        if self.watching:
            self.reactor.removeReader(self)
            self.watching = False


def watch_board(reactor, board: Board, callback: Callable[[Event], object]) -> BoardReader:
    """Call ``callback(event)`` from ``reactor`` for every event of ``board``; ``.stop()`` the result to end."""
    return BoardReader(reactor, board, callback).start()
