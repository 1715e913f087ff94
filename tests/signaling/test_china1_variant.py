"""China No.1 variant tables: the codes and flow facts of the China variant, and variants as data."""
from __future__ import annotations

import dataclasses

import pytest
from twisted.internet import task

from ctid.signaling.china1 import (BACKWARD, CHINA, FORWARD, LineSignal, LineState, NumberRules, OutgoingLine,
                                   TimerSpec, get_variant, register_variant, variants)
from ctid.signaling.china1.variant import parse_abcd

# OpenR2 r2proto.c CN variant (telephony-facts.md), written as the raw ABCD strings the facts give
CN_FACTS = {
    (FORWARD, "idle"): "1011", (FORWARD, "seize"): "0011", (FORWARD, "clear_forward"): "1011",
    (BACKWARD, "idle"): "1011", (BACKWARD, "seize_ack"): "1111", (BACKWARD, "answer"): "0111",
    (BACKWARD, "clear_back"): "1111", (BACKWARD, "blocked"): "1111", (BACKWARD, "forced_release"): "0011",
    (BACKWARD, "release_guard"): "1011",
}


@pytest.mark.parametrize("key", sorted(CN_FACTS))
def test_china_line_codes(key):
    direction, name = key
    assert CHINA.code(direction, name) == parse_abcd(CN_FACTS[key])


def test_china_c_and_d_held_at_one():
    assert all(s.abcd & 0b0011 == 0b0011 for s in CHINA.line)


def test_reused_codes_have_several_meanings():
    assert CHINA.meanings(BACKWARD, 0b1111) == {"seize_ack", "clear_back", "blocked"}
    assert CHINA.meanings(FORWARD, 0b1111) == frozenset()


def test_register_meanings_and_timers():
    assert CHINA.group_a["1"] == "send next digit"
    assert CHINA.group_a["6"] == "send KA and calling number"
    assert CHINA.group_a["3"].startswith("address complete")
    assert CHINA.group_a["4"] == "congestion"
    assert CHINA.group_b["1"] == "called party free" and CHINA.group_b["2"] == "called party busy"
    assert CHINA.end_of_calling_number_signal == "F"          # I-15
    assert CHINA.end_of_number_signal is None
    assert CHINA.backward_2of4
    # backward signals used by China fit the 2-of-4 set (signals 1..6)
    assert set(CHINA.group_a) | set(CHINA.group_b) <= set("123456")
    assert CHINA.timer("mf_back_cycle").ms == 5000
    assert CHINA.timer("seize_ack").ms == 8000
    assert CHINA.timer("answer").ms == 60000
    assert "OpenR2 1.3.3: 8000 ms" in CHINA.timer("seize_ack").label


def test_number_rules():
    r = NumberRules(lengths=(("8888", 8), ("1", 11)), default_length=None, max_length=15)
    assert not r.complete("8888123") and r.complete("88881234")
    assert not r.complete("1380013800") and r.complete("13800138000")
    assert not r.complete("5555")                 # no rule: the timeout decides
    assert r.complete("5" * 15)                   # but never beyond max_length


def test_registry():
    assert get_variant("cn") is CHINA and "cn" in variants()
    with pytest.raises(KeyError, match="unknown R2 variant 'zz'.*cn"):
        get_variant("zz")


def test_bad_tables_rejected():
    with pytest.raises(ValueError, match="ABCD code 16"):
        LineSignal("x", FORWARD, 16)
    with pytest.raises(ValueError, match="direction"):
        LineSignal("x", "sideways", 1)
    timers = dict(CHINA.timers)
    del timers["answer"]
    with pytest.raises(ValueError, match="timer 'answer' missing"):
        dataclasses.replace(CHINA, name="broken", timers=timers)


class _Chan:
    def __init__(self):
        self.sent = []

    def set_abcd(self, v):
        self.sent.append(v)


def test_a_variant_is_data_the_machines_follow_it():
    """A made-up variant with other codes: the same machine sends and interprets its codes."""
    other = dataclasses.replace(
        CHINA, name="test-other",
        line=(LineSignal("idle", FORWARD, 0b1001), LineSignal("seize", FORWARD, 0b0001),
              LineSignal("clear_forward", FORWARD, 0b1001), LineSignal("idle", BACKWARD, 0b1001),
              LineSignal("seize_ack", BACKWARD, 0b1101), LineSignal("answer", BACKWARD, 0b0101),
              LineSignal("clear_back", BACKWARD, 0b1101), LineSignal("blocked", BACKWARD, 0b1101),
              LineSignal("forced_release", BACKWARD, 0b0001), LineSignal("release_guard", BACKWARD, 0b1001)),
        timers={**CHINA.timers, "seize_ack": TimerSpec("seize_ack", 1000, "test", "seize-ack wait")})
    register_variant(other)
    assert get_variant("test-other") is other
    ch = _Chan()
    line = OutgoingLine(other, task.Clock(), ch)
    line.on_abcd(0b1001)
    line.seize()
    assert ch.sent == [0b1001, 0b0001]
    line.on_abcd(0b1111)          # China's seize-ack means nothing here
    assert line.state is LineState.SEIZED and line.errors
    line.on_abcd(0b1101)
    assert line.state is LineState.SEIZE_ACK


# HP MSR Router Series Voice Configuration Guide (V7), R2 digital line signalling, Table 3 (af bf / ab bb),
# C and D fixed to 01
ITU_TABLE = {"idle": ("10", "10"), "seize": ("00", None), "seize_ack": (None, "11"), "answer": (None, "01"),
             "clear_back": (None, "11"), "clear_forward": ("10", None), "blocked": (None, "11")}


@pytest.mark.parametrize("name", sorted(ITU_TABLE))
def test_itu_stub_line_codes(name):
    from ctid.signaling.china1.variant import ITU

    fwd, bwd = ITU_TABLE[name]
    if fwd is not None:
        assert ITU.code(FORWARD, name) == parse_abcd(fwd + "01")
    if bwd is not None:
        assert ITU.code(BACKWARD, name) == parse_abcd(bwd + "01")


def test_itu_stub_register_tables():
    from ctid.signaling.china1.variant import ITU, M

    assert "itu" in variants()
    assert [ITU.group_a[s] for s in "123456"] == [M.NEXT, M.REPEAT_1, M.CHANGEOVER_B, M.CONGESTION,
                                                  M.SEND_CATEGORY, M.COMPLETE_CHARGE]
    assert [ITU.group_b[s] for s in "345678"] == [M.BUSY, M.CONGESTION, M.UNALLOCATED, M.FREE_CHARGE,
                                                  M.FREE_NO_CHARGE, M.OUT_OF_ORDER]
    assert not ITU.backward_2of4 and ITU.end_of_number_signal == "F"
    with pytest.raises(KeyError, match="no backward line signal 'forced_release'"):
        ITU.code(BACKWARD, "forced_release")
