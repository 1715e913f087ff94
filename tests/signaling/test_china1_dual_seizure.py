"""Dual seizure on a both-way circuit, line machine level: an outgoing line in SEIZED that receives the far end's
forward seizing signal instead of a seize-acknowledgement ([VBD] 4.4, see ctid/signaling/china1/line.py), one
test per transition of each policy (back_off, keep, yield), against a fake driver channel and a task.Clock."""
from __future__ import annotations

import pytest
from twisted.internet import task

from ctid.signaling.china1 import BACKWARD, CHINA, FORWARD, OutgoingLine, LineState as S
from ctid.signaling.china1.line import DUAL_SEIZURE_WAIT
from ctid.signaling.china1.variant import ITU


class Chan:
    def __init__(self):
        self.sent = []

    def set_abcd(self, v):
        self.sent.append(v)


def seized(policy, variant=CHINA):
    clock, ch, ev = task.Clock(), Chan(), []
    line = OutgoingLine(variant, clock, ch, name="out", listener=lambda e, **k: ev.append((e, k)),
                        dual_seizure=policy)
    line.on_abcd(variant.code(BACKWARD, "idle"))
    assert line.seize() and line.state is S.SEIZED
    return line, clock, ch, ev


def names(ev):
    return [e for e, _ in ev if e != "state"]


def test_back_off_both_release():
    line, clock, ch, ev = seized("back_off")
    clock.advance(1.0)
    line.on_abcd(CHINA.code(FORWARD, "seize"))          # the far end seized too
    assert ("dual_seizure", {"policy": "back_off"}) in ev
    assert line.state is S.CLEAR_FWD and ch.sent[-1] == CHINA.code(FORWARD, "clear_forward")
    assert "seize_ack" not in line.timers.running()
    line.on_abcd(CHINA.code(FORWARD, "idle"))           # the far end backed off too: its idle is our release guard
    assert line.state is S.IDLE and names(ev)[-1] == "idle"
    assert line.timers.running() == [] and not line.errors
    clock.advance(10)                                     # no timer left to fire
    assert line.state is S.IDLE and not line.errors
    assert line.history == [S.IDLE, S.SEIZED, S.CLEAR_FWD, S.IDLE]


def test_back_off_far_end_keeps_the_circuit():
    line, clock, ch, ev = seized("back_off")
    line.on_abcd(CHINA.code(FORWARD, "seize"))
    assert line.state is S.CLEAR_FWD
    clock.advance(DUAL_SEIZURE_WAIT.seconds - 0.01)
    assert line.state is S.CLEAR_FWD
    clock.advance(0.02)                                   # still seizing after the back-off wait: it kept it
    assert line.state is S.IDLE
    assert ev[-1] == ("idle", {"reason": "dual seizure: the far end kept the circuit", "dual_seizure": True})
    assert line.timers.running() == [] and not line.errors


def test_back_off_far_end_blocks_after_release():
    """After backing off, a far end that neither idles nor keeps seizing: the release-guard wait decides."""
    line, clock, ch, ev = seized("back_off")
    line.on_abcd(CHINA.code(FORWARD, "seize"))
    line.on_abcd(CHINA.code(BACKWARD, "blocked"))
    clock.advance(DUAL_SEIZURE_WAIT.seconds + 0.01)
    assert line.state is S.CLEAR_FWD                      # not a seizure any more: nothing kept
    clock.advance(CHINA.timer("release_guard").seconds)
    assert line.state is S.BLOCKED and len(line.errors) == 1


def test_keep_waits_for_the_far_end_to_acknowledge():
    line, clock, ch, ev = seized("keep")
    spec = CHINA.timer("seize_ack")
    clock.advance(spec.seconds - 1)
    line.on_abcd(CHINA.code(FORWARD, "seize"))
    assert ("dual_seizure", {"policy": "keep"}) in ev
    assert line.state is S.SEIZED and ch.sent[-1] == CHINA.code(FORWARD, "seize") and line.dual_seized
    clock.advance(spec.seconds - 0.1)                     # the seize-ack wait restarted at the detection
    assert line.state is S.SEIZED
    line.on_abcd(CHINA.code(BACKWARD, "idle"))            # the far end on its way to the incoming role
    assert line.state is S.SEIZED and not line.errors
    line.on_abcd(CHINA.code(BACKWARD, "seize_ack"))
    assert line.state is S.SEIZE_ACK and names(ev)[-1] == "seize_ack" and not line.errors


def test_keep_times_out_when_the_far_end_does_not_yield():
    line, clock, ch, ev = seized("keep")
    line.on_abcd(CHINA.code(FORWARD, "seize"))
    clock.advance(CHINA.timer("seize_ack").seconds)
    assert line.state is S.IDLE and ch.sent[-1] == CHINA.code(FORWARD, "clear_forward")
    assert len(line.errors) == 1 and "seize" in line.errors[0].message


def test_keep_idle_without_dual_seizure_is_still_an_error():
    line, clock, ch, ev = seized("keep")
    line.on_abcd(CHINA.code(BACKWARD, "answer"))
    line.on_abcd(CHINA.code(BACKWARD, "idle"))
    assert line.state is S.SEIZED and len(line.errors) == 2


