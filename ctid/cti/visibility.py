"""Who sees what (spec section 9): number masking for monitors and the call ownership index for agents."""
from __future__ import annotations

NUMBER_FIELDS = ("calling", "called")


def mask_number(number):
    """All but the last 4 characters become '*'; 4 characters or fewer are masked whole."""
    if not isinstance(number, str):
        return number
    if len(number) <= 4:
        return "*" * len(number)
    return "*" * (len(number) - 4) + number[-4:]


def mask_data(data: dict) -> dict:
    if not any(f in data for f in NUMBER_FIELDS):
        return data
    out = dict(data)
    for f in NUMBER_FIELDS:
        if f in out:
            out[f] = mask_number(out[f])
    return out


def mask_snapshot(snap: dict) -> dict:
    out = dict(snap)
    for key in ("channels", "calls", "agents", "queues"):
        if key in out:
            out[key] = [mask_data(item) for item in out[key]]
    return out


def agent_view(snap: dict, agent: str | None) -> dict:
    """The snapshot as an agent may see it: own AgentInfo, own calls, their channels and extension, queue counts."""
    agents = [a for a in snap.get("agents", []) if agent is not None and a.get("agent") == agent]
    extension = agents[0].get("extension") if agents else None
    calls = [c for c in snap.get("calls", []) if agent is not None and c.get("agent") == agent]
    call_ids = {c.get("call") for c in calls}
    channels = [ch for ch in snap.get("channels", [])
                if (ch.get("call") is not None and ch.get("call") in call_ids)
                or (extension is not None and ch.get("channel") == extension)]
    return {"channels": channels, "calls": calls, "agents": agents, "queues": list(snap.get("queues", []))}


class OwnershipIndex:
    """Which agent holds which call, which channel belongs to which call, and agents' extensions.

    Kept from the engine's events (seeded from a snapshot) so that fan-out can decide per event without asking
    the engine. `before(event)` runs before an event is fanned out (so a `call.offered` reaches its agent),
    `after(event)` once it has been (so `call.ended` still reaches the agent who held the call).
    """

    def __init__(self):
        self.call_agent: dict[str, str] = {}
        self.channel_call: dict[str, str] = {}
        self.call_numbers: dict[str, set] = {}
        self.extension_agent: dict[str, str] = {}

    def seed(self, snap: dict) -> None:
        for c in snap.get("calls", []):
            if c.get("agent") is not None and c.get("call") is not None:
                self.call_agent[c["call"]] = c["agent"]
        for ch in snap.get("channels", []):
            if ch.get("call") is not None:
                self.channel_call[ch["channel"]] = ch["call"]
                self._numbers(ch["call"], ch)
        for a in snap.get("agents", []):
            if a.get("extension"):
                self.extension_agent[a["extension"]] = a["agent"]

    def _numbers(self, call, data) -> None:
        nums = {data.get(f) for f in NUMBER_FIELDS} - {None, ""}
        if nums:
            self.call_numbers.setdefault(call, set()).update(nums)

    def before(self, name: str, data: dict) -> None:
        call = data.get("call")
        channel = data.get("channel")
        if call is not None and isinstance(channel, str):
            self.channel_call[channel] = call
        if name == "channel.incoming" and call is not None:
            self._numbers(call, data)
        elif name == "call.offered" and call is not None:
            agent = data.get("agent")
            if agent is not None:
                self.call_agent[call] = agent
            self._numbers(call, data)
        elif name == "channel.moved" and call is not None and isinstance(data.get("to"), str):
            self.channel_call[data["to"]] = call     # the call goes on on that channel (dual seizure)
        elif name == "call.bridged" and call is not None:
            for ch in data.get("channels") or ():
                if isinstance(ch, str):
                    self.channel_call[ch] = call

    def after(self, name: str, data: dict) -> None:
        if name in ("channel.hangup", "channel.moved"):
            self.channel_call.pop(data.get("channel"), None)
        elif name == "call.ended":
            call = data.get("call")
            self.call_agent.pop(call, None)
            self.call_numbers.pop(call, None)
            for ch in [ch for ch, c in self.channel_call.items() if c == call]:
                del self.channel_call[ch]
        elif name == "agent.state" and data.get("state") == "logged_out":
            agent = data.get("agent")
            for ext in [e for e, a in self.extension_agent.items() if a == agent]:
                del self.extension_agent[ext]

    def agent_may_see(self, agent: str | None, name: str, data: dict) -> bool:
        if agent is None:
            return False
        if name.startswith("agent."):
            return data.get("agent") == agent
        call = data.get("call")
        if call is not None and self.call_agent.get(call) == agent:
            return True
        channel = data.get("channel")
        if channel is not None:
            if self.extension_agent.get(channel) == agent:
                return True
            owner_call = self.channel_call.get(channel)
            if owner_call is not None and self.call_agent.get(owner_call) == agent:
                return True
        return False
