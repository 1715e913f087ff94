/*
 * MFC R2 register-signal receiver (ITU-T Q.440-Q.442; China No.1 register signalling), multi-lane.
 *
 * One receiver serves one frequency group (forward 1380..1980 Hz or backward 1140..540 Hz) on every lane of a
 * bank. Design:
 *
 *  - Blocks of R2_N = 67 samples (8.375 ms), aligned to the global sample count (block k covers samples
 *    [67k, 67k + 67)). 8000/67 = 119.4 Hz, so the six frequencies of a group (120 Hz apart, Q.441) sit almost
 *    exactly one DFT bin apart: a rectangular block puts a tone's neighbours near the nulls of its response, so
 *    leakage between the tones of a pair stays below -20 dB even with the +-10 Hz offsets Q.441 allows. That is
 *    what lets the level-difference and "third tone" checks be tight at a block length short enough for the
 *    Q.441 timing (7 ms non-operate, 7 ms interruption, operate + release <= 80 ms).
 *  - Hot path: per tile of CTID_TILE lanes, six Goertzel resonators and the block energy run as 8-wide vectors
 *    (GCC vector extensions, AVX2+FMA clone where available). Nothing per lane happens per sample.
 *  - At each block end (vectorised): the complex Goertzel outputs of the six bins, their powers and the block
 *    energy. Then per lane (scalar, only where something can be happening): pick the two strongest bins and
 *    test the pair:
 *      * each tone between threshold_dbm0 and max_level_dbm0 (Q.441: operate over -5..-35 dBm0),
 *      * level difference within twist_adjacent_db / twist_nonadjacent_db (Q.441: < 5 dB adjacent, < 7 dB
 *        non-adjacent must operate; >= 20 dB must not),
 *      * the third strongest bin at least R2_THIRD_GUARD_DB below the weaker tone (exactly two tones),
 *      * purity: the pair holds at least min_purity of the block's whole-band energy (rejects speech, noise,
 *        off-frequency tones and blocks only partly filled by the signal),
 *      * frequency: the phase advance of each tone between consecutive blocks gives its frequency within a few
 *        Hz; accept within R2_FREQ_TOL_HZ of nominal (Q.441: must operate within +-10 Hz).
 *    hits_to_begin consecutive qualifying blocks (same pair, frequency check passing between them) declare the
 *    signal. While a signal is on, a block continues it if the operated pair still holds R2_CONT_PURITY of the
 *    energy with both tones present and no other signal qualifies (a weaker test: an interruption splits its
 *    samples between at most two blocks); misses_to_end consecutive failing blocks release it.
 *  - Timing with the defaults (hits 3, misses 2, purity 0.7):
 *      * three consecutive qualifying blocks need a signal covering a whole block plus parts of its neighbours,
 *        i.e. longer than 67 samples = 8.4 ms, so a 7 ms burst can never operate (Q.441: no response below
 *        7 ms). Purity alone is no duration test: over a partial block two adjacent tones (120 Hz apart) are
 *        not resolved and their two bins together can show more than the filled fraction. Measured over all
 *        alignments at -5 dBm0, bursts up to 18 ms do not operate.
 *      * a release needs two consecutive blocks each holding less than ~40 % of the signal, i.e. a gap of
 *        more than ~1.2 blocks = 10 ms, so <= 7 ms interruptions do not release (Q.441).
 *      * measured (fed 1 ms at a time, all alignments, -35..-5 dBm0, +-10 Hz): operate 21-33 ms, release
 *        12-24 ms, sum <= 56 ms (Q.441: operate + release <= 80 ms).
 *  - Cost (480 channels, A-law, through the bank, decode included; 2-vCPU Xeon, interleaved with spandsp's
 *    r2_mf_rx on the same data): 0.8-1.0 ns per channel-sample on a quiet core against spandsp's 6-10 ns in the
 *    same run; the detector's own share is about 0.35 ns (idle channels) to 0.55 ns (every channel signalling).
 *  - Events: ON at the estimated first sample of the signal (value = signal char, level = mean level of the two
 *    tones in dBm0, aux = level of the pair's second tone minus its first, in the f0..f5 order of Q.441), OFF
 *    at the estimated first sample after it (duration in samples). Compelled signalling needs both edges.
 */
