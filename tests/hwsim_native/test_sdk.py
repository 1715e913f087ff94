"""The hwsim SDK (hwsim/libhwsim.so) through cffi in ABI mode, exactly as ctid/drivers/hwsim.py uses it.

Every expectation is derived from what the test itself sent (voice patterns, ABCD values, HDLC payloads, ring
and caller-ID parameters, injected fault rates), never from a recorded output of the library.
Standards cited: G.704 (E1 frame), G.706 (frame alignment), G.732 (CAS), G.775 (LOS/AIS), G.822 (controlled
slips), Q.703 / ISO 3309 (HDLC, FCS-16), Telcordia GR-30 / YDN 069 (caller ID), Q.24 (DTMF frequencies).
"""
import base64
import datetime
import glob
import json
import os
import re
import select
import socket
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cffi
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
HEADER = ROOT / "native" / "hwsim" / "hwsim_sdk.h"
SO = ROOT / "hwsim" / "libhwsim.so"
DSP_SOURCES = ["g711.c", "dtmf_tx.c", "fsk_tx.c", "tone_gen.c", "internal.h", "include/ctid_dsp.h"]

N = 160          # frames per block (20 ms)
CAS, CCS, CLEAR = 1, 2, 3
FXS, FXO = 1, 2
LOS, LOF, AIS, RAI = 1, 2, 4, 8
EV_ALARM, EV_ABCD, EV_HDLC, EV_HOOK, EV_RING, EV_POLARITY, EV_FLASH, EV_CABLE, EV_OVERRUN = range(1, 10)
VOICE_TS = [t for t in range(1, 32) if t != 16]


# ---------------------------------------------------------------------------------------------- loading

def _stale():
    if not SO.exists():
        return True
    srcs = glob.glob(str(ROOT / "native" / "hwsim" / "*.[ch]")) + [str(ROOT / "native" / s) for s in DSP_SOURCES]
    built = SO.stat().st_mtime
    return any(os.path.getmtime(s) > built for s in srcs if os.path.exists(s))


_HW = None


def load():
    """Build hwsim/libhwsim.so with the setup.py step if it is missing or stale, then dlopen it."""
    global _HW
    if _HW is None:
        if _stale():
            r = subprocess.run([sys.executable, "setup.py", "-q", "build_hwsim", "--inplace"], cwd=ROOT,
                               capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr
        ffi = cffi.FFI()
        ffi.cdef(re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S))
        _HW = ffi, ffi.dlopen(str(SO))
    return _HW


ffi, lib = load()


class HwsimError(Exception):
    def __init__(self, code, msg):
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def last_error():
    return ffi.string(lib.hwsim_last_error()).decode()


def check(rc):
    if rc < 0:
        raise HwsimError(rc, last_error())
    return rc


class World:
    def __init__(self, seed=1):
        self.w = lib.hwsim_world_new(seed)
        assert self.w != ffi.NULL
        self.boards = {}

    def close(self):
        if self.w is not None:
            lib.hwsim_world_free(self.w)
            self.w = None

    def board(self, bid, nspans=0, ports=(), start=True):
        kinds = ffi.new("int[]", list(ports)) if ports else ffi.NULL
        check(lib.hwsim_board_create(self.w, bid, nspans, len(ports), kinds))
        b = Board(self, bid, nspans, len(ports))
        if start:
            check(lib.hwsim_board_start(b.b))
        self.boards[bid] = b
        return b

    def cable(self, a, sa, b, sb):
        check(lib.hwsim_cable_connect(self.w, a, sa, b, sb))

    def tick(self, n=1):
        check(lib.hwsim_world_tick(self.w, n))

    @property
    def time(self):
        return lib.hwsim_world_time(self.w)


class Board:
    def __init__(self, world, bid, nspans, nports):
        self.world = world
        self.id = bid
        self.b = lib.hwsim_board_open(world.w, bid)
        assert self.b != ffi.NULL
        self.nspans = nspans
        self.nports = nports
        self.nch = check(lib.hwsim_board_nchannels(self.b))

    def port_ch(self, p):
        return self.nspans * 32 + p

    def read(self):
        buf = np.empty((N, self.nch), np.uint8)
        check(lib.hwsim_read_block(self.b, ffi.from_buffer("uint8_t[]", buf), buf.size))
        return buf

    def write(self, blk):
        blk = np.ascontiguousarray(blk, np.uint8)
        check(lib.hwsim_write_block(self.b, ffi.from_buffer("uint8_t[]", blk), blk.size))

    def events(self):
        ev = ffi.new("hwsim_event_t *")
        out = []
        while check(lib.hwsim_get_event(self.b, ev)) == 1:
            assert ev.board_id == self.id
            out.append((ev.t_frame, ev.type, ev.span, ev.channel, ev.value))
        return out

    def configure(self, span, crc4=0, ts16=CAS):
        cfg = ffi.new("hwsim_span_config_t *", {"crc4": crc4, "ts16": ts16})
        check(lib.hwsim_span_configure(self.b, span, cfg))

    def status(self, span):
        st = ffi.new("hwsim_span_status_t *")
        check(lib.hwsim_span_status(self.b, span, st))
        return {k: getattr(st, k) for k in ("alarms", "crc_errors", "fas_errors", "slips", "hdlc_good", "hdlc_bad_fcs",
                                            "hdlc_aborts", "bit_errors_injected")}

    def send(self, span, ts, frame):
        return lib.hwsim_hdlc_send(self.b, span, ts, frame, len(frame))

    def recv_all(self, span, ts):
        buf = ffi.new("uint8_t[300]")
        out = []
        while True:
            n = lib.hwsim_hdlc_recv(self.b, span, ts, buf, 300)
            if n == lib.HWSIM_ERR_AGAIN:
                return out
            out.append(bytes(ffi.buffer(buf, check(n))))


@pytest.fixture
def world():
    made = []

    def make(seed=1):
        w = World(seed)
        made.append(w)
        return w

    yield make
    for w in made:
        w.close()


# ---------------------------------------------------------------------------------------------- signal helpers

def _alaw_table():
    # G.711 A-law expansion (even-bit inversion, 3-bit segment, 4-bit mantissa), int16 scale.
    t = np.zeros(256, np.int32)
    for c in range(256):
        ix = c ^ 0x55
        e, m = (ix & 0x70) >> 4, ix & 0x0F
        if e > 0:
            m += 16
        m = (m << 4) + 8
        if e > 1:
            m <<= e - 1
        t[c] = m if ix > 127 else -m
    return t


ALAW = _alaw_table()
_ORDER = np.argsort(ALAW)


def alaw_decode(b):
    return ALAW[np.asarray(b, np.uint8)].astype(np.float64)


def alaw_encode(x):
    """Nearest A-law code for each sample (good enough to make test signals)."""
    s = ALAW[_ORDER]
    x = np.clip(np.asarray(x, np.float64), s[0], s[-1])
    i = np.clip(np.searchsorted(s, x), 1, 255)
    i = np.where(np.abs(s[i - 1] - x) <= np.abs(s[i] - x), i - 1, i)
    return _ORDER[i].astype(np.uint8)


def goertzel_power(x, f, fs=8000.0, window=False):
    """Power of the component at f (mean square of a sine at f: peak^2 / 2). With window, Hann-weighted
    (and renormalised) so that neighbouring frequencies leak far less."""
    n = np.arange(len(x))
    w = np.hanning(len(x)) if window else np.ones(len(x))
    return np.abs(np.sum(w * x * np.exp(-2j * np.pi * f * n / fs))) ** 2 * 2 / np.sum(w) ** 2


def band_share(x, lo, hi, fs=8000.0):
    """Share of the energy of x between lo and hi Hz."""
    p = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fs)
    return p[(f >= lo) & (f <= hi)].sum() / p.sum()


P0 = 22827.0 ** 2 / 2     # mean-square power of a 0 dBm0 sine (A-law: 0 dBm0 peak 22827, ctid_dsp.h)


def dbm0(power):
    return 10 * np.log10(max(power, 1e-12) / P0)


def patterns(seed, nchan, nframes):
    return np.random.default_rng(seed).integers(0, 256, size=(nframes, nchan), dtype=np.uint8)


