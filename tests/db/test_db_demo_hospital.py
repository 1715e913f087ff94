"""Demo data (idempotent, documented users) and the hospital queries."""
from __future__ import annotations

import datetime as dt

import pytest

from ctid.db import hospital
from ctid.db.demo import DEMO_PASSWORDS, DEPARTMENTS, DOCTORS, load_demo

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(autouse=True)
def _same_day(demo_today):
    assert demo_today == TODAY


@pytest.fixture
def demo(demo_db):
    return demo_db


def test_demo_is_idempotent(db):
    first = load_demo(db, today=TODAY)
    assert first["departments"] == len(DEPARTMENTS) >= 8 and first["doctors"] == len(DOCTORS)
    assert first["users"] == len(DEMO_PASSWORDS) and first["patients"] >= 3 and first["clinics"] > 0
    before = (hospital.departments(db), hospital.clinics_on(db, TODAY), db.users.list_users())
    assert load_demo(db, today=TODAY) == {k: 0 for k in first}
    assert (hospital.departments(db), hospital.clinics_on(db, TODAY), db.users.list_users()) == before
    # a later day adds that day's clinics only
    later = load_demo(db, today=TODAY + dt.timedelta(days=1))
    assert later["departments"] == later["doctors"] == later["users"] == 0 and later["clinics"] > 0


def test_demo_users_log_in_with_documented_passwords(demo):
    assert DEMO_PASSWORDS["admin"] == "admin-demo" and DEMO_PASSWORDS["ivr"] == "ivr-demo"
    for name in ("admin", "ivr", "supervisor", "1001", "1002"):
        p = demo.users.authenticate(name, DEMO_PASSWORDS[name])
        assert p is not None and p.user == name
    assert demo.users.authenticate("1001", DEMO_PASSWORDS["1002"]) is None
    assert demo.users.authenticate("admin", "admin-demo").roles == frozenset({"admin"})
    assert demo.users.authenticate("1001", "1001-demo").agent == "1001"
    assert demo.users.authenticate("supervisor", DEMO_PASSWORDS["supervisor"]).agent is None
    assert "frontdesk" in demo.users.get("1002")["queues"]


def test_departments(demo):
    deps = hospital.departments(demo)
    zh = [d["name_zh"] for d in deps]
    for name in ("心内科", "儿科", "妇产科", "骨科", "眼科", "口腔科", "皮肤科", "急诊科"):
        assert name in zh
    assert zh[0] == "心内科"  # menu order
    card = next(d for d in deps if d["code"] == "cardiology")
    assert card["name"] == "Cardiology" and card["floor"] and card["phone"]


def test_clinics_today(demo):
    clinics = hospital.clinics_on(demo, TODAY)
    assert clinics == hospital.clinics_on(demo, TODAY.isoformat())
    assert {c["date"] for c in clinics} == {TODAY.isoformat()}
    assert {c["department_zh"] for c in clinics} >= {"心内科", "儿科", "急诊科"}
    assert all(0 <= c["free"] <= c["slots"] and c["session"] in ("am", "pm") for c in clinics)
    cardio = hospital.clinics_on(demo, TODAY, department="cardiology")
    assert cardio and {c["doctor"] for c in cardio} <= {"王建国", "李秀英"}
    assert hospital.clinics_on(demo, TODAY - dt.timedelta(days=30)) == []
    with pytest.raises(hospital.HospitalError, match="bad date 'tomorrow'"):
        hospital.clinics_on(demo, "tomorrow")


def test_doctors(demo):
    docs = hospital.doctors(demo, "paediatrics")
    assert {d["name"] for d in docs} == {"张丽", "刘洋"}
    assert all(d["department_zh"] == "儿科" for d in docs)
    assert len(hospital.doctors(demo)) == len(DOCTORS)


def test_reserve_slot_until_full(demo):
    c = hospital.clinics_on(demo, TODAY, department="dermatology")[0]  # no other test counts these slots
    free = c["free"]
    for k in range(free):
        assert hospital.reserve_slot(demo, c["clinic"]) == free - k - 1
    with pytest.raises(hospital.HospitalError, match="has no free slot"):
        hospital.reserve_slot(demo, c["clinic"])
    assert next(x for x in hospital.clinics_on(demo, TODAY) if x["clinic"] == c["clinic"])["free"] == 0
    with pytest.raises(hospital.HospitalError, match="no such clinic"):
        hospital.reserve_slot(demo, 999999)


def test_patient_by_number(demo):
    p = hospital.patient_by_number(demo, "13800138000")
    assert p["name"] == "张伟" and p["card_number"] == "C20240001" and p["balance"] == 350.0
    assert "高血压" in p["record_summary"]
    assert hospital.patient_by_number(demo, "+86 138-0013-8000")["name"] == "张伟"   # country code
    assert hospital.patient_by_number(demo, "62345678")["name"] == "张伟"            # local number, no area code
    assert hospital.patient_by_number(demo, "13999999999") is None
    assert hospital.patient_by_number(demo, "8000") is None                          # too short to match
    assert hospital.patient_by_number(demo, "") is None
    assert hospital.patient_by_card(demo, "C20240004")["name"] == "刘强"
