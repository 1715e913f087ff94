"""Users, roles and API tokens: the CTI server's authentication source.

Passwords are hashed with scrypt (``hashlib.scrypt``), a random 16-byte salt per user, and the parameters stored
with the hash (``scrypt$n$r$p$salt$hash``, base64) so that they can be raised later without breaking old hashes.
API tokens are random (``ctid_`` + 43 URL-safe characters), shown once when issued; only their SHA-256 is stored.
Every comparison of secrets uses :func:`hmac.compare_digest`; an unknown user costs the same scrypt work as a known
one, so response times do not tell which user names exist.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select

from .models import Agent, ApiToken, Queue, User

SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
MIN_PASSWORD = 8
TOKEN_PREFIX = "ctid_"
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


class UserError(ValueError):
    """A bad user operation (unknown user, bad name, weak password, unknown role); the message says which."""


@dataclass(frozen=True)
class Principal:
    """Who is authenticated: the user name, their roles, and their agent id (the user name) if they are an agent."""

    user: str
    roles: frozenset[str]
    agent: str | None


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=SCRYPT_DKLEN,
                        maxmem=256 * n * r + (1 << 20))
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(dk)}"


def verify_password(password: str, stored: str) -> bool:
    """True if ``password`` matches the stored scrypt hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, want = stored.split("$")
        if scheme != "scrypt":
            return False
        n, r, p = int(n), int(r), int(p)
        salt_b, want_b = base64.b64decode(salt), base64.b64decode(want)
    except (ValueError, TypeError):
        return False
    dk = hashlib.scrypt(password.encode("utf-8"), salt=salt_b, n=n, r=r, p=p, dklen=len(want_b),
                        maxmem=256 * n * r + (1 << 20))
    return hmac.compare_digest(dk, want_b)


# A hash of a random password: checked against when the user does not exist, to spend the same time.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _principal(u: User) -> Principal:
    return Principal(user=u.name, roles=u.roles, agent=u.name if u.agent is not None else None)


class UserStore:
    """Users in the database (blocking methods; from the reactor use ``db.run(store.method, ...)``)."""

    def __init__(self, db):
        self.db = db

    # -- management ---------------------------------------------------------------------------------------------
    @staticmethod
    def _check_name(name: str) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise UserError(f"bad user name {name!r}: 1-64 characters of letters, digits, '_', '.', '@', '-'")

    @staticmethod
    def _check_password(name: str, password: str) -> None:
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise UserError(f"password for {name!r} is too short: at least {MIN_PASSWORD} characters")

    @staticmethod
    def _get(s, name: str) -> User:
        u = s.scalar(select(User).where(User.name == name))
        if u is None:
            raise UserError(f"no such user {name!r}")
        return u

    def create_user(self, name: str, password: str, roles: Iterable[str], agent: bool = False, *,
                    extension: str | None = None, queues: Iterable[str] = (), display_name: str = "") -> str:
        """Create a user; ``agent=True`` also makes them an agent (agent id = user name) in ``queues``."""
        self._check_name(name)
        self._check_password(name, password)
        roles = frozenset(roles)
        try:
            u = User(name=name, display_name=display_name, password_hash=hash_password(password))
            u.roles = roles
        except ValueError as e:
            raise UserError(f"user {name!r}: {e}") from None
        with self.db.session() as s:
            if s.scalar(select(User.id).where(User.name == name)) is not None:
                raise UserError(f"user {name!r} already exists")
            s.add(u)
            if agent:
                s.add(Agent(user=u, extension=extension, queues=self._queues(s, queues)))
        return name

    @staticmethod
    def _queues(s, names: Iterable[str]) -> list[Queue]:
        out = []
        for qn in names:
            q = s.scalar(select(Queue).where(Queue.name == qn))
            if q is None:
                q = Queue(name=qn)
                s.add(q)
            out.append(q)
        return out

    def set_password(self, name: str, password: str) -> None:
        self._check_password(name, password)
        with self.db.session() as s:
            self._get(s, name).password_hash = hash_password(password)

    def set_roles(self, name: str, roles: Iterable[str]) -> None:
        with self.db.session() as s:
            u = self._get(s, name)
            try:
                u.roles = roles
            except ValueError as e:
                raise UserError(f"user {name!r}: {e}") from None

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        with self.db.session() as s:
            self._get(s, name).disabled = bool(disabled)

    def set_agent_queues(self, name: str, queues: Iterable[str]) -> None:
        with self.db.session() as s:
            u = self._get(s, name)
            if u.agent is None:
                raise UserError(f"user {name!r} is not an agent")
            u.agent.queues = self._queues(s, queues)

    def delete_user(self, name: str) -> None:
        with self.db.session() as s:
            s.delete(self._get(s, name))

    def get(self, name: str) -> dict[str, Any] | None:
        with self.db.Session() as s:
            u = s.scalar(select(User).where(User.name == name))
            return None if u is None else self._info(u)

    def list_users(self) -> list[dict[str, Any]]:
        with self.db.Session() as s:
            return [self._info(u) for u in s.scalars(select(User).order_by(User.name))]

    @staticmethod
    def _info(u: User) -> dict[str, Any]:
        return {
            "name": u.name, "display_name": u.display_name, "roles": sorted(u.roles), "disabled": u.disabled,
            "agent": u.agent is not None,
            "extension": u.agent.extension if u.agent is not None else None,
            "queues": sorted(q.name for q in u.agent.queues) if u.agent is not None else [],
        }

    def exists(self, name: str) -> bool:
        with self.db.Session() as s:
            return s.scalar(select(User.id).where(User.name == name)) is not None

    # -- tokens -------------------------------------------------------------------------------------------------
    def issue_token(self, user: str, label: str = "") -> str:
        """A new API token for ``user``. Returned once: only its SHA-256 is stored."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as s:
            u = self._get(s, user)
            s.add(ApiToken(user=u, token_sha256=token_digest(token), label=label))
        return token

    def revoke_token(self, token: str) -> bool:
        with self.db.session() as s:
            t = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))
            if t is None:
                return False
            t.revoked = True
            return True

    def revoke_tokens(self, user: str) -> int:
        with self.db.session() as s:
            u = self._get(s, user)
            n = 0
            for t in u.tokens:
                if not t.revoked:
                    t.revoked = True
                    n += 1
            return n

    # -- authentication -----------------------------------------------------------------------------------------
    def authenticate(self, user: str, password: str) -> Principal | None:
        """The principal for a right user name and password of an enabled user, else None."""
        if not isinstance(user, str) or not isinstance(password, str):
            return None
        with self.db.Session() as s:
            u = s.scalar(select(User).where(User.name == user)) if _NAME.match(user) else None
            if u is None:
                verify_password(password, _DUMMY_HASH)
                return None
            ok = verify_password(password, u.password_hash)
            if not ok or u.disabled:
                return None
            return _principal(u)

    def authenticate_token(self, token: str) -> Principal | None:
        """The principal of an API token that exists, is not revoked and belongs to an enabled user, else None."""
        if not isinstance(token, str) or not token:
            return None
        digest = token_digest(token)
        with self.db.Session() as s:
            t = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
            stored = t.token_sha256 if t is not None else "0" * 64
            if not hmac.compare_digest(stored.encode("ascii"), digest.encode("ascii")) or t is None:
                return None
            if t.revoked or t.user.disabled:
                return None
            return _principal(t.user)
