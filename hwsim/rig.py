"""The loopback rig: two simulated boards joined by E1 cables, analogue far ends, and the selftest checks.

Everything goes through the driver API (``ctid.drivers``: the registry, boards, whole blocks, events); the
world (cables, faults, far ends, the clock) comes from the hwsim backend found in that registry. Expectations
are always derived from what the rig itself sent: random voice patterns, ABCD values, HDLC payloads, caller-ID
numbers and DTMF digits.

Board A (id 0, "the daemon's board"): N E1 spans plus analogue ports (FXS with a telephone, FXO on an
exchange line). Board B (id 1, "the far end"): N E1 spans. Span s of A is cabled to span s of B. Spans alternate
CAS and CCS (TS16) and CRC-4 on/off so that every combination appears from four spans on.
"""
from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from ctid.drivers import (
    BLOCK_FRAMES, E1_SLOTS, VOICE_TIMESLOTS, AbcdEvent, Alarm, AlarmEvent, DriverError, FlashEvent, HdlcEvent,
    HookEvent, PolarityEvent, RingEvent, Signalling, SpanConfig, get_backend, open_board,
)

A, B = 0, 1
RATE = 8000
MF_FRAMES = 16                      # G.704 5.1.3.2: the CAS multiframe is 16 frames
DOWN = Alarm.LOS | Alarm.LOF | Alarm.AIS


def span_plan(nspans: int) -> list[SpanConfig]:
    """Span s: CAS on even spans, CCS on odd ones; CRC-4 on spans 1 and 2 of every four."""
    return [SpanConfig(crc4=(s % 4) in (1, 2), signalling=Signalling.CCS if s % 2 else Signalling.CAS)
            for s in range(nspans)]


def alaw_table() -> np.ndarray:
    from ctid.dsp.g711 import alaw_decode

    return alaw_decode(np.arange(256, dtype=np.uint8)).astype(np.float64)


def fcs16(data: bytes) -> int:
    """CRC-16/X.25 as HDLC sends it (ISO 3309, Q.703 2.3.5): reflected poly 0x8408, init and xorout 0xFFFF.

    Written bit by bit here on purpose: an independent check of the C tables."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def read_pcap(path: str) -> tuple[int, list[bytes]]:
    """(link type, records) of a classic little-endian microsecond pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: {len(data)} bytes, no pcap global header")
    magic, vmaj, vmin, _, _, snap, linktype = struct.unpack("<IHHiIII", data[:24])
    if magic != 0xA1B2C3D4:
        raise ValueError(f"{path}: magic 0x{magic:08x} is not a little-endian microsecond pcap")
    recs, off = [], 24
    while off < len(data):
        if off + 16 > len(data):
            raise ValueError(f"{path}: truncated record header at {off}")
        _, _, incl, orig = struct.unpack("<IIII", data[off:off + 16])
        if incl != orig or off + 16 + incl > len(data):
            raise ValueError(f"{path}: bad record at {off} ({incl}/{orig} bytes)")
        recs.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return linktype, recs


@dataclass
class CheckResult:
    name: str
    ok: bool
    figures: dict = field(default_factory=dict)
    detail: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        figs = " ".join(f"{k}={_fmt(v)}" for k, v in self.figures.items())
        head = f"{'PASS' if self.ok else 'FAIL'}  {self.name:<16} {figs}"
        return head + (f"  -- {self.detail}" if self.detail else "")

    def as_dict(self) -> dict:
        return {"check": self.name, "result": "PASS" if self.ok else "FAIL", "ok": self.ok, **self.figures,
                "detail": self.detail, "seconds": round(self.seconds, 3)}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


