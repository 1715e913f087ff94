from setuptools import find_packages, setup

setup(
    name="ctid",
    version="0.1.0",
    description="Open CTI platform for hospital call centres on telephony voice boards",
    packages=find_packages(include=["ctid*", "libcti*", "ivrflows*", "hwsim*"]),
    python_requires=">=3.11",
    setup_requires=["cffi>=1.15"],
    cffi_modules=["ctid/dsp/_build.py:ffibuilder"],
    install_requires=[
        "cffi>=1.15",
        "numpy>=1.24",
        "scipy>=1.10",
        "construct>=2.10",
        "twisted>=23.8",
        "sqlalchemy>=2.0",
        "pyserial>=3.5",
        "pyttsx3>=2.90",
    ],
    extras_require={"test": ["pytest>=7", "hypothesis>=6"]},
    entry_points={
        "console_scripts": [
            "ctid = ctid.cli:main",
            "hwsim = hwsim.cli:main",
        ],
    },
    include_package_data=True,
    zip_safe=False,
)
