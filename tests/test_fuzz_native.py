"""Fuzzing the native entry points: random buffers, sizes, laws, masks, channel numbers, parameter structs
(NaN, inf, negative, huge), tone tables, generator arguments and FSK/caller-ID input.

The contract (preamble, native/include/ctid_dsp.h): every call ends in a clean result or a clear error
(DspError, NULL, a negative code) and never crashes or emits malformed events. The fuzz loop
(tests/peers/fuzz_native.py) runs in a subprocess, so a segfault or abort is a failed test showing the last
operation, not a dead pytest. Variants: fixed seeds; hypothesis-chosen plans; an AddressSanitizer +
UBSan build of native/*.c running the same seeds (slow).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "peers" / "fuzz_native.py"


def run_driver(args, env_extra=None, timeout=240):
    env = dict(os.environ, CTID_FUZZ_VERBOSE="1")
    env.update(env_extra or {})
    r = subprocess.run([sys.executable, str(DRIVER), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout, env=env, cwd=str(ROOT))
    if r.returncode != 0:
        what = (f"killed by {signal.Signals(-r.returncode).name}" if r.returncode < 0
                else f"exit code {r.returncode}")
        lines = r.stderr.strip().splitlines()
        ops = [ln for ln in lines if ln.startswith("op ")][-6:]
        rest = [ln for ln in lines if not ln.startswith("op ")]
        # sanitizer reports: keep the headline, the first frames and the summary; else the traceback tail
        key = [ln for ln in rest if "ERROR:" in ln or "runtime error" in ln or "SUMMARY" in ln
               or ln.strip()[:3] in ("#0 ", "#1 ", "#2 ", "#3 ")]
        tail = "\n".join(ops + (key[:12] if key else rest[-15:]))
        pytest.fail(f"fuzz driver {' '.join(map(str, args))}: {what}\n--- last operations / error ---\n{tail}")
    assert r.stdout.strip().endswith("ok")


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_fuzz_fixed_seed(seed):
    run_driver(["seed", seed, 40])


hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

CASE = st.fixed_dictionaries({
    "seed": st.integers(0, 2 ** 32 - 1),
    "nchan": st.integers(1, 70),
    "law": st.sampled_from(["alaw", "ulaw", "linear"]),
    # block sizes in bytes: whole frames and arbitrary ones
    "sizes": st.lists(st.one_of(st.integers(0, 12000), st.sampled_from([1, 160, 320, 4800, 5120])),
                      min_size=1, max_size=12),
    "masks": st.lists(st.integers(0, 64), max_size=12),
    "extra": st.integers(0, 2),
})


# No shrinking: each example is a subprocess, and the failing plan is reported as drawn.
@hypothesis.settings(max_examples=12, deadline=None, derandomize=True, database=None,
                     phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(plan=st.lists(CASE, min_size=1, max_size=4))
def test_fuzz_hypothesis_plans(plan, tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(json.dumps(plan))
    run_driver(["plan", path])


# ---------------------------------------------------------------------------------------------- ASan/UBSan
def build_asan_tree(dest: Path) -> Path:
    """Copy the ctid package and compile native/*.c with -fsanitize=address,undefined into it."""
    from cffi import FFI

    sys.path.insert(0, str(ROOT / "ctid" / "dsp"))
    try:
        import importlib

        build = importlib.import_module("_build")
        cdef = build._cdef_text()
    finally:
        sys.path.pop(0)
    shutil.copytree(ROOT / "ctid", dest / "ctid", ignore=shutil.ignore_patterns("*.so", "__pycache__", "_native.c"))
    native = ROOT / "native"
    ffi = FFI()
    ffi.cdef(cdef)
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]
    ffi.set_source("ctid.dsp._native", '#include "ctid_dsp.h"\n',
                   sources=sorted(str(p) for p in native.glob("*.c")),
                   include_dirs=[str(native / "include"), str(native)],
                   extra_compile_args=["-O1", "-g", "-std=gnu11", "-fno-math-errno", *san],
                   extra_link_args=san, libraries=["m"])
    ffi.compile(tmpdir=str(dest), verbose=False)
    return dest


@pytest.mark.slow
def test_fuzz_under_asan(tmp_path):
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("no gcc")
    libasan = subprocess.run([gcc, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(libasan) or not os.path.exists(libasan):
        pytest.skip("libasan not available")
    tree = build_asan_tree(tmp_path)
    env = {"CTID_FUZZ_ROOT": str(tree), "LD_PRELOAD": libasan,
           "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:allocator_may_return_null=1",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    for seed in (1, 2, 3, 4):
        run_driver(["seed", seed, 30], env_extra=env, timeout=900)
