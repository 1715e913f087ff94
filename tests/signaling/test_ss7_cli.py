"""``ctid sig decode`` / ``ctid sig encode``: fields as encoded, decode -> encode round trip, clear errors (exit 2)."""
from __future__ import annotations

import json

import pytest

from ctid.cli import main
from ctid.signaling.ss7 import isup, mtp2, mtp3
from ctid.signaling.ss7.pcap import write_pcap
from ss7_strategies import sample_isup

PCS = {"itu": (0x1234, 0x0321), "china": (0x0A1B2C, 0x123456)}


def frames_for(fmt: str) -> list[bytes]:
    dpc, opc = PCS[fmt]
    out = [mtp2.encode(mtp2.SignalUnit(bsn=1, fsn=2)), mtp2.encode(mtp2.SignalUnit(status="SIPO"))]
    for i, name in enumerate(isup.MESSAGES):
        m = mtp3.Msu(si=5, dpc=dpc, opc=opc, sls=i % 16, data=isup.encode(sample_isup(name, 200 + i)), pc_format=fmt)
        out.append(mtp2.encode(mtp2.SignalUnit(bsn=i, fsn=i + 1, payload=mtp3.encode_msu(m))))
    for body in (isup.encode(isup.UnknownMessage(cic=7, message_type=0x70, body=b"\x01\x02")),
                 isup.encode(isup.ANM(cic=8, optional=(isup.RawParameter(code=0xEE, data=b"\xab"),)))):
        out.append(mtp2.encode(mtp2.SignalUnit(payload=mtp3.encode_msu(mtp3.Msu(si=5, dpc=dpc, opc=opc, data=body,
                                                                                pc_format=fmt)))))
    out.append(mtp2.encode(mtp2.SignalUnit(payload=mtp3.encode_msu(mtp3.Msu(si=3, dpc=dpc, opc=opc, data=b"\x09\x00",
                                                                            pc_format=fmt)))))
    out.append(mtp2.encode(mtp2.SignalUnit(status="SIB", status_len=2)))
    for g in (mtp3.MgmtMessage("COO", fsn=3), mtp3.MgmtMessage("TFP", destination=77),
              mtp3.MgmtMessage("SLTM", pattern=b"ab"), mtp3.MgmtMessage("TRA"),
              mtp3.MgmtMessage("UNKNOWN", si=0, h0=2, h1=1, body=b"\x05")):
        m = mtp3.Msu(si=mtp3.mgmt_si(g.name, g.si), dpc=dpc, opc=opc, data=mtp3.encode_mgmt(g, fmt), pc_format=fmt)
        out.append(mtp2.encode(mtp2.SignalUnit(payload=mtp3.encode_msu(m))))
    return out


def run(capsys, *argv):
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("fmt", ["itu", "china"])
def test_decode_json_fields(capsys, fmt):
    dpc, opc = PCS[fmt]
    iam = sample_isup("IAM", 42)
    rel = sample_isup("REL", 43)
    hexes = []
    for m in (iam, rel):
        msu = mtp3.Msu(si=5, dpc=dpc, opc=opc, sls=4, data=isup.encode(m), pc_format=fmt)
        hexes.append(mtp2.encode(mtp2.SignalUnit(payload=mtp3.encode_msu(msu))).hex())
    rc, out, err = run(capsys, "sig", "decode", "--pc", fmt, "--json", *hexes)
    assert rc == 0, err
    a, b = (json.loads(line) for line in out.splitlines())
    assert (a["message_type"], a["cic"], a["dpc"], a["opc"], a["sls"]) == ("IAM", 42, dpc, opc, 4)
    assert a["called"] == iam.called.digits and a["calling"] == iam.get(isup.CallingPartyNumber).digits
    assert (b["message_type"], b["cic"], b["cause"]) == ("REL", 43, rel.cause.cause)
    assert a["dpc_text"] == mtp3.format_pc(dpc, fmt)


def test_decode_text(capsys):
    rc, out, err = run(capsys, "sig", "decode", *[f.hex() for f in frames_for("itu")])
    assert rc == 0, err
    for name in isup.MESSAGES:
        assert f"ISUP {name} cic=" in out
    assert "FISU" in out and "status=SIPO" in out and "COO fsn=3" in out and "SLTM pattern=6162" in out
    assert "TRA" in out and "UNKNOWN h0=2 h1=1 body=05" in out and "TFP destination=77" in out


