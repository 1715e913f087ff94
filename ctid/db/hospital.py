"""Hospital data queries for the IVR and the agents' screen pop. All return plain JSON-able dicts.

Blocking functions taking the :class:`~ctid.db.Database`; from the reactor thread call them through
``db.run(hospital.departments, db)``.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from typing import Any

from sqlalchemy import exc, select, update
from sqlalchemy.orm import selectinload

from .models import Appointment, Clinic, Complaint, Department, Doctor, Patient, PatientPhone, Voicemail, utcnow

MIN_SUFFIX = 7  # digits a stored number and a calling number must share at the end to match


class HospitalError(ValueError):
    """A bad hospital query (bad date, unknown clinic, no free slot); the message says which."""


class NotFound(HospitalError):
    """The thing named (complaint, clinic, patient, doctor, department) does not exist."""


class Conflict(HospitalError):
    """The request cannot be done in the current state (slot taken, complaint already closed)."""


NUMBER_TRIES = 8  # attempts to take a daily number when concurrent writers took the same one


def digits(number: str) -> str:
    return re.sub(r"\D", "", number or "")


def _dept(d: Department) -> dict[str, Any]:
    return {"code": d.code, "name": d.name, "name_zh": d.name_zh, "floor": d.floor, "phone": d.phone,
            "description": d.description}


def departments(db) -> list[dict[str, Any]]:
    """All departments in menu order: code, name (English), name_zh, floor, phone, description."""
    with db.Session() as s:
        return [_dept(d) for d in s.scalars(select(Department).order_by(Department.position, Department.code))]


def department(db, code: str) -> dict[str, Any]:
    """One department by code; NotFound when there is none."""
    with db.Session() as s:
        d = s.scalar(select(Department).where(Department.code == code))
        if d is None:
            raise NotFound(f"no department {code!r}")
        return _dept(d)


def doctors(db, department: str | None = None) -> list[dict[str, Any]]:
    """Doctors (of one department code, or all): name, department, title, title_zh, specialty, schedule."""
    q = select(Doctor).join(Doctor.department).options(selectinload(Doctor.department))
    if department is not None:
        q = q.where(Department.code == department)
    with db.Session() as s:
        return [
            {"id": d.id, "name": d.name, "department": d.department.code, "department_zh": d.department.name_zh,
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


def _take_slot(s, clinic: int) -> Clinic:
    """In session ``s``: take one free slot of ``clinic`` with one ``UPDATE ... WHERE booked < slots`` (atomic:
    two takers of the last slot cannot both succeed). Unknown: NotFound; full: Conflict."""
    res = s.execute(update(Clinic).where(Clinic.id == clinic, Clinic.booked < Clinic.slots)
                    .values(booked=Clinic.booked + 1))
    c = s.get(Clinic, clinic, populate_existing=True)
    if c is None:
        raise NotFound(f"no such clinic {clinic!r}")
    if res.rowcount != 1:
        raise Conflict(f"clinic {clinic} ({c.date.isoformat()} {c.session}) has no free slot")
    return c


def reserve_slot(db, clinic: int) -> int:
    """Take one free slot of a clinic atomically; returns the slots still free. No free slot: HospitalError."""
    with db.session() as s:
        c = _take_slot(s, clinic)
        return c.slots - c.booked


# when a session's clinic is over (local time): it is no longer offered or booked on its day after this
SESSION_ENDS = {"am": dt.time(12, 0), "pm": dt.time(17, 30)}


def _over(c: Clinic, now: dt.datetime) -> bool:
    return c.date < now.date() or (c.date == now.date() and now.time() >= SESSION_ENDS[c.session])


def _clinic(c: Clinic) -> dict[str, Any]:
    return {"clinic": c.id, "date": c.date.isoformat(), "session": c.session, "doctor": c.doctor.name,
            "title": c.doctor.title, "title_zh": c.doctor.title_zh, "department": c.doctor.department.code,
            "department_name": c.doctor.department.name, "department_zh": c.doctor.department.name_zh,
            "slots": c.slots, "free": c.free, "fee": c.fee_fen / 100}


def free_clinics(db, department: str, now: dt.datetime | None = None, limit: int = 5) -> list[dict[str, Any]]:
    """The next clinics of ``department`` (code) with a free slot that are not over at ``now`` (local time;
    default now): by date, session, doctor. Unknown department: NotFound."""
    now = now or dt.datetime.now()
    if not isinstance(limit, int) or not 1 <= limit <= 50:
        raise HospitalError(f"bad limit {limit!r}: 1..50")
    with db.Session() as s:
        _department_id(s, department)
        q = (select(Clinic).join(Clinic.doctor).join(Doctor.department)
             .options(selectinload(Clinic.doctor).selectinload(Doctor.department))
             .where(Department.code == department, Clinic.date >= now.date(), Clinic.booked < Clinic.slots)
             .order_by(Clinic.date, Clinic.session, Doctor.name))
        out = []
        for c in s.scalars(q):
            if not _over(c, now):
                out.append(_clinic(c))
                if len(out) == limit:
                    break
        return out


def _appointment(a: Appointment) -> dict[str, Any]:
    c = a.clinic
    return {"confirmation": a.confirmation, "card": a.patient.card_number, "calling": a.calling,
            "booked": a.booked.isoformat(timespec="seconds") + "Z", "source": a.source, **_clinic(c)}


def book_appointment(db, clinic: int, card: str, *, calling: str = "", source: str = "ivr",
                     now: dt.datetime | None = None) -> dict[str, Any]:
    """Book one slot of ``clinic`` for the patient with card ``card``: the slot taken and the appointment row
    (with a confirmation number of today, like the tracking numbers) in one transaction, committed before this
    returns. Unknown clinic or card: NotFound; clinic full, over, or already booked by the patient: Conflict."""
    now = now or dt.datetime.now()

    def write(s):
        c = _take_slot(s, clinic)                 # first: on SQLite this takes the write lock
        if _over(c, now):
            raise Conflict(f"clinic {clinic} ({c.date.isoformat()} {c.session}) is over")
        p = s.scalar(select(Patient).where(Patient.card_number == card))
        if p is None:
            raise NotFound(f"no patient with card {card!r}")
        if s.scalar(select(Appointment.id).where(Appointment.patient_id == p.id, Appointment.clinic_id == c.id)):
            raise Conflict(f"card {card} already has an appointment at clinic {clinic}")
        a = Appointment(confirmation=_daily_number(s, Appointment.confirmation, now.date()), patient=p, clinic=c,
                        calling=digits(calling)[:64], booked=utcnow(), source=source)
        s.add(a)
        s.flush()
        s.refresh(c, ["doctor"])
        return _appointment(a)
    return _with_number(db, write)


def appointments(db, date=None, card: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Appointments (of clinics on ``date`` and/or of the patient with card ``card``), by clinic date, session,
    then booking time."""
    q = (select(Appointment).join(Appointment.clinic).join(Appointment.patient)
         .options(selectinload(Appointment.patient),
                  selectinload(Appointment.clinic).selectinload(Clinic.doctor).selectinload(Doctor.department)))
    if date is not None:
        q = q.where(Clinic.date == _date(date))
    if card is not None:
        q = q.where(Patient.card_number == card)
    with db.Session() as s:
        return [_appointment(a) for a in s.scalars(q.order_by(Clinic.date, Clinic.session, Appointment.id)
                                                   .limit(limit))]


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


