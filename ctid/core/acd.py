"""The ACD: queues (skill groups) of agents, the agent state machine, offering calls to the longest-idle agent.

Agent states: ``logged_out`` -> login (with an extension, the channel id of the agent's phone) -> ``not_ready``
<-> ``ready`` -> (a call is offered: the extension rings) ``offered`` -> (the agent answers: the caller and the
extension are bridged) ``busy`` -> (the call ends) ``wrap_up`` -> (after the queue's wrap-up time) ``ready``.
An offer not answered within the queue's ``offer_timeout`` goes to the next ready agent and the agent who did
not answer is set ``not_ready`` (reason "no answer"). While waiting the caller hears the queue's hold prompt
in a loop. Events: ``call.queued``, ``call.offered``, ``agent.state``.
"""
from __future__ import annotations

import logging

from .errors import EngineError
from .trunks.base import IDLE

log = logging.getLogger("ctid.core.acd")

STATES = ("logged_out", "not_ready", "ready", "offered", "busy", "wrap_up")


class Agent:
    def __init__(self, agent_id: str):
        self.id = agent_id
        self.state = "logged_out"
        self.extension: str | None = None
        self.call = None
        self.queues: list[str] = []
        self.idle_since = 0.0
        self.timer = None
        self.reason = ""

    def info(self) -> dict:
        return {"agent": self.id, "state": self.state, "extension": self.extension,
                "call": self.call.id if self.call is not None else None, "queues": list(self.queues)}


class Queue:
    def __init__(self, cfg):
        self.name = cfg.name
        self.cfg = cfg
        self.waiting: list = []          # [(call, channel)]


