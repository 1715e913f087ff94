"""`python -m ivrflows` as its own process against a CTI server process on TCP: a refused login is reported; it
logs in, takes a call to 114, survives the server dropping the connection (libcti reconnects and re-subscribes)
and takes the next call. Argument errors are checked in-process."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("CTID_IVR_PASSWORD", None)
    return env


def test_cli_refuses_bad_arguments_with_a_clear_message(capsys, monkeypatch):
    from ivrflows.__main__ import main
    monkeypatch.delenv("CTID_IVR_PASSWORD", raising=False)
    monkeypatch.delenv("CTID_IVR_TOKEN", raising=False)
    assert main(["--cti", "tcp:127.0.0.1:1", "--password", "x", "--route", "114=no_such_flow"]) == 2
    assert "names flow 'no_such_flow'" in capsys.readouterr().err
    assert main(["--cti", "tcp:127.0.0.1:1"]) == 2
    assert "--password" in capsys.readouterr().err
    assert main(["--password", "x"]) == 2
    assert "--cti" in capsys.readouterr().err
    assert main(["--list-flows"]) == 0
    assert capsys.readouterr().out.split() == ["hospital_main"]
    with pytest.raises(SystemExit):
        main(["--cti", "tcp:x:1", "--password", "x", "--route", "114"])
    assert "give CALLED=FLOW" in capsys.readouterr().err


def test_standalone_ivr_takes_calls_and_reconnects():
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "cti_server_proc.py")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env())
    ivr = None
    try:
        line = server.stdout.readline()
        assert line, server.stderr.read()
        port = json.loads(line)["port"]
        # a wrong password: a clear message and exit status 1 (the server places no call for it)
        r = subprocess.run([sys.executable, "-m", "ivrflows", "--cti", f"tcp:127.0.0.1:{port}", "--user", "ivr",
                            "--password", "wrong"], capture_output=True, text=True, cwd=ROOT, env=_env(),
                           timeout=60)
        assert r.returncode == 1 and "cannot connect" in r.stderr and "401" in r.stderr
        env = _env()
        env["CTID_IVR_PASSWORD"] = "ivr-pw"
        ivr = subprocess.Popen([sys.executable, "-m", "ivrflows", "--cti", f"tcp:127.0.0.1:{port}", "--user", "ivr",
                                "--route", "114=hospital_main"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=ROOT, env=env)
        results = []
        for _ in range(2):
            line = server.stdout.readline()
            if not line:
                ivr.kill()
                pytest.fail(f"server ended early:\n{server.stderr.read()}\nivr:\n{ivr.stderr.read()}")
            results.append(json.loads(line))
        first, second = results
        assert [op for op, _, _ in first["ops"]] == ["answer", "play", "collect", "play", "transfer"]
        assert first["ops"][-1][2]["queue"] == "frontdesk"
        # after the reconnect: 2 (information), then 0
        assert [op for op, _, _ in second["ops"]] == ["answer", "play", "collect", "play", "collect", "play",
                                                      "transfer"]
        assert second["ops"][3][1][0][2] == {"text": "心内科，3楼。", "voice": "zh"}
        assert second["ops"][3][1][0][3] == {"prompt": "no_clinics"}
        assert server.wait(timeout=30) == 0
    finally:
        for p in (ivr, server):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
