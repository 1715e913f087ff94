/*
 * Caller ID FSK receiver (on-hook data transmission), many lanes per call.
 *
 * Modems (both 1200 bit/s, asynchronous):
 *   Bell 202: mark 1200 Hz, space 2200 Hz (Bellcore GR-30-CORE; China YDN 069-1997 / YD/T 1277.1 use it)
 *   V.23:     mark 1300 Hz, space 2100 Hz (ITU-T V.23 mode 2; ETSI EN 300 659-1)
 * Both pairs are centred on 1700 Hz, so one quadrature oscillator serves both.
 *
 * Signal path per lane (vectorised across the CTID_TILE lanes of a tile, CTID_HOT):
 *   2nd-order Butterworth high-pass at 500 Hz (removes ringing-like low-frequency energy, hum, DC)
 *   -> complex mix to baseband with e^{-j 2 pi 1700 n / 8000} (the oscillator depends only on the global
 *      sample index, so it is shared by all lanes and split-invariant)
 *   -> 4th-order Butterworth low-pass on I and Q (cut-off 700 Hz Bell 202 / 600 Hz V.23: passes the
 *      +-500 / +-400 Hz deviation and the main data sidebands, rejects the image at -3400 Hz and out-of-band
 *      noise; the cut-offs were tuned for the best message rate in white noise)
 *   -> FM discriminator d[n] = Im(z[n] conj z[n-1]) / |z[n]|^2 = sin(dphi): negative for mark, positive for
 *      space. Normalised, so that a loud tone does not outvote a quiet one: mark and space may differ by
 *      10 dB (twist, TIA/EIA-716 -6..+10 dB), and in white noise it also beat the energy-weighted |z|^2 sin(dphi)
 *      (message rate at 6 dB S/N: 171 vs 134 of 192, Bell 202).
 *   -> 3-tap moving sum (extra smoothing of the decision variable)
 *   -> smoothed envelope power es (one pole, 32 samples = 4 ms) for carrier detection.
 * Per-lane logic (scalar, only for enabled lanes that have carrier or are receiving):
 *   carrier detect: on when es >= threshold, off 6 dB below it, or 20 dB below the level at message start;
 *   async UART: a mark->space crossing of the decision variable (interpolated to a fraction of a sample)
 *   starts a character; each bit is decided by integrating the decision variable over +-W samples around
 *   its centre (edge + (k + 1/2) * 20/3 samples), so timing re-synchronises on every start bit; transitions
 *   inside the character nudge the bit clock (a first-order DPLL) to average out the start edge's jitter;
 *   start bit must be space, 8 data bits LSB first, stop bit must be mark (else a framing error).
 *   Channel seizure (GR-30: 300 bits of alternating 0/1) shows up as 0x55 characters and is counted.
 *   The first character after a mark run of at least MARK_MIN bits, if it is a known message type, opens a
 *   message: type, length, body, checksum (sum of all bytes == 0 mod 256, GR-30 / EN 300 659-3), and the
 *   body must have the structure of its type (well_formed()).
 *   A good message gives CTID_EV_CID / CTID_EVT_MSG; a bad checksum or structure, a framing error, a gap of
 *   more than GAP_MAX bit-times or a lost carrier after the length byte discards it and counts a bad
 *   message (ctid_fsk_rx_bad_messages). The stop bit
 *   of the checksum byte is not awaited: senders may drop the carrier at once, and the checksum decides.
 * Seizure is detected but not required: ETSI type 2 (call waiting) and some networks send only the mark.
 */
#include "internal.h"

#define FSK_CHUNK 160                 /* scratch size: frames per kernel pass (at most one QUIET_BLOCK) */
#define FSK_OSC 80                    /* 1700 Hz at 8000 Hz: 17/80 of a cycle per sample, period 80 */
#define FSK_FC 1700.0
#define FSK_BIT ((float) CTID_RATE / 1200.0f)   /* 6.667 samples per bit (1200 bit/s, GR-30 and V.23) */
#define FSK_W 1.25f                   /* half-width of the bit integration window, samples (the decision
                                         variable is already low-passed; a narrow window tolerates timing
                                         error best: tuned on noisy signals, see tests) */
#define PLL_GAIN 0.15f                /* share of a transition's timing error corrected at once */
#define PLL_WIN 0.4f                  /* only transitions within 0.4 bit of a bit boundary count */
#define MARK_MIN 25                   /* bits of mark before a message type byte is accepted. GR-30 sends
                                         180 mark bits, EN 300 659-1 80 +- 25: 25 leaves room for a late
                                         carrier detect */