#include "internal.h"

#define R2_N 67                   /* block length, samples (see above) */
#define R2_NBINS 6
#define R2_NSIG 15
#define R2_FREQ_TOL_HZ 22.0       /* accepted deviation from nominal per tone (Q.441: +-10 Hz must operate) */
#define R2_THIRD_GUARD_DB 8.0     /* third bin must be this far below the weaker tone ("2 out of 6") */
#define R2_CONT_PURITY 0.4f       /* purity that keeps an operated signal on (see the timing note) */
#define R2_CONT_TWIST_EXTRA_DB 10.0 /* continuing blocks: level difference allowed beyond the twist limit */
#define R2_FULL_FRACTION 0.9f     /* a block whose purity is >= 90 % of a full block's counts as full */

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

/* Q.441 frequency groups, f0..f5. */
static const double fwd_freqs[R2_NBINS] = { 1380.0, 1500.0, 1620.0, 1740.0, 1860.0, 1980.0 };
static const double bwd_freqs[R2_NBINS] = { 1140.0, 1020.0, 900.0, 780.0, 660.0, 540.0 };

/* Q.441 code: signal n = pair (f_a, f_b). Signals 1..15 are written "1234567890BCDEF" (10 is '0'). */
static const char sig_chars[R2_NSIG + 1] = "1234567890BCDEF";
static const uint8_t sig_pair[R2_NSIG][2] = {
    { 0, 1 }, { 0, 2 }, { 1, 2 }, { 0, 3 }, { 1, 3 }, { 2, 3 }, { 0, 4 }, { 1, 4 },
    { 2, 4 }, { 3, 4 }, { 0, 5 }, { 1, 5 }, { 2, 5 }, { 3, 5 }, { 4, 5 },
};

enum { ST_IDLE = 0, ST_ON = 1 };

typedef struct {
    uint8_t state;          /* ST_IDLE / ST_ON */
    int8_t cur;             /* signal index while on */
    int8_t prev_cand;       /* qualifying signal of the previous block, or -1 */
    uint8_t prev_valid;     /* previous block's complex bins usable for the frequency check */
    uint8_t skip;           /* discard the current (partial) block after a reset */
    int hits;
    int misses;
    uint64_t first_end;     /* end (exclusive) of the first qualifying block of the current run */
    float first_pur;        /* its purity */
    float pre_pur;          /* purity of the same pair in the block before it */
    uint64_t onset;         /* estimated first sample of the operated signal */
    float ref_pur;          /* purity of a full block of the operated signal */
    float last_frac;        /* fraction of the last continuing block filled by the signal */
    uint64_t last_start;    /* start of the last continuing block */
    uint64_t end_est;       /* estimated end, fixed at the first miss */
} r2_lane_t;

struct ctid_r2mf_rx {
    ctid_r2mf_rx_params_t p;
    int nlanes;
    int stride;
    int ntiles;
    int pos;                /* samples into the current block */
    uint64_t next_t;        /* expected t0 of the next call */
    int have_t;
    int parity;             /* which cx buffer holds the current block */
    /* per tile, per bin: Goertzel state */
    v8f *s1;                /* [ntiles][R2_NBINS] */
    v8f *s2;
    v8f *en;                /* [ntiles] energy accumulator */
    /* complex bin values and energy of the last two blocks: [2][ntiles][R2_NBINS] */
    v8f *cre[2];
    v8f *cim[2];
    v8f *cen[2];            /* [2][ntiles] block energy (mean square) */
    r2_lane_t *lane;
    /* constants */
    float coef[R2_NBINS];
    float cosw[R2_NBINS];
    float sinw[R2_NBINS];
    float rot_re[R2_NBINS]; /* e^{-j w N}: removes the nominal phase advance per block */
    float rot_im[R2_NBINS];
    float pscale;           /* |X|^2 -> mean-square power of a full-block sine */
    float thr_pow, max_pow, floor_pow;
    float twist_adj, twist_non, third_guard;
    float cont_twist;       /* level difference that still continues an operated pair */
    float cos_tol2;         /* cos^2 of the accepted phase error */
    float min_purity;
};

