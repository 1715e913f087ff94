"""R2 / China No.1 variants as data (the way OpenR2 keeps one table per country).

A :class:`Variant` holds everything that differs between national versions of CAS + MFC R2:

* the line-signalling ABCD codes per direction and signal (:class:`LineSignal`); codes may be reused, so the
  meaning of a received code is looked up for the receiver's current state (:meth:`Variant.meanings`);
* what each register signal means, per group (forward group I / II, backward group A / B);
* the timers, each with its value and where the value comes from (:class:`TimerSpec`);
* the number-length rules (how the backward side decides the called number is complete).

China is built in. Its facts (ABCD codes, register flow, OpenR2 1.3.3 timer values) are those of
``/work/shared/reference/telephony-facts.md`` (OpenR2 release-1 r2proto.c CN variant, GF002-9002). An ITU
(Q.421/Q.441) variant is built in too, its tables checked against the Recommendations as tabulated by several
independent sources, its timers against the values sources quote from Q.421 / Q.442 / Q.476 (cited below, with
what the check corrected and what is national). Adding a variant is data only::

    register_variant(Variant(name="xx", line=(...), group_a={...}, ...))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

FORWARD = "forward"     # outgoing side -> incoming side
BACKWARD = "backward"   # incoming side -> outgoing side

#: the register time-outs named as in the Recommendations (a variant has these or ``mf_back_cycle``):
#: outgoing register T1 (forward signal on until it may cease), T2 (no forward signal on), incoming register T3
#: (between the recognition of two forward signals)
REGISTER_TIMERS = ("out_t1", "out_t2", "in_t3")


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
    CONGESTION_INTERNATIONAL = "congestion in an international exchange or at its output"   # Q.441 A-15
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
    M.CONGESTION_INTERNATIONAL: "congestion",
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
    """A named timer: ``label`` is what errors and logs print, e.g. ``"seize-ack wait (OpenR2 1.3.3: 8000 ms)"``.

    ``range_ms``: the range the source gives, when it gives one: ``(low, high)`` inclusive, ``high`` None for no
    upper bound; ``ms`` must lie inside it (``source`` says which value was chosen and why)."""

    key: str                 # the variant's timer key (seize_ack, answer, mf_back_cycle, ...)
    ms: int
    source: str
    name: str = ""           # the name printed in errors (the standard's / implementation's name)
    range_ms: tuple[int, int | None] | None = None

    def __post_init__(self):
        if not isinstance(self.ms, int) or self.ms <= 0:
            raise ValueError(f"timer {self.key!r}: {self.ms!r} ms is not a positive whole number of ms")
        if self.range_ms is not None:
            low, high = self.range_ms
            if self.ms < low or (high is not None and self.ms > high):
                raise ValueError(f"timer {self.key!r}: {self.ms} ms is outside its range {self.range_text}")

    @property
    def range_text(self) -> str:
        if self.range_ms is None:
            return ""
        low, high = self.range_ms
        return f">= {low} ms" if high is None else f"{low}-{high} ms"

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
        for key in ("seize_ack", "answer", "release_guard"):
            if key not in self.timers:
                raise ValueError(f"variant {self.name}: timer {key!r} missing")
        # register supervision: either one wait per compelled-cycle phase (mf_back_cycle, OpenR2's model) or the
        # three timers of the R2 Recommendations (outgoing T1 / T2, incoming T3)
        if "mf_back_cycle" not in self.timers and not all(k in self.timers for k in REGISTER_TIMERS):
            raise ValueError(f"variant {self.name}: timer 'mf_back_cycle' missing "
                             f"(or all of {', '.join(REGISTER_TIMERS)})")
        for key, spec in self.timers.items():
            if not isinstance(spec, TimerSpec) or spec.key != key:
                raise ValueError(f"variant {self.name}: timer {key!r} is not a TimerSpec with that key")
        if "pulse" in self.timers:
            object.__setattr__(self, "pulse_ms", self.timers["pulse"].ms)

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

    @property
    def pulse(self) -> TimerSpec:
        """How long a pulsed backward signal stays on (the ``pulse`` timer, else ``pulse_ms``)."""
        return self.timers.get("pulse") or TimerSpec("pulse", self.pulse_ms, "ctid choice", "pulsed backward signal")

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
# Checked against ITU-T Q.421 (digital line signalling code) and Q.441 (register signal meanings), Blue Book
# 1988, Fascicle VI.4. The public text conversions of the Blue Book carry the Q.441 signal tables as figures
# only, so the table contents were read from tabulations of the Recommendations that agree with each other
# (found with ctid's search tool; secondary sources, cited so that they can be rechecked):
#   [HP]  HP MSR Router Series Voice Configuration Guide (V7), "ITU-T R2 digital line signaling": Table 2 (the
#         meaning of a_f b_f a_b b_b), Table 3 (state codes, C D fixed to 01), Table 4 (group I), Table 5 (group A);
#   [ACC] Accutone Alpha 1100 series user guide, Tables 7 (group I, both meanings), 8 (group II), 9 (group A);
#   [INT] Intel Voice API Programming Guide (June 2005), Table 24 "Meanings for R2/MF group I forward signals";
#   [AST] an Asterisk guide's tables "Inter-register signals (ITU-T Q.441)" (groups I, II, A, B) and its Q.421
#         ABCD table (idle 1001/1001, seized 0001, seize-ack 1101, answered 0101, clear-back 1101, blocked 1101);
#   [RU]  a Russian transcription of the Q.441 group A / B tables with their frequency pairs (topuch.com).
# Corrections made by that check (the earlier stub cited the Unify OpenScape 4000 page hc39188, which is a
# vendor's own variant: its group B has "station number modified" for B-2, "port not configured" for B-5, and
# its differ from Q.441):
#   - group I: I-1..I-10 also mean the language digits (French, English, German, Russian, Spanish, three spare)
#     and the discriminating digits (I-9 spare, I-10); I-11, I-12 and I-14 are also the country-code
#     indicators (with the echo-suppressor information), I-13 the test call indicator, I-15 is "not used" in
#     that position: the stub had only the second meaning of I-11..I-15;
#   - group A: A-15 is congestion (in an international exchange or at its output): the forward register now
#     ends the call with outcome "congestion" for it, as for A-4, instead of failing it as unsupported;
#   - line: Q.421 b_f = 1 means a fault at the outgoing end ([HP] Table 2): forward 1101 ("fault") added.
# No forced-release signal in Q.421 (none in [HP] Table 3 or [AST]), so none here.
#
# Timers and pulse timing: checked against what the R2 Recommendations give, as cited by these sources (the
# public Blue Book conversions of Fascicle VI.4 could not be read past the opening of Section 4 with ctid's
# search tool, which stores only the opening of a page; so the values are those that secondary sources quote
# with a reference to the Recommendation, cited so that they can be rechecked against Q.442 / Q.476 / Q.421):
#   [DLG]  Dialogic 6.2 User Manual (November 2009), "Enabling the R2 Protocol": Table 18 "R2 Digital Line
#          Signaling Parameters" (r2OutSeizeTimer: 100-200 ms on a terrestrial circuit, 1-2 s on a satellite
#          circuit; answer time-out, release-guard time and line qualification times "refer to network
#          specification"), Table 19 "R2 MFC Inter-register Signaling Parameters": pulseToneDuration 100-200 ms
#          (Ref. ITU Q.442), prePulseToneDelay >= 100 ms from the end of the last backward signal (Ref. ITU
#          Q.442), outbound T1 12-18 s from the start of a forward signal to its cessation (Ref. ITU Q.476),
#          outbound T2 > 24 s while no forward signal is sent (Q.476), inbound T3 8-24 s between the
#          recognition of two consecutive forward signals (Ref. ITU Q.476);
#   [3COM] 3Com Router 5000/6000 Command Reference, "timer register-pulse (R2)": the pulsed backward signals A3,
#          A4, A6, A15, default 150 +- 30 ms; on a pulsed A3 the outgoing side sends a group II signal, on A4,
#          A6 or A15 it sends no further forward signal and register signalling ends;
#   [HPV] HP MSR Router Series Voice Command Reference (V5), "timer register-pulse persistence": 150 ms for the
#          pulsed; "timer dl": answer 60000 ms (vendor default, no Recommendation cited);
#   [QNT]  Quintum Tenor "r2timeouts": seizure-acknowledgement wait, default 200 ms.
# National (not fixed by the Recommendations as quoted: "refer to network specification" [DLG]): the answer
# wait, the release-guard wait, the end-of-number time-out (NumberRules), the timed release (Q.118).

_NATIONAL = "national, per [DLG] Table 18"

#: Q.441 register signals (signal number 1..15 -> meaning), as tabulated by the sources above; the machines act
#: on the ``M`` constants, the rest is descriptive.
ITU_Q441_GROUP_I = {
    1: "digit 1 / language digit: French", 2: "digit 2 / language digit: English",
    3: "digit 3 / language digit: German", 4: "digit 4 / language digit: Russian",
    5: "digit 5 / language digit: Spanish", 6: "digit 6 / spare (language digit)",
    7: "digit 7 / spare (language digit)", 8: "digit 8 / spare (language digit)",
    9: "digit 9 / spare (discriminating digit)", 10: "digit 0 / discriminating digit",
    11: "country code indicator, outgoing half-echo suppressor required / access to incoming operator (code 11)",
    12: "country code indicator, no echo suppressor required / access to delay operator (code 12) / "
        "request not accepted",
    13: "test call indicator / access to test equipment (code 13) / satellite link not included",
    14: "country code indicator, outgoing half-echo suppressor inserted / incoming half-echo suppressor "
        "required / satellite link included",
    15: "signal not used (as country code indicator) / end of pulsing (code 15) / end of identification",
}
ITU_Q441_GROUP_II = {
    1: "subscriber without priority", 2: "subscriber with priority", 3: "maintenance equipment", 4: "spare",
    5: "operator", 6: "data transmission (national)",
    7: "subscriber or operator without forward transfer facility (international)",
    8: "data transmission (international)", 9: "subscriber with priority (international)",
    10: "operator with forward transfer facility (international)",
    **{n: "spare for national use" for n in range(11, 16)},
}
ITU_Q441_GROUP_A = {
    1: M.NEXT, 2: M.REPEAT_1, 3: M.CHANGEOVER_B, 4: M.CONGESTION, 5: M.SEND_CATEGORY, 6: M.COMPLETE_CHARGE,
    7: M.REPEAT_2, 8: M.REPEAT_3, 9: "spare for national use", 10: "spare for national use",
    11: "send country code indicator", 12: "send language or discriminating digit", 13: "send nature of circuit",
    14: "request for information on use of an echo suppressor (is an incoming half-echo suppressor required?)",
    15: M.CONGESTION_INTERNATIONAL,
}
ITU_Q441_GROUP_B = {
    1: "spare for national use", 2: M.SEND_SIT, 3: M.BUSY, 4: M.CONGESTION, 5: M.UNALLOCATED, 6: M.FREE_CHARGE,
    7: M.FREE_NO_CHARGE, 8: M.OUT_OF_ORDER, **{n: "spare for national use" for n in range(9, 16)},
}


def _by_char(table: Mapping[int, str]) -> dict[str, str]:
    from ctid.dsp.r2mf import SIGNALS

    return {SIGNALS[n - 1]: m for n, m in table.items()}


ITU = Variant(
    name="itu",
    description="ITU-T R2 (Q.421 digital line signalling, Q.441 register signals, Q.442 / Q.476 timings)",
    line=(
        # Q.421 digital line signalling code, a b with C D = 01 ([HP] Table 3, [AST])
        LineSignal("idle", FORWARD, 0b1001),              # a_f b_f = 1 0
        LineSignal("seize", FORWARD, 0b0001),             # 0 0
        LineSignal("clear_forward", FORWARD, 0b1001),     # 1 0
        LineSignal("fault", FORWARD, 0b1101),             # b_f = 1: fault at the outgoing end ([HP] Table 2)
        LineSignal("idle", BACKWARD, 0b1001),             # a_b b_b = 1 0
        LineSignal("seize_ack", BACKWARD, 0b1101),        # 1 1
        LineSignal("answer", BACKWARD, 0b0101),           # 0 1
        LineSignal("clear_back", BACKWARD, 0b1101),       # 1 1
        LineSignal("blocked", BACKWARD, 0b1101),          # 1 1 (forward idle)
        LineSignal("release_guard", BACKWARD, 0b1001),    # back to 1 0 after clear-forward
    ),
    group_i=_by_char(ITU_Q441_GROUP_I),
    group_ii=_by_char(ITU_Q441_GROUP_II),
    group_a=_by_char(ITU_Q441_GROUP_A),
    group_b=_by_char(ITU_Q441_GROUP_B),
    timers={
        # Digital line signalling (Q.421): the outgoing end waits 100-200 ms for the seizing acknowledgement on a
        # terrestrial circuit, 1-2 s when a satellite link is in the circuit ([DLG] Table 18, which gives these
        # as the typical values without naming the clause; [QNT] 200 ms).
        # ctid cannot tell whether a satellite link is included, so it takes the top of the satellite range,
        # which covers both (on a terrestrial circuit the fault is only reported later). On expiry: clear
        # forward, channel idle, protocol error (what Q.421 prescribes then could not be read: see docs).
        "seize_ack": TimerSpec("seize_ack", 2000,
                               "Q.421, 1-2 s with a satellite link (100-200 ms without) per [DLG] Table 18",
                               "seize-ack wait", (1000, 2000)),
        "answer": TimerSpec("answer", 60000, f"{_NATIONAL}; 60 s as [HPV]", "answer wait"),
        "release_guard": TimerSpec("release_guard", 8000, f"{_NATIONAL}; ctid choice", "release-guard wait"),
        "clear_forward": TimerSpec("clear_forward", 30000, _Q118, "clear-forward wait"),
        # Q.476 register time-outs ([DLG] Table 19, which names them T1, T2, T3)
        "out_t1": TimerSpec("out_t1", 15000, "Q.476 T1, 12-18 s per [DLG] Table 19", "outgoing register T1",
                            (12000, 18000)),
        # > 24 s: longer than any incoming T3, so the incoming register gives up first; 30 s leaves a margin
        "out_t2": TimerSpec("out_t2", 30000, "Q.476 T2, > 24 s per [DLG] Table 19", "outgoing register T2",
                            (24000, None)),
        "in_t3": TimerSpec("in_t3", 15000, "Q.476 T3, 8-24 s per [DLG] Table 19", "incoming register T3",
                           (8000, 24000)),
        # Q.442 pulsed: 100-200 ms [DLG] (150 +- 30 ms [3COM], 150 ms [HPV]): the nominal
        # 150 ms; sent only while no forward signal is on, and not before 100 ms after the end of the last
        # backward signal [DLG]
        "pulse": TimerSpec("pulse", 150, "Q.442, 100-200 ms per [DLG] Table 19, 150 +- 30 ms per [3COM]",
                           "pulsed backward signal", (100, 200)),
        "pre_pulse": TimerSpec("pre_pulse", 100, "Q.442, >= 100 ms after the last backward signal per [DLG] Table 19",
                               "pause before a pulsed signal", (100, None)),
    },
    numbers=NumberRules(end_timeout_ms=3000),
    backward_2of4=False,
    end_of_number_signal="F",             # I-15 end of pulsing (code 15)
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