#define MAVG_K (1.0f / 64.0f)         /* mark-run mean: time constant 64 samples (10 bits) */
#define GAP_MAX 40                    /* bit-times of mark tolerated between characters inside a message */
#define ES_SHIFT 32.0f                /* envelope smoothing, samples */
#define OFF_DB 6.0                    /* carrier off hysteresis below threshold */
#define DROP_RATIO 0.01f              /* carrier lost if power falls 20 dB below its level at message start */
#define QUIET_BLOCK 160               /* samples: quiet-tile gating granularity (20 ms, 24 bits) */
#define QUIET_DB 10.0                 /* a block is quiet if its total power is this far below the threshold */

enum { M_IDLE = 0, M_PRE, M_MSG };

/* Per-tile filter state, NS vectors of CTID_TILE floats. */
enum {
    S_H1, S_H2,                       /* high-pass DF2T */
    S_I1, S_I2, S_I3, S_I4,           /* low-pass, I: biquad 1 (s1, s2), biquad 2 (s1, s2) */
    S_Q1, S_Q2, S_Q3, S_Q4,           /* low-pass, Q */
    S_PI, S_PQ,                       /* previous baseband sample */
    S_D1, S_D2,                       /* previous discriminator outputs (moving sum) */
    S_ES,                             /* smoothed envelope power */
    NS
};

/* Coefficients pre-broadcast to CTID_TILE lanes (vector memory operands keep the registers for the states). */
enum { C_HB0, C_HB1, C_HB2, C_HA1, C_HA2, C_AB0, C_AB1, C_AB2, C_AA1, C_AA2, C_BB0, C_BB1, C_BB2, C_BA1, C_BA2, NC };

typedef struct {
    int mode;
    int inchar;          /* 1 while receiving a character */
    int bit;             /* bit of the character being integrated: 0 start, 1..8 data, 9 stop */
    unsigned shift;
    float pos;           /* samples since the start edge */
    float lo, hi;        /* integration window of the current bit, relative to the edge */
    float acc;
    float prev;          /* previous decision value (edge detection) */
    float es_ref;        /* carrier power when the message started */
    int mark;            /* samples spent hunting since the last character (mark run / gap) */
    float mavg;          /* leaky mean of the decision variable while hunting (is the mark run a mark?) */
    int seizure;         /* 0x55 characters in this carrier burst */
    int n, need;
    uint8_t buf[CTID_CID_MAX_MSG];
    int msglen;
    uint8_t msg[CTID_CID_MAX_MSG];
    int bad;
} fsk_lane_t;

/* Quiet-tile gating. A tile whose enabled lanes are all idle (no carrier) and whose input power was at least
   QUIET_DB below the carrier threshold over the whole previous QUIET_BLOCK (aligned on the global sample
   count, so the result does not depend on how calls split the signal) skips its filters for the next block:
   such a lane cannot have carrier. The cost is a carrier detected up to one block (24 bits) late, inside
   the shortest preamble (EN 300 659-1: 80 - 25 = 55 mark bits without seizure; MARK_MIN is 25). */
typedef struct {
    float pw[CTID_TILE];              /* sum of x^2 in the current block */
    int pw_n;                         /* samples summed in the current block */
    int skip;                         /* the current block is skipped */
    int zeroed;                       /* the filter states were cleared for the skip */
} fsk_gate_t;

struct ctid_fsk_rx {
    int nlanes;
    int stride;
    ctid_fsk_rx_params_t p;
    float cf[NC][CTID_TILE];          /* filter coefficients, broadcast to the lanes of a tile */
    float osc_c[FSK_OSC], osc_s[FSK_OSC];
    float es_on, es_off;
    float mark_lo, mark_hi;           /* accepted range of the mark-run mean of the decision variable */
    float *st;                        /* (stride / CTID_TILE) tiles x NS x CTID_TILE */
    fsk_lane_t *lane;
    float *dbuf, *ebuf, *zib, *zqb;   /* FSK_CHUNK x CTID_TILE scratch */
    float pw_quiet;                   /* sum of x^2 over a QUIET_BLOCK below which a lane is quiet */
    fsk_gate_t *gate;                 /* per tile */
};

void ctid_fsk_rx_defaults(ctid_fsk_rx_params_t *p)
{
    if (p == NULL)
        return;
    memset(p, 0, sizeof(*p));
    p->modem = CTID_FSK_BELL202;
    /* Operating range -40..0 dBm0 (tests). Receiver ranges asked of CPE (ANSI/TIA/EIA-716 for Bell 202:
       -4.2..-36.2 dBm; ETS 300 778-1 for V.23: -5.8..-37.8 dBm; both reject below about -48 dBm, as
       tabulated in the Zarlink MT88E45 data sheet) span 32 dB; the threshold sits 4 dB under our range and
       4 dB over the reject level. */
    p->threshold_dbm0 = -44.0f;
}