void ctid_r2mf_rx_defaults(ctid_r2mf_rx_params_t *p, int backward)
{
    if (p == NULL)
        return;
    memset(p, 0, sizeof(*p));
    p->backward = backward ? 1 : 0;
    p->china_2of4 = 0;
    p->threshold_dbm0 = -38.0f;       /* Q.441: operate down to -35 dBm0 per tone; 3 dB margin */
    p->max_level_dbm0 = 0.0f;         /* Q.441: operate up to -5 dBm0 per tone; 5 dB margin */
    p->twist_adjacent_db = 7.0f;      /* Q.441: < 5 dB must operate; +2 dB for leakage at +-10 Hz offsets */
    p->twist_nonadjacent_db = 9.0f;   /* Q.441: < 7 dB must operate; +2 dB margin (>= 20 dB must not) */
    p->min_purity = 0.7f;             /* pair's share of the whole-band energy: operates down to ~5 dB S/N */
    p->hits_to_begin = 3;             /* > 8.4 ms of signal needed: 7 ms bursts never operate (Q.441) */
    p->misses_to_end = 2;             /* gaps up to ~10 ms hold: 7 ms interruptions never release (Q.441) */
}

static int params_ok(const ctid_r2mf_rx_params_t *p)
{
    if (p->backward != 0 && p->backward != 1)
        return 0;
    if (p->china_2of4 != 0 && p->china_2of4 != 1)
        return 0;
    if (p->china_2of4 && !p->backward)
        return 0;                     /* the China 2-of-4 set is a backward-signal restriction */
    if (!(p->threshold_dbm0 >= -80.0f && p->threshold_dbm0 <= 3.2f))
        return 0;
    if (!(p->max_level_dbm0 > p->threshold_dbm0 && p->max_level_dbm0 <= 10.0f))
        return 0;
    if (!(p->twist_adjacent_db >= 0.0f && p->twist_adjacent_db <= 40.0f))
        return 0;
    if (!(p->twist_nonadjacent_db >= 0.0f && p->twist_nonadjacent_db <= 40.0f))
        return 0;
    if (!(p->min_purity > 0.0f && p->min_purity <= 1.0f))
        return 0;
    if (p->hits_to_begin < 1 || p->hits_to_begin > 100)
        return 0;
    if (p->misses_to_end < 1 || p->misses_to_end > 100)
        return 0;
    return 1;
}

void ctid_r2mf_rx_free(ctid_r2mf_rx_t *s)
{
    int k;
    if (s == NULL)
        return;
    free(s->s1);
    free(s->s2);
    free(s->en);
    for (k = 0; k < 2; k++) {
        free(s->cre[k]);
        free(s->cim[k]);
        free(s->cen[k]);
    }
    free(s->lane);
    free(s);
}

static v8f *vec_alloc(size_t n)
{
    void *mem = NULL;
    if (posix_memalign(&mem, 32, n * sizeof(v8f) + 32) != 0)
        return NULL;
    memset(mem, 0, n * sizeof(v8f));
    return (v8f *) mem;
}

static void lane_clear(ctid_r2mf_rx_t *s, int lane)
{
    int t = lane / CTID_TILE, j = lane % CTID_TILE, b, k;
    r2_lane_t *L = &s->lane[lane];
    for (b = 0; b < R2_NBINS; b++) {
        s->s1[t * R2_NBINS + b][j] = 0.0f;
        s->s2[t * R2_NBINS + b][j] = 0.0f;
        for (k = 0; k < 2; k++) {
            s->cre[k][t * R2_NBINS + b][j] = 0.0f;
            s->cim[k][t * R2_NBINS + b][j] = 0.0f;
        }
    }
    s->en[t][j] = 0.0f;
    for (k = 0; k < 2; k++)
        s->cen[k][t][j] = 0.0f;
    memset(L, 0, sizeof(*L));
    L->prev_cand = -1;
    L->cur = -1;
    /* Cleared mid-block, the block in progress misses its first samples: discard it. Cleared between blocks,
       the zeroed "previous block" is plain silence. */
    L->skip = (uint8_t) (s->have_t && s->next_t % R2_N != 0);
    L->prev_valid = (uint8_t) !L->skip;
}

