"""``ctid demo`` (what ``make demo`` runs) works end to end: one round of calls over SS7, China No.1 and the
analogue line reaches the IVR, the far end hears it, the caller who pressed 0 reaches agent 1001, and the CDRs of
the run are printed."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.e2e


def test_ctid_demo_one_round(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-m", "ctid", "demo", "--rounds", "1", "--data-dir", str(tmp_path / "d"),
                        "--port", str(port)], capture_output=True, text=True, env=env, timeout=240, cwd=str(tmp_path))
    out = r.stdout
    assert r.returncode == 0, out[-3000:] + r.stderr[-3000:]
    for trunk, kind in (("ss7", "ss7"), ("no1", "no1"), ("analog", "fxo")):
        assert f"-> 114 ({kind})" in out, out
        assert f"far end        {trunk}: answered, heard the IVR: yes, after the key: speech" in out, out
    assert "offered to agent 1001" in out and " bridged " in out, out
    cdrs = out.split("CDRs (newest first):", 1)[1].strip().splitlines()
    assert len(cdrs) == 3, cdrs
    assert all("answered" in c and "cause 16" in c for c in cdrs), cdrs
    assert any("agent 1001" in c for c in cdrs), cdrs
