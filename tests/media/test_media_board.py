"""Board-wide behaviour: 30 channels at once (lane independence), the conference mix, tones, Python sources,
driver events and tick hooks, and bad arguments (clear errors, native calls never crash)."""
import numpy as np
import pytest

from media_rig import find_offset

from ctid.drivers import AbcdEvent, DriverError, VOICE_TIMESLOTS
from ctid.dsp._native import ffi, lib
from ctid.dsp.g711 import alaw_decode, alaw_encode
from ctid.dsp.tones import ToneDef
from ctid.media import MediaError


def test_thirty_channels_different_prompts_at_once(rig):
    rng = np.random.default_rng(30)
    prompts = {ts: rng.integers(0, 256, 800 + 397 * i, dtype=np.uint8) for i, ts in enumerate(VOICE_TIMESLOTS)}
    heard = rig.listen(rig.rb, VOICE_TIMESLOTS)
    done = {}
    for ts, p in prompts.items():
        rig.ra.channel(ts).play(p).addCallback(lambda r, ts=ts: done.setdefault(ts, (rig.clock.seconds(), r)))
    rig.run(max(len(p) for p in prompts.values()) / 8000 + 0.2)
    assert sorted(done) == sorted(VOICE_TIMESLOTS)
    order = sorted(done, key=lambda ts: done[ts][0])
    assert [len(prompts[ts]) for ts in order] == sorted(len(p) for p in prompts.values())
    for ts, p in prompts.items():
        got = heard(ts)
        L = find_offset(p, got)
        assert 160 <= L <= 162
        np.testing.assert_array_equal(got[L:L + len(p)], p)
        assert np.all(got[L + len(p):] == 0xD5) and np.all(got[:L] == 0xD5)
    # TS16 (signalling) and TS0 untouched by media
    assert done and all(r == {"reason": "done", "digit": None} for _t, r in done.values())


def test_thirty_channels_collect_independently(rig):
    results = {}
    for ts in VOICE_TIMESLOTS:
        rig.ra.channel(ts).collect(max_digits=2, timeout=3).addCallback(lambda r, ts=ts: results.setdefault(ts, r))
    for i, ts in enumerate(VOICE_TIMESLOTS):
        rig.rb.channel(ts).dtmf("%d%d" % (i % 10, (i * 7) % 10))
    rig.run(1.0)
    assert {ts: r["digits"] for ts, r in results.items()} == {
        ts: "%d%d" % (i % 10, (i * 7) % 10) for i, ts in enumerate(VOICE_TIMESLOTS)}


def test_conference_of_three_each_hears_the_others(rig):
    members = [1, 2, 3]
    conf = rig.ra.conference()
    for ts in members:
        conf.add(rig.ra.channel(ts))
    at_a = rig.listen(rig.ra, members)
    at_b = rig.listen(rig.rb, members)
    rng = np.random.default_rng(3)
    sent = {ts: alaw_encode(rng.normal(0, 3000, 8000).astype(np.int16)) for ts in members}
    for ts in members:
        rig.rb.channel(ts).play(sent[ts])
    rig.run(1.2)
    rx = {ts: alaw_decode(at_a(ts)).astype(np.int32) for ts in members}
    for ts in members:
        others = sum(rx[o] for o in members if o != ts)
        expected = alaw_encode(np.clip(others, -32768, 32767).astype(np.int16))
        got = at_b(ts)
        # what A sent on ts in tick k is the mix of what A received in tick k; B gets it one block later
        seg = expected[2000:6000]
        L = find_offset(seg, got)
        assert L - 2000 in (160, 161, 162)
        np.testing.assert_array_equal(got[L:L + len(seg)], seg)
        # and it is the others' voices, not its own: correlate with what each far channel sent
        lin = alaw_decode(got).astype(float)
        corr = {}
        for o in members:
            src = alaw_decode(sent[o]).astype(float)
            M = find_offset(sent[o][:64], at_a(o))
            k = L - 2000 + M
            a = lin[k:k + 6000]
            b = src[:len(a)]
            corr[o] = float(np.dot(a, b) / np.sqrt(np.dot(a, a) * np.dot(b, b)))
        assert abs(corr[ts]) < 0.05 and all(corr[o] > 0.5 for o in members if o != ts), corr
    conf.close()
    rig.run(0.2)
    assert np.all(at_b(1)[-800:] == 0xD5)


