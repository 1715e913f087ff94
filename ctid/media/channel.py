"""Media operations on one channel of a board: play, collect, record, tones, DTMF, through the board's tick.

A :class:`MediaChannel` comes from ``BoardRuntime.channel(n)``. It runs at most one media *operation* at a
time (play, collect or record); starting another ends the current one with reason ``"stopped"``. Tones
(:meth:`MediaChannel.tone`) are separate: a playing prompt takes precedence over a tone, which resumes when the
prompt ends. Every Deferred fires exactly once, with a result dict (never left pending): on :meth:`stop` with
reason ``"stopped"``, on :meth:`hangup` with ``"hangup"``. Timers use the runtime's injected clock.

DTMF: with ``detect(dtmf=True)`` (the default once an operation needs digits) each digit is reported when it
starts (the detector's ON event). A digit no operation takes is kept in a small type-ahead buffer (the next
collect starts with it; :meth:`flush_digits` empties it).
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import math
import os
import re

import numpy as np
from twisted.internet import defer

from ctid.dsp._native import ffi, lib
from ctid.dsp.tones import ToneDef, tone_def_to_c, tones_for

log = logging.getLogger("ctid.media")

ALAW_SILENCE = 0xD5
DIGITS = set("0123456789*#ABCD")
MAX_TYPEAHEAD = 64

#: tones usable by name besides the country table
EXTRA_TONES = {
    "beep": ToneDef("beep", 1000, detect_ms=200, level_dbm0=-10.0),
}
BEEP_MS = 250

EV_PLAY_DONE = lib.CTID_MEDIA_EV_PLAY_DONE
EV_TONE_DONE = lib.CTID_MEDIA_EV_TONE_DONE
EV_REC_HIGH = lib.CTID_MEDIA_EV_REC_HIGH
EV_REC_MAX = lib.CTID_MEDIA_EV_REC_MAX
EV_REC_SILENCE = lib.CTID_MEDIA_EV_REC_SILENCE
EV_REC_OVERFLOW = lib.CTID_MEDIA_EV_REC_OVERFLOW
REC_EVENTS = (EV_REC_HIGH, EV_REC_MAX, EV_REC_SILENCE, EV_REC_OVERFLOW)


class MediaError(ValueError):
    """A media operation refused its arguments; the message names what was wrong."""


def as_codes(source, what: str = "source") -> np.ndarray:
    """One A-law segment as a contiguous read-only uint8 array (bytes, bytearray, memoryview or numpy uint8)."""
    if isinstance(source, np.ndarray):
        if source.dtype != np.uint8:
            raise MediaError(f"{what}: A-law audio must be uint8 codes, not {source.dtype}")
        if source.ndim != 1:
            raise MediaError(f"{what}: A-law audio must be one-dimensional, not shape {source.shape}")
        return np.ascontiguousarray(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(source), dtype=np.uint8)
    raise MediaError(f"{what}: give A-law audio as bytes or a numpy uint8 array (or a list of those), "
                     f"not {type(source).__name__}")


def segments(source) -> list[np.ndarray]:
    if isinstance(source, (list, tuple)):
        return [as_codes(s, f"source[{i}]") for i, s in enumerate(source)]
    return [as_codes(source)]


def _number(v, what: str, lo: float, hi: float, allow_none: bool = False):
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
        raise MediaError(f"{what} must be a number in {lo}..{hi}{' or None' if allow_none else ''}, not {v!r}")
    return v


def _int(v, what: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise MediaError(f"{what} must be an integer in {lo}..{hi}, not {v!r}")
    return int(v)


def _digits_set(v, what: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str) or any(c not in DIGITS for c in v):
        raise MediaError(f"{what} must be a string of DTMF digits (0-9 * # A-D), not {v!r}")
    return v


class _Op:
    kind = "op"

    def __init__(self, mc: "MediaChannel"):
        self.mc = mc
        self.d = defer.Deferred()
        self.done = False

    def finish(self, result) -> None:
        self._complete(self.d.callback, result)

    def fail(self, exc) -> None:
        self._complete(self.d.errback, exc)

    def _complete(self, fire, value) -> None:
        if self.done:
            return
        self.done = True
        self.cleanup()
        if self.mc._op is self:
            self.mc._op = None
        fire(value)

    # hooks
    def cleanup(self) -> None: ...
    def on_digit(self, digit: str) -> bool: return False
    def on_play_done(self, play_id: int) -> None: ...
    def on_tone_done(self, tone_id: int) -> None: ...
    def on_record_event(self, typ: int, value: int, aux: int) -> None: ...
    def cancel(self, reason: str) -> None: raise NotImplementedError


class _Prompt:
    """A queued playback on the channel's native play queue (buffers kept alive until it ends or stops)."""

    def __init__(self, mc: "MediaChannel", segs: list[np.ndarray], loop: bool = False):
        self.mc = mc
        segs = [s for s in segs if len(s)]
        if len(segs) > lib.CTID_MEDIA_MAX_QUEUE or (loop and len(segs) > 1):
            segs = [np.concatenate(segs)]
        self.segs = segs
        self.last_id = None
        self.active = False
        m, ch = mc.runtime._m, mc.number
        lib.ctid_media_play_stop(m, ch)
        for s in segs:
            sid = mc.runtime._new_id()
            rc = lib.ctid_media_play(m, ch, ffi.from_buffer("uint8_t[]", s), len(s), sid, 1 if loop else 0)
            if rc < 0:
                lib.ctid_media_play_stop(m, ch)
                raise MediaError(f"channel {ch}: could not queue audio: "
                                 f"{ffi.string(lib.ctid_strerror(rc)).decode()}")
            self.last_id = sid
        self.active = self.last_id is not None

    def stop(self) -> None:
        if self.active:
            lib.ctid_media_play_stop(self.mc.runtime._m, self.mc.number)
            self.active = False
        self.segs = []

    def ended(self, play_id: int) -> bool:
        if self.active and play_id == self.last_id:
            self.active = False
            self.segs = []
            return True
        return False