def find_lag(rx, tx, max_lag=4 * N, min_lag=0):
    """Frame lag d (min_lag <= d < max_lag) with rx[k] == tx[k - d] over the whole window, or None."""
    for d in range(min_lag, max_lag):
        if d >= 0:
            if d + 8 <= len(rx) and np.array_equal(rx[d:], tx[:len(rx) - d]):
                return d
        elif np.array_equal(rx[:len(rx) + d], tx[-d:len(rx)]):
            return d
    return None


def run_voice(W, boards, nticks, seed=3):
    """Every board writes its own random pattern in every channel, block after block; returns (sent, received)
    per board as (nticks*N, nch) arrays."""
    sent = {b.id: patterns(seed * 1000 + b.id, b.nch, nticks * N) for b in boards}
    got = {b.id: np.empty((nticks * N, b.nch), np.uint8) for b in boards}
    for k in range(nticks):
        for b in boards:
            b.write(sent[b.id][k * N:(k + 1) * N])
        W.tick()
        for b in boards:
            got[b.id][k * N:(k + 1) * N] = b.read()
    return sent, got


def span_lag(rx, tx, span, timeslots, warm, min_lag=0):
    lags = set()
    for ts in timeslots:
        c = span * 32 + ts
        d = find_lag(rx[warm:, c], tx[warm:, c], min_lag=min_lag)
        assert d is not None, f"span {span} TS{ts}: received stream is not the sent one, delayed"
        lags.add(d)
    assert len(lags) == 1, f"span {span}: timeslots arrive with different delays {lags}"
    return lags.pop()


# ---------------------------------------------------------------------------------------------- API shape

def test_every_declared_function_is_exported():
    names = set(re.findall(r"\b(hwsim_\w+)\s*\(", re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)))
    assert len(names) > 40
    for n in sorted(names):
        getattr(lib, n)   # AttributeError if the .so lacks it
    # Nothing but the SDK is exported (the line layer and DSP generators are private to the library).
    nm = shutil.which("nm")
    if nm:
        out = subprocess.run([nm, "-D", "--defined-only", str(SO)], capture_output=True, text=True).stdout
        exported = {ln.split()[-1] for ln in out.splitlines() if ln.strip()}
        assert exported == names


def test_board_info_and_channels(world):
    W = world(5)
    b = W.board(4, 2, [FXS, FXO, FXS])
    info = ffi.new("hwsim_board_info_t *")
    check(lib.hwsim_board_info(b.b, info))
    assert (info.board_id, info.nspans, info.nports) == (4, 2, 3)
    assert list(info.port_kind[0:3]) == [FXS, FXO, FXS]
    assert ffi.string(info.serial)
    assert b.nch == 2 * 32 + 3
    # Before any cable: no signal -> LOS on every span, all-ones (AIS downstream) in the read block.
    W.tick(2)
    assert b.status(0)["alarms"] & LOS and b.status(1)["alarms"] & LOS
    assert (b.read()[:, :64] == 0xFF).all()


# ---------------------------------------------------------------------------------------------- E1 voice

@pytest.mark.parametrize("cfg", [((0, CAS), (1, CAS)), ((1, CCS), (0, CLEAR))], ids=["cas", "ccs-clear"])
def test_voice_bit_exact_two_boards_two_spans(world, cfg):
    W = world(7)
    A, B = W.board(1, 2), W.board(2, 2)
    for s, (crc4, ts16) in enumerate(cfg):
        A.configure(s, crc4, ts16)
        B.configure(s, crc4, ts16)
        W.cable(1, s, 2, s)
    nt, warm = 30, 8 * N
    sent, got = run_voice(W, [A, B], nt)
    for rx_b, tx_b in ((B, A), (A, B)):
        for s, (crc4, ts16) in enumerate(cfg):
            tss = VOICE_TS + ([16] if ts16 == CLEAR else [])
            d = span_lag(got[rx_b.id], sent[tx_b.id], s, tss, warm)
            assert d < 2 * N
            # TS0 as on the wire: FAS x0011011 in alternate frames (G.704 2.3.1).
            ts0 = got[rx_b.id][warm:, s * 32]
            fas = (ts0 & 0x7F) == 0x1B
            assert fas[0::2].all() != fas[1::2].all() and (fas[0::2].all() or fas[1::2].all())
            st = rx_b.status(s)
            assert st["alarms"] == 0, st
            if crc4:
                assert st["crc_errors"] == 0


def test_switching_within_a_board_uses_the_rx_of_a_timeslot(world):
    """A timeslot switched to another's received signal: B loops TS5 back on TS7 towards A."""
    W = world(8)
    A, B = W.board(1, 1), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    check(lib.hwsim_connect(B.b, 7, 2, 5))
    nt, warm = 25, 6 * N
    sent, got = run_voice(W, [A, B], nt)
    d_ab = span_lag(got[2], sent[1], 0, [9], warm)
    d_ba = span_lag(got[1], sent[2], 0, [9], warm)
    # A's TS5 -> cable -> B rx TS5 -> switched (one block) -> B tx TS7 -> cable -> A rx TS7.
    d = find_lag(got[1][warm:, 7], sent[1][warm:, 5])
    assert d == d_ab + N + d_ba
    # Disconnect: TS7 carries B's own written pattern again.
    check(lib.hwsim_connect(B.b, 7, -1, 0))
    sent2, got2 = run_voice(W, [A, B], 10, seed=4)
    assert find_lag(got2[1][3 * N:, 7], sent2[2][3 * N:, 7]) == d_ba


# ---------------------------------------------------------------------------------------------- CAS

def test_abcd_round_trip_and_latency(world):
    W = world(9)
    A, B = W.board(1, 1), W.board(2, 1)
    assert lib.hwsim_get_abcd(B.b, 0, 1) == lib.HWSIM_ERR_AGAIN      # nothing received yet
    W.cable(1, 0, 2, 0)
    # Never 0000 on channels 1-15 (G.732 5.1.3.2: it would imitate the multiframe alignment signal).
    va = {t: 1 + (t * 7) % 15 for t in VOICE_TS}
    vb = {t: 1 + (t * 11 + 3) % 15 for t in VOICE_TS}
    for t in VOICE_TS:
        check(lib.hwsim_set_abcd(A.b, 0, t, va[t]))
        check(lib.hwsim_set_abcd(B.b, 0, t, vb[t]))
    W.tick(10)
    for t in VOICE_TS:
        assert lib.hwsim_get_abcd(B.b, 0, t) == va[t]
        assert lib.hwsim_get_abcd(A.b, 0, t) == vb[t]
    last = {}
    for ev in B.events():
        if ev[1] == EV_ABCD:
            last[ev[3]] = ev[4]
    assert all(last[t] == va[t] for t in VOICE_TS if va[t] != 0xD)   # events for every change from idle
    # One change: it reaches the far side within two multiframes (2 x 16 frames) plus the line delay, as
    # the issue asks (the new nibble goes out in the channel's frame of the next multiframe, and a receiver
    # confirming it over two multiframes declares it one multiframe later).
    for t, new in ((3, 0x5), (20, 0x9)):
        A.events()
        B.events()
        t_set = W.time
        check(lib.hwsim_set_abcd(A.b, 0, t, new))
        W.tick(1)
        evs = [e for e in B.events() if e[1] == EV_ABCD]
        assert [(e[3], e[4]) for e in evs] == [(t, new)]
        # Event times are the start of the multiframe-long chunk (16 frames) the receiver found it in.
        assert 16 <= evs[0][0] - t_set <= 2 * 16 + 2
        assert lib.hwsim_get_abcd(B.b, 0, t) == new


# ---------------------------------------------------------------------------------------------- HDLC

def special_frames():
    # Flag and escape patterns and long runs of ones exercise zero-bit insertion (ISO 3309 / Q.703).
    return [b"\x7e" * 10, b"\x7d" * 10, b"\xff" * 40, bytes(range(256))[:272], b"\x7e\x7d" * 136, b"\x00",
            b"\x3f\x7e\xfc\x1f\xf8"]


