"""The far end of the hospital end-to-end test, run by ``hwsim exchange --script`` in its own process.

Phase 1 (three callers at once):
* ``info`` over SS7: dials the hospital number, hears the welcome (compared with the reference rendering), presses
  2 as DTMF tones, hears the hospital information and then the department list (compared with its reference),
  hangs up (REL/RLC).
* ``agent`` over China No.1: hears the welcome, presses 0, waits in the queue; the test's libcti agent answers the
  offered call on the agent's extension (FXS port ``agent_port``), whose telephone then goes off hook (the agent
  puts on the handset); a 1 kHz tone from the caller must reach the agent's phone and a 600 Hz tone from the phone
  must reach the caller; the caller hangs up (clear-forward).
* ``fxo`` on an exchange line (FXO port 0) with FSK caller ID: hears the welcome and hangs up (on-hook).
Phase 2: a caller over SS7 stays in the IVR (emits ``in_call``) while the test kills the daemon with SIGKILL; the
exchange sees the call released when the link fails; after the daemon restarts it waits for the linkset to come
back, reports whether a circuit group reset (GRS) arrived, and places a call on SS7 and on China No.1 that both
must be answered with the welcome prompt (no circuit or channel stuck).
"""
from twisted.internet import defer


def _sim(caller, ctx, name, audio):
    ref = ctx.references.get(name)
    return None if ref is None else round(caller.similarity(ref, audio), 3)


async def info_call(ctx, called, calling):
    c = ctx.caller("info")
    r = await c.dial("ss7", called, calling=calling, timeout=20)
    res = {"event": "info", "dial": r.as_dict()}
    if r.answered:
        welcome = await c.hear(3.0)
        res["welcome_speech"] = c.heard_speech(welcome)
        res["welcome_match"] = _sim(c, ctx, "welcome", welcome)
        await c.press("2")
        deps = await c.hear(float(ctx.args.get("deps_hear", 30.0)))
        res["deps_speech"] = c.heard_speech(deps)
        res["deps_match"] = _sim(c, ctx, "deps", deps)
        res["deps_match_welcome"] = _sim(c, ctx, "welcome", deps)
        await c.hangup()
    res["cleared_by"], res["cause"], res["view"] = c.cleared_by, c.cause, c.seen()
    ctx.emit(**res)
    return res


async def agent_call(ctx, called, calling, port):
    c = ctx.caller("agent-caller")
    r = await c.dial("no1", called, calling=calling, timeout=20)
    res = {"event": "agent", "dial": r.as_dict()}
    if not r.answered:
        ctx.emit(**res)
        return res
    welcome = await c.hear(2.0)
    res["welcome_speech"] = c.heard_speech(welcome)
    res["welcome_match"] = _sim(c, ctx, "welcome", welcome)
    await c.press("0")
    phone = ctx.ex.phones[port]
    # the extension rings when the call is offered (China cadence: 1 s on, 4 s off); the libcti agent answers it
    # from the desktop, which stops the ringing for good, and then lifts the handset. If it rings again, nobody
    # answered through CTI: the agent answers by lifting the handset when it rings.
    await ctx.wait_until(lambda: phone.ringing, 30, "the agent's extension rings")
    res["extension_rang"] = True
    await ctx.wait_until(lambda: not phone.ringing, 3, "the end of the first ring")
    try:
        await ctx.wait_until(lambda: phone.ringing, 5.5, "a second ring")
        res["answered_by"] = "handset"
    except TimeoutError:
        res["answered_by"] = "cti"
    a = ctx.caller("agent-phone")
    # answered through CTI: the handset goes off hook now, without a ring
    d = a.pickup(port, timeout=10, wait_ring=res["answered_by"] == "handset")
    leg = a.leg
    await d
    await ctx.sleep(0.5)
    # caller -> agent: 1 kHz; agent -> caller: 600 Hz (at the same time: both directions of the bridge)
    h_agent = a.hear(1.2)
    h_caller = c.hear(1.2)
    await defer.gatherResults([c.send_tone(1000.0, 1.0), a.send_tone(600.0, 1.0)])
    heard_a, heard_c = await h_agent, await h_caller
    res["agent_hears_1000"] = a.detect_tone(1000.0, heard_a)
    res["agent_hears_600"] = a.detect_tone(600.0, heard_a)
    res["caller_hears_600"] = c.detect_tone(600.0, heard_c)
    res["caller_hears_1000"] = c.detect_tone(1000.0, heard_c)
    await c.hangup()
    await ctx.sleep(1.0)
    leg.release(16)
    res["cleared_by"], res["cause"], res["view"] = c.cleared_by, c.cause, c.seen()
    ctx.emit(**res)
    return res


