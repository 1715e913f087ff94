"""ISUP call control and circuit supervision (ITU-T Q.764) over the MTP-TRANSFER interface.

One :class:`IsupCallControl` serves the circuits (CICs) towards one destination point code. It is an MTP user
(``mtp_transfer``/``mtp_pause``/``mtp_resume``/``mtp_status``, duck-typed, see docs of
ctid.signaling.ss7.primitives) and sends with ``mtp.transfer(dpc, sls, 5, payload, ni)``. Messages are built and
parsed with the declarative codec :mod:`ctid.signaling.ss7.isup`. Every timer runs on the injected IReactorTime.

Per circuit there is an explicit call-processing state (:class:`State`) and, independently, the maintenance
blocking state (``local_blocked`` / ``remote_blocked``, named by :attr:`Circuit.blocking`).

Rules implemented (Q.764 clause in brackets):

* Dual seizure (2.10.1.4): the exchange with the higher signalling point code controls the even-numbered CICs,
  the other exchange the odd-numbered ones. An IAM received on a circuit where our IAM awaits its first backward
  message is ignored if we control the circuit; otherwise our call is moved to another circuit (automatic repeat
  attempt, 2.10.1.4 / 2.9.1) and the received IAM is served. To make dual seizure rare, circuits we control are
  allocated first (lowest first), then the others from the highest down.
* CIC allocation: circuits that are blocked locally or remotely, unequipped at the far end, resetting or busy
  are skipped.
* Release (2.3): REL -> T1 (repeat REL) and T5 (on expiry: alert maintenance, stop T1, send RSC, T17).
  A REL received while awaiting RLC (release collision) is answered with RLC and the circuit goes idle.
* Overlap: an incoming IAM or SAM without ST starts T35; the application may alert/answer at any time (which
  stops it); T35 expiry before ST releases with cause 28 "address incomplete".
* T7 expiry (awaiting ACM) and T2/T6 expiry (suspended): the call is released with cause 102 "recovery on timer
  expiry"; T9 expiry (awaiting answer, national): cause 19 "no answer from user (user alerted)" (Q.118).
* Blocking (2.8.2): BLO -> T12/T13, UBL -> T14/T15, CGB -> T18/T19, CGU -> T20/T21, GRS -> T22/T23, RSC ->
  T16/T17; the short timer repeats the message, the long one (started with the first sending) alerts
  maintenance and then repeats the message at its own interval. A BLO received while our IAM awaits its first
  backward message blocks the circuit and moves our call to another circuit. An IAM on a remotely blocked
  circuit removes the remote blocking (2.8.2.3); an IAM on a circuit we blocked is discarded and BLO re-sent.
* Reset (2.9.3): RSC/GRS clear calls without REL, remove remote blocking; GRA reports our locally blocked
  circuits; a locally blocked circuit answers RSC with BLO before RLC. After our own RSC/GRS is acknowledged,
  circuits we had blocked are blocked again with BLO (the reset erased the far end's record of it).
* Unequipped CIC (2.12): any message except UCIC on a CIC we do not have is answered with UCIC; a UCIC received
  marks the circuit unequipped at the far end (not used again) and ends any call set-up on it.
* Unexpected messages (2.10.5): RLC on an idle circuit is discarded; REL on an idle circuit gets RLC; any other
  call message on an idle circuit gets RSC; an unexpected RLC on a busy circuit gets REL (cause 111).
* Compatibility (2.9.5), as an end (type A) exchange, never transit:
  - Unrecognised message: the codec's UnknownMessage. Its body is read as an optional part only (pointer then
    parameters - the layout of post-1992 messages) to find Message Compatibility Information (code 0x38). With
    it: "release call" -> REL cause 97; otherwise the message is discarded and, if "send notification" is set,
    CFN cause 97 (diagnostic: the message type) is sent. Without it (the default procedure): discard and CFN
    cause 97.
  - Unrecognised parameter: a RawParameter. Parameter Compatibility Information (code 0x39) for it:
    "release call" -> REL cause 99; "discard message" -> message ignored (CFN cause 110 if "send
    notification"); "discard parameter" -> parameter dropped (CFN cause 99 if "send notification"). Without
    instructions (default): the parameter is dropped and CFN cause 99 (diagnostic: parameter name) is sent.
    For REL the cause goes in the RLC instead; CFN and RLC are never answered with CFN.
  - Malformed messages (codec error) are discarded and reported as event ``malformed``; nothing raises out of
    :meth:`IsupCallControl.mtp_transfer`.
* MTP-PAUSE: calls on the circuits are cleared locally (cause 38) and no new call is set up; MTP-RESUME: all
  circuits are reset with GRS (RSC for a lone circuit).
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable

from twisted.internet import defer

from . import isup
from .errors import CodecError

log = logging.getLogger(__name__)

SI_ISUP = 5

# Q.764 Annex A (table A.1) timer ranges and the defaults used here (seconds).
TIMER_DEFAULTS: dict[str, float] = {
    "T1": 15.0,     # 15-60 s: REL sent, awaiting RLC -> repeat REL
    "T2": 180.0,    # 3 min: awaiting RES after a user-initiated SUS (controlling exchange)
    "T5": 300.0,    # 5-15 min: initial REL sent -> RSC, alert maintenance
    "T6": 30.0,     # per Q.118 (10-32 s in many networks): awaiting RES after a network-initiated SUS
    "T7": 20.0,     # 20-30 s: IAM sent (or latest address message), awaiting ACM/CON/ANM
    "T9": 90.0,     # 1.5-3 min (national): ACM received, awaiting ANM
    "T12": 15.0,    # 15-60 s: BLO sent, awaiting BLA
    "T13": 300.0,   # 5-15 min: initial BLO sent
    "T14": 15.0,    # 15-60 s: UBL sent, awaiting UBA
    "T15": 300.0,   # 5-15 min: initial UBL sent
    "T16": 15.0,    # 15-60 s: RSC sent, awaiting RLC
    "T17": 300.0,   # 5-15 min: initial RSC sent
    "T18": 15.0,    # 15-60 s: CGB sent, awaiting CGBA
    "T19": 300.0,   # 5-15 min: initial CGB sent
    "T20": 15.0,    # 15-60 s: CGU sent, awaiting CGUA
    "T21": 300.0,   # 5-15 min: initial CGU sent
    "T22": 15.0,    # 15-60 s: GRS sent, awaiting GRA
    "T23": 300.0,   # 5-15 min: initial GRS sent
    "T35": 15.0,    # 15-20 s: incoming overlap, latest address digit received without ST -> REL cause 28
}

# Q.850 cause values used
CAUSE_NORMAL = 16
CAUSE_NO_ANSWER = 19
CAUSE_ADDRESS_INCOMPLETE = 28
CAUSE_DEST_OUT_OF_ORDER = 27
CAUSE_NO_CIRCUIT = 34
CAUSE_NETWORK_OUT_OF_ORDER = 38
CAUSE_TEMPORARY_FAILURE = 41
CAUSE_MSG_NONEXISTENT = 97
CAUSE_PARAM_NONEXISTENT = 99
CAUSE_TIMER_RECOVERY = 102
CAUSE_PARAM_DISCARDED = 110
CAUSE_PROTOCOL_ERROR = 111

MCI_CODE = 0x38      # Q.763 3.33 message compatibility information
PCI_CODE = 0x39      # Q.763 3.41 parameter compatibility information


class State(enum.Enum):
    """Call-processing state of a circuit (Q.764 / Q.764 annex state diagrams, names of this module)."""

    IDLE = "IDLE"
    # outgoing (we sent the IAM)
    WAIT_ACM = "WAIT_ACM"               # IAM sent, T7 running
    WAIT_ANSWER = "WAIT_ANSWER"         # ACM received, T9 running
    ANSWERED = "ANSWERED"
    SUSPENDED = "SUSPENDED"             # SUS received/sent in the answered state
    # incoming (we received the IAM)
    INCOMING = "INCOMING"               # IAM received, ACM not sent yet
    WAIT_ANSWER_IN = "WAIT_ANSWER_IN"   # ACM sent
    ANSWERED_IN = "ANSWERED_IN"
    SUSPENDED_IN = "SUSPENDED_IN"
    # clearing / reset
    WAIT_RLC = "WAIT_RLC"               # REL sent, T1/T5 running
    RESETTING = "RESETTING"             # RSC or GRS sent, awaiting RLC / GRA


OUTGOING_STATES = {State.WAIT_ACM, State.WAIT_ANSWER, State.ANSWERED, State.SUSPENDED}
INCOMING_STATES = {State.INCOMING, State.WAIT_ANSWER_IN, State.ANSWERED_IN, State.SUSPENDED_IN}
CALL_STATES = OUTGOING_STATES | INCOMING_STATES


class Call:
    """One call as the application sees it. ``alerted``/``answered`` fire (with the call) when the ACM/ANM
    arrives (outgoing) or is sent (incoming); ``released`` always fires, with the Q.850 cause. ``events`` lists
    (name, info) in order; ``listener(call, name, info)`` is called for each if set."""

    def __init__(self, direction: str, called: str, calling: str | None, category: int):
        self.direction = direction
        self.called = called
        self.calling = calling
        self.category = category
        self.cic: int | None = None
        self.cause: int | None = None
        self.circuit: Circuit | None = None
        self.events: list[tuple[str, dict]] = []
        self.listener: Callable | None = None
        self.alerted: defer.Deferred = defer.Deferred()
        self.answered: defer.Deferred = defer.Deferred()
        self.released: defer.Deferred = defer.Deferred()
        self.repeat_attempts = 0
        self.complete = True          # address complete (ST received / sent); False while overlap digits flow

    @property
    def state(self) -> str:
        if self.circuit is not None and self.circuit.call is self:
            return self.circuit.state.value
        return "RELEASED" if self.cause is not None else "NONE"

    def _event(self, name: str, **info) -> None:
        self.events.append((name, info))
        if self.listener is not None:
            try:
                self.listener(self, name, info)
            except Exception:  # an application bug must not break the protocol
                log.exception("ISUP call listener failed on %s", name)

    def __repr__(self) -> str:
        return f"<Call {self.direction} cic={self.cic} {self.called!r} {self.state}>"


@dataclass
class Circuit:
    cic: int
    state: State = State.IDLE
    call: Call | None = None
    local_blocked: bool = False          # we sent BLO/CGB (maintenance)
    remote_blocked: bool = False         # the far end sent BLO/CGB
    remote_unequipped: bool = False      # the far end answered UCIC
    timers: dict = field(default_factory=dict)
    pending: str | None = None           # "BLO" / "UBL" / "RSC" awaiting acknowledgement
    group_reset: bool = False            # reset by a GRS we sent, awaiting GRA

    @property
    def blocking(self) -> str:
        if self.local_blocked and self.remote_blocked:
            return "LOCALLY_AND_REMOTELY_BLOCKED"
        if self.local_blocked:
            return "LOCALLY_BLOCKED"
        if self.remote_blocked:
            return "REMOTELY_BLOCKED"
        return "UNBLOCKED"

    @property
    def available(self) -> bool:
        return (self.state is State.IDLE and not self.local_blocked and not self.remote_blocked
                and not self.remote_unequipped)


def _instruction_bits(octet: int) -> dict:
    """Instruction indicators (Q.763 3.33/3.41): A transit, B release call, C send notification, D discard
    message, E discard parameter (parameter form) / pass-on-not-possible (message form)."""
    return {"release": bool(octet & 0x02), "notify": bool(octet & 0x04), "discard_message": bool(octet & 0x08),
            "discard_parameter": bool(octet & 0x10)}


def _parse_pci(data: bytes) -> dict[int, dict]:
    """Parameter compatibility information: (parameter name, instruction indicators [+ extension octets])..."""
    out: dict[int, dict] = {}
    i = 0
    while i + 1 < len(data):
        name, instr = data[i], data[i + 1]
        out[name] = _instruction_bits(instr)
        i += 2
        while instr & 0x80 == 0 and i < len(data):   # extension bit 0: more instruction octets follow
            instr = data[i]
            i += 1
    return out


def _optional_only(body: bytes) -> dict[int, bytes] | None:
    """Read an unrecognised message's body as pointer + optional part; None if it does not fit that layout."""
    if not body:
        return None
    ptr = body[0]
    if ptr == 0:
        return {}
    at = ptr
    out: dict[int, bytes] = {}
    while True:
        if at >= len(body):
            return None
        code = body[at]
        if code == 0:
            return out
        if at + 2 > len(body) or at + 2 + body[at + 1] > len(body):
            return None
        out.setdefault(code, body[at + 2:at + 2 + body[at + 1]])
        at += 2 + body[at + 1]


