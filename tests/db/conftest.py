"""Database fixtures: every test taking ``db``/``db_url`` (or ``demo_db``) runs on SQLite and, when
CTID_TEST_PG_URL is set, on PostgreSQL (each database in its own schema, dropped afterwards). Without
CTID_TEST_PG_URL the PostgreSQL runs are skipped, unless CTID_REQUIRE_PEERS=1 (CI), where they fail.
Start a server: export CTID_TEST_PG_URL=$(scripts/start-postgres.sh)."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from ctid.db import open_database
from ctid.db.database import normalise_url

PG_ENV = "CTID_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]
DEMO_TODAY = dt.date(2026, 11, 23)


def _require() -> bool:
    return os.environ.get("CTID_REQUIRE_PEERS", "") not in ("", "0")


@contextlib.contextmanager
def _database_url(backend: str, directory):
    if backend == "sqlite":
        yield f"sqlite:///{directory}/ctid.db"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        msg = f"{PG_ENV} is not set (start a server: export {PG_ENV}=$(scripts/start-postgres.sh))"
        if _require():
            pytest.fail(f"CTID_REQUIRE_PEERS=1 but {msg}")
        pytest.skip(msg)
    u = normalise_url(base)
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(u)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield u.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    with _database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db(db_url):
    d = open_database(db_url)
    yield d
    d.close()


@pytest.fixture
def demo_today() -> dt.date:
    return DEMO_TODAY


@pytest.fixture(scope="module", params=BACKENDS)
def demo_db(request, tmp_path_factory):
    """A database with the demo loaded for DEMO_TODAY, shared by a module's tests (which must not change the
    demo rows they do not own)."""
    from ctid.db.demo import load_demo

    with _database_url(request.param, tmp_path_factory.mktemp("demo")) as url:
        d = open_database(url)
        load_demo(d, today=DEMO_TODAY)
        yield d
        d.close()
