"""China No.1 end to end over hwsim: ctid (outgoing) against ctid (incoming), two boards on a CAS cable.

Per 20 ms tick: the world ticks, a task.Clock advances 0.02 s (the world is the time base), then each board's
runner drains driver events (ABCD), reads its block into the DSP bank (MF tones), runs the machines and
writes the generated MF tones into the channel's timeslot.
"""
from __future__ import annotations

import numpy as np
import pytest
from twisted.internet import task

from ctid.drivers import open_board
from ctid.drivers.hwsim import World
from ctid.dsp.g711 import alaw_decode
from ctid.signaling.china1 import BACKWARD, CHINA, FORWARD, CasBoard, LineState as S, NumberRules
from ctid.signaling.china1.variant import ITU

CALLED, CALLING, KA, KD = "88881234", "13800138000", 1, 1
TS = 1
TICK = 0.02


class Rig:
    def __init__(self, decide=None, incoming=True, numbers=NumberRules(default_length=len(CALLED)), variant=CHINA):
        self.world = World(7)
        for b in (0, 1):
            self.world.create_board(b, spans=1)
        self.world.cable(0, 0, 1, 0)
        self.a = open_board("hwsim", 0, world=self.world, span_config="cas")
        self.b = open_board("hwsim", 1, world=self.world, span_config="cas")
        self.world.tick(5)                # frame and multiframe alignment before the channels are set up
        self.a.events(), self.b.events()
        self.clock = task.Clock()
        self.A, self.B = CasBoard(self.a, self.clock, variant), CasBoard(self.b, self.clock, variant)
        self.out = self.A.add(0, TS, "out")
        self.inc = self.B.add(0, TS, "in", decide=decide, numbers=numbers) if incoming else None
        self.ticks = 0
        self.run(2)

    def run(self, n=1, until=None):
        for _ in range(n):
            self.world.tick(1)
            self.clock.advance(TICK)
            self.ticks += 1
            self.A.step()
            self.B.step()
            if until is not None and until():
                return True
        return False

    @property
    def t(self):
        return self.world.seconds

    def close(self):
        self.world.close()


@pytest.fixture
def rig():
    r = Rig()
    yield r
    r.close()


def names(ch):
    return [e for e, _ in ch.events]


def expected_forward_flow(called, calling, ka, kd, b):
    """The China register flow (GF002-9002 / OpenR2 CN) for a backward side that asks for the calling number
    after the first called digit and knows the called number's length."""
    flow = [("tx", called[0]), ("rx", "A6"), ("tx", str(ka))]
    for d in calling:
        flow += [("rx", "A1"), ("tx", d)]
    flow += [("rx", "A1"), ("tx", "F")]                       # I-15 ends the calling number
    for d in called[1:]:
        flow += [("rx", "A1"), ("tx", d)]
    flow += [("rx", "A3"), ("tx", str(kd)), ("rx", "B" + b)]
    return flow


def setup_call(rig):
    assert rig.out.call(CALLED, CALLING, ka=KA, kd=KD)
    assert rig.run(1000, until=lambda: "ringing" in names(rig.out) or "failed" in names(rig.out))


def test_call_answered_cleared_back_by_called_party(rig):
    setup_call(rig)
    res_in, res_out = rig.inc.result, rig.out.result
    # what crossed as MF tones is what was sent
    assert (res_in.called, res_in.calling, res_in.ka, res_in.kd) == (CALLED, CALLING, KA, KD)
    assert res_in.outcome == res_out.outcome == "free" and res_out.b_signal == "1"
    assert rig.out.register.log == expected_forward_flow(CALLED, CALLING, KA, KD, "1")
    assert rig.inc.line.state is S.SEIZE_ACK and rig.out.line.state is S.SEIZE_ACK
    assert rig.a.get_abcd(0, TS) == CHINA.code(BACKWARD, "seize_ack")
    assert rig.b.get_abcd(0, TS) == CHINA.code(FORWARD, "seize")
    rig.inc.answer()
    assert rig.run(10, until=lambda: rig.out.line.state is S.ANSWERED)
    rig.inc.hangup()                                           # clear-back
    assert rig.run(10, until=lambda: rig.out.line.state is S.CLEAR_BACK)
    rig.out.hangup()                                           # clear-forward, then the release guard
    assert rig.run(10, until=lambda: rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE)
    assert rig.out.line.history == [S.IDLE, S.SEIZED, S.SEIZE_ACK, S.ANSWERED, S.CLEAR_BACK, S.CLEAR_FWD, S.IDLE]
    assert rig.inc.line.history == [S.IDLE, S.SEIZED, S.SEIZE_ACK, S.ANSWERED, S.CLEAR_BACK, S.RELEASE_GUARD,
                                    S.IDLE]
    assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == CHINA.code(FORWARD, "idle")
    for ch in (rig.out, rig.inc):
        assert not ch.line.errors and "protocol_error" not in names(ch)


