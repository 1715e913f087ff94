"""The ctid daemon: configuration -> database, boards, media runtimes, the call engine, the CTI server and the IVR.

    cfg = load_config(path)              # or None: the embedded default (hwsim boards, demo hospital)
    daemon = Daemon(cfg, reactor)
    yield daemon.start()                 # Deferred: everything listening and ticking
    ...
    yield daemon.stop()

Start order (each step's failure stops the start with a message naming the step): data directory, database
(schema, demo data when configured, configured users), TTS and prompt catalogue, boards (driver registry) and
one media runtime per board, the engine with its trunks (SS7 sends GRS at start, China No.1 channels start idle),
the CTI server on its endpoints, then the in-daemon IVR (a libcti client over loopback, logged in as an internal
IVR user with a fresh random password per start: the same code path as ``python -m ivrflows``).

CDRs are written by the engine through :attr:`cdr_sink` (committed before the engine forgets the call).
"""
from __future__ import annotations

import datetime as dt
import os
import secrets

from twisted.internet import defer
from twisted.logger import Logger

from ctid.config import Config, ConfigError, resolve_data_dir

log = Logger(namespace="ctid.daemon")

#: blocks a late simulated world catches up per reactor turn: CTI requests and events are served in between
PACER_BURST = 2
IVR_USER = "_ivr"                    # the in-daemon IVR's own user (role ivr); its password changes at every start


class StartupError(Exception):
    """The daemon could not start; the message names the step and the reason."""


def _client_endpoint(server_ep: str) -> str:
    """A loopback client endpoint string for a server endpoint string (tcp or ssl/tls)."""
    parts = server_ep.split(":")
    kind = parts[0].lower()
    if kind not in ("tcp", "ssl", "tls") or len(parts) < 2:
        raise ConfigError(f"cti.listen: cannot connect the in-daemon IVR to {server_ep!r} (use a tcp: endpoint)")
    port = parts[1]
    opts = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
    host = opts.get("interface", "127.0.0.1")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if kind == "tcp":
        return f"tcp:{host}:{port}"
    return f"ssl:{host}:{port}"


