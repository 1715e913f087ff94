"""The driver model: boards, spans, channels and their events, independent of any vendor SDK.

A backend (hwsim, or a wrapper of DAHDI, Synway SHP, Donjin, Dialogic) subclasses :class:`Board` and
implements its primitive methods (the ones marked abstract); :class:`Span` and :class:`Channel` are generic
views over those primitives, so every backend presents the same objects.

Block layout (the same for every backend): a block is 20 ms = :data:`BLOCK_FRAMES` (160) frames of every
channel of the board, a numpy ``uint8`` array of shape ``[160, nchannels]`` (frame-interleaved, A-law).
Channel numbering: span ``s`` timeslot ``t`` is channel ``s * 32 + t`` (TS0 and TS16 included, so a span's
32 columns are exactly its E1 frame); analogue port ``p`` is channel ``nspans * 32 + p``.
"""
from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

BLOCK_FRAMES = 160          # frames per block: 20 ms at 8000 frames/s (G.704 E1 frame rate)
FRAME_RATE = 8000
E1_SLOTS = 32               # G.704: 32 timeslots per E1 frame
VOICE_TIMESLOTS = tuple(t for t in range(1, 32) if t != 16)   # TS0 framing, TS16 signalling


class DriverError(Exception):
    """A driver call failed; the message names the call, the board/span/channel and the reason.

    ``code`` is the backend's error code (negative for hwsim), ``call`` the SDK function that failed,
    ``detail`` the SDK's own detailed message (for hwsim: ``hwsim_last_error()``).
    """

    def __init__(self, message: str, *, code: int | None = None, call: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.code = code
        self.call = call
        self.detail = detail


class Signalling(str, enum.Enum):
    """What TS16 of an E1 span carries."""

    CAS = "cas"       # G.704 5.1.3: CAS multiframe, ABCD bits for 30 channels (China No.1, R2)
    CCS = "ccs"       # a 64 kbit/s HDLC link (SS7 MTP2, ISDN D channel)
    CLEAR = "clear"   # a bearer channel like the others

    @classmethod
    def parse(cls, value) -> "Signalling":
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise DriverError(f"signalling mode {value!r}: use one of {', '.join(m.value for m in cls)}") from None


class PortKind(str, enum.Enum):
    FXS = "fxs"       # the board powers a telephone: it rings it, sees its hook
    FXO = "fxo"       # the board is a telephone on an exchange line: it sees ringing, goes off hook

    @classmethod
    def parse(cls, value) -> "PortKind":
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise DriverError(f"port kind {value!r}: use 'fxs' or 'fxo'") from None


class Alarm(enum.IntFlag):
    """E1 receive alarms (G.775 LOS/AIS, G.706 LOF and multiframe alignment, G.704 RAI)."""

    NONE = 0
    LOS = 1           # loss of signal
    LOF = 2           # loss of frame alignment
    AIS = 4           # alarm indication signal (all ones)
    RAI = 8           # remote alarm indication (NFAS A bit)
    LOMF = 16         # loss of CAS multiframe alignment
    LOCRC = 32        # loss of CRC-4 multiframe alignment

    def names(self) -> list[str]:
        return [a.name for a in Alarm if a and a in self]


@dataclass(frozen=True)
class SpanConfig:
    crc4: bool = False
    signalling: Signalling = Signalling.CAS

    def __post_init__(self):
        object.__setattr__(self, "signalling", Signalling.parse(self.signalling))
        if not isinstance(self.crc4, (bool, int, np.bool_)) or int(self.crc4) not in (0, 1):
            raise DriverError(f"crc4 must be True or False, not {self.crc4!r}")
        object.__setattr__(self, "crc4", bool(self.crc4))


@dataclass(frozen=True)
class SpanStatus:
    alarms: Alarm
    crc_errors: int = 0
    fas_errors: int = 0
    slips: int = 0
    hdlc_good: int = 0
    hdlc_bad_fcs: int = 0
    hdlc_aborts: int = 0
    bit_errors_injected: int = 0
    hdlc_filtered: int = 0      # repeated FISUs/LSSUs the board's receive filter counted instead of delivering

    @property
    def up(self) -> bool:
        """Frame alignment held and a signal present."""
        return not (self.alarms & (Alarm.LOS | Alarm.LOF | Alarm.AIS))


@dataclass(frozen=True)
class PortState:
    offhook: bool
    ringing: bool
    reversed: bool


@dataclass(frozen=True)
class BoardInfo:
    board_id: int
    nspans: int
    port_kinds: tuple[PortKind, ...]
    serial: str = ""
    model: str = ""

    @property
    def nports(self) -> int:
        return len(self.port_kinds)

    @property
    def nchannels(self) -> int:
        return self.nspans * E1_SLOTS + self.nports


# ------------------------------------------------------------------------------------------------- events

@dataclass(frozen=True, slots=True)
class Event:
    """An event from a board. ``t_frame`` is the board clock in frames (8000 per second)."""

    t_frame: int
    board_id: int

    @property
    def t_ms(self) -> float:
        return self.t_frame * 1000.0 / FRAME_RATE


@dataclass(frozen=True, slots=True)
class SpanEvent(Event):
    span: int


@dataclass(frozen=True, slots=True)
class AlarmEvent(SpanEvent):
    alarms: Alarm


@dataclass(frozen=True, slots=True)
class CableEvent(SpanEvent):
    connected: bool


@dataclass(frozen=True, slots=True)
class AbcdEvent(SpanEvent):
    timeslot: int
    abcd: int


@dataclass(frozen=True, slots=True)
class HdlcEvent(SpanEvent):
    """A good frame received (FCS checked and removed by the board) on a timeslot."""

    timeslot: int
    frame: bytes


@dataclass(frozen=True, slots=True)
class PortEvent(Event):
    port: int


@dataclass(frozen=True, slots=True)
class HookEvent(PortEvent):
    offhook: bool


@dataclass(frozen=True, slots=True)
class RingEvent(PortEvent):
    on: bool


@dataclass(frozen=True, slots=True)
class PolarityEvent(PortEvent):
    reversed: bool


@dataclass(frozen=True, slots=True)
class FlashEvent(PortEvent):
    pass


@dataclass(frozen=True, slots=True)
class OverrunEvent(Event):
    """The board's event queue overflowed: ``lost`` events were dropped (resynchronise state by polling)."""

    lost: int


# ------------------------------------------------------------------------------------------------- objects

class Board(ABC):
    """One board: spans and analogue ports, whole-block audio, signalling, and one event stream.

    Subclasses implement the abstract primitives; everything else is generic. A board is a context manager
    (``close()`` on exit).
    """

    backend: str = "?"
    capabilities: frozenset[str] = frozenset()

    def __init__(self, info: BoardInfo):
        self.info = info
        self.board_id = info.board_id
        self.nchannels = info.nchannels
        self.block_shape = (BLOCK_FRAMES, self.nchannels)
        self.spans = [Span(self, s) for s in range(info.nspans)]
        self.ports = [Channel(self, info.nspans * E1_SLOTS + p) for p in range(info.nports)]

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.backend}:{self.board_id} spans={self.info.nspans} "
                f"ports={[k.value for k in self.info.port_kinds]}>")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- channels
    def channel(self, number: int) -> "Channel":
        """The channel with this board channel number (span*32 + timeslot, or nspans*32 + port)."""
        if not isinstance(number, (int, np.integer)) or not 0 <= number < self.nchannels:
            raise DriverError(f"board {self.board_id}: channel {number!r} out of range (0..{self.nchannels - 1})")
        n = int(number)
        if n >= self.info.nspans * E1_SLOTS:
            return self.ports[n - self.info.nspans * E1_SLOTS]
        return Channel(self, n)

    def check_timeslot(self, span: int, timeslot: int) -> None:
        if not isinstance(span, (int, np.integer)) or not 0 <= span < self.info.nspans:
            raise DriverError(f"board {self.board_id}: span {span!r} out of range (the board has "
                              f"{self.info.nspans} span{'s' if self.info.nspans != 1 else ''})")
        if not isinstance(timeslot, (int, np.integer)) or not 0 <= timeslot < E1_SLOTS:
            raise DriverError(f"board {self.board_id} span {span}: timeslot {timeslot!r} out of range (0..31)")

    def check_block(self, arr) -> np.ndarray:
        """Validate a block for :meth:`write_block`: ``uint8`` ``[160, nchannels]``, C-contiguous."""
        if not isinstance(arr, np.ndarray):
            raise DriverError(f"board {self.board_id}: a block must be a numpy uint8 array of shape "
                              f"{self.block_shape}, not {type(arr).__name__}")
        if arr.dtype != np.uint8:
            raise DriverError(f"board {self.board_id}: block dtype {arr.dtype}, expected uint8 (A-law codes)")
        if arr.shape != self.block_shape:
            raise DriverError(f"board {self.board_id}: block of shape {arr.shape}, expected {self.block_shape} "
                              f"({BLOCK_FRAMES} frames x {self.nchannels} channels: {self.info.nspans} spans x 32 "
                              f"timeslots + {self.info.nports} ports)")
        return np.ascontiguousarray(arr)

    def new_block(self, fill: int = 0xD5) -> np.ndarray:
        """A block of this board's shape filled with ``fill`` (A-law 0xD5 = silence, G.711)."""
        return np.full(self.block_shape, fill, dtype=np.uint8)

    # --- primitives every backend implements
    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def read_block(self, out: np.ndarray | None = None) -> np.ndarray:
        """The last 20 ms received on every channel: ``uint8 [160, nchannels]`` (into ``out`` if given)."""

    @abstractmethod
    def write_block(self, block: np.ndarray) -> None:
        """What to send on every channel in the next 20 ms (TS0, and TS16 in CAS/CCS mode, are the framer's)."""

    @abstractmethod
    def fileno(self) -> int:
        """A file descriptor that becomes readable when events are pending (for a reactor)."""

    @abstractmethod
    def poll_event(self) -> Event | None:
        """The next event, or None."""

    @abstractmethod
    def configure_span(self, span: int, config: SpanConfig) -> None: ...

    @abstractmethod
    def span_config(self, span: int) -> SpanConfig: ...

    @abstractmethod
    def span_status(self, span: int) -> SpanStatus: ...

    @abstractmethod
    def set_abcd(self, span: int, timeslot: int, abcd: int) -> None: ...

    @abstractmethod
    def get_abcd(self, span: int, timeslot: int) -> int | None:
        """Received ABCD (0..15), or None if nothing received yet."""

    @abstractmethod
    def hdlc_enable(self, span: int, timeslot: int, on: bool = True) -> None: ...

    @abstractmethod
    def hdlc_send(self, span: int, timeslot: int, frame: bytes) -> None: ...

    @abstractmethod
    def hdlc_recv(self, span: int, timeslot: int) -> bytes | None:
        """The next good frame received (FCS removed), or None."""

    @abstractmethod
    def port_ring(self, port: int, on: bool) -> None: ...

    @abstractmethod
    def port_polarity(self, port: int, reversed: bool) -> None: ...

    @abstractmethod
    def port_hook(self, port: int, offhook: bool) -> None: ...

    @abstractmethod
    def port_flash(self, port: int) -> None: ...

    @abstractmethod
    def port_state(self, port: int) -> PortState: ...

    # --- optional (backends without a switch raise)
    def connect(self, dst_channel: int, src_board: int, src_channel: int) -> None:
        raise DriverError(f"{self.backend} board {self.board_id}: no timeslot switching")

    def disconnect(self, dst_channel: int) -> None:
        raise DriverError(f"{self.backend} board {self.board_id}: no timeslot switching")

    # --- generic
    def events(self) -> list[Event]:
        """Drain every pending event."""
        out = []
        while (ev := self.poll_event()) is not None:
            out.append(ev)
        return out

    def __iter__(self) -> Iterator["Channel"]:
        for sp in self.spans:
            yield from sp.channels
        yield from self.ports


