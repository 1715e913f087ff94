"""The daemon's configuration: TOML (``tomllib``) into dataclasses, validated.

``load_config(path)`` reads a file, ``parse_config(text)`` a string, ``default_config()`` is the embedded
default (hwsim board 0 with an SS7 span, a China No.1 span and four analogue ports, SQLite in ``./ctid-data``,
the demo routes and queues). Every error is a :class:`ConfigError` whose message names the key and the bad
value, e.g. ``trunks[1].span: 7 is not a span of board 0 (2 spans)``. See docs/configuration.md for every key.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field

VOICE_TIMESLOTS = tuple(t for t in range(1, 32) if t != 16)
SIGNALLINGS = ("ss7", "china1", "analog")
PORT_KINDS = ("fxs", "fxo")


class ConfigError(ValueError):
    """A configuration error; the message names the key and the value."""


# ------------------------------------------------------------------------------------------------ dataclasses

@dataclass
class DaemonConfig:
    data_dir: str = "./ctid-data"
    database: str = "sqlite:///{data_dir}/ctid.db"
    log_level: str = "info"
    # scheduling of the daemon's process: normal, high (nice -10) or realtime (SCHED_RR 10); ctid.priority
    priority: str = "normal"
    recordings_dir: str = "{data_dir}/recordings"
    # where file prompts may come from (ctid.core.prompts.MediaDirs); default: tts.prompts_dir, {data_dir}/media
    media_dirs: list[str] = field(default_factory=list)


@dataclass
class CtiConfig:
    listen: list[str] = field(default_factory=lambda: ["tcp:7000:interface=127.0.0.1"])
    max_queue: int = 1000


@dataclass
class BoardConfig:
    driver: str = "hwsim"
    id: int = 0
    spans: int = 0
    ports: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)


@dataclass
class TrunkConfig:
    name: str
    board: int
    signalling: str                       # ss7 | china1 | analog
    span: int | None = None               # E1 trunks
    # SS7
    variant: str = "itu"                  # itu | china (point code format and ISUP variant)
    opc: int = 0
    dpc: int = 0
    cics: list[int] = field(default_factory=list)
    slc: int = 0
    emergency_proving: bool = False       # Q.703 emergency proving (T4e) instead of normal (T4n)
    # China No.1
    timeslots: list[int] = field(default_factory=list)
    direction: str = "both"               # incoming | outgoing | both
    incoming: list[int] = field(default_factory=list)    # timeslots in the incoming (backward) role
    outgoing: list[int] = field(default_factory=list)    # timeslots in the outgoing (forward) role
    number_length: int | None = None      # called-number length (China No.1 incoming; None: end by timeout)
    number_lengths: dict = field(default_factory=dict)   # China No.1: {prefix: length}; exact routes added
    calling: str = ""                     # default calling number for outgoing calls
    dual_seizure: str = "back_off"        # China No.1 both-way timeslots: back_off | keep | yield
    # analogue
    ports: list[int] = field(default_factory=list)
    rings: int = 2                        # FXO: answerable after this many rings (caller ID comes after ring 1)
    number: str = ""                      # FXO: the lines' own number, the called number of calls arriving on them

    def channel_numbers(self) -> list[int]:
        """The channel numbers n of ``"<trunk>/<n>"`` (CIC, timeslot or port)."""
        if self.signalling == "ss7":
            return list(self.cics)
        if self.signalling == "china1":
            return list(self.timeslots)
        return list(self.ports)


@dataclass
class RouteConfig:
    called: str
    flow: str

    def matches(self, number: str | None) -> bool:
        number = number or ""
        if self.called.endswith("*"):
            return number.startswith(self.called[:-1])
        return number == self.called


@dataclass
class QueueConfig:
    name: str
    agents: list[str] = field(default_factory=list)
    offer_timeout: float = 20.0          # seconds an agent's phone rings before the call goes to the next agent
    wrap_up: float = 10.0                # seconds of wrap-up after a call
    hold: dict = field(default_factory=lambda: {"tone": "ringback"})   # the prompt looped while waiting


@dataclass
class IvrConfig:
    mode: str = "in-daemon"               # in-daemon | external


@dataclass
class TtsConfig:
    voice_zh: str = "zh"
    voice_en: str = "en"
    cache_dir: str = "{data_dir}/tts"
    prompts_dir: str = "{data_dir}/prompts"
    engine: str = "auto"                  # auto | pyttsx3 | espeak-ng | /path/to/espeak-ng (ctid.media.tts)


@dataclass
class UserConfig:
    name: str
    password: str
    roles: list[str] = field(default_factory=list)
    agent: bool = False


@dataclass
class Config:
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    cti: CtiConfig = field(default_factory=CtiConfig)
    boards: list[BoardConfig] = field(default_factory=list)
    trunks: list[TrunkConfig] = field(default_factory=list)
    routes: list[RouteConfig] = field(default_factory=list)
    queues: list[QueueConfig] = field(default_factory=list)
    ivr: IvrConfig = field(default_factory=IvrConfig)
    tts: TtsConfig = field(default_factory=TtsConfig)
    users: list[UserConfig] = field(default_factory=list)
    source: str = "<default>"

    def board(self, board_id: int) -> BoardConfig:
        for b in self.boards:
            if b.id == board_id:
                return b
        raise KeyError(board_id)

    def trunk(self, name: str) -> TrunkConfig:
        for t in self.trunks:
            if t.name == name:
                return t
        raise KeyError(name)

    def route(self, called: str | None) -> RouteConfig | None:
        """The first route whose ``called`` matches (exact routes before prefix routes)."""
        exact = [r for r in self.routes if not r.called.endswith("*")]
        prefix = sorted((r for r in self.routes if r.called.endswith("*")), key=lambda r: -len(r.called))
        for r in exact + prefix:
            if r.matches(called):
                return r
        return None

    def span_signalling(self, board_id: int) -> dict[int, str]:
        """What TS16 of each span of a board carries, from its trunks: ``{span: "ccs"|"cas"}``."""
        out = {}
        for t in self.trunks:
            if t.board == board_id and t.span is not None:
                out[t.span] = "ccs" if t.signalling == "ss7" else "cas"
        return out


# ------------------------------------------------------------------------------------------------ helpers

def parse_ranges(text, key: str, allowed=None) -> list[int]:
    """``"1-15,17-31"`` (or a list of ints / ranges) -> sorted unique ints; ``allowed`` checks membership."""
    items: list[int] = []
    if isinstance(text, int) and not isinstance(text, bool):
        parts = [text]
    elif isinstance(text, str):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        if not parts:
            raise ConfigError(f"{key}: {text!r} is empty; expected ranges like \"1-15,17-31\"")
    elif isinstance(text, list):
        parts = text
    else:
        raise ConfigError(f"{key}: {text!r} is not a range string like \"1-15,17-31\" or a list of numbers")
    for p in parts:
        if isinstance(p, bool):
            raise ConfigError(f"{key}: {p!r} is not a number")
        if isinstance(p, int):
            items.append(p)
            continue
        if not isinstance(p, str):
            raise ConfigError(f"{key}: {p!r} is not a number or a range")
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", p)
        if not m:
            raise ConfigError(f"{key}: {p!r} is not a number or a range like \"1-15\"")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise ConfigError(f"{key}: range {p!r} runs backwards")
        items.extend(range(lo, hi + 1))
    out = sorted(set(items))
    if len(out) != len(items):
        raise ConfigError(f"{key}: {text!r} names a number twice")
    if allowed is not None:
        for n in out:
            if n not in allowed:
                raise ConfigError(f"{key}: {n} is not allowed here ({describe(allowed)})")
    return out


def describe(allowed) -> str:
    if tuple(allowed) == VOICE_TIMESLOTS:
        return "bearer timeslots are 1-15 and 17-31"
    vals = sorted(allowed)
    return f"allowed: {format_ranges(vals)}" if vals else "nothing allowed"


def format_ranges(nums) -> str:
    nums = sorted(nums)
    out, i = [], 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ",".join(out)


class _Section:
    """Typed access to one TOML table with unknown-key detection."""

    def __init__(self, data, key: str):
        if not isinstance(data, dict):
            raise ConfigError(f"{key}: expected a table, not {data!r}")
        self.data, self.key, self.used = data, key, set()

    def k(self, name: str) -> str:
        return f"{self.key}.{name}" if self.key else name

    def get(self, name, default, typ, check=None):
        self.used.add(name)
        if name not in self.data:
            return default
        v = self.data[name]
        ok = isinstance(v, typ) and not (isinstance(v, bool) and typ is not bool and bool not in _tuple(typ))
        if not ok:
            raise ConfigError(f"{self.k(name)}: {v!r} is not {_typename(typ)}")
        if check is not None:
            msg = check(v)
            if msg:
                raise ConfigError(f"{self.k(name)}: {v!r} {msg}")
        return v

    def need(self, name, typ, check=None):
        if name not in self.data:
            raise ConfigError(f"{self.k(name)}: missing (required)")
        return self.get(name, None, typ, check)

    def raw(self, name, default=None):
        self.used.add(name)
        return self.data.get(name, default)

    def done(self, allowed_extra=()):
        unknown = set(self.data) - self.used - set(allowed_extra)
        if unknown:
            name = sorted(unknown)[0]
            raise ConfigError(f"{self.k(name)}: unknown key (value {self.data[name]!r})")


def _tuple(t):
    return t if isinstance(t, tuple) else (t,)


def _typename(t) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
             dict: "a table"}
    return " or ".join(names.get(x, x.__name__) for x in _tuple(t))


def _one_of(*values):
    return lambda v: None if v in values else f"is not one of {', '.join(map(repr, values))}"


def _tts_engine(v):
    """auto, pyttsx3, espeak-ng, or the absolute path of an espeak-ng program (ctid.media.tts.is_program_path)."""
    if v in ("auto", "pyttsx3", "espeak-ng"):
        return None
    if os.path.isabs(v) and os.path.basename(v).startswith("espeak"):
        return None
    return "is not one of 'auto', 'pyttsx3', 'espeak-ng' or the absolute path of an espeak-ng program"


def _positive(v):
    return None if v > 0 else "must be greater than 0"


def _nonneg(v):
    return None if v >= 0 else "must not be negative"


def _name(v):
    return None if re.fullmatch(r"[A-Za-z0-9_.-]+", v) else "must be letters, digits, '_', '.' or '-'"


def _digits(v):
    return None if re.fullmatch(r"[0-9]+\*?|\*", v) else "must be digits, optionally ending in '*' (a prefix)"


# ------------------------------------------------------------------------------------------------ parsing

def parse_config(text: str, source: str = "<string>") -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return build_config(data, source)


def load_config(path: str | None) -> Config:
    """Read ``path`` (None: the embedded default)."""
    if path is None:
        return default_config()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path}: not UTF-8 ({exc})") from None
    return parse_config(text, path)


def build_config(data: dict, source: str = "<dict>") -> Config:
    top = _Section(data, "")
    cfg = Config(source=source)

    d = _Section(top.get("daemon", {}, dict), "daemon")
    cfg.daemon = DaemonConfig(
        data_dir=d.get("data_dir", DaemonConfig.data_dir, str, lambda v: None if v else "must not be empty"),
        database=d.get("database", DaemonConfig.database, str,
                       lambda v: None if "://" in v or v.startswith("sqlite:") else "is not a database URL "
                       "(e.g. sqlite:///{data_dir}/ctid.db or postgresql+psycopg://user@host/db)"),
        log_level=d.get("log_level", "info", str, _one_of("debug", "info", "warning", "error")),
        priority=d.get("priority", "normal", str, _one_of("normal", "high", "realtime")),
        recordings_dir=d.get("recordings_dir", DaemonConfig.recordings_dir, str,
                             lambda v: None if v else "must not be empty"))
    media_dirs = d.get("media_dirs", None, list)
    for i, m in enumerate(media_dirs or ()):
        if not isinstance(m, str) or not m:
            raise ConfigError(f"daemon.media_dirs[{i}]: {m!r} is not a directory path")
    d.done()

    c = _Section(top.get("cti", {}, dict), "cti")
    listen = c.get("listen", None, (list, str))
    if listen is None:
        listen = CtiConfig().listen
    elif isinstance(listen, str):
        listen = [listen]
    for i, ep in enumerate(listen):
        if not isinstance(ep, str) or not re.match(r"^(tcp|ssl|unix|tls):", ep):
            raise ConfigError(f"cti.listen[{i}]: {ep!r} is not a Twisted server endpoint string "
                              "(tcp:PORT[:interface=ADDR], ssl:PORT:privateKey=K:certKey=C, unix:PATH)")
    cfg.cti = CtiConfig(listen=list(listen), max_queue=c.get("max_queue", 1000, int, _positive))
    c.done()

    boards = top.get("boards", [], list)
    for i, b in enumerate(boards):
        s = _Section(b, f"boards[{i}]")
        ports = s.get("ports", [], list)
        for j, p in enumerate(ports):
            if p not in PORT_KINDS:
                raise ConfigError(f"boards[{i}].ports[{j}]: {p!r} is not 'fxs' or 'fxo'")
        bc = BoardConfig(driver=s.get("driver", "hwsim", str, _name), id=s.need("id", int, _nonneg),
                         spans=s.get("spans", 0, int, lambda v: None if 0 <= v <= 64 else "must be 0..64"),
                         ports=list(ports), options=s.get("options", {}, dict))
        s.done()
        if bc.spans == 0 and not bc.ports:
            raise ConfigError(f"boards[{i}]: board {bc.id} has no spans and no ports")
        if any(o.id == bc.id for o in cfg.boards):
            raise ConfigError(f"boards[{i}].id: {bc.id} is used by another board")
        cfg.boards.append(bc)

    for i, t in enumerate(top.get("trunks", [], list)):
        cfg.trunks.append(_trunk(cfg, _Section(t, f"trunks[{i}]"), i))

    for i, r in enumerate(top.get("routes", [], list)):
        s = _Section(r, f"routes[{i}]")
        cfg.routes.append(RouteConfig(called=s.need("called", str, _digits), flow=s.need("flow", str, _name)))
        s.done()

    for i, q in enumerate(top.get("queues", [], list)):
        s = _Section(q, f"queues[{i}]")
        name = s.need("name", str, _name)
        agents = s.get("agents", [], list)
        for j, a in enumerate(agents):
            if not isinstance(a, str) or not a:
                raise ConfigError(f"queues[{i}].agents[{j}]: {a!r} is not an agent name")
        hold = s.get("hold", {"tone": "ringback"}, dict)
        _check_prompt(hold, f"queues[{i}].hold")
        cfg.queues.append(QueueConfig(
            name=name, agents=list(agents),
            offer_timeout=float(s.get("offer_timeout", 20.0, (int, float), _positive)),
            wrap_up=float(s.get("wrap_up", 10.0, (int, float), _nonneg)), hold=hold))
        s.done()
        if sum(1 for x in cfg.queues if x.name == name) > 1:
            raise ConfigError(f"queues[{i}].name: {name!r} is used by another queue")

    s = _Section(top.get("ivr", {}, dict), "ivr")
    cfg.ivr = IvrConfig(mode=s.get("mode", "in-daemon", str, _one_of("in-daemon", "external")))
    s.done()

    s = _Section(top.get("tts", {}, dict), "tts")
    cfg.tts = TtsConfig(voice_zh=s.get("voice_zh", "zh", str), voice_en=s.get("voice_en", "en", str),
                        cache_dir=s.get("cache_dir", TtsConfig.cache_dir, str),
                        prompts_dir=s.get("prompts_dir", TtsConfig.prompts_dir, str),
                        engine=s.get("engine", "auto", str, _tts_engine))
    s.done()
    cfg.daemon.media_dirs = list(media_dirs) if media_dirs is not None else [cfg.tts.prompts_dir, "{data_dir}/media"]

    for i, u in enumerate(top.get("users", [], list)):
        s = _Section(u, f"users[{i}]")
        roles = s.get("roles", [], list)
        for j, r in enumerate(roles):
            if r not in ("admin", "supervisor", "ivr", "agent", "monitor"):
                raise ConfigError(f"users[{i}].roles[{j}]: {r!r} is not admin, supervisor, ivr, agent or monitor")
        cfg.users.append(UserConfig(name=s.need("name", str, _name), password=s.need("password", str),
                                    roles=list(roles), agent=s.get("agent", False, bool)))
        s.done()

    top.done()
    _substitute(cfg)
    # China No.1 has no end-of-number signal: an exact route's number is complete at its own length
    for t in cfg.trunks:
        if t.signalling == "china1":
            for r in cfg.routes:
                if not r.called.endswith("*"):
                    t.number_lengths.setdefault(r.called, len(r.called))
    return cfg


def _trunk(cfg: Config, s: _Section, i: int) -> TrunkConfig:
    name = s.need("name", str, _name)
    if any(t.name == name for t in cfg.trunks):
        raise ConfigError(f"trunks[{i}].name: {name!r} is used by another trunk")
    board_id = s.need("board", int)
    try:
        board = cfg.board(board_id)
    except KeyError:
        raise ConfigError(f"trunks[{i}].board: {board_id} is not a configured board "
                          f"(boards: {', '.join(str(b.id) for b in cfg.boards) or 'none'})") from None
    sig = s.need("signalling", str, _one_of(*SIGNALLINGS))
    t = TrunkConfig(name=name, board=board_id, signalling=sig)
    if sig in ("ss7", "china1"):
        span = s.need("span", int)
        if not 0 <= span < board.spans:
            raise ConfigError(f"trunks[{i}].span: {span} is not a span of board {board_id} ({board.spans} spans)")
        for o in cfg.trunks:
            if o.board == board_id and o.span == span:
                raise ConfigError(f"trunks[{i}].span: span {span} of board {board_id} is already trunk {o.name!r}")
        t.span = span
    if sig == "ss7":
        t.variant = s.get("variant", "itu", str, _one_of("itu", "china"))
        limit = 0x3FFF if t.variant == "itu" else 0xFFFFFF
        pc_check = (lambda v: None if 0 <= v <= limit else
                    f"is out of range for {t.variant} point codes (0..{limit:#x})")
        t.opc = s.need("opc", int, pc_check)
        t.dpc = s.need("dpc", int, pc_check)
        if t.opc == t.dpc:
            raise ConfigError(f"trunks[{i}].dpc: {t.dpc:#x} equals opc")
        t.cics = parse_ranges(s.raw("cics", "1-15,17-31"), f"trunks[{i}].cics", VOICE_TIMESLOTS)
        t.slc = s.get("slc", 0, int, lambda v: None if v == 0 else "must be 0 (one signalling link per trunk, SLC 0)")
        t.emergency_proving = s.get("emergency_proving", False, bool)
        t.calling = s.get("calling", "", str, lambda v: None if v == "" or v.isdigit() else "must be digits")
    elif sig == "china1":
        t.timeslots = parse_ranges(s.raw("timeslots", "1-15,17-31"), f"trunks[{i}].timeslots", VOICE_TIMESLOTS)
        t.direction = s.get("direction", "both", str, _one_of("incoming", "outgoing", "both"))
        inc, out = s.raw("incoming"), s.raw("outgoing")
        t.incoming = parse_ranges(inc, f"trunks[{i}].incoming", t.timeslots) if inc is not None else []
        t.outgoing = parse_ranges(out, f"trunks[{i}].outgoing", t.timeslots) if out is not None else []
        both = set(t.incoming) & set(t.outgoing)
        if both:
            raise ConfigError(f"trunks[{i}].outgoing: timeslot {min(both)} is also in trunks[{i}].incoming")
        if inc is None and out is None:
            if t.direction == "incoming":
                t.incoming = list(t.timeslots)
            elif t.direction == "outgoing":
                t.outgoing = list(t.timeslots)
        t.number_length = s.get("number_length", None, int,
                                lambda v: None if 1 <= v <= 20 else "must be 1..20 digits")
        lengths = s.get("number_lengths", {}, dict)
        for prefix, n in lengths.items():
            if not prefix.isdigit():
                raise ConfigError(f"trunks[{i}].number_lengths.{prefix}: {prefix!r} is not a digit prefix")
            if isinstance(n, bool) or not isinstance(n, int) or not len(prefix) <= n <= 20:
                raise ConfigError(f"trunks[{i}].number_lengths.{prefix}: {n!r} is not a length of "
                                  f"{len(prefix)}..20 digits")
        t.number_lengths = dict(lengths)
        t.calling = s.get("calling", "", str, lambda v: None if v == "" or v.isdigit() else "must be digits")
        t.dual_seizure = s.get("dual_seizure", "back_off", str, _one_of("back_off", "keep", "yield"))
    else:
        ports = s.need("ports", list)
        for j, p in enumerate(ports):
            if not isinstance(p, int) or isinstance(p, bool):
                raise ConfigError(f"trunks[{i}].ports[{j}]: {p!r} is not a port number")
            if not 0 <= p < len(board.ports):
                raise ConfigError(f"trunks[{i}].ports[{j}]: {p} is not a port of board {board_id} "
                                  f"({len(board.ports)} ports)")
            for o in cfg.trunks:
                if o.board == board_id and o.signalling == "analog" and p in o.ports:
                    raise ConfigError(f"trunks[{i}].ports[{j}]: port {p} of board {board_id} is already in "
                                      f"trunk {o.name!r}")
        if len(set(ports)) != len(ports):
            raise ConfigError(f"trunks[{i}].ports: {ports!r} names a port twice")
        t.ports = list(ports)
        t.rings = s.get("rings", 2, int, lambda v: None if 1 <= v <= 10 else "must be 1..10")
        t.number = s.get("number", "", str, lambda v: None if v == "" or v.isdigit() else "must be digits")
    s.done()
    return t


def _check_prompt(p: dict, key: str) -> None:
    kinds = [k for k in ("file", "text", "prompt", "tone", "silence") if k in p]
    if len(kinds) != 1:
        raise ConfigError(f"{key}: {p!r} must have exactly one of file, text, prompt, tone, silence")


def _substitute(cfg: Config) -> None:
    """``{data_dir}`` in paths and URLs."""
    dd = cfg.daemon.data_dir

    def sub(v: str, key: str) -> str:
        try:
            return v.replace("{data_dir}", dd)
        except Exception:  # noqa: BLE001
            raise ConfigError(f"{key}: {v!r} cannot be substituted") from None
    cfg.daemon.database = sub(cfg.daemon.database, "daemon.database")
    cfg.daemon.recordings_dir = sub(cfg.daemon.recordings_dir, "daemon.recordings_dir")
    cfg.tts.cache_dir = sub(cfg.tts.cache_dir, "tts.cache_dir")
    cfg.tts.prompts_dir = sub(cfg.tts.prompts_dir, "tts.prompts_dir")
    cfg.daemon.media_dirs = [sub(m, f"daemon.media_dirs[{i}]") for i, m in enumerate(cfg.daemon.media_dirs)]
    for b in cfg.boards:
        opts = b.options.get("cable_socket")
        if opts is None:
            continue
        key = f"boards[{cfg.boards.index(b)}].options.cable_socket"
        if not isinstance(opts, dict):
            raise ConfigError(f"{key}: {opts!r} is not a table of span = \"socket path\"")
        out = {}
        for k, v in opts.items():
            if not str(k).isdigit() or not 0 <= int(k) < b.spans:
                raise ConfigError(f"{key}.{k}: {k!r} is not a span of board {b.id} ({b.spans} spans)")
            if not isinstance(v, str) or not v:
                raise ConfigError(f"{key}.{k}: {v!r} is not a socket path")
            out[int(k)] = sub(v, f"{key}.{k}")
        b.options["cable_socket"] = out
    for q in cfg.queues:
        if "file" in q.hold and isinstance(q.hold["file"], str):
            q.hold["file"] = sub(q.hold["file"], f"queues.{q.name}.hold.file")
            _check_media_file(cfg, q.hold["file"], f"queues.{q.name}.hold.file")


def _check_media_file(cfg: Config, path: str, key: str) -> None:
    """A configured file prompt must lie in a media directory (checked on the path's text here; the daemon
    checks the resolved path again when it plays it)."""
    dirs = [os.path.normpath(os.path.abspath(m)) for m in cfg.daemon.media_dirs]
    if not dirs:
        raise ConfigError(f"{key}: {path!r}: file prompts need a media directory ([daemon] media_dirs is empty)")
    p = os.path.normpath(os.path.abspath(path if os.path.isabs(path) else os.path.join(dirs[0], path)))
    if not any(p.startswith(d.rstrip(os.sep) + os.sep) for d in dirs):
        raise ConfigError(f"{key}: {path!r} is not in a media directory ({', '.join(dirs)})")


DEFAULT_TOML = """\
# ctid embedded default: one hwsim board with an SS7 span, a China No.1 span and four analogue ports.
[daemon]
data_dir = "./ctid-data"
database = "sqlite:///{data_dir}/ctid.db"

