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
