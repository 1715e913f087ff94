"""Trunk adapters: configured trunks -> channels in the common state model (see base.py)."""
from __future__ import annotations

from .base import STATES, Trunk, TrunkChannel, cause_text

KINDS = {"ss7": "ctid.core.trunks.ss7:Ss7Trunk", "china1": "ctid.core.trunks.china1:No1Trunk",
         "analog": "ctid.core.trunks.analog:AnalogTrunk"}


def make_trunk(cfg, board, runtime, clock) -> Trunk:
    """The adapter for ``cfg.signalling`` (a ``ctid.config.TrunkConfig``) on ``board`` / ``runtime``."""
    import importlib
    mod, _, cls = KINDS[cfg.signalling].partition(":")
    return getattr(importlib.import_module(mod), cls)(cfg, board, runtime, clock)


__all__ = ["STATES", "Trunk", "TrunkChannel", "cause_text", "make_trunk"]