class Daemon:
    """One running ctid: see the module docstring. ``driver_kw`` goes to every ``open_board`` (tests: hwsim
    ``world=``); ``pacer``, when given, ticks the media runtimes (a simulated world) instead of the clock."""

    def __init__(self, cfg: Config, reactor=None, *, demo: bool | None = None, driver_kw: dict | None = None,
                 pacer=None, ivr: bool | None = None):
        if reactor is None:
            from twisted.internet import reactor
        self.cfg = cfg
        self.reactor = reactor
        self.demo = cfg.source == "<default>" if demo is None else demo
        self.driver_kw = dict(driver_kw or {})
        self.pacer = pacer
        self.run_ivr = (cfg.ivr.mode == "in-daemon") if ivr is None else ivr
        self.data_dir = resolve_data_dir(cfg)
        self.db = None
        self.users = None
        self.tts = None
        self.catalogue = None
        self.boards: dict = {}
        self.runtimes: dict = {}
        self.pacers: list = []
        self.engine = None
        self.server = None
        self.ports: list = []
        self.ivr_client = None
        self.ivr_runner = None
        self.started = False
        self.cdrs_written = 0
        self.cdr_errors = 0

    # ------------------------------------------------------------------------------------------ start/stop
    @defer.inlineCallbacks
    def start(self):
        step = "data directory"
        try:
            for d in (self.data_dir, self.cfg.daemon.recordings_dir, self.cfg.tts.cache_dir, self.cfg.tts.prompts_dir):
                os.makedirs(d, exist_ok=True)
            for d in self.cfg.daemon.media_dirs:     # where file prompts may come from (docs/configuration.md)
                try:
                    os.makedirs(d, exist_ok=True)
                except OSError as exc:
                    log.warn("media directory {d} cannot be created: {e}", d=d, e=exc.strerror or str(exc))
            step = "database"
            yield self._open_database()
            step = "TTS"
            yield self._in_thread(self._open_tts)     # the engine's self-check renders a short text
            step = "boards"
            self._open_boards()
            step = "engine"
            self._make_engine()
            step = "CTI server"
            yield self._listen()
            if self.run_ivr:
                step = "IVR"
                yield self._start_ivr()
        except (ConfigError, StartupError):
            yield self._teardown()
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of a step, named
            yield self._teardown()
            raise StartupError(f"ctid cannot start: {step}: {exc}") from exc
        self.started = True
        log.info("ctid started: {n} channels on {b} boards, CTI on {eps}", n=len(self.engine.channels),
                 b=len(self.boards), eps=", ".join(self.cfg.cti.listen))
        return self

    @defer.inlineCallbacks
    def stop(self):
        yield self._teardown()
        self.started = False

    @defer.inlineCallbacks
    def _teardown(self):
        if self.ivr_runner is not None:
            self.ivr_runner.stop()
            self.ivr_runner = None
        if self.ivr_client is not None:
            try:
                self.ivr_client.close()
            except Exception:  # noqa: BLE001
                log.failure("closing the IVR client")
            self.ivr_client = None
        for p in self.ports:
            yield defer.maybeDeferred(p.stopListening)
        self.ports = []
        if self.server is not None:
            self.server.close_all()
            self.server = None
        if self.engine is not None:
            # Calls still up are cleared so their CDRs are written before the database closes.
            try:
                yield defer.maybeDeferred(self.engine.shutdown)
            except Exception:  # noqa: BLE001
                log.failure("engine shutdown")
            self.engine = None
        for p in self.pacers:
            p.stop()
        self.pacers = []
        for rt in self.runtimes.values():
            try:
                rt.stop()
            except Exception:  # noqa: BLE001
                log.failure("stopping a board runtime")
        self.runtimes = {}
        for board in self.boards.values():
            try:
                board.close()
            except Exception:  # noqa: BLE001
                log.failure("closing a board")
        self.boards = {}
        if self.db is not None:
            self.db.close()
            self.db = None

    # ------------------------------------------------------------------------------------------ steps
    @defer.inlineCallbacks
    def _open_database(self):
        from ctid.db import open_database

        self.db = yield self._in_thread(open_database, self.cfg.daemon.database, reactor=self.reactor)
        self.users = self.db.users
        if self.demo:
            from ctid.db.demo import load_demo
            added = yield self.db.run(load_demo, self.db, dt.date.today())
            log.info("demo hospital data: {added}", added=added)
        for u in self.cfg.users:
            yield self.db.run(self._ensure_user, u.name, u.password, u.roles, u.agent)
        if self.run_ivr:
            self._ivr_password = secrets.token_urlsafe(24)
            yield self.db.run(self._ensure_user, IVR_USER, self._ivr_password, ["ivr"], False, reset=True)

    def _ensure_user(self, name, password, roles, agent, reset=False):
        from ctid.db.users import UserError
        try:
            self.users.create_user(name, password, roles, agent=agent)
        except UserError as exc:
            if "already exists" not in str(exc):
                raise
            if reset:
                self.users.set_password(name, password)

    def _in_thread(self, fn, *a, **kw):
        import functools

        from twisted.internet.threads import deferToThreadPool
        return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), functools.partial(fn, *a, **kw))

    def _open_tts(self):
        from ctid.media.prompts import PromptCatalogue
        from ctid.media.tts import Tts

        self.tts = Tts(self.cfg.tts.cache_dir, self.cfg.tts.engine, reactor=self.reactor)
        self.catalogue = PromptCatalogue(self.cfg.tts.prompts_dir, self.tts, voice=self.cfg.tts.voice_zh)

    def render(self, prompt: dict):
        """The engine's renderer: TTS text and catalogue prompts to A-law (in a thread, cached)."""
        if "text" in prompt:
            voice = prompt.get("voice") or "zh"
            voice = {"zh": self.cfg.tts.voice_zh, "en": self.cfg.tts.voice_en}.get(voice, voice)
            return self.tts.render_async(prompt["text"], voice)
        if "prompt" in prompt:
            return self.catalogue.render_async(prompt["prompt"])
        return defer.fail(ValueError(f"cannot render prompt {prompt!r}"))

    def _open_boards(self):
        """Open the boards; one media runtime per board. A simulated board (hwsim) has no clock of its own: its
        world is ticked by a :class:`ctid.drivers.Pacer` on the reactor (one per world), and the runtimes of its
        boards tick after each block; a hardware board paces itself (its runtime ticks on the clock)."""
        from ctid.core.assembly import make_runtimes, open_boards
        from ctid.drivers import Pacer

        self.boards = open_boards(self.cfg, **self.driver_kw)
        self.runtimes = {}
        self.pacers = []
        by_world: dict = {}
        for bid, board in self.boards.items():
            world = getattr(board, "world", None)
            if self.pacer is not None:
                pacer = self.pacer
            elif world is not None:
                pacer = by_world.get(id(world))
                if pacer is None:
                    pacer = by_world[id(world)] = Pacer(world, self.reactor, burst=PACER_BURST)
                    self.pacers.append(pacer)
            else:
                pacer = None
            # recordings are created, closed and fsync'd in the reactor's thread pool, never on the reactor thread
            self.runtimes.update(make_runtimes({bid: board}, self.reactor, pacer=pacer, run_io=self._in_thread))
        for p in self.pacers:
            p.start()

    def cdr_sink(self, cdr: dict):
        d = self.db.run(self.db.cdrs.write, cdr)

        def ok(r):
            self.cdrs_written += 1
            return r

        def bad(f):
            self.cdr_errors += 1
            log.error("CDR of call {call} not written: {err}", call=cdr.get("call"), err=f.getErrorMessage())
            return f
        return d.addCallbacks(ok, bad)

    def _make_engine(self):
        from ctid.core.engine import Engine

        self.engine = Engine.from_config(self.cfg, self.boards, self.runtimes, self.reactor, renderer=self.render,
                                         cdr_sink=self.cdr_sink, recordings_dir=self.cfg.daemon.recordings_dir,
                                         read_file=self._in_thread)

    @defer.inlineCallbacks
    def _listen(self):
        from ctid.cti.server import CtiServer

        self.server = CtiServer(self.engine, self.users, clock=self.reactor, queue_limit=self.cfg.cti.max_queue)
        self._register_data_ops()
        self.ports = yield self.server.listen(self.reactor, self.cfg.cti.listen)

    def _register_data_ops(self):
        from ctid.dataops import register_data_ops

        self.data_ops = register_data_ops(self.server, self.db, recordings_dir=self.cfg.daemon.recordings_dir)

    @defer.inlineCallbacks
    def _start_ivr(self):
        from ivrflows import FLOWS
        from libcti import connect
        from libcti.ivr import IvrRunner

        routes = {r.called: r.flow for r in self.cfg.routes}
        if not routes:
            return
        endpoint = _client_endpoint(self.cfg.cti.listen[0])
        self.ivr_client = yield defer.ensureDeferred(
            connect(endpoint, user=IVR_USER, password=self._ivr_password, reactor=self.reactor))
        fallback = self.cfg.queues[0].name if self.cfg.queues else "frontdesk"
        self.ivr_runner = IvrRunner(self.ivr_client, routes, FLOWS, fallback_queue=fallback, clock=self.reactor)
        yield defer.ensureDeferred(self.ivr_runner.start())


