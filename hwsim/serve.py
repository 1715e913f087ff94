"""``hwsim serve``: a board in this process whose E1 spans are cabled over Unix sockets to a separately running
daemon (or rig), the two worlds ticking in lock step (the SDK's hwsim_cable_socket).

The daemon side opens its own board with ``cable_socket={span: path}``::

    open_board("hwsim", 0, spans=1, cable_socket={0: "/run/hwsim/e1.sock"})

and ticks it (in real time with ctid.drivers.Pacer, or as fast as it likes); each of its ticks exchanges one
block of line bits with this process. With ``--realtime`` this side paces both (a tick every 20 ms from a
Twisted reactor); otherwise it follows the peer's pace.

Modes: ``loopback`` (default) makes the served board a far end that answers: every voice timeslot transmits
what it receives (an H.100 route of the channel to itself: one block of latency), received ABCD bits are
sent back, received HDLC frames are sent back. ``idle`` just keeps the line up (framing, idle ABCD, flags).
Analogue ``--ports`` are created on the served board; their far ends live in this process (events logged).
"""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import time

from ctid.drivers import (
    E1_SLOTS, AbcdEvent, CableEvent, DriverError, HdlcEvent, Signalling, SpanConfig, get_backend, open_board,
)


def socket_paths(path: str, nspans: int) -> list[str]:
    """Span s listens on PATH with ``{span}`` replaced, or PATH.s when there are several spans, or PATH."""
    if "{span}" in path:
        return [path.replace("{span}", str(s)) for s in range(nspans)]
    if nspans == 1:
        return [path]
    return [f"{path}.{s}" for s in range(nspans)]


class Server:
    def __init__(self, args, out=sys.stdout):
        self.args = args
        self.out = out
        n = args.spans
        if not 1 <= n <= 16:
            raise DriverError(f"--spans must be 1..16, not {n}")
        sig = [x.strip() for x in args.signalling.split(",") if x.strip()] or ["cas"]
        if len(sig) == 1:
            sig = sig * n
        if len(sig) != n:
            raise DriverError(f"--signalling gives {len(sig)} modes for {n} spans")
        self.plan = [SpanConfig(args.crc4, Signalling.parse(m)) for m in sig]
        ports = [p.strip() for p in args.ports.split(",") if p.strip()]
        self.world = get_backend("hwsim").World(args.seed)
        self.bid = args.board
        self.board = open_board("hwsim", self.bid, world=self.world, spans=n, ports=ports, span_config=self.plan)
        self.paths = socket_paths(args.socket, n)
        for s, p in enumerate(self.paths):
            self.world.cable_socket(self.bid, s, p, listen=True)
        if args.mode == "loopback":
            for s, cfg in enumerate(self.plan):
                for t in range(1, 32):
                    if t != 16 or cfg.signalling == Signalling.CLEAR:
                        ch = s * E1_SLOTS + t
                        self.board.connect(ch, self.bid, ch)
        self.connected = [False] * n
        self.ever_connected = False
        self.stopping = False
        self.ticks = 0

    def log(self, **kw) -> None:
        kw = {"t_frame": self.world.time, **kw}
        if self.args.json:
            print(json.dumps(kw, default=str), file=self.out, flush=True)
        else:
            print("hwsim serve: " + " ".join(f"{k}={v}" for k, v in kw.items()), file=self.out, flush=True)

    def after_tick(self) -> None:
        self.ticks += 1
        for ev in self.board.events():
            if isinstance(ev, CableEvent):
                self.connected[ev.span] = ev.connected
                self.ever_connected |= ev.connected
                self.log(event="cable", span=ev.span, connected=ev.connected)
                if not ev.connected and self.args.exit_on_disconnect and self.ever_connected:
                    self.stopping = True
            elif self.args.mode == "loopback" and isinstance(ev, AbcdEvent):
                self.board.set_abcd(ev.span, ev.timeslot, ev.abcd)
            elif self.args.mode == "loopback" and isinstance(ev, HdlcEvent):
                try:
                    self.board.hdlc_send(ev.span, ev.timeslot, ev.frame)
                except DriverError as exc:   # transmit queue full: the echo is lost, as on a congested link
                    self.log(event="hdlc-echo-lost", span=ev.span, error=str(exc))
            elif not isinstance(ev, (AbcdEvent, HdlcEvent)):
                fields = dataclasses.asdict(ev)
                fields.pop("t_frame", None)
                self.log(event=type(ev).__name__, **fields)
        if self.args.duration and self.world.time >= self.args.duration * 8000:
            self.stopping = True

    def run_lockstep(self) -> None:
        """Follow the peer: each tick blocks in the SDK until the peer's block arrives. While no peer is
        connected the tick returns at once, so idle at the block rate instead of spinning."""
        while not self.stopping:
            t = time.monotonic()
            self.world.tick(1)
            self.after_tick()
            if not all(self.connected):
                time.sleep(max(0.0, 0.020 - (time.monotonic() - t)))

    def run_realtime(self) -> None:
        from twisted.internet import reactor

        from ctid.drivers import Pacer

        pacer = Pacer(self.world, clock=reactor)

        def on_tick(world):
            self.after_tick()
            if self.stopping and reactor.running:
                pacer.stop()
                reactor.stop()

        pacer.add_listener(on_tick)
        pacer.start()
        reactor.addSystemEventTrigger("before", "shutdown", lambda: setattr(self, "stopping", True))
        reactor.run(installSignalHandlers=True)

    def close(self) -> None:
        self.world.close()
        for p in self.paths:
            if os.path.exists(p):
                try:
                    os.unlink(p)
                except OSError:
                    pass


def serve(args) -> int:
    try:
        srv = Server(args)
    except DriverError as exc:
        print(f"hwsim serve: {exc}", file=sys.stderr)
        return 2

    def stop(signum, frame):
        srv.stopping = True

    if not args.realtime:
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    srv.log(event="listening", sockets=",".join(srv.paths), spans=args.spans, mode=args.mode,
            realtime=bool(args.realtime), plan=",".join(c.signalling.value for c in srv.plan))
    try:
        if args.realtime:
            srv.run_realtime()
        else:
            srv.run_lockstep()
    except DriverError as exc:
        print(f"hwsim serve: {exc}", file=sys.stderr)
        return 1
    finally:
        srv.log(event="stopped", ticks=srv.ticks)
        srv.close()
    return 0
