"""The CDR store: validation, queries, the agent report, durability across engines and processes, run() in a thread."""
from __future__ import annotations

import datetime as dt
import json
import queue
import subprocess
import sys
import threading

import pytest

from ctid.db import CdrError, open_database

T0 = 1_790_000_000.0


def cdr(call="0123456789ab", start=T0, answer=T0 + 5, end=T0 + 65, **kw):
    d = {"call_id": call, "trunk": "ss7", "channel": "ss7/5", "calling": "13800138000", "called": "114",
         "start": start, "answer": answer, "end": end, "cause": 16}
    d.update(kw)
    return d


def test_write_and_read_back(db):
    rid = db.cdrs.write(cdr(queue="frontdesk", agent="1001", recording="/r/x.wav"))
    [row] = db.cdrs.by_call("0123456789ab")
    assert row["id"] == rid
    assert row["start"] == T0 and row["answer"] == T0 + 5 and row["end"] == T0 + 65
    assert row["duration"] == 65 and row["billsec"] == 60
    assert row["disposition"] == "answered" and row["direction"] == "in" and row["cause"] == 16
    assert (row["queue"], row["agent"], row["recording"]) == ("frontdesk", "1001", "/r/x.wav")
    assert (row["trunk"], row["channel"], row["calling"], row["called"]) == ("ss7", "ss7/5", "13800138000", "114")


