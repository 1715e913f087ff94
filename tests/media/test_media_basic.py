"""BoardRuntime + MediaChannel on two cabled hwsim boards: playback bit-exact across the cable, DTMF detected,
barge-in, recording to WAV."""
import numpy as np

from media_rig import TICK, find_offset

from ctid.dsp.g711 import alaw_encode
from ctid.dsp import dtmf as dtmf_mod
from ctid.dsp.wavfile import read_audio


def test_prompt_arrives_bit_exact_one_block_later(rig):
    rng = np.random.default_rng(1)
    prompt = rng.integers(0, 256, 8000, dtype=np.uint8)       # 1 s, every code value
    heard = rig.listen(rig.rb, [5])
    d = rig.ra.channel(5).play(prompt)
    res = rig.run_until(d)
    assert res == {"reason": "done", "digit": None}
    rig.run(0.1)
    got = heard(5)
    L = find_offset(prompt, got)
    # the block is written after A's tick k and received by B after tick k+1: one block (+ <= 2 frames of line)
    assert 160 <= L <= 162, L
    np.testing.assert_array_equal(got[L:L + len(prompt)], prompt)
    # nothing but silence around it
    assert np.all(got[:L] == 0xD5) and np.all(got[L + len(prompt):] == 0xD5)


def test_dtmf_played_from_b_is_detected_on_a(rig):
    mc_a = rig.ra.channel(7)
    mc_a.detect(dtmf=True)
    seen = []
    mc_a.on_tone = lambda ev: seen.append((ev.kind, ev.type, ev.value))
    d = rig.rb.channel(7).dtmf("1590#*")
    assert rig.run_until(d)["reason"] == "done"
    rig.run(0.2)
    assert [v for k, t, v in seen if k == "dtmf" and t == "on"] == list("1590#*")
    assert mc_a.digits == "1590#*"          # nothing took them: type-ahead buffer
    assert mc_a.flush_digits() == "1590#*" and mc_a.digits == ""


def test_barge_in_stops_playback(rig):
    heard = rig.listen(rig.rb, [3])
    mc = rig.ra.channel(3)
    prompt = alaw_encode((8000 * np.sin(np.arange(8000 * 5) * 2 * np.pi * 400 / 8000)).astype(np.int16))
    d = mc.play(prompt, barge_in=True)
    rig.run(0.5)
    assert mc.state == "playing" and mc.playing
    rig.rb.channel(3).dtmf("5")
    res = rig.run_until(d, limit=2.0)
    assert res == {"reason": "dtmf", "digit": "5"}
    assert not mc.playing and mc.state == "idle" and mc.digits == ""
    rig.run(0.3)
    got = heard(3)
    # B heard the prompt for well under its 5 s, then silence: from one block after the play started until the
    # digit pressed at 0.5 s was confirmed (DTMF confirmation, at most ~37 ms, cuts the prompt in that tick)
    voiced = np.flatnonzero(got != 0xD5)
    assert 0.45 * 8000 < len(voiced) < 1.0 * 8000
    assert np.all(got[-800:] == 0xD5)


def test_record_contains_what_b_sent_and_stops_on_max(rig, tmp_path):
    rng = np.random.default_rng(2)
    speech = rng.integers(0, 256, 8000 * 3, dtype=np.uint8)
    path = tmp_path / "r.wav"
    d = rig.ra.channel(9).record(str(path), max_seconds=2.0, silence_seconds=None, beep=False)
    rig.rb.channel(9).play(speech)
    res = rig.run_until(d)
    assert res["reason"] == "max" and res["path"] == str(path)
    assert res["bytes"] == 16000 and abs(res["duration"] - 2.0) < 1e-9
    audio = read_audio(str(path))
    assert audio.law == "alaw" and len(audio.data) == 16000
    L = find_offset(speech, audio.data)
    np.testing.assert_array_equal(audio.data[L:], speech[:16000 - L])
