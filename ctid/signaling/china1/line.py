"""Line signalling (TS16 ABCD) state machines for the two sides of a CAS channel.

:class:`OutgoingLine` is the forward side (it seizes), :class:`IncomingLine` the backward side. Both are driven
by received ABCD values (``on_abcd``, from the driver's ``AbcdEvent``) and act by setting ABCD through the driver
channel (anything with ``set_abcd(int)``). Timers run on an injected ``IReactorTime``. Codes are looked up in
the :class:`~ctid.signaling.china1.variant.Variant`: a code is interpreted for the current state (China reuses
1111 for seize-ack, clear-back and blocked).

A code that has no meaning in the current state is a protocol error: it is logged, recorded in ``errors`` and
reported to the listeners as ``("protocol_error", error)``; the recovery for each case is written next to it
below. No exception leaves ``on_abcd`` or a timer.

Dual seizure: on a both-way circuit both ends may seize at once; an outgoing line in SEIZED then receives the far
end's forward seizing signal instead of the seize-acknowledgement. It reports ``dual_seizure`` and resolves it
per its ``dual_seizure`` policy (``back_off``, ``keep``, ``yield``; docs/signaling-china1.md). Source:

  [VBD] J. G. van Bosse, F. U. Devetak, "Signaling in Telecommunication Networks", 2nd ed., Wiley 2007, section
        4.4 MFC-R2 signaling, "Double Seizure" (p. 95): after sending a seizure the outgoing exchange expects
        a_b b_b = 1,1; a_b b_b = 0,0 indicates a double seizure; both exchanges abort their call setups and,
        depending on the procedures of the telecom, make a second attempt or give congestion.

Listener events (``listener(event, **info)``): ``state`` (old, new), ``seize_ack``, ``dual_seizure`` (policy),
``answer``, ``clear_back``,
``forced_release``, ``seized``, ``clear_forward``, ``idle``, ``blocked``, ``unblocked``, ``far_blocked``,
``far_unblocked`` (incoming: the far end shows a_f b_f = 11, see :class:`IncomingLine`), ``out_of_service``,
``in_service``, ``protocol_error``.
"""
from __future__ import annotations

import enum
import logging

from .timers import ProtocolError, Timers
from .variant import BACKWARD, FORWARD, TimerSpec, Variant, abcd_str

log = logging.getLogger("ctid.signaling.china1")


class LineState(str, enum.Enum):
    IDLE = "IDLE"
    BLOCKED = "BLOCKED"                # outgoing: the far end blocks us; incoming: we block the far end
    SEIZED = "SEIZED"                  # outgoing: seize sent, waiting for seize-ack; incoming: seize received
    SEIZE_ACK = "SEIZE_ACK"            # seize acknowledged: register signalling, then waiting for answer
    ANSWERED = "ANSWERED"
    CLEAR_BACK = "CLEAR_BACK"          # the called party hung up (backward side sent clear-back)
    FORCED_RELEASE = "FORCED_RELEASE"  # the backward side forces release
    CLEAR_FWD = "CLEAR_FWD"            # outgoing: clear-forward sent, waiting for the release guard (idle)
    RELEASE_GUARD = "RELEASE_GUARD"    # incoming: clear-forward received, release guard (idle) being sent
    OUT_OF_SERVICE = "OUT_OF_SERVICE"  # the span is down (LOS/LOF/AIS/LOMF): ABCD means nothing, calls released


#: what an outgoing line does on dual seizure (see :class:`OutgoingLine` and docs/signaling-china1.md)
DUAL_SEIZURE_POLICIES = ("back_off", "keep", "yield")
#: policy "back_off": how long the far end may keep showing its seizure after ours was withdrawn before it is taken
#: to have kept the circuit (its call is then served in the incoming role). ctid choice: no public source gives a
#: value; ten 20 ms blocks, well above the time a far end that also backs off needs to show idle (it detects the
#: dual seizure in the same multiframe as we do) and below the 8 s seize-ack wait a China far end that keeps the
#: circuit runs (OpenR2 1.3.3). A variant may set its own ``dual_seizure`` timer.
DUAL_SEIZURE_WAIT = TimerSpec("dual_seizure", 200, "ctid choice", "dual-seizure back-off wait")


