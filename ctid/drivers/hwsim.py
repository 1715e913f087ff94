"""The hwsim backend: libhwsim.so wrapped with cffi in ABI mode, exactly as one wraps a vendor SDK.

The SDK's header (``hwsim_sdk.h``) is the cdef; the shared library is opened with ``ffi.dlopen``. The library
is found, in order, from ``$HWSIM_LIBRARY``; the installed ``hwsim`` package directory (located with
``importlib.util.find_spec("hwsim")``, without importing the package); ``ctypes.util.find_library("hwsim")``.
The header is found from ``$HWSIM_HEADER``, next to the library, or in the source tree (``native/hwsim``).

Every negative return of an SDK call becomes a :class:`~ctid.drivers.DriverError` that names the call and
carries ``hwsim_last_error()``. Nothing here is per sample or per frame: a block of every channel moves in one
call (``read_block`` / ``write_block``).

The simulation itself is a :class:`World` (boards, cables, far ends, a clock that advances only by
:meth:`World.tick`); boards are opened through the registry like any other driver::

    from ctid.drivers import open_board
    from ctid.drivers.hwsim import World        # a rig builds the world; the daemon only opens boards
    w = World(seed=1)
    w.create_board(0, spans=2)
    board = open_board("hwsim", 0, world=w)

Without ``world=`` the process-wide :func:`default_world` is used (a daemon talking to ``hwsim serve`` over
socket cables opens its boards there, with ``spans=``/``ports=`` to create them and ``cable_socket=``).
"""
from __future__ import annotations

import ctypes.util
import importlib.util
import os
import threading
import weakref
from collections import deque
from pathlib import Path
from typing import Iterable

import numpy as np

from .model import (
    BLOCK_FRAMES, E1_SLOTS, AbcdEvent, Alarm, AlarmEvent, Board, BoardInfo, CableEvent, DriverError, Event,
    FlashEvent, HdlcEvent, HookEvent, OverrunEvent, PolarityEvent, PortKind, PortState, RingEvent, Signalling,
    SpanConfig, SpanStatus, port_kinds_of, span_configs,
)

LIBRARY_ENV = "HWSIM_LIBRARY"
HEADER_ENV = "HWSIM_HEADER"
LIBRARY_FILE = "libhwsim.so"
HEADER_FILE = "hwsim_sdk.h"

_TS16 = {Signalling.CAS: 1, Signalling.CCS: 2, Signalling.CLEAR: 3}
_TS16_BACK = {v: k for k, v in _TS16.items()}
_PORT = {PortKind.FXS: 1, PortKind.FXO: 2}
_PORT_BACK = {v: k for k, v in _PORT.items()}
LINKTYPE_MTP2 = 140
LINKTYPE_MTP2_PHDR = 139


# ------------------------------------------------------------------------------------------------- loading

