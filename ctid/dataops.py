"""The daemon's data ops on the CTI server: hospital information, screen pop, appointments booked by phone, and
what the IVR files for callers (complaints with tracking numbers, voicemail for doctors). Specified in
docs/cti-protocol.md ("Data ops").

``register_data_ops(server, db, recordings_dir=...)`` adds them to a :class:`ctid.cti.CtiServer`. Every handler
runs its database work in the database's thread pool (``db.run``) and answers only after the transaction is
committed. Hospital errors become protocol errors: unknown thing 404, wrong state 409, bad argument 400.

Recordings: the engine writes them as ``<purpose>-<call>-<id>.wav`` in the recordings directory (fsync'd before
``record`` answers). An op that files a recording takes the recording id ``record`` returned, checks that the
file exists with the right purpose (and belongs to the channel's call when a channel is given) and stores its
file name. Only the roles that may hear recordings (admin, supervisor) get ops that return recording
references; no op returns the audio itself, and the engine refuses to play files from the recordings directory.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from typing import Callable

from ctid.cti import Arg, OpError
from ctid.db import hospital

ALL_STAFF = frozenset({"admin", "ivr", "supervisor", "agent"})
FILERS = frozenset({"admin", "ivr"})            # may file what a caller left (complaints, voicemail)
DESK = frozenset({"admin", "supervisor"})       # may list what callers left (with recording references), close it
IDENTIFY = frozenset({"admin", "ivr", "supervisor"})            # may check a card number a caller keyed in
BOOKERS = frozenset({"admin", "ivr", "supervisor", "agent"})    # may book an appointment for a caller
_REC_ID = re.compile(r"^[0-9a-f]{12}$")


def _op_error(failure):
    """HospitalError -> OpError (NotFound 404, Conflict 409, other 400); anything else passes on (500)."""
    exc = failure.value
    if isinstance(exc, hospital.NotFound):
        raise OpError(404, str(exc))
    if isinstance(exc, hospital.Conflict):
        raise OpError(409, str(exc))
    if isinstance(exc, hospital.HospitalError):
        raise OpError(400, str(exc))
    return failure


class DataOps:
    """The handlers, bound to one database and recordings directory. ``now()`` gives the local time used for
    tracking numbers, default dates and which clinics are over (injectable for tests)."""

    def __init__(self, db, *, recordings_dir: str, now: Callable[[], dt.datetime] = dt.datetime.now,
                 run_blocking: Callable | None = None):
        self.db = db
        self.recordings_dir = recordings_dir
        self.now = now
        self._run = run_blocking or db.run       # run_blocking(fn) -> Deferred (default: the database's threads)

    def today(self) -> dt.date:
        return self.now().date()

    def run(self, fn, *args, **kw):
        return self._run(fn, *args, **kw).addErrback(_op_error)

    def register(self, server) -> None:
        reg = server.register_op
        reg("hospital.departments", self.departments, roles=ALL_STAFF)
        reg("hospital.clinics", self.clinics, roles=ALL_STAFF, args={"date": (str, False)})
        reg("patient.lookup", self.patient_lookup, roles=ALL_STAFF, args={"number": (str, True)}, scope="number")
        reg("hospital.free_clinics", self.free_clinics, roles=ALL_STAFF, args={
            "department": Arg("str", required=True, max_len=32), "limit": Arg("int", default=5, lo=1, hi=50)})
        reg("patient.card", self.patient_card, roles=IDENTIFY, args={"card": Arg("dtmf", required=True, max_len=32)})
        reg("appointment.book", self.appointment_book, roles=BOOKERS, args={
            "clinic": Arg("int", required=True), "card": Arg("str", required=True, max_len=32),
            "channel": Arg("str", max_len=64), "calling": Arg("str", max_len=64)})
        reg("appointment.list", self.appointment_list, roles=DESK, args={
            "date": Arg("str", max_len=10), "card": Arg("str", max_len=32),
            "limit": Arg("int", default=200, lo=1, hi=1000)})
        reg("hospital.doctors", self.doctors, roles=ALL_STAFF, args={"department": Arg("str", required=True,
                                                                                      max_len=32)})
        reg("voicemail.file", self.voicemail_file, roles=FILERS, args={
            "recording": Arg("str", required=True, max_len=64), "doctor": Arg("int", required=True),
            "channel": Arg("str", max_len=64), "calling": Arg("str", max_len=64)})
        reg("voicemail.list", self.voicemail_list, roles=DESK, args={
            "doctor": Arg("int"), "heard": Arg("bool"), "limit": Arg("int", default=100, lo=1, hi=1000)})
        reg("voicemail.mark_heard", self.voicemail_mark_heard, roles=DESK, args={
            "voicemail": Arg("int", required=True)})
        reg("complaint.file", self.complaint_file, roles=FILERS, args={
            "recording": Arg("str", required=True, max_len=64), "channel": Arg("str", max_len=64),
            "calling": Arg("str", max_len=64), "department": Arg("str", max_len=32)})
        reg("complaint.list", self.complaint_list, roles=DESK, args={
            "status": Arg("str", max_len=8), "limit": Arg("int", default=100, lo=1, hi=1000)})
        reg("complaint.close", self.complaint_close, roles=DESK, args={
            "tracking": Arg("str", required=True, max_len=16), "note": Arg("str", default="", max_len=2000)})

    # -- hospital information ---------------------------------------------------------------------------------
    def departments(self, ctx, a):
        return self.run(lambda: {"departments": hospital.departments(self.db)})

    def clinics(self, ctx, a):
        date = a.get("date") or self.today().isoformat()
        return self.run(lambda: {"date": date, "clinics": hospital.clinics_on(self.db, date)})

    def patient_lookup(self, ctx, a):
        return self.run(lambda: {"patient": hospital.patient_by_number(self.db, a["number"])})

    # -- appointments -----------------------------------------------------------------------------------------
    def free_clinics(self, ctx, a):
        now = self.now()
        return self.run(lambda: {"clinics": hospital.free_clinics(self.db, a["department"], now, a["limit"])})

    def patient_card(self, ctx, a):
        return self.run(lambda: {"card": hospital.card_by_digits(self.db, a["card"])})

    def appointment_book(self, ctx, a):
        calling = a.get("calling") or ""
        if a.get("channel") is not None:
            calling, _ = self._caller_of(ctx, a)
        now, user = self.now(), ctx.principal.user
        return self.run(lambda: {"appointment": hospital.book_appointment(
            self.db, a["clinic"], a["card"], calling=calling, source=user[:16], now=now)})

    def appointment_list(self, ctx, a):
        return self.run(lambda: {"appointments": hospital.appointments(self.db, a.get("date"), a.get("card"),
                                                                       a["limit"])})

    # -- recordings -------------------------------------------------------------------------------------------
    def _caller_of(self, ctx, a) -> tuple[str, str | None]:
        """(calling number, call id) from ``channel`` (the engine's view) or ``calling``; 400/404 otherwise."""
        channel = a.get("channel")
        if channel is None:
            if a.get("calling") is None:
                raise OpError(400, f"{ctx.op}: give 'channel' (the caller's channel) or 'calling' (their number)")
            return a["calling"], None
        for ch in ctx.engine.snapshot().get("channels", []):
            if ch.get("channel") == channel:
                if ch.get("call") is None:
                    raise OpError(409, f"{ctx.op}: channel {channel} has no call")
                return a.get("calling") or ch.get("calling") or "", ch["call"]
        raise OpError(404, f"{ctx.op}: no channel {channel!r}")

    def _recording_file(self, op: str, purpose: str, rec_id: str, call: str | None) -> str:
        """The file name of recording ``rec_id`` made with ``purpose`` (of ``call`` when known). Blocking."""
        if not _REC_ID.match(rec_id):
            raise OpError(400, f"{op}: 'recording' must be the 12-hex-digit id that record returned, not {rec_id!r}")
        suffix = f"-{rec_id}.wav"
        try:
            names = os.listdir(self.recordings_dir)
        except FileNotFoundError:
            names = []
        found = [n for n in names if n.startswith(purpose + "-") and n.endswith(suffix)
                 and (call is None or n == f"{purpose}-{call}{suffix}")]
        if len(found) != 1:
            whose = f" of call {call}" if call else ""
            raise OpError(404, f"{op}: no {purpose} recording {rec_id}{whose}")
        return found[0]

    # -- voicemail to a doctor --------------------------------------------------------------------------------
    def doctors(self, ctx, a):
        def work():
            hospital.department(self.db, a["department"])           # NotFound for an unknown department
            return {"doctors": hospital.doctors(self.db, a["department"])}
        return self.run(work)

    def voicemail_file(self, ctx, a):
        calling, call = self._caller_of(ctx, a)

        def work():
            name = self._recording_file(ctx.op, "voicemail", a["recording"], call)
            v = hospital.file_voicemail(self.db, a["doctor"], name, calling=calling, call=call)
            return {"voicemail": v["voicemail"], "doctor": v["doctor"], "left": v["left"]}
        return self.run(work)

    def voicemail_list(self, ctx, a):
        return self.run(lambda: {"voicemails": hospital.voicemails(self.db, a.get("doctor"), a.get("heard"),
                                                                   a["limit"])})

    def voicemail_mark_heard(self, ctx, a):
        user = ctx.principal.user
        return self.run(lambda: {"voicemail": hospital.mark_voicemail_heard(self.db, a["voicemail"], user)})

    # -- complaints -------------------------------------------------------------------------------------------
    def complaint_file(self, ctx, a):
        calling, call = self._caller_of(ctx, a)
        today = self.today()

        def work():
            name = self._recording_file(ctx.op, "complaint", a["recording"], call)
            c = hospital.file_complaint(self.db, name, calling=calling, call=call, department=a.get("department"),
                                        today=today)
            return {"tracking": c["tracking"], "filed": c["filed"]}
        return self.run(work)

    def complaint_list(self, ctx, a):
        return self.run(lambda: {"complaints": hospital.complaints(self.db, a.get("status"), a["limit"])})

    def complaint_close(self, ctx, a):
        user = ctx.principal.user
        return self.run(lambda: {"complaint": hospital.close_complaint(self.db, a["tracking"], user, a["note"])})


def register_data_ops(server, db, *, recordings_dir: str, now: Callable[[], dt.datetime] = dt.datetime.now,
                      run_blocking: Callable | None = None) -> DataOps:
    ops = DataOps(db, recordings_dir=recordings_dir, now=now, run_blocking=run_blocking)
    ops.register(server)
    return ops


__all__ = ["DataOps", "register_data_ops"]
