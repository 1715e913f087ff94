"""``ctid dsp``: detect tones in a file, generate test signals, run the demo."""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np

from .bank import DETECTORS, Bank, DspError, Event
from .wavfile import AudioFileError, read_audio, write_wav

TICK = 160  # frames per process call, as a board delivers them (20 ms)


def add_parser(sub) -> None:
    p = sub.add_parser("dsp", help="tone detection and generation (DTMF, MFC R2, call progress, caller ID)")
    dsub = p.add_subparsers(dest="dsp_cmd", required=True)

    d = dsub.add_parser("detect", help="detect DTMF, R2, call-progress tones and caller ID in a file")
    d.add_argument("file", help="8 kHz mono WAV (A-law, mu-law or 16-bit PCM) or raw A-law/mu-law")
    d.add_argument("--law", choices=["alaw", "ulaw", "linear"], help="coding of a raw file (default alaw)")
    d.add_argument("--detect", default=",".join(DETECTORS),
                   help="comma list of detectors: dtmf,r2f,r2b,cpt,cid (default all)")
    d.add_argument("--china-r2", action="store_true", help="backward R2 as China No.1 2-of-4")
    d.add_argument("--country", default="cn", help="call-progress tone table (default cn)")
    d.add_argument("--modem", choices=["bell202", "v23"], default="bell202", help="FSK caller ID modem")
    d.add_argument("--twist", help="DTMF twist preset by administration (itu, ntt, etsi, brazil, australia ...)")
    d.add_argument("--edges", action="store_true", help="print tone-off events too (compelled signalling)")
    d.add_argument("--json", action="store_true", help="one JSON object per line")
    d.set_defaults(func=cmd_detect)

    g = dsub.add_parser("gen", help="write a test signal to a WAV file")
    gsub = g.add_subparsers(dest="gen_kind", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-o", "--output", required=True, help="output WAV file")
    common.add_argument("--law", choices=["alaw", "ulaw", "linear"], default="alaw", help="WAV coding (default alaw)")
    common.add_argument("--lead", type=int, default=200, help="silence before, ms")
    common.add_argument("--trail", type=int, default=200, help="silence after, ms")
    common.add_argument("--snr", type=float, help="add white noise at this S/N (dB)")
    common.add_argument("--seed", type=int, default=1, help="noise seed")

    gd = gsub.add_parser("dtmf", parents=[common], help="DTMF digits")
    gd.add_argument("digits")
    gd.add_argument("--level", type=float, default=-10.0, help="low-group tone level, dBm0")
    gd.add_argument("--twist", type=float, default=2.0, help="high minus low group, dB")
    gd.add_argument("--on", type=int, default=80, help="tone ms")
    gd.add_argument("--off", type=int, default=80, help="pause ms")
    for kind, helptext in (("r2f", "MFC R2 forward signals"), ("r2b", "MFC R2 backward signals")):
        gr = gsub.add_parser(kind, parents=[common], help=helptext)
        gr.add_argument("signals", help="signal characters from 1234567890BCDEF")
        gr.add_argument("--level", type=float, default=-11.0, help="per-tone level, dBm0")
        gr.add_argument("--on", type=int, default=150, help="signal ms")
        gr.add_argument("--off", type=int, default=100, help="gap ms")
    gt = gsub.add_parser("tone", parents=[common], help="a call-progress tone from the table")
    gt.add_argument("name", help="tone name, e.g. dial, busy, congestion, ringback, call_waiting, vacant, special_dial")
    gt.add_argument("--country", default="cn")
    gt.add_argument("--duration", type=int, default=5000, help="ms")
    gt.add_argument("--level", type=float, help="dBm0 (default: the table's)")
    gc = gsub.add_parser("cid", parents=[common], help="caller ID (FSK or DTMF)")
    gc.add_argument("--number", help="calling number")
    gc.add_argument("--name", help="calling name (MDMF)")
    gc.add_argument("--time", help="MMDDHHMM")
    gc.add_argument("--absent", help="reason the number is absent: O (unavailable) or P (private)")
    gc.add_argument("--format", choices=["mdmf", "sdmf"], default="mdmf")
    gc.add_argument("--modem", choices=["bell202", "v23"], default="bell202")
    gc.add_argument("--dtmf", action="store_true", help="DTMF caller ID instead of FSK")
    gc.add_argument("--level", type=float, default=-13.5, help="dBm0")
    for sp in (gd, gt, gc) + tuple(gsub.choices[k] for k in ("r2f", "r2b")):
        sp.set_defaults(func=cmd_gen)

    demo = dsub.add_parser("demo", help="generate DTMF, MFC R2, busy tone and caller ID into a file and detect them")
    demo.add_argument("-o", "--output", help="keep the generated WAV here")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(func=cmd_demo)


# ------------------------------------------------------------------------------------------- detect
def detect_audio(audio, detect: str = ",".join(DETECTORS), china_r2: bool = False, country: str = "cn",
                 modem: str = "bell202", twist: str | None = None, edges: bool = False) -> list[dict]:
    """Run a one-channel bank over decoded audio the way a board feeds it; return printable event dicts."""
    from .callerid import DtmfCidDecoder
    from .params import DtmfParams, FskParams, R2Params
    from .tones import tones_for

    wanted = {d.strip().lower() for d in detect.split(",") if d.strip()}
    unknown = wanted - set(DETECTORS)
    if unknown:
        raise DspError(f"unknown detector(s) {', '.join(sorted(unknown))}; known: {', '.join(DETECTORS)}")
    enabled = set(wanted)
    if "cid" in wanted:
        enabled.add("dtmf")  # DTMF caller ID rides on the DTMF receiver
    bank = Bank(1, law=audio.law, tones=tones_for(country))
    if twist:
        bank.set_dtmf_params(DtmfParams.for_administration(twist))
    if china_r2:
        bank.set_r2_params(R2Params.defaults(backward=True, china=True))
    bank.set_fsk_params(FskParams.v23() if modem == "v23" else FskParams.bell202())
    bank.set_mask(0, ",".join(sorted(enabled)))
    data = audio.data
    events: list[Event] = []
    for i in range(0, len(data), TICK):
        events.extend(bank.process(data[i:i + TICK]))
    out = []
    cid = DtmfCidDecoder() if "cid" in wanted else None
    for idx, e in enumerate(events):
        if cid is not None and e.kind == "dtmf":
            result = cid.feed(e)
            if result is not None:
                out.append({"t_ms": round(e.t_ms, 1), "kind": "cid", "type": "msg", "value": result,
                            "source": "dtmf"})
        if e.kind not in wanted:
            continue
        if e.type == "off" and not edges:
            continue
        row = {"t_ms": round(e.t_ms, 1), "kind": e.kind, "type": e.type, "value": e.value}
        if e.kind != "cid":
            row["level_dbm0"] = round(e.level, 1)
        if e.type == "on":
            off = next((o for o in events[idx + 1:] if o.kind == e.kind and o.type == "off"), None)
            if off is not None:
                row["duration_ms"] = round(off.duration_ms, 1)
        elif e.type == "off":
            row["duration_ms"] = round(e.duration_ms, 1)
        if e.kind == "cid":
            row["source"] = "fsk"
        out.append(row)
    return out


def format_event(row: dict) -> str:
    value = row["value"]
    if isinstance(value, dict):
        value = " ".join(f"{k}={v}" for k, v in value.items() if v not in (None, "", {}, []))
    parts = [f"{row['t_ms']:10.1f} ms", f"{row['kind']:<4}", f"{row['type']:<3}", str(value)]
    if "duration_ms" in row:
        parts.append(f"{row['duration_ms']:.0f} ms")
    if "level_dbm0" in row:
        parts.append(f"{row['level_dbm0']:.1f} dBm0")
    return "  ".join(parts)


def cmd_detect(args) -> int:
    audio = read_audio(args.file, args.law)
    rows = detect_audio(audio, args.detect, args.china_r2, args.country, args.modem, args.twist, args.edges)
    for row in rows:
        print(json.dumps(row, ensure_ascii=False) if args.json else format_event(row))
    return 0


# ------------------------------------------------------------------------------------------- gen
def _silence(ms: int) -> np.ndarray:
    return np.zeros(int(ms) * 8, dtype=np.int16)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    """White noise at the given S/N relative to the mean power of the non-silent part of x."""
    xf = x.astype(np.float64)
    active = xf[np.abs(xf) > 0]
    power = float(np.mean(active ** 2)) if len(active) else 0.0
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)) if power else 0.0, len(xf))
    return np.clip(np.round(xf + noise), -32768, 32767).astype(np.int16)