def find_library() -> str:
    """Path (or loader name) of libhwsim.so, per the search order in the module docs."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        if not os.path.exists(env):
            raise DriverError(f"${LIBRARY_ENV}={env}: no such file")
        return env
    specs = []
    try:
        specs.append(importlib.util.find_spec("hwsim"))   # locates the package without importing it
    except (ImportError, ValueError):
        pass
    for spec in specs:
        if spec is None:
            continue
        dirs = list(spec.submodule_search_locations or [])
        if spec.origin:
            dirs.append(os.path.dirname(spec.origin))
        for d in dirs:
            p = os.path.join(d, LIBRARY_FILE)
            if os.path.exists(p):
                return p
    name = ctypes.util.find_library("hwsim")
    if name:
        return name
    raise DriverError(f"libhwsim.so not found: set ${LIBRARY_ENV}, or build it into the hwsim package "
                      f"(python setup.py build_ext --inplace), or install it where the loader finds it")


def find_header(library: str) -> str:
    env = os.environ.get(HEADER_ENV)
    if env:
        if not os.path.exists(env):
            raise DriverError(f"${HEADER_ENV}={env}: no such file")
        return env
    here = Path(__file__).resolve()
    cands = []
    if os.path.sep in library:
        d = Path(library).resolve().parent
        cands += [d / HEADER_FILE, d / "include" / HEADER_FILE, d.parent / "native" / "hwsim" / HEADER_FILE]
    cands.append(here.parents[2] / "native" / "hwsim" / HEADER_FILE)
    for c in cands:
        if c.exists():
            return str(c)
    raise DriverError(f"{HEADER_FILE} not found (looked in {', '.join(map(str, cands))}); set ${HEADER_ENV}")


_sdk_lock = threading.Lock()
_sdk = None


def sdk():
    """``(ffi, lib, library_path)``: the SDK, loaded once."""
    global _sdk
    with _sdk_lock:
        if _sdk is None:
            import cffi

            path = find_library()
            header = find_header(path)
            ffi = cffi.FFI()
            try:
                ffi.cdef(Path(header).read_text(encoding="utf-8"))
                lib = ffi.dlopen(path)
            except (OSError, cffi.CDefError) as exc:
                raise DriverError(f"cannot load the hwsim SDK ({path}, {header}): {exc}") from exc
            _sdk = (ffi, lib, path)
        return _sdk


def _errtext(ffi, lib, rc: int) -> tuple[str, str]:
    return ffi.string(lib.hwsim_strerror(rc)).decode(), ffi.string(lib.hwsim_last_error()).decode()


class _Api:
    """Checked SDK calls: a negative return raises DriverError(call, code, hwsim_last_error())."""

    def __init__(self):
        self.ffi, self.lib, self.path = sdk()

    def error(self, call: str, rc: int) -> DriverError:
        short, detail = _errtext(self.ffi, self.lib, rc)
        return DriverError(f"{call}: {short} ({rc}): {detail}", code=rc, call=call, detail=detail)

    def call(self, name: str, *args) -> int:
        fn = getattr(self.lib, name)
        try:
            rc = fn(*args)
        except (TypeError, OverflowError) as exc:
            raise DriverError(f"{name}: bad argument: {exc}", call=name) from None
        if rc < 0:
            raise self.error(name, rc)
        return rc


def _int(v, what: str) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise DriverError(f"{what} must be an integer, not {v!r}")
    return int(v)


def _cstr(ffi, s: str | None, what: str):
    if s is None:
        return ffi.NULL
    if not isinstance(s, str):
        raise DriverError(f"{what} must be a string, not {type(s).__name__}")
    if "\0" in s:
        raise DriverError(f"{what} contains a NUL character")
    return ffi.new("char[]", s.encode("utf-8"))


def _pcm(samples) -> np.ndarray:
    a = np.asarray(samples)
    if a.ndim != 1:
        raise DriverError(f"audio must be one-dimensional, not of shape {a.shape}")
    if a.dtype != np.int16:
        if not np.issubdtype(a.dtype, np.number):
            raise DriverError(f"audio must be int16 samples, not {a.dtype}")
        a = np.clip(np.rint(a), -32768, 32767).astype(np.int16)
    return np.ascontiguousarray(a)


# ------------------------------------------------------------------------------------------------- world

class World:
    """A simulation universe: boards, cables, far ends and a clock (frames) advanced only by :meth:`tick`."""

    def __init__(self, seed: int = 0):
        self._api = _Api()
        ffi, lib = self._api.ffi, self._api.lib
        seed = _int(seed, "seed")
        if not 0 <= seed < 2 ** 64:
            raise DriverError(f"seed {seed} is not a 64-bit unsigned integer")
        ptr = lib.hwsim_world_new(seed)
        if ptr == ffi.NULL:
            raise DriverError(f"hwsim_world_new: {ffi.string(lib.hwsim_last_error()).decode()}",
                              call="hwsim_world_new")
        self._w = ptr
        self.seed = seed
        self._boards: "weakref.WeakSet[HwsimBoard]" = weakref.WeakSet()
        self._span_cfg: dict[tuple[int, int], SpanConfig] = {}
        self._span_hdlc: dict[tuple[int, int], set[int]] = {}
        self._tick_listeners: list = []
        self._block_hooks: list = []      # called after every single block (port far-end sockets)
        self._port_sockets: list = []

    # lifetime
    @property
    def closed(self) -> bool:
        return self._w is None

    def _h(self):
        if self._w is None:
            raise DriverError("this hwsim world is closed")
        return self._w

    def close(self) -> None:
        """Free the world and every board in it (their handles become invalid: calls raise DriverError)."""
        if self._w is None:
            return
        for ps in list(self._port_sockets):
            ps.close()
        for b in list(self._boards):
            b._invalidate()
        w, self._w = self._w, None
        self._api.lib.hwsim_world_free(w)

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<hwsim World seed={self.seed} t={self.time if not self.closed else 'closed'}>"

    # clock
    def tick(self, nblocks: int = 1) -> None:
        """Advance ``nblocks`` x 20 ms: every board transmits, cables carry the line bits, receivers frame."""
        nblocks = _int(nblocks, "nblocks")
        if self._block_hooks:
            # lock-stepped port far-end sockets exchange one message per block
            for _ in range(nblocks):
                self._api.call("hwsim_world_tick", self._h(), 1)
                for fn in list(self._block_hooks):
                    fn()
        else:
            self._api.call("hwsim_world_tick", self._h(), nblocks)
        for fn in self._tick_listeners:
            fn(self)

    @property
    def time(self) -> int:
        """World time in frames (8000 per second)."""
        return int(self._api.lib.hwsim_world_time(self._h()))

    @property
    def seconds(self) -> float:
        return self.time / 8000.0

    def run(self, seconds: float) -> None:
        """Tick for ``seconds`` of simulated time (whole blocks, rounded up)."""
        self.tick(max(0, int(np.ceil(seconds * 50 - 1e-9))))

    # boards
    def create_board(self, board_id: int, spans: int = 0, ports: Iterable = ()) -> None:
        kinds = port_kinds_of(ports)
        api = self._api
        arr = api.ffi.new("int[]", [_PORT[k] for k in kinds] or [0])
        api.call("hwsim_board_create", self._h(), _int(board_id, "board id"), _int(spans, "spans"), len(kinds),
                 arr if kinds else api.ffi.NULL)

    def has_board(self, board_id: int) -> bool:
        ptr = self._api.lib.hwsim_board_open(self._h(), _int(board_id, "board id"))
        return ptr != self._api.ffi.NULL

    def open_board(self, board_id: int, **cfg) -> "HwsimBoard":
        """Same as ``ctid.drivers.open_board("hwsim", board_id, world=self, **cfg)``."""
        return HwsimBackend().open_board(board_id, world=self, **cfg)

    # cables and faults (what a span receives)
    def cable(self, board_a: int, span_a: int, board_b: int, span_b: int) -> None:
        """Join two spans with a cable (the same span twice: a loopback plug)."""
        self._api.call("hwsim_cable_connect", self._h(), board_a, span_a, board_b, span_b)

    def cut(self, board: int, span: int, cut: bool = True) -> None:
        self._api.call("hwsim_cable_cut", self._h(), board, span, 1 if cut else 0)

    def restore(self, board: int, span: int) -> None:
        self.cut(board, span, False)

    def cable_socket(self, board: int, span: int, path: str, listen: bool = False) -> None:
        """Cable a span to a span of a world in another process over a Unix socket (lock-step ticks)."""
        self._api.call("hwsim_cable_socket", self._h(), board, span, _cstr(self._api.ffi, os.fspath(path), "path"),
                       1 if listen else 0)

    def fault_ber(self, board: int, span: int, ber: float) -> None:
        self._api.call("hwsim_fault_ber", self._h(), board, span, float(ber))

    def fault_slips(self, board: int, span: int, per_minute: float) -> None:
        self._api.call("hwsim_fault_slips", self._h(), board, span, float(per_minute))

    def fault_ais(self, board: int, span: int, on: bool = True) -> None:
        self._api.call("hwsim_fault_ais", self._h(), board, span, 1 if on else 0)

    def fault_channel(self, board: int, channel: int, noise_dbm0: float = -200.0, attenuation_db: float = 0.0) -> None:
        self._api.call("hwsim_fault_channel", self._h(), board, channel, float(noise_dbm0), float(attenuation_db))

    def fault_dead(self, board: int, dead: bool = True) -> None:
        self._api.call("hwsim_fault_dead", self._h(), board, 1 if dead else 0)

    # capture
    def capture(self, board: int, span: int, timeslot: int, path: str | None, linktype: int = LINKTYPE_MTP2) -> None:
        """Write the HDLC frames of a link (both directions) to a pcap; ``path=None`` stops."""
        ffi = self._api.ffi
        self._api.call("hwsim_capture", self._h(), board, span, timeslot,
                       ffi.NULL if path is None else _cstr(ffi, os.fspath(path), "path"), linktype)

    # far ends
    def phone(self, board: int, port: int) -> "Phone":
        return Phone(self, board, port)

    def line(self, board: int, port: int) -> "ExchangeLine":
        return ExchangeLine(self, board, port)

    def port_socket(self, board: int, path: str) -> "PortSocketClient":
        """Hand the far ends of ``board``'s analogue ports to another process (a :class:`PortSocketServer`
        listening at ``path``), one message each way per block, in lock step with this world's ticks."""
        return PortSocketClient(self, board, path)


