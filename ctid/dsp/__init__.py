"""ctid.dsp: the Python face of the native DSP core (numpy arrays in and out).

- :mod:`ctid.dsp.g711`: A-law / mu-law encode and decode.
- :class:`Bank`: the batched multi-channel detector API the daemon uses; :func:`detect` runs it on one channel.
- generators for DTMF, MFC R2, call-progress tones and caller ID.
"""
from .bank import Bank, DspError, Event, detect, DETECTORS  # noqa: F401
