"""Analogue trunk: FXO ports (exchange lines) and FXS ports (agent extensions) of a board.

FXO: ring cadence in (``RingEvent``); the FSK caller ID between the first and second ring is read by the
runtime's bank (``cid`` detector on that port while it rings); after ``rings`` rings the call is announced
(``incoming`` with the number). Answer = off hook. The far end's clearing is seen as the polarity reversal going
back to normal or as busy tone (``cpt`` detector while up). Outgoing: off hook, wait for the dial tone
(``cpt``, or 3 s without one), dial the digits as DTMF tones, up (analogue lines have no answer signal except
the polarity reversal, which is taken when it comes).

FXS: an extension. Offering a call rings the phone (China cadence 1 s on / 4 s off); off hook answers; on hook
hangs up. Off hook while idle: dial tone, the digits dialled (DTMF) end with '#' or 3 s without a digit and are
announced as an ``incoming`` call from the extension (called = the digits).
"""
from __future__ import annotations

from ctid.drivers.model import HookEvent, OverrunEvent, PolarityEvent, RingEvent
from ctid.dsp.dtmf import generate as dtmf_generate
from ctid.dsp.g711 import alaw_encode

from .base import CLEARING, DIALING, IDLE, INCOMING, RINGING, UP, Trunk, TrunkChannel

RING_GAP = 6.0            # s without ring voltage after a ring: the caller gave up (China cadence: 4 s off)
DIGIT_TIMEOUT = 3.0       # FXS: s after the last digit that end the number
DIAL_TONE_WAIT = 3.0      # FXO outgoing: s to wait for dial tone before dialling anyway
FXS_RING = (1.0, 4.0)     # China ring cadence


