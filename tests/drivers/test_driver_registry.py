"""The backend registry: hwsim by name and through the entry point setup.py declares, third-party drivers
through entry points, clear errors for unknown or broken backends."""
import subprocess
import sys
import textwrap

import pytest

from hwsim_build import ROOT

from ctid import drivers
from ctid.drivers import DriverError, registry
from ctid.drivers.hwsim import HwsimBackend, HwsimBoard, World


@pytest.fixture(autouse=True)
def fresh_registry():
    registry.refresh()
    yield
    registry.refresh()


def test_hwsim_found_by_name():
    assert "hwsim" in drivers.available_backends()
    backend = drivers.get_backend("hwsim")
    assert isinstance(backend, HwsimBackend)
    assert drivers.get_backend("hwsim") is backend          # loaded once
    w = World(1)
    try:
        board = drivers.open_board("hwsim", 3, world=w, spans=1, ports=["fxs"])
        assert isinstance(board, HwsimBoard) and board.board_id == 3
        assert board.info.nspans == 1 and [k.value for k in board.info.port_kinds] == ["fxs"]
        assert board.nchannels == 33 and board.block_shape == (160, 33)
    finally:
        w.close()


def test_hwsim_found_through_setup_py_entry_point(tmp_path, monkeypatch):
    """setup.py declares the entry point: build its metadata (egg_info into a temporary directory, nothing
    installed) and check the registry finds hwsim through it."""
    r = subprocess.run([sys.executable, "setup.py", "-q", "egg_info", "--egg-base", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    eps = registry._entry_points()
    assert "hwsim" in eps, eps
    assert eps["hwsim"].value == "ctid.drivers.hwsim:HwsimBackend"
    assert drivers.backend_origin("hwsim").startswith("entry point ctid.drivers.hwsim:HwsimBackend")
    assert isinstance(drivers.get_backend("hwsim"), HwsimBackend)


def _fake_distribution(tmp_path, name: str, module_src: str, ep_value: str, ep_name: str = "fakeboard"):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(module_src))
    dist = tmp_path / f"{name}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[ctid.drivers]\n{ep_name} = {ep_value}\n")


def test_third_party_backend_through_entry_point(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "ctid_fakeboard", """
        from ctid.drivers.hwsim import HwsimBackend, World

        class FakeBackend(HwsimBackend):
            name = "fakeboard"
            opened = []

            def open_board(self, board_id, **cfg):
                self.opened.append(board_id)
                w = World(5)
                return super().open_board(board_id, world=w, spans=1)
        """, "ctid_fakeboard:FakeBackend")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    assert "fakeboard" in drivers.available_backends()
    assert drivers.backend_origin("fakeboard") == "entry point ctid_fakeboard:FakeBackend (ctid_fakeboard)"
    board = drivers.open_board("fakeboard", 9)
    assert board.board_id == 9 and type(drivers.get_backend("fakeboard")).__name__ == "FakeBackend"
    assert drivers.get_backend("fakeboard").opened == [9]


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(DriverError) as ei:
        drivers.open_board("dialogic-nonexistent", 0)
    msg = str(ei.value)
    assert "unknown driver backend 'dialogic-nonexistent'" in msg
    assert "hwsim" in msg and "ctid.drivers" in msg          # lists what exists and how to add one
    with pytest.raises(DriverError):
        drivers.get_backend(None)


def test_broken_entry_point_is_a_clear_error(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "ctid_brokenboard", "raise ImportError('vendor SDK libfoo.so missing')\n",
                       "ctid_brokenboard:Backend", "brokenboard")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    with pytest.raises(DriverError, match=r"brokenboard.*failed to load.*libfoo\.so missing"):
        drivers.get_backend("brokenboard")


def test_registered_backend_must_open_boards():
    drivers.register_backend("notadriver", object())
    try:
        with pytest.raises(DriverError, match="has no open_board"):
            drivers.get_backend("notadriver")

        class Liar:
            def open_board(self, board_id, **cfg):
                return "a string"

        drivers.register_backend("notadriver", Liar)
        with pytest.raises(DriverError, match="not a ctid.drivers.Board"):
            drivers.open_board("notadriver", 0)
        drivers.register_backend("notadriver", "no.such.module:Thing")
        with pytest.raises(DriverError, match="cannot load no.such.module:Thing"):
            drivers.get_backend("notadriver")
        with pytest.raises(DriverError):
            drivers.register_backend("bad name!", object())
    finally:
        drivers.unregister_backend("notadriver")
    assert "notadriver" not in drivers.available_backends()


def test_unknown_option_is_rejected():
    w = World(1)
    try:
        with pytest.raises(DriverError, match=r"unknown option spams; accepted: world, spans"):
            drivers.open_board("hwsim", 0, world=w, spams=2)
        with pytest.raises(DriverError, match="world= must be"):
            drivers.open_board("hwsim", 0, world="mine")
    finally:
        w.close()
