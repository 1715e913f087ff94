"""The Engine end to end over hwsim: our board 0 with the media runtime, far ends driven by our own signalling
stacks (SS7 on board 1, China No.1 on board 2) and hwsim's analogue line and telephones.

Proves: an SS7 call answered, a WAV prompt heard on the far board, DTMF from the far end collected, hung up
from either end with the cause; the same on China No.1 with a renderer-made (text) prompt; an FXO call with
FSK caller ID; a caller queued to an agent on an FXS extension, bridged, a test tone crossing each way; CDRs
with numbers, times and cause delivered to the sink (and retried when it fails); originate on SS7 and China
No.1 (answered, and no answer -> cause 19); offer timeout to the next agent; error codes 400/404/409/503."""
from __future__ import annotations

import numpy as np
import pytest
from twisted.internet import defer

from ctid.core.engine import Engine
from ctid.core.errors import EngineError
from ctid.dsp import dtmf as dtmf_mod
from ctid.dsp.g711 import alaw_encode
from ctid.dsp.wavfile import write_wav
from ctid.media.runtime import BoardRuntime
from ctid.signaling.china1.line import LineState
from ctid.signaling.ss7.isup_cc import State

from .rig import Rig, tone_power


def sine(freq, seconds, amp=6000):
    n = int(seconds * 8000)
    return (np.sin(2 * np.pi * freq * np.arange(n) / 8000) * amp).astype(np.int16)


class Env:
    def __init__(self, tmp):
        self.rig = Rig(BoardRuntime, tmp=tmp)
        self.events = []
        self.cdrs = []
        self.sink_fail = 0
        self.rendered = []
        (tmp / "media").mkdir()
        self.prompt = str(tmp / "media" / "prompt.wav")          # {data_dir}/media: a default media directory
        write_wav(self.prompt, sine(1000, 0.6), law="alaw")

        def renderer(p):
            self.rendered.append(p)
            return defer.succeed(alaw_encode(sine(700, 0.6)))   # "TTS" in tests: a 700 Hz tone

        def sink(cdr):
            if self.sink_fail:
                self.sink_fail -= 1
                return defer.fail(IOError("database is locked"))
            self.cdrs.append(cdr)
            return defer.succeed(None)
        self.eng = Engine.from_config(self.rig.cfg, {0: self.rig.board}, {0: self.rig.rt}, self.rig.clock,
                                      renderer=renderer, cdr_sink=sink, recordings_dir=str(tmp / "rec"))
        self.eng.subscribe(self.events.append)

    def ev(self, name, **match):
        return [e for e in self.events if e["event"] == name and all(e.get(k) == v for k, v in match.items())]

    def wait(self, name, seconds=5, **match):
        assert self.rig.run(seconds, until=lambda: bool(self.ev(name, **match))), (name, match, self.events[-5:])
        return self.ev(name, **match)[-1]

    def result(self, d, seconds=10):
        box = []
        d.addBoth(box.append)
        assert self.rig.run(seconds, until=lambda: bool(box)), "deferred never fired"
        if isinstance(box[0], Exception) or hasattr(box[0], "value") and isinstance(box[0].value, Exception):
            raise box[0].value
        return box[0]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = Env(tmp_path_factory.mktemp("engine"))
    cc = e.eng.trunks["ss7"].cc
    assert e.rig.run(20, until=lambda: e.eng.trunks["ss7"].up and e.rig.far_ss7.up)
    assert e.rig.run(5, until=lambda: any(x[0] == "group_reset_complete" for x in cc.events) and not cc.groups
                     and all(c.state == "idle" for c in e.eng.trunks["ss7"].channels.values()))
    assert e.ev("trunk.state", trunk="ss7", up=True)
    yield e
    e.rig.close()


def far_dtmf(digits):
    return alaw_encode(dtmf_mod.generate(digits, on_ms=80, off_ms=80))


