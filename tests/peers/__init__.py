"""Independent reference peers for ctid's tests and benchmarks.

spandsp (Debian libspandsp-dev 0.0.6, LGPL) is used only as a separate program of ours that links against
it (``spandsp_peer.c`` here, ``bench/peers/spandsp_bench.c``); nothing of spandsp is copied into ctid.
OpenR2 1.3.3 (Debian libopenr2-dev, LGPL) likewise: ``openr2_mf.c`` (its MF engine, static libopenr2.a),
``openr2_peer.c`` + ``fakedahdi.c`` (an OpenR2 channel on a faked /dev/dahdi/channel); see ``openr2.py``.
Programs are compiled once into a cache directory keyed by the source's hash
(``$CTID_PEER_CACHE`` or ``~/.cache/ctid-peers``).

Importable without ctid: the benchmark and talk-off scripts in ``bench/`` use it too.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PEER_SOURCE = HERE / "spandsp_peer.c"


class PeerUnavailable(RuntimeError):
    """The peer cannot be built here (no compiler or no libspandsp-dev); the message says which."""


SHARED_HEADER = Path(__file__).with_name("spandsp_china_tones.h")


def cache_dir() -> Path:
    d = Path(os.environ.get("CTID_PEER_CACHE", Path.home() / ".cache" / "ctid-peers"))
    d.mkdir(parents=True, exist_ok=True)
    return d


#: header a peer includes -> the Debian package that provides it (for the "unavailable" message)
PACKAGES = {"spandsp.h": "libspandsp-dev", "openr2.h": "libopenr2-dev", "libopenr2.a": "libopenr2-dev",
            "user.h": "dahdi-dkms", "libss7.h": "libss7-dev"}


def build(source: Path, libs=("-lspandsp", "-lm"), cflags=("-O2",), extra=(SHARED_HEADER,), needs=()) -> Path:
    """Compile one C source into the cache (once per content) and return the executable's path.

    ``extra``: other files the program depends on (headers it includes), part of the cache key.
    ``needs``: files that must exist (e.g. a static library): PeerUnavailable names the package otherwise.
    """
    source = Path(source)
    gcc = shutil.which(os.environ.get("CC", "gcc"))
    if gcc is None:
        raise PeerUnavailable("no C compiler (gcc) on PATH")
    for f in needs:
        if not Path(f).exists():
            pkg = PACKAGES.get(Path(f).name, "?")
            raise PeerUnavailable(f"{f} not found ({pkg} is not installed: apt-get install {pkg})")
    text = source.read_bytes() + b"".join(Path(f).read_bytes() for f in extra)
    key = hashlib.sha256(text + repr((libs, cflags)).encode()).hexdigest()[:16]
    exe = cache_dir() / f"{source.stem}-{key}"
    if exe.exists():
        return exe
    tmp = exe.with_name(exe.name + f".tmp{os.getpid()}")
    cmd = [gcc, *cflags, "-Wall", "-o", str(tmp), str(source), *libs]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        for header, pkg in PACKAGES.items():
            if header in r.stderr and "No such file" in r.stderr:
                raise PeerUnavailable(f"{pkg} is not installed ({header} not found; apt-get install {pkg})")
        raise PeerUnavailable(f"building {source.name} failed:\n{' '.join(cmd)}\n{r.stderr[-3000:]}")
    os.replace(tmp, exe)
    return exe


@dataclass
class PeerEvent:
    type: str        # "on" / "off"
    t: int           # sample index at the end of the 160-sample block in which spandsp reported it
    value: object = None   # DTMF/R2: character; CPT: tone index (ctid china_tones() order)
    level: int = 0


@dataclass
class RxResult:
    events: list = field(default_factory=list)
    digits: str = ""

    @property
    def ons(self) -> list:
        return [e for e in self.events if e.type == "on"]


def _parse_rx(out: str, numeric: bool = False) -> RxResult:
    res = RxResult()
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "on":
            v = int(parts[1]) if numeric else parts[1]
            res.events.append(PeerEvent("on", int(parts[2]), v, int(parts[3])))
        elif parts[0] == "off":
            res.events.append(PeerEvent("off", int(parts[1])))
        elif parts[0] == "digits":
            res.digits = parts[1] if len(parts) > 1 else ""
    return res


class SpandspPeer:
    """Runs the compiled spandsp_peer. Audio is bytes (A-law/mu-law codes) or int16 arrays (law="linear")."""

    def __init__(self, exe: Path | None = None):
        self.exe = Path(exe) if exe else build(PEER_SOURCE)

    def _run(self, args, data: bytes = b"", law: str = "alaw", timeout: float = 600) -> bytes:
        cmd = [str(self.exe), "-l", law, *map(str, args)]
        r = subprocess.run(cmd, input=data, capture_output=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
        return r.stdout

    @staticmethod
    def _audio_in(audio, law: str) -> bytes:
        if law == "linear":
            return np.ascontiguousarray(audio, dtype="<i2").tobytes()
        if isinstance(audio, (bytes, bytearray)):
            return bytes(audio)
        return np.ascontiguousarray(audio, dtype=np.uint8).tobytes()

    @staticmethod
    def _audio_out(raw: bytes, law: str) -> np.ndarray:
        if law == "linear":
            return np.frombuffer(raw, dtype="<i2").astype(np.int16)
        return np.frombuffer(raw, dtype=np.uint8).copy()

    # G.711 ------------------------------------------------------------------------------------
    def g711_tables(self) -> dict:
        raw = self._run(["g711-tables"])
        b = np.frombuffer(raw, dtype=np.uint8)
        assert len(b) == 65536 * 2 + 512 * 2 + 256 * 2, len(b)
        return {
            "linear_to_alaw": b[:65536].copy(),          # index = linear + 32768
            "linear_to_ulaw": b[65536:131072].copy(),
            "alaw_to_linear": np.frombuffer(raw[131072:131584], dtype="<i2").astype(np.int16),
            "ulaw_to_linear": np.frombuffer(raw[131584:132096], dtype="<i2").astype(np.int16),
            "alaw_to_ulaw": b[132096:132352].copy(),
            "ulaw_to_alaw": b[132352:132608].copy(),
        }

    # DTMF -------------------------------------------------------------------------------------
    def dtmf_rx(self, audio, law: str = "alaw", twist: int | None = None, reverse_twist: int | None = None,
                threshold: int | None = None) -> RxResult:
        args = ["dtmf-rx"]
        if twist is not None:
            args += [twist, reverse_twist if reverse_twist is not None else -1,
                     threshold if threshold is not None else -99]
        return _parse_rx(self._run(args, self._audio_in(audio, law), law).decode())

    def dtmf_tx(self, digits: str, law: str = "alaw", level: int | None = None, twist: int = 0,
                on_ms: int | None = None, off_ms: int | None = None) -> np.ndarray:
        args = ["dtmf-tx", digits]
        if level is not None or on_ms is not None:
            args += [level if level is not None else -10, twist]
        if on_ms is not None:
            args += [on_ms, off_ms if off_ms is not None else on_ms]
        return self._audio_out(self._run(args, b"", law), law)

    # MFC R2 -----------------------------------------------------------------------------------
    def r2_rx(self, audio, backward: bool = False, law: str = "alaw") -> RxResult:
        args = ["r2-rx", "bwd" if backward else "fwd"]
        return _parse_rx(self._run(args, self._audio_in(audio, law), law).decode())

    def r2_tx(self, signals: str, backward: bool = False, on_ms: int = 100, off_ms: int = 100,
              law: str = "alaw") -> np.ndarray:
        args = ["r2-tx", "bwd" if backward else "fwd", signals, on_ms, off_ms]
        return self._audio_out(self._run(args, b"", law), law)

    # Caller ID (on-hook data transmission) ----------------------------------------------------
    def adsi_tx(self, message: bytes, standard: str = "class", law: str = "alaw") -> np.ndarray:
        """spandsp's transmission of `message` (type, length, body; spandsp appends the checksum) with its
        default seizure/mark preamble, between 100 ms of silence. class = Bell 202, clip = ETSI V.23."""
        return self._audio_out(self._run(["adsi-tx", standard, bytes(message).hex()], b"", law), law)

    def adsi_rx(self, audio, standard: str = "class", law: str = "alaw") -> list[bytes]:
        """Messages spandsp's adsi_rx delivers (type, length, body; checksum already verified and removed)."""
        out = self._run(["adsi-rx", standard], self._audio_in(audio, law), law).decode()
        return [bytes.fromhex(line.split()[1]) for line in out.splitlines() if line.startswith("msg ")]

    # Call progress (China set, ctid china_tones() order) -------------------------------------
    def cpt_rx(self, audio, law: str = "alaw") -> RxResult:
        return _parse_rx(self._run(["cpt-rx"], self._audio_in(audio, law), law).decode(), numeric=True)


def require_peers() -> bool:
    """CI sets CTID_REQUIRE_PEERS=1: a missing peer is then a failure, not a skip."""
    return os.environ.get("CTID_REQUIRE_PEERS", "") not in ("", "0")
