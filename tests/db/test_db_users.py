"""Users: scrypt passwords, roles, API tokens stored as SHA-256 only, disabled users, constant-time compares."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from sqlalchemy import select, text

from ctid.db import Principal, UserError
from ctid.db import users as users_mod
from ctid.db.models import ApiToken, User


@pytest.fixture
def users(db):
    db.users.create_user("1001", "agent-pass-1", {"agent"}, agent=True, extension="analog/0", queues=["frontdesk"])
    db.users.create_user("ivr", "ivr-pass-12", {"ivr"})
    return db.users


def test_password_authentication(users):
    assert users.authenticate("1001", "agent-pass-1") == Principal("1001", frozenset({"agent"}), "1001")
    assert users.authenticate("ivr", "ivr-pass-12") == Principal("ivr", frozenset({"ivr"}), None)
    assert users.authenticate("1001", "agent-pass-2") is None
    assert users.authenticate("1001", "") is None
    assert users.authenticate("nobody", "agent-pass-1") is None
    assert users.authenticate("bad name with spaces", "x") is None
    assert users.authenticate(None, None) is None


def test_password_hash_is_salted_scrypt_with_parameters(db, users):
    db.users.create_user("twin", "agent-pass-1", {"agent"})
    with db.Session() as s:
        a = s.scalar(select(User.password_hash).where(User.name == "1001"))
        b = s.scalar(select(User.password_hash).where(User.name == "twin"))
    assert a != b  # same password, different salts
    scheme, n, r, p, salt, dk = a.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", users_mod.SCRYPT_N, users_mod.SCRYPT_R, users_mod.SCRYPT_P)
    assert "agent-pass-1" not in a
    # the stored parameters are what verification uses: a hash made with other parameters still verifies
    assert users_mod.verify_password("pw-123456", users_mod.hash_password("pw-123456", n=2 ** 10, r=4, p=2))
    assert not users_mod.verify_password("pw-123456", "md5$abc")


def test_disabled_user_refused(users):
    tok = users.issue_token("1001")
    users.set_disabled("1001")
    assert users.authenticate("1001", "agent-pass-1") is None
    assert users.authenticate_token(tok) is None
    users.set_disabled("1001", False)
    assert users.authenticate("1001", "agent-pass-1") is not None
    assert users.authenticate_token(tok) is not None


def test_tokens_shown_once_stored_as_sha256(db, users):
    tok = users.issue_token("ivr", label="ivr process")
    assert tok.startswith("ctid_") and len(tok) > 40
    assert users.authenticate_token(tok) == Principal("ivr", frozenset({"ivr"}), None)
    assert users.authenticate_token(tok + "x") is None
    assert users.authenticate_token("") is None
    with db.Session() as s:
        [row] = s.scalars(select(ApiToken)).all()
        assert row.token_sha256 == hashlib.sha256(tok.encode()).hexdigest()
    with db.engine.connect() as c:  # the token itself is nowhere in the database
        for table in ("api_tokens", "users"):
            for r in c.execute(text(f"SELECT * FROM {table}")):
                assert all(tok not in str(v) for v in r)
    tok2 = users.issue_token("ivr")
    assert tok2 != tok
    assert users.revoke_token(tok) is True
    assert users.authenticate_token(tok) is None and users.authenticate_token(tok2) is not None
    assert users.revoke_tokens("ivr") == 1
    assert users.authenticate_token(tok2) is None


def test_comparisons_are_constant_time(users, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(users_mod.hmac, "compare_digest", spy)
    tok = users.issue_token("1001")
    assert users.authenticate("1001", "agent-pass-1") is not None
    assert len(calls) == 1
    assert users.authenticate("1001", "wrong-pass-1") is None
    assert len(calls) == 2
    assert users.authenticate("nobody", "wrong-pass-1") is None  # unknown users still cost a full scrypt compare
    assert len(calls) == 3
    assert users.authenticate_token(tok) is not None
    assert users.authenticate_token("ctid_wrong") is None
    assert len(calls) == 5


def test_user_management_errors(users):
    with pytest.raises(UserError, match="already exists"):
        users.create_user("1001", "another-pass", {"agent"})
    with pytest.raises(UserError, match="too short"):
        users.create_user("new", "short", {"agent"})
    with pytest.raises(UserError, match="bad user name"):
        users.create_user("a b", "long-enough", {"agent"})
    with pytest.raises(UserError, match="unknown role.*'root'"):
        users.create_user("new", "long-enough", {"root"})
    with pytest.raises(UserError, match="no such user 'ghost'"):
        users.issue_token("ghost")
    with pytest.raises(UserError, match="not an agent"):
        users.set_agent_queues("ivr", ["frontdesk"])
    assert not users.exists("new")


def test_roles_password_and_agent_changes(users):
    users.set_roles("ivr", {"ivr", "monitor"})
    users.set_password("1001", "new-agent-pass")
    users.set_agent_queues("1001", ["frontdesk", "cardiology"])
    assert users.authenticate("ivr", "ivr-pass-12").roles == frozenset({"ivr", "monitor"})
    assert users.authenticate("1001", "agent-pass-1") is None
    assert users.authenticate("1001", "new-agent-pass") is not None
    info = users.get("1001")
    assert info["agent"] and info["extension"] == "analog/0" and info["queues"] == ["cardiology", "frontdesk"]
    assert [u["name"] for u in users.list_users()] == ["1001", "ivr"]
    users.delete_user("1001")
    assert users.get("1001") is None and users.authenticate("1001", "new-agent-pass") is None