def test_unanswered_and_datetimes(db):
    start = dt.datetime(2026, 5, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    db.cdrs.write({"call": "aaaaaaaaaaaa", "start": start, "end": start + dt.timedelta(seconds=20), "cause": 17,
                   "direction": "out"})
    [row] = db.cdrs.by_call("aaaaaaaaaaaa")
    assert row["start"] == start.timestamp() and row["billsec"] == 0 and row["disposition"] == "no_answer"
    assert row["cause"] == 17 and row["direction"] == "out"


@pytest.mark.parametrize("bad,needle", [
    ({"call_id": ""}, "call_id"),
    ({"start": None}, "'start' is required"),
    ({"end": T0 - 1}, "before start"),
    ({"answer": T0 + 100}, "outside start..end"),
    ({"cause": 300}, "Q.850"),
    ({"direction": "sideways"}, "direction"),
    ({"disposition": "maybe"}, "disposition"),
    ({"colour": "red"}, "unknown CDR field(s): colour"),
    ({"calling": 13800138000}, "'calling'"),
    ({"start": "yesterday"}, "'start'"),
])
def test_bad_cdrs_are_refused_clearly(db, bad, needle):
    with pytest.raises(CdrError) as ei:
        db.cdrs.write(cdr(**bad))
    assert needle in str(ei.value)
    assert db.cdrs.count() == 0


def test_recent_between_and_agent_report(db):
    for i in range(5):
        db.cdrs.write(cdr(call=f"call{i:08d}", start=T0 + 100 * i, answer=T0 + 100 * i + 10,
                          end=T0 + 100 * i + 10 + 30 * (i + 1), agent="1001" if i % 2 == 0 else "1002",
                          wrapup=5.0))
    db.cdrs.write(cdr(call="abandoned001", start=T0 + 50, answer=None, end=T0 + 70, queue="frontdesk",
                      disposition="abandoned"))
    assert [r["call_id"] for r in db.cdrs.recent(3)] == ["call00000004", "call00000003", "call00000002"]
    assert [r["call_id"] for r in db.cdrs.between(T0 + 50, T0 + 300)] == ["abandoned001", "call00000001",
                                                                          "call00000002"]
    rep = db.cdrs.agent_report(T0, T0 + 1000)
    # 1001: calls 0, 2, 4 with 30, 90, 150 s talk; 1002: calls 1, 3 with 60, 120 s; 5 s wrap-up each
    assert rep == [
        {"agent": "1001", "calls": 3, "talk_seconds": 270.0, "average_handle_seconds": 95.0},
        {"agent": "1002", "calls": 2, "talk_seconds": 180.0, "average_handle_seconds": 95.0},
    ]
    assert db.cdrs.agent_report(T0 + 250, T0 + 1000) == [
        {"agent": "1001", "calls": 1, "talk_seconds": 150.0, "average_handle_seconds": 155.0},
        {"agent": "1002", "calls": 1, "talk_seconds": 120.0, "average_handle_seconds": 125.0},
    ]


def test_written_cdr_survives_engine_close_and_is_seen_by_another_process(db_url):
    db = open_database(db_url)
    db.cdrs.write(cdr(call="durable00001"))
    db.close()
    # a second engine in this process
    db2 = open_database(db_url, create=False)
    assert [r["call_id"] for r in db2.cdrs.by_call("durable00001")] == ["durable00001"]
    db2.close()
    # and a new process
    prog = ("import json, sys; from ctid.db import open_database; db = open_database(sys.argv[1], create=False); "
            "print(json.dumps(db.cdrs.by_call('durable00001')))")
    out = subprocess.run([sys.executable, "-c", prog, db_url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    [row] = json.loads(out.stdout)
    assert row["billsec"] == 60 and row["calling"] == "13800138000"


def test_write_is_durable_when_the_writer_dies_right_after(db_url):
    """A child writes a CDR and is killed by os._exit right after write() returns: the CDR is there."""
    prog = ("import os, sys; from ctid.db import open_database; db = open_database(sys.argv[1]); "
            "db.cdrs.write({'call_id': 'killed000001', 'start': 1.0e9, 'end': 1.0e9 + 3}); os._exit(9)")
    out = subprocess.run([sys.executable, "-c", prog, db_url], capture_output=True, text=True, timeout=60)
    assert out.returncode == 9, out.stderr
    db = open_database(db_url, create=False)
    try:
        assert len(db.cdrs.by_call("killed000001")) == 1
    finally:
        db.close()


class ThreadReactor:
    """Test double for the reactor side of deferToThreadPool: callFromThread queues; the test pumps."""

    def __init__(self):
        self.calls: queue.Queue = queue.Queue()
        self.triggers: dict = {}

    def callFromThread(self, f, *a, **kw):
        self.calls.put((f, a, kw))

    def pump_one(self, timeout=30):
        f, a, kw = self.calls.get(timeout=timeout)
        f(*a, **kw)

    def addSystemEventTrigger(self, phase, event, f, *a, **kw):
        tid = len(self.triggers) + 1
        self.triggers[tid] = (phase, event, f)
        return tid

    def removeSystemEventTrigger(self, tid):
        del self.triggers[tid]


def test_run_writes_in_a_thread_and_fires_a_deferred(db_url):
    from twisted.python.threadpool import ThreadPool

    reactor = ThreadReactor()
    pool = ThreadPool(1, 1, name="test-db")
    pool.start()
    db = open_database(db_url, reactor=reactor, threadpool=pool)
    try:
        seen = {}

        def write(c):
            seen["thread"] = threading.current_thread()
            return db.cdrs.write(c)

        results = []
        db.run(write, cdr(call="threaded0001")).addCallbacks(results.append, results.append)
        reactor.pump_one()
        assert isinstance(results[0], int) and seen["thread"] is not threading.main_thread()
        failures = []
        db.run(db.cdrs.write, {"call_id": "x"}).addErrback(failures.append)
        reactor.pump_one()
        assert failures and failures[0].check(CdrError)
        assert "'start' is required" in str(failures[0].value)
    finally:
        pool.stop()
        db.close()


def test_run_on_the_databases_own_thread_pool(tmp_path):
    reactor = ThreadReactor()
    db = open_database(f"sqlite:///{tmp_path}/own.db", reactor=reactor)
    got = []
    db.run(db.cdrs.write, cdr(call="ownpool00001")).addBoth(got.append)
    reactor.pump_one()
    assert isinstance(got[0], int)
    [(phase, event, stop)] = reactor.triggers.values()
    assert (phase, event) == ("during", "shutdown")  # the pool is stopped when the reactor shuts down
    db.close()  # ... or when the database is closed, once
    assert reactor.triggers == {}
    assert len(db.cdrs.by_call("ownpool00001")) == 1