class _PlayOp(_Op):
    kind = "playing"

    def __init__(self, mc, segs, barge_in: bool, loop: bool):
        super().__init__(mc)
        self.barge_in = barge_in
        self.prompt = _Prompt(mc, segs, loop)

    def start(self):
        if not self.prompt.active:
            self.finish({"reason": "done", "digit": None})

    def cleanup(self):
        self.prompt.stop()

    def on_digit(self, digit):
        if self.barge_in:
            self.finish({"reason": "dtmf", "digit": digit})
            return True
        return False

    def on_play_done(self, play_id):
        if self.prompt.ended(play_id):
            self.finish({"reason": "done", "digit": None})

    def cancel(self, reason):
        self.finish({"reason": reason, "digit": None})


class _CollectOp(_Op):
    """FreeSWITCH play_and_get_digits semantics (see MediaChannel.collect)."""

    kind = "collecting"

    def __init__(self, mc, prompts, min_digits, max_digits, timeout, inter_digit_timeout, terminators, tries,
                 invalid_prompts, regex):
        super().__init__(mc)
        self.prompts = prompts
        self.invalid_prompts = invalid_prompts
        self.min = min_digits
        self.max = max_digits
        self.timeout = timeout
        self.idt = inter_digit_timeout
        self.terms = terminators
        self.tries = tries
        self.regex = regex
        self.try_no = 0
        self.digits = ""
        self.state = "idle"
        self.prompt = None
        self.timer = None
        self.last_reason = None
        self.last_had_input = False

    def start(self):
        self._next_try()

    # --- states
    def _next_try(self):
        self.try_no += 1
        self.digits = ""
        self.had_input = False
        if self.prompts and not self.mc._digits:
            self.state = "prompt"
            self.prompt = _Prompt(self.mc, self.prompts)
            if self.prompt.active:
                return
        self._wait(self.timeout)
        self._typeahead()

    def _typeahead(self):
        while self.mc._digits and not self.done and self.state == "wait":
            self.on_digit(self.mc._digits.popleft())

    def _wait(self, seconds):
        self.state = "wait"
        self._cancel_timer()
        self.timer = self.mc.runtime.clock.callLater(seconds, self._timed_out)

    def _cancel_timer(self):
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None

    def _timed_out(self):
        self.timer = None
        self._end_try("timeout")

    def _end_try(self, reason):
        self._cancel_timer()
        if self.prompt is not None:
            self.prompt.stop()
        valid = len(self.digits) >= self.min and (self.regex is None or self.regex.fullmatch(self.digits) is not None)
        if valid:
            self.finish({"digits": self.digits, "reason": reason, "tries": self.try_no, "valid": True})
            return
        self.last_reason = reason
        self.last_had_input = self.had_input
        if self.invalid_prompts:
            self.state = "invalid"
            self.prompt = _Prompt(self.mc, self.invalid_prompts)
            if self.prompt.active:
                return
        self._after_invalid()

    def _after_invalid(self):
        self.prompt = None
        if self.try_no >= self.tries:
            self.finish({"digits": "", "reason": "invalid" if self.last_had_input else "timeout",
                         "tries": self.try_no, "valid": False})
        else:
            self._next_try()

    # --- inputs
    def on_digit(self, digit):
        if self.state == "invalid":
            # a digit during the invalid-input prompt cuts it and starts the next try with that digit
            self.prompt.stop()
            self.mc._buffer_digit(digit)
            self._after_invalid()
            return True
        if self.state == "prompt":
            self.prompt.stop()
            self.state = "wait"
        self.had_input = True
        if digit in self.terms:
            self._end_try("terminator")
            return True
        self.digits += digit
        if len(self.digits) >= self.max:
            self._end_try("max")
        else:
            self._wait(self.idt)
        return True

    def on_play_done(self, play_id):
        if self.prompt is None or not self.prompt.ended(play_id):
            return
        if self.state == "prompt":
            self._wait(self.timeout)
            self._typeahead()
        elif self.state == "invalid":
            self._after_invalid()

    def cleanup(self):
        self._cancel_timer()
        if self.prompt is not None:
            self.prompt.stop()

    def cancel(self, reason):
        self.finish({"digits": self.digits, "reason": reason, "tries": self.try_no, "valid": False})


