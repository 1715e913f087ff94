"""[daemon] priority / ctid run --priority: nice -10 or SCHED_RR, with the fall-backs Asterisk has."""
from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from ctid import priority
from ctid.config import ConfigError, build_config


class FakeOs(SimpleNamespace):
    def __init__(self, refuse=()):
        super().__init__(SCHED_RR=2, PRIO_PROCESS=0, calls=[], refuse=set(refuse))

    def sched_param(self, p):
        return ("param", p)

    def sched_setscheduler(self, pid, policy, param):
        if "realtime" in self.refuse:
            raise PermissionError(1, "Operation not permitted")
        self.calls.append(("sched_setscheduler", pid, policy, param))

    def setpriority(self, which, who, nice):
        if "high" in self.refuse:
            raise PermissionError(1, "Operation not permitted")
        self.calls.append(("setpriority", which, who, nice))


def test_normal_changes_nothing():
    o = FakeOs()
    assert priority.apply("normal", o) == [] and o.calls == []


def test_high_is_nice_minus_10():
    o = FakeOs()
    assert priority.apply("high", o) == ["priority high: nice -10"]
    assert o.calls == [("setpriority", 0, 0, -10)]


def test_realtime_is_sched_rr_10():
    o = FakeOs()
    assert priority.apply("realtime", o) == ["priority realtime: SCHED_RR priority 10"]
    assert o.calls == [("sched_setscheduler", 0, 2, ("param", 10))]


def test_refused_realtime_falls_back_to_high_then_normal():
    o = FakeOs(refuse={"realtime"})
    notes = priority.apply("realtime", o)
    assert "refused" in notes[0] and "CAP_SYS_NICE" in notes[0] and notes[1] == "priority high: nice -10"
    o = FakeOs(refuse={"realtime", "high"})
    notes = priority.apply("realtime", o)
    assert len(notes) == 2 and "running at normal priority" in notes[1] and o.calls == []


def test_unknown_priority_is_refused():
    with pytest.raises(ValueError, match="'turbo' is not one of"):
        priority.apply("turbo", FakeOs())
    with pytest.raises(ConfigError, match=r"daemon\.priority.*'turbo'"):
        build_config({"daemon": {"priority": "turbo"}}, "<test>")
    assert build_config({"daemon": {"priority": "high"}}, "<test>").daemon.priority == "high"


@pytest.mark.skipif(os.geteuid() != 0, reason="raising the priority needs root")
def test_high_really_sets_the_nice_value_of_the_process():
    code = "import os; from ctid import priority; print(priority.apply('high')); print(os.getpriority(os.PRIO_PROCESS, 0))"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True,
                         env={**os.environ, "PYTHONPATH": root}).stdout.split("\n")
    assert out[1] == "-10", out


def test_settle_heap_freezes_the_start_up_heap():
    import gc

    from ctid.daemon import settle_heap

    keep = [object() for _ in range(1000)]           # noqa: F841 - lives across the freeze
    before = gc.get_freeze_count()
    try:
        settle_heap()
        assert gc.get_freeze_count() >= before + 1000
    finally:
        gc.unfreeze()
