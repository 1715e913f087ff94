"""OpenR2 1.3.3 (Debian libopenr2-dev, LGPL) as an independent peer: separate programs of ours that link
against it; nothing of OpenR2 is copied into ctid.

- ``openr2_mf.c``: OpenR2's MF tone engine (generator and receiver), linked statically against libopenr2.a,
  audio on stdin/stdout.
- ``openr2_peer.c`` + ``fakedahdi.c``: an OpenR2 channel (China variant) whose /dev/dahdi/channel is faked by
  a preloaded library over a Unix socket (see ``openr2_peer.c`` for the protocol).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import HERE, PeerUnavailable, _parse_rx, build  # noqa: F401  (PeerUnavailable re-exported)

MF_SOURCE = HERE / "openr2_mf.c"
ALAW_HEADER = HERE / "g711_alaw.h"


def static_lib() -> Path:
    """libopenr2.a as the compiler finds it (Debian: /usr/lib/<triplet>/libopenr2.a)."""
    try:
        r = subprocess.run(["gcc", "-print-file-name=libopenr2.a"], capture_output=True, text=True, timeout=30)
        p = Path(r.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        p = Path("libopenr2.a")
    return p if p.is_absolute() else Path("/usr/lib/x86_64-linux-gnu/libopenr2.a")


class OpenR2Mf:
    """OpenR2's MF engine. Audio: A-law codes (uint8) or int16 (law="linear")."""

    def __init__(self, exe: Path | None = None):
        lib = static_lib()
        self.exe = Path(exe) if exe else build(MF_SOURCE, libs=(str(lib), "-lm"), extra=(ALAW_HEADER,), needs=(lib,))

    def _run(self, args, data: bytes = b"", law: str = "alaw", timeout: float = 120) -> bytes:
        cmd = [str(self.exe), "-l", law, *map(str, args)]
        r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
        return r.stdout

    def tx(self, signals: str, backward: bool = False, on_ms: int = 100, off_ms: int = 100,
           law: str = "alaw") -> np.ndarray:
        raw = self._run(["tx", "bwd" if backward else "fwd", signals, on_ms, off_ms], b"", law)
        if law == "linear":
            return np.frombuffer(raw, dtype="<i2").astype(np.int16)
        return np.frombuffer(raw, dtype=np.uint8).copy()

    def rx(self, audio, backward: bool = False, law: str = "alaw"):
        if law == "linear":
            data = np.ascontiguousarray(audio, dtype="<i2").tobytes()
        else:
            data = np.ascontiguousarray(audio, dtype=np.uint8).tobytes()
        return _parse_rx(self._run(["rx", "bwd" if backward else "fwd"], data, law).decode())


# ---------------------------------------------------------------------------------------------- call peer
PEER_SOURCE = HERE / "openr2_peer.c"
FAKE_SOURCE = HERE / "fakedahdi.c"
SILENCE = 0xD5


def dahdi_include() -> Path:
    """The directory holding dahdi/user.h: /usr/include, or the dahdi-dkms source tree
    (/usr/src/dahdi-<version>/include, Debian dahdi-dkms)."""
    if Path("/usr/include/dahdi/user.h").exists():
        return Path("/usr/include")
    found = sorted(Path("/usr/src").glob("dahdi-*/include/dahdi/user.h"))
    if not found:
        raise PeerUnavailable("dahdi/user.h not found (neither /usr/include/dahdi nor /usr/src/dahdi-*/include: "
                              "apt-get install dahdi-dkms)")
    return found[-1].parent.parent


def build_fakedahdi() -> Path:
    inc = dahdi_include()
    return build(FAKE_SOURCE, libs=("-ldl",), cflags=("-O2", "-shared", "-fPIC", f"-I{inc}", f"-I{HERE}"),
                 extra=(ALAW_HEADER, inc / "dahdi" / "user.h"))


def build_openr2_peer() -> Path:
    inc = dahdi_include()
    return build(PEER_SOURCE, libs=("-lopenr2",), cflags=("-O2", f"-I{inc}"), extra=(inc / "dahdi" / "user.h",),
                 needs=(static_lib(),))


class OpenR2Programs:
    """The compiled call peer and the fake DAHDI library (the session fixture)."""

    def __init__(self):
        self.peer = build_openr2_peer()
        self.fake = build_fakedahdi()


