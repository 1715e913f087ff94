"""The whole daemon under load: ``ctid run``, ``hwsim exchange`` and an external IVR as separate processes.

    python bench/bench_daemon.py load      # goal 1: 480 simultaneous IVR calls, daemon CPU, DTMF-to-event latency
    python bench/bench_daemon.py cps       # goal 3: sustained call attempts per second into the IVR
    python bench/bench_daemon.py load --spans 2 --window 10      # quick
    python bench/bench_daemon.py cps --rate 50 --seconds 10 --signalling ss7

Processes (all started here, ended here):
* the daemon: ``python -m ctid run --config GENERATED.toml --demo-data`` (one hwsim board, ``--spans`` E1 spans
  cabled over Unix sockets to the exchange, trunks ``s0``..``sN`` of ``--signalling``: ``mixed`` = the first
  half SS7, the second half China No.1; ``[ivr] mode = "external"``), SQLite in a temporary data directory;
* the far end: ``python -m hwsim exchange --script bench/daemon_scenario.py`` (lock step with the daemon's board
  over the cable sockets; the daemon's Pacer sets the pace, 20 ms per block in real time);
* the IVR: ``python bench/ivr_bench.py`` (libcti ``IvrRunner``, user ``ivr``), so the daemon's CPU is its own;
* a DTMF monitor in this process: a raw CTI connection (supervisor) subscribed to ``channel.dtmf`` that stamps
  each event with ``time.monotonic()`` when its line is read.

CPU is utime+stime from /proc/PID/stat over a steady window, as % of one core, for each process. Nothing here
asserts a time: it prints a table (and ``--json`` a summary line). See bench/README.md for the method.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, ROOT)
CALLED = "5000"


# ------------------------------------------------------------------------------------------------ processes
def Proc(name, argv, logdir):
    """A child process: stdout lines (JSON where possible) collected, stdout and stderr logged (hwsim.harness)."""
    from hwsim.harness import Child
    return Child(name, argv, logdir=logdir)


class DtmfMonitor(threading.Thread):
    """A CTI client (raw NDJSON, supervisor) subscribed to channel.dtmf; stamps each event when read."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.s.makefile("rb")
        json.loads(self.f.readline())                                    # hello
        self._req({"id": 1, "op": "login", "user": "supervisor", "password": "supervisor-demo"})
        self._req({"id": 2, "op": "subscribe", "events": ["channel.dtmf"]})
        self.s.settimeout(None)
        self.events: list = []                                           # (monotonic, channel, digit)

    def _req(self, obj):
        self.s.sendall(json.dumps(obj).encode() + b"\n")
        while True:
            msg = json.loads(self.f.readline())
            if msg.get("type") == "response" and msg.get("id") == obj["id"]:
                if not msg.get("ok"):
                    raise RuntimeError(f"monitor {obj['op']}: {msg}")
                return msg

    def run(self):
        f = self.f
        ev = self.events
        while True:
            try:
                line = f.readline()
            except OSError:
                return
            t = time.monotonic()
            if not line:
                return
            if b'"channel.dtmf"' not in line:
                if b'"ping"' in line:
                    msg = json.loads(line)
                    if msg.get("type") == "ping" or msg.get("op") == "ping":
                        try:
                            self.s.sendall(json.dumps({"id": msg.get("id", 0), "op": "ping"}).encode() + b"\n")
                        except OSError:
                            return
                continue
            msg = json.loads(line)
            d = msg.get("data", {})
            ev.append((t, d.get("channel"), d.get("digit")))

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def kinds_for(signalling: str, spans: int) -> list[str]:
    if signalling == "ss7":
        return ["ss7"] * spans
    if signalling == "china1":
        return ["no1"] * spans
    half = (spans + 1) // 2
    return ["ss7"] * half + ["no1"] * (spans - half)


