"""IvrRunner: routing, one task per call, hang-up cancellation, the no-silence rules, concurrency, metrics."""
from __future__ import annotations

import pytest
from twisted.internet import defer, task
from twisted.logger import globalLogPublisher

from ivr_fakes import Caller, FakeClient, FakeCtiError, during
from libcti.ivr import IvrRunner, RouteError, compile_routes


@pytest.fixture
def logged():
    events = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def failures(events):
    return [e for e in events if "log_failure" in e]


def make(flows, routes=None, **kw):
    client = FakeClient()
    runner = IvrRunner(client, routes or {"114": next(iter(flows))}, flows, clock=client.clock, **kw)
    d = defer.ensureDeferred(runner.start())
    assert d.called
    return client, runner


async def answer_and_transfer(ctx):
    await ctx.channel.answer()
    await ctx.channel.play({"prompt": "welcome"})
    await ctx.channel.transfer(queue="cardiology")


async def answer_and_return(ctx):
    await ctx.channel.answer()
    await ctx.channel.play({"prompt": "welcome"})


async def just_return(ctx):
    return None


async def answer_then_raise(ctx):
    await ctx.channel.answer()
    await ctx.channel.play({"text": "您好", "voice": "zh"})
    raise RuntimeError("bug in the flow")


async def raise_at_once(ctx):
    raise KeyError("no such department")


async def self_hangup(ctx):
    await ctx.channel.answer()
    await ctx.channel.hangup(cause=16)


# --- routing ------------------------------------------------------------------------------------------------

def test_route_exact_before_prefix_and_longest_prefix_wins():
    flows = {"a": just_return, "b": just_return, "c": just_return}
    r = IvrRunner(FakeClient(), {"114": "a", "11*": "b", "1*": "c"}, flows, clock=task.Clock())
    assert r.route("114") == "a"
    assert r.route("1145") == "b"
    assert r.route("110") == "b"
    assert r.route("120") == "c"
    assert r.route("200") is None
    assert r.route(None) is None
    catch_all = IvrRunner(FakeClient(), {"*": "a"}, flows, clock=task.Clock())
    assert catch_all.route("95566") == "a"


@pytest.mark.parametrize("routes, message", [
    ({"114": "nope"}, "names flow 'nope'"),
    ({"1x4": "a"}, "'1x4'"),
    ({"1*4*": "a"}, "prefix route"),
    ({"": "a"}, "called number"),
])
def test_bad_routes_are_refused_with_a_clear_message(routes, message):
    with pytest.raises(RouteError, match=message):
        compile_routes(routes, {"a": just_return})


def test_bad_runner_arguments_are_refused():
    with pytest.raises(ValueError, match="max_active"):
        IvrRunner(FakeClient(), {}, {}, max_active=0, clock=task.Clock())
    with pytest.raises(ValueError, match="overflow"):
        IvrRunner(FakeClient(), {}, {}, overflow="drop", clock=task.Clock())


def test_start_subscribes_to_channel_events():
    client, runner = make({"f": just_return})
    assert client.subscriptions == [["channel.*"]]
    assert set(client.handlers) >= {"channel.incoming", "channel.hangup", "cti.resync"}


def test_unrouted_call_is_left_alone():
    client, runner = make({"f": answer_and_transfer})
    client.incoming("ss7/1", called="95566")
    assert client.ops == []
    assert runner.totals["unrouted"] == 1 and runner.metrics["f"]["started"] == 0


def test_prefix_route_runs_the_flow_with_the_call_details():
    seen = []

    async def flow(ctx):
        seen.append((ctx.channel.id, ctx.call, ctx.calling, ctx.called, ctx.category, ctx.trunk, ctx.flow))
        ctx.log.info("hello from {who}", who="flow")
        await ctx.channel.answer()
        await ctx.channel.transfer(queue="frontdesk")

    client, runner = make({"f": flow}, routes={"114*": "f"})
    call = client.incoming("no1/3", called="11401", calling="02088886666")
    assert seen == [("no1/3", call, "02088886666", "11401", 1, "no1", "f")]
    assert [o for _, o, _ in client.ops] == ["answer", "transfer"]


# --- outcomes -----------------------------------------------------------------------------------------------