class _FarEnd:
    _prefix = ""

    def __init__(self, world: World, board: int, port: int):
        self.world = world
        self.board = _int(board, "board id")
        self.port = _int(port, "port")
        self.state_now()   # validates board and port kind now

    def _call(self, what: str, *args) -> int:
        w = self.world
        return w._api.call(f"hwsim_{self._prefix}_{what}", w._h(), self.board, self.port, *args)

    def play(self, samples) -> int:
        """Queue audio (int16 linear, 8000/s) towards the board."""
        a = _pcm(samples)
        return self._call("play", self.world._api.ffi.from_buffer("int16_t[]", a), len(a))

    def listen(self, max_samples: int = 8000 * 10) -> np.ndarray:
        """Drain what the board sent on the port (int16 linear)."""
        buf = np.empty(_int(max_samples, "max_samples"), dtype=np.int16)
        n = self._call("listen", self.world._api.ffi.from_buffer("int16_t[]", buf, require_writable=True), len(buf))
        return buf[:n].copy()

    def state_now(self) -> int:
        raise NotImplementedError


class Phone(_FarEnd):
    """The telephone on an FXS port."""

    _prefix = "phone"

    def state_now(self) -> int:
        return self.ringing

    def hook(self, offhook: bool) -> None:
        self._call("hook", 1 if offhook else 0)

    def dial(self, digits: str, on_ms: int = 100, off_ms: int = 100) -> None:
        self._call("dial", _cstr(self.world._api.ffi, digits, "digits"), on_ms, off_ms)

    def flash(self, ms: int = 100) -> None:
        self._call("flash", ms)

    @property
    def ringing(self) -> bool:
        return bool(self._call("ringing"))


class ExchangeLine(_FarEnd):
    """The exchange line on an FXO port (China ring cadence, FSK caller ID, busy tone on hang-up)."""

    _prefix = "line"

    def state_now(self) -> int:
        return self._call("state")

    def ring(self, number: str | None = None, name: str | None = None) -> None:
        ffi = self.world._api.ffi
        self._call("ring", _cstr(ffi, number, "number"), _cstr(ffi, name, "name"))

    def hangup(self) -> None:
        self._call("hangup")

    @property
    def state(self) -> dict:
        s = self.state_now()
        return {"board_offhook": bool(s & 1), "ringing": bool(s & 2), "busy": bool(s & 4)}


# ------------------------------------------------------------------------------------------------- port sockets
#
# The far ends of a board's analogue ports (the exchange line on an FXO port, the telephone on an FXS port)
# driven from another process: the daemon's world keeps them (their audio and signalling are simulated here, in
# lock step with the board), a far-end process (``hwsim exchange``) tells them what to do. Over an AF_UNIX stream
# socket, after every block, each side sends one message and then waits for the other's (the lock step: the
# side that runs in real time paces both). A message is a 4-byte big-endian length and a JSON object:
#
#   board side  -> far end: {"seq": n, "t": world frames, "ports": [{"kind": "fxo"|"fxs", "state": int,
#                           "audio": base64 int16 LE}], "errors": ["..."]}
#       state: FXO bit0 board off hook, bit1 ringing, bit2 busy tone (hwsim_line_state); FXS 1 while rung.
#       audio: what the board sent on the port in that block (the far end's earpiece), drained.
#   far end -> board side:  {"seq": n, "ops": [[port, "ring", number, name] | [port, "hangup"] |
#                           [port, "hook", 0|1] | [port, "dial", digits, on_ms, off_ms] | [port, "flash", ms]],
#                           "audio": {"port": base64 int16 LE}}
#       applied before the board side's next block; audio is queued into the port (its microphone).
#
# A lost peer, a protocol error or no message within HWSIM_SOCKET_TIMEOUT_MS (default 10000) closes the
# connection: the far ends stay as they were, the listening side accepts a new peer.