def card_by_digits(db, entered: str) -> str | None:
    """The card number of the patient whose card number's digits are ``entered`` (what a caller keys in:
    ``20240001`` for card ``C20240001``), or None (also when several cards would match)."""
    n = digits(entered)
    if not n or n != entered:
        return None
    with db.Session() as s:
        cards = [c for c in s.scalars(select(Patient.card_number).where(Patient.card_number.like(f"%{n}")))
                 if digits(c) == n]
    return cards[0] if len(cards) == 1 else None


def patient_by_card(db, card_number: str) -> dict[str, Any] | None:
    with db.Session() as s:
        p = s.scalar(select(Patient).where(Patient.card_number == card_number))
        return None if p is None else _patient(p)


# --- numbers read back by phone -------------------------------------------------------------------------------
def _daily_number(s, column, day: dt.date) -> str:
    """The next free number of ``day``: ``YYMMDD`` + a daily sequence of at least 3 digits (``261123007``)."""
    prefix = day.strftime("%y%m%d")
    taken = s.scalars(select(column).where(column.like(prefix + "%"))).all()
    seq = max((int(t[6:]) for t in taken if t[6:].isdigit()), default=0) + 1
    return f"{prefix}{seq:03d}"


def _with_number(db, write):
    """Run ``write(session)`` in a transaction, again when a concurrent writer took the same daily number (unique
    violation) or held the SQLite write lock; the transaction is committed before this returns."""
    last = None
    for attempt in range(NUMBER_TRIES):
        if attempt:
            time.sleep(0.005 * attempt)     # a database thread, never the reactor's: let the other writer finish
        try:
            with db.session() as s:
                return write(s)
        except (exc.IntegrityError, exc.OperationalError) as e:   # unique number taken / SQLite busy: again
            last = e
    raise HospitalError(f"could not take a number after {NUMBER_TRIES} tries: {last.orig if last else ''}")


def _department_id(s, code: str | None) -> int | None:
    if code in (None, ""):
        return None
    dep = s.scalar(select(Department).where(Department.code == code))
    if dep is None:
        raise NotFound(f"no department {code!r}")
    return dep.id


_RECORDING = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")


def _recording_name(recording: str) -> str:
    if not isinstance(recording, str) or not _RECORDING.match(recording) or recording.startswith("."):
        raise HospitalError(f"bad recording reference {recording!r}: a file name in the recordings directory")
    return recording


# --- complaints ----------------------------------------------------------------------------------------------
def _complaint(c: Complaint) -> dict[str, Any]:
    return {"tracking": c.tracking, "calling": c.calling, "call": c.call_id, "recording": c.recording,
            "filed": c.filed.isoformat(timespec="seconds") + "Z", "status": c.status,
            "department": c.department.code if c.department is not None else None,
            "closed": c.closed.isoformat(timespec="seconds") + "Z" if c.closed else None,
            "closed_by": c.closed_by, "note": c.note}


