"""MTP3 (ITU-T Q.704): SIO, routing label (ITU 14-bit or China 24-bit point codes), SNM and SLTM/SLTA messages.

ITU label: 32 bits little-endian, DPC in bits 0-13, OPC in bits 14-27, SLS in bits 28-31.
China label (national, 7 octets): DPC 3 octets LSB first, OPC 3 octets LSB first, SLS in the low 4 bits of the last.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import construct as c

from .errors import CodecError

PC_FORMATS = ("itu", "china")
PC_BITS = {"itu": 14, "china": 24}
LABEL_LEN = {"itu": 4, "china": 7}

SI_SNM, SI_SLTM, SI_SLTM_SPECIAL, SI_SCCP, SI_TUP, SI_ISUP = 0, 1, 2, 3, 4, 5
NI_INTERNATIONAL, NI_SPARE_INTL, NI_NATIONAL, NI_NATIONAL_SPARE = 0, 1, 2, 3

SIO = c.BitStruct("ni" / c.BitsInteger(2), "priority" / c.BitsInteger(2), "si" / c.BitsInteger(4))

LABEL_ITU = c.ByteSwapped(c.BitStruct("sls" / c.BitsInteger(4), "opc" / c.BitsInteger(14), "dpc" / c.BitsInteger(14)))
LABEL_CHINA = c.Struct(
    "dpc" / c.Int24ul,
    "opc" / c.Int24ul,
    "sls_octet" / c.BitStruct("spare" / c.BitsInteger(4), "sls" / c.BitsInteger(4)),
)


def check_format(pc_format: str) -> str:
    if pc_format not in PC_FORMATS:
        raise CodecError(f"MTP3: point code format {pc_format!r} is not one of {', '.join(PC_FORMATS)}")
    return pc_format


# -- point code text forms -------------------------------------------------------------------------------------------
PC_TEXT_SPLIT = {"itu": (3, 8, 3), "china": (8, 8, 8)}


def format_pc(pc: int, pc_format: str = "itu") -> str:
    """3-8-3 (ITU zone-area-signalling point) or 8-8-8 (China network-cluster-member)."""
    check_format(pc_format)
    if not 0 <= pc < (1 << PC_BITS[pc_format]):
        raise CodecError(f"MTP3: point code {pc} does not fit {PC_BITS[pc_format]} bits")
    parts, shift = [], PC_BITS[pc_format]
    for width in PC_TEXT_SPLIT[pc_format]:
        shift -= width
        parts.append(str((pc >> shift) & ((1 << width) - 1)))
    return "-".join(parts)


def parse_pc(text: str | int, pc_format: str = "itu") -> int:
    """Accept a plain integer or the dashed text form of :func:`format_pc`."""
    check_format(pc_format)
    if isinstance(text, int):
        value = text
    else:
        s = str(text).strip()
        if "-" in s:
            parts = s.split("-")
            widths = PC_TEXT_SPLIT[pc_format]
            if len(parts) != len(widths) or not all(p.isdigit() for p in parts):
                raise CodecError(f"MTP3: point code {s!r} is not in the {'-'.join(map(str, widths))} form")
            value = 0
            for p, w in zip(parts, widths):
                if int(p) >= (1 << w):
                    raise CodecError(f"MTP3: point code {s!r}: part {p} does not fit {w} bits")
                value = (value << w) | int(p)
        elif s.isdigit():
            value = int(s)
        else:
            raise CodecError(f"MTP3: point code {s!r} is neither a number nor dashed text")
    if not 0 <= value < (1 << PC_BITS[pc_format]):
        raise CodecError(f"MTP3: point code {value} does not fit {PC_BITS[pc_format]} bits")
    return value


# -- MSU (SIO + routing label + user part) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Msu:
    """An MTP3 message: service information octet, routing label, and the user part's bytes after the label."""

    si: int
    dpc: int
    opc: int
    sls: int = 0
    ni: int = NI_NATIONAL
    priority: int = 0
    data: bytes = b""
    pc_format: str = "itu"
    label_spare: int = 0    # China: the high 4 bits of the SLS octet


