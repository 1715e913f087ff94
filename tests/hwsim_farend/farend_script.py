"""Scenario for the cross-process test: the built-in "calls" scenario with the answering side's patterns as
references (board A plays pattern(1), and pattern(2) after a "2")."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from answerer import pattern  # noqa: E402

from hwsim.exchange import SCENARIOS  # noqa: E402


async def scenario(ctx):
    ctx.references.update({"p1": pattern(1), "p2": pattern(2), "p3": pattern(3)})
    return await SCENARIOS["calls"](ctx)