def random_frames(rng, n, lo=1, hi=120):
    return [rng.integers(0, 256, size=int(rng.integers(lo, hi + 1)), dtype=np.uint8).tobytes() for _ in range(n)]


def pump_hdlc(W, links, max_ticks=400):
    """links: list of (tx_board, span, ts, frames, rx_board). Sends as the queues allow, receives everything;
    returns the received lists."""
    pos = [0] * len(links)
    got = [[] for _ in links]
    for _ in range(max_ticks):
        for i, (tx, s, t, frames, rx) in enumerate(links):
            while pos[i] < len(frames):
                rc = tx.send(s, t, frames[pos[i]])
                if rc == lib.HWSIM_ERR_AGAIN:
                    break
                check(rc)
                pos[i] += 1
        W.tick()
        for i, (tx, s, t, frames, rx) in enumerate(links):
            got[i] += rx.recv_all(s, t)
        if all(len(g) >= len(l[3]) for g, l in zip(got, links)):
            W.tick(2)
            for i, (tx, s, t, frames, rx) in enumerate(links):
                got[i] += rx.recv_all(s, t)
            break
    return got


def test_hdlc_random_frames_both_directions(world):
    W = world(11)
    A, B = W.board(1, 2), W.board(2, 2)
    for s in (0, 1):
        W.cable(1, s, 2, s)
    A.configure(1, 1, CCS)
    B.configure(1, 1, CCS)
    for b in (A, B):   # HDLC on a bearer timeslot of a CAS span too
        check(lib.hwsim_hdlc_enable(b.b, 0, 5, 1))
    W.tick(5)
    rng = np.random.default_rng(12)
    fa = special_frames() + random_frames(rng, 40)
    fb = random_frames(rng, 40) + special_frames()
    fc = random_frames(rng, 25)
    got = pump_hdlc(W, [(A, 1, 16, fa, B), (B, 1, 16, fb, A), (B, 0, 5, fc, A)])
    assert got[0] == fa
    assert got[1] == fb
    assert got[2] == fc
    assert B.status(1)["hdlc_good"] == len(fa) and B.status(1)["hdlc_bad_fcs"] == 0
    assert A.status(0)["hdlc_good"] == len(fc)
    hd = [e for e in B.events() if e[1] == EV_HDLC]
    assert hd and all((e[2], e[3]) == (1, 16) for e in hd)
    # Bad calls on the link.
    assert A.send(1, 16, b"") == lib.HWSIM_ERR_SIZE
    assert A.send(1, 16, b"x" * 281) == lib.HWSIM_ERR_SIZE
    assert A.send(0, 6, b"x") == lib.HWSIM_ERR_STATE and "no HDLC" in last_error()
    small = ffi.new("uint8_t[4]")
    A.send(1, 16, b"0123456789")
    W.tick(2)
    assert lib.hwsim_hdlc_recv(B.b, 1, 16, small, 4) == lib.HWSIM_ERR_SIZE   # stays queued
    assert B.recv_all(1, 16) == [b"0123456789"]


def test_hdlc_transmit_queue_is_bounded():
    W = World(1)
    try:
        A = W.board(1, 1)
        A.configure(0, 0, CCS)
        rcs = [A.send(0, 16, b"abc") for _ in range(100)]
        assert rcs.count(0) == 64 and set(rcs[64:]) == {lib.HWSIM_ERR_AGAIN}
        assert "queue full" in last_error()
    finally:
        W.close()


def test_hdlc_idle_repetition(world):
    W = world(13)
    A, B = W.board(1, 1), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    A.configure(0, 0, CCS)
    B.configure(0, 0, CCS)
    W.tick(4)
    B.recv_all(0, 16)
    fisu = b"\x81\x80\x00"            # MTP2 FISU: BSN/BIB, FSN/FIB, LI = 0
    check(lib.hwsim_hdlc_idle_repeat(A.b, 0, 16, 1))
    check(A.send(0, 16, fisu))
    W.tick(5)
    got = B.recv_all(0, 16)
    # 5 blocks x 160 octets; a repeated FISU takes 6 octets (3 + FCS 2 + one flag) plus stuffing.
    assert len(got) > 100 and set(got) == {fisu}
    msu = b"\x81\x81\x05\x83hello"
    check(A.send(0, 16, msu))
    W.tick(3)
    got = B.recv_all(0, 16)
    assert msu in got and got[-1] == msu and got.index(msu) <= 2 and set(got[got.index(msu):]) == {msu}
    check(lib.hwsim_hdlc_idle_repeat(A.b, 0, 16, 0))
    W.tick(2)
    B.recv_all(0, 16)
    W.tick(3)
    assert B.recv_all(0, 16) == []    # flags only


def test_ber_corrupted_frames_are_never_delivered(world):
    W = world(21)
    A, B = W.board(1, 1), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    A.configure(0, 1, CCS)
    B.configure(0, 1, CCS)
    W.tick(5)
    ber = 1e-3
    check(lib.hwsim_fault_ber(W.w, 2, 0, ber))
    rng = np.random.default_rng(22)
    frames = [struct.pack(">I", i) + f for i, f in enumerate(random_frames(rng, 300, 16, 60))]
    t0 = W.time
    got = pump_hdlc(W, [(A, 0, 16, frames, B)], max_ticks=120)[0]
    bits = (W.time - t0) * 256
    st = B.status(0)
    # Every delivered frame is exactly one that was sent (FCS-16 rejects the corrupted ones, Q.703 4.2).
    assert all(frames[struct.unpack(">I", g[:4])[0]] == g for g in got if len(g) >= 4)
    assert all(len(g) >= 4 for g in got)
    assert st["hdlc_good"] == len(got)
    assert st["hdlc_bad_fcs"] + st["hdlc_aborts"] > 10
    assert len(got) < len(frames)
    # The injected errors follow the rate: binomial count within 5 sigma.
    mean = bits * ber
    assert abs(st["bit_errors_injected"] - mean) < 5 * np.sqrt(mean), (st["bit_errors_injected"], mean)
    check(lib.hwsim_fault_ber(W.w, 2, 0, 0.0))
    more = [b"after-%d" % i for i in range(10)]
    assert pump_hdlc(W, [(A, 0, 16, more, B)])[0] == more


# ---------------------------------------------------------------------------------------------- alarms

def test_cut_cable_los_and_recovery(world):
    W = world(31)
    A, B = W.board(1, 1), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    W.tick(6)
    assert A.status(0)["alarms"] == 0 and B.status(0)["alarms"] == 0
    A.events()
    B.events()
    check(lib.hwsim_cable_cut(W.w, 1, 0, 1))
    W.tick(3)
    for b in (A, B):
        evs = b.events()
        assert (EV_CABLE, 0, -1, 0) in [e[1:] for e in evs]
        alarms = [e[4] for e in evs if e[1] == EV_ALARM]
        assert alarms and alarms[-1] & LOS and alarms[-1] & LOF
        assert b.status(0)["alarms"] & LOS
        assert (b.read()[:, :32] == 0xFF).all()     # AIS downstream while out of alignment
    check(lib.hwsim_cable_cut(W.w, 2, 0, 0))
    W.tick(6)
    for b in (A, B):
        evs = b.events()
        assert (EV_CABLE, 0, -1, 1) in [e[1:] for e in evs]
        assert [e[4] for e in evs if e[1] == EV_ALARM][-1] == 0
        assert b.status(0)["alarms"] == 0
    sent, got = run_voice(W, [A, B], 12)
    span_lag(got[2], sent[1], 0, VOICE_TS, 4 * N)
    span_lag(got[1], sent[2], 0, VOICE_TS, 4 * N)
    assert lib.hwsim_cable_cut(W.w, 1, 0, 1) == 0
    assert lib.hwsim_cable_cut(W.w, 1, 5, 1) == lib.HWSIM_ERR_SPAN


