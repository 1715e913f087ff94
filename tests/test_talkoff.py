"""Talk-off: speech and music must not be taken for signalling.

Corpus (tests/peers/talkoff.py, cached in ~/.cache/ctid-talkoff): espeak-ng Mandarin and English speech
(about 34 minutes, 15 voice/pitch/speed variants) and 3 minutes of music-like chords, arpeggios and sweeps,
8 kHz A-law. Every ON event on it is false. spandsp 0.0.6's receivers run on the same audio.

Criteria:
- DTMF: ours <= spandsp's false digits on the same corpus, and on speech at most 1 false digit per 10 minutes
  (Bellcore-style talk-off: spandsp's own test passes with <= 470 false digits over the Bellcore speech tapes;
  we hold ourselves to a fixed rate on this corpus instead).
- R2 forward/backward and call progress: ours <= spandsp's.
- A control channel carrying the 16 DTMF digits in the same bank must yield exactly those digits, so a dead
  detector cannot pass a talk-off test.
One test per detector kind, so a failure of one hides none of the others.

Measured (2026-11-23), DTMF false digits ours / spandsp 0.0.6: full corpus speech 0 / 0, music 1 / 6; fast
subset speech 0 / 0, music 0 / 1 (before the talk-off checks in native/dtmf_rx.c the full corpus gave
6 / 0 on speech and 17 / 6 on music).
"""
from __future__ import annotations

from collections import Counter

import pytest

from peers import talkoff as T

SPEECH_DTMF_PER_10MIN = 1.0


@pytest.fixture(scope="module")
def need_espeak():
    import shutil

    from peers import require_peers

    if shutil.which("espeak-ng") is None:
        if require_peers():
            pytest.fail("CTID_REQUIRE_PEERS=1 but espeak-ng is not installed")
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


def totals(items, counts, kind=None):
    c = Counter()
    for it, n in zip(items, counts):
        if kind is None or it.kind == kind:
            c.update(n)
    return c


_cache = {}


def counted(fast: bool, spandsp):
    """Run both sides once per corpus size (shared by the per-detector tests)."""
    if fast not in _cache:
        items = T.build(fast=fast)
        ours, control = T.ours(items)
        _cache[fast] = (items, ours, control, T.theirs(spandsp, items))
    return _cache[fast]


def check(fast: bool, spandsp, kind: str):
    items, ours, control, theirs = counted(fast, spandsp)
    assert control == "0123456789*#ABCD", f"DTMF control channel gave {control!r}: detector not working"
    o, t = totals(items, ours), totals(items, theirs)
    table = "\n".join(f"{it.name:28} ours {dict(a)} spandsp {dict(b)}" for it, a, b in zip(items, ours, theirs))
    assert o[kind] <= t[kind], f"{kind}: ours {o[kind]} false events > spandsp {t[kind]}\n{table}"
    if kind == "dtmf":
        speech_min = sum(it.seconds for it in items if it.kind == "speech") / 60
        speech_dtmf = totals(items, ours, "speech")["dtmf"]
        assert speech_dtmf <= SPEECH_DTMF_PER_10MIN * speech_min / 10, \
            f"{speech_dtmf} false DTMF digits on {speech_min:.1f} min of speech\n{table}"
    return items


KIND_PARAMS = ["dtmf", "r2f", "r2b", "cpt"]


@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_talkoff_fast(spandsp, need_espeak, kind):
    items = check(True, spandsp, kind)
    assert 100 <= sum(it.seconds for it in items) <= 180


@pytest.mark.slow
@pytest.mark.parametrize("kind", KIND_PARAMS)
def test_talkoff_full(spandsp, need_espeak, kind):
    items = check(False, spandsp, kind)
    speech_min = sum(it.seconds for it in items if it.kind == "speech") / 60
    assert speech_min >= 30, f"speech corpus only {speech_min:.1f} min"


def test_talkoff_control_channel(spandsp, need_espeak):
    """The DTMF control channel in the talk-off bank decodes exactly (so the counts above mean something)."""
    _, _, control, _ = counted(True, spandsp)
    assert control == "0123456789*#ABCD"
