"""ISUP (ITU-T Q.763) messages and parameters used by call control and circuit supervision.

A message is ``CIC (12 bits in 2 octets, little-endian) | message type | mandatory fixed part | pointers |
mandatory variable part (length + value) | optional part (name, length, value ... end of optional parameters 0)``.
Parameter values are declared with construct; the message layouts are the table :data:`MESSAGES`
(Q.763 tables 32-52). Unknown message types decode to :class:`UnknownMessage` and unknown parameters to
:class:`RawParameter`, both carrying their bytes so a higher layer can apply the Q.764 2.9.5 procedures.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import construct as c

from .errors import CodecError

_B = c.BitsInteger


def _bits(*fields: tuple[str, int]) -> c.Construct:
    return c.BitStruct(*[name / _B(width) for name, width in fields])


# ---------------------------------------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class Parameter:
    """Base: ``CODE`` (Q.763 table 5), ``NAME``, ``STRUCT`` (construct of the value), ``SIZE`` if fixed length."""

    CODE: ClassVar[int] = -1
    NAME: ClassVar[str] = ""
    STRUCT: ClassVar[c.Construct | None] = None
    SIZE: ClassVar[int | None] = None
    BITS: ClassVar[dict] = {}

    def encode_value(self) -> bytes:
        try:
            return self.STRUCT.build({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        except (c.ConstructError, TypeError, ValueError) as exc:
            raise CodecError(f"ISUP: cannot encode {self.NAME}: {exc}") from None

    @classmethod
    def decode_value(cls, data: bytes) -> "Parameter":
        if cls.SIZE is not None and len(data) != cls.SIZE:
            raise CodecError(f"ISUP: {cls.NAME} is {len(data)} octets, Q.763 says {cls.SIZE}")
        try:
            obj = cls.STRUCT.parse(data)
        except c.ConstructError as exc:
            raise CodecError(f"ISUP: malformed {cls.NAME} ({data.hex()}): {exc}") from None
        return cls(**{f.name: obj[f.name] for f in dataclasses.fields(cls)})


def _fixed(code: int, name: str, *bitfields: tuple[str, int]):
    """Decorator filling CODE/NAME/STRUCT/SIZE for a parameter whose value is a fixed set of bit fields."""

    def deco(cls):
        cls.CODE, cls.NAME = code, name
        cls.STRUCT = _bits(*bitfields)
        cls.BITS = dict(bitfields)
        cls.SIZE = sum(w for _, w in bitfields) // 8
        return cls

    return deco


@_fixed(0x06, "nature_of_connection_indicators",
        ("spare", 3), ("echo_control", 1), ("continuity_check", 2), ("satellite", 2))
@dataclass(frozen=True)
class NatureOfConnectionIndicators(Parameter):
    satellite: int = 0
    continuity_check: int = 0
    echo_control: int = 0
    spare: int = 0


@_fixed(0x07, "forward_call_indicators",
        ("isup_preference", 2), ("isup_indicator", 1), ("end_to_end_info", 1), ("interworking", 1),
        ("end_to_end_method", 2), ("international", 1),
        ("national_use", 4), ("spare", 1), ("sccp_method", 2), ("isdn_access", 1))
@dataclass(frozen=True)
class ForwardCallIndicators(Parameter):
    international: int = 0
    end_to_end_method: int = 0
    interworking: int = 0
    end_to_end_info: int = 0
    isup_indicator: int = 1
    isup_preference: int = 0
    isdn_access: int = 0
    sccp_method: int = 0
    spare: int = 0
    national_use: int = 0


@_fixed(0x09, "calling_partys_category", ("category", 8))
@dataclass(frozen=True)
class CallingPartysCategory(Parameter):
    category: int = 0x0A          # ordinary calling subscriber


@_fixed(0x02, "transmission_medium_requirement", ("medium", 8))
@dataclass(frozen=True)
class TransmissionMediumRequirement(Parameter):
    medium: int = 0               # speech


@_fixed(0x11, "backward_call_indicators",
        ("end_to_end_method", 2), ("called_category", 2), ("called_status", 2), ("charge", 2),
        ("sccp_method", 2), ("echo_control", 1), ("isdn_access", 1), ("holding", 1), ("isup_indicator", 1),
        ("end_to_end_info", 1), ("interworking", 1))
@dataclass(frozen=True)
class BackwardCallIndicators(Parameter):
    charge: int = 0
    called_status: int = 0
    called_category: int = 0
    end_to_end_method: int = 0
    interworking: int = 0
    end_to_end_info: int = 0
    isup_indicator: int = 1
    holding: int = 0
    isdn_access: int = 0
    echo_control: int = 0
    sccp_method: int = 0


@_fixed(0x22, "suspend_resume_indicators", ("spare", 7), ("network_initiated", 1))
@dataclass(frozen=True)
class SuspendResumeIndicators(Parameter):
    network_initiated: int = 0
    spare: int = 0


@_fixed(0x15, "circuit_group_supervision_message_type", ("spare", 6), ("type", 2))
@dataclass(frozen=True)
class CircuitGroupSupervisionMessageType(Parameter):
    type: int = 0                 # 0 maintenance oriented, 1 hardware failure oriented
    spare: int = 0


@_fixed(0x24, "event_information", ("presentation_restricted", 1), ("event", 7))
@dataclass(frozen=True)
class EventInformation(Parameter):
    event: int = 1                # 1 alerting, 2 progress, 3 in-band info, 4-6 forwarded
    presentation_restricted: int = 0


@_fixed(0x29, "optional_backward_call_indicators",
        ("spare", 4), ("mlpp_user", 1), ("simple_segmentation", 1), ("call_diversion", 1), ("inband_info", 1))
@dataclass(frozen=True)
class OptionalBackwardCallIndicators(Parameter):
    inband_info: int = 0
    call_diversion: int = 0
    simple_segmentation: int = 0
    mlpp_user: int = 0
    spare: int = 0


@_fixed(0x13, "redirection_information",
        ("original_reason", 4), ("spare1", 1), ("indicator", 3), ("reason", 4), ("spare2", 1), ("counter", 3))
@dataclass(frozen=True)
class RedirectionInformation(Parameter):
    indicator: int = 0
    original_reason: int = 0
    counter: int = 0
    reason: int = 0
    spare1: int = 0
    spare2: int = 0


@_fixed(0x0E, "information_request_indicators", ("flags", 16))
@dataclass(frozen=True)
class InformationRequestIndicators(Parameter):
    flags: int = 0


@_fixed(0x0F, "information_indicators", ("flags", 16))
@dataclass(frozen=True)
class InformationIndicators(Parameter):
    flags: int = 0


# -- address signals (BCD, first digit in the low nibble, filler 0 when odd; ST = F) ---------------------------------
DIGITS = "0123456789ABCDEF"


class BcdDigits(c.Adapter):
    """Address signals as a text string of hex nibbles; the odd/even indicator comes from the sibling ``odd``."""

    def _decode(self, obj, context, path):
        odd = context.odd
        if odd and not obj:
            raise c.ValidationError("odd indicator set but no address signals", path=path)
        out = []
        for b in obj:
            out.append(DIGITS[b & 0x0F])
            out.append(DIGITS[b >> 4])
        if odd:
            out.pop()
        return "".join(out)

    def _encode(self, obj, context, path):
        s = str(obj).upper()
        if any(ch not in DIGITS for ch in s):
            raise c.ValidationError(f"address signals {obj!r} are not BCD/hex digits", path=path)
        if len(s) % 2:
            s += "0"
        return bytes(DIGITS.index(s[i]) | (DIGITS.index(s[i + 1]) << 4) for i in range(0, len(s), 2))


def _number(*octets: tuple[str, int]) -> c.Construct:
    return c.Struct("h" / c.BitStruct("odd" / c.Flag, *[n / _B(w) for n, w in octets]),
                    "odd" / c.Computed(c.this.h.odd), "digits" / BcdDigits(c.GreedyBytes))


@dataclass(frozen=True)
class _NumberParameter(Parameter):
    digits: str = ""

    def encode_value(self) -> bytes:
        h = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "digits"}
        h["odd"] = len(self.digits) % 2 == 1
        try:
            return self.STRUCT.build({"h": h, "digits": self.digits})
        except (c.ConstructError, TypeError, ValueError) as exc:
            raise CodecError(f"ISUP: cannot encode {self.NAME}: {exc}") from None

    @classmethod
    def decode_value(cls, data: bytes) -> "Parameter":
        if len(data) < cls.MIN:
            raise CodecError(f"ISUP: {cls.NAME} of {len(data)} octets is shorter than {cls.MIN}")
        try:
            obj = cls.STRUCT.parse(data)
        except c.ConstructError as exc:
            raise CodecError(f"ISUP: malformed {cls.NAME} ({data.hex()}): {exc}") from None
        kw = {f.name: obj.h[f.name] for f in dataclasses.fields(cls) if f.name != "digits"}
        return cls(digits=obj.digits, **kw)


@dataclass(frozen=True)
class CalledPartyNumber(_NumberParameter):
    CODE: ClassVar[int] = 0x04
    NAME: ClassVar[str] = "called_party_number"
    BITS: ClassVar[dict] = {"nai": 7, "inn": 1, "npi": 3, "spare": 4}
    STRUCT: ClassVar = _number(("nai", 7), ("inn", 1), ("npi", 3), ("spare", 4))
    MIN: ClassVar[int] = 2
    nai: int = 3                  # national (significant) number
    inn: int = 0                  # 0 routing to internal network number allowed
    npi: int = 1                  # ISDN (E.164)
    spare: int = 0


@dataclass(frozen=True)
class CallingPartyNumber(_NumberParameter):
    CODE: ClassVar[int] = 0x0A
    NAME: ClassVar[str] = "calling_party_number"
    BITS: ClassVar[dict] = {"nai": 7, "ni": 1, "npi": 3, "presentation": 2, "screening": 2}
    STRUCT: ClassVar = _number(("nai", 7), ("ni", 1), ("npi", 3), ("presentation", 2), ("screening", 2))
    MIN: ClassVar[int] = 2
    nai: int = 3
    ni: int = 0                   # number incomplete indicator
    npi: int = 1
    presentation: int = 0         # 0 allowed, 1 restricted, 2 not available
    screening: int = 3            # 3 network provided


@dataclass(frozen=True)
class RedirectionNumber(_NumberParameter):
    CODE: ClassVar[int] = 0x0C
    NAME: ClassVar[str] = "redirection_number"
    BITS: ClassVar[dict] = {"nai": 7, "inn": 1, "npi": 3, "spare": 4}
    STRUCT: ClassVar = _number(("nai", 7), ("inn", 1), ("npi", 3), ("spare", 4))
    MIN: ClassVar[int] = 2
    nai: int = 3
    inn: int = 0
    npi: int = 1
    spare: int = 0


@dataclass(frozen=True)
class SubsequentNumber(_NumberParameter):
    CODE: ClassVar[int] = 0x05
    NAME: ClassVar[str] = "subsequent_number"
    BITS: ClassVar[dict] = {"spare": 7}
    STRUCT: ClassVar = _number(("spare", 7))
    MIN: ClassVar[int] = 1
    spare: int = 0


# -- cause indicators (Q.850 layout) ----------------------------------------------------------------------------------
_CAUSE = c.Struct(
    "o1" / _bits(("ext", 1), ("coding_standard", 2), ("spare", 1), ("location", 4)),
    "recommendation" / c.If(c.this.o1.ext == 0, _bits(("ext", 1), ("value", 7))),
    "o2" / _bits(("ext", 1), ("cause", 7)),
    "diagnostics" / c.GreedyBytes,
)


@dataclass(frozen=True)
class CauseIndicators(Parameter):
    CODE: ClassVar[int] = 0x12
    NAME: ClassVar[str] = "cause_indicators"
    BITS: ClassVar[dict] = {"cause": 7, "location": 4, "coding_standard": 2, "spare": 1}
    STRUCT: ClassVar = _CAUSE
    cause: int = 16               # normal call clearing
    location: int = 0             # user
    coding_standard: int = 0      # ITU-T
    spare: int = 0
    recommendation: int | None = None
    diagnostics: bytes = b""

    def encode_value(self) -> bytes:
        rec = None if self.recommendation is None else {"ext": 1, "value": self.recommendation}
        try:
            return _CAUSE.build({"o1": {"ext": int(rec is None), "coding_standard": self.coding_standard,
                                        "spare": self.spare, "location": self.location},
                                 "recommendation": rec, "o2": {"ext": 1, "cause": self.cause},
                                 "diagnostics": self.diagnostics})
        except (c.ConstructError, TypeError, ValueError) as exc:
            raise CodecError(f"ISUP: cannot encode cause_indicators: {exc}") from None

    @classmethod
    def decode_value(cls, data: bytes) -> "CauseIndicators":
        try:
            obj = _CAUSE.parse(data)
        except c.ConstructError as exc:
            raise CodecError(f"ISUP: malformed cause_indicators ({data.hex()}): {exc}") from None
        if obj.recommendation is not None and obj.recommendation.ext != 1:
            raise CodecError(f"ISUP: cause_indicators octet 1a not last of its group ({data.hex()})")
        if obj.o2.ext != 1:
            raise CodecError(f"ISUP: cause_indicators cause-value octet has extension bit 0 ({data.hex()})")
        return cls(cause=obj.o2.cause, location=obj.o1.location, coding_standard=obj.o1.coding_standard,
                   spare=obj.o1.spare,
                   recommendation=None if obj.recommendation is None else obj.recommendation.value,
                   diagnostics=obj.diagnostics)


# -- range and status ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RangeAndStatus(Parameter):
    """``range`` = number of circuits - 1 (CIC of the message is the first); ``status`` bits, one per circuit
    (absent for GRS). The status field is kept as bytes, bit 0 of its first octet for the message's CIC."""

    CODE: ClassVar[int] = 0x16
    NAME: ClassVar[str] = "range_and_status"
    STRUCT: ClassVar = c.Struct("range" / c.Int8ul, "status" / c.GreedyBytes)
    range: int = 0
    status: bytes = b""

    @classmethod
    def decode_value(cls, data: bytes) -> "RangeAndStatus":
        if not data:
            raise CodecError("ISUP: range_and_status is empty (needs the range octet)")
        return cls(range=data[0], status=bytes(data[1:]))

    def circuits(self) -> list[bool]:
        """Status bit per circuit, range+1 of them."""
        return [bool(self.status[i // 8] >> (i % 8) & 1) for i in range(self.range + 1)]


@dataclass(frozen=True)
class _RawValueParameter(Parameter):
    data: bytes = b""

    def encode_value(self) -> bytes:
        return bytes(self.data)

    @classmethod
    def decode_value(cls, data: bytes):
        return cls(data=bytes(data))


@dataclass(frozen=True)
class UserServiceInformation(_RawValueParameter):
    CODE: ClassVar[int] = 0x1D
    NAME: ClassVar[str] = "user_service_information"


@dataclass(frozen=True)
class AccessTransport(_RawValueParameter):
    CODE: ClassVar[int] = 0x03
    NAME: ClassVar[str] = "access_transport"


@dataclass(frozen=True)
class RawParameter(Parameter):
    """A parameter this codec does not interpret: its name (code) and bytes, for Q.764 2.9.5 handling."""

    code: int = 0
    data: bytes = b""
    NAME: ClassVar[str] = "raw"

    def encode_value(self) -> bytes:
        return bytes(self.data)


@dataclass(frozen=True)
class ChargeInformation(_RawValueParameter):
    """China ISUP (YDN 038-1997): the mandatory fixed parameter of MPM, 2 octets. Its inner layout is not in a
    public source at hand, so the two octets are kept as they are. It is never an optional parameter (fixed
    parameters carry no name on the wire), so it has no code here and is not in :data:`PARAMETERS`."""

    NAME: ClassVar[str] = "charge_information"
    SIZE: ClassVar[int] = 2
    data: bytes = b"\x00\x00"

    def encode_value(self) -> bytes:
        if len(self.data) != self.SIZE:
            raise CodecError(f"ISUP: {self.NAME} is {self.SIZE} octets, got {len(self.data)}")
        return bytes(self.data)

    @classmethod
    def decode_value(cls, data: bytes):
        if len(data) != cls.SIZE:
            raise CodecError(f"ISUP: {cls.NAME} is {len(data)} octets, China ISUP says {cls.SIZE}")
        return cls(data=bytes(data))


PARAMETERS: dict[int, type[Parameter]] = {
    cls.CODE: cls for cls in (
        NatureOfConnectionIndicators, ForwardCallIndicators, CallingPartysCategory, TransmissionMediumRequirement,
        BackwardCallIndicators, SuspendResumeIndicators, CircuitGroupSupervisionMessageType, EventInformation,
        OptionalBackwardCallIndicators, RedirectionInformation, InformationRequestIndicators,
        InformationIndicators, CalledPartyNumber, CallingPartyNumber, RedirectionNumber, SubsequentNumber,
        CauseIndicators, RangeAndStatus, UserServiceInformation, AccessTransport)
}
PARAMETERS_BY_NAME: dict[str, type[Parameter]] = {cls.NAME: cls for cls in PARAMETERS.values()}
PARAMETERS_BY_NAME[ChargeInformation.NAME] = ChargeInformation     # mandatory fixed only (China MPM)


def param_code(p: Parameter) -> int:
    return p.code if isinstance(p, RawParameter) else p.CODE


def decode_parameter(code: int, data: bytes) -> Parameter:
    cls = PARAMETERS.get(code)
    if cls is None:
        return RawParameter(code=code, data=bytes(data))
    return cls.decode_value(bytes(data))


# ------------------------------------------------------------------------------------------------------------ messages
@dataclass(frozen=True)
class IsupMessage:
    """Base of all ISUP messages. Subclasses are generated from :data:`MESSAGES`; ``optional`` keeps the optional
    parameters in order (unknown ones as :class:`RawParameter`)."""

    NAME: ClassVar[str] = ""
    CODE: ClassVar[int] = -1
    FIXED: ClassVar[tuple] = ()
    VARIABLE: ClassVar[tuple] = ()
    HAS_OPTIONAL: ClassVar[bool] = False

    def get(self, cls: type[Parameter]) -> Parameter | None:
        """The mandatory or first optional parameter of class ``cls``, or None."""
        for attr, pcls in self.FIXED + self.VARIABLE:
            if pcls is cls:
                return getattr(self, attr)
        for p in getattr(self, "optional", ()):
            if type(p) is cls:
                return p
        return None


@dataclass(frozen=True)
class UnknownMessage:
    """A message type this codec does not know: kept with its body for Q.764 2.9.5 (confusion, pass-on)."""

    cic: int
    message_type: int
    body: bytes = b""
    NAME: ClassVar[str] = "UNKNOWN"

    @property
    def CODE(self) -> int:  # noqa: N802 (mirrors the class attribute of known messages)
        return self.message_type


# name, code, fixed [(attribute, class)], variable [(attribute, class)], has optional part   (Q.763 tables 32-52)
_NOC, _FCI, _CPC, _TMR = NatureOfConnectionIndicators, ForwardCallIndicators, CallingPartysCategory, \
    TransmissionMediumRequirement
_BCI, _SRI, _CGSMT = BackwardCallIndicators, SuspendResumeIndicators, CircuitGroupSupervisionMessageType
_SPEC = [
    ("IAM", 0x01, [("nature_of_connection", _NOC), ("forward_call", _FCI), ("calling_category", _CPC),
                   ("transmission_medium", _TMR)], [("called", CalledPartyNumber)], True),
    ("SAM", 0x02, [], [("subsequent", SubsequentNumber)], True),
    ("INR", 0x03, [("request", InformationRequestIndicators)], [], True),
    ("INF", 0x04, [("information", InformationIndicators)], [], True),
    ("ACM", 0x06, [("backward_call", _BCI)], [], True),
    ("CON", 0x07, [("backward_call", _BCI)], [], True),
    ("ANM", 0x09, [], [], True),
    ("REL", 0x0C, [], [("cause", CauseIndicators)], True),
    ("SUS", 0x0D, [("suspend_resume", _SRI)], [], True),
    ("RES", 0x0E, [("suspend_resume", _SRI)], [], True),
    ("RLC", 0x10, [], [], True),
    ("RSC", 0x12, [], [], False),
    ("BLO", 0x13, [], [], False),
    ("UBL", 0x14, [], [], False),
    ("BLA", 0x15, [], [], False),
    ("UBA", 0x16, [], [], False),
    ("GRS", 0x17, [], [("range_status", RangeAndStatus)], False),
    ("CGB", 0x18, [("supervision_type", _CGSMT)], [("range_status", RangeAndStatus)], False),
    ("CGU", 0x19, [("supervision_type", _CGSMT)], [("range_status", RangeAndStatus)], False),
    ("CGBA", 0x1A, [("supervision_type", _CGSMT)], [("range_status", RangeAndStatus)], False),
    ("CGUA", 0x1B, [("supervision_type", _CGSMT)], [("range_status", RangeAndStatus)], False),
    ("GRA", 0x29, [], [("range_status", RangeAndStatus)], False),
    ("CPG", 0x2C, [("event", EventInformation)], [], True),
    ("UCIC", 0x2E, [], [], False),
    ("CFN", 0x2F, [], [("cause", CauseIndicators)], True),
]

# China ISUP (YDN 038-1997) national messages, decoded only with variant="china". Codes and layouts from the
# Dialogic SS7 Protocols ISUP Programmer's Manual, issue 15, appendix A.7 "China ISUP" (messages and parameters
# specific to China ISUP): CCL 0xFC "calling party clearing", forward, answered state (also the BME SS7 test-set
# table: "Clear calling line", 11111100); MPM 0xFD "metering pulse", backward, answered and suspended states,
# mandatory fixed "charge information" (2 octets); OPR 0xFE "operator", both directions, answered state. Each
# has an optional part (message compatibility information, 0x38). Wireshark has no China ISUP message table:
# with its ITU table it shows these codes as unknown message types.
_SPEC_CHINA = [
    ("CCL", 0xFC, [], [], True),
    ("MPM", 0xFD, [("charge", ChargeInformation)], [], True),
    ("OPR", 0xFE, [], [], True),
]

VARIANTS = ("itu", "china")
MESSAGES: dict[str, type[IsupMessage]] = {}          # Q.763 messages (both variants)
CHINA_MESSAGES: dict[str, type[IsupMessage]] = {}    # China-only messages
MESSAGES_BY_CODE: dict[int, type[IsupMessage]] = {}
CHINA_BY_CODE: dict[int, type[IsupMessage]] = {}


def _make(spec, table: dict, by_code: dict) -> None:
    for name, code, fixed_part, var_part, opt in spec:
        fields = [("cic", int, field(default=0))]
        fields += [(a, pc, field(default_factory=pc)) for a, pc in fixed_part + var_part]
        if opt:
            fields.append(("optional", tuple, field(default=())))
        cls = dataclasses.make_dataclass(name, fields, bases=(IsupMessage,), frozen=True,
                                         namespace={"NAME": name, "CODE": code, "FIXED": tuple(fixed_part),
                                                    "VARIABLE": tuple(var_part), "HAS_OPTIONAL": opt,
                                                    "__module__": __name__})
        cls.__doc__ = f"ISUP {name} (message type 0x{code:02x})."
        globals()[name] = cls
        table[name] = cls
        by_code[code] = cls


_make(_SPEC, MESSAGES, MESSAGES_BY_CODE)
_make(_SPEC_CHINA, CHINA_MESSAGES, CHINA_BY_CODE)
CHINA_BY_CODE.update(MESSAGES_BY_CODE)
ALL_MESSAGES = {**MESSAGES, **CHINA_MESSAGES}

CIC = c.ByteSwapped(_bits(("spare", 4), ("cic", 12)))


def _cic_bytes(cic: int) -> bytes:
    if not isinstance(cic, int) or not 0 <= cic <= 0xFFF:
        raise CodecError(f"ISUP: CIC {cic!r} out of range 0..4095")
    return bytes((cic & 0xFF, cic >> 8))


def encode(msg: IsupMessage | UnknownMessage) -> bytes:
    """The ISUP message as carried in the MTP3 SIF after the routing label."""
    if isinstance(msg, UnknownMessage):
        if not 0 <= msg.message_type <= 255:
            raise CodecError(f"ISUP: message type {msg.message_type!r} out of range")
        return _cic_bytes(msg.cic) + bytes((msg.message_type,)) + bytes(msg.body)
    if not isinstance(msg, IsupMessage):
        raise CodecError(f"ISUP: cannot encode {type(msg).__name__}")
    out = bytearray(_cic_bytes(msg.cic))
    out.append(msg.CODE)
    for attr, pcls in msg.FIXED:
        p = getattr(msg, attr)
        if type(p) is not pcls:
            raise CodecError(f"ISUP {msg.NAME}: {attr} must be {pcls.__name__}, not {type(p).__name__}")
        v = p.encode_value()
        if len(v) != pcls.SIZE:
            raise CodecError(f"ISUP {msg.NAME}: {attr} encodes to {len(v)} octets, not {pcls.SIZE}")
        out += v
    nvar = len(msg.VARIABLE)
    nptr = nvar + (1 if msg.HAS_OPTIONAL else 0)
    values = []
    for attr, pcls in msg.VARIABLE:
        p = getattr(msg, attr)
        if type(p) is not pcls:
            raise CodecError(f"ISUP {msg.NAME}: {attr} must be {pcls.__name__}, not {type(p).__name__}")
        v = p.encode_value()
        if len(v) > 255:
            raise CodecError(f"ISUP {msg.NAME}: {attr} of {len(v)} octets is too long")
        values.append(v)
    ptrs = bytearray()
    offset = nptr  # from the first pointer to the first byte after the pointers
    for i, v in enumerate(values):
        ptr = offset - i
        ptrs.append(ptr)
        offset += 1 + len(v)
    opt = bytearray()
    if msg.HAS_OPTIONAL:
        for p in msg.optional:
            if not isinstance(p, Parameter):
                raise CodecError(f"ISUP {msg.NAME}: optional parameter {p!r} is not a Parameter")
            code = param_code(p)
            if not 1 <= code <= 255:
                raise CodecError(f"ISUP {msg.NAME}: optional parameter code {code!r} out of range 1..255")
            v = p.encode_value()
            if len(v) > 255:
                raise CodecError(f"ISUP {msg.NAME}: optional {p.NAME} of {len(v)} octets is too long")
            opt += bytes((code, len(v))) + v
        if opt:
            opt.append(0)
        ptr = offset - nvar if opt else 0
        if ptr > 255:
            raise CodecError(f"ISUP {msg.NAME}: optional part pointer {ptr} does not fit an octet")
        ptrs.append(ptr)
    if any(p > 255 for p in ptrs):
        raise CodecError(f"ISUP {msg.NAME}: pointer does not fit an octet")
    out += ptrs
    for v in values:
        out.append(len(v))
        out += v
    out += opt
    return bytes(out)


def decode(data: bytes, variant: str = "itu") -> IsupMessage | UnknownMessage:
    """Decode one ISUP message; CodecError (a ValueError) naming the fault for anything malformed.
    ``variant`` "china" also knows the China ISUP national messages (:data:`CHINA_MESSAGES`)."""
    if variant not in VARIANTS:
        raise CodecError(f"ISUP: variant {variant!r} is not one of {', '.join(VARIANTS)}")
    data = bytes(data)
    n = len(data)
    if n < 3:
        raise CodecError(f"ISUP: {n} octets is shorter than CIC + message type (3)")
    cic = data[0] | ((data[1] & 0x0F) << 8)
    if data[1] & 0xF0:
        raise CodecError(f"ISUP: spare bits of the CIC octets are not zero (0x{data[1]:02x})")
    code = data[2]
    cls = (CHINA_BY_CODE if variant == "china" else MESSAGES_BY_CODE).get(code)
    if cls is None:
        return UnknownMessage(cic=cic, message_type=code, body=data[3:])
    name = cls.NAME
    pos = 3
    kw: dict = {"cic": cic}
    for attr, pcls in cls.FIXED:
        end = pos + pcls.SIZE
        if end > n:
            raise CodecError(f"ISUP {name}: truncated in mandatory fixed {pcls.NAME} (need {end} octets, have {n})")
        kw[attr] = pcls.decode_value(data[pos:end])
        pos = end
    nvar = len(cls.VARIABLE)
    nptr = nvar + (1 if cls.HAS_OPTIONAL else 0)
    if pos + nptr > n:
        raise CodecError(f"ISUP {name}: truncated in the pointers (need {pos + nptr} octets, have {n})")
    end_used = pos + nptr
    for i, (attr, pcls) in enumerate(cls.VARIABLE):
        ptr = data[pos + i]
        if ptr == 0:
            raise CodecError(f"ISUP {name}: pointer to mandatory variable {pcls.NAME} is 0")
        at = pos + i + ptr
        if at < pos + nptr or at >= n:
            raise CodecError(f"ISUP {name}: pointer to {pcls.NAME} points outside the message ({at} of {n})")
        length = data[at]
        if at + 1 + length > n:
            raise CodecError(f"ISUP {name}: {pcls.NAME} length {length} runs past the end of the message")
        kw[attr] = pcls.decode_value(data[at + 1:at + 1 + length])
        end_used = max(end_used, at + 1 + length)
    if cls.HAS_OPTIONAL:
        ptr = data[pos + nvar]
        opts = []
        if ptr:
            at = pos + nvar + ptr
            if at < end_used:
                raise CodecError(f"ISUP {name}: optional part pointer overlaps the mandatory part")
            while True:
                if at >= n:
                    raise CodecError(f"ISUP {name}: optional part not terminated by end of optional parameters")
                pcode = data[at]
                if pcode == 0:
                    end_used = at + 1
                    break
                if at + 2 > n or at + 2 + data[at + 1] > n:
                    raise CodecError(f"ISUP {name}: optional parameter 0x{pcode:02x} runs past the end")
                length = data[at + 1]
                opts.append(decode_parameter(pcode, data[at + 2:at + 2 + length]))
                at += 2 + length
        kw["optional"] = tuple(opts)
    if end_used != n:
        raise CodecError(f"ISUP {name}: {n - end_used} octets after the end of the message")
    return cls(**kw)


# -------------------------------------------------------------------------------------------------------- JSON forms
def param_to_dict(p: Parameter) -> dict:
    d = {"name": p.NAME}
    for f in dataclasses.fields(p):
        v = getattr(p, f.name)
        d[f.name] = v.hex() if isinstance(v, bytes) else v
    return d


def _field_is_bytes(cls, fname: str) -> bool:
    for f in dataclasses.fields(cls):
        if f.name == fname:
            return "bytes" in str(f.type)
    return False


def param_from_dict(d: dict, want: type[Parameter] | None = None) -> Parameter:
    if not isinstance(d, dict):
        raise CodecError(f"ISUP: parameter must be an object, got {d!r}")
    name = d.get("name", want.NAME if want else None)
    cls = RawParameter if name == "raw" else PARAMETERS_BY_NAME.get(name)
    if cls is None:
        raise CodecError(f"ISUP: unknown parameter name {name!r}")
    if want is not None and cls is not want:
        raise CodecError(f"ISUP: expected {want.NAME}, got {name}")
    kw = {}
    known = {f.name for f in dataclasses.fields(cls)}
    for k, v in d.items():
        if k == "name":
            continue
        if k not in known:
            raise CodecError(f"ISUP: {name} has no field {k!r}")
        if _field_is_bytes(cls, k):
            try:
                v = bytes.fromhex(v)
            except (TypeError, ValueError):
                raise CodecError(f"ISUP: {name}.{k} must be hex, got {v!r}") from None
        elif k == "digits":
            if not isinstance(v, str):
                raise CodecError(f"ISUP: {name}.digits must be a string")
        elif not (v is None and k == "recommendation") and (not isinstance(v, int) or isinstance(v, bool)):
            raise CodecError(f"ISUP: {name}.{k} must be an integer, got {v!r}")
        kw[k] = v
    return cls(**kw)


def message_to_dict(m: IsupMessage | UnknownMessage) -> dict:
    if isinstance(m, UnknownMessage):
        return {"message_type": "UNKNOWN", "message_code": m.message_type, "cic": m.cic, "body": m.body.hex()}
    d = {"message_type": m.NAME, "cic": m.cic}
    for attr, _ in m.FIXED + m.VARIABLE:
        d[attr] = param_to_dict(getattr(m, attr))
    if m.HAS_OPTIONAL:
        d["optional"] = [param_to_dict(p) for p in m.optional]
    return d


def message_from_dict(d: dict) -> IsupMessage | UnknownMessage:
    if not isinstance(d, dict):
        raise CodecError("ISUP: message must be an object")
    name = d.get("message_type")
    cic = d.get("cic", 0)
    if name == "UNKNOWN":
        try:
            return UnknownMessage(cic=cic, message_type=int(d["message_code"]), body=bytes.fromhex(d.get("body", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise CodecError(f"ISUP: bad UNKNOWN message: {exc}") from None
    cls = ALL_MESSAGES.get(name)
    if cls is None:
        raise CodecError(f"ISUP: unknown message type {name!r} (one of {', '.join(ALL_MESSAGES)})")
    kw = {"cic": cic}
    for attr, pcls in cls.FIXED + cls.VARIABLE:
        if attr in d:
            kw[attr] = param_from_dict(d[attr], pcls)
    if cls.HAS_OPTIONAL and "optional" in d:
        if not isinstance(d["optional"], list):
            raise CodecError("ISUP: optional must be a list")
        kw["optional"] = tuple(param_from_dict(p) for p in d["optional"])
    return cls(**kw)
