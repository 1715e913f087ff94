"""Prompt parts to A-law: files in the three WAV formats and raw A-law, tones, silence; bad input named."""
import numpy as np
import pytest

from ctid.dsp.g711 import alaw_decode, alaw_encode
from ctid.dsp.wavfile import write_wav
from ctid.media import MediaError, load_alaw, silence_alaw, tone_alaw
from ctid.media.wav import WavWriter


def test_load_alaw_from_each_format(tmp_path):
    rng = np.random.default_rng(0)
    pcm = np.clip(rng.normal(0, 3000, 4000), -32768, 32767).astype(np.int16)
    expected = alaw_encode(pcm)
    for law in ("alaw", "linear"):
        p = tmp_path / f"{law}.wav"
        write_wav(str(p), pcm, law)
        np.testing.assert_array_equal(load_alaw(p), expected)
    p = tmp_path / "u.wav"
    write_wav(str(p), pcm, "ulaw")
    u = load_alaw(p)       # mu-law -> linear -> A-law: within a quantisation step of the direct encoding
    ref = alaw_decode(expected).astype(int)
    assert np.all(np.abs(alaw_decode(u).astype(int) - ref) <= np.abs(ref) // 16 + 16)
    raw = tmp_path / "x.al"
    raw.write_bytes(expected.tobytes())
    np.testing.assert_array_equal(load_alaw(raw), expected)
    # our own recordings read back
    w = WavWriter(str(tmp_path / "rec.wav"))
    w.write(expected[:1001])
    w.close()
    np.testing.assert_array_equal(load_alaw(tmp_path / "rec.wav"), expected[:1001])


def test_bad_files_and_values(tmp_path):
    with pytest.raises(MediaError, match="cannot read"):
        load_alaw(tmp_path / "missing.wav")
    bad = tmp_path / "b.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    with pytest.raises(MediaError, match="b.wav"):
        load_alaw(bad)
    with pytest.raises(MediaError, match="silence"):
        silence_alaw(-1)
    with pytest.raises(MediaError, match="no tone"):
        tone_alaw("nope")
    with pytest.raises(MediaError, match="tone length"):
        tone_alaw("busy", float("inf"))


def test_tones_and_silence():
    assert np.all(silence_alaw(0.5) == 0xD5) and len(silence_alaw(0.5)) == 4000
    beep = alaw_decode(tone_alaw("beep")).astype(float)
    assert len(beep) == 2000
    spec = np.abs(np.fft.rfft(beep))
    assert abs(np.argmax(spec) * 8000 / len(beep) - 1000) <= 4
    busy = alaw_decode(tone_alaw("busy")).astype(float)
    assert len(busy) == 8000                       # one 0.7 s cycle, at least 1 s
    assert np.all(np.abs(busy[2800 + 10:5600 - 10]) <= 8) and np.abs(busy[:2800]).max() > 1000
