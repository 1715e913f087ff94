"""The prompt catalogue: named prompts with Mandarin texts, rendered by TTS unless a recording replaces them.

A recorded file ``<dir>/<name>.wav`` (8 kHz mono; A-law, mu-law or 16-bit PCM) is played instead of the TTS
rendering of ``name``; recordings with names not in the text table are prompts too. Names are lower-case
letters, digits and ``_`` (they become file names).
"""
from __future__ import annotations

import os
import re
import threading

import numpy as np

from ctid.dsp import g711
from ctid.dsp.wavfile import AudioFileError, read_audio

from .tts import Tts, TtsError

# The hospital menu (issue 5): 1 appointments, 2 hospital information, 3 voicemail to a doctor, 4 complaints,
# 0 an agent. A flow that offers fewer options passes its own texts (PromptCatalogue(texts=...)).
PROMPTS: dict[str, str] = {
    "welcome": "您好，欢迎致电人民医院。",
    "main_menu": "预约挂号请按1，医院信息请按2，给医生留言请按3，投诉建议请按4，人工服务请按0。",
    "appointments": "预约挂号。请选择科室。",
    "appointments_confirm": "您的预约已成功，请按时就诊。",
    "appointments_full": "抱歉，该门诊号源已满，请选择其他时间。",
    "appointment_taken": "您已经预约过这个门诊，请选择其他时间。",
    "appointment_number": "您的预约号是：",
    "card_found": "已根据您的来电号码找到您的就诊卡，卡号尾号是：",
    "card_found_choice": "使用这张卡请按1，输入其他就诊卡号请按2。",
    "card_prompt": "请输入您的就诊卡号码，以井号键结束。",
    "card_unknown": "没有找到这个就诊卡号。",
    "clinics_choose": "可以预约的门诊有：",
    "no_free_clinics": "抱歉，该科室近期没有可以预约的号源。",
    "info_intro": "医院信息。本院门诊时间为每天上午八点至十二点，下午一点半至五点半，急诊二十四小时开放。",
    "departments_intro": "本院开设以下科室：",
    "clinics_intro": "今天出诊的医生有：",
    "no_clinics": "今天没有出诊的医生。",
    "voicemail_intro": "请在提示音后留言，留言完毕请按井号键。",
    "voicemail_department": "给医生留言。请选择科室。",
    "voicemail_doctor": "请选择医生：",
    "no_doctors": "抱歉，该科室暂时没有可以留言的医生。",
    "voicemail_thanks": "您的留言已经转交给医生，谢谢。",
    "complaints_intro": "请在提示音后说出您的意见或建议，完毕后请按井号键。",
    "recorded_thanks": "您的留言已经记录，谢谢。",
    "complaint_tracking": "您的投诉编号是：",
    "readback_repeat": "重听请按星号键，返回主菜单请按井号键。",
    "agent_wait": "正在为您转接人工服务，请稍候。",
    "agent_busy": "坐席正忙，请继续等待。",
    "apology": "抱歉，系统暂时无法处理您的请求，正在为您转接人工服务。",
    "invalid": "输入有误，请重新输入。",
    "timeout": "您没有输入，请重新选择。",
    "goodbye": "感谢您的来电，再见。",
}

_NAME = re.compile(r"^[a-z0-9_]{1,64}$")


class PromptError(Exception):
    """An unknown prompt, or a recorded file that cannot be played; the message names it and says why."""


class PromptCatalogue:
    """Named prompts: :meth:`render` gives 8 kHz A-law, from ``<dir>/<name>.wav`` when present, else TTS."""

    def __init__(self, directory: str | None, tts: Tts, *, texts: dict[str, str] | None = None, voice: str = "zh"):
        self.directory = os.fspath(directory) if directory is not None else None
        self.tts = tts
        self.voice = voice
        self.texts = dict(PROMPTS if texts is None else texts)
        for name in self.texts:
            self._check_name(name)
        self._recorded: dict[str, tuple[tuple[int, int], np.ndarray]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _check_name(name) -> str:
        if not isinstance(name, str) or not _NAME.match(name):
            raise PromptError(f"bad prompt name {name!r}: lower-case letters, digits and '_'")
        return name

    def recording_path(self, name: str) -> str | None:
        if self.directory is None:
            return None
        return os.path.join(self.directory, self._check_name(name) + ".wav")

    def _recorded_names(self) -> set[str]:
        if self.directory is None or not os.path.isdir(self.directory):
            return set()
        return {f[:-4] for f in os.listdir(self.directory) if f.endswith(".wav") and _NAME.match(f[:-4])}

    def text(self, name: str) -> str | None:
        return self.texts.get(name)

    def list(self) -> list[dict]:
        """Every prompt: name, text (None for recording-only prompts), source ('recorded' or 'tts'), file."""
        recorded = self._recorded_names()
        out = []
        for name in sorted(set(self.texts) | recorded):
            rec = name in recorded
            out.append({"name": name, "text": self.texts.get(name), "source": "recorded" if rec else "tts",
                        "file": self.recording_path(name) if rec else None})
        return out

    def render(self, name: str) -> np.ndarray:
        """The prompt as 8 kHz A-law codes (uint8)."""
        self._check_name(name)
        path = self.recording_path(name)
        if path is not None:
            try:
                st = os.stat(path)
            except FileNotFoundError:
                st = None
            except OSError as e:
                raise PromptError(f"prompt {name!r}: recorded file {path}: {e.strerror or e}") from None
            if st is not None:
                return self._load_recording(name, path, (st.st_mtime_ns, st.st_size))
        text = self.texts.get(name)
        if text is None:
            known = ", ".join(sorted(set(self.texts) | self._recorded_names()))
            raise PromptError(f"unknown prompt {name!r}; known prompts: {known}")
        try:
            return self.tts.render(text, self.voice)
        except TtsError as e:
            raise PromptError(f"prompt {name!r}: {e}") from None

    def render_async(self, name: str):
        """:meth:`render` in a thread pool (via the Tts' reactor and pool); a Deferred fires with the A-law array."""
        from twisted.internet.threads import deferToThreadPool

        reactor = self.tts._reactor
        if reactor is None:
            from twisted.internet import reactor
        pool = self.tts._threadpool if self.tts._threadpool is not None else reactor.getThreadPool()
        return deferToThreadPool(reactor, pool, self.render, name)

    def prerender(self) -> int:
        """Render every TTS prompt into the cache (at start-up, in a thread); returns how many were rendered."""
        recorded = self._recorded_names()
        n = 0
        for name in self.texts:
            if name not in recorded:
                self.render(name)
                n += 1
        return n

    def _load_recording(self, name: str, path: str, stamp: tuple[int, int]) -> np.ndarray:
        with self._lock:
            cached = self._recorded.get(name)
            if cached is not None and cached[0] == stamp:
                return cached[1].copy()
        try:
            audio = read_audio(path)
        except AudioFileError as e:
            raise PromptError(f"prompt {name!r}: recorded file unusable: {e}") from None
        if audio.law == "alaw":
            codes = audio.data.astype(np.uint8)
        else:
            codes = g711.alaw_encode(audio.linear())
        if len(codes) == 0:
            raise PromptError(f"prompt {name!r}: recorded file {path} has no audio")
        with self._lock:
            self._recorded[name] = (stamp, codes)
        return codes.copy()