class FxoChannel(TrunkChannel):
    def __init__(self, trunk, port: int, number: int):
        super().__init__(trunk, port, number, "fxo")
        self.port = port
        self.rings = 0
        self.cid: dict | None = None
        self._gap = None
        self._dial_timer = None
        self.reversed = False
        self._announced = False

    # incoming ------------------------------------------------------------------------------------------
    def on_ring(self, on: bool) -> None:
        if self.direction == "out" or self.state == UP:
            return
        self._cancel_gap()
        if self.state == CLEARING:         # the rest of a refused call's ring cycle
            self._gap = self.trunk.clock.callLater(RING_GAP, self._set, IDLE)
            return
        if on:
            if self.state == IDLE:
                self.rings = 0
                self.cid = None
                self._begin("in")
                self._set(INCOMING)
                self.detect(cid=True)
            self.rings += 1
            if self.state == INCOMING and self.rings >= self.trunk.cfg.rings:
                self._announce()       # the caller ID (between ring 1 and 2) has come by now
        if self.state == INCOMING:
            self._gap = self.trunk.clock.callLater(RING_GAP, self._ring_gap)

    def _announce(self) -> None:
        if getattr(self, "_announced", False):
            return
        self._announced = True
        self.detect(cid=False)
        cid = self.cid or {}
        self.calling = cid.get("number") or None
        self.called = self.trunk.cfg.number or None      # the line's own number (config), if known
        self.dtmf(True)
        self._notify("incoming", calling=self.calling, called=self.called, category=None)

    def _ring_gap(self) -> None:
        self._gap = None
        if self.state != INCOMING:
            return
        self.detect(cid=False)
        announced, self._announced = self._announced, False
        self._set(IDLE)
        if announced:
            self._ended(16)        # the caller gave up before the answer
        else:
            self.direction = None  # gave up before the call was announced

    def _cancel_gap(self) -> None:
        if self._gap is not None and self._gap.active():
            self._gap.cancel()
        self._gap = None

    def on_signal(self, ev) -> None:
        if ev.kind == "cid" and ev.type == "msg":
            v = ev.value if isinstance(ev.value, dict) else {}
            self.cid = {"number": v.get("number"), "name": v.get("name")}
        elif ev.kind == "cpt" and ev.type == "on":
            if ev.value == "busy" and self.state == UP:
                self._far_clear()
            elif ev.value == "dial" and self.state == DIALING and self._dial_timer is not None:
                self._dial_timer.cancel()
                self._dial_timer = None
                self._send_digits()

    def on_polarity(self, rev: bool) -> None:
        was, self.reversed = self.reversed, rev
        if rev and not was and self.state == UP and self.direction == "out":
            self._notify("answered")           # answer supervision by polarity reversal
        elif was and not rev and self.state == UP:
            self._far_clear()

    def _far_clear(self) -> None:
        self._onhook()
        self._ended(16)

    def answer(self) -> None:
        self._cancel_gap()
        if not getattr(self, "_announced", False):
            self._announce()
        self.trunk.board.port_hook(self.port, True)
        self.detect(cid=False, cpt=True)
        self._set(UP)
        self._notify("answered")

    def hangup(self, cause: int = 16) -> None:
        if self.direction is None:
            return
        if self.state == INCOMING:
            # an analogue call cannot be refused: ignore the rest of its ring cycle (clearing until the gap)
            self.detect(cid=False)
            self._announced = False
            self._set(CLEARING)
            self._ended(cause)
            return
        self._cancel_gap()
        if self._dial_timer is not None and self._dial_timer.active():
            self._dial_timer.cancel()
        self._dial_timer = None
        self._onhook()
        self._ended(cause)

    def _onhook(self) -> None:
        self._announced = False
        self.detect(cid=False, cpt=False)
        if self.state in (UP, DIALING, CLEARING, RINGING):
            self.trunk.board.port_hook(self.port, False)
        self._set(IDLE)

    # outgoing ------------------------------------------------------------------------------------------
    def dial(self, called: str, calling: str | None = None) -> None:
        if not called or any(c not in "0123456789*#" for c in called):
            raise ValueError(f"{called!r} is not a number to dial (0-9, * and #)")
        self._begin("out", calling, called, None)
        self.trunk.board.port_hook(self.port, True)
        self.detect(cpt=True)
        self._set(DIALING)
        self._dial_timer = self.trunk.clock.callLater(DIAL_TONE_WAIT, self._send_digits)

    def _send_digits(self) -> None:
        self._dial_timer = None
        if self.state != DIALING:
            return
        pcm = dtmf_generate(self.called, on_ms=100, off_ms=100)
        d = self.mc.play(alaw_encode(pcm))
        d.addBoth(self._dialled)

    def _dialled(self, result) -> None:
        if self.state == DIALING and self.direction == "out":
            self._set(UP)
            self.dtmf(True)
            self._notify("answered")
        return None


