"""CTI event fan-out latency (a benchmark, not a test): N libcti clients subscribed to all events on loopback.

    python bench/bench_cti.py                       # 200 clients, 50 events/s for 20 s
    python bench/bench_cti.py --clients 200 --rate 100 --seconds 30 --client-procs 2
    python bench/bench_cti.py --rate 200 --burst 10             # 10 events at a time (one media tick's worth)

Three kinds of process: the CTI server (ctid.cti.CtiServer) fed by an event source that emits channel events
at a steady rate, stamping each with time.monotonic() just before the server fans it out; `--client-procs`
processes each running its share of the libcti clients (all logged in as a supervisor, subscribed to "*"); and
this orchestrator. Latency = monotonic() in the client's event handler - the stamp (CLOCK_MONOTONIC is one
clock for all processes on Linux). Reported: p50/p90/p99/max over every (event, client) delivery, events
lost or overflowed, the server's CPU per event fanned out and the client processes' CPU per delivery.
BENCH_CTI_PROFILE=FILE (server) and BENCH_CTI_CLIENT_PROFILE=PREFIX (each client process: PREFIX.<pid>) write
cProfile output.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)


class SteadySource:
    """The event side of the engine interface: snapshot() and subscribe(); emits stamped events on demand."""

    def __init__(self):
        self.listeners = []
        self.n = 0

    def snapshot(self):
        return {"channels": [{"channel": f"ss7/{i}", "trunk": "ss7", "kind": "ss7", "state": "idle", "call": None,
                              "calling": None, "called": None, "media": "idle"} for i in range(1, 31)],
                "calls": [], "agents": [], "queues": [{"queue": "frontdesk", "waiting": 0, "ready_agents": 0}]}

    def subscribe(self, fn):
        self.listeners.append(fn)
        return lambda: self.listeners.remove(fn)

    def emit(self, name="channel.dtmf"):
        self.n += 1
        ev = {"event": name, "channel": f"ss7/{self.n % 30 + 1}", "call": "%012x" % self.n,
              "digit": "0123456789*#"[self.n % 12], "n": self.n, "t": time.monotonic()}
        for fn in self.listeners:
            fn(ev)


class Users:
    def authenticate(self, user, password):
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class P:
            user: str
            roles: frozenset
            agent: None = None
        return P(user, frozenset({"supervisor"})) if password == "bench" else None

    def authenticate_token(self, token):
        return None


def serve(args):
    from twisted.internet import reactor, stdio, task
    from twisted.protocols.basic import LineReceiver

    from ctid.cti import CtiServer

    source = SteadySource()
    server = CtiServer(source, Users(), reactor, queue_limit=args.queue_limit)

    class Control(LineReceiver):
        delimiter = b"\n"

        def lineReceived(self, line):
            if line.strip() == b"start":
                start()

        def connectionLost(self, reason=None):
            if reactor.running:
                reactor.stop()

    def start():
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        total = int(args.rate * args.seconds)
        def tick():                      # --burst events in one reactor turn, as one media tick can bring them
            for _ in range(args.burst):
                source.emit()
        lc = task.LoopingCall(tick)

        def finished(_):
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
            conns = list(server.connections)
            report = {"events": source.n, "cpu_s": cpu, "connections": len(conns),
                      "dropped": sum(c.dropped for c in conns), "paused": sum(1 for c in conns if c.paused)}
            source.emit("bench.done")
            print(json.dumps(report), flush=True)

        lc.start(args.burst / args.rate, now=True)
        reactor.callLater(total / args.rate, lambda: (lc.stop(), finished(None)))

    def listening(ports):
        print(json.dumps({"port": ports[0].getHost().port}), flush=True)
        stdio.StandardIO(Control())

    server.listen(reactor, ["tcp:0:interface=127.0.0.1:backlog=1024"]).addCallback(listening)
    reactor.run()


def clients(args):
    from twisted.internet import defer, reactor

    from libcti import Client

    lat = []
    done = defer.Deferred()
    finished = [0]
    seen = [0]
    endpoint = f"tcp:127.0.0.1:{args.port}"

    def on_event(ev):
        if ev.name == "bench.done":
            finished[0] += 1
            if finished[0] == args.n and not done.called:
                done.callback(None)
            return
        lat.append(time.monotonic() - ev.data["t"])
        seen[0] += 1

    overflow = [0]

    @defer.inlineCallbacks
    def run():
        cs = []
        for i in range(args.n):
            c = Client(endpoint, user=f"bench{i}", password="bench", reactor=reactor, reconnect=False,
                       timeout=60)
            c.on("*", on_event)
            c.on("cti.overflow", lambda ev: overflow.__setitem__(0, overflow[0] + 1))
            cs.append(c.connect())
        cs = yield defer.gatherResults(cs, consumeErrors=True)
        yield defer.gatherResults([c.subscribe(["*"]) for c in cs], consumeErrors=True)
        print(json.dumps({"ready": len(cs)}), flush=True)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        yield done
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        print(json.dumps({"latencies": [round(x * 1e3, 4) for x in lat], "overflows": overflow[0], "cpu_s": cpu}),
              flush=True)
        yield defer.gatherResults([c.close() for c in cs])
        reactor.stop()

    reactor.callWhenRunning(lambda: run().addErrback(lambda f: (f.printTraceback(), reactor.stop())))
    reactor.run()


def pct(xs, p):
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def orchestrate(args):
    me = os.path.abspath(__file__)
    load0 = os.getloadavg()
    srv = subprocess.Popen([sys.executable, me, "--serve", "--rate", str(args.rate), "--seconds", str(args.seconds),
                            "--burst", str(args.burst),
                            "--queue-limit", str(args.queue_limit)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           text=True)
    port = json.loads(srv.stdout.readline())["port"]
    per = [args.clients // args.client_procs + (1 if i < args.clients % args.client_procs else 0)
           for i in range(args.client_procs)]
    procs = [subprocess.Popen([sys.executable, me, "--client-proc", "--port", str(port), "--n", str(n)],
                              stdout=subprocess.PIPE, text=True) for n in per]
    for p in procs:
        ready = json.loads(p.stdout.readline())
        assert ready["ready"] > 0
    srv.stdin.write("start\n")
    srv.stdin.flush()
    report = json.loads(srv.stdout.readline())
    lat, overflows, client_cpu = [], 0, 0.0
    for p in procs:
        out = json.loads(p.stdout.readline())
        lat += out["latencies"]
        overflows += out["overflows"]
        client_cpu += out["cpu_s"]
        p.wait(60)
    srv.stdin.close()
    srv.wait(30)
    lat.sort()
    expected = report["events"]
    deliveries = expected * args.clients
    print(f"clients {args.clients} in {args.client_procs} process(es), {args.rate} events/s "
          f"({args.burst} per reactor turn) for {args.seconds:g} s, "
          f"queue limit {args.queue_limit}")
    print(f"load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"deliveries {len(lat)} of {deliveries} ({deliveries - len(lat)} missing, {overflows} cti.overflow)")
    print("fan-out latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f" % (
        pct(lat, 50), pct(lat, 90), pct(lat, 99), lat[-1] if lat else float("nan")))
    print("server CPU %.2f s for %d events = %.1f us per event, %.2f us per delivery" % (
        report["cpu_s"], expected, 1e6 * report["cpu_s"] / max(1, expected),
        1e6 * report["cpu_s"] / max(1, deliveries)))
    print("client processes' CPU %.2f s = %.2f us per delivery (reading, parsing, dispatching to the handler)" % (
        client_cpu, 1e6 * client_cpu / max(1, deliveries)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--rate", type=float, default=50.0, help="events per second")
    ap.add_argument("--burst", type=int, default=1, help="events emitted together in one reactor turn")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--queue-limit", type=int, default=1000)
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--client-proc", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        if os.environ.get("BENCH_CTI_PROFILE"):
            import cProfile
            cProfile.runctx("serve(args)", globals(), {"args": args, "serve": serve},
                            os.environ["BENCH_CTI_PROFILE"])
        else:
            serve(args)
    elif args.client_proc:
        if os.environ.get("BENCH_CTI_CLIENT_PROFILE"):     # one profile file per client process
            import cProfile
            cProfile.runctx("clients(args)", globals(), {"args": args, "clients": clients},
                            f"{os.environ['BENCH_CTI_CLIENT_PROFILE']}.{os.getpid()}")
        else:
            clients(args)
    else:
        orchestrate(args)


if __name__ == "__main__":
    main()
