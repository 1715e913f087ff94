"""MFC R2 receiver and generator against ITU-T Q.441 (and China No.1 2-of-4 backward signalling).

Receiver tests synthesise their signals with numpy (independent of our generator) from the Q.441 code table,
and go through the multi-channel Bank (linear and A-law). Numbers from the standard:
  Q.441: frequencies 1380..1980 Hz forward, 1140..540 Hz backward, 120 Hz apart, 2-out-of-6;
         operate within +-10 Hz of nominal; levels -5..-35 dBm0 per tone; level difference < 5 dB adjacent,
         < 7 dB non-adjacent must operate, >= 20 dB must not; no response to signals shorter than 7 ms;
         no release on interruptions <= 7 ms; operate time + release time <= 80 ms.
  China No.1: backward signals use 1140/1020/900/780 Hz only (2-of-4, signals 1-6); -11 dBm0 per tone.
Our stated frequency margin: tones more than 30 Hz off nominal are rejected (tested at +-40 and +-60 Hz).
"""
from __future__ import annotations

import numpy as np
import pytest

from ctid.dsp import Bank, DspError
from ctid.dsp.g711 import alaw_encode
from ctid.dsp.params import R2Params
from ctid.dsp.r2mf import (
    BACKWARD_FREQS,
    CHINA_BACKWARD_SIGNALS,
    FORWARD_FREQS,
    PAIRS,
    SIGNALS,
    R2Generator,
    generate,
    pair,
)

RATE = 8000
PEAK_0DBM0 = 22827.0          # int16 peak of a 0 dBm0 sine (A-law convention, ctid_dsp.h)
MS = RATE // 1000
NOMINAL = -11.0               # Q.441 / China No.1 send level per tone
BLOCK_FREQS = {False: FORWARD_FREQS, True: BACKWARD_FREQS}
ADJACENT = [s for s in SIGNALS if PAIRS[s][1] - PAIRS[s][0] == 1]


# ------------------------------------------------------------------------------------------- helpers
def peak(dbm0: float) -> float:
    return PEAK_0DBM0 * 10.0 ** (dbm0 / 20.0)


def two_tone(sig: str, backward: bool, n: int, level_a: float = NOMINAL, level_b: float | None = None,
             off_a: float = 0.0, off_b: float = 0.0, rng=None) -> np.ndarray:
    """n samples of signal `sig` from the Q.441 table (float), random phases, optional offsets (Hz)."""
    rng = rng or np.random.default_rng(0)
    level_b = level_a if level_b is None else level_b
    fa, fb = (BLOCK_FREQS[backward][i] for i in PAIRS[sig])
    t = np.arange(n) / RATE
    ph = rng.uniform(0, 2 * np.pi, 2)
    return (peak(level_a) * np.sin(2 * np.pi * (fa + off_a) * t + ph[0])
            + peak(level_b) * np.sin(2 * np.pi * (fb + off_b) * t + ph[1]))


def place(length: int, *segments) -> np.ndarray:
    """A float signal of `length` samples with (start, samples) segments added in."""
    x = np.zeros(length)
    for start, seg in segments:
        x[start:start + len(seg)] += seg
    return x


def to_i16(x) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def r2_params(backward: bool, china: bool = False, **kw) -> R2Params:
    p = R2Params.defaults(backward=backward, china=china)
    return p.replace(**kw) if kw else p


def run_bank(columns, masks, law: str = "linear", params=(), chunk: int = 160, with_time: bool = False):
    """Run a bank whose channel c carries columns[c] (float or int16 samples) with detector masks[c].

    Returns the events; with_time=True returns (event, bank time when it was returned) pairs.
    """
    lin = np.stack([to_i16(c) for c in columns], axis=1)
    nch = lin.shape[1]
    bank = Bank(nch, law=law)
    for p in params:
        bank.set_r2_params(p)
    for ch, m in enumerate(masks if not isinstance(masks, str) else [masks] * nch):
        bank.set_mask(ch, m)
    data = alaw_encode(lin.ravel()).reshape(lin.shape) if law == "alaw" else lin
    out = []
    for i in range(0, len(data), chunk):
        evs = bank.process(np.ascontiguousarray(data[i:i + chunk]))
        if with_time:
            out.extend((e, bank.time) for e in evs)
        else:
            out.extend(evs)
    assert bank.dropped == 0
    return out