def test_listen_only_member_hears_but_is_not_heard(rig):
    conf = rig.ra.conference()
    conf.add(rig.ra.channel(1))
    conf.add(rig.ra.channel(2), talk=False)          # supervisor monitoring
    at_b = rig.listen(rig.rb, [1, 2])
    rig.rb.channel(1).play(alaw_encode((6000 * np.sin(np.arange(4000) * 0.4)).astype(np.int16)))
    rig.rb.channel(2).play(alaw_encode((6000 * np.sin(np.arange(4000) * 0.9)).astype(np.int16)))
    rig.run(0.6)
    assert np.count_nonzero(at_b(2) != 0xD5) > 3000          # hears channel 1
    assert np.all(np.abs(alaw_decode(at_b(1)).astype(int)) <= 8)   # channel 1 hears nothing of 2


def test_tone_by_name_and_dual_tone(rig):
    at_b = rig.listen(rig.rb, [6, 7])
    rig.ra.channel(6).tone("busy")
    rig.ra.channel(7).tone(ToneDef("dual", 697, 1209, level_dbm0=-10.0, detect_ms=100), duration=0.3)
    rig.run(1.6)
    busy = alaw_decode(at_b(6)).astype(float)
    on = np.abs(busy) > 500
    edges = np.flatnonzero(np.diff(on.astype(int)) != 0)
    # 350 ms on / 350 ms off cadence
    gaps = np.diff(edges)
    long_gaps = gaps[gaps > 100]
    assert len(long_gaps) >= 2 and np.all(np.abs(long_gaps - 2800) <= 40), long_gaps
    dual = alaw_decode(at_b(7)).astype(float)
    active = np.flatnonzero(np.abs(dual) > 200)
    assert abs((active[-1] - active[0] + 1) - 2400) <= 10      # 0.3 s
    spec = np.abs(np.fft.rfft(dual[active[0]:active[0] + 2000]))
    top = sorted(np.argsort(spec)[-2:] * 8000 / 2000)
    assert abs(top[0] - 697) <= 4 and abs(top[1] - 1209) <= 4
    # DTMF detector on B sees the dual tone as the digit 1
    mc = rig.rb.channel(8)
    mc.detect(dtmf=True)
    rig.ra.channel(8).tone(ToneDef("d1", 697, 1209, level_dbm0=-10.0, detect_ms=100), duration=0.1)
    rig.run(0.3)
    assert mc.digits == "1"
    rig.ra.channel(6).stop_tone()
    rig.run(0.1)
    assert rig.ra.channel(6).tone_playing is None


def test_play_takes_precedence_over_a_tone_then_the_tone_resumes(rig):
    at_b = rig.listen(rig.rb, [9])
    mc = rig.ra.channel(9)
    mc.tone("dial")
    rig.run(0.2)
    p = np.full(1600, 0x55, dtype=np.uint8)
    d = mc.play(p)
    rig.run_until(d)
    rig.run(0.2)
    got = at_b(9)
    L = find_offset(p, got)
    np.testing.assert_array_equal(got[L:L + 1600], p)
    assert np.count_nonzero(np.abs(alaw_decode(got[L + 1600:]).astype(int)) > 500) > 1000   # dial tone again


def test_python_source_and_hooks_and_driver_events(rig):
    seen_events, hook_blocks = [], []
    rig.ra.add_event_handler(seen_events.append)
    rig.ra.add_tick_hook(lambda rx: hook_blocks.append(rx.shape))
    at_b = rig.listen(rig.rb, [10])
    codes = iter([np.full(160, 0x2A, np.uint8), None, np.full(160, 0x2B, np.uint8)])
    rig.ra.channel(10).set_source(lambda: next(codes, None))
    rig.b.spans[0].timeslot(11).set_abcd(0b0101)
    rig.run(0.2)
    got = at_b(10)
    assert np.count_nonzero(got == 0x2A) == 160 and np.count_nonzero(got == 0x2B) == 160
    assert any(isinstance(e, AbcdEvent) and e.timeslot == 11 and e.abcd == 0b0101 for e in seen_events)
    assert hook_blocks and all(s == rig.a.block_shape for s in hook_blocks)
    # a failing source is removed and counted, the tick goes on
    rig.ra.channel(10).set_source(lambda: 1 / 0)
    rig.run(0.1)
    assert rig.ra.errors == 1 and 10 not in rig.ra._sources


