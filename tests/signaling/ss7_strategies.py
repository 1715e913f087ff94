"""Hypothesis strategies for SS7 messages (shared by the codec and tshark tests)."""
from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

from ctid.signaling.ss7 import isup, mtp2, mtp3

DIGIT_CHARS = "0123456789ABCDEF"


def _bits_kw(cls) -> dict:
    return {name: st.integers(0, (1 << width) - 1) for name, width in cls.BITS.items()}


def param(cls) -> st.SearchStrategy:
    if cls is isup.RawParameter:
        unknown = [c for c in range(1, 256) if c not in isup.PARAMETERS]
        return st.builds(cls, code=st.sampled_from(unknown), data=st.binary(max_size=12))
    if cls is isup.ChargeInformation:
        return st.builds(cls, data=st.binary(min_size=2, max_size=2))
    if issubclass(cls, isup._RawValueParameter):
        return st.builds(cls, data=st.binary(max_size=12))
    if cls is isup.RangeAndStatus:
        return st.builds(cls, range=st.integers(0, 255), status=st.binary(max_size=32))
    if issubclass(cls, isup._NumberParameter):
        return st.builds(cls, digits=st.text(DIGIT_CHARS, max_size=16), **_bits_kw(cls))
    if cls is isup.CauseIndicators:
        return st.builds(cls, recommendation=st.none() | st.integers(0, 127),
                         diagnostics=st.binary(max_size=6), **_bits_kw(cls))
    return st.builds(cls, **_bits_kw(cls))


OPTIONAL_CLASSES = list(isup.PARAMETERS.values()) + [isup.RawParameter]
any_param = st.one_of([param(c) for c in OPTIONAL_CLASSES])


def message(cls) -> st.SearchStrategy:
    kw = {"cic": st.integers(0, 4095)}
    for attr, pcls in cls.FIXED + cls.VARIABLE:
        kw[attr] = param(pcls)
    if cls.HAS_OPTIONAL:
        kw["optional"] = st.lists(any_param, max_size=5).map(tuple)
    return st.builds(cls, **kw)


any_message = st.one_of([message(c) for c in isup.MESSAGES.values()])
pc_format = st.sampled_from(mtp3.PC_FORMATS)


@st.composite
def msu(draw, fmt=None, data=None):
    fmt = fmt or draw(pc_format)
    bits = mtp3.PC_BITS[fmt]
    return mtp3.Msu(si=draw(st.integers(0, 15)), dpc=draw(st.integers(0, (1 << bits) - 1)),
                    opc=draw(st.integers(0, (1 << bits) - 1)), sls=draw(st.integers(0, 15)),
                    ni=draw(st.integers(0, 3)), priority=draw(st.integers(0, 3)),
                    data=draw(st.binary(max_size=40)) if data is None else data, pc_format=fmt,
                    label_spare=draw(st.integers(0, 15)) if fmt == "china" else 0)


seq = dict(bsn=st.integers(0, 127), bib=st.integers(0, 1), fsn=st.integers(0, 127), fib=st.integers(0, 1))
signal_unit = st.one_of(
    st.builds(mtp2.SignalUnit, **seq),
    st.builds(mtp2.SignalUnit, status=st.sampled_from(list(mtp2.STATUS_CODES)), status_len=st.sampled_from([1, 2]),
              **seq),
    st.builds(mtp2.SignalUnit, payload=st.binary(min_size=3, max_size=mtp2.MAX_MSU_PAYLOAD), **seq),
)


def mgmt(fmt: str) -> st.SearchStrategy:
    dest = st.integers(0, (1 << mtp3.PC_BITS[fmt]) - 1)
    return st.one_of(
        st.builds(mtp3.MgmtMessage, st.sampled_from(["COO", "COA"]), fsn=st.integers(0, 127),
                  spare=st.integers(0, 1)),
        st.builds(mtp3.MgmtMessage, st.sampled_from(["CBD", "CBA"]), changeback_code=st.integers(0, 255)),
        st.builds(mtp3.MgmtMessage, st.sampled_from(["TFP", "TFA"]), destination=dest,
                  spare=st.integers(0, 3) if fmt == "itu" else st.just(0)),
        st.builds(mtp3.MgmtMessage, st.sampled_from(["SLTM", "SLTA"]), pattern=st.binary(max_size=15),
                  spare=st.integers(0, 15)),
        st.just(mtp3.MgmtMessage("TRA")),
        st.tuples(st.integers(0, 1), st.integers(0, 15), st.integers(0, 15)).filter(
            lambda t: (t[1], t[2]) not in (mtp3.SNM_HEADINGS if t[0] == 0 else mtp3.SLT_HEADINGS)).flatmap(
            lambda t: st.builds(mtp3.MgmtMessage, st.just("UNKNOWN"), si=st.just(t[0]), h0=st.just(t[1]),
                                h1=st.just(t[2]), body=st.binary(max_size=8))),
    )


def fields_equal(a, b) -> bool:
    return dataclasses.asdict(a) == dataclasses.asdict(b)


def sample_isup(name: str, cic: int):
    """One realistic instance of each message type, with the values a test can look for."""
    cls = isup.MESSAGES[name]
    kw = {"cic": cic}
    if name == "IAM":
        kw.update(called=isup.CalledPartyNumber(digits="01062758888F", nai=3, npi=1),
                  calling_category=isup.CallingPartysCategory(category=0x0A + cic % 3),
                  optional=(isup.CallingPartyNumber(digits="13800138000", nai=3, npi=1, screening=3),
                            isup.OptionalBackwardCallIndicators(inband_info=1),
                            isup.RawParameter(code=0xF5, data=b"\x01\x02")))
    elif name == "SAM":
        kw["subsequent"] = isup.SubsequentNumber(digits="5678")
    elif name in ("REL", "CFN"):
        kw["cause"] = isup.CauseIndicators(cause=16 + cic % 20, location=2)
    elif name in ("ACM", "CON"):
        kw["backward_call"] = isup.BackwardCallIndicators(charge=2, called_status=1, called_category=1)
    elif name == "CPG":
        kw["event"] = isup.EventInformation(event=1 + cic % 3)
    elif name in ("SUS", "RES"):
        kw["suspend_resume"] = isup.SuspendResumeIndicators(network_initiated=cic % 2)
    elif name in ("CGB", "CGU", "CGBA", "CGUA"):
        kw["supervision_type"] = isup.CircuitGroupSupervisionMessageType(type=cic % 2)
        kw["range_status"] = isup.RangeAndStatus(range=7, status=b"\xa5")
    elif name in ("GRS",):
        kw["range_status"] = isup.RangeAndStatus(range=15)
    elif name == "GRA":
        kw["range_status"] = isup.RangeAndStatus(range=15, status=b"\x00\x80")
    elif name == "RLC":
        kw["optional"] = (isup.CauseIndicators(cause=31, location=1),)
    elif name == "ANM":
        kw["optional"] = (isup.BackwardCallIndicators(charge=2),)
    elif name == "INR":
        kw["request"] = isup.InformationRequestIndicators(flags=0x0001)
    elif name == "INF":
        kw["information"] = isup.InformationIndicators(flags=0x0003)
    return cls(**kw)
