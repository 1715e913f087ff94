"""``hwsim exchange`` as its own process against board A in this process, over cable sockets (SS7 span, China
No.1 span) and the port socket (an FXO line with caller ID, an FXS phone), in real time (20 ms per block paced
here; the exchange follows in lock step). The exchange runs the built-in "calls" scenario: a call on each trunk
at once, hear, press 2, hear, hang up; its results come back as JSON lines."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

import pytest
from twisted.internet import task

sys.path.insert(0, os.path.dirname(__file__))
from answerer import Answerer  # noqa: E402

from ctid.drivers import open_board  # noqa: E402
from ctid.drivers.hwsim import World  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "farend_script.py")


def reader(stream, q):
    for line in stream:
        q.put(line)
    q.put(None)


def test_exchange_process_calls_over_sockets(tmp_path):
    sock = str(tmp_path / "e1")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwsim", "exchange", "--socket", sock, "--spans", "ss7,no1", "--ports", "fxo,fxs",
         "--script", SCRIPT, "--arg", "hear=1.0", "--arg", "called=114", "--json", "--exit-on-disconnect"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    q: queue.Queue = queue.Queue()
    threading.Thread(target=reader, args=(proc.stdout, q), daemon=True).start()
    lines = []
    w = None
    try:
        deadline = time.monotonic() + 30
        while True:
            line = q.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, proc.stderr.read()
            lines.append(json.loads(line))
            if lines[-1].get("event") == "listening":
                break
        assert lines[-1]["ports"] == sock + ".ports" and lines[-1]["sockets"] == [sock + ".0", sock + ".1"]
        w = World(4)
        board = open_board("hwsim", 0, world=w, spans=2, ports=["fxo", "fxs"], span_config=["ccs", "cas"],
                           cable_socket={0: sock + ".0", 1: sock + ".1"}, port_socket=sock + ".ports")
        for _ in range(10):           # frame and multiframe alignment before the CAS channels start
            w.tick(1)
        board.events()
        clock = task.Clock()
        clock.advance(w.seconds)
        ans = Answerer(board, clock)
        done = None
        t_next = time.monotonic()
        limit = time.monotonic() + 45
        while done is None and time.monotonic() < limit:
            w.tick(1)
            clock.advance(0.02)
            ans.step()
            while not q.empty():
                line = q.get()
                if line is None:
                    break
                lines.append(json.loads(line))
                if lines[-1].get("event") == "done":
                    done = lines[-1]
            t_next += 0.02
            time.sleep(max(0.0, t_next - time.monotonic()))     # real time: 20 ms per block
        assert done is not None, lines[-5:]
        # a few more blocks so the exchange's linger ends while we are still connected
        for _ in range(30):
            w.tick(1)
            clock.advance(0.02)
            ans.step()
    finally:
        if w is not None:
            w.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert done["ok"], done
    calls = {x["trunk"]: x for x in lines if x.get("event") == "call"}
    assert set(calls) == {"ss7", "no1", "analog"}
    for trunk, c in calls.items():
        assert c["dial"]["outcome"] == "answered", c
        assert c["speech"] and c["speech_dbm0"] > -30, c
        assert c["matches"]["p1"] > 0.9 and c["matches"]["p3"] < 0.4, c
        assert c["after_press_matches"]["p2"] > 0.9 and c["after_press_matches"]["p1"] < 0.4, c
        assert c["cleared_by"] == "us"
    assert calls["ss7"]["view"].index("tx REL") < calls["ss7"]["view"].index("rx RLC")
    v = calls["no1"]["view"]
    assert v.index("clear-forward sent") < v.index("idle")
    v = calls["analog"]["view"]
    assert v.index("line hang-up (busy tone)") < v.index("board on hook")
    # what board A saw: the digits pressed (in the audio), the caller ID, the numbers over SS7 and China No.1
    assert sorted(ans.digits.values()).count("2") == 3, ans.digits
    assert ans.cids[0]["number"] == calls["analog"]["calling"]
    assert ans.calls[0].called == "114" and ans.calls[0].calling == calls["ss7"]["calling"]
    no1 = [ch for ch in ans.cas.values() if ch.result is not None]
    assert no1 and no1[0].result.calling == calls["no1"]["calling"]
    assert proc.returncode == 0, proc.stderr.read()[-2000:]


@pytest.mark.parametrize("argv, message", [
    (["--spans", "ss7,isdn"], "--spans"),
    (["--ports", "fxq"], "--ports"),
    (["--script", "/nonexistent/scenario.py"], "--script"),
    (["--scenario", "dance"], "--scenario"),
    (["--arg", "novalue"], "--arg"),
    (["--reference", "p=/nonexistent.wav"], "--reference"),
])
def test_exchange_cli_bad_arguments(tmp_path, capsys, argv, message):
    from hwsim.cli import main
    rc = main(["exchange", "--socket", str(tmp_path / "e1"), *argv])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("hwsim exchange: ") and message in err, err


def test_scenario_failure_is_reported(tmp_path, capsys):
    """A scenario that raises ends the run with exit status 1 and the error in the "done" line."""
    from hwsim.cli import main
    script = tmp_path / "bad.py"
    script.write_text("async def scenario(ctx):\n    raise RuntimeError('scripted failure')\n")
    rc = main(["exchange", "--socket", str(tmp_path / "e1"), "--spans", "no1", "--script", str(script), "--json",
               "--linger", "0.1"])
    out = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    done = next(x for x in out if x["event"] == "done")
    assert rc == 1 and not done["ok"] and "scripted failure" in done["error"]
    assert not os.path.exists(str(tmp_path / "e1"))      # the socket is removed on exit


def test_open_ended_and_finite_scenarios_at_the_duration(tmp_path, capsys):
    """--duration ends an open-ended scenario (answer) well, and cuts a finite one (calls: no daemon came, so
    it never got ready) as a failure."""
    from hwsim.cli import main
    rc = main(["exchange", "--socket", str(tmp_path / "a"), "--spans", "ss7", "--scenario", "answer",
               "--duration", "0.2", "--json"])
    done = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"done"' in x][0]
    assert rc == 0 and done["ok"] and done["stopped"]
    rc = main(["exchange", "--socket", str(tmp_path / "b"), "--spans", "no1", "--duration", "0.2", "--json"])
    done = [json.loads(x) for x in capsys.readouterr().out.splitlines() if '"done"' in x][0]
    assert rc == 1 and not done["ok"] and "before the scenario finished" in done["error"]