def generate_signal(args) -> np.ndarray:
    kind = args.gen_kind
    if kind == "dtmf":
        from .dtmf import generate as dtmf_generate

        sig = dtmf_generate(args.digits, level_dbm0=args.level, twist_db=args.twist, on_ms=args.on, off_ms=args.off)
    elif kind in ("r2f", "r2b"):
        from .r2mf import generate as r2_generate

        sig = r2_generate(args.signals, backward=(kind == "r2b"), level_dbm0=args.level, on_ms=args.on,
                          off_ms=args.off)
    elif kind == "tone":
        from .tonegen import generate as tone_generate
        from .tones import tones_for

        table = {t.name: t for t in tones_for(args.country)}
        if args.name not in table:
            raise DspError(f"no tone {args.name!r} in the {args.country} table; known: {', '.join(table)}")
        sig = tone_generate(table[args.name], args.duration, level_dbm0=args.level)
    elif kind == "cid":
        from .callerid import cid_signal, dtmf_cid_digits

        if args.dtmf:
            from .dtmf import generate as dtmf_generate

            digits = dtmf_cid_digits(number=args.number, absent=args.absent)
            sig = dtmf_generate(digits, level_dbm0=-8.0, twist_db=2.0, on_ms=70, off_ms=70)
        else:
            sig = cid_signal(args.number, name=args.name, time=args.time, fmt=args.format, modem=args.modem,
                             number_absent=args.absent, level_dbm0=args.level)
    else:  # argparse restricts the choices
        raise DspError(f"unknown signal kind {kind}")
    sig = np.concatenate([_silence(args.lead), np.asarray(sig, dtype=np.int16), _silence(args.trail)])
    if args.snr is not None:
        sig = add_noise(sig, args.snr, args.seed)
    return sig


