"""record(): what the far board sends ends up in an A-law WAV, complete and fsync'd when the Deferred fires;
stops on silence, max length, terminator digit, stop and hangup; optional beep first."""
import struct

import numpy as np
import pytest

from media_rig import find_offset

from ctid.dsp.g711 import alaw_decode, alaw_encode
from ctid.dsp.wavfile import read_audio
from ctid.media.wav import HEADER_BYTES

CH = 12


def noise(seconds, seed=3, level=6000):
    rng = np.random.default_rng(seed)
    return alaw_encode(np.clip(rng.normal(0, level, int(seconds * 8000)), -32768, 32767).astype(np.int16))


def check_complete(path, nbytes):
    """The header agrees with the file (RIFF size, fact, data size) and the reader accepts it."""
    blob = open(path, "rb").read()
    assert len(blob) == HEADER_BYTES + nbytes + (nbytes & 1)
    assert struct.unpack_from("<I", blob, 4)[0] == len(blob) - 8
    assert blob[HEADER_BYTES - 8:HEADER_BYTES - 4] == b"data"
    assert struct.unpack_from("<I", blob, HEADER_BYTES - 4)[0] == nbytes
    return read_audio(path)


def test_stops_on_silence_after_speech(rig, tmp_path):
    path = str(tmp_path / "s.wav")
    speech = noise(1.0)
    mc = rig.ra.channel(CH)
    d = mc.record(path, max_seconds=30, silence_seconds=1.0, beep=False)
    rig.rb.channel(CH).play(speech)
    res = rig.run_until(d)
    assert res["reason"] == "silence"
    # 1 s of speech (after a block of line latency) then 1 s of silence, to the tick
    assert abs(res["duration"] - (1.0 + 0.02 + 1.0)) <= 0.021, res
    audio = check_complete(path, res["bytes"])
    L = find_offset(speech, audio.data)
    np.testing.assert_array_equal(audio.data[L:L + len(speech)], speech)
    assert np.all(audio.data[L + len(speech):] == 0xD5)


def test_silence_threshold_counts_quiet_noise_as_silence(rig, tmp_path):
    path = str(tmp_path / "q.wav")
    quiet = noise(3.0, level=30)         # about -57 dBm0: below the -40 dBm0 default
    d = rig.ra.channel(CH).record(path, silence_seconds=0.5, beep=False)
    rig.rb.channel(CH).play(quiet)
    res = rig.run_until(d)
    assert res["reason"] == "silence" and res["duration"] <= 0.56


def test_stops_on_terminator_digit(rig, tmp_path):
    path = str(tmp_path / "t.wav")
    mc = rig.ra.channel(CH)
    d = mc.record(path, max_seconds=30, silence_seconds=None, terminators="#", beep=False)
    far = rig.rb.channel(CH)
    rig.run_until(far.play(noise(1.0)))
    far.dtmf("#")
    res = rig.run_until(d, limit=1.0)
    assert res["reason"] == "terminator"
    assert 1.0 < res["duration"] < 1.2
    check_complete(path, res["bytes"])
    assert mc.digits == ""                      # the terminator was taken, not buffered


def test_other_digits_do_not_stop_it(rig, tmp_path):
    path = str(tmp_path / "o.wav")
    mc = rig.ra.channel(CH)
    d = mc.record(path, max_seconds=1.0, silence_seconds=None, terminators="#", beep=False)
    rig.rb.channel(CH).dtmf("5")
    res = rig.run_until(d)
    assert res["reason"] == "max" and res["bytes"] == 8000
    assert mc.digits == "5"


def test_beep_goes_out_before_recording_starts(rig, tmp_path):
    path = str(tmp_path / "b.wav")
    heard = rig.listen(rig.rb, [CH])
    t0 = rig.clock.seconds()
    d = rig.ra.channel(CH).record(path, max_seconds=0.5, silence_seconds=None, beep=True)
    res = rig.run_until(d)
    t_done = rig.clock.seconds()
    assert res["reason"] == "max" and res["bytes"] == 4000
    got = alaw_decode(heard(CH)).astype(float)
    on = np.flatnonzero(np.abs(got) > 1000)
    span = on[-1] - on[0] + 1
    assert 1950 <= span <= 2000                  # 250 ms of beep
    seg = got[on[0]:on[0] + 1600]
    spec = np.abs(np.fft.rfft(seg))
    assert abs(np.argmax(spec) * 8000 / len(seg) - 1000) <= 5
    # the recording began when the beep ended: 250 ms of beep + 500 ms of recording, to the tick
    assert abs((t_done - t0) - 0.75) <= 0.021


@pytest.mark.parametrize("how", ["hangup", "stopped"])
def test_hangup_or_stop_finishes_a_complete_file(rig, tmp_path, how):
    path = str(tmp_path / f"{how}.wav")
    mc = rig.ra.channel(CH)
    d = mc.record(path, max_seconds=60, silence_seconds=None, beep=False)
    out = []
    d.addCallback(out.append)
    speech = noise(2.5)
    rig.rb.channel(CH).play(speech)
    rig.run(2.0)
    (mc.hangup if how == "hangup" else mc.stop)()
    assert out and out[0]["reason"] == how         # fired synchronously, file already closed
    audio = check_complete(path, out[0]["bytes"])
    assert 1.9 <= out[0]["duration"] <= 2.0
    L = find_offset(speech, audio.data)
    np.testing.assert_array_equal(audio.data[L:], speech[:len(audio.data) - L])
    assert mc.state == "idle"