class _Line:
    role = "?"
    tx_direction = FORWARD
    rx_direction = BACKWARD

    def __init__(self, variant: Variant, clock, channel, name: str = "", listener=None):
        self.variant = variant
        self.clock = clock
        self.channel = channel
        self.name = name or f"line {self.role}"
        self.timers = Timers(clock)
        self.state = LineState.IDLE
        self.rx: int | None = None
        self.tx: int | None = None
        self.errors: list[ProtocolError] = []
        self.history: list[LineState] = [self.state]
        self.listeners = [listener] if listener else []
        self._send("idle")

    # helpers -----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.state.value} tx={abcd_str(self.tx)} rx={abcd_str(self.rx)}>"

    def _emit(self, event: str, **info) -> None:
        for fn in list(self.listeners):
            try:
                fn(event, **info)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the machine
                log.exception("%s: listener failed on %s", self.name, event)

    def _set(self, new: LineState) -> None:
        if new is self.state:
            return
        old, self.state = self.state, new
        self.history.append(new)
        log.debug("%s: %s -> %s", self.name, old.value, new.value)
        self._emit("state", old=old, new=new)

    def _send(self, signal: str) -> bool:
        try:
            code = self.variant.code(self.tx_direction, signal)
        except KeyError as exc:
            self._error(f"cannot send {signal}: {exc.args[0]}")
            return False
        self.tx = code
        try:
            self.channel.set_abcd(code)
        except Exception as exc:  # noqa: BLE001 - a driver failure is reported, the machine stays consistent
            self._error(f"driver refused ABCD {abcd_str(code)} ({signal}): {exc}")
        return True

    def _error(self, message: str) -> None:
        err = ProtocolError(self.name, self.state.value, message)
        self.errors.append(err)
        log.warning("protocol error: %s", err)
        self._emit("protocol_error", error=err)

    def _unexpected(self, code: int, recovery: str) -> None:
        names = self.variant.meanings(self.rx_direction, code)
        what = ("/".join(sorted(names)) if names
                else f"not a {self.rx_direction} code of variant {self.variant.name}")
        self._error(f"unexpected {self.rx_direction} ABCD {abcd_str(code)} ({what}) in state {self.state.value}; "
                    f"{recovery}")

    def _is(self, code: int, name: str) -> bool:
        try:
            return code == self.variant.code(self.rx_direction, name)
        except KeyError:
            return False

    # span failure ------------------------------------------------------------------------------
    def span_down(self, reason: str = "span down") -> None:
        """The span lost frame/multiframe alignment or signal: any call is released locally, the received
        ABCD is no longer trusted. Outgoing sends idle, incoming sends blocked until :meth:`span_up`."""
        if self.state is LineState.OUT_OF_SERVICE:
            return
        self.timers.stop_all()
        prev = self.state
        self._set(LineState.OUT_OF_SERVICE)
        self._send(self._oos_signal)
        self.rx = None
        self._emit("out_of_service", previous=prev, reason=reason)

    def span_up(self, abcd: int | None = None) -> None:
        """The span is back: idle again, then the ABCD received now (if known) is interpreted."""
        if self.state is not LineState.OUT_OF_SERVICE:
            return
        self._send("idle")
        self._set(LineState.IDLE)
        self._emit("in_service")
        if abcd is not None:
            self.on_abcd(abcd)

    def on_abcd(self, abcd: int) -> None:
        """A new ABCD value was received (``AbcdEvent.abcd``, or the event itself)."""
        abcd = getattr(abcd, "abcd", abcd)
        if not isinstance(abcd, int) or not 0 <= abcd <= 15:
            self._error(f"received ABCD value {abcd!r} is not 0..15; ignored")
            return
        if abcd == self.rx:
            return
        self.rx = abcd
        if self.state is LineState.OUT_OF_SERVICE:
            return                      # remembered; interpreted when the span is back
        try:
            self._on_abcd(abcd)
        except Exception as exc:  # noqa: BLE001 - last line of defence: never let an exception out
            log.exception("%s: internal error on ABCD %s", self.name, abcd_str(abcd))
            self._error(f"internal error handling ABCD {abcd_str(abcd)}: {exc!r}")

    def _on_abcd(self, abcd: int) -> None:
        raise NotImplementedError


