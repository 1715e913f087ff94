"""Dual seizure on both-way China No.1 timeslots, daemon level: two ctid ends (each a BoardRuntime, a No1Trunk
and an Engine) on two hwsim boards cabled span to span, timeslots 1-3 both-way at both ends. Both ends
originate in the same 20 ms block, so both take timeslot 3 (the highest free both-way one) and each outgoing line
receives the other's seizure instead of a seize-acknowledgement.

Expectations come from the documented policies (docs/signaling-china1.md, "Dual seizure"): keep/yield and
back_off/keep: both calls complete, one on another timeslot (``channel.moved``), the far end's call on the
yielded timeslot; back_off/back_off: both ends withdraw and retry on the next timeslot down, meet again there,
and both calls end with cause 34 (no circuit available), CDR disposition failed. Afterwards every channel is
idle, back in the incoming role, and both ends send the idle ABCD code on every timeslot."""
from __future__ import annotations

import pytest
from twisted.internet import task

from ctid.config import parse_config
from ctid.core.engine import Engine
from ctid.core.errors import EngineError
from ctid.core.trunks import make_trunk
from ctid.drivers import open_board
from ctid.drivers.hwsim import World
from ctid.media.runtime import BoardRuntime
from ctid.signaling.china1 import CHINA, FORWARD, LineState

TICK = 0.02
TIMESLOTS = (1, 2, 3)
CONFIG = """
[daemon]
data_dir = "{tmp}"
[[boards]]
id = {board}
spans = 1
[[trunks]]
name = "{name}"
board = {board}
span = 0
signalling = "china1"
timeslots = "1-3"
direction = "both"
number_length = 8
calling = "{calling}"
dual_seizure = "{policy}"
"""


class End:
    """One ctid end: board, runtime, trunk, engine; answers every incoming call on the next tick."""

    def __init__(self, world, board_id, name, policy, calling, clock, tmp):
        self.name = name
        cfg = parse_config(CONFIG.format(tmp=tmp, board=board_id, name=name, calling=calling, policy=policy))
        self.board = open_board("hwsim", board_id, world=world, span_config="cas")
        self.rt = BoardRuntime(self.board, clock)
        self.trunk = make_trunk(cfg.trunks[0], self.board, self.rt, clock)
        self.cdrs = []
        self.eng = Engine(clock, [self.trunk], cdr_sink=lambda c: self.cdrs.append(c))
        self.trunk.start()
        self.events = []
        self.eng.subscribe(self.events.append)
        self.eng.subscribe(self._auto_answer)
        self.clock = clock

    def _auto_answer(self, ev):
        if ev["event"] == "channel.incoming":
            self.clock.callLater(0, self.eng.answer, ev["channel"])

    def ev(self, name, **match):
        return [e for e in self.events if e["event"] == name and all(e.get(k) == v for k, v in match.items())]

    def line(self, ts):
        return self.trunk.channels[ts].cas.line

    def errors(self):
        return {ts: [str(e) for e in self.line(ts).errors] for ts in TIMESLOTS if self.line(ts).errors}

    def all_idle(self):
        return all(ch.state == "idle" and ch.direction is None and ch.cas.role == "in"
                   and ch.cas.line.state is LineState.IDLE for ch in self.trunk.channels.values())

    def tx(self, ts):
        return self.board.spans[0].timeslot(ts).get_abcd()     # what the far end sends us (received ABCD)