class Span:
    """An E1 span of a board (a generic view over the board's primitives)."""

    def __init__(self, board: Board, index: int):
        self.board = board
        self.index = index
        self.base = index * E1_SLOTS

    def __repr__(self) -> str:
        return f"<Span {self.board.board_id}/{self.index}>"

    def configure(self, crc4: bool | None = None, signalling=None) -> None:
        cur = self.config
        self.board.configure_span(self.index, SpanConfig(cur.crc4 if crc4 is None else crc4,
                                                          cur.signalling if signalling is None else signalling))

    @property
    def config(self) -> SpanConfig:
        return self.board.span_config(self.index)

    def status(self) -> SpanStatus:
        return self.board.span_status(self.index)

    @property
    def alarms(self) -> Alarm:
        return self.status().alarms

    def timeslot(self, ts: int) -> "Channel":
        self.board.check_timeslot(self.index, ts)
        return Channel(self.board, self.base + ts)

    @property
    def channels(self) -> list["Channel"]:
        """The bearer channels: TS1..15 and 17..31, plus TS16 when it is a clear channel."""
        clear = self.config.signalling == Signalling.CLEAR
        return [Channel(self.board, self.base + t) for t in range(1, 32) if t != 16 or clear]

    def columns(self, block: np.ndarray) -> np.ndarray:
        """This span's 32 columns of a block (a view): exactly its E1 frames."""
        return block[:, self.base:self.base + E1_SLOTS]

    # signalling link on TS16 (CCS)
    def hdlc_send(self, frame: bytes, timeslot: int = 16) -> None:
        self.board.hdlc_send(self.index, timeslot, frame)

    def hdlc_recv(self, timeslot: int = 16) -> bytes | None:
        return self.board.hdlc_recv(self.index, timeslot)


