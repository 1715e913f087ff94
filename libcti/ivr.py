"""The IVR runner: routes incoming calls by called number to flows written against libcti.

A flow is an ``async def flow(ctx)``. The runner subscribes to ``channel.incoming`` and ``channel.hangup``,
picks the flow for the called number (exact match first, then the longest ``prefix*`` route), and runs each call's
flow as its own task (``ensureDeferred``). It guarantees that no caller is left in silence:

- the caller hangs up -> the flow's task is cancelled (``CancelledError`` at the flow's current ``await``);
  this is a normal outcome, counted as ``hangup`` and never logged as a crash;
- the flow raises (or exceeds ``max_flow_seconds``) -> the runner plays the apology prompt and transfers the caller
  to the fallback queue (an agent answers); counted as ``failed``;
- the flow returns without hanging up, transferring or bridging -> the runner plays goodbye and hangs up.

The runner works on any client with libcti's shape (``on``, ``subscribe``, ``channel``, ``request``): in the daemon
(given a connected client) or standalone (``python -m ivrflows``). Imports nothing from ctid. Every timer goes
through the injected ``IReactorTime``.
"""
from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from twisted.internet import defer
from twisted.logger import Logger

Flow = Callable[["FlowContext"], Awaitable[Any]]

# Q.850 causes the runner uses.
CAUSE_NORMAL = 16
CAUSE_NO_CIRCUIT = 34           # no circuit/channel available: the IVR is at its concurrency limit
CAUSE_TEMPORARY_FAILURE = 41    # last resort when even the fallback transfer fails

_GONE_CODES = (404,)            # CTI error codes meaning "this channel no longer exists"
_LINK_RETRIES = 3               # reconnects a runner operation waits for before giving up


def mask_number(number: str | None) -> str:
    """A calling number for the logs: all but the last 4 digits masked (as the CTI monitor role sees it)."""
    if not number:
        return "-"
    s = str(number)
    return "*" * max(0, len(s) - 4) + s[-4:]


class RouteError(ValueError):
    """A route table entry is malformed or names a flow that does not exist."""


