"""Login for the CTI server: principals, the user store call, and login throttling (spec section 6)."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

ROLES = frozenset({"admin", "supervisor", "ivr", "agent", "monitor"})


@dataclass(frozen=True)
class Session:
    """Who a connection is logged in as: a copy of the store's principal with the roles ctid knows.

    `view` is what the session may see, fixed at login: "all" (admin, supervisor, ivr), "masked" (monitor:
    numbers masked) or "agent" (own agent and calls only).
    """

    user: str
    roles: frozenset
    agent: str | None
    view: str = field(init=False)

    def __post_init__(self):
        if self.roles & {"admin", "supervisor", "ivr"}:
            view = "all"
        elif "monitor" in self.roles:
            view = "masked"
        else:
            view = "agent"
        object.__setattr__(self, "view", view)

    @classmethod
    def from_principal(cls, principal) -> "Session":
        roles = frozenset(str(r) for r in getattr(principal, "roles", ()) or ()) & ROLES
        agent = getattr(principal, "agent", None)
        return cls(user=str(principal.user), roles=roles, agent=None if agent is None else str(agent))

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def masked(self) -> bool:
        return self.view == "masked"

    @property
    def agent_only(self) -> bool:
        return self.view == "agent"


class ConnectionThrottle:
    """Per connection: after the n-th failure, refuse for min(2**(n-1), 30) s; close after `close_after`."""

    def __init__(self, clock, cap: float = 30.0, close_after: int = 10):
        self.clock = clock
        self.cap = cap
        self.close_after = close_after
        self.failures = 0
        self.blocked_until = 0.0

    def wait(self) -> float:
        """Seconds until the next attempt is allowed (0 when it is)."""
        return max(0.0, self.blocked_until - self.clock.seconds())

    def failed(self) -> bool:
        """Record a failure; True when the connection must now be closed."""
        self.failures += 1
        self.blocked_until = self.clock.seconds() + min(2.0 ** (self.failures - 1), self.cap)
        return self.failures >= self.close_after

    def succeeded(self) -> None:
        self.failures = 0
        self.blocked_until = 0.0


class UserThrottle:
    """Per user name: `limit` failures within `window` s lock password logins for `lockout` s."""

    def __init__(self, clock, limit: int = 10, window: float = 300.0, lockout: float = 300.0,
                 max_users: int = 100000):
        self.clock = clock
        self.limit = limit
        self.window = window
        self.lockout = lockout
        self.max_users = max_users
        self._failures: dict[str, deque] = {}
        self._locked: dict[str, float] = {}

    def locked_for(self, user: str) -> float:
        until = self._locked.get(user)
        if until is None:
            return 0.0
        left = until - self.clock.seconds()
        if left <= 0:
            del self._locked[user]
            return 0.0
        return left

    def failed(self, user: str) -> None:
        now = self.clock.seconds()
        q = self._failures.get(user)
        if q is None:
            if len(self._failures) >= self.max_users:   # bound memory against user-name spraying
                self._prune(now)
                if len(self._failures) >= self.max_users:
                    self._failures.pop(next(iter(self._failures)))
            q = self._failures[user] = deque()
        q.append(now)
        while q and q[0] <= now - self.window:
            q.popleft()
        if len(q) >= self.limit:
            self._locked[user] = now + self.lockout
            q.clear()

    def succeeded(self, user: str) -> None:
        self._failures.pop(user, None)

    def _prune(self, now: float) -> None:
        for user in [u for u, q in self._failures.items() if not q or q[-1] <= now - self.window]:
            del self._failures[user]
