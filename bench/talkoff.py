#!/usr/bin/env python3
"""Talk-off: false DTMF digits (and R2 signals, call-progress reports) on speech and music, ctid vs spandsp.

The corpus (tests/peers/talkoff.py) is espeak-ng speech in Mandarin and English, several voices, pitches
20..80 and speeds 120..200 wpm (about 34 minutes), plus 3 minutes of music-like chords, arpeggios and sweeps,
8 kHz A-law at about -18 dBm0 active level, cached in ~/.cache/ctid-talkoff. Every event reported on it is false.

    python bench/talkoff.py [--fast]
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from peers import PeerUnavailable, SpandspPeer  # noqa: E402
from peers import talkoff as T  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", action="store_true", help="the ~2-minute subset the non-slow test uses")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    items = T.build(fast=args.fast)
    print(f"corpus: {len(items)} items, speech {sum(i.seconds for i in items if i.kind == 'speech') / 60:.1f} min, "
          f"music {sum(i.seconds for i in items if i.kind == 'music') / 60:.1f} min (built/loaded in "
          f"{time.perf_counter() - t0:.1f} s)")
    ours, ctl = T.ours(items)
    print(f"ctid control channel (16 digits sent): {ctl!r} {'ok' if ctl == '0123456789*#ABCD' else 'MISMATCH'}")
    try:
        theirs = T.theirs(SpandspPeer(), items)
    except PeerUnavailable as exc:
        print(f"spandsp unavailable: {exc}")
        theirs = [Counter() for _ in items]
    kinds = T.KINDS
    hdr = f"{'item':28} {'min':>5} | " + " ".join(f"{k:>5}" for k in kinds) + " | " + " ".join(f"{k:>5}" for k in kinds)
    print()
    print(f"{'':28} {'':>5} | {'ctid (false ON events)':^23} | {'spandsp 0.0.6':^23}")
    print(hdr)
    print("-" * len(hdr))
    tot = {"speech": (Counter(), Counter(), 0.0), "music": (Counter(), Counter(), 0.0)}
    for it, o, t in zip(items, ours, theirs):
        print(f"{it.name:28} {it.seconds / 60:5.2f} | " + " ".join(f"{o.get(k, 0):5d}" for k in kinds) + " | "
              + " ".join(f"{t.get(k, 0):5d}" for k in kinds))
        so, st, m = tot[it.kind]
        so.update(o)
        st.update(t)
        tot[it.kind] = (so, st, m + it.seconds / 60)
    print("-" * len(hdr))
    allo, allt, allm = Counter(), Counter(), 0.0
    for kind, (o, t, m) in tot.items():
        print(f"{'total ' + kind:28} {m:5.1f} | " + " ".join(f"{o.get(k, 0):5d}" for k in kinds) + " | "
              + " ".join(f"{t.get(k, 0):5d}" for k in kinds))
        allo.update(o)
        allt.update(t)
        allm += m
    print(f"{'total':28} {allm:5.1f} | " + " ".join(f"{allo.get(k, 0):5d}" for k in kinds) + " | "
          + " ".join(f"{allt.get(k, 0):5d}" for k in kinds))


if __name__ == "__main__":
    main()
