"""Audio files: every supported format round-trips; every bad file gets an error that names the problem."""
import struct

import numpy as np
import pytest

from ctid.dsp import g711
from ctid.dsp.wavfile import AudioFileError, read_audio, write_wav

SIG = (np.sin(np.arange(800) * 2 * np.pi * 1000 / 8000) * 8000).astype(np.int16)


@pytest.mark.parametrize("law", ["alaw", "ulaw", "linear"])
def test_round_trip(tmp_path, law):
    path = str(tmp_path / f"x-{law}.wav")
    write_wav(path, SIG, law)
    audio = read_audio(path)
    assert audio.law == law and audio.rate == 8000 and len(audio.data) == len(SIG)
    expected = {"alaw": g711.alaw_decode(g711.alaw_encode(SIG)), "ulaw": g711.ulaw_decode(g711.ulaw_encode(SIG)),
                "linear": SIG}[law]
    assert np.array_equal(audio.linear(), expected)


def test_sox_reads_our_alaw_wav(tmp_path):
    import shutil
    import subprocess

    if not shutil.which("soxi"):
        pytest.skip("sox is not installed")
    path = str(tmp_path / "a.wav")
    write_wav(path, SIG, "alaw")
    out = subprocess.run(["soxi", path], capture_output=True, text=True, check=True).stdout
    assert "8000" in out and "A-law" in out and "800 samples" in out


def _wav(tag=6, channels=1, rate=8000, bits=8, data=b"\xd5" * 100, declared=None):
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8, channels * bits // 8, bits)
    size = len(data) if declared is None else declared
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    "blob, message",
    [
        (_wav(rate=16000), "16000 Hz; expected 8000"),
        (_wav(channels=2), "2 channels"),
        (_wav(tag=3), "format tag 3"),
        (_wav(bits=16, tag=6), "16 bits per sample"),
        (_wav(declared=10000), "truncated"),
        (_wav()[:30], "truncated: the 'fmt' chunk"),
        (_wav()[:36], "no data chunk"),
        (b"RIFF\x04\x00\x00\x00AVI ", "not a WAVE file"),
        (b"not audio at all", "not a WAV file"),
    ],
)
def test_bad_files_are_named(tmp_path, blob, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(blob)
    with pytest.raises(AudioFileError, match=message):
        read_audio(str(path))


def test_missing_file():
    with pytest.raises(AudioFileError, match="cannot read"):
        read_audio("/nonexistent/x.wav")


def test_raw_alaw_and_law_conflict(tmp_path):
    raw = tmp_path / "x.al"
    raw.write_bytes(bytes(g711.alaw_encode(SIG)))
    audio = read_audio(str(raw))
    assert audio.law == "alaw" and np.array_equal(audio.linear(), g711.alaw_decode(g711.alaw_encode(SIG)))
    wav = str(tmp_path / "y.wav")
    write_wav(wav, SIG, "alaw")
    with pytest.raises(AudioFileError, match="header says alaw"):
        read_audio(wav, "ulaw")
    odd = tmp_path / "odd.raw"
    odd.write_bytes(b"\x00\x01\x02")
    with pytest.raises(AudioFileError, match="even number"):
        read_audio(str(odd), "linear")
