"""Fuzz driver for ctid's native entry points, run in a SUBPROCESS by tests/test_fuzz_native.py so that a crash
(SIGSEGV, abort) shows as a failed test with the last operation logged, not as a dead pytest.

    python tests/peers/fuzz_native.py seed SEED ITERATIONS      # random operations from a seeded generator
    python tests/peers/fuzz_native.py plan FILE.json            # an explicit plan (hypothesis writes these)

Every call must end in a clean result or a clear error (DspError / ValueError from Python validation, NULL,
a negative code). Events that come out must be well formed (channel in range, known kind/type, finite level
and aux, time not in the future). The last operation is written to stderr before it runs ("op ...").
Exit 0 = all good; 1 = an invariant failed (message on stderr); a signal = a crash.
"""
from __future__ import annotations

import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# the ctid to fuzz: the worktree's, or another build of it (the ASan test points CTID_FUZZ_ROOT at its copy)
sys.path.insert(0, os.environ.get("CTID_FUZZ_ROOT") or os.path.dirname(os.path.dirname(HERE)))

from ctid.dsp import Bank, DspError  # noqa: E402
from ctid.dsp._native import ffi, lib  # noqa: E402

LAWS = ["alaw", "ulaw", "linear"]
NASTY_F = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e30, -1e30, 1e-30, 3.4e38, -200.0, 200.0,
           0.5, 1.0, 100.0]
NASTY_I = [0, -1, 1, 2, -2147483648, 2147483647, 1000000, 160, 161, 3, 50]
VERBOSE = os.environ.get("CTID_FUZZ_VERBOSE", "") == "1"


def log(*a):
    # Written unbuffered before each risky call, so a crash report shows the operation that killed it.
    if VERBOSE:
        sys.stderr.write("op " + " ".join(str(x) for x in a) + "\n")
        sys.stderr.flush()