def test_flow_that_transfers_is_completed_without_goodbye(logged):
    client, runner = make({"f": answer_and_transfer})
    client.incoming("ss7/1")
    assert [o for _, o, _ in client.ops] == ["answer", "play", "transfer"]
    assert client.ops[-1][2]["queue"] == "cardiology"
    assert runner.metrics["f"] == {"started": 1, "completed": 1, "failed": 0, "hangup": 0, "timeout": 0}
    assert runner.active == 0 and not failures(logged)


def test_flow_that_returns_leaves_no_silence_goodbye_and_hangup():
    client, runner = make({"f": answer_and_return})
    client.incoming("ss7/1")
    ops = client.ops_of("ss7/1")
    assert [o for o, _ in ops] == ["answer", "play", "play", "hangup"]
    assert ops[2][1]["prompts"] == [{"prompt": "goodbye"}]
    assert ops[3][1]["cause"] == 16
    assert runner.metrics["f"]["completed"] == 1 and runner.active == 0


def test_flow_that_returns_without_answering_is_hung_up_without_a_prompt():
    client, runner = make({"f": just_return})
    client.incoming("ss7/1")
    assert [o for o, _ in client.ops_of("ss7/1")] == ["hangup"]


def test_flow_hanging_up_itself_is_completed_not_cancelled(logged):
    client, runner = make({"f": self_hangup})
    client.incoming("ss7/1")
    assert [o for o, _ in client.ops_of("ss7/1")] == ["answer", "hangup"]
    assert runner.metrics["f"]["completed"] == 1 and runner.metrics["f"]["hangup"] == 0
    assert not failures(logged)


def test_flow_that_raises_gets_apology_and_fallback_queue(logged):
    client, runner = make({"f": answer_then_raise}, fallback_queue="frontdesk")
    client.incoming("ss7/2")
    ops = client.ops_of("ss7/2")
    assert [o for o, _ in ops] == ["answer", "play", "play", "transfer"]
    assert ops[2][1]["prompts"] == [{"prompt": "apology"}]
    assert ops[3][1] == {"queue": "frontdesk"}
    assert runner.metrics["f"]["failed"] == 1 and runner.metrics["f"]["completed"] == 0
    errs = failures(logged)
    assert len(errs) == 1 and errs[0]["log_failure"].check(RuntimeError)


def test_flow_that_raises_before_answering_is_answered_for_the_apology():
    client, runner = make({"f": raise_at_once})
    client.incoming("ss7/2")
    assert [o for o, _ in client.ops_of("ss7/2")] == ["answer", "play", "transfer"]


def test_flow_that_answered_behind_the_runners_back_still_gets_apology_and_queue():
    async def flow(ctx):
        await ctx.channel.raw.answer()               # not through the FlowChannel: the runner does not know
        raise RuntimeError("bug")

    client, runner = make({"f": flow})
    client.incoming("ss7/2")
    ops = client.ops_of("ss7/2")
    assert [o for o, _ in ops] == ["answer", "answer", "play", "transfer"]      # the second answer: 409, go on
    assert ops[-1][1] == {"queue": "frontdesk"}


def test_failed_fallback_transfer_ends_in_a_hangup_not_silence():
    client, runner = make({"f": answer_then_raise})
    client.fail_ops["transfer"] = FakeCtiError(404, "not_found", "no queue frontdesk")
    client.incoming("ss7/2")
    ops = client.ops_of("ss7/2")
    assert [o for o, _ in ops] == ["answer", "play", "play", "transfer", "hangup"]
    assert ops[-1][1]["cause"] == 41


def test_flow_raising_channel_gone_counts_as_hangup_without_apology(logged):
    async def flow(ctx):
        await ctx.channel.answer()
        raise FakeCtiError(404, "not_found", "channel ss7/2 has no call")

    client, runner = make({"f": flow})
    client.incoming("ss7/2")
    assert [o for o, _ in client.ops_of("ss7/2")] == ["answer"]
    assert runner.metrics["f"]["hangup"] == 1 and runner.metrics["f"]["failed"] == 0
    assert not failures(logged)


# --- hang-up ------------------------------------------------------------------------------------------------

