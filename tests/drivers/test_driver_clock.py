"""The real-time pacer (driven by twisted.internet.task.Clock here) and the board event fd with a real reactor."""
import json
import select
import subprocess
import sys
import textwrap

import pytest
from twisted.internet import task

from hwsim_build import sub_env

from ctid.drivers import AbcdEvent, Pacer, open_board
from ctid.drivers.clock import Pacer as PacerClass


def test_pacer_ticks_once_per_20ms_of_the_clock(world):
    clock = task.Clock()
    board = open_board("hwsim", 0, world=world, spans=1)
    seen = []
    pacer = Pacer(world, clock=clock)
    assert isinstance(pacer, PacerClass)
    pacer.add_listener(lambda w: seen.append((w.time, board.read_block().shape)))
    pacer.start()
    assert world.time == 0                       # first tick one interval after start
    clock.pump([0.020] * 50)                     # one second in 20 ms steps
    assert pacer.ticks == 50 and world.time == 50 * 160
    assert [t for t, _ in seen] == [160 * k for k in range(1, 51)]
    assert all(shape == (160, 32) for _, shape in seen)
    clock.advance(0.010)                         # half an interval: nothing
    assert world.time == 50 * 160
    clock.advance(0.010)
    assert world.time == 51 * 160
    clock.advance(1.0)                           # a one-second stall: the 50 missed blocks are caught up
    assert pacer.ticks == 101 and world.time == 101 * 160 and pacer.late_calls >= 1 and pacer.dropped == 0
    assert len(seen) == 101                      # every block was offered to the listener
    pacer.stop()
    clock.advance(1.0)
    assert world.time == 101 * 160 and not pacer.running


def test_pacer_drops_beyond_catch_up_limit(world):
    clock = task.Clock()
    pacer = Pacer(world, clock=clock, max_catch_up=10)
    pacer.start()
    clock.advance(2.0)                           # 100 intervals at once
    assert pacer.ticks == 10 and pacer.dropped == 90 and world.time == 10 * 160
    pacer.stop()
    with pytest.raises(ValueError):
        Pacer(world, clock=clock, interval=0)


def test_pacer_burst_catches_up_across_reactor_turns(world):
    clock = task.Clock()
    pacer = Pacer(world, clock=clock, burst=3, max_catch_up=20)
    seen = []
    pacer.add_listener(lambda w: seen.append(("tick", w.time)))
    pacer.start()
    # what the reactor has to do at that moment (socket I/O): it runs between the bursts, not after all 10
    clock.callLater(0.2, lambda: seen.append(("io", world.time)))
    clock.advance(0.2)                           # 10 intervals missed at once
    assert pacer.ticks == 10 and world.time == 10 * 160 and pacer.dropped == 0
    assert seen.index(("io", 3 * 160)) == 3      # after the first burst of 3
    clock.advance(1.0)                           # 50 more missed: capped at max_catch_up, the rest dropped
    assert pacer.ticks == 30 and pacer.dropped == 30
    pacer.stop()
    clock.advance(0.1)
    assert pacer.ticks == 30
    with pytest.raises(ValueError):
        Pacer(world, clock=clock, burst=0)


def test_event_fd_readable_only_with_events_pending(world):
    a = open_board("hwsim", 0, world=world, spans=1)
    b = open_board("hwsim", 1, world=world, spans=1)
    world.cable(0, 0, 1, 0)
    fd = b.fileno()
    assert fd >= 0
    world.tick(10)
    assert select.select([fd], [], [], 0)[0] == [fd]
    b.events()
    assert select.select([fd], [], [], 0)[0] == []       # drained: the fd is quiet again
    a.set_abcd(0, 7, 0b0101)
    world.tick(1)
    assert select.select([fd], [], [], 0)[0] == [fd]
    evs = [e for e in b.events() if isinstance(e, AbcdEvent)]
    assert [(e.timeslot, e.abcd) for e in evs] == [(7, 0b0101)]


REACTOR_SCRIPT = textwrap.dedent("""
    import json, sys, time
    from twisted.internet import reactor
    from ctid.drivers import AbcdEvent, AlarmEvent, Pacer, open_board, watch_board
    from ctid.drivers.hwsim import World

    w = World(3)
    a = open_board("hwsim", 0, world=w, spans=1)
    b = open_board("hwsim", 1, world=w, spans=1)
    w.cable(0, 0, 1, 0)
    got = []
    reader = watch_board(reactor, b, got.append)
    pacer = Pacer(w, clock=reactor)          # real time: a tick every 20 ms from the reactor
    state = {"set_at": None}

    def on_tick(world):
        # once aligned, change an ABCD value; stop when the far side has reported it
        if state["set_at"] is None and world.time >= 8 * 160:
            a.set_abcd(0, 9, 0b0110)
            state["set_at"] = world.time
        if any(isinstance(e, AbcdEvent) and e.abcd == 0b0110 for e in got):
            reactor.stop()

    pacer.add_listener(on_tick)
    pacer.start()
    reactor.callLater(2.0, reactor.stop)
    t0 = time.monotonic()
    reactor.run()
    print(json.dumps({
        "wall": time.monotonic() - t0, "ticks": pacer.ticks, "delivered": reader.delivered,
        "abcd": [[e.timeslot, e.abcd, e.t_frame] for e in got if isinstance(e, AbcdEvent) and e.abcd == 6],
        "alarm_events": sum(isinstance(e, AlarmEvent) for e in got), "set_at": state["set_at"],
    }))
""")


def test_event_fd_with_a_real_reactor():
    """A real (default) reactor watches the board's fd while a Pacer ticks the world every 20 ms: the ABCD
    change arrives through the fd callback within two multiframes, in well under a second."""
    r = subprocess.run([sys.executable, "-c", REACTOR_SCRIPT], env=sub_env(), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["abcd"], out                            # delivered through watch_board
    ts, abcd, t = out["abcd"][0]
    assert (ts, abcd) == (9, 6) and 0 < t - out["set_at"] <= 32
    assert out["delivered"] > 30 and out["alarm_events"] >= 1   # initial ABCD and alarm events came the same way
    assert out["wall"] < 1.0                           # about 10 ticks of 20 ms
    assert out["ticks"] >= 9
