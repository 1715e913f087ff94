"""The agent desktop of the hospital end-to-end test, as its own process on libcti only.

    python agent_desk.py ENDPOINT USER PASSWORD EXTENSION

Logs in, logs the agent in on EXTENSION, goes ready, and for the first offered call: prints the offer, looks up the
caller (screen pop, ``patient.lookup``), answers the call on the extension through CTI, and prints every event of
the call until it ends and the agent leaves ``busy``. One JSON object per line on stdout.
"""
import json
import sys

from twisted.internet import defer, task

from libcti import connect


def out(**kw):
    print(json.dumps(kw, ensure_ascii=False, default=str), flush=True)


async def main(reactor, endpoint, user, password, extension):
    client = await connect(endpoint, user=user, password=password, reactor=reactor)
    offered = defer.Deferred()
    ended = defer.Deferred()
    seen = []

    def on_event(ev):
        seen.append(ev.name)
        out(event=ev.name, data=ev.data)
        if ev.name == "call.offered" and not offered.called:
            offered.callback(ev)
        if ev.name == "agent.state" and ev.data.get("state") in ("wrap_up", "ready") and offered.called \
                and "call.bridged" in seen and not ended.called:
            ended.callback(ev)

    client.on("*", on_event)
    await client.subscribe(["call.*", "agent.*", "channel.*"])
    agent = client.agent(user)
    await agent.login(extension=extension)
    await agent.ready()
    out(event="desk.ready", agent=user, extension=extension)
    ev = await offered
    try:
        pop = await client.request("patient.lookup", number=ev.data.get("calling") or "")
    except Exception as exc:  # noqa: BLE001 - reported, the call is still answered
        pop = {"error": str(exc)}
    out(event="desk.screen_pop", calling=ev.data.get("calling"), patient=pop)
    await task.deferLater(reactor, 1.5, lambda: None)     # the agent reads the screen pop, then clicks "answer"
    await client.channel(extension).answer()
    out(event="desk.answered", extension=extension)
    await ended
    snap = await client.snapshot()
    out(event="desk.done", agent=[a for a in snap.get("agents", []) if a.get("agent") == user])
    await client.close()


if __name__ == "__main__":
    task.react(lambda reactor, *a: defer.ensureDeferred(main(reactor, *a)), sys.argv[1:])