void ctid_r2mf_rx_reset(ctid_r2mf_rx_t *s, int lane)
{
    int i;
    if (s == NULL || lane < -1 || lane >= s->nlanes)
        return;
    if (lane >= 0) {
        lane_clear(s, lane);
        return;
    }
    for (i = 0; i < s->stride; i++) {
        if (i < s->nlanes)
            lane_clear(s, i);
    }
}

ctid_r2mf_rx_t *ctid_r2mf_rx_new(int nlanes, const ctid_r2mf_rx_params_t *p)
{
    ctid_r2mf_rx_t *s;
    ctid_r2mf_rx_params_t def;
    const double *freqs;
    size_t nv;
    int b, k;
    double tol;

    if (nlanes <= 0 || nlanes > 65536)
        return NULL;
    if (p == NULL) {
        ctid_r2mf_rx_defaults(&def, 0);
        p = &def;
    }
    if (!params_ok(p))
        return NULL;
    s = (ctid_r2mf_rx_t *) calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->p = *p;
    s->nlanes = nlanes;
    s->stride = CTID_ROUND_UP_TILE(nlanes);
    s->ntiles = s->stride / CTID_TILE;
    nv = (size_t) s->ntiles * R2_NBINS;
    s->s1 = vec_alloc(nv);
    s->s2 = vec_alloc(nv);
    s->en = vec_alloc((size_t) s->ntiles);
    for (k = 0; k < 2; k++) {
        s->cre[k] = vec_alloc(nv);
        s->cim[k] = vec_alloc(nv);
        s->cen[k] = vec_alloc((size_t) s->ntiles);
    }
    s->lane = (r2_lane_t *) calloc((size_t) s->stride, sizeof(r2_lane_t));
    if (s->s1 == NULL || s->s2 == NULL || s->en == NULL || s->cre[0] == NULL || s->cre[1] == NULL
        || s->cim[0] == NULL || s->cim[1] == NULL || s->cen[0] == NULL || s->cen[1] == NULL || s->lane == NULL) {
        ctid_r2mf_rx_free(s);
        return NULL;
    }
    freqs = p->backward ? bwd_freqs : fwd_freqs;
    for (b = 0; b < R2_NBINS; b++) {
        double w = 2.0 * CTID_PI * freqs[b] / CTID_RATE;
        s->coef[b] = (float) (2.0 * cos(w));
        s->cosw[b] = (float) cos(w);
        s->sinw[b] = (float) sin(w);
        s->rot_re[b] = (float) cos(w * R2_N);
        s->rot_im[b] = (float) -sin(w * R2_N);
    }
    s->pscale = 2.0f / ((float) R2_N * (float) R2_N);
    s->thr_pow = (float) ctid_dbm0_to_power(p->threshold_dbm0);
    s->max_pow = (float) ctid_dbm0_to_power(p->max_level_dbm0);
    /* Continuing blocks may be partly filled (>= R2_CONT_PURITY of the block): allow the amplitude loss. */
    s->floor_pow = s->thr_pow * R2_CONT_PURITY * R2_CONT_PURITY;
    s->twist_adj = (float) pow(10.0, p->twist_adjacent_db / 10.0);
    s->twist_non = (float) pow(10.0, p->twist_nonadjacent_db / 10.0);
    s->third_guard = (float) pow(10.0, -R2_THIRD_GUARD_DB / 10.0);
    s->cont_twist = (float) pow(10.0, (fmax(p->twist_adjacent_db, p->twist_nonadjacent_db) + R2_CONT_TWIST_EXTRA_DB)
                                          / 10.0);
    tol = 2.0 * CTID_PI * R2_FREQ_TOL_HZ * R2_N / CTID_RATE;   /* phase error per block, rad (< pi/2) */
    s->cos_tol2 = (float) (cos(tol) * cos(tol));
    s->min_purity = p->min_purity;
    for (k = 0; k < s->stride; k++) {
        s->lane[k].prev_cand = -1;
        s->lane[k].cur = -1;
        s->lane[k].prev_valid = 1;    /* the zeroed "previous block" is silence */
    }
    return s;
}

