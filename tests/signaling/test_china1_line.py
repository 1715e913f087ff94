"""Line-signalling state machines against a fake driver channel and a task.Clock."""
from __future__ import annotations

import pytest
from twisted.internet import task

from ctid.signaling.china1 import BACKWARD, CHINA, FORWARD, IncomingLine, LineState as S, OutgoingLine

F = lambda n: CHINA.code(FORWARD, n)      # noqa: E731
B = lambda n: CHINA.code(BACKWARD, n)     # noqa: E731


class Chan:
    def __init__(self, fail=False):
        self.sent = []
        self.fail = fail

    def set_abcd(self, v):
        if self.fail:
            raise RuntimeError("driver down")
        self.sent.append(v)


def out_line():
    clock, ch, ev = task.Clock(), Chan(), []
    line = OutgoingLine(CHINA, clock, ch, name="out", listener=lambda e, **k: ev.append(e))
    line.on_abcd(B("idle"))
    return line, clock, ch, ev


def in_line():
    clock, ch, ev = task.Clock(), Chan(), []
    line = IncomingLine(CHINA, clock, ch, name="in", listener=lambda e, **k: ev.append(e))
    line.on_abcd(F("idle"))
    return line, clock, ch, ev


def test_outgoing_call_cleared_back():
    line, clock, ch, ev = out_line()
    assert line.seize() and ch.sent[-1] == F("seize") and line.state is S.SEIZED
    line.on_abcd(B("seize_ack"))
    assert line.state is S.SEIZE_ACK and "seize_ack" in ev
    clock.advance(9)                              # the seize-ack timer was stopped
    assert line.state is S.SEIZE_ACK and not line.errors
    line.expect_answer()
    line.on_abcd(B("answer"))
    assert line.state is S.ANSWERED
    line.on_abcd(B("clear_back"))
    assert line.state is S.CLEAR_BACK and "clear_back" in ev
    line.release()
    assert ch.sent[-1] == F("clear_forward") and line.state is S.CLEAR_FWD
    line.on_abcd(B("release_guard"))
    assert line.state is S.IDLE and not line.errors
    assert line.history == [S.IDLE, S.SEIZED, S.SEIZE_ACK, S.ANSWERED, S.CLEAR_BACK, S.CLEAR_FWD, S.IDLE]


def test_outgoing_seize_ack_timeout():
    line, clock, ch, ev = out_line()
    line.seize()
    spec = CHINA.timer("seize_ack")
    clock.advance(spec.seconds - 0.01)
    assert line.state is S.SEIZED and not line.errors
    clock.advance(0.02)
    assert line.state is S.IDLE and ch.sent[-1] == F("clear_forward")
    assert len(line.errors) == 1 and spec.label in line.errors[0].message


def test_outgoing_answer_timeout_clears_forward():
    line, clock, ch, ev = out_line()
    line.seize(); line.on_abcd(B("seize_ack")); line.expect_answer()
    clock.advance(CHINA.timer("answer").seconds + 0.01)
    assert line.state is S.CLEAR_FWD and "answer wait" in line.errors[0].message
    clock.advance(CHINA.timer("release_guard").seconds + 0.01)    # far end never returns to idle, still 1111
    assert line.state is S.BLOCKED and len(line.errors) == 2


def test_outgoing_blocking_and_unknown_codes():
    line, clock, ch, ev = out_line()
    line.on_abcd(0b0101)                         # not a backward China code
    assert line.state is S.IDLE and "not a backward code" in line.errors[-1].message
    line.on_abcd(B("answer"))                    # a real code, but meaningless when idle
    assert line.state is S.IDLE and "answer" in line.errors[-1].message
    line.on_abcd(B("blocked"))
    assert line.state is S.BLOCKED
    assert not line.seize() and "BLOCKED" in line.errors[-1].message
    line.on_abcd(B("idle"))
    assert line.state is S.IDLE and line.seize()
    line.on_abcd("junk")                         # not even an int
    assert "not 0..15" in line.errors[-1].message


def test_outgoing_answer_before_seize_ack_is_ignored():
    line, clock, ch, ev = out_line()
    line.seize()
    line.on_abcd(B("answer"))
    assert line.state is S.SEIZED and line.errors
    line.on_abcd(B("seize_ack"))
    assert line.state is S.SEIZE_ACK


