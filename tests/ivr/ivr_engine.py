"""The Engine test double of tests/cti (cti_doubles.FakeEngine), with a scripted caller's keys for the IVR tests."""
from __future__ import annotations

import os
import sys

_CTI_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cti")
if _CTI_TESTS not in sys.path:
    sys.path.insert(0, _CTI_TESTS)

from cti_doubles import FakeEngine, demo_users  # noqa: E402

__all__ = ["ScriptedEngine", "demo_users"]


class ScriptedEngine(FakeEngine):
    """FakeEngine whose collects answer with the caller's next key ("" = timeout); `on_call_end(op)` is called
    after a transfer or hang-up is recorded (the IVR's last op of a call)."""

    def __init__(self, clock=None):
        super().__init__(clock)
        self.keys: list[str] = []
        self.on_call_end = None

    def collect(self, channel, **kw):
        k = self.keys.pop(0) if self.keys else ""
        self.collect_result = {"digits": k, "reason": "max" if k else "timeout", "tries": 1}
        return super().collect(channel, **kw)

    def _rec(self, name, *a, **kw):
        super()._rec(name, *a, **kw)
        if self.on_call_end is not None and name in ("transfer", "hangup"):
            self.on_call_end(name)