class Channel:
    """A timeslot of a span or an analogue port: audio in and out through the board's blocks, ABCD bits,
    HDLC, or hook/ring/polarity/flash."""

    def __init__(self, board: Board, number: int):
        self.board = board
        self.number = number
        nspan_ch = board.info.nspans * E1_SLOTS
        if number < nspan_ch:
            self.span: int | None = number // E1_SLOTS
            self.timeslot: int | None = number % E1_SLOTS
            self.port: int | None = None
            self.kind = "e1"
        else:
            self.span = self.timeslot = None
            self.port = number - nspan_ch
            self.kind = board.info.port_kinds[self.port].value

    def __repr__(self) -> str:
        where = f"span {self.span} ts {self.timeslot}" if self.port is None else f"port {self.port} {self.kind}"
        return f"<Channel {self.board.board_id}:{self.number} {where}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Channel) and other.board is self.board and other.number == self.number

    def __hash__(self) -> int:
        return hash((id(self.board), self.number))

    # audio: a column of the board's block (no per-frame Python)
    def audio(self, block: np.ndarray) -> np.ndarray:
        """This channel's 160 A-law codes in a block (a view)."""
        return block[:, self.number]

    def put_audio(self, block: np.ndarray, codes) -> None:
        block[:, self.number] = codes

    # CAS
    def _e1(self, what: str) -> None:
        if self.port is not None:
            raise DriverError(f"board {self.board.board_id} channel {self.number} is analogue port {self.port}: "
                              f"no {what}")

    def _analogue(self, what: str) -> None:
        if self.port is None:
            raise DriverError(f"board {self.board.board_id} channel {self.number} is span {self.span} timeslot "
                              f"{self.timeslot}, not an analogue port: no {what}")

    def set_abcd(self, abcd: int) -> None:
        self._e1("ABCD bits")
        self.board.set_abcd(self.span, self.timeslot, abcd)

    def get_abcd(self) -> int | None:
        self._e1("ABCD bits")
        return self.board.get_abcd(self.span, self.timeslot)

    # HDLC
    def hdlc_enable(self, on: bool = True) -> None:
        self._e1("HDLC")
        self.board.hdlc_enable(self.span, self.timeslot, on)

    def hdlc_send(self, frame: bytes) -> None:
        self._e1("HDLC")
        self.board.hdlc_send(self.span, self.timeslot, frame)

    def hdlc_recv(self) -> bytes | None:
        self._e1("HDLC")
        return self.board.hdlc_recv(self.span, self.timeslot)

    # analogue
    def ring(self, on: bool = True) -> None:
        self._analogue("ringing")
        self.board.port_ring(self.port, on)

    def polarity(self, reversed: bool) -> None:
        self._analogue("polarity")
        self.board.port_polarity(self.port, reversed)

    def hook(self, offhook: bool) -> None:
        self._analogue("hook")
        self.board.port_hook(self.port, offhook)

    def flash(self) -> None:
        self._analogue("flash")
        self.board.port_flash(self.port)

    def state(self) -> PortState:
        self._analogue("port state")
        return self.board.port_state(self.port)


