"""Bad input never crashes the Engine: random operations with random arguments (hypothesis) either work or fail
with an EngineError carrying a contract code, synchronously or through the Deferred; the engine keeps running
(a real call still completes afterwards)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet import task
from twisted.python.failure import Failure

from ctid.config import default_config
from ctid.core.assembly import make_runtimes, open_boards
from ctid.core.engine import Engine
from ctid.core.errors import EngineError
from ctid.drivers import Pacer
from ctid.drivers.hwsim import World

CODES = {400, 403, 404, 409, 500, 503}


@pytest.fixture(scope="module")
def eng():
    world = World(9)
    cfg = default_config()
    boards = open_boards(cfg, world=world)
    clock = task.Clock()
    pacer = Pacer(world, clock)
    rts = make_runtimes(boards, clock, pacer=pacer)
    e = Engine.from_config(cfg, boards, rts, clock, renderer=lambda p: 1 / 0, cdr_sink=None)
    pacer.start()
    e.world, e.test_clock = world, clock
    yield e
    world.close()


junk = st.one_of(st.none(), st.booleans(), st.integers(-5, 200), st.floats(allow_nan=True), st.text(max_size=12),
                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
channels = st.one_of(st.sampled_from(["ss7/1", "ss7/16", "no1/5", "analog/0", "analog/2", "analog/9", "x/1", ""]),
                     junk)
prompt = st.one_of(st.fixed_dictionaries({"tone": st.sampled_from(["beep", "busy", "siren"])}),
                   st.fixed_dictionaries({"file": st.text(max_size=10)}),
                   st.fixed_dictionaries({"text": st.text(max_size=5)}), st.fixed_dictionaries({"silence": junk}),
                   junk)
ops = st.one_of(
    st.tuples(st.just("answer"), channels), st.tuples(st.just("hangup"), channels, junk),
    st.tuples(st.just("play"), channels, st.one_of(st.lists(prompt, max_size=3), junk)),
    st.tuples(st.just("collect"), channels, junk, junk), st.tuples(st.just("record"), channels, junk),
    st.tuples(st.just("stop_media"), channels), st.tuples(st.just("bridge"), channels, channels),
    st.tuples(st.just("transfer"), channels, junk, junk),
    st.tuples(st.just("originate"), st.one_of(st.sampled_from(["ss7", "no1", "analog"]), junk), junk, junk),
    st.tuples(st.just("agent_login"), st.one_of(st.sampled_from(["1001", "1002"]), junk), channels),
    st.tuples(st.just("agent_ready"), st.one_of(st.sampled_from(["1001", "1002"]), junk)),
    st.tuples(st.just("agent_not_ready"), st.one_of(st.sampled_from(["1001"]), junk), junk),
    st.tuples(st.just("agent_logout"), st.one_of(st.sampled_from(["1001", "1002"]), junk)),
)


def call(eng, op):
    name, *args = op
    fn = getattr(eng, name)
    if name == "collect":
        return fn(args[0], max_digits=args[1], timeout=args[2])
    if name == "record":
        return fn(args[0], max_seconds=args[1])
    if name == "transfer":
        return fn(args[0], queue=args[1], to=args[2])
    if name == "originate":
        return fn(args[0], args[1], timeout=args[2]) if not isinstance(args[2], type(None)) else fn(*args[:2])
    return fn(*args)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(ops, min_size=1, max_size=6))
def test_random_operations(eng, seq):
    outcomes = []
    for op in seq:
        try:
            d = call(eng, op)
        except EngineError as exc:
            assert exc.code in CODES, exc
            continue
        d.addBoth(outcomes.append)
    for _ in range(3):
        eng.test_clock.advance(0.02)
    for o in outcomes:
        if isinstance(o, Failure):
            assert isinstance(o.value, EngineError) and o.value.code in CODES, o
    eng.snapshot()


def test_engine_still_works_after_the_noise(eng):
    line = eng.world.line(0, 0)
    for name in ("1001", "1002"):
        try:
            eng.agent_logout(name)
        except EngineError:
            pass
    events = []
    eng.subscribe(events.append)
    for ch in list(eng.chan_call):
        try:
            eng.hangup(ch)
        except EngineError:
            pass
    for _ in range(100):                                     # let the noise settle (timers)
        eng.test_clock.advance(0.02)
    assert eng.channels["analog/0"].state == "idle"
    line.ring("13812341234")
    for _ in range(400):
        eng.test_clock.advance(0.02)
        if any(e["event"] == "channel.incoming" and e["channel"] == "analog/0" for e in events):
            break
    inc = [e for e in events if e["event"] == "channel.incoming" and e["channel"] == "analog/0"]
    assert inc and inc[-1]["calling"] == "13812341234"
