"""Run the IVR flows as their own process, connected to ctid over CTI.

    python -m ivrflows --cti tcp:127.0.0.1:7000 --user ivr --password ivr-demo --route 114=hospital_main

The password may come from the environment instead (CTID_IVR_PASSWORD), or use an API token (--token or
CTID_IVR_TOKEN). libcti reconnects by itself; the runner resynchronises its calls from the snapshot.
"""
from __future__ import annotations

import argparse
import os
import sys

from twisted.internet import defer, task
from twisted.logger import globalLogBeginner, textFileLogObserver

from ivrflows import DEFAULT_ROUTES, FLOWS


def parse_route(text: str) -> tuple[str, str]:
    called, sep, flow = text.partition("=")
    if not sep or not called or not flow:
        raise argparse.ArgumentTypeError(f"--route {text!r}: give CALLED=FLOW, e.g. 114=hospital_main")
    return called.strip(), flow.strip()


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m ivrflows", description="Run ctid IVR flows over CTI.")
    ap.add_argument("--cti", help="the daemon's CTI endpoint, e.g. tcp:127.0.0.1:7000 "
                                                 "or ssl:host:7001:caCertsDir=...")
    ap.add_argument("--user", default="ivr", help="CTI user with the ivr role (default: ivr)")
    ap.add_argument("--password", default=None, help="password (or set CTID_IVR_PASSWORD)")
    ap.add_argument("--token", default=None, help="API token instead of a password (or set CTID_IVR_TOKEN)")
    ap.add_argument("--route", action="append", type=parse_route, default=[], metavar="CALLED=FLOW",
                    help="called number (exact, or prefix ending in *) -> flow; repeatable "
                         f"(default: {', '.join(f'{k}={v}' for k, v in DEFAULT_ROUTES.items())})")
    ap.add_argument("--fallback-queue", default="frontdesk", help="queue for callers whose flow failed")
    ap.add_argument("--max-active", type=int, default=None, help="at most this many calls in flows at once")
    ap.add_argument("--stats-interval", type=float, default=300.0, metavar="SECONDS",
                    help="log the runner's counters this often (0: never; default 300)")
    ap.add_argument("--list-flows", action="store_true", help="print the flow names and exit")
    return ap


async def run(reactor, args) -> int:
    from libcti import connect
    from libcti.ivr import IvrRunner

    routes = dict(args.route) or dict(DEFAULT_ROUTES)
    creds = {"token": args.token} if args.token else {"user": args.user, "password": args.password}
    try:
        client = await connect(args.cti, reactor=reactor, **creds)
    except Exception as exc:  # CtiError (bad credentials, forbidden) or a connection error
        print(f"ivrflows: cannot connect to {args.cti}: {exc}", file=sys.stderr)
        raise SystemExit(1)
    runner = IvrRunner(client, routes, FLOWS, fallback_queue=args.fallback_queue, max_active=args.max_active,
                       clock=reactor)
    await runner.start()
    if args.stats_interval > 0:
        stats = task.LoopingCall(runner.log_stats)
        stats.clock = reactor
        stats.start(args.stats_interval, now=False)
    print(f"ivrflows: serving {', '.join(f'{k}->{v}' for k, v in routes.items())} via {args.cti}", flush=True)
    done = defer.Deferred()
    reactor.addSystemEventTrigger("before", "shutdown", lambda: done.called or done.callback(None))
    await done
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_flows:
        for name in sorted(FLOWS):
            print(name)
        return 0
    if args.stats_interval < 0:
        print("ivrflows: --stats-interval must be 0 (off) or a number of seconds", file=sys.stderr)
        return 2
    if not args.cti:
        print("ivrflows: give --cti ENDPOINT (e.g. tcp:127.0.0.1:7000)", file=sys.stderr)
        return 2
    args.token = args.token or os.environ.get("CTID_IVR_TOKEN")
    args.password = args.password or os.environ.get("CTID_IVR_PASSWORD")
    if not args.token and not args.password:
        print("ivrflows: give --password (or CTID_IVR_PASSWORD) or --token (or CTID_IVR_TOKEN)", file=sys.stderr)
        return 2
    from libcti.ivr import RouteError, compile_routes
    try:
        compile_routes(dict(args.route) or dict(DEFAULT_ROUTES), FLOWS)
    except RouteError as exc:
        print(f"ivrflows: {exc}", file=sys.stderr)
        return 2
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    task.react(lambda reactor: defer.ensureDeferred(run(reactor, args)))  # exits the process
    return 0


if __name__ == "__main__":
    sys.exit(main())
