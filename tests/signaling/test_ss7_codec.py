"""MTP2 / MTP3 / ISUP codecs: known octets from the standards, round trips, and clear errors for bad input."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ss7_strategies as S
from ctid.signaling.ss7 import CodecError, decode_frame, encode_frame, isup, mtp2, mtp3

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------------ known-answer vectors
def test_fcs_is_crc16_x25():
    # CRC-16/X-25 catalogue check value for "123456789"; appended low byte first and the residue of a good frame
    # run through the same register (without the final xor) is 0xF0B8 (Q.921/X.25 "good FCS").
    assert mtp2.crc16_x25(b"123456789") == 0x906E
    framed = mtp2.add_fcs(b"123456789")
    assert framed[-2:] == bytes((0x6E, 0x90))
    assert mtp2.crc16_x25(framed) ^ 0xFFFF == 0xF0B8


def test_mtp2_header_bits():
    # BSN 5 with BIB 1 -> 0x85; FSN 0x7F with FIB 0 -> 0x7F; FISU LI 0.
    assert mtp2.encode(mtp2.SignalUnit(bsn=5, bib=1, fsn=127, fib=0), fcs=False) == bytes((0x85, 0x7F, 0x00))
    lssu = mtp2.encode(mtp2.SignalUnit(bsn=0, bib=0, fsn=0, fib=0, status="SIOS"), fcs=False)
    assert lssu == bytes((0, 0, 1, 3))      # Q.703 11.1.3: SIOS = 011
    msu = mtp2.encode(mtp2.SignalUnit(payload=bytes(100)), fcs=False)
    assert msu[2] == 63                     # LI 63 for any MSU of 63 octets or more


def test_mtp3_labels():
    itu = mtp3.encode_msu(mtp3.Msu(si=5, ni=2, dpc=1, opc=2, sls=3))
    assert itu == bytes((0x85, 0x01, 0x80, 0x00, 0x30))   # DPC bits 0-13, OPC 14-27, SLS 28-31, LSB first
    china = mtp3.encode_msu(mtp3.Msu(si=5, ni=2, dpc=0x010203, opc=0x0A0B0C, sls=9, pc_format="china"))
    assert china == bytes((0x85, 0x03, 0x02, 0x01, 0x0C, 0x0B, 0x0A, 0x09))
    assert mtp3.format_pc(0x3FFF, "itu") == "7-255-7"
    assert mtp3.parse_pc("2-100-3", "itu") == (2 << 11) | (100 << 3) | 3
    assert mtp3.format_pc(0x010203, "china") == "1-2-3"
    assert mtp3.parse_pc("1-2-3", "china") == 0x010203
    for bad in ("8-0-0", "1-2", "x", "0-256-0"):
        with pytest.raises(CodecError):
            mtp3.parse_pc(bad, "itu")


def test_mtp3_management_octets():
    assert mtp3.encode_mgmt(mtp3.MgmtMessage("COO", fsn=0x22)) == bytes((0x11, 0x22))
    assert mtp3.encode_mgmt(mtp3.MgmtMessage("CBA", changeback_code=7)) == bytes((0x61, 0x07))
    assert mtp3.encode_mgmt(mtp3.MgmtMessage("TFP", destination=0x1234)) == bytes((0x14, 0x34, 0x12))
    assert mtp3.encode_mgmt(mtp3.MgmtMessage("TFA", destination=0x123456), "china") == bytes((0x54, 0x56, 0x34, 0x12))
    assert mtp3.encode_mgmt(mtp3.MgmtMessage("SLTM", pattern=b"\xaa\xbb")) == bytes((0x11, 0x20, 0xAA, 0xBB))
    assert mtp3.encode_mgmt(mtp3.MgmtMessage("SLTA", pattern=b"")) == bytes((0x21, 0x00))
    assert mtp3.encode_mgmt(mtp3.MgmtMessage("TRA")) == bytes((0x17,))       # Q.704 TRA: H0=0111, H1=0001
    eco = mtp3.decode_mgmt(0, bytes((0x12, 0x05)))                            # ECO (H0=2, H1=1): kept raw
    assert (eco.name, eco.h0, eco.h1, eco.body) == ("UNKNOWN", 2, 1, b"\x05")


def test_isup_rel_octets():
    # Q.763: CIC 0x123 -> 23 01; REL 0x0C; pointer 2 to the cause, optional pointer 0; cause: ext|ITU|public
    # network serving the local user (2) = 0x82, ext|16 = 0x90.
    rel = isup.REL(cic=0x123, cause=isup.CauseIndicators(cause=16, location=2))
    assert isup.encode(rel) == bytes.fromhex("23010c0200028290")


def test_isup_iam_octets():
    iam = isup.IAM(cic=1, called=isup.CalledPartyNumber(digits="123", nai=3, npi=1),
                   optional=(isup.CallingPartyNumber(digits="4567", nai=3, npi=1, presentation=1, screening=3),))
    want = bytes.fromhex(
        "010001"        # CIC 1, IAM
        "00" "2000" "0a" "00"    # NOC, FCI (ISUP indicator F), CPC ordinary, TMR speech
        "02" "06"       # pointer to called (2), pointer to optional part (1 + 5 octets of called on)
        "04" "83" "10" "2103"    # called: odd|national, INN 0 ISDN plan, digits 1 2 3 + filler
        "0a" "04" "03" "17" "5476"   # calling: even|national, ISDN, restricted, network provided; 4 5 6 7
        "00")
    assert isup.encode(iam) == want
    assert isup.decode(want) == iam


def test_st_digit_and_odd_even():
    p = isup.CalledPartyNumber(digits="12345F")
    v = p.encode_value()
    assert v[0] & 0x80 == 0 and v[2:] == bytes((0x21, 0x43, 0xF5))
    assert isup.CalledPartyNumber.decode_value(v) == p


def test_unknown_message_and_parameter_are_kept():
    raw = bytes.fromhex("0500" "77" "deadbeef")
    m = isup.decode(raw)
    assert isinstance(m, isup.UnknownMessage) and m.message_type == 0x77 and m.body == bytes.fromhex("deadbeef")
    assert isup.encode(m) == raw
    anm = isup.decode(bytes.fromhex("0500" "09" "01" "fe" "02" "abcd" "00"))
    assert anm.optional == (isup.RawParameter(code=0xFE, data=b"\xab\xcd"),)


# ------------------------------------------------------------------------------------------------------ round trips
@FAST
@given(S.any_message)
def test_isup_round_trip(m):
    assert isup.decode(isup.encode(m)) == m


@pytest.mark.parametrize("name", sorted(isup.MESSAGES))
def test_every_message_type_round_trips(name):
    @settings(max_examples=25, deadline=None)
    @given(S.message(isup.MESSAGES[name]))
    def check(m):
        b = isup.encode(m)
        assert b[2] == isup.MESSAGES[name].CODE
        assert isup.decode(b) == m

    check()


@FAST
@given(S.signal_unit, st.booleans())
def test_mtp2_round_trip(su, with_fcs):
    assert mtp2.decode(mtp2.encode(su, fcs=with_fcs), fcs=with_fcs) == su


@FAST
@given(st.data())
def test_mtp3_round_trip(data):
    m = data.draw(S.msu())
    assert mtp3.decode_msu(mtp3.encode_msu(m), m.pc_format) == m
    fmt = m.pc_format
    g = data.draw(S.mgmt(fmt))
    assert mtp3.decode_mgmt(mtp3.mgmt_si(g.name, g.si), mtp3.encode_mgmt(g, fmt), fmt) == g


@FAST
@given(S.any_message, S.pc_format, st.data())
def test_whole_frame_round_trip(m, fmt, data):
    body = isup.encode(m)
    assume(len(body) + 1 + mtp3.LABEL_LEN[fmt] <= mtp2.MAX_MSU_PAYLOAD)
    msu = data.draw(S.msu(fmt, data=body))
    msu = mtp3.Msu(**{**msu.__dict__, "si": mtp3.SI_ISUP})
    frame = mtp2.encode(mtp2.SignalUnit(bsn=3, fsn=4, payload=mtp3.encode_msu(msu)))
    d = decode_frame(frame, fmt)
    assert d["cic"] == m.cic and d["message_type"] == m.NAME
    assert d["dpc"] == msu.dpc and d["opc"] == msu.opc and d["sls"] == msu.sls
    assert isup.message_from_dict(d["isup"]) == m
    assert encode_frame(d) == frame


@FAST
@given(S.signal_unit, S.pc_format)
def test_frame_dict_round_trip_any_unit(su, fmt):
    """Whatever decode_frame accepts that is not ISUP re-encodes to the same octets from its dict (the CLI's JSON)."""
    frame = mtp2.encode(su)
    try:
        d = decode_frame(frame, fmt)
    except CodecError:
        return
    assume(d.get("si") != mtp3.SI_ISUP)
    assert encode_frame(d) == frame


# ----------------------------------------------------------------------------------------------------------- errors
def test_bad_fcs_and_li():
    frame = mtp2.encode(mtp2.SignalUnit(payload=bytes(10)))
    bad = frame[:-1] + bytes((frame[-1] ^ 1,))
    with pytest.raises(CodecError, match="FCS"):
        mtp2.decode(bad)
    hdr = bytearray(mtp2.encode(mtp2.SignalUnit(payload=bytes(10)), fcs=False))
    hdr[2] = 9
    with pytest.raises(CodecError, match="LI 9"):
        mtp2.decode(mtp2.add_fcs(bytes(hdr)))
    with pytest.raises(CodecError, match="LI 0"):
        mtp2.decode(mtp2.add_fcs(bytes((0, 0, 0, 1))))
    with pytest.raises(CodecError, match="exceeds"):
        mtp2.encode(mtp2.SignalUnit(payload=bytes(274)))


@FAST
@given(S.any_message, st.data())
def test_truncated_and_oversized_isup(m, data):
    b = isup.encode(m)
    cut = data.draw(st.integers(0, len(b) - 1))
    with pytest.raises(CodecError):
        isup.decode(b[:cut])
    with pytest.raises(CodecError):
        isup.decode(b + data.draw(st.binary(min_size=1, max_size=4)))


def _decodes_or_codec_error(fn, *args):
    try:
        fn(*args)
    except CodecError as exc:
        assert isinstance(exc, ValueError) and str(exc)


@FAST
@given(st.binary(max_size=80), S.pc_format, st.booleans())
def test_random_buffers(buf, fmt, with_fcs):
    _decodes_or_codec_error(isup.decode, buf)
    _decodes_or_codec_error(mtp2.decode, buf, with_fcs)
    _decodes_or_codec_error(mtp3.decode_msu, buf, fmt)
    _decodes_or_codec_error(mtp3.decode_mgmt, 0, buf, fmt)
    _decodes_or_codec_error(mtp3.decode_mgmt, 1, buf, fmt)
    _decodes_or_codec_error(decode_frame, buf, fmt, with_fcs)
    if with_fcs:
        _decodes_or_codec_error(decode_frame, mtp2.add_fcs(buf), fmt)


@FAST
@given(st.integers(3, 40).flatmap(lambda n: st.binary(min_size=n, max_size=n)), S.pc_format)
def test_random_isup_inside_valid_frame(body, fmt):
    msu = mtp3.Msu(si=mtp3.SI_ISUP, dpc=1, opc=2, data=body, pc_format=fmt)
    _decodes_or_codec_error(decode_frame, mtp2.encode(mtp2.SignalUnit(payload=mtp3.encode_msu(msu))), fmt)


def test_encode_rejects_bad_values():
    with pytest.raises(CodecError):
        isup.encode(isup.BLO(cic=5000))
    with pytest.raises(CodecError):
        isup.encode(isup.IAM(called=isup.CalledPartyNumber(digits="12X")))
    with pytest.raises(CodecError):
        isup.encode(isup.CPG(event=isup.EventInformation(event=200)))
    with pytest.raises(CodecError):
        mtp3.encode_msu(mtp3.Msu(si=5, dpc=1 << 14, opc=0))


CHINA_CODES = {"CCL": 0xFC, "MPM": 0xFD, "OPR": 0xFE}   # Dialogic ISUP Programmer's Manual, appendix A.7


@pytest.mark.parametrize("name", sorted(CHINA_CODES))
@FAST
@given(data=st.data())
def test_china_messages_round_trip(name, data):
    m = data.draw(S.message(isup.CHINA_MESSAGES[name]))
    b = isup.encode(m)
    assert b[2] == CHINA_CODES[name]
    assert isup.decode(b, variant="china") == m
    itu = isup.decode(b)                      # a national message an ITU exchange does not know: kept raw
    assert isinstance(itu, isup.UnknownMessage) and isup.encode(itu) == b
    assert isup.message_from_dict(isup.message_to_dict(m)) == m
    frame = mtp2.encode(mtp2.SignalUnit(payload=mtp3.encode_msu(mtp3.Msu(si=5, dpc=1, opc=2, data=b,
                                                                         pc_format="china"))))
    d = decode_frame(frame, "china")
    assert d["message_type"] == name and encode_frame(d) == frame


def test_china_mpm_layout_and_errors():
    m = isup.MPM(cic=0x123, charge=isup.ChargeInformation(data=b"\x01\x80"))
    # CIC (2, LSB first), type 0xFD, the 2 fixed charge information octets, optional part pointer (0: none)
    assert isup.encode(m) == bytes([0x23, 0x01, 0xFD, 0x01, 0x80, 0x00])
    with pytest.raises(CodecError, match="charge_information"):
        isup.decode(bytes([0x23, 0x01, 0xFD, 0x01]), variant="china")          # truncated in the fixed part
    with pytest.raises(CodecError, match="charge_information"):
        isup.encode(isup.MPM(charge=isup.ChargeInformation(data=b"\x01")))     # not 2 octets
    assert isup.encode(isup.OPR(cic=1)) == bytes([0x01, 0x00, 0xFE, 0x00])
