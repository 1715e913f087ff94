"""Voicemail to a doctor: durable messages, listing by doctor and heard flag, marking heard, bad input."""
from __future__ import annotations

import pytest

from ctid.db import hospital, open_database
from ctid.db.demo import load_demo
from ctid.db.hospital import HospitalError, NotFound
from ctid.db.models import Voicemail


@pytest.fixture
def demo(db, demo_today):
    load_demo(db, today=demo_today)
    return db


def _doctor(db, department, name):
    return next(d for d in hospital.doctors(db, department) if d["name"] == name)["id"]


def test_file_list_and_mark_heard(demo):
    wang = _doctor(demo, "cardiology", "王建国")
    zhang = _doctor(demo, "paediatrics", "张丽")
    a = hospital.file_voicemail(demo, wang, "voicemail-c1-aaaaaaaaaaaa.wav", calling="+86 138 0013 8000", call="c1")
    b = hospital.file_voicemail(demo, zhang, "voicemail-c2-bbbbbbbbbbbb.wav", calling="13912345678")
    assert (a["doctor"], a["department"], a["calling"], a["heard"], a["call"]) == \
        ("王建国", "cardiology", "8613800138000", False, "c1")
    other = open_database(demo.engine.url)                   # committed: another connection sees them
    try:
        assert [v["voicemail"] for v in hospital.voicemails(other)] == [b["voicemail"], a["voicemail"]]
    finally:
        other.close()
    assert [v["recording"] for v in hospital.voicemails(demo, doctor=wang)] == ["voicemail-c1-aaaaaaaaaaaa.wav"]
    heard = hospital.mark_voicemail_heard(demo, a["voicemail"], by="supervisor")
    assert heard["heard"] and heard["heard_by"] == "supervisor" and heard["heard_at"]
    again = hospital.mark_voicemail_heard(demo, a["voicemail"], by="admin")
    assert again["heard_by"] == "supervisor" and again["heard_at"] == heard["heard_at"]
    assert [v["voicemail"] for v in hospital.voicemails(demo, heard=False)] == [b["voicemail"]]
    assert [v["voicemail"] for v in hospital.voicemails(demo, heard=True)] == [a["voicemail"]]


def test_bad_input_is_refused(demo):
    with pytest.raises(NotFound, match="no doctor 999999"):
        hospital.file_voicemail(demo, 999999, "voicemail-1.wav")
    with pytest.raises(HospitalError, match="bad recording reference"):
        hospital.file_voicemail(demo, _doctor(demo, "cardiology", "王建国"), "../x.wav")
    with pytest.raises(NotFound, match="no voicemail 42"):
        hospital.mark_voicemail_heard(demo, 42, by="admin")
    with pytest.raises(HospitalError, match="bad limit"):
        hospital.voicemails(demo, limit=5000)
    with demo.Session() as s:
        assert s.query(Voicemail).count() == 0
