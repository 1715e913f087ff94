"""tshark decodes the traffic of a ctid-vs-ctid call-control session: the message sequence of Q.764 procedures
(start-up GRS, calls both ways, SUS/RES, BLO/UBL, CGB/CGU, RSC) as the independent decoder sees it."""
from __future__ import annotations

import pytest

from ctid.signaling.ss7 import isup, mtp2, mtp3
from ctid.signaling.ss7.pcap import write_pcap
from isup_cc_rig import Rig
from test_ss7_tshark import num, run_tshark, tshark  # noqa: F401  (fixture)


@pytest.mark.parametrize("fmt", ["itu", "china"])
def test_session_decoded_by_tshark(tshark, tmp_path, fmt):  # noqa: F811
    rig = Rig(fmt)
    wire = []                                   # (opc, dpc, sls, payload) in sending order, both ends
    for side in (rig.a, rig.b):
        orig = side.mtp.transfer

        def rec(dpc, sls, si, payload, ni=2, _orig=orig, _opc=side.mtp.opc):
            wire.append((_opc, dpc, sls, bytes(payload)))
            _orig(dpc, sls, si, payload, ni)
        side.mtp.transfer = rec
    A, B = rig.a.mtp.opc, rig.b.mtp.opc
    rig.a.cc.reset_group()
    rig.settle()
    c1 = rig.a.cc.setup("13800138000", calling="1068886666")
    rig.settle()
    rig.b.cc.suspend(rig.b.incoming[0])
    rig.settle()
    rig.b.cc.resume(rig.b.incoming[0])
    rig.settle()
    rig.a.cc.release(c1, 16)
    rig.settle()
    c2 = rig.b.cc.setup("120")
    rig.settle()
    rig.a.cc.release(rig.a.incoming[0], 17)
    rig.settle()
    rig.a.cc.block(3)
    rig.settle()
    rig.a.cc.unblock(3)
    rig.settle()
    rig.b.cc.block_group(1, 4)
    rig.settle()
    rig.b.cc.unblock_group(1, 4)
    rig.settle()
    rig.a.cc.reset(5)
    rig.settle()
    expect = [(A, "GRS"), (B, "GRA"),
              (A, "IAM"), (B, "ACM"), (B, "ANM"), (B, "SUS"), (B, "RES"), (A, "REL"), (B, "RLC"),
              (B, "IAM"), (A, "ACM"), (A, "ANM"), (A, "REL"), (B, "RLC"),
              (A, "BLO"), (B, "BLA"), (A, "UBL"), (B, "UBA"), (B, "CGB"), (A, "CGBA"), (B, "CGU"), (A, "CGUA"),
              (A, "RSC"), (B, "RLC")]
    frames = []
    for n, (opc, dpc, sls, payload) in enumerate(wire):
        m = mtp3.Msu(si=5, dpc=dpc, opc=opc, sls=sls, ni=2, data=payload, pc_format=fmt)
        frames.append(mtp2.encode(mtp2.SignalUnit(bsn=n % 128, fsn=n % 128, payload=mtp3.encode_msu(m))))
    pcap = tmp_path / "session.pcap"
    write_pcap(str(pcap), frames)
    rows = run_tshark(tshark, pcap, fmt)
    assert len(rows) == len(expect)
    opc_field = "mtp3.chinese_opc" if fmt == "china" else "mtp3.opc"
    got = [(num(r[opc_field].split("|")[-1]), num(r["isup.message_type"])) for r in rows]
    assert got == [(opc, isup.MESSAGES[name].CODE) for opc, name in expect]
    assert all("Malformed" not in r["_ws.expert.message"] for r in rows)
    iam = rows[2]
    assert iam["e164.called_party_number.digits"].startswith("13800138000")
    assert iam["e164.calling_party_number.digits"] == "1068886666"
    assert num(iam["isup.cic"]) == c1.cic and num(rows[9]["isup.cic"]) == c2.cic
    assert num(rows[7]["isup.cause_indicator"]) == 16 and num(rows[12]["isup.cause_indicator"]) == 17