class OpenR2Channel:
    """An OpenR2 channel (openr2_peer under fakedahdi) on one timeslot of a hwsim CAS board; the bridge owns
    that board. Call :meth:`step` once per 20 ms tick after the world ticked: it hands the peer the ABCD changes
    and the received block of its timeslot, waits until the peer has processed them (lock step), sets the ABCD
    bits it asked for and writes the audio it wrote into the timeslot.

    ``events``: the peer's JSON events (dicts, plus ``tick``); ``tx_abcd``: (tick, abcd) for every
    DAHDI_SETTXBITS."""

    def __init__(self, programs: OpenR2Programs, board, span: int, timeslot: int, max_ani: int = 10,
                 max_dnis: int = 4, variant: str = "CN", loglevel: str = "error,warning", channo: int = 1,
                 timeout: float = 20.0):
        self.board, self.span, self.timeslot = board, span, timeslot
        self.col = board.spans[span].timeslot(timeslot).number
        self.events: list[dict] = []
        self.tx_abcd: list[tuple[int, int]] = []
        self.other_events: list = []
        self.ticks = 0
        self._fifo = bytearray()
        self._buf = b""
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(timeout)
        now = board.get_abcd(span, timeslot)
        if now is not None:
            self.sock.send(b"B" + bytes([now]))      # what the line shows already (the driver reports changes)
        self.stderr = tempfile.TemporaryFile()
        env = dict(os.environ, LD_PRELOAD=str(programs.fake), FAKEDAHDI_FD=str(theirs.fileno()))
        cmd = [str(programs.peer), "-v", variant, "-a", str(max_ani), "-d", str(max_dnis), "-l", loglevel,
               str(channo)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     env=env, pass_fds=(theirs.fileno(),))
        theirs.close()
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._until_done()
        self._read_events()

    # ------------------------------------------------------------------------------------------------
    def log(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def _until_done(self) -> None:
        while True:
            try:
                msg = self.sock.recv(8192)
            except socket.timeout:
                raise RuntimeError(f"openr2_peer did not finish its block:\n{self.log()}") from None
            if not msg:
                self.proc.wait(5)
                raise RuntimeError(f"openr2_peer exited ({self.proc.returncode}):\n{self.log()}")
            kind, body = msg[:1], msg[1:]
            if kind == b"D":
                return
            if kind == b"T":
                self.board.set_abcd(self.span, self.timeslot, body[0])
                self.tx_abcd.append((self.ticks, body[0]))
            elif kind == b"F":
                self._fifo.clear()
            elif kind == b"W":
                self._fifo += body
                if len(self._fifo) > 4 * 160:               # DAHDI's 4 buffers of 160: the oldest go
                    del self._fifo[:len(self._fifo) - 4 * 160]

    def _read_events(self) -> None:
        while True:
            try:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self._buf += chunk
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            if line.strip():
                ev = json.loads(line)
                ev["tick"] = self.ticks
                self.events.append(ev)

    def command(self, line: str) -> None:
        """Send a command line (taken by the peer at its next block)."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def step(self) -> None:
        from ctid.drivers.model import AbcdEvent

        self.ticks += 1
        for ev in self.board.events():
            if isinstance(ev, AbcdEvent) and (ev.span, ev.timeslot) == (self.span, self.timeslot):
                self.sock.send(b"B" + bytes([ev.abcd]))
            else:
                self.other_events.append(ev)
        block = self.board.read_block()
        self.sock.send(b"R" + block[:, self.col].tobytes())
        self._until_done()
        out = self.board.new_block(SILENCE)
        if self._fifo:
            take = bytes(self._fifo[:160])
            del self._fifo[:160]
            out[:len(take), self.col] = np.frombuffer(take, dtype=np.uint8)
        self.board.write_block(out)
        self._read_events()

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def first(self, name: str) -> dict | None:
        return next((e for e in self.events if e["event"] == name), None)

    def close(self) -> None:
        try:
            self.sock.close()
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(5)


PROBE_SOURCE = HERE / "fakedahdi_probe.c"


def build_fakedahdi_probe() -> Path:
    """A small DAHDI client (no OpenR2) that exercises fakedahdi's semantics for the tests."""
    inc = dahdi_include()
    return build(PROBE_SOURCE, libs=(), cflags=("-O2", f"-I{inc}"), extra=(inc / "dahdi" / "user.h",))
