"""ctid's database: SQLAlchemy models, the CDR store, users and tokens, hospital data (SQLite or PostgreSQL).

    db = open_database("sqlite:///ctid-data/ctid.db")   # or postgresql+psycopg://user:pass@host/db
    db.cdrs.write({...}); db.users.authenticate("1001", "..."); hospital.departments(db)
    d = db.run(db.cdrs.write, cdr)                      # from the reactor thread: a Deferred

See docs/database.md.
"""
from .cdrs import CdrError, CdrStore
from .database import Database, DatabaseError, mask_url, open_database
from .users import Principal, UserError, UserStore

__all__ = [
    "CdrError", "CdrStore", "Database", "DatabaseError", "Principal", "UserError", "UserStore", "mask_url",
    "open_database",
]