PORT_SOCKET_PROTOCOL = "hwsim-ports/1"
_MAX_MSG = 1 << 22


def _sock_timeout() -> float:
    try:
        return max(0.001, int(os.environ.get("HWSIM_SOCKET_TIMEOUT_MS", "10000")) / 1000.0)
    except ValueError:
        return 10.0


def _b64(a: np.ndarray) -> str:
    import base64
    return base64.b64encode(np.ascontiguousarray(a, dtype="<i2").tobytes()).decode("ascii")


def _unb64(s, what: str) -> np.ndarray:
    import base64
    import binascii
    if not isinstance(s, str):
        raise ValueError(f"{what}: audio must be a base64 string")
    try:
        raw = base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"{what}: bad base64 audio: {exc}") from None
    if len(raw) % 2:
        raise ValueError(f"{what}: audio of {len(raw)} bytes is not whole int16 samples")
    return np.frombuffer(raw, dtype="<i2").astype(np.int16)


class _MsgSock:
    """Length-prefixed JSON messages with a deadline (blocking, like the SDK's socket cables)."""

    def __init__(self, sock):
        import socket as _s
        self.sock = sock
        sock.setsockopt(_s.SOL_SOCKET, _s.SO_SNDBUF, 1 << 20)
        self.timeout = _sock_timeout()
        sock.settimeout(self.timeout)

    def send(self, obj) -> None:
        import json
        import struct
        data = json.dumps(obj, separators=(",", ":")).encode("utf-8")
        self.sock.sendall(struct.pack(">I", len(data)) + data)

    def _exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("peer closed the port socket")
            buf += chunk
        return bytes(buf)

    def recv(self) -> dict:
        import json
        import struct
        (n,) = struct.unpack(">I", self._exact(4))
        if n > _MAX_MSG:
            raise ValueError(f"port socket message of {n} bytes (limit {_MAX_MSG})")
        obj = json.loads(self._exact(n).decode("utf-8"))
        if not isinstance(obj, dict):
            raise ValueError("port socket message is not a JSON object")
        return obj

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class PortSocketClient:
    """The board side: after each block, report every port's state and earpiece audio, then apply the far-end
    process's operations and queue its audio. Created by ``open_board(..., port_socket=path)``."""

    def __init__(self, world: World, board: int, path: str):
        import socket as _s
        self.world, self.board, self.path = world, _int(board, "board id"), os.fspath(path)
        b = HwsimBoard(world, self.board)
        self.kinds = list(b.info.port_kinds)
        self.far = [Phone(world, self.board, p) if k == PortKind.FXS else ExchangeLine(world, self.board, p)
                    for p, k in enumerate(self.kinds)]
        sock = _s.socket(_s.AF_UNIX, _s.SOCK_STREAM)
        try:
            sock.connect(self.path)
        except OSError as exc:
            sock.close()
            raise DriverError(f"hwsim board {self.board}: port socket {self.path}: nobody listens there "
                              f"({exc.strerror or exc})") from None
        self.conn: _MsgSock | None = _MsgSock(sock)
        self.seq = 0
        self.errors: list[str] = []     # to report with the next message
        self.last_error: str | None = None
        self.dropped_audio = 0
        world._block_hooks.append(self._block)
        world._port_sockets.append(self)

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def _report(self) -> dict:
        ports = []
        for p, (k, far) in enumerate(zip(self.kinds, self.far)):
            if k == PortKind.FXS:
                st = int(far.ringing)
            else:
                st = far.state_now()
            ports.append({"kind": k.value, "state": st, "audio": _b64(far.listen())})
        msg = {"seq": self.seq, "t": self.world.time, "ports": ports, "errors": self.errors}
        self.errors = []
        return msg

    def _apply(self, msg: dict) -> None:
        if msg.get("seq") != self.seq:
            raise ValueError(f"port socket: message {msg.get('seq')!r} where {self.seq} was due")
        for op in msg.get("ops") or []:
            try:
                if not isinstance(op, list) or len(op) < 2:
                    raise ValueError(f"bad operation {op!r}")
                port, name, args = op[0], op[1], op[2:]
                if not isinstance(port, int) or not 0 <= port < len(self.far):
                    raise ValueError(f"operation {name!r}: no port {port!r} (the board has {len(self.far)})")
                far = self.far[port]
                allowed = {"ring", "hangup"} if isinstance(far, ExchangeLine) else {"hook", "dial", "flash"}
                if name not in allowed:
                    raise ValueError(f"port {port} ({self.kinds[port].value}): no operation {name!r}; "
                                     f"accepted: {', '.join(sorted(allowed))}")
                getattr(far, name)(*args)
            except (DriverError, ValueError, TypeError) as exc:
                self.errors.append(str(exc))
        for key, data in (msg.get("audio") or {}).items():
            try:
                port = int(key)
                if not 0 <= port < len(self.far):
                    raise ValueError(f"audio for port {key}: no such port")
                pcm = _unb64(data, f"audio for port {port}")
                if pcm.size:
                    self.far[port].play(pcm)
            except DriverError:
                self.dropped_audio += 1        # nobody off hook to take it: dropped, as on a real line
            except ValueError as exc:
                self.errors.append(str(exc))

    def _block(self) -> None:
        conn = self.conn
        if conn is None:
            return
        try:
            conn.send(self._report())
            msg = conn.recv()
            self._apply(msg)
            self.seq += 1
        except (OSError, ValueError) as exc:
            self.last_error = f"port socket {self.path}: {exc}"
            conn.close()
            self.conn = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._block in self.world._block_hooks:
            self.world._block_hooks.remove(self._block)
        if self in self.world._port_sockets:
            self.world._port_sockets.remove(self)


