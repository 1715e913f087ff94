"""A whole hospital_main call over the real CTI stack: libcti.Client <-> ctid.cti.CtiServer <-> the Engine test
double of tests/cti (cti_doubles.FakeEngine), connected in memory (twisted iosim) and timed by one task.Clock.

engine: channel.incoming -> server -> libcti event -> IvrRunner -> hospital_main -> libcti requests -> server ->
engine ops (answer, play, collect, hospital data ops, transfer), each checked on the engine's side.
"""
from __future__ import annotations

import datetime
import time

import pytest
from twisted.internet import defer, task
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.logger import globalLogPublisher
from twisted.test import iosim
from zope.interface import implementer

from ivr_engine import ScriptedEngine, demo_users  # noqa: E402

from ctid.cti.errors import OpError  # noqa: E402
from ctid.cti.server import CtiServer  # noqa: E402
from ivrflows import FLOWS  # noqa: E402
from libcti import Client  # noqa: E402
from libcti.ivr import IvrRunner  # noqa: E402

DEPARTMENTS = [{"code": "cardiology", "name": "Cardiology", "name_zh": "心内科",
                "floor": "Outpatient building, 3rd floor", "phone": "6601", "description": ""}]
CLINICS = [{"clinic": 1, "date": "2026-11-23", "session": "am", "doctor": "王建国", "title": "Chief physician",
            "title_zh": "主任医师", "department": "cardiology", "department_zh": "心内科", "slots": 20, "free": 3}]


@implementer(IStreamClientEndpoint)
class MemoryEndpoint:
    """Connects a client factory to the CTI server in memory; pump() moves the bytes both ways."""

    def __init__(self, server):
        self.server = server
        self.pumps = []

    def connect(self, factory):
        cp = factory.buildProtocol(None)
        sp = self.server.buildProtocol(None)
        self.pumps.append(iosim.connect(sp, iosim.makeFakeServer(sp), cp, iosim.makeFakeClient(cp), greet=True))
        return defer.succeed(cp)

    def pump(self, rounds=200):
        for _ in range(rounds):
            if not any([p.pump() for p in self.pumps]):
                return
        raise AssertionError("the connection never went quiet")


@pytest.fixture
def rig():
    failures = []

    def watch(event):
        if "log_failure" in event:
            failures.append(event)
    globalLogPublisher.addObserver(watch)
    clock = task.Clock()
    clock.advance(time.mktime(datetime.datetime(2026, 11, 23, 9, 30).timetuple()))
    engine = ScriptedEngine(clock)
    server = CtiServer(engine, demo_users(), clock, run_blocking=lambda fn, *a, **kw: defer.maybeDeferred(fn, *a, **kw))
    seen_dates = []

    def clinics(ctx, args):
        seen_dates.append(args.get("date"))
        return {"date": args.get("date"), "clinics": CLINICS}

    server.register_op("hospital.departments", lambda ctx, args: {"departments": DEPARTMENTS},
                       roles={"admin", "ivr", "supervisor", "agent"})
    server.register_op("hospital.clinics", clinics, roles={"admin", "ivr", "supervisor", "agent"},
                       args={"date": (str, False)})
    server.attach()
    ep = MemoryEndpoint(server)
    client = Client(ep, user="ivr", password="ivr-pw", reactor=clock)
    d = client.connect()
    ep.pump()
    assert d.called and client.connected, "libcti did not log in"
    runner = IvrRunner(client, {"114": "hospital_main"}, FLOWS, clock=clock)
    started = defer.ensureDeferred(runner.start())
    ep.pump()
    assert started.called
    yield type("Rig", (), dict(clock=clock, engine=engine, server=server, ep=ep, client=client, runner=runner,
                               seen_dates=seen_dates, failures=failures))
    server.detach()
    globalLogPublisher.removeObserver(watch)


def ops(engine, channel):
    return [(name, a, kw) for name, a, kw in engine.calls if a and a[0] == channel]


def test_hospital_call_press_2_then_0_end_to_end(rig):
    rig.engine.keys = ["2", "0"]
    rig.engine.incoming("ss7/1", "a1b2c3d4e5f6", calling="13800138000", called="114")
    rig.ep.pump()
    calls = ops(rig.engine, "ss7/1")
    assert [c[0] for c in calls] == ["answer", "play", "collect", "play", "collect", "play", "transfer"]
    assert calls[1][1][1] == [{"prompt": "welcome"}] and calls[1][2] == {"barge_in": True}
    menu = calls[2][2]["prompts"]
    assert menu[0]["text"].startswith("预约挂号请按1，查询科室和今日出诊医生请按2") and calls[2][2]["max_digits"] == 1
    info = calls[3][1][1]
    assert info == [{"prompt": "info_intro"}, {"prompt": "departments_intro"}, {"text": "心内科，3楼。", "voice": "zh"},
                    {"text": "今天上午出诊：心内科，王建国主任医师。", "voice": "zh"}]
    assert rig.seen_dates == ["2026-11-23"]
    assert calls[-1][2] == {"queue": "frontdesk", "to": None}
    assert rig.runner.metrics["hospital_main"]["completed"] == 1 and rig.runner.active == 0
    assert rig.failures == []


def test_unrouted_number_is_not_touched(rig):
    rig.engine.incoming("ss7/1", "a1b2c3d4e5f0", called="95566")
    rig.ep.pump()
    assert ops(rig.engine, "ss7/1") == [] and rig.runner.totals["unrouted"] == 1


def test_caller_hangs_up_during_the_welcome(rig):
    rig.engine.hold_media = True
    rig.engine.incoming("ss7/2", "0123456789ab", called="114")
    rig.ep.pump()
    assert [c[0] for c in ops(rig.engine, "ss7/2")] == ["answer", "play"]
    assert rig.runner.active == 1
    rig.engine.end("0123456789ab")
    rig.ep.pump()
    assert rig.runner.active == 0
    assert rig.runner.metrics["hospital_main"]["hangup"] == 1
    assert [c[0] for c in ops(rig.engine, "ss7/2")] == ["answer", "play"]      # nothing sent after the hang-up
    assert rig.failures == []


def test_data_op_failure_apology_and_front_desk(rig):
    rig.server.register_op("hospital.departments",
                           lambda ctx, args: (_ for _ in ()).throw(OpError(503, "database unavailable")),
                           roles={"ivr"})
    rig.engine.keys = ["2"]
    rig.engine.incoming("no1/1", "fedcba987654", called="114")
    rig.ep.pump()
    calls = ops(rig.engine, "no1/1")
    assert [c[0] for c in calls] == ["answer", "play", "collect", "play", "transfer"]
    assert calls[3][1][1] == [{"prompt": "apology"}]
    assert calls[4][2]["queue"] == "frontdesk"
    assert rig.runner.metrics["hospital_main"]["failed"] == 1


def test_three_timeouts_goodbye_and_the_engine_clears_the_call(rig):
    rig.engine.keys = ["", "", ""]
    rig.engine.incoming("ss7/1", "aaaaaaaaaaaa", called="114")
    rig.ep.pump()
    calls = ops(rig.engine, "ss7/1")
    assert [c[0] for c in calls][-2:] == ["play", "hangup"]
    assert rig.engine.channels["ss7/1"]["state"] == "idle"
    assert rig.runner.metrics["hospital_main"]["completed"] == 1 and rig.runner.active == 0
