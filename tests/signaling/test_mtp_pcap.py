"""Capture of a live link's signal units (LinkCapture) to a pcap (link type 140) that tshark decodes."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_mtp_mtp3 import Net  # noqa: E402

from ctid.signaling.ss7 import mtp2, mtp3  # noqa: E402
from ctid.signaling.ss7.pcap import LINKTYPE_MTP2, read_pcap  # noqa: E402
from ctid.signaling.ss7.transport import LinkCapture  # noqa: E402

FIELDS = ["mtp2.bsn", "mtp2.fsn", "mtp2.li", "mtp2.sf", "mtp2.fcs_16.status", "mtp3.opc", "mtp3.dpc", "mtp3.sls",
          "mtp3.service_indicator"]


def num(text):
    return int(text, 16) if text.startswith("0x") else int(text)


@pytest.mark.parametrize("fmt", ["itu", "china"])
def test_live_link_capture_decodes_in_tshark(tmp_path, fmt):
    tshark = shutil.which("tshark")
    if tshark is None:
        if os.environ.get("CTID_REQUIRE_PEERS", "") not in ("", "0"):
            pytest.fail("CTID_REQUIRE_PEERS=1 but tshark is not installed")
        pytest.skip("tshark not installed")
    net = Net(fmt, nlinks=1)
    try:
        cap = LinkCapture(net.la[0])
        net.up()
        for i in range(5):
            net.A.transfer(net.pb, i, 5, bytes([0x10 + i, 0, 1, 2]))
        net.rig.run(0.5, until=lambda: len(net.ub.got) == 5)
        path = tmp_path / "link.pcap"
        n = cap.write(str(path))
    finally:
        net.close()
    linktype, recs = read_pcap(str(path))
    assert linktype == LINKTYPE_MTP2 and len(recs) == n
    ours = [mtp2.decode(f) for _, f in recs]
    statuses = [su.status for su in ours if su.status]
    assert {"SIOS", "SIO", "SIN"} <= set(statuses)
    cmd = [tshark, "-r", str(path), "-o", "mtp2.capture_contains_frame_check_sequence:TRUE", "-T", "fields"]
    if fmt == "china":
        cmd += ["-o", "mtp3.standard:Chinese ITU"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]
    assert len(rows) == len(ours)
    n_msu = 0
    for su, row in zip(ours, rows):
        assert row["mtp2.fcs_16.status"] == "1"
        assert (num(row["mtp2.bsn"]), num(row["mtp2.fsn"]), num(row["mtp2.li"])) == (su.bsn, su.fsn, su.li)
        if su.status:
            assert num(row["mtp2.sf"]) == mtp2.STATUS_CODES[su.status]
        if su.kind == "MSU":
            n_msu += 1
            m = mtp3.decode_msu(su.payload, fmt)
            assert (num(row["mtp3.opc"]), num(row["mtp3.dpc"])) == (m.opc, m.dpc)
            assert num(row["mtp3.sls"]) == m.sls
    assert n_msu >= 5 + 3           # user MSUs, SLTM, SLTA, TRA, in both directions


@pytest.mark.parametrize("fmt", ["itu", "china"])
def test_upu_decodes_in_tshark(tmp_path, fmt):
    from ctid.signaling.ss7.mtp3_layer import UPU_UNEQUIPPED, upu_message
    from ctid.signaling.ss7.pcap import write_pcap
    tshark = shutil.which("tshark")
    if tshark is None:
        pytest.skip("tshark not installed")
    dest = 0x1234 if fmt == "itu" else 0x0A0B0C
    g = upu_message(dest, 3, UPU_UNEQUIPPED, fmt)
    data = mtp3.encode_msu(mtp3.Msu(si=0, dpc=0x22, opc=0x33, data=mtp3.encode_mgmt(g, fmt), pc_format=fmt))
    write_pcap(str(tmp_path / "u.pcap"), [mtp2.encode(mtp2.SignalUnit(fsn=1, bsn=1, payload=data))])
    cmd = [tshark, "-r", str(tmp_path / "u.pcap"), "-o", "mtp2.capture_contains_frame_check_sequence:TRUE",
           "-T", "fields", "-e", "mtp3mg.h0", "-e", "mtp3mg.h1", "-e", "mtp3mg.user", "-e", "mtp3mg.cause"]
    if fmt == "china":
        cmd += ["-o", "mtp3.standard:Chinese ITU"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout.split()
    assert [num(x) for x in out] == [0xA, 0x1, 3, UPU_UNEQUIPPED]
