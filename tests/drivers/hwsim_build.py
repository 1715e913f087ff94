"""Test helpers for the driver and media tests (a uniquely named module, not conftest, so that tests of several
directories can import it in one run): this checkout's packages first on sys.path, libhwsim.so built if stale,
and an environment for subprocesses that run this checkout's code."""
import glob
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if sys.path[0] != str(ROOT):
    sys.path.insert(0, str(ROOT))   # this checkout, not an installed/editable ctid elsewhere

SO = ROOT / "hwsim" / "libhwsim.so"
DSP = ["g711.c", "dtmf_tx.c", "fsk_tx.c", "tone_gen.c", "internal.h", "include/ctid_dsp.h"]


def _stale() -> bool:
    if not SO.exists():
        return True
    srcs = glob.glob(str(ROOT / "native" / "hwsim" / "*.[ch]")) + [str(ROOT / "native" / s) for s in DSP]
    return any(os.path.getmtime(s) > SO.stat().st_mtime for s in srcs if os.path.exists(s))


if _stale():
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_hwsim", "--inplace"], cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr

import ctid.drivers  # noqa: E402

assert Path(ctid.drivers.__file__).resolve().is_relative_to(ROOT), ctid.drivers.__file__


def sub_env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("HWSIM_LIBRARY", None)
    env.update(extra)
    return env