/* ------------------------------------------------------------------------------------------ hot kernel */

/* Unaligned 8-float load (a macro: no vector-typed function return outside the AVX clone). */
#define LOAD8(dst, p) memcpy(&(dst), (p), sizeof(v8f))

/* Run nsamp samples of one tile through the six resonators and the energy accumulator. */
CTID_HOT static void r2_tile_kernel(const float *x, int stride, int nsamp, const float *coefs,
                                    v8f *restrict S1, v8f *restrict S2, v8f *restrict E)
{
    v8f a0 = S1[0], a1 = S1[1], a2 = S1[2], a3 = S1[3], a4 = S1[4], a5 = S1[5];
    v8f b0 = S2[0], b1 = S2[1], b2 = S2[2], b3 = S2[3], b4 = S2[4], b5 = S2[5];
    v8f e = *E;
    const float c0 = coefs[0], c1 = coefs[1], c2 = coefs[2], c3 = coefs[3], c4 = coefs[4], c5 = coefs[5];
    int n = 0;
    /* Two samples per iteration: the a/b roles alternate, so no state moves are needed. */
    for (; n + 1 < nsamp; n += 2) {
        v8f v, w;
        LOAD8(v, x + (size_t) n * stride);
        LOAD8(w, x + (size_t) (n + 1) * stride);
        e += v * v;
        b0 = c0 * a0 - b0 + v;
        b1 = c1 * a1 - b1 + v;
        b2 = c2 * a2 - b2 + v;
        b3 = c3 * a3 - b3 + v;
        b4 = c4 * a4 - b4 + v;
        b5 = c5 * a5 - b5 + v;
        e += w * w;
        a0 = c0 * b0 - a0 + w;
        a1 = c1 * b1 - a1 + w;
        a2 = c2 * b2 - a2 + w;
        a3 = c3 * b3 - a3 + w;
        a4 = c4 * b4 - a4 + w;
        a5 = c5 * b5 - a5 + w;
    }
    if (n < nsamp) {
        v8f v, t;
        LOAD8(v, x + (size_t) n * stride);
        e += v * v;
        t = c0 * a0 - b0 + v; b0 = a0; a0 = t;
        t = c1 * a1 - b1 + v; b1 = a1; a1 = t;
        t = c2 * a2 - b2 + v; b2 = a2; a2 = t;
        t = c3 * a3 - b3 + v; b3 = a3; a3 = t;
        t = c4 * a4 - b4 + v; b4 = a4; a4 = t;
        t = c5 * a5 - b5 + v; b5 = a5; a5 = t;
    }
    S1[0] = a0; S1[1] = a1; S1[2] = a2; S1[3] = a3; S1[4] = a4; S1[5] = a5;
    S2[0] = b0; S2[1] = b1; S2[2] = b2; S2[3] = b3; S2[4] = b4; S2[5] = b5;
    *E = e;
}

/* ------------------------------------------------------------------------------------------ decisions */

static inline float lane_purity(float pa, float pb, float e)
{
    return e > 1e-3f ? (pa + pb) / e : 0.0f;
}

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

static inline uint64_t frac_samples(float f)
{
    return (uint64_t) (clamp01(f) * (float) R2_N + 0.5f);
}

/* Lane-wise m ? a : b (macros: no vector-typed function returns outside the AVX clone). */
#define VSEL(m, a, b) ((v8f) (((v8i) (a) & (m)) | ((v8i) (b) & ~(m))))
#define VISEL(m, a, b) (((a) & (m)) | ((b) & ~(m)))

/* What the block-end analysis of one tile hands to the per-lane logic. */
typedef struct {
    v8f pw[R2_NBINS];       /* bin powers (mean-square power of a full-block sine) */
    v8f e;                  /* block energy (mean square) */
    v8f p1, p2, p3;         /* strongest, second, third bin power */
    v8i i1, i2;             /* bins of the strongest two */
    v8i fok;                /* bit b set: bin b's phase advance since the previous block is within tolerance */
    const v8f *PR, *PI;     /* previous block's complex bins */
    const v8f *PE;          /* previous block's energy */
} r2_tile_view_t;

