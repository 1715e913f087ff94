"""Appointments: free clinics, booking with a confirmation number, no overbooking under concurrency, bad input."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, update

from ctid.db import hospital, open_database
from ctid.db.demo import load_demo
from ctid.db.hospital import Conflict, HospitalError, NotFound
from ctid.db.models import Appointment, Clinic

DAY = dt.date(2026, 11, 23)
MORNING = dt.datetime(2026, 11, 23, 9, 30)


@pytest.fixture
def demo(db):
    load_demo(db, today=DAY)
    return db


def _clinic(db, clinic_id):
    with db.Session() as s:
        c = s.get(Clinic, clinic_id)
        return c.slots, c.booked


def test_free_clinics_are_the_next_with_free_slots_not_over(demo):
    got = hospital.free_clinics(demo, "cardiology", now=MORNING)
    assert got and all(c["department"] == "cardiology" and c["free"] > 0 for c in got)
    assert [(c["date"], c["session"]) for c in got] == sorted((c["date"], c["session"]) for c in got)
    assert {c["date"] for c in got} <= {"2026-11-23", "2026-11-24"}
    # a full clinic is not offered
    first = got[0]["clinic"]
    with demo.session() as s:
        s.execute(update(Clinic).where(Clinic.id == first).values(booked=Clinic.slots))
    assert first not in [c["clinic"] for c in hospital.free_clinics(demo, "cardiology", now=MORNING)]
    # in the evening today's clinics are over
    evening = hospital.free_clinics(demo, "cardiology", now=dt.datetime(2026, 11, 23, 18, 0))
    assert evening and all(c["date"] == "2026-11-24" for c in evening)
    assert len(hospital.free_clinics(demo, "cardiology", now=MORNING, limit=1)) == 1
    with pytest.raises(NotFound, match="no department 'nowhere'"):
        hospital.free_clinics(demo, "nowhere", now=MORNING)
    with pytest.raises(HospitalError, match="bad limit"):
        hospital.free_clinics(demo, "cardiology", limit=0)


def test_book_takes_a_slot_and_stores_a_confirmed_appointment(demo):
    clinic = hospital.free_clinics(demo, "paediatrics", now=MORNING)[0]
    before = _clinic(demo, clinic["clinic"])
    a = hospital.book_appointment(demo, clinic["clinic"], "C20240003", calling="13700001111", now=MORNING)
    assert a["confirmation"] == "261123001" and a["card"] == "C20240003" and a["doctor"] == clinic["doctor"]
    assert a["date"] == clinic["date"] and a["session"] == clinic["session"] and a["department_zh"] == "儿科"
    assert _clinic(demo, clinic["clinic"]) == (before[0], before[1] + 1)
    b = hospital.book_appointment(demo, clinic["clinic"], "C20240001", now=MORNING)
    assert b["confirmation"] == "261123002"
    # committed: another connection sees both
    other = open_database(demo.engine.url)
    try:
        got = hospital.appointments(other, card="C20240003")
        assert [x["confirmation"] for x in got] == ["261123001"]
        assert len(hospital.appointments(other, date=clinic["date"])) == 2
    finally:
        other.close()


def test_bad_bookings_are_refused_and_change_nothing(demo):
    clinic = hospital.free_clinics(demo, "cardiology", now=MORNING)[0]["clinic"]
    before = _clinic(demo, clinic)
    with pytest.raises(NotFound, match="no patient with card 'C99999999'"):
        hospital.book_appointment(demo, clinic, "C99999999", now=MORNING)
    with pytest.raises(NotFound, match="no such clinic 999999"):
        hospital.book_appointment(demo, 999999, "C20240001", now=MORNING)
    with pytest.raises(Conflict, match="is over"):
        hospital.book_appointment(demo, clinic, "C20240001", now=dt.datetime(2026, 11, 25, 8, 0))
    assert _clinic(demo, clinic) == before                          # the slot taken first was given back
    hospital.book_appointment(demo, clinic, "C20240001", now=MORNING)
    with pytest.raises(Conflict, match="already has an appointment"):
        hospital.book_appointment(demo, clinic, "C20240001", now=MORNING)
    assert _clinic(demo, clinic) == (before[0], before[1] + 1)
    with demo.Session() as s:
        assert s.scalar(select(Appointment).where(Appointment.clinic_id == clinic)).patient.card_number == \
            "C20240001"


def test_two_bookings_for_the_last_slot_one_wins(demo):
    clinic = hospital.free_clinics(demo, "orthopaedics", now=MORNING)[0]["clinic"]
    with demo.session() as s:
        s.execute(update(Clinic).where(Clinic.id == clinic).values(booked=Clinic.slots - 1))
    results, start = {}, threading.Barrier(2)

    def book(card):
        start.wait()
        try:
            results[card] = hospital.book_appointment(demo, clinic, card, now=MORNING)["confirmation"]
        except HospitalError as e:
            results[card] = e
    threads = [threading.Thread(target=book, args=(card,)) for card in ("C20240001", "C20240002")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [v for v in results.values() if isinstance(v, str)]
    lost = [v for v in results.values() if not isinstance(v, str)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], Conflict) and "no free slot" in str(lost[0])
    slots, booked = _clinic(demo, clinic)
    assert booked == slots
    assert len(hospital.appointments(demo, date=DAY.isoformat())) + \
        len(hospital.appointments(demo, date=(DAY + dt.timedelta(days=1)).isoformat())) == 1


def test_reserve_slot_still_refuses_a_full_clinic(demo):
    clinic = hospital.free_clinics(demo, "dermatology", now=MORNING)[0]
    for _ in range(clinic["free"]):
        hospital.reserve_slot(demo, clinic["clinic"])
    with pytest.raises(Conflict, match="no free slot"):
        hospital.reserve_slot(demo, clinic["clinic"])


def test_card_by_digits(demo):
    assert hospital.card_by_digits(demo, "20240002") == "C20240002"
    assert hospital.card_by_digits(demo, "C20240002") is None          # keys: digits only
    assert hospital.card_by_digits(demo, "0002") is None               # the whole number, not a suffix
    assert hospital.card_by_digits(demo, "99999999") is None
    assert hospital.card_by_digits(demo, "") is None