/* Bilinear-transform biquads (the standard analogue prototypes, prewarped). */
static void biquad_lp(float *c, double fc, double q)
{
    double w = 2.0 * CTID_PI * fc / CTID_RATE, cw = cos(w), al = sin(w) / (2.0 * q), a0 = 1.0 + al;
    c[0] = (float) ((1.0 - cw) / 2.0 / a0);
    c[1] = (float) ((1.0 - cw) / a0);
    c[2] = c[0];
    c[3] = (float) (-2.0 * cw / a0);
    c[4] = (float) ((1.0 - al) / a0);
}

static void biquad_hp(float *c, double fc, double q)
{
    double w = 2.0 * CTID_PI * fc / CTID_RATE, cw = cos(w), al = sin(w) / (2.0 * q), a0 = 1.0 + al;
    c[0] = (float) ((1.0 + cw) / 2.0 / a0);
    c[1] = (float) (-(1.0 + cw) / a0);
    c[2] = c[0];
    c[3] = (float) (-2.0 * cw / a0);
    c[4] = (float) ((1.0 - al) / a0);
}

static void lane_clear(fsk_lane_t *L)
{
    memset(L, 0, sizeof(*L));
    L->mode = M_IDLE;
}

static void state_clear(ctid_fsk_rx_t *s, int lane)
{
    float *t = s->st + (size_t) (lane / CTID_TILE) * NS * CTID_TILE;
    int k;
    for (k = 0; k < NS; k++)
        t[k * CTID_TILE + lane % CTID_TILE] = 0.0f;
}

void ctid_fsk_rx_reset(ctid_fsk_rx_t *s, int lane)
{
    int i;
    if (s == NULL)
        return;
    if (lane == -1) {
        for (i = 0; i < s->nlanes; i++)
            ctid_fsk_rx_reset(s, i);
        return;
    }
    if (lane < 0 || lane >= s->nlanes)
        return;
    lane_clear(&s->lane[lane]);
    state_clear(s, lane);
}

void ctid_fsk_rx_free(ctid_fsk_rx_t *s)
{
    if (s == NULL)
        return;
    free(s->st);
    free(s->lane);
    free(s->dbuf);
    free(s->ebuf);
    free(s->zib);
    free(s->zqb);
    free(s->gate);
    free(s);
}

ctid_fsk_rx_t *ctid_fsk_rx_new(int nlanes, const ctid_fsk_rx_params_t *p)
{
    ctid_fsk_rx_t *s;
    ctid_fsk_rx_params_t def;
    double lpf, thr;
    float c[NC];
    int k;

    if (nlanes <= 0 || nlanes > 65536)
        return NULL;
    if (p == NULL) {
        ctid_fsk_rx_defaults(&def);
        p = &def;
    }
    if (p->modem != CTID_FSK_BELL202 && p->modem != CTID_FSK_V23)
        return NULL;
    /* NaN fails both comparisons. */
    if (!(p->threshold_dbm0 >= -80.0f && p->threshold_dbm0 <= 3.0f))
        return NULL;
    s = (ctid_fsk_rx_t *) calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->nlanes = nlanes;
    s->stride = CTID_ROUND_UP_TILE(nlanes);
    s->p = *p;
    s->st = (float *) calloc((size_t) s->stride * NS, sizeof(float));
    s->lane = (fsk_lane_t *) calloc((size_t) nlanes, sizeof(fsk_lane_t));
    s->dbuf = (float *) calloc((size_t) FSK_CHUNK * CTID_TILE, sizeof(float));
    s->ebuf = (float *) calloc((size_t) FSK_CHUNK * CTID_TILE, sizeof(float));
    s->zib = (float *) calloc((size_t) FSK_CHUNK * CTID_TILE, sizeof(float));
    s->zqb = (float *) calloc((size_t) FSK_CHUNK * CTID_TILE, sizeof(float));
    s->gate = (fsk_gate_t *) calloc((size_t) s->stride / CTID_TILE, sizeof(fsk_gate_t));
    if (s->st == NULL || s->lane == NULL || s->dbuf == NULL || s->ebuf == NULL || s->zib == NULL
        || s->zqb == NULL || s->gate == NULL) {
        ctid_fsk_rx_free(s);
        return NULL;
    }
    biquad_hp(c, 500.0, 0.70710678);
    /* 4th-order Butterworth = biquads with Q 0.5412 and 1.3066. */
    lpf = p->modem == CTID_FSK_V23 ? 600.0 : 700.0;
    biquad_lp(c + 5, lpf, 0.54119610);
    biquad_lp(c + 10, lpf, 1.30656296);
    for (k = 0; k < NC; k++) {
        int j;
        for (j = 0; j < CTID_TILE; j++)
            s->cf[k][j] = c[k];
    }
    for (k = 0; k < FSK_OSC; k++) {
        double ph = 2.0 * CTID_PI * FSK_FC * k / CTID_RATE;
        s->osc_c[k] = (float) cos(ph);
        s->osc_s[k] = (float) sin(ph);
    }
    /* A steady mark tone gives the decision variable 3 sin(2 pi (f_mark - 1700) / 8000) (3-tap sum):
       -1.148 (Bell 202), -0.927 (V.23). Accept a mark-run mean from half to 1.6 times that (noise shrinks it,
       a tone between mark and the band edge enlarges it). */
    {
        const double m0 = 3.0 * sin(2.0 * CTID_PI * ((p->modem == CTID_FSK_V23 ? 1300.0 : 1200.0) - FSK_FC)
                                    / CTID_RATE);
        s->mark_hi = (float) (0.5 * m0);
        s->mark_lo = (float) (1.6 * m0);
    }
    /* A sine of mean-square power P at a tone in the pass band gives |z|^2 = P / 2 after the mixer. */
    thr = p->threshold_dbm0;
    s->es_on = (float) (ctid_dbm0_to_power(thr) / 2.0);
    s->es_off = (float) (ctid_dbm0_to_power(thr - OFF_DB) / 2.0);
    /* mean x^2 >= the power in any band, and the filters have no gain above 1: a lane under this cannot
       reach es_on */
    s->pw_quiet = (float) (QUIET_BLOCK * ctid_dbm0_to_power(thr - QUIET_DB));
    for (k = 0; k < nlanes; k++)
        lane_clear(&s->lane[k]);
    return s;
}

