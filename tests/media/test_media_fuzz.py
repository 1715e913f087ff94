"""The native media entry points under random and nasty arguments (tests/media/media_fuzz.py in a subprocess, so a
crash is a failed test naming the last operation); also under AddressSanitizer + UBSan (slow)."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "media_fuzz.py"


def run_driver(seed, iterations, env_extra=None, timeout=300):
    env = dict(os.environ, CTID_FUZZ_VERBOSE="1")
    env.update(env_extra or {})
    r = subprocess.run([sys.executable, str(DRIVER), str(seed), str(iterations)], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=str(ROOT))
    if r.returncode != 0:
        what = f"killed by {signal.Signals(-r.returncode).name}" if r.returncode < 0 else f"exit {r.returncode}"
        lines = r.stderr.strip().splitlines()
        ops = [ln for ln in lines if ln.startswith("op ")][-6:]
        rest = [ln for ln in lines if not ln.startswith("op ")]
        key = [ln for ln in rest if "ERROR:" in ln or "runtime error" in ln or "SUMMARY" in ln
               or ln.strip()[:3] in ("#0 ", "#1 ", "#2 ")]
        pytest.fail(f"media fuzz seed {seed}: {what}\n" + "\n".join(ops + (key[:12] if key else rest[-20:])))
    assert r.stdout.strip().endswith("ok")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_media_fuzz_fixed_seed(seed):
    run_driver(seed, 6)


@pytest.mark.slow
def test_media_fuzz_under_asan(tmp_path):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc")
    libasan = subprocess.run([gcc, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(libasan) or not os.path.exists(libasan):
        pytest.skip("libasan not available")
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from test_fuzz_native import build_asan_tree
    finally:
        sys.path.pop(0)
    tree = build_asan_tree(tmp_path)
    env = {"CTID_FUZZ_ROOT": str(tree), "LD_PRELOAD": libasan,
           "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:allocator_may_return_null=1",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    for seed in (1, 2):
        run_driver(seed, 6, env_extra=env, timeout=900)
