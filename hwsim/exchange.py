"""The far-end exchange: the public network as the daemon sees it, for end-to-end tests and ``ctid demo``.

:class:`FarEndExchange` runs on its own hwsim board (board B) whose E1 spans are cabled to the daemon's spans
(in one process: a cable in the same World; across processes: the listening side of cable sockets, see
``hwsim exchange``). On those spans it runs ctid's own signalling stacks in the network's role:

* **SS7**: MTP2 on TS16 (``HdlcTransport``), ``Mtp3Layer`` and ``IsupCallControl``; the exchange's point code is
  the daemon's DPC and the other way round; CIC n is timeslot n of the span. MTP-RESUME at start starts a
  circuit group reset (GRS). Emergency proving by default (the link aligns in about a second).
* **China No.1**: a ``CasChannel`` per timeslot; a timeslot waits in the backward role (the daemon may seize it)
  and turns to the forward role when a caller dials over it; compelled MFC R2 register signalling with the tones
  detected by a ``ctid.dsp.Bank``.
* **Analogue**: exchange lines on the daemon's FXO ports (``hwsim_line_ring`` with FSK caller ID, hang-up, audio
  both ways) and telephones on its FXS ports; in one process these are the world's own far ends
  (``world.line(board, port)``, ``world.phone(board, port)``), across processes the remote ones of a
  :class:`ctid.drivers.hwsim.PortSocketServer`.

Scripted :class:`hwsim.callers.Caller` objects place calls, listen, press digits and hang up. Calls the daemon
places towards the exchange (``originate``) are answered by it: each becomes a Caller in :attr:`incoming`.

Time: :meth:`step` is one 20 ms tick of the exchange (after the world ticked): events, the HDLC links, the
block read (R2 tones detected, callers' audio taken), callers' audio and R2 tones written. ``clock`` (an
IReactorTime, a ``task.Clock`` advanced 0.02 s per tick in tests) runs every timer.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ctid.drivers import E1_SLOTS, AbcdEvent, AlarmEvent, DriverError, HdlcEvent, OverrunEvent
from ctid.drivers.model import VOICE_TIMESLOTS
from ctid.dsp import Bank
from ctid.dsp.g711 import alaw_decode, alaw_encode
from ctid.dsp.params import R2Params
from ctid.signaling.china1 import CasChannel, LineState, get_variant
from ctid.signaling.china1.channel import SPAN_DOWN_ALARMS
from ctid.signaling.ss7 import isup
from ctid.signaling.ss7.isup_cc import IsupCallControl, State
from ctid.signaling.ss7.mtp2_link import Mtp2Link
from ctid.signaling.ss7.mtp3_layer import Mtp3Layer
from ctid.signaling.ss7.transport import HdlcTransport

from .callers import BLOCK, SILENCE, Caller, speech_level

log = logging.getLogger("hwsim.exchange")

#: Q.850 causes for China No.1 register outcomes
NO1_CAUSES = {"busy": 17, "congestion": 34, "vacant": 1, "failed": 31, "aborted": 41, "timeout": 102}


def parse_ranges(spec) -> list[int]:
    """``"1-15,17-31"`` (or a list of ints) -> sorted ints."""
    if isinstance(spec, (list, tuple, range)):
        return sorted(int(x) for x in spec)
    out: set[int] = set()
    for part in str(spec).split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return sorted(out)


@dataclass
class Ss7Trunk:
    """An SS7 span of the exchange. ``opc`` is the exchange's point code (the daemon's DPC)."""

    span: int = 0
    opc: int = 0x0123
    dpc: int = 0x2A51
    pc_format: str = "itu"
    cics: str = "1-15,17-31"
    emergency: bool = True
    category: int = 0x0A       # ordinary calling subscriber


@dataclass
class No1Trunk:
    """A China No.1 span of the exchange."""

    span: int = 1
    timeslots: str = "1-15,17-31"
    variant: str = "cn"
    ka: int = 1                # calling party's category (KA): ordinary subscriber
    kd: int = 3                # call type (KD): local call
    want_calling: bool = True


@dataclass
class AnalogTrunk:
    """Exchange lines on the daemon's FXO ports: ``lines`` maps port -> line object (``ring``, ``hangup``,
    ``state``, ``play``, ``listen``)."""

    lines: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ legs

class _Leg:
    """The signalling of one call on one circuit, for one Caller."""

    channel: int | None = None    # board channel of the bearer (E1), None for analogue

    def __init__(self, ex: "FarEndExchange", caller: Caller):
        self.ex, self.caller = ex, caller
        self.done = False

    def release(self, cause: int) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        if not self.done:
            self.done = True
            self.ex._legs.discard(self)
            self.caller._clear_complete()


class Ss7Leg(_Leg):
    def __init__(self, ex, caller, trunk: "_Ss7", call, incoming: bool = False):
        super().__init__(ex, caller)
        self.trunk, self.call = trunk, call
        self.cic = call.cic
        self.channel = None if call.cic is None else trunk.cfg.span * E1_SLOTS + call.cic
        self.released = False
        call.answered.addCallback(lambda c: caller._answered())
        call.released.addCallback(self._on_released)
        if not incoming:
            trunk.legs[self.cic] = self

    def _on_released(self, cause):
        self.released = True
        if self.caller.cleared_by != "us":
            if self.caller.state in ("dialing", "ringing"):
                self.caller._failed("busy" if cause == 17 else "failed", cause)
            else:
                self.caller._far_cleared(cause)
        return cause

    def release(self, cause: int) -> None:
        if not self.released:
            self.trunk.cc.release(self.call, cause)

    def poll(self) -> None:
        if self.released and self.cic is not None:
            circ = self.trunk.cc.circuits[self.cic]
            if circ.state is State.IDLE and circ.call is None:
                self.trunk.legs.pop(self.cic, None)
                self.finish()
        elif self.released:
            self.finish()


class _Ss7:
    def __init__(self, ex: "FarEndExchange", name: str, cfg: Ss7Trunk):
        self.ex, self.name, self.cfg = ex, name, cfg
        self.transport = HdlcTransport(ex.board, cfg.span, 16)
        self.mtp2 = Mtp2Link(ex.clock, self.transport, name=f"{name}-mtp2", emergency=cfg.emergency)
        self.mtp3 = Mtp3Layer(ex.clock, cfg.opc, cfg.pc_format, name=f"{name}-mtp3")
        self.mtp3.add_linkset(cfg.dpc, [self.mtp2])
        self.cc = IsupCallControl(self.mtp3, cfg.dpc, parse_ranges(cfg.cics), ex.clock, on_incoming=self._incoming)
        self.legs: dict[int, Ss7Leg] = {}
        self.messages: list[tuple[float, int | None, str, str]] = []   # (t, cic, "tx"/"rx", name)
        orig_transfer = self.mtp3.transfer

        def tap_tx(dpc, sls, si, payload, ni=2):
            if si == 5:
                self._log("tx", payload)
            return orig_transfer(dpc, sls, si, payload, ni)
        self.mtp3.transfer = tap_tx
        orig_rx = self.cc.mtp_transfer

        def tap_rx(ind):
            if getattr(ind, "si", 5) == 5:
                self._log("rx", ind.payload)
            return orig_rx(ind)
        self.cc.mtp_transfer = tap_rx
        self.mtp3.start()

    def _log(self, direction: str, payload: bytes) -> None:
        try:
            msg = isup.decode(payload, self.cc.variant)
        except Exception:  # noqa: BLE001 - a malformed message is logged as such
            self.messages.append((self.ex.clock.seconds(), None, direction, "malformed"))
            return
        self.messages.append((self.ex.clock.seconds(), msg.cic, direction, msg.NAME))
        if len(self.messages) > 20000:          # a long demo run: keep the recent history
            del self.messages[:10000]
        leg = self.legs.get(msg.cic)
        if leg is not None:
            leg.caller.note(f"{direction} {msg.NAME}")

    @property
    def ready(self) -> bool:
        ls = self.mtp3.linksets[self.cfg.dpc]
        return bool(ls.accessible) and not self.cc.groups and self.cc.available_dpc and any(
            c.available for c in self.cc.circuits.values())

    def place(self, caller: Caller, called: str, calling: str | None, category: int | None) -> Ss7Leg:
        call = self.cc.setup(called, calling, category if category is not None else self.cfg.category)
        leg = Ss7Leg(self.ex, caller, self, call)
        if call.cic is None:      # refused at once (no circuit, destination inaccessible)
            leg.released = True
            caller._failed("failed", call.cause, "refused locally")
        else:
            caller.note(f"tx IAM cic={call.cic}")
        return leg

    def _incoming(self, call) -> None:
        caller = self.ex._new_incoming(self.name, call.called, call.calling)
        leg = Ss7Leg(self.ex, caller, self, call, incoming=True)
        self.legs[call.cic] = leg
        caller.leg = leg
        caller.note(f"rx IAM cic={call.cic}")
        self.ex._legs.add(leg)
        self.cc.alert(call)
        self.ex.clock.callLater(self.ex.answer_delay, self._answer, call)

    def _answer(self, call) -> None:
        if call.state == State.WAIT_ANSWER_IN.value:
            self.cc.answer(call)

    def poll(self) -> None:
        for leg in list(self.legs.values()):
            leg.poll()


class No1Leg(_Leg):
    def __init__(self, ex, caller, trunk: "_No1", ch: CasChannel, incoming: bool = False):
        super().__init__(ex, caller)
        self.trunk, self.ch = trunk, ch
        self.channel = ch.number
        self.incoming = incoming
        self.answered = False
        ch.listener = self._on_event
        self._states_seen = len(ch.line.history)

    def _on_event(self, ch, event, **info) -> None:
        c = self.caller
        if event in ("seize_ack", "ringing", "answer", "clear_back", "clear_forward", "idle", "failed", "offered",
                     "forced_release", "out_of_service", "protocol_error"):
            c.note(event if event != "protocol_error" else f"protocol_error {info.get('error')}")
        if event == "ringing":
            if c.state == "dialing":      # (an answer in the same tick may already have come)
                c.state = "ringing"
        elif event == "answer":
            self.answered = True
            c._answered()
        elif event == "failed":
            res = info.get("result")
            outcome = getattr(res, "outcome", "failed")
            c._failed("busy" if outcome == "busy" else "failed", NO1_CAUSES.get(outcome, 31),
                      f"register outcome {outcome} (B{getattr(res, 'b_signal', '?')})")
        elif event in ("clear_back", "forced_release"):
            if c.cleared_by is None:
                c._far_cleared(16 if event == "clear_back" else 41)
                if not self.incoming:
                    ch.hangup()          # the exchange clears forward when the called side cleared back
        elif event == "clear_forward" and self.incoming:
            c._far_cleared(16)
        elif event == "out_of_service":
            c._far_cleared(38)
        elif event == "register_done" and self.incoming:
            res = info.get("result")
            c.called, c.calling = getattr(res, "called", None), getattr(res, "calling", None)
            c.note(f"numbers called={c.called} calling={c.calling}")
        elif event == "offered" and self.incoming:
            self.ex.clock.callLater(self.ex.answer_delay, self._answer)
        if event == "idle" or (event == "out_of_service"):
            self.trunk.back_to_idle(self)
            self.finish()

    def _answer(self) -> None:
        if self.ch.line.state is LineState.SEIZE_ACK and self.caller.state != "cleared":
            if self.ch.answer():
                self.caller.note("answer sent")
                self.caller._answered()

    def release(self, cause: int) -> None:
        if self.ch.line.state in (LineState.IDLE, LineState.OUT_OF_SERVICE):
            self.trunk.back_to_idle(self)
            self.finish()
            return
        self.caller.note("clear-forward sent" if not self.incoming else "clear-back sent")
        self.ch.hangup()


class _No1:
    def __init__(self, ex: "FarEndExchange", name: str, cfg: No1Trunk):
        self.ex, self.name, self.cfg = ex, name, cfg
        self.variant = get_variant(cfg.variant) if isinstance(cfg.variant, str) else cfg.variant
        self.timeslots = parse_ranges(cfg.timeslots)
        bad = [t for t in self.timeslots if t not in VOICE_TIMESLOTS]
        if bad:
            raise ValueError(f"China No.1 trunk {name}: timeslots {bad} are not bearer channels (1..15, 17..31)")
        self.channels: dict[int, CasChannel] = {}      # board channel -> channel in use
        self.legs: dict[int, No1Leg] = {}
        # a span not aligned yet (or in alarm): its ABCD bits mean nothing until it comes up (AlarmEvent)
        self.span_down = bool(ex.board.span_status(cfg.span).alarms & SPAN_DOWN_ALARMS)
        for ts in self.timeslots:
            self._make(ts, "in")

    def _make(self, ts: int, role: str) -> CasChannel:
        hw = self.ex.board.spans[self.cfg.span].timeslot(ts)
        kw = {"want_calling": self.cfg.want_calling} if role == "in" else {}
        cc = CasChannel(role, hw, self.ex.bank, self.ex.clock, self.variant, listener=self._idle_listener, **kw)
        if role == "in":
            cc.decide = lambda called, calling, ka, kd: "free"
        self.channels[hw.number] = cc
        if self.span_down:
            cc.line.span_down("span down")
        now = hw.get_abcd()
        if now is not None:
            cc.on_abcd(now)
        return cc

    def _idle_listener(self, ch: CasChannel, event: str, **info) -> None:
        """An idle backward channel seized by the daemon: a call towards the exchange."""
        if event == "seized" and ch.number not in self.legs:
            caller = self.ex._new_incoming(self.name, None, None)
            leg = No1Leg(self.ex, caller, self, ch, incoming=True)
            caller.leg = leg
            caller.note("seized")
            self.legs[ch.number] = leg
            self.ex._legs.add(leg)

    def back_to_idle(self, leg: No1Leg) -> None:
        n = leg.ch.number
        self.legs.pop(n, None)
        if leg.ch.role == "out" and leg.ch.line.state is LineState.IDLE:
            self._make(n - self.cfg.span * E1_SLOTS, "in")

    def place(self, caller: Caller, called: str, calling: str | None, category: int | None) -> No1Leg:
        for ts in self.timeslots:
            n = self.cfg.span * E1_SLOTS + ts
            cc = self.channels[n]
            if n not in self.legs and cc.role == "in" and cc.line.state is LineState.IDLE:
                break
        else:
            raise ValueError(f"China No.1 trunk {self.name}: no idle timeslot")
        out = self._make(ts, "out")
        leg = No1Leg(self.ex, caller, self, out)
        self.legs[n] = leg
        ka = category if category is not None else self.cfg.ka
        if not out.call(called, calling or "", ka=ka, kd=self.cfg.kd):
            self.legs.pop(n, None)
            self._make(ts, "in")
            caller._failed("failed", 34, "seize refused")
        else:
            caller.note(f"seize ts={ts}")
        return leg

    def on_abcd(self, ev: AbcdEvent) -> None:
        cc = self.channels.get(ev.span * E1_SLOTS + ev.timeslot)
        if cc is not None:
            cc.on_abcd(ev.abcd)

    def on_alarm(self, ev: AlarmEvent) -> None:
        down = bool(ev.alarms & SPAN_DOWN_ALARMS)
        if down == self.span_down:
            return
        self.span_down = down
        for n, cc in list(self.channels.items()):
            if not down and cc.role == "out" and n not in self.legs:
                self._make(n - self.cfg.span * E1_SLOTS, "in")    # its call ended with the span: wait again
            else:
                cc.on_span(ev.alarms)

    def resync(self) -> None:
        for cc in self.channels.values():
            cc.resync()

    @property
    def ready(self) -> bool:
        return not self.span_down


class LineLeg(_Leg):
    """A call on an exchange line (the daemon's FXO port): ring with caller ID, answered when the board goes off
    hook, hang-up = busy tone until the board goes on hook."""

    def __init__(self, ex, caller, port: int, line, calling: str | None, name: str | None = None):
        super().__init__(ex, caller)
        self.port, self.line = port, line
        self.off = False            # board off hook (as last seen)
        self.hung_up = False
        line.ring(calling or None, name)
        caller.note(f"ring port={port} cid={calling}")

    def poll(self) -> None:
        st = self.line.state
        off = st["board_offhook"]
        c = self.caller
        if off and not self.off:
            self.off = True
            c.note("board off hook")
            c._answered()
        elif not off and self.off:
            self.off = False
            c.note("board on hook")
            if c.cleared_by is None:
                c._far_cleared(16)
            self.finish()
        elif self.hung_up and not off and not st["ringing"]:
            self.finish()

    def release(self, cause: int) -> None:
        if not self.hung_up:
            self.hung_up = True
            try:
                self.line.hangup()
                self.caller.note("line hang-up (busy tone)" if self.off else "ringing stopped")
            except DriverError as exc:
                self.caller.note(f"hang-up refused: {exc}")
                self.finish()

    def audio(self) -> None:
        """Per tick: what the board sent on the port to the caller, the caller's audio to the board."""
        pcm = self.line.listen()
        if self.off and not self.hung_up:
            for k in range(0, pcm.size - BLOCK + 1, BLOCK):
                self.caller._rx(alaw_encode(pcm[k:k + BLOCK]))
            tx = alaw_decode(self.caller._tx())
            try:
                self.line.play(tx)
            except DriverError:
                pass     # the board went on hook in between: nobody listens


class PhoneLeg(_Leg):
    """A telephone on the daemon's FXS port picked up by a caller (an agent's handset)."""

    def __init__(self, ex, caller, port: int, phone, wait_ring: bool = True):
        super().__init__(ex, caller)
        self.port, self.phone = port, phone
        self.off = False
        self.wait_ring = wait_ring

    def poll(self) -> None:
        if not self.off and self.caller.state == "ringing" and not self.wait_ring:
            self.phone.hook(True)
            self.off = True
            self.caller.note("off hook")
            self.caller._answered()
        elif not self.off and self.caller.state == "ringing" and self.phone.ringing:
            self.phone.hook(True)
            self.off = True
            self.caller.note("rang; off hook")
            self.caller._answered()

    def release(self, cause: int) -> None:
        if self.off:
            self.phone.hook(False)
            self.off = False
            self.caller.note("on hook")
        self.finish()

    def audio(self) -> None:
        pcm = self.phone.listen()
        if self.off:
            for k in range(0, pcm.size - BLOCK + 1, BLOCK):
                self.caller._rx(alaw_encode(pcm[k:k + BLOCK]))
            try:
                self.phone.play(alaw_decode(self.caller._tx()))
            except DriverError:
                pass


# ------------------------------------------------------------------------------------------------ exchange

class FarEndExchange:
    """The far exchange on ``board`` (a ctid.drivers board: the exchange's own hwsim board B).

    ``trunks`` maps trunk names to :class:`Ss7Trunk`, :class:`No1Trunk` or :class:`AnalogTrunk`; ``phones`` maps
    FXS port numbers of the daemon's board to telephone objects (``hook``, ``ringing``, ``play``, ``listen``).
    """

    def __init__(self, board, clock, trunks: dict, phones: dict | None = None, answer_delay: float = 0.5):
        self.board = board
        self.clock = clock
        self.answer_delay = answer_delay
        self.bank = Bank(board.nchannels, law="alaw")
        self.bank.set_mask_all(0)
        self.trunks: dict[str, object] = {}
        self.analog: dict[str, AnalogTrunk] = {}
        self.phones = dict(phones or {})
        self.callers: list[Caller] = []
        self.incoming: list[Caller] = []
        self._legs: set = set()
        self.other_events: list = []
        self.on_event = None         # fn(driver event) for the events the exchange does not use (cable, alarms)
        self.on_incoming = None      # fn(caller) for each call towards the exchange, before it is answered
        self.ticks = 0
        r2_set = False
        for name, cfg in trunks.items():
            if isinstance(cfg, Ss7Trunk):
                self._check_span(name, cfg.span, "ccs")
                self.trunks[name] = _Ss7(self, name, cfg)
            elif isinstance(cfg, No1Trunk):
                self._check_span(name, cfg.span, "cas")
                t = _No1(self, name, cfg)
                if t.variant.backward_2of4 and not r2_set:
                    # the exchange's forward registers detect the backward tones of the China table
                    self.bank.set_r2_params(R2Params.defaults(backward=True, china=True))
                    r2_set = True
                self.trunks[name] = t
            elif isinstance(cfg, AnalogTrunk):
                self.analog[name] = cfg
            else:
                raise TypeError(f"trunk {name}: {type(cfg).__name__} is not a trunk configuration")

    def _check_span(self, name: str, span: int, want: str) -> None:
        if not 0 <= span < self.board.info.nspans:
            raise ValueError(f"trunk {name}: span {span} not on the exchange board ({self.board.info.nspans} spans)")
        got = self.board.span_config(span).signalling.value
        if got != want:
            raise ValueError(f"trunk {name}: span {span} is configured {got}, this trunk needs {want}")

    # -- callers ------------------------------------------------------------------------------------------
    def caller(self, name: str | None = None) -> Caller:
        c = Caller(self, name or f"caller{len(self.callers) + 1}")
        self.callers.append(c)
        return c

    def _new_incoming(self, trunk: str, called, calling) -> Caller:
        c = Caller(self, f"incoming{len(self.incoming) + 1}")
        c.trunk, c.called, c.calling = trunk, called, calling
        c.state = "ringing"
        self.incoming.append(c)
        if self.on_incoming is not None:
            self.on_incoming(c)
        return c

    def _place(self, caller: Caller, trunk: str, called: str, calling, category):
        if trunk in self.trunks:
            t = self.trunks[trunk]
            if not t.ready:
                caller._failed("failed", 38, f"trunk {trunk} not in service")
                return None
            leg = t.place(caller, called, calling, category)
        elif trunk in self.analog or trunk.split("/")[0] in self.analog:
            name, _, port = trunk.partition("/")
            lines = self.analog[name].lines
            if port:
                p = int(port)
                if p not in lines:
                    raise ValueError(f"trunk {name} has no line on port {p}")
            else:
                free = [p for p, ln in sorted(lines.items()) if not any(
                    isinstance(l, LineLeg) and l.port == p for l in self._legs)]
                if not free:
                    raise ValueError(f"trunk {name}: every line is busy")
                p = free[0]
            leg = LineLeg(self, caller, p, lines[p], calling)
        else:
            raise ValueError(f"unknown trunk {trunk!r}; the exchange has {sorted(self.trunks) + sorted(self.analog)}")
        if leg is not None and not leg.done:
            self._legs.add(leg)
        return leg

    def _pickup(self, caller: Caller, port: int, wait_ring: bool = True):
        if port not in self.phones:
            raise ValueError(f"no telephone on FXS port {port} (phones: {sorted(self.phones)})")
        if any(isinstance(l, PhoneLeg) and l.port == port for l in self._legs):
            raise ValueError(f"the telephone on FXS port {port} is already in use")
        leg = PhoneLeg(self, caller, port, self.phones[port], wait_ring)
        self._legs.add(leg)
        return leg

    @property
    def ready(self) -> bool:
        """Every E1 trunk in service (SS7: linkset accessible, circuit reset done)."""
        return all(t.ready for t in self.trunks.values())

    def state(self) -> dict:
        out = {}
        for name, t in self.trunks.items():
            if isinstance(t, _Ss7):
                out[name] = {"kind": "ss7", "ready": t.ready, "link": t.mtp2.state.value,
                             "busy": sorted(c for c, x in t.cc.circuits.items() if x.state is not State.IDLE)}
            else:
                out[name] = {"kind": "no1", "ready": t.ready, "busy": sorted(t.legs)}
        return out

    # -- the tick -----------------------------------------------------------------------------------------
    def step(self) -> None:
        """One 20 ms tick, after the world ticked (see the module docs)."""
        self.ticks += 1
        t_frame = self.ticks * BLOCK      # frames since the exchange started (MTP2 octet counting under LOS)
        no1 = [t for t in self.trunks.values() if isinstance(t, _No1)]
        ss7 = {t.cfg.span: t for t in self.trunks.values() if isinstance(t, _Ss7)}
        for ev in self.board.events():
            if isinstance(ev, HdlcEvent):
                t = ss7.get(ev.span)
                if t is not None and ev.timeslot == 16:
                    t.transport.frame(ev.frame)
                    continue
            elif isinstance(ev, AbcdEvent):
                for t in no1:
                    if t.cfg.span == ev.span:
                        t.on_abcd(ev)
                continue
            elif isinstance(ev, AlarmEvent):
                for t in no1:
                    if t.cfg.span == ev.span:
                        t.on_alarm(ev)
            elif isinstance(ev, OverrunEvent):
                for t in no1:
                    t.resync()
            self.other_events.append(ev)
            if self.on_event is not None:
                self.on_event(ev)
            if len(self.other_events) > 1000:
                del self.other_events[:500]
        for t in ss7.values():
            t.transport.poll(t_frame)
        block = self.board.read_block()
        for ev in self.bank.process(block):
            if ev.kind in ("r2f", "r2b") and ev.type in ("on", "off"):
                for t in no1:
                    cc = t.channels.get(ev.channel)
                    if cc is not None:
                        cc.on_tone(ev.type == "on", ev.value)
        out = self.board.new_block(SILENCE)
        for leg in list(self._legs):
            if isinstance(leg, (LineLeg, PhoneLeg)):
                leg.poll()
                if not leg.done:
                    leg.audio()
            elif leg.channel is not None and not leg.done:
                leg.caller._rx(block[:, leg.channel])
                a = leg.caller._tx()
                if leg.caller.state == "answered":
                    out[:, leg.channel] = a
        for t in no1:
            for n, cc in t.channels.items():
                a = cc.audio()
                if a is not None:
                    out[:, n] = a
        self.board.write_block(out)
        for t in ss7.values():
            t.poll()




# ------------------------------------------------------------------------------------------------ across processes

def port_socket_path(path: str) -> str:
    """Where ``hwsim exchange --socket PATH`` serves the analogue far ends: PATH with ``{span}`` replaced by
    ``ports``, else ``PATH.ports``."""
    return path.replace("{span}", "ports") if "{span}" in path else f"{path}.ports"


class ScenarioContext:
    """What a scenario gets: the exchange, its clock and helpers. ``emit(**fields)`` prints one JSON line."""

    def __init__(self, runner: "ExchangeRunner"):
        self.runner = runner
        self.ex = runner.ex
        self.clock = runner.clock
        self.args = runner.script_args
        self.references: dict[str, np.ndarray] = runner.references
        self.results: list[dict] = []

    def emit(self, **fields) -> None:
        self.results.append(fields)
        self.runner.log(**fields)

    def caller(self, name: str | None = None) -> Caller:
        return self.ex.caller(name)

    def sleep(self, seconds: float):
        from twisted.internet import task as _task
        return _task.deferLater(self.clock, seconds, lambda: None)

    def wait_until(self, cond, timeout: float = 30.0, what: str = "condition"):
        """Fires when ``cond()`` holds (checked every tick); errback TimeoutError after ``timeout`` seconds."""
        from twisted.internet import defer as _defer
        d = _defer.Deferred()
        t_end = self.clock.seconds() + timeout

        def check():
            if d.called:
                return
            if cond():
                d.callback(True)
            elif self.clock.seconds() >= t_end:
                d.errback(TimeoutError(f"{what} not reached within {timeout:g} s"))
            else:
                self.clock.callLater(0.02, check)
        check()
        return d

    def wait_ready(self, timeout: float = 30.0):
        """Every E1 trunk in service (SS7 aligned and reset) and the port far ends connected, if any."""
        ports = self.runner.ports
        return self.wait_until(lambda: self.ex.ready and (ports is None or ports.connected), timeout,
                               "exchange ready (SS7 linkset up and reset, ports connected)")


async def scenario_answer(ctx: ScenarioContext):
    """Place no call: answer what the daemon places towards the exchange and report each call."""
    seen = 0
    while True:
        await ctx.sleep(0.1)
        for c in ctx.ex.incoming[seen:]:
            ctx.emit(event="incoming", caller=c.name, trunk=c.trunk, called=c.called, calling=c.calling)
        seen = len(ctx.ex.incoming)


async def one_call(ctx: ScenarioContext, trunk: str, called: str, calling: str, hear: float, press: str) -> dict:
    c = ctx.caller(f"{trunk}-caller")
    res = {"event": "call", "caller": c.name, "trunk": trunk, "called": called, "calling": calling}
    r = await c.dial(trunk, called, calling=calling)
    res["dial"] = r.as_dict()
    if r.answered:
        audio = await c.hear(hear)
        res["speech"] = c.heard_speech(audio)
        res["speech_dbm0"] = round(max(-99.0, speech_level(audio)), 1)
        res["matches"] = {k: round(c.similarity(ref, audio), 3) for k, ref in ctx.references.items()}
        if press:
            await c.press(press)
            after = await c.hear(hear)
            res["after_press_speech"] = c.heard_speech(after)
            res["after_press_matches"] = {k: round(c.similarity(ref, after), 3) for k, ref in ctx.references.items()}
        if c.state == "answered":
            await c.hangup()
        else:
            await c.wait_cleared()
    res["cleared_by"] = c.cleared_by
    res["cause"] = c.cause
    res["view"] = c.seen()
    ctx.emit(**res)
    c.received = []                        # reported: free the audio (a demo runs for hours)
    if c in ctx.ex.callers:
        ctx.ex.callers.remove(c)
    return res


async def scenario_calls(ctx: ScenarioContext):
    """One call on every trunk at once (each E1 trunk and the first exchange line): dial, hear, press, hear,
    hang up. Script arguments: called (114), calling (13800138000), hear (2.0), press (2)."""
    from twisted.internet import defer as _defer
    a = ctx.args
    await ctx.wait_ready(float(a.get("ready_timeout", 30)))
    ctx.emit(event="ready", trunks=ctx.ex.state())
    trunks = list(ctx.ex.trunks) + [f"{n}" for n in ctx.ex.analog if ctx.ex.analog[n].lines]
    calls = [_defer.ensureDeferred(one_call(ctx, t, a.get("called", "114"), a.get("calling", "1380013800") + str(i),
                                            float(a.get("hear", 2.0)), a.get("press", "2")))
             for i, t in enumerate(trunks)]
    results = await _defer.gatherResults(calls, consumeErrors=True)
    ok = all(r["dial"]["outcome"] == "answered" for r in results)
    ctx.emit(event="summary", calls=len(results), answered=sum(r["dial"]["outcome"] == "answered" for r in results),
             ok=ok)
    return ok


async def scenario_demo(ctx: ScenarioContext):
    """For ``ctid demo``: rounds of calls on every trunk (a few seconds apart), each caller listening, then
    pressing 2 (information) or 0 (an agent) and listening on, then hanging up. Script arguments: rounds
    (0: until stopped), called (114), press ("2,0": the choices, in turn), listen (seconds, 4), gap (seconds, 3)."""
    from twisted.internet import defer as _defer
    a = ctx.args
    await ctx.wait_ready(float(a.get("ready_timeout", 60)))
    ctx.emit(event="ready", trunks=ctx.ex.state())
    trunks = list(ctx.ex.trunks) + [n for n in ctx.ex.analog if ctx.ex.analog[n].lines]
    choices = [x for x in a.get("press", "2,0").split(",") if x] or ["2"]
    rounds, listen, gap = int(a.get("rounds", 0)), float(a.get("listen", 4.0)), float(a.get("gap", 3.0))
    k = 0
    while rounds == 0 or k < rounds:
        calls = []
        for i, t in enumerate(trunks):
            calling = f"1380013{k % 1000:03d}{i}"
            calls.append(_defer.ensureDeferred(one_call(ctx, t, a.get("called", "114"), calling, listen,
                                                        choices[(k + i) % len(choices)])))
            await ctx.sleep(0.5)
        await _defer.gatherResults(calls, consumeErrors=True)
        k += 1
        await ctx.sleep(gap)
    return True


scenario_answer.open_ended = True     # runs until stopped (--duration, a signal, the daemon going away)
scenario_demo.open_ended = True

SCENARIOS = {"answer": scenario_answer, "calls": scenario_calls, "demo": scenario_demo}


class ExchangeRunner:
    """``hwsim exchange``: the exchange on board 0 of this process's world, its spans served over cable sockets
    (listening, lock step), analogue far ends over a port socket, a scenario run on a clock that advances 20 ms
    per block (so the daemon's pace is the scenario's)."""

    SPAN_KINDS = {"ss7": "ccs", "no1": "cas"}

    def __init__(self, args, out=None):
        import sys as _sys

        from twisted.internet import task as _task

        from ctid.drivers import open_board
        from ctid.drivers.hwsim import PortSocketServer, World

        from .serve import socket_paths
        self.args, self.out = args, out or _sys.stdout
        kinds = [x.strip() for x in args.spans.split(",") if x.strip()]
        bad = [k for k in kinds if k not in self.SPAN_KINDS]
        if bad or not kinds or len(kinds) > 16:
            raise DriverError(f"--spans: {args.spans!r}: give 1..16 of ss7, no1 separated by commas")
        ports = self._ports(args.ports)
        self.script_args = dict(self._kv(x) for x in (args.arg or []))
        self.references = {}
        from ctid.dsp.wavfile import AudioFileError, read_audio
        for spec in args.reference or []:
            name, _, path = spec.rpartition("=")
            try:
                au = read_audio(path)
            except AudioFileError as exc:
                raise DriverError(f"--reference {spec}: {exc}") from None
            self.references[name or path] = au.data if au.law == "alaw" else alaw_encode(au.linear())
        self.world = World(args.seed)
        self.board = open_board("hwsim", 0, world=self.world, spans=len(kinds),
                                span_config=[self.SPAN_KINDS[k] for k in kinds])
        self.paths = socket_paths(args.socket, len(kinds))
        for s, p in enumerate(self.paths):
            self.world.cable_socket(0, s, p, listen=True)
        self.ports = PortSocketServer(self.world, port_socket_path(args.socket)) if ports else None
        trunks: dict = {}
        count: dict[str, int] = {}
        for s, k in enumerate(kinds):
            count[k] = count.get(k, 0) + 1
            name = k if count[k] == 1 else f"{k}{count[k]}"
            if k == "ss7":
                trunks[name] = Ss7Trunk(span=s, opc=args.opc, dpc=args.dpc, cics=args.cics,
                                        pc_format=args.pc_format)
            else:
                trunks[name] = No1Trunk(span=s, timeslots=args.timeslots)
        phones = {}
        if ports:
            trunks["analog"] = AnalogTrunk(lines={p: self.ports.line(p) for p, k in enumerate(ports) if k == "fxo"})
            phones = {p: self.ports.phone(p) for p, k in enumerate(ports) if k == "fxs"}
        self.clock = _task.Clock()
        self.ex = FarEndExchange(self.board, self.clock, trunks, phones)
        self.ex.on_event = self._event
        self.connected = [False] * len(kinds)
        self.ever_connected = False
        self.stopping = False
        self.done: dict | None = None
        self.ticks = 0

    @staticmethod
    def _kv(s: str):
        k, sep, v = s.partition("=")
        if not sep or not k:
            raise DriverError(f"--arg {s!r}: give KEY=VALUE")
        return k, v

    @staticmethod
    def _ports(spec: str) -> list[str]:
        spec = (spec or "").strip()
        if not spec:
            return []
        if spec.isdigit():
            return ["fxo"] * int(spec)
        kinds = [x.strip() for x in spec.split(",") if x.strip()]
        if any(k not in ("fxo", "fxs") for k in kinds):
            raise DriverError(f"--ports {spec!r}: a count, or the daemon board's port kinds (fxo,fxs,...)")
        return kinds

    def log(self, **kw) -> None:
        import json
        kw = {"t": round(self.world.seconds, 2), **kw}
        if self.args.json:
            print(json.dumps(kw, default=str, ensure_ascii=False), file=self.out, flush=True)
        else:
            print("hwsim exchange: " + " ".join(f"{k}={v}" for k, v in kw.items()), file=self.out, flush=True)

    def _event(self, ev) -> None:
        from ctid.drivers import CableEvent
        if isinstance(ev, CableEvent):
            self.connected[ev.span] = ev.connected
            self.ever_connected |= ev.connected
            self.log(event="cable", span=ev.span, connected=ev.connected)
            if not ev.connected and self.ever_connected and self.args.exit_on_disconnect:
                self.stopping = True
        elif isinstance(ev, AlarmEvent):
            self.log(event="alarm", span=ev.span, alarms=ev.alarms.names() if ev.alarms else [])

    def load_scenario(self):
        a = self.args
        if a.script:
            import runpy
            try:
                ns = runpy.run_path(a.script, run_name="hwsim_exchange_script")
            except OSError as exc:
                raise DriverError(f"--script {a.script}: {exc.strerror or exc}") from None
            fn = ns.get("scenario")
            if not callable(fn):
                raise DriverError(f"--script {a.script}: defines no scenario(ctx) function")
            return fn
        if a.scenario not in SCENARIOS:
            raise DriverError(f"--scenario {a.scenario!r}: known: {', '.join(sorted(SCENARIOS))}")
        return SCENARIOS[a.scenario]

    def run(self) -> int:
        import time
        import traceback

        from twisted.internet import defer as _defer
        fn = self.load_scenario()
        ctx = ScenarioContext(self)

        def finished(result):
            self.done = {"ok": result is not False, "result": result if isinstance(result, (bool, int, str))
                         else None}
            self.log(event="done", ok=self.done["ok"])

        def failed(f):
            self.done = {"ok": False, "error": f.getErrorMessage()}
            self.log(event="done", ok=False, error=f.getErrorMessage(),
                     traceback="".join(traceback.format_exception(f.value))[-2000:])

        self.log(event="listening", sockets=self.paths, ports=self.ports.path if self.ports else None,
                 trunks=sorted(self.ex.trunks) + sorted(self.ex.analog))
        d = _defer.maybeDeferred(fn, ctx)
        d = d.addCallback(lambda r: _defer.ensureDeferred(r) if hasattr(r, "__await__") else r)
        d.addCallbacks(finished, failed)
        linger_until = None
        limit = self.args.duration * 8000 if self.args.duration else None
        while not self.stopping:
            t0 = time.monotonic()
            self.world.tick(1)
            self.ticks += 1
            self.clock.advance(0.02)
            self.ex.step()
            if self.done is not None and linger_until is None:
                linger_until = self.world.time + int(self.args.linger * 8000)
            if linger_until is not None and self.world.time >= linger_until:
                break
            if limit is not None and self.world.time >= limit:
                self.log(event="duration-reached")
                break
            if not any(self.connected) and not (self.ports and self.ports.connected):
                time.sleep(max(0.0, 0.020 - (time.monotonic() - t0)))
        if self.done is None:
            if getattr(fn, "open_ended", False):
                self.done = {"ok": True}
                self.log(event="done", ok=True, stopped=True)
            else:
                self.done = {"ok": False, "error": "stopped before the scenario finished"}
                self.log(event="done", ok=False, error=self.done["error"])
        return 0 if self.done["ok"] else 1

    def close(self) -> None:
        self.world.close()


def main_exchange(args) -> int:
    import signal
    import sys as _sys
    logging.basicConfig(level=logging.WARNING, stream=_sys.stderr,
                        format="hwsim exchange: %(levelname)s %(name)s: %(message)s")
    try:
        runner = ExchangeRunner(args)
    except DriverError as exc:
        print(f"hwsim exchange: {exc}", file=_sys.stderr)
        return 2

    def stop(signum, frame):
        runner.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return runner.run()
    except DriverError as exc:
        print(f"hwsim exchange: {exc}", file=_sys.stderr)
        return 2
    finally:
        runner.log(event="stopped", ticks=runner.ticks)
        runner.close()


__all__ = ["FarEndExchange", "Ss7Trunk", "No1Trunk", "AnalogTrunk", "ExchangeRunner", "ScenarioContext",
           "SCENARIOS", "parse_ranges", "port_socket_path"]
