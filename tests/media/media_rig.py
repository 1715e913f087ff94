"""The rig of the media tests (a uniquely named module, imported by their conftest and the tests): two hwsim
boards cabled span by span in one World, a Pacer on a task.Clock, and one BoardRuntime per board attached to it
(the way the daemon runs a simulated world)."""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if sys.path[0] != str(ROOT):
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "drivers"))
import hwsim_build  # noqa: E402,F401  (builds libhwsim.so if stale)

sys.path.remove(str(ROOT / "tests" / "drivers"))

from twisted.internet import task  # noqa: E402

from ctid.drivers import Pacer, open_board  # noqa: E402
from ctid.drivers.hwsim import World  # noqa: E402
from ctid.media import BoardRuntime  # noqa: E402

TICK = 0.020


class Rig:
    def __init__(self, spans: int = 1, seed: int = 5):
        self.world = World(seed=seed)
        self.a = open_board("hwsim", 0, world=self.world, spans=spans)
        self.b = open_board("hwsim", 1, world=self.world, spans=spans)
        for s in range(spans):
            self.world.cable(0, s, 1, s)
        for _ in range(50):
            self.world.tick()
            if all(not sp.alarms for bd in (self.a, self.b) for sp in bd.spans):
                break
        assert all(not sp.alarms for bd in (self.a, self.b) for sp in bd.spans)
        self.a.events(), self.b.events()
        self.clock = task.Clock()
        self.pacer = Pacer(self.world, clock=self.clock)
        self.ra = BoardRuntime(self.a, self.clock)
        self.rb = BoardRuntime(self.b, self.clock)
        self.ra.attach(self.pacer)
        self.rb.attach(self.pacer)
        self.pacer.start()
        self.heard = {}           # (runtime, channel) -> list of received 160-code columns

    def listen(self, rt, channels):
        """Keep every block ``rt`` receives on ``channels`` (a tick hook)."""
        channels = list(channels)
        store = {c: [] for c in channels}

        def hook(rx):
            for c in channels:
                store[c].append(rx[:, c].copy())

        rt.add_tick_hook(hook)
        return lambda c: np.concatenate(store[c]) if store[c] else np.zeros(0, np.uint8)

    def run(self, seconds: float) -> None:
        for _ in range(int(round(seconds / TICK))):
            self.clock.advance(TICK)

    def run_until(self, d, limit: float = 30.0) -> object:
        """Advance tick by tick until Deferred ``d`` fires; returns its result."""
        out = []
        d.addBoth(out.append)
        n = 0
        while not out and n < limit / TICK:
            self.clock.advance(TICK)
            n += 1
        assert out, f"Deferred still pending after {limit} s"
        return out[0]

    def close(self):
        self.pacer.stop()
        self.ra.close()
        self.rb.close()
        self.world.close()


def find_offset(sent: np.ndarray, got: np.ndarray, probe: int = 64) -> int:
    for L in range(len(got) - probe + 1):
        if np.array_equal(got[L:L + probe], sent[:probe]):
            return L
    raise AssertionError("sent pattern not found in what was received")
