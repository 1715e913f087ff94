"""Byte transports for an MTP2 link (``ctid.signaling.ss7.mtp2_link.Mtp2Link``).

A transport carries signal units without FCS: ``send_su(bytes) -> bool`` (False: transmit queue full, the link
retries later), and hands received units to ``link.receive_su(bytes)``, errors to ``link.su_error(n)`` and, while
no frame can be delimited (loss of signal), octets to ``link.octets_in_error(n)`` (Q.703 octet counting).

* :class:`HdlcTransport`: an HDLC timeslot of a driver board (TS16 of a CCS span); the board adds and checks the
  FCS. Idle fill is the hardware's repetition of the last signal unit (``hdlc_idle_repeat``) when the driver has
  it, and on receive the board's filter of repeated FISUs/LSSUs (``hdlc_filter``) when it has one: an idle link
  then costs the host a few units per change instead of ~1100 FISUs a second; the units the board counted
  instead of delivering are credited to the link's SUERM (``Mtp2Link.su_repeated``). :class:`BoardLinks` drains a board's events and routes ``HdlcEvent`` frames to the transports.
* :class:`SeqpacketTransport`: an AF_UNIX SOCK_SEQPACKET socket, one signal unit plus two FCS octets per datagram
  (libss7's DAHDI D-channel mode): we send the real FCS, and ignore the two trailing octets on receive.
"""
from __future__ import annotations

import errno
import socket

from ctid.drivers import DriverError
from ctid.drivers.model import Alarm, HdlcEvent

from . import mtp2

LOSS = Alarm.LOS | Alarm.LOF | Alarm.AIS


class HdlcTransport:
    repeats_idle = True

    def __init__(self, board, span: int, timeslot: int = 16, filter_repeats: bool = True):
        self.board, self.span, self.timeslot = board, span, timeslot
        self.link = None
        self.sent = 0
        self.refused = 0
        st = board.span_status(span)
        self._bad = st.hdlc_bad_fcs + st.hdlc_aborts
        self._filtered = st.hdlc_filtered
        self._last_frame = None
        rep = getattr(board, "hdlc_idle_repeat", None)
        if rep is None:
            self.repeats_idle = False
        else:
            rep(span, timeslot, True)
        filt = getattr(board, "hdlc_filter", None)
        self.filters_repeats = bool(filter_repeats and filt is not None)
        if filt is not None:
            filt(span, timeslot, self.filters_repeats)

    def send_su(self, su: bytes) -> bool:
        try:
            self.board.hdlc_send(self.span, self.timeslot, su)
        except DriverError as exc:
            if "queue full" in str(exc):
                self.refused += 1
                return False
            raise
        self.sent += 1
        return True

    def frame(self, data: bytes) -> None:
        if self.link is not None:
            self.link.receive_su(data)

    def poll(self, t_frame: int | None = None) -> None:
        """Once per block: report bad frames and loss of signal to the link, retry queued sends."""
        st = self.board.span_status(self.span)
        bad = st.hdlc_bad_fcs + st.hdlc_aborts
        filtered = st.hdlc_filtered
        link = self.link
        if link is None:
            self._bad, self._filtered = bad, filtered
            return
        if filtered > self._filtered:
            link.su_repeated(filtered - self._filtered)
        self._filtered = filtered
        if bad > self._bad:
            link.su_error(bad - self._bad)
        self._bad = bad
        if t_frame is not None:
            if self._last_frame is not None and st.alarms & LOSS:
                link.octets_in_error(t_frame - self._last_frame)   # one octet per frame on a 64 kbit/s timeslot
            self._last_frame = t_frame
        link._pump()


