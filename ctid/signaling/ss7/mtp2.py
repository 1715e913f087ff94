"""MTP2 signal units (ITU-T Q.703 basic error correction): FISU, LSSU, MSU, with or without the FCS.

Octet layout (first transmitted first; construct's BitStruct reads each octet most significant bit first)::

    BIB(1) BSN(7) | FIB(1) FSN(7) | spare(2) LI(6) | [status field 1-2 octets | SIO SIF...] | [FCS 2 octets]

The FCS is the X.25 CRC-16 (reflected polynomial 0x8408, init 0xFFFF, xorout 0xFFFF), sent low byte first.
"""
from __future__ import annotations

from dataclasses import dataclass

import construct as c

from .errors import CodecError

MAX_SIF = 272                     # Q.703 1.3: signalling information field, octets
MAX_MSU_PAYLOAD = MAX_SIF + 1     # SIO + SIF
LI_LONG = 63                      # LI of any MSU with 63 or more octets after the LI

HEADER = c.BitStruct(
    "bib" / c.BitsInteger(1),
    "bsn" / c.BitsInteger(7),
    "fib" / c.BitsInteger(1),
    "fsn" / c.BitsInteger(7),
    "spare" / c.BitsInteger(2),
    "li" / c.BitsInteger(6),
)

# LSSU status field (Q.703 11.1.3): status indication in bits CBA of the first octet, the rest spare.
STATUS_NAMES = {0: "SIO", 1: "SIN", 2: "SIE", 3: "SIOS", 4: "SIPO", 5: "SIB"}
STATUS_CODES = {v: k for k, v in STATUS_NAMES.items()}
STATUS_FIELD = c.BitStruct("spare" / c.BitsInteger(5), "status" / c.BitsInteger(3))


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16_x25(data: bytes) -> int:
    """X.25 / HDLC FCS-16 of ``data`` (the value to send, low byte first)."""
    crc = 0xFFFF
    tab = _CRC_TABLE
    for b in data:
        crc = (crc >> 8) ^ tab[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFF


def add_fcs(data: bytes) -> bytes:
    return bytes(data) + crc16_x25(data).to_bytes(2, "little")


def check_fcs(frame: bytes) -> bytes:
    """Return the frame without its 2 FCS octets; CodecError if short or the FCS is wrong."""
    if len(frame) < 5:
        raise CodecError(f"MTP2: frame of {len(frame)} octets is too short for header and FCS (minimum 5)")
    body, fcs = frame[:-2], int.from_bytes(frame[-2:], "little")
    want = crc16_x25(body)
    if fcs != want:
        raise CodecError(f"MTP2: bad FCS 0x{fcs:04x}, computed 0x{want:04x}")
    return body


@dataclass(frozen=True)
class SignalUnit:
    """One MTP2 signal unit. ``kind`` is FISU, LSSU or MSU (from the LI)."""

    bsn: int = 127
    bib: int = 1
    fsn: int = 127
    fib: int = 1
    status: str | None = None      # LSSU: SIO SIN SIE SIOS SIPO SIB
    payload: bytes = b""          # MSU: SIO + SIF (the MTP3 message)
    status_len: int = 1            # LSSU: 1 or 2 octet status field
    spare: int = 0                 # the 2 spare bits above the LI

    @property
    def kind(self) -> str:
        if self.status is not None:
            return "LSSU"
        return "MSU" if self.payload else "FISU"

    @property
    def li(self) -> int:
        if self.status is not None:
            return self.status_len
        return min(len(self.payload), LI_LONG)


def encode(su: SignalUnit, fcs: bool = True) -> bytes:
    for name, top in (("bsn", 127), ("fsn", 127), ("bib", 1), ("fib", 1), ("spare", 3)):
        v = getattr(su, name)
        if not isinstance(v, int) or not 0 <= v <= top:
            raise CodecError(f"MTP2: {name}={v!r} out of range 0..{top}")
    if su.status is not None:
        if su.payload:
            raise CodecError("MTP2: an LSSU carries no SIO/SIF payload")
        if su.status not in STATUS_CODES:
            raise CodecError(f"MTP2: unknown LSSU status {su.status!r} (one of {', '.join(STATUS_CODES)})")
        if su.status_len not in (1, 2):
            raise CodecError(f"MTP2: LSSU status field is 1 or 2 octets, not {su.status_len}")
        body = STATUS_FIELD.build({"spare": 0, "status": STATUS_CODES[su.status]}) + b"\x00" * (su.status_len - 1)
    else:
        body = bytes(su.payload)
        if len(body) in (1, 2):
            raise CodecError(f"MTP2: an MSU needs SIO + at least 2 SIF octets, got {len(body)} octets")
        if len(body) > MAX_MSU_PAYLOAD:
            raise CodecError(f"MTP2: MSU payload of {len(body)} octets exceeds SIO + {MAX_SIF}")
    hdr = HEADER.build({"bib": su.bib, "bsn": su.bsn, "fib": su.fib, "fsn": su.fsn, "spare": su.spare, "li": su.li})
    out = hdr + body
    return add_fcs(out) if fcs else out


def decode(data: bytes, fcs: bool = True) -> SignalUnit:
    """Decode one signal unit (``fcs``: the last 2 octets are the FCS and are checked)."""
    data = bytes(data)
    if fcs:
        data = check_fcs(data)
    if len(data) < 3:
        raise CodecError(f"MTP2: {len(data)} octets is shorter than the 3-octet header")
    h = HEADER.parse(data[:3])
    body = data[3:]
    n = len(body)
    li = h.li
    common = dict(bsn=h.bsn, bib=h.bib, fsn=h.fsn, fib=h.fib, spare=h.spare)
    if li == 0:
        if n:
            raise CodecError(f"MTP2: LI 0 (FISU) but {n} octets follow the header")
        return SignalUnit(**common)
    if li in (1, 2):
        if n != li:
            raise CodecError(f"MTP2: LI {li} (LSSU) but {n} octets follow the header")
        sf = STATUS_FIELD.parse(body[:1])
        if sf.status not in STATUS_NAMES or sf.spare or any(body[1:]):
            raise CodecError(f"MTP2: LSSU status field 0x{body.hex()} is not a Q.703 status indication")
        return SignalUnit(status=STATUS_NAMES[sf.status], status_len=li, **common)
    if li < LI_LONG and n != li:
        raise CodecError(f"MTP2: LI {li} disagrees with the {n} octets that follow the header")
    if li == LI_LONG and n < LI_LONG:
        raise CodecError(f"MTP2: LI 63 needs at least 63 octets after the header, got {n}")
    if n > MAX_MSU_PAYLOAD:
        raise CodecError(f"MTP2: MSU of {n} octets after the header exceeds SIO + {MAX_SIF}")
    return SignalUnit(payload=body, **common)
