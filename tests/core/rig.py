"""The call-core test rig over hwsim: our board 0 (span 0 SS7, span 1 China No.1, ports fxo, fxo, fxs, fxs)
cabled to far-end board 1 (one CCS span: MTP2/MTP3/ISUP of our own signalling stacks) and board 2 (one CAS
span: China No.1 CasBoard); analogue far ends are hwsim's exchange lines and telephones. A task.Clock follows
the world: per tick the world advances 20 ms, the clock 0.02 s, then our runtime and both far ends run.

The far ends hear what board 0 sends (``heard[ts]``: A-law codes received per timeslot) and can send audio
(``say(ts, codes)``) on any timeslot."""
from __future__ import annotations

import numpy as np
from twisted.internet import task

from ctid.config import parse_config
from ctid.drivers import open_board
from ctid.drivers.hwsim import World
from ctid.drivers.model import BLOCK_FRAMES
from ctid.dsp.g711 import alaw_decode
from ctid.signaling.china1 import CHINA, CasBoard, NumberRules
from ctid.signaling.ss7.isup_cc import IsupCallControl
from ctid.signaling.ss7.mtp2_link import Mtp2Link
from ctid.signaling.ss7.mtp3_layer import Mtp3Layer
from ctid.signaling.ss7.transport import BoardLinks

TICK = 0.02
OPC, DPC = 0x2A51, 0x0123
CONFIG = f"""
[daemon]
data_dir = "{{tmp}}"
[[boards]]
id = 0
spans = 2
ports = ["fxo", "fxo", "fxs", "fxs"]
[[trunks]]
name = "ss7"
board = 0
span = 0
signalling = "ss7"
opc = {OPC}
dpc = {DPC}
cics = "1-4"
emergency_proving = true
calling = "1068880000"
[[trunks]]
name = "no1"
board = 0
span = 1
signalling = "china1"
timeslots = "1-3"
direction = "both"
number_length = 8
calling = "1068880000"
[[trunks]]
name = "analog"
board = 0
signalling = "analog"
ports = [0, 1, 2, 3]
[[routes]]
called = "114"
flow = "hospital_main"
[[queues]]
name = "frontdesk"
agents = ["1001", "1002"]
offer_timeout = 4
wrap_up = 1
"""


class Tap:
    """A board proxy that records what each timeslot receives and overlays audio to send."""

    def __init__(self, board):
        self._b = board
        self.heard: dict[int, list] = {}
        self.listen: set[int] = set()
        self.out: dict[int, np.ndarray] = {}

    def __getattr__(self, name):
        return getattr(self._b, name)

    def read_block(self, out=None):
        blk = self._b.read_block()
        for n in self.listen:
            self.heard.setdefault(n, []).append(blk[:, n].copy())
        return blk

    def write_block(self, blk):
        for n, codes in list(self.out.items()):
            blk[:, n] = codes[:BLOCK_FRAMES] if len(codes) >= BLOCK_FRAMES else np.concatenate(
                [codes, np.full(BLOCK_FRAMES - len(codes), 0xD5, np.uint8)])
            rest = codes[BLOCK_FRAMES:]
            if len(rest):
                self.out[n] = rest
            else:
                del self.out[n]
        self._b.write_block(blk)

    def say(self, n, codes):
        self.out[n] = np.asarray(codes, dtype=np.uint8)

    def pcm(self, n, last_blocks=None):
        blocks = self.heard.get(n, [])
        if last_blocks:
            blocks = blocks[-last_blocks:]
        return alaw_decode(np.concatenate(blocks)) if blocks else np.zeros(0, np.int16)


class FarSs7:
    def __init__(self, world, clock):
        self.board = Tap(open_board("hwsim", 1, world=world, span_config="ccs"))
        self.links = BoardLinks(self.board._b)
        self.link = Mtp2Link(clock, self.links.add(0), name="far", emergency=True)
        self.mtp3 = Mtp3Layer(clock, DPC, "itu", name="far")
        self.mtp3.add_linkset(OPC, [self.link])
        self.incoming = []
        self.cc = IsupCallControl(self.mtp3, OPC, range(1, 5), clock, on_incoming=self.incoming.append)
        self.mtp3.start()

    def step(self, t):
        self.links.step(t)
        blk = self.board.read_block()
        self.board.write_block(np.full_like(blk, 0xD5))

    @property
    def up(self):
        return self.mtp3.linksets[OPC].accessible


class FarNo1:
    def __init__(self, world, clock):
        self.board = Tap(open_board("hwsim", 2, world=world, span_config="cas"))
        self.cas = CasBoard(self.board, clock, CHINA)
        self.out = self.cas.add(0, 1, "out")                 # calls towards us
        self.inc = self.cas.add(0, 3, "in", numbers=NumberRules(default_length=8))   # takes our calls

    def step(self, t):
        self.cas.step()


class Rig:
    def __init__(self, runtime_factory, tmp="/tmp/ctid-core-test", seed=11):
        self.world = World(seed)
        self.world.create_board(0, spans=2, ports=["fxo", "fxo", "fxs", "fxs"])
        self.world.create_board(1, spans=1)
        self.world.create_board(2, spans=1)
        self.world.cable(0, 0, 1, 0)
        self.world.cable(0, 1, 2, 0)
        self.cfg = parse_config(CONFIG.replace("{tmp}", str(tmp)))
        self.board = open_board("hwsim", 0, world=self.world, span_config=["ccs", "cas"])
        self.clock = task.Clock()
        self.far_ss7 = FarSs7(self.world, self.clock)
        self.far_no1 = FarNo1(self.world, self.clock)
        self.world.tick(5)
        self.clock.advance(self.world.seconds)
        self.rt = runtime_factory(self.board, self.clock)
        self.line = self.world.line(0, 0)
        self.phone = self.world.phone(0, 2)
        self.phone2 = self.world.phone(0, 3)
        self.ticks = 0

    def step(self, n=1, until=None):
        for _ in range(n):
            self.world.tick(1)
            self.clock.advance(TICK)
            self.rt.tick()
            t = self.world.time
            self.far_ss7.step(t)
            self.far_no1.step(t)
            self.ticks += 1
            if until is not None and until():
                return True
        return until is None

    def run(self, seconds, until=None):
        return self.step(int(round(seconds / TICK)), until)

    def close(self):
        self.world.close()


def tone_power(pcm, freq, rate=8000):
    """Goertzel-style power of ``freq`` relative to the total power of ``pcm`` (0..1)."""
    x = pcm.astype(float)
    if len(x) == 0 or not np.any(x):
        return 0.0
    n = np.arange(len(x))
    c = np.abs(np.dot(x, np.exp(-2j * np.pi * freq * n / rate))) ** 2 * 2 / len(x)
    return float(c / np.dot(x, x))