class FxsChannel(TrunkChannel):
    def __init__(self, trunk, port: int, number: int):
        super().__init__(trunk, port, number, "fxs")
        self.port = port
        self.offhook = False
        self.digits = ""
        self._ring_timer = None
        self._digit_timer = None

    # the phone -----------------------------------------------------------------------------------------
    def on_hook(self, offhook: bool) -> None:
        self.offhook = offhook
        if offhook:
            if self.state == RINGING:                  # answers the call offered to it
                self._stop_ring()
                self._set(UP)
                self.dtmf(True)
                self._notify("answered")
            elif self.state == IDLE:                   # wants to dial
                self._begin("in", calling=self.id)
                self.digits = ""
                self._set(DIALING)
                self.dtmf(True)
                self.mc.tone("dial")
        else:
            self.mc.stop_tone()
            if self.direction is not None:
                self._cancel_digits()
                self._stop_ring()
                self._set(IDLE)
                self._ended(16)
            else:
                self._set(IDLE)

    def on_dtmf(self, digit: str) -> None:
        if self.state == DIALING and self.direction == "in":
            self.mc.stop_tone()
            self._cancel_digits()
            if digit == "#":
                self._dialled()
                return
            self.digits += digit
            self._digit_timer = self.trunk.clock.callLater(DIGIT_TIMEOUT, self._dialled)
            return
        super().on_dtmf(digit)

    def _dialled(self) -> None:
        self._digit_timer = None
        if self.state != DIALING or not self.digits:
            return
        self.called = self.digits
        self._set(INCOMING)
        self._notify("incoming", calling=self.calling, called=self.called, category="extension")

    def _cancel_digits(self) -> None:
        if self._digit_timer is not None and self._digit_timer.active():
            self._digit_timer.cancel()
        self._digit_timer = None

    # the engine ----------------------------------------------------------------------------------------
    def dial(self, called: str | None = None, calling: str | None = None) -> None:
        """Offer a call to the extension: ring the phone."""
        if self.offhook:
            raise RuntimeError(f"{self.id}: the phone is off hook")
        self._begin("out", calling, called, None)
        self._set(RINGING)
        self._ring(True)
        self._notify("ringing")

    def _ring(self, on: bool) -> None:
        if self.state != RINGING:
            return
        try:
            self.trunk.board.port_ring(self.port, on)
        except Exception:  # noqa: BLE001 - the phone went off hook in between: its hook event follows
            return
        self._ring_timer = self.trunk.clock.callLater(FXS_RING[0] if on else FXS_RING[1], self._ring, not on)

    def _stop_ring(self) -> None:
        if self._ring_timer is not None and self._ring_timer.active():
            self._ring_timer.cancel()
        self._ring_timer = None
        try:
            self.trunk.board.port_ring(self.port, False)
        except Exception:  # noqa: BLE001
            pass

    def answer(self) -> None:
        """An extension being rung: answer it from the CTI client (auto-answer, a headset: the ringing stops
        and the call is connected; the phone hears it off hook). An extension that dialled: accept its
        request."""
        if self.state == RINGING and self.direction == "out":
            self._stop_ring()
            self._set(UP)
            self.dtmf(True)
            self._notify("answered")
            return
        if self.state != INCOMING or not self.offhook:
            raise RuntimeError(f"{self.id}: nothing to answer")
        self._set(UP)
        self._notify("answered")

    def hangup(self, cause: int = 16) -> None:
        if self.direction is None:
            return
        self._cancel_digits()
        self._stop_ring()
        self.mc.stop_tone()
        if self.offhook:
            self.mc.tone("busy")           # the phone is still off hook: busy tone until it hangs up
            self._set(CLEARING)
        else:
            self._set(IDLE)
        self._ended(cause)


class AnalogTrunk(Trunk):
    kind = "analog"

    def __init__(self, cfg, board, runtime, clock):
        super().__init__(cfg, board, runtime, clock)
        base = board.info.nspans * 32
        kinds = board.info.port_kinds
        for p in cfg.ports:
            cls = FxsChannel if kinds[p].value == "fxs" else FxoChannel
            self.channels[p] = cls(self, p, base + p)
        self.up = True

    def start(self) -> None:
        self.runtime.add_event_handler(self._driver_event)
        for ch in self.channels.values():
            if isinstance(ch, FxsChannel):
                st = self.board.port_state(ch.port)
                ch.offhook = st.offhook
        self._trunk_event("state", up=True)

    def _driver_event(self, ev) -> None:
        if isinstance(ev, OverrunEvent):
            self.resync()
            return
        ch = self.channels.get(getattr(ev, "port", None)) if hasattr(ev, "port") else None
        if ch is None:
            return
        if isinstance(ev, RingEvent) and isinstance(ch, FxoChannel):
            ch.on_ring(ev.on)
        elif isinstance(ev, PolarityEvent) and isinstance(ch, FxoChannel):
            ch.on_polarity(ev.reversed)
        elif isinstance(ev, HookEvent) and isinstance(ch, FxsChannel):
            ch.on_hook(ev.offhook)

    def resync(self) -> None:
        """After lost driver events: take each port's hook and polarity from the board as they are now."""
        for ch in self.channels.values():
            st = self.board.port_state(ch.port)
            if isinstance(ch, FxsChannel) and st.offhook != ch.offhook:
                ch.on_hook(st.offhook)
            elif isinstance(ch, FxoChannel) and st.reversed != ch.reversed:
                ch.on_polarity(st.reversed)

    def _can_originate(self, ch) -> bool:
        return isinstance(ch, FxoChannel)