/* The tile kernels use GCC/Clang vector extensions: one v8sf holds a value for the CTID_TILE lanes of a tile,
   so every filter state is a register, not an array the compiler may leave in memory. The default
   (SSE2) clone splits each into two 4-lane halves. */
typedef float v8sf __attribute__((vector_size(32)));
typedef float v8sf_u __attribute__((vector_size(32), aligned(4)));   /* for unaligned loads and stores */
typedef char fsk_tile_is_8[(CTID_TILE == 8) ? 1 : -1];

typedef int v8si __attribute__((vector_size(32)));
#define ld8(p) (*(const v8sf_u *) (p))
#define st8(p, v) (*(v8sf_u *) (p) = (v))

/* Pass 1 over a tile: high-pass, mix to baseband, 4th-order low-pass on I and Q. Writes z to zib/zqb
   (n * CTID_TILE + j). */
CTID_HOT static void fsk_filter(const float (*cf)[CTID_TILE], float *st, const float *x, int nframes, int stride,
                                const float *oc, const float *os, int k, float *zib, float *zqb)
{
    v8sf h1 = ld8(st + S_H1 * CTID_TILE), h2 = ld8(st + S_H2 * CTID_TILE);
    v8sf i1 = ld8(st + S_I1 * CTID_TILE), i2 = ld8(st + S_I2 * CTID_TILE);
    v8sf i3 = ld8(st + S_I3 * CTID_TILE), i4 = ld8(st + S_I4 * CTID_TILE);
    v8sf q1 = ld8(st + S_Q1 * CTID_TILE), q2 = ld8(st + S_Q2 * CTID_TILE);
    v8sf q3 = ld8(st + S_Q3 * CTID_TILE), q4 = ld8(st + S_Q4 * CTID_TILE);
    const v8sf hb0 = ld8(cf[C_HB0]), hb1 = ld8(cf[C_HB1]), hb2 = ld8(cf[C_HB2]);
    const v8sf ha1 = ld8(cf[C_HA1]), ha2 = ld8(cf[C_HA2]);
    const v8sf ab0 = ld8(cf[C_AB0]), ab1 = ld8(cf[C_AB1]), ab2 = ld8(cf[C_AB2]);
    const v8sf aa1 = ld8(cf[C_AA1]), aa2 = ld8(cf[C_AA2]);
    const v8sf bb0 = ld8(cf[C_BB0]), bb1 = ld8(cf[C_BB1]), bb2 = ld8(cf[C_BB2]);
    const v8sf ba1 = ld8(cf[C_BA1]), ba2 = ld8(cf[C_BA2]);
    int n;

    for (n = 0; n < nframes; n++) {
        const v8sf v = ld8(x + (size_t) n * stride);
        const float c = oc[k], sn = -os[k];
        v8sf y, zi, zq, u;
        if (++k == FSK_OSC)
            k = 0;
        /* high-pass (transposed direct form II; the bracketing keeps each state's recursion at two FMAs) */
        y = hb0 * v + h1;
        h1 = (hb1 * v + h2) - ha1 * y;
        h2 = hb2 * v - ha2 * y;
        /* mix down: z = y * e^{-j w n} */
        zi = y * c;
        zq = y * sn;
        /* low-pass, I */
        u = ab0 * zi + i1;
        i1 = (ab1 * zi + i2) - aa1 * u;
        i2 = ab2 * zi - aa2 * u;
        zi = bb0 * u + i3;
        i3 = (bb1 * u + i4) - ba1 * zi;
        i4 = bb2 * u - ba2 * zi;
        /* low-pass, Q */
        u = ab0 * zq + q1;
        q1 = (ab1 * zq + q2) - aa1 * u;
        q2 = ab2 * zq - aa2 * u;
        zq = bb0 * u + q3;
        q3 = (bb1 * u + q4) - ba1 * zq;
        q4 = bb2 * u - ba2 * zq;
        st8(zib + n * CTID_TILE, zi);
        st8(zqb + n * CTID_TILE, zq);
    }
    st8(st + S_H1 * CTID_TILE, h1);
    st8(st + S_H2 * CTID_TILE, h2);
    st8(st + S_I1 * CTID_TILE, i1);
    st8(st + S_I2 * CTID_TILE, i2);
    st8(st + S_I3 * CTID_TILE, i3);
    st8(st + S_I4 * CTID_TILE, i4);
    st8(st + S_Q1 * CTID_TILE, q1);
    st8(st + S_Q2 * CTID_TILE, q2);
    st8(st + S_Q3 * CTID_TILE, q3);
    st8(st + S_Q4 * CTID_TILE, q4);
}

