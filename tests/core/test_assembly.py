"""From the embedded default configuration to boards, runtimes and the Engine on a paced hwsim world."""
from __future__ import annotations

import pytest
from twisted.internet import task

from ctid.config import ConfigError, default_config
from ctid.core.assembly import make_runtimes, open_boards
from ctid.core.engine import Engine
from ctid.drivers import Pacer
from ctid.drivers.hwsim import World
from ctid.drivers.model import Signalling


def test_default_config_assembles_and_runs():
    cfg = default_config()
    world = World(3)
    try:
        boards = open_boards(cfg, world=world)
        b = boards[0]
        assert b.span_config(0).signalling is Signalling.CCS and b.span_config(1).signalling is Signalling.CAS
        clock = task.Clock()
        pacer = Pacer(world, clock)
        rts = make_runtimes(boards, clock, pacer=pacer)
        eng = Engine.from_config(cfg, boards, rts, clock)
        events = []
        eng.subscribe(events.append)
        pacer.start()
        for _ in range(50):
            clock.advance(0.02)
        assert rts[0].ticks == 50
        snap = eng.snapshot()
        kinds = {}
        for c in snap["channels"]:
            kinds.setdefault(c["kind"], []).append(c["state"])
        assert len(kinds["ss7"]) == 30 and set(kinds["ss7"]) == {"down"}       # no far end: linkset down
        assert len(kinds["no1"]) == 30 and set(kinds["no1"]) == {"down"}       # no cable: LOS
        assert kinds["fxo"] == ["idle", "idle"] and kinds["fxs"] == ["idle", "idle"]
        assert {q["queue"] for q in snap["queues"]} == {"frontdesk", "cardiology"}
        assert {a["agent"]: a["queues"] for a in snap["agents"]} == {"1001": ["frontdesk"],
                                                                    "1002": ["frontdesk", "cardiology"]}
        assert any(e["event"] == "span.alarm" and e["trunk"] == "no1" and "LOS" in e["alarms"] for e in events)
    finally:
        world.close()


def test_board_must_match_config():
    cfg = default_config()
    world = World(4)
    try:
        world.create_board(0, spans=1, ports=["fxo"])
        with pytest.raises(ConfigError, match=r"boards\[0\]: board 0 \(hwsim\) cannot be opened: .*spans"):
            open_boards(cfg, world=world)
    finally:
        world.close()