# ---------------------------------------------------------------------------------------------- command line
def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run the daemon (Twisted; CTI server, IVR, boards)",
                       description="Run the ctid daemon. Without --config it starts on the embedded default: "
                                   "hwsim boards with one SS7 span, one China No.1 span and four analogue ports, "
                                   "SQLite in ./ctid-data, the demo hospital, CTI on tcp:7000 (127.0.0.1).")
    p.add_argument("--config", metavar="FILE.toml", help="configuration file (docs/configuration.md)")
    p.add_argument("--data-dir", metavar="DIR", help="override [daemon] data_dir")
    p.add_argument("--listen", action="append", metavar="ENDPOINT",
                   help="override [cti] listen (Twisted endpoint string; repeatable)")
    p.add_argument("--demo-data", action="store_true", help="load the demo hospital even with --config")
    p.add_argument("--check", action="store_true", help="validate the configuration, print it and exit")
    p.add_argument("--log-level", default=None, choices=("debug", "info", "warn", "error"))
    p.add_argument("--priority", default=None, choices=("normal", "high", "realtime"),
                   help="override [daemon] priority: high = nice -10 (FreeSWITCH -hp), realtime = SCHED_RR 10 "
                        "(Asterisk -p); needs root or CAP_SYS_NICE")


def load(args) -> Config:
    """The configuration of ``args`` (file or embedded default) with the command-line overrides applied to the
    TOML document before validation, so overrides are checked like the file."""
    import tomllib

    from ctid.config import DEFAULT_TOML, build_config

    if args.config:
        try:
            with open(args.config, "rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise ConfigError(f"config file {args.config}: {exc.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {args.config}: not valid TOML: {exc}") from None
        source = args.config
    else:
        data, source = tomllib.loads(DEFAULT_TOML), "<default>"
    if args.data_dir:
        data.setdefault("daemon", {})["data_dir"] = args.data_dir
    if args.listen:
        data.setdefault("cti", {})["listen"] = list(args.listen)
    return build_config(data, source)


def log_levels(name: str):
    """The Twisted and the stdlib logging level for a level name of the config (``debug``, ``info``, ``warning``,
    ``error``) or of ``--log-level`` (``warn`` as well)."""
    import logging

    from twisted.logger import LogLevel

    name = name.lower()
    twisted_name = {"warning": "warn"}.get(name, name)
    py_name = {"warn": "warning"}.get(name, name)
    return LogLevel.levelWithName(twisted_name), getattr(logging, py_name.upper())


def settle_heap() -> None:
    """Once the daemon has started: collect, then move everything that exists into the collector's permanent
    generation (``gc.freeze()``). The start-up heap (modules, SQLAlchemy's mappers, Twisted, the prompt and TTS
    caches, the demo data) is large and lives for ever; left in generation 2, every full collection walks it: in
    the 480-call benchmark that was a 112 ms pause of the reactor (every event, every tick of every call waited),
    and 17 ms for generation 1. Frozen, a collection walks only what was made since. The objects of calls come
    and go and are collected as usual."""
    import gc

    gc.collect()
    gc.freeze()


def run(args) -> int:
    import json
    import sys

    from twisted.internet import reactor
    from twisted.logger import FilteringLogObserver, LogLevelFilterPredicate, globalLogBeginner
    from twisted.logger import textFileLogObserver

    try:
        cfg = load(args)
    except ConfigError as exc:
        print(f"ctid: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.check:
        import dataclasses
        print(json.dumps(dataclasses.asdict(cfg), indent=2, default=str))
        return 0
    from ctid import priority as prio
    # first, before the reactor and its thread pools start: threads inherit the scheduling
    prio_notes = prio.apply(getattr(args, "priority", None) or cfg.daemon.priority)
    level, py_level = log_levels(args.log_level or cfg.daemon.log_level or "info")
    observer = FilteringLogObserver(textFileLogObserver(sys.stdout),
                                    [LogLevelFilterPredicate(defaultLogLevel=level)])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    import logging
    logging.basicConfig(level=py_level, stream=sys.stdout, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for note in prio_notes:
        (logging.getLogger("ctid.daemon").warning if "refused" in note else logging.getLogger("ctid.daemon").info)(note)
    daemon = Daemon(cfg, reactor, demo=True if args.demo_data else None)
    status = {"rc": 0}

    def started(_):
        settle_heap()
        print(f"ctid: running; CTI on {', '.join(cfg.cti.listen)}; data in {daemon.data_dir}", flush=True)

    def failed(f):
        print(f"ctid: {f.getErrorMessage()}", file=sys.stderr, flush=True)
        status["rc"] = 1
        reactor.stop()

    def go():
        daemon.start().addCallbacks(started, failed)

    reactor.callWhenRunning(go)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: daemon.stop() if daemon.started else None)
    reactor.run()
    return status["rc"]