def test_register_flow_and_tones(rig):
    """The forward register's signal log follows the China flow computed from the inputs."""
    logs = []
    rig.out.listener = lambda ch, e, **k: logs.append(list(ch.register.log)) if e == "register_done" else None
    setup_call(rig)
    assert logs and logs[0] == expected_forward_flow(CALLED, CALLING, KA, KD, "1")


def test_call_cleared_forward_by_caller(rig):
    setup_call(rig)
    rig.inc.answer()
    assert rig.run(10, until=lambda: rig.out.line.state is S.ANSWERED)
    rig.out.hangup()
    assert rig.run(10, until=lambda: rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE)
    assert "clear_forward" in names(rig.inc)
    assert rig.out.line.history[-2:] == [S.CLEAR_FWD, S.IDLE]
    assert rig.inc.line.history[-3:] == [S.ANSWERED, S.RELEASE_GUARD, S.IDLE]
    assert not rig.out.line.errors and not rig.inc.line.errors


def test_busy_b2():
    rig = Rig(decide=lambda called, calling, ka, kd: "busy")
    try:
        setup_call(rig)
        assert rig.out.result.outcome == "busy" and rig.out.result.b_signal == "2"
        assert "failed" in names(rig.out)
        assert rig.run(20, until=lambda: rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE)
        assert S.ANSWERED not in rig.out.line.history
        assert not rig.out.line.errors and not rig.inc.line.errors
    finally:
        rig.close()


def test_called_number_ended_by_timeout():
    """No length rule: the backward side waits its end-of-number timeout, then pulses A3."""
    rules = NumberRules(default_length=None, end_timeout_ms=1000)
    rig = Rig(numbers=rules)
    try:
        setup_call(rig)
        assert rig.inc.result.called == CALLED and rig.inc.result.calling == CALLING
        assert rig.out.result.outcome == "free"
    finally:
        rig.close()


def test_far_end_never_acknowledges_seizure():
    rig = Rig(incoming=False)                                  # nobody on board 1: its ABCD stays idle
    try:
        t0 = rig.t
        assert rig.out.call(CALLED, CALLING)
        limit = CHINA.timer("seize_ack").seconds
        rig.run(int(limit / TICK) - 2)
        assert rig.out.line.state is S.SEIZED and not rig.out.line.errors        # the world clock is the base
        assert rig.run(5, until=lambda: rig.out.line.state is S.IDLE)
        assert limit - 0.1 <= rig.t - t0 <= limit + 0.2
        (err,) = rig.out.line.errors
        assert "seize-ack wait (OpenR2 1.3.3: 8000 ms)" in err.message and "protocol_error" in names(rig.out)
        rig.run(3)
        assert rig.b.get_abcd(0, TS) == CHINA.code(FORWARD, "idle")             # back to idle on the wire
    finally:
        rig.close()


def test_unexpected_abcd_codes(rig):
    raw_b = rig.b.spans[0].timeslot(2)
    raw_a = rig.a.spans[0].timeslot(3)
    out2 = rig.A.add(0, 2, "out")
    in3 = rig.B.add(0, 3, "in")
    raw_b.set_abcd(0b0101)                                     # not a China backward code
    raw_a.set_abcd(0b0111)                                     # backward answer code sent forward
    rig.run(3)
    assert out2.line.state is S.IDLE and "0101" in out2.line.errors[-1].message
    assert in3.line.state is S.IDLE and "0111" in in3.line.errors[-1].message
    raw_b.set_abcd(CHINA.code(BACKWARD, "blocked"))
    rig.run(3)
    assert out2.line.state is S.BLOCKED and not out2.call(CALLED)
    raw_b.set_abcd(CHINA.code(BACKWARD, "idle"))
    rig.run(3)
    assert out2.line.state is S.IDLE
    # the main channel still works after all that
    setup_call(rig)
    assert rig.out.result.outcome == "free"