def per_channel(events, nch):
    chans = [[] for _ in range(nch)]
    for e in events:
        chans[e.channel].append(e)
    return chans


def ons(evs):
    return [e for e in evs if e.type == "on"]


def seq(evs):
    return [(e.type, e.value) for e in evs]


# ------------------------------------------------------------------------------------------- tables
def test_tables_follow_q441():
    assert FORWARD_FREQS == (1380, 1500, 1620, 1740, 1860, 1980)
    assert BACKWARD_FREQS == (1140, 1020, 900, 780, 660, 540)
    assert SIGNALS == "1234567890BCDEF"
    # 2-out-of-6: every pair of the six frequencies exactly once, in the Q.441 order
    assert sorted(PAIRS.values()) == sorted((a, b) for b in range(6) for a in range(b))
    order = [PAIRS[s] for s in SIGNALS]
    assert order == sorted(order, key=lambda ab: (ab[1], ab[0]))
    assert pair("1") == (1380, 1500) and pair("0") == (1740, 1860) and pair("F") == (1860, 1980)
    assert pair("1", backward=True) == (1140, 1020) and pair("6", True) == (900, 780)
    assert all(max(PAIRS[s]) <= 3 for s in CHINA_BACKWARD_SIGNALS) and len(CHINA_BACKWARD_SIGNALS) == 6
    with pytest.raises(ValueError):
        pair("A")


# ------------------------------------------------------------------------------------------- detection
@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("law", ["linear", "alaw"])
def test_all_signals_numpy(backward, law):
    """Each of the 15 signals on its own channel (numpy-synthesised, 120 ms) is reported once, correctly."""
    rng = np.random.default_rng(1)
    cols = [place(2400, (300 + 7 * i, two_tone(s, backward, 960, rng=rng))) for i, s in enumerate(SIGNALS)]
    mask = "r2b" if backward else "r2f"
    chans = per_channel(run_bank(cols, mask, law=law), 15)
    for i, s in enumerate(SIGNALS):
        assert seq(chans[i]) == [("on", s), ("off", s)], (s, chans[i])
        on, off = chans[i]
        assert on.kind == mask
        assert abs(on.level - NOMINAL) < 1.0            # mean level of the two tones
        assert abs(on.aux) < 1.0                          # equal levels: no level difference
        assert abs(on.t - (300 + 7 * i)) <= 4 * MS
        assert abs(off.duration - 960) <= 6 * MS


@pytest.mark.parametrize("backward", [False, True])
def test_all_signals_from_generator(backward):
    pcm = generate(SIGNALS, backward=backward, on_ms=80, off_ms=60)
    evs = run_bank([np.concatenate([np.zeros(50), pcm])], "r2b" if backward else "r2f")
    assert "".join(e.value for e in ons(evs)) == SIGNALS
    assert seq(evs) == [(t, s) for s in SIGNALS for t in ("on", "off")]
    for k, e in enumerate(ons(evs)):
        assert abs(e.t - (50 + k * 140 * MS)) <= 4 * MS
        assert abs(e.level - NOMINAL) < 1.0
    for e in evs[1::2]:
        assert abs(e.duration - 80 * MS) <= 6 * MS


def test_forward_receiver_ignores_backward_group_and_vice_versa():
    rng = np.random.default_rng(2)
    fwd = [place(2000, (200, two_tone(s, False, 800, rng=rng))) for s in SIGNALS]
    bwd = [place(2000, (200, two_tone(s, True, 800, rng=rng))) for s in SIGNALS]
    assert run_bank(bwd, "r2f") == []
    assert run_bank(fwd, "r2b") == []


