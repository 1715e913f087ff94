"""China No.1 trunk: a ``CasChannel`` (line + register machines) per timeslot of a CAS span.

Roles per timeslot from the config: ``incoming`` (backward), ``outgoing`` (forward) or, for the other timeslots
of a ``direction = "both"`` trunk, both: such a timeslot waits in the incoming role and is switched to the
outgoing role only while idle, for one outgoing call, then back. Line signals (ABCD) come from the runtime's
driver events; the register's MF tones are detected by the runtime's bank (``r2f``/``r2b`` on that channel
only while a register runs) and sent through the channel's media source (``mc.set_source``).
"""
from __future__ import annotations

from ctid.drivers.model import AbcdEvent, Alarm, AlarmEvent, OverrunEvent
from ctid.dsp.params import R2Params
from ctid.signaling.china1 import CHINA, NumberRules
from ctid.signaling.china1.channel import SPAN_DOWN_ALARMS, CasChannel
from ctid.signaling.china1.line import LineState as L

from .base import BLOCKED, CLEARING, DIALING, DOWN, IDLE, INCOMING, RINGING, UP, Trunk, TrunkChannel

#: register outcome of an outgoing call -> Q.850 cause
OUTCOME_CAUSE = {"busy": 17, "congestion": 42, "unallocated": 1, "out of order": 27,
                 "special information tone": 31, "failed": 41, "aborted": 16}


class _BankShim:
    """What CasChannel needs of a bank (``set_mask(channel, kind)``), onto the trunk channel's detector mask."""

    def __init__(self, ch: "No1Channel"):
        self.ch = ch

    def set_mask(self, number, kind) -> None:
        self.ch.detect(r2f=(kind == "r2f"), r2b=(kind == "r2b"))
        if kind:                             # a register starts: its tones go out through the channel's source
            self.ch.mc.set_source(self.ch._audio)

    def get_mask(self, number) -> int:
        return 0


class No1Channel(TrunkChannel):
    def __init__(self, trunk: "No1Trunk", ts: int, role: str):
        super().__init__(trunk, ts, trunk.span * 32 + ts, "no1")
        self.ts = ts
        self.role = role                     # "in", "out" or "both"
        self.cas: CasChannel | None = None
        self._make("out" if role == "out" else "in")

    def _make(self, role: str) -> None:
        t = self.trunk
        drv = t.board.spans[t.span].timeslot(self.ts)
        numbers = NumberRules(lengths=tuple(sorted(t.cfg.number_lengths.items())),
                              default_length=t.cfg.number_length)
        kw = dict(decide=lambda *a: "free", numbers=numbers) if role == "in" else {}
        self.cas = CasChannel(role, drv, _BankShim(self), t.clock, CHINA, listener=self._cas_event, **kw)
        if t.span in t.down_spans:
            self.cas.line.span_down(f"span {t.span} down")
        now = drv.get_abcd()
        if now is not None:
            self.cas.on_abcd(now)
        self.refresh()

    def _audio(self):
        """The register's MF tone for this tick; the source is removed once the register and its tone end
        (no Python call per idle channel per tick)."""
        cas = self.cas
        a = None if cas is None else cas.audio()
        if a is None and (cas is None or cas.register is None or cas.register.result is not None):
            self.mc.set_source(None)
        return a

    # engine API --------------------------------------------------------------------------------------
    def answer(self) -> None:
        if not self.cas.answer():
            raise RuntimeError(f"{self.id}: answer refused in line state {self.cas.line.state.value}")
        self._set(UP)
        self._notify("answered")

    def hangup(self, cause: int = 16) -> None:
        if self.direction is None:
            return
        self._set(CLEARING)
        self.cas.hangup()                    # clear-forward (out) / clear-back or forced release (in)
        self._ended(cause)

    def can_originate(self) -> bool:
        return (self.role in ("out", "both") and self.state == IDLE and self.cas.line.state is L.IDLE)

    def dial(self, called: str, calling: str | None = None) -> None:
        if self.role == "both" and self.cas.role != "out":
            self._make("out")
        calling = calling or self.trunk.cfg.calling or ""
        self._begin("out", calling, called, 1)
        if not self.cas.call(called, calling, ka=1, kd=1):
            self.direction = None
            raise RuntimeError(f"{self.id}: seizure refused in line state {self.cas.line.state.value}")
        self._set(DIALING)

    # signalling events --------------------------------------------------------------------------------
    def on_signal(self, ev) -> None:
        if ev.kind in ("r2f", "r2b") and ev.type in ("on", "off") and self.cas is not None:
            self.cas.on_tone(ev.type == "on", ev.value)

    def _cas_event(self, cas, event, **info) -> None:
        if cas is not self.cas:
            return
        if event == "seized":
            self._begin("in")
            self._set(INCOMING)
        elif event == "offered":
            r = info["result"]
            self.calling, self.called, self.category = r.calling or None, r.called, r.ka
            self.dtmf(True)
            self._notify("incoming", calling=self.calling, called=self.called, category=r.ka)
        elif event == "ringing":                 # B1: called party free
            if self.state == DIALING:            # (the answer line signal may overtake the B1 tone)
                self._set(RINGING)
                self._notify("ringing")
        elif event == "answer":
            if self.direction is not None and self.state != UP:
                self._set(UP)
                self.dtmf(True)
                self._notify("answered")
        elif event == "clear_back":              # the called party hung up: clear forward
            self._set(CLEARING)
            cas.hangup()
            self._ended(16)
        elif event == "clear_forward" and cas.role == "in":
            self._ended(16)
        elif event == "failed":
            r = info.get("result")
            self._ended(OUTCOME_CAUSE.get(getattr(r, "outcome", "failed"), 41))
        elif event == "register_done" and info["result"].outcome in ("failed", "aborted") and cas.role == "in":
            self._ended(41 if info["result"].outcome == "failed" else 16)
        elif event == "out_of_service":
            self._ended(38)
        elif event == "idle":
            self._ended(16 if self.state == UP else 41)
            if self.role == "both" and cas.role == "out":
                self.trunk.clock.callLater(0, self._back_to_in, cas)
        self.refresh()

    def _back_to_in(self, cas) -> None:
        if self.cas is cas and cas.line.state is L.IDLE and self.direction is None:
            cas.gen.set(None)
            self._make("in")

    def refresh(self) -> None:
        line = self.cas.line.state
        if self.direction is not None:
            return
        if line is L.IDLE:
            self._set(IDLE)
        elif line is L.BLOCKED:
            self._set(BLOCKED)
        elif line is L.OUT_OF_SERVICE:
            self._set(DOWN)
        else:
            self._set(CLEARING)


