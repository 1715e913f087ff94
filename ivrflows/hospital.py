"""The hospital main menu flow (Mandarin).

``hospital_main(ctx)``: answer, welcome, then the main menu (one digit, three tries). The menu offers only the
options that work, built from ``HospitalConfig.options``:

- ``1`` appointments: the caller's card (by calling number with ``patient.lookup``, confirmed, or keyed in and
  checked with ``patient.card``), a department, one of its next free clinics (``hospital.free_clinics``);
  ``appointment.book`` books it and the confirmation number is read back;
- ``2`` hospital information: the departments (``hospital.departments``) and today's clinic doctors
  (``hospital.clinics`` {date}) read out by TTS, then back to the menu;
- ``3`` voicemail to a doctor: a department, one of its doctors (``hospital.doctors``), a message after the beep
  (``record`` with ``purpose="voicemail"``, ``#`` ends it) filed with ``voicemail.file`` {recording, doctor,
  channel};
- ``4`` complaints and suggestions: a recorded message (``record`` with ``purpose="complaint"``) filed with
  ``complaint.file`` {recording, channel} -> {tracking}; the tracking number is read back digit by digit (``*``
  repeats it), then back to the menu;
- ``0`` an agent: the ``frontdesk`` queue.

A message recorded until the caller hangs up (complaint or voicemail, at least ``min_message_seconds`` long) is
still filed with the calling number, without waiting for the answer.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer

MENU_LABELS = {
    "1": "预约挂号",
    "2": "查询科室和今日出诊医生",
    "3": "给医生留言",
    "4": "投诉和建议",
    "0": "人工服务",
}
NOT_AVAILABLE: dict[str, str] = {}     # menu keys that cannot be offered yet, with the reason (none now)
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
    "appointments_intro": {"prompt": "appointments"},
    "card_found": {"prompt": "card_found"},
    "card_found_choice": {"prompt": "card_found_choice"},
    "card_prompt": {"prompt": "card_prompt"},
    "card_unknown": {"prompt": "card_unknown"},
    "clinics_choose": {"prompt": "clinics_choose"},
    "no_free_clinics": {"prompt": "no_free_clinics"},
    "appointments_full": {"prompt": "appointments_full"},
    "appointment_taken": {"prompt": "appointment_taken"},
    "appointment_confirm": {"prompt": "appointments_confirm"},
    "appointment_number": {"prompt": "appointment_number"},
    "voicemail_department": {"prompt": "voicemail_department"},
    "voicemail_doctor": {"prompt": "voicemail_doctor"},
    "no_doctors": {"prompt": "no_doctors"},
    "voicemail_intro": {"prompt": "voicemail_intro"},
    "voicemail_thanks": {"prompt": "voicemail_thanks"},
    "voicemail_empty": {"text": "没有录到您的留言。", "voice": "zh"},
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
    options: tuple[str, ...] = ("1", "2", "3", "4", "0")     # menu keys offered, in this order
    agent_queue: str = "frontdesk"
    voice: str = "zh"
    tries: int = 3                                  # menu attempts (invalid key or no key) before giving up
    timeout: float = 5.0                            # seconds to wait for the menu key after the prompt
    record_max_seconds: float = 120.0               # a complaint
    voicemail_max_seconds: float = 60.0             # a message for a doctor
    record_silence_seconds: float = 5.0
    min_message_seconds: float = 1.0                # shorter recordings count as "no message"
    entry_timeout: float = 10.0                     # seconds for a card number (first and between digits)
    card_min_digits: int = 4
    card_max_digits: int = 16
    clinics_offered: int = 5                        # free clinics read out to choose from (at most 9)
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
        if not 1 <= self.card_min_digits <= self.card_max_digits <= 32:
            raise ValueError(f"card digits: need 1 <= card_min_digits ({self.card_min_digits}) <= card_max_digits "
                             f"({self.card_max_digits}) <= 32")
        if not 1 <= self.clinics_offered <= 9:
            raise ValueError(f"clinics_offered must be 1..9 (one key each), not {self.clinics_offered!r}")
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


def spoken_digits(number: str) -> str:
    """A number to read digit by digit: "261123001" -> "2，6，1，1，2，3，0，0，1". The pauses make the TTS say
    each digit instead of the whole number (二亿六千…); Arabic digits, because espeak-ng's Mandarin voice reads
    them as Mandarin digits while it spells the characters 二, 六, 幺 out as pinyin."""
    s = str(number)
    if not s or not s.isascii() or not s.isdigit():
        raise ValueError(f"cannot read {number!r} digit by digit: digits 0-9 only")
    return "，".join(s)


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


def _day_text(date: str, today: datetime.date | None) -> str:
    try:
        day = datetime.date.fromisoformat(str(date))
    except ValueError:
        return ""
    if today is not None and day == today:
        return "今天"
    if today is not None and day == today + datetime.timedelta(days=1):
        return "明天"
    return f"{day.month}月{day.day}日"


def clinic_label(c: Mapping, today: datetime.date | None = None, department: bool = False) -> str:
    """A clinic to say: 明天上午，王建国主任医师 (with the department: 明天上午，心内科，王建国主任医师)."""
    when = _day_text(c.get("date", ""), today) + dict(_SESSIONS).get(str(c.get("session", "")).lower(), "")
    doctor = _text_of(c.get("doctor"), "name_zh", "name") + _text_of(c.get("title_zh"))
    parts = [when] + ([_text_of(c.get("department_zh"))] if department else []) + [doctor]
    return "，".join(p for p in parts if p)


def choice_text(labels: list[str]) -> str:
    """心内科请按1，儿科请按2，重听请按星号键。 (two-digit numbers end with #)."""
    text = "，".join(f"{label}请按{n}" for n, label in enumerate(labels, 1))
    if len(labels) > 9:
        text += "，两位数的编号请按井号键结束"
    return text + "，重听请按星号键。"


class HospitalMenu:
    """The hospital main menu as a flow: ``await HospitalMenu(config)(ctx)``."""

    def __init__(self, config: HospitalConfig | None = None):
        self.config = config or HospitalConfig()
        self.prompts = {**DEFAULT_PROMPTS, **{k: dict(v) for k, v in self.config.prompts.items()}}
        self._handlers = {"1": self.appointments, "2": self.information, "3": self.voicemail, "4": self.complaint,
                          "0": self.agent}

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
    async def choose(self, ctx, intro: list[dict], labels: list[str]) -> int | None:
        """The caller picks one of ``labels`` by its number (1-based keys; ``*`` repeats): its index, or None
        after ``tries`` invalid or missing answers."""
        cfg, ch = self.config, ctx.channel
        two = len(labels) > 9
        prompts = [*intro, {"text": choice_text(labels), "voice": cfg.voice}]
        attempts = repeats = 0
        while attempts < cfg.tries:
            r = await ch.collect(prompts=prompts, min_digits=1, max_digits=2 if two else 1, timeout=cfg.timeout,
                                 inter_digit_timeout=cfg.timeout, terminators="#" if two else "", tries=1)
            if _hung_up(r):
                raise defer.CancelledError("caller hung up while choosing")
            d = (r or {}).get("digits") or ""
            if d == REPEAT_KEY and repeats < MAX_REPEATS:
                repeats += 1
                continue
            if d.isdigit() and 1 <= int(d) <= len(labels):
                return int(d) - 1
            attempts += 1
            if attempts < cfg.tries:
                await ch.play(self.p("invalid" if d else "no_input"))
        return None

    async def identify_patient(self, ctx) -> str | None:
        """The caller's card number: found by the calling number (patient.lookup) and confirmed with 1, or keyed
        in and checked (patient.card). None after ``tries`` failed attempts."""
        cfg, ch = self.config, ctx.channel
        card = None
        if ctx.calling:
            try:
                found = await self.request(ctx, "patient.lookup", number=str(ctx.calling))
                card = ((found or {}).get("patient") or {}).get("card_number")
            except DataOpError as exc:
                ctx.log.warn("patient lookup by calling number failed ({e}); asking for the card", e=exc)
        tail = re.sub(r"\D", "", str(card or ""))[-4:]
        if card and tail:
            prompts = [self.p("card_found"), {"text": spoken_digits(tail), "voice": cfg.voice},
                       self.p("card_found_choice")]
            for attempt in range(cfg.tries):
                r = await ch.collect(prompts=prompts, min_digits=1, max_digits=1, timeout=cfg.timeout,
                                     inter_digit_timeout=cfg.timeout, terminators="", tries=1)
                if _hung_up(r):
                    raise defer.CancelledError("caller hung up at the card question")
                d = (r or {}).get("digits") or ""
                if d == "1":
                    return str(card)
                if d == "2":
                    break
                if attempt + 1 < cfg.tries:
                    await ch.play(self.p("invalid" if d else "no_input"))
        for attempt in range(cfg.tries):
            r = await ch.collect(prompts=[self.p("card_prompt")], min_digits=cfg.card_min_digits,
                                 max_digits=cfg.card_max_digits, timeout=cfg.entry_timeout,
                                 inter_digit_timeout=cfg.entry_timeout, terminators="#", tries=1)
            if _hung_up(r):
                raise defer.CancelledError("caller hung up while entering the card number")
            d = (r or {}).get("digits") or ""
            if not d:
                if attempt + 1 < cfg.tries:
                    await ch.play(self.p("no_input"))
                continue
            found = await self.request(ctx, "patient.card", card=d) if d.isdigit() else {}
            if (found or {}).get("card"):
                return str(found["card"])
            ctx.log.info("unknown card number entered (attempt {n})", n=attempt + 1)
            await ch.play(self.p("card_unknown"))
        return None

    async def departments(self, ctx) -> list[Mapping]:
        """The departments to choose from (those with a code and a name), in menu order."""
        return [d for d in _items(await self.request(ctx, "hospital.departments"), "departments")
                if isinstance(d, Mapping) and d.get("code") and _text_of(d, "name_zh", "name")]

    def _file_after_hangup(self, ctx, op: str, **args) -> None:
        """The caller hung up to end a message: file it anyway (not awaited: the flow is ending, the server still
        stores it); the outcome is logged."""
        d = defer.maybeDeferred(ctx.client.request, op, **args)
        d.addCallbacks(lambda res: ctx.log.info("{op} after hang-up: {res}", op=op, res=res),
                       lambda f: ctx.log.warn("{op} after hang-up failed: {e}", op=op, e=f.value))

    async def appointments(self, ctx) -> str | None:
        """Menu 1: the caller's card, a department, one of its next free clinics; booked and read back."""
        cfg, ch = self.config, ctx.channel
        card = await self.identify_patient(ctx)
        if card is None:
            return ""
        deps = await self.departments(ctx)
        if not deps:
            await ch.play(self.p("no_departments"))
            return ""
        today = ctx.today()
        for _ in range(cfg.tries):
            i = await self.choose(ctx, [self.p("appointments_intro")], [_text_of(d, "name_zh", "name") for d in deps])
            if i is None:
                return ""
            clinics = _items(await self.request(ctx, "hospital.free_clinics", department=deps[i]["code"],
                                                limit=cfg.clinics_offered), "clinics")[:cfg.clinics_offered]
            if not clinics:
                await ch.play(self.p("no_free_clinics"))
                continue
            j = await self.choose(ctx, [self.p("clinics_choose")], [clinic_label(c, today) for c in clinics])
            if j is None:
                return ""
            try:
                booked = await self.request(ctx, "appointment.book", expect=(409,), clinic=clinics[j]["clinic"],
                                            card=card, channel=ch.id)
            except Exception as exc:
                if getattr(exc, "code", None) != 409 or ch.hungup:
                    raise
                taken = "already" in str(getattr(exc, "message", exc))
                ctx.log.info("booking refused: {e}", e=exc)
                await ch.play(self.p("appointment_taken" if taken else "appointments_full"))
                continue
            a = booked["appointment"]
            ctx.log.info("appointment {n} booked: clinic {c}", n=a["confirmation"], c=a.get("clinic"))
            details = {"text": clinic_label(a, today, department=True) + "。", "voice": cfg.voice}
            return await self.read_back(ctx, [self.p("appointment_confirm"), details], self.p("appointment_number"),
                                        str(a["confirmation"]))
        return ""

    async def voicemail(self, ctx) -> str | None:
        """Menu 3: a department, one of its doctors, then a message after the beep, filed for the doctor."""
        cfg, ch = self.config, ctx.channel
        deps = await self.departments(ctx)
        if not deps:
            await ch.play(self.p("no_departments"))
            return ""
        for _ in range(cfg.tries):
            i = await self.choose(ctx, [self.p("voicemail_department")],
                                  [_text_of(d, "name_zh", "name") for d in deps])
            if i is None:
                return ""
            docs = [d for d in _items(await self.request(ctx, "hospital.doctors", department=deps[i]["code"]),
                                      "doctors") if isinstance(d, Mapping) and d.get("id") is not None][:9]
            if not docs:
                await ch.play(self.p("no_doctors"))
                continue
            names = [_text_of(d, "name_zh", "name") + _text_of(d.get("title_zh")) for d in docs]
            j = await self.choose(ctx, [self.p("voicemail_doctor")], names)
            if j is None:
                return ""
            return await self.leave_message(ctx, docs[j], names[j])
        return ""

    async def leave_message(self, ctx, doctor: Mapping, name: str) -> str:
        cfg, ch = self.config, ctx.channel
        await ch.play({"text": f"给{name}留言。", "voice": cfg.voice}, self.p("voicemail_intro"))
        r = await ch.record(max_seconds=cfg.voicemail_max_seconds, silence_seconds=cfg.record_silence_seconds,
                            terminators="#", beep=True, purpose="voicemail")
        long_enough = float((r or {}).get("duration") or 0.0) >= cfg.min_message_seconds
        if _hung_up(r):
            if long_enough and r.get("recording") and ctx.calling:
                self._file_after_hangup(ctx, "voicemail.file", recording=r["recording"], doctor=doctor["id"],
                                        calling=str(ctx.calling))
            raise defer.CancelledError("caller hung up while recording")
        if not long_enough:
            await ch.play(self.p("voicemail_empty"))
            return ""
        filed = await self.request(ctx, "voicemail.file", recording=r["recording"], doctor=doctor["id"],
                                   channel=ch.id)
        ctx.log.info("voicemail {v} for doctor {d} filed", v=filed.get("voicemail"), d=doctor["id"])
        await ch.play(self.p("voicemail_thanks"))
        return ""

    async def information(self, ctx) -> str | None:
        deps = await self.request(ctx, "hospital.departments")
        clinics = await self.request(ctx, "hospital.clinics", date=ctx.today().isoformat())
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
            if float(r.get("duration") or 0.0) >= cfg.min_message_seconds and r.get("recording") and ctx.calling:
                self._file_after_hangup(ctx, "complaint.file", recording=r["recording"], calling=str(ctx.calling))
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