def write_config(path, data_dir, sock, port, kinds, flow, priority="normal"):
    spans = len(kinds)
    sockets = ", ".join(f'{s} = "{sock}.{s}"' for s in range(spans))
    out = [f"""[daemon]
data_dir = "{data_dir}"
log_level = "warning"
priority = "{priority}"

[cti]
listen = ["tcp:{port}:interface=127.0.0.1"]
max_queue = 5000

[[boards]]
driver = "hwsim"
id = 0
spans = {spans}
options = {{ cable_socket = {{ {sockets} }} }}
"""]
    for s, k in enumerate(kinds):
        if k == "ss7":
            out.append(f"""[[trunks]]
name = "s{s}"
board = 0
span = {s}
signalling = "ss7"
variant = "itu"
opc = 0x2A51
dpc = 0x0123
cics = "1-15,17-31"
emergency_proving = true
""")
        else:
            out.append(f"""[[trunks]]
name = "s{s}"
board = 0
span = {s}
signalling = "china1"
timeslots = "1-15,17-31"
direction = "incoming"
""")
    out.append(f"""[[routes]]
called = "{CALLED}"
flow = "{flow}"

[[queues]]
name = "frontdesk"
agents = ["1001"]

[ivr]
mode = "external"
""")
    with open(path, "w") as f:
        f.write("\n".join(out))


def write_prompt(path, seconds, seed):
    """A speech-like prompt (noise with a syllabic envelope, 300-3400 Hz, about -18 dBm0): no DTMF in it."""
    from scipy.signal import butter, lfilter

    from ctid.dsp.wavfile import write_wav
    rng = np.random.default_rng(seed)
    n = int(seconds * 8000)
    b, a = butter(4, [300 / 4000, 3400 / 4000], btype="band")
    x = lfilter(b, a, rng.standard_normal(n))
    env = np.clip(np.sin(2 * np.pi * 3.0 * np.arange(n) / 8000), 0, None) ** 0.5
    x = x * env
    x *= 2300 / max(1e-9, np.sqrt(np.mean(x * x)))
    write_wav(path, np.clip(x, -32767, 32767).astype(np.int16))


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def pct(a, q):
    return float(np.percentile(np.asarray(a), q)) if len(a) else float("nan")


# ------------------------------------------------------------------------------------------------ the run
class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="ctid-bench-daemon-")
        self.logdir = args.logdir or os.path.join(self.tmp, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir)
        self.procs: list[Proc] = []
        self.port = free_port()
        self.sock = os.path.join(self.tmp, "e1")
        self.kinds = kinds_for(args.signalling, args.spans)

    def start(self, flow, scenario_args):
        a = self.args
        cfg = os.path.join(self.tmp, "ctid.toml")
        write_config(cfg, self.data_dir, self.sock, self.port, self.kinds, flow, a.priority)
        # in the daemon's default media directory ({data_dir}/media): file prompts elsewhere are refused (403)
        os.makedirs(os.path.join(self.data_dir, "media"), exist_ok=True)
        self.prompt = os.path.join(self.data_dir, "media", "prompt.wav")
        write_prompt(self.prompt, a.prompt_seconds, 1)
        self.ex = Proc("exchange", [sys.executable, "-m", "hwsim", "exchange", "--socket", self.sock,
                                    "--spans", ",".join(self.kinds), "--script", os.path.join(HERE, "daemon_scenario.py"),
                                    "--json", "--linger", "1"] + sum((["--arg", f"{k}={v}"]
                                                                       for k, v in scenario_args.items()), []),
                       self.logdir)
        self.procs.append(self.ex)
        self.ex.event("listening", 60)
        prof = ["-m", "cProfile", "-o", a.profile_daemon] if a.profile_daemon else []
        self.daemon = Proc("daemon", [sys.executable] + prof + ["-m", "ctid", "run", "--config", cfg, "--demo-data"],
                           self.logdir)
        self.procs.append(self.daemon)
        self.daemon.wait_for(lambda o: isinstance(o, str) and "ctid: running" in o, 120, "daemon running")
        self.ivr = Proc("ivr", [sys.executable, os.path.join(HERE, "ivr_bench.py"), "--cti",
                                f"tcp:127.0.0.1:{self.port}", "--route", f"{CALLED}={flow}", "--prompt", self.prompt,
                                "--record-seconds", str(a.record_seconds)]
                       + (["--short-tone", a.short_tone] if getattr(a, "short_tone", None) else []), self.logdir)
        self.procs.append(self.ivr)
        self.ivr.event("ivr_ready", 60)
        self.monitor = DtmfMonitor(self.port)
        self.monitor.start()
        self.ex.event("ready", 180)

    def cpu(self):
        return {"t": time.monotonic(), "daemon": self.daemon.cpu(), "ivr": self.ivr.cpu(), "exchange": self.ex.cpu()}

    def stop(self):
        stats = None
        if getattr(self, "ivr", None) is not None and self.ivr.p.poll() is None:
            self.ivr.stop()
            try:
                stats = self.ivr.event("ivr_stats", 5)
            except RuntimeError:
                pass
        if getattr(self, "monitor", None) is not None:
            self.monitor.close()
        for p in reversed(self.procs):
            p.stop()
        return stats

    def cleanup(self):
        if not self.args.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def window_cpu(c0, c1):
    dt = c1["t"] - c0["t"]
    return {k: 100.0 * (c1[k] - c0[k]) / dt for k in ("daemon", "ivr", "exchange")}, dt