async def fxo_call(ctx, called, calling):
    c = ctx.caller("fxo")
    r = await c.dial("analog/0", called, calling=calling, timeout=30)
    res = {"event": "fxo", "dial": r.as_dict()}
    if r.answered:
        welcome = await c.hear(3.0)
        res["welcome_speech"] = c.heard_speech(welcome)
        res["welcome_match"] = _sim(c, ctx, "welcome", welcome)
        await c.hangup()
    res["cleared_by"], res["cause"], res["view"] = c.cleared_by, c.cause, c.seen()
    ctx.emit(**res)
    return res


async def short_call(ctx, name, trunk, called, calling):
    c = ctx.caller(name)
    r = await c.dial(trunk, called, calling=calling, timeout=20)
    res = {"event": "after_restart", "trunk": trunk, "dial": r.as_dict()}
    if r.answered:
        welcome = await c.hear(2.5)
        res["welcome_match"] = _sim(c, ctx, "welcome", welcome)
        await c.hangup()
    res["cleared_by"], res["cause"] = c.cleared_by, c.cause
    ctx.emit(**res)
    return res


async def scenario(ctx):
    a = ctx.args
    called = a.get("called", "114")
    port = int(a.get("agent_port", 2))
    await ctx.wait_ready(60)
    ctx.emit(event="ready", trunks=ctx.ex.state())
    await ctx.sleep(1.0)
    results = await defer.gatherResults([
        defer.ensureDeferred(info_call(ctx, called, a.get("info_calling", "13800138001"))),
        defer.ensureDeferred(agent_call(ctx, called, a.get("agent_calling", "13900139002"), port)),
        defer.ensureDeferred(fxo_call(ctx, called, a.get("fxo_calling", "13700137003"))),
    ], consumeErrors=True)
    ctx.emit(event="phase1", ok=all(r["dial"]["outcome"] == "answered" for r in results))
    if a.get("kill") != "1":
        return True

    # phase 2: a call in the IVR while the daemon is killed
    ss7 = ctx.ex.trunks["ss7"]
    c = ctx.caller("killed")
    r = await c.dial("ss7", called, calling="13600136004", timeout=20)
    if not r.answered:
        ctx.emit(event="in_call", ok=False, dial=r.as_dict())
        return False
    await c.hear(1.0)
    mark = len(ss7.messages)
    ctx.emit(event="in_call", ok=True, cic=getattr(c.leg, "cic", None))
    await ctx.wait_until(lambda: c.state != "answered", 60, "the killed daemon's call is released")
    ctx.emit(event="released", state=c.state, cause=c.cause, view=c.seen()[-4:])
    await ctx.wait_until(lambda: not ctx.ex.ready, 30, "the exchange notices the daemon is gone")
    await ctx.wait_ready(120)
    await ctx.wait_until(lambda: any(m[2] == "rx" and m[3] in ("GRS", "RSC") for m in ss7.messages[mark:]), 30,
                         "a circuit reset from the restarted daemon")
    resets = sorted({m[3] for m in ss7.messages[mark:] if m[2] == "rx" and m[3] in ("GRS", "RSC")})
    ctx.emit(event="restarted", resets=resets, trunks=ctx.ex.state())
    await ctx.sleep(1.0)
    after = await defer.gatherResults([
        defer.ensureDeferred(short_call(ctx, "after-ss7", "ss7", called, "13500135005")),
        defer.ensureDeferred(short_call(ctx, "after-no1", "no1", called, "13400134006")),
    ], consumeErrors=True)
    await ctx.sleep(1.0)
    ctx.emit(event="phase2", ok=all(r["dial"]["outcome"] == "answered" for r in after), trunks=ctx.ex.state())
    return True
