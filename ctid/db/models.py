"""SQLAlchemy 2.0 models of ctid's database: users and tokens, agents and queues, the hospital, CDRs.

Times are stored as naive UTC ``DateTime`` columns (the same on SQLite and PostgreSQL); money as integer fen
(1/100 yuan) so that no database has to handle decimals. Roles are a set exposed through :attr:`User.roles`.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

ROLES = frozenset({"admin", "supervisor", "ivr", "agent", "monitor"})
SESSIONS = ("am", "pm")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


agent_queues = Table(
    "agent_queues",
    Base.metadata,
    Column("agent_id", ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    roles_text: Mapped[str] = mapped_column("roles", String(255), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                  passive_deletes=True)
    agent: Mapped[Agent | None] = relationship(back_populates="user", cascade="all, delete-orphan",
                                               passive_deletes=True)

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(r for r in self.roles_text.split(",") if r)

    @roles.setter
    def roles(self, roles) -> None:
        roles = frozenset(roles)
        bad = sorted(roles - ROLES)
        if bad:
            raise ValueError(f"unknown role(s) {', '.join(map(repr, bad))}; known roles: {', '.join(sorted(ROLES))}")
        self.roles_text = ",".join(sorted(roles))


class ApiToken(Base):
    """An API token; only its SHA-256 is stored (the token itself is shown once, when issued)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(back_populates="tokens")


class Queue(Base):
    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")

    agents: Mapped[list[Agent]] = relationship(secondary=agent_queues, back_populates="queues")


class Agent(Base):
    """A user who takes calls; the agent id is the user's name."""

    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    extension: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(back_populates="agent")
    queues: Mapped[list[Queue]] = relationship(secondary=agent_queues, back_populates="agents")


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    name_zh: Mapped[str] = mapped_column(String(64))
    floor: Mapped[str] = mapped_column(String(64), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)

    doctors: Mapped[list[Doctor]] = relationship(back_populates="department")


class Doctor(Base):
    __tablename__ = "doctors"
    __table_args__ = (UniqueConstraint("department_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    title: Mapped[str] = mapped_column(String(64), default="")
    title_zh: Mapped[str] = mapped_column(String(64), default="")
    specialty: Mapped[str] = mapped_column(String(255), default="")
    # clinic days and sessions, e.g. "mon-am,wed-pm" (the recurring schedule; dated clinics are Clinic rows)
    schedule: Mapped[str] = mapped_column(String(255), default="")

    department: Mapped[Department] = relationship(back_populates="doctors")
    clinics: Mapped[list[Clinic]] = relationship(back_populates="doctor")


class Clinic(Base):
    """One doctor's clinic on a date and session (am/pm), with its appointment slots."""

    __tablename__ = "clinics"
    __table_args__ = (
        UniqueConstraint("doctor_id", "date", "session"),
        CheckConstraint("session IN ('am', 'pm')", name="clinic_session"),
        CheckConstraint("slots >= 0 AND booked >= 0 AND booked <= slots", name="clinic_slots"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    date: Mapped[dt.date] = mapped_column(Date, index=True)
    session: Mapped[str] = mapped_column(String(2))
    slots: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    fee_fen: Mapped[int] = mapped_column(Integer, default=0)

    doctor: Mapped[Doctor] = relationship(back_populates="clinics")

    @property
    def free(self) -> int:
        return self.slots - self.booked


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    card_number: Mapped[str] = mapped_column(String(32), unique=True)
    balance_fen: Mapped[int] = mapped_column(Integer, default=0)
    record_summary: Mapped[str] = mapped_column(Text, default="")

    phones: Mapped[list[PatientPhone]] = relationship(back_populates="patient", cascade="all, delete-orphan",
                                                      passive_deletes=True)

    @property
    def balance(self) -> Decimal:
        return Decimal(self.balance_fen) / 100


class PatientPhone(Base):
    """A patient's phone number, digits only (for screen pop by calling number)."""

    __tablename__ = "patient_phones"
    __table_args__ = (UniqueConstraint("patient_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32), index=True)

    patient: Mapped[Patient] = relationship(back_populates="phones")


class Cdr(Base):
    """A call detail record, written once when the call ends."""

    __tablename__ = "cdrs"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    trunk: Mapped[str] = mapped_column(String(64), default="")
    channel: Mapped[str] = mapped_column(String(64), default="")
    calling: Mapped[str] = mapped_column(String(64), default="")
    called: Mapped[str] = mapped_column(String(64), default="")
    direction: Mapped[str] = mapped_column(String(8), default="in")
    start: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    answer: Mapped[dt.datetime | None] = mapped_column(DateTime)
    end: Mapped[dt.datetime] = mapped_column(DateTime)
    duration: Mapped[float] = mapped_column(Float)
    billsec: Mapped[float] = mapped_column(Float, default=0.0)
    wrapup: Mapped[float] = mapped_column(Float, default=0.0)
    cause: Mapped[int] = mapped_column(Integer, default=16)
    disposition: Mapped[str] = mapped_column(String(16), default="")
    queue: Mapped[str | None] = mapped_column(String(64))
    agent: Mapped[str | None] = mapped_column(String(64), index=True)
    recording: Mapped[str | None] = mapped_column(String(512))
    written: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Complaint(Base):
    """A complaint or suggestion left by phone: the recording, who called, and a tracking number read back to
    the caller (``YYMMDD`` of the local filing date + a 3-digit daily sequence, e.g. ``261123007``)."""

    __tablename__ = "complaints"
    __table_args__ = (CheckConstraint("status IN ('open', 'closed')", name="complaint_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking: Mapped[str] = mapped_column(String(16), unique=True)
    calling: Mapped[str] = mapped_column(String(64), default="")
    call_id: Mapped[str | None] = mapped_column(String(32))
    recording: Mapped[str] = mapped_column(String(512))          # file name inside the recordings directory
    filed: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(8), default="open", index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    closed: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")

    department: Mapped[Department | None] = relationship()


class Appointment(Base):
    """A booked clinic slot, with the confirmation number read back to the caller (same scheme as complaints)."""

    __tablename__ = "appointments"
    __table_args__ = (UniqueConstraint("patient_id", "clinic_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    confirmation: Mapped[str] = mapped_column(String(16), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"), index=True)
    calling: Mapped[str] = mapped_column(String(64), default="")
    booked: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="ivr")

    patient: Mapped[Patient] = relationship()
    clinic: Mapped[Clinic] = relationship()



class Voicemail(Base):
    """A message left by phone for a doctor: the recording, who called, and whether it has been heard."""

    __tablename__ = "voicemails"

    id: Mapped[int] = mapped_column(primary_key=True)
    doctor_id: Mapped[int] = mapped_column(ForeignKey("doctors.id", ondelete="CASCADE"), index=True)
    calling: Mapped[str] = mapped_column(String(64), default="")
    call_id: Mapped[str | None] = mapped_column(String(32))
    recording: Mapped[str] = mapped_column(String(512))          # file name inside the recordings directory
    left: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    heard: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    heard_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    heard_by: Mapped[str | None] = mapped_column(String(64))

    doctor: Mapped[Doctor] = relationship()
