"""`hwsim selftest`: passes on a healthy rig, reports FAIL and exits non-zero under an injected fault, and its pcap
opens in tshark with every FCS good."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from hwsim_build import sub_env


def selftest(*args, timeout=120):
    r = subprocess.run([sys.executable, "-m", "hwsim", "selftest", *args], env=sub_env(), capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def rows(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


EXPECTED = {"alignment", "voice-bitexact", "voice-tones", "abcd", "hdlc", "hdlc-ber", "fxs-dtmf", "fxo-callerid",
            "alarms-cut"}


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    pcap = tmp_path_factory.mktemp("cap") / "link.pcap"
    rc, out, err = selftest("--spans", "2", "--json", "--pcap", str(pcap))
    return rc, out, err, pcap


def test_selftest_json_all_pass(clean_run):
    rc, out, err, _ = clean_run
    res = rows(out)
    assert {r["check"] for r in res} == EXPECTED, out
    failed = [r for r in res if r["result"] != "PASS"]
    assert not failed, failed
    assert rc == 0, err
    by = {r["check"]: r for r in res}
    assert by["voice-bitexact"]["timeslots"] == 2 * 2 * 30          # 2 spans, both directions, 30 timeslots
    assert by["abcd"]["channels"] == 30 and by["abcd"]["max_latency_frames"] <= 32
    assert by["hdlc-ber"]["delivered_bad"] == 0 and by["hdlc-ber"]["discarded_bad_fcs"] > 0
    assert by["fxo-callerid"]["cid_number"] == "13800138000"


def test_selftest_text_output_and_bad_arguments():
    rc, out, err = selftest("--spans", "1")
    lines = out.splitlines()
    assert rc == 0, out + err
    assert all(line.startswith("PASS") for line in lines[:-1]) and lines[-1].endswith("checks passed")
    rc, out, err = selftest("--spans", "17")
    assert rc == 2 and "1..16" in err


@pytest.mark.parametrize("fault, must_fail, may_pass", [
    ("cut", {"alignment", "voice-bitexact", "voice-tones", "abcd"}, {"hdlc", "fxs-dtmf", "fxo-callerid"}),
    ("noise", {"voice-bitexact"}, {"voice-tones", "abcd", "hdlc", "alignment"}),
    ("ber", {"voice-bitexact", "hdlc"}, {"alignment"}),
])
def test_selftest_reports_injected_faults(fault, must_fail, may_pass):
    rc, out, err = selftest("--spans", "2", "--json", "--inject-fault", fault)
    res = {r["check"]: r for r in rows(out)}
    assert res["inject-fault"]["fault"] == fault
    failed = {k for k, r in res.items() if r["result"] == "FAIL"}
    assert must_fail <= failed, (fault, failed)
    assert not (may_pass & failed), (fault, failed & may_pass)     # the checks point at the fault, not everywhere
    assert rc == 1, err


def test_selftest_pcap_opens_in_tshark_with_good_fcs(clean_run):
    rc, out, err, pcap = clean_run
    tshark = shutil.which("tshark")
    if tshark is None:
        if os.environ.get("CTID_REQUIRE_PEERS") == "1":
            pytest.fail("tshark is required (CTID_REQUIRE_PEERS=1) but not installed")
        pytest.skip("tshark not installed (DEBIAN_FRONTEND=noninteractive apt-get install -y tshark)")
    hdlc = {r["check"]: r for r in rows(out)}["hdlc"]
    nframes = hdlc["frames"] // hdlc["links"]                 # both directions of the captured link
    r = subprocess.run([tshark, "-r", str(pcap), "-o", "mtp2.capture_contains_frame_check_sequence:TRUE",
                        "-T", "fields", "-e", "frame.number", "-e", "mtp2.fcs_16.status"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = [line.split("\t") for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == nframes, (len(lines), nframes)
    # Wireshark's checksum status: 1 = good (0 = bad, 2 = unverified)
    assert all(status == "1" for _, status in lines), lines