def test_echo_of_the_other_group():
    """A register hears its own signals back as echo (2-wire hybrids, typically >= 15 dB down): the forward
    receiver still operates with a backward signal 15 dB below it, and vice versa."""
    rng = np.random.default_rng(21)
    cols, masks, expect = [], [], []
    for bw in (False, True):
        for i, s in enumerate(SIGNALS):
            echo = SIGNALS[(i + 4) % 15]
            x = place(2400, (300, two_tone(s, bw, 800, rng=rng)),
                      (0, two_tone(echo, not bw, 2400, NOMINAL - 15, rng=rng)))
            cols.append(x)
            masks.append("r2b" if bw else "r2f")
            expect.append(s)
    chans = per_channel(run_bank(cols, masks), len(cols))
    for s, evs in zip(expect, chans):
        assert seq(evs) == [("on", s), ("off", s)], (s, evs)


def test_china_2of4_backward():
    """China No.1: only 1140/1020/900/780 Hz (signals 1-6); a pair with 660 or 540 Hz is not reported."""
    rng = np.random.default_rng(3)
    cols = [place(2000, (200, two_tone(s, True, 800, rng=rng))) for s in SIGNALS]
    china = per_channel(run_bank(cols, "r2b", params=[r2_params(True, china=True)]), 15)
    plain = per_channel(run_bank(cols, "r2b"), 15)
    for i, s in enumerate(SIGNALS):
        assert seq(plain[i]) == [("on", s), ("off", s)]          # the control: the plain receiver sees all
        if s in CHINA_BACKWARD_SIGNALS:
            assert seq(china[i]) == [("on", s), ("off", s)]
        else:
            assert china[i] == [], (s, china[i])
    with pytest.raises(DspError):                                  # 2-of-4 is a backward-only restriction
        Bank(1).set_r2_params(r2_params(False).replace(china_2of4=1))


# ------------------------------------------------------------------------------------------- Q.441 limits
@pytest.mark.parametrize("backward", [False, True])
def test_frequency_tolerance(backward):
    """+-10 Hz on either tone operates (Q.441); +-40 and +-60 Hz on either tone does not."""
    rng = np.random.default_rng(4)
    cases = []
    for s in SIGNALS:
        for which in (0, 1):
            for off in (-10, 10, -40, 40, -60, 60):
                cases.append((s, which, off))
    cols = [place(1600, (150, two_tone(s, backward, 800, off_a=off if w == 0 else 0,
                                        off_b=off if w == 1 else 0, rng=rng))) for s, w, off in cases]
    chans = per_channel(run_bank(cols, "r2b" if backward else "r2f"), len(cases))
    for (s, w, off), evs in zip(cases, chans):
        if abs(off) <= 10:
            assert seq(evs) == [("on", s), ("off", s)], (s, w, off, evs)
        else:
            assert ons(evs) == [], (s, w, off, evs)


def test_both_tones_off_by_10hz_and_level_difference():
    """Q.441 corner: both tones +-10 Hz off with the maximum level difference still operate."""
    rng = np.random.default_rng(5)
    cases = []
    for backward in (False, True):
        for s in SIGNALS:
            diff = 5.0 if s in ADJACENT else 7.0
            for oa, ob in ((-10, -10), (-10, 10), (10, -10), (10, 10)):
                for sign in (-1, 1):
                    cases.append((backward, s, oa, ob, sign * diff))
    cols = [place(1400, (100, two_tone(s, bw, 800, NOMINAL, NOMINAL + d, oa, ob, rng=rng)))
            for bw, s, oa, ob, d in cases]
    masks = ["r2b" if c[0] else "r2f" for c in cases]
    chans = per_channel(run_bank(cols, masks), len(cases))
    for case, evs in zip(cases, chans):
        assert seq(evs) == [("on", case[1]), ("off", case[1])], (case, evs)


@pytest.mark.parametrize("law", ["linear", "alaw"])
def test_level_range(law):
    """-5..-35 dBm0 per tone operates (Q.441); -45 dBm0 does not."""
    rng = np.random.default_rng(6)
    levels = [-5, -10, -20, -30, -35, -45]
    cases = [(bw, s, lv) for bw in (False, True) for s in SIGNALS for lv in levels]
    cols = [place(1400, (120, two_tone(s, bw, 800, lv, rng=rng))) for bw, s, lv in cases]
    masks = ["r2b" if c[0] else "r2f" for c in cases]
    chans = per_channel(run_bank(cols, masks, law=law), len(cases))
    for (bw, s, lv), evs in zip(cases, chans):
        if lv >= -35:
            assert seq(evs) == [("on", s), ("off", s)], (bw, s, lv, evs)
            assert abs(evs[0].level - lv) < 1.0
        else:
            assert evs == [], (bw, s, lv, evs)


