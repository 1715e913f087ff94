#!/usr/bin/env python3
"""Wallboard on libcti's blocking facade: queue and agent statistics, refreshed as events arrive.

    python examples/wallboard.py --cti tcp:127.0.0.1:7000 --user monitor --password monitor-demo
    python examples/wallboard.py --once ...        # print one board and exit

A `monitor` user is enough (numbers are masked for it). The password may come from CTI_PASSWORD.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from libcti import CtiError  # noqa: E402
from libcti.blocking import BlockingClient  # noqa: E402


def board(snap) -> str:
    lines = [time.strftime("%H:%M:%S") + "  queue            waiting  ready agents"]
    for q in snap["queues"]:
        lines.append(f"          {q['queue']:<16} {q['waiting']:>7}  {q['ready_agents']:>12}")
    states = {}
    for a in snap["agents"]:
        states[a["state"]] = states.get(a["state"], 0) + 1
    lines.append("          agents: " + (", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "none"))
    active = [c for c in snap["calls"] if c["state"] != "ended"]
    lines.append(f"          calls in progress: {len(active)}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cti", default="tcp:127.0.0.1:7000")
    p.add_argument("--user", default="monitor")
    p.add_argument("--password", default=os.environ.get("CTI_PASSWORD"))
    p.add_argument("--once", action="store_true", help="print one board and exit")
    p.add_argument("--refresh", type=float, default=10.0, help="redraw at least this often (s)")
    args = p.parse_args(argv)
    if not args.password:
        p.error("give --password or set CTI_PASSWORD")
    try:
        cti = BlockingClient(args.cti, user=args.user, password=args.password)
    except CtiError as exc:
        sys.exit(f"wallboard: cannot log in to {args.cti}: {exc}")
    with cti:
        print(board(cti.snapshot()), flush=True)
        if args.once:
            return
        cti.subscribe(["call.*", "agent.state", "cti.resync"])
        try:
            while True:
                cti.next_event(timeout=args.refresh)     # any change (or the refresh period) redraws
                print(board(cti.snapshot()), flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
