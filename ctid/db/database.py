"""Opening the database: URL handling, SQLite pragmas, schema creation, sessions, and work in threads."""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from sqlalchemy import create_engine, event, exc, inspect, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from .models import Base


class DatabaseError(Exception):
    """The database cannot be opened or used; the message names the URL (password masked) and the reason."""


_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)([^@]*)(@)")


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***`` (safe to log or show)."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    return _PASSWORD_IN_URL.sub(r"\1***\3", str(url))


def normalise_url(url: str | URL) -> URL:
    """Parse a database URL; ``postgresql://`` and ``postgres://`` mean psycopg 3 (``postgresql+psycopg://``)."""
    try:
        u = make_url(url)
    except exc.ArgumentError as e:
        raise DatabaseError(f"bad database URL {mask_url(url)!r}: {e}") from None
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    if u.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(
            f"unsupported database URL {mask_url(u)!r}: use sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB"
        )
    return u


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
    finally:
        cur.close()


class Database:
    """An open database: the SQLAlchemy engine, a session factory, the CDR and user stores.

    Every store method is blocking (use it directly from scripts and from threads); from the reactor thread use
    :meth:`run`, which runs a function in a thread pool and returns a Deferred.
    """

    def __init__(self, engine: Engine, *, reactor=None, threadpool=None):
        from .cdrs import CdrStore
        from .users import UserStore

        self.engine = engine
        self.url = mask_url(engine.url)
        self.Session = sessionmaker(engine, expire_on_commit=False)
        self._reactor = reactor
        self._threadpool = threadpool
        self._own_pool = None
        self._shutdown_trigger = None
        self._lock = threading.Lock()
        self.cdrs = CdrStore(self)
        self.users = UserStore(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed at the end of the block, rolled back on an exception."""
        with self.Session() as s:
            with s.begin():
                yield s

    def create_schema(self) -> None:
        Base.metadata.create_all(self.engine)

    def table_names(self) -> list[str]:
        return sorted(inspect(self.engine).get_table_names())

    def _pool(self):
        if self._threadpool is not None:
            return self._threadpool
        with self._lock:
            if self._own_pool is None:
                from twisted.python.threadpool import ThreadPool

                reactor = self._get_reactor()
                pool = ThreadPool(minthreads=1, maxthreads=4, name="ctid-db")
                pool.start()
                self._shutdown_trigger = reactor.addSystemEventTrigger("during", "shutdown", self._stop_pool)
                self._own_pool = pool
            return self._own_pool

    def _get_reactor(self):
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    def run(self, fn: Callable[..., Any], *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` in the database thread pool; a Deferred fires with its result."""
        from twisted.internet.threads import deferToThreadPool

        return deferToThreadPool(self._get_reactor(), self._pool(), fn, *args, **kwargs)

    def _stop_pool(self) -> None:
        with self._lock:
            pool, self._own_pool = self._own_pool, None
            self._shutdown_trigger = None
        if pool is not None:
            pool.stop()

    def close(self) -> None:
        """Release all connections (and the database's own thread pool, if it made one)."""
        trigger = self._shutdown_trigger
        if trigger is not None:
            self._reactor.removeSystemEventTrigger(trigger)
        self._stop_pool()
        self.engine.dispose()


def open_database(url: str | URL, *, reactor=None, threadpool=None, create: bool = True, echo: bool = False) -> Database:
    """Open (and by default create the tables of) the database at ``url``.

    SQLite (``sqlite:///path``) runs in WAL mode with ``synchronous=FULL`` and foreign keys on, so a commit is on
    disk when it returns. PostgreSQL: ``postgresql+psycopg://user:pass@host:port/db`` (``postgresql://`` is taken
    as psycopg 3). A bad URL, a missing directory or an unreachable server raises :class:`DatabaseError`
    naming the URL with the password masked.
    """
    u = normalise_url(url)
    shown = mask_url(u)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if u.get_backend_name() == "sqlite":
        path = u.database
        if path in (None, "", ":memory:"):
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                raise DatabaseError(f"cannot open database {shown!r}: directory {parent!r} does not exist")
            kwargs.update(connect_args={"check_same_thread": False, "timeout": 10})
    else:
        kwargs.update(pool_pre_ping=True, connect_args={"connect_timeout": 10})
    try:
        engine = create_engine(u, **kwargs)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as e:
        raise DatabaseError(f"cannot open database {shown!r}: {e}") from None
    if u.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        if create:
            Base.metadata.create_all(engine)
    except exc.DBAPIError as e:
        engine.dispose()
        reason = str(e.orig).strip().splitlines()[0] if e.orig is not None else str(e)
        if u.password:
            reason = reason.replace(str(u.password), "***")
        raise DatabaseError(f"cannot open database {shown!r}: {reason}") from None
    return Database(engine, reactor=reactor, threadpool=threadpool)