class OutgoingLine(_Line):
    """The forward (outgoing) side of a CAS channel."""

    role = "out"
    tx_direction = FORWARD
    rx_direction = BACKWARD
    _oos_signal = "clear_forward"

    def __init__(self, *a, dual_seizure: str = "back_off", **kw):
        if dual_seizure not in DUAL_SEIZURE_POLICIES:
            raise ValueError(f"dual_seizure must be one of {', '.join(DUAL_SEIZURE_POLICIES)}, not {dual_seizure!r}")
        super().__init__(*a, **kw)
        self.awaiting_answer = False
        self.release_pending: str | None = None
        #: on dual seizure (both ends seized this both-way circuit at once): "back_off" clears forward and waits
        #: for the far end's idle (both ends abort, [VBD] 4.4); "keep" keeps the seizure and waits for the far
        #: end, configured "yield", to take the call in the incoming role and acknowledge it; "yield" gives the
        #: circuit up at once (clear forward, IDLE) so that the owner can serve the far end's call on it
        self.dual_seizure = dual_seizure
        self.dual_seized = False          # a dual seizure was detected on the current seizure (policy "keep")

    # commands ----------------------------------------------------------------------------------
    def seize(self) -> bool:
        """Send seize; False (and a logged error) if the channel is not idle."""
        if self.state is not LineState.IDLE:
            self._error(f"seize refused: channel is {self.state.value}, not IDLE")
            return False
        self.release_pending = None
        self.dual_seized = False
        self._send("seize")
        self._set(LineState.SEIZED)
        self.timers.start(self.variant.timer("seize_ack"), self._timeout)
        if self.rx is not None and self._is_far_seize(self.rx):
            # the far end already shows its seizure (received while this line was idle): both seize at once, and
            # no change of ABCD will come to tell: dual seizure, reported once this command has returned
            self.clock.callLater(0, self._far_seized_already)
        return True

    def _far_seized_already(self) -> None:
        try:
            if self.state is LineState.SEIZED and self.rx is not None and self._is_far_seize(self.rx):
                self._on_dual_seizure()
        except Exception as exc:  # noqa: BLE001 - never let an exception out of a clock call
            log.exception("%s: internal error on dual seizure", self.name)
            self._error(f"internal error on dual seizure: {exc!r}")

    def expect_answer(self) -> None:
        """Register signalling accepted the call (B signal 'free'): start the answer timer."""
        if self.state is LineState.SEIZE_ACK:
            self.awaiting_answer = True
            self.timers.start(self.variant.timer("answer"), self._timeout)

    def release(self, reason: str = "local release") -> None:
        """Clear forward (from any call state); then wait for the release guard (backward idle)."""
        if self.state in (LineState.IDLE, LineState.BLOCKED, LineState.CLEAR_FWD, LineState.OUT_OF_SERVICE):
            return
        if self.state is LineState.SEIZED:
            # clearing before the seizure is acknowledged would leave the backward side to acknowledge a seizure
            # that is gone (its 1111 would then read as "blocked"): clear as soon as the seize-ack arrives
            self.release_pending = reason
            return
        self.timers.stop_all()
        self.awaiting_answer = False
        self._send("clear_forward")
        self._emit("clear_forward", reason=reason)
        if self.rx is not None and self._is(self.rx, "idle"):
            # the backward side is already idle (it never acknowledged, or it released first): nothing to guard
            self._set(LineState.IDLE)
            self._emit("idle")
            return
        self._set(LineState.CLEAR_FWD)
        self.timers.start(self.variant.timer("release_guard"), self._timeout)

    # received codes ----------------------------------------------------------------------------
    def _on_abcd(self, c: int) -> None:
        s = self.state
        if s is LineState.IDLE:
            if self._is(c, "blocked"):
                self._set(LineState.BLOCKED)
                self._emit("blocked")
            elif not self._is(c, "idle"):
                self._unexpected(c, "ignored, channel stays IDLE")
        elif s is LineState.BLOCKED:
            if self._is(c, "idle"):
                self._set(LineState.IDLE)
                self._emit("unblocked")
            else:
                self._unexpected(c, "ignored, channel stays BLOCKED")
        elif s is LineState.SEIZED:
            if self._is(c, "seize_ack"):
                self.timers.stop("seize_ack")
                self._set(LineState.SEIZE_ACK)
                if self.release_pending is not None:
                    reason, self.release_pending = self.release_pending, None
                    self.release(reason)
                    return
                self._emit("seize_ack")
            elif self._is_far_seize(c):
                self._on_dual_seizure()
            elif self.dual_seized and self._is(c, "idle"):
                # the far end gives way (policy "yield"): on its way to the incoming role it may show idle for a
                # moment before its seize-ack; the seize-ack wait restarted at the detection runs
                log.debug("%s: far end left its seizure after dual seizure; waiting for its seize-ack", self.name)
            else:
                self._unexpected(c, "ignored, still waiting for seize-ack (the seize-ack timer runs)")
        elif s is LineState.SEIZE_ACK:
            if self._is(c, "answer"):
                self.timers.stop("answer")
                self.awaiting_answer = False
                self._set(LineState.ANSWERED)
                self._emit("answer")
            elif self._is(c, "forced_release"):
                self._set(LineState.FORCED_RELEASE)
                self._emit("forced_release")
                self.release("forced release by the backward side")
            elif self._is(c, "idle"):
                self._unexpected(c, "the backward side dropped the call: clear forward, channel IDLE")
                self.release("backward side returned to idle during setup")
            else:
                self._unexpected(c, "ignored")
        elif s in (LineState.ANSWERED, LineState.CLEAR_BACK):
            if s is LineState.ANSWERED and self._is(c, "clear_back"):
                self._set(LineState.CLEAR_BACK)
                self._emit("clear_back")
            elif s is LineState.CLEAR_BACK and self._is(c, "answer"):
                self._set(LineState.ANSWERED)      # re-answer: the called party picked up again
                self._emit("answer", reanswer=True)
            elif self._is(c, "forced_release"):
                self._set(LineState.FORCED_RELEASE)
                self._emit("forced_release")
                self.release("forced release by the backward side")
            elif self._is(c, "idle"):
                self._unexpected(c, "backward side released without clear-back: clear forward, channel IDLE")
                self.release("backward side returned to idle")
            else:
                self._unexpected(c, "ignored")
        elif s is LineState.CLEAR_FWD:
            if self._is(c, "release_guard"):
                self.timers.stop("release_guard")
                self.timers.stop("dual_seizure")
                self._set(LineState.IDLE)
                self._emit("idle")
            # anything else: the backward side has not seen our clear-forward yet; keep waiting
        else:  # FORCED_RELEASE is transient (release() follows at once)
            self._unexpected(c, "ignored")

    def _is_far_seize(self, c: int) -> bool:
        """``c`` is the far end's forward seizing signal: received in SEIZED it means dual seizure (the
        outgoing end expects a_b b_b = 11 and receives the seizure instead, [VBD] 4.4). China's forward seize
        (0011) is also its backward forced-release code, which has no meaning before the seizure is
        acknowledged; read in SEIZED it is the seizure."""
        try:
            return c == self.variant.code(FORWARD, "seize")
        except KeyError:
            return False

    def _on_dual_seizure(self) -> None:
        """Both ends seized this circuit: report ``dual_seizure`` (policy) and resolve per ``dual_seizure``."""
        policy = self.dual_seizure
        self.timers.stop("seize_ack")
        log.info("%s: dual seizure (far end seized too, %s received instead of a seize-ack): %s", self.name,
                 abcd_str(self.rx), policy)
        self._emit("dual_seizure", policy=policy)
        if self.state is not LineState.SEIZED:
            return                            # a listener released the line meanwhile
        if policy == "keep":
            # the far end (configured "yield") takes our call in the incoming role: give it the full seize-ack
            # wait from now (variant's seize_ack timer, e.g. OpenR2 1.3.3 8000 ms for China)
            self.dual_seized = True
            self.timers.start(self.variant.timer("seize_ack"), self._timeout)
            return
        self.release_pending = None
        self._send("clear_forward")
        if policy == "yield":
            self._set(LineState.IDLE)
            self._emit("idle", reason="dual seizure: yielded", dual_seizure=True)
            return
        # back off: both ends abort ([VBD] 4.4); the circuit is free when the far end shows idle too (its
        # clear-forward reads as our release guard), guarded by the release-guard wait; a far end still seizing
        # after the back-off wait kept the circuit: its call is served (idle, dual_seizure=True)
        self._set(LineState.CLEAR_FWD)
        self.timers.start(self.variant.timer("release_guard"), self._timeout)
        self.timers.start(self.variant.timers.get("dual_seizure") or DUAL_SEIZURE_WAIT, self._timeout)

    def _timeout(self, spec) -> None:
        try:
            if spec.key == "seize_ack":
                self.release_pending = None
                self._error(f"timer {spec.label} expired: no seize acknowledgement; clear forward, channel IDLE")
                self._send("clear_forward")
                self._set(LineState.IDLE)
                self._emit("idle", reason="seize-ack timeout")
            elif spec.key == "dual_seizure":
                if self.state is LineState.CLEAR_FWD and self.rx is not None and self._is_far_seize(self.rx):
                    log.info("%s: %s expired with the far end still seizing: it kept the circuit, channel IDLE "
                             "for its call", self.name, spec.label)
                    self.timers.stop("release_guard")
                    self._set(LineState.IDLE)
                    self._emit("idle", reason="dual seizure: the far end kept the circuit", dual_seizure=True)
            elif spec.key == "answer":
                self._error(f"timer {spec.label} expired: no answer; clear forward")
                self.release("answer timeout")
            elif spec.key == "release_guard":
                blocked = self.rx is not None and self._is(self.rx, "blocked")
                self._error(f"timer {spec.label} expired: no release guard (backward still "
                            f"{abcd_str(self.rx)}); channel {'BLOCKED' if blocked else 'IDLE'}")
                self._set(LineState.BLOCKED if blocked else LineState.IDLE)
                self._emit("blocked" if blocked else "idle", reason="release-guard timeout")
        except Exception as exc:  # noqa: BLE001
            log.exception("%s: internal error in timer %s", self.name, spec.key)
            self._error(f"internal error in timer {spec.label}: {exc!r}")


