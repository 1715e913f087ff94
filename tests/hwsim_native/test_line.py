"""hwsim line layer (native/hwsim/line.c): FCS-16, HDLC, E1 framing, alignment and alarms.

Expectations come from what was sent and from independent reference implementations written here bit by bit
from the standards (FCS-16 per ISO 3309, CRC-4 per G.704 2.3.3.5, HDLC zero insertion per ISO 3309), never
from the C tables. Every alarm/alignment time is derived from the rule of the standard it cites.
"""
import math
import random

import numpy as np
import pytest

from . import linelib
from .linelib import E1Rx, E1Tx, HdlcRx, HdlcTx, fcs16_reference

ffi, lib = linelib.load()

FLAG_BITS = [0, 1, 1, 1, 1, 1, 1, 0]
CAS, CCS, CLEAR = lib.LINE_TS16_CAS, lib.LINE_TS16_CCS, lib.LINE_TS16_CLEAR
LOS, LOF, AIS, RAI = lib.HWSIM_ALARM_LOS, lib.HWSIM_ALARM_LOF, lib.HWSIM_ALARM_AIS, lib.HWSIM_ALARM_RAI
LOMF, LOCRC = lib.HWSIM_ALARM_LOMF, lib.HWSIM_ALARM_LOCRC
VOICE_TS = [t for t in range(1, 32) if t != 16]
CAS_TS = VOICE_TS  # channel n -> TS n (n <= 15), TS n+1 (n >= 16)


# ------------------------------------------------------------------ bit helpers and references
def to_bits(data: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(data, np.uint8))


def to_bytes(bits) -> bytes:
    bits = np.asarray(bits, np.uint8)
    pad = (-len(bits)) % 8
    if pad:
        bits = np.concatenate([bits, np.ones(pad, np.uint8)])
    return np.packbits(bits).tobytes()


def drop_bits(data: bytes, k: int) -> bytes:
    return to_bytes(to_bits(data)[k:])


def hdlc_encode(frames, lead_flags=1) -> list:
    """Reference HDLC encoder (ISO 3309): FCS low byte first, LSB first, a 0 after five 1s, shared flags."""
    bits = FLAG_BITS * lead_flags
    for f in frames:
        fcs = fcs16_reference(f)
        ones = 0
        for byte in f + bytes([fcs & 0xFF, fcs >> 8]):
            for i in range(8):
                b = (byte >> i) & 1
                bits.append(b)
                ones = ones + 1 if b else 0
                if ones == 5:
                    bits.append(0)
                    ones = 0
        bits += FLAG_BITS
    return bits


def hdlc_decode(bits):
    """Reference HDLC decoder: returns the raw frames (FCS included) found between flags, and the number of
    bits between consecutive flags that carried no frame (to check flag sharing)."""
    s = "".join(map(str, bits))
    frames, gaps = [], []
    pos = s.find("01111110")
    while pos >= 0:
        nxt = s.find("01111110", pos + 8)
        if nxt < 0:
            break
        body = s[pos + 8:nxt]
        if body:
            assert "1111111" not in body, "abort inside a frame"
            data, ones, skip = [], 0, False
            for ch in body:
                if skip:
                    assert ch == "0", "six ones inside a frame"
                    skip, ones = False, 0
                    continue
                data.append(int(ch))
                ones = ones + 1 if ch == "1" else 0
                if ones == 5:
                    skip = True
            assert len(data) % 8 == 0, "frame not a whole number of octets"
            frames.append(bytes(sum(data[i + j] << j for j in range(8)) for i in range(0, len(data), 8)))
        else:
            gaps.append(nxt - pos)
        pos = nxt
    return frames, gaps


def crc4_reference(bits) -> int:
    """G.704 2.3.3.5: remainder of M(x) * x^4 divided by x^4 + x + 1, first bit most significant."""
    r = 0
    for b in bits:
        fb = ((r >> 3) & 1) ^ int(b)
        r = (r << 1) & 0xF
        if fb:
            r ^= 0x3
    return r


def quiet_voice(rng, nframes):
    """Random voice octets that cannot imitate the FAS: no two adjacent zero bits and 1 at both ends (the FAS
    x0011011 needs '00'). Frames stay distinct so received frames can be matched to sent ones."""
    ok = np.array([b for b in range(256) if b & 0x81 == 0x81 and "00" not in format(b, "08b")], np.uint8)
    return ok[rng.integers(0, len(ok), nframes * 32)].tobytes()


def random_voice(rng, nframes):
    return rng.integers(0, 256, nframes * 32, dtype=np.uint8).tobytes()


def frames_of(data: bytes):
    return [data[i:i + 32] for i in range(0, len(data) - 31, 32)]


def match_run(out: bytes, sent: bytes):
    """Index m such that the received frames are sent frames m, m+1, ... (all of them); None if not."""
    o, s = frames_of(out), frames_of(sent)
    if not o:
        return None
    for m in (i for i, f in enumerate(s) if f == o[0]):
        if s[m:m + len(o)] == o:
            return m
    return None


def alarm_at(rx, predicate, start=0):
    """First alarm event (bytes consumed, alarms) at or after `start` bytes that satisfies predicate."""
    for nb, a in rx.alarm_events:
        if nb >= start and predicate(a):
            return nb, a
    return None


# ------------------------------------------------------------------ FCS-16
def test_fcs16_check_value_and_residue():
    # CRC-16/X-25 catalogue check value over the ASCII digits "123456789" (ISO 3309 FCS)
    assert lib.line_fcs16(b"123456789", 9) == 0x906E
    assert fcs16_reference(b"123456789") == 0x906E
    assert lib.line_fcs16(b"", 0) == 0x0000
    assert lib.line_fcs16(ffi.NULL, 5) == 0x0000   # NULL is treated as empty, no crash
    rng = random.Random(1)
    for n in list(range(0, 40)) + [279, 280, 281, 1000]:
        data = rng.randbytes(n)
        fcs = lib.line_fcs16(data, n)
        assert fcs == fcs16_reference(data)
        # residue property: the CRC register over data + FCS (low byte first) is 0xF0B8 before the final
        # inversion, i.e. the FCS function over data+FCS gives 0xF0B8 ^ 0xFFFF
        assert lib.line_fcs16(data + bytes([fcs & 0xFF, fcs >> 8]), n + 2) == 0xF0B8 ^ 0xFFFF
        if n:
            bad = bytearray(data)
            bad[rng.randrange(n)] ^= 1 << rng.randrange(8)
            assert lib.line_fcs16(bytes(bad) + bytes([fcs & 0xFF, fcs >> 8]), n + 2) != 0x0F47