/* Pass 2: discriminator Im(z[n] conj z[n-1]) / |z[n]|^2, its 3-tap moving sum (the decision variable, to dbuf), the
   smoothed envelope power (to ebuf) and each lane's peak envelope power (emax). */
CTID_HOT static void fsk_detect(float *st, int nframes, const float *zib, const float *zqb, float *dbuf,
                                float *ebuf, float *emax)
{
    v8sf pi = ld8(st + S_PI * CTID_TILE), pq = ld8(st + S_PQ * CTID_TILE);
    v8sf d1 = ld8(st + S_D1 * CTID_TILE), d2 = ld8(st + S_D2 * CTID_TILE);
    v8sf es = ld8(st + S_ES * CTID_TILE), em = { 0 };
    const float alpha = 1.0f / ES_SHIFT;
    const v8si magic = { 0x7EF311C7, 0x7EF311C7, 0x7EF311C7, 0x7EF311C7, 0x7EF311C7, 0x7EF311C7, 0x7EF311C7,
                         0x7EF311C7 };                       /* reciprocal seed: exponent/mantissa bit trick */
    int n;

    for (n = 0; n < nframes; n++) {
        const v8sf zi = ld8(zib + n * CTID_TILE), zq = ld8(zqb + n * CTID_TILE);
        const v8sf e = zi * zi + zq * zq;
        const v8sf den = e + 1.0f;                          /* +1 (int16 units^2) only guards 0/0 */
        v8sf r = (v8sf) (magic - (v8si) den), d;            /* 1/den to ~12 %, then two Newton steps (2e-4) */
        r = r * (2.0f - den * r);
        r = r * (2.0f - den * r);
        d = (zq * pi - zi * pq) * r;                        /* sin(dphi) */
        pi = zi;
        pq = zq;
        es += alpha * (e - es);
        st8(dbuf + n * CTID_TILE, d + d1 + d2);
        d2 = d1;
        d1 = d;
        st8(ebuf + n * CTID_TILE, es);
        {
            const v8si gt = es > em;
            em = (v8sf) (((v8si) es & gt) | ((v8si) em & ~gt));
        }
    }
    st8(st + S_PI * CTID_TILE, pi);
    st8(st + S_PQ * CTID_TILE, pq);
    st8(st + S_D1 * CTID_TILE, d1);
    st8(st + S_D2 * CTID_TILE, d2);
    st8(st + S_ES * CTID_TILE, es);
    st8(emax, em);
}

/* Sum of squares per lane over nframes samples (quiet gating). */
CTID_HOT static void fsk_power(const float *x, int nframes, int stride, float *pw)
{
    v8sf acc = ld8(pw);
    int n;
    for (n = 0; n < nframes; n++) {
        const v8sf v = ld8(x + (size_t) n * stride);
        acc += v * v;
    }
    st8(pw, acc);
}

/* Flush tiny filter states to zero so a lane that fell silent never runs on denormals; a state that is not
   finite (only possible if a direct caller passed NaN or inf samples) is reset too, so the lane recovers. */
static void flush_tiny(float *st)
{
    int k;
    for (k = 0; k < NS * CTID_TILE; k++) {
        const float a = fabsf(st[k]);
        if (a < 1e-12f || !(a < 1e30f))
            st[k] = 0.0f;
    }
}

