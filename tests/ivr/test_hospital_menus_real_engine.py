"""Menus 1, 3 and 4 on the real call path, in simulated time: an SS7 caller on hwsim (the far end's own ISUP
stack) presses DTMF as tones in the audio; ctid.core's Engine over the media runtime detects them, plays the
prompts ("TTS" rendered as a tone in tests) and writes the recordings; the CTI server with the daemon's data ops on
a SQLite demo hospital; libcti, the IVR runner and hospital_main on the other side of the CTI connection.

Proves that the flows work with the real engine's collect/record semantics: the card number keyed in with #, the
choices, the recordings written by the engine with the purposes the data ops check, and the rows in the
database afterwards (appointment, voicemail, complaint), with the caller's number from the trunk."""
from __future__ import annotations

import datetime
import os
import sys

import numpy as np
import pytest
from twisted.internet import defer
from twisted.logger import globalLogPublisher

_CORE_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core")
if _CORE_TESTS not in sys.path:
    sys.path.insert(0, _CORE_TESTS)

from rig import Rig  # noqa: E402
from test_ivr_over_cti import MemoryEndpoint  # noqa: E402

from ctid.core.engine import Engine  # noqa: E402
from ctid.cti.server import CtiServer  # noqa: E402
from ctid.dataops import register_data_ops  # noqa: E402
from ctid.db import hospital, open_database  # noqa: E402
from ctid.db.demo import DEMO_PASSWORDS, load_demo  # noqa: E402
from ctid.dsp import dtmf as dtmf_mod  # noqa: E402
from ctid.dsp.g711 import alaw_encode  # noqa: E402
from ctid.media.runtime import BoardRuntime  # noqa: E402
from ivrflows import FLOWS  # noqa: E402
from libcti import Client  # noqa: E402
from libcti.ivr import IvrRunner  # noqa: E402

NOW = datetime.datetime(2026, 11, 23, 9, 30)


def tone(seconds, freq=700, amp=6000):
    n = int(seconds * 8000)
    return alaw_encode((np.sin(2 * np.pi * freq * np.arange(n) / 8000) * amp).astype(np.int16))


def keys(digits):
    return alaw_encode(dtmf_mod.generate(digits, on_ms=80, off_ms=80))


class Caller:
    """The far end's caller: at each collect the engine starts, presses the next entry of ``script`` (after
    0.3 s); at each record it speaks 1.5 s and presses #."""

    def __init__(self, rig, eng, script):
        self.rig, self.script, self.cic = rig, list(script), None
        self.pending = []                 # (time, audio)
        self.collects = self.records = 0
        orig_collect, orig_record = eng.collect, eng.record

        def collect(channel, **kw):
            self.collects += 1
            if self.script:
                self.pending.append((rig.clock.seconds() + 0.3, keys(self.script.pop(0))))
            return orig_collect(channel, **kw)

        def record(channel, **kw):
            self.records += 1
            t = rig.clock.seconds() + 1.0                   # after the beep
            self.pending.append((t, tone(1.5)))
            self.pending.append((t + 1.7, keys("#")))
            return orig_record(channel, **kw)
        eng.collect, eng.record = collect, record

    def step(self):
        now = self.rig.clock.seconds()
        due = [p for p in self.pending if p[0] <= now]
        for p in due:
            self.pending.remove(p)
            self.rig.far_ss7.board.say(self.cic, p[1])


@pytest.fixture
def stack(tmp_path):
    failures = []

    def watch(event):
        if "log_failure" in event:
            failures.append(event)
    globalLogPublisher.addObserver(watch)
    rig = Rig(BoardRuntime, tmp=tmp_path)
    recordings = str(tmp_path / "rec")
    eng = Engine.from_config(rig.cfg, {0: rig.board}, {0: rig.rt}, rig.clock,
                             renderer=lambda p: defer.succeed(tone(0.3, 500)),
                             cdr_sink=lambda cdr: defer.succeed(None), recordings_dir=recordings)
    db = open_database(f"sqlite:///{tmp_path}/ctid.db")
    load_demo(db, today=NOW.date())
    sync = lambda fn, *a, **kw: defer.maybeDeferred(fn, *a, **kw)  # noqa: E731 - pumped by the test
    server = CtiServer(eng, db.users, rig.clock, run_blocking=sync)
    register_data_ops(server, db, recordings_dir=recordings, now=lambda: NOW, run_blocking=sync)
    server.attach()
    ep = MemoryEndpoint(server)
    client = Client(ep, user="ivr", password=DEMO_PASSWORDS["ivr"], reactor=rig.clock)
    d = client.connect()
    ep.pump()
    assert d.called and client.connected
    runner = IvrRunner(client, {"114": "hospital_main"}, FLOWS, clock=rig.clock)
    started = defer.ensureDeferred(runner.start())
    ep.pump()
    assert started.called

    def run(seconds, until, caller=None):
        for _ in range(int(seconds / 0.02)):
            rig.step(1)
            if caller is not None:
                caller.step()
            ep.pump()
            if until():
                return True
        return False
    cc = eng.trunks["ss7"].cc
    assert run(30, lambda: eng.trunks["ss7"].up and rig.far_ss7.up and not cc.groups
               and any(x[0] == "group_reset_complete" for x in cc.events)
               and all(c.state == "idle" for c in eng.trunks["ss7"].channels.values()))
    yield type("Stack", (), dict(rig=rig, eng=eng, db=db, runner=runner, run=run, failures=failures,
                                 recordings=recordings))
    server.detach()
    db.close()
    rig.close()
    globalLogPublisher.removeObserver(watch)


def test_caller_keys_a_card_books_leaves_a_voicemail_and_a_complaint(stack):
    eng, far = stack.eng, stack.rig.far_ss7
    cardio = hospital.free_clinics(stack.db, "cardiology", now=NOW)
    script = ["1",                  # menu: appointments
              "2",                  # known by the calling number 13800138000 (张伟), but: another card
              "20240002#",          # the card of 李娜, keyed in with #
              "1", "2",             # cardiology, its second free clinic
              "#",                  # after the confirmation: back to the menu
              "3", "1", "2",        # voicemail: cardiology, the second doctor (王建国)
              "4",                  # complaint (recorded), tracking number read back
              "#"]
    caller = Caller(stack.rig, eng, script)
    call = far.cc.setup("114", calling="13800138000")
    caller.cic = call.cic
    assert stack.run(120, lambda: caller.records == 2 and not caller.pending and caller.collects >= 12, caller), \
        (caller.collects, caller.records, caller.script)
    assert stack.run(10, lambda: bool(hospital.complaints(stack.db)), caller)
    far.cc.release(call)
    assert stack.run(5, lambda: stack.runner.active == 0, caller)
    assert stack.failures == []
    [appt] = hospital.appointments(stack.db)
    assert (appt["card"], appt["clinic"], appt["calling"]) == ("C20240002", cardio[1]["clinic"], "13800138000")
    [vm] = hospital.voicemails(stack.db)
    assert vm["doctor"] == "王建国" and vm["calling"] == "13800138000" and vm["recording"].startswith("voicemail-")
    [comp] = hospital.complaints(stack.db)
    assert comp["recording"].startswith("complaint-") and comp["calling"] == "13800138000"
    for name in (vm["recording"], comp["recording"]):         # the engine's WAVs, with the caller's speech
        assert os.path.getsize(os.path.join(stack.recordings, name)) > 8000
