"""cffi build script for the native DSP core (API mode, out of line).

setup.py names this in ``cffi_modules`` so ``pip install .`` and ``pip install -e .`` compile
``native/*.c`` into ``ctid.dsp._native``. The public header is also the cdef.
"""
import glob
import os
import re

from cffi import FFI

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NATIVE = os.path.join(ROOT, "native")
HEADER = os.path.join(NATIVE, "include", "ctid_dsp.h")


def _cdef_text():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    # cffi wants plain constant #defines; expressions are not used in the header.
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def _sources():
    # Relative paths keep the build reproducible from the project root (setuptools runs there).
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(NATIVE, "*.c")))


ffibuilder = FFI()
ffibuilder.cdef(_cdef_text())
ffibuilder.set_source(
    "ctid.dsp._native",
    '#include "ctid_dsp.h"\n',
    sources=_sources(),
    include_dirs=[os.path.relpath(os.path.join(NATIVE, "include"), ROOT), os.path.relpath(NATIVE, ROOT)],
    extra_compile_args=["-O3", "-std=gnu11", "-fno-math-errno", "-Wall", "-Wno-unused-function"],
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
