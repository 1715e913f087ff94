"""The hospital main menu flow (Mandarin).

``hospital_main(ctx)``: answer, welcome, then the main menu (one digit, three tries). The menu offers only the
options that work, built from ``HospitalConfig.options``:

- ``2`` hospital information: the departments (``hospital.departments``) and today's clinic doctors
  (``hospital.clinics`` {date}) read out by TTS, then back to the menu;
- ``4`` complaints and suggestions: a recorded message (``record`` with ``purpose="complaint"``) filed with
  ``complaint.file`` {recording, channel} -> {tracking}; the tracking number is read back digit by digit (``*``
  repeats it), then back to the menu;
- ``0`` an agent: the ``frontdesk`` queue.

``1`` (appointments) and ``3`` (voicemail to a doctor) are not offered: the CTI protocol has no operation that books
an appointment or files a message for a doctor yet (see docs/ivr.md).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer

MENU_LABELS = {
    "2": "查询科室和今日出诊医生",
    "4": "投诉和建议",
    "0": "人工服务",
}
NOT_AVAILABLE = {
    "1": "appointments need a booking operation, which the CTI protocol does not have",
    "3": "voicemail to a doctor needs an operation that files a message for a doctor, which the CTI protocol "
         "does not have",
}
REPEAT_KEY = "*"
MAX_REPEATS = 5          # more repeats than this count as invalid keys (a stuck key cannot hold the call forever)

# Prompt names used by the flow -> the prompt played. Catalogue prompts (``{"prompt": ...}``, ctid.media.prompts:
# Mandarin TTS texts that a recorded ``<name>.wav`` replaces) wherever the catalogue has the sentence; TTS text for
# the rest. The catalogue's ``main_menu`` is not used: it offers all five options, and the menu here offers only
# those enabled. Any of these can be replaced through HospitalConfig(prompts=...).
DEFAULT_PROMPTS: dict[str, dict] = {
    "welcome": {"prompt": "welcome"},
    "invalid": {"prompt": "invalid"},
    "no_input": {"prompt": "timeout"},
    "goodbye": {"prompt": "goodbye"},
    "agent_wait": {"prompt": "agent_wait"},
    "info_intro": {"prompt": "info_intro"},
    "departments_intro": {"prompt": "departments_intro"},
    "no_departments": {"text": "暂时没有科室信息。", "voice": "zh"},
    "no_clinics": {"prompt": "no_clinics"},
    "complaint_intro": {"prompt": "complaints_intro"},
    "complaint_thanks": {"prompt": "recorded_thanks"},
    "complaint_tracking": {"prompt": "complaint_tracking"},
    "complaint_empty": {"text": "没有录到您的留言。", "voice": "zh"},
    "readback_repeat": {"prompt": "readback_repeat"},
}
_PROMPT_KINDS = ("file", "text", "prompt", "tone", "silence")


def check_prompt(name: str, prompt: Any) -> dict:
    """A prompt dict has exactly one of file/text/prompt/tone/silence (text may add a voice)."""
    if not isinstance(prompt, Mapping):
        raise ValueError(f"prompt {name!r} must be a dict like {{'prompt': 'welcome'}}, not {prompt!r}")
    kinds = [k for k in _PROMPT_KINDS if k in prompt]
    extra = set(prompt) - set(_PROMPT_KINDS) - {"voice"}
    if len(kinds) != 1 or extra or ("voice" in prompt and kinds != ["text"]):
        raise ValueError(f"prompt {name!r} = {dict(prompt)!r}: give exactly one of {', '.join(_PROMPT_KINDS)} "
                         f"(and 'voice' only with 'text')")
    return dict(prompt)


@dataclass(frozen=True)
class HospitalConfig:
    options: tuple[str, ...] = ("2", "4", "0")     # menu keys offered, in this order
    agent_queue: str = "frontdesk"
    voice: str = "zh"
    tries: int = 3                                  # menu attempts (invalid key or no key) before giving up
    timeout: float = 5.0                            # seconds to wait for the menu key after the prompt
    record_max_seconds: float = 120.0
    record_silence_seconds: float = 5.0
    min_message_seconds: float = 1.0                # shorter recordings count as "no message"
    prompts: Mapping[str, dict] = field(default_factory=dict)

    def __post_init__(self):
        opts = tuple(self.options)
        if not opts:
            raise ValueError("options: the menu needs at least one option")
        for key in opts:
            if key in NOT_AVAILABLE:
                raise ValueError(f"options: {key!r} is not available: {NOT_AVAILABLE[key]}")
            if key not in MENU_LABELS:
                raise ValueError(f"options: unknown menu key {key!r} (available: {', '.join(MENU_LABELS)})")
        if len(set(opts)) != len(opts):
            raise ValueError(f"options: duplicate key in {opts!r}")
        object.__setattr__(self, "options", opts)
        if not isinstance(self.tries, int) or self.tries < 1:
            raise ValueError(f"tries must be a positive integer, not {self.tries!r}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be positive, not {self.timeout!r}")
        if not self.agent_queue:
            raise ValueError("agent_queue must name a queue")
        for name, prompt in self.prompts.items():
            if name not in DEFAULT_PROMPTS:
                raise ValueError(f"prompts: unknown prompt name {name!r} (known: {', '.join(DEFAULT_PROMPTS)})")
            check_prompt(name, prompt)


class DataOpError(RuntimeError):
    """A data op failed unexpectedly. Raised instead of the op's CtiError so that a 404 (no such recording,
    clinic...) is not taken by the runner for the caller's channel being gone: the runner apologises and
    transfers the caller to an agent."""

    def __init__(self, op: str, error: Exception):
        super().__init__(f"data op {op} failed: {error}")
        self.op, self.error = op, error


def _hung_up(result: Any) -> bool:
    return isinstance(result, Mapping) and result.get("reason") == "hangup"


def _text_of(value: Any, *keys: str) -> str:
    """A display name from a string or a dict (first of ``keys`` present)."""
    if isinstance(value, Mapping):
        for k in keys:
            if value.get(k):
                return str(value[k])
        return ""
    return "" if value is None else str(value)


_CJK = re.compile(r"[\u4e00-\u9fff]")
_ORDINAL_FLOOR = re.compile(r"\b(\d+)(?:st|nd|rd|th)?\s+floor\b", re.I)


def _floor_text(floor: Any) -> str:
    """A floor to speak in Mandarin: Chinese text as is, "3" or "3rd floor" -> 3楼, "ground floor" -> 1楼;
    anything else (English the Mandarin voice would mangle) is left out."""
    if floor is None or floor == "":
        return ""
    s = str(floor).strip()
    if _CJK.search(s):
        return s
    if s.isdigit():
        return f"{s}楼"
    m = _ORDINAL_FLOOR.search(s)
    if m:
        return f"{m.group(1)}楼"
    if re.search(r"\bground floor\b", s, re.I):
        return "1楼"
    return ""


def _items(result: Any, key: str) -> list:
    if isinstance(result, Mapping):
        result = result.get(key, [])
    if not isinstance(result, list):
        raise ValueError(f"{key}: expected a list, got {type(result).__name__}")
    return result


SPOKEN_DIGITS = dict(zip("0123456789", "零幺二三四五六七八九"))   # 1 as 幺, as numbers are read on the phone


def spoken_digits(number: str) -> str:
    """A number to read digit by digit in Mandarin: "261123001" -> "二，六，幺，幺，二，三，零，零，幺"."""
    s = str(number)
    if not s or not all(ch in SPOKEN_DIGITS for ch in s):
        raise ValueError(f"cannot read {number!r} digit by digit: digits 0-9 only")
    return "，".join(SPOKEN_DIGITS[ch] for ch in s)


def departments_text(result: Any) -> str:
    """``hospital.departments`` result -> the list to follow departments_intro: 心内科，3楼；儿科，2楼。
    Empty when there is none."""
    parts = []
    for dep in _items(result, "departments"):
        name = _text_of(dep, "name_zh", "name")
        if not name:
            continue
        floor = _floor_text(dep.get("floor")) if isinstance(dep, Mapping) else ""
        parts.append(f"{name}，{floor}" if floor else name)
    return "；".join(parts) + "。" if parts else ""


_SESSIONS = (("am", "上午"), ("pm", "下午"))


def _dept_name(c: Mapping) -> str:
    dep = c.get("department")
    return (_text_of(c.get("department_zh")) or _text_of(dep, "name_zh", "name") if isinstance(dep, Mapping)
            else _text_of(c.get("department_zh")) or _text_of(dep))


def clinics_text(result: Any) -> str:
    """``hospital.clinics`` result -> today's clinic doctors by session, then department:
    今天上午出诊：心内科，王建国主任医师、李秀英副主任医师；儿科，张丽主任医师。 Empty when there is none."""
    by_session: dict[str, dict[str, list[str]]] = {}
    for c in _items(result, "clinics"):
        if not isinstance(c, Mapping):
            continue
        doc = c.get("doctor")
        name = _text_of(doc, "name_zh", "name")
        if not name:
            continue
        title = _text_of(c.get("title_zh")) or (_text_of(doc, "title_zh", "title") if isinstance(doc, Mapping)
                                                 else "")
        if not title and _CJK.search(_text_of(c.get("title"))):
            title = _text_of(c.get("title"))
        depts = by_session.setdefault(str(c.get("session", "")).lower(), {})
        depts.setdefault(_dept_name(c), []).append(name + title)
    if not by_session:
        return ""

    def session_text(depts: dict[str, list[str]]) -> str:
        return "；".join(f"{d}，{'、'.join(docs)}" if d else "、".join(docs) for d, docs in depts.items())

    sentences = []
    for key, label in _SESSIONS:
        if by_session.get(key):
            sentences.append(f"今天{label}出诊：" + session_text(by_session.pop(key)) + "。")
    for depts in by_session.values():
        sentences.append("今天出诊的还有：" + session_text(depts) + "。")
    return "".join(sentences)


class HospitalMenu:
    """The hospital main menu as a flow: ``await HospitalMenu(config)(ctx)``."""

    def __init__(self, config: HospitalConfig | None = None):
        self.config = config or HospitalConfig()
        self.prompts = {**DEFAULT_PROMPTS, **{k: dict(v) for k, v in self.config.prompts.items()}}
        self._handlers = {"2": self.information, "4": self.complaint, "0": self.agent}

    def p(self, name: str) -> dict:
        return self.prompts[name]

    async def request(self, ctx, op: str, *, expect: tuple[int, ...] = (), **args):
        """A data op; errors with a code in ``expect`` are raised as they are (the flow handles them), others
        as DataOpError unless the channel is gone."""
        try:
            return await ctx.client.request(op, **args)
        except defer.CancelledError:
            raise
        except Exception as exc:
            if getattr(exc, "code", None) in expect or ctx.channel.hungup:
                raise
            raise DataOpError(op, exc) from exc

    def menu_text(self) -> str:
        """The menu sentence, built from the options actually enabled."""
        parts = [f"{MENU_LABELS[k]}请按{k}" for k in self.config.options]
        return "，".join(parts) + "，重听请按星号键。"

    def menu_prompt(self) -> dict:
        return {"text": self.menu_text(), "voice": self.config.voice}

    async def __call__(self, ctx) -> None:
        ch = ctx.channel
        await ch.answer()
        r = await ch.play(self.p("welcome"), barge_in=True)
        if _hung_up(r):
            raise defer.CancelledError("caller hung up during the welcome")
        pending = r.get("digit") if isinstance(r, Mapping) and r.get("reason") == "dtmf" else None
        while True:
            choice = await self.menu(ctx, pending)
            if choice is None:
                return
            ctx.log.info("menu choice {choice}", choice=choice)
            pending = await self._handlers[choice](ctx)
            if pending is None:
                return
            pending = pending or None

    async def menu(self, ctx, first: str | None = None) -> str | None:
        """Collect one menu key: a valid choice, or None once the call has been ended/transferred."""
        cfg, ch = self.config, ctx.channel
        attempts, pressed, repeats = 0, False, 0
        while attempts < cfg.tries:
            if first:
                digits, first = first, None
            else:
                r = await ch.collect(prompts=[self.menu_prompt()], min_digits=1, max_digits=1, timeout=cfg.timeout,
                                     inter_digit_timeout=cfg.timeout, terminators="", tries=1)
                if _hung_up(r):
                    raise defer.CancelledError("caller hung up in the menu")
                digits = (r or {}).get("digits") or ""
            if digits == REPEAT_KEY and repeats < MAX_REPEATS:
                repeats += 1
                continue
            if digits in cfg.options:
                return digits
            attempts += 1
            if digits:
                pressed = True
                ctx.log.info("invalid menu key {d!r} (attempt {n})", d=digits, n=attempts)
                if attempts < cfg.tries:
                    await ch.play(self.p("invalid"))
            else:
                ctx.log.info("no menu key (attempt {n})", n=attempts)
                if attempts < cfg.tries:
                    await ch.play(self.p("no_input"))
        if pressed:
            # The caller is there but could not use the menu: a person helps.
            ctx.log.info("menu tries exhausted after invalid keys: to {q}", q=cfg.agent_queue)
            await self.agent(ctx)
        else:
            ctx.log.info("no key pressed in {n} tries: goodbye", n=cfg.tries)
            await ch.play(self.p("goodbye"))
            await ch.hangup()
        return None

    # --- menu options: each returns None (call ended or handed over), "" (back to the menu) or a digit the
    # --- caller pressed to interrupt, used as the next menu choice.
    async def information(self, ctx) -> str | None:
        deps = await ctx.client.request("hospital.departments")
        clinics = await ctx.client.request("hospital.clinics", date=ctx.today().isoformat())
        voice = self.config.voice
        deps_text, clinics_said = departments_text(deps), clinics_text(clinics)
        prompts = [self.p("info_intro")]
        prompts += [self.p("departments_intro"), {"text": deps_text, "voice": voice}] if deps_text \
            else [self.p("no_departments")]
        prompts.append({"text": clinics_said, "voice": voice} if clinics_said else self.p("no_clinics"))
        r = await ctx.channel.play(*prompts, barge_in=True)
        if _hung_up(r):
            raise defer.CancelledError("caller hung up during the information")
        if isinstance(r, Mapping) and r.get("reason") == "dtmf" and r.get("digit"):
            return str(r["digit"])
        return ""

    async def complaint(self, ctx) -> str | None:
        cfg, ch = self.config, ctx.channel
        await ch.play(self.p("complaint_intro"))
        r = await ch.record(max_seconds=cfg.record_max_seconds, silence_seconds=cfg.record_silence_seconds,
                            terminators="#", beep=True, purpose="complaint")
        if _hung_up(r):
            ctx.log.info("complaint recorded until hang-up: {rec}", rec=(r or {}).get("recording"))
            raise defer.CancelledError("caller hung up while recording")
        duration = float((r or {}).get("duration") or 0.0)
        if duration < cfg.min_message_seconds:
            await ch.play(self.p("complaint_empty"))
            return ""
        filed = await self.request(ctx, "complaint.file", recording=r["recording"], channel=ch.id)
        tracking = str(filed["tracking"])
        ctx.log.info("complaint {t} filed: {rec} ({s:.1f} s)", t=tracking, rec=r.get("recording"), s=duration)
        return await self.read_back(ctx, [self.p("complaint_thanks")], self.p("complaint_tracking"), tracking)

    async def read_back(self, ctx, first: list[dict], intro: dict, number: str) -> str:
        """Read ``number`` digit by digit after ``intro`` (``first`` before it, once); ``*`` repeats it (at most
        MAX_REPEATS times), any other key or none goes back to the menu (a menu key is taken as the choice)."""
        cfg, ch = self.config, ctx.channel
        said = {"text": spoken_digits(number), "voice": cfg.voice}
        prompts = [*first, intro, said, self.p("readback_repeat")]
        for _ in range(MAX_REPEATS + 1):
            r = await ch.collect(prompts=prompts, min_digits=1, max_digits=1, timeout=cfg.timeout,
                                 inter_digit_timeout=cfg.timeout, terminators="", tries=1)
            if _hung_up(r):
                raise defer.CancelledError("caller hung up during the read-back")
            digit = (r or {}).get("digits") or ""
            if digit != REPEAT_KEY:
                return digit if digit in cfg.options else ""
            prompts = [intro, said, self.p("readback_repeat")]
        return ""

    async def agent(self, ctx) -> None:
        ch = ctx.channel
        await ch.play(self.p("agent_wait"))
        await ch.transfer(queue=self.config.agent_queue)
        return None


def make_hospital_main(config: HospitalConfig | None = None):
    """A ``hospital_main``-style flow with its own configuration (e.g. ``options=("2", "0")``)."""
    menu = HospitalMenu(config)

    async def hospital_main(ctx):
        await menu(ctx)

    hospital_main.menu = menu
    return hospital_main


hospital_main = make_hospital_main()
