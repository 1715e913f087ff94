"""cffi binding of the hwsim line layer (native/hwsim/line*.c) for the tests, built once per session.

load() compiles the C with `ffi.set_source` into a temporary directory and returns (ffi, lib). The extra C
below is test plumbing only (pump octets between a transmitter and a receiver with bit errors, and a
benchmark driver); every decision about the line is taken in native/hwsim.

Run as a script for the framer benchmark:  python3 tests/hwsim_native/linelib.py [seconds]
"""
import functools
import glob
import importlib.util
import os
import sys
import tempfile

import cffi

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HWSIM_DIR = os.path.join(ROOT, "native", "hwsim")

CDEF = r"""
#define LINE_HDLC_MAX ...
#define LINE_HDLC_QUEUE ...
#define LINE_HDLC_GOOD ...
#define LINE_HDLC_BAD_FCS ...
#define LINE_HDLC_ABORT ...
#define LINE_HDLC_BAD_LENGTH ...
#define LINE_TS16_CAS ...
#define LINE_TS16_CCS ...
#define LINE_TS16_CLEAR ...
#define HWSIM_ALARM_LOS ...
#define HWSIM_ALARM_LOF ...
#define HWSIM_ALARM_AIS ...
#define HWSIM_ALARM_RAI ...
#define HWSIM_ALARM_LOMF ...
#define HWSIM_ALARM_LOCRC ...

uint16_t line_fcs16(const uint8_t *buf, size_t len);

typedef struct { int count; int idle_repeat; uint64_t frames_sent; ...; } line_hdlc_tx_t;
void line_hdlc_tx_init(line_hdlc_tx_t *s);
int line_hdlc_tx_queue(line_hdlc_tx_t *s, const uint8_t *frame, int len);
void line_hdlc_tx_idle_repeat(line_hdlc_tx_t *s, int on);
uint8_t line_hdlc_tx_octet(line_hdlc_tx_t *s);

typedef void (*line_hdlc_cb)(void *user, const uint8_t *frame, int len, int status);
typedef struct { int in_frame; uint64_t good, bad_fcs, aborts, bad_length; ...; } line_hdlc_rx_t;
void line_hdlc_rx_init(line_hdlc_rx_t *s, line_hdlc_cb cb, void *user);
void line_hdlc_rx_octet(line_hdlc_rx_t *s, uint8_t octet);

typedef struct {
    int crc4; int ts16; int rai; int ais; int mf_alarm;
    uint8_t abcd[32];
    line_hdlc_tx_t *hdlc[32];
    uint32_t frame;
    int e_bits;
    ...;
} line_e1_tx_t;
void line_e1_tx_init(line_e1_tx_t *s, int crc4, int ts16);
void line_e1_tx_frames(line_e1_tx_t *s, const uint8_t *payload, size_t payload_stride, uint8_t *out, int nframes);

typedef struct {
    int crc4; int ts16; int aligned; int bit_offset; int crc_aligned; int mf_aligned;
    int alarms; int mf_remote_alarm; uint32_t frame; uint64_t nbytes;
    uint8_t abcd[32];
    line_hdlc_rx_t *hdlc[32];
    uint64_t crc_errors, fas_errors, e_bit_errors, realignments;
    void (*on_abcd)(void *user, int timeslot, int abcd);
    void (*on_alarm)(void *user, int alarms);
    void *user;
    ...;
} line_e1_rx_t;
void line_e1_rx_init(line_e1_rx_t *s, int crc4, int ts16);
int line_e1_rx_bits(line_e1_rx_t *s, const uint8_t *line, size_t nbytes, uint8_t *frames_out, int max_frames);

extern "Python" void py_hdlc_cb(void *, const uint8_t *, int, int);
extern "Python" void py_abcd_cb(void *, int, int);
extern "Python" void py_alarm_cb(void *, int);

/* test plumbing */
void t_hdlc_tx_pull(line_hdlc_tx_t *tx, uint8_t *out, size_t n);
void t_hdlc_rx_feed(line_hdlc_rx_t *rx, const uint8_t *in, size_t n);
uint64_t t_hdlc_pipe(line_hdlc_tx_t *tx, line_hdlc_rx_t *rx, uint64_t until_sent, double ber,
                     uint64_t *rng, uint64_t *flips, uint64_t max_octets);
double t_bench_span(int crc4, int ts16, int nframes, int *ok);
"""

