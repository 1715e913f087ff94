"""Channel and Agent helpers of libcti: the ops of one channel or one agent as methods."""
from __future__ import annotations

from twisted.internet import defer

from .client import CtiError, Event


def _prompt(p):
    """A prompt dict as is; a string is a catalogue prompt name."""
    if isinstance(p, dict):
        return p
    if isinstance(p, str):
        return {"prompt": p}
    raise TypeError(f"a prompt is a dict or a catalogue name, not {type(p).__name__}")


class Channel:
    """One channel (call leg), e.g. client.channel("ss7/5").

    All methods return Deferreds. Once the channel has hung up (`hungup` is True) every op errbacks
    CtiError(409, "conflict") without asking the server.
    """

    def __init__(self, client, channel_id: str, call: str | None = None):
        self.client = client
        self.id = channel_id
        self.call = call
        self.hungup = False
        self.hangup_event: Event | None = None
        self._waiters: list[defer.Deferred] = []

    def __repr__(self):
        return f"<Channel {self.id} call={self.call} {'hung up' if self.hungup else 'live'}>"

    def _hungup_by(self, ev: Event) -> None:
        if self.hungup:
            return
        self.hungup = True
        self.hangup_event = ev
        self.client._forget_channel(self)
        waiters, self._waiters = self._waiters, []
        for d in waiters:
            d.callback(ev)

    def wait_hangup(self) -> defer.Deferred:
        """Fires with the channel.hangup Event when the channel clears (at once if it already has)."""
        if self.hungup:
            return defer.succeed(self.hangup_event)
        d = defer.Deferred(lambda d: self._waiters.remove(d) if d in self._waiters else None)
        self._waiters.append(d)
        return d

    def _op(self, op: str, request_timeout=-1, **args) -> defer.Deferred:
        if self.hungup:
            return defer.fail(CtiError(409, "conflict", f"channel {self.id} has hung up"))
        return self.client.request(op, request_timeout=request_timeout, channel=self.id, **args)

    def answer(self) -> defer.Deferred:
        return self._op("answer")

    def hangup(self, cause: int = 16) -> defer.Deferred:
        return self._op("hangup", cause=cause)

    def play(self, *prompts, barge_in: bool = False, request_timeout=None) -> defer.Deferred:
        """Play prompts (dicts, or catalogue names); fires with {"reason", "digit"}."""
        return self._op("play", request_timeout=request_timeout, prompts=[_prompt(p) for p in prompts],
                        barge_in=barge_in)

    def say(self, text: str, voice: str = "zh", barge_in: bool = False, request_timeout=None) -> defer.Deferred:
        return self.play({"text": text, "voice": voice}, barge_in=barge_in, request_timeout=request_timeout)

    def collect(self, prompts=(), *, min_digits: int = 1, max_digits: int = 1, timeout: float = 5.0,
                inter_digit_timeout: float = 3.0, terminators: str = "#", tries: int = 3, invalid_prompts=(),
                valid_regex: str | None = None, request_timeout=None) -> defer.Deferred:
        """play_and_get_digits; fires with {"digits", "reason", "tries"}."""
        if isinstance(prompts, (dict, str)):
            prompts = [prompts]
        return self._op("collect", request_timeout=request_timeout, prompts=[_prompt(p) for p in prompts],
                        min_digits=min_digits, max_digits=max_digits, timeout=timeout,
                        inter_digit_timeout=inter_digit_timeout, terminators=terminators, tries=tries,
                        invalid_prompts=[_prompt(p) for p in invalid_prompts], valid_regex=valid_regex)

    def record(self, *, max_seconds: float = 60.0, silence_seconds: float | None = 5.0, terminators: str = "#",
               beep: bool = True, purpose: str = "recording", request_timeout=None) -> defer.Deferred:
        """Record to a WAV on the server; fires with {"recording", "path", "duration", "reason"}."""
        return self._op("record", request_timeout=request_timeout, max_seconds=max_seconds,
                        silence_seconds=silence_seconds, terminators=terminators, beep=beep, purpose=purpose)

    def stop(self) -> defer.Deferred:
        """Stop the channel's play/collect/record."""
        return self._op("stop_media")

    def transfer(self, *, queue: str | None = None, to: str | None = None) -> defer.Deferred:
        if (queue is None) == (to is None):
            return defer.fail(ValueError("give exactly one of queue= or to="))
        args = {"queue": queue} if queue is not None else {"to": to}
        return self._op("transfer", **args)

    def bridge(self, other) -> defer.Deferred:
        other_id = other.id if isinstance(other, Channel) else other
        if self.hungup:
            return defer.fail(CtiError(409, "conflict", f"channel {self.id} has hung up"))
        return self.client.request("bridge", a=self.id, b=other_id)


class Agent:
    """An agent's ops, e.g. client.agent("1001").login(extension="analog/2")."""

    def __init__(self, client, agent_id: str):
        self.client = client
        self.id = agent_id

    def __repr__(self):
        return f"<Agent {self.id}>"

    def login(self, extension: str) -> defer.Deferred:
        return self.client.request("agent.login", agent=self.id, extension=extension)

    def logout(self) -> defer.Deferred:
        return self.client.request("agent.logout", agent=self.id)

    def ready(self) -> defer.Deferred:
        return self.client.request("agent.ready", agent=self.id)

    def not_ready(self, reason: str = "") -> defer.Deferred:
        return self.client.request("agent.not_ready", agent=self.id, reason=reason)