def cmd_gen(args) -> int:
    sig = generate_signal(args)
    write_wav(args.output, sig, args.law)
    print(f"wrote {args.output}: {len(sig) / 8000:.2f} s, {args.law}")
    return 0


# ------------------------------------------------------------------------------------------- demo
def demo_signal() -> tuple[np.ndarray, list[tuple[str, str]]]:
    """A line's worth of signalling: caller ID, DTMF, MFC R2 forward and backward, then busy tone."""
    from .callerid import cid_signal
    from .dtmf import generate as dtmf_generate
    from .r2mf import generate as r2_generate
    from .tonegen import generate as tone_generate
    from .tones import china_tones

    busy = next(t for t in china_tones() if t.name == "busy")
    parts = [
        _silence(300),
        cid_signal("13800138000", name="ZHANG SAN", time="11231420"),
        _silence(500),
        dtmf_generate("8675309*#", level_dbm0=-10.0, twist_db=2.0, on_ms=80, off_ms=80),
        _silence(500),
        r2_generate("12345", backward=False, on_ms=150, off_ms=100),
        _silence(300),
        r2_generate("1136", backward=True, on_ms=150, off_ms=100),
        _silence(500),
        tone_generate(busy, 3000),
        _silence(1000),
    ]
    expected = [("cid", "13800138000"), ("dtmf", "8675309*#"), ("r2f", "12345"), ("r2b", "1136"), ("cpt", "busy")]
    return np.concatenate([np.asarray(p, dtype=np.int16) for p in parts]), expected


def cmd_demo(args) -> int:
    sig, expected = demo_signal()
    path = args.output or os.path.join(tempfile.mkdtemp(prefix="ctid-demo-"), "demo.wav")
    write_wav(path, sig, "alaw")
    if not args.json:
        print(f"generated {path}: {len(sig) / 8000:.1f} s of A-law: caller ID, DTMF, MFC R2, busy tone")
        print("detecting (one native call per 20 ms tick):")
    rows = detect_audio(read_audio(path))
    for row in rows:
        print(json.dumps(row, ensure_ascii=False) if args.json else "  " + format_event(row))
    found = {
        "cid": "".join(str(r["value"].get("number", "")) for r in rows if r["kind"] == "cid"),
        "dtmf": "".join(r["value"] for r in rows if r["kind"] == "dtmf"),
        "r2f": "".join(r["value"] for r in rows if r["kind"] == "r2f"),
        "r2b": "".join(r["value"] for r in rows if r["kind"] == "r2b"),
        "cpt": ",".join(r["value"] for r in rows if r["kind"] == "cpt"),
    }
    ok = all(found[k] == v for k, v in expected)
    if not args.json:
        for k, v in expected:
            print(f"{k:5} sent {v!r:18} detected {found[k]!r:18} {'ok' if found[k] == v else 'MISMATCH'}")
    return 0 if ok else 1


def run(args) -> int:
    try:
        return args.func(args)
    except (AudioFileError, DspError, ValueError) as exc:
        print(f"ctid dsp: error: {exc}", file=sys.stderr)
        return 2
