"""From a configuration to running boards, media runtimes and the Engine (what the daemon calls).

```python
cfg = load_config(path)
boards = open_boards(cfg)                                  # driver registry, span signalling from the trunks
runtimes = make_runtimes(boards, reactor, run_io=...)      # one BoardRuntime per board, ticking
engine = Engine.from_config(cfg, boards, runtimes, reactor, renderer=..., cdr_sink=...,
                            recordings_dir=cfg.daemon.recordings_dir)
```
"""
from __future__ import annotations

from ctid.config import ConfigError
from ctid.drivers import DriverError, open_board


def open_boards(cfg, **driver_kw) -> dict:
    """Open every configured board with TS16 of each span set from its trunk (SS7: ``ccs``, China No.1 and
    spans without a trunk: ``cas``). ``driver_kw`` goes to every ``open_board`` (hwsim: ``world=``).
    The board found must match the configuration (spans, port kinds): ConfigError otherwise."""
    boards = {}
    try:
        for i, b in enumerate(cfg.boards):
            sig = cfg.span_signalling(b.id)
            kw = dict(b.options)
            kw.update(driver_kw)
            if b.driver == "hwsim":
                kw.setdefault("spans", b.spans)
                kw.setdefault("ports", list(b.ports))
            if b.spans:
                kw["span_config"] = [sig.get(s, "cas") for s in range(b.spans)]
            try:
                board = open_board(b.driver, b.id, **kw)
            except DriverError as exc:
                raise ConfigError(f"boards[{i}]: board {b.id} ({b.driver}) cannot be opened: {exc}") from None
            info = board.info
            if info.nspans != b.spans:
                board.close()
                raise ConfigError(f"boards[{i}].spans: {b.spans}, but board {b.id} has {info.nspans} spans")
            kinds = [k.value for k in info.port_kinds]
            if kinds[:len(b.ports)] != list(b.ports):
                board.close()
                raise ConfigError(f"boards[{i}].ports: {b.ports!r}, but board {b.id} has ports {kinds!r}")
            boards[b.id] = board
    except Exception:
        for board in boards.values():
            board.close()
        raise
    return boards


def make_runtimes(boards: dict, clock, pacer=None, run_io=None) -> dict:
    """One started ``BoardRuntime`` per board: ticked after each block of ``pacer`` (a simulated world) or
    every 20 ms of ``clock``. ``run_io(fn) -> Deferred`` runs slow file work (recordings' fsync) off the
    reactor thread (the daemon: a thread pool)."""
    from ctid.media.runtime import BoardRuntime
    rts = {}
    for bid, board in boards.items():
        rt = BoardRuntime(board, clock, run_io=run_io)
        if pacer is not None:
            rt.attach(pacer)
        else:
            rt.start()
        rts[bid] = rt
    return rts
