"""Call-progress tone tables. The China set is built in; other countries are added as tables.

A tone is one or two frequencies and a cadence of alternating on/off durations (ms) that repeats;
an empty cadence is a continuous tone. The same table drives the detector and the generator.
Sources: Asterisk indications.conf [cn], spandsp global-tones.xml, YD/T 1277 (450 Hz, -10 +-3 dBm0).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ._native import ffi, lib

MAX_SEGS = lib.CTID_TONE_MAX_SEGS
MAX_DEFS = lib.CTID_TONE_MAX_DEFS


MAX_FREQS = 8        # distinct frequencies in one table (Goertzel bins of the detector)
MAX_FREQ_SETS = 8    # distinct single/pair frequency sets in one table
MAX_HISTORY = 64     # min_cycles * len(cadence) must fit the detector's segment history
MAX_MS = 60000       # longest cadence segment / detect time
MIN_ON_MS = 20       # shortest on-segment the detector can verify (two 10 ms blocks)


@dataclass(frozen=True)
class ToneDef:
    """One call-progress tone: one or two frequencies and a repeating on/off cadence.

    ``cadence_ms`` is (on, off, on, off, ...) in ms; ``()`` means continuous. ``min_cycles`` cadence cycles
    must be seen before the detector reports a cadenced tone; a continuous tone is reported after it has
    been on for ``detect_ms``. ``level_dbm0`` is the generator level of each frequency.
    Bad values raise :class:`ValueError` naming the tone and the field.
    """

    name: str
    freq1: float
    freq2: float = 0.0
    cadence_ms: tuple[int, ...] = ()   # on, off, on, off ... ; () = continuous
    level_dbm0: float = -10.0
    min_cycles: int = 1                # cadence cycles observed before the tone is reported
    detect_ms: int = 0                 # continuous tones: time on before it is reported

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name or len(self.name.encode()) >= 24:
            raise ValueError(f"tone name must be 1..23 bytes: {self.name!r}")
        for fname in ("freq1", "freq2", "level_dbm0"):
            v = getattr(self, fname)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"tone {self.name}: {fname} must be a finite number, not {v!r}")
        if not 100 <= self.freq1 <= 3800:
            raise ValueError(f"tone {self.name}: freq1 must be 100..3800 Hz, not {self.freq1!r}")
        if self.freq2 != 0 and not 100 <= self.freq2 <= 3800:
            raise ValueError(f"tone {self.name}: freq2 must be 0 (single tone) or 100..3800 Hz, not {self.freq2!r}")
        if self.freq2 == self.freq1:
            raise ValueError(f"tone {self.name}: freq2 equals freq1 ({self.freq1} Hz); use freq2=0 for a single tone")
        if not -60.0 <= self.level_dbm0 <= 3.0:
            raise ValueError(f"tone {self.name}: level_dbm0 must be -60..+3 dBm0, not {self.level_dbm0!r}")
        cad = self.cadence_ms
        if not isinstance(cad, tuple) or any(isinstance(d, bool) or not isinstance(d, int) for d in cad):
            raise ValueError(f"tone {self.name}: cadence_ms must be a tuple of whole milliseconds, not {cad!r}")
        if len(cad) % 2 or len(cad) > MAX_SEGS:
            raise ValueError(
                f"tone {self.name}: cadence needs on/off pairs, at most {MAX_SEGS} entries (got {len(cad)})")
        if any(d <= 0 or d > MAX_MS for d in cad):
            raise ValueError(f"tone {self.name}: cadence durations must be 1..{MAX_MS} ms: {cad!r}")
        if any(d < MIN_ON_MS for d in cad[0::2]):
            raise ValueError(f"tone {self.name}: on-segments must be at least {MIN_ON_MS} ms: {cad!r}")
        for fname in ("min_cycles", "detect_ms"):
            v = getattr(self, fname)
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"tone {self.name}: {fname} must be an int, not {v!r}")
        if not cad and not 0 < self.detect_ms <= MAX_MS:
            raise ValueError(f"tone {self.name}: a continuous tone needs detect_ms in 1..{MAX_MS}")
        if cad and self.detect_ms < 0:
            raise ValueError(f"tone {self.name}: detect_ms must not be negative")
        if self.min_cycles < 1:
            raise ValueError(f"tone {self.name}: min_cycles must be >= 1")
        if self.min_cycles * len(cad) > MAX_HISTORY:
            raise ValueError(
                f"tone {self.name}: min_cycles x cadence entries must be <= {MAX_HISTORY} "
                f"({self.min_cycles} x {len(cad)})")

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
    """The China call-progress tones: 450 Hz, sent at -10 +-3 dBm0 (YD/T 1277; Asterisk indications.conf [cn]).

    min_cycles / detect_ms are receiver choices, made so that no tone of this table can be taken for another
    with the detector's default cadence tolerance (10 % + 25 ms, so every segment may be 10 % off):
    - dial: continuous; reported after 1.5 s on, longer than the longest ringback on-segment accepted
      (1000 ms + 10 % + 25 ms = 1125 ms), so a ring is never taken for dial tone.
    - busy 0.35/0.35: two cycles, because one 0.4/0.4 pair of the vacant-number tone fits one busy cycle.
    - congestion 0.7/0.7: two cycles (a single 0.7 s burst is weak evidence; any truncated tone can give it).
    - ringback 1/4: one cycle (the 4 s silence must reach its lower bound, 3.575 s).
    - call waiting 0.4/4: two cycles, because a ringback joined part-way through its first ring (voice path
      connected mid-ring) gives one 0.4/4-like cycle; the second 1 s ring tells them apart.
    - vacant number (0.1/0.1) x3 then 0.4/0.4: one full cycle (any rotation starting at an "on").
    - special dial tone 0.4/0.04: three cycles, so the 40 ms gaps are confirmed.
    """
    return [
        ToneDef("dial", 450, detect_ms=1500),
        ToneDef("busy", 450, cadence_ms=(350, 350), min_cycles=2),
        ToneDef("congestion", 450, cadence_ms=(700, 700), min_cycles=2),
        ToneDef("ringback", 450, cadence_ms=(1000, 4000)),
        ToneDef("call_waiting", 450, cadence_ms=(400, 4000), min_cycles=2),
        ToneDef("vacant", 450, cadence_ms=(100, 100, 100, 100, 100, 100, 400, 400)),
        ToneDef("special_dial", 450, cadence_ms=(400, 40), min_cycles=3),
    ]


COUNTRIES = {"cn": china_tones}


def tones_for(country: str) -> list[ToneDef]:
    try:
        return COUNTRIES[country.lower()]()
    except KeyError:
        raise ValueError(f"no tone table for {country!r}; known: {', '.join(COUNTRIES)}") from None


def check_table(tones) -> list[ToneDef]:
    """Validate a whole table (what the detector can hold); returns it as a list. Raises ValueError."""
    tones = list(tones)
    for t in tones:
        if not isinstance(t, ToneDef):
            raise ValueError(f"tone tables hold ToneDef objects, not {type(t).__name__}")
    if len(tones) > MAX_DEFS:
        raise ValueError(f"at most {MAX_DEFS} tones in a table, not {len(tones)}")
    names = [t.name for t in tones]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"duplicate tone name(s) in the table: {', '.join(dup)}")
    freqs = {f for t in tones for f in (t.freq1, t.freq2) if f}
    if len(freqs) > MAX_FREQS:
        raise ValueError(f"a table may use at most {MAX_FREQS} distinct frequencies, not {len(freqs)}")
    sets = {tuple(sorted(f for f in (t.freq1, t.freq2) if f)) for t in tones}
    if len(sets) > MAX_FREQ_SETS:
        raise ValueError(f"a table may use at most {MAX_FREQ_SETS} distinct frequency sets, not {len(sets)}")
    return tones


def tone_table_to_c(tones):
    """Return (cffi array of ctid_tone_def_t, count) for a list of ToneDef (validated with check_table)."""
    tones = check_table(tones)
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
