"""ISUP encode+decode per second: ctid's codec against pycrate's (pycrate_mobile.ISUP) on the same messages.

Run from the repository root:  python bench/bench_isup.py [--seconds 2]
Each round decodes every message's bytes and encodes the result again (ours: isup.decode + isup.encode; pycrate:
parse_ISUP + to_bytes); both must reproduce the input bytes. Goal (issue 4): at least 5x pycrate.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "signaling"))

from ctid.signaling.ss7 import isup  # noqa: E402
from ss7_strategies import sample_isup  # noqa: E402

# A call-control mix: the call messages weighted as a call uses them, plus circuit supervision.
MIX = ["IAM", "ACM", "CPG", "ANM", "REL", "RLC", "SAM", "CON", "SUS", "RES", "BLO", "BLA", "UBL", "UBA",
       "CGB", "CGBA", "GRS", "GRA", "RSC", "CFN"]


def rate(fn, msgs: list[bytes], seconds: float) -> float:
    n = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        for b in msgs:
            fn(b)
        n += len(msgs)
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per codec")
    args = ap.parse_args()
    msgs = [isup.encode(sample_isup(name, 100 + i)) for i, name in enumerate(MIX)]

    def ours(b: bytes) -> bytes:
        return isup.encode(isup.decode(b))

    for b in msgs:
        assert ours(b) == b
    r_ours = rate(ours, msgs, args.seconds)
    print(f"ctid isup     : {r_ours:10.0f} encode+decode/s ({len(msgs)} message kinds)")
    try:
        from pycrate_mobile.ISUP import parse_ISUP
    except ImportError:
        print("pycrate not installed (pip install pycrate): no comparison")
        return 0

    def theirs(b: bytes) -> bytes:
        m, err = parse_ISUP(b)
        if err:
            raise RuntimeError(f"pycrate could not parse {b.hex()} (err {err})")
        return m.to_bytes()

    for b in msgs:
        assert theirs(b) == b, b.hex()
    r_theirs = rate(theirs, msgs, args.seconds)
    print(f"pycrate ISUP  : {r_theirs:10.0f} encode+decode/s")
    print(f"ratio         : {r_ours / r_theirs:10.2f}x (goal >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
