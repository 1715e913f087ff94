"""The port far-end socket: a board's analogue far ends (exchange line on FXO, telephone on FXS) driven from
another world over a Unix socket, one message each way per block in lock step.

The board's world ticks in this thread; the far-end world (a PortSocketServer) ticks in a second thread and runs
the test's requests between its blocks (futures), as a separate process would."""
from __future__ import annotations

import concurrent.futures
import math
import queue
import threading

import numpy as np
import pytest

from ctid.drivers import DriverError, HookEvent, PolarityEvent, RingEvent, open_board
from ctid.drivers.hwsim import PortSocketServer, World
from ctid.dsp import Bank
from ctid.dsp.g711 import alaw_encode
from hwsim.callers import tone_level


class FarSide(threading.Thread):
    def __init__(self, path):
        super().__init__(daemon=True)
        self.world = World(2)
        self.server = PortSocketServer(self.world, path)
        self.line, self.phone = self.server.line(0), self.server.phone(1)
        self.jobs: queue.Queue = queue.Queue()
        self.stop = False
        self.heard = {0: [], 1: []}
        self.blocks = 0

    def run(self):
        import time
        while not self.stop:
            while not self.jobs.empty():
                fn, fut = self.jobs.get()
                try:
                    fut.set_result(fn())
                except Exception as exc:  # noqa: BLE001
                    fut.set_exception(exc)
            self.world.tick(1)
            if self.server.connected:
                self.blocks += 1
                self.heard[0].append(self.line.listen())
                self.heard[1].append(self.phone.listen())
            else:
                time.sleep(0.002)

    def do(self, fn):
        fut = concurrent.futures.Future()
        self.jobs.put((fn, fut))
        return fut


@pytest.fixture
def rig(tmp_path):
    far = FarSide(str(tmp_path / "ports.sock"))
    far.start()
    w = World(1)
    board = open_board("hwsim", 0, world=w, ports=["fxo", "fxs"], port_socket=far.server.path)
    bank = Bank(board.nchannels, law="alaw")
    bank.set_mask(0, "cid")
    bank.set_mask(1, "dtmf")
    r = {"w": w, "b": board, "far": far, "bank": bank, "events": [], "dets": [], "tx": {}}

    def tick(n=1, until=None):
        for _ in range(n):
            w.tick(1)
            r["events"] += board.events()
            blk = board.read_block()
            r["dets"] += bank.process(blk)
            out = board.new_block(0xD5)
            for ch, src in r["tx"].items():
                out[:, ch] = src()
            board.write_block(out)
            if until is not None and until():
                return True
        return until is None

    def wait(fut, n=500):
        assert tick(n, until=fut.done)
        return fut.result()
    r["tick"], r["wait"] = tick, wait
    yield r
    far.stop = True
    w.close()                   # the far side's next receive sees the socket closed
    far.join(5)
    far.world.close()


def sine(freq, n, level=-10.0):
    amp = 32768 / 10 ** (3.14 / 20) * 10 ** (level / 20)
    return (amp * np.sin(2 * math.pi * freq * np.arange(n) / 8000)).astype(np.int16)


def test_line_ring_callerid_audio_hangup(rig):
    tick, wait, far, b = rig["tick"], rig["wait"], rig["far"], rig["b"]
    wait(far.do(lambda: far.line.ring("13800138000", "ZHANG")))
    assert tick(400, until=lambda: any(d.kind == "cid" for d in rig["dets"]))
    cid = next(d for d in rig["dets"] if d.kind == "cid").value
    assert cid["number"] == "13800138000" and cid["name"] == "ZHANG"
    assert any(isinstance(e, RingEvent) and e.on for e in rig["events"])
    assert wait(far.do(lambda: far.line.state))["ringing"]
    b.port_hook(0, True)
    tick(3)
    assert wait(far.do(lambda: far.line.state))["board_offhook"]
    # both ways: 1 kHz from the far end to the board, 600 Hz from the board to the far end
    pos = [0]

    def board_tone():
        pos[0] += 160
        return alaw_encode(sine(600, pos[0])[-160:])
    rig["tx"][b.info.nspans * 32 + 0] = board_tone
    n0 = far.blocks
    got = []
    orig = rig["tick"]
    # 30 blocks of tone queued at once (queuing block by block raced the far end's thread on a busy machine)
    wait(far.do(lambda: far.line.play(sine(1000, 160 * 30))))
    for _ in range(25):
        tick(1)
        got.append(b.read_block()[:, 0].copy())
    rx = np.concatenate(got[5:])
    lvl, share = tone_level(rx, 1000)
    assert share > 0.8 and -12 < lvl < -8, (lvl, share)
    heard = np.concatenate(far.heard[0][n0 + 5:])
    assert tone_level(heard, 600)[1] > 0.8
    # lock step: exactly one block of earpiece audio per block of the far end while off hook
    assert all(a.size == 160 for a in far.heard[0][n0 + 1:])
    assert orig is rig["tick"]
    # the far end hangs up: polarity back to normal, busy tone to the board
    wait(far.do(far.line.hangup))
    assert tick(20, until=lambda: any(isinstance(e, PolarityEvent) and not e.reversed for e in rig["events"]))
    assert tick(10, until=lambda: far.line.state["busy"])
    b.port_hook(0, False)
    assert tick(10, until=lambda: not far.line.state["board_offhook"])


