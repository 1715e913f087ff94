"""The common trunk and channel model of the call core.

Every trunk (SS7, China No.1, analogue) presents its bearer channels as :class:`TrunkChannel` objects in one of
the states of :data:`STATES` and reports what happens on them to one listener, ``listener(channel, event,
info)``, with these events:

- ``incoming`` {calling, called, category}: a call arrived (SS7 IAM, China No.1 register signalling ended, FXO
  ring cycle with caller ID, FXS off-hook and dialled digits)
- ``ringing``: an outgoing call is alerting at the far end (ACM, B1, FXS phone being rung)
- ``answered``: the call is up (ANM, answer line signal, off-hook)
- ``dtmf`` {digit}: a DTMF digit on an up channel
- ``hangup`` {cause}: the call on the channel ended (Q.850 cause), from either end
- ``moved`` {to, reason}: the outgoing call on this channel goes on on channel ``to`` of the same trunk (China
  No.1 dual seizure: the repeat attempt on another circuit); this channel no longer has it, no ``hangup`` follows
- ``state`` {state}: any state change

and trunk events to ``trunk_listener(trunk, event, info)``: ``state`` {up} and ``alarm`` {alarms}.

Media is the runtime's (``ctid.media.runtime.BoardRuntime``): each channel has its ``MediaChannel`` ``mc``.
"""
from __future__ import annotations

import logging

log = logging.getLogger("ctid.core")

IDLE, INCOMING, RINGING, DIALING, UP, CLEARING, BLOCKED, DOWN = (
    "idle", "incoming", "ringing", "dialing", "up", "clearing", "blocked", "down")
STATES = (IDLE, INCOMING, RINGING, DIALING, UP, CLEARING, BLOCKED, DOWN)

#: Q.850 cause values the core uses, with their texts
CAUSES = {
    1: "unallocated number", 3: "no route to destination", 16: "normal call clearing", 17: "user busy",
    18: "no user responding", 19: "no answer from user", 21: "call rejected", 27: "destination out of order",
    28: "invalid number format", 31: "normal, unspecified", 34: "no circuit available",
    38: "network out of order", 41: "temporary failure", 42: "switching equipment congestion",
    44: "requested circuit not available", 47: "resource unavailable", 88: "incompatible destination",
    97: "message type non-existent", 102: "recovery on timer expiry", 111: "protocol error", 127: "interworking",
}


def cause_text(cause: int | None) -> str:
    if cause is None:
        return ""
    return CAUSES.get(int(cause), f"cause {cause}")


