"""Classic libpcap files of signal units (link type 140 MTP2, each record a signal unit with its FCS)."""
from __future__ import annotations

import construct as c

from .errors import CodecError

LINKTYPE_MTP2_WITH_PHDR = 139
LINKTYPE_MTP2 = 140
LINKTYPE_MTP3 = 141
MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D

GLOBAL_HEADER = c.Struct(
    "magic" / c.Int32ul, "version_major" / c.Int16ul, "version_minor" / c.Int16ul, "thiszone" / c.Int32sl,
    "sigfigs" / c.Int32ul, "snaplen" / c.Int32ul, "linktype" / c.Int32ul,
)
RECORD_HEADER = c.Struct("ts_sec" / c.Int32ul, "ts_frac" / c.Int32ul, "incl_len" / c.Int32ul, "orig_len" / c.Int32ul)


def write_pcap(path: str, frames, linktype: int = LINKTYPE_MTP2, start: float = 0.0, step: float = 0.001) -> None:
    """Write ``frames`` (bytes, or (timestamp_seconds, bytes) pairs) to a little-endian microsecond pcap."""
    with open(path, "wb") as f:
        f.write(GLOBAL_HEADER.build(dict(magic=MAGIC_US, version_major=2, version_minor=4, thiszone=0, sigfigs=0,
                                         snaplen=65535, linktype=linktype)))
        t = start
        for item in frames:
            if isinstance(item, tuple):
                t, data = item
            else:
                data = item
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            f.write(RECORD_HEADER.build(dict(ts_sec=sec, ts_frac=usec, incl_len=len(data), orig_len=len(data))))
            f.write(bytes(data))
            if not isinstance(item, tuple):
                t += step


def read_pcap(path: str) -> tuple[int, list[tuple[float, bytes]]]:
    """(link type, [(timestamp, frame)]); CodecError for a file that is not a complete classic pcap."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as exc:
        raise CodecError(f"pcap: cannot read {path}: {exc.strerror}") from None
    if len(blob) < 24:
        raise CodecError(f"pcap: {path}: {len(blob)} octets is shorter than the 24-octet global header")
    magic_le = int.from_bytes(blob[:4], "little")
    magic_be = int.from_bytes(blob[:4], "big")
    if magic_le in (MAGIC_US, MAGIC_NS):
        order, magic = "little", magic_le
    elif magic_be in (MAGIC_US, MAGIC_NS):
        order, magic = "big", magic_be
    else:
        raise CodecError(f"pcap: {path}: magic 0x{blob[:4].hex()} is not a classic pcap (pcapng is not supported)")
    div = 1e6 if magic == MAGIC_US else 1e9

    def u32(off: int) -> int:
        return int.from_bytes(blob[off:off + 4], order)

    linktype = u32(20) & 0x0FFFFFFF
    out = []
    pos = 24
    n = 0
    while pos < len(blob):
        n += 1
        if pos + 16 > len(blob):
            raise CodecError(f"pcap: {path}: record {n} header truncated at offset {pos}")
        sec, frac, incl = u32(pos), u32(pos + 4), u32(pos + 8)
        pos += 16
        if pos + incl > len(blob):
            raise CodecError(f"pcap: {path}: record {n} truncated ({incl} octets announced, "
                             f"{len(blob) - pos} present)")
        out.append((sec + frac / div, blob[pos:pos + incl]))
        pos += incl
    return linktype, out
