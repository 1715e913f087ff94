"""The MTP-TRANSFER interface between MTP3 and its users (ISUP): Q.701 / Q.704 primitives.

Kept exactly as /work/notes/mtp-interface.md gives it (the ISUP helper may hold an identical copy).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TransferIndication:   # MTP-TRANSFER indication (Q.704 / Q.701 2.3.2)
    opc: int
    dpc: int
    sls: int
    si: int                 # service indicator: 5 = ISUP
    ni: int                 # network indicator (2 = national)
    payload: bytes          # the user part's octets after the routing label (for ISUP: CIC first)


class MtpUser:              # what an MTP3 user (ISUP) implements
    def mtp_transfer(self, ind: TransferIndication) -> None: ...
    def mtp_pause(self, dpc: int) -> None: ...     # destination inaccessible (Q.704 MTP-PAUSE)
    def mtp_resume(self, dpc: int) -> None: ...    # destination accessible again (MTP-RESUME)
    def mtp_status(self, dpc: int, cause: str) -> None: ...   # congestion / user part unavailable


class MtpProvider:          # what MTP3 offers its users
    pc_format: str          # "itu" | "china"
    opc: int                # own point code

    def register_user(self, si: int, user: MtpUser) -> None: ...

    def transfer(self, dpc: int, sls: int, si: int, payload: bytes, ni: int = 2) -> None: ...  # MTP-TRANSFER request


class LoopbackMtp(MtpProvider):
    """Two MTP providers joined with no links: each transfer is delivered to the other side's user registered for
    the service indicator, with OPC = the sender's point code and DPC = the receiver's.

    With ``clock`` (an IReactorTime) delivery is via ``clock.callLater(0, ...)``, else synchronous.
    A transfer to a DPC other than the peer's point code, or for an SI with no user, is dropped (counted in
    ``dropped``); ``pause()`` / ``resume()`` signal MTP-PAUSE / MTP-RESUME for the peer to this side's users."""

    def __init__(self, opc: int, pc_format: str = "itu", clock=None):
        from .mtp3 import PC_BITS, check_format
        check_format(pc_format)
        if not isinstance(opc, int) or not 0 <= opc < (1 << PC_BITS[pc_format]):
            raise ValueError(f"LoopbackMtp: point code {opc!r} does not fit {PC_BITS[pc_format]} bits")
        self.opc = opc
        self.pc_format = pc_format
        self.clock = clock
        self.peer: LoopbackMtp | None = None
        self.users: dict[int, MtpUser] = {}
        self.dropped = 0
        self.paused = False

    @classmethod
    def pair(cls, opc_a: int, opc_b: int, pc_format: str = "itu", clock=None) -> tuple["LoopbackMtp", "LoopbackMtp"]:
        a, b = cls(opc_a, pc_format, clock), cls(opc_b, pc_format, clock)
        a.peer, b.peer = b, a
        return a, b

    def register_user(self, si: int, user: MtpUser) -> None:
        if not isinstance(si, int) or not 0 <= si <= 15:
            raise ValueError(f"LoopbackMtp: service indicator {si!r} out of range 0..15")
        self.users[si] = user

    def transfer(self, dpc: int, sls: int, si: int, payload: bytes, ni: int = 2) -> None:
        if not isinstance(sls, int) or not 0 <= sls <= 15:
            raise ValueError(f"MTP-TRANSFER: SLS {sls!r} out of range 0..15")
        peer = self.peer
        if peer is None or dpc != peer.opc or self.paused:
            self.dropped += 1
            return
        ind = TransferIndication(opc=self.opc, dpc=dpc, sls=sls, si=si, ni=ni, payload=bytes(payload))
        if self.clock is None:
            peer._deliver(ind)
        else:
            self.clock.callLater(0, peer._deliver, ind)

    def _deliver(self, ind: TransferIndication) -> None:
        user = self.users.get(ind.si)
        if user is None:
            self.dropped += 1
            return
        user.mtp_transfer(ind)

    def pause(self) -> None:
        """The peer becomes inaccessible: MTP-PAUSE to this side's users; transfers are dropped until resume()."""
        self.paused = True
        for u in list(self.users.values()):
            u.mtp_pause(self.peer.opc if self.peer else 0)

    def resume(self) -> None:
        self.paused = False
        for u in list(self.users.values()):
            u.mtp_resume(self.peer.opc if self.peer else 0)