def test_bad_arguments_give_clear_errors(rig):
    mc = rig.ra.channel(5)
    with pytest.raises(MediaError, match="not int"):
        mc.play(123)
    with pytest.raises(MediaError, match="uint8"):
        mc.play(np.zeros(10, np.int16))
    with pytest.raises(MediaError, match="one-dimensional"):
        mc.play(np.zeros((2, 2), np.uint8))
    with pytest.raises(MediaError, match="max_digits"):
        mc.collect(max_digits=0)
    with pytest.raises(MediaError, match="min_digits"):
        mc.collect(min_digits=3, max_digits=2)
    with pytest.raises(MediaError, match="terminators"):
        mc.collect(terminators="x")
    with pytest.raises(MediaError, match="regular expression"):
        mc.collect(valid_regex="(")
    with pytest.raises(MediaError, match="timeout"):
        mc.collect(timeout=float("nan"))
    with pytest.raises(MediaError, match="tries"):
        mc.collect(tries=0)
    with pytest.raises(MediaError, match="max_seconds"):
        mc.record("/tmp/x.wav", max_seconds=-1)
    with pytest.raises(MediaError, match="no tone 'nope'"):
        mc.tone("nope")
    with pytest.raises(MediaError, match="digits"):
        mc.dtmf("12x")
    with pytest.raises(MediaError, match="callable"):
        mc.set_source(5)
    with pytest.raises(MediaError, match="loop empty"):
        mc.play(b"", loop=True)
    with pytest.raises(DriverError, match="out of range"):
        rig.ra.channel(999)
    assert mc.state == "idle"
    # empty audio finishes at once
    out = []
    mc.play([b"", np.zeros(0, np.uint8)]).addCallback(out.append)
    assert out == [{"reason": "done", "digit": None}]


def test_native_calls_refuse_bad_input_without_crashing():
    m = ffi.gc(lib.ctid_media_new(4), lib.ctid_media_free)
    assert lib.ctid_media_new(0) == ffi.NULL and lib.ctid_media_new(-5) == ffi.NULL
    buf = ffi.new("uint8_t[]", 640)
    tx = ffi.new("uint8_t[]", 640)
    assert lib.ctid_media_tick(ffi.NULL, buf, tx, 160, 4) == lib.CTID_ERR_ARG
    assert lib.ctid_media_tick(m, ffi.NULL, tx, 160, 4) == lib.CTID_ERR_ARG
    assert lib.ctid_media_tick(m, buf, tx, 0, 4) == lib.CTID_ERR_SIZE
    assert lib.ctid_media_tick(m, buf, tx, 160, 3) == lib.CTID_ERR_SIZE
    assert lib.ctid_media_tick(m, buf, tx, 100000, 4) == lib.CTID_ERR_SIZE
    for ch in (-1, 4, 1 << 30):
        assert lib.ctid_media_play(m, ch, buf, 10, 1, 0) == lib.CTID_ERR_CHANNEL
        assert lib.ctid_media_record_start(m, ch, 8000, 100, 0, 0, -40.0) == lib.CTID_ERR_CHANNEL
        assert lib.ctid_media_conf(m, ch, 1, 3) == lib.CTID_ERR_CHANNEL
        lib.ctid_media_reset(m, ch)
    assert lib.ctid_media_play(m, 0, ffi.NULL, 10, 1, 0) == lib.CTID_ERR_ARG
    assert lib.ctid_media_play(m, 0, buf, -1, 1, 0) == lib.CTID_ERR_ARG
    assert lib.ctid_media_play(m, 0, buf, 0, 1, 1) == lib.CTID_ERR_ARG          # looping nothing
    assert lib.ctid_media_record_start(m, 0, 10, 5, 0, 0, -40.0) == lib.CTID_ERR_ARG
    assert lib.ctid_media_record_start(m, 0, 8000, 9000, 0, 0, -40.0) == lib.CTID_ERR_ARG
    assert lib.ctid_media_record_start(m, 0, 8000, 100, 0, 0, float("nan")) == lib.CTID_ERR_ARG
    assert lib.ctid_media_record_read(m, 0, ffi.NULL, 10) == lib.CTID_ERR_ARG
    assert lib.ctid_media_conf(m, 0, lib.CTID_MEDIA_MAX_CONF + 1, 3) == lib.CTID_ERR_ARG
    assert lib.ctid_media_conf(m, 0, 1, 99) == lib.CTID_ERR_ARG
    assert lib.ctid_media_tone(m, 0, ffi.NULL, 0, 1) == lib.CTID_ERR_ARG
    bad = ffi.new("ctid_tone_def_t *")
    bad.freq1 = 5000.0
    assert lib.ctid_media_tone(m, 0, bad, 0, 1) == lib.CTID_ERR_ARG
    for i in range(lib.CTID_MEDIA_MAX_QUEUE):
        assert lib.ctid_media_play(m, 1, buf, 5, i, 0) == i + 1
    assert lib.ctid_media_play(m, 1, buf, 5, 99, 0) == lib.CTID_ERR_SIZE
    assert lib.ctid_media_events(m, ffi.NULL, 5) == lib.CTID_ERR_ARG
    # random ticks with random state changes: only valid results
    rng = np.random.default_rng(0)
    keep = [ffi.new("uint8_t[]", bytes(rng.integers(0, 256, 50, dtype=np.uint8))) for _ in range(8)]
    evs = ffi.new("ctid_media_event_t[]", 64)
    for _ in range(300):
        ch = int(rng.integers(-1, 5))
        op = int(rng.integers(0, 7))
        if op == 0:
            lib.ctid_media_play(m, ch, keep[int(rng.integers(0, 8))], int(rng.integers(0, 51)), 7, int(rng.integers(0, 2)))
        elif op == 1:
            lib.ctid_media_record_start(m, ch, 8000, int(rng.integers(1, 8001)), int(rng.integers(0, 500)),
                                        int(rng.integers(0, 100)), -40.0)
        elif op == 2:
            lib.ctid_media_conf(m, ch, int(rng.integers(0, 3)), int(rng.integers(0, 4)))
        elif op == 3:
            lib.ctid_media_reset(m, ch)
        elif op == 4:
            lib.ctid_media_play_stop(m, ch)
        elif op == 5:
            out = ffi.new("uint8_t[]", 300)
            assert lib.ctid_media_record_read(m, ch, out, 300) >= (0 if 0 <= ch < 4 else lib.CTID_ERR_CHANNEL)
        nf = int(rng.integers(1, 161))
        rx = ffi.new("uint8_t[]", bytes(rng.integers(0, 256, nf * 4, dtype=np.uint8)))
        assert lib.ctid_media_tick(m, rx, tx, nf, 4) >= 0
        while lib.ctid_media_events(m, evs, 64) > 0:
            pass
    lib.ctid_media_reset(m, -1)


