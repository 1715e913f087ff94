"""The runtime on an analogue port: a telephone on an FXS port of a hwsim board hears the prompt and its
dialled digits are collected; recording what the telephone sends."""
import numpy as np
import pytest
from twisted.internet import task

from ctid.drivers import Pacer, open_board
from ctid.drivers.hwsim import World
from ctid.dsp.g711 import alaw_decode, alaw_encode
from ctid.dsp.wavfile import read_audio
from ctid.media import BoardRuntime


@pytest.fixture
def fxs():
    world = World(seed=2)
    board = open_board("hwsim", 0, world=world, spans=0, ports=["fxs"])
    clock = task.Clock()
    pacer = Pacer(world, clock=clock)
    rt = BoardRuntime(board, clock)
    rt.attach(pacer)
    pacer.start()
    phone = world.phone(0, 0)
    yield world, board, clock, rt, phone
    rt.close()
    pacer.stop()
    world.close()


def run(clock, seconds):
    for _ in range(int(round(seconds / 0.02))):
        clock.advance(0.02)


def test_phone_hears_prompt_and_its_digits_are_collected(fxs):
    world, board, clock, rt, phone = fxs
    port = board.ports[0].number
    phone.hook(True)
    run(clock, 0.2)
    phone.listen()                                     # drop what came before
    mc = rt.channel(port)
    t = np.arange(8000)
    prompt = alaw_encode((5000 * np.sin(2 * np.pi * 440 * t / 8000) * np.hanning(8000)).astype(np.int16))
    out = []
    mc.play(prompt).addCallback(out.append)
    run(clock, 1.3)
    assert out == [{"reason": "done", "digit": None}]
    heard = phone.listen().astype(float)
    ref = alaw_decode(prompt).astype(float)
    # the line carries it (whatever its gain): it correlates with the prompt at one lag
    c = np.correlate(heard, ref, mode="valid") / (np.linalg.norm(ref) * np.linalg.norm(heard[:len(ref)]) + 1e-9)
    assert len(heard) >= len(ref) and c.max() > 0.9
    res = []
    mc.collect(max_digits=3, timeout=3).addCallback(res.append)
    phone.dial("409")
    run(clock, 1.5)
    assert res == [{"digits": "409", "reason": "max", "tries": 1, "valid": True}]


def test_record_what_the_phone_sends(fxs, tmp_path):
    world, board, clock, rt, phone = fxs
    port = board.ports[0].number
    phone.hook(True)
    run(clock, 0.2)
    rng = np.random.default_rng(8)
    speech = np.clip(rng.normal(0, 4000, 8000), -32768, 32767).astype(np.int16)
    res = []
    rt.channel(port).record(str(tmp_path / "p.wav"), max_seconds=5, silence_seconds=0.6,
                            beep=False).addCallback(res.append)
    phone.play(speech)
    run(clock, 2.5)
    assert res and res[0]["reason"] == "silence" and 1.5 <= res[0]["duration"] <= 1.8
    got = alaw_decode(read_audio(str(tmp_path / "p.wav")).data).astype(float)
    c = np.correlate(got, speech.astype(float), mode="valid")
    c /= np.linalg.norm(speech) * np.sqrt(np.convolve(got ** 2, np.ones(len(speech)), mode="valid")) + 1e-9
    assert c.max() > 0.9
