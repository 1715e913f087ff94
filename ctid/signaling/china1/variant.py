"""R2 / China No.1 variants as data (the way OpenR2 keeps one table per country).

A :class:`Variant` holds everything that differs between national versions of CAS + MFC R2:

* the line-signalling ABCD codes per direction and signal (:class:`LineSignal`); codes may be reused, so the
  meaning of a received code is looked up for the receiver's current state (:meth:`Variant.meanings`);
* what each register signal means, per group (forward group I / II, backward group A / B);
* the timers, each with its value and where the value comes from (:class:`TimerSpec`);
* the number-length rules (how the backward side decides the called number is complete).

China is built in. Its facts (ABCD codes, register flow, OpenR2 1.3.3 timer values) are those of
``/work/shared/reference/telephony-facts.md`` (OpenR2 release-1 r2proto.c CN variant, GF002-9002). An ITU
(Q.421/Q.441) stub is built in too, its tables cited below from vendor manuals that tabulate the
Recommendations (to be checked against the Recommendation text itself). Adding a variant is data only::

    register_variant(Variant(name="xx", line=(...), group_a={...}, ...))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

FORWARD = "forward"     # outgoing side -> incoming side
BACKWARD = "backward"   # incoming side -> outgoing side


def abcd_str(code: int | None) -> str:
    """``0b1011`` -> ``"1011"`` (``None`` -> ``"----"``)."""
    return "----" if code is None else format(int(code) & 0xF, "04b")


def parse_abcd(text: str) -> int:
    if not isinstance(text, str) or len(text) != 4 or set(text) - {"0", "1"}:
        raise ValueError(f"ABCD code {text!r}: expected four binary digits such as '1011'")
    return int(text, 2)


class M:
    """Register-signal meanings the machines act on (a variant's tables map signals to these)."""

    # group A
    NEXT = "send next digit"
    REPEAT_1 = "send last but one digit"          # n-1
    REPEAT_2 = "send last but two digit"          # n-2
    REPEAT_3 = "send last but three digit"        # n-3
    CHANGEOVER_B = "address complete, change over to group B"
    CONGESTION = "congestion"
    SEND_KA_CALLING = "send KA and calling number"
    SEND_CATEGORY = "send calling party's category"
    COMPLETE_CHARGE = "address complete, charge, set up speech conditions"
    # group B
    FREE = "called party free"
    FREE_CHARGE = "called party free, charge"
    FREE_NO_CHARGE = "called party free, no charge"
    BUSY = "called party busy"
    UNALLOCATED = "unallocated number"
    OUT_OF_ORDER = "called party's line out of order"
    SEND_SIT = "send special information tone"


#: group B meaning -> call outcome reported to the application
OUTCOMES = {
    M.FREE: "free", M.FREE_CHARGE: "free", M.FREE_NO_CHARGE: "free", M.BUSY: "busy", M.CONGESTION: "congestion",
    M.UNALLOCATED: "unallocated", M.OUT_OF_ORDER: "out of order", M.SEND_SIT: "special information tone",
}


@dataclass(frozen=True)
class LineSignal:
    """One line signal: its name, the direction it is sent in, and its ABCD code."""

    name: str
    direction: str
    abcd: int

    def __post_init__(self):
        if self.direction not in (FORWARD, BACKWARD):
            raise ValueError(f"line signal {self.name!r}: direction must be {FORWARD!r} or {BACKWARD!r}")
        if not isinstance(self.abcd, int) or not 0 <= self.abcd <= 15:
            raise ValueError(f"line signal {self.name!r}: ABCD code {self.abcd!r} is not 0..15")


@dataclass(frozen=True)
class TimerSpec:
    """A named timer: ``label`` is what errors and logs print, e.g. ``"seize-ack wait (OpenR2 1.3.3: 8000 ms)"``."""

    key: str                 # the variant's timer key (seize_ack, answer, mf_back_cycle, ...)
    ms: int
    source: str
    name: str = ""           # the name printed in errors (the standard's / implementation's name)

    @property
    def seconds(self) -> float:
        return self.ms / 1000.0

    @property
    def label(self) -> str:
        return f"{self.name or self.key} ({self.source}: {self.ms} ms)"


@dataclass(frozen=True)
class NumberRules:
    """How the backward side knows the called number is complete (China has no end-of-number signal).

    ``lengths``: ``(prefix, length)`` pairs, longest matching prefix wins; ``default_length`` applies when no
    prefix matches (``None``: decide by timeout). ``end_timeout_ms``: silence after the last digit that ends the
    number. ``ani_after``: the backward side asks for KA and the calling number (A6) after this many called
    digits (when calling number is wanted).
    """

    lengths: tuple[tuple[str, int], ...] = ()
    default_length: int | None = None
    max_length: int = 20
    end_timeout_ms: int = 3000
    ani_after: int = 1
    max_calling_length: int = 20

    def complete(self, digits: str) -> bool:
        """True when ``digits`` is a whole called number by the length rules (not by timeout)."""
        best = None
        for prefix, n in self.lengths:
            if digits.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, n)
        want = best[1] if best else self.default_length
        if want is not None and len(digits) >= want:
            return True
        return len(digits) >= self.max_length


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    line: tuple[LineSignal, ...]
    #: register signals: character ("1".."9", "0", "B".."F") -> meaning, per group
    group_i: Mapping[str, str]
    group_ii: Mapping[str, str]
    group_a: Mapping[str, str]
    group_b: Mapping[str, str]
    timers: Mapping[str, TimerSpec]
    numbers: NumberRules = field(default_factory=NumberRules)
    #: backward group uses only signals 1..6 over 4 frequencies (China No.1)
    backward_2of4: bool = False
    #: an end-of-number signal exists in group I (None: the backward side decides by length or timeout)
    end_of_number_signal: str | None = None
    end_of_calling_number_signal: str | None = None
    #: length of a pulsed backward signal (sent when the forward side has nothing compelling it), ms
    pulse_ms: int = 150

    def __post_init__(self):
        seen = set()
        for s in self.line:
            if (s.name, s.direction) in seen:
                raise ValueError(f"variant {self.name}: line signal {s.name!r} ({s.direction}) defined twice")
            seen.add((s.name, s.direction))
        for g in ("group_i", "group_ii", "group_a", "group_b", "timers"):
            object.__setattr__(self, g, MappingProxyType(dict(getattr(self, g))))
        for key in ("seize_ack", "answer", "mf_back_cycle", "release_guard"):
            if key not in self.timers:
                raise ValueError(f"variant {self.name}: timer {key!r} missing")

    # line signalling ---------------------------------------------------------------------------
    def code(self, direction: str, name: str) -> int:
        """The ABCD code of a line signal (``KeyError`` naming the variant if it has none)."""
        for s in self.line:
            if s.direction == direction and s.name == name:
                return s.abcd
        raise KeyError(f"variant {self.name}: no {direction} line signal {name!r}")

    def has_line_signal(self, direction: str, name: str) -> bool:
        return any(s.direction == direction and s.name == name for s in self.line)

    def meanings(self, direction: str, abcd: int) -> frozenset[str]:
        """Every name the code has in that direction (codes are reused: the state picks one)."""
        return frozenset(s.name for s in self.line if s.direction == direction and s.abcd == abcd)

    def timer(self, key: str) -> TimerSpec:
        return self.timers[key]

    # register signalling -----------------------------------------------------------------------
    @staticmethod
    def digit_signal(digit: str) -> str:
        """Group I signal for a decimal digit (I-1..I-9 are 1..9, I-10 is 0): the signal character."""
        if not isinstance(digit, str) or len(digit) != 1 or not digit.isdigit():
            raise ValueError(f"not a decimal digit: {digit!r}")
        return digit

    def signal_for(self, group: str, meaning: str) -> str:
        table = getattr(self, f"group_{group}")
        for sig, m in table.items():
            if m == meaning:
                return sig
        raise KeyError(f"variant {self.name}: no group {group.upper()} signal meaning {meaning!r}")

    def has(self, group: str, meaning: str) -> bool:
        return meaning in getattr(self, f"group_{group}").values()

    def b_signal_for(self, outcome: str) -> str:
        """The group B signal for an outcome (``"free"``, ``"busy"``, ``"congestion"``, ...); for ``"free"``
        plain free, then free with charge, then free without charge."""
        order = [M.FREE, M.FREE_CHARGE, M.FREE_NO_CHARGE] if outcome == "free" else \
            [m for m, o in OUTCOMES.items() if o == outcome]
        for meaning in order:
            if self.has("b", meaning):
                return self.signal_for("b", meaning)
        raise KeyError(f"variant {self.name}: no group B signal for outcome {outcome!r}")

    def category_signal(self, group: str, value: int) -> str:
        """A category (KA in group I, KD in group II) as a signal character: value n is signal n."""
        from ctid.dsp.r2mf import SIGNALS

        if not isinstance(value, int) or not 1 <= value <= 15:
            raise ValueError(f"category {group} must be 1..15, not {value!r}")
        return SIGNALS[value - 1]


