"""Caller ID for analogue lines: message codec, FSK signal generation and DTMF caller ID.

Two on-hook delivery methods are used on Chinese analogue lines (YDN 069-1997, YD/T 1277.1-2003):

* **FSK** between the first and the second ring: Bell 202 (mark 1200 Hz, space 2200 Hz) or V.23 (mark 1300 Hz,
  space 2100 Hz) at 1200 bit/s carrying a Bellcore GR-30-CORE / ETSI EN 300 659-3 message. The native receiver
  runs inside :class:`ctid.dsp.bank.Bank` (detector ``"cid"``); each ``cid`` event's ``value`` is the dict that
  :func:`parse_message` returns.
* **DTMF** before the first ring (ETSI EN 300 659-1 annex C style spill, e.g. ``A<number>C``): the bank's DTMF
  detector reports digits and :class:`DtmfCidDecoder` assembles them.

Message layout (GR-30 and EN 300 659-3 clause 5): ``type, length, body[length], checksum`` where the checksum
is the two's complement of the modulo-256 sum of all preceding bytes, so the sum of every byte including the
checksum is 0 mod 256.

* SDMF (type 0x04, GR-30): body = ``MMDDHHMM`` (8 ASCII digits) + calling number (ASCII), or ``O``
  (out of area / unavailable) or ``P`` (private) in place of the number.
* MDMF (type 0x80, GR-30 and EN 300 659-3 "call set-up"): body = parameters ``type, length, value``:
  0x01 date and time ``MMDDHHMM``, 0x02 calling number, 0x04 reason for absence of the number (``O``/``P``),
  0x07 calling name, 0x08 reason for absence of the name (``O``/``P``). Other parameter types are kept raw.
  Other MDMF-class message types (0x82 message waiting, 0x86 advice of charge, 0x89 SMS: EN 300 659-3 5.2)
  parse with the same parameter structure.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
from construct import (
    Bytes,
    Checksum,
    ConstructError,
    GreedyBytes,
    GreedyRange,
    Int8ub,
    Prefixed,
    RawCopy,
    Struct,
    Terminated,
    this,
)

from ._native import ffi, lib

# ------------------------------------------------------------------------------------------------ constants
MSG_SDMF = 0x04          # GR-30 single data message format, calling number delivery
MSG_MDMF = 0x80          # GR-30 multiple data message format / EN 300 659-3 call set-up

P_DATETIME = 0x01        # MMDDHHMM
P_NUMBER = 0x02          # calling line identity
P_NUMBER_ABSENT = 0x04   # reason for absence of calling line identity: 'O' unavailable, 'P' private
P_NAME = 0x07            # calling party name
P_NAME_ABSENT = 0x08     # reason for absence of the name
KNOWN_PARAMS = (P_DATETIME, P_NUMBER, P_NUMBER_ABSENT, P_NAME, P_NAME_ABSENT)

# EN 300 659-3 clause 5.3: calling line identity up to 20 characters, calling party name up to 50.
# (GR-30 allows fewer: 10-digit SDMF numbers, 15-character names; we accept the larger ETSI limits.)
MAX_NUMBER = 20
MAX_NAME = 50
ABSENCE_CODES = ("O", "P")   # 'O' out of area / unavailable, 'P' private (GR-30, EN 300 659-3)

MODEMS = {"bell202": lib.CTID_FSK_BELL202, "v23": lib.CTID_FSK_V23}


def _checksum(data: bytes) -> int:
    return (-sum(data)) & 0xFF


# Declarative codec (construct). The frame wraps any message type; bodies are parsed by type below.
_Frame = Struct(
    "data" / RawCopy(Struct("type" / Int8ub, "body" / Prefixed(Int8ub, GreedyBytes))),
    "checksum" / Checksum(Int8ub, _checksum, this.data.data),
    Terminated,
)
_Param = Struct("type" / Int8ub, "value" / Prefixed(Int8ub, GreedyBytes))
_MdmfBody = Struct("params" / GreedyRange(_Param), Terminated)
_SdmfBody = Struct("time" / Bytes(8), "number" / GreedyBytes)


# ------------------------------------------------------------------------------------------------ helpers
def _printable(text, what: str, limit: int) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a string, not {type(text).__name__}")
    if not text:
        raise ValueError(f"{what} is empty")
    if len(text) > limit:
        raise ValueError(f"{what} is {len(text)} characters long; the limit is {limit}")
    if any(not (0x20 <= ord(ch) <= 0x7E) for ch in text):
        raise ValueError(f"{what} {text!r} has characters outside printable ASCII")
    return text.encode("ascii")


def _format_time(time) -> bytes:
    if isinstance(time, _dt.date) and not isinstance(time, _dt.datetime):
        time = _dt.datetime(time.year, time.month, time.day)
    if isinstance(time, _dt.datetime):
        return time.strftime("%m%d%H%M").encode("ascii")
    if not isinstance(time, str) or not re.fullmatch(r"[0-9]{8}", time):
        raise ValueError(f"time must be a datetime or an 'MMDDHHMM' string of 8 digits, not {time!r}")
    mo, dd, hh, mi = int(time[0:2]), int(time[2:4]), int(time[4:6]), int(time[6:8])
    if not (1 <= mo <= 12 and 1 <= dd <= 31 and hh <= 23 and mi <= 59):
        raise ValueError(f"time {time!r} is not a valid MMDDHHMM date and time")
    return time.encode("ascii")


def _absence(code, what: str) -> bytes:
    if code not in ABSENCE_CODES:
        raise ValueError(f"{what} must be 'O' (unavailable) or 'P' (private), not {code!r}")
    return code.encode("ascii")


def _ascii(value: bytes, what: str) -> str:
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{what} is not ASCII: {value.hex()}") from None
    return text


# ------------------------------------------------------------------------------------------------ codec
def build_message(
    number: Optional[str] = None,
    name: Optional[str] = None,
    time=None,
    number_absent: Optional[str] = None,
    name_absent: Optional[str] = None,
    fmt: str = "mdmf",
    *,
    msg_type: Optional[int] = None,
    unknown: Iterable = (),
    format: Optional[str] = None,
    type: Optional[int] = None,
    body: Optional[bytes] = None,
) -> bytes:
    """Build a caller ID message (type, length, body, checksum).

    ``time`` is a :class:`datetime.datetime` or an ``"MMDDHHMM"`` string. ``number_absent``/``name_absent``
    are ``'O'`` (unavailable) or ``'P'`` (private). MDMF parameters go out in the order date/time, number (or
    its absence), name (or its absence), then ``unknown`` ``(type, bytes)`` pairs. ``format``/``type`` are
    accepted as aliases of ``fmt``/``msg_type`` so that ``build_message(**parse_message(raw))`` rebuilds a
    canonical message. ``fmt="other"`` frames a raw ``body`` under ``msg_type`` (what :func:`parse_message`
    returns for types it does not decode). Raises :class:`ValueError` for anything that cannot be encoded.
    """
    fmt = format if format is not None else fmt
    msg_type = type if type is not None else msg_type
    if fmt == "other":
        if not isinstance(msg_type, int) or not (0 <= msg_type <= 255) or msg_type == MSG_SDMF or msg_type & 0x80:
            raise ValueError(f"fmt='other' needs a message type that is neither SDMF nor MDMF, not {msg_type!r}")
        if not isinstance(body, (bytes, bytearray)) or not 1 <= len(body) <= 255:
            raise ValueError("fmt='other' needs a body of 1..255 bytes")
        if any(v is not None for v in (number, name, time, number_absent, name_absent)) or list(unknown):
            raise ValueError("fmt='other' carries only a raw body")
        return _Frame.build(dict(data=dict(value=dict(type=msg_type, body=bytes(body)))))
    if body is not None:
        raise ValueError("a raw body goes with fmt='other' only")
    if number is not None and number_absent is not None:
        raise ValueError("give either a number or a reason for its absence, not both")
    if name is not None and name_absent is not None:
        raise ValueError("give either a name or a reason for its absence, not both")
    if fmt == "sdmf":
        if msg_type not in (None, MSG_SDMF):
            raise ValueError(f"SDMF caller ID is message type 0x04, not {msg_type!r}")
        if name is not None or name_absent is not None or list(unknown):
            raise ValueError("SDMF carries only the time and the number (use fmt='mdmf' for a name)")
        if time is None:
            raise ValueError("SDMF needs a time (MMDDHHMM)")
        if number is not None:
            if number in ABSENCE_CODES:
                raise ValueError(f"SDMF number {number!r} would read as an absence code; use number_absent")
            num = _printable(number, "calling number", MAX_NUMBER)
        elif number_absent is not None:
            num = _absence(number_absent, "number_absent")
        else:
            raise ValueError("SDMF needs a number or number_absent")
        body = _format_time(time) + num
        mtype = MSG_SDMF
    elif fmt == "mdmf":
        mtype = MSG_MDMF if msg_type is None else msg_type
        if not isinstance(mtype, int) or not (0x80 <= mtype <= 0xFF):
            raise ValueError(f"MDMF message types are 0x80..0xFF, not {mtype!r}")
        params: list[tuple[int, bytes]] = []
        if time is not None:
            params.append((P_DATETIME, _format_time(time)))
        if number is not None:
            params.append((P_NUMBER, _printable(number, "calling number", MAX_NUMBER)))
        elif number_absent is not None:
            params.append((P_NUMBER_ABSENT, _absence(number_absent, "number_absent")))
        if name is not None:
            params.append((P_NAME, _printable(name, "calling name", MAX_NAME)))
        elif name_absent is not None:
            params.append((P_NAME_ABSENT, _absence(name_absent, "name_absent")))
        for item in unknown:
            try:
                ptype, value = item
            except (TypeError, ValueError):
                raise ValueError(f"unknown parameters are (type, bytes) pairs, not {item!r}") from None
            if not isinstance(ptype, int) or not (0 <= ptype <= 255) or ptype in KNOWN_PARAMS:
                raise ValueError(f"raw parameter type must be 0..255 and not a known type, not {ptype!r}")
            if not isinstance(value, (bytes, bytearray)) or len(value) > 255:
                raise ValueError(f"raw parameter 0x{ptype:02x} value must be bytes of at most 255")
            params.append((ptype, bytes(value)))
        if not params:
            raise ValueError("an MDMF message needs at least one parameter")
        body = b"".join(_Param.build(dict(type=t, value=v)) for t, v in params)
    else:
        raise ValueError(f"fmt must be 'mdmf', 'sdmf' or 'other', not {fmt!r}")
    if len(body) > 255:
        raise ValueError(f"message body is {len(body)} bytes; the length byte allows 255")
    return _Frame.build(dict(data=dict(value=dict(type=mtype, body=body))))


def parse_message(raw: bytes) -> dict:
    """Parse a caller ID message (type, length, body, checksum) into a dict.

    Keys: ``format`` (``"sdmf"``, ``"mdmf"`` or ``"other"``), ``type`` (message type byte), ``time``
    (``"MMDDHHMM"`` or None), ``number``, ``name``, ``number_absent``, ``name_absent`` (``'O'``/``'P'`` or
    None) and ``unknown`` (list of ``(type, bytes)`` parameters we do not decode). A message type that is
    neither SDMF 0x04 nor MDMF-class (0x80..0xFF) gives ``format="other"`` and its ``body``.
    Raises :class:`ValueError` on a bad checksum, a length that disagrees with the buffer, truncation or a
    malformed known field.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ValueError(f"caller ID message must be bytes, not {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) < 3:
        raise ValueError(f"caller ID message of {len(raw)} bytes is truncated (at least type, length, checksum)")
    if len(raw) != raw[1] + 3:
        raise ValueError(
            f"caller ID message length byte says {raw[1]} body bytes, so {raw[1] + 3} in all, but {len(raw)} "
            f"were given ({'truncated' if len(raw) < raw[1] + 3 else 'trailing bytes'})"
        )
    if sum(raw) & 0xFF:
        raise ValueError(
            f"caller ID checksum mismatch: got 0x{raw[-1]:02x}, expected 0x{_checksum(raw[:-1]):02x}"
        )
    try:
        frame = _Frame.parse(raw)
    except ConstructError as exc:  # pragma: no cover - the checks above catch these first
        raise ValueError(f"malformed caller ID message: {exc}") from None
    mtype = frame.data.value.type
    body = frame.data.value.body
    out = dict(format="other", type=mtype, time=None, number=None, name=None, number_absent=None,
               name_absent=None, unknown=[])
    if not body:
        raise ValueError(f"caller ID message type 0x{mtype:02x} has an empty body")
    if mtype == MSG_SDMF:
        if len(body) < 9:
            raise ValueError(f"SDMF body of {len(body)} bytes is too short (8 time digits and a number)")
        sd = _SdmfBody.parse(body)
        out["format"] = "sdmf"
        out["time"] = _parse_time(sd.time)
        num = _ascii(sd.number, "SDMF calling number")
        if num in ABSENCE_CODES:
            out["number_absent"] = num
        else:
            out["number"] = num
        return out
    if mtype & 0x80:
        try:
            md = _MdmfBody.parse(body)
        except ConstructError:
            raise ValueError(f"MDMF body is malformed: a parameter runs past the end ({body.hex()})") from None
        out["format"] = "mdmf"
        for p in md.params:
            t, v = p.type, p.value
            key = {P_DATETIME: "time", P_NUMBER: "number", P_NUMBER_ABSENT: "number_absent",
                   P_NAME: "name", P_NAME_ABSENT: "name_absent"}.get(t)
            if key is None or out[key] is not None:
                out["unknown"].append((t, bytes(v)))
            elif t == P_DATETIME:
                out["time"] = _parse_time(v)
            elif t in (P_NUMBER_ABSENT, P_NAME_ABSENT):
                if len(v) != 1:
                    raise ValueError(f"reason-for-absence parameter 0x{t:02x} must be 1 byte, not {len(v)}")
                out[key] = _ascii(v, f"reason-for-absence parameter 0x{t:02x}")
            else:
                out[key] = _ascii(v, "calling number" if t == P_NUMBER else "calling name")
        return out
    out["body"] = body
    return out


def _parse_time(value: bytes) -> str:
    if len(value) != 8 or not all(0x30 <= b <= 0x39 for b in value):
        raise ValueError(f"date/time must be 8 ASCII digits MMDDHHMM, not {bytes(value)!r}")
    return value.decode("ascii")


# ------------------------------------------------------------------------------------------------ FSK signals
def fsk_generate(message: bytes, modem: str = "bell202", level_dbm0: float = -13.5, seizure_bits: int = 300,
                 mark_bits: int = 180) -> np.ndarray:
    """FSK on-hook data signal (int16, 8 kHz): channel seizure, mark, then ``message`` as async characters.

    GR-30: seizure 300 bits of alternating 0/1, mark 180 bits, nominal level -13.5 dBm. EN 300 659-1 (V.23):
    mark 80 +- 25 bits, seizure optional. Phase continuous (native ``ctid_fsk_tx``).
    """
    if modem not in MODEMS:
        raise ValueError(f"modem must be one of {', '.join(MODEMS)}, not {modem!r}")
    data = bytes(message)
    tx = lib.ctid_fsk_tx_new(MODEMS[modem], float(level_dbm0))
    if tx == ffi.NULL:
        raise ValueError(f"cannot generate FSK at {level_dbm0} dBm0")
    tx = ffi.gc(tx, lib.ctid_fsk_tx_free)
    buf = ffi.from_buffer("uint8_t[]", data) if data else ffi.NULL
    rc = lib.ctid_fsk_tx_put(tx, buf, len(data), int(seizure_bits), int(mark_bits))
    if rc < 0:
        raise ValueError(f"cannot queue {len(data)} bytes with {seizure_bits} seizure and {mark_bits} mark bits")
    nbits = rc
    total = -(-nbits * 20 // 3)   # ceil(bits * 8000 / 1200)
    out = np.zeros(total + 16, dtype=np.int16)
    n = lib.ctid_fsk_tx_generate(tx, ffi.from_buffer("int16_t[]", out), len(out))
    return out[:n]


def cid_signal(number: Optional[str] = None, name: Optional[str] = None, time=None, fmt: str = "mdmf",
               modem: str = "bell202", level_dbm0: float = -13.5, seizure_bits: int = 300, mark_bits: int = 180,
               number_absent: Optional[str] = None, name_absent: Optional[str] = None) -> np.ndarray:
    """Build a caller ID message and modulate it (see :func:`build_message` and :func:`fsk_generate`)."""
    msg = build_message(number=number, name=name, time=time, number_absent=number_absent,
                        name_absent=name_absent, fmt=fmt)
    return fsk_generate(msg, modem=modem, level_dbm0=level_dbm0, seizure_bits=seizure_bits, mark_bits=mark_bits)


# ------------------------------------------------------------------------------------------------ DTMF caller ID
# DTMF caller ID (ETSI EN 300 659-1 annex C, "DTMF based" CLIP kept for networks that used it before FSK; the
# layouts below are those described by the spandsp adsi documentation and used by Asterisk's callerid.c):
#   A<calling number>[D<redirecting number>][B<information code>]C
#   B<information code>C    with code "00" = number not available, "10" = presentation restricted (private)
# Variants also accepted by the decoder:
#   A<number>#,  D1# (private), D2# (international, unavailable), D3# (unavailable)  (Denmark / Netherlands)
#   D<number>C   (Taiwan)
DTMF_ABSENCE_CODES = {"O": "00", "P": "10"}
_DTMF_INFO_TO_ABSENT = {"00": "O", "10": "P"}
_DTMF_HASH_ABSENT = {"1": "P", "2": "O", "3": "O"}


def dtmf_cid_digits(number: Optional[str] = None, absent: Optional[str] = None, start: str = "A",
                    end: str = "C") -> str:
    """DTMF caller ID string: ``"A" + number + "C"``, or ``"B00C"`` (unavailable, ``absent='O'`` or ``"00"``)
    / ``"B10C"`` (private, ``absent='P'`` or ``"10"``)."""
    if (number is None) == (absent is None):
        raise ValueError("give exactly one of number and absent")
    if start not in ("A", "D") or end not in ("C", "#"):
        raise ValueError("start must be 'A' or 'D' and end 'C' or '#'")
    if number is not None:
        if not isinstance(number, str) or not re.fullmatch(r"[0-9]{1,%d}" % MAX_NUMBER, number):
            raise ValueError(f"a DTMF caller ID number is 1..{MAX_NUMBER} digits 0-9, not {number!r}")
        return start + number + end
    code = DTMF_ABSENCE_CODES.get(absent, absent)
    if code not in _DTMF_INFO_TO_ABSENT:
        raise ValueError(f"absent must be 'O'/'00' (unavailable) or 'P'/'10' (private), not {absent!r}")
    return "B" + code + "C"


def parse_dtmf_cid(digits: str) -> dict:
    """Decode one complete DTMF caller ID string (start symbol ... terminator). Raises :class:`ValueError`."""
    if not isinstance(digits, str) or len(digits) < 2 or digits[-1] not in "C#":
        raise ValueError(f"DTMF caller ID must end with C or #: {digits!r}")
    body, term = digits[:-1], digits[-1]
    fields = re.findall(r"([ABD])([0-9*]*)", body)
    if not fields or "".join(k + v for k, v in fields) != body:
        raise ValueError(f"DTMF caller ID {digits!r} does not start with A, B or D or has misplaced symbols")
    out = dict(format="dtmf", number=None, number_absent=None, redirect=None, info=None, raw=digits)
    kinds = [k for k, _ in fields]
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"DTMF caller ID {digits!r} repeats a field")
    f = dict(fields)
    if term == "#":
        if kinds == ["D"] and f["D"] in _DTMF_HASH_ABSENT:
            out["number_absent"] = _DTMF_HASH_ABSENT[f["D"]]
            out["info"] = f["D"]
        elif kinds == ["A"] and f["A"]:
            out["number"] = f["A"]
        else:
            raise ValueError(f"DTMF caller ID {digits!r} is not A<number># or D<1|2|3>#")
        return out
    if "A" in f:
        if not f["A"]:
            raise ValueError(f"DTMF caller ID {digits!r} has an empty number field")
        out["number"] = f["A"]
        if "D" in f:
            out["redirect"] = f["D"] or None
    elif "D" in f and f["D"]:
        out["number"] = f["D"]          # D<number>C variant
    if "B" in f:
        out["info"] = f["B"]
        if f["B"] in _DTMF_INFO_TO_ABSENT:
            out["number_absent"] = _DTMF_INFO_TO_ABSENT[f["B"]]
    if out["number"] is None and out["number_absent"] is None:
        raise ValueError(f"DTMF caller ID {digits!r} carries neither a number nor a known absence code")
    return out


@dataclass
class DtmfCidDecoder:
    """Assembles DTMF caller ID from one channel's DTMF ``on`` events (:class:`ctid.dsp.bank.Event`).

    Digits before a start symbol (A, B or D) are ignored as noise. A gap of more than ``timeout`` samples
    between digits abandons the spill collected so far (the late digit may start a new one). Feed events in
    time order with :meth:`feed`; it returns the decoded dict (see :func:`parse_dtmf_cid`, plus ``t`` and
    ``t_start``, the sample times of the terminator and of the start symbol) when a terminator arrives.
    """

    channel: Optional[int] = None
    timeout: int = 4000           # samples (0.5 s); CLIP spills send a digit every ~0.1-0.2 s
    max_digits: int = 2 * MAX_NUMBER + 8
    buf: str = ""
    t_start: int = 0
    t_last: Optional[int] = None
    errors: int = 0
    results: list = field(default_factory=list)

    def reset(self) -> None:
        self.buf = ""
        self.t_last = None

    def feed(self, event) -> Optional[dict]:
        if getattr(event, "kind", None) != "dtmf" or getattr(event, "type", None) != "on":
            return None
        if self.channel is not None and event.channel != self.channel:
            return None
        digit = str(event.value).upper()
        t = int(event.t)
        if self.buf and self.t_last is not None and t - self.t_last > self.timeout:
            self.buf = ""            # inter-digit timeout: drop the partial spill
        self.t_last = t
        if not self.buf:
            if digit in "ABD" and len(digit) == 1:
                self.buf = digit
                self.t_start = t
            return None
        if digit == "A":             # A only ever starts a spill: restart on it
            self.buf = "A"
            self.t_start = t
            return None
        self.buf += digit
        if digit in ("C", "#"):
            raw, self.buf = self.buf, ""
            try:
                res = parse_dtmf_cid(raw)
            except ValueError:
                self.errors += 1
                return None
            res["t"] = t
            res["t_start"] = self.t_start
            self.results.append(res)
            return res
        if len(self.buf) > self.max_digits:
            self.buf = ""
            self.errors += 1
        return None

    def feed_all(self, events) -> list:
        """Feed many events; returns the decoded results in order."""
        out = []
        for e in events:
            r = self.feed(e)
            if r is not None:
                out.append(r)
        return out
