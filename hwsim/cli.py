"""The ``hwsim`` command: ``hwsim selftest`` (the loopback rig's checks), ``hwsim serve`` (boards or a far end
for a separately running daemon over cross-process cable sockets) and ``hwsim exchange`` (the far-end exchange
with scripted callers, see hwsim.exchange)."""
from __future__ import annotations

import argparse
import json
import sys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hwsim", description="hwsim: simulated E1 and analogue voice boards")
    sub = p.add_subparsers(dest="cmd", required=True)

    st = sub.add_parser("selftest", help="two boards joined by cables: check every timeslot, signalling, "
                                         "analogue ports and alarms end to end")
    st.add_argument("--spans", type=int, default=2, help="E1 spans per board (1..16, default 2)")
    st.add_argument("--pcap", metavar="FILE", help="write the first CCS link's HDLC frames here (link type 140)")
    st.add_argument("--json", action="store_true", help="one JSON object per check")
    st.add_argument("--seed", type=int, default=1, help="world seed (default 1)")
    # Hidden: a deliberate fault, to prove that the checks can fail (tests use it).
    st.add_argument("--inject-fault", choices=("cut", "noise", "ber", "dead", "ais"), help=argparse.SUPPRESS)

    sv = sub.add_parser("serve", help="a board whose spans are cabled over Unix sockets to another process")
    sv.add_argument("--socket", required=True, metavar="PATH",
                    help="socket path; with several spans, span s listens on PATH.s (or PATH with {span} replaced)")
    sv.add_argument("--spans", type=int, default=1, help="E1 spans (default 1)")
    sv.add_argument("--ports", default="", help="analogue ports of the served board, e.g. fxs,fxo (local to it)")
    sv.add_argument("--signalling", default="cas", help="TS16 of every span: cas, ccs or clear, or a comma list")
    sv.add_argument("--crc4", action="store_true", help="CRC-4 multiframe on every span")
    sv.add_argument("--mode", choices=("loopback", "idle"), default="loopback",
                    help="loopback: voice echoed back, ABCD mirrored, HDLC frames echoed (default); idle: none")
    sv.add_argument("--realtime", action="store_true", help="pace the world in real time (20 ms ticks) from a "
                                                          "Twisted reactor; otherwise run in lock step with the peer")
    sv.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds of world time "
                                                               "(0: until interrupted)")
    sv.add_argument("--board", type=int, default=0, help="board id in the served world (default 0)")
    sv.add_argument("--seed", type=int, default=0)
    sv.add_argument("--json", action="store_true", help="log events as JSON lines")
    sv.add_argument("--exit-on-disconnect", action="store_true",
                    help="stop when a peer that was connected goes away (for scripts and tests)")

    ex = sub.add_parser("exchange", help="the far-end exchange for a separately running daemon: SS7 and China No.1 "
                                         "on cable sockets, exchange lines and phones on a port socket, scripted "
                                         "callers")
    ex.add_argument("--socket", required=True, metavar="PATH",
                    help="cable socket path (span s on PATH.s with several spans, or {span} replaced); the "
                         "analogue far ends on PATH.ports (or {span} -> ports)")
    ex.add_argument("--spans", default="ss7,no1", help="what each span carries: ss7, no1 (default ss7,no1)")
    ex.add_argument("--ports", default="", help="the daemon board's analogue ports: a count of FXO ports, or kinds "
                                                "(fxo,fxo,fxs,fxs); empty: no port socket")
    g = ex.add_mutually_exclusive_group()
    g.add_argument("--script", metavar="FILE.py", help="a Python file defining scenario(ctx) (async or returning a "
                                                       "Deferred)")
    g.add_argument("--scenario", default="calls", help="a built-in scenario: calls (one call per trunk: dial, hear, "
                                                       "press, hang up; default), demo (rounds of such calls, for "
                                                       "ctid demo) or answer (only answer calls)")
    ex.add_argument("--arg", action="append", metavar="KEY=VALUE", help="scenario argument (repeatable): called, "
                                                                        "calling, hear, press, ready_timeout; demo: "
                                                                        "rounds, listen, gap")
    ex.add_argument("--reference", action="append", metavar="NAME=FILE.wav",
                    help="a reference rendering (WAV or raw A-law) the callers' audio is compared with")
    ex.add_argument("--opc", type=lambda x: int(x, 0), default=0x0123, help="the exchange's point code (the "
                                                                             "daemon's DPC; default 0x0123)")
    ex.add_argument("--dpc", type=lambda x: int(x, 0), default=0x2A51, help="the daemon's point code (0x2A51)")
    ex.add_argument("--pc-format", default="itu", choices=("itu", "china"))
    ex.add_argument("--cics", default="1-15,17-31", help="SS7 circuits (CIC n = timeslot n)")
    ex.add_argument("--timeslots", default="1-15,17-31", help="China No.1 timeslots")
    ex.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds of world time")
    ex.add_argument("--linger", type=float, default=0.5, help="seconds to keep serving after the scenario ends")
    ex.add_argument("--exit-on-disconnect", action="store_true", help="stop when a connected daemon goes away")
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--json", action="store_true", help="results and events as JSON lines")
    return p


def cmd_selftest(args) -> int:
    from ctid.drivers import DriverError

    from .rig import selftest

    if not 1 <= args.spans <= 16:
        print(f"hwsim selftest: --spans must be 1..16, not {args.spans}", file=sys.stderr)
        return 2

    def report(r):
        if args.json:
            print(json.dumps(r.as_dict(), default=str), flush=True)
        else:
            print(r.line(), flush=True)

    try:
        results = selftest(args.spans, args.seed, args.pcap, args.inject_fault, report)
    except DriverError as exc:
        print(f"hwsim selftest: {exc}", file=sys.stderr)
        return 2
    checks = [r for r in results if r.name != "inject-fault"]
    failed = [r for r in checks if not r.ok]
    if not args.json:
        print(f"{len(checks) - len(failed)}/{len(checks)} checks passed" + (f"; FAILED: "
              f"{', '.join(r.name for r in failed)}" if failed else ""))
    return 1 if failed else 0


def cmd_serve(args) -> int:
    from .serve import serve

    return serve(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.cmd == "selftest":
        return cmd_selftest(args)
    if args.cmd == "serve":
        return cmd_serve(args)
    if args.cmd == "exchange":
        from .exchange import main_exchange
        return main_exchange(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
