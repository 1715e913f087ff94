"""`hwsim serve`: a far end in another process over the cross-process cable socket. The test process opens its
own board through the registry with cable_socket= and checks voice echo (bit-exact), ABCD mirrored, HDLC frames
echoed; with --realtime the serving side paces both worlds at 20 ms per block."""
import json
import subprocess
import sys
import time

import numpy as np

from hwsim_build import sub_env

from ctid.drivers import AbcdEvent, HdlcEvent, SpanConfig, open_board
from ctid.drivers.hwsim import World

N = 160


def start_serve(*args):
    p = subprocess.Popen([sys.executable, "-m", "hwsim", "serve", "--json", *args], env=sub_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line:
        p.kill()
        raise AssertionError(p.stderr.read())
    assert json.loads(line)["event"] == "listening", line
    return p


def finish(p):
    try:
        out, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("hwsim serve did not stop: " + err)
    return p.returncode, [json.loads(x) for x in out.splitlines() if x.strip()], err


def test_serve_loopback_far_end(tmp_path):
    path = str(tmp_path / "e1.sock")
    p = start_serve("--socket", path, "--spans", "2", "--signalling", "cas,ccs", "--exit-on-disconnect")
    try:
        w = World(4)
        plan = [SpanConfig(False, "cas"), SpanConfig(False, "ccs")]
        board = open_board("hwsim", 0, world=w, spans=2, span_config=plan,
                           cable_socket={0: path + ".0", 1: path + ".1"})
        for _ in range(25):
            w.tick()
            if not any(sp.alarms for sp in board.spans):
                break
        assert not any(sp.alarms for sp in board.spans), [sp.alarms for sp in board.spans]
        board.events()
        # voice: random octets out, the same back (two line delays and one block of switching latency)
        rng = np.random.default_rng(9)
        sent = [rng.integers(0, 256, board.block_shape, dtype=np.uint8) for _ in range(3)]
        got = []
        for k in range(6):
            if k < 3:
                board.write_block(sent[k])
            w.tick()
            got.append(board.read_block())
        sent, got = np.concatenate(sent), np.concatenate(got)
        cols = [s * 32 + t for s in range(2) for t in range(1, 32) if t != 16]
        L = next(L for L in range(3 * N) if np.array_equal(got[L:L + 64, 1], sent[:64, 1]))
        assert N <= L <= N + 4, L
        np.testing.assert_array_equal(got[L:L + 3 * N, cols], sent[:, cols])
        # ABCD mirrored, HDLC echoed
        board.set_abcd(0, 12, 0b0011)
        frames = [bytes([i]) * (10 + i) for i in range(5)] + [b"\x7e\x7d" * 40]
        for f in frames:
            board.hdlc_send(1, 16, f)
        evs = []
        for _ in range(15):
            w.tick()
            evs += board.events()
        assert [(e.timeslot, e.abcd) for e in evs if isinstance(e, AbcdEvent)] == [(12, 0b0011)]
        assert [e.frame for e in evs if isinstance(e, HdlcEvent)] == frames
        w.close()                                    # the peer sees the cable go: it exits
        rc, log, err = finish(p)
        assert rc == 0, err
        cable = [(e["span"], e["connected"]) for e in log if e.get("event") == "cable"]
        assert (0, True) in cable and (1, True) in cable and (0, False) in cable
    finally:
        if p.poll() is None:
            p.kill()


def test_serve_realtime_paces_the_peer(tmp_path):
    path = str(tmp_path / "rt.sock")
    p = start_serve("--socket", path, "--realtime", "--duration", "5", "--exit-on-disconnect")
    try:
        w = World(5)
        board = open_board("hwsim", 0, world=w, spans=1, cable_socket={0: path})
        w.tick()                                   # the first exchange (the server accepts at its next tick)
        t0 = time.monotonic()
        w.tick(25)                                 # lock step with a peer that ticks every 20 ms
        wall = time.monotonic() - t0
        assert 0.35 <= wall <= 1.5, wall
        assert not board.spans[0].alarms
        w.close()
        rc, log, err = finish(p)
        assert rc == 0, err
        assert log[-1]["event"] == "stopped"
    finally:
        if p.poll() is None:
            p.kill()


def test_serve_bad_arguments(tmp_path):
    r = subprocess.run([sys.executable, "-m", "hwsim", "serve", "--socket", str(tmp_path / "x"), "--spans", "2",
                        "--signalling", "cas,ccs,cas"], env=sub_env(), capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "3 modes for 2 spans" in r.stderr
