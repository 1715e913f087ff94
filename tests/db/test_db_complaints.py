"""Complaints with tracking numbers: durable rows, daily sequence numbers unique under concurrency, close."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from ctid.db import hospital, open_database
from ctid.db.hospital import Conflict, HospitalError, NotFound
from ctid.db.models import Complaint


def test_file_gives_daily_tracking_numbers_and_is_committed(demo_db, demo_today):
    day = dt.date(2031, 5, 6)      # a day of its own: the module's demo database is shared
    a = hospital.file_complaint(demo_db, "complaint-abc-0123456789ab.wav", calling="+86 138-0013-8000",
                                call="c1", today=day)
    b = hospital.file_complaint(demo_db, "complaint-abd-0123456789ac.wav", calling="13912345678",
                                department="cardiology", today=day)
    assert (a["tracking"], b["tracking"]) == ("310506001", "310506002")
    assert a["calling"] == "8613800138000" and a["status"] == "open" and a["department"] is None
    assert b["department"] == "cardiology" and a["call"] == "c1"
    # another day starts again at 001
    c = hospital.file_complaint(demo_db, "complaint-x-1.wav", today=day + dt.timedelta(days=1))
    assert c["tracking"] == "310507001"
    # committed: a new connection sees them
    other = open_database(demo_db.engine.url)
    try:
        assert hospital.complaint(other, "310506002")["recording"] == "complaint-abd-0123456789ac.wav"
    finally:
        other.close()


def test_bad_input_is_refused_with_the_reason(db):
    with pytest.raises(NotFound, match="no department 'nowhere'"):
        hospital.file_complaint(db, "complaint-1.wav", department="nowhere")
    for bad in ("../etc/passwd", "", ".hidden.wav", "a/b.wav"):
        with pytest.raises(HospitalError, match="bad recording reference"):
            hospital.file_complaint(db, bad)
    with pytest.raises(HospitalError, match="bad status"):
        hospital.complaints(db, status="pending")
    with pytest.raises(HospitalError, match="bad limit"):
        hospital.complaints(db, limit=0)
    with pytest.raises(NotFound, match="no complaint with tracking number '1'"):
        hospital.close_complaint(db, "1", by="sup")
    with db.Session() as s:
        assert s.query(Complaint).count() == 0


def test_list_and_close(db):
    day = dt.date(2026, 11, 23)
    filed = [hospital.file_complaint(db, f"complaint-{i}.wav", calling=f"1380013800{i}", today=day)
             for i in range(3)]
    assert [c["tracking"] for c in hospital.complaints(db)] == ["261123003", "261123002", "261123001"]
    closed = hospital.close_complaint(db, filed[1]["tracking"], by="supervisor", note="called back")
    assert closed["status"] == "closed" and closed["closed_by"] == "supervisor" and closed["note"] == "called back"
    assert closed["closed"] is not None
    with pytest.raises(Conflict, match="already closed by supervisor"):
        hospital.close_complaint(db, filed[1]["tracking"], by="admin")
    assert [c["tracking"] for c in hospital.complaints(db, status="open")] == ["261123003", "261123001"]
    assert [c["tracking"] for c in hospital.complaints(db, status="closed")] == ["261123002"]
    assert len(hospital.complaints(db, limit=2)) == 2


def test_concurrent_filers_get_distinct_numbers(db):
    day = dt.date(2026, 11, 24)
    got, errors = [], []
    start = threading.Barrier(4)

    def filer(i):
        start.wait()
        try:
            for j in range(3):
                got.append(hospital.file_complaint(db, f"complaint-{i}-{j}.wav", today=day)["tracking"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=filer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got) == [f"261124{n:03d}" for n in range(1, 13)]
