"""The per-board media runtime: one 20 ms tick per board, everything batched.

A :class:`BoardRuntime` is the only code that calls ``read_block`` / ``write_block`` / ``events()`` on its board.
Each tick (:meth:`BoardRuntime.tick`, driven by ``ctid.drivers.Pacer`` or a ``LoopingCall`` on the injected clock):

1. drain the driver's events -> every handler added with :meth:`add_event_handler` (signalling runners);
2. ``read_block`` (the last 20 ms of every channel);
3. one ``Bank.process`` on the received block (one bank for the board, per-channel detector masks) -> each
   channel's DTMF handling and ``on_tone`` callback (detection comes before the media tick so that what an event
   makes a channel send, e.g. an MF register's next signal or a barge-in, goes out in this tick's block);
4. one native media tick for every channel (``ctid_media_tick``: record capture, received power, conference sums,
   play queues and tones, MFC R2 register signals included, into the transmit block) -> media events (play done,
   record high-water/max/silence) to the channels that own them;
5. tick hooks (``fn(rx_block)``);
6. per-channel Python sources, only for channels that set one (none in the daemon's own paths);
7. ``write_block``.

No Python runs per channel per tick except for channels with a source and for channels that have events.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np
from twisted.internet import defer

from ctid.drivers.model import BLOCK_FRAMES, PortEvent
from ctid.dsp import Bank
from ctid.dsp._native import ffi, lib

from .channel import MediaChannel, MediaError

log = logging.getLogger("ctid.media")

#: phases of :meth:`BoardRuntime.tick` measured by :meth:`BoardRuntime.enable_profile`
PHASES = ("driver", "media_native", "media_events", "detect_native", "detect_events")

MEDIA_EVENT_DTYPE = np.dtype([("t_sample", "<u8"), ("channel", "<u4"), ("type", "<i4"), ("value", "<i4"),
                              ("aux", "<i4")])
assert MEDIA_EVENT_DTYPE.itemsize == ffi.sizeof("ctid_media_event_t")

EV_SEG_DONE = lib.CTID_MEDIA_EV_SEG_DONE
EV_PLAY_DONE = lib.CTID_MEDIA_EV_PLAY_DONE
EV_TONE_DONE = lib.CTID_MEDIA_EV_TONE_DONE
EV_REC_HIGH = lib.CTID_MEDIA_EV_REC_HIGH
EV_REC_MAX = lib.CTID_MEDIA_EV_REC_MAX
EV_REC_SILENCE = lib.CTID_MEDIA_EV_REC_SILENCE
EV_REC_OVERFLOW = lib.CTID_MEDIA_EV_REC_OVERFLOW


def native_check(rc: int, what: str) -> int:
    if rc < 0:
        raise MediaError(f"{what}: {ffi.string(lib.ctid_strerror(rc)).decode()} (code {rc})")
    return rc


class Conference:
    """A native N-party mix on one board: each member that listens hears the sum of the other talkers.

    ``talk=False`` makes a member listen only (silent monitoring); ``listen=False`` makes it talk only (its
    transmit path is left to play/tone/silence); ``whisper_to=member`` with ``talk=False`` makes it heard by that
    member alone (a supervisor coaching an agent: the caller does not hear it). Members join and leave at tick
    boundaries. Supervisor modes: monitor ``add(sup, talk=False)``, whisper ``add(sup, talk=False,
    whisper_to=agent)``, barge ``add(sup)``.
    """

    def __init__(self, runtime: "BoardRuntime", conf_id: int):
        self.runtime = runtime
        self.id = conf_id
        self.members: dict[int, tuple[bool, bool]] = {}
        self.closed = False

    def add(self, mc: MediaChannel, talk: bool = True, listen: bool = True,
            whisper_to: MediaChannel | None = None) -> None:
        if whisper_to is not None and (not isinstance(whisper_to, MediaChannel) or whisper_to.number not in
                                       self.members or whisper_to is mc):
            raise MediaError(f"conference {self.id}: whisper_to must be another member of the conference")
        if self.closed:
            raise MediaError(f"conference {self.id} is closed")
        if not isinstance(mc, MediaChannel) or mc.runtime is not self.runtime:
            raise MediaError(f"conference {self.id}: members must be MediaChannels of board "
                             f"{self.runtime.board.board_id}")
        if mc.conference is not None and mc.conference is not self:
            mc.conference.remove(mc)
        flags = (lib.CTID_MEDIA_CONF_TALK if talk else 0) | (lib.CTID_MEDIA_CONF_LISTEN if listen else 0)
        native_check(lib.ctid_media_conf(self.runtime._m, mc.number, self.id, flags), f"channel {mc.number}")
        self.members[mc.number] = (bool(talk), bool(listen))
        mc.conference = self
        native_check(lib.ctid_media_conf_whisper(self.runtime._m, mc.number,
                                                 -1 if whisper_to is None else whisper_to.number),
                     f"channel {mc.number} whisper")

    def remove(self, mc: MediaChannel) -> None:
        if self.members.pop(mc.number, None) is not None:
            lib.ctid_media_conf(self.runtime._m, mc.number, 0, 0)
            mc.conference = None

    def close(self) -> None:
        for n in list(self.members):
            self.remove(self.runtime.channel(n))
        self.closed = True
        self.runtime._conf_ids.discard(self.id)


class BoardRuntime:
    """The 20 ms tick of one board: driver events, native media, detection, hooks, sources (see the module).

    ``board`` is a ``ctid.drivers.Board``; ``clock`` an ``IReactorTime`` (``task.Clock`` in tests) used for
    every timer of the channels (collect timeouts). ``tones`` is the call-progress table of the detector and of
    :meth:`MediaChannel.tone` names (default: China). ``run_io`` runs slow file work (see :attr:`run_io`).
    """

    def __init__(self, board, clock, *, tones=None, country: str = "cn", record_buffer_seconds: float = 4.0,
                 run_io: Callable | None = None):
        self.board = board
        self.clock = clock
        self.country = country
        self.nchan = int(board.nchannels)
        if self.nchan <= 0:
            raise MediaError(f"board {board.board_id} has no channels")
        self.bank = Bank(self.nchan, law="alaw", tones=tones)
        self.bank.set_mask_all(0)
        ptr = lib.ctid_media_new(self.nchan)
        if ptr == ffi.NULL:
            raise MediaError(f"board {board.board_id}: could not create the media state ({self.nchan} channels)")
        self._m = ffi.gc(ptr, lib.ctid_media_free)
        self._rx = board.new_block()
        self._tx = board.new_block()
        self._rxp = ffi.from_buffer("uint8_t[]", self._rx)
        self._txp = ffi.from_buffer("uint8_t[]", self._tx, require_writable=True)
        self._evcap = max(256, self.nchan * 4)
        self._evarr = np.zeros(self._evcap, dtype=MEDIA_EVENT_DTYPE)
        self._evptr = ffi.cast("ctid_media_event_t *", ffi.from_buffer(self._evarr, require_writable=True))
        self._levels = np.zeros(self.nchan, dtype=np.float32)
        self._channels: dict[int, MediaChannel] = {}
        self._handlers: list[Callable] = []
        self._span_handlers: dict[int, list[Callable]] = {}     # span -> handlers of that span's events only
        self._hooks: list[Callable] = []
        self._sources: dict[int, Callable] = {}
        self._conf_ids: set[int] = set()
        self.record_buffer_bytes = max(lib.CTID_MEDIA_MAX_FRAMES, int(record_buffer_seconds * 8000))
        self.ticks = 0
        self.errors = 0          # exceptions raised by handlers, hooks, sources and callbacks (logged)
        self.tick_failures = 0   # ticks that failed as a whole (driver errors), when driven by attach/start
        self._loop = None
        self._pacer = None
        self._next_id = 1
        self.closed = False
        self.profile: dict | None = None
        #: run_io(fn) -> Deferred firing with fn()'s result: how slow file work (closing and fsync'ing a recording)
        #: is run. Default: at once, in the calling thread. The daemon passes
        #: ``lambda fn: threads.deferToThreadPool(reactor, pool, fn)`` to keep fsync off the reactor thread.
        self.run_io = run_io if run_io is not None else defer.maybeDeferred

    # ------------------------------------------------------------------------------------- channels
    def channel(self, number: int) -> MediaChannel:
        """The :class:`MediaChannel` of board channel ``number`` (span*32 + timeslot, or an analogue port)."""
        mc = self._channels.get(number) if isinstance(number, int) else None
        if mc is None:
            ch = self.board.channel(number)    # DriverError naming the range for a bad number
            mc = self._channels.get(ch.number)
            if mc is None:
                mc = self._channels[ch.number] = MediaChannel(self, ch.number)
        return mc

    def conference(self) -> Conference:
        """A new conference (native mix) on this board."""
        for cid in range(1, lib.CTID_MEDIA_MAX_CONF + 1):
            if cid not in self._conf_ids:
                self._conf_ids.add(cid)
                return Conference(self, cid)
        raise MediaError(f"board {self.board.board_id}: all {lib.CTID_MEDIA_MAX_CONF} conferences in use")

    def levels(self) -> np.ndarray:
        """Received level of every channel in the last tick, dBm0 (float32 array, -200 for digital silence)."""
        lib.ctid_media_levels(self._m, ffi.cast("float *", ffi.from_buffer(self._levels, require_writable=True)),
                              self.nchan)
        return self._levels.copy()

    # ------------------------------------------------------------------------------------- plumbing
    def add_event_handler(self, fn: Callable, span: int | None = None) -> None:
        """``fn(driver_event)`` for every driver event (AbcdEvent, HdlcEvent, HookEvent, AlarmEvent, ...); with
        ``span``, only for the events of that span (``SpanEvent.span == span``) and the board-wide events that
        have no span (OverrunEvent): a trunk of one span is not called for the other spans' events (on 16 spans
        with SS7, every received MTP2 signal unit is an event)."""
        if not callable(fn):
            raise MediaError(f"event handler must be callable, not {type(fn).__name__}")
        if span is None:
            self._handlers.append(fn)
        else:
            self._span_handlers.setdefault(int(span), []).append(fn)

    def remove_event_handler(self, fn: Callable) -> None:
        if fn in self._handlers:
            self._handlers.remove(fn)
        for hs in self._span_handlers.values():
            if fn in hs:
                hs.remove(fn)

    def _dispatch(self, ev) -> None:
        span = getattr(ev, "span", None)
        if span is None:
            if isinstance(ev, PortEvent):
                handlers = self._handlers
            else:                                   # board-wide: every handler
                handlers = self._handlers + [fn for hs in self._span_handlers.values() for fn in hs]
        else:
            handlers = self._handlers + self._span_handlers[span] if span in self._span_handlers else self._handlers
        for fn in handlers:
            try:
                fn(ev)
            except Exception:
                self.errors += 1
                log.exception("board %s: callback %r failed", self.board.board_id, fn)

    def add_tick_hook(self, fn: Callable) -> None:
        """``fn(rx_block)`` once per tick, after detection (the block is only valid during the call)."""
        if not callable(fn):
            raise MediaError(f"tick hook must be callable, not {type(fn).__name__}")
        self._hooks.append(fn)

    def remove_tick_hook(self, fn: Callable) -> None:
        if fn in self._hooks:
            self._hooks.remove(fn)

    def _set_source(self, number: int, fn) -> None:
        if fn is None:
            self._sources.pop(number, None)
        else:
            self._sources[number] = fn

    def _new_id(self) -> int:
        i = self._next_id
        self._next_id = i + 1 if i < 0x7FFFFFF0 else 1
        return i

    def _safe(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            self.errors += 1
            log.exception("board %s: callback %r failed", self.board.board_id, fn)

    # ------------------------------------------------------------------------------------- driving
    def attach(self, pacer) -> None:
        """Tick after every block of a ``ctid.drivers.Pacer`` (simulated worlds)."""
        self._pacer = pacer
        pacer.add_listener(self._on_pacer)

    def _on_pacer(self, _world) -> None:
        self._tick_guarded()

    def _tick_guarded(self) -> None:
        # A driver failure (a board closed or dead) must not stop the LoopingCall that ticks every board.
        try:
            self.tick()
        except Exception:
            self.errors += 1
            self.tick_failures += 1
            if self.tick_failures <= 3 or self.tick_failures % 500 == 0:
                log.exception("board %s: tick failed (%d so far)", self.board.board_id, self.tick_failures)

    def start(self, interval: float = 0.020):
        """Tick every ``interval`` seconds of the clock (a board paced by its own hardware)."""
        from twisted.internet import task

        if self._loop is not None and self._loop.running:
            raise MediaError(f"board {self.board.board_id}: runtime already started")
        self._loop = task.LoopingCall(self._tick_guarded)
        self._loop.clock = self.clock
        return self._loop.start(interval, now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        if self._pacer is not None:
            try:
                self._pacer.remove_listener(self._on_pacer)
            except ValueError:
                pass
            self._pacer = None

    def close(self) -> None:
        """Stop ticking and end every channel's media (their Deferreds fire with reason "stopped")."""
        self.stop()
        for mc in list(self._channels.values()):
            mc.stop()
        lib.ctid_media_reset(self._m, -1)
        self.closed = True

    def enable_profile(self, on: bool = True) -> None:
        """Accumulate the CPU time of each phase of the tick in :attr:`profile` (seconds; for benchmarks)."""
        self.profile = {k: 0.0 for k in PHASES} if on else None

    def tick(self) -> None:
        """One 20 ms tick (see the module docs)."""
        prof = self.profile
        clk = time.thread_time
        if prof is not None:
            t0 = clk()
        for ev in self.board.events():
            self._dispatch(ev)
        self.board.read_block(out=self._rx)
        if prof is not None:
            t1 = clk()
        # detection first: what a detector event makes a channel send (an MF register's answer to a tone,
        # a prompt cut by barge-in) goes out in this tick's block, not one tick later
        pending = self.bank.process_raw(self._rx)
        if prof is not None:
            t2 = clk()
        if pending:
            chans = self._channels
            for ev in self.bank.drain():
                mc = chans.get(ev.channel)
                if mc is not None:
                    mc._detected(ev)
        if prof is not None:
            t3 = clk()
        n = native_check(lib.ctid_media_tick(self._m, self._rxp, self._txp, BLOCK_FRAMES, self.nchan), "media tick")
        if prof is not None:
            t4 = clk()
        if n:
            self._media_events()
        for fn in self._hooks:
            self._safe(fn, self._rx)
        if self._sources:
            for number, fn in list(self._sources.items()):
                try:
                    codes = fn()
                    if codes is not None:
                        self._tx[:, number] = codes
                except Exception:
                    self.errors += 1
                    log.exception("board %s channel %s: source failed; removed", self.board.board_id, number)
                    self._sources.pop(number, None)
        if prof is not None:
            t5 = clk()
        self.board.write_block(self._tx)
        self.ticks += 1
        if prof is not None:
            t6 = clk()
            prof["driver"] += (t1 - t0) + (t6 - t5)
            prof["detect_native"] += t2 - t1
            prof["detect_events"] += t3 - t2
            prof["media_native"] += t4 - t3
            prof["media_events"] += t5 - t4

    def _media_events(self) -> None:
        while True:
            n = lib.ctid_media_events(self._m, self._evptr, self._evcap)
            if n <= 0:
                return
            rows = self._evarr[:n].tolist()
            for _t, ch, typ, value, aux in rows:
                mc = self._channels.get(ch)
                if mc is not None:
                    mc._media_event(typ, value, aux)
            if n < self._evcap:
                return
