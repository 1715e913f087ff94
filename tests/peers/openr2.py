"""OpenR2 1.3.3 (Debian libopenr2-dev, LGPL) as an independent peer: separate programs of ours that link
against it; nothing of OpenR2 is copied into ctid.

- ``openr2_mf.c``: OpenR2's MF tone engine (generator and receiver), linked statically against libopenr2.a,
  audio on stdin/stdout.
- ``openr2_peer.c`` + ``fakedahdi.c``: an OpenR2 channel (China variant) whose /dev/dahdi/channel is faked by
  a preloaded library over a Unix socket (see ``openr2_peer.c`` for the protocol).
"""
from __future__ import annotations

import subprocess
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