def test_level_difference():
    """Adjacent pairs: 5 dB operates, 10 dB does not; non-adjacent: 7 dB operates, 12 dB does not;
    20 dB never (Q.441). aux reports the difference (second tone minus first)."""
    rng = np.random.default_rng(7)
    cases = []
    for bw in (False, True):
        for s in SIGNALS:
            ok, bad = (5.0, 10.0) if s in ADJACENT else (7.0, 12.0)
            for d in (ok, -ok, bad, -bad, 20.0, -20.0):
                cases.append((bw, s, d))
    # keep the louder tone at -8 dBm0 so the weaker one stays above the -35 dBm0 operate floor
    cols = [place(1400, (120, two_tone(s, bw, 800, -8 - max(d, 0), -8 + min(d, 0), rng=rng)))
            for bw, s, d in cases]
    masks = ["r2b" if c[0] else "r2f" for c in cases]
    chans = per_channel(run_bank(cols, masks), len(cases))
    for (bw, s, d), evs in zip(cases, chans):
        limit = 5.0 if s in ADJACENT else 7.0
        if abs(d) <= limit:
            assert seq(evs) == [("on", s), ("off", s)], (bw, s, d, evs)
            assert abs(evs[0].aux - d) < 1.0
        else:
            assert ons(evs) == [], (bw, s, d, evs)


def test_exactly_two_tones():
    """One tone alone, or a third tone as strong as the pair, is no signal; a third tone 20 dB down is
    tolerated (speech/crosstalk residue)."""
    rng = np.random.default_rng(8)
    cases = []
    for bw in (False, True):
        F = BLOCK_FREQS[bw]
        for s in SIGNALS:
            a, b = PAIRS[s]
            third = next(i for i in range(6) if i not in (a, b))
            for kind, rel in (("single", None), ("third", 0.0), ("third", -3.0), ("third", -20.0)):
                cases.append((bw, s, F[a], F[b], F[third], kind, rel))
    cols = []
    t = np.arange(800) / RATE
    for bw, s, fa, fb, f3, kind, rel in cases:
        if kind == "single":
            x = peak(NOMINAL) * np.sin(2 * np.pi * fa * t + rng.uniform(0, 6))
        else:
            x = two_tone(s, bw, 800, rng=rng) + peak(NOMINAL + rel) * np.sin(2 * np.pi * f3 * t)
        cols.append(place(1400, (100, x)))
    masks = ["r2b" if c[0] else "r2f" for c in cases]
    chans = per_channel(run_bank(cols, masks), len(cases))
    for case, evs in zip(cases, chans):
        kind, rel = case[5], case[6]
        if kind == "third" and rel <= -20:
            assert seq(evs) == [("on", case[1]), ("off", case[1])], (case, evs)
        else:
            assert ons(evs) == [], (case, evs)


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("ms", [5, 7])
def test_short_bursts_do_not_operate(backward, ms):
    """Q.441: no response to signals shorter than 7 ms, at every alignment to our 67-sample blocks and at
    the strongest level (-5 dBm0), for every signal."""
    rng = np.random.default_rng(9 + ms)
    n = ms * MS
    cols = [place(700, (200 + k, two_tone(s, backward, n, -5.0, rng=rng))) for s in SIGNALS for k in range(67)]
    evs = run_bank(cols, "r2b" if backward else "r2f")
    assert evs == []
    # and the same bursts at 60 ms do operate on every channel (the test can fail)
    long = [place(1000, (200 + k % 67, two_tone(s, backward, 60 * MS, -5.0, rng=rng)))
            for s in SIGNALS for k in range(0, 67, 13)]
    chans = per_channel(run_bank(long, "r2b" if backward else "r2f"), len(long))
    assert all(len(ons(c)) == 1 for c in chans)