def run_load(args) -> dict:
    b = Bench(args)
    digits_out = os.path.join(b.tmp, "digits.json")
    hold = args.settle + args.window + 4
    res = {"mode": "load", "spans": args.spans, "signalling": args.signalling, "priority": args.priority, "load_before": loadavg()}
    try:
        b.start("bench_load", {"mode": "load", "called": CALLED, "ramp": args.ramp, "hold": hold,
                               "period": args.period, "speak": args.record_seconds, "digits_out": digits_out,
                               "answer_timeout": 40})
        print(f"ready; {30 * args.spans} calls ramping over {args.ramp} s", flush=True)
        up = b.ex.event("all_up", args.ramp + 90)
        res["answered"], res["failed_setup"] = up["answered"], up["failed"]
        print(f"all up: {up['answered']} answered, {up['failed']} failed; settling {args.settle} s", flush=True)
        time.sleep(args.settle)
        s0 = [o for o in b.ex.lines if isinstance(o, dict) and o.get("event") == "stats"][-1]
        c0 = b.cpu()
        time.sleep(args.window)
        c1 = b.cpu()
        s1 = [o for o in b.ex.lines if isinstance(o, dict) and o.get("event") == "stats"][-1]
        cpu, dt = window_cpu(c0, c1)
        res["cpu_pct"] = {k: round(v, 1) for k, v in cpu.items()}
        res["window_s"] = round(dt, 1)
        if s1["mono"] > s0["mono"]:
            res["world_per_wall"] = round((s1["world"] - s0["world"]) / (s1["mono"] - s0["mono"]), 4)
        result = b.ex.event("load_result", hold + 120)
        res["load_result"] = {k: result[k] for k in ("calls", "dialed", "answered", "failed", "hung_up",
                                                     "cleared_by_daemon", "digits")}
        res["failures"] = result.get("failures")
        time.sleep(1.0)
        with open(digits_out) as f:
            pressed = json.load(f)
        res.update(match_digits(pressed, list(b.monitor.events)))
    finally:
        res["ivr_stats"] = b.stop()
        flow_failed = sum(f.get("failed", 0) for f in (res["ivr_stats"] or {}).get("flows", {}).values())
        if flow_failed:          # a failed flow means the IVR apologised instead of doing the benchmark's work
            res["failures"] = list(res.get("failures") or []) + [f"{flow_failed} IVR flows failed"]
        res["load_after"] = loadavg()
        res["recordings"] = count_files(os.path.join(b.data_dir, "recordings"))
        b.cleanup()
    return res


def count_files(d):
    n = 0
    for _root, _dirs, files in os.walk(d):
        n += len(files)
    return n


def match_digits(pressed, events):
    """Per channel, the k-th digit pressed <-> the k-th channel.dtmf event; latency = event read - tone start."""
    by_ch: dict = {}
    for t, ch, d in events:
        by_ch.setdefault(ch, []).append((t, d))
    pressed_by: dict = {}
    for ch, d, s, t0 in pressed:
        pressed_by.setdefault(ch, []).append((s, d, t0))
    lat, wrong, missing, unstamped = [], 0, 0, 0
    extra = 0
    for ch, items in pressed_by.items():
        items.sort()
        got = by_ch.get(ch, [])
        extra += max(0, len(got) - len(items))
        for k, (s, d, t0) in enumerate(items):
            if k >= len(got):
                missing += 1
                continue
            t, dd = got[k]
            if dd != d:
                wrong += 1
                continue
            if t0 is None:
                unstamped += 1
                continue
            lat.append((t - t0) * 1000.0)
    extra += sum(len(v) for ch, v in by_ch.items() if ch not in pressed_by)
    out = {"digits_pressed": len(pressed), "dtmf_events": len(events), "digits_matched": len(lat),
           "digits_missing": missing, "digits_wrong": wrong, "digits_extra": extra, "digits_unstamped": unstamped}
    if lat:
        out["dtmf_latency_ms"] = {"p50": round(pct(lat, 50), 1), "p95": round(pct(lat, 95), 1),
                                  "p99": round(pct(lat, 99), 1), "max": round(max(lat), 1),
                                  "min": round(min(lat), 1)}
    return out