@pytest.mark.parametrize("when", ["setup", "answered"])
def test_outgoing_backward_drops_to_idle(when):
    line, clock, ch, ev = out_line()
    line.seize(); line.on_abcd(B("seize_ack"))
    if when == "answered":
        line.on_abcd(B("answer"))
    line.on_abcd(B("idle"))
    assert line.state is S.IDLE and ch.sent[-1] == F("clear_forward") and line.errors


def test_outgoing_forced_release():
    line, clock, ch, ev = out_line()
    line.seize(); line.on_abcd(B("seize_ack")); line.on_abcd(B("answer"))
    line.on_abcd(B("forced_release"))
    assert S.FORCED_RELEASE in line.history and line.state is S.CLEAR_FWD and ch.sent[-1] == F("clear_forward")
    line.on_abcd(B("idle"))
    assert line.state is S.IDLE and not line.errors


def test_driver_failure_is_an_error_not_an_exception():
    clock = task.Clock()
    line = OutgoingLine(CHINA, clock, Chan(fail=True))
    assert "driver refused" in line.errors[0].message


def test_incoming_call_cleared_forward():
    line, clock, ch, ev = in_line()
    line.on_abcd(F("seize"))
    assert line.state is S.SEIZE_ACK and ch.sent[-1] == B("seize_ack") and "seized" in ev
    assert line.answer() and ch.sent[-1] == B("answer")
    line.on_abcd(F("clear_forward"))
    assert line.state is S.IDLE and ch.sent[-1] == B("release_guard")
    assert S.RELEASE_GUARD in line.history and not line.errors


def test_incoming_clear_back_then_clear_forward():
    line, clock, ch, ev = in_line()
    line.on_abcd(F("seize")); line.answer()
    assert line.clear_back() and ch.sent[-1] == B("clear_back") and line.state is S.CLEAR_BACK
    line.on_abcd(F("clear_forward"))
    assert line.state is S.IDLE and ch.sent[-1] == B("idle")


def test_incoming_unexpected_and_blocked():
    line, clock, ch, ev = in_line()
    line.on_abcd(0b0111)                        # backward "answer" code arriving forward
    assert line.state is S.IDLE and line.errors
    assert not line.answer()                    # not seized: refused, logged
    line.on_abcd(F("idle"))
    assert line.block() and ch.sent[-1] == B("blocked")
    n = len(line.errors)
    line.on_abcd(F("seize"))
    assert line.state is S.BLOCKED and len(line.errors) == n + 1
    line.on_abcd(F("idle"))
    assert line.unblock() and ch.sent[-1] == B("idle")


def test_outgoing_release_before_seize_ack_waits_for_it():
    line, clock, ch, ev = out_line()
    line.seize()
    line.release("caller gave up")
    assert line.state is S.SEIZED and ch.sent[-1] == F("seize")       # not cleared yet
    line.on_abcd(B("seize_ack"))
    assert line.state is S.CLEAR_FWD and ch.sent[-1] == F("clear_forward") and "seize_ack" not in ev
    line.on_abcd(B("release_guard"))
    assert line.state is S.IDLE and not line.errors
    # and if the acknowledgement never comes, the seize-ack timer still ends it
    line.seize(); line.release()
    clock.advance(CHINA.timer("seize_ack").seconds + 0.01)
    assert line.state is S.IDLE and ch.sent[-1] == F("clear_forward") and len(line.errors) == 1


# ---------------------------------------------------------------------------------------------- clear-forward wait
# The incoming side's timed release (ITU-T Q.118): after this end is done with the call (clear-back, a group B
# refusal, a forced release) the forward side must clear forward. The timer is the variant's "clear_forward".
CFW = CHINA.timer("clear_forward")


def answered_in_line():
    line, clock, ch, ev = in_line()
    line.on_abcd(F("seize"))
    assert line.answer()
    return line, clock, ch, ev


def test_clear_forward_wait_is_named_and_cited():
    assert CFW.key == "clear_forward" and CFW.name == "clear-forward wait" and "Q.118" in CFW.source
    assert 10000 <= CFW.ms <= 32000                 # inside the range the citation gives
    assert "clear-forward wait" in CFW.label and str(CFW.ms) in CFW.label