static int known_type(int t)
{
    /* GR-30: 0x04 SDMF caller ID, 0x06 SDMF message waiting, 0x80 MDMF caller ID, 0x82 MDMF message waiting;
       EN 300 659-3 5.2: 0x80 call set-up, 0x81 test, 0x82 message waiting, 0x86 advice of charge, 0x89 SMS. */
    switch (t) {
    case 0x04:
    case 0x06:
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x86:
    case 0x89:
        return 1;
    default:
        return 0;
    }
}

/* Structure of the known message types (a good checksum alone is a 1-in-256 chance on garbage):
   GR-30 SDMF 0x04: MMDDHHMM in ASCII digits, then the number; SDMF 0x06 (message waiting): 3 bytes;
   MDMF-class (0x80..): parameters (type, length, value) that tile the body exactly. */
static int well_formed(const uint8_t *m, int n)
{
    const int len = m[1];
    int i;
    if (m[0] == 0x04) {
        if (len < 9)
            return 0;
        for (i = 2; i < 10; i++) {
            if (m[i] < '0' || m[i] > '9')
                return 0;
        }
        return 1;
    }
    if (m[0] == 0x06)
        return len == 3;
    if (m[0] & 0x80) {
        i = 2;
        while (i < 2 + len) {
            if (i + 2 > 2 + len || i + 2 + m[i + 1] > 2 + len)
                return 0;
            i += 2 + m[i + 1];
        }
        return 1;
    }
    (void) n;
    return 1;
}

static void lane_abort(fsk_lane_t *L, int mode)
{
    if (L->mode == M_MSG && L->n >= 2)
        L->bad++;                 /* counted once the length byte is in: a lone type byte is just noise */
    L->mode = mode;
    L->inchar = 0;
    L->mark = 0;
    L->n = 0;
    L->need = 0;
}

static void lane_char(const ctid_fsk_rx_t *s, fsk_lane_t *L, int c, uint64_t t, int lane, ctid_evbuf_t *out)
{
    if (L->mode == M_PRE) {
        /* a message opens after MARK_MIN bits of mark at (about) the mark frequency: speech that merely
           sits below 1700 Hz for a while does not count */
        if (L->mark >= (int) (MARK_MIN * FSK_BIT) && L->mavg <= s->mark_hi && L->mavg >= s->mark_lo
            && known_type(c)) {
            L->mode = M_MSG;
            L->buf[0] = (uint8_t) c;
            L->n = 1;
            L->need = 0;
        } else if (c == 0x55) {
            L->seizure++;
        }
        return;
    }
    /* M_MSG */
    L->buf[L->n++] = (uint8_t) c;
    if (L->n == 2) {
        if (c == 0) {             /* an empty message is not a message */
            lane_abort(L, M_PRE);
            return;
        }
        L->need = c + 3;          /* type, length, body, checksum */
        return;
    }
    if (L->n >= L->need) {
        unsigned sum = 0;
        int i;
        for (i = 0; i < L->n; i++)
            sum += L->buf[i];
        if ((sum & 0xFF) == 0 && well_formed(L->buf, L->n)) {
            memcpy(L->msg, L->buf, (size_t) L->n);
            L->msglen = L->n;
            ctid_emit(out, t, lane, CTID_EV_CID, CTID_EVT_MSG, L->n, 0, 0.0f, 0.0f);
            L->mode = M_PRE;
            L->n = 0;
            L->seizure = 0;
        } else {
            lane_abort(L, M_PRE);
        }
    }
}

/* Carrier-loss level for the current mode: 6 dB under the threshold, or (inside a message) 20 dB under the
   level at which the message started. */
static float lost_level(const ctid_fsk_rx_t *s, const fsk_lane_t *L)
{
    const float drop = L->mode == M_MSG ? L->es_ref * DROP_RATIO : 0.0f;
    return s->es_off > drop ? s->es_off : drop;
}

/* Per-lane receiver logic over one chunk of the lane's decision variable d and envelope power e (both with
   a stride of CTID_TILE). Hot fields live in locals; each phase (idle, hunting, inside a character) has its
   own tight loop. */
