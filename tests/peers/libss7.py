"""The libss7 interop peer (``libss7_peer.c``, Debian libss7-dev 2.0, GPLv2, linked only into that separate
program of ours): an ITU SS7 signalling point on one end of an AF_UNIX SOCK_SEQPACKET socketpair.

``Libss7Peer(sock, opc, dpc, first_cic, last_cic)`` starts it with ``sock`` inherited; commands go to its stdin
(``send("call 5 13800138000 1068886666")``), its events come back as JSON lines (``poll()`` reads what is there
without blocking and appends to ``events``). See the C source's header for the commands and events.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from . import HERE, build

SOURCE = HERE / "libss7_peer.c"


def build_libss7_peer() -> Path:
    """The peer executable, compiled once per content (PeerUnavailable without gcc or libss7-dev)."""
    return build(SOURCE, libs=("-lss7",), extra=())


class Libss7Peer:
    def __init__(self, exe: Path, sock, opc: int, dpc: int, first_cic: int, last_cic: int,
                 pace_us: int = 5000, debug: bool = False):
        self.stderr = tempfile.TemporaryFile()
        fd = sock.fileno()
        cmd = [str(exe), str(fd), str(opc), str(dpc), str(first_cic), str(last_cic), "--pace-us", str(pace_us)]
        if debug:
            cmd.append("--debug")
        self.proc = subprocess.Popen(cmd, pass_fds=[fd], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.events: list[dict] = []
        self.sent: list[str] = []
        self._buf = b""

    def send(self, line: str) -> None:
        self.sent.append(line)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def poll(self) -> None:
        while True:
            try:
                data = os.read(self.proc.stdout.fileno(), 65536)
            except BlockingIOError:
                return
            if not data:
                return
            self._buf += data
            *lines, self._buf = self._buf.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                try:
                    self.events.append(json.loads(line))
                except ValueError:
                    self.events.append({"event": "unparsed", "line": line.decode(errors="replace")})

    def find(self, event: str, **match) -> list[dict]:
        return [e for e in self.events if e["event"] == event and all(e.get(k) == v for k, v in match.items())]

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def stderr_tail(self, n: int = 4000) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-n:]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.stderr.close()