def test_caller_hangup_mid_prompt_cancels_the_flow_cleanly(logged):
    reached = []

    async def flow(ctx):
        await ctx.channel.answer()
        try:
            await ctx.channel.play({"text": "很长的提示", "voice": "zh"})
        except defer.CancelledError:
            reached.append("cancelled")
            raise
        reached.append("after play")
        await ctx.channel.transfer(queue="frontdesk")

    client, runner = make({"f": flow})
    client.incoming("ss7/3", caller=Caller(hangup_when=during("play", text="很长")))
    assert runner.active == 1 and reached == []
    client.clock.advance(1)
    assert reached == ["cancelled"]
    assert [o for o, _ in client.ops_of("ss7/3")] == ["answer", "play"]     # nothing after the hang-up
    assert runner.metrics["f"] == {"started": 1, "completed": 0, "failed": 0, "hangup": 1, "timeout": 0}
    assert runner.active == 0 and not failures(logged)


def test_flow_that_swallows_the_cancellation_is_stopped_at_its_next_operation(logged):
    async def flow(ctx):
        await ctx.channel.answer()
        try:
            await ctx.channel.play({"prompt": "welcome"})
        except Exception:
            pass                                     # wrong, but it must not reach the engine
        await ctx.channel.play({"prompt": "invalid"})

    client, runner = make({"f": flow})
    client.incoming("ss7/3", caller=Caller(hangup_when=during("play", prompt="welcome")))
    client.clock.advance(1)
    assert [o for o, _ in client.ops_of("ss7/3")] == ["answer", "play"]
    assert runner.metrics["f"]["hangup"] == 1 and runner.active == 0
    assert not failures(logged)


def test_hangup_during_the_apology_stops_the_rescue():
    client, runner = make({"f": answer_then_raise})
    client.incoming("ss7/4", caller=Caller(hangup_when=during("play", prompt="apology")))
    client.clock.advance(1)
    assert [o for o, _ in client.ops_of("ss7/4")] == ["answer", "play", "play"]
    assert runner.metrics["f"]["failed"] == 1 and runner.active == 0


def test_hangup_of_an_earlier_call_on_the_channel_is_ignored():
    gate = defer.Deferred()

    async def flow(ctx):
        await ctx.channel.answer()
        await gate
        await ctx.channel.transfer(queue="frontdesk")

    client, runner = make({"f": flow})
    client.incoming("ss7/5")
    client.emit("channel.hangup", channel="ss7/5", call="someothercall", cause=16)
    assert runner.active == 1
    gate.callback(None)
    assert runner.metrics["f"]["completed"] == 1


def test_flow_timeout_rescues_the_caller():
    async def stuck(ctx):
        await ctx.channel.answer()
        await defer.Deferred()                       # waits for something that never comes

    client, runner = make({"f": stuck}, max_flow_seconds=30)
    client.incoming("ss7/6")
    client.clock.advance(29)
    assert runner.active == 1
    client.clock.advance(1)
    # the flow may have left media running: stopped, then the apology and the queue
    assert [o for o, _ in client.ops_of("ss7/6")] == ["answer", "stop", "play", "transfer"]
    assert runner.metrics["f"]["failed"] == 1 and runner.metrics["f"]["timeout"] == 1
    assert runner.active == 0 and client.clock.getDelayedCalls() == []


def test_finished_flow_leaves_no_timer_behind():
    client, runner = make({"f": answer_and_transfer}, max_flow_seconds=30)
    client.incoming("ss7/6")
    assert client.clock.getDelayedCalls() == []


# --- concurrency ----------------------------------------------------------------------------------------------

def test_concurrency_limit_rejects_with_cause_34_and_counts_active():
    gates = {}

    async def flow(ctx):
        gates[ctx.channel.id] = g = defer.Deferred()
        await ctx.channel.answer()
        await g
        await ctx.channel.transfer(queue="frontdesk")

    client, runner = make({"f": flow}, max_active=2)
    client.incoming("ss7/1")
    client.incoming("ss7/2")
    assert runner.active == 2 and runner.active_channels() == ["ss7/1", "ss7/2"]
    client.incoming("ss7/3")
    assert client.ops_of("ss7/3") == [("hangup", {"cause": 34})]
    assert runner.totals["rejected"] == 1 and runner.active == 2
    gates["ss7/1"].callback(None)
    assert runner.active == 1
    client.incoming("ss7/4")
    assert runner.active == 2 and "ss7/4" in gates
    assert runner.stats()["peak_active"] == 2
    assert runner.metrics["f"]["started"] == 3


