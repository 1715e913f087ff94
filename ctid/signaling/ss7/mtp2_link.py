"""MTP2 signalling link (ITU-T Q.703, basic error correction) as an explicit state machine.

Functional blocks of Q.703 figure 3 kept as named parts of one class:

* link state control (LSC, Q.703 1.7 and the state diagrams of clause 12): ``LinkState`` OUT_OF_SERVICE, INITIAL_ALIGNMENT, ALIGNED_READY,
  ALIGNED_NOT_READY, IN_SERVICE, PROCESSOR_OUTAGE;
* initial alignment control (IAC, section 7): ``IacState`` IDLE, NOT_ALIGNED, ALIGNED, PROVING with normal or
  emergency proving (T4n / T4e) and the alignment error rate monitor (AERM, 10.3: thresholds Tin=4, Tie=1,
  at most M=5 proving attempts);
* signal unit error rate monitor (SUERM, 10.2): leaky bucket, threshold T=64, one decrement per D=256 signal
  units, octet counting (one error per N=16 octets) while no frames can be delimited (loss of signal);
* transmission and reception control with the basic error correction method (section 5): FSN/BSN/FIB/BIB,
  positive and negative acknowledgement, retransmission of every unacknowledged MSU, T7; congestion (section 9):
  SIB every T5 while locally congested, T6 on remote congestion.

Timers are named as in Q.703 and run on an injected IReactorTime (``twisted.internet.task.Clock`` in tests).
Defaults are the ITU values libss7 uses: T1 45 s, T2 50 s, T3 1.5 s, T4n 8.5 s, T4e 0.5 s, T5 0.1 s, T6 5 s, T7 1 s.

The byte transport is abstract (``ctid.signaling.ss7.transport``): the link calls ``transport.send_su(bytes)``
with a signal unit without FCS (returns False when the transmit queue is full) and is given received units with
``receive_su(bytes)`` and errors with ``su_error(n)`` / ``octets_in_error(n)``. A transport whose hardware
repeats the last unit as idle fill has ``repeats_idle = True``; otherwise the link resends its fill unit every
``fill_interval`` seconds.
"""
from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass
from typing import Callable

from . import mtp2
from .errors import CodecError

log = logging.getLogger(__name__)


class LinkState(str, enum.Enum):
    OUT_OF_SERVICE = "OUT_OF_SERVICE"
    INITIAL_ALIGNMENT = "INITIAL_ALIGNMENT"
    ALIGNED_READY = "ALIGNED_READY"
    ALIGNED_NOT_READY = "ALIGNED_NOT_READY"
    IN_SERVICE = "IN_SERVICE"
    PROCESSOR_OUTAGE = "PROCESSOR_OUTAGE"


class IacState(str, enum.Enum):
    IDLE = "IDLE"
    NOT_ALIGNED = "NOT_ALIGNED"
    ALIGNED = "ALIGNED"
    PROVING = "PROVING"


@dataclass
class Mtp2Timers:
    """Q.703 12.3 timer values in seconds (ITU defaults as in libss7)."""
    t1: float = 45.0     # alignment ready
    t2: float = 50.0     # not aligned
    t3: float = 1.5      # aligned
    t4n: float = 8.5     # normal proving period (Pn = 2^16 octets at 64 kbit/s)
    t4e: float = 0.5     # emergency proving period (Pe = 2^12 octets)
    t5: float = 0.1      # sending SIB
    t6: float = 5.0      # remote congestion
    t7: float = 1.0      # excessive delay of acknowledgement


# Q.703 10.2 / 10.3 monitor parameters
SUERM_T, SUERM_D, OCTET_N = 64, 256, 16
AERM_TIN, AERM_TIE, AERM_M = 4, 1, 5

TIMER_NAMES = {"t1": "Q.703 T1", "t2": "Q.703 T2", "t3": "Q.703 T3", "t4": "Q.703 T4", "t5": "Q.703 T5",
               "t6": "Q.703 T6", "t7": "Q.703 T7"}