def test_ais_fault_and_remote_alarm(world):
    W = world(32)
    A, B = W.board(1, 1), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    W.tick(6)
    check(lib.hwsim_fault_ais(W.w, 2, 0, 1))
    W.tick(4)
    # B receives unframed all ones: AIS (G.775) and no frame alignment; it answers with RAI (G.704 A bit).
    assert B.status(0)["alarms"] & AIS
    assert B.status(0)["alarms"] & LOF
    assert A.status(0)["alarms"] == RAI
    assert any(e[1] == EV_ALARM and e[4] & RAI for e in A.events())
    check(lib.hwsim_fault_ais(W.w, 2, 0, 0))
    W.tick(6)
    assert A.status(0)["alarms"] == 0 and B.status(0)["alarms"] == 0


def test_dead_board(world):
    W = world(33)
    A, B = W.board(1, 1, [FXS]), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    W.tick(6)
    check(lib.hwsim_fault_dead(W.w, 1, 1))
    buf = ffi.new("uint8_t[]", N * A.nch)
    assert lib.hwsim_read_block(A.b, buf, N * A.nch) == lib.HWSIM_ERR_DEAD
    assert "does not answer" in last_error()
    assert lib.hwsim_get_event(A.b, ffi.new("hwsim_event_t *")) == lib.HWSIM_ERR_DEAD
    assert lib.hwsim_board_start(A.b) == lib.HWSIM_ERR_DEAD
    assert lib.hwsim_port_state(A.b, 0) == lib.HWSIM_ERR_DEAD
    W.tick(3)
    assert B.status(0)["alarms"] & LOS      # it transmits nothing
    check(lib.hwsim_fault_dead(W.w, 1, 0))
    W.tick(6)
    assert A.status(0)["alarms"] == 0 and B.status(0)["alarms"] == 0


def test_controlled_slips_repeat_or_delete_whole_frames(world):
    W = world(34)
    A, B = W.board(1, 1), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    W.tick(6)
    check(lib.hwsim_fault_slips(W.w, 2, 0, 600.0))   # 10 per second
    B.events()
    nt = 100
    # Counter pattern: TS t carries (frame index + 11 t) mod 256, so each received octet says which frame it was.
    idx = np.arange(nt * N)
    lag = []
    for k in range(nt):
        if k == 1:
            s0 = B.status(0)["slips"]
        blk = np.full((N, 32), 0xD5, np.uint8)
        for t in VOICE_TS:
            blk[:, t] = (idx[k * N:(k + 1) * N] + 11 * t) & 0xFF
        A.write(blk)
        W.tick()
        rx = B.read()
        if k == 0:
            continue        # may still hold the last idle frame sent before the pattern started
        frame_no = [(rx[:, t].astype(int) - 11 * t) & 0xFF for t in VOICE_TS]
        assert all(np.array_equal(frame_no[0], f) for f in frame_no)   # a slip moves all timeslots together
        lag += list((idx[k * N:(k + 1) * N] - frame_no[0]) & 0xFF)
    lag = np.array(lag)
    steps = np.diff(lag)
    assert set(np.unique(steps)) <= {-1, 0, 1}
    slips = B.status(0)["slips"] - s0
    assert np.count_nonzero(steps) == slips
    assert 5 <= slips <= 45                        # Poisson, mean 20 in 2 s
    assert not any(e[1] == EV_ALARM for e in B.events())   # controlled slips keep frame alignment


def test_noise_and_attenuation_on_a_channel(world):
    W = world(35)
    A, B = W.board(1, 1), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    W.tick(6)
    att = 20 * np.log10(2)                 # half the amplitude
    check(lib.hwsim_fault_channel(W.w, 2, 3, -200.0, att))
    check(lib.hwsim_fault_channel(W.w, 2, 4, -30.0, 0.0))
    n = np.arange(20 * N)
    x = 10000 * np.sin(2 * np.pi * 1000 * n / 8000)
    codes = alaw_encode(x)
    rx3, rx4 = [], []
    for k in range(20):
        blk = np.full((N, 32), 0xD5, np.uint8)
        blk[:, 3] = codes[k * N:(k + 1) * N]
        A.write(blk)
        W.tick()
        r = B.read()
        rx3.append(r[:, 3])
        rx4.append(r[:, 4])
    rx3 = alaw_decode(np.concatenate(rx3))[2 * N:]
    sent3 = alaw_decode(codes)
    p_in = np.mean(sent3 ** 2)
    p_out = np.mean(rx3 ** 2)
    assert abs(10 * np.log10(p_in / p_out) - att) < 0.3
    noise = alaw_decode(np.concatenate(rx4))[2 * N:]
    assert abs(dbm0(np.mean(noise ** 2)) - (-30.0)) < 1.0
    assert lib.hwsim_fault_channel(W.w, 2, 0, -30.0, 0) == lib.HWSIM_ERR_CHANNEL
    assert lib.hwsim_fault_channel(W.w, 2, 99, -30.0, 0) == lib.HWSIM_ERR_CHANNEL
    assert lib.hwsim_fault_channel(W.w, 2, 3, 10.0, 0) == lib.HWSIM_ERR_ARG


def test_determinism_from_the_seed():
    def run(seed):
        W = World(seed)
        try:
            A, B = W.board(1, 1), W.board(2, 1)
            W.cable(1, 0, 2, 0)
            check(lib.hwsim_fault_ber(W.w, 2, 0, 1e-3))
            check(lib.hwsim_fault_channel(W.w, 2, 4, -40.0, 3.0))
            _, got = run_voice(W, [A, B], 8)
            return got[2], B.status(0)["bit_errors_injected"]
        finally:
            W.close()
    a, ea = run(99)
    b, eb = run(99)
    c, _ = run(100)
    assert ea == eb and np.array_equal(a, b)
    assert not np.array_equal(a, c)


# ---------------------------------------------------------------------------------------------- events

def _readable(fd):
    return bool(select.select([fd], [], [], 0)[0])


def test_eventfd_readable_only_while_events_pending(world):
    W = world(41)
    b = W.board(1, 0, [FXS])
    fd = check(lib.hwsim_event_fd(b.b))
    b.events()
    assert not _readable(fd)
    check(lib.hwsim_phone_hook(W.w, 1, 0, 1))
    assert _readable(fd)
    assert _readable(fd)                          # level-triggered until drained
    ev = b.events()
    assert [e[1:] for e in ev] == [(EV_HOOK, -1, 0, 1)]
    assert not _readable(fd)
    # A bounded queue: past its size events are counted and reported as one OVERRUN, in order.
    for i in range(1100):
        check(lib.hwsim_phone_hook(W.w, 1, 0, i % 2))
    ev = b.events()
    hooks = [e for e in ev if e[1] == EV_HOOK]
    over = [e for e in ev if e[1] == EV_OVERRUN]
    assert len(over) == 1 and ev[-1][1] == EV_OVERRUN
    assert len(hooks) + over[0][4] == 1100
    assert not _readable(fd)


# ---------------------------------------------------------------------------------------------- analogue

DTMF_LOW = [697, 770, 852, 941]
DTMF_HIGH = [1209, 1336, 1477, 1633]
DTMF_KEYS = ["123A", "456B", "789C", "*0#D"]


def dtmf_digits_goertzel(x, block=N):
    """Digits in x from Goertzel powers per 20 ms block (Q.24 frequencies); runs collapse to one digit."""
    out, prev = [], None
    for i in range(0, len(x) - block + 1, block):
        seg = x[i:i + block]
        lo = [goertzel_power(seg, f, window=True) for f in DTMF_LOW]
        hi = [goertzel_power(seg, f, window=True) for f in DTMF_HIGH]
        il, ih = int(np.argmax(lo)), int(np.argmax(hi))
        second_lo = sorted(lo)[-2]
        second_hi = sorted(hi)[-2]
        d = None
        if dbm0(lo[il]) > -30 and dbm0(hi[ih]) > -30 and lo[il] > 10 * second_lo and hi[ih] > 10 * second_hi:
            d = DTMF_KEYS[il][ih]
        if d and d != prev:
            out.append(d)
        prev = d
    return "".join(out)


def dsp_events(codes, kind):
    """Events of the ctid.dsp detector `kind` on one channel of A-law codes (plus 100 ms of silence)."""
    from ctid.dsp import Bank
    bank = Bank(1, law="alaw")
    bank.set_mask(0, kind)
    evs = bank.process(np.ascontiguousarray(codes, np.uint8)) + bank.process(np.full(800, 0xD5, np.uint8))
    return bank, [e for e in evs if e.kind == kind]


