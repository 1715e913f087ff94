"""Call-progress tones: the table-driven detector through the multi-channel Bank, and the tone generator.

Where the receiver is under test the signals are synthesised here with numpy (independent of ctid's generator);
expectations come from the tone definitions, from the stated receiver limits below and from what each test
generated, never from a detector run.

China tones (YD/T 1277; Asterisk indications.conf [cn]): 450 Hz at -10 +-3 dBm0; dial continuous; busy
0.35/0.35 s; congestion 0.7/0.7; ringback 1/4; call waiting 0.4/4; vacant number (0.1/0.1)x3 then 0.4/0.4;
special dial tone 0.4/0.04.

Stated receiver limits (CptParams defaults):
- level: -10 +-3 dBm0 nominal; detected down to LOW_DBM0 = -36 dBm0 (threshold -40 dBm0);
- frequency: within +-5 % accepted (tested at +-4 %), beyond rejected (tested at +-6 %, +-8 % and 400 Hz);
- cadence: every segment +-10 % accepted (the project's requirement; detector tolerance 10 % + 25 ms);
- noise: white Gaussian noise over 0..4 kHz at S/N 10 dB;
- time to detection, from the start of the tone (detect_bound_ms(): the evidence needed, i.e. min_cycles
  cycles of which the last off has reached its lower bound, or detect_ms on for a continuous tone), plus at most
  SLACK_MS (one 10 ms block, one 20 ms tick, 5 ms edge): dial 1500 ms, busy 1340, congestion 2705,
  ringback 4575, call waiting 8375, vacant number 1335, special dial 1291;
- OFF: reported once the silence exceeds the expected off + tolerance (continuous: 25 ms), with t = the end of
  the tone's last on-segment.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ctid.dsp import Bank, DspError
from ctid.dsp.g711 import alaw_encode
from ctid.dsp.params import CptParams
from ctid.dsp.tonegen import ToneGenerator, generate
from ctid.dsp.tones import ToneDef, china_tones, check_table, tone_def_to_c, tone_table_to_c, tones_for

FS = 8000
PEAK_0DBM0 = 22827.0          # A-law convention: 0 dBm0 sine peak (ctid_dsp.h)
LOW_DBM0 = -36.0
SLACK_MS = 35
EDGE_MS = 5                   # ON/OFF time accuracy, clean signal, 10 ms blocks (China table)
EDGE_US_MS = 10               # the US table runs on 20 ms blocks (440/480 Hz are only 40 Hz apart)
CHINA = china_tones()
CN = {t.name: t for t in CHINA}
US = [
    # North American Precise Tone Plan: dial 350+440 continuous, busy 480+620 0.5/0.5, ringback 440+480 2/4
    ToneDef("dial", 350, 440, detect_ms=1000, level_dbm0=-13),
    ToneDef("busy", 480, 620, cadence_ms=(500, 500), min_cycles=2, level_dbm0=-24),
    ToneDef("ringback", 440, 480, cadence_ms=(2000, 4000), level_dbm0=-19),
]


# ----------------------------------------------------------------------------------------------- helpers
def env_of(cadence, n, on_scale=1.0, off_scale=1.0):
    """0/1 envelope of a repeating cadence (ms), and the list of on-segments [(start, end)] in samples."""
    if not cadence:
        return np.ones(n), [(0, n)]
    segs = [int(round(d * (on_scale if i % 2 == 0 else off_scale) * FS / 1000)) for i, d in enumerate(cadence)]
    env = np.zeros(n)
    ons = []
    t = i = 0
    while t < n:
        d = segs[i % len(segs)]
        if i % 2 == 0:
            env[t:t + d] = 1.0
            ons.append((t, min(t + d, n)))
        t += d
        i += 1
    return env, ons


def synth(freqs, cadence, ms, level=-10.0, rng=None, on_scale=1.0, off_scale=1.0):
    """Tone(s) at `level` dBm0 each, gated by the cadence; random phases. Returns (float signal, on-segments)."""
    rng = rng or np.random.default_rng(0)
    n = int(round(ms * FS / 1000))
    t = np.arange(n) / FS
    amp = PEAK_0DBM0 * 10 ** (level / 20)
    x = sum(amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) for f in freqs if f)
    env, ons = env_of(cadence, n, on_scale, off_scale)
    return x * env, ons


def tone_signal(tone: ToneDef, ms, level=None, freq_scale=1.0, **kw):
    freqs = [f * freq_scale for f in (tone.freq1, tone.freq2) if f]
    return synth(freqs, tone.cadence_ms, ms, tone.level_dbm0 if level is None else level, **kw)


def white_noise(n, snr_db, level_dbm0, rng):
    """Gaussian noise (flat 0..4 kHz) whose power is snr_db below a sine of level_dbm0."""
    p_sig = (PEAK_0DBM0 * 10 ** (level_dbm0 / 20)) ** 2 / 2
    return rng.normal(0.0, np.sqrt(p_sig / 10 ** (snr_db / 10)), n)


def to_i16(x):
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def run_bank(signals, law="alaw", tones=None, params=None, block=160):
    """Feed channels (list of float arrays, padded to one length) through one Bank, `block` frames a tick.

    Returns a list per channel of (event, emitted_at) where emitted_at is the bank time after the tick that
    produced the event.
    """
    nch = len(signals)
    n = max(len(s) for s in signals)
    pcm = np.zeros((n, nch), np.int16)
    for c, s in enumerate(signals):
        pcm[: len(s), c] = to_i16(s)
    frames = alaw_encode(pcm.reshape(-1)).reshape(n, nch) if law == "alaw" else pcm
    bank = Bank(nch, law=law, tones=tones)
    if params is not None:
        bank.set_tones(tones, params)
    bank.set_mask_all("cpt")
    out = [[] for _ in range(nch)]
    for i in range(0, n, block):
        for e in bank.process(np.ascontiguousarray(frames[i:i + block])):
            assert e.kind == "cpt"
            out[e.channel].append((e, bank.time))
    return out


def ons(evs):
    return [e for e, _ in evs if e.type == "on"]


def names(evs):
    return [e.value for e, _ in evs if e.type == "on"]


def detect_bound_ms(tone: ToneDef, p: CptParams = CptParams()) -> float:
    """Earliest time (from the tone's start) at which the evidence for the tone is complete."""
    if tone.continuous:
        return tone.detect_ms
    k = tone.min_cycles * len(tone.cadence_ms)
    segs = [tone.cadence_ms[i % len(tone.cadence_ms)] for i in range(k)]
    last = segs[-1] * (1 - p.cadence_tolerance_pct / 100) - p.cadence_tolerance_ms
    return sum(segs[:-1]) + max(last, 1.0)


def off_bound_ms(tone: ToneDef, p: CptParams = CptParams()) -> float:
    """Silence after the last on-segment before the tone is declared stopped."""
    longest_off = max(tone.cadence_ms[1::2]) if tone.cadence_ms else 0
    return longest_off * (1 + p.cadence_tolerance_pct / 100) + p.cadence_tolerance_ms


def ms(samples):
    return samples * 1000.0 / FS


def check_only(evs, name, start=None, level=None, tol_ms=EDGE_MS):
    """Exactly one ON, with the right name (and start / level when given)."""
    got = ons(evs)
    assert [e.value for e in got] == [name], [(e.type, e.value, e.t) for e, _ in evs]
    if start is not None:
        assert abs(ms(got[0].t - start)) <= tol_ms, (name, got[0].t, start)
    if level is not None:
        assert abs(got[0].level - level) <= 1.0, (name, got[0].level, level)
    return got[0]


# ----------------------------------------------------------------------------------------------- China tones
def test_bounds_stated_in_docstring_match_the_table():
    got = {t.name: round(detect_bound_ms(t)) for t in CHINA}
    assert got == {"dial": 1500, "busy": 1340, "congestion": 2705, "ringback": 4575, "call_waiting": 8375,
                   "vacant": 1335, "special_dial": 1291}


@pytest.mark.parametrize("law", ["alaw", "linear"])
def test_each_china_tone_detected_timed_and_ended(law):
    """-10 dBm0, each tone on its own channel after 0.5 s of silence, stopped after whole cycles."""
    rng = np.random.default_rng(1)
    lead = 4000
    sigs, truth = [], []
    for t in CHINA:
        period = sum(t.cadence_ms) or 1000
        cycles = max(2, int(np.ceil((detect_bound_ms(t) + 1500) / period)))
        x, segs = tone_signal(t, period * cycles, rng=rng)
        tail = int((off_bound_ms(t) + 500) * FS / 1000)
        sigs.append(np.concatenate([np.zeros(lead), x, np.zeros(tail)]))
        truth.append((t, lead + segs[-1][1]))      # end of the last on-segment
    out = run_bank(sigs, law=law)
    for (t, last_on_end), evs in zip(truth, out):
        on = check_only(evs, t.name, start=lead, level=-10.0)
        emitted = [at for e, at in evs if e.type == "on"][0]
        latency = ms(emitted - lead)
        assert detect_bound_ms(t) - 15 <= latency <= detect_bound_ms(t) + SLACK_MS, (t.name, latency)
        offs = [(e, at) for e, at in evs if e.type == "off"]
        assert len(offs) == 1 and offs[0][0].value == t.name, (t.name, evs)
        off, off_at = offs[0]
        assert abs(ms(off.t - last_on_end)) <= EDGE_MS, (t.name, off.t, last_on_end)
        assert off.duration == off.t - on.t
        assert ms(off_at - last_on_end) <= off_bound_ms(t) + SLACK_MS, (t.name, ms(off_at - last_on_end))
        assert [e.type for e, _ in evs] == ["on", "off"]


@pytest.mark.parametrize("level", [-13.0, -11.5, -8.5, -7.0, -20.0, -30.0, LOW_DBM0])
def test_levels(level):
    """The -10 +-3 dBm0 range (YD/T 1277), and lower levels down to the stated -36 dBm0."""
    rng = np.random.default_rng(int(-level * 10))
    sigs = [np.concatenate([np.zeros(800), tone_signal(t, 9000, level=level, rng=rng)[0]]) for t in CHINA]
    for t, evs in zip(CHINA, run_bank(sigs)):
        check_only(evs, t.name, start=800, level=level)


def test_below_threshold_gives_nothing():
    sigs = [tone_signal(t, 9000, level=-46.0)[0] for t in CHINA]
    assert all(evs == [] for evs in run_bank(sigs))


@pytest.mark.parametrize("pct", [-4.0, 4.0])
def test_frequency_offset_within_tolerance_accepted(pct):
    sigs = [tone_signal(t, 9000, freq_scale=1 + pct / 100)[0] for t in CHINA]
    for t, evs in zip(CHINA, run_bank(sigs)):
        check_only(evs, t.name, start=0)


@pytest.mark.parametrize("freq", [450 * 0.94, 450 * 1.06, 450 * 0.92, 450 * 1.08, 400.0, 500.0, 950.0, 1000.0])
def test_frequency_beyond_tolerance_rejected(freq):
    """+-6 %, +-8 %, 400 Hz (Europe/UK), 500 Hz, 950 Hz (China reminder tones) and 1 kHz: no CPT event at all."""
    sigs = [synth([freq], t.cadence_ms, 9000)[0] for t in CHINA]
    assert all(evs == [] for evs in run_bank(sigs)), freq


@pytest.mark.parametrize("on_scale,off_scale", [(0.9, 0.9), (1.1, 1.1), (0.9, 1.1), (1.1, 0.9)])
def test_cadence_tolerance_10pct(on_scale, off_scale):
    sigs = [tone_signal(t, 12000, on_scale=on_scale, off_scale=off_scale)[0] for t in CHINA]
    for t, evs in zip(CHINA, run_bank(sigs)):
        check_only(evs, t.name, start=0)


def test_cadence_far_off_is_not_that_tone():
    """A cadence 30 % off is not reported as the tone it imitates."""
    cases = [("busy", 0.7), ("busy", 1.3), ("congestion", 0.7), ("congestion", 1.3), ("ringback", 0.7),
             ("ringback", 1.4), ("call_waiting", 0.6), ("special_dial", 1.3)]
    sigs = [tone_signal(CN[n], 15000, on_scale=s, off_scale=s)[0] for n, s in cases]
    for (n, s), evs in zip(cases, run_bank(sigs)):
        assert n not in names(evs), (n, s, names(evs))


def test_white_noise_snr_10db():
    rng = np.random.default_rng(7)
    sigs = []
    for t in CHINA:
        x = np.concatenate([np.zeros(2400), tone_signal(t, 9000, rng=rng)[0], np.zeros(40000)])
        sigs.append(x + white_noise(len(x), 10.0, -10.0, rng))
    for t, evs in zip(CHINA, run_bank(sigs)):
        check_only(evs, t.name, start=2400, level=-10.0, tol_ms=10)
        assert [e.type for e, _ in evs] == ["on", "off"]


# ----------------------------------------------------------------------------------------------- rejection
def speech_like(seconds, rng, f0_lo, f0_hi, level=-15.0):
    """Voiced speech stand-in: 30 harmonics of a wandering pitch, two moving formants, syllabic on/off."""
    n = int(seconds * FS)
    t = np.arange(n) / FS
    walk = np.cumsum(rng.normal(0, 1, n // 80 + 2))
    walk = (walk - walk.min()) / (np.ptp(walk) + 1e-9)
    f0 = (f0_lo + (f0_hi - f0_lo) * np.interp(np.arange(n) / 80, np.arange(len(walk)), walk))
    f0 *= 1 + 0.03 * np.sin(2 * np.pi * 5.5 * t)                 # vibrato
    phase = 2 * np.pi * np.cumsum(f0) / FS
    knots = np.arange(n // 800 + 2)
    f1 = 300 + 600 * np.interp(np.arange(n) / 800, knots, rng.uniform(0, 1, len(knots)))
    f2 = 900 + 1600 * np.interp(np.arange(n) / 800, knots, rng.uniform(0, 1, len(knots)))
    x = np.zeros(n)
    for h in range(1, 31):
        fh = h * f0
        g = np.exp(-((fh - f1) / 120) ** 2) + 0.5 * np.exp(-((fh - f2) / 200) ** 2) + 0.02
        g[fh > 3600] = 0
        x += g * np.sin(h * phase)
    env = np.zeros(n)
    i = 0
    while i < n:
        on, off = int(rng.uniform(80, 400) * 8), int(rng.uniform(30, 300) * 8)
        m = min(on, n - i)
        env[i:i + m] = np.sqrt(np.hanning(m + 2)[1:-1])
        i += on + off
    x *= env
    return x / np.sqrt(np.mean(x ** 2) + 1e-12) * PEAK_0DBM0 * 10 ** (level / 20) / np.sqrt(2)


DTMF = {"1": (697, 1209), "5": (770, 1336), "9": (852, 1477), "0": (941, 1336), "#": (941, 1477),
        "D": (941, 1633)}


def dtmf_train(on_ms, off_ms, repeats, level=-7.0):
    parts = []
    for _ in range(repeats):
        for f in DTMF.values():
            parts.append(synth(f, (), on_ms, level)[0])
            parts.append(np.zeros(int(off_ms * 8)))
    return np.concatenate(parts)


def warble(fc, dev, rate, ms_, level=-10.0):
    """A tone frequency-modulated +-dev Hz around fc at `rate` Hz: its mean frequency is exactly fc."""
    t = np.arange(int(ms_ * 8)) / FS
    return PEAK_0DBM0 * 10 ** (level / 20) * np.sin(2 * np.pi * fc * t + dev / rate * np.sin(2 * np.pi * rate * t))


def test_non_tones_give_no_events():
    """Speech-like signals (male and female pitch ranges), 1 kHz, DTMF, a 450 Hz warble, silence and noise:
    no CPT events."""
    rng = np.random.default_rng(11)
    sigs = [speech_like(20, rng, 85, 160) for _ in range(3)]
    sigs += [speech_like(20, rng, 160, 300) for _ in range(3)]
    sigs += [
        synth([1000], (), 12000)[0],                      # 1 kHz test tone, continuous
        synth([1000], (350, 350), 12000)[0],              # ... cadenced like busy
        dtmf_train(100, 100, 12),                         # DTMF digits, fast dialling
        dtmf_train(350, 350, 3),                          # ... with a busy-like cadence
        synth((697, 1209), (), 6000)[0],                  # one digit held 6 s
        warble(450, 30, 5, 10000),                        # centred on 450 Hz, but beyond +-5 % half the time
        warble(450, 30, 2, 10000),
        np.zeros(80000),                                  # silence
        white_noise(80000, 0.0, -20.0, rng),              # noise at -20 dBm0
    ]
    out = run_bank(sigs)
    assert all(evs == [] for evs in out), [(i, names(evs)) for i, evs in enumerate(out) if evs]


# ----------------------------------------------------------------------------------------------- many lanes
def test_37_channels_each_different():
    """37 channels (4 full tiles + a partial one): every channel a different tone/condition/start offset."""
    rng = np.random.default_rng(37)
    total_ms = 14000
    sigs, expect = [], []
    levels = [-7.0, -10.0, -13.0, -20.0, -30.0]
    for c in range(37):
        start = int(rng.integers(0, 4000)) * 2            # different start offsets, 0..1 s
        n = total_ms * 8
        if c >= 35:                                       # two lanes without a tone
            x = speech_like(total_ms / 1000, rng, 90, 250) if c == 35 else dtmf_train(100, 100, 20)
            sigs.append(x)
            expect.append((None, None, None))
            continue
        tone = CHINA[c % 7]
        level = levels[c % 5]
        fscale = (1.0, 0.97, 1.03)[c % 3]
        cscale = (1.0, 0.92, 1.08, 1.0, 1.0)[c // 7]
        x, segs = tone_signal(tone, total_ms - 3000 - ms(start), level=level, freq_scale=fscale, rng=rng,
                              on_scale=cscale, off_scale=cscale)
        sig = np.zeros(n)
        sig[start:start + len(x)] = x
        sigs.append(sig)
        expect.append((tone, start, level))
    out = run_bank(sigs)
    for c, ((tone, start, level), evs) in enumerate(zip(expect, out)):
        if tone is None:
            assert evs == [], (c, names(evs))
            continue
        check_only(evs, tone.name, start=start, level=level)


@pytest.mark.parametrize("phase", [0.13, 0.37, 0.61, 0.89])
def test_joined_mid_cadence(phase):
    """The signal starts part-way into the cadence (rotation): still exactly the right tone, dated at the start
    of the signal (a cut first on-segment that still fits) or at the first whole on-segment."""
    sigs, firsts = [], []
    for t in CHINA[1:]:
        period = sum(t.cadence_ms)
        skip = int(round(phase * period * 8))
        x, segs = tone_signal(t, 15000 + ms(skip))
        sigs.append(x[skip:])
        firsts.append([0] + [a - skip for a, _ in segs if a >= skip][:1])
    for t, first, evs in zip(CHINA[1:], firsts, run_bank(sigs)):
        on = check_only(evs, t.name)
        assert min(abs(ms(on.t - f)) for f in first) <= EDGE_MS, (t.name, on.t, first)


def test_odd_tick_sizes_give_identical_events():
    x = np.concatenate([synth([450], CN["vacant"].cadence_ms, 5000)[0], synth([450], (350, 350), 3000)[0],
                        np.zeros(8000)])
    ref = [(e.type, e.value, e.t, e.duration) for e, _ in run_bank([x], block=160)[0]]
    assert [v for _, v, *_ in ref] == ["vacant", "vacant", "busy", "busy"]
    for block in (1, 37, 333, 1000):
        if block == 1:
            xs = x[: 3 * 8000]                             # one frame per call is slow in Python: first 3 s
            want = [r for r in ref if r[2] < 3 * 8000 and r[0] == "on"]
            got = [(e.type, e.value, e.t, e.duration) for e, _ in run_bank([xs], block=1)[0]]
            assert got == want
        else:
            assert [(e.type, e.value, e.t, e.duration) for e, _ in run_bank([x], block=block)[0]] == ref


def test_transitions_between_tones():
    rb, busy = CN["ringback"], CN["busy"]
    x1 = np.concatenate([tone_signal(rb, 7000)[0], tone_signal(busy, 5000)[0], np.zeros(8000)])
    x2 = np.concatenate([tone_signal(CN["dial"], 3000)[0], np.zeros(2400), tone_signal(rb, 12000)[0]])
    e1, e2 = run_bank([x1, x2])
    seq1 = [(e.type, e.value, e.t) for e, _ in e1]
    # ringback rings 0-1 s and 5-6 s; busy starts at 7 s and takes over (the 2 s off is too short)
    assert seq1[:3] == [("on", "ringback", 0), ("off", "ringback", 6 * FS), ("on", "busy", 7 * FS)]
    seq2 = [(e.type, e.value, e.t) for e, _ in e2]
    assert seq2 == [("on", "dial", 0), ("off", "dial", 3 * FS), ("on", "ringback", int(3.3 * FS))]


def test_mask_enables_and_disables_lanes():
    x = tone_signal(CN["busy"], 8000)[0]
    pcm = alaw_encode(to_i16(np.stack([x, x], axis=1)).reshape(-1)).reshape(-1, 2)
    bank = Bank(2)
    bank.set_mask(0, "cpt")
    evs = []
    for i in range(0, len(pcm), 160):
        if i == 8000:                          # channel 1 switched on at 1 s, channel 0 off
            bank.set_mask(1, "cpt")
            bank.set_mask(0, "")
        evs += bank.process(np.ascontiguousarray(pcm[i:i + 160]))
    assert [(e.channel, e.value) for e in evs if e.type == "on"] == [(1, "busy")]
    assert evs[0].t >= 8000


def test_garbage_input_is_safe():
    rng = np.random.default_rng(3)
    bank = Bank(37)
    bank.set_mask_all("cpt")
    for _ in range(200):
        bank.process(rng.integers(0, 256, size=37 * 160, dtype=np.uint8))
    assert bank.dropped == 0


def test_empty_table_detects_nothing():
    x = tone_signal(CN["busy"], 5000)[0]
    assert run_bank([x], tones=[]) == [[]]


# ----------------------------------------------------------------------------------------------- other tables
def test_us_table_dual_frequency_tones():
    rng = np.random.default_rng(5)
    sigs, starts = [], []
    for i, t in enumerate(US):
        for level in (t.level_dbm0, -30.0):
            start = 1600 + 400 * i
            x = tone_signal(t, 15000, level=level, rng=rng)[0]
            sigs.append(np.concatenate([np.zeros(start), x, np.zeros(60000)]))
            starts.append((t, start, level))
    for (t, start, level), evs in zip(starts, run_bank(sigs, tones=US)):
        check_only(evs, t.name, start=start, level=level, tol_ms=EDGE_US_MS)
        assert [e.type for e, _ in evs] == ["on", "off"]


def test_us_and_china_tables_do_not_cross_detect():
    us_sigs = [tone_signal(t, 15000)[0] for t in US]
    cn_sigs = [tone_signal(t, 12000)[0] for t in CHINA]
    assert all(evs == [] for evs in run_bank(us_sigs))                 # China table
    assert all(evs == [] for evs in run_bank(cn_sigs, tones=US))       # US table
    # a single 440 Hz tone carries only one of the two frequencies of US dial / ringback
    assert run_bank([synth([440], (), 6000)[0], synth([480], (2000, 4000), 8000)[0]], tones=US) == [[], []]


def test_mixed_table_with_us_and_china():
    table = CHINA + US[1:]
    table = [dataclasses.replace(t, name="us_" + t.name) if t in US else t for t in table]
    sigs = [tone_signal(CN["busy"], 6000)[0], tone_signal(US[1], 6000)[0], tone_signal(CN["special_dial"], 6000)[0]]
    out = run_bank(sigs, tones=table)
    assert [names(evs) for evs in out] == [["busy"], ["us_busy"], ["special_dial"]]


# ----------------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kw,field", [
    (dict(cadence_ms=(350,)), "cadence"),
    (dict(cadence_ms=(350, 0)), "cadence"),
    (dict(cadence_ms=(350, -5)), "cadence"),
    (dict(cadence_ms=(350.5, 350)), "cadence"),
    (dict(cadence_ms=(100, 100) * 9), "cadence"),
    (dict(cadence_ms=(10, 100)), "on-segments"),
    (dict(cadence_ms=[350, 350]), "cadence"),
    (dict(freq1=0), "freq1"),
    (dict(freq1=50), "freq1"),
    (dict(freq1=4000), "freq1"),
    (dict(freq1=float("nan")), "freq1"),
    (dict(freq2=99), "freq2"),
    (dict(freq2=450), "freq2"),
    (dict(freq2=float("inf")), "freq2"),
    (dict(cadence_ms=(), detect_ms=0), "detect_ms"),
    (dict(min_cycles=0), "min_cycles"),
    (dict(min_cycles=5, cadence_ms=(100, 100) * 8), "min_cycles"),
    (dict(level_dbm0=10.0), "level_dbm0"),
    (dict(name=""), "name"),
    (dict(name="x" * 24), "name"),
])
def test_tonedef_errors(kw, field):
    base = dict(name="t", freq1=450, cadence_ms=(350, 350))
    base.update(kw)
    with pytest.raises(ValueError) as exc:
        ToneDef(**base)
    assert field in str(exc.value)


def test_table_errors():
    many = [ToneDef(f"t{i}", 300 + 100 * i, cadence_ms=(300, 300)) for i in range(9)]
    with pytest.raises(ValueError, match="distinct frequencies"):
        tone_table_to_c(many)
    with pytest.raises(ValueError, match="duplicate"):
        check_table([CN["busy"], CN["busy"]])
    with pytest.raises(ValueError, match="at most 32"):
        check_table([ToneDef(f"t{i}", 450, cadence_ms=(300, 300 + i)) for i in range(33)])
    with pytest.raises(ValueError, match="no tone table"):
        tones_for("xx")
    assert tones_for("CN") == CHINA
    assert ToneDef.from_dict(CN["vacant"].to_dict()) == CN["vacant"]
    with pytest.raises(ValueError, match="unknown tone field"):
        ToneDef.from_dict({"name": "a", "freq1": 450, "colour": 1})


@pytest.mark.parametrize("kw", [dict(min_purity=0.0), dict(min_purity=1.5), dict(threshold_dbm0=float("nan")),
                                dict(freq_tolerance_pct=0.0), dict(cadence_tolerance_ms=-1)])
def test_bad_params_refused(kw):
    bank = Bank(2)
    with pytest.raises(DspError):
        bank.set_tones(None, CptParams().replace(**kw))


# ----------------------------------------------------------------------------------------------- generator
@pytest.mark.parametrize("tone", CHINA + US, ids=[t.name for t in CHINA] + ["us_" + t.name for t in US])
def test_generator_waveform(tone):
    """Exact cadence, level and frequencies: the generator matches an ideal sine within each on-segment."""
    n = int((sum(tone.cadence_ms) * 2 or 3000) * FS / 1000) + 123
    x = generate(tone, ms(n)).astype(float)
    assert len(x) == n
    env, segs = env_of(tone.cadence_ms, n)
    assert np.all(x[env == 0] == 0)
    amp = PEAK_0DBM0 * 10 ** (tone.level_dbm0 / 20)
    for a, b in segs:
        k = np.arange(b - a)
        ideal = sum(amp * np.sin(2 * np.pi * f * k / FS) for f in (tone.freq1, tone.freq2) if f)
        assert np.max(np.abs(x[a:b] - ideal)) <= 0.51          # phase 0 at each on start, continuous within
    if tone.continuous:
        p = np.mean(x ** 2)
        want = amp ** 2 / 2 * (2 if tone.freq2 else 1)
        assert abs(10 * np.log10(p / want)) < 0.02


def test_generator_streaming_and_level_override():
    g = ToneGenerator("special_dial")
    parts = [g.generate(k) for k in (1, 159, 333, 7, 4000)]
    assert all(len(p) == k for p, k in zip(parts, (1, 159, 333, 7, 4000)))
    assert np.array_equal(np.concatenate(parts), generate("special_dial", ms(4500)))
    g.reset()
    assert np.array_equal(g.generate(800), generate("special_dial", 100))
    loud = generate("dial", 1000, level_dbm0=-3.0).astype(float)
    assert abs(10 * np.log10(np.mean(loud ** 2) / ((PEAK_0DBM0 * 10 ** (-3 / 20)) ** 2 / 2))) < 0.02
    with pytest.raises(ValueError):
        generate("nonexistent", 100)
    with pytest.raises(ValueError):
        generate("dial", 100, level_dbm0=20.0)
    assert generate(US[0], 0).shape == (0,)


def test_generator_refuses_bad_defs():
    from ctid.dsp._native import ffi, lib

    d = tone_def_to_c(CN["busy"])
    d.nsegs = 3
    assert lib.ctid_tone_gen_new(d) == ffi.NULL
    d = tone_def_to_c(CN["busy"])
    d.freq1 = float("nan")
    assert lib.ctid_tone_gen_new(d) == ffi.NULL
    assert lib.ctid_tone_gen_new(ffi.NULL) == ffi.NULL


def test_generator_into_receiver_all_tones():
    """Our generator through A-law into our receiver, China table and US table, several channels at once."""
    lead = 1200
    cn = [np.concatenate([np.zeros(lead), generate(t, 12000, level_dbm0=lv)])
          for t in CHINA for lv in (-10.0, -25.0)]
    for i, evs in enumerate(run_bank(cn)):
        t, lv = CHINA[i // 2], (-10.0, -25.0)[i % 2]
        check_only(evs, t.name, start=lead, level=lv)
    us = [np.concatenate([np.zeros(lead), generate(t, 15000)]) for t in US]
    for t, evs in zip(US, run_bank(us, tones=US)):
        check_only(evs, t.name, start=lead, level=t.level_dbm0, tol_ms=EDGE_US_MS)


# ----------------------------------------------------------------------------------------------- C API
def _c_run(det, x, nlanes, t0=0):
    """Run ctid_cpt_rx_process on frame-major float32 x (frames x stride); returns [(lane, type, value, t)]."""
    from ctid.dsp._native import ffi, lib

    cap = 4096
    store = ffi.new("ctid_event_t[]", cap)
    buf = ffi.new("ctid_evbuf_t *")
    buf.ev, buf.cap, buf.limit = store, cap, cap            # never grows: no C-side allocation here
    en = ffi.new("uint8_t[]", [1] * x.shape[1])
    xs = np.ascontiguousarray(x, dtype=np.float32)
    for i in range(0, len(xs), 160):
        blk = np.ascontiguousarray(xs[i:i + 160])
        lib.ctid_cpt_rx_process(det, ffi.from_buffer("float[]", blk), len(blk), xs.shape[1], en, t0 + i, buf)
    assert buf.dropped == 0
    return [(store[k].channel, store[k].type, store[k].value, store[k].t_sample) for k in range(buf.n)]


def test_c_api_arguments_and_empty_table():
    from ctid.dsp._native import ffi, lib

    defs, n = tone_table_to_c(CHINA)
    assert lib.ctid_cpt_rx_new(0, ffi.NULL, defs, n) == ffi.NULL
    assert lib.ctid_cpt_rx_new(4, ffi.NULL, ffi.NULL, 1) == ffi.NULL       # defs missing
    assert lib.ctid_cpt_rx_new(4, ffi.NULL, defs, 33) == ffi.NULL
    bad = tone_def_to_c(CN["busy"])
    bad.nsegs = 3
    assert lib.ctid_cpt_rx_new(4, ffi.NULL, bad, 1) == ffi.NULL
    empty = ffi.gc(lib.ctid_cpt_rx_new(3, ffi.NULL, ffi.NULL, 0), lib.ctid_cpt_rx_free)
    assert empty != ffi.NULL
    x = np.zeros((48000, 8), np.float32)
    x[:, :3] = tone_signal(CN["busy"], 6000)[0][:, None]
    assert _c_run(empty, x, 3) == []
    lib.ctid_cpt_rx_reset(empty, -1)
    lib.ctid_cpt_rx_reset(empty, 99)                         # out of range: ignored


def test_c_api_non_finite_input_does_not_stick():
    """Direct callers may pass any float: NaN, inf and huge values for a while, then a busy tone is still found."""
    from ctid.dsp._native import ffi, lib

    defs, n = tone_table_to_c(CHINA)
    det = ffi.gc(lib.ctid_cpt_rx_new(9, ffi.NULL, defs, n), lib.ctid_cpt_rx_free)
    junk = np.array([np.nan, np.inf, -np.inf, 1e30, -3e38, 0.0, 5.0, np.nan], np.float32)
    x = np.zeros((8000 + 48000, 16), np.float32)
    for lane in range(9):
        x[:8000, lane] = np.resize(np.roll(junk, lane), 8000)
        x[8000 + 40 * lane:8000 + 40 * lane + 48000 - 400, lane] = tone_signal(CN["busy"], 5950)[0]
    ev = _c_run(det, x, 9)
    ons_ = sorted((ch, t) for ch, typ, v, t in ev if typ == 1)
    assert [ch for ch, _ in ons_] == list(range(9))
    assert all(v == 1 for _, typ, v, _ in ev if typ == 1)     # table index 1 = busy
    assert all(abs(t - (8000 + 40 * ch)) <= 40 for ch, t in ons_)