class Rig:
    """Two boards (A with ports, B) joined by ``nspans`` cables in one world with a driven clock."""

    def __init__(self, nspans: int = 2, seed: int = 1, ports: Iterable[str] = ("fxs", "fxo"),
                 plan: list[SpanConfig] | None = None):
        if not 1 <= nspans <= 16:
            raise DriverError(f"the rig takes 1..16 spans, not {nspans}")
        self.nspans = nspans
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.plan = plan or span_plan(nspans)
        self.world = get_backend("hwsim").World(seed)
        self.world.create_board(A, nspans, list(ports))
        self.world.create_board(B, nspans)
        self.a = open_board("hwsim", A, world=self.world, span_config=self.plan)
        self.b = open_board("hwsim", B, world=self.world, span_config=self.plan)
        self.boards = {A: self.a, B: self.b}
        for s in range(nspans):
            self.world.cable(A, s, B, s)
        self.events: dict[int, list] = {A: [], B: []}
        self.errors: list[str] = []
        self.port_kinds = [k.value for k in self.a.info.port_kinds]
        self.fxs = self.port_kinds.index("fxs") if "fxs" in self.port_kinds else None
        self.fxo = self.port_kinds.index("fxo") if "fxo" in self.port_kinds else None
        self.voice = np.array([s * E1_SLOTS + t for s in range(nspans) for t in VOICE_TIMESLOTS])
        self._rx = {A: self.a.new_block(), B: self.b.new_block()}

    def close(self) -> None:
        self.world.close()

    # ---------------------------------------------------------------- running
    def tick(self, n: int = 1, tx: Callable | None = None, rx: Callable | None = None) -> None:
        """Tick n blocks; before each, ``tx(k)`` may return {board: block} to write; after it ``rx(k, {board:
        block})`` gets both boards' received blocks. Events are collected into :attr:`events`. A board that
        fails a call (a dead board) is recorded in :attr:`errors` and its last received block is reused, so
        the checks fail on what they see rather than the rig stopping."""
        for k in range(n):
            if tx is not None:
                for bid, blk in (tx(k) or {}).items():
                    self._guard(bid, self.boards[bid].write_block, blk)
            self.world.tick(1)
            if rx is not None:
                for bid, bd in self.boards.items():
                    self._guard(bid, bd.read_block, self._rx[bid])
                rx(k, self._rx)
            self.drain()

    def _guard(self, bid: int, fn, *args):
        try:
            return fn(*args)
        except DriverError as exc:
            if len(self.errors) < 100:
                self.errors.append(f"board {bid}: {exc}")
            return None

    def drain(self) -> None:
        for bid, bd in self.boards.items():
            self.events[bid].extend(self._guard(bid, bd.events) or ())

    def take(self, board: int, kind=None, since: int = 0) -> list:
        return [e for e in self.events[board] if (kind is None or isinstance(e, kind)) and e.t_frame >= since]

    def spans_up(self) -> bool:
        for bd in self.boards.values():
            for s, sp in enumerate(bd.spans):
                al = sp.alarms
                if al & (DOWN | Alarm.RAI):
                    return False
                if self.plan[s].signalling == Signalling.CAS and al & Alarm.LOMF:
                    return False
                if self.plan[s].crc4 and al & Alarm.LOCRC:
                    return False
        return True

    def settle(self, max_blocks: int = 50) -> int:
        """Tick until every span of both boards is aligned with no alarm; returns the blocks it took."""
        for k in range(max_blocks):
            if k and self.spans_up():
                return k
            self.tick()
        return -1 if not self.spans_up() else max_blocks


# ==================================================================================== checks

def check_alignment(rig: Rig, blocks: int) -> CheckResult:
    bad = []
    for bid, bd in rig.boards.items():
        for s, sp in enumerate(bd.spans):
            al = sp.alarms
            if al:
                bad.append(f"board {bid} span {s}: {'|'.join(al.names())}")
    return CheckResult("alignment", not bad and blocks >= 0,
                       {"spans": rig.nspans * 2, "settle_ms": blocks * 20 if blocks >= 0 else None,
                        "plan": ",".join(f"{c.signalling.value}{'+crc4' if c.crc4 else ''}" for c in rig.plan)},
                       "; ".join(bad))


def _find_offset(sent: np.ndarray, got: np.ndarray, max_off: int) -> int | None:
    """Smallest L with got[L:L+32] == sent[:32] for one column (None if none up to max_off)."""
    key = sent[:32]
    for L in range(max_off + 1):
        if np.array_equal(got[L:L + 32], key):
            return L
    return None