@pytest.mark.parametrize("length_rule", [True, False])
def test_itu_variant_is_data_same_machines(length_rule):
    """The ITU variant (Q.421 codes with C,D = 01, 2-of-6 backward signals, I-15 end of pulsing) runs on the same
    machines: only the tables differ."""
    rules = NumberRules(default_length=len(CALLED) if length_rule else None, end_timeout_ms=1000)
    rig = Rig(numbers=rules, variant=ITU)
    try:
        # hwsim's spans start sending China idle (1011): until each ITU machine's idle (1001) has crossed, the
        # other side sees a code ITU does not have -- a protocol error, logged and ignored, as it should be
        for ch in (rig.out, rig.inc):
            assert all("ABCD 1011" in e.message for e in ch.line.errors)
            ch.line.errors.clear()
        setup_call(rig)
        assert rig.a.get_abcd(0, TS) == ITU.code(BACKWARD, "seize_ack") == 0b1101
        assert rig.b.get_abcd(0, TS) == ITU.code(FORWARD, "seize") == 0b0001
        res = rig.inc.result
        assert (res.called, res.calling, res.ka, res.kd) == (CALLED, "", None, KD)
        assert rig.out.result.outcome == "free" and rig.out.result.b_signal == ITU.b_signal_for("free") == "6"
        flow = []
        for i, d in enumerate(CALLED):
            flow += [("tx", d), ("rx", "A1")]
        if not length_rule:
            flow += [("tx", "F"), ("rx", "A1")]                 # I-15 end of pulsing
        flow[-1] = ("rx", "A3")
        flow += [("tx", str(KD)), ("rx", "B6")]
        assert rig.out.register.log == flow
        rig.inc.answer()
        assert rig.run(10, until=lambda: rig.out.line.state is S.ANSWERED)
        rig.out.hangup()
        assert rig.run(10, until=lambda: rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE)
        assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == ITU.code(FORWARD, "idle") == 0b1001
        assert not rig.out.line.errors and not rig.inc.line.errors
    finally:
        rig.close()


def test_caller_abandons_during_register_signalling(rig):
    assert rig.out.call(CALLED, CALLING)
    assert rig.run(200, until=lambda: rig.inc.register is not None and len(rig.inc.register.calling) >= 3)
    assert not rig.inc.answer() and "still running" in rig.inc.line.errors.pop().message
    rig.out.hangup()                                           # clear-forward in the middle of the calling number
    assert rig.run(10, until=lambda: rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE)
    assert rig.out.result.outcome == rig.inc.result.outcome == "aborted"
    rig.run(3)
    for board in (rig.a, rig.b):                               # no MF tone left on the wire either way
        col = alaw_decode(board.read_block()[:, rig.out.number])
        assert np.abs(col.astype(int)).max() < 64
    assert rig.out.gen.signal is None and rig.inc.gen.signal is None
    assert rig.A.bank.get_mask(rig.out.number) == 0 and rig.B.bank.get_mask(rig.inc.number) == 0
    assert not rig.out.line.errors and not rig.inc.line.errors


def test_seizure_without_digits_forces_release(rig):
    """A far end that seizes and never sends a digit: mf_back_cycle expires, the incoming side forces
    release (0011), the far end clears forward, the channel is idle again."""
    raw = rig.a.spans[0].timeslot(5)
    inc5 = rig.B.add(0, 5, "in")
    raw.set_abcd(CHINA.code(FORWARD, "seize"))
    assert rig.run(5, until=lambda: rig.a.get_abcd(0, 5) == CHINA.code(BACKWARD, "seize_ack"))
    cycle = CHINA.timer("mf_back_cycle").seconds
    assert not rig.run(int(cycle / TICK) - 5, until=lambda: inc5.line.state is not S.SEIZE_ACK)
    assert rig.run(10, until=lambda: rig.a.get_abcd(0, 5) == CHINA.code(BACKWARD, "forced_release"))
    assert inc5.result.outcome == "failed" and "mf_back_cycle" in inc5.result.detail
    assert inc5.line.state is S.FORCED_RELEASE
    raw.set_abcd(CHINA.code(FORWARD, "clear_forward"))
    assert rig.run(5, until=lambda: inc5.line.state is S.IDLE)
    assert rig.run(5, until=lambda: rig.a.get_abcd(0, 5) == CHINA.code(BACKWARD, "idle"))