class Link:
    def __init__(self, tmp, policy_a, policy_b):
        self.world = World(3)
        for b in (0, 1):
            self.world.create_board(b, spans=1)
        self.world.cable(0, 0, 1, 0)
        self.world.tick(5)                       # frame and multiframe alignment
        self.clock = task.Clock()
        self.clock.advance(self.world.seconds)
        self.a = End(self.world, 0, "a", policy_a, "1068880000", self.clock, tmp)
        self.b = End(self.world, 1, "b", policy_b, "1069990000", self.clock, tmp)
        self.run(1)
        assert self.a.all_idle() and self.b.all_idle()

    def run(self, seconds, until=None):
        for _ in range(int(round(seconds / TICK))):
            self.world.tick(1)
            self.clock.advance(TICK)
            self.a.rt.tick()
            self.b.rt.tick()
            if until is not None and until():
                return True
        return until is None

    def both_originate(self):
        """Both ends originate before the next block: the same both-way timeslot is seized at both ends."""
        box = {"a": [], "b": []}
        da = self.a.eng.originate("a", "22220001")
        db = self.b.eng.originate("b", "11110001")
        da.addBoth(box["a"].append)
        db.addBoth(box["b"].append)
        assert self.a.trunk.channels[3].state == "dialing" and self.b.trunk.channels[3].state == "dialing"
        return box

    def clear_all(self):
        for end in (self.a, self.b):
            for ch in end.trunk.channels.values():
                if ch.direction == "out" or (ch.direction == "in" and ch.state == "up"):
                    end.eng.hangup(ch.id)
        assert self.run(10, until=lambda: self.a.all_idle() and self.b.all_idle()), (
            [(c.id, c.state, c.cas.line) for e in (self.a, self.b) for c in e.trunk.channels.values()])
        self.run(0.2)                            # the last ABCD changes cross the span
        idle = CHINA.code(FORWARD, "idle")       # China sends 1011 for idle in both directions
        for end in (self.a, self.b):
            assert [end.tx(ts) for ts in TIMESLOTS] == [idle] * 3, end.name
            assert end.all_idle()

    def close(self):
        self.world.close()


@pytest.fixture
def tmpdir_str(tmp_path):
    return str(tmp_path)


def test_keep_and_yield_both_calls_complete(tmpdir_str):
    link = Link(tmpdir_str, "keep", "yield")
    try:
        a, b = link.a, link.b
        box = link.both_originate()
        assert link.run(20, until=lambda: box["a"] and box["b"]), (a.events[-4:], b.events[-4:])
        assert box["a"] == ["a/3"]               # the keeping end's call stays on the timeslot
        assert box["b"] == ["b/2"]               # the yielding end's call went on on the next one down
        assert b.ev("channel.moved") and b.ev("channel.moved")[0]["channel"] == "b/3"
        assert b.ev("channel.moved")[0]["to"] == "b/2" and b.ev("channel.moved")[0]["reason"] == "dual seizure"
        assert not a.ev("channel.moved")
        # each end took the other's call: b on the yielded timeslot 3, a on timeslot 2
        inc_b, inc_a = b.ev("channel.incoming"), a.ev("channel.incoming")
        assert [(e["channel"], e["called"], e["calling"]) for e in inc_b] == [("b/3", "22220001", "1068880000")]
        assert [(e["channel"], e["called"], e["calling"]) for e in inc_a] == [("a/2", "11110001", "1069990000")]
        assert a.trunk.dual_seizures == 1 and b.trunk.dual_seizures == 1
        assert not a.ev("channel.hangup") and not b.ev("channel.hangup")
        assert a.errors() == {} and b.errors() == {}
        link.clear_all()
        link.run(0.1)
        # CDRs: b's outgoing call is recorded on the circuit it used
        out_b = [c for c in b.cdrs if c["direction"] == "out"]
        assert [(c["channel"], c["disposition"], c["called"]) for c in out_b] == [("b/2", "answered", "11110001")]
        out_a = [c for c in a.cdrs if c["direction"] == "out"]
        assert [(c["channel"], c["disposition"]) for c in out_a] == [("a/3", "answered")]
        assert a.errors() == {} and b.errors() == {}
    finally:
        link.close()


def test_back_off_against_keep_takes_the_far_call_and_retries(tmpdir_str):
    link = Link(tmpdir_str, "back_off", "keep")
    try:
        a, b = link.a, link.b
        box = link.both_originate()
        assert link.run(20, until=lambda: box["a"] and box["b"]), (a.events[-4:], b.events[-4:])
        assert box["b"] == ["b/3"] and box["a"] == ["a/2"]
        assert [(e["channel"], e["to"]) for e in a.ev("channel.moved")] == [("a/3", "a/2")]
        assert [e["channel"] for e in a.ev("channel.incoming")] == ["a/3"]     # b's call on the kept timeslot
        assert [e["channel"] for e in b.ev("channel.incoming")] == ["b/2"]
        assert a.errors() == {} and b.errors() == {}
        link.clear_all()
    finally:
        link.close()