def test_long_recording_drained_through_high_water(rig, tmp_path):
    path = str(tmp_path / "long.wav")
    speech = noise(9.0, seed=9)
    d = rig.ra.channel(CH).record(path, max_seconds=8.0, silence_seconds=2.0, beep=False)
    rig.rb.channel(CH).play(speech)
    res = rig.run_until(d)
    assert res["reason"] == "max" and res["bytes"] == 64000     # > the 4 s native ring: drained on the way
    audio = check_complete(path, 64000)
    L = find_offset(speech, audio.data)
    np.testing.assert_array_equal(audio.data[L:], speech[:64000 - L])


def test_unwritable_path_is_a_clear_error(rig, tmp_path):
    from ctid.media import MediaError

    with pytest.raises(MediaError, match="does not exist"):
        rig.ra.channel(CH).record(str(tmp_path / "nope" / "x.wav"))
    (tmp_path / "adir").mkdir()
    with pytest.raises(MediaError, match="cannot create"):
        rig.ra.channel(CH).record(str(tmp_path / "adir"))     # a directory, not a file
    assert rig.ra.channel(CH).state == "idle"


class QueuedIo:
    """A run_io that holds the work until the test runs it (as a thread pool would, later)."""

    def __init__(self):
        self.jobs = []

    def __call__(self, fn):
        from twisted.internet import defer

        d = defer.Deferred()
        self.jobs.append((fn, d))
        return d

    def run_all(self):
        from twisted.python.failure import Failure

        jobs, self.jobs = self.jobs, []
        for fn, d in jobs:
            try:
                r = fn()
            except Exception:
                d.errback(Failure())
            else:
                d.callback(r)


def test_deferred_fires_only_after_the_file_is_durable(rig, tmp_path):
    """File creation and the final fsync go through run_io (a thread pool in the daemon). Here the test holds
    that work: audio captured before the file is open is kept, and the Deferred waits for the close."""
    io = QueuedIo()
    rig.ra.run_io = io
    path = str(tmp_path / "io.wav")
    mc = rig.ra.channel(CH)
    out = []
    mc.record(path, max_seconds=0.5, silence_seconds=None, beep=False).addBoth(out.append)
    speech = noise(1.0)
    rig.rb.channel(CH).play(speech)
    rig.run(0.6)                                       # the recording ended before its file was even open
    assert not out and len(io.jobs) == 1
    assert mc.state == "idle"                          # the channel is free for the next operation
    io.run_all()                                       # open: the buffered audio is written, close queued
    assert not out and len(io.jobs) == 1
    io.run_all()                                       # close: header, fsync
    assert out and out[0]["reason"] == "max" and out[0]["bytes"] == 4000
    audio = check_complete(path, 4000)
    L = find_offset(speech, audio.data)
    np.testing.assert_array_equal(audio.data[L:], speech[:4000 - L])


def test_file_that_cannot_be_created_fails_the_deferred(rig, tmp_path):
    from ctid.media import MediaError
    from twisted.internet import defer

    def refuse(fn):
        return defer.fail(OSError(13, "Permission denied"))

    rig.ra.run_io = refuse
    out = []
    mc = rig.ra.channel(CH)
    mc.record(str(tmp_path / "x.wav"), beep=True).addBoth(out.append)
    assert out and out[0].check(MediaError) and "cannot create" in out[0].getErrorMessage()
    rig.run(0.5)
    assert mc.state == "idle" and mc.tone_playing is None


def test_failed_finish_is_an_error_not_a_silent_success(rig, tmp_path):
    from ctid.media import MediaError

    def broken(fn):
        from twisted.internet import defer
        return defer.fail(OSError(28, "No space left on device"))

    calls = []

    def open_then_break(fn):
        from twisted.internet import defer
        calls.append(fn)
        return defer.maybeDeferred(fn) if len(calls) == 1 else broken(fn)

    rig.ra.run_io = open_then_break
    out = []
    rig.ra.channel(CH).record(str(tmp_path / "f.wav"), max_seconds=0.2, silence_seconds=None,
                              beep=False).addBoth(out.append)
    rig.run(0.4)
    assert out and out[0].check(MediaError) and "No space left" in out[0].getErrorMessage()


def test_terminator_during_the_beep_gives_an_empty_complete_file(rig, tmp_path):
    path = str(tmp_path / "e.wav")
    mc = rig.ra.channel(CH)
    mc.tone("beep")                               # record() stops any tone first
    out = []
    mc.record(path, max_seconds=10, silence_seconds=None, terminators="#", beep=True).addCallback(out.append)
    # a long beep cannot be what the far end hears: the 250 ms beep is the record's own
    assert mc.tone_playing is None
    rig.rb.channel(CH).dtmf("#", on_ms=60)
    rig.run(0.2)                                   # the digit is detected while the 250 ms beep still plays
    assert out and out[0]["reason"] == "terminator" and out[0]["bytes"] == 0
    assert len(check_complete(path, 0).data) == 0
    assert mc.state == "idle"
