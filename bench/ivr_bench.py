"""The bench's IVR: libcti's IvrRunner with two bench flows, as its own process over CTI (like ``python -m
ivrflows``), so the daemon's process CPU is the daemon's alone.

    python bench/ivr_bench.py --cti tcp:127.0.0.1:7000 --user ivr --password ivr-demo \\
        --route 5000=bench_load --prompt /tmp/prompt.wav

* ``bench_load``: answer; then, until the caller hangs up: collect (the prompt, 1-2 digits, 6 s timeout,
  one try), and when digits came, record ``--record-seconds`` (no beep, no silence stop, ``#`` ends it).
* ``bench_short``: answer, play the (short) prompt, wait for the caller's hang-up (hang up after 30 s).

On SIGTERM/SIGINT it prints one JSON line with the runner's counters and exits.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import defer, task  # noqa: E402


def make_flows(prompt: str, short_prompt: str, record_seconds: float, short_tone: str | None = None):
    async def bench_load(ctx):
        ch = ctx.channel
        await ch.answer()
        while not ch.hungup:
            r = await ch.collect([{"file": prompt}], min_digits=1, max_digits=2, timeout=6.0,
                                 inter_digit_timeout=2.0, terminators="#", tries=1)
            if r.get("digits") and not ch.hungup:
                await ch.record(max_seconds=record_seconds, silence_seconds=None, terminators="#", beep=False,
                                purpose="bench")

    async def bench_short(ctx):
        ch = ctx.channel
        await ch.answer()
        await ch.play({"tone": short_tone} if short_tone else {"file": short_prompt})
        d = ch.wait_hangup()
        d.addTimeout(30.0, ctx.clock)
        try:
            await d
        except defer.TimeoutError:
            await ch.hangup(16)

    return {"bench_load": bench_load, "bench_short": bench_short}


async def run(reactor, args):
    from libcti import connect
    from libcti.ivr import IvrRunner

    flows = make_flows(args.prompt, args.short_prompt or args.prompt, args.record_seconds, args.short_tone)
    routes = dict(r.split("=", 1) for r in args.route)
    client = await connect(args.cti, user=args.user, password=args.password, reactor=reactor)
    runner = IvrRunner(client, routes, flows, fallback_queue="frontdesk", clock=reactor)
    await runner.start()
    print(json.dumps({"event": "ivr_ready", "routes": routes}), flush=True)
    done = defer.Deferred()

    def report():
        print(json.dumps({"event": "ivr_stats", **runner.stats()}), flush=True)
        if not done.called:
            done.callback(None)
    reactor.addSystemEventTrigger("before", "shutdown", report)
    await done


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cti", required=True)
    ap.add_argument("--user", default="ivr")
    ap.add_argument("--password", default="ivr-demo")
    ap.add_argument("--route", action="append", default=[], metavar="CALLED=FLOW")
    ap.add_argument("--prompt", required=True, help="WAV file the daemon plays (a path on the daemon's host)")
    ap.add_argument("--short-prompt", help="WAV for bench_short (default: --prompt)")
    ap.add_argument("--record-seconds", type=float, default=2.0)
    ap.add_argument("--short-tone", help="bench_short plays this tone (beep, ringback...) instead of the file")
    args = ap.parse_args(argv)
    from twisted.logger import FilteringLogObserver, LogLevel, LogLevelFilterPredicate, globalLogBeginner
    from twisted.logger import textFileLogObserver
    obs = FilteringLogObserver(textFileLogObserver(sys.stderr), [LogLevelFilterPredicate(LogLevel.warn)])
    globalLogBeginner.beginLoggingTo([obs], redirectStandardIO=False)
    task.react(lambda reactor: defer.ensureDeferred(run(reactor, args)))


if __name__ == "__main__":
    main()