# ------------------------------------------------------------------------------------------------ China

_OPENR2 = "OpenR2 1.3.3"
#: ITU-T Q.118 "Abnormal conditions - Special release arrangements": an incoming exchange releases a connection
#: whose calling side does not clear forward within a time limit after the called party cleared (timed release).
#: Q.764 cites Q.118 for ISUP T6 (the same wait after a network-initiated suspend) with 10-32 s; ctid takes 30 s
#: (the value of its ISUP T6 too).
_Q118 = "ITU-T Q.118 timed release, 10-32 s as cited for Q.764 T6"

CHINA = Variant(
    name="cn",
    description="China No.1 (中国一号信令): CAS line signalling on TS16, compelled MFC R2 register signalling",
    line=(
        # raw ABCD, C and D held at 1 (OpenR2 r2proto.c CN variant)
        LineSignal("idle", FORWARD, 0b1011),
        LineSignal("seize", FORWARD, 0b0011),
        LineSignal("clear_forward", FORWARD, 0b1011),
        LineSignal("idle", BACKWARD, 0b1011),
        LineSignal("seize_ack", BACKWARD, 0b1111),
        LineSignal("answer", BACKWARD, 0b0111),
        LineSignal("clear_back", BACKWARD, 0b1111),
        LineSignal("blocked", BACKWARD, 0b1111),
        LineSignal("forced_release", BACKWARD, 0b0011),
        LineSignal("release_guard", BACKWARD, 0b1011),   # after clear-forward the backward side returns to idle
    ),
    group_i={**{d: f"digit {d}" for d in "1234567890"}, "F": "end of calling number"},
    # KD categories are sent as group II signals; the category number is the signal number.
    group_ii={s: f"KD {i}" for i, s in enumerate("1234567890BCDEF", start=1)},
    group_a={"1": M.NEXT, "3": M.CHANGEOVER_B, "4": M.CONGESTION, "6": M.SEND_KA_CALLING},
    group_b={"1": M.FREE, "2": M.BUSY},
    timers={
        "seize_ack": TimerSpec("seize_ack", 8000, _OPENR2, "seize-ack wait"),
        "answer": TimerSpec("answer", 60000, _OPENR2, "answer wait"),
        "mf_back_cycle": TimerSpec("mf_back_cycle", 5000, _OPENR2, "mf_back_cycle"),
        # not from a standard: ctid's own bound on waiting for the backward side to return to idle
        "release_guard": TimerSpec("release_guard", 8000, "ctid choice", "release-guard wait"),
        # incoming side: the forward side must clear forward after a refusal (B2 busy ...) or a clear-back
        "clear_forward": TimerSpec("clear_forward", 30000, _Q118, "clear-forward wait"),
    },
    numbers=NumberRules(end_timeout_ms=3000, ani_after=1),
    backward_2of4=True,
    end_of_number_signal=None,
    end_of_calling_number_signal="F",
)