class IncomingLine(_Line):
    """The backward (incoming) side of a CAS channel."""

    role = "in"
    tx_direction = BACKWARD
    rx_direction = FORWARD
    _oos_signal = "blocked"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.awaiting_clear_forward: str | None = None   # why the clear-forward wait runs (None: it does not)
        self.blocked_by_timer = False                     # BLOCKED by a second clear-forward wait expiry
        #: the far end shows a_f b_f = 11 while this channel is IDLE or BLOCKED: ITU-T Q.421 gives b_f = 1 the
        #: meaning "fault" at the outgoing end; and on a both-way circuit whose far end waits in the incoming
        #: role the same bits are that end's blocking signal (a_b b_b = 11; China No.1 1111, the ITU variant
        #: 1101: the same code in both directions since C, D are fixed). Either way no seizure is to come:
        #: not a protocol error; cleared when the far end shows idle again.
        self.far_blocked = False
        #: set by the owner when this line is on a both-way circuit: a far end that sends the backward seize-ack
        #: code is then in the incoming role itself, so a seizure we acknowledged is gone (both ends yielded after
        #: a dual seizure, or both seize-ack waits expired and each read the other's last seizure): see _on_abcd
        self.both_way = False

    def span_down(self, reason: str = "span down") -> None:
        self.awaiting_clear_forward = None
        self.blocked_by_timer = False
        self.far_blocked = False
        super().span_down(reason)

    def _is_far_blocked(self, c: int) -> bool:
        """``c`` is the variant's forward "fault" code (Q.421 b_f = 1), or, in a variant without one, a_f b_f =
        11 read as the variant's blocking code that is no forward code of it."""
        if self.variant.has_line_signal(FORWARD, "fault"):
            return c == self.variant.code(FORWARD, "fault")
        try:
            blocked = self.variant.code(BACKWARD, "blocked")
        except KeyError:
            return False
        return c == blocked and not self.variant.meanings(FORWARD, c)

    def _far(self, c: int) -> bool:
        """Track the far end's a_f b_f = 11 / idle; True if ``c`` was one of them (handled)."""
        if self._is(c, "idle"):
            if self.far_blocked:
                self.far_blocked = False
                self._emit("far_unblocked")
            return True
        if self._is_far_blocked(c):
            if not self.far_blocked:
                self.far_blocked = True
                log.info("%s: far end shows %s (Q.421 b_f = 1: fault, or blocking by a both-way far end "
                         "in the incoming role)", self.name, abcd_str(c))
                self._emit("far_blocked", abcd=c)
            return True
        return False

    def _is_far_ack(self, c: int) -> bool:
        """``c`` is the variant's backward seize-ack code: what a far end sends in the incoming role while it
        acknowledges a seizure (in the ITU variant the same bits are the forward "fault", a_f b_f = 11: no call
        either way)."""
        try:
            return c == self.variant.code(BACKWARD, "seize_ack")
        except KeyError:
            return False

    # commands ----------------------------------------------------------------------------------
    def await_clear_forward(self, why: str) -> None:
        """This end is done with the call (a group B refusal such as B2 busy, a clear-back, a forced release):
        the forward side must clear forward. Starts the clear-forward wait (ITU-T Q.118 timed release); when it
        expires the call is released from this end: forced release first, then, if the forward side still
        does not clear, the channel is blocked until it returns to idle."""
        if self.state not in (LineState.SEIZE_ACK, LineState.CLEAR_BACK, LineState.FORCED_RELEASE):
            return
        self.awaiting_clear_forward = why
        self.timers.start(self.variant.timer("clear_forward"), self._timeout)

    def answer(self) -> bool:
        if self.state is not LineState.SEIZE_ACK:
            self._error(f"answer refused: channel is {self.state.value}, not SEIZE_ACK")
            return False
        self._send("answer")
        self._set(LineState.ANSWERED)
        return True

    def clear_back(self) -> bool:
        """The called party hung up: send clear-back and wait for the clear-forward."""
        if self.state is not LineState.ANSWERED:
            self._error(f"clear-back refused: channel is {self.state.value}, not ANSWERED")
            return False
        self._send("clear_back")
        self._set(LineState.CLEAR_BACK)
        self.await_clear_forward("after clear-back")
        return True

    def force_release(self) -> bool:
        if self.state not in (LineState.SEIZE_ACK, LineState.ANSWERED, LineState.CLEAR_BACK):
            self._error(f"forced release refused: channel is {self.state.value}")
            return False
        if not self._send("forced_release"):
            return False
        self._set(LineState.FORCED_RELEASE)
        self.await_clear_forward("after forced release")
        return True

    def block(self) -> bool:
        if self.state is not LineState.IDLE:
            self._error(f"block refused: channel is {self.state.value}, not IDLE")
            return False
        self.blocked_by_timer = False
        self._send("blocked")
        self._set(LineState.BLOCKED)
        return True

    def unblock(self) -> bool:
        if self.state is not LineState.BLOCKED:
            return False
        self.blocked_by_timer = False
        self._send("idle")
        self._set(LineState.IDLE)
        return True

    # received codes ----------------------------------------------------------------------------
    def _on_abcd(self, c: int) -> None:
        s = self.state
        if s is LineState.IDLE:
            if self._is(c, "seize"):
                if self.far_blocked:
                    self.far_blocked = False
                    self._emit("far_unblocked")
                self._set(LineState.SEIZED)
                self._emit("seized")
                self._send("seize_ack")
                self._set(LineState.SEIZE_ACK)
            elif not self._far(c):
                self._unexpected(c, "ignored, channel stays IDLE")
        elif s is LineState.BLOCKED:
            if self.blocked_by_timer and self._is(c, "clear_forward"):
                # the forward side that never cleared forward finally did: the release is complete
                self.blocked_by_timer = False
                self._emit("clear_forward", after=s.value)
                self._send("idle")
                self._set(LineState.IDLE)
                self._emit("unblocked")
                self._emit("idle")
            elif self._is(c, "seize"):
                self._unexpected(c, "seizure of a blocked channel refused: stays BLOCKED")
            elif not self._far(c):
                self._unexpected(c, "ignored, channel stays BLOCKED")
        elif s in (LineState.SEIZE_ACK, LineState.ANSWERED, LineState.CLEAR_BACK, LineState.FORCED_RELEASE):
            if s is LineState.SEIZE_ACK and self.both_way and self._is_far_ack(c):
                # the far end of this both-way circuit is in the incoming role and acknowledges a seizure: the
                # seizure we acknowledged is gone (both ends yielded after a dual seizure, or each end read the
                # other's last seizure after both seize-ack waits expired); nobody calls on this circuit: back to
                # idle (our idle reads as a clear-forward there, and that end returns to idle too)
                log.info("%s: the far end is in the incoming role (%s): no call on this circuit, IDLE", self.name,
                         abcd_str(c))
                self.timers.stop_all()
                self.awaiting_clear_forward = None
                self._emit("clear_forward", after=s.value, reason="far end in the incoming role")
                self._send("idle")
                self._set(LineState.IDLE)
                self._emit("idle", reason="far end in the incoming role")
            elif self._is(c, "clear_forward"):
                self.timers.stop("clear_forward")
                self.awaiting_clear_forward = None
                self._emit("clear_forward", after=s.value)
                self._set(LineState.RELEASE_GUARD)
                self._send("release_guard")
                self._set(LineState.IDLE)
                self._emit("idle")
            else:
                self._unexpected(c, f"ignored, channel stays {s.value}")
        else:
            self._unexpected(c, "ignored")

    def _timeout(self, spec) -> None:
        try:
            if spec.key != "clear_forward":
                return
            why, fwd = self.awaiting_clear_forward or "", abcd_str(self.rx)
            if self.state in (LineState.SEIZE_ACK, LineState.CLEAR_BACK):
                if self.variant.has_line_signal(BACKWARD, "forced_release"):
                    self._error(f"timer {spec.label} expired: no clear-forward {why} (forward still {fwd}); "
                                f"forced release")
                    self._send("forced_release")
                    self._set(LineState.FORCED_RELEASE)
                    self._emit("forced_release", reason="clear-forward wait expired")
                    self.awaiting_clear_forward = "after forced release"
                    self.timers.start(spec, self._timeout)
                    return
            elif self.state is not LineState.FORCED_RELEASE:
                return
            # still no clear-forward (or no forced-release signal in this variant): take the channel out of
            # use until the forward side returns to idle
            self._error(f"timer {spec.label} expired: no clear-forward {why} (forward still {fwd}); "
                        f"channel BLOCKED until the forward side clears")
            self.awaiting_clear_forward = None
            self._send("blocked")
            self.blocked_by_timer = True
            self._set(LineState.BLOCKED)
            self._emit("blocked", reason="clear-forward wait expired")
        except Exception as exc:  # noqa: BLE001
            log.exception("%s: internal error in timer %s", self.name, spec.key)
            self._error(f"internal error in timer {spec.label}: {exc!r}")