def encode_msu(m: Msu) -> bytes:
    fmt = check_format(m.pc_format)
    for name, top in (("si", 15), ("ni", 3), ("priority", 3), ("sls", 15), ("label_spare", 15),
                      ("dpc", (1 << PC_BITS[fmt]) - 1), ("opc", (1 << PC_BITS[fmt]) - 1)):
        v = getattr(m, name)
        if not isinstance(v, int) or not 0 <= v <= top:
            raise CodecError(f"MTP3: {name}={v!r} out of range 0..{top} ({fmt})")
    if fmt == "itu" and m.label_spare:
        raise CodecError("MTP3: the ITU label has no spare bits")
    sio = SIO.build({"ni": m.ni, "priority": m.priority, "si": m.si})
    if fmt == "itu":
        label = LABEL_ITU.build({"sls": m.sls, "opc": m.opc, "dpc": m.dpc})
    else:
        label = LABEL_CHINA.build({"dpc": m.dpc, "opc": m.opc, "sls_octet": {"spare": m.label_spare, "sls": m.sls}})
    return sio + label + bytes(m.data)


def decode_msu(data: bytes, pc_format: str = "itu") -> Msu:
    fmt = check_format(pc_format)
    data = bytes(data)
    need = 1 + LABEL_LEN[fmt]
    if len(data) < need:
        raise CodecError(f"MTP3: {len(data)} octets is shorter than SIO + {fmt} routing label ({need})")
    s = SIO.parse(data[:1])
    if fmt == "itu":
        lab = LABEL_ITU.parse(data[1:5])
        spare = 0
        sls = lab.sls
    else:
        lab = LABEL_CHINA.parse(data[1:8])
        spare = lab.sls_octet.spare
        sls = lab.sls_octet.sls
    return Msu(si=s.si, ni=s.ni, priority=s.priority, dpc=lab.dpc, opc=lab.opc, sls=sls,
               data=data[need:], pc_format=fmt, label_spare=spare)


# -- signalling network management (SI 0) and test (SI 1) messages ---------------------------------------------------
HEADING = c.BitStruct("h1" / c.BitsInteger(4), "h0" / c.BitsInteger(4))

# Q.704 15.2 / Q.707: (H0, H1) -> name, per service indicator
SNM_HEADINGS = {(1, 1): "COO", (1, 2): "COA", (1, 5): "CBD", (1, 6): "CBA", (4, 1): "TFP", (4, 5): "TFA",
                (7, 1): "TRA"}
SLT_HEADINGS = {(1, 1): "SLTM", (1, 2): "SLTA"}
SNM_CODES = {v: k for k, v in SNM_HEADINGS.items()}
SLT_CODES = {v: k for k, v in SLT_HEADINGS.items()}

COO_BODY = c.BitStruct("spare" / c.BitsInteger(1), "fsn" / c.BitsInteger(7))          # Q.704 fig. 10
CBD_BODY = c.Struct("changeback_code" / c.Int8ul)                                      # Q.704 fig. 12
TFP_BODY_ITU = c.ByteSwapped(c.BitStruct("spare" / c.BitsInteger(2), "destination" / c.BitsInteger(14)))
TFP_BODY_CHINA = c.Struct("destination" / c.Int24ul)
SLT_LEN = c.BitStruct("length" / c.BitsInteger(4), "spare" / c.BitsInteger(4))      # Q.707 fig. 1


@dataclass(frozen=True)
class MgmtMessage:
    """SNM (COO COA CBD CBA TFP TFA TRA) or test (SLTM SLTA) message; the fields used depend on ``name``.

    Any other heading decodes as name "UNKNOWN" with ``si``, ``h0``, ``h1`` and the raw ``body``."""

    name: str
    fsn: int = 0                 # COO/COA: FSN of the last accepted MSU
    changeback_code: int = 0     # CBD/CBA
    destination: int = 0         # TFP/TFA: the concerned point code
    pattern: bytes = b""         # SLTM/SLTA test pattern (0-15 octets)
    spare: int = 0               # SLTM/SLTA: spare nibble; COO/COA: spare bit; TFP/TFA (ITU): 2 spare bits
    si: int = 0                  # UNKNOWN: service indicator (0 SNM, 1 test)
    h0: int = 0                  # UNKNOWN: heading codes
    h1: int = 0
    body: bytes = b""            # UNKNOWN: the octets after the heading


