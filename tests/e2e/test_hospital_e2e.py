"""A hospital call, end to end, with the daemon and the far end as separate processes in real time.

``hwsim exchange`` (the far-end exchange, tests/e2e/hospital_scenario.py) serves the E1 cable sockets and the
analogue far ends; ``ctid run`` (the daemon, its own SQLite database) opens hwsim board 0 cabled to it: span 0
SS7, span 1 China No.1, FXO ports 0-1 on exchange lines, FXS ports 2-3 with the agents' telephones. An agent desk
(tests/e2e/agent_desk.py, libcti only) logs agent 1001 in on extension analog/2.

Proves: calls over SS7, China No.1 and an FXO line with caller ID reach the IVR, which answers with the rendered
welcome prompt (heard and matched at the far end); DTMF 2 pressed as tones brings the department list (matched
against its rendering); DTMF 0 queues the caller, the agent desk gets the offer with the calling number and the
screen pop, answers through CTI, and tones cross the bridge both ways; hang-ups clear the trunks; CDRs hold the
numbers, times and causes. The CTI socket refuses unauthenticated and unauthorised requests with error codes and
garbage closes only that connection. After SIGKILL of the daemon mid-call and a restart, the earlier CDRs are all
there, the SS7 circuits are reset (GRS), and new calls on SS7 and China No.1 complete.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

import numpy as np
import pytest

from hwsim.harness import Child, child_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
HOSPITAL = "114"

pytestmark = pytest.mark.e2e


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def Proc(name, argv, env=None):
    """A child process (hwsim.harness.Child); CTID_E2E_LOGDIR keeps the children's output."""
    return Child(name, argv, logdir=os.environ.get("CTID_E2E_LOGDIR"), env=env)


class CtiSocket:
    """A raw NDJSON CTI connection (independent of libcti) for the protocol checks."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")
        self.hello = self.read()
        self.n = 0

    def read(self):
        line = self.f.readline()
        if not line:
            return None
        return json.loads(line)

    def send(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")

    def request(self, op, **args):
        self.n += 1
        self.send({"id": self.n, "op": op, **args})
        while True:
            msg = self.read()
            if msg is None or (msg.get("type") == "response" and msg.get("id") == self.n):
                return msg

    def close(self):
        self.s.close()


def wait_listening(port, proc, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.p.poll() is not None:
            raise AssertionError(f"daemon exited ({proc.p.returncode}):\n" + "\n".join(map(str, proc.lines[-40:])))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("daemon not listening:\n" + "\n".join(map(str, proc.lines[-40:])))


def write_alaw_wav(path, codes):
    from ctid.dsp.g711 import alaw_decode
    from ctid.dsp.wavfile import write_wav
    write_wav(path, alaw_decode(np.asarray(codes, dtype=np.uint8)), law="alaw")   # A-law -> linear -> A-law is exact


def references(data_dir, tmp):
    """The welcome prompt and the first seconds of the department list, rendered as the daemon renders them
    (same TTS, same cache directory, same demo data): what the far end must hear."""
    import datetime as dt

    from ctid.db import hospital, open_database
    from ctid.db.demo import load_demo
    from ctid.media.prompts import PromptCatalogue
    from ctid.media.tts import Tts
    from ivrflows.hospital import departments_text

    tts = Tts(os.path.join(data_dir, "tts"))
    cat = PromptCatalogue(os.path.join(data_dir, "prompts"), tts)
    welcome = cat.render("welcome")
    db = open_database("sqlite://")
    load_demo(db, dt.date.today())
    deps_text = departments_text({"departments": hospital.departments(db)})
    db.close()
    deps = tts.render(deps_text, "zh")[: 8000 * 4]
    paths = {}
    for name, codes in (("welcome", welcome), ("deps", deps)):
        paths[name] = os.path.join(tmp, f"ref-{name}.wav")
        write_alaw_wav(paths[name], codes)
    return paths


def config(tmp, data_dir, sock, port):
    text = f"""
