"""Whether libespeak-ng can render here (espeakng-loader's, or the system's): the TTS tests skip without it,
unless CTID_REQUIRE_PEERS=1 (CI), where they fail instead."""
from __future__ import annotations

import os

import pytest

from ctid.media.tts import EspeakLib, TtsError


def _missing() -> str | None:
    try:
        EspeakLib(timeout=30).version()
    except TtsError as e:
        return str(e)
    return None


MISSING = _missing()
need_espeak = pytest.mark.skipif(MISSING is not None and not os.environ.get("CTID_REQUIRE_PEERS"),
                                 reason=f"libespeak-ng not usable ({MISSING}): pip install espeakng-loader")
