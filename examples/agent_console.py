#!/usr/bin/env python3
"""Agent desktop console on libcti: log in, go ready, print each offered call with the caller's record.

    python examples/agent_console.py --cti tcp:127.0.0.1:7000 --user 1001 --password 1001-demo --extension analog/2
    python examples/agent_console.py --cti tls:cti.example.org:7001:caFile=ca.pem ...   # over TLS

Options: --auto-answer answers each offered call on the agent's extension; --calls N exits after N calls.
The password may also come from the CTI_PASSWORD environment variable.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from twisted.internet import defer, task  # noqa: E402

from libcti import CtiError, connect  # noqa: E402


def show(line):
    print(line, flush=True)


async def console(reactor, args):
    client = await connect(args.cti, user=args.user, password=args.password, reactor=reactor)
    show(f"logged in as {client.session['user']} (roles {', '.join(client.session['roles'])})")
    agent = client.agent(args.agent or None)
    done = defer.Deferred()
    seen = []

    async def offered(ev):
        calling = ev["calling"] or "unknown"
        show(f"CALL OFFERED  call={ev['call']} from {calling} to {ev['called']} (queue {ev['queue']})")
        try:
            pop = await client.request("patient.lookup", number=ev["calling"] or "")
            patient = pop.get("patient")
            if patient:
                show("  SCREEN POP  " + ", ".join(f"{k}: {v}" for k, v in patient.items()))
            else:
                show("  SCREEN POP  no patient on file for this number")
        except CtiError as exc:
            show(f"  SCREEN POP  unavailable ({exc})")
        if args.auto_answer:
            try:
                await client.channel(args.extension).answer()
                show(f"  answered on {args.extension}")
            except CtiError as exc:
                show(f"  answer failed: {exc}")
        seen.append(ev["call"])
        if args.calls and len(seen) >= args.calls and not done.called:
            done.callback(None)

    client.on("call.offered", offered)
    client.on("agent.state", lambda ev: show(f"agent {ev['agent']} is {ev['state']}"
                                             + (f" ({ev['reason']})" if ev["reason"] else "")))
    client.on("call.ended", lambda ev: show(f"call {ev['call']} ended (cause {ev['cause']})"))
    client.on("cti.resync", lambda ev: show("reconnected: state resynchronised"))
    await client.subscribe(["call.*", "agent.state"])
    await agent.login(extension=args.extension)
    await agent.ready()
    show("ready: waiting for calls (Ctrl-C to quit)")
    await done
    await agent.logout()
    await client.close()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cti", default="tcp:127.0.0.1:7000", help="client endpoint string (default %(default)s)")
    p.add_argument("--user", default="1001")
    p.add_argument("--password", default=os.environ.get("CTI_PASSWORD"))
    p.add_argument("--agent", default="", help="agent id (default: the user's own)")
    p.add_argument("--extension", default="analog/2", help="channel id of the agent's phone")
    p.add_argument("--auto-answer", action="store_true")
    p.add_argument("--calls", type=int, default=0, help="exit after this many offered calls (0: never)")
    args = p.parse_args(argv)
    if not args.password:
        p.error("give --password or set CTI_PASSWORD")
    def run(reactor):
        d = defer.Deferred.fromCoroutine(console(reactor, args))

        def failed(f):
            f.trap(CtiError)
            print(f"agent_console: {f.getErrorMessage()}", file=sys.stderr)
            raise SystemExit(1)
        return d.addErrback(failed)
    task.react(run)


if __name__ == "__main__":
    main()