class _Remote:
    kind = "?"

    def __init__(self, server: "PortSocketServer", port: int):
        self.server, self.port = server, port
        self.state_bits = 0
        self._rx: list[np.ndarray] = []
        self._tx: list[np.ndarray] = []

    def _op(self, *op) -> None:
        self.server._ops.append([self.port, *op])

    def play(self, samples) -> int:
        """Queue audio (int16 linear) towards the board: sent with the next message."""
        a = _pcm(samples)
        self._tx.append(a)
        return len(a)

    def listen(self, max_samples: int = 8000 * 10) -> np.ndarray:
        """Drain what the board sent on the port (int16 linear), as received so far."""
        a = np.concatenate(self._rx) if self._rx else np.zeros(0, np.int16)
        self._rx = [a[max_samples:]] if a.size > max_samples else []
        return a[:max_samples]


class RemoteLine(_Remote):
    """An exchange line on a remote board's FXO port, with :class:`ExchangeLine`'s interface (its state is as
    reported after the remote board's last block)."""

    kind = "fxo"

    def ring(self, number: str | None = None, name: str | None = None) -> None:
        if number is not None and (not isinstance(number, str) or not all(c in "0123456789*#" for c in number)):
            raise DriverError(f"ring: number {number!r} is not digits")
        self._op("ring", number, name)

    def hangup(self) -> None:
        self._op("hangup")

    @property
    def state(self) -> dict:
        s = self.state_bits
        return {"board_offhook": bool(s & 1), "ringing": bool(s & 2), "busy": bool(s & 4)}


class RemotePhone(_Remote):
    """A telephone on a remote board's FXS port, with :class:`Phone`'s interface."""

    kind = "fxs"

    def hook(self, offhook: bool) -> None:
        self._op("hook", 1 if offhook else 0)

    def dial(self, digits: str, on_ms: int = 100, off_ms: int = 100) -> None:
        self._op("dial", digits, on_ms, off_ms)

    def flash(self, ms: int = 100) -> None:
        self._op("flash", ms)

    @property
    def ringing(self) -> bool:
        return bool(self.state_bits & 1)


class PortSocketServer:
    """The far-end side: listens at ``path``; :meth:`line` / :meth:`phone` give the remote far ends. After each
    block of ``world`` (the far-end process's own world, ticked in lock step) one message goes each way."""

    def __init__(self, world: World, path: str):
        import socket as _s
        self.world, self.path = world, os.fspath(path)
        if os.path.lexists(self.path):
            import stat
            if not stat.S_ISSOCK(os.lstat(self.path).st_mode):
                raise DriverError(f"port socket: {self.path} exists and is not a socket")
            os.unlink(self.path)
        self.lsock = _s.socket(_s.AF_UNIX, _s.SOCK_STREAM)
        try:
            self.lsock.bind(self.path)
            self.lsock.listen(1)
        except OSError as exc:
            self.lsock.close()
            raise DriverError(f"port socket: listen on {self.path}: {exc.strerror or exc}") from None
        self.lsock.setblocking(False)
        self.conn: _MsgSock | None = None
        self.seq = 0
        self.remote: dict[int, _Remote] = {}
        self.kinds: list[str] | None = None
        self.errors: list[str] = []       # reported by the board side (refused operations, bad audio)
        self.last_error: str | None = None
        self.connections = 0
        self.t_remote: int | None = None
        self._ops: list = []
        world._block_hooks.append(self._block)
        world._port_sockets.append(self)

    def line(self, port: int) -> RemoteLine:
        r = self.remote.get(port)
        if r is None:
            r = self.remote[port] = RemoteLine(self, port)
        elif not isinstance(r, RemoteLine):
            raise DriverError(f"port {port} is already a telephone")
        return r

    def phone(self, port: int) -> RemotePhone:
        r = self.remote.get(port)
        if r is None:
            r = self.remote[port] = RemotePhone(self, port)
        elif not isinstance(r, RemotePhone):
            raise DriverError(f"port {port} is already an exchange line")
        return r

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def _block(self) -> None:
        if self.conn is None:
            try:
                sock, _ = self.lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            sock.setblocking(True)
            self.conn = _MsgSock(sock)
            self.seq = 0
            self.connections += 1
            self._forget(ops=False)      # operations asked for before the board came are for it
        audio = {}
        for p, r in self.remote.items():
            if r._tx:
                audio[str(p)] = _b64(np.concatenate(r._tx))
                r._tx = []
        ops, self._ops = self._ops, []
        conn = self.conn
        try:
            conn.send({"seq": self.seq, "ops": ops, "audio": audio})
            msg = conn.recv()
            if msg.get("seq") != self.seq:
                raise ValueError(f"message {msg.get('seq')!r} where {self.seq} was due")
            ports = msg.get("ports")
            if not isinstance(ports, list):
                raise ValueError("no port list in the board side's message")
            self.kinds = [str(x.get("kind")) for x in ports]
            self.t_remote = msg.get("t")
            for p, info in enumerate(ports):
                r = self.remote.get(p)
                if r is None:
                    continue
                if r.kind != info.get("kind"):
                    self.errors.append(f"port {p} is {info.get('kind')} on the board, used here as {r.kind}")
                    continue
                r.state_bits = int(info.get("state", 0))
                pcm = _unb64(info.get("audio", ""), f"port {p}")
                if pcm.size:
                    r._rx.append(pcm)
            self.errors.extend(str(e) for e in msg.get("errors") or [])
            self.seq += 1
        except (OSError, ValueError, TypeError) as exc:
            self.last_error = f"port socket {self.path}: {exc}"
            conn.close()
            self.conn = None
            self._forget()

    def _forget(self, ops: bool = True) -> None:
        """No board behind the far ends any more (or a new one): idle state, no audio queued either way."""
        for r in self.remote.values():
            r.state_bits = 0
            r._rx, r._tx = [], []
        if ops:
            self._ops = []

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
        try:
            self.lsock.close()
        finally:
            if os.path.exists(self.path):
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
        if self._block in self.world._block_hooks:
            self.world._block_hooks.remove(self._block)
        if self in self.world._port_sockets:
            self.world._port_sockets.remove(self)


