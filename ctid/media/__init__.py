"""Media for ctid channels: the per-board runtime, TTS and the prompt catalogue."""