# ------------------------------------------------------------------ HDLC
def special_payload(rng: random.Random, n: int) -> bytes:
    """Random bytes with runs of the flag, the escape octet and all-ones (zero insertion at its worst)."""
    out = bytearray()
    while len(out) < n:
        kind = rng.randrange(5)
        if kind == 0:
            out += b"\x7e" * rng.randrange(1, 6)
        elif kind == 1:
            out += b"\x7d" * rng.randrange(1, 4)
        elif kind == 2:
            out += b"\xff" * rng.randrange(1, 12)
        else:
            out += rng.randbytes(rng.randrange(1, 8))
    return bytes(out[:n])


def tx_octets(tx: HdlcTx, frames, chunk=256) -> bytes:
    """Queue frames (refilling the 64-deep queue) and pull line octets until all have been sent."""
    out, i = [], 0
    target = tx.s.frames_sent + len(frames)
    while tx.s.frames_sent < target:
        while i < len(frames) and tx.queue(frames[i]) == 0:
            i += 1
        out.append(tx.pull(chunk))
    out.append(tx.pull(4))
    return b"".join(out)


def test_hdlc_tx_wire_format_against_reference_decoder():
    rng = random.Random(2)
    frames = [special_payload(rng, n) for n in (0, 1, 2, 5, 40, 279, 280)]
    tx = HdlcTx()
    line = tx_octets(tx, frames)
    bits = to_bits(line).tolist()
    assert bits[:8] == FLAG_BITS                      # opening flag first
    raw, gaps = hdlc_decode(bits)
    assert raw == [f + bytes([fcs16_reference(f) & 0xFF, fcs16_reference(f) >> 8]) for f in frames]
    assert set(gaps) <= {8}                           # idle after the last frame: back-to-back flags
    # bit for bit what the reference encoder makes: back to back queued frames share one flag (the closing
    # flag of one opens the next, ISO 3309), zero insertion after five ones, FCS low byte first, LSB first
    ref = hdlc_encode(frames)
    assert bits[:len(ref)] == ref
    # idle after the last frame: flags only
    idle = "".join(map(str, to_bits(tx.pull(16))))
    phase = idle.find("01111110")
    assert 0 <= phase < 8 and idle[phase:phase + 120] == "01111110" * 15
    # bad lengths and a full queue are refused
    assert tx.queue(bytes(281)) == -1
    assert lib.line_hdlc_tx_queue(tx.s, ffi.NULL, 3) == -1
    assert lib.line_hdlc_tx_queue(tx.s, b"x", -1) == -1
    for i in range(lib.LINE_HDLC_QUEUE):
        assert tx.queue(b"q") == 0
    assert tx.queue(b"q") == -1


def test_hdlc_idle_repeat_repeats_last_frame():
    tx, rx = HdlcTx(), HdlcRx()
    lib.line_hdlc_tx_idle_repeat(tx.s, 1)
    fisu = bytes([0x81, 0x80, 0x00])
    rx.feed(tx.pull(8))
    assert tx.queue(fisu) == 0
    rx.feed(tx.pull(200))
    good = rx.good()
    assert len(good) >= 30 and set(good) == {fisu}     # 3 + 2 FCS + 1 flag = 6 octets per FISU
    msu = b"\x85" + bytes(range(30))
    assert tx.queue(msu) == 0
    rx.feed(tx.pull(200))
    after = rx.good()[len(good):]
    assert after[0] == fisu or after[0] == msu
    assert msu in after and after[-1] == msu and after.count(msu) >= 4   # now the MSU is repeated
    assert all(st == lib.LINE_HDLC_GOOD for st, _ in rx.frames)


@pytest.mark.parametrize("offset", range(8))
def test_hdlc_round_trip_all_lengths_at_bit_offset(offset):
    rng = random.Random(100 + offset)
    lengths = list(range(0, lib.LINE_HDLC_MAX + 1))
    rng.shuffle(lengths)
    frames = [special_payload(rng, n) if rng.random() < 0.5 else rng.randbytes(n) for n in lengths]
    tx, rx = HdlcTx(), HdlcRx()
    line = tx_octets(tx, frames)
    junk = [rng.randrange(2) for _ in range(offset)]
    rx.feed(to_bytes(junk + to_bits(line).tolist()))
    assert rx.good() == frames
    assert [st for st, _ in rx.frames] == [lib.LINE_HDLC_GOOD] * len(frames)
    # GOOD frames carry their received FCS after the payload
    for f, (st, raw) in zip(frames, rx.frames):
        assert raw[-2:] == bytes([fcs16_reference(f) & 0xFF, fcs16_reference(f) >> 8])


def test_hdlc_receiver_statuses_from_reference_streams():
    rx = HdlcRx()
    good = b"\x01\x7e\x7d\xff\xff"
    fcs = fcs16_reference(good)
    # abort: seven ones inside a frame (ISO 3309 4.4); the next frame is still received
    bits = FLAG_BITS + hdlc_encode([good], 0)[:20] + [1] * 7 + [0] + FLAG_BITS + hdlc_encode([good], 0)
    rx.feed(to_bytes(bits))
    assert [st for st, _ in rx.frames] == [lib.LINE_HDLC_ABORT, lib.LINE_HDLC_GOOD]
    assert rx.good() == [good]
    # bad FCS: payload changed after the FCS was computed
    bad = bytes([good[0] ^ 4]) + good[1:]
    rx2 = HdlcRx()

    def raw_frame_bits(payload_with_fcs):
        out, ones = list(FLAG_BITS), 0
        for byte in payload_with_fcs:
            for i in range(8):
                b = (byte >> i) & 1
                out.append(b)
                ones = ones + 1 if b else 0
                if ones == 5:
                    out.append(0)
                    ones = 0
        return out + FLAG_BITS

    rx2.feed(to_bytes(raw_frame_bits(bad + bytes([fcs & 0xFF, fcs >> 8])) + FLAG_BITS))
    assert [st for st, _ in rx2.frames] == [lib.LINE_HDLC_BAD_FCS]
    # lengths: exactly LINE_HDLC_MAX is good, one more is BAD_LENGTH; one octet between flags is BAD_LENGTH
    rx3 = HdlcRx()
    big = bytes(range(256)) + bytes(24)
    assert len(big) == lib.LINE_HDLC_MAX
    rx3.feed(to_bytes(hdlc_encode([big, big + b"x"]) + raw_frame_bits(b"\x55")))
    assert [st for st, _ in rx3.frames] == [lib.LINE_HDLC_GOOD, lib.LINE_HDLC_BAD_LENGTH,
                                           lib.LINE_HDLC_BAD_LENGTH]
    assert rx3.good() == [big]
    # not a whole number of octets between flags: BAD_LENGTH, never good
    rx4 = HdlcRx()
    fb = raw_frame_bits(good + bytes([fcs & 0xFF, fcs >> 8]))
    rx4.feed(to_bytes(fb[:30] + [0, 1, 0] + fb[30:]))
    assert rx4.frames and all(st != lib.LINE_HDLC_GOOD for st, _ in rx4.frames)
    # flags sharing their zero (011111101111110) and long idle ones are not frames
    rx5 = HdlcRx()
    rx5.feed(to_bytes([0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0] + [1] * 40 + hdlc_encode([good])))
    assert rx5.good() == [good] and len(rx5.frames) == 1