def compile_routes(routes: dict[str, str], flows: dict[str, Flow]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Split ``routes`` into exact matches and prefixes (longest first); check every flow name exists."""
    exact: dict[str, str] = {}
    prefixes: list[tuple[str, str]] = []
    for pattern, flow in routes.items():
        if not isinstance(pattern, str) or not isinstance(flow, str):
            raise RouteError(f"route {pattern!r} -> {flow!r}: the called number and the flow name must be strings")
        if flow not in flows:
            raise RouteError(f"route {pattern!r} names flow {flow!r}, which does not exist "
                             f"(known flows: {', '.join(sorted(flows)) or 'none'})")
        if pattern.endswith("*"):
            body = pattern[:-1]
            if "*" in body or not re.fullmatch(r"[0-9A-Da-d#]*", body):
                raise RouteError(f"route {pattern!r}: a prefix route is digits followed by one '*' (e.g. '114*')")
            prefixes.append((body, flow))
        else:
            if not pattern or not re.fullmatch(r"[0-9A-Da-d#]+", pattern):
                raise RouteError(f"route {pattern!r}: a called number is digits (0-9, A-D, #), "
                                 f"or a prefix ending in '*'")
            exact[pattern] = flow
    prefixes.sort(key=lambda p: len(p[0]), reverse=True)
    return exact, prefixes


def routes_from_config(entries) -> dict[str, str]:
    """The daemon config's ``[[routes]]`` list (``{called = "114", flow = "hospital_main"}``) -> a route dict."""
    routes: dict[str, str] = {}
    for i, entry in enumerate(entries or []):
        if not isinstance(entry, dict) or not isinstance(entry.get("called"), str) \
                or not isinstance(entry.get("flow"), str):
            raise RouteError(f"routes[{i}] = {entry!r}: give called = \"NUMBER\" and flow = \"NAME\"")
        if entry["called"] in routes:
            raise RouteError(f"routes[{i}]: called number {entry['called']!r} is routed twice")
        routes[entry["called"]] = entry["flow"]
    return routes


class CallLog:
    """A per-call logger: every message is prefixed with the flow, the call id and the channel."""

    def __init__(self, logger: Logger, flow: str, call: str | None, channel: str):
        self._log = logger
        self._prefix = f"[{flow} call={call} channel={channel}] "

    def _emit(self, level: str, fmt: str, **kw):
        getattr(self._log, level)(self._prefix.replace("{", "{{").replace("}", "}}") + fmt, **kw)

    def debug(self, fmt: str, **kw):
        self._emit("debug", fmt, **kw)

    def info(self, fmt: str, **kw):
        self._emit("info", fmt, **kw)

    def warn(self, fmt: str, **kw):
        self._emit("warn", fmt, **kw)

    def error(self, fmt: str, **kw):
        self._emit("error", fmt, **kw)

    def failure(self, fmt: str, failure=None, **kw):
        self._log.failure(self._prefix.replace("{", "{{").replace("}", "}}") + fmt, failure=failure, **kw)


class FlowChannel:
    """The flow's view of its libcti channel.

    Delegates every operation to the libcti ``Channel`` and remembers what the flow did with the call (answered;
    finished by hang-up, transfer or bridge) so that the runner can apply the no-silence rule. Once the caller has
    hung up, every operation fails at once with ``CancelledError`` so that a flow that swallowed the cancellation
    still stops at its next ``await``.
    """

    def __init__(self, raw, channel_id: str):
        self.raw = raw
        self.id = channel_id
        self.answered = False
        self.finished: str | None = None      # "hangup" | "transfer" | "bridge"
        self._caller_hungup = False
        self._hanging_up = False               # we asked for the hang-up ourselves

    # --- state -------------------------------------------------------------------------------------------
    @property
    def hungup(self) -> bool:
        return self._caller_hungup or bool(getattr(self.raw, "hungup", False))

    def _mark_hungup(self):
        self._caller_hungup = True

    def _guard(self, op: str):
        if self.hungup:
            return defer.fail(defer.CancelledError(f"channel {self.id} hung up; {op} not sent"))
        return None

    # --- call control ------------------------------------------------------------------------------------
    def answer(self):
        return self._guard("answer") or self.raw.answer().addCallback(self._answered)

    def _answered(self, result):
        self.answered = True
        return result

    def hangup(self, cause: int = CAUSE_NORMAL):
        if self.hungup:
            return defer.succeed(None)
        self._hanging_up = True
        return self.raw.hangup(cause=cause).addCallback(self._finish, "hangup")

    def transfer(self, *, queue: str | None = None, to: str | None = None):
        if (queue is None) == (to is None):
            return defer.fail(ValueError("transfer: give exactly one of queue= or to="))
        kw = {"queue": queue} if queue is not None else {"to": to}
        return self._guard("transfer") or self.raw.transfer(**kw).addCallback(self._finish, "transfer")

    def bridge(self, other):
        return self._guard("bridge") or self.raw.bridge(other).addCallback(self._finish, "bridge")

    def _finish(self, result, how: str):
        self.finished = how
        return result

    # --- media -------------------------------------------------------------------------------------------
    def play(self, *prompts: dict, barge_in: bool = False):
        return self._guard("play") or self.raw.play(*prompts, barge_in=barge_in)

    def say(self, text: str, voice: str = "zh", **kw):
        return self._guard("say") or self.raw.say(text, voice=voice, **kw)

    def collect(self, *a, **kw):
        return self._guard("collect") or self.raw.collect(*a, **kw)

    def record(self, **kw):
        return self._guard("record") or self.raw.record(**kw)

    def stop(self):
        return self._guard("stop") or self.raw.stop()

    def wait_hangup(self):
        return self.raw.wait_hangup()

    def __getattr__(self, name):          # anything else libcti's Channel offers
        return getattr(self.raw, name)

    def __repr__(self):
        return f"<FlowChannel {self.id} answered={self.answered} finished={self.finished} hungup={self.hungup}>"


@dataclass
class FlowContext:
    """What a flow gets: its channel, the client (for data ops), the call's numbers, a logger and the clock."""
    channel: FlowChannel
    client: Any
    call: str | None
    calling: str | None
    called: str | None
    category: Any
    trunk: str | None
    kind: str | None
    flow: str
    log: CallLog
    clock: Any
    data: dict = field(default_factory=dict)      # the whole channel.incoming event data

    @property
    def hungup(self) -> bool:
        return self.channel.hungup

    def today(self) -> datetime.date:
        """The local date by the runner's (injectable) clock."""
        return datetime.date.fromtimestamp(self.clock.seconds())


@dataclass
class _Active:
    ctx: FlowContext
    task: defer.Deferred | None = None
    timer: Any = None
    timed_out: bool = False
    outcome: str | None = None


def _counters() -> dict[str, int]:
    return {"started": 0, "completed": 0, "failed": 0, "hangup": 0, "timeout": 0}


class IvrRunner:
    """Runs IVR flows for the calls routed to them.

    ``routes`` maps a called number (exact, or a prefix ending in ``*``) to a flow name in ``flows``.
    ``max_active`` limits concurrent flows; a call beyond it is rejected (``overflow="reject"``: hang-up with
    cause 34, the network plays congestion) or sent to the fallback queue (``overflow="queue"``).
    """

    log = Logger(namespace="libcti.ivr")

    def __init__(self, client, routes: dict[str, str], flows: dict[str, Flow], fallback_queue: str = "frontdesk",
                 *, max_active: int | None = None, overflow: str = "reject", max_flow_seconds: float | None = 1800.0,
                 clock=None, apology: list[dict] | None = None, goodbye: list[dict] | None = None,
                 subscribe: list[str] | None = None):
        if max_active is not None and (not isinstance(max_active, int) or max_active < 1):
            raise ValueError(f"max_active must be a positive integer or None, not {max_active!r}")
        if overflow not in ("reject", "queue"):
            raise ValueError(f"overflow must be 'reject' or 'queue', not {overflow!r}")
        if max_flow_seconds is not None and not max_flow_seconds > 0:
            raise ValueError(f"max_flow_seconds must be positive or None, not {max_flow_seconds!r}")
        if not fallback_queue or not isinstance(fallback_queue, str):
            raise ValueError(f"fallback_queue must be a queue name, not {fallback_queue!r}")
        self.client = client
        self.flows = dict(flows)
        self.routes = dict(routes)
        self._exact, self._prefixes = compile_routes(self.routes, self.flows)
        self.fallback_queue = fallback_queue
        self.max_active = max_active
        self.overflow = overflow
        self.max_flow_seconds = max_flow_seconds
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.apology = list(apology) if apology is not None else [{"prompt": "apology"}]
        self.goodbye = list(goodbye) if goodbye is not None else [{"prompt": "goodbye"}]
        self.subscribe_patterns = list(subscribe) if subscribe is not None else ["channel.*"]
        self._active: dict[str, _Active] = {}
        self.metrics: dict[str, dict[str, int]] = {name: _counters() for name in self.flows}
        self.totals = {"rejected": 0, "unrouted": 0, "duplicate": 0, "peak_active": 0}
        self.running = False
        self._listening = False
        self._done_waiters: list[defer.Deferred] = []
        self._link_waiters: list[defer.Deferred] = []

    # --- lifecycle ---------------------------------------------------------------------------------------
    async def start(self):
        """Listen for calls. Subscribes the client to the channel events unless ``subscribe=[]``."""
        if self.running:
            return
        self.running = True
        if not self._listening:
            self._listening = True
            self.client.on("channel.incoming", self._on_incoming)
            self.client.on("channel.hangup", self._on_hangup)
            self.client.on("cti.resync", self._on_resync)
        if self.subscribe_patterns:
            try:
                await self.client.subscribe(self.subscribe_patterns)
            except Exception:
                self.running = False
                raise
        self.log.info("IVR runner serving {routes}", routes=", ".join(f"{k}->{v}" for k, v in self.routes.items()))

    def stop(self):
        """Take no new calls. Flows in progress run to their end (see ``wait_idle``)."""
        self.running = False

    def wait_idle(self) -> defer.Deferred:
        """A Deferred that fires once no flow is running."""
        if not self._active:
            return defer.succeed(None)
        d = defer.Deferred()
        self._done_waiters.append(d)
        return d

    # --- introspection -----------------------------------------------------------------------------------
    @property
    def active(self) -> int:
        return len(self._active)

    def active_channels(self) -> list[str]:
        return sorted(self._active)

    def route(self, called: str | None) -> str | None:
        """The flow name for a called number, or None."""
        if not isinstance(called, str):
            return None
        if called in self._exact:
            return self._exact[called]
        for prefix, flow in self._prefixes:
            if called.startswith(prefix):
                return flow
        return None

    def stats(self) -> dict:
        return {"active": self.active, **self.totals, "flows": {k: dict(v) for k, v in self.metrics.items()}}

    def log_stats(self) -> None:
        """One log line with the counters (``python -m ivrflows --stats-interval``)."""
        flows = "; ".join(f"{name}: " + ", ".join(f"{k} {v}" for k, v in m.items())
                          for name, m in self.metrics.items())
        self.log.info("IVR: {active} active (peak {peak}), {rejected} rejected, {unrouted} unrouted; {flows}",
                      active=self.active, peak=self.totals["peak_active"], rejected=self.totals["rejected"],
                      unrouted=self.totals["unrouted"], flows=flows)

    # --- events ------------------------------------------------------------------------------------------
    def _on_incoming(self, event):
        if not self.running:
            return
        data = dict(event.data)
        channel_id = data.get("channel")
        if not isinstance(channel_id, str):
            self.log.warn("channel.incoming without a channel id ignored: {data!r}", data=data)
            return
        flow_name = self.route(data.get("called"))
        if flow_name is None:
            self.totals["unrouted"] += 1
            self.log.debug("call to {called!r} on {channel} is not routed to the IVR", called=data.get("called"),
                           channel=channel_id)
            return
        if channel_id in self._active:
            self.totals["duplicate"] += 1
            self.log.warn("channel.incoming for {channel}, which already runs a flow: ignored", channel=channel_id)
            return
        if self.max_active is not None and len(self._active) >= self.max_active:
            self._overflow(channel_id, data)
            return
        self._start_flow(channel_id, flow_name, data)

    def _on_hangup(self, event):
        channel_id = event.data.get("channel")
        act = self._active.get(channel_id)
        if act is None:
            return
        call = event.data.get("call")
        if call is not None and act.ctx.call is not None and call != act.ctx.call:
            return                                     # a later call on the same circuit
        self._caller_gone(act, f"cause {event.data.get('cause')}")

    def _on_resync(self, event):
        """After a reconnect: flows whose channel no longer carries their call are cancelled as hung up;
        calls routed to us that are still waiting in ``incoming`` state and have no flow are taken."""
        snap = event.data if isinstance(event.data, dict) else {}
        channels = {c.get("channel"): c for c in snap.get("channels", []) if isinstance(c, dict)}
        for channel_id, act in list(self._active.items()):
            info = channels.get(channel_id)
            if info is None or info.get("call") != act.ctx.call or info.get("state") in ("idle", "clearing", "down"):
                self._caller_gone(act, "gone after reconnect")
        waiters, self._link_waiters = self._link_waiters, []
        for d in waiters:
            d.callback(None)
        if not self.running:
            return
        for channel_id, info in channels.items():
            if info.get("state") == "incoming" and channel_id not in self._active and self.route(info.get("called")):
                self._on_incoming(_SyntheticEvent("channel.incoming", {
                    "channel": channel_id, "call": info.get("call"), "trunk": info.get("trunk"),
                    "kind": info.get("kind"), "calling": info.get("calling"), "called": info.get("called"),
                    "category": info.get("category")}))

    def _caller_gone(self, act: _Active, why: str):
        ch = act.ctx.channel
        own = ch._hanging_up
        ch._mark_hungup()
        if own:
            return                                     # our own hang-up: the task ends by itself
        if act.task is not None and not act.task.called:
            act.ctx.log.info("caller hung up ({why}); cancelling the flow", why=why)
            act.task.cancel()

    # --- running a call ----------------------------------------------------------------------------------
    def _start_flow(self, channel_id: str, flow_name: str, data: dict):
        raw = self.client.channel(channel_id, data.get("call"))
        ch = FlowChannel(raw, channel_id)
        ctx = FlowContext(channel=ch, client=self.client, call=data.get("call"), calling=data.get("calling"),
                          called=data.get("called"), category=data.get("category"), trunk=data.get("trunk"),
                          kind=data.get("kind"), flow=flow_name,
                          log=CallLog(self.log, flow_name, data.get("call"), channel_id), clock=self.clock, data=data)
        act = _Active(ctx)
        self._active[channel_id] = act
        self.totals["peak_active"] = max(self.totals["peak_active"], len(self._active))
        self.metrics[flow_name]["started"] += 1
        ctx.log.info("flow started (calling {calling}, called {called})", calling=mask_number(ctx.calling),
                     called=ctx.called)
        if self.max_flow_seconds is not None:
            act.timer = self.clock.callLater(self.max_flow_seconds, self._timeout, act)
        act.task = defer.ensureDeferred(self._run(act, self.flows[flow_name]))
        act.task.addErrback(self._task_error, act)
        act.task.addBoth(self._task_done, act, channel_id)

    def _timeout(self, act: _Active):
        act.timer = None
        if act.task is not None and not act.task.called:
            act.timed_out = True
            act.ctx.log.error("flow exceeded {s} s; cancelling it", s=self.max_flow_seconds)
            act.task.cancel()

    async def _run(self, act: _Active, flow: Flow):
        ctx, ch = act.ctx, act.ctx.channel
        name = ctx.flow
        try:
            await flow(ctx)
        except defer.CancelledError:
            if ch.hungup or not act.timed_out:
                act.outcome = "hangup"
                self.metrics[name]["hangup"] += 1
                ctx.log.info("flow ended by the caller's hang-up")
                return
            act.outcome = "failed"
            self.metrics[name]["failed"] += 1
            self.metrics[name]["timeout"] += 1
            await self._rescue(ctx, "timeout", media_may_run=True)
            return
        except Exception as exc:
            if ch.hungup or getattr(exc, "code", None) in _GONE_CODES:
                act.outcome = "hangup"
                self.metrics[name]["hangup"] += 1
                ctx.log.info("flow ended: the channel is gone ({exc})", exc=exc)
                return
            act.outcome = "failed"
            self.metrics[name]["failed"] += 1
            if self._link_lost(exc):
                ctx.log.warn("flow interrupted, the CTI link is down ({exc}); apology and transfer to {queue} "
                             "once it is back", exc=exc, queue=self.fallback_queue)
            else:
                ctx.log.failure("flow raised; apology and transfer to {queue}", queue=self.fallback_queue)
            await self._rescue(ctx, "error", media_may_run=self._link_lost(exc))
            return
        act.outcome = "completed"
        self.metrics[name]["completed"] += 1
        if ch.finished is None and not ch.hungup:
            ctx.log.info("flow returned without ending the call: goodbye and hang up")
            if ch.answered:
                await self._quiet(lambda: ch.play(*self.goodbye), ctx, "goodbye prompt")
            await self._quiet(lambda: ch.hangup(CAUSE_NORMAL), ctx, "hang-up")

    async def _rescue(self, ctx: FlowContext, why: str, *, media_may_run: bool = False):
        """No caller left in silence: apology, then the fallback queue; hang up if even that fails.

        ``media_may_run``: the flow was interrupted inside an operation (timeout, lost link) that may still be
        playing or collecting in the daemon; it is stopped first.
        """
        ch = ctx.channel
        if ch.finished is not None or ch.hungup:
            return
        if media_may_run:
            await self._quiet(ch.stop, ctx, "stop the interrupted media")
        if not ch.answered:
            # a 409 here usually means the call is already up (answered outside the FlowChannel): carry on
            await self._quiet(ch.answer, ctx, "answer before apology")
        if ch.hungup:
            return
        await self._quiet(lambda: ch.play(*self.apology), ctx, "apology prompt")
        if ch.hungup:
            return
        queue = self.fallback_queue
        if not await self._quiet(lambda: ch.transfer(queue=queue), ctx, f"transfer to {queue}"):
            await self._quiet(lambda: ch.hangup(CAUSE_TEMPORARY_FAILURE), ctx, "hang-up after failed transfer")
        else:
            ctx.log.info("caller transferred to {queue} after flow {why}", queue=self.fallback_queue, why=why)

    async def _quiet(self, op: Callable[[], defer.Deferred], ctx: FlowContext, what: str) -> bool:
        """Run a runner operation; a failure is logged (not raised). Cancellation still propagates.

        When the CTI connection is down (503) the operation waits for libcti's reconnect (``cti.resync``) and is
        tried again: the caller is still on the line in the daemon and must not be left in silence.
        """
        for _attempt in range(_LINK_RETRIES + 1):
            try:
                await op()
                return True
            except defer.CancelledError:
                raise
            except Exception as exc:
                code = getattr(exc, "code", None)
                if self._link_lost(exc) and not ctx.channel.hungup and _attempt < _LINK_RETRIES:
                    ctx.log.warn("{what}: CTI link down; waiting for the reconnect", what=what)
                    await self.link_up()
                    if ctx.channel.hungup:
                        return False
                    continue
                if not ctx.channel.hungup and code not in _GONE_CODES:
                    ctx.log.error("{what} failed: {exc}", what=what, exc=exc)
                return False
        return False

    def _link_lost(self, exc) -> bool:
        """A 503 because libcti has no connection (not, say, a database the daemon cannot reach)."""
        return getattr(exc, "code", None) == 503 and not getattr(self.client, "connected", True)

    def link_up(self) -> defer.Deferred:
        """Fires when the client is connected: at once, or at the next ``cti.resync`` (after the runner has
        dropped the flows whose calls ended meanwhile)."""
        if getattr(self.client, "connected", True):
            return defer.succeed(None)
        d = defer.Deferred(lambda d: self._link_waiters.remove(d) if d in self._link_waiters else None)
        self._link_waiters.append(d)
        return d

    def _task_error(self, failure, act: _Active):
        if failure.check(defer.CancelledError):
            if act.outcome is None:
                act.outcome = "hangup"
                self.metrics[act.ctx.flow]["hangup"] += 1
            return None
        act.ctx.log.failure("IVR runner error", failure=failure)
        return None

    def _task_done(self, _, act: _Active, channel_id: str):
        if act.timer is not None and act.timer.active():
            act.timer.cancel()
        act.timer = None
        if self._active.get(channel_id) is act:
            del self._active[channel_id]
        act.ctx.log.debug("flow finished: {outcome}", outcome=act.outcome)
        if not self._active:
            waiters, self._done_waiters = self._done_waiters, []
            for d in waiters:
                d.callback(None)
        return None

    def _overflow(self, channel_id: str, data: dict):
        self.totals["rejected"] += 1
        ch = self.client.channel(channel_id, data.get("call"))
        if self.overflow == "queue":
            self.log.warn("{n} flows running (limit): call on {channel} sent to {queue}", n=len(self._active),
                          channel=channel_id, queue=self.fallback_queue)
            d = ch.transfer(queue=self.fallback_queue)
        else:
            self.log.warn("{n} flows running (limit): call on {channel} rejected (cause 34)", n=len(self._active),
                          channel=channel_id)
            d = ch.hangup(cause=CAUSE_NO_CIRCUIT)
        d.addErrback(lambda f: self.log.warn("overflow handling of {channel} failed: {err}", channel=channel_id,
                                             err=f.getErrorMessage()))


@dataclass
class _SyntheticEvent:
    name: str
    data: dict
    seq: int | None = None
