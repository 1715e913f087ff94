"""Two ISUP call-control instances back to back over a loopback MTP, on a task.Clock."""
from __future__ import annotations

from twisted.internet import task

from ctid.signaling.ss7 import isup
from ctid.signaling.ss7.isup_cc import IsupCallControl

from mtp_loopback import LoopbackMtp, TransferIndication  # noqa: F401

POINT_CODES = {"itu": (0x2A51, 0x0123), "china": (0x0A0B0C, 0x010203)}   # A higher than B in both


class Side:
    def __init__(self, rig, name, mtp, cc):
        self.rig, self.name, self.mtp, self.cc = rig, name, mtp, cc
        self.incoming = []
        self.mode = "answer"   # what the application does with an incoming call: answer / alert / none

    def handle(self, call):
        self.incoming.append(call)
        if self.mode in ("answer", "alert"):
            self.cc.alert(call)
        if self.mode == "answer":
            self.cc.answer(call)

    def sent(self, start=0):
        """Names of the ISUP messages this side has sent (decoded by the codec)."""
        return [isup.decode(p, self.cc.variant).NAME for p in self.mtp.tap[start:]]

    def sent_messages(self, start=0):
        return [isup.decode(p, self.cc.variant) for p in self.mtp.tap[start:]]

    def inject(self, payload: bytes):
        """Make the far end receive raw bytes as if this side had sent them."""
        self.mtp.transfer(self.mtp.peer.opc, 0, 5, payload)

    def states(self):
        return {c: circ.state.value for c, circ in self.cc.circuits.items()}


class Rig:
    def __init__(self, pc_format="itu", cics_a=range(1, 9), cics_b=range(1, 9), timers=None):
        self.clock = task.Clock()
        opc_a, opc_b = POINT_CODES[pc_format]
        ma, mb = LoopbackMtp.pair(opc_a, opc_b, pc_format, clock=self.clock)
        self.a = Side(self, "A", ma, None)
        self.b = Side(self, "B", mb, None)
        self.a.cc = IsupCallControl(ma, opc_b, cics_a, self.clock, on_incoming=self.a.handle, timers=timers)
        self.b.cc = IsupCallControl(mb, opc_a, cics_b, self.clock, on_incoming=self.b.handle, timers=timers)

    def settle(self):
        """Deliver every message now due (callLater(0) chains), without moving time."""
        for _ in range(10000):
            now = self.clock.seconds()
            if not any(dc.getTime() <= now for dc in self.clock.getDelayedCalls()):
                return
            self.clock.advance(0)
        raise AssertionError("messages keep flowing (loop?)")

    def advance(self, seconds):
        """Move time in 1 s steps (timers fire in order, messages in between are delivered)."""
        self.settle()
        for _ in range(int(seconds)):
            self.clock.advance(1)
            self.settle()