def test_hdlc_bit_errors_never_deliver_a_bad_frame_as_good():
    """Q.703 / ISO 3309: every corrupted frame must be caught by the FCS. FCS-16 misses a random corruption
    with probability ~2^-16, so tens of thousands of corrupted frames are sent: a weaker check (e.g. 8 bits)
    would let hundreds through. A good frame that matches no sent frame is a failure unless the reference
    FCS confirms it is a genuine collision (valid FCS on different content)."""
    rng = np.random.default_rng(3)
    nframes, ber = 60000, 1.5e-3
    tx, rx = HdlcTx(), HdlcRx()
    state = ffi.new("uint64_t *", 0x9E3779B97F4A7C15)
    flips = ffi.new("uint64_t *", 0)
    sent = set()
    lengths = rng.integers(0, lib.LINE_HDLC_MAX + 1, nframes)
    blob = rng.integers(0, 256, int(lengths.sum()), dtype=np.uint8).tobytes()
    pos, total_octets = 0, 0
    for start in range(0, nframes, 64):
        batch = []
        for n in lengths[start:start + 64]:
            f = blob[pos:pos + n]
            pos += n
            batch.append(f)
            sent.add(f)
            assert tx.queue(f) == 0
        total_octets += lib.t_hdlc_pipe(tx.s, rx.s, tx.s.frames_sent + len(batch), ber, state, flips, 10**9)
    statuses = [st for st, _ in rx.frames]
    n_good = statuses.count(lib.LINE_HDLC_GOOD)
    n_bad = len(statuses) - n_good
    collisions = 0
    for st, raw in rx.frames:
        if st != lib.LINE_HDLC_GOOD:
            continue
        payload = raw[:-2]
        if payload in sent:
            continue
        # not a sent frame: acceptable only as a genuine FCS-16 collision
        fcs = fcs16_reference(payload)
        assert raw[-2:] == bytes([fcs & 0xFF, fcs >> 8]), "corrupted frame delivered as good with a wrong FCS"
        collisions += 1
    p_frame_hit = 1 - (1 - ber) ** (8 * (lengths.mean() + 3))
    print(f"\nHDLC under BER {ber}: {nframes} frames, {flips[0]} bit errors, good {n_good}, "
          f"bad/aborted/bad-length {n_bad}, genuine FCS collisions {collisions}")
    assert flips[0] > nframes * 0.5
    assert n_good > nframes * (1 - p_frame_hit) * 0.9        # clean frames do get through
    assert n_bad > nframes * p_frame_hit * 0.5                # and corrupted ones are caught
    # a genuine 16-bit FCS lets ~n_bad / 65536 through; allow generous statistical slack, far below what a
    # weaker check would show (an 8-bit check: ~n_bad / 256)
    assert collisions <= 4 + 5 * n_bad / 65536
    assert rx.s.good == n_good and rx.s.bad_fcs + rx.s.aborts + rx.s.bad_length == n_bad