static void lane_run(const ctid_fsk_rx_t *s, fsk_lane_t *L, const float *dbuf, const float *ebuf, int j,
                     int nframes, uint64_t t0, int lane, ctid_evbuf_t *out)
{
    const float *d = dbuf + j, *e = ebuf + j;
    const int gap_max = (int) (GAP_MAX * FSK_BIT);
    float prev = L->prev;
    int n = 0;

    while (n < nframes) {
        if (L->mode == M_IDLE) {
            while (n < nframes && e[n * CTID_TILE] < s->es_on)
                n++;
            if (n == nframes)
                break;
            L->mode = M_PRE;
            L->inchar = 0;
            L->mark = 0;
            L->mavg = 0.0f;
            L->seizure = 0;
            prev = d[n * CTID_TILE];
            n++;
            continue;
        }
        if (!L->inchar) {
            /* hunting for a start edge: the decision variable going from mark (<= 0) to space (> 0) */
            const float lost = lost_level(s, L);
            int limit = nframes, stop = 0, start;
            if (L->mode == M_MSG && n + (gap_max - L->mark + 1) < limit)
                limit = n + (gap_max - L->mark + 1);      /* where the inter-character gap runs out */
            float mavg = L->mavg;
            start = n;
            for (; n < limit; n++) {
                const float v = d[n * CTID_TILE];
                if (e[n * CTID_TILE] < lost) {
                    stop = 1;
                    break;
                }
                if (v > 0.0f && prev <= 0.0f) {
                    stop = 2;
                    break;
                }
                prev = v;
                mavg += MAVG_K * (v - mavg);
            }
            L->mavg = mavg;
            L->mark = L->mark + (n - start) < (1 << 30) ? L->mark + (n - start) : (1 << 30);
            if (stop == 1) {
                lane_abort(L, M_IDLE);                    /* carrier lost */
                n++;
            } else if (stop == 2) {
                /* start edge between n-1 and n, at n - 1 + frac; the character loop takes sample n */
                const float v = d[n * CTID_TILE];
                L->inchar = 1;
                L->bit = 0;
                L->shift = 0;
                L->acc = 0.0f;
                L->pos = -(prev / (prev - v));
                L->lo = 0.5f * FSK_BIT - FSK_W;
                L->hi = 0.5f * FSK_BIT + FSK_W;
                if (L->mode == M_PRE)
                    L->es_ref = e[n * CTID_TILE];
            } else if (L->mode == M_MSG && L->mark > gap_max) {
                lane_abort(L, M_PRE);                     /* too long a gap inside a message */
            }
            continue;
        }
        {
            /* inside a character */
            const float lost = lost_level(s, L);
            /* The bit-clock DPLL needs every sample; it runs for characters that count (inside a message,
               or one that may open a message after a long enough mark run). Other characters (seizure, or
               the garbage a UART makes of speech and noise) only visit the samples of the bit windows. */
            const int pll = L->mode == M_MSG || L->mark >= (int) (MARK_MIN * FSK_BIT);
            float pos = L->pos, lo = L->lo, hi = L->hi, acc = L->acc;
            int bit = L->bit, done = 0;
            unsigned shift = L->shift;
            for (; n < nframes && !done; n++) {
                float v;
                if (!pll) {
                    const float f = lo - pos - 1.0f;      /* skip ceil(f) samples: the next one is in the window */
                    if (f > 0.0f) {
                        int skip = (int) f;
                        skip += (float) skip < f;
                        if (skip >= nframes - n) {
                            pos += (float) (nframes - n);
                            n = nframes;
                            break;
                        }
                        pos += (float) skip;
                        n += skip;
                    }
                }
                v = d[n * CTID_TILE];
                if (e[n * CTID_TILE] < lost) {
                    lane_abort(L, M_IDLE);                /* carrier lost */
                    done = 1;
                    continue;
                }
                pos += 1.0f;
                if (pll) {
                    /* a transition belongs on a bit boundary: pull the bit clock towards it (a first-order
                       DPLL). Written without branches: in noise, transitions come at random. */
                    const float den = prev - v;
                    const float pc = pos - 1.0f + prev / (den != 0.0f ? den : 1.0f);
                    const float err = pc - FSK_BIT * (float) ((int) (pc * (1.0f / FSK_BIT) + 16.5f) - 16);
                    const int cross = (v > 0.0f) != (prev > 0.0f);
                    pos -= (cross && fabsf(err) < PLL_WIN * FSK_BIT) ? PLL_GAIN * err : 0.0f;
                }
                prev = v;
                acc += pos >= lo ? v : 0.0f;
                if (pos + 1.0f > hi) {
                    const int b = bit++;
                    const int mark = acc < 0.0f;
                    acc = 0.0f;
                    lo += FSK_BIT;
                    hi += FSK_BIT;
                    if (bit == 9) {
                        /* stop bit: end its window half a sample after its centre, so that hunting for the
                           next start edge begins well before it even when the far end runs fast */
                        lo -= 0.5f;
                        hi = lo + FSK_W + 1.0f;
                    }
                    if (b == 0) {
                        if (mark) {
                            L->inchar = 0;                /* false start: keep hunting, the mark run goes on */
                            done = 1;
                        }
                    } else if (b <= 8) {
                        if (mark)
                            shift |= 1u << (b - 1);
                        if (b == 8 && L->mode == M_MSG && L->n >= 2 && L->n == L->need - 1) {
                            /* the checksum byte: the sender may drop the carrier right after it, so its
                               stop bit is not waited for (the checksum protects the message) */
                            L->inchar = 0;
                            done = 1;
                            lane_char(s, L, (int) shift, t0 + (uint64_t) n + 1, lane, out);
                            L->mark = 0;
                        }
                    } else {
                        L->inchar = 0;
                        done = 1;
                        if (mark)
                            lane_char(s, L, (int) shift, t0 + (uint64_t) n + 1, lane, out);
                        else if (L->mode == M_MSG)
                            lane_abort(L, M_PRE);         /* framing error inside a message */
                        L->mark = 0;
                    }
                }
            }
            L->pos = pos;
            L->lo = lo;
            L->hi = hi;
            L->acc = acc;
            L->bit = bit;
            L->shift = shift;
        }
    }
    L->prev = prev;
}

