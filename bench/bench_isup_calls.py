"""Sustained ISUP call attempts per second, ctid against ctid over a loopback MTP (no links, one process).

Run from the repository root:  python bench/bench_isup_calls.py [--seconds 3] [--circuits 30] [--pc itu|china]
Each round seizes every circuit from A (alternate rounds: from B) with IAM (called + calling number), the far
end answers with ACM + ANM, the caller releases (REL/RLC). Every message goes through encode, the MTP
interface (callLater(0) on a task.Clock) and decode. A call fails if it is not answered or not released with
cause 16, or if any circuit is not idle / any timer still pending after its round. Both ends run in this one
process on one core, so the figure is for two exchanges' worth of call control. Goal (issue 4): >= 100/s.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "signaling"))

from twisted.internet import task  # noqa: E402

from ctid.signaling.ss7.isup_cc import IsupCallControl  # noqa: E402

from mtp_loopback import LoopbackMtp  # noqa: E402  (tests/signaling: the MTP-TRANSFER loopback)

PCS = {"itu": (0x2A51, 0x0123), "china": (0x0A0B0C, 0x010203)}


def settle(clock: task.Clock) -> None:
    while clock.getDelayedCalls():
        now = clock.seconds()
        if not any(dc.getTime() <= now for dc in clock.getDelayedCalls()):
            return
        clock.advance(0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--circuits", type=int, default=30, help="circuits (calls in flight per round)")
    ap.add_argument("--pc", choices=sorted(PCS), default="itu")
    args = ap.parse_args()

    clock = task.Clock()
    ma, mb = LoopbackMtp.pair(*PCS[args.pc], args.pc, clock=clock)
    cics = range(1, args.circuits + 1)

    def answer(cc):
        def on_incoming(call):
            cc.alert(call)
            cc.answer(call)
        return on_incoming
    a = IsupCallControl(ma, mb.opc, cics, clock)
    b = IsupCallControl(mb, ma.opc, cics, clock)
    a.on_incoming, b.on_incoming = answer(a), answer(b)
    a.reset_group()
    settle(clock)

    ok = failed = 0
    t0 = time.perf_counter()
    deadline = t0 + args.seconds
    rnd = 0
    while time.perf_counter() < deadline:
        src = a if rnd % 2 == 0 else b
        rnd += 1
        calls = [src.setup("8613900000%03d" % i, calling="1068886666", category=0x0A) for i in cics]
        settle(clock)
        for c in calls:
            if c.state == "ANSWERED":
                src.release(c, 16)
        settle(clock)
        for c in calls:
            if c.answered.called and c.cause == 16:
                ok += 1
            else:
                failed += 1
        busy = [cc for cc in (a, b) for circ in cc.circuits.values() if circ.state.value != "IDLE" or circ.timers]
        if busy or clock.getDelayedCalls():
            print(f"round {rnd}: circuits not idle or timers pending", file=sys.stderr)
            failed += len(calls)
            break
    dt = time.perf_counter() - t0
    msgs = a.counters["sent"] + b.counters["sent"]
    print(f"ISUP call attempts ({args.pc}, {args.circuits} circuits, both ends in one process): "
          f"{ok} ok, {failed} failed in {dt:.2f} s = {ok / dt:.0f} calls/s ({msgs / dt:.0f} messages/s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
