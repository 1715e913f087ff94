"""The CDR store: call detail records written durably when a call ends, and the queries reports need."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from .models import Cdr

DIRECTIONS = ("in", "out")
DISPOSITIONS = ("answered", "no_answer", "busy", "failed", "abandoned", "")
_FIELDS = {
    "call_id", "trunk", "channel", "calling", "called", "direction", "start", "answer", "end", "duration",
    "billsec", "wrapup", "cause", "disposition", "queue", "agent", "recording",
}
_ALIASES = {"call": "call_id"}


class CdrError(ValueError):
    """A CDR that cannot be stored; the message names the bad field and value."""


def _to_datetime(name: str, value) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.timezone.utc).replace(tzinfo=None)
    raise CdrError(f"CDR field {name!r}: expected epoch seconds or a datetime, got {value!r}")


def _epoch(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.timezone.utc).timestamp()


def cdr_to_dict(c: Cdr) -> dict[str, Any]:
    return {
        "id": c.id, "call_id": c.call_id, "trunk": c.trunk, "channel": c.channel, "calling": c.calling,
        "called": c.called, "direction": c.direction, "start": _epoch(c.start), "answer": _epoch(c.answer),
        "end": _epoch(c.end), "duration": c.duration, "billsec": c.billsec, "wrapup": c.wrapup, "cause": c.cause,
        "disposition": c.disposition, "queue": c.queue, "agent": c.agent, "recording": c.recording,
    }


def _build(cdr: dict[str, Any]) -> Cdr:
    if not isinstance(cdr, dict):
        raise CdrError(f"a CDR must be a dict, got {type(cdr).__name__}")
    data = {_ALIASES.get(k, k): v for k, v in cdr.items()}
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise CdrError(f"unknown CDR field(s): {', '.join(unknown)}")
    call_id = data.get("call_id")
    if not isinstance(call_id, str) or not call_id or len(call_id) > 32:
        raise CdrError(f"CDR field 'call_id': expected a non-empty string of at most 32 characters, got {call_id!r}")
    start = _to_datetime("start", data.get("start"))
    if start is None:
        raise CdrError("CDR field 'start' is required")
    end = _to_datetime("end", data.get("end")) or start
    answer = _to_datetime("answer", data.get("answer"))
    if end < start:
        raise CdrError(f"CDR {call_id}: end {end.isoformat()} is before start {start.isoformat()}")
    if answer is not None and not (start <= answer <= end):
        raise CdrError(f"CDR {call_id}: answer {answer.isoformat()} is outside start..end")
    direction = data.get("direction", "in")
    if direction not in DIRECTIONS:
        raise CdrError(f"CDR field 'direction': expected one of {DIRECTIONS}, got {direction!r}")
    disposition = data.get("disposition")
    if disposition is None:
        disposition = "answered" if answer is not None else "no_answer"
    if disposition not in DISPOSITIONS:
        raise CdrError(f"CDR field 'disposition': expected one of {DISPOSITIONS[:-1]}, got {disposition!r}")
    cause = data.get("cause", 16)
    if not isinstance(cause, int) or isinstance(cause, bool) or not 0 <= cause <= 127:
        raise CdrError(f"CDR field 'cause': expected a Q.850 cause 0..127, got {cause!r}")
    duration = data.get("duration")
    if duration is None:
        duration = (end - start).total_seconds()
    billsec = data.get("billsec")
    if billsec is None:
        billsec = (end - answer).total_seconds() if answer is not None else 0.0
    for name, v in (("duration", duration), ("billsec", billsec), ("wrapup", data.get("wrapup", 0.0))):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise CdrError(f"CDR field {name!r}: expected seconds >= 0, got {v!r}")
    text = {}
    for name in ("trunk", "channel", "calling", "called", "queue", "agent", "recording"):
        v = data.get(name)
        if v is not None and not isinstance(v, str):
            raise CdrError(f"CDR field {name!r}: expected a string, got {v!r}")
        text[name] = v
    return Cdr(
        call_id=call_id, trunk=text["trunk"] or "", channel=text["channel"] or "", calling=text["calling"] or "",
        called=text["called"] or "", direction=direction, start=start, answer=answer, end=end,
        duration=float(duration), billsec=float(billsec), wrapup=float(data.get("wrapup", 0.0)), cause=cause,
        disposition=disposition, queue=text["queue"], agent=text["agent"], recording=text["recording"],
    )


class CdrStore:
    """CDRs in the database. :meth:`write` returns only after the commit (durable once it returns)."""

    def __init__(self, db):
        self.db = db

    def write(self, cdr: dict[str, Any]) -> int:
        """Validate and store one CDR; returns its row id after the transaction has committed.

        Fields: call_id (or call), trunk, channel, calling, called, direction (in/out), start, answer, end
        (epoch seconds or datetimes), duration and billsec (computed when absent), wrapup, cause (Q.850),
        disposition (computed: answered/no_answer when absent), queue, agent, recording.
        """
        row = _build(cdr)
        with self.db.session() as s:
            s.add(row)
            s.flush()
            rid = row.id
        return rid

    def recent(self, n: int = 50) -> list[dict[str, Any]]:
        """The ``n`` most recent CDRs (by start), newest first."""
        with self.db.Session() as s:
            rows = s.scalars(select(Cdr).order_by(Cdr.start.desc(), Cdr.id.desc()).limit(int(n))).all()
            return [cdr_to_dict(c) for c in rows]

    def by_call(self, call_id: str) -> list[dict[str, Any]]:
        """All CDRs of one call (one per leg written), in the order written."""
        with self.db.Session() as s:
            rows = s.scalars(select(Cdr).where(Cdr.call_id == call_id).order_by(Cdr.id)).all()
            return [cdr_to_dict(c) for c in rows]

    def between(self, t0, t1) -> list[dict[str, Any]]:
        """CDRs of calls that started in [t0, t1) (epoch seconds or datetimes), oldest first."""
        a, b = _to_datetime("t0", t0), _to_datetime("t1", t1)
        with self.db.Session() as s:
            rows = s.scalars(select(Cdr).where(Cdr.start >= a, Cdr.start < b).order_by(Cdr.start, Cdr.id)).all()
            return [cdr_to_dict(c) for c in rows]

    def count(self) -> int:
        with self.db.Session() as s:
            return s.scalar(select(func.count(Cdr.id))) or 0

    def agent_report(self, t0, t1) -> list[dict[str, Any]]:
        """Per agent, for calls started in [t0, t1) and answered by the agent: calls handled, talk time
        (sum of billsec) and average handle time ((talk + wrap-up) / calls), sorted by agent."""
        a, b = _to_datetime("t0", t0), _to_datetime("t1", t1)
        q = (
            select(Cdr.agent, func.count(Cdr.id), func.coalesce(func.sum(Cdr.billsec), 0.0),
                   func.coalesce(func.sum(Cdr.wrapup), 0.0))
            .where(Cdr.agent.is_not(None), Cdr.answer.is_not(None), Cdr.start >= a, Cdr.start < b)
            .group_by(Cdr.agent)
            .order_by(Cdr.agent)
        )
        with self.db.Session() as s:
            out = []
            for agent, calls, talk, wrap in s.execute(q):
                out.append({
                    "agent": agent, "calls": int(calls), "talk_seconds": float(talk),
                    "average_handle_seconds": (float(talk) + float(wrap)) / calls if calls else 0.0,
                })
            return out