def test_phone_rings_goes_off_hook_and_dials(rig):
    tick, wait, far, b = rig["tick"], rig["wait"], rig["far"], rig["b"]
    b.port_ring(1, True)
    assert tick(10, until=lambda: far.phone.ringing)
    wait(far.do(lambda: far.phone.hook(True)))
    assert tick(5, until=lambda: any(isinstance(e, HookEvent) and e.port == 1 and e.offhook for e in rig["events"]))
    b.port_ring(1, False)
    wait(far.do(lambda: far.phone.dial("12#", 80, 80)))
    assert tick(50, until=lambda: "".join(d.value for d in rig["dets"] if d.kind == "dtmf" and d.type == "on") == "12#")
    wait(far.do(lambda: far.phone.hook(False)))
    assert tick(5, until=lambda: any(isinstance(e, HookEvent) and e.port == 1 and not e.offhook
                                     for e in rig["events"]))


def test_refused_operations_are_reported_not_fatal(rig):
    tick, wait, far = rig["tick"], rig["wait"], rig["far"]
    wait(far.do(far.line.hangup))                 # the line is idle: refused by the SDK
    wait(far.do(lambda: far.server._ops.append([7, "ring", "1", None])))
    wait(far.do(lambda: far.server._ops.append([1, "ring", "1", None])))
    assert tick(10, until=lambda: len(far.server.errors) >= 3)
    errs = " | ".join(far.server.errors)
    assert "idle" in errs and "no port 7" in errs and "no operation 'ring'" in errs
    assert far.server.connected and rig["w"].time > 0


def test_no_listener_and_lost_peer(tmp_path, rig):
    w = World(3)
    try:
        with pytest.raises(DriverError, match="nobody listens"):
            open_board("hwsim", 0, world=w, ports=["fxo"], port_socket=str(tmp_path / "none.sock"))
        with pytest.raises(DriverError, match="no analogue ports"):
            open_board("hwsim", 1, world=w, spans=1, port_socket=str(tmp_path / "none.sock"))
    finally:
        w.close()
    # the far side goes away: the board side notes it and keeps ticking
    far = rig["far"]
    client = rig["w"]._port_sockets[0]
    rig["tick"](3)
    far.stop = True
    rig["tick"](1)              # the far side finishes its block and stops ticking
    far.join(5)
    far.server.close()
    rig["tick"](3)
    assert not client.connected and "port socket" in client.last_error


def test_board_side_restart(tmp_path, rig):
    """The board side goes away mid-call (a daemon killed) and a new one connects: the far ends read idle in
    between, and the new board's line rings again."""
    tick, wait, far, b = rig["tick"], rig["wait"], rig["far"], rig["b"]
    wait(far.do(lambda: far.line.ring("123")))
    assert tick(400, until=lambda: any(d.kind == "cid" for d in rig["dets"]))
    b.port_hook(0, True)
    assert tick(5, until=lambda: far.line.state["board_offhook"])
    n0 = far.server.connections
    rig["w"]._port_sockets[0].close()              # the old board side is gone
    import time
    t_end = time.monotonic() + 5
    while far.server.connected and time.monotonic() < t_end:
        time.sleep(0.01)
    assert not far.server.connected and not far.line.state["board_offhook"]
    w2 = World(9)
    try:
        b2 = open_board("hwsim", 0, world=w2, ports=["fxo", "fxs"], port_socket=far.server.path)
        fut = far.do(lambda: far.line.ring("456"))
        for _ in range(500):
            w2.tick(1)
            if fut.done():
                break
        rings = []
        for _ in range(20):
            w2.tick(1)
            rings += [e for e in b2.events() if isinstance(e, RingEvent) and e.on]
        assert rings and far.server.connections == n0 + 1
    finally:
        w2.close()