class IsupMux:
    """The ISUP user of one MTP when it serves several destinations: MTP has one user per service indicator, so
    this dispatches indications by OPC (and MTP-PAUSE/RESUME/STATUS by DPC) to the :class:`IsupCallControl` of
    each destination; CICs are numbered per destination. Pass ``mux=`` to each IsupCallControl."""

    def __init__(self, mtp):
        self.mtp = mtp
        self.by_dpc: dict[int, IsupCallControl] = {}
        self.unrouted = 0
        mtp.register_user(SI_ISUP, self)

    def add(self, cc: "IsupCallControl") -> None:
        if cc.dpc in self.by_dpc:
            raise ValueError(f"DPC {cc.dpc} already has its ISUP call control")
        self.by_dpc[cc.dpc] = cc

    def mtp_transfer(self, ind) -> None:
        cc = self.by_dpc.get(getattr(ind, "opc", None))
        if cc is None:
            self.unrouted += 1
            return
        cc.mtp_transfer(ind)

    def mtp_pause(self, dpc: int) -> None:
        if dpc in self.by_dpc:
            self.by_dpc[dpc].mtp_pause(dpc)

    def mtp_resume(self, dpc: int) -> None:
        if dpc in self.by_dpc:
            self.by_dpc[dpc].mtp_resume(dpc)

    def mtp_status(self, dpc: int, cause: str) -> None:
        if dpc in self.by_dpc:
            self.by_dpc[dpc].mtp_status(dpc, cause)