PLUMBING = r"""
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include "line.h"
#include "hwsim_sdk.h"

void t_hdlc_tx_pull(line_hdlc_tx_t *tx, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = line_hdlc_tx_octet(tx);
}

void t_hdlc_rx_feed(line_hdlc_rx_t *rx, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        line_hdlc_rx_octet(rx, in[i]);
}

static uint64_t xs(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return *s = x;
}

/* bits until the next error: geometric with mean 1/ber */
static uint64_t gap(uint64_t *rng, double ber)
{
    double u = ((xs(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    return (uint64_t)(log(u) / log1p(-ber));
}

/* Move octets from tx to rx, flipping bits at rate ber, until tx has completed until_sent frames (then a few
   more octets so the closing flag reaches the receiver). */
uint64_t t_hdlc_pipe(line_hdlc_tx_t *tx, line_hdlc_rx_t *rx, uint64_t until_sent, double ber,
                     uint64_t *rng, uint64_t *flips, uint64_t max_octets)
{
    uint64_t n = 0, next = ber > 0 ? gap(rng, ber) : UINT64_MAX, tail = 0;
    while (n < max_octets && tail < 4) {
        uint8_t o = line_hdlc_tx_octet(tx);
        while (next < 8) {
            o ^= (uint8_t)(0x80 >> next);
            (*flips)++;
            next += 1 + gap(rng, ber);
        }
        if (next != UINT64_MAX)
            next -= 8;
        line_hdlc_rx_octet(rx, o);
        n++;
        if (tx->frames_sent >= until_sent)
            tail++;
    }
    return n;
}

static int bench_frames;
static void bench_hdlc_cb(void *user, const uint8_t *f, int len, int status)
{
    (void)user; (void)f; (void)len;
    if (status == LINE_HDLC_GOOD)
        bench_frames++;
}
static int bench_abcd;
static void bench_abcd_cb(void *user, int ts, int v) { (void)user; (void)ts; (void)v; bench_abcd++; }

/* out = the bit stream of in delayed by 3 bits (the 3 bits carried over from the previous call first) */
static void shift_right3(const uint8_t *in, uint8_t *out, int n, uint8_t *carry)
{
    uint64_t c = *carry;
    for (int i = 0; i < n; i += 8) {
        uint64_t x;
        memcpy(&x, in + i, 8);
        x = __builtin_bswap64(x);
        uint64_t y = x >> 3 | c << 61;
        c = x & 7;
        y = __builtin_bswap64(y);
        memcpy(out + i, &y, 8);
    }
    *carry = (uint8_t)c;
}

/* One span, both directions' work: tx framer -> bit stream (offset 3 bits) -> rx framer, in 160-frame blocks.
   Returns seconds of CPU for nframes; *ok = 1 if every voice octet arrived and the signalling flowed. */
double t_bench_span(int crc4, int ts16, int nframes, int *ok)
{
    static line_e1_tx_t tx;
    static line_e1_rx_t rx;
    static line_hdlc_tx_t htx;
    static line_hdlc_rx_t hrx;
    enum { B = 160 };
    static uint8_t payload[B * 32], txo[B * 32], line[B * 32], rxo[B * 32 + 32];
    line_e1_tx_init(&tx, crc4, ts16);
    line_e1_rx_init(&rx, crc4, ts16);
    line_hdlc_tx_init(&htx);
    line_hdlc_rx_init(&hrx, bench_hdlc_cb, NULL);
    line_hdlc_tx_idle_repeat(&htx, 1);
    if (ts16 == LINE_TS16_CCS) {
        tx.hdlc[16] = &htx;
        rx.hdlc[16] = &hrx;
    }
    rx.on_abcd = bench_abcd_cb;
    bench_frames = bench_abcd = 0;
    uint64_t rng = 88172645463325252ULL;
    for (int i = 0; i < B * 32; i++)
        payload[i] = (uint8_t)xs(&rng);
    uint8_t msu[40];
    for (int i = 0; i < 40; i++)
        msu[i] = (uint8_t)xs(&rng);
    uint8_t carry = 0;
    long out_frames = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (int done = 0; done < nframes; done += B) {
        if (ts16 == LINE_TS16_CCS)
            while (htx.count < 4)
                line_hdlc_tx_queue(&htx, msu, 40);
        else
            tx.abcd[1 + (done / B) % 15] ^= 0x4;
        line_e1_tx_frames(&tx, payload, 32, txo, B);
        /* shift the stream by 3 bits so the receiver works off octet boundaries */
        shift_right3(txo, line, B * 32, &carry);
        out_frames += line_e1_rx_bits(&rx, line, B * 32, rxo, B + 1);
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    *ok = out_frames > nframes - 16 && rx.aligned && (ts16 == LINE_TS16_CCS ? bench_frames > 0 : bench_abcd > 0);
    return (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
}
"""


