"""Shared pytest setup: the --runslow switch and the spandsp reference peer."""
from __future__ import annotations

import os

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="run tests marked slow (also: CTID_RUNSLOW=1)")


def runslow(config) -> bool:
    return bool(config.getoption("--runslow")) or os.environ.get("CTID_RUNSLOW", "") not in ("", "0")


def pytest_collection_modifyitems(config, items):
    if runslow(config):
        return
    skip = pytest.mark.skip(reason="slow test: give --runslow or set CTID_RUNSLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def spandsp():
    """The spandsp 0.0.6 peer program, compiled once per content into ~/.cache/ctid-peers.

    Skips when libspandsp-dev (or gcc) is missing, unless CTID_REQUIRE_PEERS=1 (CI), where it fails.
    """
    from peers import PeerUnavailable, SpandspPeer, require_peers

    try:
        return SpandspPeer()
    except PeerUnavailable as exc:
        if require_peers():
            pytest.fail(f"CTID_REQUIRE_PEERS=1 but the spandsp peer is unavailable: {exc}")
        pytest.skip(f"spandsp peer unavailable: {exc}")


def _peer_or_skip(name: str, factory):
    from peers import PeerUnavailable, require_peers

    try:
        return factory()
    except PeerUnavailable as exc:
        if require_peers():
            pytest.fail(f"CTID_REQUIRE_PEERS=1 but the {name} peer is unavailable: {exc}")
        pytest.skip(f"{name} peer unavailable: {exc}")


@pytest.fixture(scope="session")
def openr2_mf():
    """OpenR2 1.3.3's MF engine (tests/peers/openr2_mf.c, static libopenr2.a), compiled once per content.

    Skips when libopenr2-dev (or gcc) is missing, unless CTID_REQUIRE_PEERS=1 (CI), where it fails.
    """
    from peers.openr2 import OpenR2Mf

    return _peer_or_skip("OpenR2 MF", OpenR2Mf)


@pytest.fixture(scope="session")
def openr2():
    """The OpenR2 call peer (tests/peers/openr2_peer.c, libopenr2) and the fake DAHDI library
    (tests/peers/fakedahdi.c, built against dahdi/user.h), compiled once per content.

    Skips when libopenr2-dev, dahdi/user.h (dahdi-dkms) or gcc is missing, unless CTID_REQUIRE_PEERS=1."""
    from peers.openr2 import OpenR2Programs

    return _peer_or_skip("OpenR2 call", OpenR2Programs)


@pytest.fixture(scope="session")
def libss7_peer_exe():
    """The libss7 2.0 interop peer (tests/peers/libss7_peer.c), compiled once per content.

    Skips when libss7-dev (or gcc) is missing, unless CTID_REQUIRE_PEERS=1 (CI), where it fails.
    """
    from peers.libss7 import build_libss7_peer

    return _peer_or_skip("libss7", build_libss7_peer)