/* Per-lane decision at the end of a block (t_end = index of the first sample after it). */
static void lane_decide(ctid_r2mf_rx_t *s, r2_lane_t *L, int lane, const r2_tile_view_t *v, int j,
                        uint64_t t_end, ctid_evbuf_t *out)
{
    const int kind = s->p.backward ? CTID_EV_R2B : CTID_EV_R2F;
    const int i1 = v->i1[j], i2 = v->i2[j];
    const int lo = i1 < i2 ? i1 : i2, hi = i1 < i2 ? i2 : i1;
    const int sig = hi * (hi - 1) / 2 + lo;         /* Q.441 order: (0,1)=1, (0,2)=2, (1,2)=3, (0,3)=4, ... */
    const float p1 = v->p1[j], p2 = v->p2[j], e = v->e[j];
    const float pur = lane_purity(p1, p2, e);
    int cand = -1;

    if (pur >= s->min_purity && p2 >= s->thr_pow && p1 <= s->max_pow
        && p1 <= p2 * (hi - lo == 1 ? s->twist_adj : s->twist_non)
        && v->p3[j] <= p2 * s->third_guard
        && !(s->p.china_2of4 && hi >= 4))
        cand = sig;

    if (cand >= 0) {
        int fok = v->fok[j];
        if (cand == L->prev_cand && L->hits > 0 && L->prev_valid && ((fok >> lo) & (fok >> hi) & 1)) {
            if (L->hits < 1000)
                L->hits++;
        } else {
            L->hits = 1;
            L->first_end = t_end;
            L->first_pur = pur;
            if (L->prev_valid) {
                float ra = v->PR[lo][j], ia = v->PI[lo][j], rb = v->PR[hi][j], ib = v->PI[hi][j];
                L->pre_pur = lane_purity((ra * ra + ia * ia) * s->pscale, (rb * rb + ib * ib) * s->pscale,
                                         v->PE[0][j]);
            } else {
                L->pre_pur = 0.0f;
            }
        }
    } else {
        L->hits = 0;
    }
    L->prev_cand = (int8_t) cand;
    L->prev_valid = 1;

    if (L->state == ST_ON) {
        int ca = sig_pair[L->cur][0], cb = sig_pair[L->cur][1];
        float qa = v->pw[ca][j], qb = v->pw[cb][j], qlo = qa < qb ? qa : qb, qhi = qa < qb ? qb : qa;
        float cpur = lane_purity(qa, qb, e);
        /* The operated pair still holds R2_CONT_PURITY of the energy with both tones present, and no other
           signal qualifies. Not "the strongest two bins": a block cut short by an interruption spreads each
           tone over its neighbours, so a bin between the two tones can briefly be stronger. */
        if ((cand < 0 || cand == L->cur) && cpur >= R2_CONT_PURITY && qlo >= s->floor_pow
            && qhi <= qlo * s->cont_twist) {
            if (cand == L->cur && pur > L->ref_pur)
                L->ref_pur = pur;
            L->last_frac = cpur / L->ref_pur;
            L->last_start = t_end - R2_N;
            L->misses = 0;
        } else {
            if (L->misses == 0) {
                /* the signal ended in this block (if the last one was full) or in the last one */
                if (L->last_frac >= R2_FULL_FRACTION)
                    L->end_est = t_end - R2_N + frac_samples(cpur / L->ref_pur);
                else
                    L->end_est = L->last_start + frac_samples(L->last_frac);
                if (L->end_est < L->onset + 1)
                    L->end_est = L->onset + 1;
            }
            L->misses++;
            if (L->misses >= s->p.misses_to_end) {
                ctid_emit(out, L->end_est, lane, kind, CTID_EVT_OFF, sig_chars[L->cur],
                          (int) (L->end_est - L->onset), 0.0f, 0.0f);
                L->state = ST_IDLE;
                L->cur = -1;
                L->misses = 0;
            }
        }
    }

    if (L->state == ST_IDLE && cand >= 0 && L->hits >= s->p.hits_to_begin) {
        float f1 = L->first_pur / pur, la, lb;
        uint64_t onset, back;
        /* A first block well short of full holds the start; otherwise it is in the block before it. */
        if (f1 >= R2_FULL_FRACTION)
            back = (uint64_t) R2_N + frac_samples(L->pre_pur / pur);
        else
            back = frac_samples(f1);
        onset = L->first_end > back ? L->first_end - back : 0;
        if (onset < L->end_est && L->end_est <= t_end)
            onset = L->end_est;                  /* keep a new signal after the end of the previous one */
        la = (float) ctid_power_to_dbm0(v->pw[lo][j]);
        lb = (float) ctid_power_to_dbm0(v->pw[hi][j]);
        ctid_emit(out, onset, lane, kind, CTID_EVT_ON, sig_chars[cand], 0, 0.5f * (la + lb), lb - la);
        L->state = ST_ON;
        L->cur = (int8_t) cand;
        L->onset = onset;
        L->misses = 0;
        L->ref_pur = pur;
        L->last_frac = 1.0f;
        L->last_start = t_end - R2_N;
    }
}

