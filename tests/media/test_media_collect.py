"""collect(): FreeSWITCH play_and_get_digits semantics, digits sent as DTMF audio from the far board.

Each expectation follows from what the test sends and when (simulated time on a task.Clock)."""
import numpy as np
import pytest

from ctid.dsp.g711 import alaw_encode

CH = 4


def tone_alaw(freq, seconds, level=8000):
    n = int(seconds * 8000)
    return alaw_encode((level * np.sin(np.arange(n) * 2 * np.pi * freq / 8000)).astype(np.int16))


def start(rig, **kw):
    mc = rig.ra.channel(CH)
    d = mc.collect(**kw)
    out = []
    d.addCallback(lambda r: out.append((rig.clock.seconds(), r)) or r)
    return mc, d, out


def press(rig, digits):
    """The far end dials ``digits`` (80 ms on / 80 ms off) and the test waits until they have been sent."""
    res = rig.run_until(rig.rb.channel(CH).dtmf(digits))
    assert res["reason"] == "done"


def wait(rig, out, limit=20.0):
    n = 0
    while not out and n < limit / 0.02:
        rig.clock.advance(0.02)
        n += 1
    assert out, "collect did not finish"
    return out[0]


def test_max_digits_ends_at_once(rig):
    mc, d, out = start(rig, max_digits=3, timeout=5, inter_digit_timeout=3)
    press(rig, "123")
    rig.run(0.2)
    assert out and out[0][1] == {"digits": "123", "reason": "max", "tries": 1, "valid": True}
    assert mc.state == "idle"


def test_terminator_ends_input_and_is_not_included(rig):
    mc, d, out = start(rig, max_digits=5, terminators="#")
    press(rig, "42#")
    rig.run(0.2)
    assert out[0][1] == {"digits": "42", "reason": "terminator", "tries": 1, "valid": True}


def test_first_digit_timeout_with_no_input(rig):
    t0 = rig.clock.seconds()
    mc, d, out = start(rig, timeout=2.0, tries=1)
    t, res = wait(rig, out)
    assert res == {"digits": "", "reason": "timeout", "tries": 1, "valid": False}
    assert abs((t - t0) - 2.0) <= 0.021


def test_inter_digit_timeout_returns_valid_digits(rig):
    mc, d, out = start(rig, min_digits=2, max_digits=6, timeout=5.0, inter_digit_timeout=1.0)
    press(rig, "12")
    t_sent = rig.clock.seconds()
    t, res = wait(rig, out)
    assert res == {"digits": "12", "reason": "timeout", "tries": 1, "valid": True}
    # the timer restarts at each digit (detected at its start, ~0.2 s before the sending finished)
    assert 0.6 < t - t_sent < 1.0


def test_invalid_input_plays_invalid_prompt_and_retries(rig):
    heard = rig.listen(rig.rb, [CH])
    bad = tone_alaw(700, 0.4)
    mc, d, out = start(rig, min_digits=2, max_digits=2, tries=3, valid_regex=r"1[0-9]", invalid_prompts=[bad])
    press(rig, "99")
    rig.run(0.6)                      # the invalid prompt plays to the caller
    assert not out
    press(rig, "15")
    t, res = wait(rig, out)
    assert res == {"digits": "15", "reason": "max", "tries": 2, "valid": True}
    got = heard(CH)
    voiced = np.flatnonzero(got != 0xD5)
    # the caller heard the 0.4 s invalid prompt, bit-exact (and its own digits are not echoed)
    from media_rig import find_offset
    L = find_offset(bad, got)
    np.testing.assert_array_equal(got[L:L + len(bad)], bad)
    assert len(voiced) == np.count_nonzero(bad != 0xD5)


def test_all_tries_fail_no_input_timeout(rig):
    heard = rig.listen(rig.rb, [CH])
    bad = tone_alaw(700, 0.2)
    t0 = rig.clock.seconds()
    mc, d, out = start(rig, timeout=1.0, tries=2, invalid_prompts=[bad])
    t, res = wait(rig, out)
    assert res == {"digits": "", "reason": "timeout", "tries": 2, "valid": False}
    # two tries of 1 s, each followed by the 0.2 s invalid prompt
    assert abs((t - t0) - 2.4) <= 0.05
    from media_rig import find_offset
    got = heard(CH)
    first = find_offset(bad, got)
    second = find_offset(bad, got[first + len(bad):]) + first + len(bad)
    assert second > first


def test_regex_mismatch_on_last_try_reports_invalid(rig):
    mc, d, out = start(rig, max_digits=1, tries=1, valid_regex="[1-3]")
    press(rig, "7")
    t, res = wait(rig, out)
    assert res == {"digits": "", "reason": "invalid", "tries": 1, "valid": False}


def test_digit_cuts_the_prompt_and_counts(rig):
    heard = rig.listen(rig.rb, [CH])
    prompt = tone_alaw(500, 4.0)
    mc, d, out = start(rig, prompts=[prompt], max_digits=1)
    rig.run(0.5)
    assert mc.playing and mc.state == "collecting"
    press(rig, "7")
    t, res = wait(rig, out, limit=1.0)
    assert res == {"digits": "7", "reason": "max", "tries": 1, "valid": True}
    rig.run(0.3)
    got = heard(CH)
    assert len(np.flatnonzero(got != 0xD5)) < 1.5 * 8000      # far less than the 4 s prompt
    assert np.all(got[-800:] == 0xD5)


def test_timeout_starts_when_the_prompt_ends(rig):
    t0 = rig.clock.seconds()
    mc, d, out = start(rig, prompts=[tone_alaw(500, 1.0)], timeout=1.0, tries=1)
    t, res = wait(rig, out)
    assert res["reason"] == "timeout" and res["digits"] == ""
    assert abs((t - t0) - 2.0) <= 0.05


def test_typeahead_digits_skip_the_prompt(rig):
    mc = rig.ra.channel(CH)
    mc.detect(dtmf=True)
    press(rig, "35")
    rig.run(0.2)
    assert mc.digits == "35"
    heard = rig.listen(rig.rb, [CH])
    d = mc.collect(prompts=[tone_alaw(500, 1.0)], max_digits=2)
    out = []
    d.addCallback(out.append)
    assert out == [{"digits": "35", "reason": "max", "tries": 1, "valid": True}]   # at once
    rig.run(0.2)
    assert np.all(heard(CH) == 0xD5) and mc.digits == ""


def test_terminator_alone_with_min_zero_is_valid_empty(rig):
    mc, d, out = start(rig, min_digits=0, max_digits=4)
    press(rig, "#")
    t, res = wait(rig, out)
    assert res == {"digits": "", "reason": "terminator", "tries": 1, "valid": True}


@pytest.mark.parametrize("how", ["hangup", "stopped"])
def test_hangup_and_stop_end_collect(rig, how):
    mc, d, out = start(rig, prompts=[tone_alaw(500, 2.0)], max_digits=4, timeout=3)
    rig.run(2.2)
    press(rig, "12")
    rig.run(0.1)
    (mc.hangup if how == "hangup" else mc.stop)()
    assert out[0][1] == {"digits": "12", "reason": how, "tries": 1, "valid": False}
    assert mc.state == "idle" and not mc.playing
    rig.run(5.0)                      # no timer left behind
    assert len(out) == 1


def test_new_operation_stops_the_current_one(rig):
    mc, d, out = start(rig, max_digits=4, timeout=3)
    d2 = mc.play(tone_alaw(500, 0.1))
    assert out[0][1]["reason"] == "stopped"
    assert rig.run_until(d2)["reason"] == "done"
