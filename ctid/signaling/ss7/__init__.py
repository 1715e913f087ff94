"""SS7: MTP2 signal units (Q.703), MTP3 (Q.704, ITU 14-bit and China 24-bit point codes), ISUP (Q.763) codecs.

:func:`decode_frame` and :func:`encode_frame` go between a whole signal unit and one flat, JSON-ready dict
(the shape ``ctid sig decode --json`` prints and ``ctid sig encode`` reads).
"""
from __future__ import annotations

from . import isup, mtp2, mtp3
from .errors import CodecError

__all__ = ["CodecError", "decode_frame", "encode_frame", "isup", "mtp2", "mtp3"]


def decode_frame(frame: bytes, pc_format: str = "itu", fcs: bool = True) -> dict:
    """Decode one signal unit down to ISUP / MTP3 management; CodecError for anything malformed."""
    su = mtp2.decode(frame, fcs=fcs)
    d: dict = {"su": su.kind, "bsn": su.bsn, "bib": su.bib, "fsn": su.fsn, "fib": su.fib, "li": su.li}
    if su.spare:
        d["li_spare"] = su.spare
    if su.kind == "FISU":
        d["message_type"] = "FISU"
        return d
    if su.kind == "LSSU":
        d["message_type"] = d["status"] = su.status
        if su.status_len != 1:
            d["status_len"] = su.status_len
        return d
    m = mtp3.decode_msu(su.payload, pc_format)
    d.update(pc_format=pc_format, ni=m.ni, priority=m.priority, si=m.si, dpc=m.dpc, opc=m.opc, sls=m.sls,
             dpc_text=mtp3.format_pc(m.dpc, pc_format), opc_text=mtp3.format_pc(m.opc, pc_format))
    if m.label_spare:
        d["label_spare"] = m.label_spare
    if m.si == mtp3.SI_ISUP:
        msg = isup.decode(m.data, variant=pc_format)   # China 24-bit network: China ISUP messages too
        body = isup.message_to_dict(msg)
        d["message_type"] = body["message_type"]
        d["cic"] = msg.cic
        if isinstance(msg, isup.IsupMessage):
            called = msg.get(isup.CalledPartyNumber)
            calling = msg.get(isup.CallingPartyNumber)
            cause = msg.get(isup.CauseIndicators)
            if called is not None:
                d["called"] = called.digits
            if calling is not None:
                d["calling"] = calling.digits
            if cause is not None:
                d["cause"] = cause.cause
        d["isup"] = body
    elif m.si in (mtp3.SI_SNM, mtp3.SI_SLTM):
        g = mtp3.decode_mgmt(m.si, m.data, pc_format)
        d["message_type"] = g.name
        if g.name == "UNKNOWN":
            d["mgmt"] = {"name": g.name, "h0": g.h0, "h1": g.h1, "body": g.body.hex()}
        else:
            d["mgmt"] = {"name": g.name, "fsn": g.fsn, "changeback_code": g.changeback_code,
                         "destination": g.destination, "pattern": g.pattern.hex(), "spare": g.spare}
    else:
        d["message_type"] = f"SI{m.si}"
        d["data"] = m.data.hex()
    return d


def _int(d: dict, key: str, default: int) -> int:
    v = d.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool):
        raise CodecError(f"{key} must be an integer, got {v!r}")
    return v


def encode_frame(d: dict, pc_format: str | None = None, fcs: bool = True) -> bytes:
    """Build a signal unit from the dict form of :func:`decode_frame` (derived keys such as ``li``, ``called``
    and ``*_text`` are ignored; ``dpc``/``opc`` may be integers or dashed text)."""
    if not isinstance(d, dict):
        raise CodecError(f"signal unit must be a JSON object, got {type(d).__name__}")
    hdr = dict(bsn=_int(d, "bsn", 127), bib=_int(d, "bib", 1), fsn=_int(d, "fsn", 127), fib=_int(d, "fib", 1),
               spare=_int(d, "li_spare", 0))
    kind = d.get("su")
    if kind is None:
        kind = "MSU" if ("isup" in d or "mgmt" in d or "si" in d) else ("LSSU" if "status" in d else "FISU")
    if kind == "FISU":
        return mtp2.encode(mtp2.SignalUnit(**hdr), fcs=fcs)
    if kind == "LSSU":
        return mtp2.encode(mtp2.SignalUnit(status=d.get("status"), status_len=_int(d, "status_len", 1), **hdr),
                           fcs=fcs)
    if kind != "MSU":
        raise CodecError(f"su must be FISU, LSSU or MSU, not {kind!r}")
    fmt = mtp3.check_format(pc_format or d.get("pc_format", "itu"))
    if "isup" in d:
        msg = isup.message_from_dict(d["isup"])
        data = isup.encode(msg)
        si_default = mtp3.SI_ISUP
    elif "mgmt" in d:
        g = d["mgmt"]
        if not isinstance(g, dict):
            raise CodecError("mgmt must be an object")
        try:
            pattern = bytes.fromhex(g.get("pattern", ""))
            body = bytes.fromhex(g.get("body", ""))
        except (TypeError, ValueError):
            raise CodecError(f"mgmt.pattern/body must be hex, got {g!r}") from None
        gm = mtp3.MgmtMessage(str(g.get("name")), fsn=_int(g, "fsn", 0), changeback_code=_int(g, "changeback_code", 0),
                              destination=_int(g, "destination", 0), pattern=pattern, spare=_int(g, "spare", 0),
                              si=_int(d, "si", 0), h0=_int(g, "h0", 0), h1=_int(g, "h1", 0), body=body)
        data = mtp3.encode_mgmt(gm, fmt)
        si_default = mtp3.mgmt_si(gm.name, gm.si)
    else:
        try:
            data = bytes.fromhex(d.get("data", ""))
        except (TypeError, ValueError):
            raise CodecError(f"data must be hex, got {d.get('data')!r}") from None
        si_default = None
    si = _int(d, "si", si_default if si_default is not None else -1)
    if si_default is None and si == mtp3.SI_ISUP and not data:
        raise CodecError("an ISUP MSU (si 5) needs an 'isup' object (as ctid sig decode --json prints it) or 'data' hex")
    if si_default is not None and si != si_default:
        raise CodecError(f"si {si} does not match the message (SI {si_default})")
    if "dpc" not in d or "opc" not in d:
        raise CodecError("an MSU needs dpc and opc")
    m = mtp3.Msu(si=si, dpc=mtp3.parse_pc(d["dpc"], fmt), opc=mtp3.parse_pc(d["opc"], fmt), sls=_int(d, "sls", 0),
                 ni=_int(d, "ni", mtp3.NI_NATIONAL), priority=_int(d, "priority", 0), data=data, pc_format=fmt,
                 label_spare=_int(d, "label_spare", 0))
    return mtp2.encode(mtp2.SignalUnit(payload=mtp3.encode_msu(m), **hdr), fcs=fcs)
