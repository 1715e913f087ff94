"""Shared rig for MTP tests: two hwsim boards with N CCS spans cabled span to span, a task.Clock driven with the
world (one 20 ms block per step)."""
from __future__ import annotations

from twisted.internet import task

from ctid.drivers import open_board
from ctid.drivers.hwsim import World
from ctid.signaling.ss7.mtp2_link import Mtp2Link
from ctid.signaling.ss7.transport import BoardLinks

TICK = 0.02


class Rig:
    def __init__(self, spans: int = 1, seed: int = 3):
        self.world = World(seed)
        for b in (0, 1):
            self.world.create_board(b, spans=spans)
        for s in range(spans):
            self.world.cable(0, s, 1, s)
        self.boards = [open_board("hwsim", b, world=self.world, span_config="ccs") for b in (0, 1)]
        self.world.tick(5)
        for b in self.boards:
            b.events()
        self.clock = task.Clock()
        self.clock.advance(self.world.seconds)
        self.ports = [BoardLinks(b) for b in self.boards]
        self.hooks = []

    def link_pair(self, span: int = 0, **kw):
        ta, tb = self.ports[0].add(span), self.ports[1].add(span)
        return (Mtp2Link(self.clock, ta, name=f"A{span}", **kw), Mtp2Link(self.clock, tb, name=f"B{span}", **kw))

    def step(self, n: int = 1, until=None) -> bool:
        for _ in range(n):
            self.world.tick(1)
            self.clock.advance(TICK)
            t = self.world.time
            for p in self.ports:
                p.step(t)
            for h in self.hooks:
                h()
            if until is not None and until():
                return True
        return False

    def run(self, seconds: float, until=None) -> bool:
        return self.step(int(round(seconds / TICK)), until)

    def close(self):
        self.world.close()