def test_overflow_to_queue_transfers_instead():
    async def flow(ctx):
        await defer.Deferred()

    client, runner = make({"f": flow}, max_active=1, overflow="queue", fallback_queue="overflow")
    client.incoming("ss7/1")
    client.incoming("ss7/2")
    assert client.ops_of("ss7/2") == [("transfer", {"queue": "overflow"})]


def test_each_call_runs_independently():
    client, runner = make({"ok": answer_and_transfer, "bad": answer_then_raise},
                          routes={"114": "ok", "115": "bad"})
    client.incoming("ss7/1", called="114", caller=Caller(hangup_when=during("play", prompt="welcome")))
    client.incoming("ss7/2", called="115")
    client.incoming("ss7/3", called="114")
    assert runner.active == 1                         # ss7/1 waits in its prompt
    client.clock.advance(1)
    assert runner.metrics["ok"] == {"started": 2, "completed": 1, "failed": 0, "hangup": 1, "timeout": 0}
    assert runner.metrics["bad"]["failed"] == 1
    assert runner.active == 0


def test_duplicate_incoming_for_a_running_channel_is_ignored():
    async def flow(ctx):
        await defer.Deferred()

    client, runner = make({"f": flow})
    client.incoming("ss7/1")
    client.emit("channel.incoming", channel="ss7/1", call="x", called="114", calling="1")
    assert runner.metrics["f"]["started"] == 1 and runner.totals["duplicate"] == 1


def test_stop_takes_no_new_calls_and_wait_idle_fires_when_flows_end():
    gate = defer.Deferred()

    async def flow(ctx):
        await gate
        await ctx.channel.hangup()

    client, runner = make({"f": flow})
    client.incoming("ss7/1")
    runner.stop()
    client.incoming("ss7/2")
    assert client.ops_of("ss7/2") == []
    idle = runner.wait_idle()
    assert not idle.called
    gate.callback(None)
    assert idle.called


# --- reconnect ------------------------------------------------------------------------------------------------

def test_resync_cancels_flows_whose_call_is_gone_and_adopts_waiting_calls():
    async def flow(ctx):
        await ctx.channel.answer()
        await defer.Deferred()

    client, runner = make({"f": flow})
    client.incoming("ss7/1")
    client.incoming("ss7/2")
    call2 = client.calls["ss7/2"]
    snapshot = {"channels": [
        {"channel": "ss7/1", "state": "idle", "call": None},                       # ended while we were away
        {"channel": "ss7/2", "state": "up", "call": call2},                        # still ours
        {"channel": "ss7/7", "state": "incoming", "call": "c7", "called": "114", "calling": "1"},
        {"channel": "ss7/8", "state": "incoming", "call": "c8", "called": "999", "calling": "1"},
    ], "calls": []}
    client.emit("cti.resync", **snapshot)
    assert runner.active_channels() == ["ss7/2", "ss7/7"]
    assert runner.metrics["f"]["hangup"] == 1
    assert client.ops_of("ss7/8") == []


def test_routes_from_the_daemon_config():
    from libcti.ivr import routes_from_config
    assert routes_from_config([{"called": "114", "flow": "hospital_main"}, {"called": "9*", "flow": "x"}]) == \
        {"114": "hospital_main", "9*": "x"}
    with pytest.raises(RouteError, match=r"routes\[1\]"):
        routes_from_config([{"called": "114", "flow": "a"}, {"called": 114, "flow": "a"}])
    with pytest.raises(RouteError, match="routed twice"):
        routes_from_config([{"called": "114", "flow": "a"}, {"called": "114", "flow": "b"}])


def test_transfer_needs_exactly_one_target():
    errors = []

    async def flow(ctx):
        try:
            await ctx.channel.transfer(queue="a", to="ss7/2")
        except ValueError as exc:
            errors.append(str(exc))
        await ctx.channel.transfer(queue="frontdesk")

    client, runner = make({"f": flow})
    client.incoming("ss7/1")
    assert errors == ["transfer: give exactly one of queue= or to="]
    assert client.ops_of("ss7/1") == [("transfer", {"queue": "frontdesk"})]


# --- the CTI link drops mid-call -----------------------------------------------------------------------------

