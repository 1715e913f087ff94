"""Menus 1, 3 and 4 through the real stack: libcti.Client + IvrRunner + hospital_main <-> ctid.cti.CtiServer with
the daemon's data ops (ctid.dataops) on a real SQLite database holding the demo hospital <-> the Engine test
double, whose ``record`` writes the recording files as the engine names them. The caller books an appointment,
leaves a voicemail and a complaint in one call; the rows are then in the database and what the caller heard
read back matches them."""
from __future__ import annotations

import datetime
import os
import time
import uuid

import pytest
from twisted.internet import defer, task
from twisted.logger import globalLogPublisher

from ivr_engine import ScriptedEngine, demo_users
from test_ivr_over_cti import MemoryEndpoint

from ctid.cti.server import CtiServer
from ctid.dataops import register_data_ops
from ctid.db import hospital, open_database
from ctid.db.demo import load_demo
from ivrflows import FLOWS
from ivrflows.hospital import spoken_digits
from libcti import Client
from libcti.ivr import IvrRunner

NOW = datetime.datetime(2026, 11, 23, 9, 30)


class RecordingEngine(ScriptedEngine):
    """Records write ``<purpose>-<call>-<id>.wav`` in ``recordings_dir`` as the real engine does."""

    def __init__(self, clock, recordings_dir):
        super().__init__(clock)
        self.recordings_dir = recordings_dir

    def record(self, channel, **kw):
        self._rec("record", channel, **kw)
        call = self._chan(channel, need_up=True)["call"]
        rec = uuid.uuid4().hex[:12]
        path = os.path.join(self.recordings_dir, f"{kw.get('purpose', 'recording')}-{call}-{rec}.wav")
        with open(path, "wb") as f:
            f.write(b"RIFF....WAVE")
        return defer.succeed({"recording": rec, "path": path, "duration": 8.0, "reason": "terminator"})


@pytest.fixture
def rig(tmp_path):
    failures = []

    def watch(event):
        if "log_failure" in event:
            failures.append(event)
    globalLogPublisher.addObserver(watch)
    clock = task.Clock()
    clock.advance(time.mktime(NOW.timetuple()))
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    db = open_database(f"sqlite:///{tmp_path}/ctid.db")
    load_demo(db, today=NOW.date())
    engine = RecordingEngine(clock, str(recordings))
    sync = lambda fn, *a, **kw: defer.maybeDeferred(fn, *a, **kw)  # noqa: E731 - the test pumps by hand
    server = CtiServer(engine, demo_users(), clock, run_blocking=sync)
    register_data_ops(server, db, recordings_dir=str(recordings), now=lambda: NOW, run_blocking=sync)
    server.attach()
    ep = MemoryEndpoint(server)
    client = Client(ep, user="ivr", password="ivr-pw", reactor=clock)
    d = client.connect()
    ep.pump()
    assert d.called and client.connected
    runner = IvrRunner(client, {"114": "hospital_main"}, FLOWS, clock=clock)
    started = defer.ensureDeferred(runner.start())
    ep.pump()
    assert started.called
    yield type("Rig", (), dict(engine=engine, ep=ep, runner=runner, db=db, failures=failures))
    server.detach()
    db.close()
    globalLogPublisher.removeObserver(watch)


def texts(engine, channel):
    out = []
    for name, a, kw in engine.calls:
        if a and a[0] == channel and name in ("play", "collect"):
            prompts = a[1] if name == "play" else kw.get("prompts", [])
            out += [p.get("text") or p.get("prompt") for p in prompts]
    return out


def test_one_caller_books_leaves_a_voicemail_and_a_complaint(rig):
    cardio = hospital.free_clinics(rig.db, "cardiology", now=NOW)
    wang = next(d for d in hospital.doctors(rig.db, "cardiology") if d["name"] == "王建国")
    rig.engine.keys = ["1", "1", "1", "1", "#",       # appointment: known card, cardiology, first free clinic
                       "3", "1", "2",                # voicemail: cardiology, the second doctor (王建国)
                       "4", "#",                     # complaint, then back to the menu
                       "0"]
    rig.engine.incoming("ss7/1", "a1b2c3d4e5f6", calling="13800138000", called="114")
    rig.ep.pump()
    assert rig.failures == []
    assert rig.runner.metrics["hospital_main"]["completed"] == 1
    [appt] = hospital.appointments(rig.db, card="C20240001")
    assert (appt["clinic"], appt["calling"], appt["source"]) == (cardio[0]["clinic"], "13800138000", "ivr")
    assert hospital.free_clinics(rig.db, "cardiology", now=NOW)[0]["free"] in (cardio[0]["free"] - 1,
                                                                                 cardio[1]["free"])
    [vm] = hospital.voicemails(rig.db)
    assert (vm["doctor_id"], vm["calling"], vm["call"]) == (wang["id"], "13800138000", "a1b2c3d4e5f6")
    assert vm["recording"].startswith("voicemail-a1b2c3d4e5f6-")
    [comp] = hospital.complaints(rig.db)
    assert comp["recording"].startswith("complaint-a1b2c3d4e5f6-") and comp["status"] == "open"
    heard = texts(rig.engine, "ss7/1")
    assert spoken_digits(appt["confirmation"]) in heard and spoken_digits(comp["tracking"]) in heard
    assert "voicemail_thanks" in heard
    calls = [c for c in rig.engine.calls if c[1] and c[1][0] == "ss7/1"]
    assert calls[-1][0] == "transfer"


def test_unknown_card_three_times_then_the_agent(rig):
    rig.engine.keys = ["1", "11111111", "22222222", "33333333", "0"]
    rig.engine.incoming("no1/1", "bbbbbbbbbbbb", calling="", called="114")
    rig.ep.pump()
    assert texts(rig.engine, "no1/1").count("card_unknown") == 3
    assert hospital.appointments(rig.db) == [] and rig.failures == []
