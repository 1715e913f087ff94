"""MTP throughput over hwsim (a benchmark, not a test): a 2-link ITU linkset between two MTP3 instances, user MSUs
(ISUP-sized, 20 octets of user data) offered at a given rate for a simulated duration; reports the delivered rate,
the CPU time per simulated second and per MSU. `python bench/bench_mtp.py [--rate 400] [--seconds 10]`."""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "signaling"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from test_mtp_mtp3 import Net  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=400, help="MSUs per second offered")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    net = Net("itu", nlinks=2)
    net.up()
    per_tick = max(1, round(args.rate * 0.02))
    sent = [0]

    def feed():
        for _ in range(per_tick):
            i = sent[0]
            sent[0] += 1
            net.A.transfer(net.pb, i % 16, 5, i.to_bytes(4, "big") + bytes(16))
    net.rig.hooks.append(feed)
    n0 = len(net.ub.got)
    c0, w0 = time.process_time(), time.perf_counter()
    net.rig.run(args.seconds)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    net.rig.hooks.remove(feed)
    net.rig.run(1.0)
    got = len(net.ub.got) - n0
    print(f"offered {sent[0] / args.seconds:.0f} MSU/s for {args.seconds:.0f} s simulated; delivered {got} of "
          f"{sent[0]} ({got / args.seconds:.0f} MSU/s)")
    print(f"CPU {cpu:.2f} s ({cpu / args.seconds * 100:.1f} % of one core in real time, both ends, hwsim included), "
          f"{cpu / max(got, 1) * 1e6:.0f} us per MSU; driven clock {args.seconds / wall:.1f}x real time")
    net.close()


if __name__ == "__main__":
    main()