def test_yield_gives_the_circuit_up_at_once():
    line, clock, ch, ev = seized("yield")
    line.on_abcd(CHINA.code(FORWARD, "seize"))
    assert line.state is S.IDLE and ch.sent[-1] == CHINA.code(FORWARD, "clear_forward")
    assert names(ev)[-2:] == ["dual_seizure", "idle"] and ev[-1][1]["dual_seizure"] is True
    assert line.timers.running() == [] and not line.errors


def test_pending_release_is_dropped_by_back_off():
    line, clock, ch, ev = seized("back_off")
    line.release("hangup before seize-ack")
    assert line.release_pending
    line.on_abcd(CHINA.code(FORWARD, "seize"))
    assert line.release_pending is None and line.state is S.CLEAR_FWD
    line.on_abcd(CHINA.code(FORWARD, "idle"))
    assert line.state is S.IDLE and not line.errors


def test_itu_variant_detects_its_own_seizing_code():
    line, clock, ch, ev = seized("back_off", ITU)
    seize = ITU.code(FORWARD, "seize")
    assert not ITU.meanings(BACKWARD, seize)              # 0001 is no backward code of Q.421
    line.on_abcd(seize)
    assert line.state is S.CLEAR_FWD and ("dual_seizure", {"policy": "back_off"}) in ev and not line.errors
    line.on_abcd(ITU.code(FORWARD, "idle"))
    assert line.state is S.IDLE


def test_forced_release_after_seize_ack_is_not_dual_seizure():
    """China's forward seize code (0011) is its backward forced release: after the seize-ack it is that."""
    line, clock, ch, ev = seized("keep")
    line.on_abcd(CHINA.code(BACKWARD, "seize_ack"))
    line.on_abcd(CHINA.code(BACKWARD, "forced_release"))
    assert "dual_seizure" not in names(ev) and "forced_release" in names(ev)
    assert line.state is S.CLEAR_FWD


def test_new_seizure_clears_the_dual_seizure_mark():
    line, clock, ch, ev = seized("keep")
    line.on_abcd(CHINA.code(FORWARD, "seize"))
    clock.advance(CHINA.timer("seize_ack").seconds)      # far end never yielded: IDLE
    line.on_abcd(CHINA.code(BACKWARD, "idle"))
    assert line.seize() and not line.dual_seized


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="dual_seizure must be one of back_off, keep, yield"):
        OutgoingLine(CHINA, task.Clock(), Chan(), dual_seizure="fight")


def incoming(both_way, variant=CHINA):
    from ctid.signaling.china1 import IncomingLine
    clock, ch, ev = task.Clock(), Chan(), []
    line = IncomingLine(variant, clock, ch, name="in", listener=lambda e, **k: ev.append((e, k)))
    line.both_way = both_way
    line.on_abcd(variant.code(FORWARD, "idle"))
    line.on_abcd(variant.code(FORWARD, "seize"))
    assert line.state is S.SEIZE_ACK and ch.sent[-1] == variant.code(BACKWARD, "seize_ack")
    return line, clock, ch, ev


@pytest.mark.parametrize("variant", [CHINA, ITU], ids=["cn", "itu"])
def test_both_way_incoming_far_end_acknowledging_ends_a_stale_seizure(variant):
    """Both ends yielded: each serves the seizure the other withdrew and receives the other's seize-ack."""
    line, clock, ch, ev = incoming(True, variant)
    line.on_abcd(variant.code(BACKWARD, "seize_ack"))
    assert line.state is S.IDLE and ch.sent[-1] == variant.code(BACKWARD, "idle")
    assert names(ev)[-2:] == ["clear_forward", "idle"] and not line.errors
    assert line.timers.running() == []
    line.on_abcd(variant.code(FORWARD, "idle"))           # the far end takes our idle as clear-forward, idles
    assert line.state is S.IDLE and not line.errors


def test_incoming_only_line_keeps_treating_1111_as_a_protocol_error():
    line, clock, ch, ev = incoming(False)
    line.on_abcd(CHINA.code(BACKWARD, "seize_ack"))
    assert line.state is S.SEIZE_ACK and len(line.errors) == 1


# -- two hwsim ends (CasBoard on each of two cabled boards), both seizing timeslot 1 in the same 20 ms block ----
class Pair:
    def __init__(self, pol_a, pol_b, variant=CHINA):
        from ctid.drivers import open_board
        from ctid.drivers.hwsim import World
        from ctid.signaling.china1 import CasBoard
        self.world = World(5)
        for b in (0, 1):
            self.world.create_board(b, spans=1)
        self.world.cable(0, 0, 1, 0)
        self.a = open_board("hwsim", 0, world=self.world, span_config="cas")
        self.b = open_board("hwsim", 1, world=self.world, span_config="cas")
        self.world.tick(5)
        self.a.events(), self.b.events()
        self.clock = task.Clock()
        self.variant = variant
        self.A, self.B = CasBoard(self.a, self.clock, variant), CasBoard(self.b, self.clock, variant)
        self.oa = self.A.add(0, 1, "out", dual_seizure=pol_a)
        self.ob = self.B.add(0, 1, "out", dual_seizure=pol_b)
        self.run(5)
        # hwsim's span starts with 1011 on every timeslot, not an ITU code: errors of the start-up are not ours
        for ch in (self.oa, self.ob):
            ch.line.errors.clear()
            ch.events.clear()

    def run(self, n=1, until=None):
        for _ in range(n):
            self.world.tick(1)
            self.clock.advance(0.02)
            self.A.step()
            self.B.step()
            if until is not None and until():
                return True
        return until is None

    def rx(self, board):
        return board.spans[0].timeslot(1).get_abcd()

    def close(self):
        self.world.close()


