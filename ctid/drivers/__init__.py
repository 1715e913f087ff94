"""Board drivers: the driver model and backends found by name (issue 3).

>>> from ctid.drivers import open_board, available_backends
>>> board = open_board("hwsim", 0, world=w)          # the registry is how ctid reaches any backend
>>> block = board.read_block()                       # uint8 [160, nchannels]: 20 ms of every channel
>>> board.write_block(block)
>>> for ev in board.events(): ...                    # AlarmEvent, AbcdEvent, HdlcEvent, HookEvent, ...

See docs/drivers.md.
"""
from .model import (  # noqa: F401
    BLOCK_FRAMES, E1_SLOTS, FRAME_RATE, VOICE_TIMESLOTS, AbcdEvent, Alarm, AlarmEvent, Board, BoardInfo, CableEvent,
    Channel, DriverError, Event, FlashEvent, HdlcEvent, HookEvent, OverrunEvent, PolarityEvent, PortEvent, PortKind,
    PortState, RingEvent, Signalling, Span, SpanConfig, SpanEvent, SpanStatus,
)
from .registry import (  # noqa: F401
    BUILTIN_BACKENDS, ENTRY_POINT_GROUP, available_backends, backend_origin, get_backend, open_board, refresh,
    register_backend, unregister_backend,
)


def watch_board(reactor, board, callback):
    """Call ``callback(event)`` from ``reactor`` for each event of ``board`` (see :mod:`ctid.drivers.watch`)."""
    from .watch import watch_board as _watch

    return _watch(reactor, board, callback)


def Pacer(world, clock=None, **kw):  # noqa: N802 - a factory that reads like the class
    """A real-time pacer ticking ``world`` every 20 ms of ``clock`` (see :mod:`ctid.drivers.clock`)."""
    from .clock import Pacer as _Pacer

    return _Pacer(world, clock, **kw)
