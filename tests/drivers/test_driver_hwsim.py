"""The hwsim backend through the driver API (ctid.drivers): bad input gives DriverError (never a crash), audio is
bit-exact across a cable, ABCD changes arrive within two multiframes, HDLC under bit errors never delivers a bad
frame, a cut cable raises LOS and recovers, events are typed and none are lost silently.

Every expectation is derived from what the test sent. Standards: G.704 (E1 frame, CAS multiframe 5.1.3.2),
G.706 (frame alignment), G.775 (LOS), ISO 3309 / Q.703 (HDLC, FCS-16).
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwsim_build import SO, sub_env

from ctid.drivers import (
    VOICE_TIMESLOTS, AbcdEvent, Alarm, AlarmEvent, CableEvent, DriverError, FlashEvent, HdlcEvent, HookEvent,
    OverrunEvent, PolarityEvent, RingEvent, Signalling, SpanConfig, open_board,
)
from ctid.drivers.hwsim import World

N = 160
DOWN = Alarm.LOS | Alarm.LOF | Alarm.AIS


def pair(world, spans=1, plan=None, ports_a=(), settle=True):
    a = open_board("hwsim", 0, world=world, spans=spans, ports=list(ports_a), span_config=plan)
    b = open_board("hwsim", 1, world=world, spans=spans, span_config=plan)
    for s in range(spans):
        world.cable(0, s, 1, s)
    if settle:
        for _ in range(20):
            world.tick()
            if all(not sp.alarms for bd in (a, b) for sp in bd.spans):
                break
        assert all(not sp.alarms for bd in (a, b) for sp in bd.spans), [sp.alarms for bd in (a, b) for sp in bd.spans]
        a.events(), b.events()
    return a, b


def exchange(world, a, b, blocks_a, blocks_b, extra=2):
    """Write a list of blocks on each board, tick, and return everything each received (concatenated)."""
    got_a, got_b = [], []
    for k in range(len(blocks_a) + extra):
        if k < len(blocks_a):
            a.write_block(blocks_a[k])
            b.write_block(blocks_b[k])
        world.tick()
        got_a.append(a.read_block())
        got_b.append(b.read_block())
    return np.concatenate(got_a), np.concatenate(got_b)


def delay_of(sent_col, got_col):
    for L in range(2 * N):
        if np.array_equal(got_col[L:L + 64], sent_col[:64]):
            return L
    raise AssertionError("pattern not found in what was received")


# ---------------------------------------------------------------------------------------------- bad input

def test_unknown_board_id(world):
    world.create_board(0, 1)
    with pytest.raises(DriverError) as ei:
        open_board("hwsim", 42, world=world)
    assert "unknown board id 42" in str(ei.value) and "boards: 0" in str(ei.value)
    assert ei.value.call == "hwsim_board_open" and ei.value.detail
    with pytest.raises(DriverError, match="board id must be an integer"):
        open_board("hwsim", "0", world=world)
    with pytest.raises(DriverError, match="has 1 spans, not 2"):
        open_board("hwsim", 0, world=world, spans=2)


def test_timeslot_span_port_out_of_range(world):
    a, b = pair(world, settle=False, ports_a=["fxs"])
    cases = [
        (lambda: a.set_abcd(0, 32, 5), "hwsim_set_abcd", "timeslot 32"),
        (lambda: a.set_abcd(0, 16, 5), "hwsim_set_abcd", "timeslot 16"),
        (lambda: a.set_abcd(0, 0, 5), "hwsim_set_abcd", "timeslot 0"),
        (lambda: a.set_abcd(0, -1, 5), "hwsim_set_abcd", "timeslot -1"),
        (lambda: a.set_abcd(3, 1, 5), "hwsim_set_abcd", "span 3"),
        (lambda: a.set_abcd(0, 1, 16), "hwsim_set_abcd", "abcd 16"),
        (lambda: a.get_abcd(0, 99), "hwsim_get_abcd", "timeslot 99"),
        (lambda: a.hdlc_send(0, 16, b"x"), "hwsim_hdlc_send", "no HDLC controller"),   # TS16 is CAS here
        (lambda: a.hdlc_enable(0, 0, True), "hwsim_hdlc_enable", "timeslot 0"),
        (lambda: a.port_ring(1, True), "hwsim_port_ring", "port 1"),
        (lambda: a.port_hook(0, True), "hwsim_port_hook", "FXS"),                      # hook is for FXO ports
        (lambda: a.span_status(1), "hwsim_span_status", "span 1"),
        (lambda: a.connect(0, 1, 5), "hwsim_connect", "TS0"),
        (lambda: a.connect(5, 1, 500), "hwsim_connect", "channel 500"),
        (lambda: a.connect(5, 7, 5), "hwsim_connect", "board 7"),
    ]
    for fn, call, text in cases:
        with pytest.raises(DriverError) as ei:
            fn()
        assert ei.value.call == call, (call, str(ei.value))
        assert text in str(ei.value), (text, str(ei.value))
        assert ei.value.code < 0
    with pytest.raises(DriverError, match="out of range"):
        a.spans[0].timeslot(32)
    with pytest.raises(DriverError, match="not an analogue port"):
        a.spans[0].timeslot(1).ring()
    with pytest.raises(DriverError, match="no ABCD"):
        a.ports[0].set_abcd(1)
    with pytest.raises(DriverError, match="timeslot must be an integer"):
        a.set_abcd(0, "1", 3)
    with pytest.raises(DriverError):
        a.set_abcd(0, 2 ** 40, 3)                 # does not fit a C int: refused, not wrapped


def test_block_of_wrong_shape_dtype_size(world):
    a, _ = pair(world, settle=False)
    nch = a.nchannels
    good = a.new_block()
    a.write_block(good)
    for bad, text in [
        (np.zeros((N, nch - 1), np.uint8), "shape (160, 31)"),
        (np.zeros((N - 1, nch), np.uint8), "shape (159, 32)"),
        (np.zeros(N * nch, np.uint8), "shape (5120,)"),
        (np.zeros((N, nch), np.int16), "dtype int16"),
        (np.zeros((N, nch), np.float32), "dtype float32"),
        ([[0] * nch] * N, "not list"),
        (bytes(N * nch), "not bytes"),
    ]:
        with pytest.raises(DriverError) as ei:
            a.write_block(bad)
        assert text in str(ei.value), str(ei.value)
    # the SDK's own size check, reached with an unchecked buffer
    with pytest.raises(DriverError) as ei:
        a.write_raw(bytes(N * nch - 1))
    assert ei.value.call == "hwsim_write_block" and "expected exactly 5120" in str(ei.value)
    with pytest.raises(DriverError, match="writable C-contiguous uint8"):
        a.read_block(out=np.zeros((N, nch + 1), np.uint8))
    with pytest.raises(DriverError, match="writable C-contiguous uint8"):
        a.read_block(out=np.zeros((nch, N), np.uint8).T)
    # a non-contiguous but correct view is accepted (copied)
    big = np.zeros((N, 2 * nch), np.uint8)
    a.write_block(big[:, ::2])


def test_cable_to_missing_peer(world, tmp_path):
    world.create_board(0, 2)
    with pytest.raises(DriverError) as ei:
        world.cable(0, 0, 9, 0)
    assert ei.value.call == "hwsim_cable_connect" and "board 9" in str(ei.value)
    with pytest.raises(DriverError, match="span 5"):
        world.cable(0, 5, 0, 1)
    with pytest.raises(DriverError) as ei:
        world.cable_socket(0, 0, str(tmp_path / "nobody.sock"), listen=False)
    assert ei.value.call == "hwsim_cable_socket" and "no peer socket" in str(ei.value)
    with pytest.raises(DriverError) as ei:
        open_board("hwsim", 0, world=world, cable_socket={0: str(tmp_path / "nobody.sock")})
    assert "no peer socket" in str(ei.value)
    with pytest.raises(DriverError, match="has no cable"):
        world.cut(0, 1)


def test_closed_world_and_dead_board_raise(world):
    a, b = pair(world, settle=False)
    world.fault_dead(1, True)
    with pytest.raises(DriverError) as ei:
        b.read_block()
    assert ei.value.code == -11 and "does not answer" in str(ei.value)
    world.fault_dead(1, False)
    b.read_block()
    w2 = World(1)
    c = w2.open_board(0, spans=1)
    w2.close()
    for fn in (c.read_block, c.events, lambda: c.set_abcd(0, 1, 1), c.fileno, w2.tick):
        with pytest.raises(DriverError, match="closed"):
            fn()
    w2.close()   # twice is harmless


@pytest.mark.parametrize("seed", [1, 2])
def test_random_bad_calls_never_crash(seed):
    """Thousands of random calls with out-of-range ids, spans, timeslots, ports, sizes, NaN rates and a board
    that dies and comes back: each succeeds or raises DriverError; the process never crashes."""
    script = str(Path(__file__).with_name("fuzz_driver.py"))
    r = subprocess.run([sys.executable, script, str(seed), "4000"], env=sub_env(), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.startswith("ok ") and int(r.stdout.split()[1]) > 1000      # most calls were refused


# ---------------------------------------------------------------------------------------------- audio

def test_audio_bit_exact_across_cables(world):
    """Random octets (all 256 values) in every bearer timeslot of CAS, CCS+CRC-4 and clear-channel spans, both
    directions: what arrives is exactly what was sent, one fixed delay per span."""
    plan = [SpanConfig(False, "cas"), SpanConfig(True, "ccs"), SpanConfig(True, "clear")]
    a, b = pair(world, spans=3, plan=plan)
    rng = np.random.default_rng(11)
    nb = 5
    ta = [rng.integers(0, 256, a.block_shape, dtype=np.uint8) for _ in range(nb)]
    tb = [rng.integers(0, 256, b.block_shape, dtype=np.uint8) for _ in range(nb)]
    ga, gb = exchange(world, a, b, ta, tb)
    sa, sb = np.concatenate(ta), np.concatenate(tb)
    checked = 0
    for s, cfg in enumerate(plan):
        cols = [s * 32 + t for t in range(1, 32) if t != 16 or cfg.signalling == Signalling.CLEAR]
        assert len(cols) == (31 if cfg.signalling == Signalling.CLEAR else 30)
        for sent, got in ((sa, gb), (sb, ga)):
            L = delay_of(sent[:, cols[0]], got[:, cols[0]])
            assert L <= 2, L       # elastic store and cable: a frame or two, no block of latency
            np.testing.assert_array_equal(got[L:L + nb * N, cols], sent[:, cols])
            checked += len(cols)
    assert checked == 2 * (30 + 30 + 31)
    # TS0 is the framer's (FAS 0011011 in alternate frames, G.704 2.3.1), never the application's octets
    fas = ga[:, 0][(ga[:, 0] & 0x7F) == 0x1B]
    assert len(fas) >= nb * N // 2 - 2


def test_switching_between_boards(world):
    """H.100-style route: board 1 transmits on TS2 what it receives on TS1; board 0 gets its own TS1 back on
    TS2, bit-exact, one block later (the documented switching latency)."""
    a, b = pair(world)
    b.connect(2, 1, 1)
    rng = np.random.default_rng(5)
    ta = [rng.integers(0, 256, a.block_shape, dtype=np.uint8) for _ in range(4)]
    ga, _ = exchange(world, a, b, ta, [b.new_block()] * 4, extra=3)
    sent = np.concatenate(ta)[:, 1]
    L = delay_of(sent, ga[:, 2])
    assert N <= L <= N + 4, L
    np.testing.assert_array_equal(ga[L:L + 4 * N, 2], sent)
    b.disconnect(2)


# ---------------------------------------------------------------------------------------------- CAS

def cas_confirm_rows(ts16: np.ndarray, ts: int, value: int) -> tuple[int, int]:
    """Independent decode of the received CAS multiframe (G.704 5.1.3.2): MFAS 0000 in the high nibble of TS16
    in frame 0; frame n (1..15) carries channel n (TS n) in the high nibble and channel n+15 (TS n+16) in the
    low one. Returns (row of the MFAS, row where ``value`` is seen for ``ts`` in the second consecutive
    multiframe: when a receiver that confirms over two multiframes can report it)."""
    mfas = [i for i in range(len(ts16) - 16) if ts16[i] >> 4 == 0 and (ts16[i + 16] >> 4) == 0]
    m0 = mfas[0]
    n = ts if ts < 16 else ts - 16
    seen = 0
    for row in range(m0 + n, len(ts16), 16):
        nib = ts16[row] >> 4 if ts < 16 else ts16[row] & 15
        seen = seen + 1 if nib == value else 0
        if seen == 2:
            return m0, row
    raise AssertionError(f"TS{ts} never carried {value:04b} twice")


def test_abcd_change_within_two_multiframes(world):
    a, b = pair(world, spans=1, plan=[SpanConfig(False, "cas")])
    rng = np.random.default_rng(3)
    for rnd in range(3):
        prev = {ts: b.get_abcd(0, ts) for ts in VOICE_TIMESLOTS}
        want = {}
        for ts in VOICE_TIMESLOTS:
            v = int(rng.integers(1, 16))       # 0000 is not sent (it would imitate the MFAS, G.704 5.1.3.2)
            while v == prev[ts]:
                v = int(rng.integers(1, 16))
            want[ts] = v
            a.set_abcd(0, ts, v)
        t0 = world.time
        rows = []
        for _ in range(3):
            world.tick()
            rows.append(b.read_block()[:, 16].copy())
        ts16 = np.concatenate(rows)
        events = [e for e in b.events() if isinstance(e, AbcdEvent)]
        assert sorted((e.timeslot, e.abcd) for e in events) == sorted(want.items())   # one event per change
        for e in events:
            assert e.board_id == 1 and e.span == 0
            # measured from world time in the event: two multiframes are 2 x 16 frames
            assert 0 < e.t_frame - t0 <= 32, (e.timeslot, e.t_frame - t0)
            m0, confirm = cas_confirm_rows(ts16, e.timeslot, e.abcd)
            assert m0 <= 2                                    # the line delay: under two frames
            assert confirm <= m0 + 32                         # confirmed within the second multiframe
            # the event carries the 16-frame chunk in which the receiver saw the confirming frame
            assert e.t_frame - t0 <= confirm < e.t_frame - t0 + 16, (e.timeslot, confirm, e.t_frame - t0)
        assert all(b.get_abcd(0, ts) == v for ts, v in want.items())
        assert a.spans[0].timeslot(5).get_abcd() is not None


def test_abcd_0000_sent_as_0001(world):
    a, b = pair(world)
    a.set_abcd(0, 3, 0)
    world.tick(2)
    assert b.get_abcd(0, 3) == 0b0001       # G.704 5.1.3.2: 0000 is not used in frames 1..15


# ---------------------------------------------------------------------------------------------- HDLC

def test_hdlc_frames_exact_on_clean_link(world):
    a, b = pair(world, plan=[SpanConfig(True, "ccs")])
    rng = np.random.default_rng(8)
    frames = [b"\x7e", b"\x7d\x7e" * 50, b"\xff" * 280, bytes(rng.integers(0, 256, 279, dtype=np.uint8))]
    frames += [bytes(rng.integers(0, 256, int(rng.integers(1, 281)), dtype=np.uint8)) for _ in range(30)]
    for f in frames:
        a.spans[0].hdlc_send(f)
    got = []
    for _ in range(80):
        world.tick()
        got += [e for e in b.events() if isinstance(e, HdlcEvent)]
        if len(got) >= len(frames):
            break
    assert [e.frame for e in got] == frames
    assert all(e.span == 0 and e.timeslot == 16 and e.board_id == 1 for e in got)
    assert b.span_status(0).hdlc_good == len(frames) and b.span_status(0).hdlc_bad_fcs == 0
    with pytest.raises(DriverError, match="1..280"):
        a.hdlc_send(0, 16, bytes(281))
    with pytest.raises(DriverError, match="1..280"):
        a.hdlc_send(0, 16, b"")


def test_hdlc_under_bit_errors_never_delivers_a_bad_frame(world):
    """BER 1e-3 on what board 1 receives: each delivered frame must equal the sent frame with its sequence
    number (first two octets), in order; the others discarded by the FCS and counted; the survival rate close
    to (1 - ber) ** bits-per-frame (the rate that was asked for)."""
    a, b = pair(world, plan=[SpanConfig(False, "ccs")])
    rng = np.random.default_rng(21)
    ber = 1e-3
    frames = []
    for i in range(400):
        body = rng.integers(0, 256, int(rng.integers(10, 60)), dtype=np.uint8)
        body[rng.integers(0, len(body), 3)] = 0x7E                # flags inside the payload
        frames.append(i.to_bytes(2, "big") + bytes(body))
    st0 = b.span_status(0)
    world.fault_ber(1, 0, ber)
    got, pending = [], list(frames)
    for _ in range(400):
        while pending:
            try:
                a.hdlc_send(0, 16, pending[0])
            except DriverError as exc:
                assert exc.code == -8               # transmit queue full: try next tick
                break
            pending.pop(0)
        world.tick()
        got += [e.frame for e in b.events() if isinstance(e, HdlcEvent)]
        if not pending and len(got) and world.time > 0 and b.span_status(0).hdlc_good + b.span_status(0).hdlc_bad_fcs \
                >= st0.hdlc_good + len(frames) - 20:
            world.tick(2)
            got += [e.frame for e in b.events() if isinstance(e, HdlcEvent)]
            break
    st = b.span_status(0)
    world.fault_ber(1, 0, 0.0)
    seqs = [int.from_bytes(f[:2], "big") for f in got]
    bad = [f for f, s in zip(got, seqs) if s >= len(frames) or frames[s] != f]
    assert bad == [], f"{len(bad)} corrupted frames delivered as good"
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    lost = len(frames) - len(got)
    discarded = (st.hdlc_bad_fcs - st0.hdlc_bad_fcs) + (st.hdlc_aborts - st0.hdlc_aborts)
    assert st.bit_errors_injected > 0 and discarded > 0 and lost > 0
    # a frame survives if none of its bits (payload, FCS, closing flag, about 1/8 more for stuffing) is hit
    mean_bits = np.mean([(len(f) + 2) * 8 * 1.02 + 8 for f in frames])
    expect = len(frames) * (1 - ber) ** mean_bits
    assert 0.8 * expect <= len(got) <= 1.2 * expect, (len(got), expect)
    # the link carries on cleanly once the errors stop
    world.tick(2)
    b.events()
    for f in frames[:5]:
        a.hdlc_send(0, 16, f)
    world.tick(5)
    assert [e.frame for e in b.events() if isinstance(e, HdlcEvent)] == frames[:5]


def _hdlc_frames(world, board, blocks):
    got = []
    for _ in range(blocks):
        world.tick()
        got += [e.frame for e in board.events() if isinstance(e, HdlcEvent)]
    return got


def test_hdlc_filter_delivers_a_repeated_fisu_three_times_and_counts_the_rest(world):
    a, b = pair(world, plan=[SpanConfig(True, "ccs")])
    assert "hdlc-filter" in b.capabilities
    a.hdlc_idle_repeat(0, 16, True)
    b.hdlc_filter(0, 16, True)
    fisu, lssu, msu = b"\x81\x82\x00", b"\x81\x82\x01\x02", b"\x81\x82\x03\x83\x01\x02"
    st0 = b.span_status(0)
    a.hdlc_send(0, 16, fisu)
    got = _hdlc_frames(world, b, 50)                      # 1 s: about 1140 FISUs on the line
    st1 = b.span_status(0)
    assert got == [fisu] * 3
    good = st1.hdlc_good - st0.hdlc_good
    assert good > 1000 and st1.hdlc_filtered - st0.hdlc_filtered == good - 3
    # a different unit (an LSSU) passes, then its repeats are filtered; an MSU repeated is never filtered
    a.hdlc_send(0, 16, lssu)
    assert _hdlc_frames(world, b, 10) == [lssu] * 3
    a.hdlc_send(0, 16, msu)
    got = _hdlc_frames(world, b, 5)
    assert len(got) > 50 and set(got) == {msu}
    # a change of alarms starts the count again
    a.hdlc_send(0, 16, fisu)
    got = _hdlc_frames(world, b, 5)
    assert got[-3:] == [fisu] * 3 and set(got[:-3]) <= {msu}    # MSUs still on the line when it was queued
    world.cut(0, 0)
    world.tick(5)
    world.restore(0, 0)
    got, alarms = [], 0
    for _ in range(30):
        world.tick()
        for e in b.events():
            if isinstance(e, HdlcEvent):
                got.append(e.frame)
            elif isinstance(e, AlarmEvent):
                alarms += 1
    # delivered again after realignment: up to 3 per stretch between alarm changes (LOS, LOF, CRC-4, ... clear)
    assert alarms >= 1 and set(got) == {fisu} and 3 <= len(got) <= 3 * alarms, (alarms, len(got))
    # off: every unit is delivered
    b.hdlc_filter(0, 16, False)
    assert len(_hdlc_frames(world, b, 5)) > 100
    with pytest.raises(DriverError, match="no HDLC controller"):
        b.hdlc_filter(0, 5, True)


def test_hdlc_filter_is_off_by_default(world):
    a, b = pair(world, plan=[SpanConfig(True, "ccs")])
    a.hdlc_idle_repeat(0, 16, True)
    a.hdlc_send(0, 16, b"\x81\x82\x00")
    assert len(_hdlc_frames(world, b, 5)) > 100 and b.span_status(0).hdlc_filtered == 0


def test_hdlc_frames_survive_an_event_overrun(world):
    """More events than the board queue holds (1024) while HDLC frames wait: the driver reports the overrun
    and still hands over every frame (the SDK announces a link only when its queue becomes non-empty)."""
    a, b = pair(world, spans=2, plan=[SpanConfig(False, "cas"), SpanConfig(False, "ccs")])
    frames = [bytes([i]) * 20 for i in range(10)]

    def churn(k):                            # 30 ABCD changes per tick on span 0, never drained
        for ts in VOICE_TIMESLOTS:
            a.set_abcd(0, ts, 1 + (k + ts) % 15)
        world.tick()

    for k in range(40):                      # > 1024 events: the board queue is full
        churn(k)
    for f in frames:                         # the announcement of these frames is lost with the overflow
        a.hdlc_send(1, 16, f)
    for k in range(40, 45):
        churn(k)
    evs = b.events()
    assert any(isinstance(e, OverrunEvent) and e.lost > 0 for e in evs)
    assert [e.frame for e in evs if isinstance(e, HdlcEvent)] == frames


# ---------------------------------------------------------------------------------------------- alarms

def test_cut_cable_raises_los_and_restore_recovers(world):
    plan = [SpanConfig(True, "cas"), SpanConfig(False, "ccs")]
    a, b = pair(world, spans=2, plan=plan)
    t0 = world.time
    world.cut(0, 0)
    world.tick()
    ev = [e for e in b.events() if isinstance(e, (AlarmEvent, CableEvent))]
    los = [e for e in ev if isinstance(e, AlarmEvent) and e.span == 0 and e.alarms & Alarm.LOS]
    assert los, ev
    # G.775: LOS after at most 255 zeros (about one frame): reported in the first 16-frame chunk
    assert los[0].t_frame - t0 < 16
    assert [e.connected for e in ev if isinstance(e, CableEvent)] == [False]
    assert b.spans[0].alarms & Alarm.LOS and a.spans[0].alarms & Alarm.LOS
    assert not b.spans[1].alarms                          # the other span is untouched
    world.tick(10)
    assert b.spans[0].status().alarms & Alarm.LOS         # held while cut
    world.restore(0, 0)
    t1 = world.time
    for _ in range(25):
        world.tick()
        if not (a.spans[0].alarms or b.spans[0].alarms):
            break
    ev = [e for e in b.events() if isinstance(e, AlarmEvent) and e.span == 0]
    assert not a.spans[0].alarms and not b.spans[0].alarms, (a.spans[0].alarms, b.spans[0].alarms)
    assert ev and ev[-1].alarms == Alarm.NONE
    # G.706 4.1.2 frame alignment (three frames) and 4.2 CRC-4 multiframe (within 8 ms), plus the CAS
    # multiframe: recovered well within 100 ms of the restore
    assert ev[-1].t_frame - t1 <= 800
    # data flows bit-exact again on the restored span
    rng = np.random.default_rng(2)
    ta = [rng.integers(0, 256, a.block_shape, dtype=np.uint8) for _ in range(3)]
    _, gb = exchange(world, a, b, ta, [b.new_block()] * 3)
    sent = np.concatenate(ta)
    cols = [t for t in VOICE_TIMESLOTS]
    L = delay_of(sent[:, 1], gb[:, 1])
    np.testing.assert_array_equal(gb[L:L + 3 * N, cols], sent[:, cols])


def test_ais_raises_ais_far_and_rai_near(world):
    a, b = pair(world)
    world.fault_ais(1, 0, True)
    world.tick(3)
    assert b.spans[0].alarms & Alarm.AIS
    assert a.spans[0].alarms & Alarm.RAI                  # G.704: the far end reports its loss back
    world.fault_ais(1, 0, False)
    world.tick(10)
    assert not b.spans[0].alarms and not a.spans[0].alarms


# ---------------------------------------------------------------------------------------------- analogue events

def test_analogue_events_are_typed(world):
    world.create_board(0, 0, ["fxs", "fxo"])
    a = open_board("hwsim", 0, world=world)
    assert a.capabilities >= {"fxs", "fxo", "event-fd"} and "e1" not in a.capabilities
    fxs, fxo = a.ports
    assert (fxs.kind, fxo.kind) == ("fxs", "fxo") and fxs.number == 0 and fxo.number == 1
    phone, line = world.phone(0, 0), world.line(0, 1)
    fxs.ring(True)
    world.tick()
    assert phone.ringing and fxs.state().ringing
    phone.hook(True)
    world.tick()
    phone.flash(100)
    world.tick(8)
    line.ring("12345", None)
    world.tick(60)
    fxo.hook(True)
    world.tick()
    evs = a.events()
    hook = [e for e in evs if isinstance(e, HookEvent)]
    assert (hook[0].port, hook[0].offhook) == (0, True)
    assert [e.port for e in evs if isinstance(e, FlashEvent)] == [0]
    rings = [(e.port, e.on) for e in evs if isinstance(e, RingEvent)]
    assert rings == [(1, True), (1, False)]               # ring on, off after 1 s (China cadence)
    assert [(e.port, e.reversed) for e in evs if isinstance(e, PolarityEvent)] == [(1, True)]
    assert [(e.port, e.offhook) for e in hook[1:]] == [(1, True)]   # our own FXO hook, echoed
    assert not fxs.state().ringing                        # ring trip
    with pytest.raises(DriverError, match="is on hook|digit"):
        phone.dial("12x")


# ---------------------------------------------------------------------------------------------- loading

def test_library_found_without_importing_hwsim_and_from_env(tmp_path):
    code = ("import sys; import ctid.drivers.hwsim as h; p = h.find_library(); w = h.World(1); w.close(); "
            "print(p); print('hwsim' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], env=sub_env(), capture_output=True, text=True, timeout=60,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    path, imported = r.stdout.split()
    assert os.path.samefile(path, SO) and imported == "False"
    r = subprocess.run([sys.executable, "-c", code], env=sub_env(HWSIM_LIBRARY=str(SO)), capture_output=True,
                       text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.split()[0] == str(SO)
    r = subprocess.run([sys.executable, "-c", code], env=sub_env(HWSIM_LIBRARY=str(tmp_path / "nope.so")),
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode != 0 and "DriverError" in r.stderr and "nope.so: no such file" in r.stderr


def test_abcd_forgotten_without_multiframe_alignment(world):
    """G.704 5.1.3: without CAS multiframe alignment the ABCD bits mean nothing. While it is lost get_abcd()
    knows no value and no AbcdEvent comes; once aligned again every timeslot's value is delivered once, after
    the AlarmEvent that clears LOMF, even the values that did not change across the loss."""
    a, b = pair(world, spans=1, plan=[SpanConfig(False, "cas")])
    sent = {ts: (0b0011 if ts % 2 else 0b1111) for ts in VOICE_TIMESLOTS}
    for ts, v in sent.items():
        a.set_abcd(0, ts, v)
    world.tick(2)
    assert {ts: b.get_abcd(0, ts) for ts in VOICE_TIMESLOTS} == sent
    b.events()
    world.cut(0, 0)
    world.tick(2)
    assert b.spans[0].alarms & Alarm.LOMF
    assert all(b.get_abcd(0, ts) is None for ts in VOICE_TIMESLOTS)
    world.restore(0, 0)
    evs = []
    for _ in range(25):
        world.tick()
        evs += b.events()
        if not b.spans[0].alarms & Alarm.LOMF and all(b.get_abcd(0, ts) is not None for ts in VOICE_TIMESLOTS):
            world.tick()
            evs += b.events()
            break
    lomf_clear = [i for i, e in enumerate(evs) if isinstance(e, AlarmEvent) and not e.alarms & Alarm.LOMF]
    abcd = [(i, e) for i, e in enumerate(evs) if isinstance(e, AbcdEvent)]
    assert lomf_clear and abcd
    assert all(i > lomf_clear[0] for i, _ in abcd)                       # nothing before alignment
    assert sorted((e.timeslot, e.abcd) for _, e in abcd) == sorted(sent.items())   # each value once
    # AIS towards b (G.775: unframed all ones): all ones in TS16 too, but no alignment: not ABCD 1111
    b.events()
    world.fault_ais(1, 0, True)
    world.tick(2)
    assert b.spans[0].alarms & Alarm.LOMF and all(b.get_abcd(0, ts) is None for ts in VOICE_TIMESLOTS)
    assert not [e for e in b.events() if isinstance(e, AbcdEvent)]       # AIS (1111 everywhere) is not ABCD
