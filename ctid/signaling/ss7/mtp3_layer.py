"""MTP3 (ITU-T Q.704) signalling network functions for a signalling end point on one or more linksets.

* Message handling: MSUs are built and parsed with the declarative codec ``ctid.signaling.ss7.mtp3`` (ITU 14-bit
  or China 24-bit point codes, ``pc_format``); discrimination on the DPC, distribution by service indicator to the
  registered :class:`~ctid.signaling.ss7.primitives.MtpUser` (MTP-TRANSFER indication).
* Routing and load sharing (Q.704 4.2): each SLS has a home link, ``links[sls % n]``; while that link is
  unavailable its traffic is shared by SLS over the available links of the linkset.
* Signalling link test (Q.707 2): a link whose MTP2 comes in service sends SLTM (pattern, SLS = SLC) and becomes
  available for traffic only when the matching SLTA arrives ("Q.707 T1", one repetition, then the link is
  restarted, with changeover if it carried traffic); the test repeats every "Q.707 T2". A received SLTM is
  answered with SLTA on the same link.
* Traffic restart (Q.704 9, simplified): TRA is sent when the first link of a linkset becomes available; the
  adjacent point code becomes accessible (MTP-RESUME) when a link is available and its TRA has been received.
  MTP-PAUSE when the last link fails.
* Changeover (Q.704 5): when an available link fails and another is available, traffic of its home SLSs is held,
  COO with our BSNT (FSN of the last MSU accepted on the failed link) goes out on an alternative link, and on COA
  (or the far end's own COO) the failed link's unacknowledged MSUs after the far end's BSNT are retrieved from
  MTP2 and sent, in order, on the alternatives, then the held traffic. "Q.704 T2" without COA: time-controlled
  changeover (the unacknowledged MSUs, which may have arrived, are discarded and counted, never duplicated).
* Changeback (Q.704 6): when the link is available again, its home SLSs are held, CBD goes out on each link that
  carried their traffic, and on every CBA ("Q.704 T4", one repetition "Q.704 T5", else time-controlled) the held
  traffic is sent on the home link.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from . import mtp3
from .errors import CodecError
from .mtp2_link import LinkState, Mtp2Link
from .primitives import MtpProvider, MtpUser, TransferIndication

log = logging.getLogger(__name__)


# User part unavailable (Q.704 15.17): heading H0=1010 H1=0001, the affected destination, then the user part
# identity (the SI of the user, low 4 bits) and the unavailability cause (high 4 bits). The codec has no named UPU,
# so it goes out as a management message by heading.
UPU_HEADING = (0xA, 0x1)
UPU_UNKNOWN, UPU_UNEQUIPPED, UPU_INACCESSIBLE = 0, 1, 2
UPU_CAUSES = {UPU_UNKNOWN: "user part unavailable (unknown)", UPU_UNEQUIPPED: "user part unavailable (unequipped)",
              UPU_INACCESSIBLE: "user part unavailable (inaccessible)"}


def upu_message(destination: int, upid: int, cause: int, pc_format: str) -> mtp3.MgmtMessage:
    if pc_format == "itu":
        dest = (destination & 0x3FFF).to_bytes(2, "little")
    else:
        dest = destination.to_bytes(3, "little")
    return mtp3.MgmtMessage("UNKNOWN", si=mtp3.SI_SNM, h0=UPU_HEADING[0], h1=UPU_HEADING[1],
                            body=dest + bytes([(cause & 0xF) << 4 | (upid & 0xF)]))


def parse_upu(body: bytes, pc_format: str) -> tuple[int, int, int]:
    n = 2 if pc_format == "itu" else 3
    if len(body) != n + 1:
        raise CodecError(f"MTP3: UPU body is {len(body)} octets, expected {n + 1} ({pc_format})")
    dest = int.from_bytes(body[:n], "little") & (0x3FFF if pc_format == "itu" else 0xFFFFFF)
    return dest, body[n] & 0xF, body[n] >> 4


@dataclass
class Mtp3Timers:
    q704_t1: float = 0.8     # delay to avoid mis-sequencing on time-controlled changeover
    q704_t2: float = 1.5     # waiting for changeover acknowledgement
    q704_t3: float = 0.8     # time-controlled diversion delay (changeback)
    q704_t4: float = 1.0     # waiting for changeback acknowledgement (first attempt)
    q704_t5: float = 1.0     # waiting for changeback acknowledgement (second attempt)
    q707_t1: float = 4.0     # supervision timer for SLTA
    q707_t2: float = 60.0    # interval of the periodic signalling link test (30-90 s)
    restart_delay: float = 1.0   # before re-activating a failed link (management)


class SignallingLink:
    """MTP3's view of one MTP2 link of a linkset."""

    def __init__(self, linkset: "Linkset", slc: int, mtp2_link: Mtp2Link):
        self.linkset, self.slc, self.mtp2 = linkset, slc, mtp2_link
        self.available = False          # tested and carrying traffic
        self.slt_pattern = b""
        self.slt_tries = 0
        self.changeover = False         # changeover in progress (waiting COA)
        self.co_done = True             # buffers retrieved (nothing left for changeover)
        self.changeback_pending: set[int] = set()   # codes of CBDs without CBA
        self.cb_tries = 0