# ------------------------------------------------------------------ E1 transmit structure
def test_e1_tx_frame_structure_and_crc4_against_reference():
    rng = np.random.default_rng(4)
    n = 64
    payload = random_voice(rng, n)
    tx = E1Tx(crc4=True, ts16=CAS)
    for ts in CAS_TS:
        tx.s.abcd[ts] = ts % 15 + 1
    out = tx.frames(payload)
    fr = frames_of(out)
    for i, f in enumerate(fr):
        for ts in VOICE_TS:
            assert f[ts] == payload[i * 32 + ts]
        if i % 2 == 0:
            assert f[0] & 0x7F == 0x1B                           # G.704: FAS x0011011
        else:
            assert f[0] & 0x7F == 0x5F                           # NFAS: bit 2 = 1, A = 0, Sa4-8 = 1
        mf = i % 16
        if mf == 0:
            assert f[16] == 0x0B                                 # 0000 X Y X X, X = 1, Y = 0
        else:
            assert f[16] == ((mf % 15 + 1) << 4) | ((mf + 16) % 15 + 1)
    # CRC-4 multiframe: MFAS 001011 in the Si bits of frames 1,3,...,11; E bits (13, 15) = 1
    for m in range(0, n, 16):
        assert [fr[m + k][0] >> 7 for k in (1, 3, 5, 7, 9, 11)] == [0, 0, 1, 0, 1, 1]
        assert [fr[m + k][0] >> 7 for k in (13, 15)] == [1, 1]
    # C1..C4 in the FAS frames of each sub-multiframe = CRC-4 of the previous one, C-bit positions as 0
    for smf in range(1, n // 8):
        prev = bytearray(b"".join(fr[(smf - 1) * 8:smf * 8]))
        for k in range(0, 8, 2):
            prev[k * 32] &= 0x7F
        want = crc4_reference(to_bits(bytes(prev)))
        got = [fr[smf * 8 + k][0] >> 7 for k in (0, 2, 4, 6)]
        assert got == [(want >> 3) & 1, (want >> 2) & 1, (want >> 1) & 1, want & 1]
    # RAI, Y bit, E bits, AIS
    tx.s.rai = 1
    tx.s.mf_alarm = 1
    tx.s.e_bits = 3
    fr = frames_of(tx.frames(payload[:32 * 32]))              # tx frame counter is at 64: MF aligned
    assert all(f[0] & 0x20 for f in fr[1::2]) and not any(f[0] & 0x20 for f in fr[0::2])
    assert fr[0][16] == 0x0F and fr[16][16] == 0x0F
    assert [fr[k][0] >> 7 for k in (13, 15, 29, 31)] == [0, 0, 0, 1]
    tx.s.ais = 1
    assert tx.frames(payload[:32 * 4]) == b"\xff" * 128
    # CAS 0000 is never sent (G.704 5.1.3.2: it would imitate the MFAS): sent as 0001
    tx2 = E1Tx(ts16=CAS)
    tx2.s.abcd[3] = 0
    tx2.s.abcd[19] = 0
    f3 = frames_of(tx2.frames(bytes(32 * 16)))[3]
    assert f3[16] == 0x11
    assert all(f[16] >> 4 for f in frames_of(tx2.frames(bytes(32 * 16)))[1:])
    # no CRC-4: Si bits are 1
    tx3 = E1Tx(crc4=False, ts16=CLEAR)
    fr3 = frames_of(tx3.frames(payload[:32 * 16]))
    assert all(f[0] >> 7 == 1 for f in fr3)
    assert [f[16] for f in fr3] == [payload[i * 32 + 16] for i in range(16)]


# ------------------------------------------------------------------ E1 alignment
def expected_fa_bits(k):
    """G.706 4.1.2 from a stream whose first k bits were dropped: FAS frames start at multiples of 512 bits;
    the first one at or after k is found, bit 2 = 1 checked in the next frame, and alignment is declared when
    the FAS of the frame after that has arrived: 8 bits into the frame two frames later."""
    first = 0 if k == 0 else 512 * math.ceil(k / 512)
    return first, first + 512 + 8 - k


@pytest.mark.parametrize("crc4", [False, True])
def test_e1_alignment_from_every_bit_offset(crc4):
    """Every bit offset in a double frame (0..511). With voice that cannot imitate the FAS, alignment comes
    exactly when G.706 says (at most 4.03 frames of line bits); in CRC-4 mode LOF clears when the second
    CRC-4 MFAS (G.706 4.2) has been seen, 16 frames after the first, well within 8 ms."""
    rng = np.random.default_rng(5)
    n = 80
    tx = E1Tx(crc4=crc4, ts16=CAS)
    sent = tx.frames(quiet_voice(rng, n))
    worst = 0
    for k in range(512):
        rx = E1Rx(crc4=crc4, ts16=CAS)
        out = rx.feed(drop_bits(sent, k))
        first, bits_needed = expected_fa_bits(k)
        a = first // 256 + 2                     # the frame whose TS0 completes frame alignment
        # frames are written from frame alignment on, starting with that frame, and match what was sent
        assert match_run(out, sent) == a, k
        assert len(out) // 32 >= n - a - 2
        cleared = alarm_at(rx, lambda al: not al & LOF)
        assert cleared is not None
        if not crc4:
            assert cleared[0] == math.ceil(bits_needed / 8), k
        else:
            # the MFAS of multiframe m needs Si of frames 16m+1..16m+11 after alignment; the second one is
            # 16 frames later: CRC-4 multiframe alignment at the end of frame 16m+27
            m = math.ceil(a / 16)
            assert cleared[0] == math.ceil(((16 * m + 28) * 256 - k) / 8), k
            assert (16 * m + 27) - a < 64                       # G.706 4.2: within 8 ms of frame alignment
            assert not cleared[1] & LOCRC
        worst = max(worst, cleared[0] * 8 / 256)
        assert rx.s.aligned == 1 and rx.s.alarms == 0
        assert rx.s.fas_errors == 0
    print(f"\nworst time to alignment ({'CRC-4' if crc4 else 'basic'}): {worst:.2f} frames of line bits")
    assert worst <= (4.04 if not crc4 else 44)


def test_e1_alignment_with_random_leading_junk_and_imitating_voice():
    """Random junk before the signal and random voice (which can imitate the FAS) can cause a spurious
    alignment, as on a real line without CRC-4 (G.706 A.1.1). What is guaranteed: with no spurious alignment the
    time is exactly G.706's; a spurious one is always dropped (G.706 4.1.1: three incorrect FAS, or three NFAS
    with bit 2 = 0) and the receiver ends correctly aligned with bit-exact frames; the extra time is reported.
    ABCD values are China No.1 line signals (C = D = 1): arbitrary constant ABCD values can make TS16 itself a
    persistent FAS imitation (e.g. 0001/1011 -> 0x1B in every other frame)."""
    rng = np.random.default_rng(6)
    spurious_total, trials, extra = 0, 120, []
    china = [0b1011, 0b0011, 0b1111, 0b0111]
    for t in range(trials):
        tx = E1Tx(crc4=False, ts16=CAS)
        for ts in CAS_TS:
            tx.s.abcd[ts] = china[int(rng.integers(0, 4))]
        n = 60
        sent = tx.frames(random_voice(rng, n))
        j = int(rng.integers(1, 3000))
        junk = rng.integers(0, 2, j).astype(np.uint8)
        stream = to_bytes(np.concatenate([junk, to_bits(sent)]))
        rx = E1Rx(ts16=CAS)
        cut = int(rng.integers(1, len(stream)))
        out = rx.feed(stream[:cut]) + rx.feed(stream[cut:])      # split anywhere: state carries over
        fr = frames_of(out)
        good_from = next(i for i in range(len(fr)) if match_run(b"".join(fr[i:]), sent) is not None)
        spurious = rx.s.realignments - 1
        spurious_total += spurious
        m = match_run(b"".join(fr[good_from:]), sent)
        exact_bits = j + 520                                     # FAS in frame 0, 1, 2 of the signal
        last_clear = [nb for nb, a in timed_transitions(rx, LOF) if not a][-1]
        assert m + len(fr) - good_from >= n - 1          # correct to the end of the signal
        assert rx.s.aligned and not rx.s.alarms
        if spurious == 0:
            # exact, or earlier when the junk happens to imitate FAS/NFAS in phase with the real frames
            # (then it is still the right alignment: the frames match)
            assert last_clear <= math.ceil(exact_bits / 8)
        else:
            extra.append((last_clear * 8 - exact_bits) / 256)
    print(f"\nspurious alignments in {trials} trials with random junk and voice: {spurious_total}; "
          f"extra frames to the right alignment: {sorted(extra)}")
    assert len(extra) < trials // 5 and max(extra, default=0) < 30


def transitions(rx, mask):
    """The successive values of (alarms & mask) as reported, repeats collapsed."""
    return [v for _, v in timed_transitions(rx, mask)]


def timed_transitions(rx, mask):
    """(bytes consumed, alarms & mask) each time the masked alarms change (the first report included)."""
    out = []
    for nb, a in rx.alarm_events:
        if not out or out[-1][1] != a & mask:
            out.append((nb, a & mask))
    return out


def corrupt_fas(data: bytearray, frame: int):
    data[frame * 32] ^= 0x01            # bit 8 of the FAS


def test_lof_after_three_consecutive_bad_fas_and_realignment():
    rng = np.random.default_rng(7)
    tx = E1Tx(ts16=CAS)
    n = 120
    sent = tx.frames(quiet_voice(rng, n))
    data = bytearray(sent)
    for f in (20, 22, 30, 32, 36, 38):    # two in a row, then 2 + good + 2: never three consecutive
        corrupt_fas(data, f)
    for f in (60, 62, 64):                # three consecutive incorrect FAS (G.706 4.1.1)
        corrupt_fas(data, f)
    rx = E1Rx(ts16=CAS)
    out = rx.feed(bytes(data))
    lof = [(nb, a) for nb, a in rx.alarm_events if a & LOF]
    first_clear = alarm_at(rx, lambda a: not a & LOF)
    assert first_clear[0] == 2 * 32 + 1                 # aligned at frame 2's TS0
    lost = alarm_at(rx, lambda a: a & LOF, start=first_clear[0] + 1)
    assert lost is not None and lost[0] == 65 * 32      # at the end of frame 64, the third bad FAS
    assert rx.s.fas_errors == 9
    # new search: FAS in frame 66, bit 2 in 67, FAS in 68 -> realigned when frame 68's TS0 arrives
    again = alarm_at(rx, lambda a: not a & LOF, start=lost[0] + 1)
    assert again[0] == 68 * 32 + 1
    # frames written: 2..63, then 68.. (frames 20..38 are written despite their bad FAS: still aligned)
    fr = frames_of(out)
    # (the frame with the third bad FAS is not written: alignment is lost with it)
    assert fr[:62] == [bytes(data[i * 32:(i + 1) * 32]) for i in range(2, 64)]
    assert fr[62:] == frames_of(sent)[68:]


def test_lof_after_three_nfas_with_bit2_zero():
    rng = np.random.default_rng(20)
    tx = E1Tx(ts16=CAS)
    data = bytearray(tx.frames(quiet_voice(rng, 100)))
    for f in (21, 23, 41, 43, 47):                  # never three consecutive
        data[f * 32] &= ~0x40 & 0xFF
    rx = E1Rx(ts16=CAS)
    rx.feed(bytes(data))
    assert transitions(rx, LOF) == [0]
    for f in (61, 63, 65):                          # three consecutive NFAS with bit 2 = 0 (G.706 4.1.1)
        data[f * 32] &= ~0x40 & 0xFF
    rx = E1Rx(ts16=CAS)
    rx.feed(bytes(data))
    # lost at the end of frame 65; FAS 66, NFAS 67, FAS 68 realign
    assert timed_transitions(rx, LOF)[1:] == [(66 * 32, LOF), (68 * 32 + 1, 0)]


def test_frame_slip_causes_lof_and_realignment_at_the_new_offset():
    rng = np.random.default_rng(8)
    tx = E1Tx(ts16=CAS)
    sent = tx.frames(quiet_voice(rng, 120))
    bits = to_bits(sent)
    slip_at = 50 * 256 + 100
    stream = to_bytes(np.concatenate([bits[:slip_at], bits[slip_at + 3:]]))   # three bits lost
    rx = E1Rx(ts16=CAS)
    out = rx.feed(stream)
    assert transitions(rx, LOF) == [0, LOF, 0]
    assert rx.s.bit_offset == (8 - 3) % 8 and rx.s.aligned
    # after realignment the frames are again bit-exact copies of what was sent
    tail = frames_of(out)[-30:]
    assert match_run(b"".join(tail), sent) is not None


# ------------------------------------------------------------------ CRC-4
def test_crc4_errors_counted_exactly_and_zero_when_clean():
    rng = np.random.default_rng(9)
    n = 800
    tx = E1Tx(crc4=True, ts16=CAS)
    sent = tx.frames(random_voice(rng, n))
    rx = E1Rx(crc4=True, ts16=CAS)
    rx.feed(drop_bits(sent, 77))
    assert rx.s.crc_aligned and rx.s.crc_errors == 0 and rx.s.e_bit_errors == 0 and rx.s.fas_errors == 0

    # one bit error in each of a set of sub-multiframes after alignment (frames >= 64): every single-bit error
    # is detected by CRC-4 (G.706 4.3), so the count equals the number of sub-multiframes hit
    data = bytearray(sent)
    hit_smfs = sorted(rng.choice(np.arange(8, n // 8 - 2), 40, replace=False))
    for smf in hit_smfs:
        f = smf * 8 + int(rng.integers(0, 8))
        ts = int(rng.choice([1, 5, 16, 31] + ([0] if f % 2 else [])))   # TS0 only in NFAS frames (Sa bits)
        bit = int(rng.integers(0, 8)) if ts else int(rng.integers(3, 8))
        data[f * 32 + ts] ^= 0x80 >> bit
    rx = E1Rx(crc4=True, ts16=CAS)
    rx.feed(drop_bits(bytes(data), 77))
    assert rx.s.crc_errors == len(hit_smfs)
    assert rx.s.fas_errors == 0 and rx.s.aligned and rx.s.crc_aligned

    # E bits: the far end reports our errored sub-multiframes (G.704 2.3.3.4)
    tx2 = E1Tx(crc4=True, ts16=CAS)
    rx2 = E1Rx(crc4=True, ts16=CAS)
    rx2.feed(tx2.frames(random_voice(rng, 64)))
    tx2.s.e_bits = 5
    rx2.feed(tx2.frames(random_voice(rng, 64)))
    assert rx2.s.e_bit_errors == 5 and rx2.s.crc_errors == 0


def test_crc4_false_alignment_rules():
    # G.706 4.3.2: 915 or more errored CRC-4 blocks in 1000 -> frame alignment assumed false, search again
    rng = np.random.default_rng(10)
    tx = E1Tx(crc4=True, ts16=CLEAR)
    n = 8 * 1000 + 200
    sent = bytearray(tx.frames(random_voice(rng, n)))
    for smf in range(n // 8):
        sent[(smf * 8 + 3) * 32 + 9] ^= 0x10          # every sub-multiframe errored
    rx = E1Rx(crc4=True, ts16=CLEAR)
    rx.feed(bytes(sent))
    assert transitions(rx, LOF)[:3] == [0, LOF, 0], "no re-search after 1000 errored blocks"
    aligned_at = alarm_at(rx, lambda a: not a & LOF)[0]
    lost = alarm_at(rx, lambda a: a & LOF)[0]
    # CRC-4 multiframe alignment ends with frame A; the first whole sub-multiframe starts at the next multiple
    # of 8; its CRC is checked against the C bits of the one after: the 1000th check ends 1000 SMFs later
    a_frame = aligned_at // 32 - 1
    first_smf = (a_frame // 8 + 1) * 8
    assert lost == (first_smf + 8 + 8 * 1000) * 32
    # half the blocks errored: no re-search
    sent2 = bytearray(tx.frames(random_voice(rng, n)))
    for smf in range(0, n // 8, 2):
        sent2[(smf * 8 + 3) * 32 + 9] ^= 0x10
    rx2 = E1Rx(crc4=True, ts16=CLEAR)
    rx2.feed(bytes(sent2))
    assert [a & LOF for _, a in rx2.alarm_events] == [0]
    assert 400 <= rx2.s.crc_errors <= 520
    # CRC-4 receiver facing a non-CRC-4 transmitter: no CRC-4 multiframe within 8 ms, so each frame alignment
    # is taken as spurious (G.706 4.2): LOF and LOCRC stay raised
    tx3 = E1Tx(crc4=False, ts16=CAS)
    rx3 = E1Rx(crc4=True, ts16=CAS)
    rx3.feed(tx3.frames(quiet_voice(rng, 400)))
    assert rx3.s.alarms & LOF and rx3.s.alarms & LOCRC
    assert rx3.s.realignments >= 4


# ------------------------------------------------------------------ CAS
def test_cas_abcd_all_channels_round_trip():
    rng = np.random.default_rng(11)
    tx, rx = E1Tx(ts16=CAS), E1Rx(ts16=CAS)
    values = {ts: int(rng.integers(1, 16)) for ts in CAS_TS}
    for ts, v in values.items():
        tx.s.abcd[ts] = v
    rx.feed(drop_bits(tx.frames(random_voice(rng, 80)), 13))
    assert {ts: rx.s.abcd[ts] for ts in CAS_TS} == values
    assert {(ts, v) for _, ts, v in rx.abcd_events} == set(values.items())
    # 0000 is sent as 0001 (documented: it would imitate the MFAS)
    tx.s.abcd[7] = 0
    rx2 = E1Rx(ts16=CAS)
    rx2.feed(tx.frames(random_voice(rng, 80)))
    assert rx2.s.abcd[7] == 1
    # distant multiframe alarm (Y bit) crosses
    tx.s.mf_alarm = 1
    rx3 = E1Rx(ts16=CAS)
    rx3.feed(tx.frames(random_voice(rng, 64)))
    assert rx3.s.mf_remote_alarm == 1 and rx3.s.mf_aligned


def test_abcd_change_reaches_far_side_within_two_multiframes():
    """Issue 3: an ABCD change reaches the far side within two multiframes. A change is made before tx frame
    c; the receiver reports it (debounce: the same value in two consecutive multiframes) while processing
    frame c + L - 1. For every channel and every multiframe phase: 17 <= L <= 32 frames (the lower bound shows
    the debounce: one multiframe is not enough)."""
    rng = np.random.default_rng(12)
    tx, rx = E1Tx(ts16=CAS), E1Rx(ts16=CAS)
    for ts in CAS_TS:
        tx.s.abcd[ts] = 0xB
    rx.feed(tx.frames(random_voice(rng, 48)))
    assert rx.s.mf_aligned and not rx.s.alarms
    frame = 48
    latencies = []
    for ts in CAS_TS:
        for phase in range(16):
            pad = (phase - frame) % 16
            rx.feed(tx.frames(random_voice(rng, pad)))
            frame += pad
            new = int(rng.integers(1, 16))
            while new == tx.s.abcd[ts]:
                new = int(rng.integers(1, 16))
            tx.s.abcd[ts] = new
            before = len(rx.abcd_events)
            rx.feed(tx.frames(random_voice(rng, 40)))
            ev = rx.abcd_events[before:]
            assert [(t, v) for _, t, v in ev] == [(ts, new)], (ts, phase, ev)
            done_frame = (ev[0][0] - 1) // 32
            latencies.append(done_frame - frame + 1)
            frame += 40
    print(f"\nABCD change latency over 30 channels x 16 phases: min {min(latencies)} max {max(latencies)} frames")
    assert min(latencies) == 17 and max(latencies) == 32


def test_abcd_single_multiframe_glitch_is_not_reported():
    rng = np.random.default_rng(13)
    tx, rx = E1Tx(ts16=CAS), E1Rx(ts16=CAS)
    rx.feed(tx.frames(random_voice(rng, 64)))          # tx frame counter 64: MF frame 0 next
    base = len(rx.abcd_events)
    rx.feed(tx.frames(random_voice(rng, 2)))           # frames 0, 1 (channel 1 sent in frame 1)
    tx.s.abcd[2] = 0x3                                 # channel 2: only in frame 2 of this multiframe
    rx.feed(tx.frames(random_voice(rng, 1)))
    tx.s.abcd[2] = 0xB
    rx.feed(tx.frames(random_voice(rng, 60)))
    assert rx.abcd_events[base:] == []
    assert rx.s.abcd[2] == 0xB


def test_cas_multiframe_loss_after_two_errored_mfas_and_recovery():
    rng = np.random.default_rng(14)
    tx = E1Tx(ts16=CAS)
    n = 200
    data = bytearray(tx.frames(random_voice(rng, n)))
    data[48 * 32 + 16] |= 0x40                         # one errored MFAS: tolerated
    data[96 * 32 + 16] |= 0x80                         # two consecutive errored MFAS (G.732 5.2)
    data[112 * 32 + 16] |= 0x20
    rx = E1Rx(ts16=CAS)
    rx.feed(bytes(data))
    mf = [(nb, a & LOMF) for nb, a in rx.alarm_events]
    first_ok = next(nb for nb, a in mf if not a)
    assert first_ok == 17 * 32                         # MFAS in frame 16 (frame 15's TS16 is not 0000)
    lomf = [nb for nb, a in mf if a and nb > first_ok]
    assert lomf == [113 * 32]                          # end of frame 112
    # recovery at the next good MFAS (frame 128) whose preceding TS16 holds ABCD (not all zeros)
    assert [nb for nb, a in mf if not a and nb > lomf[0]] == [129 * 32]


# ------------------------------------------------------------------ alarms: AIS, LOS, RAI
def test_ais_detected_and_cleared():
    rng = np.random.default_rng(15)
    tx = E1Tx(ts16=CAS)
    parts = [tx.frames(quiet_voice(rng, 40))]
    tx.s.ais = 1
    parts.append(tx.frames(quiet_voice(rng, 40)))
    tx.s.ais = 0
    parts.append(tx.frames(quiet_voice(rng, 40)))
    rx = E1Rx(ts16=CAS)
    out = rx.feed(b"".join(parts))
    lof = alarm_at(rx, lambda a: a & LOF, start=100)
    assert lof[0] == 45 * 32                           # third incorrect FAS: frames 40, 42, 44
    ais = alarm_at(rx, lambda a: a & AIS)
    # G.775: <= 2 zeros in each of two consecutive 512-bit periods, counted while out of alignment
    assert ais[0] == 45 * 32 + 2 * 64 and ais[1] & LOF
    cleared = alarm_at(rx, lambda a: not a & (AIS | LOF), start=ais[0] + 1)
    assert cleared[0] == 82 * 32 + 1                   # FAS found (frames 80, 81, 82) clears AIS (G.775)
    assert not rx.s.alarms
    assert frames_of(out)[-38:] == frames_of(parts[2])[2:]
    # random unframed data is LOF but never AIS
    rx2 = E1Rx(ts16=CAS)
    rx2.feed(random_voice(rng, 100))
    assert not any(a & AIS for _, a in rx2.alarm_events)


def test_los_detected_and_cleared_then_realigned():
    rng = np.random.default_rng(16)
    tx = E1Tx(ts16=CAS)
    sent = tx.frames(quiet_voice(rng, 100))
    data = bytearray(sent)
    data[40 * 32:60 * 32] = bytes(20 * 32)             # cable cut for 20 frames
    rx = E1Rx(ts16=CAS)
    out = rx.feed(bytes(data))
    bits = to_bits(bytes(data))
    last_one = int(np.nonzero(bits[:40 * 256])[0][-1])
    los = alarm_at(rx, lambda a: a & LOS)
    assert los[0] == (last_one + 255) // 8 + 1         # G.775: 255 consecutive zeros
    lof = alarm_at(rx, lambda a: a & LOF, start=100)
    assert lof[0] == 45 * 32                           # three incorrect FAS: 40, 42, 44
    clear = alarm_at(rx, lambda a: not a & LOS, start=los[0] + 1)
    # cleared by a 256-bit window with >= 12.5 % ones after the byte that ends the zero run
    assert clear[0] == 60 * 32 + 1 + 32
    realigned = alarm_at(rx, lambda a: not a & LOF, start=clear[0])
    assert realigned[0] == 62 * 32 + 1
    assert frames_of(out)[-38:] == frames_of(sent)[62:]


@pytest.mark.parametrize("zeros, ais", [(0, True), (1, True), (2, True), (3, False), (8, False)])
def test_ais_threshold_two_zeros_per_512_bits(zeros, ais):
    """G.775: AIS when each of two consecutive 512-bit periods has two or fewer zeros (out of alignment)."""
    window = np.ones(512, np.uint8)
    window[np.linspace(10, 500, zeros).astype(int) if zeros else []] = 0
    rx = E1Rx()
    rx.feed(to_bytes(np.tile(window, 6)))
    assert bool(rx.s.alarms & AIS) == ais
    if ais:
        assert alarm_at(rx, lambda a: a & AIS)[0] == 2 * 64
        # cleared by two consecutive periods with three or more zeros
        window[[100, 200, 300]] = 0
        rx.feed(to_bytes(np.tile(window, 2)))
        assert not rx.s.alarms & AIS and alarm_at(rx, lambda a: not a & AIS)[0] == 8 * 64


def test_cas_multiframe_needs_nonzero_ts16_before_the_mfas():
    """G.732 5.2: the MFAS counts only if TS16 of the preceding frame is not all zeros; TS16 all zeros for a
    multiframe is a loss of multiframe alignment (a far end that sends no CAS never looks aligned)."""
    rng = np.random.default_rng(21)
    tx = E1Tx(ts16=CLEAR)                             # TS16 from the payload: all zeros
    payload = bytearray(quiet_voice(rng, 64))
    for f in range(64):
        payload[f * 32 + 16] = 0
    rx = E1Rx(ts16=CAS)
    rx.feed(tx.frames(bytes(payload)))
    assert rx.s.aligned and not rx.s.mf_aligned and rx.s.alarms == LOMF
    # a CAS far end: aligned; then its TS16 goes all zero: LOMF after 16 frames (one multiframe)
    tx2 = E1Tx(ts16=CAS)
    rx2 = E1Rx(ts16=CAS)
    rx2.feed(tx2.frames(bytes(payload)))
    assert rx2.s.mf_aligned
    tx2.s.ts16 = CLEAR
    rx2.feed(tx2.frames(bytes(payload)))
    assert timed_transitions(rx2, LOMF)[-1] == ((64 + 16) * 32, LOMF)


@pytest.mark.parametrize("run, los", [(248, False), (254, False), (255, True), (300, True)])
def test_los_threshold_is_255_zeros(run, los):
    bits = [1] * 600 + [0] * run + [1] * 600
    rx = E1Rx()
    rx.feed(to_bytes(bits))
    assert any(a & LOS for _, a in rx.alarm_events) == los


@pytest.mark.parametrize("ones, cleared", [(4, False), (31, False), (32, True), (64, True)])
def test_los_cleared_only_by_12_5_percent_ones_density(ones, cleared):
    """G.775 LOS clearing: a 256-bit period with at least 12.5 % ones (32) and no run of 255 zeros."""
    period = np.zeros(256, np.uint8)
    period[np.linspace(0, 255, ones).astype(int)] = 1
    rx = E1Rx()
    rx.feed(to_bytes(np.concatenate([np.ones(64, np.uint8), np.zeros(400, np.uint8), np.tile(period, 8)])))
    assert transitions(rx, LOS) == ([LOS, 0] if cleared else [LOS])


def test_rai_follows_the_a_bit():
    rng = np.random.default_rng(17)
    tx, rx = E1Tx(ts16=CAS), E1Rx(ts16=CAS)
    rx.feed(tx.frames(quiet_voice(rng, 40)))
    tx.s.rai = 1
    rx.feed(tx.frames(quiet_voice(rng, 40)))
    on = alarm_at(rx, lambda a: a & RAI)
    assert on[0] == 44 * 32                            # A = 1 in two consecutive NFAS frames: 41, 43
    tx.s.rai = 0
    rx.feed(tx.frames(quiet_voice(rng, 40)))
    off = alarm_at(rx, lambda a: not a & RAI, start=on[0] + 1)
    assert off[0] == 84 * 32


# ------------------------------------------------------------------ payload across the line
@pytest.mark.parametrize("ts16, crc4", [(CAS, False), (CAS, True), (CCS, False), (CLEAR, True)])
def test_voice_timeslots_bit_exact(ts16, crc4):
    rng = np.random.default_rng(18 + ts16)
    tx, rx = E1Tx(crc4=crc4, ts16=ts16), E1Rx(crc4=crc4, ts16=ts16)
    htx = HdlcTx()
    if ts16 == CCS:
        tx.s.hdlc[16] = htx.s
    n = 400
    payload = random_voice(rng, n)
    sent = tx.frames(payload)
    stream = drop_bits(sent, int(rng.integers(1, 2048)))
    out, pos = [], 0
    while pos < len(stream):                           # arbitrary chunking: partial frames across calls
        step = int(rng.integers(1, 200))
        out.append(rx.feed(stream[pos:pos + step]))
        pos += step
    out = b"".join(out)
    m = match_run(out, sent)
    assert m is not None and m < 100
    assert len(out) // 32 >= n - m - 2
    fr = frames_of(out)
    slots = VOICE_TS + ([16] if ts16 == CLEAR else [])
    for i, f in enumerate(fr):
        for ts in slots:
            assert f[ts] == payload[(m + i) * 32 + ts]


def test_ccs_hdlc_link_on_ts16_and_a_bearer_timeslot():
    rng = random.Random(19)
    tx, rx = E1Tx(ts16=CCS), E1Rx(ts16=CCS)
    htx16, hrx16, htx7, hrx7 = HdlcTx(), HdlcRx(), HdlcTx(), HdlcRx()
    tx.s.hdlc[16], rx.s.hdlc[16] = htx16.s, hrx16.s
    tx.s.hdlc[7], rx.s.hdlc[7] = htx7.s, hrx7.s
    npr = np.random.default_rng(19)
    stream_offset_bits = 5
    carry = []

    def run(nframes):
        payload = random_voice(npr, nframes)
        sent = tx.frames(payload)
        bits = carry + to_bits(sent).tolist()
        whole = len(bits) - len(bits) % 8
        carry[:] = bits[whole:]
        rx.feed(to_bytes(bits[:whole]))
        return payload, sent

    carry.extend([1] * stream_offset_bits)
    run(16)                                            # align first: frames before alignment would be lost
    assert rx.s.aligned
    frames16 = [special_payload(rng, rng.randrange(0, 281)) for _ in range(300)]
    frames7 = [rng.randbytes(rng.randrange(3, 60)) for _ in range(100)]
    i16 = i7 = 0
    for _ in range(400):
        while i16 < len(frames16) and htx16.queue(frames16[i16]) == 0:
            i16 += 1
        while i7 < len(frames7) and htx7.queue(frames7[i7]) == 0:
            i7 += 1
        run(160)
        if i16 == len(frames16) and i7 == len(frames7) and htx16.s.count == 0 and htx7.s.count == 0:
            run(400)
            break
    assert hrx16.good() == frames16
    assert hrx7.good() == frames7
    assert all(st == lib.LINE_HDLC_GOOD for st, _ in hrx16.frames + hrx7.frames)


# ------------------------------------------------------------------ robustness, speed
def test_bad_input_never_crashes():
    lib.line_hdlc_tx_init(ffi.NULL)
    lib.line_hdlc_rx_init(ffi.NULL, ffi.NULL, ffi.NULL)
    lib.line_e1_tx_init(ffi.NULL, 1, 1)
    lib.line_e1_rx_init(ffi.NULL, 1, 1)
    assert lib.line_hdlc_tx_queue(ffi.NULL, b"ab", 2) == -1
    assert lib.line_hdlc_tx_octet(ffi.NULL) == 0x7E
    lib.line_hdlc_rx_octet(ffi.NULL, 0x7E)
    lib.line_hdlc_tx_idle_repeat(ffi.NULL, 1)
    tx = E1Tx(ts16=99)                                 # unknown TS16 mode: CAS
    assert tx.s.ts16 == CAS
    out = ffi.new("uint8_t[64]")
    lib.line_e1_tx_frames(tx.s, ffi.NULL, 0, out, 2)  # no payload: A-law idle 0xD5 in voice timeslots
    assert bytes(out)[1] == 0xD5 and bytes(out)[33] == 0xD5
    lib.line_e1_tx_frames(tx.s, ffi.NULL, 0, ffi.NULL, 5)
    lib.line_e1_tx_frames(tx.s, ffi.NULL, 0, out, -3)
    rx = E1Rx()
    assert lib.line_e1_rx_bits(ffi.NULL, b"x", 1, ffi.NULL, 0) == 0
    assert lib.line_e1_rx_bits(rx.s, ffi.NULL, 100, out, 2) == 0
    sent = E1Tx().frames(bytes(32 * 20))
    assert lib.line_e1_rx_bits(rx.s, sent, len(sent), ffi.NULL, 5) == 0   # no output buffer: nothing written
    assert rx.s.aligned
    assert lib.line_e1_rx_bits(rx.s, sent, len(sent), out, -1) == 0
    assert lib.line_e1_rx_bits(rx.s, sent, len(sent), out, 1) == 1        # never more than max_frames


@pytest.mark.parametrize("crc4, ts16", [(0, CAS), (1, CCS)])
def test_benchmark_driver_runs(crc4, ts16):
    """Not a timed test: the benchmark driver (python3 tests/hwsim_native/linelib.py) works and moves traffic."""
    ok = ffi.new("int *")
    cpu = lib.t_bench_span(crc4, ts16, 16000, ok)
    assert ok[0] == 1 and cpu > 0
    print(f"\n{'CRC4 ' if crc4 else ''}{'CCS' if ts16 == CCS else 'CAS'}: {16000 / cpu / 1e6:.2f} M frames/s tx+rx")
