"""ctid.media: the per-board media runtime (one batched native tick per board), channel media operations, TTS (tts.py)
and the prompt catalogue (prompts.py).

>>> rt = BoardRuntime(board, reactor)          # owns the board's 20 ms tick
>>> rt.attach(pacer)                            # or rt.start() for a hardware-paced board
>>> mc = rt.channel(5)                          # span 0 timeslot 5
>>> d = mc.play(prompt_alaw, barge_in=True)     # -> {"reason": "done"|"dtmf"|..., "digit": ...}
>>> d = mc.collect(prompts=[menu], max_digits=1, terminators="#")
>>> d = mc.record("/var/lib/ctid/rec/1.wav", max_seconds=60, silence_seconds=5)

See docs/media.md.
"""
from .audio import load_alaw, silence_alaw, tone_alaw  # noqa: F401
from .channel import EXTRA_TONES, MediaChannel, MediaError  # noqa: F401
from .runtime import BoardRuntime, Conference  # noqa: F401
from .wav import WavWriter  # noqa: F401

__all__ = ["BoardRuntime", "Conference", "MediaChannel", "MediaError", "WavWriter", "EXTRA_TONES", "load_alaw",
           "silence_alaw", "tone_alaw"]