class _RecordOp(_Op):
    kind = "recording"

    def __init__(self, mc, path, max_seconds, silence_seconds, terminators, beep, silence_dbm0):
        super().__init__(mc)
        from .wav import WavWriter

        self.path = os.fspath(path)
        self.max_samples = int(round(max_seconds * 8000))
        self.silence_ms = int(round(silence_seconds * 1000)) if silence_seconds else 0
        self.silence_dbm0 = silence_dbm0
        self.terms = terminators
        self.beep_id = None
        self.capturing = False
        self.ending = False
        self.end_reason = None
        self.writer = None          # opened through run_io (file creation can be slow: off the reactor thread)
        self.open_failed = False
        self.pending: list[bytes] = []
        self._WavWriter = WavWriter
        self.beep = beep
        self._buf = np.empty(mc.runtime.record_buffer_bytes, dtype=np.uint8)
        self._bufp = ffi.from_buffer("uint8_t[]", self._buf, require_writable=True)

    def start(self):
        d = self.mc.runtime.run_io(lambda: self._WavWriter(self.path))
        d.addCallbacks(self._opened, self._open_failed)
        if self.done or self.open_failed:
            return
        if self.beep:
            self.beep_id = self.mc.runtime._new_id()
            native = tone_def_to_c(EXTRA_TONES["beep"])
            rc = lib.ctid_media_tone(self.mc.runtime._m, self.mc.number, native, BEEP_MS, self.beep_id)
            if rc >= 0:
                return
        self._capture()

    def _capture(self):
        rt = self.mc.runtime
        rc = lib.ctid_media_record_start(rt._m, self.mc.number, rt.record_buffer_bytes,
                                         max(1, rt.record_buffer_bytes // 4), self.max_samples, self.silence_ms,
                                         self.silence_dbm0)
        if rc < 0:
            self.fail(MediaError(f"record on channel {self.mc.number}: native capture refused "
                                 f"({ffi.string(lib.ctid_strerror(rc)).decode()})"))
            return
        self.capturing = True

    def _opened(self, writer):
        self.writer = writer
        if self.done:                   # the operation failed meanwhile: leave a complete (short) file
            self.mc.runtime.run_io(writer.close).addErrback(lambda f: None)
            return
        try:
            for chunk in self.pending:
                writer.write(chunk)
        except OSError as exc:
            self._fail_io(exc)
            return
        self.pending = []
        if self.end_reason is not None:
            self._finalize(self.end_reason)

    def _open_failed(self, f):
        self.open_failed = True
        self._stop_native()
        self.fail(MediaError(f"record: cannot create {self.path}: {f.getErrorMessage()}"))

    def _drain(self):
        m, ch = self.mc.runtime._m, self.mc.number
        while True:
            n = lib.ctid_media_record_read(m, ch, self._bufp, len(self._buf))
            if n <= 0:
                return
            if self.writer is not None:
                self.writer.write(self._buf[:n])
            else:
                self.pending.append(self._buf[:n].tobytes())

    def on_tone_done(self, tone_id):
        if tone_id == self.beep_id and not self.capturing and not self.done:
            self.beep_id = None
            self._capture()

    def on_record_event(self, typ, value, aux):
        if not self.capturing:
            return
        if typ == EV_REC_HIGH or typ == EV_REC_OVERFLOW:
            try:
                self._drain()
            except OSError as exc:
                self._fail_io(exc)
            if typ == EV_REC_OVERFLOW:
                log.warning("channel %s: recording %s lost %d bytes (buffer full)", self.mc.number, self.path, value)
        elif typ == EV_REC_MAX:
            self._end("max")
        elif typ == EV_REC_SILENCE:
            self._end("silence")

    def on_digit(self, digit):
        if digit in self.terms:
            self._end("terminator")
            return True
        return False

    def _fail_io(self, exc):
        self._stop_native()
        try:
            if self.writer is not None:
                self.writer.close()
        except OSError:
            pass
        self.fail(MediaError(f"record: writing {self.path} failed: {exc.strerror or exc}"))

    def _stop_native(self):
        m, ch = self.mc.runtime._m, self.mc.number
        if self.beep_id is not None:
            lib.ctid_media_tone_stop(m, ch)
            self.beep_id = None
        if self.capturing:
            lib.ctid_media_record_stop(m, ch)

    def _end(self, reason):
        if self.done or self.ending:
            return
        self.ending = True
        self._stop_native()
        try:
            if self.capturing:
                self._drain()            # the rest of the native buffer into the file (buffered write)
        except OSError as exc:
            self._fail_io(exc)
            return
        finally:
            if self.capturing:
                lib.ctid_media_record_release(self.mc.runtime._m, self.mc.number)
                self.capturing = False
        # The channel is free for the next operation now; the Deferred fires once the file is durable: header
        # patched, file and directory fsync'd, through the runtime's run_io (a thread pool in the daemon).
        if self.mc._op is self:
            self.mc._op = None
        if self.writer is None:
            self.end_reason = reason        # finished when the file is open
            return
        self._finalize(reason)

    def _finalize(self, reason):
        writer = self.writer
        result = {"path": self.path, "duration": writer.seconds, "bytes": writer.nbytes, "reason": reason}
        d = self.mc.runtime.run_io(writer.close)
        d.addCallbacks(lambda _: self.finish(result),
                       lambda f: self.fail(MediaError(f"record: finishing {self.path} failed: "
                                                      f"{f.getErrorMessage()}")))

    def cleanup(self):
        self._stop_native()
        if self.capturing:
            lib.ctid_media_record_release(self.mc.runtime._m, self.mc.number)
            self.capturing = False

    def cancel(self, reason):
        self._end(reason)


class MediaChannel:
    """Media on board channel ``number`` of a :class:`~ctid.media.runtime.BoardRuntime` (see the module docs)."""

    def __init__(self, runtime, number: int):
        self.runtime = runtime
        self.number = number
        self.on_tone = None          # fn(ctid.dsp.Event) for this channel's detector events
        self.conference = None
        self._op: _Op | None = None
        self._digits: collections.deque[str] = collections.deque(maxlen=MAX_TYPEAHEAD)
        self._tone_name: str | None = None

    def __repr__(self) -> str:
        return f"<MediaChannel {self.runtime.board.board_id}:{self.number} {self.state}>"

    # ------------------------------------------------------------------------------------- state
    @property
    def state(self) -> str:
        """``idle``, ``playing``, ``collecting`` or ``recording`` (the ChannelInfo "media" field)."""
        return self._op.kind if self._op is not None else "idle"

    @property
    def playing(self) -> bool:
        """Audio from the play queue is going out (a play, a collect prompt)."""
        return lib.ctid_media_queued(self.runtime._m, self.number) > 0

    @property
    def tone_playing(self) -> str | None:
        return self._tone_name

    @property
    def digits(self) -> str:
        """Type-ahead digits received and not yet taken by an operation."""
        return "".join(self._digits)

    def flush_digits(self) -> str:
        d = self.digits
        self._digits.clear()
        return d

    # ------------------------------------------------------------------------------------- detection
    def detect(self, dtmf: bool = True, r2f: bool = False, r2b: bool = False, cpt: bool = False,
               cid: bool = False) -> None:
        """Set this channel's detector mask (detectors newly turned on start fresh)."""
        from ctid.dsp.bank import DETECTORS

        mask = 0
        for name, on in (("dtmf", dtmf), ("r2f", r2f), ("r2b", r2b), ("cpt", cpt), ("cid", cid)):
            if on:
                mask |= DETECTORS[name]
        self.runtime.bank.set_mask(self.number, mask)

    def _need_dtmf(self) -> None:
        # read the bank's mask itself: signalling (China No.1 registers) changes masks on the same bank
        mask = self.runtime.bank.get_mask(self.number)
        if not mask & lib.CTID_DET_DTMF:
            self.runtime.bank.set_mask(self.number, mask | lib.CTID_DET_DTMF)

    def _buffer_digit(self, digit: str) -> None:
        self._digits.append(digit)

    def _detected(self, ev) -> None:
        if self.on_tone is not None:
            self.runtime._safe(self.on_tone, ev)
        if ev.kind == "dtmf" and ev.type == "on":
            op = self._op
            try:
                taken = op is not None and op.on_digit(ev.value)
            except Exception:
                self.runtime.errors += 1
                log.exception("channel %s: digit handling failed", self.number)
                taken = False
            if not taken:
                self._digits.append(ev.value)

    def _media_event(self, typ: int, value: int, aux: int) -> None:
        op = self._op
        try:
            if typ == EV_PLAY_DONE:
                if op is not None:
                    op.on_play_done(value)
            elif typ == EV_TONE_DONE:
                if self._tone_id == value:
                    self._tone_name = None
                    self._tone_id = None
                if op is not None:
                    op.on_tone_done(value)
            elif typ in REC_EVENTS:
                if op is not None:
                    op.on_record_event(typ, value, aux)
        except Exception:
            self.runtime.errors += 1
            log.exception("channel %s: media event %d failed", self.number, typ)

    _tone_id = None

    # ------------------------------------------------------------------------------------- operations
    def _begin(self, op: _Op):
        if self.runtime.closed:
            raise MediaError(f"channel {self.number}: the board runtime is closed")
        if self._op is not None:
            self._op.cancel("stopped")
        self._op = op
        op.start()
        return op.d

    def play(self, source, barge_in: bool = False, loop: bool = False) -> defer.Deferred:
        """Play A-law audio (bytes / uint8 array, or a list of those played back to back, gapless).

        Fires ``{"reason": "done"|"dtmf"|"stopped"|"hangup", "digit": str|None}``; with ``barge_in`` the first
        DTMF digit stops the playback (reason ``dtmf``; the digit is returned, not buffered). ``loop`` repeats
        until stopped (music on hold).
        """
        segs = segments(source)
        if loop and not any(len(s) for s in segs):
            raise MediaError(f"channel {self.number}: cannot loop empty audio")
        if barge_in:
            self._need_dtmf()
        if self._op is not None:
            self._op.cancel("stopped")
        return self._begin(_PlayOp(self, segs, bool(barge_in), bool(loop)))

    def collect(self, prompts=(), min_digits: int = 1, max_digits: int = 1, timeout: float = 5.0,
                inter_digit_timeout: float = 3.0, terminators: str = "#", tries: int = 3, invalid_prompts=(),
                valid_regex: str | None = None) -> defer.Deferred:
        """Collect digits with FreeSWITCH ``play_and_get_digits`` semantics.

        Per try: the prompts play (a digit cuts them; digits already typed ahead skip them), then up to
        ``timeout`` s for the first digit and ``inter_digit_timeout`` s between digits; a terminator ends the
        input (not included), ``max_digits`` ends it at once. The input is valid with at least ``min_digits``
        digits matching ``valid_regex`` (whole string) if given. Invalid or no input: ``invalid_prompts`` play
        and the next try starts, up to ``tries``.

        Fires ``{"digits", "reason", "tries", "valid"}``: valid input -> its digits and how it ended
        (``max``, ``terminator``, ``timeout``); all tries failed -> ``digits`` "" with reason ``invalid`` (the
        last try had input) or ``timeout`` (it had none); or ``stopped`` / ``hangup`` with the digits so far.
        """
        p = segments(prompts) if not isinstance(prompts, (list, tuple)) or prompts else []
        ip = segments(invalid_prompts) if not isinstance(invalid_prompts, (list, tuple)) or invalid_prompts else []
        max_digits = _int(max_digits, "max_digits", 1, 128)
        min_digits = _int(min_digits, "min_digits", 0, max_digits)
        timeout = _number(timeout, "timeout", 0.0, 3600.0)
        inter_digit_timeout = _number(inter_digit_timeout, "inter_digit_timeout", 0.0, 3600.0)
        terminators = _digits_set(terminators, "terminators")
        tries = _int(tries, "tries", 1, 100)
        regex = None
        if valid_regex is not None:
            if not isinstance(valid_regex, str):
                raise MediaError(f"valid_regex must be a string, not {type(valid_regex).__name__}")
            try:
                regex = re.compile(valid_regex)
            except re.error as exc:
                raise MediaError(f"valid_regex {valid_regex!r} is not a valid regular expression: {exc}") from None
        self._need_dtmf()
        if self._op is not None:
            self._op.cancel("stopped")
        return self._begin(_CollectOp(self, p, min_digits, max_digits, timeout, inter_digit_timeout, terminators,
                                      tries, ip, regex))

    def record(self, path, max_seconds: float = 60.0, silence_seconds: float | None = 5.0, terminators: str = "#",
               beep: bool = True, silence_threshold_dbm0: float = -40.0) -> defer.Deferred:
        """Record what the channel receives to an 8 kHz A-law WAV at ``path``.

        Optional beep (1 kHz, 250 ms) first; stops after ``max_seconds``, after ``silence_seconds`` of received
        level below ``silence_threshold_dbm0`` (None: never), on a terminator digit, or on stop/hangup. The file
        is complete and fsync'd before the Deferred fires ``{"path", "duration", "bytes", "reason"}`` (reason
        ``max``, ``silence``, ``terminator``, ``stopped``, ``hangup``). Any tone on the channel is stopped.
        """
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise MediaError(f"record: path must be a file path, not {path!r}")
        d = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(d):
            raise MediaError(f"record: directory {d} does not exist")
        if os.path.isdir(os.fspath(path)):
            raise MediaError(f"record: cannot create {os.fspath(path)}: it is a directory")
        if not os.access(d, os.W_OK):
            raise MediaError(f"record: cannot create {os.fspath(path)}: directory {d} is not writable")
        max_seconds = _number(max_seconds, "max_seconds", 0.02, 24 * 3600.0)
        silence_seconds = _number(silence_seconds, "silence_seconds", 0.02, 3600.0, allow_none=True)
        silence_threshold_dbm0 = _number(silence_threshold_dbm0, "silence_threshold_dbm0", -90.0, 3.0)
        terminators = _digits_set(terminators, "terminators")
        if terminators:
            self._need_dtmf()
        self.stop_tone()
        if self._op is not None:
            self._op.cancel("stopped")
        return self._begin(_RecordOp(self, path, max_seconds, silence_seconds, terminators, bool(beep),
                                     silence_threshold_dbm0))

    def dtmf(self, digits: str, on_ms: int = 80, off_ms: int = 80, level_dbm0: float = -10.0) -> defer.Deferred:
        """Send DTMF digits (generated once, played like a prompt); fires like :meth:`play`."""
        from ctid.dsp import dtmf as dtmf_mod
        from ctid.dsp.g711 import alaw_encode

        if not isinstance(digits, str) or not digits or any(c not in DIGITS for c in digits):
            raise MediaError(f"dtmf: digits must be a non-empty string of 0-9 * # A-D, not {digits!r}")
        _int(on_ms, "on_ms", 20, 2000)
        _int(off_ms, "off_ms", 20, 2000)
        _number(level_dbm0, "level_dbm0", -40.0, 0.0)
        return self.play(alaw_encode(dtmf_mod.generate(digits, level_dbm0=level_dbm0, on_ms=on_ms, off_ms=off_ms)))

    def tone(self, tone, duration: float | None = None, level_dbm0: float | None = None) -> None:
        """Send a call-progress tone (a name from the runtime's country table or ``beep``, or a ToneDef: any
        one or two frequencies and cadence) until :meth:`stop_tone` or for ``duration`` seconds. Generated
        natively in the tick; a playing prompt takes precedence while it plays."""
        if isinstance(tone, str):
            table = {t.name: t for t in tones_for(self.runtime.country)}
            table.update(EXTRA_TONES)
            if tone not in table:
                raise MediaError(f"no tone {tone!r}; known: {', '.join(table)}")
            tone = table[tone]
        if not isinstance(tone, ToneDef):
            raise MediaError(f"a tone is a ToneDef or a tone name, not {type(tone).__name__}")
        if level_dbm0 is not None:
            _number(level_dbm0, "level_dbm0", -60.0, 3.0)
            try:
                tone = dataclasses.replace(tone, level_dbm0=float(level_dbm0))
            except ValueError as exc:
                raise MediaError(str(exc)) from None
        ms = 0
        if duration is not None:
            ms = int(round(_number(duration, "duration", 0.001, 24 * 3600.0) * 1000))
        tid = self.runtime._new_id()
        rc = lib.ctid_media_tone(self.runtime._m, self.number, tone_def_to_c(tone), ms, tid)
        if rc < 0:
            raise MediaError(f"tone {tone.name!r} refused by the generator")
        self._tone_name = tone.name
        self._tone_id = tid

    def stop_tone(self, ramp_samples: int = 0) -> None:
        """Stop the tone; ``ramp_samples`` > 0 fades it out over that many samples in the next tick (a
        raised-cosine release, as MFC R2 signals end) instead of cutting it at the block boundary."""
        if ramp_samples:
            _int(ramp_samples, "ramp_samples", 0, lib.CTID_MEDIA_MAX_RAMP)
            lib.ctid_media_tone_release(self.runtime._m, self.number, ramp_samples)
        else:
            lib.ctid_media_tone_stop(self.runtime._m, self.number)
        self._tone_name = None
        self._tone_id = None

    def set_source(self, fn) -> None:
        """``fn() -> 160 A-law codes or None`` called every tick; what it returns replaces this channel's
        transmitted block (None: the native output stays). ``None`` removes the source."""
        if fn is not None and not callable(fn):
            raise MediaError(f"a source must be callable or None, not {type(fn).__name__}")
        self.runtime._set_source(self.number, fn)

    def stop(self, reason: str = "stopped") -> None:
        """End the current operation (its Deferred fires with ``reason``) and any tone."""
        self.stop_tone()
        if self._op is not None:
            self._op.cancel(reason)
        lib.ctid_media_play_stop(self.runtime._m, self.number)

    def hangup(self) -> None:
        """The call ended: every operation fires with reason "hangup", tones, source, conference and
        type-ahead digits are cleared."""
        self.stop("hangup")
        self._digits.clear()
        self.set_source(None)
        if self.conference is not None:
            self.conference.remove(self)
