"""Hospital data queries for the IVR and the agents' screen pop. All return plain JSON-able dicts.

Blocking functions taking the :class:`~ctid.db.Database`; from the reactor thread call them through
``db.run(hospital.departments, db)``.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from .models import Clinic, Department, Doctor, Patient, PatientPhone

MIN_SUFFIX = 7  # digits a stored number and a calling number must share at the end to match


class HospitalError(ValueError):
    """A bad hospital query (bad date, unknown clinic, no free slot); the message says which."""


def digits(number: str) -> str:
    return re.sub(r"\D", "", number or "")


def _dept(d: Department) -> dict[str, Any]:
    return {"code": d.code, "name": d.name, "name_zh": d.name_zh, "floor": d.floor, "phone": d.phone,
            "description": d.description}


def departments(db) -> list[dict[str, Any]]:
    """All departments in menu order: code, name (English), name_zh, floor, phone, description."""
    with db.Session() as s:
        return [_dept(d) for d in s.scalars(select(Department).order_by(Department.position, Department.code))]


def doctors(db, department: str | None = None) -> list[dict[str, Any]]:
    """Doctors (of one department code, or all): name, department, title, title_zh, specialty, schedule."""
    q = select(Doctor).join(Doctor.department).options(selectinload(Doctor.department))
    if department is not None:
        q = q.where(Department.code == department)
    with db.Session() as s:
        return [
            {"name": d.name, "department": d.department.code, "department_zh": d.department.name_zh,
             "title": d.title, "title_zh": d.title_zh, "specialty": d.specialty, "schedule": d.schedule}
            for d in s.scalars(q.order_by(Department.position, Doctor.name))
        ]


def _date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise HospitalError(f"bad date {value!r}: use YYYY-MM-DD")


def clinics_on(db, date, department: str | None = None) -> list[dict[str, Any]]:
    """The clinics on ``date`` (a date or 'YYYY-MM-DD'): department order, then session (am, pm), then doctor."""
    day = _date(date)
    q = (select(Clinic).join(Clinic.doctor).join(Doctor.department)
         .options(selectinload(Clinic.doctor).selectinload(Doctor.department))
         .where(Clinic.date == day))
    if department is not None:
        q = q.where(Department.code == department)
    q = q.order_by(Department.position, Clinic.session, Doctor.name)
    with db.Session() as s:
        return [
            {"clinic": c.id, "date": c.date.isoformat(), "session": c.session, "doctor": c.doctor.name,
             "title": c.doctor.title, "title_zh": c.doctor.title_zh, "department": c.doctor.department.code,
             "department_name": c.doctor.department.name, "department_zh": c.doctor.department.name_zh,
             "slots": c.slots, "free": c.free, "fee": c.fee_fen / 100}
            for c in s.scalars(q)
        ]


def reserve_slot(db, clinic: int) -> int:
    """Take one free slot of a clinic atomically; returns the slots still free. No free slot: HospitalError."""
    with db.session() as s:
        res = s.execute(update(Clinic).where(Clinic.id == clinic, Clinic.booked < Clinic.slots)
                        .values(booked=Clinic.booked + 1))
        c = s.get(Clinic, clinic)
        if c is None:
            raise HospitalError(f"no such clinic {clinic!r}")
        if res.rowcount != 1:
            raise HospitalError(f"clinic {clinic} ({c.date.isoformat()} {c.session}) has no free slot")
        return c.slots - c.booked


def _patient(p: Patient) -> dict[str, Any]:
    return {"name": p.name, "card_number": p.card_number, "balance": float(p.balance),
            "record_summary": p.record_summary, "phones": sorted(ph.number for ph in p.phones)}


def patient_by_number(db, number: str) -> dict[str, Any] | None:
    """The patient whose phone number matches the calling number ``number``, or None.

    Digits only are compared; an exact match wins, otherwise the numbers match when one ends with the other and
    they share at least 7 digits (a calling number with or without trunk prefix or area code). Several patients
    matching only by suffix are ambiguous: None.
    """
    n = digits(number)
    if len(n) < MIN_SUFFIX:
        return None
    with db.Session() as s:
        exact = s.scalars(select(PatientPhone).options(selectinload(PatientPhone.patient))
                          .where(PatientPhone.number == n)).all()
        if exact:
            return _patient(exact[0].patient)
        tail = n[-MIN_SUFFIX:]
        cands = s.scalars(select(PatientPhone).options(selectinload(PatientPhone.patient))
                          .where(PatientPhone.number.like(f"%{tail}"))).all()
        found = {ph.patient_id: ph.patient for ph in cands if n.endswith(ph.number) or ph.number.endswith(n)}
        if len(found) != 1:
            return None
        return _patient(next(iter(found.values())))


def patient_by_card(db, card_number: str) -> dict[str, Any] | None:
    with db.Session() as s:
        p = s.scalar(select(Patient).where(Patient.card_number == card_number))
        return None if p is None else _patient(p)