def test_no_answer_timer(rig):
    setup_call(rig)                                            # B1, but the called party never answers
    t0 = rig.t
    limit = CHINA.timer("answer").seconds
    assert not rig.run(int(limit / TICK) - 5, until=lambda: rig.out.line.state is not S.SEIZE_ACK)
    assert rig.run(10, until=lambda: rig.out.line.state is S.CLEAR_FWD or rig.out.line.state is S.IDLE)
    assert limit - 0.2 <= rig.t - t0 <= limit + 0.2
    assert "answer wait (OpenR2 1.3.3: 60000 ms)" in rig.out.line.errors[0].message
    assert rig.run(10, until=lambda: rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE)


def test_resync_after_lost_abcd_events(rig):
    """After an event overrun the runner polls ABCD: a change whose event was lost is still seen."""
    rig.b.spans[0].timeslot(TS).set_abcd(CHINA.code(BACKWARD, "blocked"))
    rig.world.tick(2)
    rig.a.events()                                             # the AbcdEvent is lost
    assert rig.out.line.state is S.IDLE
    rig.A.resync()
    assert rig.out.line.state is S.BLOCKED


def test_add_checks(rig):
    with pytest.raises(ValueError, match="timeslot 16"):
        rig.A.add(0, 16, "out")
    with pytest.raises(ValueError, match="already has a out channel"):
        rig.A.add(0, TS, "in")
    with pytest.raises(ValueError, match="role"):
        rig.A.add(0, 9, "sideways")
    with pytest.raises(ValueError, match="digits 0-9"):
        rig.out.call("12A4")


def test_cable_cut_releases_and_recovers(rig):
    setup_call(rig)
    rig.inc.answer()
    assert rig.run(10, until=lambda: rig.out.line.state is S.ANSWERED)
    rig.world.cut(0, 0)
    assert rig.run(10, until=lambda: rig.out.line.state is S.OUT_OF_SERVICE and
                   rig.inc.line.state is S.OUT_OF_SERVICE)
    for ch in (rig.out, rig.inc):
        (info,) = [i for e, i in ch.events if e == "out_of_service"]
        assert info["previous"] is S.ANSWERED and "LOS" in info["reason"]
    assert not rig.out.call(CALLED)                           # no seizure while the span is down
    assert rig.b.get_abcd(0, TS) is None                     # G.704 5.1.3: no multiframe alignment, no ABCD
    rig.world.restore(0, 0)
    assert rig.run(50, until=lambda: rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE)
    rig.run(5)
    assert rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE
    rig.out.events.clear()
    setup_call(rig)                                            # and the channel works again
    assert rig.out.result.outcome == "free"


def test_caller_gives_up_before_seize_ack(rig):
    assert rig.out.call(CALLED, CALLING)
    rig.out.hangup()                                           # in the same tick as the seizure
    assert rig.run(20, until=lambda: rig.out.line.state is S.IDLE and rig.inc.line.state is S.IDLE)
    assert S.CLEAR_FWD in rig.out.line.history and S.BLOCKED not in rig.out.line.history
    assert "seize_ack" not in names(rig.out) and rig.out.register is None
    assert not rig.out.line.errors and not rig.inc.line.errors


def test_forward_side_that_never_clears_after_b2_is_released_by_the_clear_forward_wait():
    """ctid's incoming side refuses with B2; a forward side that then never clears forward (simulated by
    disabling our outgoing side's release) is forced to release when the clear-forward wait (ITU-T Q.118 timed
    release) expires, the channel is blocked at the second expiry, and is back in use when the forward side
    finally clears. Time is the world's (the task.Clock advances 20 ms per tick)."""
    rig = Rig(decide=lambda called, calling, ka, kd: "busy")
    spec = CHINA.timer("clear_forward")
    try:
        rig.out.line.release = lambda reason="": None          # a forward side that never clears forward
        setup_call(rig)
        assert rig.inc.result.outcome == "busy" and rig.inc.line.awaiting_clear_forward == "after B2 (busy)"
        t0 = rig.t
        assert rig.run(int(spec.seconds / TICK) + 10, until=lambda: rig.inc.line.state is S.FORCED_RELEASE)
        assert spec.seconds - 0.1 <= rig.t - t0 <= spec.seconds + 0.1
        assert rig.run(5, until=lambda: rig.out.line.state is S.FORCED_RELEASE)     # seen on the wire
        assert "forced_release" in names(rig.inc)
        assert rig.run(int(spec.seconds / TICK) + 10, until=lambda: rig.inc.line.state is S.BLOCKED)
        errors = [str(e) for e in rig.inc.line.errors]
        assert len(errors) == 2 and all("clear-forward wait" in e and "Q.118" in e for e in errors)
        assert "after B2 (busy)" in errors[0]
        assert rig.run(5, until=lambda: rig.a.get_abcd(0, TS) == CHINA.code(BACKWARD, "blocked"))
        del rig.out.line.release                                  # the forward side clears at last
        rig.out.line.release("late")
        assert rig.run(10, until=lambda: rig.inc.line.state is S.IDLE and rig.out.line.state is S.IDLE)
        assert rig.a.get_abcd(0, TS) == rig.b.get_abcd(0, TS) == CHINA.code(FORWARD, "idle")
    finally:
        rig.close()


