"""Shared fixtures for the driver tests (helpers and the libhwsim.so build live in hwsim_build.py)."""
import pytest

from hwsim_build import sub_env


@pytest.fixture
def env():
    return sub_env()


@pytest.fixture
def world():
    from ctid.drivers.hwsim import World

    w = World(seed=7)
    yield w
    w.close()
