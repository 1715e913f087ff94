"""pycrate's ISUP codec (pycrate_mobile.ISUP, written independently of ours) as a second decoder.

It must parse every message we encode without error, and its re-encoding of what it parsed must give our bytes
back (so it read the same pointers, lengths, parameters and end of optional parameters). Skips if pycrate is
not installed (pip install pycrate) unless CTID_REQUIRE_PEERS=1.
"""
from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ss7_strategies as S
from ctid.signaling.ss7 import isup

try:
    from pycrate_mobile.ISUP import parse_ISUP
except ImportError:  # pragma: no cover - depends on the environment
    parse_ISUP = None
    if os.environ.get("CTID_REQUIRE_PEERS", "") not in ("", "0"):
        pytest.fail("CTID_REQUIRE_PEERS=1 but pycrate is not installed (pip install pycrate)", pytrace=False)
pytestmark = pytest.mark.skipif(parse_ISUP is None, reason="pycrate not installed (pip install pycrate)")


def pycrate_roundtrip(b: bytes) -> bytes:
    m, err = parse_ISUP(b)
    assert err == 0, f"pycrate could not parse {b.hex()} (err {err})"
    return m.to_bytes()


@pytest.mark.parametrize("name", sorted(isup.MESSAGES))
def test_pycrate_parses_each_sample(name):
    b = isup.encode(S.sample_isup(name, 321))
    assert pycrate_roundtrip(b) == b


def _plain(m):
    """Mandatory parameters as generated, no optional part, cause without the Q.850 octet 1a and no diagnostics (pycrate
    re-encodes neither)."""
    kw = dict(m.__dict__)
    if "optional" in kw:
        kw["optional"] = ()
    if "cause" in kw:
        kw["cause"] = isup.CauseIndicators(**{**kw["cause"].__dict__, "recommendation": None,
                                                           "diagnostics": b""})
    return type(m)(**kw)


calling = st.builds(isup.CallingPartyNumber, digits=st.text("0123456789", min_size=1, max_size=15),
                    nai=st.sampled_from([1, 3, 4]), presentation=st.integers(0, 1), screening=st.sampled_from([1, 3]))
obci = st.builds(isup.OptionalBackwardCallIndicators, inband_info=st.integers(0, 1))
raw = st.builds(isup.RawParameter, code=st.sampled_from([0xF0, 0xF5, 0xFE]), data=st.binary(max_size=6))
# optional parameters as Q.763 lists them for the message (pycrate drops ones its message tables do not list)
OPTIONAL_FOR = {"IAM": st.one_of(calling, raw), "ACM": st.one_of(obci, raw), "CPG": st.one_of(obci, raw),
                "ANM": st.one_of(obci, raw), "CON": st.one_of(obci, raw)}


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(S.any_message, st.data())
def test_pycrate_parses_generated_messages(m, data):
    m = _plain(m)
    if m.NAME in OPTIONAL_FOR:
        opt = data.draw(st.lists(OPTIONAL_FOR[m.NAME], max_size=3, unique_by=isup.param_code).map(tuple))
        m = type(m)(**{**m.__dict__, "optional": opt})
    b = isup.encode(m)
    assert pycrate_roundtrip(b) == b
