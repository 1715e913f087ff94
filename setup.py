"""ctid packaging.

Two native builds run under build_ext (so `pip install .`, `pip install -e .` and
`python setup.py build_ext --inplace` all do both):
  - ctid.dsp._native: the DSP core through cffi (cffi_modules, API mode);
  - hwsim/libhwsim.so: the hwsim board simulator as a plain shared library (native/hwsim/*.c plus the DSP
    generators it links: G.711, DTMF, FSK and tone generators), loaded by ctid/drivers/hwsim.py with
    cffi in ABI mode exactly as a vendor SDK's .so would be. `python setup.py build_hwsim` builds only it.
"""
import glob
import os
import re
import shutil

from setuptools import Command, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
HWSIM_DSP_SOURCES = ["native/g711.c", "native/dtmf_tx.c", "native/fsk_tx.c", "native/tone_gen.c"]


def hwsim_sources():
    return sorted(glob.glob("native/hwsim/*.c")) + HWSIM_DSP_SOURCES


class build_hwsim(Command):
    """Compile native/hwsim/*.c and the DSP generators into hwsim/libhwsim.so."""

    description = "build the hwsim board simulator library (hwsim/libhwsim.so)"
    user_options = [
        ("inplace", "i", "put libhwsim.so in the source tree (hwsim/) instead of the build directory"),
        ("build-lib=", "b", "directory for the built library's package tree"),
        ("build-temp=", "t", "directory for object files"),
        ("force", "f", "rebuild even if up to date"),
    ]
    boolean_options = ["inplace", "force"]

    def initialize_options(self):
        self.inplace = None
        self.build_lib = None
        self.build_temp = None
        self.force = None

    def finalize_options(self):
        self.set_undefined_options("build_ext", ("build_lib", "build_lib"), ("build_temp", "build_temp"),
                                   ("inplace", "inplace"), ("force", "force"))
        self.set_undefined_options("build", ("build_lib", "build_lib"), ("build_temp", "build_temp"),
                                   ("force", "force"))

    def output_path(self):
        base = ROOT if self.inplace else self.build_lib
        return os.path.join(base, "hwsim", "libhwsim.so")

    def header_path(self):
        return os.path.join(os.path.dirname(self.output_path()), "hwsim_sdk.h")

    def get_outputs(self):
        return [self.output_path(), self.header_path()]

    def run(self):
        from setuptools._distutils.ccompiler import new_compiler
        from setuptools._distutils.sysconfig import customize_compiler
        try:  # setuptools >= 69 moved it; older ones only have dep_util
            from setuptools._distutils._modified import newer_group
        except ImportError:
            from setuptools._distutils.dep_util import newer_group

        sources = hwsim_sources()
        headers = glob.glob("native/hwsim/*.h") + ["native/include/ctid_dsp.h", "native/internal.h"]
        out = self.output_path()
        if not (self.force or newer_group(sources + headers, out, missing="newer")):
            return
        os.makedirs(os.path.dirname(out), exist_ok=True)
        cc = new_compiler(verbose=self.verbose, force=True)
        customize_compiler(cc)
        objects = cc.compile(
            sources,
            output_dir=os.path.join(self.build_temp, "hwsim"),
            include_dirs=["native/include", "native", "native/hwsim"],
            extra_preargs=["-fPIC", "-fvisibility=default"],
            extra_postargs=["-O2", "-std=gnu11", "-fno-math-errno", "-Wall", "-Wno-unused-function", "-pthread"],
        )
        # Export exactly the functions hwsim_sdk.h declares: the core's internals, the line layer and the DSP
        # generators stay private, so they never interpose on (or get interposed by) ctid.dsp._native.
        with open("native/hwsim/hwsim_sdk.h", encoding="utf-8") as f:
            api = sorted(set(re.findall(r"\b(hwsim_\w+)\s*\(", re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S))))
        script = os.path.join(self.build_temp, "hwsim", "libhwsim.map")
        with open(script, "w", encoding="ascii") as f:
            f.write("{ global: %s; local: *; };\n" % "; ".join(api))
        cc.link_shared_object(objects, out, libraries=["m"],
                              extra_postargs=["-pthread", "-Wl,--version-script=" + script])
        # Ship the header beside the library, as a vendor SDK does: the driver reads it as its cffi cdef.
        if os.path.abspath(self.header_path()) != os.path.abspath("native/hwsim/hwsim_sdk.h"):
            shutil.copyfile("native/hwsim/hwsim_sdk.h", self.header_path())


class build_ext_with_hwsim(build_ext):
    """build_ext that also builds hwsim/libhwsim.so (cffi wraps this class for its own module)."""

    def run(self):
        super().run()
        self.run_command("build_hwsim")

    def get_outputs(self):
        return super().get_outputs() + self.get_finalized_command("build_hwsim").get_outputs()


setup(
    name="ctid",
    version="0.1.0",
    description="Open CTI platform for hospital call centres on telephony voice boards",
    packages=find_packages(include=["ctid*", "libcti*", "ivrflows*", "hwsim*"]) + ["twisted.plugins"],   # twistd plugin (twisted/plugins/ctid_plugin.py)
    python_requires=">=3.11",
    setup_requires=["cffi>=1.15"],
    cffi_modules=["ctid/dsp/_build.py:ffibuilder"],
    cmdclass={"build_ext": build_ext_with_hwsim, "build_hwsim": build_hwsim},
    install_requires=[
        "cffi>=1.15",
        "numpy>=1.24",
        "scipy>=1.10",
        "construct>=2.10",
        "twisted>=23.8",
        "sqlalchemy>=2.0",
        "pyserial>=3.5",
        "pyttsx3>=2.90",
        "espeakng-loader>=0.2.4",   # libespeak-ng 1.52: Debian's 1.51 garbles Mandarin (ctid/media/espeak_lib.py)
        "psycopg[binary]>=3.1",     # PostgreSQL by URL (postgresql+psycopg://)
        "pyopenssl>=23",            # TLS for the CTI protocol (Twisted ssl: endpoints)
        "service_identity>=21",
    ],
    extras_require={"test": ["pytest>=7", "hypothesis>=6", "pycrate>=0.7"],
                    # optional: libcti decodes frames with orjson when it is installed (same results as json)
                    "fast": ["orjson>=3.8"]},
    entry_points={
        "console_scripts": [
            "ctid = ctid.cli:main",
            "hwsim = hwsim.cli:main",
        ],
        # Board driver backends, found by name by ctid.drivers (third-party drivers add their own here).
        "ctid.drivers": [
            "hwsim = ctid.drivers.hwsim:HwsimBackend",
        ],
    },
    include_package_data=True,
    zip_safe=False,
)
