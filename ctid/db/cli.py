"""``python -m ctid.db``: create the database, load the demo, manage users and tokens, look at CDRs and data.

    python -m ctid.db --url sqlite:///ctid-data/ctid.db demo
    python -m ctid.db user add 1003 --role agent --agent --queue frontdesk    # asks for the password
    python -m ctid.db token issue ivr --label "ivr process"                   # prints the token once
    python -m ctid.db cdrs --recent 20 ; python -m ctid.db report --since 2026-11-23
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sys

DEFAULT_URL = "sqlite:///ctid-data/ctid.db"


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("db", help="database: demo data, users, tokens, CDRs")
    _fill(p)
    return p


def _fill(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=os.environ.get("CTID_DATABASE_URL", DEFAULT_URL),
                   help="SQLAlchemy URL (default: $CTID_DATABASE_URL or %(default)s)")
    s = p.add_subparsers(dest="db_cmd", required=True)
    s.add_parser("init", help="create the tables")
    d = s.add_parser("demo", help="load the demo hospital and demo users (idempotent)")
    d.add_argument("--today", help="date of 'today' for the demo clinics (YYYY-MM-DD)")
    u = s.add_parser("user", help="manage users").add_subparsers(dest="user_cmd", required=True)
    a = u.add_parser("add")
    a.add_argument("name")
    a.add_argument("--role", action="append", required=True, help="admin, supervisor, ivr, agent, monitor")
    a.add_argument("--agent", action="store_true", help="the user takes calls (agent id = user name)")
    a.add_argument("--extension")
    a.add_argument("--queue", action="append", default=[])
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    u.add_parser("list")
    for name in ("enable", "disable", "passwd"):
        x = u.add_parser(name)
        x.add_argument("name")
        if name == "passwd":
            x.add_argument("--password-stdin", action="store_true")
    t = s.add_parser("token", help="API tokens").add_subparsers(dest="token_cmd", required=True)
    ti = t.add_parser("issue")
    ti.add_argument("name")
    ti.add_argument("--label", default="")
    tr = t.add_parser("revoke")
    tr.add_argument("token")
    c = s.add_parser("cdrs", help="show CDRs (JSON lines)")
    c.add_argument("--recent", type=int, default=20)
    c.add_argument("--call")
    r = s.add_parser("report", help="per-agent calls, talk time, average handle time")
    r.add_argument("--since", required=True, help="YYYY-MM-DD (UTC)")
    r.add_argument("--until", help="YYYY-MM-DD (UTC, exclusive; default: now)")
    s.add_parser("departments")
    cl = s.add_parser("clinics")
    cl.add_argument("--date", default=None, help="YYYY-MM-DD (default: today)")
    pa = s.add_parser("patient", help="screen-pop lookup by phone number")
    pa.add_argument("number")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    pw = getpass.getpass("password: ")
    if pw != getpass.getpass("again: "):
        raise SystemExit("passwords differ")
    return pw


def _day(s: str) -> dt.datetime:
    try:
        return dt.datetime.combine(dt.date.fromisoformat(s), dt.time(), dt.timezone.utc)
    except ValueError:
        raise SystemExit(f"bad date {s!r}: use YYYY-MM-DD") from None


def _out(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def run(args) -> int:
    from . import hospital
    from .cdrs import CdrError
    from .database import DatabaseError, open_database
    from .demo import load_demo
    from .users import UserError

    try:
        from .database import normalise_url

        u = normalise_url(args.url)
        if u.get_backend_name() == "sqlite" and u.database not in (None, "", ":memory:"):
            os.makedirs(os.path.dirname(os.path.abspath(u.database)), exist_ok=True)  # the data directory
        db = open_database(u)
    except DatabaseError as e:
        print(f"ctid db: {e}", file=sys.stderr)
        return 1
    try:
        cmd = args.db_cmd
        if cmd == "init":
            print(f"tables ready in {db.url}")
        elif cmd == "demo":
            today = dt.date.fromisoformat(args.today) if args.today else None
            _out(load_demo(db, today=today))
        elif cmd == "user":
            uc = args.user_cmd
            if uc == "add":
                db.users.create_user(args.name, _password(args.password_stdin), set(args.role), agent=args.agent,
                                     extension=args.extension, queues=args.queue)
                print(f"user {args.name} created")
            elif uc == "list":
                for u in db.users.list_users():
                    _out(u)
            elif uc in ("enable", "disable"):
                db.users.set_disabled(args.name, uc == "disable")
            elif uc == "passwd":
                db.users.set_password(args.name, _password(args.password_stdin))
        elif cmd == "token":
            if args.token_cmd == "issue":
                print(db.users.issue_token(args.name, args.label))
            elif not db.users.revoke_token(args.token):
                print("ctid db: no such token", file=sys.stderr)
                return 1
        elif cmd == "cdrs":
            for row in (db.cdrs.by_call(args.call) if args.call else db.cdrs.recent(args.recent)):
                _out(row)
        elif cmd == "report":
            until = _day(args.until) if args.until else dt.datetime.now(dt.timezone.utc)
            for row in db.cdrs.agent_report(_day(args.since), until):
                _out(row)
        elif cmd == "departments":
            for row in hospital.departments(db):
                _out(row)
        elif cmd == "clinics":
            for row in hospital.clinics_on(db, args.date or dt.date.today()):
                _out(row)
        elif cmd == "patient":
            _out(hospital.patient_by_number(db, args.number))
        return 0
    except (UserError, CdrError, hospital.HospitalError, ValueError) as e:
        print(f"ctid db: {e}", file=sys.stderr)
        return 1
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ctid.db", description="ctid database tool")
    _fill(p)
    try:
        return run(p.parse_args(argv))
    except BrokenPipeError:  # output piped into head
        sys.stderr.close()
        return 0