def run_cps(args) -> dict:
    b = Bench(args)
    res = {"mode": "cps", "spans": args.spans, "signalling": args.signalling, "priority": args.priority, "rate": args.rate,
           "seconds": args.seconds, "load_before": loadavg()}
    try:
        b.start("bench_short", {"mode": "cps", "called": CALLED, "rate": args.rate, "seconds": args.seconds,
                                "listen": args.listen, "answer_timeout": 10})
        b.ex.event("cps_start", 30)
        c0 = b.cpu()
        b.ex.event("cps_placed", args.seconds * 3 + 60)
        c1 = b.cpu()
        r = b.ex.event("cps_result", 120)
        c2 = b.cpu()
        cpu, dt = window_cpu(c0, c1)
        res["cpu_pct_while_placing"] = {k: round(v, 1) for k, v in cpu.items()}
        d_cpu = c2["daemon"] - c0["daemon"]
        res["daemon_cpu_s"] = round(d_cpu, 2)
        res["ivr_cpu_s"] = round(c2["ivr"] - c0["ivr"], 2)
        keys = ("attempts", "answered", "completed", "failed")
        res.update({k: r[k] for k in keys})
        res["wall_placing_s"], res["world_placing_s"] = r["wall_placing"], r["world_placing"]
        res["wall_total_s"] = r["wall_total"]
        res["attempts_per_wall_s"] = round(r["attempts"] / r["wall_placing"], 1)
        res["attempts_per_daemon_cpu_s"] = round(r["attempts"] / d_cpu, 1) if d_cpu > 0 else None
        res["prompt_delay_ms"] = r.get("prompt_delay_ms")
        res["failures"] = r.get("failures")
        res["world_per_wall"] = round(r["world_placing"] / r["wall_placing"], 3)
        res["attempts_per_world_s"] = round(r["attempts"] / r["world_placing"], 1)
    finally:
        res["ivr_stats"] = b.stop()
        flow_failed = sum(f.get("failed", 0) for f in (res["ivr_stats"] or {}).get("flows", {}).values())
        if flow_failed:          # a failed flow means the IVR apologised instead of doing the benchmark's work
            res["failures"] = list(res.get("failures") or []) + [f"{flow_failed} IVR flows failed"]
        res["load_after"] = loadavg()
        b.cleanup()
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("load", "cps"):
        p = sub.add_parser(name)
        p.add_argument("--spans", type=int, default=16, help="E1 spans (30 channels each; default 16)")
        p.add_argument("--signalling", choices=("ss7", "china1", "mixed"), default="mixed" if name == "load" else "ss7")
        p.add_argument("--prompt-seconds", type=float, default=1.0 if name == "load" else 0.3)
        p.add_argument("--record-seconds", type=float, default=2.0)
        p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data)")
        p.add_argument("--logdir", help="write the processes' logs here")
        p.add_argument("--json", action="store_true", help="print the summary as one JSON line")
        p.add_argument("--profile-daemon", metavar="FILE.prof", help="run the daemon under cProfile (slower)")
        p.add_argument("--priority", choices=("normal", "high", "realtime"), default="normal",
                       help="the daemon's [daemon] priority (high = nice -10, as FreeSWITCH -hp; needs root)")
        if name == "load":
            p.add_argument("--ramp", type=float, default=12.0, help="seconds over which the calls are placed")
            p.add_argument("--settle", type=float, default=5.0, help="seconds after the last answer before the window")
            p.add_argument("--window", type=float, default=30.0, help="CPU measurement window, seconds")
            p.add_argument("--period", type=float, default=4.0, help="each caller's cycle: digits, speech, pause")
        else:
            p.add_argument("--rate", type=float, default=100.0, help="call attempts per second")
            p.add_argument("--short-tone", help="the IVR plays this tone (e.g. beep) instead of the prompt file")
            p.add_argument("--seconds", type=float, default=30.0, help="seconds of attempts")
            p.add_argument("--listen", type=float, default=0.3,
                           help="seconds each caller listens after the prompt starts, then hangs up")
    args = ap.parse_args(argv)
    if not 1 <= args.spans <= 16:
        ap.error("--spans must be 1..16")
    res = run_load(args) if args.cmd == "load" else run_cps(args)
    if args.json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:28s} {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