@pytest.mark.parametrize("tone", [
    ToneDef("busy", 450, cadence_ms=(350, 350), min_cycles=2),
    ToneDef("dial", 450, detect_ms=1500),
    ToneDef("dual", 697, 1477, cadence_ms=(100, 60, 300, 40), level_dbm0=-6.0),
])
def test_native_tone_matches_the_reference_generator(tone):
    """The media tick's oscillator (re-seeded from the phase each tick) against ctid.dsp.tonegen (one sin per
    sample), 30 s: the same cadence and the same samples within one A-law step, no drift."""
    from ctid.dsp.tonegen import generate
    from ctid.dsp.tones import tone_def_to_c

    m = ffi.gc(lib.ctid_media_new(2), lib.ctid_media_free)
    assert lib.ctid_media_tone(m, 1, tone_def_to_c(tone), 0, 1) == 0
    rx = np.full((160, 2), 0xD5, np.uint8)
    tx = np.empty_like(rx)
    out = []
    for _ in range(1500):
        assert lib.ctid_media_tick(m, ffi.from_buffer("uint8_t[]", rx), ffi.from_buffer("uint8_t[]", tx), 160, 2) == 0
        out.append(tx[:, 1].copy())
        assert np.all(tx[:, 0] == 0xD5)
    got = alaw_decode(np.concatenate(out)).astype(int)
    ref = alaw_decode(alaw_encode(generate(tone, 30000))).astype(int)
    diff = np.abs(got - ref)
    assert np.all(diff <= np.maximum(16, np.abs(ref) // 16)), diff.max()
    assert np.count_nonzero(diff) <= len(ref) // 1000


def test_supervisor_whisper_is_heard_by_the_agent_only(rig):
    caller, agent, sup = (rig.ra.channel(t) for t in (1, 2, 3))
    conf = rig.ra.conference()
    conf.add(caller)
    conf.add(agent)
    conf.add(sup, talk=False, whisper_to=agent)
    at_a = rig.listen(rig.ra, [1, 2, 3])
    at_b = rig.listen(rig.rb, [1, 2, 3])
    rng = np.random.default_rng(12)
    for t in (1, 2, 3):
        rig.rb.channel(t).play(alaw_encode(rng.normal(0, 2500, 8000).astype(np.int16)))
    rig.run(1.1)
    rx = {t: alaw_decode(at_a(t)).astype(np.int32) for t in (1, 2, 3)}
    expect = {1: rx[2], 2: rx[1] + rx[3], 3: rx[1] + rx[2]}   # caller: agent only; agent: caller + supervisor
    for t, mix in expect.items():
        seg = alaw_encode(np.clip(mix, -32768, 32767).astype(np.int16))[2000:6000]
        got = at_b(t)
        L = find_offset(seg, got)
        assert L - 2000 in (160, 161, 162), (t, L)
        np.testing.assert_array_equal(got[L:L + len(seg)], seg)
    with pytest.raises(MediaError, match="whisper_to"):
        conf.add(rig.ra.channel(4), whisper_to=rig.ra.channel(9))
    # whisper ends when the supervisor barges in (re-added as a full member)
    conf.add(sup)
    assert lib.ctid_media_conf_whisper(rig.ra._m, 3, 3) == lib.CTID_ERR_ARG
    assert lib.ctid_media_conf_whisper(rig.ra._m, 9, 2) == lib.CTID_ERR_STATE    # not in a conference


def test_thirty_channels_recorded_at_once_each_its_own(rig, tmp_path):
    from ctid.dsp.wavfile import read_audio

    rng = np.random.default_rng(31)
    sent = {ts: rng.integers(0, 256, 4000 + 160 * i, dtype=np.uint8) for i, ts in enumerate(VOICE_TIMESLOTS)}
    res = {}
    for ts in VOICE_TIMESLOTS:
        rig.ra.channel(ts).record(str(tmp_path / f"{ts}.wav"), max_seconds=1.0, silence_seconds=None,
                                  beep=False).addCallback(lambda r, ts=ts: res.setdefault(ts, r))
        rig.rb.channel(ts).play(sent[ts])
    rig.run(1.2)
    assert sorted(res) == sorted(VOICE_TIMESLOTS)
    for ts, p in sent.items():
        data = read_audio(str(tmp_path / f"{ts}.wav")).data
        assert len(data) == 8000 and res[ts]["reason"] == "max"
        L = find_offset(p, data)
        n = min(len(p), 8000 - L)
        np.testing.assert_array_equal(data[L:L + n], p[:n])
        assert np.all(data[L + n:] == 0xD5)


def test_received_levels(rig):
    rig.rb.channel(4).tone(ToneDef("t", 1000, level_dbm0=-13.0, detect_ms=100))
    rig.run(0.2)
    lv = rig.ra.levels()
    assert lv.shape == (rig.a.nchannels,)
    assert abs(lv[4] - (-13.0)) < 0.5            # a sine at -13 dBm0 measured as -13 dBm0
    assert lv[5] < -60                            # A-law silence


def test_span_event_handlers_get_only_their_span(rig):
    from ctid.drivers import AbcdEvent
    from ctid.drivers.model import HookEvent, OverrunEvent
    everything, span0, span1 = [], [], []
    rt = rig.ra
    rt.add_event_handler(everything.append)
    rt.add_event_handler(span0.append, span=0)
    rt.add_event_handler(span1.append, span=1)
    a0, a1 = AbcdEvent(0, rt.board.board_id, 0, 5, 0b0101), AbcdEvent(0, rt.board.board_id, 1, 5, 0b1101)
    hook, over = HookEvent(0, rt.board.board_id, 0, True), OverrunEvent(0, rt.board.board_id, 3)
    for ev in (a0, a1, hook, over):
        rt._dispatch(ev)
    assert everything == [a0, a1, hook, over]
    assert span0 == [a0, over] and span1 == [a1, over]      # board-wide events reach every span's handlers
    rt.remove_event_handler(span1.append)
    rt._dispatch(a1)
    assert span1 == [a1, over] and everything[-1] is a1
    # a failing span handler is counted; the others still run
    rt.add_event_handler(lambda ev: 1 / 0, span=0)
    errors = rt.errors
    rt._dispatch(a0)
    assert rt.errors == errors + 1 and span0[-1] is a0