def _link_drop(client, channel):
    """The connection is lost: libcti refuses requests (503) until it has reconnected."""
    client.connected = False


def test_link_down_mid_flow_rescues_the_caller_after_the_reconnect(logged):
    async def flow(ctx):
        await ctx.channel.answer()
        _link_drop(ctx.client, ctx.channel.id)
        await ctx.channel.play({"prompt": "welcome"})

    client, runner = make({"f": flow})
    call = client.incoming("ss7/1")
    assert runner.active == 1                                    # waiting for the link, caller still on the line
    assert [o for o, _ in client.ops_of("ss7/1")] == ["answer"]
    client.connected = True
    client.emit("cti.resync", channels=[{"channel": "ss7/1", "state": "up", "call": call}], calls=[])
    ops = client.ops_of("ss7/1")
    # the interrupted play may still run in the daemon: stopped first, then the apology and the queue
    assert [o for o, _ in ops] == ["answer", "stop", "play", "transfer"]
    assert ops[2][1]["prompts"] == [{"prompt": "apology"}] and ops[3][1] == {"queue": "frontdesk"}
    assert runner.metrics["f"]["failed"] == 1 and runner.active == 0
    assert not failures(logged)                                  # a link drop is a warning, not a crash


def test_link_down_and_the_call_ended_meanwhile():
    async def flow(ctx):
        await ctx.channel.answer()
        _link_drop(ctx.client, ctx.channel.id)
        await ctx.channel.play({"prompt": "welcome"})

    client, runner = make({"f": flow})
    client.incoming("ss7/1")
    client.connected = True
    client.emit("cti.resync", channels=[{"channel": "ss7/1", "state": "idle", "call": None}], calls=[])
    assert [o for o, _ in client.ops_of("ss7/1")] == ["answer"]
    assert runner.active == 0


# --- the example in docs/ivr.md works as written ---------------------------------------------------------------

def _docs_example():
    import os
    import re
    path = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "ivr.md")
    with open(path, encoding="utf-8") as f:
        code = re.search(r"```python\n(# ivrflows/hours.py\n.*?)```", f.read(), re.S).group(1)
    ns = {}
    exec(compile(code, "docs/ivr.md", "exec"), ns)
    return ns["opening_hours"]


@pytest.mark.parametrize("key, expected", [
    ("1", ["answer", "collect", "play", "play", "hangup"]),         # hours, then the runner's goodbye
    ("0", ["answer", "collect", "transfer"]),
])
def test_docs_example_flow(key, expected):
    client, runner = make({"opening_hours": _docs_example()})
    client.incoming("ss7/1", caller=Caller(keys=[key]))
    assert [o for o, _ in client.ops_of("ss7/1")] == expected


def test_failed_subscribe_leaves_the_runner_stopped_and_a_retry_works():
    client = FakeClient()
    runner = IvrRunner(client, {"114": "f"}, {"f": answer_and_transfer}, clock=client.clock)
    client.subscribe = lambda patterns: defer.fail(FakeCtiError(403, "forbidden", "not allowed"))
    d = defer.ensureDeferred(runner.start())
    assert d.called and isinstance(d.result.value, FakeCtiError)
    d.addErrback(lambda f: None)
    assert runner.running is False
    client.incoming("ss7/1")
    assert client.ops == []
    del client.subscribe                                         # back to the double's own method
    defer.ensureDeferred(runner.start())
    client.incoming("ss7/2")
    assert [o for o, _ in client.ops_of("ss7/2")] == ["answer", "play", "transfer"]
    assert len(client.handlers["channel.incoming"]) == 1
    assert runner.route(114) is None                             # a malformed event's number is not routed


def test_calling_numbers_are_masked_in_the_logs_and_stats_are_logged(logged):
    from twisted.logger import formatEvent
    from libcti.ivr import mask_number
    assert mask_number("13800138000") == "*******8000" and mask_number("110") == "110" and mask_number(None) == "-"
    client, runner = make({"f": answer_and_transfer})
    client.incoming("ss7/1", calling="13800138000")
    runner.log_stats()
    text = "\n".join(formatEvent(e) for e in logged)
    assert "13800138000" not in text and "*******8000" in text
    assert "IVR: 0 active (peak 1), 0 rejected, 0 unrouted; f: started 1, completed 1" in text