def test_clear_forward_after_clear_back_in_time_stops_the_wait():
    line, clock, ch, ev = answered_in_line()
    assert line.clear_back() and line.awaiting_clear_forward == "after clear-back"
    assert len(clock.getDelayedCalls()) == 1
    clock.advance(CFW.seconds - 0.5)
    assert line.state is S.CLEAR_BACK and not line.errors
    line.on_abcd(F("clear_forward"))
    assert line.state is S.IDLE and ch.sent[-1] == B("release_guard")
    assert not clock.getDelayedCalls() and not line.errors and line.awaiting_clear_forward is None
    clock.advance(2 * CFW.seconds)
    assert line.state is S.IDLE and not line.errors


def test_no_clear_forward_after_clear_back_forces_release():
    line, clock, ch, ev = answered_in_line()
    line.clear_back()
    clock.advance(CFW.seconds - 0.01)
    assert line.state is S.CLEAR_BACK and not line.errors
    clock.advance(0.02)
    assert line.state is S.FORCED_RELEASE and ch.sent[-1] == B("forced_release")
    assert "forced_release" in ev
    msg = str(line.errors[-1])
    assert "clear-forward wait" in msg and "Q.118" in msg and "after clear-back" in msg and "forced release" in msg
    line.on_abcd(F("clear_forward"))              # the forward side reacts to the forced release
    assert line.state is S.IDLE and ch.sent[-1] == B("release_guard")
    assert not clock.getDelayedCalls() and len(line.errors) == 1


def test_forward_side_that_never_clears_leaves_the_channel_blocked_until_it_does():
    line, clock, ch, ev = answered_in_line()
    line.clear_back()
    clock.advance(CFW.seconds)                    # first expiry: forced release
    assert line.state is S.FORCED_RELEASE
    clock.advance(CFW.seconds - 0.01)
    assert line.state is S.FORCED_RELEASE
    clock.advance(0.02)                           # second expiry: out of use
    assert line.state is S.BLOCKED and ch.sent[-1] == B("blocked") and line.blocked_by_timer
    assert "blocked" in ev and "BLOCKED until the forward side clears" in str(line.errors[-1])
    assert not clock.getDelayedCalls()
    line.on_abcd(F("seize"))                      # still seized (unchanged code: nothing happens)
    assert line.state is S.BLOCKED
    line.on_abcd(F("clear_forward"))              # at last
    assert line.state is S.IDLE and ch.sent[-1] == B("idle") and not line.blocked_by_timer
    assert ev[-2:] == ["unblocked", "idle"]
    line.on_abcd(F("seize"))                      # the channel works again
    assert line.state is S.SEIZE_ACK


def test_no_clear_forward_after_busy_refusal():
    """After B2 the channel (CasChannel) starts the wait from SEIZE_ACK; the error says what was refused."""
    line, clock, ch, ev = in_line()
    line.on_abcd(F("seize"))
    line.await_clear_forward("after B2 (busy)")
    clock.advance(CFW.seconds + 0.01)
    assert line.state is S.FORCED_RELEASE and "after B2 (busy)" in str(line.errors[-1])


def test_clear_forward_wait_not_started_outside_a_call():
    line, clock, ch, ev = in_line()
    line.await_clear_forward("nothing")
    assert not clock.getDelayedCalls() and line.awaiting_clear_forward is None


def test_manual_block_is_not_lifted_by_forward_idle():
    line, clock, ch, ev = in_line()
    assert line.block()
    line.on_abcd(F("seize"))
    line.on_abcd(F("idle"))
    assert line.state is S.BLOCKED


def test_itu_without_forced_release_blocks_on_first_expiry():
    from ctid.signaling.china1.variant import ITU

    clock, ch = task.Clock(), Chan()
    line = IncomingLine(ITU, clock, ch, name="in")
    line.on_abcd(ITU.code(FORWARD, "idle"))
    line.on_abcd(ITU.code(FORWARD, "seize"))
    line.answer()
    line.clear_back()
    clock.advance(ITU.timer("clear_forward").seconds + 0.01)
    assert line.state is S.BLOCKED and ch.sent[-1] == ITU.code(BACKWARD, "blocked")
    line.on_abcd(ITU.code(FORWARD, "clear_forward"))
    assert line.state is S.IDLE
