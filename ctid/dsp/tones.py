"""Call-progress tone tables. The China set is built in; other countries are added as tables.

A tone is one or two frequencies and a cadence of alternating on/off durations (ms) that repeats;
an empty cadence is a continuous tone. The same table drives the detector and the generator.
Sources: Asterisk indications.conf [cn], spandsp global-tones.xml, YD/T 1277 (450 Hz, -10 +-3 dBm0).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ._native import ffi, lib

MAX_SEGS = lib.CTID_TONE_MAX_SEGS
MAX_DEFS = lib.CTID_TONE_MAX_DEFS


@dataclass(frozen=True)
class ToneDef:
    name: str
    freq1: float
    freq2: float = 0.0
    cadence_ms: tuple[int, ...] = ()   # on, off, on, off ... ; () = continuous
    level_dbm0: float = -10.0
    min_cycles: int = 1                # cadence cycles observed before the tone is reported
    detect_ms: int = 0                 # continuous tones: time on before it is reported

    def __post_init__(self):
        if not self.name or len(self.name.encode()) >= 24:
            raise ValueError(f"tone name must be 1..23 bytes: {self.name!r}")
        if not 100 <= self.freq1 <= 3800 or not (self.freq2 == 0 or 100 <= self.freq2 <= 3800):
            raise ValueError(f"tone {self.name}: frequencies must be 100..3800 Hz")
        if len(self.cadence_ms) % 2 or len(self.cadence_ms) > MAX_SEGS:
            raise ValueError(f"tone {self.name}: cadence needs on/off pairs, at most {MAX_SEGS} entries")
        if any(int(d) <= 0 for d in self.cadence_ms):
            raise ValueError(f"tone {self.name}: cadence durations must be positive")
        if not self.cadence_ms and self.detect_ms <= 0:
            raise ValueError(f"tone {self.name}: a continuous tone needs detect_ms > 0")
        if self.min_cycles < 1:
            raise ValueError(f"tone {self.name}: min_cycles must be >= 1")

    @property
    def continuous(self) -> bool:
        return not self.cadence_ms

    @property
    def period_ms(self) -> int:
        return sum(self.cadence_ms)

    def to_dict(self) -> dict:
        return {
            "name": self.name, "freq1": self.freq1, "freq2": self.freq2, "cadence_ms": list(self.cadence_ms),
            "level_dbm0": self.level_dbm0, "min_cycles": self.min_cycles, "detect_ms": self.detect_ms,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ToneDef":
        known = {"name", "freq1", "freq2", "cadence_ms", "level_dbm0", "min_cycles", "detect_ms"}
        bad = set(d) - known
        if bad:
            raise ValueError(f"unknown tone field(s): {', '.join(sorted(bad))}")
        d = dict(d)
        d["cadence_ms"] = tuple(int(x) for x in d.get("cadence_ms", ()))
        return cls(**d)


def china_tones() -> list[ToneDef]:
    """The China call-progress tones (450 Hz, -10 dBm0)."""
    return [
        ToneDef("dial", 450, detect_ms=1500),
        ToneDef("busy", 450, cadence_ms=(350, 350), min_cycles=2),
        ToneDef("congestion", 450, cadence_ms=(700, 700), min_cycles=2),
        ToneDef("ringback", 450, cadence_ms=(1000, 4000)),
        ToneDef("call_waiting", 450, cadence_ms=(400, 4000)),
        ToneDef("vacant", 450, cadence_ms=(100, 100, 100, 100, 100, 100, 400, 400)),
        ToneDef("special_dial", 450, cadence_ms=(400, 40), min_cycles=3),
    ]


COUNTRIES = {"cn": china_tones}


def tones_for(country: str) -> list[ToneDef]:
    try:
        return COUNTRIES[country.lower()]()
    except KeyError:
        raise ValueError(f"no tone table for {country!r}; known: {', '.join(COUNTRIES)}") from None


def tone_table_to_c(tones):
    """Return (cffi array of ctid_tone_def_t, count) for a list of ToneDef."""
    tones = list(tones)
    if len(tones) > MAX_DEFS:
        raise ValueError(f"at most {MAX_DEFS} tones in a table, not {len(tones)}")
    arr = ffi.new("ctid_tone_def_t[]", max(1, len(tones)))
    for i, t in enumerate(tones):
        _fill(arr[i], t)
    return arr, len(tones)


def tone_def_to_c(t: ToneDef):
    p = ffi.new("ctid_tone_def_t *")
    _fill(p[0], t)
    return p


def _fill(c, t: ToneDef) -> None:
    c.name = t.name.encode()
    c.freq1 = t.freq1
    c.freq2 = t.freq2
    c.level_dbm0 = t.level_dbm0
    c.nsegs = len(t.cadence_ms)
    for j, d in enumerate(t.cadence_ms):
        c.seg_ms[j] = int(d)
    c.min_cycles = t.min_cycles
    c.detect_ms = t.detect_ms