[cti]
listen = ["tcp:7000:interface=127.0.0.1"]

[[boards]]
driver = "hwsim"
id = 0
spans = 2
ports = ["fxo", "fxo", "fxs", "fxs"]

[[trunks]]
name = "ss7"
board = 0
span = 0
signalling = "ss7"
variant = "itu"
opc = 0x2A51
dpc = 0x0123
cics = "1-15,17-31"
slc = 0

[[trunks]]
name = "no1"
board = 0
span = 1
signalling = "china1"
timeslots = "1-15,17-31"
direction = "both"

[[trunks]]
name = "analog"
board = 0
signalling = "analog"
ports = [0, 1, 2, 3]
number = "114"

[[routes]]
called = "114"
flow = "hospital_main"

[[routes]]
called = "*"
flow = "hospital_main"

[[queues]]
name = "frontdesk"
agents = ["1001", "1002"]

[[queues]]
name = "cardiology"
agents = ["1002"]

[ivr]
mode = "in-daemon"

[tts]
voice_zh = "zh"
voice_en = "en"
cache_dir = "{data_dir}/tts"
"""


def default_config() -> Config:
    return parse_config(DEFAULT_TOML, "<default>")


def resolve_data_dir(cfg: Config) -> str:
    """The data directory as an absolute path (created by the daemon, not here)."""
    return os.path.abspath(cfg.daemon.data_dir)


def summary(cfg: Config) -> str:
    """A few lines describing a configuration (``python -m ctid.config FILE``)."""
    lines = [f"config {cfg.source}: data in {cfg.daemon.data_dir}, database {cfg.daemon.database}",
             f"CTI listens on {', '.join(cfg.cti.listen)}"]
    for b in cfg.boards:
        lines.append(f"board {b.id} ({b.driver}): {b.spans} spans, ports {', '.join(b.ports) or 'none'}")
    for t in cfg.trunks:
        where = f"board {t.board} span {t.span}" if t.span is not None else f"board {t.board} ports {t.ports}"
        if t.signalling == "ss7":
            what = f"SS7 {t.variant} opc {t.opc:#x} dpc {t.dpc:#x} CICs {format_ranges(t.cics)}"
        elif t.signalling == "china1":
            what = (f"China No.1 timeslots {format_ranges(t.timeslots)} (in {format_ranges(t.incoming) or '-'}, "
                    f"out {format_ranges(t.outgoing) or '-'}, the rest both ways)")
        else:
            what = "analogue"
        lines.append(f"trunk {t.name}: {what} on {where}")
    for r in cfg.routes:
        lines.append(f"route {r.called} -> flow {r.flow}")
    for q in cfg.queues:
        lines.append(f"queue {q.name}: agents {', '.join(q.agents) or 'none'}")
    return "\n".join(lines)


def main(argv=None) -> int:
    import sys
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python -m ctid.config [FILE]   (no FILE: the embedded default)")
        return 2
    try:
        cfg = load_config(args[0] if args else None)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(cfg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
