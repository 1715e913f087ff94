"""The batched multi-channel detector bank: the API the daemon uses.

One :class:`Bank` holds the channels of one span or board. Each tick (normally 20 ms, 160 frames) the
board's block, timeslot-interleaved exactly as delivered (``nchan`` bytes per frame), goes to
:meth:`Bank.process` in one native call, which decodes it once, runs every enabled detector across all
channels and returns only the events.

>>> bank = Bank(32)                       # an E1: TS0..TS31
>>> bank.set_mask(1, "dtmf,cpt")          # detectors per channel
>>> events = bank.process(block)          # block: 160 * 32 bytes of A-law
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from ._native import ffi, lib

RATE = 8000

LAWS = {"alaw": lib.CTID_LAW_ALAW, "ulaw": lib.CTID_LAW_ULAW, "linear": lib.CTID_LAW_LINEAR16}

DETECTORS = {
    "dtmf": lib.CTID_DET_DTMF,
    "r2f": lib.CTID_DET_R2F,
    "r2b": lib.CTID_DET_R2B,
    "cpt": lib.CTID_DET_CPT,
    "cid": lib.CTID_DET_CID,
}

KIND_NAMES = {
    lib.CTID_EV_DTMF: "dtmf",
    lib.CTID_EV_R2F: "r2f",
    lib.CTID_EV_R2B: "r2b",
    lib.CTID_EV_CPT: "cpt",
    lib.CTID_EV_CID: "cid",
}
TYPE_NAMES = {lib.CTID_EVT_ON: "on", lib.CTID_EVT_OFF: "off", lib.CTID_EVT_MSG: "msg"}


class DspError(Exception):
    """A native DSP call refused its arguments; the message names what was wrong."""


def check(rc: int, what: str) -> int:
    """Raise :class:`DspError` for a negative native return code."""
    if rc < 0:
        raise DspError(f"{what}: {ffi.string(lib.ctid_strerror(rc)).decode()} (code {rc})")
    return rc


def parse_mask(mask: int | str | Iterable[str]) -> int:
    """Turn ``"dtmf,cpt"``, ``["dtmf", "cpt"]`` or an int into a detector mask."""
    if isinstance(mask, int):
        return mask
    names = mask.split(",") if isinstance(mask, str) else list(mask)
    value = 0
    for name in names:
        name = name.strip().lower()
        if not name:
            continue
        if name not in DETECTORS:
            raise DspError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
        value |= DETECTORS[name]
    return value


@dataclass(frozen=True)
class Event:
    """A detector event. ``t`` is the sample index on the bank's timeline (8000 per second)."""

    kind: str           # dtmf, r2f, r2b, cpt, cid
    type: str           # on, off, msg
    channel: int
    t: int
    value: object       # digit / signal character, tone name, or caller-ID fields
    duration: int = 0   # samples (off events)
    level: float = 0.0  # dBm0
    aux: float = 0.0    # DTMF twist (dB), R2 level difference
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def t_ms(self) -> float:
        return self.t * 1000.0 / RATE

    @property
    def duration_ms(self) -> float:
        return self.duration * 1000.0 / RATE