[daemon]
data_dir = "{data_dir}"

[cti]
listen = ["tcp:{port}:interface=127.0.0.1"]

[[boards]]
driver = "hwsim"
id = 0
spans = 2
ports = ["fxo", "fxo", "fxs", "fxs"]
options = {{ cable_socket = {{ 0 = "{sock}.0", 1 = "{sock}.1" }}, port_socket = "{sock}.ports" }}

[[trunks]]
name = "ss7"
board = 0
span = 0
signalling = "ss7"
variant = "itu"
opc = 0x2A51
dpc = 0x0123
cics = "1-15,17-31"
emergency_proving = true

[[trunks]]
name = "no1"
board = 0
span = 1
signalling = "china1"
timeslots = "1-15,17-31"
direction = "incoming"

[[trunks]]
name = "analog"
board = 0
signalling = "analog"
ports = [0, 1, 2, 3]
number = "{HOSPITAL}"

[[routes]]
called = "{HOSPITAL}"
flow = "hospital_main"

[[queues]]
name = "frontdesk"
agents = ["1001"]
"""
    path = os.path.join(tmp, "ctid.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def start_daemon(cfg, port):
    d = Proc("daemon", [sys.executable, "-m", "ctid", "run", "--config", cfg, "--demo-data"], env=child_env())
    wait_listening(port, d)
    d.wait_for(lambda o: isinstance(o, str) and "ctid: running" in o, 60, "daemon running")
    return d


def cdrs(data_dir):
    from ctid.db import open_database
    db = open_database(f"sqlite:///{data_dir}/ctid.db", create=False)
    try:
        return db.cdrs.recent(100)
    finally:
        db.close()


def test_hospital_call_end_to_end(tmp_path):
    tmp = str(tmp_path)
    data_dir = os.path.join(tmp, "data")
    os.makedirs(data_dir)
    refs = references(data_dir, tmp)
    sock = os.path.join(tmp, "e1")
    port = free_port()
    cfg = config(tmp, data_dir, sock, port)
    ex = Proc("exchange", [sys.executable, "-m", "hwsim", "exchange", "--socket", sock, "--spans", "ss7,no1",
                           "--ports", "fxo,fxo,fxs,fxs", "--script", os.path.join(HERE, "hospital_scenario.py"),
                           "--reference", f"welcome={refs['welcome']}", "--reference", f"deps={refs['deps']}",
                           "--arg", "kill=1", "--arg", "agent_port=2", "--json", "--linger", "30"], env=child_env())
    procs = [ex]
    try:
        ex.event("listening", 30)
        daemon = start_daemon(cfg, port)
        procs.append(daemon)
        desk = Proc("desk", [sys.executable, os.path.join(HERE, "agent_desk.py"), f"tcp:127.0.0.1:{port}",
                             "1001", "1001-demo", "analog/2"], env=child_env())
        procs.append(desk)
        desk.event("desk.ready", 30)

        # --- the CTI socket: authentication, roles, garbage (while the calls run) -----------------------
        raw = CtiSocket(port)
        assert raw.hello["protocol"] == "ctid-cti/1"
        r = raw.request("snapshot")
        assert r["ok"] is False and r["error"]["code"] == 401
        r = raw.request("login", user="1002", password="wrong-password")
        assert r["ok"] is False and r["error"]["code"] == 401
        raw.close()                                     # (a failed login slows further tries on that connection)
        raw = CtiSocket(port)
        r = raw.request("login", user="1002", password="1002-demo")
        assert r["ok"] is True, r
        r = raw.request("originate", trunk="ss7", called="12345")
        assert r["ok"] is False and r["error"]["code"] == 403          # an agent may not place trunk calls
        bad = CtiSocket(port)
        bad.s.sendall(os.urandom(70000) + b"\n")
        end = time.monotonic() + 10
        closed = False
        while time.monotonic() < end:
            try:
                if bad.s.recv(65536) == b"":
                    closed = True
                    break
            except OSError:
                closed = True
                break
        assert closed, "garbage did not close the connection"
        assert raw.request("ping")["ok"] is True                       # the other connection is unaffected

        # --- phase 1: three callers --------------------------------------------------------------------
        ex.event("ready", 90)
        info = ex.event("info", 120)
        agent = ex.event("agent", 90)
        fxo = ex.event("fxo", 90)
        for res in (info, agent, fxo):
            assert res["dial"]["outcome"] == "answered", res
            assert res["welcome_speech"], res
            assert res["welcome_match"] >= 0.7, res
        assert info["deps_speech"] and info["deps_match"] >= 0.7, info
        assert info["deps_match"] > info["deps_match_welcome"], info
        assert "rx REL" in info["view"] or "rx RLC" in info["view"], info["view"]
        offer = desk.event("call.offered", 10)
        assert offer["data"]["calling"] == "13900139002"
        pop = desk.event("desk.screen_pop", 10)
        assert pop["calling"] == "13900139002"
        assert agent["answered_by"] == "cti", agent
        assert agent["agent_hears_1000"] and not agent["agent_hears_600"], agent
        assert agent["caller_hears_600"] and not agent["caller_hears_1000"], agent
        desk.event("desk.done", 30)
        ex.event("phase1", 10)

        # --- phase 2: SIGKILL mid-call, restart -------------------------------------------------------------
        time.sleep(2.0)                                      # the phase-1 CDRs are written when the calls end
        before = cdrs(data_dir)
        in_call = ex.event("in_call", 60)
        assert in_call["ok"], in_call
        daemon.p.send_signal(signal.SIGKILL)
        daemon.p.wait(10)
        released = ex.event("released", 60)
        assert released["state"] != "answered"
        daemon2 = start_daemon(cfg, port)
        procs.append(daemon2)
        restarted = ex.event("restarted", 120)
        assert "GRS" in restarted["resets"] or "RSC" in restarted["resets"], restarted
        after = [ex.event("after_restart", 60)]
        after.append(ex.wait_for(lambda o: isinstance(o, dict) and o.get("event") == "after_restart"
                                 and o is not after[0], 60, "second after_restart"))
        for res in after:
            assert res["dial"]["outcome"] == "answered", res
            assert res["welcome_match"] >= 0.7, res
        phase2 = ex.event("phase2", 30)
        assert phase2["ok"], phase2
        done = ex.event("done", 30)
        assert done["ok"], done
        # --- no channel stuck after the restart (while the exchange still lingers on the line) ----------------------------------------------------------
        mon = CtiSocket(port)
        assert mon.request("login", user="supervisor", password="supervisor-demo")["ok"]
        snap = mon.request("snapshot")["result"]
        stuck = [c for c in snap["channels"] if c["state"] not in ("idle",) and c["trunk"] in ("ss7", "no1")]
        assert not stuck, sorted({(c["channel"], c["state"]) for c in stuck})
        mon.close()

        # --- CDRs: nothing lost across the kill, right numbers/times/causes ------------------------------
        time.sleep(2.0)
        rows = cdrs(data_dir)
        ids = {(c.get("call"), c.get("channel")) for c in rows}
        for c in before:
            assert (c.get("call"), c.get("channel")) in ids, c
        by_calling = {}
        for c in rows:
            by_calling.setdefault(c.get("calling"), []).append(c)
        for number in ("13800138001", "13900139002", "13700137003", "13500135005", "13400134006"):
            assert number in by_calling, (number, rows)
            c = by_calling[number][0]
            assert c["called"] == HOSPITAL, c
            assert c["answer"] is not None and c["end"] is not None and c["end"] >= c["answer"] >= c["start"], c
            assert c["cause"] == 16, c
        assert by_calling["13900139002"][0].get("agent") == "1001", by_calling["13900139002"]

        raw.close()
    finally:
        for p in reversed(procs):
            p.stop()