def check_voice(rig: Rig, nblocks: int = 6) -> list[CheckResult]:
    """Every voice timeslot, both directions: a random byte pattern must arrive bit-exact, and a tone (one
    frequency per timeslot) must be found at its frequency and level by a single-bin DFT (Goertzel)."""
    results = []
    cols = rig.voice
    N = BLOCK_FRAMES

    # --- bit-exact: random octets (all 256 values) in every voice timeslot, a different stream per board
    sent = {bid: rig.rng.integers(0, 256, size=(nblocks * N, rig.boards[bid].nchannels), dtype=np.uint8)
            for bid in rig.boards}
    got = {bid: np.zeros((nblocks * N + 2 * N, rig.boards[bid].nchannels), np.uint8) for bid in rig.boards}

    def tx(k):
        if k >= nblocks:
            return None
        return {bid: np.ascontiguousarray(sent[bid][k * N:(k + 1) * N]) for bid in rig.boards}

    def rx(k, blocks):
        for bid in rig.boards:
            got[bid][k * N:(k + 1) * N] = blocks[bid]

    rig.tick(nblocks + 2, tx, rx)
    bad, offsets, checked = [], set(), 0
    for src, dst in ((A, B), (B, A)):
        for s in range(rig.nspans):
            span_cols = [c for c in cols if c // E1_SLOTS == s]
            L = _find_offset(sent[src][:, span_cols[0]], got[dst][:, span_cols[0]], 2 * N)
            if L is None:
                bad.append(f"{src}->{dst} span {s}: pattern not found")
                continue
            offsets.add(L)
            seg = sent[src][:, span_cols]
            rcv = got[dst][L:L + nblocks * N, span_cols]
            diff = np.nonzero((seg != rcv).any(axis=0))[0]
            checked += len(span_cols)
            for i in diff:
                ts = span_cols[i] % E1_SLOTS
                nd = int((seg[:, i] != rcv[:, i]).sum())
                bad.append(f"{src}->{dst} span {s} TS{ts}: {nd} octets differ")
    results.append(CheckResult("voice-bitexact", not bad and checked == 2 * len(cols),
                               {"timeslots": checked, "octets": checked * nblocks * N,
                                "delay_frames": ",".join(map(str, sorted(offsets)))}, "; ".join(bad[:8])))

    # --- tones: 30 distinct frequencies per span (100 Hz steps from 400 Hz: on DFT bins of the window)
    from ctid.dsp.g711 import alaw_encode

    table = alaw_table()
    level_dbm0 = -10.0
    amp = 22827.0 * 10 ** (level_dbm0 / 20)            # 0 dBm0 sine peak 22827 (G.711 A-law, ctid_dsp.h)
    freqs = np.array([400.0 + 100.0 * (i % 30) for i in range(len(cols))])
    n = nblocks * N
    t = np.arange(n)[:, None]
    phase = rig.rng.uniform(0, 2 * np.pi, size=len(cols))
    lin = np.rint(amp * np.sin(2 * np.pi * freqs[None, :] * t / RATE + phase[None, :])).astype(np.int16)
    codes = alaw_encode(lin.ravel()).reshape(lin.shape)
    tone_tx = {bid: np.full((n, rig.boards[bid].nchannels), 0xD5, np.uint8) for bid in rig.boards}
    for bid in rig.boards:
        tone_tx[bid][:, cols] = codes
    got = {bid: np.zeros((n + 2 * N, rig.boards[bid].nchannels), np.uint8) for bid in rig.boards}
    sent = tone_tx
    rig.tick(nblocks + 2, tx, rx)
    bad, worst_db, worst_purity = [], 0.0, 1.0
    win = 4 * N                                          # 80 ms: 12.5 Hz bins, every tone on a bin
    ref = np.exp(-2j * np.pi * freqs[None, :] * np.arange(win)[:, None] / RATE)
    for src, dst in ((A, B), (B, A)):
        x = table[got[dst][N:N + win][:, cols]]          # skip the first block (line delay)
        x = x - x.mean(axis=0)
        mag = 2.0 * np.abs((x * ref).sum(axis=0)) / win  # Goertzel / single-bin DFT amplitude
        power = (x ** 2).mean(axis=0)
        purity = (mag ** 2 / 2) / np.maximum(power, 1e-9)
        err_db = 20 * np.log10(np.maximum(mag, 1e-9) / amp)
        worst_db = max(worst_db, float(np.max(np.abs(err_db))))
        worst_purity = min(worst_purity, float(np.min(purity)))
        for i in np.nonzero((np.abs(err_db) > 0.5) | (purity < 0.98))[0]:
            c = cols[i]
            bad.append(f"{src}->{dst} span {c // E1_SLOTS} TS{c % E1_SLOTS}: {freqs[i]:.0f} Hz at "
                       f"{err_db[i]:+.2f} dB, purity {purity[i]:.3f}")
    # G.711 A-law quantisation keeps a -10 dBm0 tone within a small fraction of a dB; 0.5 dB is generous.
    results.append(CheckResult("voice-tones", not bad, {"timeslots": 2 * len(cols), "level_dbm0": level_dbm0,
                                                        "worst_level_err_db": round(worst_db, 3),
                                                        "worst_purity": round(worst_purity, 4)}, "; ".join(bad[:8])))
    return results


def check_abcd(rig: Rig, rounds: int = 2) -> CheckResult:
    """ABCD round trips on every CAS channel: A sets a value per channel, B must receive it; B answers with
    another, A must receive that. Every change must raise exactly one event, within two multiframes (32 frames,
    G.704 5.1.3.2 multiframe of 16 frames and a receiver that confirms a value over two of them)."""
    cas = [s for s in range(rig.nspans) if rig.plan[s].signalling == Signalling.CAS]
    if not cas:
        return CheckResult("abcd", True, {"channels": 0}, "no CAS span")
    bad, latencies, n, nchanged = [], [], 0, 0
    for r in range(rounds):
        for src, dst in ((A, B), (B, A)):
            want, prev = {}, {}
            for s in cas:
                for ts in VOICE_TIMESLOTS:
                    prev[(s, ts)] = rig.boards[dst].get_abcd(s, ts)
                    # 1..15: G.704 5.1.3.2 forbids 0000 in frames 1..15 (it would imitate the MFAS)
                    want[(s, ts)] = v = int(rig.rng.integers(1, 16))
                    rig.boards[src].set_abcd(s, ts, v)
            t0 = rig.world.time
            before = len(rig.events[dst])
            rig.tick(2)
            evs = {}
            for e in rig.events[dst][before:]:
                if isinstance(e, AbcdEvent):
                    evs.setdefault((e.span, e.timeslot), []).append(e)
            for key, v in want.items():
                n += 1
                got = rig.boards[dst].get_abcd(*key)
                where = f"{src}->{dst} span {key[0]} TS{key[1]}"
                if got != v:
                    bad.append(f"{where}: sent {v:04b}, received {'nothing' if got is None else f'{got:04b}'}")
                    continue
                e = evs.get(key, [])
                if v != prev[key]:
                    nchanged += 1
                    if len(e) != 1 or e[0].abcd != v:
                        bad.append(f"{where}: change to {v:04b} raised events {[x.abcd for x in e]}")
                        continue
                    latencies.append(e[0].t_frame - t0)
                elif e:
                    bad.append(f"{where}: unchanged {v:04b} raised events {[x.abcd for x in e]}")
    worst = max(latencies) if latencies else None
    if worst is not None and worst > 2 * MF_FRAMES:
        bad.append(f"an ABCD change took {worst} frames (> two multiframes, {2 * MF_FRAMES})")
    return CheckResult("abcd", not bad, {"channels": len(cas) * 30, "values": n, "changes": nchanged,
                                         "max_latency_frames": worst}, "; ".join(bad[:8]))


def hdlc_payloads(rng: np.random.Generator, count: int) -> list[bytes]:
    """Random frames plus the awkward ones: flags and escapes (0x7E, 0x7D), ones runs (zero insertion), the
    shortest (1) and longest (280, FCS excluded) lengths, an MTP2 FISU-sized 3 bytes and an MSU of 276."""
    fixed = [b"\x7e", b"\x7d", b"\x7e" * 40, b"\x7d" * 40, b"\x7e\x7d" * 30, b"\xff" * 64, b"\x00" * 10,
             b"\x3f\x7e\xfc", bytes(range(256)) + b"\x7e" * 24, bytes(rng.integers(0, 256, 276, dtype=np.uint8)),
             bytes(rng.integers(0, 256, 3, dtype=np.uint8))]
    out = list(fixed)
    while len(out) < count:
        n = int(rng.integers(1, 281))
        body = rng.integers(0, 256, n, dtype=np.uint8)
        k = int(rng.integers(0, 4))        # sprinkle flag/escape octets
        if k and n > 2:
            idx = rng.integers(0, n, k)
            body[idx] = rng.choice([0x7E, 0x7D], k)
        out.append(bytes(body))
    return out[:count]


def _hdlc_exchange(rig: Rig, span: int, frames: dict[int, list[bytes]], max_blocks: int) -> tuple[dict, int]:
    """Send frames[board] from each board on TS16 of span; tick until all arrive (or max_blocks).
    Returns ({receiving board: [frames]}, blocks)."""
    got = {A: [], B: []}
    pending = {bid: list(fr) for bid, fr in frames.items()}
    total = {B if bid == A else A: len(fr) for bid, fr in frames.items()}
    for k in range(max_blocks):
        for bid, lst in pending.items():
            while lst:
                try:
                    rig.boards[bid].hdlc_send(span, 16, lst[0])
                except DriverError as exc:
                    if exc.code == -8:    # HWSIM_ERR_AGAIN: the transmit queue is full
                        break
                    raise
                lst.pop(0)
        before = {bid: len(rig.events[bid]) for bid in rig.boards}
        rig.tick(1)
        for bid in rig.boards:
            got[bid].extend(e.frame for e in rig.events[bid][before[bid]:]
                            if isinstance(e, HdlcEvent) and e.span == span and e.timeslot == 16)
        if all(not p for p in pending.values()) and all(len(got[b]) >= total.get(b, 0) for b in got):
            return got, k + 1
    return got, max_blocks


def check_hdlc(rig: Rig, count: int = 24, pcap: str | None = None) -> CheckResult:
    """HDLC on every CCS link, both directions: random payloads (with flags, escapes and ones runs) must
    arrive complete, in order and bit-exact; none with a bad FCS. With ``pcap``, the first CCS link is
    captured (link type 140, FCS included) and the file is checked: every record's FCS recomputed here."""
    ccs = [s for s in range(rig.nspans) if rig.plan[s].signalling == Signalling.CCS]
    if not ccs:
        return CheckResult("hdlc", True, {"links": 0}, "no CCS span")
    bad, nframes, nbytes, blocks = [], 0, 0, 0
    for i, s in enumerate(ccs):
        if pcap and i == 0:
            rig.world.capture(A, s, 16, pcap, 140)
        frames = {A: hdlc_payloads(rig.rng, count), B: hdlc_payloads(rig.rng, count)}
        got, k = _hdlc_exchange(rig, s, frames, 200)
        blocks = max(blocks, k)
        for src, dst in ((A, B), (B, A)):
            sent, rcv = frames[src], got[dst]
            nframes += len(sent)
            nbytes += sum(map(len, sent))
            if rcv != sent:
                nmatch = sum(1 for x, y in zip(sent, rcv) if x == y)
                bad.append(f"span {s} {src}->{dst}: sent {len(sent)}, received {len(rcv)}, {nmatch} equal in order")
            st = rig.boards[dst].span_status(s)
            if st.hdlc_bad_fcs or st.hdlc_aborts:
                bad.append(f"span {s} board {dst}: {st.hdlc_bad_fcs} bad FCS, {st.hdlc_aborts} aborts on a clean line")
        if pcap and i == 0:
            rig.world.capture(A, s, 16, None)
            try:
                linktype, recs = read_pcap(pcap)
            except (OSError, ValueError) as exc:
                bad.append(f"pcap: {exc}")
            else:
                expect = sorted(frames[A] + frames[B])
                bodies = sorted(r[:-2] for r in recs)
                fcs_bad = sum(1 for r in recs if len(r) < 3 or fcs16(r[:-2]) != (r[-2] | r[-1] << 8))
                if linktype != 140 or fcs_bad or bodies != expect:
                    bad.append(f"pcap: link type {linktype}, {len(recs)} records for {len(expect)} frames, "
                               f"{fcs_bad} with a bad FCS")
    return CheckResult("hdlc", not bad, {"links": len(ccs), "frames": nframes, "bytes": nbytes,
                                         "blocks": blocks, **({"pcap": pcap} if pcap else {})}, "; ".join(bad[:8]))


def check_hdlc_ber(rig: Rig, ber: float = 1e-3, count: int = 150) -> CheckResult:
    """Bit errors on a signalling link: every frame delivered must be one that was sent (in order), the
    corrupted ones discarded by the FCS (counted), and errors must really have hit the link."""
    ccs = [s for s in range(rig.nspans) if rig.plan[s].signalling == Signalling.CCS]
    if not ccs:
        return CheckResult("hdlc-ber", True, {"links": 0}, "no CCS span")
    s = ccs[0]
    before = rig.b.span_status(s)
    first = len(rig.events[B])
    rig.world.fault_ber(B, s, ber)
    frames = [bytes(rig.rng.integers(0, 256, int(rig.rng.integers(20, 120)), dtype=np.uint8)) for _ in range(count)]
    # about 70 bytes per frame at 64 kbit/s (8000 bytes/s, 160 per block), with room for bit stuffing
    _hdlc_exchange(rig, s, {A: frames}, int(count * 70 * 1.3 / 160) + 10)
    rig.world.fault_ber(B, s, 0.0)
    rig.tick(3)
    after = rig.b.span_status(s)
    rcv = [e.frame for e in rig.events[B][first:] if isinstance(e, HdlcEvent) and e.span == s and e.timeslot == 16]
    # every delivered frame is a sent frame, in order (a subsequence of what was sent)
    it = iter(frames)
    in_order = all(any(f == x for x in it) for f in rcv)
    foreign = [f for f in rcv if f not in frames]
    discarded = (after.hdlc_bad_fcs - before.hdlc_bad_fcs) + (after.hdlc_aborts - before.hdlc_aborts)
    errors = after.bit_errors_injected - before.bit_errors_injected
    ok = in_order and not foreign and errors > 0 and discarded > 0 and len(rcv) < count and len(rcv) > 0
    detail = []
    if foreign:
        detail.append(f"{len(foreign)} delivered frames were never sent (corrupted frame passed the FCS)")
    if not in_order:
        detail.append("delivered frames out of order")
    if errors == 0 or discarded == 0:
        detail.append("no frame was hit: the fault did not reach the link")
    return CheckResult("hdlc-ber", ok, {"span": s, "ber": ber, "sent": count, "delivered_good": len(rcv),
                                        "discarded_bad_fcs": discarded, "bit_errors": errors,
                                        "delivered_bad": len(foreign)}, "; ".join(detail))


def check_fxo(rig: Rig, number: str = "13800138000", name: str = "CTID RIG") -> CheckResult:
    """FXO port on an exchange line: China ring cadence (1 s on / 4 s off), FSK caller ID between the first
    and second ring decoded by the ctid.dsp "cid" detector from the port's audio in the board's blocks,
    answer (polarity reversal), far-end hang-up (busy tone, found by the "cpt" detector; polarity back)."""
    from ctid.dsp import Bank

    if rig.fxo is None:
        return CheckResult("fxo-callerid", True, {}, "no FXO port")
    port, ch = rig.fxo, rig.a.ports[rig.fxo].number
    line = rig.world.line(A, port)
    bank = Bank(1)
    bank.set_mask(0, "cid,cpt")
    dets = []

    def rx(k, blocks):
        dets.extend(bank.process(np.ascontiguousarray(blocks[A][:, ch])))

    t0 = rig.world.time
    line.ring(number, name)
    rig.tick(int(5.5 * 50), rx=rx)                  # through the second ring's start at 5 s
    rings = [(e.t_frame - t0, e.on) for e in rig.take(A, RingEvent, t0) if e.port == port]
    cid = [d for d in dets if d.kind == "cid"]
    bad = []
    # China: 1 s on, 4 s off (telephony facts: ring cadence 1 s on / 4 s off)
    want = [(0, True), (8000, False), (40000, True)]
    if rings[:3] != want:
        bad.append(f"ring edges {rings[:4]} (frames from the ring), expected {want}")
    got_number = cid[0].value.get("number") if cid and isinstance(cid[0].value, dict) else None
    got_name = cid[0].value.get("name") if cid and isinstance(cid[0].value, dict) else None
    cid_t = cid[0].t if cid else None          # the bank's first sample is the ring's first frame (t0)
    if got_number != number:
        bad.append(f"caller ID number {got_number!r}, sent {number!r}")
    if got_name != name:
        bad.append(f"caller ID name {got_name!r}, sent {name!r}")
    if cid and not 8000 <= cid_t <= 40000:
        bad.append(f"caller ID at {cid_t} frames: not between the first ring's end and the second ring")
    # answer
    t1 = rig.world.time
    rig.a.port_hook(port, True)
    rig.tick(2, rx=rx)
    pol = [e.reversed for e in rig.take(A, PolarityEvent, t1) if e.port == port]
    if pol[:1] != [True]:
        bad.append(f"no polarity reversal on answer (events {pol})")
    if line.state["ringing"]:
        bad.append("the line still rings after the answer")
    # far-end hang-up: busy tone 450 Hz 0.35/0.35 s (China), two cycles to be recognised
    t2 = rig.world.time
    line.hangup()
    dets.clear()
    rig.tick(int(2.0 * 50), rx=rx)
    busy = [d for d in dets if d.kind == "cpt" and d.value == "busy" and d.type == "on"]
    pol = [e.reversed for e in rig.take(A, PolarityEvent, t2) if e.port == port]
    if not busy:
        bad.append(f"no busy tone detected after the far end hung up (cpt events {[(d.value, d.type) for d in dets]})")
    if pol[:1] != [False]:
        bad.append(f"polarity not back to normal after the hang-up (events {pol})")
    rig.a.port_hook(port, False)
    rig.tick(1)
    return CheckResult("fxo-callerid", not bad,
                       {"rings": len([r for r in rings if r[1]]), "cid_number": got_number,
                        "cid_ms": round(cid_t / 8, 1) if cid_t is not None else None,
                        "busy_onset_ms": round((busy[0].t - (t2 - t0)) / 8) if busy else None},
                       "; ".join(bad))


def check_fxs(rig: Rig, digits: str = "0123456789*#") -> CheckResult:
    """FXS port with a telephone: the board rings it, the phone answers (ring trip, hook event), dials DTMF
    as tones (decoded by the ctid.dsp "dtmf" detector from the port's audio), flashes and hangs up."""
    from ctid.dsp import Bank

    if rig.fxs is None:
        return CheckResult("fxs-dtmf", True, {}, "no FXS port")
    port, ch = rig.fxs, rig.a.ports[rig.fxs].number
    phone = rig.world.phone(A, port)
    bad = []
    rig.a.port_ring(port, True)
    rig.tick(1)
    if not phone.ringing:
        bad.append("the phone does not ring")
    t0 = rig.world.time
    phone.hook(True)
    rig.tick(1)
    hooks = [e.offhook for e in rig.take(A, HookEvent, t0) if e.port == port]
    if hooks[:1] != [True]:
        bad.append(f"no off-hook event ({hooks})")
    if rig.a.port_state(port).ringing:
        bad.append("ringing not tripped by the off-hook")
    bank = Bank(1)
    bank.set_mask(0, "dtmf")
    dets = []

    def rx(k, blocks):
        dets.extend(bank.process(np.ascontiguousarray(blocks[A][:, ch])))

    on_ms = off_ms = 80
    phone.dial(digits, on_ms, off_ms)
    rig.tick(int(len(digits) * (on_ms + off_ms) / 20) + 10, rx=rx)
    got = "".join(d.value for d in dets if d.kind == "dtmf" and d.type == "on")
    if got != digits:
        bad.append(f"DTMF decoded {got!r}, dialled {digits!r}")
    t1 = rig.world.time
    phone.flash(100)
    rig.tick(8)
    if not [e for e in rig.take(A, FlashEvent, t1) if e.port == port]:
        bad.append("no flash event")
    t2 = rig.world.time
    phone.hook(False)
    rig.tick(1)
    hooks = [e.offhook for e in rig.take(A, HookEvent, t2) if e.port == port]
    if hooks[:1] != [False]:
        bad.append(f"no on-hook event ({hooks})")
    return CheckResult("fxs-dtmf", not bad, {"dialled": digits, "decoded": got}, "; ".join(bad))


def check_cut(rig: Rig, span: int = 0, limit_ms: float = 100.0) -> CheckResult:
    """Cut a cable: LOS at the far side (G.775: after at most 255 zeros, well within a block), then restore
    it: alignment recovered (no LOS/LOF, multiframe alignment back) and voice bit-exact again."""
    bad = []
    t0 = rig.world.time
    rig.world.cut(A, span)
    k = 0
    los_t = None
    while k < 10 and los_t is None:
        rig.tick(1)
        k += 1
        for e in rig.take(B, AlarmEvent, t0):
            if e.span == span and e.alarms & Alarm.LOS:
                los_t = e.t_frame - t0
                break
    if los_t is None:
        bad.append(f"no LOS on board {B} span {span} after the cut")
    rig.tick(5)
    if not rig.b.spans[span].alarms & Alarm.LOS:
        bad.append(f"LOS not held on the cut cable ({rig.b.spans[span].alarms!r})")
    t1 = rig.world.time
    rig.world.restore(A, span)
    rec_t = None
    for _ in range(int(limit_ms / 20) + 25):
        rig.tick(1)
        if rig.spans_up():
            rec_t = rig.world.time - t1
            break
    if rec_t is None:
        bad.append(f"alignment not recovered after the restore ({rig.b.spans[span].alarms!r}, "
                   f"{rig.a.spans[span].alarms!r})")
    elif rec_t > limit_ms * 8:
        bad.append(f"recovery took {rec_t / 8:.0f} ms (> {limit_ms:.0f} ms)")
    # data really flows again on that span
    ok_voice = _quick_bitexact(rig, span)
    if not ok_voice:
        bad.append(f"voice on span {span} not bit-exact after the restore")
    return CheckResult("alarms-cut", not bad, {"span": span, "los_after_frames": los_t,
                                               "recovered_ms": round(rec_t / 8, 1) if rec_t is not None else None},
                       "; ".join(bad))


def _quick_bitexact(rig: Rig, span: int, nblocks: int = 3) -> bool:
    N = BLOCK_FRAMES
    cols = [span * E1_SLOTS + t for t in VOICE_TIMESLOTS]
    sent = {bid: rig.rng.integers(0, 256, size=(nblocks * N, bd.nchannels), dtype=np.uint8)
            for bid, bd in rig.boards.items()}
    got = {bid: np.zeros(((nblocks + 2) * N, bd.nchannels), np.uint8) for bid, bd in rig.boards.items()}
    rig.tick(nblocks + 2, lambda k: {b: np.ascontiguousarray(sent[b][k * N:(k + 1) * N]) for b in sent}
             if k < nblocks else None,
             lambda k, blocks: [got[b].__setitem__(slice(k * N, (k + 1) * N), blocks[b]) for b in got])
    for src, dst in ((A, B), (B, A)):
        L = _find_offset(sent[src][:, cols[0]], got[dst][:, cols[0]], 2 * N)
        if L is None or not np.array_equal(sent[src][:, cols], got[dst][L:L + nblocks * N, cols]):
            return False
    return True


CHECK_NAMES = {check_alignment: "alignment", check_voice: "voice", check_abcd: "abcd", check_hdlc: "hdlc",
               check_hdlc_ber: "hdlc-ber", check_fxs: "fxs-dtmf", check_fxo: "fxo-callerid", check_cut: "alarms-cut"}
FAULTS = ("cut", "noise", "ber", "dead", "ais")


def inject(rig: Rig, fault: str) -> str:
    """A deliberate fault (hidden selftest option), to prove the checks can fail."""
    if fault == "cut":
        rig.world.cut(A, 0)
        return "cable of span 0 cut (never restored before the checks)"
    if fault == "noise":
        rig.world.fault_channel(B, 5, noise_dbm0=-50.0)
        return "noise -50 dBm0 on board 1 span 0 TS5 (bit-exact must fail, tones may pass)"
    if fault == "ber":
        for s in range(rig.nspans):
            rig.world.fault_ber(B, s, 1e-4)
        return "bit errors 1e-4 on every span of board 1"
    if fault == "dead":
        rig.world.fault_dead(B)
        return "board 1 stops answering"
    if fault == "ais":
        rig.world.fault_ais(B, 0)
        return "AIS on board 1 span 0"
    raise DriverError(f"unknown fault {fault!r}; known: {', '.join(FAULTS)}")


def selftest(nspans: int = 2, seed: int = 1, pcap: str | None = None, fault: str | None = None,
             report: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    """Run every check; ``report`` is called with each result as it completes."""
    results: list[CheckResult] = []

    def run(fn, *args, **kw):
        t = time.perf_counter()
        name = CHECK_NAMES.get(fn, fn.__name__)
        try:
            out = fn(*args, **kw)
        except DriverError as exc:
            out = CheckResult(name, False, {}, f"driver error: {exc}")
        except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check, reported as such
            out = CheckResult(name, False, {}, f"{type(exc).__name__}: {exc}")
        for r in out if isinstance(out, list) else [out]:
            r.seconds = time.perf_counter() - t
            results.append(r)
            if report:
                report(r)

    rig = Rig(nspans, seed)
    try:
        blocks = rig.settle()
        if fault:
            note = inject(rig, fault)
            rig.tick(2)
            results.append(CheckResult("inject-fault", True, {"fault": fault}, note))
            if report:
                report(results[-1])
        run(check_alignment, rig, blocks)
        run(check_voice, rig)
        run(check_abcd, rig)
        run(check_hdlc, rig, pcap=pcap)
        run(check_hdlc_ber, rig)
        run(check_fxs, rig)
        run(check_fxo, rig)
        run(check_cut, rig)
    finally:
        rig.close()
    return results