void ctid_fsk_rx_process(ctid_fsk_rx_t *s, const float *x, int nframes, int stride, const uint8_t *enabled,
                         uint64_t t0, ctid_evbuf_t *out)
{
    int done = 0;
    if (s == NULL || x == NULL || enabled == NULL || out == NULL || nframes <= 0 || stride < s->nlanes)
        return;
    while (done < nframes) {
        /* sub-chunks never cross a QUIET_BLOCK boundary of the global timeline */
        const uint64_t t = t0 + (uint64_t) done;
        const int inblk = (int) (t % QUIET_BLOCK);
        const int n = nframes - done < QUIET_BLOCK - inblk ? nframes - done : QUIET_BLOCK - inblk;
        const int osc0 = (int) (t % FSK_OSC);
        int tile;
        for (tile = 0; tile * CTID_TILE < s->nlanes; tile++) {
            const int l0 = tile * CTID_TILE;
            const float *xt = x + (size_t) done * stride + l0;
            float *st = s->st + (size_t) tile * NS * CTID_TILE;
            fsk_gate_t *g = &s->gate[tile];
            float emax[CTID_TILE];
            int j, any = 0;
            for (j = 0; j < CTID_TILE && l0 + j < s->nlanes; j++)
                any |= enabled[l0 + j];
            if (!any)
                continue;
            if (inblk == 0) {
                /* a block starts: skip it if the previous one was quiet on every enabled, idle lane */
                int quiet = g->pw_n == QUIET_BLOCK;
                for (j = 0; j < CTID_TILE && l0 + j < s->nlanes && quiet; j++) {
                    if (enabled[l0 + j])
                        quiet = s->lane[l0 + j].mode == M_IDLE && g->pw[j] < s->pw_quiet;
                }
                g->skip = quiet;
                memset(g->pw, 0, sizeof(g->pw));
                g->pw_n = 0;
            }
            fsk_power(xt, n, stride, g->pw);
            g->pw_n += n;
            if (g->skip) {
                if (!g->zeroed) {
                    memset(st, 0, sizeof(float) * NS * CTID_TILE);
                    g->zeroed = 1;
                }
                continue;
            }
            g->zeroed = 0;
            fsk_filter((const float (*)[CTID_TILE]) s->cf, st, xt, n, stride, s->osc_c, s->osc_s, osc0, s->zib,
                       s->zqb);
            fsk_detect(st, n, s->zib, s->zqb, s->dbuf, s->ebuf, emax);
            flush_tiny(st);
            for (j = 0; j < CTID_TILE && l0 + j < s->nlanes; j++) {
                fsk_lane_t *L = &s->lane[l0 + j];
                if (!enabled[l0 + j])
                    continue;
                if (L->mode == M_IDLE && emax[j] < s->es_on)
                    continue;                 /* no carrier anywhere in this chunk */
                lane_run(s, L, s->dbuf, s->ebuf, j, n, t, l0 + j, out);
            }
        }
        done += n;
    }
}

int ctid_fsk_rx_message(ctid_fsk_rx_t *s, int lane, uint8_t *buf, int cap)
{
    const fsk_lane_t *L;
    if (s == NULL || (buf == NULL && cap > 0) || cap < 0)
        return CTID_ERR_ARG;
    if (lane < 0 || lane >= s->nlanes)
        return CTID_ERR_CHANNEL;
    L = &s->lane[lane];
    if (L->msglen > cap)
        return CTID_ERR_SIZE;
    if (L->msglen > 0)
        memcpy(buf, L->msg, (size_t) L->msglen);
    return L->msglen;
}

int ctid_fsk_rx_bad_messages(ctid_fsk_rx_t *s, int lane)
{
    if (s == NULL)
        return CTID_ERR_ARG;
    if (lane < 0 || lane >= s->nlanes)
        return CTID_ERR_CHANNEL;
    return s->lane[lane].bad;
}