/* Block end for one tile: complex bins, powers and energy (vectorised); if any lane of the tile may hold a
   signal, the vectorised analysis (strongest bins, frequency checks) and the per-lane logic for those lanes. */
CTID_HOT static void block_end_tile(ctid_r2mf_rx_t *s, int t, const uint8_t *enabled, uint64_t t_end, ctid_evbuf_t *out)
{
    const int par = s->parity;
    v8f *S1 = s->s1 + (size_t) t * R2_NBINS, *S2 = s->s2 + (size_t) t * R2_NBINS;
    v8f *CR = s->cre[par] + (size_t) t * R2_NBINS, *CI = s->cim[par] + (size_t) t * R2_NBINS;
    r2_tile_view_t v;
    v8f sum, re[R2_NBINS], im[R2_NBINS];
    v8i maybe;
    const v8f zero = { 0, 0, 0, 0, 0, 0, 0, 0 };
    const v8i izero = { 0, 0, 0, 0, 0, 0, 0, 0 };
    const float inv_n = 1.0f / (float) R2_N;
    unsigned need = 0;
    int b, j;

    v.PR = s->cre[par ^ 1] + (size_t) t * R2_NBINS;
    v.PI = s->cim[par ^ 1] + (size_t) t * R2_NBINS;
    v.PE = s->cen[par ^ 1] + t;
    sum = zero;
    for (b = 0; b < R2_NBINS; b++) {
        re[b] = S1[b] - s->cosw[b] * S2[b];
        im[b] = s->sinw[b] * S2[b];
        CR[b] = re[b];
        CI[b] = im[b];
        v.pw[b] = (re[b] * re[b] + im[b] * im[b]) * s->pscale;
        sum += v.pw[b];
        S1[b] = zero;
        S2[b] = zero;
    }
    v.e = s->en[t] * inv_n;
    s->cen[par][t] = v.e;
    s->en[t] = zero;
    /* A pair can only qualify if the six bins together hold min_purity of the energy and reach twice the
       threshold: the vector pre-screen that keeps noise, speech and silence off the scalar path. */
    maybe = (sum >= s->min_purity * v.e) & (sum >= 2.0f * s->thr_pow);

    for (j = 0; j < CTID_TILE; j++) {
        int lane = t * CTID_TILE + j;
        const r2_lane_t *L;
        if (lane >= s->nlanes || (enabled != NULL && !enabled[lane]))
            continue;
        L = &s->lane[lane];
        if (maybe[j] || L->state != ST_IDLE || L->hits != 0 || L->skip)
            need |= 1u << j;
    }
    if (need == 0)
        return;                           /* the common case: nothing can be going on in this tile */

    /* strongest three bins */
    v.p1 = v.pw[0];
    v.i1 = izero;
    v.p2 = zero - 1.0f;
    v.i2 = izero + 1;
    v.p3 = zero - 1.0f;
    for (b = 1; b < R2_NBINS; b++) {
        v8f x = v.pw[b];
        v8i bb = izero + b;
        v8i gt1 = x > v.p1, gt2 = x > v.p2, gt3 = x > v.p3;
        v.p3 = VSEL(gt2, v.p2, VSEL(gt3, x, v.p3));
        v.p2 = VSEL(gt1, v.p1, VSEL(gt2, x, v.p2));
        v.i2 = VISEL(gt1, v.i1, VISEL(gt2, bb, v.i2));
        v.p1 = VSEL(gt1, x, v.p1);
        v.i1 = VISEL(gt1, bb, v.i1);
    }
    /* frequency check of every bin: z = cur * conj(prev) * e^{-j w N}, |arg z| within tolerance */
    v.fok = izero;
    for (b = 0; b < R2_NBINS; b++) {
        v8f zr = re[b] * v.PR[b] + im[b] * v.PI[b];
        v8f zi = im[b] * v.PR[b] - re[b] * v.PI[b];
        v8f rr = zr * s->rot_re[b] - zi * s->rot_im[b];
        v8f ri = zr * s->rot_im[b] + zi * s->rot_re[b];
        v8f m2 = rr * rr + ri * ri;
        v8i ok = (rr > 0.0f) & (rr * rr >= s->cos_tol2 * m2) & (m2 > 0.0f);
        v.fok |= ok & (1 << b);
    }

    for (j = 0; j < CTID_TILE; j++) {
        int lane = t * CTID_TILE + j;
        r2_lane_t *L;
        if (!(need & (1u << j)))
            continue;
        L = &s->lane[lane];
        if (L->skip) {                     /* partial block after a reset: only its end state is kept */
            L->skip = 0;
            L->prev_valid = 1;
            L->prev_cand = -1;
            L->hits = 0;
            continue;
        }
        lane_decide(s, L, lane, &v, j, t_end, out);
    }
}