class Bank:
    """Detectors for ``nchan`` channels delivered frame-interleaved (see module docs).

    ``law`` is ``"alaw"`` (E1, the default), ``"ulaw"`` or ``"linear"`` (16-bit little-endian PCM, two
    bytes per channel per frame). Call-progress detection uses ``tones`` (a list of
    :class:`ctid.dsp.tones.ToneDef`), by default the China set.
    """

    def __init__(self, nchan: int, law: str = "alaw", tones=None):
        if law not in LAWS:
            raise DspError(f"unknown law {law!r}; use one of {', '.join(LAWS)}")
        if not isinstance(nchan, int) or nchan <= 0 or nchan > 65536:
            raise DspError(f"channel count must be 1..65536, not {nchan!r}")
        ptr = lib.ctid_bank_new(nchan, LAWS[law])
        if ptr == ffi.NULL:
            raise DspError("could not create the detector bank (out of memory?)")
        self._b = ffi.gc(ptr, lib.ctid_bank_free)
        self.nchan = nchan
        self.law = law
        self.frame_bytes = nchan * (2 if law == "linear" else 1)
        self._evcap = max(256, nchan * 8)
        self._evbuf = ffi.new("ctid_event_t[]", self._evcap)
        self._evarr = np.zeros(self._evcap, dtype=EVENT_DTYPE)
        self._evarr_ptr = ffi.cast("ctid_event_t *", ffi.from_buffer(self._evarr))
        self._msgbuf = ffi.new("uint8_t[]", lib.CTID_CID_MAX_MSG)
        self.tone_names: list[str] = []
        self.set_tones(tones)

    # configuration -----------------------------------------------------------------------------
    def set_mask(self, channel: int, mask) -> None:
        """Enable detectors on a channel (``"dtmf,r2f,r2b,cpt,cid"``); newly enabled ones start fresh."""
        check(lib.ctid_bank_set_mask(self._b, channel, parse_mask(mask)), f"channel {channel}")

    def set_mask_all(self, mask, channels: Sequence[int] | None = None) -> None:
        for ch in range(self.nchan) if channels is None else channels:
            self.set_mask(ch, mask)

    def get_mask(self, channel: int) -> int:
        return check(lib.ctid_bank_get_mask(self._b, channel), f"channel {channel}")

    def set_dtmf_params(self, params=None, channel: int = -1, **kw) -> None:
        """Set DTMF receiver parameters (see :class:`ctid.dsp.params.DtmfParams`) on one or all channels."""
        from .params import DtmfParams

        p = (params or DtmfParams()).replace(**kw) if kw else (params or DtmfParams())
        check(lib.ctid_bank_set_dtmf_params(self._b, channel, p.to_c()), "DTMF parameters")

    def set_r2_params(self, params) -> None:
        """Replace the forward or backward R2 receiver (``params.backward`` picks which)."""
        check(lib.ctid_bank_set_r2_params(self._b, params.to_c()), "R2 parameters")

    def set_tones(self, tones=None, params=None) -> None:
        """Load a call-progress tone table (default: China)."""
        from .params import CptParams
        from .tones import china_tones, tone_table_to_c

        tones = china_tones() if tones is None else list(tones)
        defs, n = tone_table_to_c(tones)
        check(lib.ctid_bank_set_cpt(self._b, (params or CptParams()).to_c(), defs, n), "tone table")
        self.tone_names = [t.name for t in tones]

    def set_fsk_params(self, params) -> None:
        check(lib.ctid_bank_set_fsk_params(self._b, params.to_c()), "FSK parameters")

    def reset(self, channel: int = -1) -> None:
        lib.ctid_bank_reset(self._b, channel)

    # processing --------------------------------------------------------------------------------
    @property
    def time(self) -> int:
        """Frames processed so far (the sample index of the next frame)."""
        return int(lib.ctid_bank_time(self._b))

    @property
    def dropped(self) -> int:
        return int(lib.ctid_bank_dropped(self._b))

    def process(self, block) -> list[Event]:
        """Process a block of whole frames (bytes, bytearray, memoryview or numpy array) and return events.

        A block that is not a whole number of frames raises :class:`DspError` and changes nothing.
        """
        if isinstance(block, np.ndarray):
            if self.law == "linear" and block.dtype != np.int16:
                raise DspError(f"linear bank needs int16 samples, not {block.dtype}")
            if self.law != "linear" and block.dtype != np.uint8:
                raise DspError(f"{self.law} bank needs uint8 codes, not {block.dtype}")
            block = np.ascontiguousarray(block)
            nbytes = block.nbytes
        else:
            block = bytes(block) if not isinstance(block, (bytes, bytearray)) else block
            nbytes = len(block)
        if nbytes % self.frame_bytes:
            raise DspError(
                f"block of {nbytes} bytes is not a whole number of {self.frame_bytes}-byte frames "
                f"({self.nchan} channels, {self.law})"
            )
        check(lib.ctid_bank_process(self._b, ffi.from_buffer("uint8_t[]", block), nbytes), "process")
        return self.drain()

    def drain(self) -> list[Event]:
        out: list[Event] = []
        while True:
            n = lib.ctid_bank_events(self._b, self._evbuf, self._evcap)
            for i in range(n):
                out.append(self._event(self._evbuf[i]))
            if n < self._evcap:
                return out

    def process_raw(self, block) -> int:
        """Process without converting events to Python objects; returns how many events are pending.

        For benchmarks and the daemon's fast path: fetch them with :meth:`events_array`. ``block`` is any
        buffer of whole frames (bytes, bytearray, a contiguous numpy array).
        """
        buf = ffi.from_buffer("uint8_t[]", block)
        return check(lib.ctid_bank_process(self._b, buf, len(buf)), "process")

    def events_array(self) -> np.ndarray:
        """Drain pending events into a numpy structured array (no per-event Python objects).

        The native call writes straight into a preallocated array, so a drain costs one call and one copy.
        """
        n = lib.ctid_bank_events(self._b, self._evarr_ptr, self._evcap)
        out = self._evarr[:n].copy()
        if n == self._evcap:   # more were pending than fit: take the rest too
            rest = [out]
            while n == self._evcap:
                n = lib.ctid_bank_events(self._b, self._evarr_ptr, self._evcap)
                rest.append(self._evarr[:n].copy())
            out = np.concatenate(rest)
        return out

    def cid_message(self, channel: int) -> bytes:
        """The latest caller-ID message received on a channel (raw bytes: type, length, body, checksum)."""
        n = check(lib.ctid_bank_cid_message(self._b, channel, self._msgbuf, lib.CTID_CID_MAX_MSG), "CID message")
        return bytes(ffi.buffer(self._msgbuf, n))

    def message(self, msg_id: int) -> bytes:
        """The bytes of the caller-ID message an event refers to (kept for the last 256 messages)."""
        n = check(lib.ctid_bank_message(self._b, msg_id, self._msgbuf, lib.CTID_CID_MAX_MSG), f"message {msg_id}")
        return bytes(ffi.buffer(self._msgbuf, n))

    def cid_bad_messages(self, channel: int) -> int:
        """Caller-ID messages dropped on a channel (bad checksum, framing, lost carrier)."""
        return check(lib.ctid_bank_cid_bad_messages(self._b, channel), f"channel {channel}")

    def _event(self, e) -> Event:
        kind = KIND_NAMES.get(e.kind, str(e.kind))
        value: object
        extra: dict = {}
        if kind in ("dtmf", "r2f", "r2b"):
            value = chr(e.value)
        elif kind == "cpt":
            value = self.tone_names[e.value] if 0 <= e.value < len(self.tone_names) else str(e.value)
        elif kind == "cid":
            raw = self.message(e.duration)
            from .callerid import parse_message

            extra["raw"] = raw.hex()
            try:
                value = parse_message(raw)
            except ValueError as exc:  # checksum was good but the content is not a known format
                value = {"error": str(exc)}
        else:
            value = e.value
        duration = 0 if kind == "cid" else int(e.duration)
        return Event(kind, TYPE_NAMES.get(e.type, str(e.type)), int(e.channel), int(e.t_sample), value,
                     duration, float(e.level), float(e.aux), extra)


EVENT_DTYPE = np.dtype(
    [
        ("t_sample", "<u8"),
        ("channel", "<u4"),
        ("kind", "<u2"),
        ("type", "<u2"),
        ("value", "<i4"),
        ("duration", "<i4"),
        ("level", "<f4"),
        ("aux", "<f4"),
    ]
)
assert EVENT_DTYPE.itemsize == ffi.sizeof("ctid_event_t")


def detect(samples, detectors="dtmf", law: str = "linear", tones=None, block: int = 160, **dtmf_kw) -> list[Event]:
    """Single-channel convenience: run a one-channel bank over a whole signal.

    ``samples`` is int16 linear (``law="linear"``) or uint8 codes. It is fed in ``block``-frame ticks, the
    way a board delivers it.
    """
    arr = np.asarray(samples)
    if law == "linear":
        arr = arr.astype(np.int16, copy=False)
    else:
        arr = arr.astype(np.uint8, copy=False)
    bank = Bank(1, law=law, tones=tones)
    if dtmf_kw:
        bank.set_dtmf_params(**dtmf_kw)
    bank.set_mask(0, detectors)
    events: list[Event] = []
    for i in range(0, len(arr), block):
        events.extend(bank.process(arr[i:i + block]))
    return events