class Linkset:
    def __init__(self, layer: "Mtp3Layer", adjacent: int, links: list[Mtp2Link]):
        self.layer, self.adjacent = layer, adjacent
        self.links = [SignallingLink(self, slc, l) for slc, l in enumerate(links)]
        self.tra_received = False
        self.tra_sent = False
        self.accessible = False
        self.held: dict[int, list[tuple[int, bytes]]] = {}    # home SLC -> [(sls, encoded MSU)] held in order

    def available_links(self, exclude: int | None = None) -> list[SignallingLink]:
        return [l for l in self.links if l.available and l.slc != exclude]

    def home(self, sls: int) -> SignallingLink:
        return self.links[sls % len(self.links)]

    def link_for(self, sls: int) -> SignallingLink | None:
        h = self.home(sls)
        if h.available:
            return h
        alts = self.available_links()
        return alts[sls % len(alts)] if alts else None


class Mtp3Layer(MtpProvider):
    """An MTP3 signalling point (``opc``) with linksets to adjacent point codes."""

    def __init__(self, clock, opc: int, pc_format: str = "itu", ni: int = mtp3.NI_NATIONAL,
                 timers: Mtp3Timers | None = None, name: str = "mtp3"):
        self.pc_format = mtp3.check_format(pc_format)
        self.opc = mtp3.parse_pc(opc, pc_format)
        self.clock, self.ni, self.name = clock, ni, name
        self.timers = timers or Mtp3Timers()
        self.users: dict[int, MtpUser] = {}
        self.linksets: dict[int, Linkset] = {}
        self.routes: dict[int, Linkset] = {}
        self.events: list[tuple[float, str]] = []
        self.stats = dict(tx=0, rx=0, dropped_inaccessible=0, discarded_not_for_us=0, bad_msu=0,
                          changeover_retransmitted=0, time_controlled_lost=0, unknown_si=0)
        self._timers: dict[tuple, object] = {}
        self._cb_code = 0

    # -- configuration ------------------------------------------------------------------------------------------
    def add_linkset(self, adjacent: int, links: list[Mtp2Link]) -> Linkset:
        adjacent = mtp3.parse_pc(adjacent, self.pc_format)
        if not links or len(links) > 16:
            raise ValueError("MTP3: a linkset has 1 to 16 links")
        ls = Linkset(self, adjacent, links)
        self.linksets[adjacent] = ls
        self.routes[adjacent] = ls
        for sl in ls.links:
            m = sl.mtp2
            m.on_msu = lambda p, sl=sl: self._receive(sl, p)
            m.on_in_service = lambda sl=sl: self._link_in_service(sl)
            m.on_out_of_service = lambda reason, sl=sl: self._link_failed(sl, reason)
            m.on_remote_congestion = lambda on, sl=sl: self._congestion(sl, on)
        return ls

    def add_route(self, dpc: int, adjacent: int) -> None:
        self.routes[mtp3.parse_pc(dpc, self.pc_format)] = self.linksets[adjacent]

    def start(self) -> None:
        for ls in self.linksets.values():
            for sl in ls.links:
                sl.mtp2.start()

    # -- helpers ------------------------------------------------------------------------------------------------
    def _note(self, what: str) -> None:
        self.events.append((self.clock.seconds(), what))
        log.debug("%s: %s", self.name, what)

    def _timer(self, key: tuple, seconds: float, fn, *args) -> None:
        self._cancel(key)
        self._timers[key] = self.clock.callLater(seconds, self._fire, key, fn, *args)

    def _fire(self, key, fn, *args):
        self._timers.pop(key, None)
        self._note(f"{key[0]} expired ({', '.join(map(str, key[1:]))})")
        fn(*args)

    def _cancel(self, key: tuple) -> None:
        c = self._timers.pop(key, None)
        if c is not None and c.active():
            c.cancel()

    def _encode(self, dpc: int, sls: int, si: int, data: bytes, ni: int | None = None) -> bytes:
        return mtp3.encode_msu(mtp3.Msu(si=si, dpc=dpc, opc=self.opc, sls=sls, ni=self.ni if ni is None else ni,
                                        data=data, pc_format=self.pc_format))

    def _send_mgmt(self, sl: SignallingLink, msg: mtp3.MgmtMessage, slc: int | None = None,
                   dpc: int | None = None) -> None:
        data = mtp3.encode_mgmt(msg, self.pc_format)
        si = mtp3.mgmt_si(msg.name, msg.si)
        sl.mtp2.send_msu(self._encode(sl.linkset.adjacent if dpc is None else dpc, sl.slc if slc is None else slc,
                                      si, data))
        self._note(f"sent {msg.name} on link {sl.slc}" + (f" for link {slc}" if slc is not None else ""))

    # -- MtpProvider ----------------------------------------------------------------------------------------------
    def register_user(self, si: int, user: MtpUser) -> None:
        if not isinstance(si, int) or not 3 <= si <= 15:
            raise ValueError(f"MTP3: user service indicator {si!r} must be 3..15 (0-2 are MTP's own)")
        self.users[si] = user

    def transfer(self, dpc: int, sls: int, si: int, payload: bytes, ni: int = 2) -> None:
        if not isinstance(sls, int) or not 0 <= sls <= 15:
            raise ValueError(f"MTP-TRANSFER: SLS {sls!r} out of range 0..15")
        ls = self.routes.get(dpc)
        if ls is None or not ls.accessible:
            self.stats["dropped_inaccessible"] += 1
            return
        self._route(ls, sls, self._encode(dpc, sls, si, bytes(payload), ni))

    def _route(self, ls: Linkset, sls: int, msu: bytes) -> None:
        home = ls.home(sls)
        if home.slc in ls.held:
            ls.held[home.slc].append((sls, msu))
            return
        sl = ls.link_for(sls)
        if sl is None:
            self.stats["dropped_inaccessible"] += 1
            return
        self.stats["tx"] += 1
        sl.mtp2.send_msu(msu)

    # -- link events ----------------------------------------------------------------------------------------------
    def _link_in_service(self, sl: SignallingLink) -> None:
        self._note(f"link {sl.slc} in service (MTP2)")
        sl.slt_tries = 0
        self._send_sltm(sl)

    def _send_sltm(self, sl: SignallingLink) -> None:
        sl.slt_tries += 1
        sl.slt_pattern = os.urandom(4 + sl.slc % 8)
        self._send_mgmt(sl, mtp3.MgmtMessage("SLTM", pattern=sl.slt_pattern))
        self._timer(("Q.707 T1", sl.linkset.adjacent, sl.slc), self.timers.q707_t1, self._sltm_timeout, sl)

    def _periodic_test(self, sl: SignallingLink) -> None:
        if sl.available and sl.mtp2.state == LinkState.IN_SERVICE:
            sl.slt_tries = 0
            self._send_sltm(sl)

    def _sltm_timeout(self, sl: SignallingLink) -> None:
        if sl.mtp2.state != LinkState.IN_SERVICE:
            return
        if sl.slt_tries < 2:
            self._send_sltm(sl)
        else:
            self._note(f"link {sl.slc}: signalling link test failed twice, restarting the link")
            sl.mtp2.stop()
            self._link_failed(sl, "signalling link test failed (Q.707)")

    def _link_available(self, sl: SignallingLink) -> None:
        ls = sl.linkset
        first = not ls.available_links()
        sl.available = True
        self._note(f"link {sl.slc} available")
        if first:
            if not ls.tra_sent:
                ls.tra_sent = True
                self._send_mgmt(sl, mtp3.MgmtMessage("TRA"))
            self._check_access(ls)
            return
        # changeback (Q.704 6): divert this link's home SLSs back to it
        moved = {}
        for sls in range(16):
            if ls.home(sls) is sl:
                alts = ls.available_links(exclude=sl.slc)
                if alts:
                    alt = alts[sls % len(alts)]
                    moved[alt.slc] = alt
        if not moved:
            return
        ls.held.setdefault(sl.slc, [])
        sl.changeback_pending = set()
        sl.cb_tries = 1
        for alt in moved.values():
            self._cb_code = (self._cb_code + 1) & 0xFF
            sl.changeback_pending.add(self._cb_code)
            self._send_mgmt(alt, mtp3.MgmtMessage("CBD", changeback_code=self._cb_code), slc=sl.slc)
        self._timer(("Q.704 T4", ls.adjacent, sl.slc), self.timers.q704_t4, self._cb_timeout, sl)

    def _cb_timeout(self, sl: SignallingLink) -> None:
        ls = sl.linkset
        if sl.cb_tries == 1 and sl.changeback_pending:
            sl.cb_tries = 2
            for alt in ls.available_links(exclude=sl.slc)[:1]:
                for code in sl.changeback_pending:
                    self._send_mgmt(alt, mtp3.MgmtMessage("CBD", changeback_code=code), slc=sl.slc)
            self._timer(("Q.704 T5", ls.adjacent, sl.slc), self.timers.q704_t5, self._cb_timeout, sl)
            return
        # time-controlled diversion
        sl.changeback_pending.clear()
        self._timer(("Q.704 T3", ls.adjacent, sl.slc), self.timers.q704_t3, self._release_held, ls, sl.slc)

    def _release_held(self, ls: Linkset, slc: int) -> None:
        held = ls.held.pop(slc, [])
        for sls, msu in held:
            self._route(ls, sls, msu)

    def _congestion(self, sl: SignallingLink, on: bool) -> None:
        # the far end's MTP2 sends SIB (Q.703 9): MTP-STATUS "congestion" to the users (Q.704 11.2.3, simplified)
        self._note(f"link {sl.slc}: remote congestion {'on' if on else 'off'}")
        if on:
            for dpc, r in self.routes.items():
                if r is sl.linkset:
                    for u in list(self.users.values()):
                        u.mtp_status(dpc, "congestion")

    def _check_access(self, ls: Linkset) -> None:
        acc = bool(ls.available_links()) and ls.tra_received
        if acc and not ls.accessible:
            ls.accessible = True
            self._note(f"destination {ls.adjacent} accessible: MTP-RESUME")
            for dpc, r in self.routes.items():
                if r is ls:
                    for u in list(self.users.values()):
                        u.mtp_resume(dpc)
        elif not acc and ls.accessible:
            ls.accessible = False
            self._note(f"destination {ls.adjacent} inaccessible: MTP-PAUSE")
            for dpc, r in self.routes.items():
                if r is ls:
                    for u in list(self.users.values()):
                        u.mtp_pause(dpc)

    def _link_failed(self, sl: SignallingLink, reason: str) -> None:
        ls = sl.linkset
        self._note(f"link {sl.slc} failed: {reason}")
        self._cancel(("Q.707 T1", ls.adjacent, sl.slc))
        self._cancel(("Q.707 T2", ls.adjacent, sl.slc))
        was = sl.available
        sl.available = False
        if was and ls.available_links():
            # changeover (Q.704 5.2): hold the traffic, COO with our BSNT on an alternative link
            ls.held.setdefault(sl.slc, [])
            sl.changeover = True
            sl.co_done = False
            alt = ls.available_links()[0]
            self._send_mgmt(alt, mtp3.MgmtMessage("COO", fsn=sl.mtp2.retrieve_bsnt()), slc=sl.slc)
            self._timer(("Q.704 T2", ls.adjacent, sl.slc), self.timers.q704_t2, self._co_timeout, sl)
            return
        if not ls.available_links():
            lost = len(sl.mtp2.retrieve_unacked())
            if lost:
                self._note(f"link {sl.slc}: {lost} MSUs lost, no alternative link")
            if ls.accessible:
                ls.tra_received = False
                ls.tra_sent = False
            ls.held.clear()
            self._check_access(ls)
        self._schedule_restart(sl)

    def _schedule_restart(self, sl: SignallingLink) -> None:
        self._timer(("restart", sl.linkset.adjacent, sl.slc), self.timers.restart_delay, self._restart, sl)

    def _restart(self, sl: SignallingLink) -> None:
        if sl.mtp2.state == LinkState.OUT_OF_SERVICE:
            sl.mtp2.start()

    def _complete_changeover(self, sl: SignallingLink, far_bsnt: int | None) -> None:
        ls = sl.linkset
        self._cancel(("Q.704 T2", ls.adjacent, sl.slc))
        if sl.co_done:
            return
        sl.co_done = True
        sl.changeover = False
        if far_bsnt is None:
            lost = sl.mtp2.retrieve_unacked()
            self.stats["time_controlled_lost"] += len(lost)
            self._note(f"link {sl.slc}: time-controlled changeover, {len(lost)} unacknowledged MSUs discarded")
            resend = []
        else:
            resend = sl.mtp2.retrieve_unacked(after_fsn=far_bsnt)
            self.stats["changeover_retransmitted"] += len(resend)
            self._note(f"link {sl.slc}: changeover from FSN {far_bsnt}, {len(resend)} MSUs retransmitted")
        held = ls.held.pop(sl.slc, [])
        for msu in resend:
            try:
                sls = mtp3.decode_msu(msu, self.pc_format).sls
            except CodecError:
                continue
            alt = ls.link_for(sls)
            if alt is not None:
                alt.mtp2.send_msu(msu)
        for sls, msu in held:
            self._route(ls, sls, msu)
        self._schedule_restart(sl)

    def _co_timeout(self, sl: SignallingLink) -> None:
        # time-controlled changeover (Q.704 5.6): wait T1 then divert
        self._timer(("Q.704 T1", sl.linkset.adjacent, sl.slc), self.timers.q704_t1,
                    self._complete_changeover, sl, None)

    # -- reception ----------------------------------------------------------------------------------------------
    def _receive(self, sl: SignallingLink, payload: bytes) -> None:
        try:
            m = mtp3.decode_msu(payload, self.pc_format)
        except CodecError as exc:
            self.stats["bad_msu"] += 1
            self._note(f"bad MSU on link {sl.slc}: {exc}")
            return
        if m.dpc != self.opc:
            self.stats["discarded_not_for_us"] += 1
            return
        if m.si in (mtp3.SI_SNM, mtp3.SI_SLTM, mtp3.SI_SLTM_SPECIAL):
            try:
                msg = mtp3.decode_mgmt(mtp3.SI_SLTM if m.si == mtp3.SI_SLTM_SPECIAL else m.si, m.data,
                                       self.pc_format)
            except CodecError as exc:
                self.stats["bad_msu"] += 1
                self._note(f"bad management message on link {sl.slc}: {exc}")
                return
            self._mgmt(sl, m, msg)
            return
        user = self.users.get(m.si)
        if user is None:
            # Q.704 2.4.2 / 15.17: user part unavailable (cause 1, unequipped remote user) back to the originator
            self.stats["unknown_si"] += 1
            self._send_mgmt(sl, upu_message(self.opc, m.si, UPU_UNEQUIPPED, self.pc_format), dpc=m.opc)
            return
        self.stats["rx"] += 1
        user.mtp_transfer(TransferIndication(opc=m.opc, dpc=m.dpc, sls=m.sls, si=m.si, ni=m.ni, payload=m.data))

    def _mgmt(self, sl: SignallingLink, m: mtp3.Msu, msg: mtp3.MgmtMessage) -> None:
        ls = sl.linkset
        self._note(f"received {msg.name} on link {sl.slc} (SLS {m.sls})")
        if msg.name == "SLTM":
            self._send_mgmt(sl, mtp3.MgmtMessage("SLTA", pattern=msg.pattern))
        elif msg.name == "SLTA":
            if msg.pattern == sl.slt_pattern and m.sls == sl.slc and self._timers.get(("Q.707 T1", ls.adjacent,
                                                                                          sl.slc)) is not None:
                self._cancel(("Q.707 T1", ls.adjacent, sl.slc))
                if not sl.available:
                    self._link_available(sl)
                self._timer(("Q.707 T2", ls.adjacent, sl.slc), self.timers.q707_t2, self._periodic_test, sl)
        elif msg.name == "TRA":
            ls.tra_received = True
            self._check_access(ls)
        elif msg.name in ("COO", "COA"):
            if not 0 <= m.sls < len(ls.links):
                return
            failed = ls.links[m.sls]
            if msg.name == "COO":
                # answer with our BSNT; the far end's BSNT tells us where to retransmit from
                if failed.available:
                    failed.available = False
                    ls.held.setdefault(failed.slc, [])
                    failed.co_done = False
                    failed.mtp2.stop()
                elif failed.co_done and not failed.changeover:
                    failed.co_done = False
                    ls.held.setdefault(failed.slc, [])
                self._send_mgmt(sl, mtp3.MgmtMessage("COA", fsn=failed.mtp2.retrieve_bsnt()), slc=failed.slc)
            self._complete_changeover(failed, msg.fsn)
        elif msg.name == "UNKNOWN" and (msg.si, msg.h0, msg.h1) == (mtp3.SI_SNM, *UPU_HEADING):
            try:
                dest, upid, cause = parse_upu(msg.body, self.pc_format)
            except CodecError as exc:
                self.stats["bad_msu"] += 1
                self._note(f"bad UPU: {exc}")
                return
            user = self.users.get(upid)
            if user is not None:
                user.mtp_status(dest, UPU_CAUSES.get(cause, f"user part unavailable (cause {cause})"))
        elif msg.name == "CBD":
            self._send_mgmt(sl, mtp3.MgmtMessage("CBA", changeback_code=msg.changeback_code), slc=m.sls)
        elif msg.name == "CBA":
            if 0 <= m.sls < len(ls.links):
                back = ls.links[m.sls]
                back.changeback_pending.discard(msg.changeback_code)
                if not back.changeback_pending and back.slc in ls.held:
                    self._cancel(("Q.704 T4", ls.adjacent, back.slc))
                    self._cancel(("Q.704 T5", ls.adjacent, back.slc))
                    self._release_held(ls, back.slc)
