"""python -m ctid.db: demo, users, tokens, CDRs and errors from the command line."""
from __future__ import annotations

import json

from ctid.db import open_database
from ctid.db.cli import main


def test_cli_demo_users_tokens_and_queries(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path}/data/ctid.db"  # the data directory is created
    assert main(["--url", url, "demo", "--today", "2026-11-23"]) == 0
    assert json.loads(capsys.readouterr().out)["departments"] >= 8
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("agent-1003-pw\n"))
    assert main(["--url", url, "user", "add", "1003", "--role", "agent", "--agent", "--queue", "frontdesk",
                 "--password-stdin"]) == 0
    assert main(["--url", url, "token", "issue", "1003"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    db = open_database(url)
    try:
        assert db.users.authenticate("1003", "agent-1003-pw").agent == "1003"
        assert db.users.authenticate_token(token).user == "1003"
        db.cdrs.write({"call_id": "c1", "start": 1.79e9, "answer": 1.79e9 + 1, "end": 1.79e9 + 31, "agent": "1003"})
    finally:
        db.close()
    assert main(["--url", url, "clinics", "--date", "2026-11-23"]) == 0
    assert all(json.loads(line)["date"] == "2026-11-23" for line in capsys.readouterr().out.splitlines())
    assert main(["--url", url, "cdrs", "--call", "c1"]) == 0
    assert json.loads(capsys.readouterr().out)["billsec"] == 30
    assert main(["--url", url, "report", "--since", "2026-01-01", "--until", "2027-01-01"]) == 0
    assert json.loads(capsys.readouterr().out) == {"agent": "1003", "calls": 1, "talk_seconds": 30.0,
                                                   "average_handle_seconds": 30.0}
    assert main(["--url", url, "patient", "13800138000"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "张伟"


def test_cli_errors(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path}/ctid.db"
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("long-password\n"))
    assert main(["--url", url, "user", "add", "x", "--role", "root", "--password-stdin"]) == 1
    assert "unknown role(s) 'root'" in capsys.readouterr().err
    assert main(["--url", "postgresql://u:secret@127.0.0.1:1/d", "init"]) == 1
    err = capsys.readouterr().err
    assert "postgresql+psycopg://u:***@127.0.0.1:1/d" in err and "secret" not in err