def test_hwsim_back_off_both_ends_return_to_idle():
    p = Pair("back_off", "back_off")
    try:
        assert p.oa.call("22220001") and p.ob.call("11110001")      # same block
        assert p.run(50, until=lambda: p.oa.line.state is S.IDLE and p.ob.line.state is S.IDLE)
        for ch in (p.oa, p.ob):
            evs = [e for e, _ in ch.events]
            assert evs[0] == "dual_seizure" and evs[-1] == "idle" and "seize_ack" not in evs
            assert ch.line.history == [S.IDLE, S.SEIZED, S.CLEAR_FWD, S.IDLE] and not ch.line.errors
        p.run(5)
        idle = CHINA.code(FORWARD, "idle")
        assert p.rx(p.a) == idle and p.rx(p.b) == idle
        assert p.oa.line.state is S.IDLE and p.ob.line.state is S.IDLE
    finally:
        p.close()


def test_hwsim_keep_against_yield_the_kept_call_completes():
    from ctid.signaling.china1 import NumberRules
    p = Pair("keep", "yield")
    try:
        assert p.oa.call("22220001", "1068880000") and p.ob.call("11110001")
        assert p.run(10, until=lambda: ("idle", {"reason": "dual seizure: yielded", "dual_seizure": True})
                     in p.ob.events)
        assert p.oa.line.state is S.SEIZED and p.oa.line.dual_seized
        # the yielding end serves the far end's call on the timeslot in the incoming role
        inc = p.B.replace(0, 1, "in", numbers=NumberRules(default_length=8), both_way=True)
        assert inc.line.state is S.SEIZE_ACK
        assert p.run(400, until=lambda: any(e == "offered" for e, _ in inc.events))
        offered = [i for e, i in inc.events if e == "offered"][0]["result"]
        assert offered.called == "22220001" and offered.calling == "1068880000"
        assert inc.answer()
        assert p.run(20, until=lambda: p.oa.line.state is S.ANSWERED)
        p.oa.hangup()
        assert p.run(20, until=lambda: p.oa.line.state is S.IDLE and inc.line.state is S.IDLE)
        p.run(5)
        idle = CHINA.code(FORWARD, "idle")
        assert p.rx(p.a) == idle and p.rx(p.b) == idle
        assert not p.oa.line.errors and not inc.line.errors and not p.ob.line.errors
        assert [e for e, _ in p.oa.events][:2] == ["dual_seizure", "seize_ack"]
    finally:
        p.close()


def test_hwsim_itu_variant_back_off():
    p = Pair("back_off", "back_off", ITU)
    try:
        assert p.oa.call("22220001") and p.ob.call("11110001")
        assert p.run(50, until=lambda: p.oa.line.state is S.IDLE and p.ob.line.state is S.IDLE)
        assert all(ch.events[0][0] == "dual_seizure" and not ch.line.errors for ch in (p.oa, p.ob))
        p.run(5)
        assert p.rx(p.a) == ITU.code(FORWARD, "idle") == p.rx(p.b)
    finally:
        p.close()


def test_far_seizure_already_received_when_we_seize_is_dual_seizure():
    """The far end's seizure arrived while the line was idle (the owner made the outgoing line just then): no
    ABCD change follows our seizure, the dual seizure is still detected, after the command returned."""
    clock, ch, ev = task.Clock(), Chan(), []
    line = OutgoingLine(CHINA, clock, ch, name="out", listener=lambda e, **k: ev.append((e, k)),
                        dual_seizure="back_off")
    line.on_abcd(CHINA.code(FORWARD, "seize"))           # read in IDLE (a backward forced release: logged)
    assert line.seize() and "dual_seizure" not in names(ev)
    clock.advance(0)
    assert ("dual_seizure", {"policy": "back_off"}) in ev and line.state is S.CLEAR_FWD
    line.on_abcd(CHINA.code(FORWARD, "idle"))
    assert line.state is S.IDLE


def test_no_deferred_dual_seizure_when_the_far_end_idled_meanwhile():
    clock, ch, ev = task.Clock(), Chan(), []
    line = OutgoingLine(CHINA, clock, ch, listener=lambda e, **k: ev.append((e, k)))
    line.on_abcd(CHINA.code(FORWARD, "seize"))
    line.seize()
    line.on_abcd(CHINA.code(BACKWARD, "seize_ack"))      # it was acknowledged after all
    clock.advance(0)
    assert "dual_seizure" not in names(ev) and line.state is S.SEIZE_ACK