@pytest.mark.parametrize("fmt", ["itu", "china"])
def test_decode_encode_round_trip_via_pcap(capsys, tmp_path, fmt):
    frames = frames_for(fmt)
    write_pcap(tmp_path / "in.pcap", frames)
    rc, out, err = run(capsys, "sig", "decode", "--pc", fmt, "--json", "--pcap", str(tmp_path / "in.pcap"))
    assert rc == 0, err
    assert len(out.splitlines()) == len(frames)
    (tmp_path / "su.json").write_text(out)
    rc, hex_out, err = run(capsys, "sig", "encode", str(tmp_path / "su.json"))
    assert rc == 0, err
    assert [bytes.fromhex(h) for h in hex_out.split()] == frames
    rc, _, err = run(capsys, "sig", "encode", str(tmp_path / "su.json"), "--pcap", str(tmp_path / "out.pcap"))
    assert rc == 0, err
    assert (tmp_path / "out.pcap").read_bytes() == (tmp_path / "in.pcap").read_bytes()


def test_encode_minimal_json(capsys, tmp_path):
    su = {"dpc": "1-2-3", "opc": 5, "sls": 1, "isup": {"message_type": "REL", "cic": 9,
                                                        "cause": {"cause": 34, "location": 3}}}
    (tmp_path / "a.json").write_text(json.dumps([su]))
    rc, out, err = run(capsys, "sig", "encode", str(tmp_path / "a.json"))
    assert rc == 0, err
    frame = bytes.fromhex(out.strip())
    want = isup.encode(isup.REL(cic=9, cause=isup.CauseIndicators(cause=34, location=3)))
    assert mtp3.decode_msu(mtp2.decode(frame).payload) == mtp3.Msu(si=5, dpc=mtp3.parse_pc("1-2-3"), opc=5, sls=1,
                                                                     data=want)


@pytest.mark.parametrize("argv, needle", [
    (["sig", "decode", "zz12"], "not hex"),
    (["sig", "decode", "0102"], "too short"),
    (["sig", "decode"], "nothing to decode"),
])
def test_decode_errors(capsys, argv, needle):
    rc, out, err = run(capsys, *argv)
    assert rc == 2 and needle in err and "Traceback" not in err


def test_decode_bad_fcs(capsys):
    f = bytearray(frames_for("itu")[3])
    f[-1] ^= 0x40
    rc, _, err = run(capsys, "sig", "decode", f.hex())
    assert rc == 2 and "FCS" in err


def test_truncated_pcap(capsys, tmp_path):
    write_pcap(tmp_path / "a.pcap", frames_for("itu")[:4])
    data = (tmp_path / "a.pcap").read_bytes()
    (tmp_path / "t.pcap").write_bytes(data[:-3])
    rc, _, err = run(capsys, "sig", "decode", "--pcap", str(tmp_path / "t.pcap"))
    assert rc == 2 and "truncated" in err
    (tmp_path / "h.pcap").write_bytes(data[:10])
    rc, _, err = run(capsys, "sig", "decode", "--pcap", str(tmp_path / "h.pcap"))
    assert rc == 2 and "global header" in err
    rc, _, err = run(capsys, "sig", "decode", "--pcap", str(tmp_path / "missing.pcap"))
    assert rc == 2 and "cannot read" in err


@pytest.mark.parametrize("text, needle", [
    ("{not json", "bad JSON"),
    ("", "no JSON"),
    ('{"dpc": 1, "opc": 2, "isup": {"message_type": "XYZ"}}', "unknown message type"),
    ('{"dpc": 1, "isup": {"message_type": "BLO"}}', "dpc and opc"),
    ('{"dpc": 99999, "opc": 2, "isup": {"message_type": "BLO"}}', "does not fit"),
    ('{"dpc": 1, "opc": 2, "isup": {"message_type": "REL", "cause": {"cause": "x"}}}', "integer"),
    ('{"su": "LSSU", "status": "XX"}', "status"),
    ('[1, 2]', "object"),
])
def test_encode_errors(capsys, tmp_path, text, needle):
    (tmp_path / "b.json").write_text(text)
    rc, _, err = run(capsys, "sig", "encode", str(tmp_path / "b.json"))
    assert rc == 2 and needle in err and "Traceback" not in err, err


def test_encode_refuses_an_isup_msu_without_isup_content(tmp_path):
    """Top-level message_type/cic are derived keys of decode's output; without an 'isup' object there is nothing
    to encode, and an empty ISUP MSU must not be produced silently."""
    import json
    import subprocess
    import sys

    d = {"pc_format": "china", "si": 5, "dpc": "1-2-3", "opc": "4-5-6", "sls": 3, "cic": 17, "message_type": "REL"}
    p = subprocess.run([sys.executable, "-m", "ctid", "sig", "encode", "-"], input=json.dumps(d),
                       capture_output=True, text=True)
    assert p.returncode == 2 and "needs an 'isup' object" in p.stderr and "Traceback" not in p.stderr
