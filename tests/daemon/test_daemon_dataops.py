"""The daemon's data ops for menus 1, 3 and 4 through the real daemon (``ctid run`` as its own process, demo
hospital on SQLite, CTI on TCP): roles (401/403), a booking acknowledged and then still in the database after
``kill -9``, bad requests answered with codes."""
from __future__ import annotations

import json
import os
import signal
import socket
import sys

import pytest

from ctid.db import hospital, open_database
from hwsim.harness import Child

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Cti:
    """A minimal blocking CTI client (JSON lines), enough for requests and their responses."""

    def __init__(self, port, user=None, password=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.f = self.s.makefile("rb")
        self.n = 0
        assert json.loads(self.f.readline())["type"] == "hello"
        if user:
            r = self.request("login", user=user, password=password)
            assert r["ok"], r

    def request(self, op, **args):
        self.n += 1
        self.s.sendall(json.dumps(dict(id=self.n, op=op, **args)).encode() + b"\n")
        while True:
            msg = json.loads(self.f.readline())
            if msg.get("type") == "response" and msg.get("id") == self.n:
                return msg

    def code(self, op, **args):
        r = self.request(op, **args)
        return None if r["ok"] else r["error"]["code"]

    def close(self):
        self.s.close()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def daemon(tmp_path):
    port = _free_port()
    data = tmp_path / "data"
    d = Child("ctid", [sys.executable, "-m", "ctid", "run", "--data-dir", str(data), "--listen",
                       f"tcp:{port}:interface=127.0.0.1"], logdir=os.environ.get("CTID_E2E_LOGDIR"))
    try:
        d.wait_for(lambda line: isinstance(line, str) and line.startswith("ctid: running"), 60, "daemon start")
        yield d, port, data
    finally:
        d.stop()


def test_booking_is_durable_and_the_ops_are_guarded(daemon):
    d, port, data = daemon
    anon = Cti(port)
    assert anon.code("appointment.book", clinic=1, card="C20240001") == 401
    assert anon.code("complaint.list") == 401
    agent = Cti(port, "1001", "1001-demo")
    mon = Cti(port, "monitor", "monitor-demo")
    for op, args in (("complaint.list", {}), ("voicemail.list", {}), ("appointment.list", {}),
                     ("complaint.close", {"tracking": "1"}), ("voicemail.mark_heard", {"voicemail": 1}),
                     ("complaint.file", {"recording": "0123456789ab", "calling": "1"})):
        assert agent.code(op, **args) == 403, op
        assert mon.code(op, **args) == 403, op
    assert mon.code("appointment.book", clinic=1, card="C20240001") == 403
    admin = Cti(port, "admin", "admin-demo")
    r = admin.request("hospital.free_clinics", department="cardiology")
    clinics = r["result"]["clinics"]
    assert clinics and all(c["free"] > 0 for c in clinics)
    r = admin.request("appointment.book", clinic=clinics[0]["clinic"], card="C20240001", calling="13800138000")
    assert r["ok"], r
    confirmation = r["result"]["appointment"]["confirmation"]
    # a recording that does not exist cannot be filed
    r = admin.request("complaint.file", recording="0123456789ab", calling="13800138000")
    assert r["error"]["code"] == 404 and "no complaint recording" in r["error"]["message"]
    sup = Cti(port, "supervisor", "supervisor-demo")
    assert sup.request("complaint.list")["result"] == {"complaints": []}
    assert sup.request("voicemail.list")["result"] == {"voicemails": []}
    r = sup.request("appointment.list", card="C20240001")
    assert [a["confirmation"] for a in r["result"]["appointments"]] == [confirmation]
    # acknowledged means committed: still there after kill -9
    d.stop(signal.SIGKILL)
    db = open_database(f"sqlite:///{data}/ctid.db")
    try:
        [a] = hospital.appointments(db, card="C20240001")
        assert a["confirmation"] == confirmation and a["source"] == "admin"
    finally:
        db.close()