_default_world: World | None = None
_default_lock = threading.Lock()


def default_world() -> World:
    """The process-wide world boards are opened in when no ``world=`` is given (seed ``$HWSIM_SEED`` or 0)."""
    global _default_world
    with _default_lock:
        if _default_world is None or _default_world.closed:
            _default_world = World(int(os.environ.get("HWSIM_SEED", "0") or 0))
        return _default_world


# ------------------------------------------------------------------------------------------------- board

_EV_ALARM, _EV_ABCD, _EV_HDLC, _EV_HOOK, _EV_RING, _EV_POLARITY, _EV_FLASH, _EV_CABLE, _EV_OVERRUN = range(1, 10)


class HwsimBoard(Board):
    backend = "hwsim"

    def __init__(self, world: World, board_id: int):
        api = world._api
        self._api = api
        self._ffi, self._lib = api.ffi, api.lib
        board_id = _int(board_id, "board id")
        ptr = self._lib.hwsim_board_open(world._h(), board_id)
        if ptr == self._ffi.NULL:
            short, detail = _errtext(self._ffi, self._lib, -2)
            raise DriverError(f"hwsim_board_open: {detail or short}", code=-2, call="hwsim_board_open", detail=detail)
        self._b = ptr
        self.world = world
        info = self._ffi.new("hwsim_board_info_t *")
        api.call("hwsim_board_info", ptr, info)
        kinds = tuple(_PORT_BACK[info.port_kind[p]] for p in range(info.nports))
        super().__init__(BoardInfo(board_id, info.nspans, kinds, self._ffi.string(info.serial).decode(), "hwsim"))
        n = api.call("hwsim_board_nchannels", ptr)
        if n != self.nchannels:
            raise DriverError(f"hwsim board {board_id}: SDK reports {n} channels, the board info implies "
                              f"{self.nchannels}")
        caps = {"e1", "crc4", "cas", "ccs", "hdlc", "hdlc-filter", "switching", "event-fd", "capture", "fault-injection"}
        caps |= {k.value for k in kinds}
        self.capabilities = frozenset(caps) if info.nspans else frozenset(caps & {"switching", "event-fd", "fxs",
                                                                                   "fxo", "fault-injection"})
        self._ev = self._ffi.new("hwsim_event_t *")
        self._hbuf = self._ffi.new("uint8_t[]", 4096)
        self._pending: deque[Event] = deque()
        self._block_bytes = BLOCK_FRAMES * self.nchannels
        world._boards.add(self)

    def _invalidate(self) -> None:
        self._b = None

    def _h(self):
        if self._b is None:
            raise DriverError(f"hwsim board {self.board_id} is closed (or its world was freed)")
        return self._b

    def _call(self, name: str, *args) -> int:
        return self._api.call(name, self._h(), *args)

    # lifetime
    def start(self) -> None:
        self._call("hwsim_board_start")

    def stop(self) -> None:
        self._call("hwsim_board_stop")

    def close(self) -> None:
        """Stop the board and drop the handle (the board stays in its world, like hardware in its slot)."""
        if self._b is not None and not self.world.closed:
            try:
                self._lib.hwsim_board_stop(self._b)
            finally:
                self._b = None
        self._b = None

    @property
    def closed(self) -> bool:
        return self._b is None

    # blocks
    def read_block(self, out: np.ndarray | None = None) -> np.ndarray:
        if out is None:
            out = np.empty(self.block_shape, dtype=np.uint8)
        elif (not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != self.block_shape
              or not out.flags.c_contiguous or not out.flags.writeable):
            raise DriverError(f"board {self.board_id}: read_block(out=...) needs a writable C-contiguous uint8 array "
                              f"of shape {self.block_shape}")
        rc = self._lib.hwsim_read_block(self._h(), self._ffi.from_buffer("uint8_t[]", out, require_writable=True),
                                        self._block_bytes)
        if rc < 0:
            raise self._api.error("hwsim_read_block", rc)
        return out

    def write_block(self, block: np.ndarray) -> None:
        arr = block
        if (type(arr) is not np.ndarray or arr.dtype != np.uint8 or arr.shape != self.block_shape
                or not arr.flags.c_contiguous):
            arr = self.check_block(block)
        rc = self._lib.hwsim_write_block(self._h(), self._ffi.from_buffer("uint8_t[]", arr), arr.nbytes)
        if rc < 0:
            raise self._api.error("hwsim_write_block", rc)

    def write_raw(self, data) -> None:
        """Write a block given as any bytes-like object, unchecked in Python (the SDK checks the size)."""
        buf = self._ffi.from_buffer("uint8_t[]", data)
        rc = self._lib.hwsim_write_block(self._h(), buf, len(buf))
        if rc < 0:
            raise self._api.error("hwsim_write_block", rc)

    # events
    def fileno(self) -> int:
        return self._call("hwsim_event_fd")

    def poll_event(self) -> Event | None:
        if self._pending:
            return self._pending.popleft()
        rc = self._lib.hwsim_get_event(self._h(), self._ev)
        if rc < 0:
            raise self._api.error("hwsim_get_event", rc)
        if rc == 0:
            return None
        e = self._ev
        t, bid, typ, span, ch, val = int(e.t_frame), int(e.board_id), e.type, e.span, e.channel, e.value
        if typ == _EV_ALARM:
            return AlarmEvent(t, bid, span, Alarm(val))
        if typ == _EV_ABCD:
            return AbcdEvent(t, bid, span, ch, val)
        if typ == _EV_HDLC:
            self._drain_hdlc(t, span, ch)
            return self._pending.popleft() if self._pending else self.poll_event()
        if typ == _EV_HOOK:
            return HookEvent(t, bid, ch, bool(val))
        if typ == _EV_RING:
            return RingEvent(t, bid, ch, bool(val))
        if typ == _EV_POLARITY:
            return PolarityEvent(t, bid, ch, bool(val))
        if typ == _EV_FLASH:
            return FlashEvent(t, bid, ch)
        if typ == _EV_CABLE:
            return CableEvent(t, bid, span, bool(val))
        if typ == _EV_OVERRUN:
            # Events were lost, possibly the one that announced waiting HDLC frames: collect every link's frames
            # now (the SDK announces a link only when its receive queue becomes non-empty).
            for s, sp in enumerate(self.spans):
                for ts in self._hdlc_timeslots(s):
                    self._drain_hdlc(t, s, ts)
            return OverrunEvent(t, bid, val)
        return self.poll_event()   # an event type this wrapper does not know: skip it

    def _hdlc_timeslots(self, span: int) -> list[int]:
        tss = sorted(self.world._span_hdlc.get((self.board_id, span), ()))
        if self.span_config(span).signalling == Signalling.CCS and 16 not in tss:
            tss.append(16)
        return tss

    def _drain_hdlc(self, t: int, span: int, ts: int) -> None:
        while (f := self._hdlc_recv_raw(span, ts)) is not None:
            self._pending.append(HdlcEvent(t, self.board_id, span, ts, f))

    # spans
    def configure_span(self, span: int, config: SpanConfig) -> None:
        if not isinstance(config, SpanConfig):
            raise DriverError(f"configure_span needs a SpanConfig, not {type(config).__name__}")
        cfg = self._ffi.new("hwsim_span_config_t *", {"crc4": int(config.crc4), "ts16": _TS16[config.signalling]})
        self._call("hwsim_span_configure", _int(span, "span"), cfg)
        self.world._span_cfg[(self.board_id, int(span))] = config

    def span_config(self, span: int) -> SpanConfig:
        span = _int(span, "span")
        if not 0 <= span < self.info.nspans:
            self.check_timeslot(span, 0)
        return self.world._span_cfg.get((self.board_id, span), SpanConfig())

    def span_status(self, span: int) -> SpanStatus:
        st = self._ffi.new("hwsim_span_status_t *")
        self._call("hwsim_span_status", _int(span, "span"), st)
        return SpanStatus(Alarm(st.alarms), int(st.crc_errors), int(st.fas_errors), int(st.slips), int(st.hdlc_good),
                          int(st.hdlc_bad_fcs), int(st.hdlc_aborts), int(st.bit_errors_injected),
                          int(st.hdlc_filtered))

    # CAS
    def set_abcd(self, span: int, timeslot: int, abcd: int) -> None:
        self._call("hwsim_set_abcd", _int(span, "span"), _int(timeslot, "timeslot"), _int(abcd, "abcd"))

    def get_abcd(self, span: int, timeslot: int) -> int | None:
        rc = self._lib.hwsim_get_abcd(self._h(), _int(span, "span"), _int(timeslot, "timeslot"))
        if rc == self._lib.HWSIM_ERR_AGAIN:
            return None
        if rc < 0:
            raise self._api.error("hwsim_get_abcd", rc)
        return rc

    # HDLC
    def hdlc_enable(self, span: int, timeslot: int, on: bool = True) -> None:
        span, timeslot = _int(span, "span"), _int(timeslot, "timeslot")
        self._call("hwsim_hdlc_enable", span, timeslot, 1 if on else 0)
        s = self.world._span_hdlc.setdefault((self.board_id, span), set())
        (s.add if on else s.discard)(timeslot)

    def hdlc_send(self, span: int, timeslot: int, frame) -> None:
        try:
            data = bytes(frame)
        except TypeError:
            raise DriverError(f"hdlc_send: a frame is bytes, not {type(frame).__name__}") from None
        self._call("hwsim_hdlc_send", _int(span, "span"), _int(timeslot, "timeslot"),
                   self._ffi.from_buffer("uint8_t[]", data or b"\0"), len(data))

    def _hdlc_recv_raw(self, span: int, timeslot: int) -> bytes | None:
        rc = self._lib.hwsim_hdlc_recv(self._h(), span, timeslot, self._hbuf, len(self._hbuf))
        if rc == self._lib.HWSIM_ERR_AGAIN:
            return None
        if rc < 0:
            raise self._api.error("hwsim_hdlc_recv", rc)
        return bytes(self._ffi.buffer(self._hbuf, rc))

    def hdlc_recv(self, span: int, timeslot: int) -> bytes | None:
        return self._hdlc_recv_raw(_int(span, "span"), _int(timeslot, "timeslot"))

    def hdlc_idle_repeat(self, span: int, timeslot: int, on: bool) -> None:
        self._call("hwsim_hdlc_idle_repeat", _int(span, "span"), _int(timeslot, "timeslot"), 1 if on else 0)

    def hdlc_filter(self, span: int, timeslot: int, on: bool) -> None:
        """Receive filtering of repeated FISUs/LSSUs (see ``hwsim_hdlc_filter``): a unit identical to the ones
        before it is delivered at most 3 times in a row; the rest are counted in ``SpanStatus.hdlc_filtered``."""
        self._call("hwsim_hdlc_filter", _int(span, "span"), _int(timeslot, "timeslot"), 1 if on else 0)

    # analogue
    def port_ring(self, port: int, on: bool) -> None:
        self._call("hwsim_port_ring", _int(port, "port"), 1 if on else 0)

    def port_polarity(self, port: int, reversed: bool) -> None:
        self._call("hwsim_port_polarity", _int(port, "port"), 1 if reversed else 0)

    def port_hook(self, port: int, offhook: bool) -> None:
        self._call("hwsim_port_hook", _int(port, "port"), 1 if offhook else 0)

    def port_flash(self, port: int) -> None:
        self._call("hwsim_port_flash", _int(port, "port"))

    def port_state(self, port: int) -> PortState:
        s = self._call("hwsim_port_state", _int(port, "port"))
        return PortState(bool(s & 1), bool(s & 2), bool(s & 4))

    # switching (H.100-style)
    def connect(self, dst_channel: int, src_board: int, src_channel: int) -> None:
        self._call("hwsim_connect", _int(dst_channel, "channel"), _int(src_board, "source board"),
                   _int(src_channel, "source channel"))

    def disconnect(self, dst_channel: int) -> None:
        self._call("hwsim_connect", _int(dst_channel, "channel"), -1, 0)


