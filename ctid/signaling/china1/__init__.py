"""China No.1 signalling: CAS line signalling on TS16 and compelled MFC R2 register signalling.

* :mod:`.variant` -- variants as data (the China table built in),
* :mod:`.line` -- line-signalling state machines (:class:`OutgoingLine`, :class:`IncomingLine`),
* :mod:`.register` -- compelled register signalling (:class:`ForwardRegister`, :class:`BackwardRegister`),
* :mod:`.channel` -- a CAS channel and a per-board runner over the driver layer and the DSP bank.
"""
from .channel import CasBoard, CasChannel
from .line import IncomingLine, LineState, OutgoingLine
from .register import BackwardRegister, ForwardRegister, RegisterResult, RState
from .timers import ProtocolError
from .variant import (BACKWARD, CHINA, FORWARD, ITU, OUTCOMES, LineSignal, M, NumberRules, TimerSpec, Variant,
                      get_variant, register_variant, variants)

__all__ = [
    "BACKWARD", "CHINA", "FORWARD", "ITU", "M", "OUTCOMES", "BackwardRegister", "CasBoard", "CasChannel", "ForwardRegister",
    "IncomingLine", "LineSignal", "LineState", "NumberRules", "OutgoingLine", "ProtocolError", "RState",
    "RegisterResult", "TimerSpec", "Variant", "get_variant", "register_variant", "variants",
]