# ------------------------------------------------------------------------------------------------ ITU (stub)
#
# Line codes of the digital version of R2 line signalling (ITU-T Q.421), C and D fixed to 01, as tabulated in
# "HP MSR Router Series Voice Configuration Guide (V7)", R2 digital line signalling, Table 3 "State code of line
# signaling": idle 10/10, seized 00/10, seizure-ack 00/11, answer 00/01, clear-back 00/11, clear-forward 10/x1,
# blocked 10/11 (af bf / ab bb). No forced-release signal in that table, so none here.
# Register meanings (ITU-T Q.441, 15 backward signals) as tabulated by Unify OpenScape 4000 documentation
# (hc39188, "Signal / Group I / Group II / Group A / Group B") and Accutone Alpha 1100 user guide (Table 9, group A).
# Timers: the China values (OpenR2 1.3.3) reused, not checked for ITU; labelled so.

_UNCHECKED = "OpenR2 1.3.3 CN value, not checked for ITU"

ITU = Variant(
    name="itu",
    description="ITU-T R2 (Q.421 digital line signalling, Q.441 register signals) -- stub, tables only",
    line=(
        LineSignal("idle", FORWARD, 0b1001),
        LineSignal("seize", FORWARD, 0b0001),
        LineSignal("clear_forward", FORWARD, 0b1001),
        LineSignal("idle", BACKWARD, 0b1001),
        LineSignal("seize_ack", BACKWARD, 0b1101),
        LineSignal("answer", BACKWARD, 0b0101),
        LineSignal("clear_back", BACKWARD, 0b1101),
        LineSignal("blocked", BACKWARD, 0b1101),
        LineSignal("release_guard", BACKWARD, 0b1001),
    ),
    group_i={**{d: f"digit {d}" for d in "1234567890"}, "B": "access to incoming operator (code 11)",
             "C": "access to delay operator (code 12) / request not accepted",
             "D": "access to test equipment / satellite link not included",
             "E": "incoming half-echo suppressor required / satellite link included",
             "F": "end of pulsing / end of identification"},
    group_ii={"1": "subscriber without priority", "2": "subscriber with priority", "3": "maintenance equipment",
              "4": "spare", "5": "operator", "6": "data transmission (national)",
              "7": "subscriber or operator without forward transfer (international)",
              "8": "data transmission (international)", "9": "priority subscriber (international)",
              "0": "operator with forward transfer capability (international)",
              **{s: "spare for national use" for s in "BCDEF"}},
    group_a={"1": M.NEXT, "2": M.REPEAT_1, "3": M.CHANGEOVER_B, "4": M.CONGESTION, "5": M.SEND_CATEGORY,
             "6": M.COMPLETE_CHARGE, "7": M.REPEAT_2, "8": M.REPEAT_3, "9": "spare for national use",
             "0": "spare for national use", "B": "send country code indicator",
             "C": "send language or discriminating digit", "D": "send nature of circuit",
             "E": "request information on use of an echo suppressor", "F": "congestion in an international exchange"},
    group_b={"1": "spare for national use", "2": M.SEND_SIT, "3": M.BUSY, "4": M.CONGESTION, "5": M.UNALLOCATED,
             "6": M.FREE_CHARGE, "7": M.FREE_NO_CHARGE, "8": M.OUT_OF_ORDER,
             **{s: "spare for national use" for s in "90BCDEF"}},
    timers={
        "seize_ack": TimerSpec("seize_ack", 8000, _UNCHECKED, "seize-ack wait"),
        "answer": TimerSpec("answer", 60000, _UNCHECKED, "answer wait"),
        "mf_back_cycle": TimerSpec("mf_back_cycle", 5000, _UNCHECKED, "mf_back_cycle"),
        "release_guard": TimerSpec("release_guard", 8000, "ctid choice", "release-guard wait"),
        "clear_forward": TimerSpec("clear_forward", 30000, _Q118, "clear-forward wait"),
    },
    numbers=NumberRules(end_timeout_ms=3000),
    backward_2of4=False,
    end_of_number_signal="F",
    end_of_calling_number_signal=None,
)

_VARIANTS: dict[str, Variant] = {}


def register_variant(variant: Variant) -> None:
    if not isinstance(variant, Variant):
        raise TypeError(f"not a Variant: {variant!r}")
    _VARIANTS[variant.name] = variant


def get_variant(name: str) -> Variant:
    try:
        return _VARIANTS[name]
    except KeyError:
        raise KeyError(f"unknown R2 variant {name!r}; known: {', '.join(sorted(_VARIANTS))}") from None


def variants() -> list[str]:
    return sorted(_VARIANTS)


register_variant(CHINA)
register_variant(ITU)
