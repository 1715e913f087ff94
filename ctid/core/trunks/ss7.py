"""SS7 trunk: ISUP call control over MTP3 over one MTP2 link on TS16 of a CCS span.

CIC n is timeslot n of the span (board channel span*32+n). The signalling link's frames come from the runtime's
driver events (``HdlcEvent``) and are polled once per tick. MTP-RESUME (the linkset came up) makes the trunk up
and IsupCallControl resets every circuit (GRS); MTP-PAUSE makes it down and clears the calls (cause 38).
"""
from __future__ import annotations

from ctid.drivers.model import Alarm, AlarmEvent, HdlcEvent
from ctid.signaling.ss7.isup_cc import IsupCallControl, State
from ctid.signaling.ss7.mtp2_link import Mtp2Link
from ctid.signaling.ss7.mtp3_layer import Mtp3Layer
from ctid.signaling.ss7.transport import HdlcTransport

from .base import BLOCKED, CLEARING, DIALING, DOWN, IDLE, INCOMING, RINGING, UP, Trunk, TrunkChannel

CATEGORY = 0x0A          # Q.763 calling party's category: ordinary subscriber


class Ss7Channel(TrunkChannel):
    def __init__(self, trunk: "Ss7Trunk", cic: int, number: int):
        super().__init__(trunk, cic, number, "ss7")
        self.cic = cic
        self.call = None            # the isup_cc Call on this circuit

    # incoming --------------------------------------------------------------------------------------
    def incoming(self, call) -> None:
        self.call = call
        call.released.addCallback(self._released, call)
        self._begin("in", call.calling, call.called, call.category)
        self._set(INCOMING)
        self.dtmf(True)
        self._notify("incoming", calling=call.calling, called=call.called, category=call.category)

    def answer(self) -> None:
        cc = self.trunk.cc
        cc.alert(self.call)         # ACM
        cc.answer(self.call)        # ANM
        self._set(UP)
        self._notify("answered")

    def hangup(self, cause: int = 16) -> None:
        call = self.call
        if call is None:
            return
        self._set(CLEARING)
        self.trunk.cc.release(call, cause)      # REL; released fires; RLC returns the circuit to idle

    # outgoing --------------------------------------------------------------------------------------
    def dial(self, called: str, calling: str | None = None) -> None:
        raise RuntimeError("SS7 outgoing calls go through Ss7Trunk.originate (ISUP picks the circuit)")

    def outgoing(self, call, called, calling) -> None:
        self.call = call
        self._begin("out", calling, called, CATEGORY)
        self._set(DIALING)
        call.alerted.addCallback(lambda _c: self._alerted(call))
        call.answered.addCallback(lambda _c: self._answered(call))
        call.released.addCallback(self._released, call)

    def _alerted(self, call) -> None:
        if call is self.call and self.state == DIALING:
            self._set(RINGING)
            self._notify("ringing")

    def _answered(self, call) -> None:
        if call is self.call:
            self._set(UP)
            self.dtmf(True)
            self._notify("answered")

    def _released(self, cause, call) -> None:
        if call is not self.call:
            return cause
        self.call = None
        self._ended(cause)
        self.refresh()
        return cause

    def refresh(self) -> None:
        """Idle / clearing / blocked / down from the circuit (once per tick while clearing)."""
        if self.call is not None:
            return
        circ = self.trunk.cc.circuits[self.cic]
        if not self.trunk.up:
            self._set(DOWN)
        elif circ.local_blocked or circ.remote_blocked:
            self._set(BLOCKED)
        elif circ.state is State.IDLE:
            self._set(IDLE)
        else:
            self._set(CLEARING)


class Ss7Trunk(Trunk):
    kind = "ss7"

    def __init__(self, cfg, board, runtime, clock):
        super().__init__(cfg, board, runtime, clock)
        self.span = cfg.span
        self.transport = HdlcTransport(board, self.span, 16)
        self.link = Mtp2Link(clock, self.transport, name=f"{cfg.name}-link0", emergency=cfg.emergency_proving)
        pc_format = "china" if cfg.variant == "china" else "itu"
        self.mtp3 = Mtp3Layer(clock, cfg.opc, pc_format, name=cfg.name)
        self.mtp3.add_linkset(cfg.dpc, [self.link])
        self.cc = IsupCallControl(self.mtp3, cfg.dpc, cfg.cics, clock, on_incoming=self._incoming,
                                  on_event=self._isup_event)
        for cic in cfg.cics:
            self.channels[cic] = Ss7Channel(self, cic, self.span * 32 + cic)
            self.channels[cic].state = DOWN
        self._frame0 = None

    def start(self) -> None:
        self.runtime.add_event_handler(self._driver_event, span=self.span)
        self.runtime.add_tick_hook(self._tick)
        self.mtp3.start()

    # driver side ---------------------------------------------------------------------------------------
    def _driver_event(self, ev) -> None:
        if isinstance(ev, HdlcEvent):
            if ev.span == self.span and ev.timeslot == 16:
                self.transport.frame(ev.frame)
        elif isinstance(ev, AlarmEvent) and ev.span == self.span:
            self.alarms = ev.alarms.names() if ev.alarms != Alarm.NONE else []
            self._trunk_event("alarm", alarms=list(self.alarms))

    def _tick(self, _block=None) -> None:
        self.transport.poll(int(round(self.clock.seconds() * 8000)))
        for ch in self.channels.values():
            if ch.call is None and ch.state != IDLE:
                ch.refresh()

    # ISUP side -----------------------------------------------------------------------------------------
    def _incoming(self, call) -> None:
        ch = self.channels.get(call.cic)
        if ch is None or ch.call is not None:
            self.cc.release(call, 44)      # requested circuit not available
            return
        ch.incoming(call)

    def _isup_event(self, name, cic, info) -> None:
        if name == "mtp_resume":
            self._set_up(True)
        elif name == "mtp_pause":
            self._set_up(False)
        else:
            return
        for ch in self.channels.values():
            if ch.call is None:
                ch.refresh()

    def originate(self, called: str, calling: str | None = None) -> Ss7Channel:
        from ..errors import EngineError
        if not self.up:
            raise EngineError(503, f"trunk {self.name} is down (destination inaccessible)", cause=38)
        for what, num in (("called", called), ("calling", calling)):
            if num is not None and (not isinstance(num, str) or not num.isdigit() or len(num) > 20):
                raise EngineError(400, f"{what} number {num!r}: 1 to 20 digits")
        call = self.cc.setup(called, calling=calling or self.cfg.calling or None, category=CATEGORY)
        if call.cic is None:
            raise EngineError(503, f"trunk {self.name}: no circuit for the call (cause {call.cause})",
                              cause=call.cause)
        ch = self.channels[call.cic]
        ch.outgoing(call, called, calling)
        return ch
