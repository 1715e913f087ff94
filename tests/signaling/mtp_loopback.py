"""A link-less MTP for the ISUP call-control tests, on the MTP-TRANSFER interface of
ctid.signaling.ss7.primitives, with test hooks (``drop``, ``tap``, ``pause``/``resume``) that the tests use and
call control never relies on. (ctid.signaling.ss7.primitives.LoopbackMtp is the plain one.)
"""
from __future__ import annotations

from ctid.signaling.ss7.primitives import MtpProvider, MtpUser, TransferIndication  # noqa: F401


class LoopbackMtp(MtpProvider):
    """One end of a link-less MTP: every transfer to the peer's point code is given to the peer's user for that
    SI, synchronously or (with ``clock``) through ``clock.callLater(0)``.

    Test hooks: ``drop`` (callable(payload) -> bool: True loses the message), ``tap`` (list of sent payloads),
    ``pause()``/``resume()`` (MTP-PAUSE/RESUME to both users; transfers while paused are lost)."""

    def __init__(self, opc: int, pc_format: str = "itu", clock=None):
        self.opc = opc
        self.pc_format = pc_format
        self.clock = clock
        self.peer: LoopbackMtp | None = None
        self.users: dict[int, MtpUser] = {}
        self.tap: list[bytes] = []
        self.drop = None
        self.paused = False
        self.lost = 0

    @classmethod
    def pair(cls, opc_a: int, opc_b: int, pc_format: str = "itu", clock=None) -> tuple["LoopbackMtp", "LoopbackMtp"]:
        a, b = cls(opc_a, pc_format, clock), cls(opc_b, pc_format, clock)
        a.peer, b.peer = b, a
        return a, b

    def register_user(self, si: int, user: MtpUser) -> None:
        self.users[si] = user

    def transfer(self, dpc: int, sls: int, si: int, payload: bytes, ni: int = 2) -> None:
        payload = bytes(payload)
        self.tap.append(payload)
        peer = self.peer
        if self.paused or peer is None or dpc != peer.opc or (self.drop is not None and self.drop(payload)):
            self.lost += 1
            return
        ind = TransferIndication(opc=self.opc, dpc=dpc, sls=sls, si=si, ni=ni, payload=payload)
        if self.clock is None:
            peer._deliver(ind)
        else:
            self.clock.callLater(0, peer._deliver, ind)

    def _deliver(self, ind: TransferIndication) -> None:
        if self.paused:
            self.lost += 1
            return
        user = self.users.get(ind.si)
        if user is not None:
            user.mtp_transfer(ind)

    def pause(self) -> None:
        """The link between the two ends is cut: each user gets MTP-PAUSE for the other's point code."""
        for end in (self, self.peer):
            end.paused = True
        for end in (self, self.peer):
            for user in list(end.users.values()):
                user.mtp_pause(end.peer.opc)

    def resume(self) -> None:
        for end in (self, self.peer):
            end.paused = False
        for end in (self, self.peer):
            for user in list(end.users.values()):
                user.mtp_resume(end.peer.opc)
