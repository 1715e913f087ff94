"""Models round-trip, schema creation, SQLite pragmas, and clear errors for bad URLs and unreachable servers."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from ctid.db import DatabaseError, mask_url, open_database
from ctid.db.models import (
    Agent, ApiToken, Cdr, Clinic, Department, Doctor, Patient, PatientPhone, Queue, User,
)

TABLES = {"agent_queues", "agents", "api_tokens", "cdrs", "clinics", "departments", "doctors", "patient_phones",
          "patients", "queues", "users", "complaints", "appointments",
          "voicemails"}


def test_schema_created(db):
    assert set(db.table_names()) == TABLES


def test_models_round_trip(db):
    day = dt.date(2026, 3, 4)
    with db.session() as s:
        dept = Department(code="cardiology", name="Cardiology", name_zh="心内科", floor="3F", phone="6601",
                          description="心血管")
        doc = Doctor(name="王建国", department=dept, title="Chief physician", title_zh="主任医师",
                     specialty="coronary", schedule="mon-am")
        s.add(Clinic(doctor=doc, date=day, session="pm", slots=30, booked=4, fee_fen=5000))
        s.add(Patient(name="张伟", card_number="C1", balance_fen=12345, record_summary="高血压",
                      phones=[PatientPhone(number="13800138000")]))
        u = User(name="1001", password_hash="x", display_name="Agent 1001")
        u.roles = {"agent", "monitor"}
        s.add(u)
        s.add(Agent(user=u, extension="analog/0", queues=[Queue(name="frontdesk")]))
        s.add(ApiToken(user=u, token_sha256="a" * 64, label="test"))
        s.add(Cdr(call_id="0123456789ab", start=dt.datetime(2026, 3, 4, 8, 0, 0, 250000),
                  end=dt.datetime(2026, 3, 4, 8, 1), duration=59.75, cause=16))
    db.engine.dispose()
    with db.Session() as s:
        c = s.scalar(select(Clinic))
        assert (c.date, c.session, c.slots, c.booked, c.free, c.fee_fen) == (day, "pm", 30, 4, 26, 5000)
        assert c.doctor.name == "王建国" and c.doctor.department.name_zh == "心内科"
        p = s.scalar(select(Patient))
        assert str(p.balance) == "123.45" and [ph.number for ph in p.phones] == ["13800138000"]
        u = s.scalar(select(User).where(User.name == "1001"))
        assert u.roles == frozenset({"agent", "monitor"})
        assert u.agent.extension == "analog/0" and [q.name for q in u.agent.queues] == ["frontdesk"]
        assert [t.label for t in u.tokens] == ["test"]
        cdr = s.scalar(select(Cdr))
        assert cdr.start == dt.datetime(2026, 3, 4, 8, 0, 0, 250000) and cdr.answer is None


def test_unknown_role_refused():
    u = User(name="x", password_hash="x")
    with pytest.raises(ValueError, match="unknown role.*'root'"):
        u.roles = {"agent", "root"}


def test_constraints_enforced(db):
    with pytest.raises(IntegrityError):  # foreign keys are on (SQLite needs the pragma)
        with db.session() as s:
            s.add(Doctor(name="nobody", department_id=999))
    with db.session() as s:
        s.add(Doctor(name="d", department=Department(code="x", name="X", name_zh="X")))
    with pytest.raises(IntegrityError):
        with db.session() as s:
            d = s.scalar(select(Doctor))
            s.add(Clinic(doctor=d, date=dt.date(2026, 1, 1), session="am", slots=2, booked=3))
    with pytest.raises(IntegrityError):
        with db.session() as s:
            d = s.scalar(select(Doctor))
            s.add(Clinic(doctor=d, date=dt.date(2026, 1, 1), session="ev", slots=2))


def test_sqlite_pragmas(tmp_path):
    db = open_database(f"sqlite:///{tmp_path}/p.db")
    try:
        with db.engine.connect() as c:
            assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert c.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
            assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.close()
    assert (tmp_path / "p.db-wal").exists() or (tmp_path / "p.db").exists()


def test_memory_database_shared_across_threads():
    import threading

    db = open_database("sqlite://")
    out = []
    t = threading.Thread(target=lambda: out.append(db.users.exists("nobody")))
    db.users.create_user("someone", "long-enough", {"agent"})
    t.start()
    t.join()
    assert out == [False] and db.users.exists("someone")


def test_mask_url():
    assert mask_url("postgresql+psycopg://u:secret@h:5432/d") == "postgresql+psycopg://u:***@h:5432/d"
    assert "secret" not in mask_url("postgresql://u:secret@h/d")


@pytest.mark.parametrize("url,needle", [
    ("not a url", "bad database URL 'not a url'"),
    ("mysql://u:secret@h/d", "unsupported database URL 'mysql://u:***@h/d'"),
    ("sqlite:////no/such/dir/ctid.db", "directory '/no/such/dir' does not exist"),
    ("postgresql+psycopg://u:secret@127.0.0.1:1/d", "cannot open database 'postgresql+psycopg://u:***@127.0.0.1:1/d'"),
])
def test_open_errors_name_the_url_without_password(url, needle):
    with pytest.raises(DatabaseError) as ei:
        open_database(url)
    assert needle in str(ei.value)
    assert "secret" not in str(ei.value)


def test_a_file_that_is_not_a_database(tmp_path):
    f = tmp_path / "notes.db"
    f.write_text("not sqlite")
    with pytest.raises(DatabaseError, match=r"cannot open database 'sqlite:///.*notes.db': file is not a database"):
        open_database(f"sqlite:///{f}")


def test_postgresql_scheme_means_psycopg3():
    from ctid.db.database import normalise_url

    assert normalise_url("postgresql://u:p@h/d").drivername == "postgresql+psycopg"
    assert normalise_url("postgres://u:p@h/d").drivername == "postgresql+psycopg"
