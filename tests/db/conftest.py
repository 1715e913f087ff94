"""Database fixtures: every test taking ``db``/``db_url`` runs on SQLite and, when CTID_TEST_PG_URL is set, on
PostgreSQL (each test in its own schema, dropped afterwards). Without CTID_TEST_PG_URL the PostgreSQL runs are
skipped, unless CTID_REQUIRE_PEERS=1 (CI), where they fail. Start a server: scripts/start-postgres.sh."""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from ctid.db import open_database
from ctid.db.database import normalise_url

PG_ENV = "CTID_TEST_PG_URL"


def _require() -> bool:
    return os.environ.get("CTID_REQUIRE_PEERS", "") not in ("", "0")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ctid.db"
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


@pytest.fixture
def db(db_url):
    d = open_database(db_url)
    yield d
    d.close()