def _inc(n: int) -> int:
    return (n + 1) & 0x7F


def _dist(a: int, b: int) -> int:
    """How far b is after a, modulo 128."""
    return (b - a) & 0x7F


class Mtp2Link:
    """One signalling link. Callbacks: ``on_msu(payload)`` (SIO + SIF of each accepted MSU, in order),
    ``on_in_service()``, ``on_out_of_service(reason)``, ``on_state(state)``, ``on_remote_processor_outage(bool)``."""

    def __init__(self, clock, transport=None, name: str = "link", timers: Mtp2Timers | None = None,
                 emergency: bool = False, fill_interval: float = 0.05):
        self.clock = clock
        self.name = name
        self.timers = timers or Mtp2Timers()
        self.emergency = emergency
        self.fill_interval = fill_interval
        self.state = LinkState.OUT_OF_SERVICE
        self.iac = IacState.IDLE
        self.on_msu: Callable[[bytes], None] = lambda payload: None
        self.on_in_service: Callable[[], None] = lambda: None
        self.on_out_of_service: Callable[[str], None] = lambda reason: None
        self.on_state: Callable[[LinkState], None] = lambda state: None
        self.on_remote_processor_outage: Callable[[bool], None] = lambda on: None
        self.on_remote_congestion: Callable[[bool], None] = lambda on: None    # SIB received / abated (Q.703 9)
        self.history: list[tuple[float, str]] = []      # (time, state) of every state change
        self.events: list[tuple[float, str]] = []       # (time, what): timer expiries, failures, proving results
        self._timers: dict[str, object] = {}
        self.transport = None
        self.tap = None          # tap(direction "tx"|"rx", signal unit without FCS): capture (LinkCapture)
        self.stats = dict(msu_tx=0, msu_rx=0, retransmitted=0, nacks_sent=0, nacks_received=0, su_errors=0,
                          suerm_failures=0, aerm_aborts=0, discarded=0, su_rx=0, su_filtered=0, failures=0)
        self._reset_sequence()
        self._status = "SIOS"
        self._fill_sent: tuple | None = None   # what the last fill unit said
        self._last_raw: bytes | None = None
        self._last_su: mtp2.SignalUnit | None = None
        self._local_congested = False
        self._local_po = False
        self._remote_po = False
        self._fill_call = None
        self.proving_started_at: float | None = None
        self.proving_period: float | None = None
        if transport is not None:
            self.attach(transport)

    # -- plumbing -----------------------------------------------------------------------------------------------
    def attach(self, transport) -> None:
        self.transport = transport
        transport.link = self
        self._fill_sent = None
        self._pump()
        if not getattr(transport, "repeats_idle", False) and self.fill_interval:
            self._schedule_fill()

    def _schedule_fill(self) -> None:
        def tick():
            self._fill_sent = None
            self._pump()
            self._fill_call = self.clock.callLater(self.fill_interval, tick)
        self._fill_call = self.clock.callLater(self.fill_interval, tick)

    def close(self) -> None:
        for k in list(self._timers):
            self._stop(k)
        if self._fill_call is not None and self._fill_call.active():
            self._fill_call.cancel()

    def _now(self) -> float:
        return self.clock.seconds()

    def _note(self, what: str) -> None:
        self.events.append((self._now(), what))
        log.debug("%s: %s", self.name, what)

    def _set_state(self, st: LinkState) -> None:
        if st != self.state:
            self.state = st
            self.history.append((self._now(), st.value))
            log.debug("%s: state %s", self.name, st.value)
            self.on_state(st)

    def _start(self, key: str, seconds: float) -> None:
        self._stop(key)
        self._timers[key] = self.clock.callLater(seconds, self._expired, key)

    def _stop(self, key: str) -> None:
        c = self._timers.pop(key, None)
        if c is not None and c.active():
            c.cancel()

    def running(self, key: str) -> bool:
        c = self._timers.get(key)
        return c is not None and c.active()

    def _expired(self, key: str) -> None:
        self._timers.pop(key, None)
        self._note(f"{TIMER_NAMES[key]} expired")
        getattr(self, f"_{key}_expired")()

    def _reset_sequence(self) -> None:
        # Q.703 5.2.1: after start the sequence numbers and indicator bits are 127 / 1
        self.fsn_last_sent = 127      # FSN of the last MSU transmitted (new ones)
        self.fsn_last_acked = 127     # the last FSN positively acknowledged by the far end
        self.fib = 1
        self.bsn = 127                # FSN of the last accepted MSU, sent back as BSN
        self.bib = 1
        self.rtb: deque[tuple[int, bytes]] = deque()   # retransmission buffer (fsn, payload)
        self.tb: deque[bytes] = deque()                # transmission buffer (not sent yet)
        self._retx: deque[tuple[int, bytes]] = deque()  # scheduled for retransmission
        self._abnormal = deque(maxlen=3)
        self._abnormal_fib = deque(maxlen=3)
        self._nack_pending = False
        self.suerm_count = 0
        self._suerm_su = 0
        self._octet_residue = 0
        self.aerm_count = 0
        self.proving_attempts = 0

    # -- LSC: management primitives ------------------------------------------------------------------------------
    def start(self, emergency: bool | None = None) -> None:
        """LSC (Q.703 1.7, clause 12): power on + start: begin initial alignment (7.3)."""
        if emergency is not None:
            self.emergency = emergency
        for k in list(self._timers):
            self._stop(k)
        self._reset_sequence()
        self._set_state(LinkState.INITIAL_ALIGNMENT)
        # IAC, Q.703 7.3 / figure 9: send SIO, start T2
        self.iac = IacState.NOT_ALIGNED
        self._status = "SIO"
        self._start("t2", self.timers.t2)
        self._pump()

    def stop(self) -> None:
        """LSC (Q.703 1.7, clause 12): stop: out of service, SIOS."""
        self._out_of_service("stop")

    def set_emergency(self, on: bool) -> None:
        self.emergency = on

    def set_local_processor_outage(self, on: bool) -> None:
        """Q.703 8: local processor outage: SIPO sent, MSUs received are neither accepted nor acknowledged."""
        self._local_po = on
        if on and self.state in (LinkState.IN_SERVICE, LinkState.ALIGNED_READY):
            self._status = "SIPO"
            self._set_state(LinkState.PROCESSOR_OUTAGE if self.state == LinkState.IN_SERVICE
                            else LinkState.ALIGNED_NOT_READY)
        elif not on and self.state in (LinkState.PROCESSOR_OUTAGE, LinkState.ALIGNED_NOT_READY):
            self._status = None
            self._set_state(LinkState.IN_SERVICE if self.state == LinkState.PROCESSOR_OUTAGE
                            else LinkState.ALIGNED_READY)
        self._pump()

    def set_local_congestion(self, on: bool) -> None:
        """Q.703 9: while congested, a SIB every T5 (acknowledgements withheld is not done: basic SIB only)."""
        self._local_congested = on
        if on and not self.running("t5") and self.state == LinkState.IN_SERVICE:
            self._send_sib()
        if not on:
            self._stop("t5")

    def _send_sib(self) -> None:
        self._send_lssu("SIB")
        self._start("t5", self.timers.t5)

    def _t5_expired(self) -> None:
        if self._local_congested and self.state == LinkState.IN_SERVICE:
            self._send_sib()

    def _out_of_service(self, reason: str) -> None:
        was = self.state
        for k in list(self._timers):
            self._stop(k)
        self.iac = IacState.IDLE
        self._status = "SIOS"
        self._set_state(LinkState.OUT_OF_SERVICE)
        self._pump()
        if was != LinkState.OUT_OF_SERVICE and reason != "stop":
            self.stats["failures"] += 1
            self._note(f"link failure: {reason}")
            self.on_out_of_service(reason)

    # -- MTP3 interface ------------------------------------------------------------------------------------------
    def send_msu(self, payload: bytes) -> None:
        """Queue an MSU (SIO + SIF). Accepted in any state; sent once the link is in service."""
        payload = bytes(payload)
        if not 3 <= len(payload) <= mtp2.MAX_MSU_PAYLOAD:
            raise CodecError(f"MTP2 {self.name}: MSU of {len(payload)} octets is not SIO + 2..272 SIF octets")
        self.tb.append(payload)
        self._pump()

    def retrieve_bsnt(self) -> int:
        """Q.704 5.4 / Q.703 BSNT: FSN of the last MSU accepted from the far end."""
        return self.bsn

    def retrieve_unacked(self, after_fsn: int | None = None) -> list[bytes]:
        """Q.704 changeover buffer retrieval: MSUs not yet acknowledged (after ``after_fsn`` the far end's BSNT
        when given) followed by those never sent; the buffers are emptied."""
        out = []
        for fsn, p in self.rtb:
            if after_fsn is None or _dist(after_fsn, fsn) <= _dist(after_fsn, self.fsn_last_sent) and fsn != after_fsn:
                out.append(p)
        out.extend(self.tb)
        self.rtb.clear()
        self.tb.clear()
        self._retx.clear()
        return out

    @property
    def in_service(self) -> bool:
        return self.state == LinkState.IN_SERVICE

    # -- transmission ---------------------------------------------------------------------------------------------
    def _fill_su(self) -> mtp2.SignalUnit:
        st = self._status
        if self.state in (LinkState.IN_SERVICE, LinkState.ALIGNED_READY) and not self._local_po:
            st = None
        if st is None:
            return mtp2.SignalUnit(bsn=self.bsn, bib=self.bib, fsn=self.fsn_last_sent, fib=self.fib)
        return mtp2.SignalUnit(bsn=self.bsn, bib=self.bib, fsn=self.fsn_last_sent, fib=self.fib, status=st)

    def _send_lssu(self, status: str) -> None:
        su = mtp2.SignalUnit(bsn=self.bsn, bib=self.bib, fsn=self.fsn_last_sent, fib=self.fib, status=status)
        if self.transport is not None:
            self._tx(mtp2.encode(su, fcs=False))
        self._fill_sent = None

    def _tx(self, raw: bytes) -> bool:
        ok = self.transport.send_su(raw)
        if ok is not False and self.tap is not None:
            self.tap("tx", raw)
        return ok

    def _pump(self) -> None:
        t = self.transport
        if t is None:
            return
        sent_msu = False
        if self.state == LinkState.IN_SERVICE and not self._remote_po:
            # Q.703 5.3: retransmissions first, then new MSUs (at most 127 outstanding)
            while self._retx:
                fsn, p = self._retx[0]
                su = mtp2.SignalUnit(bsn=self.bsn, bib=self.bib, fsn=fsn, fib=self.fib, payload=p)
                if self._tx(mtp2.encode(su, fcs=False)) is False:
                    return
                self._retx.popleft()
                self.stats["retransmitted"] += 1
                sent_msu = True
            while self.tb and len(self.rtb) < 127 and not self.running("t6"):
                p = self.tb[0]
                fsn = _inc(self.fsn_last_sent)
                su = mtp2.SignalUnit(bsn=self.bsn, bib=self.bib, fsn=fsn, fib=self.fib, payload=p)
                if self._tx(mtp2.encode(su, fcs=False)) is False:
                    return
                self.tb.popleft()
                self.fsn_last_sent = fsn
                self.rtb.append((fsn, p))
                self.stats["msu_tx"] += 1
                sent_msu = True
                if not self.running("t7"):
                    self._start("t7", self.timers.t7)
        # the fill unit is encoded only when it changes (it is resent on every new BSN/status, not per unit received)
        st = self._status
        if self.state in (LinkState.IN_SERVICE, LinkState.ALIGNED_READY) and not self._local_po:
            st = None
        key = (self.bsn, self.bib, self.fsn_last_sent, self.fib, st)
        if sent_msu or key != self._fill_sent:
            if self._tx(mtp2.encode(self._fill_su(), fcs=False)) is not False:
                self._fill_sent = key

    # -- reception ------------------------------------------------------------------------------------------------
    def receive_su(self, raw: bytes) -> None:
        """A received signal unit, FCS already checked and removed."""
        if self.tap is not None:
            self.tap("rx", raw)
        if raw == self._last_raw:
            su = self._last_su
        else:
            try:
                su = mtp2.decode(raw, fcs=False)
            except CodecError as exc:
                self._note(f"bad signal unit: {exc}")
                self.su_error()
                return
            self._last_raw, self._last_su = bytes(raw), su
        self.stats["su_rx"] += 1
        self._monitor_good()
        if su.status is not None:
            self._rx_lssu(su.status)
        elif self.state in (LinkState.ALIGNED_READY, LinkState.ALIGNED_NOT_READY):
            # LSC (Q.703 clause 12): FISU or MSU received in aligned ready: in service
            self._stop("t1")
            self._set_state(LinkState.IN_SERVICE if self.state == LinkState.ALIGNED_READY
                            else LinkState.PROCESSOR_OUTAGE)
            self._rx_sequenced(su)
            self.on_in_service()
        elif self.state in (LinkState.IN_SERVICE, LinkState.PROCESSOR_OUTAGE):
            if self._remote_po:
                self._remote_po = False
                self.on_remote_processor_outage(False)
                if self.state == LinkState.PROCESSOR_OUTAGE and not self._local_po:
                    self._set_state(LinkState.IN_SERVICE)
            self._rx_sequenced(su)
        self._pump()

    def _rx_lssu(self, st: str) -> None:
        s = self.state
        if s == LinkState.OUT_OF_SERVICE:
            return
        if s == LinkState.INITIAL_ALIGNMENT:
            self._iac_lssu(st)
            return
        if st == "SIB":
            # Q.703 9.4: remote congestion: start T6 (once), T7 stopped while T6 runs
            if not self.running("t6"):
                self._start("t6", self.timers.t6)
                self._stop("t7")
                self.on_remote_congestion(True)
            return
        if st == "SIPO":
            if not self._remote_po:
                self._remote_po = True
                if s == LinkState.IN_SERVICE:
                    self._set_state(LinkState.PROCESSOR_OUTAGE)
                self.on_remote_processor_outage(True)
            return
        if s in (LinkState.ALIGNED_READY, LinkState.ALIGNED_NOT_READY) and st in ("SIN", "SIE"):
            return      # the far end is still proving / not yet sent FISUs
        # SIO, SIN, SIE, SIOS in service: link failure (Q.703 1.7, clause 12)
        self._out_of_service(f"received {st}")

    # IAC, Q.703 7 and figure 9
    def _iac_lssu(self, st: str) -> None:
        i = self.iac
        prov = "SIE" if self.emergency else "SIN"
        if i == IacState.NOT_ALIGNED:
            if st in ("SIO", "SIN", "SIE"):
                self._stop("t2")
                self._status = prov
                self._far_emergency = st == "SIE"
                self.iac = IacState.ALIGNED
                self._start("t3", self.timers.t3)
            # SIOS: ignored in not aligned
        elif i == IacState.ALIGNED:
            if st in ("SIN", "SIE"):
                self._far_emergency = st == "SIE"
                self._stop("t3")
                self._start_proving()
            elif st == "SIOS":
                self._alignment_not_possible("SIOS received while aligned")
        elif i == IacState.PROVING:
            if st == "SIO":
                # far end restarted: back to aligned
                self._stop("t4")
                self.iac = IacState.ALIGNED
                self._start("t3", self.timers.t3)
            elif st == "SIOS":
                self._alignment_not_possible("SIOS received while proving")
            elif st == "SIE" and not self._far_emergency:
                self._far_emergency = True
                if not self.emergency:
                    self._start_proving(restart_count=False)

    def _proving_period(self) -> float:
        return self.timers.t4e if (self.emergency or getattr(self, "_far_emergency", False)) else self.timers.t4n

    def _start_proving(self, restart_count: bool = True) -> None:
        self.iac = IacState.PROVING
        self.aerm_count = 0
        self._aerm_ti = AERM_TIE if (self.emergency or self._far_emergency) else AERM_TIN
        if restart_count:
            self.proving_attempts = 0
        self.proving_period = self._proving_period()
        self.proving_started_at = self._now()
        self._start("t4", self.proving_period)

    def _t4_expired(self) -> None:
        # proving succeeded: LSC aligned ready, send FISU, start T1
        self.iac = IacState.IDLE
        self._note(f"proving complete after {self._now() - self.proving_started_at:.3f} s")
        self.suerm_count = 0
        self._suerm_su = 0
        self._status = "SIPO" if self._local_po else None
        self._set_state(LinkState.ALIGNED_NOT_READY if self._local_po else LinkState.ALIGNED_READY)
        self._start("t1", self.timers.t1)
        self._pump()

    def _t1_expired(self) -> None:
        self._out_of_service("Q.703 T1 expired (no FISU after alignment)")

    def _t2_expired(self) -> None:
        self._alignment_not_possible("Q.703 T2 expired (not aligned)")

    def _t3_expired(self) -> None:
        self._alignment_not_possible("Q.703 T3 expired (aligned)")

    def _t6_expired(self) -> None:
        self._out_of_service("Q.703 T6 expired (remote congestion)")

    def _t7_expired(self) -> None:
        self._out_of_service("Q.703 T7 expired (excessive delay of acknowledgement)")

    def _alignment_not_possible(self, why: str) -> None:
        self._out_of_service(f"alignment not possible: {why}")

    # -- error rate monitors (Q.703 10) ----------------------------------------------------------------------------
    def _monitor_good(self) -> None:
        if self.state in (LinkState.IN_SERVICE, LinkState.ALIGNED_READY, LinkState.ALIGNED_NOT_READY,
                          LinkState.PROCESSOR_OUTAGE):
            self._suerm_su += 1
            if self._suerm_su >= SUERM_D:
                self._suerm_su = 0
                if self.suerm_count:
                    self.suerm_count -= 1

    def su_repeated(self, n: int) -> None:
        """``n`` good signal units the transport's receive filter did not deliver: repeats of the FISU or LSSU it
        delivered just before (a board's FISU filtering; ``HdlcTransport``). They change no state, but they are
        signal units received: the SUERM's D count (Q.703 10.2) goes on as if they had been delivered one by one."""
        if n <= 0:
            return
        self.stats["su_rx"] += n
        self.stats["su_filtered"] += n
        if self.state in (LinkState.IN_SERVICE, LinkState.ALIGNED_READY, LinkState.ALIGNED_NOT_READY,
                          LinkState.PROCESSOR_OUTAGE):
            total = self._suerm_su + n
            self._suerm_su = total % SUERM_D
            self.suerm_count = max(0, self.suerm_count - total // SUERM_D)

    def su_error(self, n: int = 1) -> None:
        """``n`` signal units received in error (bad FCS, abort, bad length) reported by the transport."""
        for _ in range(n):
            self.stats["su_errors"] += 1
            if self.state == LinkState.INITIAL_ALIGNMENT and self.iac == IacState.PROVING:
                # AERM, Q.703 10.3
                self.aerm_count += 1
                if self.aerm_count >= self._aerm_ti:
                    self.stats["aerm_aborts"] += 1
                    self.proving_attempts += 1
                    self._note(f"AERM threshold: proving aborted ({self.proving_attempts})")
                    if self.proving_attempts >= AERM_M:
                        self._alignment_not_possible("AERM: proving failed 5 times")
                        return
                    self.aerm_count = 0
                    self.proving_started_at = self._now()
                    self._start("t4", self._proving_period())
            elif self.state in (LinkState.IN_SERVICE, LinkState.ALIGNED_READY, LinkState.ALIGNED_NOT_READY,
                                LinkState.PROCESSOR_OUTAGE):
                # SUERM, Q.703 10.2
                self._suerm_su += 1
                if self._suerm_su >= SUERM_D:
                    self._suerm_su = 0
                    if self.suerm_count:
                        self.suerm_count -= 1
                self.suerm_count += 1
                if self.suerm_count >= SUERM_T:
                    self.stats["suerm_failures"] += 1
                    self._out_of_service("SUERM threshold (64) exceeded")
                    return

    def octets_in_error(self, n: int) -> None:
        """Octet counting mode (Q.703 10.2): ``n`` octets received with no frame delimited; one error per 16."""
        total = self._octet_residue + n
        self._octet_residue = total % OCTET_N
        if total // OCTET_N:
            self.su_error(total // OCTET_N)

    # -- reception control, basic error correction (Q.703 5.2 / 5.3) -------------------------------------------
    def _rx_sequenced(self, su: mtp2.SignalUnit) -> None:
        self._rx_bsn(su.bsn, su.bib)
        if self.state == LinkState.OUT_OF_SERVICE:
            return
        if su.fib != self.bib:
            if not self._nack_pending:
                # FIB inverted although we sent no negative acknowledgement: abnormal FIB (Q.703 5.3.2)
                self._abnormal_fib.append(1)
                if sum(self._abnormal_fib) >= 2:
                    self._out_of_service("abnormal FIB received (2 of 3)")
                    return
            # awaiting retransmission after our negative acknowledgement: discard
            if su.payload:
                self.stats["discarded"] += 1
            return
        self._nack_pending = False
        self._abnormal_fib.append(0)
        expected = _inc(self.bsn)
        if su.payload and self.state != LinkState.IN_SERVICE:
            # processor outage: MSUs are not accepted (nor acknowledged); the far end keeps them for retransmission
            self.stats["discarded"] += 1
            return
        if su.payload:
            if su.fsn == expected:
                self.bsn = su.fsn
                self.stats["msu_rx"] += 1
                self.on_msu(su.payload)
                return
            self.stats["discarded"] += 1
            if su.fsn == self.bsn or _dist(self.bsn, su.fsn) > 64:
                return          # duplicate (already accepted): discard, no NACK
            self._nack()
        elif su.fsn != self.bsn and _dist(self.bsn, su.fsn) <= 64:
            # a FISU announcing MSUs we did not receive: negative acknowledgement
            self._nack()

    def _nack(self) -> None:
        self._nack_pending = True
        self.bib ^= 1
        self.stats["nacks_sent"] += 1

    def _rx_bsn(self, bsn: int, bib: int) -> None:
        # positive acknowledgement: BSN must lie in [last acked, last sent]
        out = _dist(self.fsn_last_acked, self.fsn_last_sent)
        d = _dist(self.fsn_last_acked, bsn)
        if d > out:
            self._abnormal.append(1)
            if sum(self._abnormal) >= 2:
                self._out_of_service("abnormal BSN received (2 of 3)")
            return
        self._abnormal.append(0)
        if not d and not self.rtb and self.running("t6"):
            # nothing awaits acknowledgement and the far end sends FISU/MSU again: remote congestion over (9.4)
            self._stop("t6")
            self.on_remote_congestion(False)
        if d:
            while self.rtb and _dist(self.fsn_last_acked, self.rtb[0][0]) <= d:
                self.rtb.popleft()
            while self._retx and _dist(self.fsn_last_acked, self._retx[0][0]) <= d:
                self._retx.popleft()
            self.fsn_last_acked = bsn
            if self.running("t6"):
                self._stop("t6")
                self.on_remote_congestion(False)
            if self.rtb:
                self._start("t7", self.timers.t7)
            else:
                self._stop("t7")
        if bib != self.fib:
            # negative acknowledgement: retransmit every unacknowledged MSU, invert FIB (Q.703 5.3.2)
            self.stats["nacks_received"] += 1
            self.fib ^= 1
            self._retx = deque(self.rtb)
            if self.rtb and not self.running("t6"):
                self._start("t7", self.timers.t7)
