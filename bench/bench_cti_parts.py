"""Where the CTI fan-out time goes, part by part (a benchmark, not a test): companion of bench_cti.py.

    python bench/bench_cti_parts.py                 # both parts, about 30 s
    python bench/bench_cti_parts.py server          # ctid.cti fan-out cost per delivery, in one process
    python bench/bench_cti_parts.py client          # cost per received event frame: epoll, Twisted, libcti

server: a CtiServer with N logged-in, subscribed connections from plain loopback sockets in the same process;
only the fan-out (`engine event -> every connection`) is timed, the sockets are drained between events. Run
once with the real sockets (Python + kernel `send`) and once with each connection's send replaced by a no-op
(ctid.cti's own Python per delivery), plus a loop of bare `socket.send` calls for the kernel alone.

client: a sender process writes one event frame to each of N connections every 20 ms; the receiving process
is (raw) a select.epoll loop that only recv()s, (twisted) Twisted's reactor with a Protocol that does nothing,
(libcti) Twisted with libcti's connection and an event handler. CPU per frame (user + system) from getrusage.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import select
import socket
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)


def frame_bytes(k: int) -> bytes:
    data = {"channel": f"ss7/{k % 30 + 1}", "call": "%012x" % k, "digit": "0123456789*#"[k % 12], "n": k,
            "t": time.monotonic()}
    return (b'{"type":"event","seq":%d,"event":"channel.dtmf","data":' % k
            + json.dumps(data, separators=(",", ":")).encode() + b"}\n")


# -- server part -------------------------------------------------------------------------------------------
def server_part(n: int, events: int, stub_send: bool) -> float:
    """Seconds of wall time per delivery spent in the fan-out (Python + send, or Python only)."""
    from twisted.internet import defer, reactor, task

    from bench_cti import SteadySource, Users
    from ctid.cti import CtiServer

    source = SteadySource()
    server = CtiServer(source, Users(), reactor)
    result = []

    def turn(t=0.0):
        return task.deferLater(reactor, t, lambda: None)

    @defer.inlineCallbacks
    def run():
        [port] = yield server.listen(reactor, ["tcp:0:interface=127.0.0.1:backlog=1024"])
        socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port.getHost().port))
            s.setblocking(False)
            s.send(b'{"id":1,"op":"login","user":"b%d","password":"bench"}\n'
                   b'{"id":2,"op":"subscribe","events":["*"]}\n' % i)
            socks.append(s)
        while sum(1 for c in server.connections if c.patterns) < n:
            yield turn(0.01)
        yield turn(0.05)

        def drain():
            for s in socks:
                try:
                    while s.recv(65536):
                        pass
                except BlockingIOError:
                    pass
        drain()
        if stub_send:
            for c in server.connections:
                c.writer._send = len          # "sent it all", no syscall
        spent = 0.0
        for _ in range(events):
            t0 = time.perf_counter()
            source.emit()
            spent += time.perf_counter() - t0
            yield turn()                  # a new reactor turn for each event: its first frame goes directly
            drain()
        result.append(spent / (n * events))
        for s in socks:
            s.close()
        yield port.stopListening()
        reactor.stop()

    reactor.callWhenRunning(run)
    reactor.run()
    return result[0]


def bare_send(n: int, events: int) -> float:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1024)
    clients = [socket.create_connection(srv.getsockname()) for _ in range(n)]
    conns = [srv.accept()[0] for _ in range(n)]
    for s in conns:
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for c in clients:
        c.setblocking(False)
    fr = frame_bytes(1)
    spent = 0.0
    for _ in range(events):
        t0 = time.perf_counter()
        for s in conns:
            s.send(fr)
        spent += time.perf_counter() - t0
        for c in clients:
            try:
                while c.recv(65536):
                    pass
            except BlockingIOError:
                pass
    for s in clients + conns + [srv]:
        s.close()
    return spent / (n * events)


def run_child(args: list[str]) -> str:
    import subprocess
    return subprocess.run([sys.executable, os.path.abspath(__file__)] + args, capture_output=True, text=True,
                          check=True).stdout.strip()


# -- client part -------------------------------------------------------------------------------------------
def client_part(mode: str, n: int, events: int) -> tuple[float, float]:
    """(user, system) CPU seconds per received frame in the receiving process."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1024)
    port = lsock.getsockname()[1]
    pid = os.fork()
    if pid == 0:                                   # the sender
        try:
            lsock.close()
            out = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
            for s in out:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            time.sleep(0.5)
            for k in range(1, events + 1):
                fr = frame_bytes(k)
                for s in out:
                    s.sendall(fr)
                time.sleep(0.02)
            time.sleep(0.5)
        finally:
            os._exit(0)
    conns = [lsock.accept()[0] for _ in range(n)]
    want = n * events
    count = [0]
    if mode == "raw":
        ep = select.epoll()
        by_fd = {}
        for c in conns:
            c.setblocking(False)
            ep.register(c.fileno(), select.EPOLLIN)
            by_fd[c.fileno()] = c
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        while count[0] < want:
            for fd, _ in ep.poll():
                count[0] += by_fd[fd].recv(65536).count(b"\n")
    else:
        from twisted.internet import reactor
        from twisted.internet.protocol import Factory, Protocol

        def done():
            if count[0] >= want:
                reactor.stop()
        if mode == "twisted":
            class Nothing(Protocol):
                def dataReceived(self, data):
                    count[0] += data.count(b"\n")
                    done()
            make = Nothing
        else:
            from libcti.client import Client, _Connection

            def make():
                client = Client("tcp:127.0.0.1:1", user="u", password="p", reactor=reactor, reconnect=False)
                conn = _Connection(client)
                conn.hello.callback({})
                client._conn = conn

                def on_event(ev):
                    count[0] += 1
                    ev.data["t"]
                    done()
                client.on("*", on_event)
                return conn
        factory = Factory.forProtocol(make)
        for c in conns:
            c.setblocking(False)
            reactor.adoptStreamConnection(c.fileno(), socket.AF_INET, factory)
            c.close()
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        reactor.run()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    os.waitpid(pid, 0)
    return (r1.ru_utime - r0.ru_utime) / want, (r1.ru_stime - r0.ru_stime) / want


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", nargs="?", choices=["server", "client", "all"], default="all")
    ap.add_argument("--connections", type=int, default=200, help="server part (client part: half of it)")
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:                     # one measurement in a fresh process (each runs its own reactor)
        kind, _, arg = args.one.partition(":")
        if kind == "server":
            print(server_part(args.connections, args.events, stub_send=(arg == "stub")))
        elif kind == "send":
            print(bare_send(args.connections, args.events))
        else:
            print(json.dumps(client_part(arg, args.connections, args.events)))
        return
    print(f"load average before {os.getloadavg()[0]:.2f}")
    common = ["--connections", str(args.connections), "--events", str(args.events)]
    if args.part in ("server", "all"):
        real = float(run_child(["--one", "server:real"] + common))
        stub = float(run_child(["--one", "server:stub"] + common))
        bare = float(run_child(["--one", "send:"] + common))
        print(f"server, {args.connections} connections x {args.events} events, wall time per delivery:")
        print(f"  fan-out with real sends {real * 1e6:6.2f} us   ctid.cti's Python only (send stubbed) "
              f"{stub * 1e6:6.2f} us   bare socket.send loop {bare * 1e6:6.2f} us")
    if args.part in ("client", "all"):
        n = max(1, args.connections // 2)
        ev = max(100, args.events)
        cc = ["--connections", str(n), "--events", str(ev)]
        print(f"client, {n} connections in one process, {ev} frames each (one every 20 ms), CPU per frame:")
        for mode in ("raw", "twisted", "libcti"):
            user, system = json.loads(run_child(["--one", "client:" + mode] + cc))
            print(f"  {mode:8s} user {user * 1e6:6.2f} us + system {system * 1e6:5.2f} us")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