# ------------------------------------------------------------------------------------------------- backend

class HwsimBackend:
    """The registry entry for ``"hwsim"``."""

    name = "hwsim"
    World = World           # the simulation (rigs reach it through the registry: get_backend("hwsim").World)
    OPTIONS = ("world", "spans", "ports", "span_config", "start", "cable_socket", "listen", "port_socket")

    def describe(self) -> str:
        try:
            path = sdk()[2]
        except DriverError as exc:
            return f"hwsim board simulator (not loadable: {exc})"
        return f"hwsim board simulator ({path})"

    def open_board(self, board_id: int, *, world: World | None = None, spans: int | None = None,
                   ports: Iterable | None = None, span_config=None, start: bool = True,
                   cable_socket: dict | None = None, listen: bool = False, port_socket: str | None = None,
                   **unknown) -> HwsimBoard:
        """Open board ``board_id`` of ``world`` (default: :func:`default_world`).

        ``spans``/``ports``: create the board if the world has none with that id (else they must match it).
        ``span_config``: a SpanConfig (or dict, or signalling name) for every span, a list, or {span: config}.
        ``cable_socket``: {span: socket path} cables to another process (``listen=True`` to wait for the peer).
        ``port_socket``: a socket path where a :class:`PortSocketServer` listens: the far ends of this board's
        analogue ports (exchange lines, telephones) are then driven from that process.
        ``start``: start the board (default).
        """
        if unknown:
            raise DriverError(f"hwsim: unknown option{'s' if len(unknown) > 1 else ''} "
                              f"{', '.join(sorted(unknown))}; accepted: {', '.join(self.OPTIONS)}")
        if world is None:
            world = default_world()
        elif not isinstance(world, World):
            raise DriverError(f"hwsim: world= must be a ctid.drivers.hwsim.World, not {type(world).__name__}")
        board_id = _int(board_id, "board id")
        kinds = port_kinds_of(ports) if ports is not None else None
        if not world.has_board(board_id):
            if spans is None and ports is None:
                b = world._api.lib.hwsim_board_open(world._h(), board_id)   # for the SDK's own message
                assert b == world._api.ffi.NULL
                detail = world._api.ffi.string(world._api.lib.hwsim_last_error()).decode()
                raise DriverError(f"hwsim: unknown board id {board_id} ({detail}); pass spans=/ports= to create it",
                                  code=-2, call="hwsim_board_open", detail=detail)
            world.create_board(board_id, spans or 0, kinds or ())
        board = HwsimBoard(world, board_id)
        if spans is not None and _int(spans, "spans") != board.info.nspans:
            raise DriverError(f"hwsim board {board_id} has {board.info.nspans} spans, not {spans}")
        if kinds is not None and kinds != board.info.port_kinds:
            raise DriverError(f"hwsim board {board_id} has ports {[k.value for k in board.info.port_kinds]}, not "
                              f"{[k.value for k in kinds]}")
        for s, cfg in enumerate(span_configs(span_config, board.info.nspans)):
            if cfg is not None:
                board.configure_span(s, cfg)
        for s, path in (cable_socket or {}).items():
            world.cable_socket(board_id, s, path, listen)
        if port_socket is not None:
            if not board.info.nports:
                raise DriverError(f"hwsim board {board_id}: port_socket= given but the board has no analogue ports")
            world.port_socket(board_id, port_socket)
        if start:
            board.start()
        return board


__all__ = ["World", "Phone", "ExchangeLine", "PortSocketClient", "PortSocketServer", "RemoteLine", "RemotePhone", "HwsimBoard", "HwsimBackend", "default_world", "find_library", "sdk",
           "LINKTYPE_MTP2", "LINKTYPE_MTP2_PHDR", "E1_SLOTS"]
