"""``ctid demo``: the daemon and a simulated public network, with calls moving through the hospital IVR live.

Starts ``hwsim exchange --scenario demo`` (the far end: SS7 and China No.1 on two E1 cables, exchange lines and
telephones on the analogue ports, callers that dial 114, listen, press 2 or 0 and hang up) as its own process, then
the daemon in this process on the embedded default configuration cabled to it, an agent desk (agent 1001 on
extension analog/2, answering offered calls after a second) and a supervisor view that prints every event. When
the rounds are over it prints the CDRs of the run from the database and stops.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from twisted.internet import defer, protocol, task


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="run the daemon against a simulated network placing scripted calls",
                       description="Start the daemon on hwsim boards cabled to a simulated exchange that places "
                                   "calls to the hospital IVR (114) over SS7, China No.1 and an analogue line, and "
                                   "show the calls live.")
    p.add_argument("--rounds", type=int, default=2, help="rounds of calls (one per trunk each; 0: until Ctrl-C)")
    p.add_argument("--data-dir", default="./ctid-demo", help="the daemon's data directory (default ./ctid-demo)")
    p.add_argument("--port", type=int, default=7000, help="CTI port on 127.0.0.1 (default 7000)")
    p.add_argument("--press", default="2,0", help="the menu keys the callers press, in turn (default 2,0)")
    p.add_argument("--listen", type=float, default=10.0, help="seconds each caller listens before and after "
                                                              "the key (default 10)")


class _Exchange(protocol.ProcessProtocol):
    def __init__(self, show, listening: defer.Deferred, ended: defer.Deferred):
        self.show, self.listening, self.ended = show, listening, ended
        self.buf = b""
        self.tail: list[str] = []

    def outReceived(self, data):
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.decode("utf-8", "replace")
            self.tail = (self.tail + [text])[-20:]
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if obj.get("event") == "listening" and not self.listening.called:
                self.listening.callback(obj)
            self.show(obj)

    errReceived = outReceived

    def processEnded(self, reason):
        if not self.listening.called:
            self.listening.errback(RuntimeError("the simulated exchange stopped:\n" + "\n".join(self.tail)))
        if not self.ended.called:
            self.ended.callback(reason.value.exitCode)


def _config(data_dir: str, sock: str, port: int):
    import tomllib

    from ctid.config import DEFAULT_TOML, build_config
    data = tomllib.loads(DEFAULT_TOML)
    data["daemon"]["data_dir"] = data_dir
    data["cti"]["listen"] = [f"tcp:{port}:interface=127.0.0.1"]
    data["boards"][0]["options"] = {"cable_socket": {"0": f"{sock}.0", "1": f"{sock}.1"},
                                    "port_socket": f"{sock}.ports"}
    for t in data["trunks"]:
        if t["signalling"] == "ss7":
            t["emergency_proving"] = True
    return build_config(data, "<demo>")


def _line(t0: float, who: str, what: str) -> None:
    print(f"{time.monotonic() - t0:7.2f}s  {who:<14} {what}", flush=True)


def describe(ev: dict) -> tuple[str, str] | None:
    """A daemon event as (who, what) for the live view; None for events not shown."""
    name, d = ev.get("event"), ev.get("data", {})
    ch = d.get("channel") or ""
    if name == "channel.incoming":
        return ch, f"incoming call {d.get('calling') or '?'} -> {d.get('called') or '?'} ({d.get('kind')})"
    if name == "channel.answered":
        return ch, "answered"
    if name == "channel.dtmf":
        return ch, f"DTMF {d.get('digit')}"
    if name == "channel.ringing":
        return ch, "ringing"
    if name == "channel.hangup":
        return ch, f"hang-up, cause {d.get('cause')} ({d.get('cause_text')})"
    if name == "channel.record_done":
        return ch, f"recorded {d.get('duration')} s"
    if name == "call.queued":
        return f"call {d.get('call')}", f"queued in {d.get('queue')} (position {d.get('position')})"
    if name == "call.offered":
        return f"call {d.get('call')}", f"offered to agent {d.get('agent')} on {d.get('channel')}"
    if name == "call.bridged":
        return f"call {d.get('call')}", "bridged " + " <-> ".join(d.get("channels", []))
    if name == "agent.state":
        return f"agent {d.get('agent')}", f"{d.get('state')} {d.get('reason') or ''}".strip()
    if name == "trunk.state":
        return f"trunk {d.get('trunk')}", "in service" if d.get("up") else "out of service"
    return None


async def _main(reactor, args) -> int:
    from libcti import connect

    from ctid.daemon import Daemon

    t0 = time.monotonic()
    data_dir = os.path.abspath(args.data_dir)
    os.makedirs(data_dir, exist_ok=True)
    sock = os.path.join(tempfile.mkdtemp(prefix="ctid-demo-"), "e1")   # short: Unix socket paths are limited
    listening, ended = defer.Deferred(), defer.Deferred()

    def far(obj):
        ev = obj.get("event")
        if ev == "call":
            d = obj.get("dial", {})
            what = f"{obj.get('trunk')}: {d.get('outcome')}"
            if d.get("outcome") == "answered":
                what += f", heard the IVR: {'yes' if obj.get('speech') else 'NO'}"
                if obj.get("after_press_speech") is not None:
                    what += f", after the key: {'speech' if obj.get('after_press_speech') else 'silence'}"
            _line(t0, "far end", what + f"; cleared by {obj.get('cleared_by')}, cause {obj.get('cause')}")
        elif ev in ("ready", "done"):
            _line(t0, "far end", ev)

    exe = sys.executable
    argv = [exe, "-m", "hwsim", "exchange", "--socket", sock, "--spans", "ss7,no1", "--ports", "fxo,fxo,fxs,fxs",
            "--scenario", "demo", "--arg", f"rounds={args.rounds}", "--arg", f"press={args.press}",
            "--arg", f"listen={args.listen}", "--json",
            "--exit-on-disconnect", "--linger", "2"]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    ex = _Exchange(far, listening, ended)
    proc = reactor.spawnProcess(ex, exe, argv, env=env)
    await listening
    _line(t0, "demo", f"simulated exchange listening on {sock}.0/.1 (E1) and {sock}.ports (analogue)")
    cfg = _config(data_dir, sock, args.port)
    daemon = Daemon(cfg, reactor, demo=True)
    await daemon.start()
    endpoint = f"tcp:127.0.0.1:{args.port}"
    _line(t0, "demo", f"daemon running: CTI on {endpoint}, data in {data_dir}")

    view = await connect(endpoint, user="supervisor", password="supervisor-demo", reactor=reactor)

    def show(ev):
        out = describe({"event": ev.name, "data": ev.data})
        if out:
            _line(t0, *out)
    view.on("*", show)
    await view.subscribe(["channel.*", "call.*", "agent.*", "trunk.*"])

    desk = await connect(endpoint, user="1001", password="1001-demo", reactor=reactor)

    def offered(ev):
        ext = ev.data.get("channel") or "analog/2"

        def answer():
            d = desk.channel(ext).answer()
            d.addErrback(lambda f: _line(t0, "agent 1001", f"could not answer: {f.getErrorMessage()}"))
        reactor.callLater(1.0, answer)
    desk.on("call.offered", offered)
    await desk.subscribe(["call.offered"])
    agent = desk.agent("1001")
    await agent.login(extension="analog/2")
    await agent.ready()

    code = await ended
    _line(t0, "demo", f"the simulated exchange finished (exit {code})")
    await task.deferLater(reactor, 1.0, lambda: None)
    rows = await daemon.db.run(daemon.db.cdrs.recent, 50)
    print("\nCDRs (newest first):")
    for c in rows:
        print(f"  {c.get('channel') or '?':<10} {c.get('calling') or '-':>14} -> {c.get('called') or '-':<6} "
              f"{c.get('disposition') or '':<10} billsec {c.get('billsec')}  cause {c.get('cause')}  "
              f"agent {c.get('agent') or '-'}")
    for c in (view, desk):
        c.close()
    await daemon.stop()
    if proc.pid is not None:
        try:
            proc.signalProcess("TERM")
        except Exception:  # noqa: BLE001 - already gone
            pass
    return 0 if code == 0 else 1


def run(args) -> int:
    from twisted.logger import globalLogBeginner

    globalLogBeginner.beginLoggingTo([lambda event: None], redirectStandardIO=False)
    import logging
    logging.basicConfig(level=logging.ERROR)
    result = {"rc": 1}

    def go(reactor):
        async def main():
            result["rc"] = await _main(reactor, args)
        return defer.ensureDeferred(main())
    try:
        task.react(go)
    except SystemExit:
        pass
    return result["rc"]
