"""Scripted callers for the far-end exchange (:mod:`hwsim.exchange`).

A :class:`Caller` is one person at the far end: it places a call over a trunk of the exchange (SS7, China No.1,
an analogue exchange line with FSK caller ID) or picks up a telephone on an FXS port, then listens, presses DTMF
digits, sends and detects tones, and hangs up. Every operation returns a Deferred on the exchange's clock (the
world's 20 ms tick drives it), so a scenario is an ``async def`` or ``inlineCallbacks`` function::

    c = ex.caller("alice")
    r = await c.dial("ss7", "114", calling="13800138000")     # DialResult(outcome="answered")
    audio = await c.hear(3.0)                                 # A-law codes received in those 3 s
    assert c.heard_speech(audio) and c.matches(prompt_alaw)
    await c.press("2")
    await c.hangup()                                          # REL sent, RLC received
    c.view                                                    # [(t, "tx IAM"), (t, "rx ACM"), ...]

The audio analysis works on what the caller received (A-law): :func:`speech_level` (energy), :func:`similarity`
(normalised cross-correlation against a reference rendering, tolerant of the start offset and of A-law
re-encoding) and :func:`tone_level` (a Goertzel filter at one frequency).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.signal import lfilter
from twisted.internet import defer

from ctid.dsp.dtmf import DtmfGenerator
from ctid.dsp.g711 import alaw_decode, alaw_encode

RATE = 8000
BLOCK = 160
SILENCE = 0xD5
DBM0_REF = 32768.0 / math.sqrt(2) / 10 ** (3.14 / 20)   # RMS of a 0 dBm0 sine in A-law's linear scale (G.711)


@dataclass
class DialResult:
    """How a call attempt ended: ``answered``, ``busy``, ``failed`` (with a Q.850 ``cause``) or ``no_answer``."""

    outcome: str
    cause: int | None = None
    detail: str = ""

    @property
    def answered(self) -> bool:
        return self.outcome == "answered"

    def as_dict(self) -> dict:
        return {"outcome": self.outcome, "cause": self.cause, "detail": self.detail}


# ------------------------------------------------------------------------------------------------ analysis

def _linear(audio) -> np.ndarray:
    a = np.asarray(audio)
    if a.dtype == np.uint8:
        return alaw_decode(a).astype(np.float64)
    return a.astype(np.float64)


def level_dbm0(audio) -> float:
    """RMS level of A-law codes (uint8) or linear samples (int16) in dBm0; -inf for nothing."""
    x = _linear(audio)
    if x.size == 0:
        return float("-inf")
    rms = math.sqrt(float(np.mean(x * x)))
    return 20 * math.log10(rms / DBM0_REF) if rms > 0 else float("-inf")


def speech_level(audio, frame: int = BLOCK) -> float:
    """The level (dBm0) of the loudest quarter of the 20 ms frames: speech has pauses, noise floors do not count."""
    x = _linear(audio)
    n = x.size // frame
    if n == 0:
        return level_dbm0(x)
    e = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    top = np.sort(e)[-max(1, n // 4):]
    rms = math.sqrt(float(np.mean(top)))
    return 20 * math.log10(rms / DBM0_REF) if rms > 0 else float("-inf")


def _trim(x: np.ndarray, floor_dbm0: float = -45.0, frame: int = BLOCK) -> np.ndarray:
    """Drop leading and trailing 20 ms frames below the floor (silence before a prompt starts or after it ends)."""
    n = x.size // frame
    if n == 0:
        return x
    e = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    thr = (DBM0_REF * 10 ** (floor_dbm0 / 20)) ** 2
    loud = np.nonzero(e > thr)[0]
    if loud.size == 0:
        return x[:0]
    return x[loud[0] * frame: (loud[-1] + 1) * frame]


def similarity(received, reference, min_seconds: float = 0.2) -> float:
    """Peak normalised cross-correlation (0..1) between what was received and a reference rendering.

    The shorter one once trimmed of leading and trailing silence (a caller hears only part of a long prompt, or
    a short prompt within a longer recording) slides over the whole of the longer one, and at each lag the coefficient is
    <x, t> / (|x| |t|) over the overlap, so neither the start offset nor the level matters. A-law re-encoding adds
    about -38 dB of noise: the same audio scores about 0.99, unrelated audio about 0.1."""
    x_full, r_full = _linear(received), _linear(reference)
    x, r = _trim(x_full), _trim(r_full)
    if min(x.size, r.size) < min_seconds * RATE:
        return 0.0
    # only the template is trimmed: it slides over the whole of the other one (trimming both could cut the
    # longer one just after where the template starts)
    long_, tpl = (x_full, r) if x.size >= r.size else (r_full, x)
    # a little silence around it: the template may start just before the other signal (a lone idle octet
    # before the audio) or end just after it
    pad = np.zeros(min(tpl.size // 4, RATE // 4))
    long_ = np.concatenate([pad, long_, pad])
    if long_.size < tpl.size:
        long_ = np.concatenate([long_, np.zeros(tpl.size - long_.size)])
    tpl = tpl - tpl.mean()
    tn = float(np.sqrt(np.sum(tpl * tpl)))
    if tn == 0:
        return 0.0
    m = tpl.size
    nfft = 1 << int(math.ceil(math.log2(long_.size + m)))
    corr = np.fft.irfft(np.fft.rfft(long_, nfft) * np.conj(np.fft.rfft(tpl, nfft)), nfft)[: long_.size - m + 1]
    c1 = np.concatenate(([0.0], np.cumsum(long_)))
    c2 = np.concatenate(([0.0], np.cumsum(long_ * long_)))
    s1 = c1[m:] - c1[:-m]
    s2 = c2[m:] - c2[:-m]
    var = np.maximum(s2 - s1 * s1 / m, 1e-9)
    coef = corr / (np.sqrt(var) * tn)
    return float(np.clip(np.max(coef), 0.0, 1.0))


def window_similarity(received, reference, window: float = 0.5) -> float:
    """The best :func:`similarity` of any ``window``-second piece of what was received (loud pieces only): "some
    of what was heard is in the reference", for audio that runs on past the end of a prompt (the next prompt
    after it) or starts before it."""
    x = _trim(_linear(received))
    n = int(window * RATE)
    best = 0.0
    for k in range(0, max(0, x.size - n) + 1, n // 2):
        piece = x[k:k + n]
        if piece.size < n or speech_level(piece) < -45:
            continue
        best = max(best, similarity(piece, reference, min_seconds=window * 0.8))
    return best


def tone_level(audio, freq: float) -> tuple[float, float]:
    """Goertzel filter at ``freq`` over the whole buffer: (level of that component in dBm0, share of the total
    energy in it, 0..1)."""
    x = _linear(audio)
    n = x.size
    if n < 2:
        return float("-inf"), 0.0
    k = 2 * math.cos(2 * math.pi * freq / RATE)
    s = lfilter([1.0], [1.0, -k, 1.0], x)        # s[n] = x[n] + k s[n-1] - s[n-2]
    power = s[-1] ** 2 + s[-2] ** 2 - k * s[-1] * s[-2]
    amp = 2 * math.sqrt(max(power, 0.0)) / n   # amplitude of the sinusoid at freq
    total = float(np.sum(x * x))
    share = (amp * amp / 2 * n) / total if total > 0 else 0.0
    lvl = 20 * math.log10((amp / math.sqrt(2)) / DBM0_REF) if amp > 0 else float("-inf")
    return lvl, min(1.0, share)


# ------------------------------------------------------------------------------------------------ caller

class Caller:
    """One scripted far-end party. Created by :meth:`hwsim.exchange.FarEndExchange.caller`; the exchange calls
    :meth:`_rx` / :meth:`_tx` every tick while the call has audio."""

    def __init__(self, exchange, name: str = "caller"):
        self.exchange = exchange
        self.clock = exchange.clock
        self.name = name
        self.trunk: str | None = None
        self.state = "idle"          # idle, dialing, ringing, answered, busy, failed, cleared
        self.cause: int | None = None
        self.called = self.calling = None
        self.leg = None              # the exchange's per-trunk leg (owns the signalling of this call)
        self.view: list[tuple[float, str]] = []    # what the far end saw: messages, line states
        self.received: list[np.ndarray] = []       # A-law blocks received since the answer
        self.cleared_by: str | None = None          # "far" (the daemon cleared) or "us"
        self._tx_queue: list[np.ndarray] = []      # int16 chunks still to send
        self._tx_pos = 0
        self._dial_d: defer.Deferred | None = None
        self._hangup_d: defer.Deferred | None = None
        self._cleared_ds: list[defer.Deferred] = []
        self._hear: list[list] = []                 # [blocks_left, chunks, deferred]
        self._sent_d: list[tuple[int, defer.Deferred]] = []
        self._samples_queued = 0
        self._samples_sent = 0
        self._dial_timer = None

    def __repr__(self) -> str:
        return f"<Caller {self.name} {self.trunk} {self.state}>"

    # -- what the far end saw -------------------------------------------------------------------------
    def note(self, what: str) -> None:
        self.view.append((round(self.clock.seconds(), 3), what))

    def saw(self, what: str) -> bool:
        return any(w == what for _, w in self.view)

    def seen(self) -> list[str]:
        return [w for _, w in self.view]

    # -- calls ----------------------------------------------------------------------------------------
    def dial(self, trunk: str, called: str, calling: str | None = None, category: int | None = None,
             timeout: float = 30.0) -> defer.Deferred:
        """Place a call over ``trunk`` (a trunk name of the exchange). Fires with a :class:`DialResult` once the
        call is answered, busy, failed or not answered within ``timeout`` seconds."""
        if self.state not in ("idle", "cleared", "busy", "failed"):
            raise ValueError(f"caller {self.name}: dial while {self.state}")
        if not isinstance(called, str) or not called or not all(c in "0123456789" for c in called):
            raise ValueError(f"caller {self.name}: called number must be digits, not {called!r}")
        if calling is not None and (not isinstance(calling, str) or not all(c in "0123456789" for c in calling)):
            raise ValueError(f"caller {self.name}: calling number must be digits, not {calling!r}")
        self._reset_call()
        self.trunk, self.called, self.calling = trunk, called, calling
        self.state = "dialing"
        d = self._dial_d = defer.Deferred()
        try:
            self.leg = self.exchange._place(self, trunk, called, calling, category)
        except Exception:
            self.state, self._dial_d = "idle", None     # a bad trunk (or none free): nothing happened
            raise
        if timeout and self.state == "dialing":
            self._dial_timer = self.clock.callLater(timeout, self._dial_timeout)
        return d

    def pickup(self, port: int, timeout: float = 30.0, wait_ring: bool = True) -> defer.Deferred:
        """The telephone on FXS port ``port`` of the daemon's board: wait until it rings, then go off hook
        (``wait_ring=False``: off hook at once, as an agent who lifts the handset before a call is offered).
        Fires with a DialResult (``answered``, or ``no_answer`` if it does not ring within ``timeout``)."""
        self._reset_call()
        self.trunk = f"phone/{port}"
        self.state = "ringing"
        d = self._dial_d = defer.Deferred()
        try:
            self.leg = self.exchange._pickup(self, port, wait_ring)
        except Exception:
            self.state, self._dial_d = "idle", None
            raise
        if timeout:
            self._dial_timer = self.clock.callLater(timeout, self._dial_timeout)
        return d

    def _reset_call(self) -> None:
        self.cause = None
        self.cleared_by = None
        self.received = []
        self._tx_queue, self._tx_pos = [], 0
        self._samples_queued = self._samples_sent = 0

    def _dial_timeout(self) -> None:
        self._dial_timer = None
        if self.state in ("dialing", "ringing") and self.leg is not None:
            self.note("no answer: caller gives up")
            self.leg.release(19)
            self._finish_dial("no_answer", 19, "not answered in time")

    def _finish_dial(self, outcome: str, cause: int | None = None, detail: str = "") -> None:
        if self._dial_timer is not None and self._dial_timer.active():
            self._dial_timer.cancel()
        self._dial_timer = None
        if outcome == "answered":
            self.state = "answered"
        else:
            self.state = outcome if outcome in ("busy", "failed") else "cleared"
            self.cause = cause
        d, self._dial_d = self._dial_d, None
        if d is not None:
            d.callback(DialResult(outcome, cause, detail))

    # called by the legs
    def _answered(self) -> None:
        if self.state in ("dialing", "ringing"):
            self.note("answered")
            self._finish_dial("answered")

    def _failed(self, outcome: str, cause: int | None, detail: str = "") -> None:
        if self.state in ("dialing", "ringing"):
            self.note(f"{outcome} cause={cause}")
            self._finish_dial(outcome, cause, detail)

    def _far_cleared(self, cause: int | None) -> None:
        """The daemon side released the call (REL, clear-back, on-hook)."""
        if self.state in ("dialing", "ringing"):
            self._failed("failed", cause, "released before answer")
        if self.cleared_by is None:
            self.cleared_by = "far"
            self.cause = cause
        self.state = "cleared"

    def _clear_complete(self) -> None:
        """The trunk is idle again (RLC / release guard over / line on hook)."""
        if self.state not in ("busy", "failed"):
            self.state = "cleared"
        self.note("trunk idle")
        self._end_hears()
        for d in self._cleared_ds:
            d.callback(self)
        self._cleared_ds = []
        d, self._hangup_d = self._hangup_d, None
        if d is not None:
            d.callback(self.seen())
        self.leg = None

    def wait_cleared(self) -> defer.Deferred:
        """Fires (with the caller) when the call is over and the trunk idle, whoever cleared it."""
        d = defer.Deferred()
        if self.leg is None and self.state not in ("dialing", "ringing", "answered"):
            d.callback(self)
        else:
            self._cleared_ds.append(d)
        return d

    def hangup(self, cause: int = 16) -> defer.Deferred:
        """Release the call from this end (REL, clear-forward, line hang-up or phone on hook). Fires with the
        far end's view once the trunk is idle again (RLC received, release guard over, board on hook)."""
        d = defer.Deferred()
        if self.leg is None:
            d.callback(self.seen())
            return d
        self._hangup_d = d
        if self.cleared_by is None:
            self.cleared_by = "us"
            self.cause = cause
        if self.state in ("dialing", "ringing"):
            self._finish_dial("failed", cause, "caller hung up before the answer")
        self.state = "cleared"
        self.leg.release(cause)
        return d

    # -- audio ----------------------------------------------------------------------------------------
    def _rx(self, block: np.ndarray) -> None:
        if self.state != "answered":
            return
        self.received.append(block.copy())
        for h in list(self._hear):
            h[1].append(block.copy())
            h[0] -= 1
            if h[0] <= 0:
                self._hear.remove(h)
                h[2].callback(np.concatenate(h[1]) if h[1] else np.zeros(0, np.uint8))

    def _end_hears(self) -> None:
        for h in self._hear:
            h[2].callback(np.concatenate(h[1]) if h[1] else np.zeros(0, np.uint8))
        self._hear = []

    def _tx(self) -> np.ndarray:
        """The next 20 ms to send (A-law)."""
        out = np.zeros(BLOCK, np.int16)
        got = 0
        while got < BLOCK and self._tx_queue:
            chunk = self._tx_queue[0]
            k = min(BLOCK - got, chunk.size - self._tx_pos)
            out[got:got + k] = chunk[self._tx_pos:self._tx_pos + k]
            got += k
            self._tx_pos += k
            if self._tx_pos >= chunk.size:
                self._tx_queue.pop(0)
                self._tx_pos = 0
        self._samples_sent += got
        for item in list(self._sent_d):
            if self._samples_sent >= item[0]:
                self._sent_d.remove(item)
                item[1].callback(None)
        return alaw_encode(out)

    def all_received(self) -> np.ndarray:
        return np.concatenate(self.received) if self.received else np.zeros(0, np.uint8)

    def hear(self, seconds: float) -> defer.Deferred:
        """Fires with the A-law audio received in the next ``seconds`` (shorter if the call ends first)."""
        d = defer.Deferred()
        if self.state != "answered":
            d.callback(np.zeros(0, np.uint8))
            return d
        self._hear.append([max(1, int(round(seconds * RATE / BLOCK))), [], d])
        return d

    def send(self, pcm) -> defer.Deferred:
        """Queue linear (int16) audio to send; fires once it has all been sent."""
        a = np.asarray(pcm)
        if a.ndim != 1:
            raise ValueError("audio must be one-dimensional")
        a = np.clip(np.rint(a), -32768, 32767).astype(np.int16) if a.dtype != np.int16 else a
        self._tx_queue.append(a)
        self._samples_queued += a.size
        d = defer.Deferred()
        self._sent_d.append((self._samples_queued, d))
        return d

    def press(self, digits: str, on_ms: int = 100, off_ms: int = 100, level_dbm0: float = -10.0) -> defer.Deferred:
        """Press keys: DTMF tones (ctid.dsp generator) in the audio sent. Fires when the last tone has gone."""
        gen = DtmfGenerator(level_dbm0=level_dbm0, on_ms=on_ms, off_ms=off_ms)
        gen.put(digits)
        self.note(f"press {digits}")
        return self.send(gen.generate())

    def send_tone(self, freq: float, seconds: float = 1.0, level_dbm0: float = -10.0) -> defer.Deferred:
        """A sine at ``freq`` Hz for ``seconds``; fires when sent."""
        n = int(seconds * RATE)
        amp = DBM0_REF * math.sqrt(2) * 10 ** (level_dbm0 / 20)
        t = np.arange(n) / RATE
        self.note(f"tone {freq:g} Hz")
        return self.send(amp * np.sin(2 * math.pi * freq * t))

    # -- analysis of what was heard -------------------------------------------------------------------
    def _audio(self, audio):
        return self.all_received() if audio is None else audio

    def heard_speech(self, audio=None, min_dbm0: float = -40.0) -> bool:
        """Non-silent audio: the loudest quarter of the 20 ms frames above ``min_dbm0``."""
        return speech_level(self._audio(audio)) > min_dbm0

    def similarity(self, reference, audio=None, window: float | None = None) -> float:
        a = self._audio(audio)
        return similarity(a, reference) if window is None else window_similarity(a, reference, window)

    def matches(self, reference, audio=None, threshold: float = 0.7, window: float | None = None) -> bool:
        """The received audio (or ``audio``) lies within the reference rendering or contains it (see
        :func:`similarity`); with ``window`` (seconds), some piece of that length does (:func:`window_similarity`)."""
        return self.similarity(reference, audio, window) >= threshold

    def detect_tone(self, freq: float, audio=None, min_dbm0: float = -35.0, min_share: float = 0.5) -> bool:
        """A tone at ``freq`` dominates the audio: Goertzel level above ``min_dbm0`` and at least ``min_share``
        of the energy."""
        lvl, share = tone_level(self._audio(audio), freq)
        return lvl > min_dbm0 and share >= min_share


def run_until(step: Callable[[], None], cond: Callable[[], bool], max_steps: int) -> bool:
    """Call ``step`` (one tick of everything) until ``cond()`` or ``max_steps``; True if the condition held."""
    for _ in range(max_steps):
        step()
        if cond():
            return True
    return False