class IsupCallControl:
    """ISUP call control for the circuits ``cics`` towards ``dpc`` (see the module docstring for the rules).

    ``on_incoming(call)`` is called for each incoming IAM; the application then calls :meth:`alert`,
    :meth:`answer` or :meth:`release`. Without ``on_incoming`` incoming calls are refused (cause 27).
    ``on_event(name, cic, info)`` sees every named protocol event (maintenance alerts, confusion, ...)."""

    def __init__(self, mtp, dpc: int, cics: Iterable[int], clock, *, on_incoming: Callable | None = None,
                 on_event: Callable | None = None, timers: dict | None = None, ni: int = 2,
                 variant: str | None = None, auto_repeat: int = 1, mux: "IsupMux | None" = None):
        self.mtp = mtp
        self.dpc = dpc
        self.opc = mtp.opc
        self.clock = clock
        self.ni = ni
        self.variant = variant or ("china" if getattr(mtp, "pc_format", "itu") == "china" else "itu")
        self.timers = dict(TIMER_DEFAULTS)
        if timers:
            unknown = set(timers) - set(TIMER_DEFAULTS)
            if unknown:
                raise ValueError(f"unknown Q.764 timers {sorted(unknown)}")
            self.timers.update(timers)
        self.circuits: dict[int, Circuit] = {}
        for cic in cics:
            if not isinstance(cic, int) or not 0 <= cic <= 0xFFF:
                raise ValueError(f"CIC {cic!r} out of range 0..4095")
            self.circuits[cic] = Circuit(cic)
        self.on_incoming = on_incoming
        self.on_event = on_event
        self.auto_repeat = auto_repeat
        self.available_dpc = True
        self.events: list[tuple[str, int | None, dict]] = []
        self.groups: dict[tuple[str, int], dict] = {}     # pending CGB/CGU/GRS by (kind, first cic)
        self.counters = {"sent": 0, "received": 0, "malformed": 0}
        self._rlc_cause = None
        self._own = sorted(c for c in self.circuits if self.controls(c))
        self._other = sorted((c for c in self.circuits if not self.controls(c)), reverse=True)
        if mux is not None:
            mux.add(self)
        else:
            mtp.register_user(SI_ISUP, self)

    # ------------------------------------------------------------------------------------------------ helpers
    def controls(self, cic: int) -> bool:
        """Q.764 2.10.1.4: higher point code controls the even CICs, the lower one the odd CICs."""
        return (self.opc > self.dpc) == (cic % 2 == 0)

    def _event(self, name: str, cic: int | None = None, **info) -> None:
        self.events.append((name, cic, info))
        if len(self.events) > 1000:
            del self.events[:500]
        if self.on_event is not None:
            try:
                self.on_event(name, cic, info)
            except Exception:
                log.exception("ISUP on_event failed on %s", name)

    def _send(self, msg) -> None:
        payload = isup.encode(msg)
        self.counters["sent"] += 1
        self.mtp.transfer(self.dpc, msg.cic & 0x0F, SI_ISUP, payload, self.ni)

    def _start(self, circ: Circuit, name: str, fn: Callable, *args) -> None:
        self._stop(circ, name)

        def fire():
            circ.timers.pop(name, None)
            fn(*args)
        circ.timers[name] = self.clock.callLater(self.timers[name], fire)

    def _stop(self, circ: Circuit, *names: str) -> None:
        for name in names:
            dc = circ.timers.pop(name, None)
            if dc is not None and dc.active():
                dc.cancel()

    def _stop_call_timers(self, circ: Circuit) -> None:
        self._stop(circ, "T1", "T5", "T2", "T6", "T7", "T9", "T35")

    def _allocate(self, exclude: set[int] = frozenset()) -> Circuit | None:
        for cic in self._own + self._other:
            circ = self.circuits[cic]
            if circ.available and cic not in exclude:
                return circ
        return None

    def _set(self, circ: Circuit, state: State) -> None:
        circ.state = state

    def _end_call(self, circ: Circuit, cause: int, event: str = "released") -> None:
        call = circ.call
        circ.call = None
        if call is not None and call.cause is None:
            call.cause = cause
            call._event(event, cause=cause)
            call.released.callback(cause)

    # --------------------------------------------------------------------------------------- application API
    def setup(self, called: str, calling: str | None = None, category: int = 0x0A, cic: int | None = None,
              complete: bool = True) -> Call:
        """Send an IAM on a free circuit (or ``cic``). ``complete`` False: overlap sending, more digits with
        :meth:`send_digits`. No free circuit: the returned call is already released with cause 34."""
        call = Call("out", called, calling, category)
        if not self.available_dpc:
            call.cause = CAUSE_NETWORK_OUT_OF_ORDER
            call._event("released", cause=call.cause)
            call.released.callback(call.cause)
            return call
        circ = self.circuits.get(cic) if cic is not None else self._allocate()
        if circ is None or not circ.available:
            call.cause = CAUSE_NO_CIRCUIT
            call._event("released", cause=call.cause)
            call.released.callback(call.cause)
            return call
        call.complete = complete
        self._send_iam(circ, call)
        return call

    def _send_iam(self, circ: Circuit, call: Call) -> None:
        call.cic, call.circuit, circ.call = circ.cic, circ, call
        digits = call.called + ("F" if call.complete and not call.called.endswith("F") else "")
        opt = []
        if call.calling:
            opt.append(isup.CallingPartyNumber(digits=call.calling))
        msg = isup.IAM(cic=circ.cic, calling_category=isup.CallingPartysCategory(category=call.category),
                       called=isup.CalledPartyNumber(digits=digits), optional=tuple(opt))
        self._set(circ, State.WAIT_ACM)
        self._start(circ, "T7", self._t7, circ)
        call._event("iam_sent", cic=circ.cic)
        self._send(msg)

    def send_digits(self, call: Call, digits: str, last: bool = False) -> None:
        """Overlap sending: a SAM with more address digits (``last``: with the ST end-of-pulsing signal)."""
        circ = call.circuit
        if circ is None or circ.call is not call or circ.state is not State.WAIT_ACM:
            raise ValueError(f"SAM only while awaiting ACM (call is {call.state})")
        call.called += digits
        call.complete = last
        self._start(circ, "T7", self._t7, circ)   # Q.764: T7 restarts on each address message
        self._send(isup.SAM(cic=circ.cic, subsequent=isup.SubsequentNumber(digits=digits + ("F" if last else ""))))

    def alert(self, call: Call) -> None:
        """Incoming call: send ACM (subscriber free)."""
        circ = self._own_call(call, {State.INCOMING})
        self._stop(circ, "T35")
        self._set(circ, State.WAIT_ANSWER_IN)
        self._send(isup.ACM(cic=circ.cic, backward_call=isup.BackwardCallIndicators(charge=2, called_status=1)))
        call._event("alerting")
        call.alerted.callback(call)

    def answer(self, call: Call) -> None:
        """Incoming call: send ANM (or CON if no ACM was sent)."""
        circ = self._own_call(call, {State.INCOMING, State.WAIT_ANSWER_IN})
        self._stop(circ, "T35")
        if circ.state is State.INCOMING:
            self._set(circ, State.ANSWERED_IN)
            self._send(isup.CON(cic=circ.cic, backward_call=isup.BackwardCallIndicators(charge=2, called_status=1)))
            call._event("alerting")
            call.alerted.callback(call)
        else:
            self._set(circ, State.ANSWERED_IN)
            self._send(isup.ANM(cic=circ.cic))
        call._event("answered")
        call.answered.callback(call)

    def progress(self, call: Call, event: int = 2) -> None:
        """Incoming call after ACM: send CPG with the event (1 alerting, 2 progress, 3 in-band info)."""
        circ = self._own_call(call, {State.WAIT_ANSWER_IN, State.ANSWERED_IN})
        self._send(isup.CPG(cic=circ.cic, event=isup.EventInformation(event=event)))

    def suspend(self, call: Call, network: bool = True) -> None:
        circ = self._own_call(call, {State.ANSWERED, State.ANSWERED_IN})
        self._set(circ, State.SUSPENDED if circ.state is State.ANSWERED else State.SUSPENDED_IN)
        self._send(isup.SUS(cic=circ.cic, suspend_resume=isup.SuspendResumeIndicators(network_initiated=int(network))))
        call._event("suspended", local=True)

    def resume(self, call: Call, network: bool = True) -> None:
        circ = self._own_call(call, {State.SUSPENDED, State.SUSPENDED_IN})
        self._stop(circ, "T2", "T6")
        self._set(circ, State.ANSWERED if circ.state is State.SUSPENDED else State.ANSWERED_IN)
        self._send(isup.RES(cic=circ.cic, suspend_resume=isup.SuspendResumeIndicators(network_initiated=int(network))))
        call._event("resumed", local=True)

    def metering_pulse(self, call: Call, charge: bytes) -> None:
        """China ISUP: MPM (metering pulse) with the 2-octet charge information, sent backward on an incoming
        call in the answered or suspended state."""
        self._china_only("MPM")
        circ = self._own_call(call, {State.ANSWERED_IN, State.SUSPENDED_IN})
        msg = isup.MPM(cic=circ.cic, charge=isup.ChargeInformation(data=bytes(charge)))
        isup.encode(msg)      # a bad charge information raises CodecError here, before anything is sent
        self._send(msg)

    def operator(self, call: Call) -> None:
        """China ISUP: OPR (operator signal), either direction, in the answered state."""
        self._china_only("OPR")
        circ = self._own_call(call, {State.ANSWERED, State.ANSWERED_IN})
        self._send(isup.OPR(cic=circ.cic))

    def _china_only(self, name: str) -> None:
        if self.variant != "china":
            raise ValueError(f"{name} is a China ISUP message; this call control is variant {self.variant!r}")

    def release(self, call: Call, cause: int = CAUSE_NORMAL) -> None:
        """Send REL (T1/T5); the call's ``released`` fires at once, the circuit is idle when RLC arrives."""
        circ = call.circuit
        if circ is None or circ.call is not call or circ.state not in CALL_STATES:
            return
        self._release_circuit(circ, cause)

    def _release_circuit(self, circ: Circuit, cause: int, diagnostics: bytes = b"") -> None:
        self._stop_call_timers(circ)
        self._end_call(circ, cause)
        self._set(circ, State.WAIT_RLC)
        rel = isup.REL(cic=circ.cic, cause=isup.CauseIndicators(cause=cause, location=2, diagnostics=diagnostics))
        self._start(circ, "T1", self._t1, circ, rel)
        self._start(circ, "T5", self._t5, circ)
        self._send(rel)

    def _own_call(self, call: Call, states: set) -> Circuit:
        circ = call.circuit
        if circ is None or circ.call is not call or circ.state not in states:
            raise ValueError(f"not possible in call state {call.state}")
        return circ

    def block(self, cic: int) -> None:
        """Maintenance blocking (BLO, T12/T13). The circuit is not used for new calls from now on."""
        circ = self._circuit(cic)
        circ.local_blocked = True
        circ.pending = "BLO"
        self._stop(circ, "T14", "T15")
        self._repeating(circ, "T12", "T13", lambda: isup.BLO(cic=cic))

    def unblock(self, cic: int) -> None:
        circ = self._circuit(cic)
        circ.local_blocked = False
        circ.pending = "UBL"
        self._stop(circ, "T12", "T13")
        self._repeating(circ, "T14", "T15", lambda: isup.UBL(cic=cic))

    def reset(self, cic: int) -> None:
        """Reset one circuit with RSC (T16/T17); any call on it is cleared locally (cause 41)."""
        circ = self._circuit(cic)
        self._clear_local(circ, CAUSE_TEMPORARY_FAILURE)
        circ.remote_blocked = False
        self._set(circ, State.RESETTING)
        circ.pending = "RSC"
        self._stop(circ, "T12", "T13", "T14", "T15")
        self._repeating(circ, "T16", "T17", lambda: isup.RSC(cic=cic))

    def block_group(self, first: int, count: int, hardware: bool = False) -> None:
        self._group("CGB", first, count, hardware)

    def unblock_group(self, first: int, count: int, hardware: bool = False) -> None:
        self._group("CGU", first, count, hardware)

    def reset_group(self, first: int | None = None, count: int | None = None) -> None:
        """GRS for ``count`` circuits from ``first`` (default: all our circuits, in runs of up to 32 contiguous
        CICs; a run of one circuit gets RSC). Calls on them are cleared locally (cause 41)."""
        if first is None:
            cics = sorted(self.circuits)
        else:
            cics = [c for c in range(first, first + count) if c in self.circuits]
        runs: list[list[int]] = []
        for c in cics:
            if runs and c == runs[-1][-1] + 1 and len(runs[-1]) < 32:
                runs[-1].append(c)
            else:
                runs.append([c])
        for run in runs:
            if len(run) == 1:
                self.reset(run[0])
            else:
                self._group("GRS", run[0], len(run))

    def _group(self, kind: str, first: int, count: int, hardware: bool = False) -> None:
        if not 2 <= count <= 32:
            raise ValueError(f"{kind}: range of {count} circuits, Q.763 allows 2..32")
        cics = [c for c in range(first, first + count) if c in self.circuits]
        if first not in self.circuits:
            raise ValueError(f"{kind}: first CIC {first} is not one of ours")
        status = bytearray((count + 7) // 8)
        for c in cics:
            i = c - first
            status[i // 8] |= 1 << (i % 8)
        rs = isup.RangeAndStatus(range=count - 1, status=bytes(status) if kind != "GRS" else b"")
        mt = isup.CircuitGroupSupervisionMessageType(type=int(hardware))
        if kind == "CGB":
            build = lambda: isup.CGB(cic=first, supervision_type=mt, range_status=rs)  # noqa: E731
            short, long_ = "T18", "T19"
            for c in cics:
                self.circuits[c].local_blocked = True
                if hardware:          # hardware failure: calls on the circuits are cleared (no REL)
                    self._clear_local(self.circuits[c], CAUSE_TEMPORARY_FAILURE)
        elif kind == "CGU":
            build = lambda: isup.CGU(cic=first, supervision_type=mt, range_status=rs)  # noqa: E731
            short, long_ = "T20", "T21"
            for c in cics:
                self.circuits[c].local_blocked = False
        else:
            build = lambda: isup.GRS(cic=first, range_status=rs)  # noqa: E731
            short, long_ = "T22", "T23"
            for c in cics:
                circ = self.circuits[c]
                self._clear_local(circ, CAUSE_TEMPORARY_FAILURE)
                circ.remote_blocked = False
                circ.group_reset = True
                self._set(circ, State.RESETTING)
        key = (kind, first)
        old = self.groups.pop(key, None)
        if old is not None:
            self._stop(old["holder"], short, long_)
        holder = Circuit(cic=first)          # timer holder for the group
        self.groups[key] = {"holder": holder, "cics": cics, "count": count}
        self._repeating(holder, short, long_, build)

    def _repeating(self, circ: Circuit, short: str, long_: str, build: Callable) -> None:
        """Send ``build()``, repeat it at ``short`` intervals; at ``long_`` (from the first sending) alert
        maintenance and repeat at ``long_`` intervals only (Q.764 2.9.2 / 2.9.3 pattern)."""
        def on_short():
            self._send(build())
            self._start(circ, short, on_short)

        def on_long():
            self._event("maintenance_alert", circ.cic, timer=long_)
            self._stop(circ, short)
            self._send(build())
            self._start(circ, long_, on_long)
        self._start(circ, short, on_short)
        self._start(circ, long_, on_long)
        self._send(build())

    def _circuit(self, cic: int) -> Circuit:
        circ = self.circuits.get(cic)
        if circ is None:
            raise ValueError(f"CIC {cic} is not one of the circuits to DPC {self.dpc}")
        return circ

    def _clear_local(self, circ: Circuit, cause: int) -> None:
        """Clear the circuit's call without REL (reset, pause)."""
        self._stop_call_timers(circ)
        if circ.call is not None:
            self._end_call(circ, cause)
        if circ.state in CALL_STATES or circ.state is State.WAIT_RLC:
            self._set(circ, State.IDLE)

    # ------------------------------------------------------------------------------------------- timers fired
    def _t7(self, circ: Circuit) -> None:
        self._event("T7_expired", circ.cic)
        if circ.state is State.WAIT_ACM:
            self._release_circuit(circ, CAUSE_TIMER_RECOVERY)

    def _t9(self, circ: Circuit) -> None:
        self._event("T9_expired", circ.cic)
        if circ.state is State.WAIT_ANSWER:
            self._release_circuit(circ, CAUSE_NO_ANSWER)

    def _t35(self, circ: Circuit) -> None:
        self._event("T35_expired", circ.cic)
        if circ.state is State.INCOMING:
            self._release_circuit(circ, CAUSE_ADDRESS_INCOMPLETE)

    def _t_sus(self, circ: Circuit, name: str) -> None:
        self._event(f"{name}_expired", circ.cic)
        if circ.state in (State.SUSPENDED, State.SUSPENDED_IN):
            self._release_circuit(circ, CAUSE_TIMER_RECOVERY)

    def _t1(self, circ: Circuit, rel) -> None:
        if circ.state is State.WAIT_RLC:
            self._send(rel)
            self._start(circ, "T1", self._t1, circ, rel)

    def _t5(self, circ: Circuit) -> None:
        if circ.state is not State.WAIT_RLC:
            return
        self._event("maintenance_alert", circ.cic, timer="T5")
        self._stop(circ, "T1")
        self._set(circ, State.RESETTING)
        circ.pending = "RSC"

        def on_t17():
            self._event("maintenance_alert", circ.cic, timer="T17")
            self._send(isup.RSC(cic=circ.cic))
            self._start(circ, "T17", on_t17)
        self._start(circ, "T17", on_t17)
        self._send(isup.RSC(cic=circ.cic))

    # -------------------------------------------------------------------------------------------- MTP user
    def mtp_pause(self, dpc: int) -> None:
        if dpc != self.dpc:
            return
        self.available_dpc = False
        self._event("mtp_pause", None)
        for circ in self.circuits.values():
            if circ.call is not None or circ.state is State.WAIT_RLC:
                self._clear_local(circ, CAUSE_NETWORK_OUT_OF_ORDER)

    def mtp_resume(self, dpc: int) -> None:
        if dpc != self.dpc:
            return
        self.available_dpc = True
        self._event("mtp_resume", None)
        self.reset_group()

    def mtp_status(self, dpc: int, cause: str) -> None:
        self._event("mtp_status", None, dpc=dpc, cause=cause)

    def mtp_transfer(self, ind) -> None:
        """MTP-TRANSFER indication; never raises."""
        try:
            if getattr(ind, "si", SI_ISUP) != SI_ISUP:
                return
            if ind.opc != self.dpc:
                self._event("wrong_opc", None, opc=ind.opc)
                return
            self.counters["received"] += 1
            try:
                msg = isup.decode(ind.payload, variant=self.variant)
            except CodecError as exc:
                self.counters["malformed"] += 1
                self._event("malformed", None, error=str(exc), payload=bytes(ind.payload).hex())
                return
            self._receive(msg)
        except Exception as exc:  # a bug must never take the signalling down
            log.exception("ISUP: failure handling %r", ind)
            self._event("internal_error", None, error=repr(exc))

    # ------------------------------------------------------------------------------------------- receiving
    def _receive(self, msg) -> None:
        cic = msg.cic
        circ = self.circuits.get(cic)
        if circ is None:
            if msg.NAME != "UCIC":
                self._event("unequipped_cic", cic, message=msg.NAME)
                self._send(isup.UCIC(cic=cic))
            return
        if isinstance(msg, isup.UnknownMessage):
            self._unknown_message(circ, msg)
            return
        self._rlc_cause = None
        msg = self._check_parameters(circ, msg)
        if msg is None:
            return
        handler = getattr(self, "_on_" + msg.NAME, None)
        if handler is None:
            self._event("unhandled", cic, message=msg.NAME)
            return
        handler(circ, msg)

    # -- compatibility (Q.764 2.9.5)
    def _unknown_message(self, circ: Circuit, msg) -> None:
        opt = _optional_only(msg.body)
        mci = None if opt is None else opt.get(MCI_CODE)
        diag = bytes((msg.message_type,))
        if mci:
            ins = _instruction_bits(mci[0])
            self._event("unrecognised_message", circ.cic, code=msg.message_type, instructions=ins)
            if ins["release"]:
                if circ.state in CALL_STATES:
                    self._release_circuit(circ, CAUSE_MSG_NONEXISTENT, diag)
                return
            if ins["notify"]:
                self._confusion(circ, CAUSE_MSG_NONEXISTENT, diag)
            return
        self._event("unrecognised_message", circ.cic, code=msg.message_type, instructions=None)
        self._confusion(circ, CAUSE_MSG_NONEXISTENT, diag)

    def _confusion(self, circ: Circuit, cause: int, diag: bytes) -> None:
        self._event("cfn_sent", circ.cic, cause=cause)
        self._send(isup.CFN(cic=circ.cic, cause=isup.CauseIndicators(cause=cause, location=2, diagnostics=diag)))

    def _check_parameters(self, circ: Circuit, msg):
        if not msg.HAS_OPTIONAL:
            return msg
        raws = [p for p in msg.optional if isinstance(p, isup.RawParameter)]
        if not raws:
            return msg
        pci = {}
        for p in raws:
            if p.code == PCI_CODE:
                pci = _parse_pci(p.data)
        unknown = [p for p in raws if p.code not in (PCI_CODE, MCI_CODE)]
        if not unknown:
            return msg
        no_notify = msg.NAME in ("CFN", "RLC", "REL")
        notify_causes: list[tuple[int, int]] = []
        for p in unknown:
            ins = pci.get(p.code)
            self._event("unrecognised_parameter", circ.cic, message=msg.NAME, code=p.code, instructions=ins)
            if ins is None:
                notify_causes.append((CAUSE_PARAM_NONEXISTENT, p.code))
            elif ins["release"]:
                if msg.NAME == "REL":
                    break
                if msg.NAME == "IAM":
                    if circ.state is State.IDLE and not circ.local_blocked:
                        # refuse the call: take the circuit as incoming, then release it
                        circ.call = Call("in", "", None, 0)
                        circ.state = State.INCOMING
                        self._release_circuit(circ, CAUSE_PARAM_NONEXISTENT, bytes((p.code,)))
                elif circ.state in CALL_STATES:
                    self._release_circuit(circ, CAUSE_PARAM_NONEXISTENT, bytes((p.code,)))
                return None
            elif ins["discard_message"]:
                if ins["notify"] and not no_notify:
                    self._confusion(circ, CAUSE_PARAM_DISCARDED, bytes((p.code,)))
                return None
            elif ins["notify"]:
                notify_causes.append((CAUSE_PARAM_NONEXISTENT, p.code))
        if notify_causes:
            if msg.NAME == "REL":
                self._rlc_cause = notify_causes[0]
            elif not no_notify:
                self._confusion(circ, notify_causes[0][0], bytes(code for _, code in notify_causes))
        return msg

    # -- call set-up
    def _on_IAM(self, circ: Circuit, msg) -> None:
        if circ.local_blocked:
            self._event("iam_on_locally_blocked", circ.cic)
            self._send(isup.BLO(cic=circ.cic))
            return
        circ.remote_unequipped = False   # the far end evidently has this circuit
        if circ.remote_blocked:      # Q.764 2.8.2.3: a non-test IAM removes the remote blocking
            circ.remote_blocked = False
            self._event("remote_unblocked_by_iam", circ.cic)
        if circ.state is State.WAIT_ACM:
            self._event("dual_seizure", circ.cic, we_control=self.controls(circ.cic))
            if self.controls(circ.cic):
                return                      # the far end backs off; our IAM stands
            self._repeat_attempt(circ, "dual_seizure")
        elif circ.state is not State.IDLE:
            self._event("unexpected", circ.cic, message="IAM", state=circ.state.value)
            return
        called = msg.called.digits
        complete = called.endswith("F")
        calling = msg.get(isup.CallingPartyNumber)
        call = Call("in", called[:-1] if complete else called, calling.digits if calling else None,
                    msg.calling_category.category)
        call.complete = complete
        call.cic, call.circuit, circ.call = circ.cic, circ, call
        self._set(circ, State.INCOMING)
        if not complete:
            self._start(circ, "T35", self._t35, circ)
        call._event("iam_received", cic=circ.cic)
        if self.on_incoming is None:
            self._release_circuit(circ, CAUSE_DEST_OUT_OF_ORDER)
            return
        try:
            self.on_incoming(call)
        except Exception:
            log.exception("ISUP on_incoming failed")
            if circ.call is call and circ.state in INCOMING_STATES:
                self._release_circuit(circ, CAUSE_TEMPORARY_FAILURE)

    def _repeat_attempt(self, circ: Circuit, why: str) -> None:
        """Move our outgoing call in set-up off ``circ`` (Q.764 automatic repeat attempt)."""
        call = circ.call
        self._stop(circ, "T7")
        circ.call = None
        self._set(circ, State.IDLE)
        if call is None:
            return
        new = self._allocate(exclude={circ.cic})
        if new is None or call.repeat_attempts >= self.auto_repeat:
            call.circuit = None
            call.cause = CAUSE_NO_CIRCUIT
            call._event("released", cause=call.cause, why=why)
            call.released.callback(call.cause)
            return
        call.repeat_attempts += 1
        call._event("repeat_attempt", old_cic=circ.cic, new_cic=new.cic, why=why)
        self._send_iam(new, call)

    def _on_SAM(self, circ: Circuit, msg) -> None:
        if circ.state not in (State.INCOMING, State.WAIT_ANSWER_IN) or circ.call is None:
            return self._unexpected(circ, msg)
        digits = msg.subsequent.digits
        complete = digits.endswith("F")
        call = circ.call
        call.called += digits[:-1] if complete else digits
        call.complete = complete
        if complete:
            self._stop(circ, "T35")
        else:
            self._start(circ, "T35", self._t35, circ)
        call._event("digits", digits=digits.rstrip("F"), complete=complete)

    def _backward_first(self, circ: Circuit, msg) -> bool:
        return circ.state is State.WAIT_ACM and circ.call is not None

    def _on_ACM(self, circ: Circuit, msg) -> None:
        if not self._backward_first(circ, msg):
            return self._unexpected(circ, msg)
        self._stop(circ, "T7")
        self._set(circ, State.WAIT_ANSWER)
        self._start(circ, "T9", self._t9, circ)
        circ.call._event("alerting", called_status=msg.backward_call.called_status)
        circ.call.alerted.callback(circ.call)

    def _on_CPG(self, circ: Circuit, msg) -> None:
        if circ.state not in (State.WAIT_ANSWER, State.ANSWERED) or circ.call is None:
            return self._unexpected(circ, msg)
        circ.call._event("progress", event=msg.event.event)

    def _on_ANM(self, circ: Circuit, msg) -> None:
        if circ.state not in (State.WAIT_ACM, State.WAIT_ANSWER) or circ.call is None:
            return self._unexpected(circ, msg)
        self._stop(circ, "T7", "T9")
        call = circ.call
        if circ.state is State.WAIT_ACM:    # ANM without ACM: alerting implied
            call._event("alerting")
            call.alerted.callback(call)
        self._set(circ, State.ANSWERED)
        call._event("answered")
        call.answered.callback(call)

    def _on_CON(self, circ: Circuit, msg) -> None:
        if not self._backward_first(circ, msg):
            return self._unexpected(circ, msg)
        self._on_ANM(circ, msg)

    def _on_SUS(self, circ: Circuit, msg) -> None:
        if circ.state not in (State.ANSWERED, State.ANSWERED_IN):
            return self._unexpected(circ, msg)
        network = msg.suspend_resume.network_initiated
        self._set(circ, State.SUSPENDED if circ.state is State.ANSWERED else State.SUSPENDED_IN)
        name = "T6" if network else "T2"
        if circ.state is State.SUSPENDED:     # we are the controlling (originating) exchange
            self._start(circ, name, self._t_sus, circ, name)
        circ.call._event("suspended", local=False, network=bool(network))

    def _on_RES(self, circ: Circuit, msg) -> None:
        if circ.state not in (State.SUSPENDED, State.SUSPENDED_IN):
            return self._unexpected(circ, msg)
        self._stop(circ, "T2", "T6")
        self._set(circ, State.ANSWERED if circ.state is State.SUSPENDED else State.ANSWERED_IN)
        circ.call._event("resumed", local=False)

    def _on_CCL(self, circ: Circuit, msg) -> None:
        """China ISUP: calling party cleared (forward, answered state): release normally."""
        if circ.state not in (State.ANSWERED_IN, State.SUSPENDED_IN):
            return self._unexpected(circ, msg)
        self._release_circuit(circ, CAUSE_NORMAL)

    def _on_MPM(self, circ: Circuit, msg) -> None:
        """China ISUP: metering pulse (backward, answered or suspended): reported on the outgoing call."""
        if circ.state not in (State.ANSWERED, State.SUSPENDED):
            return self._unexpected(circ, msg)
        circ.call._event("metering_pulse", charge=msg.charge.data.hex())

    def _on_OPR(self, circ: Circuit, msg) -> None:
        """China ISUP: operator signal (either direction, answered state): reported on the call."""
        if circ.state not in (State.ANSWERED, State.ANSWERED_IN):
            return self._unexpected(circ, msg)
        circ.call._event("operator")

    # -- release
    def _on_REL(self, circ: Circuit, msg) -> None:
        cause = msg.cause.cause
        rlc_cause, self._rlc_cause = self._rlc_cause, None
        self._stop_call_timers(circ)
        if circ.state is State.WAIT_RLC:
            self._event("release_collision", circ.cic)
        elif circ.state is State.RESETTING:
            pass
        elif circ.state is State.IDLE:
            self._event("unexpected", circ.cic, message="REL", state="IDLE")
        if circ.call is not None:
            self._end_call(circ, cause)
        if circ.state is not State.RESETTING:
            self._set(circ, State.IDLE)
        opt = ()
        if rlc_cause:
            opt = (isup.CauseIndicators(cause=rlc_cause[0], location=2, diagnostics=bytes((rlc_cause[1],))),)
        self._send(isup.RLC(cic=circ.cic, optional=opt))

    def _on_RLC(self, circ: Circuit, msg) -> None:
        if circ.state is State.WAIT_RLC:
            self._stop(circ, "T1", "T5")
            self._set(circ, State.IDLE)
            self._event("circuit_idle", circ.cic)
        elif circ.state is State.RESETTING and circ.pending == "RSC":
            self._stop(circ, "T16", "T17")
            circ.pending = None
            self._set(circ, State.IDLE)
            self._event("reset_complete", circ.cic)
            if circ.local_blocked:   # the reset removed the far end's record of our blocking: block again
                self.block(circ.cic)
        elif circ.state is State.IDLE or circ.state is State.RESETTING:
            return                                   # Q.764 2.10.5: discarded
        else:
            self._event("unexpected", circ.cic, message="RLC", state=circ.state.value)
            self._release_circuit(circ, CAUSE_PROTOCOL_ERROR)

    def _unexpected(self, circ: Circuit, msg) -> None:
        self._event("unexpected", circ.cic, message=msg.NAME, state=circ.state.value)
        if circ.state is State.IDLE and not circ.local_blocked:
            self.reset(circ.cic)     # Q.764 2.10.5.1: unexpected message on an idle circuit -> reset it

    # -- reset
    def _on_RSC(self, circ: Circuit, msg) -> None:
        self._clear_local(circ, CAUSE_TEMPORARY_FAILURE)
        if circ.state is State.RESETTING and circ.pending == "RSC":
            self._stop(circ, "T16", "T17")
            circ.pending = None
        if circ.state is State.RESETTING and not circ.group_reset:
            self._set(circ, State.IDLE)
        circ.remote_blocked = False
        self._event("reset_received", circ.cic)
        if circ.local_blocked:
            self._send(isup.BLO(cic=circ.cic))
        self._send(isup.RLC(cic=circ.cic))

    def _range(self, msg, need_status: bool) -> list[int] | None:
        rs = msg.range_status
        if not 1 <= rs.range <= 31 or (need_status and len(rs.status) != (rs.range + 8) // 8):
            self._event("malformed", msg.cic, error=f"{msg.NAME}: range {rs.range} / status of "
                                                     f"{len(rs.status)} octets")
            return None
        if need_status:
            return [msg.cic + i for i, bit in enumerate(rs.circuits()) if bit]
        return [msg.cic + i for i in range(rs.range + 1)]

    def _status(self, first: int, rng: int, cics: Iterable[int]) -> bytes:
        status = bytearray(rng // 8 + 1)
        for c in cics:
            i = c - first
            status[i // 8] |= 1 << (i % 8)
        return bytes(status)

    def _on_GRS(self, circ: Circuit, msg) -> None:
        cics = self._range(msg, False)
        if cics is None:
            return
        blocked = []
        for c in cics:
            cc = self.circuits.get(c)
            if cc is None:
                continue
            self._clear_local(cc, CAUSE_TEMPORARY_FAILURE)
            self._stop(cc, "T16", "T17")
            if cc.state is State.RESETTING and not cc.group_reset:
                cc.pending = None
                self._set(cc, State.IDLE)
            cc.remote_blocked = False
            if cc.local_blocked:
                blocked.append(c)
        self._event("group_reset_received", circ.cic, range=msg.range_status.range)
        rng = msg.range_status.range
        self._send(isup.GRA(cic=msg.cic, range_status=isup.RangeAndStatus(
            range=rng, status=self._status(msg.cic, rng, blocked))))

    def _on_GRA(self, circ: Circuit, msg) -> None:
        group = self.groups.pop(("GRS", msg.cic), None)
        if group is None:
            self._event("unexpected", circ.cic, message="GRA", state="no GRS pending")
            return
        self._stop(group["holder"], "T22", "T23")
        rs = msg.range_status
        bits = rs.circuits() if len(rs.status) * 8 >= rs.range + 1 else [False] * (rs.range + 1)
        for i, c in enumerate(range(msg.cic, msg.cic + rs.range + 1)):
            cc = self.circuits.get(c)
            if cc is None or c not in group["cics"]:
                continue
            cc.remote_blocked = bits[i]
            cc.group_reset = False
            if cc.state is State.RESETTING and cc.pending != "RSC":
                self._set(cc, State.IDLE)
        reblock = [c for c in group["cics"] if self.circuits[c].local_blocked]
        for c in reblock:            # the GRS removed the far end's record of our blocking (Q.764 2.9.3.2)
            self.block(c)
        self._event("group_reset_complete", circ.cic, count=len(group["cics"]))

    # -- blocking
    def _on_BLO(self, circ: Circuit, msg) -> None:
        circ.remote_blocked = True
        self._event("remote_blocked", circ.cic)
        if circ.state is State.WAIT_ACM and circ.call is not None:
            # Q.764 2.8.2.1: our IAM met a BLO before any backward message: circuit blocked, call moved
            self._repeat_attempt(circ, "blocked")
        self._send(isup.BLA(cic=circ.cic))

    def _on_BLA(self, circ: Circuit, msg) -> None:
        if circ.pending == "BLO":
            circ.pending = None
            self._stop(circ, "T12", "T13")
            self._event("blocked", circ.cic)
        else:
            self._event("unexpected", circ.cic, message="BLA", state=circ.blocking)

    def _on_UBL(self, circ: Circuit, msg) -> None:
        circ.remote_blocked = False
        self._event("remote_unblocked", circ.cic)
        self._send(isup.UBA(cic=circ.cic))

    def _on_UBA(self, circ: Circuit, msg) -> None:
        if circ.pending == "UBL":
            circ.pending = None
            self._stop(circ, "T14", "T15")
            self._event("unblocked", circ.cic)
        else:
            self._event("unexpected", circ.cic, message="UBA", state=circ.blocking)

    def _on_CGB(self, circ: Circuit, msg) -> None:
        cics = self._range(msg, True)
        if cics is None:
            return
        done = []
        for c in cics:
            cc = self.circuits.get(c)
            if cc is None:
                continue
            cc.remote_blocked = True
            done.append(c)
            if msg.supervision_type.type == 1 and cc.call is not None:
                # hardware failure oriented: calls are released (cleared locally, no REL, Q.764 2.8.2.2)
                self._clear_local(cc, CAUSE_TEMPORARY_FAILURE)
            elif cc.state is State.WAIT_ACM and cc.call is not None:
                self._repeat_attempt(cc, "blocked")
        self._event("remote_group_blocked", circ.cic, cics=done)
        rng = msg.range_status.range
        self._send(isup.CGBA(cic=msg.cic, supervision_type=msg.supervision_type,
                             range_status=isup.RangeAndStatus(range=rng, status=self._status(msg.cic, rng, done))))

    def _on_CGU(self, circ: Circuit, msg) -> None:
        cics = self._range(msg, True)
        if cics is None:
            return
        done = []
        for c in cics:
            cc = self.circuits.get(c)
            if cc is None:
                continue
            cc.remote_blocked = False
            done.append(c)
        self._event("remote_group_unblocked", circ.cic, cics=done)
        rng = msg.range_status.range
        self._send(isup.CGUA(cic=msg.cic, supervision_type=msg.supervision_type,
                             range_status=isup.RangeAndStatus(range=rng, status=self._status(msg.cic, rng, done))))

    def _group_ack(self, kind: str, short: str, long_: str, circ: Circuit, msg) -> None:
        group = self.groups.pop((kind, msg.cic), None)
        if group is None:
            self._event("unexpected", circ.cic, message=msg.NAME, state=f"no {kind} pending")
            return
        self._stop(group["holder"], short, long_)
        self._event("group_blocked" if kind == "CGB" else "group_unblocked", circ.cic, cics=group["cics"])

    def _on_CGBA(self, circ: Circuit, msg) -> None:
        self._group_ack("CGB", "T18", "T19", circ, msg)

    def _on_CGUA(self, circ: Circuit, msg) -> None:
        self._group_ack("CGU", "T20", "T21", circ, msg)

    def _on_UCIC(self, circ: Circuit, msg) -> None:
        """Q.764 2.12: the far end does not have this CIC: stop everything on it, never use it again."""
        self._event("ucic_received", circ.cic)
        circ.remote_unequipped = True
        for t in list(circ.timers):
            self._stop(circ, t)
        circ.pending = None
        if circ.state is State.WAIT_ACM and circ.call is not None:
            self._repeat_attempt(circ, "unequipped")
        self._clear_local(circ, CAUSE_NO_CIRCUIT)
        self._set(circ, State.IDLE)

    def _on_CFN(self, circ: Circuit, msg) -> None:
        self._event("confusion_received", circ.cic, cause=msg.cause.cause, diagnostics=msg.cause.diagnostics.hex())

    def _on_INR(self, circ: Circuit, msg) -> None:
        self._event("unhandled", circ.cic, message="INR")

    def _on_INF(self, circ: Circuit, msg) -> None:
        self._event("unhandled", circ.cic, message="INF")