def port_kinds_of(kinds: Iterable | None) -> tuple[PortKind, ...]:
    return tuple(PortKind.parse(k) for k in (kinds or ()))


def span_configs(value, nspans: int) -> Sequence[SpanConfig | None]:
    """Normalise a ``span_config`` option: one config for all spans, a list, or a {span: config} dict."""
    def one(v):
        if v is None or isinstance(v, SpanConfig):
            return v
        if isinstance(v, dict):
            return SpanConfig(**v)
        if isinstance(v, str):
            return SpanConfig(signalling=v)
        raise DriverError(f"span config {v!r}: give a SpanConfig, a dict or a signalling name")

    if value is None:
        return [None] * nspans
    if isinstance(value, (SpanConfig, str)) or (isinstance(value, dict) and not all(isinstance(k, int) for k in value)):
        return [one(value)] * nspans
    if isinstance(value, dict):
        out = [None] * nspans
        for k, v in value.items():
            if not 0 <= k < nspans:
                raise DriverError(f"span config for span {k}: the board has {nspans} spans")
            out[k] = one(v)
        return out
    vals = list(value)
    if len(vals) != nspans:
        raise DriverError(f"span config: {len(vals)} entries for {nspans} spans")
    return [one(v) for v in vals]


__all__ = [
    "BLOCK_FRAMES", "FRAME_RATE", "E1_SLOTS", "VOICE_TIMESLOTS", "DriverError", "Signalling", "PortKind", "Alarm",
    "SpanConfig", "SpanStatus", "PortState", "BoardInfo", "Event", "SpanEvent", "AlarmEvent", "CableEvent",
    "AbcdEvent", "HdlcEvent", "PortEvent", "HookEvent", "RingEvent", "PolarityEvent", "FlashEvent", "OverrunEvent",
    "Board", "Span", "Channel",
]
