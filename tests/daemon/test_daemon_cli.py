"""``ctid run`` as a command: configuration errors name the key and stop with status 2, ``--check`` validates and
prints, command-line overrides are validated like the file, the twistd plugin is found, and a daemon whose port is
taken stops with a message naming the step (the rest of the daemon is proved end to end in tests/e2e)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ctid(*args, timeout=60):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "ctid", *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


def test_bad_config_names_the_key(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[boards]]\ndriver = "hwsim"\nid = 0\nspans = 1\n\n[[trunks]]\nname = "ss7"\nboard = 0\n'
                   'span = 7\nsignalling = "ss7"\nopc = 1\ndpc = 2\n')
    r = ctid("run", "--config", str(cfg))
    assert r.returncode == 2
    assert "trunks[0].span" in r.stderr and "7" in r.stderr


def test_not_toml_and_missing_file(tmp_path):
    cfg = tmp_path / "x.toml"
    cfg.write_text("this is [ not toml")
    r = ctid("run", "--config", str(cfg))
    assert r.returncode == 2 and "not valid TOML" in r.stderr
    r = ctid("run", "--config", str(tmp_path / "missing.toml"))
    assert r.returncode == 2 and "missing.toml" in r.stderr


def test_check_prints_the_validated_config_with_overrides(tmp_path):
    r = ctid("run", "--check", "--data-dir", str(tmp_path / "d"), "--listen", "tcp:7999:interface=127.0.0.1")
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert cfg["daemon"]["data_dir"] == str(tmp_path / "d")
    assert cfg["daemon"]["database"] == f"sqlite:///{tmp_path / 'd'}/ctid.db"   # derived from the new data dir
    assert cfg["cti"]["listen"] == ["tcp:7999:interface=127.0.0.1"]
    assert {t["signalling"] for t in cfg["trunks"]} == {"ss7", "china1", "analog"}
    r = ctid("run", "--check", "--listen", "carrier-pigeon:7")
    assert r.returncode == 2 and "carrier-pigeon" in r.stderr


def test_twistd_plugin_is_found():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = ("from twisted.plugin import getPlugins; from twisted.application.service import IServiceMaker; "
            "print([p.tapname for p in getPlugins(IServiceMaker)])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert "'ctid'" in r.stdout, r.stdout + r.stderr


def test_port_in_use_stops_with_the_step_named(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        r = ctid("run", "--data-dir", str(tmp_path / "d"), "--listen", f"tcp:{port}:interface=127.0.0.1",
                 timeout=120)
    finally:
        s.close()
    assert r.returncode == 1
    assert "CTI server" in r.stderr, r.stderr

