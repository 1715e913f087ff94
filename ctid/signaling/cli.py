"""``ctid sig``: decode and build SS7 signal units (MTP2 / MTP3 / ISUP) for engineers.

``ctid sig decode [--pc itu|china] HEX... | --pcap FILE [--json]`` and ``ctid sig encode [FILE] [--pcap OUT]``;
the JSON of ``decode --json`` (one object per line) is what ``encode`` reads, so the two round-trip.
Bad input (hex, JSON, pcap, a malformed signal unit) prints ``ctid sig: error: ...`` and exits with status 2.
"""
from __future__ import annotations

import json
import sys

from .ss7 import CodecError, decode_frame, encode_frame
from .ss7.pcap import LINKTYPE_MTP2, LINKTYPE_MTP2_WITH_PHDR, read_pcap, write_pcap

EXIT_BAD_INPUT = 2


def add_parser(sub) -> None:
    p = sub.add_parser("sig", help="SS7 signal units: decode hex or pcaps, build from JSON")
    ssub = p.add_subparsers(dest="sig_cmd", required=True)

    d = ssub.add_parser("decode", help="decode MTP2/MTP3/ISUP signal units from hex or a pcap")
    d.add_argument("hex", nargs="*", help="signal units as hex (MTP2 header first; spaces/colons allowed inside)")
    d.add_argument("--pcap", help="read a classic pcap (link type 140 MTP2, or 139 with pseudo-header)")
    d.add_argument("--pc", choices=["itu", "china"], default="itu", help="point code format (default itu)")
    d.add_argument("--no-fcs", action="store_true", help="the signal units carry no 2-octet FCS")
    d.add_argument("--json", action="store_true", help="one JSON object per signal unit per line")
    d.set_defaults(func=cmd_decode)

    e = ssub.add_parser("encode", help="build signal units from JSON (the shape decode --json prints)")
    e.add_argument("file", nargs="?", default="-", help="JSON file: objects one per line, or an array (default -)")
    e.add_argument("--pc", choices=["itu", "china"], help="point code format (default: each object's pc_format)")
    e.add_argument("--no-fcs", action="store_true", help="leave out the FCS")
    e.add_argument("--pcap", help="write a pcap (link type 140, FCS included) instead of printing hex")
    e.set_defaults(func=cmd_encode)


def run(args) -> int:
    try:
        return args.func(args)
    except CodecError as exc:
        print(f"ctid sig: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _frames_from_args(args) -> list[tuple[str, bytes]]:
    if args.pcap and args.hex:
        raise CodecError("give hex signal units or --pcap, not both")
    if args.pcap:
        linktype, records = read_pcap(args.pcap)
        if linktype not in (LINKTYPE_MTP2, LINKTYPE_MTP2_WITH_PHDR):
            raise CodecError(f"pcap link type {linktype} is not MTP2 (140) or MTP2 with pseudo-header (139)")
        skip = 4 if linktype == LINKTYPE_MTP2_WITH_PHDR else 0
        return [(f"{args.pcap}#{i + 1}", data[skip:]) for i, (_, data) in enumerate(records)]
    if not args.hex:
        raise CodecError("nothing to decode: give hex signal units or --pcap FILE")
    out = []
    for i, h in enumerate(args.hex):
        clean = h.replace(":", "").replace(" ", "").replace("-", "")
        if clean.lower().startswith("0x"):
            clean = clean[2:]
        try:
            out.append((f"#{i + 1}", bytes.fromhex(clean)))
        except ValueError:
            raise CodecError(f"argument {i + 1} is not hex: {h!r}") from None
    return out


def _text(d: dict) -> str:
    head = f"{d['su']} bsn={d['bsn']}/{d['bib']} fsn={d['fsn']}/{d['fib']} li={d['li']}"
    if d["su"] == "FISU":
        return head
    if d["su"] == "LSSU":
        return f"{head} status={d['status']}"
    parts = [head, f"ni={d['ni']} si={d['si']} opc={d['opc_text']} ({d['opc']}) dpc={d['dpc_text']} ({d['dpc']}) "
                   f"sls={d['sls']}"]
    if "isup" in d:
        s = f"ISUP {d['message_type']} cic={d['cic']}"
        for k in ("called", "calling", "cause"):
            if k in d:
                s += f" {k}={d[k]}"
        parts.append(s)
        lines = [" | ".join(parts)]
        for k, v in d["isup"].items():
            if k in ("message_type", "cic"):
                continue
            for p in (v if isinstance(v, list) else [v]):
                if isinstance(p, dict):
                    fields = " ".join(f"{fk}={fv}" for fk, fv in p.items() if fk != "name")
                    lines.append(f"    {p['name']}: {fields}")
                else:
                    lines.append(f"    {k}: {p}")
        return "\n".join(lines)
    if "mgmt" in d:
        g = d["mgmt"]
        keys = {"COO": "fsn", "COA": "fsn", "CBD": "changeback_code", "CBA": "changeback_code",
                "TFP": "destination", "TFA": "destination", "SLTM": "pattern", "SLTA": "pattern", "TRA": None,
                "UNKNOWN": ("h0", "h1", "body")}.get(g["name"])
        keys = (keys,) if isinstance(keys, str) else (keys or ())
        extra = " ".join(f"{k}={g.get(k)}" for k in keys)
        parts.append(f"{g['name']} {extra}".rstrip())
    else:
        parts.append(f"{d['message_type']} data={d['data']}")
    return " | ".join(parts)


def cmd_decode(args) -> int:
    frames = _frames_from_args(args)
    bad = 0
    for where, frame in frames:
        try:
            d = decode_frame(frame, args.pc, fcs=not args.no_fcs)
        except CodecError as exc:
            if len(frames) == 1:
                raise CodecError(f"{where}: {exc}") from None
            print(f"ctid sig: error: {where}: {exc}", file=sys.stderr)
            bad += 1
            continue
        print(json.dumps(d) if args.json else f"{where} {_text(d)}")
    return EXIT_BAD_INPUT if bad else 0


def _load_json(path: str) -> list:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise CodecError(f"cannot read {path}: {exc.strerror}") from None
    stripped = text.strip()
    if not stripped:
        raise CodecError("no JSON input")
    try:
        if stripped.startswith("["):
            items = json.loads(stripped)
        else:
            items = [json.loads(line) for line in stripped.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise CodecError(f"bad JSON: {exc}") from None
    if isinstance(items, dict):
        items = [items]
    return items


def cmd_encode(args) -> int:
    items = _load_json(args.file)
    frames = []
    for i, d in enumerate(items):
        try:
            frames.append(encode_frame(d, args.pc, fcs=not args.no_fcs and True))
        except CodecError as exc:
            raise CodecError(f"signal unit {i + 1}: {exc}") from None
        except TypeError as exc:
            raise CodecError(f"signal unit {i + 1}: {exc}") from None
    if args.pcap:
        if args.no_fcs:
            raise CodecError("--pcap writes link type 140 with the FCS; leave out --no-fcs")
        try:
            write_pcap(args.pcap, frames)
        except OSError as exc:
            raise CodecError(f"cannot write {args.pcap}: {exc.strerror}") from None
        return 0
    for f in frames:
        print(f.hex())
    return 0
