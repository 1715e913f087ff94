"""tshark (Wireshark) as the independent decoder of what our MTP2/MTP3/ISUP encoder writes to a pcap.

Every ISUP message type, LSSU/FISU, SNM and SLTM, in both point-code formats; FCS checked by tshark; the fields
tshark reports are compared with the values we encoded. Skips without tshark unless CTID_REQUIRE_PEERS=1.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ss7_strategies as S
from ss7_strategies import sample_isup
from ctid.signaling.ss7 import isup, mtp2, mtp3
from ctid.signaling.ss7.pcap import write_pcap

FIELDS = ["mtp2.fcs_16.status", "mtp2.bsn", "mtp2.fsn", "mtp2.li", "mtp2.sf", "mtp3.dpc", "mtp3.opc", "mtp3.sls",
          "mtp3.service_indicator", "mtp3.network_indicator", "mtp3.chinese_dpc", "mtp3.chinese_opc",
          "isup.cic", "isup.message_type", "isup.calling_partys_category", "isup.cause_indicator",
          "e164.called_party_number.digits", "e164.calling_party_number.digits", "isup.range_indicator",
          "isup.cgs_message_type", "isup.event_ind", "isup.suspend_resume_indicator", "mtp3mg.h0", "mtp3mg.h1",
          "mtp3mg.fsn", "mtp3mg.cbc", "mtp3mg.apc", "mtp3mg.chinese_apc", "mtp3mg.test.h0", "mtp3mg.test.h1",
          "mtp3mg.test.length", "mtp3mg.test_pattern", "_ws.expert.message"]


@pytest.fixture(scope="module")
def tshark():
    path = shutil.which("tshark")
    if path is None:
        if os.environ.get("CTID_REQUIRE_PEERS", "") not in ("", "0"):
            pytest.fail("CTID_REQUIRE_PEERS=1 but tshark is not installed")
        pytest.skip("tshark not installed (Debian package tshark)")
    return path


def num(text: str) -> int:
    """tshark prints some integer fields in hex (0x..), others in decimal."""
    return int(text, 16) if text.startswith("0x") else int(text)


def run_tshark(tshark, pcap, fmt):
    cmd = [tshark, "-r", str(pcap), "-o", "mtp2.capture_contains_frame_check_sequence:TRUE",
           "-T", "fields", "-E", "aggregator=|"]
    if fmt == "china":
        cmd += ["-o", "mtp3.standard:Chinese ITU"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    return [dict(zip(FIELDS, line.split("\t"))) for line in out.splitlines()]


def _msu(fmt, si, data, dpc, opc, sls, n):
    m = mtp3.Msu(si=si, dpc=dpc, opc=opc, sls=sls, ni=mtp3.NI_NATIONAL, data=data, pc_format=fmt)
    return mtp2.encode(mtp2.SignalUnit(bsn=n % 128, bib=1, fsn=(n * 7) % 128, fib=0, payload=mtp3.encode_msu(m)))


POINT_CODES = {"itu": (0x1234, 0x0321), "china": (0x0A1B2C, 0x123456)}


@pytest.mark.parametrize("fmt", mtp3.PC_FORMATS)
def test_every_isup_message_decodes_in_tshark(tshark, tmp_path, fmt):
    dpc, opc = POINT_CODES[fmt]
    msgs = [sample_isup(name, 100 + i) for i, name in enumerate(isup.MESSAGES)]
    frames = [_msu(fmt, mtp3.SI_ISUP, isup.encode(m), dpc, opc, i % 16, i) for i, m in enumerate(msgs)]
    write_pcap(tmp_path / "isup.pcap", frames)
    rows = run_tshark(tshark, tmp_path / "isup.pcap", fmt)
    assert len(rows) == len(msgs)
    for i, (m, row) in enumerate(zip(msgs, rows)):
        where = f"{m.NAME} ({fmt})"
        assert row["mtp2.fcs_16.status"] == "1", where
        assert (num(row["mtp2.bsn"]), num(row["mtp2.fsn"])) == (i % 128, (i * 7) % 128), where
        assert num(row["mtp2.li"]) == min(len(frames[i]) - 5, 63), where
        assert (num(row["mtp3.dpc"]), num(row["mtp3.opc"]), num(row["mtp3.sls"])) == (dpc, opc, i % 16), where
        assert num(row["mtp3.service_indicator"]) == 5 and num(row["mtp3.network_indicator"]) == 2, where
        if fmt == "china":
            assert row["mtp3.chinese_dpc"].split("|")[0] == mtp3.format_pc(dpc, "china"), where
            assert row["mtp3.chinese_opc"].split("|")[0] == mtp3.format_pc(opc, "china"), where
        assert num(row["isup.cic"]) == m.cic, where
        assert num(row["isup.message_type"]) == m.CODE, where
        bad = [e for e in row["_ws.expert.message"].split("|") if "Malformed" in e or "Unknown Message" in e]
        assert not bad, (where, bad)
        cpc, called, calling, cause = (m.get(isup.CallingPartysCategory), m.get(isup.CalledPartyNumber),
                                       m.get(isup.CallingPartyNumber), m.get(isup.CauseIndicators))
        if cpc is not None:
            assert num(row["isup.calling_partys_category"]) == cpc.category, where
        if called is not None:
            assert row["e164.called_party_number.digits"] == called.digits, where
        if calling is not None:
            assert row["e164.calling_party_number.digits"] == calling.digits, where
        if cause is not None:
            assert num(row["isup.cause_indicator"]) == cause.cause, where
        rs = m.get(isup.RangeAndStatus)
        if rs is not None:
            # Q.763 3.43: the range octet is the number of circuits minus one; tshark displays the circuit count
            assert num(row["isup.range_indicator"]) == rs.range + 1, where
        if m.get(isup.CircuitGroupSupervisionMessageType) is not None:
            assert num(row["isup.cgs_message_type"]) == m.supervision_type.type, where
        if m.NAME == "CPG":
            assert num(row["isup.event_ind"]) == m.event.event, where
        if m.NAME in ("SUS", "RES"):
            assert row["isup.suspend_resume_indicator"] in (("0", "False") if m.suspend_resume.network_initiated
                                                             == 0 else ("1", "True")), where


@pytest.mark.parametrize("fmt", mtp3.PC_FORMATS)
def test_link_and_management_units_decode_in_tshark(tshark, tmp_path, fmt):
    dpc, opc = POINT_CODES[fmt]
    dest = 0x0077 if fmt == "itu" else 0x010203
    mgmt = [mtp3.MgmtMessage("COO", fsn=0x55), mtp3.MgmtMessage("COA", fsn=0x12),
            mtp3.MgmtMessage("CBD", changeback_code=9), mtp3.MgmtMessage("CBA", changeback_code=9),
            mtp3.MgmtMessage("TFP", destination=dest), mtp3.MgmtMessage("TFA", destination=dest), mtp3.MgmtMessage("TRA"),
            mtp3.MgmtMessage("SLTM", pattern=b"\x12\x34\x56\x78"), mtp3.MgmtMessage("SLTA", pattern=b"\x12\x34")]
    frames = [mtp2.encode(mtp2.SignalUnit(bsn=1, fsn=2)),
              *[mtp2.encode(mtp2.SignalUnit(bsn=1, fsn=2, status=s)) for s in mtp2.STATUS_CODES]]
    lead = len(frames)
    frames += [_msu(fmt, mtp3.mgmt_si(g.name), mtp3.encode_mgmt(g, fmt), dpc, opc, 3, 10 + i)
               for i, g in enumerate(mgmt)]
    write_pcap(tmp_path / "link.pcap", frames)
    rows = run_tshark(tshark, tmp_path / "link.pcap", fmt)
    assert len(rows) == len(frames)
    assert all(r["mtp2.fcs_16.status"] == "1" for r in rows)
    assert rows[0]["mtp2.li"] == "0" and rows[0]["mtp3.dpc"] == ""
    for s, row in zip(mtp2.STATUS_CODES, rows[1:lead]):
        assert num(row["mtp2.li"]) == 1 and num(row["mtp2.sf"]) == mtp2.STATUS_CODES[s], s
    for g, row in zip(mgmt, rows[lead:]):
        where = f"{g.name} ({fmt})"
        assert (num(row["mtp3.dpc"]), num(row["mtp3.opc"]), num(row["mtp3.sls"])) == (dpc, opc, 3), where
        bad = [e for e in row["_ws.expert.message"].split("|") if "Malformed" in e or "Unknown" in e]
        assert not bad, (where, bad)
        if g.name in ("SLTM", "SLTA"):
            h0, h1 = mtp3.SLT_CODES[g.name]
            assert (num(row["mtp3mg.test.h0"]), num(row["mtp3mg.test.h1"])) == (h0, h1), where
            assert num(row["mtp3mg.test.length"]) == len(g.pattern), where
            assert bytes.fromhex(row["mtp3mg.test_pattern"].replace(":", "")) == g.pattern, where
            continue
        h0, h1 = mtp3.SNM_CODES[g.name]
        assert (num(row["mtp3mg.h0"]), num(row["mtp3mg.h1"])) == (h0, h1), where
        if g.name in ("COO", "COA"):
            assert num(row["mtp3mg.fsn"]) == g.fsn, where
        if g.name in ("CBD", "CBA"):
            assert num(row["mtp3mg.cbc"]) == g.changeback_code, where
        if g.name in ("TFP", "TFA"):
            if fmt == "itu":
                assert num(row["mtp3mg.apc"]) == dest, where
            else:
                assert row["mtp3mg.chinese_apc"].split("|")[0] == mtp3.format_pc(dest, "china"), where


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.lists(S.any_message, min_size=60, max_size=60), S.pc_format)
def test_generated_messages_core_fields_in_tshark(tshark, tmp_path_factory, msgs, fmt):
    """Random messages of all types: tshark finds the same CIC, type, label and FCS in each."""
    tmp = tmp_path_factory.mktemp("gen")
    dpc, opc = POINT_CODES[fmt]
    msgs = [m for m in msgs if len(isup.encode(m)) + 8 <= mtp2.MAX_MSU_PAYLOAD]
    frames = [_msu(fmt, mtp3.SI_ISUP, isup.encode(m), dpc, opc, i % 16, i) for i, m in enumerate(msgs)]
    write_pcap(tmp / "gen.pcap", frames)
    rows = run_tshark(tshark, tmp / "gen.pcap", fmt)
    assert len(rows) == len(msgs)
    for m, row in zip(msgs, rows):
        assert row["mtp2.fcs_16.status"] == "1"
        assert (num(row["mtp3.dpc"]), num(row["mtp3.opc"])) == (dpc, opc)
        assert num(row["isup.cic"]) == m.cic and num(row["isup.message_type"]) == m.CODE, m


def test_china_isup_messages_in_tshark(tshark, tmp_path):
    """CCL, MPM, OPR (China ISUP only) in 24-bit labels: Wireshark has no China ISUP message table, so it can only
    check the frame, the label, the CIC and the message type code, and must not find the message malformed."""
    dpc, opc = POINT_CODES["china"]
    msgs = [isup.CCL(cic=17), isup.MPM(cic=18, charge=isup.ChargeInformation(data=b"\x03\x41")),
            isup.OPR(cic=19), isup.OPR(cic=20, optional=(isup.RawParameter(code=0x38, data=b"\x1d"),))]
    frames = [_msu("china", mtp3.SI_ISUP, isup.encode(m), dpc, opc, m.cic % 16, i) for i, m in enumerate(msgs)]
    write_pcap(tmp_path / "china.pcap", frames)
    rows = run_tshark(tshark, tmp_path / "china.pcap", "china")
    assert len(rows) == len(msgs)
    for m, row in zip(msgs, rows):
        where = m.NAME
        assert row["mtp2.fcs_16.status"] == "1", where
        assert row["mtp3.chinese_dpc"].split("|")[0] == mtp3.format_pc(dpc, "china"), where
        assert row["mtp3.chinese_opc"].split("|")[0] == mtp3.format_pc(opc, "china"), where
        assert num(row["isup.cic"]) == m.cic, where
        assert num(row["isup.message_type"]) == m.CODE == {"CCL": 0xFC, "MPM": 0xFD, "OPR": 0xFE}[m.NAME], where
        assert not [e for e in row["_ws.expert.message"].split("|") if "Malformed" in e], where
