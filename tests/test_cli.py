"""The `ctid dsp` command line, end to end: generate files, detect them, bad files give clear errors."""
import json
import os
import subprocess
import sys

import pytest

from ctid.cli import main


def run_cli(*args):
    proc = subprocess.run([sys.executable, "-m", "ctid", *args], capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr


def detect_json(path, *extra):
    rc, out, err = run_cli("dsp", "detect", path, "--json", *extra)
    assert rc == 0, err
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("law", ["alaw", "ulaw", "linear"])
def test_gen_then_detect_dtmf(tmp_path, law):
    path = str(tmp_path / "d.wav")
    assert main(["dsp", "gen", "dtmf", "0123456789*#ABCD", "-o", path, "--law", law]) == 0
    rows = detect_json(path, "--detect", "dtmf")
    assert "".join(r["value"] for r in rows) == "0123456789*#ABCD"
    assert all(r["kind"] == "dtmf" and r["type"] == "on" and "t_ms" in r for r in rows)
    # Times increase by the generated cadence (80 ms on + 80 ms off) within a block's resolution.
    gaps = [b["t_ms"] - a["t_ms"] for a, b in zip(rows, rows[1:])]
    assert all(abs(g - 160) <= 15 for g in gaps), gaps


@pytest.mark.parametrize("kind, signals, china", [("r2f", "1234567890BCDEF", False), ("r2b", "123456", True)])
def test_gen_then_detect_r2(tmp_path, kind, signals, china):
    path = str(tmp_path / "r2.wav")
    assert main(["dsp", "gen", kind, signals, "-o", path]) == 0
    rows = detect_json(path, "--detect", kind, *(["--china-r2"] if china else []))
    assert "".join(r["value"] for r in rows) == signals
    edges = detect_json(path, "--detect", kind, "--edges")
    assert [r["type"] for r in edges] == ["on", "off"] * len(signals)


def test_gen_then_detect_busy_tone(tmp_path):
    path = str(tmp_path / "busy.wav")
    assert main(["dsp", "gen", "tone", "busy", "--duration", "4000", "-o", path]) == 0
    rows = detect_json(path, "--detect", "cpt")
    assert [r["value"] for r in rows] == ["busy"]


@pytest.mark.parametrize("modem", ["bell202", "v23"])
def test_gen_then_detect_fsk_cid(tmp_path, modem):
    path = str(tmp_path / "cid.wav")
    assert main(["dsp", "gen", "cid", "--number", "13800138000", "--name", "LI SI", "--time", "11231420",
                 "--modem", modem, "-o", path]) == 0
    rows = detect_json(path, "--detect", "cid", "--modem", modem)
    assert len(rows) == 1 and rows[0]["kind"] == "cid"
    assert rows[0]["value"]["number"] == "13800138000"
    assert rows[0]["value"]["name"] == "LI SI"
    assert rows[0]["value"]["time"] == "11231420"


def test_gen_then_detect_dtmf_cid(tmp_path):
    path = str(tmp_path / "dcid.wav")
    assert main(["dsp", "gen", "cid", "--dtmf", "--number", "13800138000", "-o", path]) == 0
    rows = detect_json(path, "--detect", "cid")
    assert [r["value"]["number"] for r in rows] == ["13800138000"]


def test_noise_option_still_detects(tmp_path):
    path = str(tmp_path / "n.wav")
    assert main(["dsp", "gen", "dtmf", "159D", "--snr", "15", "-o", path]) == 0
    assert "".join(r["value"] for r in detect_json(path, "--detect", "dtmf")) == "159D"


def test_demo_detects_everything_it_sent(tmp_path):
    rc, out, err = run_cli("dsp", "demo", "-o", str(tmp_path / "demo.wav"))
    assert rc == 0, out + err
    assert "MISMATCH" not in out and out.count(" ok") == 5


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00"
                                 b"\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00"), "16000 Hz"),
        (lambda p: p.write_bytes(b"RIFF"), "not a WAVE file"),
    ],
)
def test_bad_input_files(tmp_path, setup, message):
    path = tmp_path / "bad.wav"
    setup(path)
    rc, out, err = run_cli("dsp", "detect", str(path))
    assert rc == 2 and message in err and "Traceback" not in err


def test_unknown_detector_and_tone(tmp_path):
    path = str(tmp_path / "d.wav")
    assert main(["dsp", "gen", "dtmf", "1", "-o", path]) == 0
    rc, _, err = run_cli("dsp", "detect", path, "--detect", "dtmf,fax")
    assert rc == 2 and "unknown detector" in err
    rc, _, err = run_cli("dsp", "gen", "tone", "howler", "-o", path)
    assert rc == 2 and "no tone 'howler'" in err


def test_text_output_one_line_per_event(tmp_path):
    path = str(tmp_path / "d.wav")
    assert main(["dsp", "gen", "dtmf", "42", "-o", path]) == 0
    rc, out, _ = run_cli("dsp", "detect", path)
    assert rc == 0
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 2 and " dtmf " in lines[0] and lines[0].split()[4] == "4"
    assert os.path.exists(path)