def test_back_off_both_ends_second_glare_fails_with_cause_34(tmpdir_str):
    link = Link(tmpdir_str, "back_off", "back_off")
    try:
        a, b = link.a, link.b
        box = link.both_originate()
        assert link.run(10, until=lambda: box["a"] and box["b"])
        for end, first, second in ((a, "a/3", "a/2"), (b, "b/3", "b/2")):
            err = box[end.name][0].value
            assert isinstance(err, EngineError) and err.cause == 34, err
            # the repeat attempt on the next timeslot down met the other end's repeat attempt: no third try
            assert [(e["channel"], e["to"]) for e in end.ev("channel.moved")] == [(first, second)]
            assert [(e["channel"], e["cause"]) for e in end.ev("channel.hangup")] == [(second, 34)]
            assert [e["cause"] for e in end.ev("call.ended")] == [34]
            assert end.trunk.dual_seizures == 2
            assert not end.ev("channel.incoming")
        assert link.run(2, until=lambda: a.all_idle() and b.all_idle())
        link.run(0.1)
        for end, second in ((a, "a/2"), (b, "b/2")):
            assert [(c["channel"], c["cause"], c["disposition"]) for c in end.cdrs] == [(second, 34, "failed")]
        assert a.errors() == {} and b.errors() == {}
        link.clear_all()
    finally:
        link.close()


def test_yield_both_ends_withdraw_and_fail_on_the_second_glare(tmpdir_str):
    """yield against yield: each end serves the seizure the other just withdrew; the withdrawal arrives as a
    clear-forward and the timeslot returns to idle; the repeat attempts meet again: cause 34 at both ends."""
    link = Link(tmpdir_str, "yield", "yield")
    try:
        a, b = link.a, link.b
        box = link.both_originate()
        assert link.run(10, until=lambda: box["a"] and box["b"])
        for end in (a, b):
            assert box[end.name][0].value.cause == 34
            assert [(e["channel"], e["to"]) for e in end.ev("channel.moved")] == [(f"{end.name}/3", f"{end.name}/2")]
            assert not end.ev("channel.incoming")               # the far end's seizure was gone before its digits
        assert link.run(2, until=lambda: a.all_idle() and b.all_idle())
        assert a.errors() == {} and b.errors() == {}
        link.clear_all()
    finally:
        link.close()


def test_keep_both_ends_is_a_misconfiguration_both_fail_on_the_seize_ack_wait(tmpdir_str):
    link = Link(tmpdir_str, "keep", "keep")
    try:
        a, b = link.a, link.b
        box = link.both_originate()
        out_lines = {"a": a.line(3), "b": b.line(3)}
        assert link.run(12, until=lambda: box["a"] and box["b"])
        for end in (a, b):
            assert box[end.name][0].value.cause == 41              # temporary failure: no seize-ack in time
            assert not end.ev("channel.moved")
            errs = [str(e) for e in out_lines[end.name].errors]
            assert len(errs) == 1 and "no seize acknowledgement" in errs[0], errs
        assert link.run(2, until=lambda: a.all_idle() and b.all_idle())
        link.clear_all()
    finally:
        link.close()


def test_originate_timeout_follows_the_moved_call(tmpdir_str):
    """The engine's originate timer hangs up the channel the call moved to (not the one it left)."""
    link = Link(tmpdir_str, "keep", "yield")
    try:
        a, b = link.a, link.b
        a.eng._listeners.remove(a._auto_answer)      # nobody answers b's call at a: b's originate times out
        box = {"a": [], "b": []}
        a.eng.originate("a", "22220001").addBoth(box["a"].append)
        b.eng.originate("b", "11110001", timeout=5).addBoth(box["b"].append)
        assert link.run(8, until=lambda: box["b"])
        assert box["b"][0].value.cause == 19
        assert [(e["channel"], e["cause"]) for e in b.ev("channel.hangup")] == [("b/2", 19)]
        assert box["a"] == ["a/3"]
        link.clear_all()
        link.run(0.1)
        assert [(c["channel"], c["cause"]) for c in b.cdrs if c["direction"] == "out"] == [("b/2", 19)]
    finally:
        link.close()