def dsp_available(kind, probe_codes):
    """True if ctid.dsp is importable and its `kind` detector reacts to a known-good probe signal (the DSP
    helpers' detectors may not have landed yet: then the cross-check with ctid.dsp is skipped)."""
    try:
        return bool(dsp_events(probe_codes, kind)[1])
    except Exception:
        return False


def dtmf_probe(key="5", ms=100):
    n = np.arange(8 * ms)
    r = next(i for i, row in enumerate(DTMF_KEYS) if key in row)
    c = DTMF_KEYS[r].index(key)
    amp = 22827 * 10 ** (-10 / 20)
    x = amp * (np.sin(2 * np.pi * DTMF_LOW[r] * n / 8000) + np.sin(2 * np.pi * DTMF_HIGH[c] * n / 8000))
    return np.concatenate([np.full(400, 0xD5, np.uint8), alaw_encode(x), np.full(400, 0xD5, np.uint8)])


def fsk_probe(msg):
    """Bell 202 FSK in numpy: 300 seizure bits, 180 mark bits, then start/8 data LSB first/stop per byte."""
    bits = [i % 2 for i in range(300)] + [1] * 180
    for byte in msg:
        bits += [0] + [(byte >> k) & 1 for k in range(8)] + [1]
    bits += [1] * 10
    spb = 8000 / 1200
    idx = (np.arange(int(len(bits) * spb)) / spb).astype(int)
    f = np.where(np.array(bits)[idx] == 1, 1200.0, 2200.0)
    x = 22827 * 10 ** (-13 / 20) * np.sin(np.cumsum(2 * np.pi * f / 8000))
    return np.concatenate([np.full(800, 0xD5, np.uint8), alaw_encode(x), np.full(800, 0xD5, np.uint8)])


def test_fxs_phone_hook_ring_dial_flash_audio(world):
    W = world(51)
    b = W.board(3, 0, [FXS, FXO])
    ch = b.port_ch(0)
    check(lib.hwsim_port_ring(b.b, 0, 1))
    assert lib.hwsim_phone_ringing(W.w, 3, 0) == 1
    assert lib.hwsim_port_state(b.b, 0) == 0b010
    W.tick(2)
    b.events()
    check(lib.hwsim_phone_hook(W.w, 3, 0, 1))
    assert lib.hwsim_phone_ringing(W.w, 3, 0) == 0        # ring trip
    assert lib.hwsim_port_state(b.b, 0) == 0b001
    assert [e[1:] for e in b.events()] == [(EV_HOOK, -1, 0, 1)]
    assert lib.hwsim_port_ring(b.b, 0, 1) == lib.HWSIM_ERR_STATE
    # Dial: the tones are in the audio the board receives on the port.
    check(lib.hwsim_phone_dial(W.w, 3, 0, b"123#", 80, 80))
    rx = []
    for _ in range(40):
        W.tick()
        rx.append(b.read()[:, ch])
    codes = np.concatenate(rx)
    assert dtmf_digits_goertzel(alaw_decode(codes)) == "123#"
    if dsp_available("dtmf", dtmf_probe()):      # and the project's own DTMF receiver agrees
        assert "".join(e.value for e in dsp_events(codes, "dtmf")[1] if e.type == "on") == "123#"
    # Flash: on hook for 100 ms, then one FLASH event.
    check(lib.hwsim_phone_flash(W.w, 3, 0, 100))
    assert lib.hwsim_port_state(b.b, 0) & 1 == 0
    W.tick(6)
    assert [e[1:] for e in b.events() if e[1] == EV_FLASH] == [(EV_FLASH, -1, 0, 1)]
    assert lib.hwsim_port_state(b.b, 0) & 1 == 1
    # Microphone -> board, board -> speaker (first drain what the speaker got while dialling: idle).
    old = np.zeros(8000 * 10, np.int16)
    lib.hwsim_phone_listen(W.w, 3, 0, ffi.from_buffer("int16_t[]", old), len(old))
    n = np.arange(4 * N)
    mic = (8000 * np.sin(2 * np.pi * 440 * n / 8000)).astype(np.int16)
    check(lib.hwsim_phone_play(W.w, 3, 0, ffi.from_buffer("int16_t[]", mic), len(mic)))
    out_codes = np.random.default_rng(5).integers(0, 256, 4 * N, dtype=np.uint8)
    heard = []
    spk = np.zeros(4 * N, np.int16)
    for k in range(4):
        blk = np.full((N, b.nch), 0xD5, np.uint8)
        blk[:, ch] = out_codes[k * N:(k + 1) * N]
        b.write(blk)
        W.tick()
        heard.append(b.read()[:, ch])
    got = lib.hwsim_phone_listen(W.w, 3, 0, ffi.from_buffer("int16_t[]", spk), len(spk))
    assert got == len(spk)
    assert np.array_equal(spk, ALAW[out_codes])             # exactly what the board sent, decoded
    heard = alaw_decode(np.concatenate(heard))
    assert np.all(np.abs(heard - mic) <= 8 + np.abs(mic) / 32.0)   # A-law quantisation only
    # On hook: HOOK 0, silence.
    check(lib.hwsim_phone_hook(W.w, 3, 0, 0))
    assert (EV_HOOK, -1, 0, 0) in [e[1:] for e in b.events()]
    W.tick()
    assert (b.read()[:, ch] == 0xD5).all()
    assert lib.hwsim_phone_dial(W.w, 3, 0, b"1", 0, 0) == lib.HWSIM_ERR_STATE
    assert lib.hwsim_phone_dial(W.w, 3, 1, b"1", 0, 0) == lib.HWSIM_ERR_STATE and "FXO" in last_error()


def fsk_decode(x, baud=1200.0, fs=8000.0):
    """Bell 202 demodulation (mark 1200 Hz, space 2200 Hz) and async framing: bytes after the mark run."""
    n = np.arange(7)
    mark = np.abs(np.convolve(x, np.exp(-2j * np.pi * 1200 * n / fs), mode="same"))
    space = np.abs(np.convolve(x, np.exp(-2j * np.pi * 2200 * n / fs), mode="same"))
    level = np.convolve(np.abs(x), np.ones(16) / 16, mode="same")
    bit = np.where(level > 200, (mark > space).astype(int), -1)
    T = fs / baud
    # The mark run before the message (>= 100 bit periods of 1s).
    ones = bit == 1
    run = 0
    start = None
    for i, v in enumerate(ones):
        run = run + 1 if v else 0
        if run >= 100 * T:
            start = i
            break
    assert start is not None, "no mark run"
    out = []
    i = start
    while True:
        j = i
        while j < len(bit) and bit[j] == 1:
            j += 1
        if j >= len(bit) or bit[j] != 0 or j - i > (200 if not out else 40) * T:
            return bytes(out), start
        samples = [bit[int(round(j + T * (k + 0.5)))] for k in range(10)]
        assert samples[0] == 0 and samples[9] == 1, f"framing error at byte {len(out)}"
        out.append(sum(b << k for k, b in enumerate(samples[1:9])))
        i = int(round(j + T * 9.5))