class BoardLinks:
    """The HDLC links of one board: ``add(span)`` a transport, ``step()`` once per block."""

    def __init__(self, board, on_event=None):
        self.board = board
        self.on_event = on_event
        self.transports: dict[tuple[int, int], HdlcTransport] = {}

    def add(self, span: int, timeslot: int = 16) -> HdlcTransport:
        t = HdlcTransport(self.board, span, timeslot)
        self.transports[(span, timeslot)] = t
        return t

    def step(self, t_frame: int | None = None) -> None:
        for ev in self.board.events():
            if isinstance(ev, HdlcEvent):
                t = self.transports.get((ev.span, ev.timeslot))
                if t is not None:
                    t.frame(ev.frame)
                    continue
            if self.on_event is not None:
                self.on_event(ev)
        for t in self.transports.values():
            t.poll(t_frame)


class SeqpacketTransport:
    """One signal unit + 2 FCS octets per SOCK_SEQPACKET datagram. Register with a reactor (``reactor``: an
    IReactorFDSet) or call :meth:`doRead` when the socket is readable."""

    repeats_idle = False

    def __init__(self, sock: socket.socket, reactor=None):
        self.sock = sock
        sock.setblocking(False)
        self.link = None
        self.reactor = reactor
        self.sent = self.received = self.short = 0
        self.closed_reason: str | None = None
        if reactor is not None:
            reactor.addReader(self)

    # IReadDescriptor
    def fileno(self) -> int:
        return self.sock.fileno()

    def logPrefix(self) -> str:
        return "ss7-seqpacket"

    def connectionLost(self, reason) -> None:
        if self.reactor is not None:
            self.reactor.removeReader(self)

    def send_su(self, su: bytes) -> bool:
        try:
            self.sock.send(mtp2.add_fcs(su))
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                return True     # peer gone: the link finds out by its timers
            raise
        self.sent += 1
        return True

    def doRead(self):
        while True:
            try:
                data = self.sock.recv(512)
            except BlockingIOError:
                return None
            except OSError as exc:
                self._gone(f"receive failed: {exc.strerror}")
                return None
            if not data:
                self._gone("peer closed the socket")
                return None
            if len(data) < 5:           # header (3) + FCS (2)
                self.short += 1
                if self.link is not None:
                    self.link.su_error()
                continue
            self.received += 1
            if self.link is not None:
                self.link.receive_su(data[:-2])

    def _gone(self, why: str) -> None:
        # stop watching (an EOF stays readable); the link fails by its own timers / monitors (T7, SUERM)
        if self.closed_reason is None:
            self.closed_reason = why
            if self.reactor is not None:
                self.reactor.removeReader(self)

    def close(self) -> None:
        if self.reactor is not None and self.closed_reason is None:
            self.reactor.removeReader(self)
        self.closed_reason = self.closed_reason or "closed"
        self.sock.close()


class LinkCapture:
    """Capture of a link's signal units (both directions) for a pcap of link type 140 (MTP2, FCS included).

    Consecutive repetitions of the same unit in one direction (idle fill) are recorded once.
    ``write(path)`` writes the file with ``ctid.signaling.ss7.pcap``; ``frames`` holds (time, direction, unit)."""

    def __init__(self, link, clock=None, skip_repeats: bool = True, limit: int = 1_000_000):
        self.link = link
        self.clock = clock or link.clock
        self.skip_repeats = skip_repeats
        self.limit = limit
        self.frames: list[tuple[float, str, bytes]] = []
        self._last = {"tx": None, "rx": None}
        link.tap = self._tap

    def _tap(self, direction: str, raw: bytes) -> None:
        if self.skip_repeats and self._last[direction] == raw:
            return
        self._last[direction] = raw
        if len(self.frames) < self.limit:
            self.frames.append((self.clock.seconds(), direction, bytes(raw)))

    def stop(self) -> None:
        if self.link.tap == self._tap:
            self.link.tap = None

    def write(self, path: str, direction: str | None = None) -> int:
        from .pcap import LINKTYPE_MTP2, write_pcap
        recs = [(t, mtp2.add_fcs(raw)) for t, d, raw in self.frames if direction is None or d == direction]
        write_pcap(path, recs, LINKTYPE_MTP2)
        return len(recs)