class Acd:
    def __init__(self, engine, queues, clock):
        self.engine = engine
        self.clock = clock
        self.queues = {q.name: Queue(q) for q in queues}
        self.agents: dict[str, Agent] = {}
        for q in queues:
            for a in q.agents:
                self._agent(a).queues.append(q.name)
        self.offers: dict[str, tuple] = {}      # call id -> (agent, extension channel, timer, queue)

    def add_agent(self, agent_id: str, queues) -> Agent:
        """Register an agent (e.g. from the database) as a member of ``queues`` (added to what it has)."""
        if not isinstance(agent_id, str) or not agent_id:
            raise EngineError(400, f"agent: {agent_id!r} is not an agent name")
        for q in queues:
            if q not in self.queues:
                raise EngineError(404, f"queue {q!r} does not exist (queues: {', '.join(self.queues)})")
        agent = self._agent(agent_id)
        for q in queues:
            if q not in agent.queues:
                agent.queues.append(q)
        return agent

    def _agent(self, agent_id: str) -> Agent:
        if agent_id not in self.agents:
            self.agents[agent_id] = Agent(agent_id)
        return self.agents[agent_id]

    def _get(self, agent_id) -> Agent:
        if not isinstance(agent_id, str) or agent_id not in self.agents:
            raise EngineError(404, f"agent {agent_id!r} is not in any queue")
        return self.agents[agent_id]

    def _set(self, agent: Agent, state: str, reason: str = "") -> None:
        if agent.timer is not None and agent.timer.active():
            agent.timer.cancel()
        agent.timer = None
        agent.state, agent.reason = state, reason
        if state == "ready":
            agent.idle_since = self.clock.seconds()
        self.engine.emit("agent.state", agent=agent.id, state=state, reason=reason)
        if state == "ready":
            self.dispatch()

    # ------------------------------------------------------------------------------------------ agent ops
    def login(self, agent_id: str, extension: str) -> None:
        agent = self._get(agent_id)
        ch = self.engine._chan(extension)
        if ch.kind != "fxs":
            raise EngineError(400, f"extension {extension}: an agent's extension is an FXS port, not {ch.kind}")
        for other in self.agents.values():
            if other is not agent and other.extension == extension and other.state != "logged_out":
                raise EngineError(409, f"extension {extension} is in use by agent {other.id}")
        if agent.state not in ("logged_out", "not_ready", "ready"):
            raise EngineError(409, f"agent {agent_id} is {agent.state}")
        agent.extension = extension
        self._set(agent, "not_ready", "login")

    def logout(self, agent_id: str) -> None:
        agent = self._get(agent_id)
        if agent.state in ("offered", "busy"):
            raise EngineError(409, f"agent {agent_id} is {agent.state}: log out after the call")
        agent.extension = None
        self._set(agent, "logged_out")

    def ready(self, agent_id: str) -> None:
        agent = self._get(agent_id)
        if agent.state == "logged_out":
            raise EngineError(409, f"agent {agent_id} is logged out")
        if agent.state in ("offered", "busy"):
            raise EngineError(409, f"agent {agent_id} is {agent.state}")
        self._set(agent, "ready")

    def not_ready(self, agent_id: str, reason: str = "") -> None:
        agent = self._get(agent_id)
        if not isinstance(reason, str) or len(reason) > 200:
            raise EngineError(400, "reason: a string of at most 200 characters")
        if agent.state == "logged_out":
            raise EngineError(409, f"agent {agent_id} is logged out")
        if agent.state == "busy":
            raise EngineError(409, f"agent {agent_id} is busy on a call")
        if agent.state == "offered":
            self._withdraw(agent.call, requeue=True)
        self._set(agent, "not_ready", reason)

    # ------------------------------------------------------------------------------------------ queueing
    def enqueue(self, call, ch, queue: str) -> None:
        q = self.queues.get(queue) if isinstance(queue, str) else None
        if q is None:
            raise EngineError(404, f"queue {queue!r} does not exist (queues: {', '.join(self.queues)})")
        if call.state in ("queued", "offered"):
            raise EngineError(409, f"call {call.id} is already {call.state} in queue {call.queue}")
        call.state, call.queue = "queued", queue
        q.waiting.append((call, ch))
        self.engine.emit("call.queued", call=call.id, queue=queue, position=len(q.waiting))
        self.engine.hold(ch, q.cfg.hold)
        self.dispatch()

    def waiting(self) -> int:
        return sum(len(q.waiting) for q in self.queues.values())

    def dispatch(self) -> None:
        for q in self.queues.values():
            while q.waiting:
                agent = self._pick(q)
                if agent is None:
                    break
                call, ch = q.waiting.pop(0)
                self._offer(q, call, ch, agent)

    def _pick(self, q: Queue) -> Agent | None:
        ready = [a for a in self.agents.values() if q.name in a.queues and a.state == "ready"
                 and a.extension is not None and self.engine.channels[a.extension].state == IDLE]
        return min(ready, key=lambda a: a.idle_since) if ready else None

    def _offer(self, q: Queue, call, ch, agent: Agent) -> None:
        ext = self.engine.channels[agent.extension]
        try:
            ext.dial(call.called, call.calling)
        except Exception as exc:  # noqa: BLE001 - the phone is off hook: not ready, try the next agent
            self._set(agent, "not_ready", f"extension unavailable: {exc}")
            q.waiting.insert(0, (call, ch))
            return
        self.engine._add_leg(call, ext)
        call.state, call.agent = "offered", agent.id
        agent.call = call
        timer = self.clock.callLater(q.cfg.offer_timeout, self._offer_timeout, call.id)
        self.offers[call.id] = (agent, ext, timer, q, ch)
        self._set(agent, "offered")
        self.engine.emit("call.offered", call=call.id, agent=agent.id, queue=q.name, calling=call.calling,
                         called=call.called, channel=ext.id)

    def _offer_timeout(self, call_id: str) -> None:
        offer = self.offers.get(call_id)
        if offer is None:
            return
        agent = offer[0]
        self._withdraw(self.engine.calls.get(call_id), requeue=True, timer_fired=True)
        self._set(agent, "not_ready", "no answer")
        self.dispatch()

    def _withdraw(self, call, requeue: bool, timer_fired: bool = False) -> None:
        """Take an offer back (stop ringing the extension); the caller goes back to the head of the queue."""
        if call is None:
            return
        offer = self.offers.pop(call.id, None)
        if offer is None:
            return
        agent, ext, timer, q, ch = offer
        if not timer_fired and timer.active():
            timer.cancel()
        agent.call = None
        if ext.direction is not None:
            ext.hangup(16)                 # stops the ringing; the engine drops the leg (channel.hangup)
        if ext in call.legs:
            call.legs.remove(ext)
        self.engine.chan_call.pop(ext.id, None)
        if requeue and call.state != "ended":
            call.state, call.agent = "queued", None
            q.waiting.insert(0, (call, ch))
            self.engine.emit("call.queued", call=call.id, queue=q.name, position=1)

    # ------------------------------------------------------------------------------------------ from the engine
    def leg_answered(self, call, ch) -> None:
        offer = self.offers.get(call.id)
        if offer is None or offer[1] is not ch:
            return
        agent, ext, timer, q, caller = self.offers.pop(call.id)
        if timer.active():
            timer.cancel()
        self._set(agent, "busy")
        self.engine._connect(call, caller, ext)

    def leg_gone(self, call, ch, cause) -> None:
        offer = self.offers.get(call.id)
        if offer is not None and offer[1] is ch:
            agent = offer[0]
            self._withdraw(call, requeue=True)
            self._set(agent, "not_ready", "extension cleared")
            self.dispatch()

    def call_ended(self, call) -> None:
        for q in self.queues.values():
            q.waiting = [(c, ch) for c, ch in q.waiting if c is not call]
        if call.id in self.offers:
            agent = self.offers[call.id][0]
            self._withdraw(call, requeue=False)
            self._set(agent, "ready", "caller hung up")
            return
        for agent in self.agents.values():
            if agent.call is call:
                agent.call = None
                if agent.state == "busy":
                    wrap = self.queues[call.queue].cfg.wrap_up if call.queue in self.queues else 0.0
                    self._set(agent, "wrap_up")
                    agent.timer = self.clock.callLater(wrap, self._wrap_done, agent)

    def call_merged(self, call) -> None:
        self.call_ended(call)

    def _wrap_done(self, agent: Agent) -> None:
        agent.timer = None
        if agent.state == "wrap_up":
            self._set(agent, "ready")

    # ------------------------------------------------------------------------------------------ info
    def agents_info(self) -> list[dict]:
        return [a.info() for a in self.agents.values()]

    def queues_info(self) -> list[dict]:
        out = []
        for q in self.queues.values():
            ready = sum(1 for a in self.agents.values() if q.name in a.queues and a.state == "ready")
            out.append({"queue": q.name, "waiting": len(q.waiting), "ready_agents": ready})
        return out