def mgmt_si(name: str, si: int = 0) -> int:
    if name == "UNKNOWN":
        if si not in (SI_SNM, SI_SLTM):
            raise CodecError(f"MTP3: SI {si} is not network management (0) or test (1)")
        return si
    if name in SNM_CODES:
        return SI_SNM
    if name in SLT_CODES:
        return SI_SLTM
    raise CodecError(f"MTP3: unknown management message {name!r}")


def encode_mgmt(m: MgmtMessage, pc_format: str = "itu") -> bytes:
    """The bytes after the routing label."""
    fmt = check_format(pc_format)
    si = mgmt_si(m.name, m.si)
    try:
        if m.name == "UNKNOWN":
            return HEADING.build({"h0": m.h0, "h1": m.h1}) + bytes(m.body)
        h0, h1 = (SNM_CODES if si == SI_SNM else SLT_CODES)[m.name]
        head = HEADING.build({"h0": h0, "h1": h1})
        if m.name == "TRA":
            return head
        if m.name in ("COO", "COA"):
            return head + COO_BODY.build({"spare": m.spare, "fsn": m.fsn})
        if m.name in ("CBD", "CBA"):
            return head + CBD_BODY.build({"changeback_code": m.changeback_code})
        if m.name in ("TFP", "TFA"):
            if fmt == "itu":
                return head + TFP_BODY_ITU.build({"spare": m.spare, "destination": m.destination})
            if m.spare:
                raise CodecError("MTP3: the China TFP/TFA destination has no spare bits")
            return head + TFP_BODY_CHINA.build({"destination": m.destination})
        if len(m.pattern) > 15:
            raise CodecError(f"MTP3: {m.name} test pattern of {len(m.pattern)} octets exceeds 15")
        return head + SLT_LEN.build({"length": len(m.pattern), "spare": m.spare}) + bytes(m.pattern)
    except c.ConstructError as exc:
        raise CodecError(f"MTP3: cannot encode {m.name}: {exc}") from None


def decode_mgmt(si: int, data: bytes, pc_format: str = "itu") -> MgmtMessage:
    fmt = check_format(pc_format)
    data = bytes(data)
    if si not in (SI_SNM, SI_SLTM):
        raise CodecError(f"MTP3: SI {si} is not network management (0) or test (1)")
    if not data:
        raise CodecError("MTP3: management message without heading octet")
    h = HEADING.parse(data[:1])
    table = SNM_HEADINGS if si == SI_SNM else SLT_HEADINGS
    name = table.get((h.h0, h.h1))
    body = data[1:]
    if name is None:
        return MgmtMessage("UNKNOWN", si=si, h0=h.h0, h1=h.h1, body=body)

    def want(n: int) -> None:
        if len(body) != n:
            raise CodecError(f"MTP3: {name} body is {len(body)} octets, expected {n}")

    if name == "TRA":
        want(0)
        return MgmtMessage(name)
    if name in ("COO", "COA"):
        want(1)
        b = COO_BODY.parse(body)
        return MgmtMessage(name, fsn=b.fsn, spare=b.spare)
    if name in ("CBD", "CBA"):
        want(1)
        return MgmtMessage(name, changeback_code=body[0])
    if name in ("TFP", "TFA"):
        if fmt == "itu":
            want(2)
            b = TFP_BODY_ITU.parse(body)
            return MgmtMessage(name, destination=b.destination, spare=b.spare)
        want(3)
        return MgmtMessage(name, destination=TFP_BODY_CHINA.parse(body).destination)
    if not body:
        raise CodecError(f"MTP3: {name} without length indicator")
    b = SLT_LEN.parse(body[:1])
    want(1 + b.length)
    return MgmtMessage(name, pattern=body[1:], spare=b.spare)