def test_fxo_ring_cadence_caller_id_answer_busy(world):
    W = world(52)
    b = W.board(3, 0, [FXS, FXO])
    ch = b.port_ch(1)
    W.tick(7)
    b.events()
    t0 = W.time
    check(lib.hwsim_line_ring(W.w, 3, 1, b"13800138000", b"Zhang San"))
    assert lib.hwsim_line_state(W.w, 3, 1) == 0b010
    assert lib.hwsim_line_ring(W.w, 3, 1, b"1", ffi.NULL) == lib.HWSIM_ERR_STATE
    audio = []
    for _ in range(255):             # 5.1 s: ring, 4 s silence with caller ID, second ring
        W.tick()
        audio.append(b.read()[:, ch])
    audio = alaw_decode(np.concatenate(audio))
    rings = [(e[0] - t0, e[4]) for e in b.events() if e[1] == EV_RING]
    # China ring cadence 1 s on / 4 s off (8000 frames per second).
    assert rings == [(0, 1), (8000, 0), (40000, 1)]
    # Caller ID between the first and second ring: starts >= 500 ms after the first ring ends, and ends
    # >= 200 ms before the second (GR-30 / YDN 069).
    loud = np.nonzero(np.abs(audio) > 300)[0]
    assert len(loud) > 0, "no caller-ID audio"
    assert loud[0] >= 8000 + 4000 - 8 and loud[-1] < 40000 - 1600
    seg = audio[loud[0] - 40:loud[-1] + 40]
    # Bell 202: mark 1200 Hz and space 2200 Hz carry the energy (seizure alternates, mark run, data).
    assert band_share(seg, 900, 1500) > 0.15 and band_share(seg, 1900, 2500) > 0.15
    assert band_share(seg, 500, 2900) > 0.9
    msg, _ = fsk_decode(audio[loud[0] - 40:])
    # MDMF: type 0x80, length, parameters, checksum (sum of all bytes 0 mod 256).
    assert msg[0] == 0x80 and len(msg) >= msg[1] + 3
    msg = msg[:msg[1] + 3]
    assert sum(msg) % 256 == 0
    params, i = {}, 2
    while i < 2 + msg[1]:
        params[msg[i]] = msg[i + 2:i + 2 + msg[i + 1]]
        i += 2 + msg[i + 1]
    when = datetime.datetime(2025, 1, 1) + datetime.timedelta(seconds=t0 // 8000)
    assert params == {1: when.strftime("%m%d%H%M").encode(), 2: b"13800138000", 7: b"Zhang San"}
    if dsp_available("cid", fsk_probe(msg)):      # and the project's own FSK receiver agrees
        bank, evs = dsp_events(alaw_encode(audio), "cid")
        assert [e.type for e in evs] == ["msg"]
        assert bank.cid_message(0) == msg
    # The ring is on (second ring): the board answers.
    b.events()
    check(lib.hwsim_port_hook(b.b, 1, 1))
    evs = [e[1:] for e in b.events()]
    assert (EV_RING, -1, 1, 0) in evs and (EV_POLARITY, -1, 1, 1) in evs and (EV_HOOK, -1, 1, 1) in evs
    assert lib.hwsim_line_state(W.w, 3, 1) == 0b001
    assert lib.hwsim_port_state(b.b, 1) == 0b101
    # Audio both ways.
    n = np.arange(2 * N)
    far = (6000 * np.sin(2 * np.pi * 500 * n / 8000)).astype(np.int16)
    check(lib.hwsim_line_play(W.w, 3, 1, ffi.from_buffer("int16_t[]", far), len(far)))
    codes = np.random.default_rng(6).integers(0, 256, 2 * N, dtype=np.uint8)
    heard = []
    for k in range(2):
        blk = np.full((N, b.nch), 0xD5, np.uint8)
        blk[:, ch] = codes[k * N:(k + 1) * N]
        b.write(blk)
        W.tick()
        heard.append(b.read()[:, ch])
    heard = alaw_decode(np.concatenate(heard))
    assert np.all(np.abs(heard - far) <= 8 + np.abs(far) / 32.0)
    lst = np.zeros(2 * N, np.int16)
    assert lib.hwsim_line_listen(W.w, 3, 1, ffi.from_buffer("int16_t[]", lst), len(lst)) == 2 * N
    assert np.array_equal(lst, ALAW[codes])
    # The far end hangs up: polarity back, busy tone 450 Hz 0.35 s on / 0.35 s off (China).
    b.events()
    check(lib.hwsim_line_hangup(W.w, 3, 1))
    assert [e[1:] for e in b.events()] == [(EV_POLARITY, -1, 1, 0)]
    assert lib.hwsim_line_state(W.w, 3, 1) == 0b101
    busy = []
    for _ in range(100):
        W.tick()
        busy.append(b.read()[:, ch])
    busy = alaw_decode(np.concatenate(busy))
    win = 80                                              # 10 ms windows
    on = np.array([dbm0(goertzel_power(busy[i:i + win], 450)) > -20 for i in range(0, len(busy) - win + 1, win)])
    edges = np.flatnonzero(np.diff(on.astype(int)))
    runs = np.diff(edges) * 10                            # ms between edges
    assert len(runs) >= 4 and all(abs(r - 350) <= 20 for r in runs), runs
    check(lib.hwsim_port_hook(b.b, 1, 0))
    assert lib.hwsim_line_state(W.w, 3, 1) == 0
    W.tick()
    assert (b.read()[:, ch] == 0xD5).all()
    assert lib.hwsim_line_hangup(W.w, 3, 1) == lib.HWSIM_ERR_STATE
    assert lib.hwsim_line_ring(W.w, 3, 0, b"1", ffi.NULL) == lib.HWSIM_ERR_STATE   # port 0 is FXS
    assert lib.hwsim_line_ring(W.w, 3, 1, b"12a", ffi.NULL) == lib.HWSIM_ERR_ARG


def test_switching_across_boards_phone_to_phone(world):
    W = world(53)
    A, B = W.board(1, 0, [FXS]), W.board(2, 1, [FXS])
    for bid in (1, 2):
        check(lib.hwsim_phone_hook(W.w, bid, 0, 1))
    # B's phone hears A's phone: board B's port transmits what board A's port receives.
    check(lib.hwsim_connect(B.b, B.port_ch(0), 1, A.port_ch(0)))
    n = np.arange(6 * N)
    voice = (7000 * np.sin(2 * np.pi * 300 * n / 8000) + 3000 * np.sin(2 * np.pi * 1700 * n / 8000)).astype(np.int16)
    check(lib.hwsim_phone_play(W.w, 1, 0, ffi.from_buffer("int16_t[]", voice), len(voice)))
    W.tick(8)
    spk = np.zeros(8 * N, np.int16)
    assert lib.hwsim_phone_listen(W.w, 2, 0, ffi.from_buffer("int16_t[]", spk), len(spk)) == 8 * N
    # One block (160 frames) of latency for the switched hop; what arrives is A's A-law, decoded.
    expected = np.concatenate([np.zeros(N), voice, np.zeros(N)])
    assert np.all(np.abs(spk - expected) <= 8 + np.abs(expected) / 32.0)
    assert np.abs(spk[:N]).max() <= 8
    # Errors.
    assert lib.hwsim_connect(B.b, 0, 1, 0) == lib.HWSIM_ERR_CHANNEL          # TS0 is framing
    assert lib.hwsim_connect(B.b, 5, 9, 0) == lib.HWSIM_ERR_BOARD
    assert "board 9" in last_error()
    assert lib.hwsim_connect(B.b, 5, 1, 1) == lib.HWSIM_ERR_CHANNEL
    assert lib.hwsim_connect(B.b, 99, 1, 0) == lib.HWSIM_ERR_CHANNEL


# ---------------------------------------------------------------------------------------------- errors

def test_errors_are_codes_with_messages(world):
    W = world(61)
    b = W.board(1, 2, [FXS])
    assert lib.hwsim_board_open(W.w, 77) == ffi.NULL
    assert "board 77" in last_error() and "1" in last_error()
    assert lib.hwsim_board_create(W.w, 1, 1, 0, ffi.NULL) == lib.HWSIM_ERR_ARG and "already exists" in last_error()
    assert lib.hwsim_board_create(W.w, 2, 17, 0, ffi.NULL) == lib.HWSIM_ERR_SPAN
    assert lib.hwsim_board_create(W.w, 2, 1, 1, ffi.NULL) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_board_create(W.w, 2, 0, 1, ffi.new("int[]", [7])) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_board_create(ffi.NULL, 2, 1, 0, ffi.NULL) == lib.HWSIM_ERR_ARG
    cfg = ffi.new("hwsim_span_config_t *", {"crc4": 0, "ts16": CAS})
    assert lib.hwsim_span_configure(b.b, 2, cfg) == lib.HWSIM_ERR_SPAN
    assert "span 2" in last_error() and "2 spans" in last_error()
    assert lib.hwsim_span_configure(b.b, -1, cfg) == lib.HWSIM_ERR_SPAN
    assert lib.hwsim_span_configure(b.b, 0, ffi.NULL) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_span_configure(b.b, 0, ffi.new("hwsim_span_config_t *", {"crc4": 0, "ts16": 9})) == lib.HWSIM_ERR_ARG
    for ts in (0, 16, 32, -1):
        assert lib.hwsim_set_abcd(b.b, 0, ts, 5) == lib.HWSIM_ERR_CHANNEL
        assert f"timeslot {ts}" in last_error()
    assert lib.hwsim_set_abcd(b.b, 0, 1, 16) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_get_abcd(b.b, 3, 1) == lib.HWSIM_ERR_SPAN
    b.configure(1, 0, CCS)
    assert lib.hwsim_set_abcd(b.b, 1, 1, 5) == lib.HWSIM_ERR_STATE
    assert lib.hwsim_hdlc_enable(b.b, 0, 16, 1) == lib.HWSIM_ERR_STATE        # TS16 carries CAS
    assert lib.hwsim_hdlc_enable(b.b, 0, 0, 1) == lib.HWSIM_ERR_CHANNEL
    assert lib.hwsim_hdlc_recv(b.b, 1, 16, ffi.new("uint8_t[8]"), 8) == lib.HWSIM_ERR_AGAIN
    # Blocks of the wrong size.
    right = N * b.nch
    for size in (right - 1, right + 1, 0, N * 32):
        buf = ffi.new("uint8_t[]", max(size, 1))
        assert lib.hwsim_write_block(b.b, buf, size) == lib.HWSIM_ERR_SIZE
        assert str(right) in last_error()
        assert lib.hwsim_read_block(b.b, buf, size) == lib.HWSIM_ERR_SIZE
    assert lib.hwsim_read_block(b.b, ffi.NULL, right) == lib.HWSIM_ERR_ARG
    check(lib.hwsim_board_stop(b.b))
    assert lib.hwsim_read_block(b.b, ffi.new("uint8_t[]", right), right) == lib.HWSIM_ERR_STATE
    check(lib.hwsim_board_start(b.b))
    # Ports.
    assert lib.hwsim_port_ring(b.b, 1, 1) == lib.HWSIM_ERR_CHANNEL and "port 1" in last_error()
    assert lib.hwsim_port_hook(b.b, 0, 1) == lib.HWSIM_ERR_STATE                 # FXS: the phone hooks
    assert lib.hwsim_phone_hook(W.w, 5, 0, 1) == lib.HWSIM_ERR_BOARD
    assert lib.hwsim_phone_dial(W.w, 1, 0, ffi.NULL, 0, 0) == lib.HWSIM_ERR_ARG
    check(lib.hwsim_phone_hook(W.w, 1, 0, 1))
    assert lib.hwsim_phone_dial(W.w, 1, 0, b"12x", 0, 0) == lib.HWSIM_ERR_ARG and "'x'" in last_error()
    assert lib.hwsim_phone_flash(W.w, 1, 0, 0) == lib.HWSIM_ERR_ARG
    # Cables.
    assert lib.hwsim_cable_connect(W.w, 1, 0, 8, 0) == lib.HWSIM_ERR_BOARD
    assert lib.hwsim_cable_connect(W.w, 1, 0, 1, 5) == lib.HWSIM_ERR_SPAN
    assert lib.hwsim_cable_cut(W.w, 1, 0, 1) == lib.HWSIM_ERR_STATE and "no cable" in last_error()
    missing = "/tmp/hwsim-no-such-peer-%d.sock" % os.getpid()
    assert lib.hwsim_cable_socket(W.w, 1, 0, missing.encode(), 0) == lib.HWSIM_ERR_PEER
    assert missing in last_error()
    assert lib.hwsim_cable_socket(W.w, 1, 0, b"/tmp/" + b"x" * 200, 0) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_fault_ber(W.w, 1, 0, 2.0) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_fault_slips(W.w, 1, 0, -1) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_capture(W.w, 1, 1, 16, b"/tmp/x.pcap", 1) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_capture(W.w, 1, 1, 16, b"/nonexistent-dir/x.pcap", 140) == lib.HWSIM_ERR_IO
    # NULL handles never crash.
    assert lib.hwsim_board_start(ffi.NULL) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_get_event(ffi.NULL, ffi.NULL) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_world_tick(ffi.NULL, 1) == lib.HWSIM_ERR_ARG
    assert lib.hwsim_board_open(ffi.NULL, 1) == ffi.NULL
    # Every code has its own text.
    codes = [getattr(lib, n) for n in dir(lib) if n.startswith("HWSIM_ERR_")] + [lib.HWSIM_OK]
    texts = {ffi.string(lib.hwsim_strerror(c)) for c in codes}
    assert len(texts) == len(codes)


# ---------------------------------------------------------------------------------------------- capture

def fcs16_ok(data):
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc == 0xF0B8          # the good-frame residue of the X.25 FCS (ISO 3309)


def read_pcap(path):
    data = Path(path).read_bytes()
    magic, vmaj, vmin, _, _, snap, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4 and (vmaj, vmin) == (2, 4)
    recs, i = [], 24
    while i < len(data):
        sec, usec, incl, orig = struct.unpack("<IIII", data[i:i + 16])
        assert incl == orig
        recs.append((sec * 1_000_000 + usec, data[i + 16:i + 16 + incl]))
        i += 16 + incl
    return linktype, recs


def mtp2_su(bsn, fsn, payload=b""):
    """An MTP2 signal unit: BSN/BIB, FSN/FIB, LI (payload length, 63 if longer, Q.703 2.3.3), payload."""
    return bytes([0x80 | bsn & 0x7F, 0x80 | fsn & 0x7F, min(len(payload), 63)]) + payload


def test_pcap_capture_both_directions(world, tmp_path):
    W = world(71)
    A, B = W.board(1, 1), W.board(2, 1)
    W.cable(1, 0, 2, 0)
    A.configure(0, 0, CCS)
    B.configure(0, 0, CCS)
    check(lib.hwsim_hdlc_enable(A.b, 0, 9, 1))
    check(lib.hwsim_hdlc_enable(B.b, 0, 9, 1))
    W.tick(4)
    p140, p139 = tmp_path / "mtp2.pcap", tmp_path / "phdr.pcap"
    check(lib.hwsim_capture(W.w, 1, 0, 16, str(p140).encode(), 140))
    check(lib.hwsim_capture(W.w, 2, 0, 9, str(p139).encode(), 139))
    rng = np.random.default_rng(72)
    fa = [mtp2_su(i, i) for i in range(5)] + \
         [mtp2_su(i, 5 + i, b"\x83" + rng.integers(0, 256, 70, dtype=np.uint8).tobytes()) for i in range(10)]
    fb = [mtp2_su(0, i, b"\x83abc") for i in range(8)] + [mtp2_su(1, 8 + i, f) for i, f in enumerate(special_frames())]
    fc = [mtp2_su(2, i, b"\x85" + bytes(rng.integers(0, 256, i, dtype=np.uint8))) for i in range(6)]
    fd = [mtp2_su(3, i) for i in range(4)]
    got = pump_hdlc(W, [(A, 0, 16, fa, B), (B, 0, 16, fb, A), (A, 0, 9, fc, B), (B, 0, 9, fd, A)])
    assert got == [fa, fb, fc, fd]
    # Capture readable while running (flushed at every block), records in time order, FCS included (140).
    lt, recs = read_pcap(p140)
    assert lt == 140
    frames = [r[1] for r in recs]
    assert all(fcs16_ok(f) for f in frames)
    assert sorted(f[:-2] for f in frames) == sorted(fa + fb)       # both ends' receptions
    ts = [r[0] for r in recs]
    assert ts == sorted(ts) and ts[-1] <= W.time * 125
    check(lib.hwsim_capture(W.w, 1, 0, 16, ffi.NULL, 140))
    check(A.send(0, 16, b"not captured"))
    W.tick(2)
    assert len(read_pcap(p140)[1]) == len(recs)
    lt, recs9 = read_pcap(p139)
    assert lt == 139
    # Pseudo-header: sent, annex A used, link number (then no FCS). The capture is B's link: what B received
    # has sent = 0, what A received (B sent) has sent = 1.
    assert [r[1][4:] for r in recs9 if r[1][0] == 0] == fc
    assert [r[1][4:] for r in recs9 if r[1][0] == 1] == fd
    assert all(r[1][1:4] == b"\x00\x00\x00" for r in recs9)
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed (apt-get install -y tshark)")
    out = subprocess.run([tshark, "-r", str(p140), "-o", "mtp2.capture_contains_frame_check_sequence:TRUE",
                          "-T", "fields", "-e", "mtp2.fcs_16.status", "-e", "mtp2.fsn", "-e", "mtp2.li"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [ln.split("\t") for ln in out.stdout.splitlines()]
    assert len(rows) == len(recs) and all(r[0] == "1" for r in rows), out.stdout[:300]   # every FCS good
    assert [(int(r[1]), int(r[2])) for r in rows] == [(f[1] & 0x7F, f[2] & 0x3F) for f in frames]
    out = subprocess.run([tshark, "-r", str(p139), "-T", "fields", "-e", "frame.p2p_dir", "-e", "mtp2.fsn",
                          "-e", "mtp2.li", "-e", "mtp2.li.bad"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [ln.split("\t") for ln in out.stdout.splitlines()]
    # Wireshark: P2P_DIR_SENT = 0, P2P_DIR_RECV = 1.
    assert [(int(r[0]), int(r[1]), int(r[2])) for r in rows] == \
        [(0 if r[1][0] else 1, r[1][5] & 0x7F, r[1][6] & 0x3F) for r in recs9]
    assert all(r[3] == "" for r in rows)                           # no bad length indicator


# ---------------------------------------------------------------------------------------------- cross-process

CHILD = r'''
import base64, json, os, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
import test_sdk as T
role, p0, p1, nticks = sys.argv[2], sys.argv[3].encode(), sys.argv[4].encode(), int(sys.argv[5])
listen = role == "listen"
bid = 1 if listen else 2
W = T.World(seed=bid)
B = W.board(bid, 2)
B.configure(1, 1, T.CCS)
if not listen:
    deadline = time.time() + 20
    while not (os.path.exists(p0) and os.path.exists(p1)) and time.time() < deadline:
        time.sleep(0.01)
T.check(T.lib.hwsim_cable_socket(W.w, bid, 0, p0, listen))
T.check(T.lib.hwsim_cable_socket(W.w, bid, 1, p1, listen))
events = []
if listen:
    up = set()
    deadline = time.time() + 20
    while len(up) < 2 and time.time() < deadline:
        W.tick()
        for e in B.events():
            events.append(e)
            if e[1] == T.EV_CABLE and e[4] == 1:
                up.add(e[2])
        time.sleep(0.002)
# Settle: both spans aligned and no RAI (so the far end is aligned too) for 3 blocks in a row.
clean = 0
for _ in range(300):
    W.tick()
    events += B.events()
    clean = clean + 1 if B.status(0)["alarms"] == 0 and B.status(1)["alarms"] == 0 else 0
    if clean == 3:
        break
sent = T.patterns(bid, B.nch, nticks * T.N)
rng = np.random.default_rng(bid)
frames = T.random_frames(rng, 20, 1, 100)
got = np.zeros((nticks * T.N, B.nch), np.uint8)
rx_frames = []
for k in range(nticks):
    if k < len(frames):
        T.check(B.send(1, 16, frames[k]))
    B.write(sent[k * T.N:(k + 1) * T.N])
    W.tick()
    got[k * T.N:(k + 1) * T.N] = B.read()
    rx_frames += B.recv_all(1, 16)
    events += B.events()
extra = []
if not listen:
    # The listener has gone: its side of the socket closes; the span must see LOS and the cable go down.
    time.sleep(0.5)
    W.tick(5)
    extra = B.events()
print(json.dumps({"got": base64.b64encode(got.tobytes()).decode(), "nch": B.nch,
                  "frames": [f.hex() for f in rx_frames], "events": events, "extra": extra,
                  "alarms_end": B.status(0)["alarms"]}))
W.close()
'''


def test_cross_process_socket_cable(tmp_path):
    p0, p1 = str(tmp_path / "span0.sock"), str(tmp_path / "span1.sock")
    nticks = 40
    env = dict(os.environ, HWSIM_SOCKET_TIMEOUT_MS="5000")
    procs = {role: subprocess.Popen([sys.executable, "-c", CHILD, str(HERE), role, p0, p1, str(nticks)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for role in ("listen", "connect")}
    res = {}
    for role, p in procs.items():
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        res[role] = json.loads(out.strip().splitlines()[-1])
    sent = {1: patterns(1, 2 * 32, nticks * N), 2: patterns(2, 2 * 32, nticks * N)}
    for role, peer in (("listen", 2), ("connect", 1)):
        r = res[role]
        got = np.frombuffer(base64.b64decode(r["got"]), np.uint8).reshape(-1, r["nch"])[:(nticks - 6) * N]
        # The two worlds started their measured runs at different ticks: the offset may have either sign.
        span_lag(got, sent[peer], 0, VOICE_TS, 6 * N, min_lag=-4 * N)
        peer_frames = random_frames(np.random.default_rng(peer), 20, 1, 100)
        assert [bytes.fromhex(f) for f in r["frames"]] == peer_frames
    # The connecting side outlived the listener: peer loss is a cut cable with LOS.
    extra = res["connect"]["extra"]
    assert [e[2] for e in extra if e[1] == EV_CABLE and e[4] == 0] == [0, 1]
    assert res["connect"]["alarms_end"] & LOS


def _recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def test_socket_protocol_with_a_python_peer(world, tmp_path, monkeypatch):
    """The cable protocol as documented in cable.c, spoken by an independent Python peer: a loopback plug at
    the far end of a socket (it echoes each block), then a peer that goes silent (timeout -> cut), then one
    that speaks garbage (protocol error -> cut), and the listener accepting a new peer each time."""
    monkeypatch.setenv("HWSIM_SOCKET_TIMEOUT_MS", "300")
    W = world(81)
    A = W.board(1, 1)
    path = str(tmp_path / "plug.sock")
    check(lib.hwsim_cable_socket(W.w, 1, 0, path.encode(), 1))
    W.tick(2)                                   # nobody there yet: LOS, no blocking
    assert A.status(0)["alarms"] & LOS
    A.events()
    mode = {"echo": True}

    def peer():
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        seq = 0
        try:
            while True:
                hdr = _recv_exact(c, 16)
                magic, ver, flags, rseq, nbytes = struct.unpack("<4sHHII", hdr)
                assert (magic, ver, flags, nbytes) == (b"HWSC", 1, 0, 5120) and rseq == seq
                bits = _recv_exact(c, nbytes)
                if mode["echo"]:
                    c.sendall(struct.pack("<4sHHII", b"HWSC", 1, 0, seq, nbytes) + bits)
                seq += 1
        except (EOFError, OSError):
            pass
        finally:
            c.close()

    th = threading.Thread(target=peer, daemon=True)
    th.start()
    time.sleep(0.05)
    sent, got = run_voice(W, [A], 12)
    assert (EV_CABLE, 0, -1, 1) in [e[1:] for e in A.events()]
    assert A.status(0)["alarms"] == 0            # its own signal, looped at the far end
    span_lag(got[1], sent[1], 0, VOICE_TS, 4 * N)
    # The peer stops answering: after the timeout the cable counts as cut.
    mode["echo"] = False
    t = time.monotonic()
    W.tick(2)
    assert time.monotonic() - t < 5
    evs = [e[1:] for e in A.events()]
    assert (EV_CABLE, 0, -1, 0) in evs
    assert A.status(0)["alarms"] & LOS
    th.join(5)
    # A peer speaking garbage is dropped too; the listener then waits for the next one.
    g = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    g.connect(path)
    g.sendall(b"GARBAGE!" * 700)
    W.tick(1)
    evs = [e[1:] for e in A.events()]
    assert (EV_CABLE, 0, -1, 1) in evs and (EV_CABLE, 0, -1, 0) in evs
    assert "protocol error" in last_error()
    g.close()