def test_transfer_leg_that_meets_dual_seizure_is_moved_and_bridged(tmpdir_str):
    """A transfer to a number dials out on the trunk; that leg meets dual seizure (this end yields): the
    transfer waits on the moved leg and bridges the caller to it when it answers."""
    link = Link(tmpdir_str, "yield", "keep")
    try:
        a, b = link.a, link.b
        first = []
        b.eng.originate("b", "22220001").addBoth(first.append)          # b -> a on timeslot 3, answered by a
        assert link.run(10, until=lambda: first == ["b/3"])
        assert a.trunk.channels[3].state == "up"
        second = []
        a.eng.transfer("a/3", to="33330001")                            # a's transfer leg seizes a/2 ...
        b.eng.originate("b", "22220002").addBoth(second.append)         # ... as b seizes b/2: same block
        assert a.trunk.channels[2].state == "dialing" and b.trunk.channels[2].state == "dialing"
        assert link.run(20, until=lambda: a.ev("call.bridged") and second)
        assert [(e["channel"], e["to"]) for e in a.ev("channel.moved")] == [("a/2", "a/1")]
        assert [e["channels"] for e in a.ev("call.bridged")] == [["a/3", "a/1"]]
        assert second == ["b/2"]                                         # b kept the timeslot
        assert [e["channel"] for e in b.ev("channel.incoming")] == ["b/1"]   # the transfer leg arrived
        assert a.errors() == {} and b.errors() == {}
        link.clear_all()
    finally:
        link.close()


def test_back_off_against_yield_both_withdraw(tmpdir_str):
    """back_off against yield: neither end keeps the timeslot (the yielding end serves a seizure that is being
    withdrawn, and drops it on the clear-forward); both repeat on timeslot 2, meet again: cause 34 at both."""
    link = Link(tmpdir_str, "back_off", "yield")
    try:
        a, b = link.a, link.b
        box = link.both_originate()
        assert link.run(10, until=lambda: box["a"] and box["b"])
        for end in (a, b):
            assert box[end.name][0].value.cause == 34
            assert [(e["channel"], e["to"]) for e in end.ev("channel.moved")] == [(f"{end.name}/3", f"{end.name}/2")]
            assert not end.ev("channel.incoming")
        assert link.run(2, until=lambda: a.all_idle() and b.all_idle())
        assert a.errors() == {} and b.errors() == {}
        link.clear_all()
    finally:
        link.close()


def test_originate_skips_a_timeslot_the_far_end_already_seizes(tmpdir_str):
    """The far end's seizure is on the board but its event not yet handled when we originate: the trunk does
    not take that timeslot (it would be a dual seizure no ABCD change reports) but the next one."""
    link = Link(tmpdir_str, "back_off", "back_off")
    try:
        a, b = link.a, link.b
        box = {"a": [], "b": []}
        b.eng.originate("b", "11110001").addBoth(box["b"].append)       # b seizes b/3
        link.world.tick(1)                                              # the seizure reaches a's board ...
        a3 = a.trunk.channels[3]
        assert a3.cas.channel.get_abcd() == CHINA.code(FORWARD, "seize") and a3.state == "idle"
        a.eng.originate("a", "22220001").addBoth(box["a"].append)       # ... before a's runtime has seen it
        assert a.trunk.channels[2].state == "dialing" and a3.cas.role == "in"
        link.clock.advance(TICK)
        link.a.rt.tick()
        link.b.rt.tick()
        assert link.run(20, until=lambda: box["a"] and box["b"])
        assert box == {"a": ["a/2"], "b": ["b/3"]}
        assert a.trunk.dual_seizures == 0 and b.trunk.dual_seizures == 0
        assert a.errors() == {} and b.errors() == {}
        link.clear_all()
    finally:
        link.close()
