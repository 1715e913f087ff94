"""channel.moved (China No.1 dual seizure: a call goes on on another timeslot) in the agents' ownership index:
the new channel belongs to the call, the old one no longer does."""
from __future__ import annotations

from ctid.cti.visibility import OwnershipIndex


def fan(index, name, data):
    index.before(name, data)
    index.after(name, data)


def test_moved_channel_follows_the_call():
    ix = OwnershipIndex()
    fan(ix, "call.offered", {"call": "c1", "agent": "1001", "queue": "q", "calling": "1", "called": "2"})
    fan(ix, "channel.ringing", {"channel": "no1/3", "call": "c1"})
    assert ix.agent_may_see("1001", "channel.dtmf", {"channel": "no1/3", "call": None})
    fan(ix, "channel.moved", {"channel": "no1/3", "to": "no1/2", "call": "c1", "reason": "dual seizure"})
    assert ix.channel_call.get("no1/2") == "c1" and "no1/3" not in ix.channel_call
    # an event naming only the channel: the agent sees its call's new channel, not the one it left
    assert ix.agent_may_see("1001", "channel.dtmf", {"channel": "no1/2", "call": None})
    assert not ix.agent_may_see("1001", "channel.dtmf", {"channel": "no1/3", "call": None})
    assert not ix.agent_may_see("1002", "channel.dtmf", {"channel": "no1/2", "call": None})


def test_moved_without_a_call_changes_nothing():
    ix = OwnershipIndex()
    fan(ix, "channel.moved", {"channel": "no1/3", "to": None, "call": None})
    assert ix.channel_call == {}