class No1Trunk(Trunk):
    kind = "no1"

    def __init__(self, cfg, board, runtime, clock):
        super().__init__(cfg, board, runtime, clock)
        self.span = cfg.span
        self.down_spans: set[int] = set()
        alarms = board.span_status(self.span).alarms
        if alarms & SPAN_DOWN_ALARMS:
            self.down_spans.add(self.span)
        # China No.1 backward signals are 2-of-4: the board's R2 receiver is set for it (as CasBoard does)
        runtime.bank.set_r2_params(R2Params.defaults(backward=True, china=True))
        for ts in cfg.timeslots:
            role = "in" if ts in cfg.incoming else "out" if ts in cfg.outgoing else "both"
            self.channels[ts] = No1Channel(self, ts, role)
        self.up = not self.down_spans

    def start(self) -> None:
        self.runtime.add_event_handler(self._driver_event, span=self.span)
        self._trunk_event("state", up=self.up)

    def _driver_event(self, ev) -> None:
        if isinstance(ev, AbcdEvent):
            if ev.span == self.span:
                ch = self.channels.get(ev.timeslot)
                if ch is not None:
                    ch.cas.on_abcd(ev.abcd)
        elif isinstance(ev, AlarmEvent) and ev.span == self.span:
            self.alarms = ev.alarms.names() if ev.alarms != Alarm.NONE else []
            self._trunk_event("alarm", alarms=list(self.alarms))
            down = bool(ev.alarms & SPAN_DOWN_ALARMS)
            if down == (self.span in self.down_spans):
                return
            if down:
                self.down_spans.add(self.span)
            else:
                self.down_spans.discard(self.span)
            for ch in self.channels.values():
                if down:
                    ch.cas.line.span_down(f"span {self.span} alarms {'|'.join(ev.alarms.names())}")
                else:
                    ch.cas.line.span_up(ch.cas.channel.get_abcd())
                ch.refresh()
            self._set_up(not down)
        elif isinstance(ev, OverrunEvent):
            for ch in self.channels.values():
                v = ch.cas.channel.get_abcd()
                if v is not None:
                    ch.cas.on_abcd(v)

    def _can_originate(self, ch) -> bool:
        return ch.can_originate()

    def originate(self, called: str, calling: str | None = None):
        from ..errors import EngineError
        if not self.up:
            raise EngineError(503, f"trunk {self.name} is down", cause=38)
        # outgoing-only timeslots first, then the both-way ones from the top (away from the far end's choice)
        cands = [c for c in self.channels.values() if c.role == "out"] + \
            sorted((c for c in self.channels.values() if c.role == "both"), key=lambda c: -c.ts)
        for ch in cands:
            if ch.can_originate():
                try:
                    ch.dial(called, calling)
                except ValueError as exc:
                    raise EngineError(400, f"called number {called!r}: {exc}") from None
                return ch
        raise EngineError(503, f"trunk {self.name}: no free channel for an outgoing call", cause=34)