@pytest.mark.parametrize("backward", [False, True])
def test_interruptions_do_not_release(backward):
    """Q.441: an interruption of up to 7 ms does not release the signal (all alignments); 30 ms does."""
    rng = np.random.default_rng(11)
    cases = []
    cols = []
    for gap_ms in (5, 6, 7, 30):
        for k in range(0, 67, 2):
            s = SIGNALS[(k // 2 + gap_ms) % 15]
            x = two_tone(s, backward, 2000, rng=rng)
            cut = 700 + k
            x[cut:cut + gap_ms * MS] = 0.0                # phase-continuous gap
            cols.append(place(2600, (150, x)))
            cases.append((gap_ms, k, s))
    chans = per_channel(run_bank(cols, "r2b" if backward else "r2f"), len(cols))
    for (gap_ms, k, s), evs in zip(cases, chans):
        if gap_ms <= 7:
            assert seq(evs) == [("on", s), ("off", s)], (gap_ms, k, evs)
            assert abs(evs[1].duration - 2000) <= 6 * MS
        else:
            assert seq(evs) == [("on", s), ("off", s)] * 2, (gap_ms, k, evs)


@pytest.mark.parametrize("backward", [False, True])
def test_interruption_with_phase_jump(backward):
    """A 7 ms interruption after which the tones resume at another phase (a re-sent signal) also holds."""
    rng = np.random.default_rng(12)
    cols, sigs = [], []
    for k in range(0, 67, 3):
        s = SIGNALS[k % 15]
        a = two_tone(s, backward, 600 + k, rng=rng)
        b = two_tone(s, backward, 800, rng=rng)
        cols.append(place(2200, (100, a), (100 + 600 + k + 7 * MS, b)))
        sigs.append(s)
    chans = per_channel(run_bank(cols, "r2b" if backward else "r2f"), len(cols))
    for s, evs in zip(sigs, chans):
        assert seq(evs) == [("on", s), ("off", s)], evs


@pytest.mark.parametrize("backward", [False, True])
def test_operate_plus_release_time(backward):
    """Q.441: operate time + release time <= 80 ms. Fed 1 ms at a time, the time an event comes out of the
    bank minus the true tone edge is the operate (release) time; every signal, every block alignment, at the
    weakest (-35 dBm0) and strongest (-5 dBm0) levels. Event times estimate the true edges within 4 ms."""
    rng = np.random.default_rng(13)
    cases, cols = [], []
    for k in range(67):
        s = SIGNALS[k % 15]
        lv = -35.0 if k % 2 else -5.0
        start, n = 160 + k, 560 + 3 * k
        cols.append(place(1600, (start, two_tone(s, backward, n, lv, rng=rng))))
        cases.append((s, start, start + n))
    res = run_bank(cols, "r2b" if backward else "r2f", chunk=MS, with_time=True)
    chans = per_channel([e for e, _ in res], len(cols))
    emitted = {(e.channel, e.type): t for e, t in res}
    worst = 0
    for ch, ((s, start, end), evs) in enumerate(zip(cases, chans)):
        assert seq(evs) == [("on", s), ("off", s)], evs
        operate = emitted[(ch, "on")] - start
        release = emitted[(ch, "off")] - end
        assert operate > 0 and release > 0
        worst = max(worst, operate + release)
        assert abs(evs[0].t - start) <= 4 * MS, (evs[0].t, start)
        assert abs(evs[1].t - end) <= 4 * MS, (evs[1].t, end)
    assert worst <= 80 * MS, worst / MS


@pytest.mark.parametrize("snr_db", [15.0, 8.0])
def test_white_noise(snr_db):
    """Signals at -11 dBm0 per tone in white noise at 15 and 8 dB S/N (total signal power over noise power in the
    whole 0-4 kHz band; it works down to about 5 dB): every signal detected once; noise alone gives nothing."""
    rng = np.random.default_rng(14)
    sig_power = 2 * peak(NOMINAL) ** 2 / 2
    sigma = np.sqrt(sig_power / 10 ** (snr_db / 10))
    cols, masks, expect = [], [], []
    for bw in (False, True):
        for rep in range(3):
            for s in SIGNALS:
                x = place(4000, (300, two_tone(s, bw, 800, rng=rng)), (2000, two_tone(s, bw, 600, rng=rng)))
                cols.append(x + rng.normal(0, sigma, len(x)))
                masks.append("r2b" if bw else "r2f")
                expect.append(s)
    for bw in (False, True):
        for rep in range(8):
            cols.append(rng.normal(0, sigma, 4000))
            masks.append("r2b" if bw else "r2f")
            expect.append(None)
    for law in ("linear", "alaw"):
        chans = per_channel(run_bank(cols, masks, law=law), len(cols))
        for s, evs in zip(expect, chans):
            if s is None:
                assert evs == []
            else:
                assert seq(evs) == [("on", s), ("off", s)] * 2, (s, evs)


# ------------------------------------------------------------------------------------------- bank use
def test_37_channels_each_different():
    """37 channels (a partial tile) each carrying its own sequence, forward on some, backward on others,
    and one carrying both groups at once; every channel reports exactly its own sequence."""
    rng = np.random.default_rng(15)
    L = 12000
    cols, masks, expect = [], [], []
    for ch in range(37):
        bw = ch % 3 == 1
        digits = "".join(SIGNALS[(ch * 7 + j * (ch % 5 + 1)) % 15] for j in range(4 + ch % 3))
        if bw and ch % 2:
            digits = "".join(d for d in digits if d in CHINA_BACKWARD_SIGNALS) or "6"
        x = np.zeros(L)
        t = 100 + 11 * ch
        for d in digits:
            n = int(rng.integers(50, 120)) * MS
            x[t:t + n] += two_tone(d, bw, n, float(rng.uniform(-25, -8)), rng=rng)
            t += n + int(rng.integers(30, 90)) * MS
        assert t + 1000 < L
        t_last = t
        cols.append(x)
        masks.append("r2b" if bw else "r2f")
        expect.append([(typ, d) for d in digits for typ in ("on", "off")])
    # channel 36 runs both receivers: after its forward digits it carries a backward signal
    y = np.zeros(L)
    y[t_last:t_last + 900] = two_tone("9", True, 900, rng=rng)
    cols[36] = cols[36] + y
    masks[36] = "r2f,r2b"
    chans = per_channel(run_bank(cols, masks, law="alaw"), 37)
    for ch in range(37):
        got = chans[ch]
        if ch == 36:
            assert seq([e for e in got if e.kind == "r2b"]) == [("on", "9"), ("off", "9")]
            got = [e for e in got if e.kind == "r2f"]
        assert seq(got) == expect[ch], (ch, seq(got), expect[ch])


def test_compelled_sequence_closed_loop():
    """A full compelled exchange driven by the detectors' own events, 1 ms at a time, on two channels of one
    bank: channel 0 carries the forward register's signals (forward detector), channel 1 the backward
    register's (backward detector, China 2-of-4). Forward digit on -> backward A1 on -> forward off ->
    backward off -> next digit; after the last digit the backward side sends A3 (switch to group B)."""
    number = "13800138000"
    fwd = R2Generator(backward=False)
    bwd = R2Generator(backward=True)
    bank = Bank(2, law="alaw")
    bank.set_r2_params(r2_params(True, china=True))
    bank.set_mask(0, "r2f")
    bank.set_mask(1, "r2b")
    log = []
    idx = 0
    fwd.set(number[0])
    react = []   # (due time, action): each side reacts 10 ms after it recognises an edge
    for _ in range(20000):                                        # at most 20 s
        now = bank.time
        for item in [r for r in react if r[0] <= now]:
            react.remove(item)
            item[1]()
        frame = np.stack([fwd.generate(MS), bwd.generate(MS)], axis=1)
        for e in bank.process(alaw_encode(frame.ravel())):
            log.append((e.kind, e.type, e.value, e.channel))
            if e.kind == "r2f" and e.type == "on":
                ack = "3" if idx == len(number) - 1 else "1"
                react.append((bank.time + 10 * MS, lambda a=ack: bwd.set(a)))
            elif e.kind == "r2b" and e.type == "on":
                react.append((bank.time + 10 * MS, lambda: fwd.set(None)))
            elif e.kind == "r2f" and e.type == "off":
                react.append((bank.time + 10 * MS, lambda: bwd.set(None)))
            elif e.kind == "r2b" and e.type == "off":
                idx += 1
                if idx < len(number):
                    react.append((bank.time + 10 * MS, lambda d=number[idx]: fwd.set(d)))
        if idx >= len(number) and not react:
            break
    expect = []
    for i, d in enumerate(number):
        ack = "3" if i == len(number) - 1 else "1"
        expect += [("r2f", "on", d, 0), ("r2b", "on", ack, 1), ("r2f", "off", d, 0), ("r2b", "off", ack, 1)]
    assert log == expect
    # each compelled cycle takes four detections plus four 10 ms reactions: Q.441 timing keeps it short
    assert bank.time < len(number) * 4 * (80 + 10) * MS


def test_direct_switch_between_signals():
    """One signal replaced by another with no gap (pulsed signals): OFF of the first, then ON of the second,
    the switch placed within 8 ms (a shared tone makes the exact edge ambiguous)."""
    rng = np.random.default_rng(19)
    cols, cases = [], []
    for bw in (False, True):
        for i, s in enumerate(SIGNALS):
            s2 = SIGNALS[(i + 1 + i % 4) % 15]
            sw = 900 + 3 * i
            cols.append(place(3000, (200 + 3 * i, two_tone(s, bw, 700, rng=rng)), (sw, two_tone(s2, bw, 700, rng=rng))))
            cases.append((bw, s, s2, sw))
    chans = per_channel(run_bank(cols, ["r2b" if c[0] else "r2f" for c in cases]), len(cols))
    for (bw, s, s2, sw), evs in zip(cases, chans):
        assert seq(evs) == [("on", s), ("off", s), ("on", s2), ("off", s2)], (s, s2, evs)
        assert evs[1].t <= evs[2].t
        assert abs(evs[1].t - sw) <= 8 * MS and abs(evs[2].t - sw) <= 8 * MS


def test_odd_chunk_sizes_match_whole_blocks():
    """Blocks follow the global sample count: feeding 1..300-frame pieces gives the same events."""
    rng = np.random.default_rng(16)
    pcm = generate("1F509", on_ms=70, off_ms=50)
    cols = [np.concatenate([np.zeros(33 * i), pcm, np.zeros(400)])[:len(pcm) + 200] for i in range(9)]
    ref = run_bank(cols, "r2f")
    lin = np.stack([to_i16(c) for c in cols], axis=1)
    bank = Bank(9, law="linear")
    bank.set_mask_all("r2f")
    got, i = [], 0
    while i < len(lin):
        n = int(rng.integers(1, 300))
        got.extend(bank.process(np.ascontiguousarray(lin[i:i + n])))
        i += n
    assert got == ref and len(ons(ref)) == 9 * 5


def test_reset_and_enable_mid_stream():
    rng = np.random.default_rng(17)
    x = place(6000, (500, two_tone("7", False, 1600, rng=rng)), (3500, two_tone("8", False, 800, rng=rng)))
    lin = to_i16(x)
    bank = Bank(1, law="linear")
    evs = bank.process(lin[:1000])                                # detector off: nothing
    assert evs == []
    bank.set_mask(0, "r2f")                                        # enabled mid-signal
    evs += bank.process(lin[1000:2900])
    bank.reset()
    evs += bank.process(lin[2900:])
    assert seq(evs) == [("on", "7"), ("off", "7"), ("on", "8"), ("off", "8")]


def test_params_validation():
    bank = Bank(1)
    good = r2_params(False)
    assert good.hits_to_begin >= 1 and good.misses_to_end >= 1
    assert good.threshold_dbm0 <= -35 and good.max_level_dbm0 >= -5          # Q.441 operate range inside
    for bad in (dict(hits_to_begin=0), dict(misses_to_end=0), dict(min_purity=0.0), dict(min_purity=1.5),
                dict(threshold_dbm0=float("nan")), dict(max_level_dbm0=-50.0), dict(twist_adjacent_db=-1.0),
                dict(backward=2)):
        with pytest.raises(DspError):
            bank.set_r2_params(good.replace(**bad))
    bank.set_r2_params(good)


def test_random_bytes_are_harmless():
    """Arbitrary A-law bytes (loud white noise and worse) on 45 channels: no crash, no signal."""
    rng = np.random.default_rng(18)
    bank = Bank(45, law="alaw")
    bank.set_mask_all("r2f,r2b")
    evs = []
    for _ in range(100):
        evs += bank.process(rng.integers(0, 256, 160 * 45, dtype=np.uint8))
    evs += bank.process(np.full(160 * 45, 0xFF, np.uint8))        # full-scale DC
    assert ons(evs) == []


# ------------------------------------------------------------------------------------------- generator
@pytest.mark.parametrize("backward", [False, True])
def test_generator_spectrum_and_level(backward):
    """Each signal is exactly its two Q.441 frequencies at -11 dBm0 each (measured with an FFT)."""
    for s in SIGNALS:
        g = R2Generator(backward)
        g.set(s)
        x = g.generate(8000).astype(float)[100:]                  # 1 s minus the ramp
        spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
        freqs = np.fft.rfftfreq(len(x), 1 / RATE)
        top = sorted(freqs[np.argsort(spec)[-2:]])
        fa, fb = sorted(pair(s, backward))
        assert abs(top[0] - fa) < 1.5 and abs(top[1] - fb) < 1.5
        # total power = two tones of -11 dBm0
        expect = 2 * peak(NOMINAL) ** 2 / 2
        assert abs(10 * np.log10(np.mean(x ** 2) / expect)) < 0.1
        # nothing else: energy outside +-20 Hz of the two tones is > 50 dB down
        near = (np.abs(freqs - fa) < 20) | (np.abs(freqs - fb) < 20)
        assert np.sum(spec[~near] ** 2) < 1e-5 * np.sum(spec[near] ** 2)


def test_generator_edges_and_phase_continuity():
    g = R2Generator(False)
    assert not g.generate(50).any()                                 # silence before
    g.set("5")
    whole = R2Generator(False)
    whole.set("5")
    ref = whole.generate(1000)
    parts = np.concatenate([g.generate(n) for n in (1, 7, 160, 33, 799)])
    assert np.array_equal(parts, ref)                               # phase runs on across calls
    # clean edges: starts from zero, full amplitude within 4 samples (0.5 ms), stops within 4 samples
    a = peak(NOMINAL)
    assert ref[0] == 0 and np.abs(ref).max() <= 2 * a + 1
    env = np.abs(ref[:6].astype(float))
    assert env[4:].max() > 0
    g.set(None)
    tail = g.generate(40)
    assert not tail[4:].any()
    # the first 4 samples after stop are a ramp: no sample jumps more than a full-amplitude step would
    steps = np.abs(np.diff(np.concatenate([parts[-1:], tail[:5]]).astype(float)))
    assert steps.max() < 2 * a
    # switching straight from one signal to another: old pair ramps down, new pair starts at phase zero
    g.set("1")
    g.generate(100)
    g.set("2")
    y = g.generate(100).astype(float)
    assert np.abs(y[:3]).max() < 2 * a and y[3] == 0.0 and np.abs(y[4:]).max() > 0
    with pytest.raises(ValueError):
        g.set("A")
    with pytest.raises(ValueError):
        R2Generator(False, level_dbm0=5.0)


def test_generate_sequence_timing():
    pcm = generate("12", on_ms=50, off_ms=30)
    assert pcm.dtype == np.int16 and len(pcm) == 2 * 80 * MS
    on = np.abs(pcm.astype(float)) > 0
    # tone energy only during the on periods (plus the 4-sample ramp-down)
    assert not on[50 * MS + 4:80 * MS].any() and not on[130 * MS + 4:].any()
    assert on[1:50 * MS].mean() > 0.9
