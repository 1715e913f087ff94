"""Media runtime benchmark: every channel of 16 E1 spans (480) in an IVR cycle through BoardRuntime on hwsim.

Board 0 is "the daemon": one BoardRuntime, every voice channel looping
    collect(prompt 2.5 s, max 2 digits, timeout 1.5 s) -> record(3 s, beep, "#" terminator) -> again,
so at any moment channels are playing prompts, detecting DTMF and recording to WAV files (fsync'd at the end of
each recording). Board 1 is the far end (its own BoardRuntime, not counted): every channel dials two digits,
then "speaks" (noise at about -20 dBm0) for 3 s, then pauses, with staggered starts.

The world runs on a driven clock (a heap-based IReactorTime like the reactor's, 20 ms per step, as fast as the
CPU allows); recording files are created and closed (fsync) in a thread pool, as the daemon does. Reported:
- the daemon board's tick CPU per second of audio (thread CPU time of BoardRuntime.tick on board 0, which
  includes its driver calls, the native media tick, the detector bank and every Python callback, timers and
  WAV writing done from it), split by phase; also the collect timers fired by the clock;
- DTMF event latency in simulated time: from the first tone sample on the wire to the tick that delivers the
  ON event to the channel (block-quantised: add the tick's own processing time for real time);
- digits dialled / digits seen, recordings finished.

    python bench/bench_media.py                 # 16 spans, 20 s of audio
    python bench/bench_media.py --spans 2 --seconds 5
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import concurrent.futures  # noqa: E402
import heapq  # noqa: E402

from twisted.internet import defer  # noqa: E402
from twisted.internet.base import DelayedCall  # noqa: E402

from ctid.drivers import VOICE_TIMESLOTS, open_board  # noqa: E402
from ctid.drivers.hwsim import World  # noqa: E402
from ctid.dsp.dtmf import generate as dtmf_generate  # noqa: E402
from ctid.dsp.g711 import alaw_encode  # noqa: E402
from ctid.media import BoardRuntime  # noqa: E402

TICK = 0.020


class HeapClock:
    """IReactorTime for a driven benchmark with a heap like the real reactor's (twisted's task.Clock re-sorts
    all its pending calls on every callLater, which would dominate a run with thousands of timers)."""

    def __init__(self):
        self.now = 0.0
        self._heap: list = []
        self._n = 0

    def seconds(self) -> float:
        return self.now

    def callLater(self, delay, fn, *a, **kw):
        dc = DelayedCall(self.now + delay, fn, a, kw, self._cancelled, self._reset, seconds=self.seconds)
        self._n += 1
        heapq.heappush(self._heap, (dc.time, self._n, dc))
        return dc

    def _cancelled(self, dc):
        pass                        # lazy deletion: skipped when popped

    def _reset(self, dc):
        self._n += 1
        heapq.heappush(self._heap, (dc.time, self._n, dc))

    def advance(self, dt: float) -> None:
        self.now += dt
        h = self._heap
        while h and h[0][0] <= self.now:
            t, _, dc = heapq.heappop(h)
            if dc.cancelled or dc.called or dc.time != t:
                continue
            dc.called = 1
            dc.func(*dc.args, **dc.kw)

    def getDelayedCalls(self):
        return [dc for _, _, dc in self._heap if not (dc.cancelled or dc.called)]


class PoolIo:
    """run_io through a thread pool (as the daemon does with deferToThreadPool); results are delivered on the
    main thread by :meth:`deliver`, called once per tick like the reactor would."""

    def __init__(self, workers: int = 4):
        self.pool = concurrent.futures.ThreadPoolExecutor(workers)
        self.waiting: list = []

    def __call__(self, fn):
        d = defer.Deferred()
        self.waiting.append((self.pool.submit(fn), d))
        return d

    def deliver(self, wait: bool = False) -> None:
        if wait:
            concurrent.futures.wait([f for f, _ in self.waiting])
        keep = []
        for f, d in self.waiting:
            if not f.done():
                keep.append((f, d))
            elif f.exception() is not None:
                d.errback(f.exception())
            else:
                d.callback(f.result())
        self.waiting = keep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spans", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--dir", default=None, help="directory for the recordings (default: a temporary one)")
    ap.add_argument("--realtime", action="store_true",
                    help="run in real time on the Twisted reactor (Pacer every 20 ms, file I/O via deferToThreadPool)")
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="ctid-bench-media-") if args.dir is None else None
    rec_dir = args.dir or tmp.name
    rng = np.random.default_rng(1)

    world = World(seed=11)
    a = open_board("hwsim", 0, world=world, spans=args.spans)
    b = open_board("hwsim", 1, world=world, spans=args.spans)
    for s in range(args.spans):
        world.cable(0, s, 1, s)
    for _ in range(50):
        world.tick()
        if all(not sp.alarms for bd in (a, b) for sp in bd.spans):
            break
    a.events(), b.events()
    if args.realtime:
        from twisted.internet import reactor, threads
        from twisted.python.threadpool import ThreadPool

        clock = reactor
        pool = ThreadPool(2, 4, name="media-io")
        pool.start()
        io = lambda fn: threads.deferToThreadPool(reactor, pool, fn)  # noqa: E731
    else:
        clock = HeapClock()
        io = PoolIo()
    ra, rb = BoardRuntime(a, clock, run_io=io), BoardRuntime(b, clock)
    ra.enable_profile()
    t_base = clock.seconds()

    channels = [s * 32 + t for s in range(args.spans) for t in VOICE_TIMESLOTS]
    prompts = [alaw_encode(np.clip(rng.normal(0, 2500, 20000), -32768, 32767).astype(np.int16)) for _ in range(8)]
    speech = [alaw_encode(np.clip(rng.normal(0, 2500, 24000), -32768, 32767).astype(np.int16)) for _ in range(8)]
    stats = {"collects": 0, "digits_seen": 0, "records": 0, "rec_bytes": 0, "dialled": 0, "errors": 0}
    latencies: list[float] = []
    stopping: list[bool] = []
    dial_started: dict[int, list[float]] = {n: [] for n in channels}

    # ----------------------------------------------------------------------------------------- the daemon
    def ivr_cycle(n: int, k: int = 0) -> None:
        mc = ra.channel(n)
        d = mc.collect(prompts=[prompts[(n + k) % len(prompts)]], max_digits=2, timeout=1.5, inter_digit_timeout=1.0,
                       tries=1)

        def collected(res):
            stats["collects"] += 1
            path = os.path.join(rec_dir, f"{n}.wav")
            return mc.record(path, max_seconds=3.0, silence_seconds=None, terminators="#", beep=True)

        def recorded(res):
            stats["records"] += 1
            stats["rec_bytes"] += res["bytes"]
            if not stopping:
                ivr_cycle(n, k + 1)

        def failed(f):
            stats["errors"] += 1
            print(f"channel {n}: {f.getErrorMessage()}", file=sys.stderr)

        d.addCallback(collected).addCallback(recorded).addErrback(failed)

    def on_tone(n):
        def fn(ev):
            if ev.kind == "dtmf" and ev.type == "on":
                stats["digits_seen"] += 1
                if dial_started[n]:
                    latencies.append(clock.seconds() - dial_started[n].pop(0))
        return fn

    for n in channels:
        ra.channel(n).detect(dtmf=True)
        ra.channel(n).on_tone = on_tone(n)

    # ----------------------------------------------------------------------------------------- the far end
    def caller_cycle(n: int, k: int = 0) -> None:
        mc = rb.channel(n)
        if clock.seconds() - t_base > args.seconds - 0.5:
            return                   # no digit left in flight at the end
        digits = "%d%d" % ((n + k) % 10, (n * 7 + k) % 10)
        # The far end's next tick writes the first samples into its block (the tick hook below notes when); that
        # block is on the wire during the world tick that follows, i.e. from that moment. The tone starts a
        # random number of samples into the block (a caller does not press keys in step with our ticks).
        lead = int(rng.integers(0, 160))
        pending_dials.append((n, lead))
        stats["dialled"] += 2
        audio = np.concatenate([np.full(lead, 0xD5, np.uint8),
                                alaw_encode(dtmf_generate(digits, level_dbm0=-10.0, on_ms=80, off_ms=80))])
        d = mc.play(audio)
        d.addCallback(lambda _: mc.play(speech[(n + k) % len(speech)]))
        d.addCallback(lambda _: clock.callLater(0.5 + (n % 7) * 0.1, caller_cycle, n, k + 1))

    pending_dials: list[tuple[int, int]] = []

    def note_dials(_rx):
        now = clock.seconds()
        for n, lead in pending_dials:
            t = now + lead / 8000
            dial_started[n].extend([t, t + 0.16])
        pending_dials.clear()

    rb.add_tick_hook(note_dials)

    for i, n in enumerate(channels):
        clock.callLater(0.02 * (i % 100), ivr_cycle, n)
        clock.callLater(0.5 + 0.02 * (i % 150), caller_cycle, n)

    if args.realtime:
        return realtime(args, world, ra, rb, clock, pool, channels, stats, latencies, stopping, tmp)

    steps = int(round(args.seconds / TICK))
    world_cpu = far_cpu = daemon_cpu = timers_cpu = 0.0
    wall0 = time.perf_counter()
    proc0 = time.process_time()
    for _ in range(steps):
        t0 = time.thread_time()
        world.tick(1)
        t1 = time.thread_time()
        clock.advance(TICK)          # timers (collect timeouts, the far end's pauses)
        io.deliver()                 # finished file work (open, close + fsync) back on the main thread
        t2 = time.thread_time()
        ra.tick()
        t3 = time.thread_time()
        rb.tick()
        t4 = time.thread_time()
        world_cpu += t1 - t0
        timers_cpu += t2 - t1
        daemon_cpu += t3 - t2
        far_cpu += t4 - t3
    main_cpu = world_cpu + timers_cpu + daemon_cpu + far_cpu
    io.deliver(wait=True)
    pool_cpu = max(0.0, (time.process_time() - proc0) - main_cpu)
    wall = time.perf_counter() - wall0

    audio_s = steps * TICK
    lat = np.array(latencies) * 1000 if latencies else np.zeros(1)
    print(f"{len(channels)} channels ({args.spans} spans), {audio_s:.1f} s of audio, wall {wall:.1f} s, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"daemon board tick CPU: {daemon_cpu:.3f} s = {100 * daemon_cpu / audio_s:.2f} % of one core "
          f"({1000 * daemon_cpu / steps:.3f} ms per 20 ms tick)")
    prof = ra.profile
    for k in prof:
        print(f"  {k:14s} {1000 * prof[k] / steps:7.3f} ms/tick  {100 * prof[k] / audio_s:6.2f} % core")
    rest = daemon_cpu - sum(prof.values())
    print(f"  {'hooks/other':14s} {1000 * rest / steps:7.3f} ms/tick  {100 * rest / audio_s:6.2f} % core")
    print(f"clock timers and I/O completions (collect timeouts, far-end pauses): {100 * timers_cpu / audio_s:.2f} % core")
    print(f"recording file I/O thread pool (create, write-behind close + fsync): about {100 * pool_cpu / audio_s:.2f} % core")
    print(f"not counted: far-end board {100 * far_cpu / audio_s:.2f} % core, hwsim world (both boards) "
          f"{100 * world_cpu / audio_s:.2f} % core")
    print(f"DTMF: dialled {stats['dialled']}, seen {stats['digits_seen']}; event latency from tone start "
          f"(simulated, 20 ms ticks, tones starting anywhere in a block): p50 {np.percentile(lat, 50):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms, "
          f"max {lat.max():.0f} ms")
    print(f"collects finished {stats['collects']}, recordings finished {stats['records']} "
          f"({stats['rec_bytes'] / 8000:.0f} s of audio written), errors {stats['errors']}, "
          f"runtime callback errors {ra.errors + rb.errors}")
    stopping.append(True)
    ra.close()
    rb.close()
    while io.waiting:
        io.deliver(wait=True)
    io.pool.shutdown(wait=True)
    world.close()
    if tmp is not None:
        tmp.cleanup()
    return 0


def realtime(args, world, ra, rb, reactor, pool, channels, stats, latencies, stopping, tmp) -> int:
    """The same load in real time: a Pacer ticks the world every 20 ms on the reactor, then both runtimes."""
    from ctid.drivers import Pacer

    cpu = {"world": 0.0, "daemon": 0.0, "far": 0.0}

    class TimedWorld:
        def tick(self, n=1):
            t0 = time.thread_time()
            world.tick(n)
            cpu["world"] += time.thread_time() - t0

    def on_block(_w):
        t0 = time.thread_time()
        ra._tick_guarded()
        t1 = time.thread_time()
        rb._tick_guarded()
        cpu["daemon"] += t1 - t0
        cpu["far"] += time.thread_time() - t1

    pacer = Pacer(TimedWorld(), clock=reactor)
    pacer.add_listener(on_block)
    r0 = os.times()
    t_start = time.perf_counter()

    def stop():
        stopping.append(True)
        pacer.stop()
        reactor.stop()

    reactor.callWhenRunning(pacer.start)
    reactor.callLater(args.seconds, stop)
    reactor.run()
    wall = time.perf_counter() - t_start
    r1 = os.times()
    proc = (r1.user - r0.user) + (r1.system - r0.system)
    lat = np.array(latencies) * 1000 if latencies else np.zeros(1)
    print(f"REAL TIME: {len(channels)} channels ({args.spans} spans), {wall:.1f} s, {pacer.ticks} ticks "
          f"(late calls {pacer.late_calls}, blocks dropped {pacer.dropped}), load average {os.getloadavg()[0]:.2f}")
    print(f"process CPU {100 * proc / wall:.1f} % of one core in all: daemon board tick {100 * cpu['daemon'] / wall:.1f} %, "
          f"far-end board {100 * cpu['far'] / wall:.1f} %, hwsim world {100 * cpu['world'] / wall:.1f} %, "
          f"the rest (reactor, timers, callbacks outside the tick, file I/O threads) "
          f"{100 * (proc - sum(cpu.values())) / wall:.1f} %")
    print(f"DTMF: dialled {stats['dialled']}, seen {stats['digits_seen']}; event latency from tone start (reactor "
          f"time, tick to tick; the tick's own processing comes on top): p50 {np.percentile(lat, 50):.0f} ms, p99 {np.percentile(lat, 99):.0f} ms, max {lat.max():.0f} ms")
    print(f"collects finished {stats['collects']}, recordings finished {stats['records']}, errors {stats['errors']}, "
          f"runtime callback errors {ra.errors + rb.errors}, tick failures {ra.tick_failures + rb.tick_failures}")
    pool.stop()
    world.close()
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