class TrunkChannel:
    """One bearer channel of a trunk: ``id`` ``"<trunk>/<n>"``, board channel ``number``, ``state``."""

    def __init__(self, trunk: "Trunk", n: int, number: int, kind: str):
        self.trunk = trunk
        self.n = n
        self.id = f"{trunk.name}/{n}"
        self.number = number          # board channel (span*32+ts, or nspans*32+port)
        self.kind = kind              # ss7 | no1 | fxo | fxs
        self.state = IDLE
        self.calling: str | None = None
        self.called: str | None = None
        self.category = None
        self.direction: str | None = None     # "in" | "out" while a call is on the channel
        self.cause: int | None = None
        self.mc = trunk.runtime.channel(number)
        self._dtmf = False
        self._extra_mask: dict = {}
        self._on_answer = None        # engine: called once when an outgoing leg (transfer target) answers
        self._transfer_from = None    # engine: the caller's channel while this leg is a transfer target
        self.mc.on_tone = self._on_tone

    # ------------------------------------------------------------------------------------------ engine API
    def answer(self) -> None:
        raise NotImplementedError

    def hangup(self, cause: int = 16) -> None:
        raise NotImplementedError

    def dial(self, called: str, calling: str | None = None) -> None:
        raise NotImplementedError

    @property
    def busy(self) -> bool:
        return self.state not in (IDLE, BLOCKED, DOWN)

    # ------------------------------------------------------------------------------------------ helpers
    def _set(self, state: str) -> None:
        if state == self.state:
            return
        self.state = state
        self._notify("state", state=state)

    def _notify(self, event: str, **info) -> None:
        listener = self.trunk.listener
        if listener is None:
            return
        try:
            listener(self, event, info)
        except Exception:  # noqa: BLE001 - a listener bug must not break signalling
            log.exception("%s: listener failed on %s", self.id, event)

    def _begin(self, direction: str, calling=None, called=None, category=None) -> None:
        self.direction, self.calling, self.called, self.category, self.cause = (
            direction, calling, called, category, None)

    def _ended(self, cause: int) -> None:
        """The call on this channel is over (either end): stop media and detection, tell the listener once."""
        if self.direction is None:
            return
        self.cause = cause
        self.direction = None
        self.dtmf(False)
        try:
            self.mc.stop("hangup")          # operations fire with reason "hangup"; the source (R2) stays
            self.mc.flush_digits()
        except Exception:  # noqa: BLE001
            log.exception("%s: stopping media", self.id)
        self._notify("hangup", cause=cause)

    def _moved(self, new: "TrunkChannel", reason: str) -> None:
        """The call on this channel continues on ``new`` (already dialled): detach it here, tell the listener."""
        if self.direction is None:
            return
        self.direction = None
        self.cause = None
        self.dtmf(False)
        self._notify("moved", to=new, reason=reason)

    def detect(self, **kinds) -> None:
        """Detectors this adapter needs besides DTMF (r2f, r2b, cpt, cid): the mask is their union."""
        self._extra_mask.update(kinds)
        self._apply_mask()

    def dtmf(self, on: bool) -> None:
        self._dtmf = on
        self._apply_mask()

    def _apply_mask(self) -> None:
        kinds = {k: bool(v) for k, v in self._extra_mask.items() if v}
        self.mc.detect(dtmf=self._dtmf, **kinds)

    def _on_tone(self, ev) -> None:
        if ev.kind == "dtmf":
            if ev.type == "on" and self._dtmf and self.direction is not None:
                self.on_dtmf(ev.value)
            return
        self.on_signal(ev)

    def on_dtmf(self, digit: str) -> None:
        self._notify("dtmf", digit=digit)

    def on_signal(self, ev) -> None:
        """R2, call-progress and caller-ID events (per adapter)."""

    def info(self) -> dict:
        return {"channel": self.id, "trunk": self.trunk.name, "kind": self.kind, "state": self.state,
                "calling": self.calling, "called": self.called}


class Trunk:
    """A configured trunk: ``name``, ``kind``, ``channels`` {n: TrunkChannel}, ``up``."""

    kind = ""

    def __init__(self, cfg, board, runtime, clock):
        self.cfg = cfg
        self.name = cfg.name
        self.board = board
        self.runtime = runtime
        self.clock = clock
        self.channels: dict[int, TrunkChannel] = {}
        self.listener = None          # (channel, event, info)
        self.trunk_listener = None    # (trunk, event, info)
        self.up = False
        self.alarms: list[str] = []

    def start(self) -> None:
        """Register with the runtime and start signalling."""

    def _trunk_event(self, event: str, **info) -> None:
        if self.trunk_listener is not None:
            try:
                self.trunk_listener(self, event, info)
            except Exception:  # noqa: BLE001
                log.exception("trunk %s: listener failed on %s", self.name, event)

    def _set_up(self, up: bool) -> None:
        if up != self.up:
            self.up = up
            self._trunk_event("state", up=up)

    def free_channel(self, prefer=None) -> TrunkChannel | None:
        for ch in self.channels.values():
            if ch.state == IDLE and (prefer is None or prefer(ch)):
                return ch
        return None

    def originate(self, called: str, calling: str | None = None) -> TrunkChannel:
        """Start an outgoing call on a free channel; raises ``EngineError`` (503) when none is free."""
        from ..errors import EngineError
        if not self.up:
            raise EngineError(503, f"trunk {self.name} is down", cause=38)
        ch = self.free_channel(self._can_originate)
        if ch is None:
            raise EngineError(503, f"trunk {self.name}: no free channel for an outgoing call", cause=34)
        try:
            ch.dial(called, calling)
        except ValueError as exc:
            raise EngineError(400, f"trunk {self.name}: {exc}") from None
        return ch

    def _can_originate(self, ch) -> bool:
        return True