def file_complaint(db, recording: str, *, calling: str = "", call: str | None = None,
                   department: str | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """Store a complaint (status open) for the recording file ``recording`` (a file name in the recordings
    directory) and give it a tracking number of ``today`` (local date; default: today). Committed before it
    returns. Unknown department: NotFound."""
    name = _recording_name(recording)
    day = today or dt.date.today()

    def write(s):
        dep = _department_id(s, department)
        c = Complaint(tracking=_daily_number(s, Complaint.tracking, day), calling=digits(calling)[:64],
                      call_id=call, recording=name, filed=utcnow(), status="open", department_id=dep)
        s.add(c)
        s.flush()
        s.refresh(c, ["department"])
        return _complaint(c)
    return _with_number(db, write)


def complaints(db, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Complaints, newest first; ``status`` "open" or "closed" (None: all)."""
    if status not in (None, "open", "closed"):
        raise HospitalError(f"bad status {status!r}: open, closed or none for all")
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise HospitalError(f"bad limit {limit!r}: 1..1000")
    q = select(Complaint).options(selectinload(Complaint.department))
    if status is not None:
        q = q.where(Complaint.status == status)
    with db.Session() as s:
        return [_complaint(c) for c in s.scalars(q.order_by(Complaint.filed.desc(), Complaint.id.desc())
                                                 .limit(limit))]


def complaint(db, tracking: str) -> dict[str, Any]:
    with db.Session() as s:
        c = s.scalar(select(Complaint).options(selectinload(Complaint.department))
                     .where(Complaint.tracking == tracking))
        if c is None:
            raise NotFound(f"no complaint with tracking number {tracking!r}")
        return _complaint(c)


def close_complaint(db, tracking: str, by: str, note: str = "") -> dict[str, Any]:
    """Close an open complaint (who closed it, when, a note). Unknown: NotFound; already closed: Conflict."""
    with db.session() as s:
        c = s.scalar(select(Complaint).options(selectinload(Complaint.department))
                     .where(Complaint.tracking == tracking).with_for_update())
        if c is None:
            raise NotFound(f"no complaint with tracking number {tracking!r}")
        if c.status == "closed":
            raise Conflict(f"complaint {tracking} was already closed by {c.closed_by}")
        c.status, c.closed, c.closed_by, c.note = "closed", utcnow(), by, note
        s.flush()
        return _complaint(c)


# --- voicemail to a doctor -----------------------------------------------------------------------------------
def _voicemail(v: Voicemail) -> dict[str, Any]:
    return {"voicemail": v.id, "doctor": v.doctor.name, "doctor_id": v.doctor_id,
            "department": v.doctor.department.code, "calling": v.calling, "call": v.call_id,
            "recording": v.recording, "left": v.left.isoformat(timespec="seconds") + "Z", "heard": v.heard,
            "heard_at": v.heard_at.isoformat(timespec="seconds") + "Z" if v.heard_at else None,
            "heard_by": v.heard_by}


def _vm_query():
    return select(Voicemail).options(selectinload(Voicemail.doctor).selectinload(Doctor.department))


def file_voicemail(db, doctor: int, recording: str, *, calling: str = "", call: str | None = None) -> dict[str, Any]:
    """Store a message for doctor ``doctor`` (id) with the recording file ``recording`` (a file name in the
    recordings directory); committed before it returns. Unknown doctor: NotFound."""
    name = _recording_name(recording)
    with db.session() as s:
        if s.get(Doctor, doctor) is None:
            raise NotFound(f"no doctor {doctor!r}")
        v = Voicemail(doctor_id=doctor, calling=digits(calling)[:64], call_id=call, recording=name, left=utcnow(),
                      heard=False)
        s.add(v)
        s.flush()
        return _voicemail(s.scalar(_vm_query().where(Voicemail.id == v.id)))


def voicemails(db, doctor: int | None = None, heard: bool | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Messages (for one doctor id; heard or not), newest first."""
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise HospitalError(f"bad limit {limit!r}: 1..1000")
    q = _vm_query()
    if doctor is not None:
        q = q.where(Voicemail.doctor_id == doctor)
    if heard is not None:
        q = q.where(Voicemail.heard == bool(heard))
    with db.Session() as s:
        return [_voicemail(v) for v in s.scalars(q.order_by(Voicemail.left.desc(), Voicemail.id.desc()).limit(limit))]


def mark_voicemail_heard(db, voicemail: int, by: str) -> dict[str, Any]:
    """Mark a message heard (by whom, when); marking it again keeps the first. Unknown: NotFound."""
    with db.session() as s:
        v = s.scalar(_vm_query().where(Voicemail.id == voicemail).with_for_update())
        if v is None:
            raise NotFound(f"no voicemail {voicemail!r}")
        if not v.heard:
            v.heard, v.heard_at, v.heard_by = True, utcnow(), by
            s.flush()
        return _voicemail(v)