class Fuzz:
    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.ops = 0

    # helpers -------------------------------------------------------------------------------------
    def f(self):
        r = self.rng
        return float(r.choice(NASTY_F)) if r.random() < 0.5 else float(r.uniform(-100, 100))

    def i(self):
        r = self.rng
        return int(r.choice(NASTY_I)) if r.random() < 0.5 else int(r.integers(-5, 20))

    def check_events(self, bank: Bank):
        ev = bank.events_array()
        if len(ev) == 0:
            return
        assert np.all(ev["channel"] < bank.nchan), f"event channel out of range: {ev['channel'].max()}"
        assert np.all((ev["kind"] >= 1) & (ev["kind"] <= 5)), f"bad event kind {set(ev['kind'].tolist())}"
        assert np.all((ev["type"] >= 1) & (ev["type"] <= 3)), f"bad event type {set(ev['type'].tolist())}"
        assert np.all(np.isfinite(ev["level"])), "non-finite event level"
        assert np.all(np.isfinite(ev["aux"])), "non-finite event aux"
        assert np.all(ev["t_sample"] <= bank.time + 8000), "event time in the future"
        assert np.all(ev["duration"] >= 0), "negative duration"

    def random_params(self, ctype: str, fill=None, *args):
        p = ffi.new(ctype + " *")
        if fill is not None and self.rng.random() < 0.5:
            fill(p, *args)
        for name, fld in ffi.typeof(ctype).fields:
            if self.rng.random() < 0.6:
                kind = fld.type.cname
                if kind == "float":
                    setattr(p, name, self.f())
                elif kind == "int":
                    setattr(p, name, self.i())
        return p

    def random_tone_defs(self, n: int):
        arr = ffi.new("ctid_tone_def_t[]", max(1, n))
        r = self.rng
        for k in range(n):
            d = arr[k]
            d.name = bytes(r.integers(1, 256, size=int(r.integers(0, 24))).astype(np.uint8).tolist())
            d.freq1 = self.f() if r.random() < 0.4 else float(r.uniform(100, 3800))
            d.freq2 = self.f() if r.random() < 0.3 else (0.0 if r.random() < 0.5 else float(r.uniform(100, 3800)))
            d.level_dbm0 = self.f()
            d.nsegs = self.i() if r.random() < 0.4 else int(r.integers(0, 9)) * 2
            for j in range(16):
                d.seg_ms[j] = self.i() if r.random() < 0.3 else int(r.integers(1, 2000))
            d.min_cycles = self.i()
            d.detect_ms = self.i()
        return arr

    # operations ------------------------------------------------------------------------------------
    def bank_session(self, nchan=None, law=None, steps=None, sizes=None, masks=None):
        r = self.rng
        nchan = nchan or int(r.choice([1, 2, 7, 8, 9, 16, 31, 32, 37, 64]))
        law = law or str(r.choice(LAWS))
        log("bank_new", nchan, law)
        bank = Bank(nchan, law=law)
        fb = bank.frame_bytes
        for ch in range(nchan):
            if r.random() < 0.8:
                bank.set_mask(ch, int(r.integers(0, 32)))
        steps = steps if steps is not None else int(r.integers(5, 40))
        for s in range(steps):
            op = r.integers(0, 10)
            if sizes:  # an explicit plan: set the planned mask on one channel, then process the planned size
                if masks:
                    m = masks[s % len(masks)]
                    log("set_mask", s % nchan, m)
                    try:
                        bank.set_mask(s % nchan, m)
                        assert m < 32, f"mask {m} accepted"
                    except DspError:
                        assert m >= 32, f"valid mask {m} refused"
                op = 0
            if op <= 3:
                if sizes:
                    size = sizes[s % len(sizes)]
                elif r.random() < 0.8:
                    size = fb * int(r.choice([1, 7, 159, 160, 161, 320, 1000]))
                else:
                    size = int(r.integers(0, 5 * fb + 3))
                data = r.integers(0, 256, size=size, dtype=np.uint8)
                if r.random() < 0.3:  # long runs of one byte value (e.g. 0x00 / 0x80 / 0xD5 / 0xFF)
                    data[:] = int(r.choice([0x00, 0x80, 0xD5, 0x2A, 0xAA, 0x55, 0xFF]))
                log("process", size, "frame_bytes", fb)
                try:
                    if r.random() < 0.5:
                        bank.process_raw(data)
                        self.check_events(bank)
                    else:
                        evs = bank.process(data.tobytes())
                        for e in evs:
                            assert 0 <= e.channel < nchan and math.isfinite(e.level)
                    assert size % fb == 0, f"size {size} accepted for frame size {fb}"
                except DspError:
                    assert size % fb != 0, f"whole-frame block of {size} bytes refused"
            elif op == 4:
                ch = int(r.choice([-1, -2, 0, nchan - 1, nchan, nchan + 5, int(r.integers(0, nchan))]))
                m = masks[s % len(masks)] if masks else int(r.integers(0, 64))
                log("set_mask", ch, m)
                try:
                    bank.set_mask(ch, m)
                    assert 0 <= ch < nchan and m < 32, f"set_mask({ch}, {m}) accepted"
                except DspError:
                    pass
            elif op == 5:
                ch = int(r.choice([-1, -2, 0, nchan, int(r.integers(0, nchan))]))
                p = self.random_params("ctid_dtmf_rx_params_t", lib.ctid_dtmf_rx_defaults)
                log("set_dtmf_params", ch, [getattr(p, n) for n, _ in ffi.typeof("ctid_dtmf_rx_params_t").fields])
                lib.ctid_bank_set_dtmf_params(bank._b, ch, p)
            elif op == 6:
                bw = int(r.choice([0, 1, 2, -1]))
                p = self.random_params("ctid_r2mf_rx_params_t", lib.ctid_r2mf_rx_defaults, bw if bw in (0, 1) else 0)
                if r.random() < 0.7:
                    p.backward = bw
                log("set_r2_params", [getattr(p, n) for n, _ in ffi.typeof("ctid_r2mf_rx_params_t").fields])
                lib.ctid_bank_set_r2_params(bank._b, p)
            elif op == 7:
                n = int(r.choice([0, 1, 3, 7, 32, 33, -1, 100]))
                defs = self.random_tone_defs(max(0, min(n, 40)))
                p = self.random_params("ctid_cpt_rx_params_t", lib.ctid_cpt_rx_defaults) if r.random() < 0.7 \
                    else ffi.NULL
                use_null = r.random() < 0.1
                log("set_cpt", n, "null defs" if use_null else "")
                lib.ctid_bank_set_cpt(bank._b, p, ffi.NULL if use_null else defs, n)
            elif op == 8:
                p = self.random_params("ctid_fsk_rx_params_t", lib.ctid_fsk_rx_defaults)
                log("set_fsk", p.modem, p.threshold_dbm0)
                lib.ctid_bank_set_fsk_params(bank._b, p)
            else:
                ch = int(r.choice([-1, 0, nchan - 1, nchan, 10 ** 6]))
                cap = int(r.choice([0, 1, 3, 258, -1]))
                buf = ffi.new("uint8_t[]", 300)
                log("cid_message/events/reset", ch, cap)
                rc = lib.ctid_bank_cid_message(bank._b, ch, buf, cap)
                assert rc <= max(cap, 0) or rc < 0, f"cid_message returned {rc} > cap {cap}"
                rc = lib.ctid_bank_events(bank._b, ffi.NULL, int(r.choice([0, -1, 5])))
                assert rc <= 0, f"events(NULL, ...) returned {rc}"
                lib.ctid_bank_reset(bank._b, ch)
        self.check_events(bank)
        self.ops += steps

    def detector_direct(self):
        """*_new with random lane counts and params, then *_process on random (finite) samples."""
        r = self.rng
        which = int(r.integers(0, 4))
        nl = int(r.choice([0, -1, 1, 3, 8, 9, 40, -100000, 100000]))
        if which == 0:
            p = self.random_params("ctid_dtmf_rx_params_t", lib.ctid_dtmf_rx_defaults)
            log("dtmf_rx_new", nl)
            s = lib.ctid_dtmf_rx_new(nl, p if r.random() < 0.9 else ffi.NULL)
            proc, free, reset = lib.ctid_dtmf_rx_process, lib.ctid_dtmf_rx_free, lib.ctid_dtmf_rx_reset
        elif which == 1:
            p = self.random_params("ctid_r2mf_rx_params_t", lib.ctid_r2mf_rx_defaults, int(r.integers(0, 2)))
            log("r2mf_rx_new", nl)
            s = lib.ctid_r2mf_rx_new(nl, p)
            proc, free, reset = lib.ctid_r2mf_rx_process, lib.ctid_r2mf_rx_free, lib.ctid_r2mf_rx_reset
        elif which == 2:
            p = self.random_params("ctid_cpt_rx_params_t", lib.ctid_cpt_rx_defaults)
            n = int(r.choice([0, 1, 5, 32]))
            log("cpt_rx_new", nl, n)
            s = lib.ctid_cpt_rx_new(nl, p if r.random() < 0.9 else ffi.NULL, self.random_tone_defs(n), n)
            proc, free, reset = lib.ctid_cpt_rx_process, lib.ctid_cpt_rx_free, lib.ctid_cpt_rx_reset
        else:
            p = self.random_params("ctid_fsk_rx_params_t", lib.ctid_fsk_rx_defaults)
            log("fsk_rx_new", nl, p.modem)
            s = lib.ctid_fsk_rx_new(nl, p if r.random() < 0.9 else ffi.NULL)
            proc, free, reset = lib.ctid_fsk_rx_process, lib.ctid_fsk_rx_free, lib.ctid_fsk_rx_reset
        if s == ffi.NULL:
            return
        if nl <= 0:
            free(s)
            raise AssertionError(f"detector {which} accepted {nl} lanes")
        stride = -(-nl // 8) * 8
        evb = ffi.new("ctid_evbuf_t *")
        evb.limit = 1000
        t = 0
        for _ in range(int(r.integers(1, 12))):
            nf = int(r.integers(1, 161)) if nl <= 1000 else int(r.integers(1, 4))
            x = r.uniform(-32768, 32767, size=nf * stride).astype(np.float32)
            if r.random() < 0.3:
                x[:] = 0.0
            en = (r.random(stride) < 0.7).astype(np.uint8)
            en[nl:] = 0
            log("process", which, nl, nf)
            proc(s, ffi.from_buffer("float[]", x), nf, stride, ffi.from_buffer("uint8_t[]", en), t, evb)
            t += nf
            if r.random() < 0.2:
                lane = int(r.choice([-1, 0, nl - 1, nl, -7]))
                log("reset", which, lane)
                reset(s, lane)
        for k in range(evb.n):
            e = evb.ev[k]
            assert e.channel < nl and math.isfinite(e.level) and math.isfinite(e.aux), "bad direct event"
        free(s)   # evb.ev (realloc'd by the detector) is left to the process exit

    def generators(self):
        r = self.rng
        which = int(r.integers(0, 4))
        maxs = [int(r.choice([0, 1, 159, 160, 161, 4000, -1]))]
        if which == 0:
            p = self.random_params("ctid_dtmf_tx_params_t", lib.ctid_dtmf_tx_defaults)
            log("dtmf_tx_new", p.level_dbm0, p.twist_db, p.on_ms, p.off_ms)
            s = lib.ctid_dtmf_tx_new(p if r.random() < 0.9 else ffi.NULL)
            if s == ffi.NULL:
                return
            digits = bytes(r.integers(1, 256, size=int(r.integers(0, 40))).astype(np.uint8).tolist())
            if r.random() < 0.5:
                digits = bytes(r.choice(list(b"0123456789*#ABCDabcd"), size=int(r.integers(0, 300))).tolist())
            log("dtmf_tx_put", digits[:50])
            lib.ctid_dtmf_tx_put(s, digits)
            buf = np.zeros(4000, np.int16)
            for _ in range(50):
                m = maxs[0]
                log("dtmf_tx_generate", m)
                n = lib.ctid_dtmf_tx_generate(s, ffi.from_buffer("int16_t[]", buf), m)
                assert n <= max(m, 0), f"dtmf_tx_generate wrote {n} > {m}"
                if n < m or n <= 0:
                    break
            lib.ctid_dtmf_tx_free(s)
        elif which == 1:
            bw, lv = int(r.choice([0, 1, 2, -1])), self.f()
            log("r2mf_tx_new", bw, lv)
            s = lib.ctid_r2mf_tx_new(bw, lv)
            if s == ffi.NULL:
                return
            buf = np.zeros(4000, np.int16)
            for _ in range(8):
                sig = int(r.choice([0, ord("1"), ord("F"), ord("f"), ord("A"), ord("#"), 255, -1, 1 << 20]))
                log("r2mf_tx_set", sig)
                rc = lib.ctid_r2mf_tx_set(s, sig)
                assert rc in (0, lib.CTID_ERR_ARG), f"r2mf_tx_set returned {rc}"
                log("r2mf_tx_generate", maxs[0])
                n = lib.ctid_r2mf_tx_generate(s, ffi.from_buffer("int16_t[]", buf), maxs[0])
                assert n <= max(maxs[0], 0), f"r2mf_tx_generate wrote {n} > {maxs[0]}"
            lib.ctid_r2mf_tx_free(s)
        elif which == 2:
            d = self.random_tone_defs(1)
            log("tone_gen_new", d[0].freq1, d[0].nsegs, [d[0].seg_ms[j] for j in range(4)])
            s = lib.ctid_tone_gen_new(d)
            if s == ffi.NULL:
                return
            buf = np.zeros(4000, np.int16)
            for _ in range(5):
                log("tone_gen_generate", maxs[0])
                n = lib.ctid_tone_gen_generate(s, ffi.from_buffer("int16_t[]", buf), maxs[0])
                assert n <= max(maxs[0], 0), f"tone_gen_generate wrote {n} > {maxs[0]}"
            lib.ctid_tone_gen_free(s)
        else:
            modem, lv = int(r.choice([1, 2, 0, 3, -1])), self.f()
            log("fsk_tx_new", modem, lv)
            s = lib.ctid_fsk_tx_new(modem, lv)
            if s == ffi.NULL:
                return
            data = r.integers(0, 256, size=int(r.integers(0, 300)), dtype=np.uint8)
            sb, mb = int(r.choice([0, 1, 300, -1, 100000])), int(r.choice([0, 180, -5, 100000]))
            n = int(r.choice([len(data), 0, -1, len(data) + 0]))
            log("fsk_tx_put", n, sb, mb)
            lib.ctid_fsk_tx_put(s, ffi.from_buffer("uint8_t[]", data) if len(data) else ffi.NULL, n, sb, mb)
            buf = np.zeros(4000, np.int16)
            total = 0
            while total < 8000 * 60:
                log("fsk_tx_generate", maxs[0])
                k = lib.ctid_fsk_tx_generate(s, ffi.from_buffer("int16_t[]", buf), maxs[0])
                assert k <= max(maxs[0], 0), f"fsk_tx_generate wrote {k} > {maxs[0]}"
                if k < maxs[0] or k <= 0:
                    break
                total += k
            lib.ctid_fsk_tx_free(s)

    def cid_path(self):
        """FSK from our generator (valid and corrupted messages) and random bytes through a CID bank."""
        r = self.rng
        nchan = int(r.choice([1, 3, 9]))
        bank = Bank(nchan, law="linear")
        bank.set_mask_all("cid")
        s = lib.ctid_fsk_tx_new(int(r.choice([1, 2])), -12.0)
        if s == ffi.NULL:
            return
        body = r.integers(0, 256, size=int(r.integers(0, 60)), dtype=np.uint8)
        msg = np.concatenate([[int(r.choice([0x04, 0x80, 0x82, 0x00, 0xFF])), len(body) & 0xFF], body]).astype(np.uint8)
        cks = (-int(msg.sum())) & 0xFF
        msg = np.append(msg, cks if r.random() < 0.6 else (cks + 1) & 0xFF).astype(np.uint8)
        lib.ctid_fsk_tx_put(s, ffi.from_buffer("uint8_t[]", msg), len(msg), 300, 180)
        audio = np.zeros(8000 * 3, np.int16)
        lib.ctid_fsk_tx_generate(s, ffi.from_buffer("int16_t[]", audio), len(audio))
        lib.ctid_fsk_tx_free(s)
        if r.random() < 0.5:  # corrupt some samples
            idx = r.integers(0, len(audio), size=int(r.integers(1, 200)))
            audio[idx] = r.integers(-32768, 32767, size=len(idx))
        fr = np.zeros((len(audio), nchan), np.int16)
        fr[:, 0] = audio
        if nchan > 1:
            fr[:, 1:] = r.integers(-32768, 32767, size=(len(audio), nchan - 1))
        log("cid_path", nchan, len(msg))
        for i in range(0, len(audio), 160):
            bank.process_raw(fr[i:i + 160].tobytes())
            ev = bank.events_array()
            for e in ev:
                if e["kind"] == lib.CTID_EV_CID:
                    buf = ffi.new("uint8_t[]", 300)
                    n = lib.ctid_bank_cid_message(bank._b, int(e["channel"]), buf, 300)
                    assert n <= 258, f"CID message of {n} bytes"

    def run(self, iterations: int):
        r = self.rng
        for _ in range(iterations):
            k = r.integers(0, 10)
            if k < 4:
                self.bank_session()
            elif k < 6:
                self.detector_direct()
            elif k < 8:
                self.generators()
            else:
                self.cid_path()


def main(argv):
    if argv[1] == "seed":
        fz = Fuzz(np.random.default_rng(int(argv[2])))
        fz.run(int(argv[3]))
    elif argv[1] == "plan":
        plan = json.loads(open(argv[2]).read())
        for case in plan:
            fz = Fuzz(np.random.default_rng(case["seed"]))
            fz.bank_session(nchan=case["nchan"], law=case["law"], steps=len(case["sizes"]),
                            sizes=case["sizes"] or None, masks=case["masks"] or None)
            if case.get("extra"):
                fz.run(case["extra"])
    else:
        raise SystemExit("usage: fuzz_native.py seed SEED N | plan FILE")
    print("ok")


if __name__ == "__main__":
    main(sys.argv)