@pytest.mark.parametrize("far_role", ["in", "out"])
def test_cable_connect_at_startup_no_protocol_error(far_role):
    """Start-up: both boards' channels exist before the cable connects (a daemon starting, the far exchange
    already running). Until its span is up each end sends its out-of-service code: an incoming channel
    blocked (1111), an outgoing one idle. Our incoming channel therefore sees the far end's 1111 when the far
    end also waits in the incoming role (both-way circuits) for the few multiframes between our multiframe
    alignment and the far end's own span-up: Q.421 a_f b_f = 11, not a forward code of China No.1 but not a
    protocol error either (the far end is unavailable). No protocol_error on any channel, every line IDLE."""
    world = World(7)
    for b in (0, 1):
        world.create_board(b, spans=1)
    a = open_board("hwsim", 0, world=world, span_config="cas")
    b = open_board("hwsim", 1, world=world, span_config="cas")
    clock = task.Clock()
    A, B = CasBoard(a, clock), CasBoard(b, clock)
    tss = (1, 2, 16 + 1, 31)
    ours = {ts: A.add(0, ts, "in") for ts in tss}
    theirs = {ts: B.add(0, ts, far_role) for ts in tss}
    for _ in range(3):
        world.tick(1)
        clock.advance(TICK)
        A.step()
        B.step()
    assert all(c.line.state is S.OUT_OF_SERVICE for c in ours.values())
    world.cable(0, 0, 1, 0)
    for _ in range(50):
        world.tick(1)
        clock.advance(TICK)
        A.step()
        B.step()
    try:
        for ts in tss:
            for c in (ours[ts], theirs[ts]):
                assert "protocol_error" not in names(c), (ts, c.events)
                assert not c.line.errors
                assert c.line.state is S.IDLE
            assert not ours[ts].line.far_blocked
            seen = names(ours[ts])
            assert seen[:2] == ["out_of_service", "in_service"]
            # the far end's blocking while it was still down, then its idle (only a far end in the incoming role)
            if far_role == "in":
                assert seen[2:] == ["far_blocked", "far_unblocked"]
            else:
                assert seen[2:] == []
        # and a call still works afterwards (our side incoming, theirs outgoing after a role change)
        if far_role == "out":
            o, i = theirs[1], ours[1]
            i.decide = lambda *args: "free"
            i.numbers = NumberRules(default_length=3)
            assert o.call("114", "13800138000")
            for _ in range(400):
                world.tick(1)
                clock.advance(TICK)
                A.step()
                B.step()
                if i.result is not None:
                    break
            assert i.result is not None and i.result.called == "114"
    finally:
        world.close()


def test_far_end_fault_code_on_a_seized_channel_is_still_an_error():
    """a_f b_f = 11 is accepted as 'far end unavailable' only on an idle (or blocked) incoming channel; during
    a call it has no meaning and stays a protocol error."""
    from ctid.signaling.china1.line import IncomingLine

    class Fake:
        def __init__(self):
            self.sent = []

        def set_abcd(self, v):
            self.sent.append(v)

    clock = task.Clock()
    ln = IncomingLine(CHINA, clock, Fake(), name="t")
    ln.on_abcd(CHINA.code(FORWARD, "seize"))
    assert ln.state is S.SEIZE_ACK
    ln.on_abcd(CHINA.code(BACKWARD, "blocked"))
    assert ln.errors and "1111" in str(ln.errors[-1])
    ln2 = IncomingLine(CHINA, clock, Fake(), name="t2")
    ln2.on_abcd(0b1111)
    assert ln2.far_blocked and not ln2.errors and ln2.state is S.IDLE
    ln2.on_abcd(CHINA.code(FORWARD, "seize"))         # a seizure after it: the far end is back
    assert ln2.state is S.SEIZE_ACK and not ln2.far_blocked and not ln2.errors
    ln3 = IncomingLine(CHINA, clock, Fake(), name="t3")
    ln3.on_abcd(0b0101)                                # still unknown: an error as before
    assert ln3.errors and not ln3.far_blocked