@functools.cache
def load():
    """Build the line layer with cffi once per process; return (ffi, lib)."""
    sources = sorted(glob.glob(os.path.join(HWSIM_DIR, "line*.c")))
    ffi = cffi.FFI()
    ffi.cdef(CDEF)
    ffi.set_source(
        "_hwsim_line_test",
        PLUMBING,
        sources=sources,
        include_dirs=[HWSIM_DIR],
        extra_compile_args=["-O2", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
        libraries=["m", "pthread"],
    )
    tmp = tempfile.mkdtemp(prefix="hwsim_line_")
    path = ffi.compile(tmpdir=tmp, verbose=False)
    spec = importlib.util.spec_from_file_location("_hwsim_line_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    _register_callbacks(mod.ffi)
    return mod.ffi, mod.lib


def _register_callbacks(ffi):
    @ffi.def_extern()
    def py_hdlc_cb(user, frame, length, status):
        # GOOD frames: frame[len], frame[len + 1] hold the received FCS (line.h)
        n = length + 2 if status == 0 else length
        ffi.from_handle(user).append((status, bytes(ffi.buffer(frame, n))))

    @ffi.def_extern()
    def py_abcd_cb(user, timeslot, abcd):
        ffi.from_handle(user).on_abcd(timeslot, abcd)

    @ffi.def_extern()
    def py_alarm_cb(user, alarms):
        ffi.from_handle(user).on_alarm(alarms)


def fcs16_reference(data: bytes) -> int:
    """CRC-16/X-25 written bit by bit from its definition (ISO 3309): independent of the C tables."""
    crc = 0xFFFF
    for byte in data:
        for i in range(8):
            bit = (byte >> i) & 1
            crc = (crc >> 1) ^ 0x8408 if (crc ^ bit) & 1 else crc >> 1
    return crc ^ 0xFFFF


class HdlcRx:
    """An HDLC receiver collecting (status, bytes) in .frames; GOOD frames carry their 2 FCS octets."""

    def __init__(self):
        self.ffi, self.lib = load()
        self.frames = []
        self._h = self.ffi.new_handle(self.frames)
        self.s = self.ffi.new("line_hdlc_rx_t *")
        self.lib.line_hdlc_rx_init(self.s, self.lib.py_hdlc_cb, self._h)

    def feed(self, data: bytes):
        self.lib.t_hdlc_rx_feed(self.s, self.ffi.from_buffer(data), len(data))

    def good(self):
        return [f[:-2] for st, f in self.frames if st == self.lib.LINE_HDLC_GOOD]


class HdlcTx:
    def __init__(self):
        self.ffi, self.lib = load()
        self.s = self.ffi.new("line_hdlc_tx_t *")
        self.lib.line_hdlc_tx_init(self.s)

    def queue(self, frame: bytes) -> int:
        return self.lib.line_hdlc_tx_queue(self.s, frame, len(frame))

    def pull(self, n: int) -> bytes:
        buf = self.ffi.new("uint8_t[]", n)
        self.lib.t_hdlc_tx_pull(self.s, buf, n)
        return bytes(buf)


class E1Rx:
    """An E1 receive framer recording ABCD and alarm callbacks with the frame count at which they came."""

    def __init__(self, crc4=False, ts16=1):
        self.ffi, self.lib = load()
        self.s = self.ffi.new("line_e1_rx_t *")
        self.lib.line_e1_rx_init(self.s, int(crc4), ts16)
        self._h = self.ffi.new_handle(self)
        self.s.user = self._h
        self.s.on_abcd = self.lib.py_abcd_cb
        self.s.on_alarm = self.lib.py_alarm_cb
        # events carry the line bytes consumed when they were raised (the byte that completed the evidence)
        self.abcd_events = []      # (bytes consumed, timeslot, abcd)
        self.alarm_events = []     # (bytes consumed, alarms)
        self.nframes = 0

    def on_abcd(self, ts, v):
        self.abcd_events.append((self.s.nbytes, ts, v))

    def on_alarm(self, alarms):
        self.alarm_events.append((self.s.nbytes, alarms))

    def feed(self, data: bytes) -> bytes:
        """Feed line bytes; return the aligned frames written (32 bytes each)."""
        cap = len(data) // 32 + 2
        out = self.ffi.new("uint8_t[]", cap * 32)
        n = self.lib.line_e1_rx_bits(self.s, self.ffi.from_buffer(data), len(data), out, cap)
        self.nframes += n
        return bytes(self.ffi.buffer(out, n * 32))


class E1Tx:
    def __init__(self, crc4=False, ts16=1):
        self.ffi, self.lib = load()
        self.s = self.ffi.new("line_e1_tx_t *")
        self.lib.line_e1_tx_init(self.s, int(crc4), ts16)

    def frames(self, payload: bytes) -> bytes:
        n = len(payload) // 32
        out = self.ffi.new("uint8_t[]", n * 32)
        self.lib.line_e1_tx_frames(self.s, self.ffi.from_buffer(payload), 32, out, n)
        return bytes(out)


def bench(seconds_of_line=10.0):
    ffi, lib = load()
    n = int(seconds_of_line * 8000)
    ok = ffi.new("int *")
    rows = []
    for name, crc4, ts16 in (("CAS", 0, lib.LINE_TS16_CAS), ("CAS+CRC4", 1, lib.LINE_TS16_CAS),
                             ("CCS(HDLC)", 0, lib.LINE_TS16_CCS), ("CCS+CRC4", 1, lib.LINE_TS16_CCS)):
        cpu = lib.t_bench_span(crc4, ts16, n, ok)
        fps = n / cpu
        rows.append((name, fps, ok[0]))
        print(f"{name:10s} tx+rx one span: {fps/1e6:6.2f} M frames/s = {fps/8000:7.0f}x real time; "
              f"16 spans x 2 directions real time = {100 * 2 * 16 * 8000 / fps:5.2f} % of a core "
              f"(a direction = one tx + one rx); ok={ok[0]}")
    return rows


if __name__ == "__main__":
    bench(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