def test_ss7_ivr_call_prompt_dtmf_hangup_by_us(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    call = far.cc.setup("114", calling="13800138000")
    inc = env.wait("channel.incoming", trunk="ss7")
    ch = inc["channel"]
    assert ch == f"ss7/{call.cic}" and inc["kind"] == "ss7"
    assert (inc["calling"], inc["called"], inc["category"]) == ("13800138000", "114", 0x0A)
    snap = eng.snapshot()
    (info,) = [c for c in snap["channels"] if c["channel"] == ch]
    assert info["state"] == "incoming" and info["call"] == inc["call"] and info["calling"] == "13800138000"
    assert [c["call"] for c in snap["calls"]] == [inc["call"]]
    got = {}
    call.answered.addCallback(lambda _c: got.setdefault("answered", True))
    call.released.addCallback(lambda cause: got.setdefault("cause", cause))
    env.result(eng.answer(ch))
    assert rig.run(1, until=lambda: "answered" in got)
    assert env.ev("channel.answered", channel=ch)

    # a WAV prompt: heard on the far board as the 1 kHz tone it holds
    far.board.listen.add(call.cic)
    far.board.heard.clear()
    res = env.result(eng.play(ch, [{"file": env.prompt}]))
    assert res == {"reason": "done", "digit": None}
    pcm = far.board.pcm(call.cic)
    assert np.abs(pcm).max() > 2000 and tone_power(pcm, 1000) > 0.5
    assert env.ev("channel.play_done", channel=ch, reason="done")

    # DTMF from the far end collected: "12#" -> 12 by terminator, each digit also an event
    d = eng.collect(ch, prompts=[{"tone": "beep"}], max_digits=4, timeout=3)
    rig.run(0.4)
    far.board.say(call.cic, far_dtmf("12#"))
    res = env.result(d)
    assert res["digits"] == "12" and res["reason"] == "terminator" and res["tries"] == 1
    assert [e["digit"] for e in env.ev("channel.dtmf", channel=ch)] == ["1", "2", "#"]

    # we hang up with cause 21: REL 21 at the far end, CDR with the numbers and times
    t_answer = [e for e in env.events if e["event"] == "channel.answered" and e["channel"] == ch]
    assert t_answer
    env.result(eng.hangup(ch, 21))
    assert rig.run(2, until=lambda: "cause" in got)
    assert got["cause"] == 21
    ended = env.wait("call.ended", call=inc["call"])
    assert ended["cause"] == 21
    assert env.ev("channel.hangup", channel=ch)[-1]["cause_text"] == "call rejected"
    assert rig.run(1, until=lambda: any(c["call"] == inc["call"] for c in env.cdrs))
    (cdr,) = [c for c in env.cdrs if c["call"] == inc["call"]]
    assert (cdr["trunk"], cdr["channel"], cdr["calling"], cdr["called"]) == ("ss7", ch, "13800138000", "114")
    assert cdr["direction"] == "in" and cdr["cause"] == 21 and cdr["disposition"] == "answered"
    assert cdr["start"] <= cdr["answer"] < cdr["end"] and cdr["billsec"] > 1.0
    assert abs(cdr["duration"] - (cdr["end"] - cdr["start"])) < 1e-3
    assert rig.run(2, until=lambda: far.cc.circuits[call.cic].state is State.IDLE and
                   eng.channels[ch].state == "idle")
    assert inc["call"] not in eng.calls


def test_ss7_far_end_hangs_up_with_cause(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    n = len(env.ev("channel.incoming"))
    call = far.cc.setup("114", calling="13900000000")
    assert rig.run(2, until=lambda: len(env.ev("channel.incoming")) > n)
    inc = env.ev("channel.incoming")[-1]
    env.result(eng.answer(inc["channel"]))
    rig.run(0.2)
    far.cc.release(call, 31)
    hang = env.wait("channel.hangup", channel=inc["channel"], call=inc["call"])
    assert hang["cause"] == 31 and hang["cause_text"] == "normal, unspecified"
    assert env.wait("call.ended", call=inc["call"])["cause"] == 31
    with pytest.raises(EngineError) as exc:
        eng.play(inc["channel"], [{"tone": "beep"}])
    assert exc.value.code == 409


def test_ss7_call_refused_before_answer(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    call = far.cc.setup("114", calling="12700000000")
    inc = env.wait("channel.incoming", calling="12700000000")
    got = []
    call.released.addCallback(got.append)
    env.result(eng.hangup(inc["channel"], 17))
    assert rig.run(2, until=lambda: got == [17] and eng.channels[inc["channel"]].state == "idle")
    assert rig.run(1, until=lambda: any(c["call"] == inc["call"] for c in env.cdrs))
    (cdr,) = [c for c in env.cdrs if c["call"] == inc["call"]]
    assert cdr["disposition"] == "busy" and cdr["answer"] is None


def test_no1_call_text_prompt_dtmf_far_clears(env):
    rig, eng = env.rig, env.eng
    far = rig.far_no1
    assert far.out.call("88881234", "13800138000", ka=1, kd=1)
    inc = env.wait("channel.incoming", trunk="no1", seconds=8)
    ch = inc["channel"]
    assert ch == "no1/1" and (inc["calling"], inc["called"], inc["category"]) == ("13800138000", "88881234", 1)
    env.result(eng.answer(ch))
    assert rig.run(2, until=lambda: far.out.line.state is LineState.ANSWERED)
    far.board.listen.add(1)
    far.board.heard.clear()
    res = env.result(eng.play(ch, [{"text": "您好", "voice": "zh"}, {"silence": 0.1}]))
    assert res["reason"] == "done" and env.rendered[-1] == {"text": "您好", "voice": "zh"}
    assert tone_power(far.board.pcm(1), 700) > 0.5
    d = eng.collect(ch, max_digits=3, timeout=3)
    far.board.say(1, far_dtmf("305"))
    assert env.result(d)["digits"] == "305"
    far.out.hangup()                                    # clear-forward
    hang = env.wait("channel.hangup", channel=ch)
    assert hang["cause"] == 16
    assert env.wait("call.ended", call=inc["call"])["cause"] == 16
    assert rig.run(2, until=lambda: eng.channels[ch].state == "idle" and far.out.line.state is LineState.IDLE)
    assert rig.run(1, until=lambda: any(c["call"] == inc["call"] for c in env.cdrs))

    # a second call, hung up by us: clear-back, the caller clears forward, both idle
    assert far.out.call("88881234", "13800138001", ka=1, kd=1)
    assert rig.run(8, until=lambda: bool(env.ev("channel.incoming", calling="13800138001")))
    inc = env.ev("channel.incoming", calling="13800138001")[-1]
    env.result(eng.answer(ch))
    assert rig.run(2, until=lambda: far.out.line.state is LineState.ANSWERED)
    env.result(eng.hangup(ch, 16))
    assert rig.run(2, until=lambda: far.out.line.state is LineState.CLEAR_BACK)
    assert env.wait("call.ended", call=inc["call"])["cause"] == 16
    far.out.hangup()
    assert rig.run(2, until=lambda: eng.channels[ch].state == "idle" and far.out.line.state is LineState.IDLE)


def test_fxo_call_with_caller_id_and_record(env):
    rig, eng = env.rig, env.eng
    rig.line.ring("13912345678")
    inc = env.wait("channel.incoming", trunk="analog", seconds=8)
    assert inc["channel"] == "analog/0" and inc["kind"] == "fxo" and inc["calling"] == "13912345678"
    env.result(eng.answer("analog/0"))
    rig.run(0.2)
    assert rig.line.state["board_offhook"]
    d = eng.record("analog/0", max_seconds=1.0, silence_seconds=None, beep=False, purpose="voicemail")
    rig.line.play(sine(500, 1.2))
    res = env.result(d)
    assert res["reason"] == "max" and 0.9 <= res["duration"] <= 1.1 and res["path"].endswith(".wav")
    assert env.ev("channel.record_done", channel="analog/0", recording=res["recording"])
    rig.line.hangup()                                   # polarity back + busy tone
    env.wait("call.ended", call=inc["call"])
    assert rig.run(1, until=lambda: any(c["call"] == inc["call"] for c in env.cdrs))
    (cdr,) = [c for c in env.cdrs if c["call"] == inc["call"]]
    assert cdr["recording"] == res["recording"] and cdr["calling"] == "13912345678"


def test_queue_agent_bridge_audio_both_ways_and_cdr(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    env.result(eng.agent_login("1001", "analog/2"))
    env.result(eng.agent_ready("1001"))
    assert env.ev("agent.state", agent="1001", state="ready")
    call = far.cc.setup("114", calling="13700000000")
    inc = env.wait("channel.incoming", calling="13700000000")
    ch, call_id = inc["channel"], inc["call"]
    env.result(eng.answer(ch))
    far.board.listen.add(call.cic)
    env.result(eng.transfer(ch, queue="frontdesk"))
    assert env.ev("call.queued", call=call_id, queue="frontdesk", position=1)
    offered = env.wait("call.offered", call=call_id)
    assert offered["agent"] == "1001" and offered["calling"] == "13700000000" and offered["called"] == "114"
    assert rig.run(1, until=lambda: rig.phone.ringing)
    far.board.heard.clear()
    rig.run(1.2)
    assert tone_power(far.board.pcm(call.cic), 450) > 0.5          # ringback while the agent's phone rings
    rig.phone.hook(True)
    bridged = env.wait("call.bridged", call=call_id)
    assert sorted(bridged["channels"]) == sorted([ch, "analog/2"])
    assert [a for a in eng.snapshot()["agents"] if a["agent"] == "1001"][0]["state"] == "busy"
    rig.run(0.2)
    # a test tone each way across the bridge
    rig.phone.listen()
    far.board.say(call.cic, alaw_encode(sine(1000, 0.6)))
    rig.phone.play(sine(600, 0.6))
    far.board.heard.clear()
    rig.run(0.8)
    heard_phone = rig.phone.listen()
    heard_far = far.board.pcm(call.cic)
    assert tone_power(heard_phone, 1000) > 0.5 and np.abs(heard_phone).max() > 2000
    assert tone_power(heard_far, 600) > 0.5 and np.abs(heard_far).max() > 2000
    # the caller hangs up: the agent's phone gets busy tone, agent wraps up then is ready again
    far.cc.release(call, 16)
    assert env.wait("call.ended", call=call_id)["cause"] == 16
    assert env.ev("channel.hangup", channel="analog/2", call=call_id)
    assert env.wait("agent.state", agent="1001", state="wrap_up")
    rig.phone.hook(False)
    assert rig.run(3, until=lambda: env.ev("agent.state", agent="1001", state="ready")[-1:] and
                   eng.acd.agents["1001"].state == "ready")
    assert rig.run(1, until=lambda: any(c["call"] == call_id for c in env.cdrs))
    (cdr,) = [c for c in env.cdrs if c["call"] == call_id]
    assert cdr["queue"] == "frontdesk" and cdr["agent"] == "1001" and cdr["calling"] == "13700000000"
    assert cdr["cause"] == 16 and cdr["disposition"] == "answered"
    env.result(eng.agent_not_ready("1001", "break"))


def test_offer_timeout_goes_to_next_agent(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    env.result(eng.agent_login("1002", "analog/3"))
    env.result(eng.agent_ready("1002"))
    env.result(eng.agent_ready("1001"))                 # 1002 has been idle longer: first offer
    call = far.cc.setup("114", calling="13600000000")
    inc = env.wait("channel.incoming", calling="13600000000")
    env.result(eng.answer(inc["channel"]))
    env.result(eng.transfer(inc["channel"], queue="frontdesk"))
    first = env.wait("call.offered", call=inc["call"])
    assert first["agent"] == "1002"
    assert rig.run(1, until=lambda: rig.phone2.ringing)
    second = None
    assert rig.run(6, until=lambda: len(env.ev("call.offered", call=inc["call"])) == 2)
    second = env.ev("call.offered", call=inc["call"])[-1]
    assert second["agent"] == "1001"
    assert env.ev("agent.state", agent="1002", state="not_ready", reason="no answer")
    assert rig.run(1, until=lambda: rig.phone.ringing and not rig.phone2.ringing)
    far.cc.release(call, 16)                            # the caller gives up while offered
    env.wait("call.ended", call=inc["call"])
    assert rig.run(1, until=lambda: any(c["call"] == inc["call"] for c in env.cdrs))
    assert [c for c in env.cdrs if c["call"] == inc["call"]][0]["disposition"] == "abandoned"
    assert rig.run(1, until=lambda: not rig.phone.ringing and eng.acd.agents["1001"].state == "ready")
    for a in ("1001", "1002"):
        env.result(eng.agent_logout(a))


def test_agent_answers_from_cti_and_hangs_up(env):
    """The agent's client answers the offered extension (auto-answer) and later hangs it up: the caller gets
    REL with the cause, the agent wraps up."""
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    env.result(eng.agent_login("1002", "analog/3"))
    env.result(eng.agent_ready("1002"))
    call = far.cc.setup("114", calling="13400000000")
    inc = env.wait("channel.incoming", calling="13400000000")
    env.result(eng.answer(inc["channel"]))
    env.result(eng.transfer(inc["channel"], queue="frontdesk"))
    offered = env.wait("call.offered", call=inc["call"])
    assert offered["agent"] == "1002" and offered["channel"] == "analog/3"
    assert rig.run(1, until=lambda: rig.phone2.ringing)
    env.result(eng.answer("analog/3"))
    assert env.wait("call.bridged", call=inc["call"])["channels"] == [inc["channel"], "analog/3"]
    assert rig.run(1, until=lambda: not rig.phone2.ringing)
    rig.phone2.hook(True)                               # the phone (headset) hears the caller
    rig.run(0.2)
    rig.phone2.listen()
    far.board.say(call.cic, alaw_encode(sine(1000, 0.5)))
    rig.run(0.6)
    assert tone_power(rig.phone2.listen(), 1000) > 0.5
    got = []
    call.released.addCallback(got.append)
    env.result(eng.hangup("analog/3", 16))
    assert env.wait("call.ended", call=inc["call"])["cause"] == 16
    assert rig.run(2, until=lambda: got == [16])
    assert env.wait("agent.state", agent="1002", state="wrap_up")
    rig.phone2.hook(False)
    assert rig.run(3, until=lambda: eng.acd.agents["1002"].state == "ready")
    env.result(eng.agent_logout("1002"))


def test_waiting_call_offered_when_the_extension_frees(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    rig.phone.hook(True)                                # the agent's phone is off hook (dialling)
    rig.run(0.1)
    env.result(eng.agent_login("1001", "analog/2"))
    env.result(eng.agent_ready("1001"))
    call = far.cc.setup("114", calling="12900000000")
    inc = env.wait("channel.incoming", calling="12900000000")
    env.result(eng.answer(inc["channel"]))
    env.result(eng.transfer(inc["channel"], queue="frontdesk"))
    rig.run(0.5)
    assert not env.ev("call.offered", call=inc["call"])
    assert [q for q in eng.snapshot()["queues"] if q["queue"] == "frontdesk"][0]["waiting"] == 1
    rig.phone.hook(False)
    assert env.wait("call.offered", call=inc["call"])["agent"] == "1001"
    assert rig.run(1, until=lambda: rig.phone.ringing)
    far.cc.release(call, 16)
    env.wait("call.ended", call=inc["call"])
    assert rig.run(1, until=lambda: not rig.phone.ringing)
    env.result(eng.agent_logout("1001"))


def test_originate_ss7_and_no1(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    n = len(far.incoming)
    d = eng.originate("ss7", "13800138000", calling="10688")
    assert rig.run(2, until=lambda: len(far.incoming) > n)
    fin = far.incoming[-1]
    assert fin.called == "13800138000" and fin.calling == "10688"
    far.cc.alert(fin)
    far.cc.answer(fin)
    ch = env.result(d)
    assert ch == f"ss7/{fin.cic}" and eng.channels[ch].state == "up"
    assert env.ev("channel.ringing", channel=ch)
    env.result(eng.hangup(ch))
    assert rig.run(2, until=lambda: far.cc.circuits[fin.cic].state is State.IDLE)

    # no answer within the timeout: cause 19, EngineError with the cause
    d = eng.originate("ss7", "13800138001", timeout=2)
    assert rig.run(2, until=lambda: far.incoming[-1].called == "13800138001")
    far.cc.alert(far.incoming[-1])
    with pytest.raises(EngineError) as exc:
        env.result(d, 4)
    assert exc.value.cause == 19 and exc.value.code == 503

    # China No.1 out on the both-way timeslot 3
    d = eng.originate("no1", "66667777")
    assert rig.run(8, until=lambda: rig.far_no1.inc.result is not None)
    rig.far_no1.inc.answer()
    ch = env.result(d)
    assert ch == "no1/3"
    call_id = eng.chan_call[ch].id
    rig.far_no1.inc.hangup()                            # clear-back: we clear forward
    assert env.wait("call.ended", call=call_id)["cause"] == 16
    assert rig.run(3, until=lambda: eng.channels[ch].state == "idle")
    assert rig.run(1, until=lambda: any(c["call"] == call_id for c in env.cdrs))
    (cdr,) = [c for c in env.cdrs if c["call"] == call_id]
    assert cdr["direction"] == "out" and cdr["called"] == "66667777"


def test_cdr_sink_failure_is_retried(env):
    rig, eng = env.rig, env.eng
    env.sink_fail = 2
    far = rig.far_ss7
    call = far.cc.setup("114", calling="13500000000")
    inc = env.wait("channel.incoming", calling="13500000000")
    far.cc.release(call, 16)
    env.wait("call.ended", call=inc["call"])
    rig.run(0.5)
    assert inc["call"] in eng.calls and eng.calls[inc["call"]].state == "ended" and eng.cdr_failures >= 1
    assert rig.run(10, until=lambda: any(c["call"] == inc["call"] for c in env.cdrs))
    assert inc["call"] not in eng.calls
    (cdr,) = [c for c in env.cdrs if c["call"] == inc["call"]]
    assert cdr["disposition"] == "no_answer" and cdr["answer"] is None and cdr["billsec"] == 0.0


def test_bridge_ss7_to_no1_audio_both_ways(env):
    """An incoming SS7 call and an outgoing China No.1 call joined by bridge(): one call, tones cross."""
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    call = far.cc.setup("114", calling="13300000000")
    inc = env.wait("channel.incoming", calling="13300000000")
    a = inc["channel"]
    env.result(eng.answer(a))
    rig.far_no1.inc.result = None
    d = eng.originate("no1", "55556666")
    assert rig.run(8, until=lambda: rig.far_no1.inc.result is not None)
    rig.far_no1.inc.answer()
    b = env.result(d)
    env.result(eng.bridge(a, b))
    br = env.wait("call.bridged", call=inc["call"])
    assert br["channels"] == [a, b]
    assert b not in [c["call"] for c in eng.snapshot()["calls"]]
    assert sorted(eng.calls[inc["call"]].info()["channels"]) == sorted([a, b])
    with pytest.raises(EngineError) as exc:
        eng.bridge(a, b)
    assert exc.value.code == 409
    rig.run(0.1)
    far.board.listen.add(call.cic)
    rig.far_no1.board.listen.add(3)
    far.board.say(call.cic, alaw_encode(sine(1000, 0.6)))
    rig.far_no1.board.say(3, alaw_encode(sine(600, 0.6)))
    far.board.heard.clear()
    rig.far_no1.board.heard.clear()
    rig.run(0.7)
    assert tone_power(rig.far_no1.board.pcm(3), 1000) > 0.5
    assert tone_power(far.board.pcm(call.cic), 600) > 0.5
    rig.far_no1.inc.hangup()                      # the China side clears back: the whole call ends
    assert env.wait("call.ended", call=inc["call"])["cause"] == 16
    assert rig.run(3, until=lambda: far.cc.circuits[call.cic].state is State.IDLE
                   and eng.channels[b].state == "idle" and eng.channels[a].state == "idle")


def test_transfer_to_extension_and_to_number(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    call = far.cc.setup("114", calling="13200000000")
    inc = env.wait("channel.incoming", calling="13200000000")
    a = inc["channel"]
    env.result(eng.answer(a))
    env.result(eng.transfer(a, to="analog/3"))
    assert rig.run(1, until=lambda: rig.phone2.ringing)
    rig.phone2.hook(True)
    assert env.wait("call.bridged", call=inc["call"])["channels"] == [a, "analog/3"]
    rig.phone2.hook(False)                        # the extension hangs up: the caller is released
    assert env.wait("call.ended", call=inc["call"])["cause"] == 16
    assert rig.run(2, until=lambda: far.cc.circuits[call.cic].state is State.IDLE)

    # to a number: dialled out on the first trunk that can (SS7), bridged when answered
    call = far.cc.setup("114", calling="13100000000")
    inc = env.wait("channel.incoming", calling="13100000000")
    a = inc["channel"]
    env.result(eng.answer(a))
    n = len(far.incoming)
    env.result(eng.transfer(a, to="13812345678"))
    assert rig.run(2, until=lambda: len(far.incoming) > n)
    out = far.incoming[-1]
    assert out.called == "13812345678" and out.calling == "13100000000"
    far.cc.alert(out)
    far.cc.answer(out)
    br = env.wait("call.bridged", call=inc["call"])
    assert br["channels"] == [a, f"ss7/{out.cic}"]
    far.cc.release(call, 16)
    env.wait("call.ended", call=inc["call"])
    got = []
    out.released.addCallback(got.append)
    assert rig.run(2, until=lambda: bool(got))

    # nobody answers the extension: after the transfer timeout the leg goes (cause 19), the caller is back
    call = far.cc.setup("114", calling="13000000001")
    inc = env.wait("channel.incoming", calling="13000000001")
    a = inc["channel"]
    env.result(eng.answer(a))
    eng.transfer_timeout = 2.0
    env.result(eng.transfer(a, to="analog/3"))
    assert rig.run(1, until=lambda: rig.phone2.ringing)
    assert eng.snapshot()["channels"][[c["channel"] for c in eng.snapshot()["channels"]].index(a)]["media"] \
        == "playing"                                   # ringback to the caller
    hang = env.wait("channel.hangup", channel="analog/3", call=inc["call"], seconds=3)
    assert hang["cause"] == 19 and not rig.phone2.ringing
    assert eng.calls[inc["call"]].legs == [eng.channels[a]] and eng.channels[a].mc.state == "idle"
    with pytest.raises(EngineError) as exc:
        eng.transfer(a, queue="frontdesk", to="x")
    assert exc.value.code == 400
    env.result(eng.hangup(a))
    env.wait("call.ended", call=inc["call"])


def test_extension_dials_out(env):
    """An extension goes off hook and dials: channel.incoming (kind fxs, called = the digits); the client
    accepts it and transfers it to the number, dialled out on SS7 and bridged when answered."""
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    rig.phone2.hook(True)
    rig.run(0.3)
    rig.phone2.dial("13855556666#")
    inc = env.wait("channel.incoming", channel="analog/3", called="13855556666", seconds=5)
    assert inc["kind"] == "fxs" and inc["calling"] == "analog/3"
    env.result(eng.answer("analog/3"))
    n = len(far.incoming)
    env.result(eng.transfer("analog/3", to=inc["called"]))
    assert rig.run(2, until=lambda: len(far.incoming) > n)
    out = far.incoming[-1]
    assert out.called == "13855556666"
    far.cc.alert(out)
    far.cc.answer(out)
    assert env.wait("call.bridged", call=inc["call"])["channels"] == ["analog/3", f"ss7/{out.cic}"]
    got = []
    out.released.addCallback(got.append)
    rig.phone2.hook(False)
    assert env.wait("call.ended", call=inc["call"])["cause"] == 16
    assert rig.run(2, until=lambda: got == [16])


def test_fxo_originate_dials_dtmf_and_refusal(env):
    from ctid.dsp import detect
    rig, eng = env.rig, env.eng
    line1 = rig.world.line(0, 1)
    d = eng.originate("analog", "12345")
    ch = env.result(d, 6)
    assert ch in ("analog/0", "analog/1")
    line = rig.line if ch == "analog/0" else line1
    assert line.state["board_offhook"]
    rig.run(0.2)
    digits = "".join(e.value for e in detect(line.listen(), "dtmf") if e.type == "on")
    assert digits == "12345"
    env.result(eng.hangup(ch))
    rig.run(0.1)
    assert not line.state["board_offhook"]
    # a refused analogue call: the rest of its ring cycle is not a new call
    n = len(env.ev("channel.incoming", channel="analog/0"))
    rig.line.ring("13011112222")
    assert rig.run(8, until=lambda: len(env.ev("channel.incoming", channel="analog/0")) > n)
    inc = env.ev("channel.incoming", channel="analog/0")[-1]
    assert inc["calling"] == "13011112222"
    env.result(eng.hangup("analog/0"))
    rig.run(6)
    assert len(env.ev("channel.incoming", channel="analog/0")) == n + 1
    rig.line.hangup()
    assert rig.run(10, until=lambda: eng.channels["analog/0"].state == "idle")
    assert env.wait("call.ended", call=inc["call"])


def test_errors(env):
    eng = env.eng
    cases = [
        (lambda: eng.answer("ss7/99"), 404), (lambda: eng.answer("nope"), 404), (lambda: eng.answer(5), 400),
        (lambda: eng.answer("ss7/2"), 409), (lambda: eng.hangup("ss7/2"), 409),
        (lambda: eng.hangup("ss7/2", cause=999), 400),
        (lambda: eng.play("ss7/2", [{"tone": "beep"}]), 409), (lambda: eng.stop_media("ss7/77"), 404),
        (lambda: eng.bridge("ss7/1", "ss7/2"), 409), (lambda: eng.transfer("ss7/1", queue="x"), 409),
        (lambda: eng.originate("isdn", "123"), 404), (lambda: eng.originate("ss7", "12a"), 400),
        (lambda: eng.originate("ss7", "123", timeout=0), 400),
        (lambda: eng.agent_login("9999", "analog/2"), 404), (lambda: eng.agent_login("1001", "ss7/1"), 400),
        (lambda: eng.agent_login("1001", "analog/9"), 404), (lambda: eng.agent_ready("1001"), 409),
    ]
    for fn, code in cases:
        with pytest.raises(EngineError) as exc:
            fn()
        assert exc.value.code == code, (exc.value, code)
    with pytest.raises(EngineError) as exc:
        eng.add_agent("2001", ["nope"])
    assert exc.value.code == 404
    eng.add_agent("2001", ["frontdesk"])
    env.result(eng.agent_login("2001", "analog/3"))
    assert eng.acd.agents["2001"].info() == {"agent": "2001", "state": "not_ready", "extension": "analog/3",
                                             "call": None, "queues": ["frontdesk"]}
    with pytest.raises(EngineError) as exc:
        eng.agent_login("1002", "analog/3")            # someone else's extension
    assert exc.value.code == 409
    env.result(eng.agent_logout("2001"))
    snap = eng.snapshot()
    assert {q["queue"] for q in snap["queues"]} == {"frontdesk"}
    assert all(c["state"] in ("idle", "clearing", "blocked", "down") for c in snap["channels"]
               if c["call"] is None)


def test_shutdown_releases_calls_and_waits_for_cdrs(env):
    rig, eng = env.rig, env.eng
    far = rig.far_ss7
    call = far.cc.setup("114", calling="12800000000")
    inc = env.wait("channel.incoming", calling="12800000000")
    env.result(eng.answer(inc["channel"]))
    got = []
    call.released.addCallback(got.append)
    env.sink_fail = 1
    done = []
    eng.shutdown().addCallback(done.append)
    assert not done                                    # the CDR is not stored yet (the sink failed once)
    assert rig.run(3, until=lambda: bool(done) and got == [41])
    (cdr,) = [c for c in env.cdrs if c["call"] == inc["call"]]
    assert cdr["cause"] == 41 and not eng.calls


def test_span_cut_and_restore(env):
    """Last (it cuts the cables): China No.1 span alarm -> trunk down, channels down; SS7 linkset lost ->
    MTP-PAUSE -> trunk down; restored: both up again, channels idle."""
    rig, eng = env.rig, env.eng
    rig.world.cut(0, 1)
    rig.world.cut(0, 0)
    env.wait("span.alarm", trunk="no1")
    assert env.wait("trunk.state", trunk="no1", up=False)
    assert env.wait("trunk.state", trunk="ss7", up=False, seconds=10)
    assert all(c.state == "down" for c in eng.trunks["no1"].channels.values())
    with pytest.raises(EngineError) as exc:
        eng.originate("no1", "123")
    assert exc.value.code == 503 and exc.value.cause == 38
    rig.world.restore(0, 1)
    rig.world.restore(0, 0)
    assert rig.run(20, until=lambda: eng.trunks["no1"].up and eng.trunks["ss7"].up)
    assert rig.run(10, until=lambda: all(c.state == "idle" for t in ("no1", "ss7")
                                         for c in eng.trunks[t].channels.values()))

