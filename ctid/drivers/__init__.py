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


def __getattr__(name):
    """Twisted-based helpers, imported on first use (``ctid.drivers`` itself does not need Twisted)."""
    if name == "Pacer":
        from .clock import Pacer

        return Pacer
    if name in ("watch_board", "BoardReader"):
        from . import watch

        return getattr(watch, name)
    raise AttributeError(f"module 'ctid.drivers' has no attribute {name!r}")