static inline int tile_active(const uint8_t *enabled, int t)
{
    uint64_t m;
    if (enabled == NULL)
        return 1;
    memcpy(&m, enabled + (size_t) t * CTID_TILE, sizeof(m));
    return m != 0;
}

void ctid_r2mf_rx_process(ctid_r2mf_rx_t *s, const float *x, int nframes, int stride,
                          const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out)
{
    int n = 0, t, i;
    if (s == NULL || x == NULL || out == NULL || nframes <= 0 || stride < s->stride || stride % CTID_TILE != 0)
        return;
    if (!s->have_t || t0 != s->next_t) {
        /* first call or a jump in time: restart every lane's block; a block joined mid-way is discarded */
        int partial = (int) (t0 % R2_N) != 0;
        for (i = 0; i < s->nlanes; i++) {
            r2_lane_t *L = &s->lane[i];
            int st = L->state, cur = L->cur;
            uint64_t onset = L->onset;
            lane_clear(s, i);
            if (s->have_t) {               /* keep an operated signal so its end is still reported */
                L->state = (uint8_t) st;
                L->cur = (int8_t) cur;
                L->onset = onset;
                L->last_frac = 1.0f;
                L->ref_pur = 1.0f;
                L->last_start = t0;
            }
            L->skip = (uint8_t) partial;
            L->prev_valid = (uint8_t) !partial;
        }
        s->have_t = 1;
    }
    s->pos = (int) (t0 % R2_N);
    s->next_t = t0 + (uint64_t) nframes;
    while (n < nframes) {
        int seg = R2_N - s->pos;
        int end;
        uint64_t t_end;
        if (seg > nframes - n)
            seg = nframes - n;
        end = s->pos + seg == R2_N;
        t_end = t0 + (uint64_t) (n + seg);
        for (t = 0; t < s->ntiles; t++) {
            if (!tile_active(enabled, t))
                continue;
            r2_tile_kernel(x + (size_t) n * stride + (size_t) t * CTID_TILE, stride, seg, s->coef,
                           s->s1 + (size_t) t * R2_NBINS, s->s2 + (size_t) t * R2_NBINS, s->en + t);
            if (end)
                block_end_tile(s, t, enabled, t_end, out);
        }
        if (end)
            s->parity ^= 1;
        s->pos = (s->pos + seg) % R2_N;
        n += seg;
    }
}
