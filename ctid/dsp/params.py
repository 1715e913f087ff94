"""Detector parameters as Python dataclasses, with the defaults taken from the native ``*_defaults()``.

Each class mirrors one C params struct in ``native/include/ctid_dsp.h``; ``to_c()`` gives the cffi struct.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ._native import ffi, lib


class _CParams:
    _ctype: str = ""

    def to_c(self):
        p = ffi.new(self._ctype + " *")
        for f in dataclasses.fields(self):
            setattr(p, f.name, getattr(self, f.name))
        return p

    def replace(self, **kw):
        names = {f.name for f in dataclasses.fields(self)}
        bad = set(kw) - names
        if bad:
            raise TypeError(f"{type(self).__name__} has no parameter(s) {', '.join(sorted(bad))}")
        return dataclasses.replace(self, **kw)

    @classmethod
    def _from_c(cls, p, **override):
        values = {f.name: getattr(p, f.name) for f in dataclasses.fields(cls)}
        values.update(override)
        return cls(**values)


def _c_defaults(ctype, fill, *args):
    p = ffi.new(ctype + " *")
    fill(p, *args)
    return p


_DTMF = _c_defaults("ctid_dtmf_rx_params_t", lib.ctid_dtmf_rx_defaults)


@dataclass
class DtmfParams(_CParams):
    """DTMF receiver (see ``ctid_dtmf_rx_params_t``). Per-administration twist presets: :data:`TWIST_PRESETS`."""

    _ctype = "ctid_dtmf_rx_params_t"
    threshold_dbm0: float = _DTMF.threshold_dbm0
    twist_normal_db: float = _DTMF.twist_normal_db
    twist_reverse_db: float = _DTMF.twist_reverse_db
    freq_tolerance_pct: float = _DTMF.freq_tolerance_pct
    min_purity: float = _DTMF.min_purity
    hits_to_begin: int = _DTMF.hits_to_begin
    misses_to_end: int = _DTMF.misses_to_end

    @classmethod
    def for_administration(cls, name: str) -> "DtmfParams":
        try:
            normal, reverse = TWIST_PRESETS[name.lower()]
        except KeyError:
            raise ValueError(f"unknown administration {name!r}; known: {', '.join(TWIST_PRESETS)}") from None
        return cls(twist_normal_db=normal, twist_reverse_db=reverse)


# Normal (low group louder) / reverse (high group louder) twist limits, dB. ITU-T Q.24 and national
# practice as listed in Asterisk's dsp.conf.sample.
TWIST_PRESETS = {
    "itu": (8.0, 4.0),
    "att": (8.0, 4.0),
    "china": (8.0, 4.0),
    "ntt": (5.0, 5.0),
    "etsi": (6.0, 6.0),
    "denmark": (6.0, 6.0),
    "brazil": (9.0, 9.0),
    "australia": (10.0, 10.0),
}


_R2F = _c_defaults("ctid_r2mf_rx_params_t", lib.ctid_r2mf_rx_defaults, 0)


@dataclass
class R2Params(_CParams):
    """MFC R2 receiver for one group (``backward``=0 forward, 1 backward). Field defaults are the native
    forward-group defaults; :meth:`defaults` gives either group's (and China No.1's 2-of-4 backward set)."""

    _ctype = "ctid_r2mf_rx_params_t"
    backward: int = 0
    china_2of4: int = 0
    threshold_dbm0: float = _R2F.threshold_dbm0
    max_level_dbm0: float = _R2F.max_level_dbm0
    twist_adjacent_db: float = _R2F.twist_adjacent_db
    twist_nonadjacent_db: float = _R2F.twist_nonadjacent_db
    min_purity: float = _R2F.min_purity
    hits_to_begin: int = _R2F.hits_to_begin
    misses_to_end: int = _R2F.misses_to_end

    @classmethod
    def defaults(cls, backward: bool = False, china: bool = False) -> "R2Params":
        p = _c_defaults("ctid_r2mf_rx_params_t", lib.ctid_r2mf_rx_defaults, int(backward))
        return cls._from_c(p, china_2of4=int(bool(china and backward)))


_CPT = _c_defaults("ctid_cpt_rx_params_t", lib.ctid_cpt_rx_defaults)


@dataclass
class CptParams(_CParams):
    _ctype = "ctid_cpt_rx_params_t"
    threshold_dbm0: float = _CPT.threshold_dbm0
    min_purity: float = _CPT.min_purity
    freq_tolerance_pct: float = _CPT.freq_tolerance_pct
    cadence_tolerance_pct: float = _CPT.cadence_tolerance_pct
    cadence_tolerance_ms: int = _CPT.cadence_tolerance_ms


_FSK = _c_defaults("ctid_fsk_rx_params_t", lib.ctid_fsk_rx_defaults)


@dataclass
class FskParams(_CParams):
    _ctype = "ctid_fsk_rx_params_t"
    modem: int = _FSK.modem
    threshold_dbm0: float = _FSK.threshold_dbm0

    @classmethod
    def v23(cls) -> "FskParams":
        return cls(modem=lib.CTID_FSK_V23)

    @classmethod
    def bell202(cls) -> "FskParams":
        return cls(modem=lib.CTID_FSK_BELL202)
