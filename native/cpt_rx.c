/*
 * Call-progress tone detector: table driven, many lanes per call.
 *
 * Signal path
 *  - The tone table gives the union of its frequencies ("bins", at most CPT_MAX_BINS) and of its frequency sets
 *    ("classes", at most CPT_MAX_CLASSES: a single frequency or a pair). One Goertzel filter per bin plus the
 *    block energy run over blocks of N samples (N = 80 = 10 ms normally, which resolves the 40 ms gaps of the
 *    China special dial tone; a table whose frequencies are closer than 80 Hz and whose segments are all long
 *    enough gets N = 160, see choose_block()). The Goertzel loop runs across lanes: CTID_TILE lanes per vector,
 *    1..4 tiles per kernel call so the recurrences of several tiles overlap (kern_body()).
 *  - Block boundaries follow the global sample count (t0), not the call.
 *  - At each block end, vectorised over the 8 lanes of a tile: per class "hit" = every component >= the
 *    threshold, the two components of a pair within CPT_TWIST_DB of each other, and purity: tone power
 *    >= min_purity x block power (speech, noise, DTMF and other tones spread their energy elsewhere). The complex
 *    Goertzel outputs of consecutive blocks give a pulse-pair product W_k conj(W_k-1) whose angle is the
 *    frequency offset (2 pi df N / fs per block, unambiguous within +-fs/2N; purity already confines accepted
 *    tones to about +-0.38 fs/N); it is accumulated per class component over the running on-segment, together
 *    with the power, so each on-segment gets a mean frequency offset, a coherence (|sum| / sum of powers: 1 for
 *    a steady tone, low for gliding speech harmonics) and a level.
 *  - Per lane and class, on/off runs are counted in the vector stage; the scalar per-lane logic (cpt_slow())
 *    runs only on a transition or when a run reaches a precomputed length (next threshold), so a steady lane
 *    costs no scalar work at all.
 *  - cpt_slow(): segment edges are refined inside the block from the purity ratio (a block whose first a*N
 *    samples are tone has ratio ~a), segments (duration in samples, on/off, frequency ok, level) go to a
 *    history ring; a cadenced tone is recognised when the last min_cycles * nsegs segments line up with a
 *    rotation of its cadence that starts at an "on", the newest (running) off having reached its lower bound;
 *    a continuous tone when an on-segment with good frequency has lasted detect_ms. While a tone is reported,
 *    each new segment must continue its cadence; a deviation or a silence longer than the expected off
 *    (+ tolerance) ends it (OFF event: t = end of its last on-segment, duration = OFF t - ON t). Segments that
 *    belonged to a reported tone cannot start a new match (so the end of a busy tone is not a call waiting).
 *    A continuous tone survives breaks up to cadence_tolerance_ms (25 ms: shorter than the 40 ms gaps of the
 *    China special dial tone, which must not merge into dial tone).
 *
 * Numbers: China tones 450 Hz, -10 +-3 dBm0 (YD/T 1277; Asterisk indications.conf [cn]). Cadence: the project
 * requires +-10 % on every segment to be accepted, hence the default tolerance of 10 % + 25 ms (the 25 ms cover
 * the block quantisation of the two edges; the edges themselves are located to about 1 ms on clean tones).
 * Frequency: default +-5 % (22.5 Hz at 450 Hz), sharply enforced by the pulse-pair estimate; digital tone
 * generators are far tighter (the North American precise tone plan requires +-0.5 %), 400 Hz (-11 %) is
 * rejected against 450 Hz. The accepted offset is also capped at 0.45 fs/N (45 Hz at N = 80, 22.5 Hz at
 * N = 160); with 20 ms blocks and the US 440/480 Hz pair (40 Hz apart) about +-2 % is accepted in practice.
 * Level: threshold -40 dBm0 per component; detection is tested down to -36 dBm0.
 */
#include "internal.h"
#include <limits.h>

#define CPT_MAX_BINS 8
#define CPT_MAX_CLASSES 8
#define CPT_HIST 64                 /* segments kept per lane and class; min_cycles * nsegs <= CPT_HIST */
#define CPT_LEN_SAT 0x3fffffff      /* run-length counters saturate here */
#define CPT_MIN_COHERENCE 0.8       /* |sum W_k W*_k-1| / sum |W|^2 over an on-segment */
#define CPT_TWIST_DB 10.0           /* max level difference of the two components of a pair */
#define CPT_MAX_MS 60000            /* longest segment / detect time accepted in a table */
#define CPT_RECHECK_BLOCKS 25       /* continuous tone with a bad frequency so far: look again after this */
#define CPT_NO_TIME (-((int64_t) 1 << 50))

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

typedef struct {
    int cls;
    int nsegs;
    int k;                              /* segments in a match: min_cycles * nsegs */
    int32_t lo[CTID_TONE_MAX_SEGS];     /* accepted duration of each cadence position, samples */
    int32_t hi[CTID_TONE_MAX_SEGS];
    int32_t detect;                     /* continuous: samples on before reporting */
    int32_t off_tol;                    /* continuous: longest break that does not end it */
} cpt_def_t;

typedef struct {
    int ncomp;
    int bin[2];
    int ndefs;
    int def[CTID_TONE_MAX_DEFS];        /* table indices, table order */
    int nlo;
    int32_t lo[CTID_TONE_MAX_DEFS * CTID_TONE_MAX_SEGS / 2];  /* sorted distinct lower bounds of offs */
} cpt_class_t;

typedef struct {
    int32_t dur;                        /* samples */
    uint8_t on;
    uint8_t ok;                         /* on: frequency and coherence within limits */
    uint8_t used;                       /* belonged to a reported tone: may not start a new match */
    float lvl;                          /* on: dBm0 */
} cpt_seg_t;

typedef struct {
    int64_t seg_start;                  /* first sample of the running segment (refined edge) */
    int64_t t_on;                       /* reported tone: its ON time */
    int64_t last_on_end;                /* end of the newest completed on-segment */
    int active;                         /* table index of the reported tone, -1 none */
    int pos;                            /* reported cadenced tone: cadence position of the running segment */
    int nhist;
    int head;
    int recheck;
    float lvl_on;
    cpt_seg_t hist[CPT_HIST];
} cpt_lane_t;

typedef void (*cpt_kern_fn)(float *s1, float *s2, float *en, const float *x, int m, int xs, int ss,
                            const float *coef);

struct ctid_cpt_rx {
    int nlanes, stride, ntiles;
    ctid_cpt_rx_params_t p;
    int n;                              /* block length, samples */
    int nb, nc, ndefs;
    int group;                          /* tiles per kernel call */
    float freq[CPT_MAX_BINS], coef[CPT_MAX_BINS], cosw[CPT_MAX_BINS], sinw[CPT_MAX_BINS];
    double cr[CPT_MAX_BINS], ci[CPT_MAX_BINS];   /* e^{-j w N}: turns block-local phases global */
    double tolhz[CPT_MAX_BINS];
    float thr_w;                        /* per-component |W|^2 threshold */
    float pur_k;                        /* hit needs sum |W|^2 >= pur_k * sum x^2 */
    float twist;                        /* min power ratio between the components of a pair */
    cpt_class_t cls[CPT_MAX_CLASSES];
    cpt_def_t def[CTID_TONE_MAX_DEFS];
    cpt_kern_fn kern1, kerng;
    /* per-lane state, structure of arrays: row r of an array is r * stride + lane */
    float *s1, *s2, *en;                /* Goertzel states (nb rows), block energy (1 row) */
    float *pwr, *pwi, *pe;              /* previous block's W (nb rows) and energy */
    float *ar, *ai, *aq;                /* running on-segment sums per class component (2 nc rows) */
    int32_t *acnt;                      /* blocks in those sums (nc rows) */
    int32_t *on, *len, *chk;            /* per class: state, run length (blocks), next slow-path length */
    cpt_lane_t *ls;                     /* nlanes * nc */
    uint8_t *tile_en;
};

/* ------------------------------------------------------------------------------------------------------------
 * Goertzel kernel: NB bins + energy over G tiles of 8 lanes, m samples. GCC vector extensions keep the states
 * in registers (lowered to SSE pairs in the baseline clone).
 */
static inline __attribute__((always_inline)) void kern_body(float *restrict s1p, float *restrict s2p,
                                                            float *restrict enp, const float *restrict x,
                                                            int m, int xs, int ss, const float *restrict coef,
                                                            const int NB, const int G)
{
    v8f a1[CPT_MAX_BINS][4], a2[CPT_MAX_BINS][4], en[4], c[CPT_MAX_BINS];
    const v8f zero = { 0 };
    int b, g, n;

    for (b = 0; b < NB; b++) {
        c[b] = zero + coef[b];
        for (g = 0; g < G; g++) {
            memcpy(&a1[b][g], s1p + (size_t) b * ss + 8 * g, sizeof(v8f));
            memcpy(&a2[b][g], s2p + (size_t) b * ss + 8 * g, sizeof(v8f));
        }
    }
    for (g = 0; g < G; g++)
        memcpy(&en[g], enp + 8 * g, sizeof(v8f));
    /* Two samples per step with the roles of the two states swapped: s[n] overwrites s[n-2] in place, so no
       register copies (which made GCC spill a state into the recurrence). */
    for (n = 0; n + 1 < m; n += 2) {
        const float *xr = x + (size_t) n * xs;
        for (g = 0; g < G; g++) {
            v8f v, w;
            memcpy(&v, xr + 8 * g, sizeof(v8f));
            memcpy(&w, xr + xs + 8 * g, sizeof(v8f));
            en[g] += v * v;
            en[g] += w * w;
            for (b = 0; b < NB; b++) {
                a2[b][g] = c[b] * a1[b][g] + (v - a2[b][g]);   /* s[n]   */
                a1[b][g] = c[b] * a2[b][g] + (w - a1[b][g]);   /* s[n+1] */
            }
        }
    }
    if (n < m) {
        const float *xr = x + (size_t) n * xs;
        for (g = 0; g < G; g++) {
            v8f v;
            memcpy(&v, xr + 8 * g, sizeof(v8f));
            en[g] += v * v;
            for (b = 0; b < NB; b++) {
                v8f t = c[b] * a1[b][g] + (v - a2[b][g]);
                a2[b][g] = a1[b][g];
                a1[b][g] = t;
            }
        }
    }
    for (b = 0; b < NB; b++) {
        for (g = 0; g < G; g++) {
            memcpy(s1p + (size_t) b * ss + 8 * g, &a1[b][g], sizeof(v8f));
            memcpy(s2p + (size_t) b * ss + 8 * g, &a2[b][g], sizeof(v8f));
        }
    }
    for (g = 0; g < G; g++)
        memcpy(enp + 8 * g, &en[g], sizeof(v8f));
}

#define CPT_KERNEL(NB, G)                                                                                   \
    CTID_HOT static void kern_##NB##_##G(float *s1, float *s2, float *en, const float *x, int m, int xs,   \
                                         int ss, const float *coef)                                        \
    {                                                                                                       \
        kern_body(s1, s2, en, x, m, xs, ss, coef, NB, G);                                                   \
    }

CPT_KERNEL(1, 1)
CPT_KERNEL(2, 1)
CPT_KERNEL(3, 1)
CPT_KERNEL(4, 1)
CPT_KERNEL(5, 1)
CPT_KERNEL(6, 1)
CPT_KERNEL(7, 1)
CPT_KERNEL(8, 1)
CPT_KERNEL(1, 4)
CPT_KERNEL(2, 2)
CPT_KERNEL(3, 2)

static const cpt_kern_fn kern_g1[CPT_MAX_BINS + 1] = {
    NULL, kern_1_1, kern_2_1, kern_3_1, kern_4_1, kern_5_1, kern_6_1, kern_7_1, kern_8_1
};

/* ------------------------------------------------------------------------------------------------------------
 * Parameters and table
 */
void ctid_cpt_rx_defaults(ctid_cpt_rx_params_t *p)
{
    if (p == NULL)
        return;
    p->threshold_dbm0 = -40.0f;      /* per component; commercial tone tables accept down to -40 dBm */
    p->min_purity = 0.6f;            /* > 0.5: one component of an equal-level pair is not a single tone */
    p->freq_tolerance_pct = 5.0f;
    p->cadence_tolerance_pct = 10.0f;   /* every segment +-10 % must be accepted */
    p->cadence_tolerance_ms = 25;       /* + block quantisation of both edges */
}

static int params_ok(const ctid_cpt_rx_params_t *p)
{
    if (!isfinite(p->threshold_dbm0) || p->threshold_dbm0 < -90.0f || p->threshold_dbm0 > 10.0f)
        return 0;
    if (!isfinite(p->min_purity) || p->min_purity <= 0.0f || p->min_purity > 1.0f)
        return 0;
    if (!isfinite(p->freq_tolerance_pct) || p->freq_tolerance_pct <= 0.0f || p->freq_tolerance_pct > 50.0f)
        return 0;
    if (!isfinite(p->cadence_tolerance_pct) || p->cadence_tolerance_pct < 0.0f || p->cadence_tolerance_pct > 50.0f)
        return 0;
    if (p->cadence_tolerance_ms < 0 || p->cadence_tolerance_ms > 1000)
        return 0;
    return 1;
}

static int def_ok(const ctid_tone_def_t *d)
{
    int i;
    if (!isfinite(d->freq1) || !isfinite(d->freq2) || !isfinite(d->level_dbm0))
        return 0;
    if (d->freq1 < 50.0f || d->freq1 > 3950.0f)
        return 0;
    if (d->freq2 != 0.0f && (d->freq2 < 50.0f || d->freq2 > 3950.0f || d->freq2 == d->freq1))
        return 0;
    if (d->nsegs < 0 || d->nsegs > CTID_TONE_MAX_SEGS || (d->nsegs & 1))
        return 0;
    for (i = 0; i < d->nsegs; i++)
        if (d->seg_ms[i] <= 0 || d->seg_ms[i] > CPT_MAX_MS)
            return 0;
    if (d->min_cycles < 1 || d->min_cycles * d->nsegs > CPT_HIST)
        return 0;
    if (d->nsegs == 0 && (d->detect_ms <= 0 || d->detect_ms > CPT_MAX_MS))
        return 0;
    return 1;
}

static int find_or_add(float *v, int *n, int max, float f)
{
    int i;
    for (i = 0; i < *n; i++)
        if (v[i] == f)
            return i;
    if (*n >= max)
        return -1;
    v[*n] = f;
    return (*n)++;
}

/* Block length: 10 ms unless the table has frequencies so close that 10 ms blocks cannot keep them apart
   (leakage above -12.6 dB, i.e. spacing < 0.8 fs/N) and every segment is long enough for 4 longer blocks. */
static int choose_block(const float *freq, int nb, const ctid_tone_def_t *defs, int ndefs)
{
    double dmin = 1e9;
    int i, j, minseg = INT_MAX, nf, nt;
    for (i = 0; i < nb; i++)
        for (j = i + 1; j < nb; j++)
            if (fabs(freq[i] - freq[j]) < dmin)
                dmin = fabs(freq[i] - freq[j]);
    if (dmin * 80.0 / CTID_RATE >= 0.8)
        return 80;
    nf = (int) ceil(0.8 * CTID_RATE / dmin / 40.0) * 40;
    if (nf > 320)
        nf = 320;
    for (i = 0; i < ndefs; i++)
        for (j = 0; j < defs[i].nsegs; j++)
            if (defs[i].seg_ms[j] < minseg)
                minseg = defs[i].seg_ms[j];
    nt = minseg == INT_MAX ? 320 : (minseg * (CTID_RATE / 1000) / 4) / 40 * 40;
    if (nt > 320)
        nt = 320;
    if (nf > nt)
        nf = nt;
    return nf < 80 ? 80 : nf;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
    return (x > y) - (x < y);
}

static void reset_lane(ctid_cpt_rx_t *s, int lane)
{
    const int S = s->stride;
    int b, c, k;
    for (b = 0; b < s->nb; b++) {
        s->s1[b * S + lane] = 0.0f;
        s->s2[b * S + lane] = 0.0f;
        s->pwr[b * S + lane] = 0.0f;
        s->pwi[b * S + lane] = 0.0f;
    }
    s->en[lane] = 0.0f;
    s->pe[lane] = 0.0f;
    for (c = 0; c < s->nc; c++) {
        cpt_lane_t *st;
        s->on[c * S + lane] = 0;
        s->len[c * S + lane] = 1;
        s->chk[c * S + lane] = CPT_LEN_SAT;
        s->acnt[c * S + lane] = 0;
        for (k = 0; k < 2; k++) {
            s->ar[(2 * c + k) * S + lane] = 0.0f;
            s->ai[(2 * c + k) * S + lane] = 0.0f;
            s->aq[(2 * c + k) * S + lane] = 0.0f;
        }
        if (lane < s->nlanes) {
            st = &s->ls[(size_t) lane * s->nc + c];
            memset(st, 0, sizeof(*st));
            st->seg_start = CPT_NO_TIME;   /* silent since forever */
            st->last_on_end = CPT_NO_TIME;
            st->active = -1;
        }
    }
}

void ctid_cpt_rx_free(ctid_cpt_rx_t *s)
{
    if (s == NULL)
        return;
    free(s->s1);
    free(s->s2);
    free(s->en);
    free(s->pwr);
    free(s->pwi);
    free(s->pe);
    free(s->ar);
    free(s->ai);
    free(s->aq);
    free(s->acnt);
    free(s->on);
    free(s->len);
    free(s->chk);
    free(s->ls);
    free(s->tile_en);
    free(s);
}

ctid_cpt_rx_t *ctid_cpt_rx_new(int nlanes, const ctid_cpt_rx_params_t *pp, const ctid_tone_def_t *defs, int ndefs)
{
    ctid_cpt_rx_t *s;
    ctid_cpt_rx_params_t p;
    int i, j, c, S;
    double tol_frac, tol_ms_smp;

    if (nlanes <= 0 || nlanes > 65536 || ndefs < 0 || ndefs > CTID_TONE_MAX_DEFS || (ndefs > 0 && defs == NULL))
        return NULL;
    if (pp == NULL)
        ctid_cpt_rx_defaults(&p);
    else
        p = *pp;
    if (!params_ok(&p))
        return NULL;
    for (i = 0; i < ndefs; i++)
        if (!def_ok(&defs[i]))
            return NULL;

    s = (ctid_cpt_rx_t *) calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->nlanes = nlanes;
    s->stride = CTID_ROUND_UP_TILE(nlanes);
    s->ntiles = s->stride / CTID_TILE;
    s->p = p;
    s->ndefs = ndefs;
    s->n = 80;
    if (ndefs == 0)
        return s;   /* detects nothing */

    /* bins and classes */
    for (i = 0; i < ndefs; i++) {
        float fa = defs[i].freq1, fb = defs[i].freq2;
        int ba, bb = -1, found = -1;
        ba = find_or_add(s->freq, &s->nb, CPT_MAX_BINS, fa);
        if (fb != 0.0f)
            bb = find_or_add(s->freq, &s->nb, CPT_MAX_BINS, fb);
        if (ba < 0 || (fb != 0.0f && bb < 0))
            goto fail;
        if (bb >= 0 && s->freq[bb] < s->freq[ba]) {
            int t = ba;
            ba = bb;
            bb = t;
        }
        for (c = 0; c < s->nc; c++)
            if (s->cls[c].bin[0] == ba && (s->cls[c].ncomp == 2 ? s->cls[c].bin[1] == bb : bb < 0))
                found = c;
        if (found < 0) {
            if (s->nc >= CPT_MAX_CLASSES)
                goto fail;
            found = s->nc++;
            s->cls[found].ncomp = bb >= 0 ? 2 : 1;
            s->cls[found].bin[0] = ba;
            s->cls[found].bin[1] = bb >= 0 ? bb : ba;
        }
        s->def[i].cls = found;
        s->cls[found].def[s->cls[found].ndefs++] = i;
    }
    s->n = choose_block(s->freq, s->nb, defs, ndefs);

    for (j = 0; j < s->nb; j++) {
        double w = 2.0 * CTID_PI * s->freq[j] / CTID_RATE;
        s->coef[j] = (float) (2.0 * cos(w));
        s->cosw[j] = (float) cos(w);
        s->sinw[j] = (float) sin(w);
        s->cr[j] = cos(w * s->n);
        s->ci[j] = -sin(w * s->n);
        s->tolhz[j] = p.freq_tolerance_pct / 100.0 * s->freq[j];
        if (s->tolhz[j] > 0.45 * CTID_RATE / s->n)   /* pulse-pair estimate is unambiguous within fs/2N */
            s->tolhz[j] = 0.45 * CTID_RATE / s->n;
    }
    /* |W|^2 = P N^2 / 2 for a sine of mean-square power P at the bin frequency */
    s->thr_w = (float) (ctid_dbm0_to_power(p.threshold_dbm0) * s->n * (double) s->n / 2.0);
    /* ratio = 2 sum|W|^2 / (N sum x^2) >= min_purity */
    s->pur_k = (float) (p.min_purity * s->n / 2.0);
    s->twist = (float) pow(10.0, -CPT_TWIST_DB / 10.0);

    tol_frac = p.cadence_tolerance_pct / 100.0;
    tol_ms_smp = p.cadence_tolerance_ms * (CTID_RATE / 1000.0);
    for (i = 0; i < ndefs; i++) {
        cpt_def_t *d = &s->def[i];
        cpt_class_t *cl = &s->cls[d->cls];
        d->nsegs = defs[i].nsegs;
        d->k = defs[i].min_cycles * defs[i].nsegs;
        for (j = 0; j < d->nsegs; j++) {
            double smp = defs[i].seg_ms[j] * (CTID_RATE / 1000.0);
            double lo = floor(smp * (1.0 - tol_frac) - tol_ms_smp), hi = ceil(smp * (1.0 + tol_frac) + tol_ms_smp);
            d->lo[j] = (int32_t) (lo < 1.0 ? 1.0 : lo);
            d->hi[j] = (int32_t) hi;
            if (j & 1) {
                int k, dup = 0;
                for (k = 0; k < cl->nlo; k++)
                    dup |= cl->lo[k] == d->lo[j];
                if (!dup)
                    cl->lo[cl->nlo++] = d->lo[j];
            }
        }
        d->detect = (int32_t) (defs[i].detect_ms * (CTID_RATE / 1000));
        d->off_tol = (int32_t) tol_ms_smp;
    }
    for (c = 0; c < s->nc; c++)
        qsort(s->cls[c].lo, (size_t) s->cls[c].nlo, sizeof(int32_t), cmp_i32);

    s->kern1 = kern_g1[s->nb];
    s->group = 1;
    s->kerng = s->kern1;
    if (s->nb == 1) {
        s->group = 4;
        s->kerng = kern_1_4;
    } else if (s->nb <= 3) {
        s->group = 2;
        s->kerng = s->nb == 2 ? kern_2_2 : kern_3_2;
    }

    S = s->stride;
    s->s1 = (float *) calloc((size_t) s->nb * S, sizeof(float));
    s->s2 = (float *) calloc((size_t) s->nb * S, sizeof(float));
    s->en = (float *) calloc((size_t) S, sizeof(float));
    s->pwr = (float *) calloc((size_t) s->nb * S, sizeof(float));
    s->pwi = (float *) calloc((size_t) s->nb * S, sizeof(float));
    s->pe = (float *) calloc((size_t) S, sizeof(float));
    s->ar = (float *) calloc((size_t) 2 * s->nc * S, sizeof(float));
    s->ai = (float *) calloc((size_t) 2 * s->nc * S, sizeof(float));
    s->aq = (float *) calloc((size_t) 2 * s->nc * S, sizeof(float));
    s->acnt = (int32_t *) calloc((size_t) s->nc * S, sizeof(int32_t));
    s->on = (int32_t *) calloc((size_t) s->nc * S, sizeof(int32_t));
    s->len = (int32_t *) calloc((size_t) s->nc * S, sizeof(int32_t));
    s->chk = (int32_t *) calloc((size_t) s->nc * S, sizeof(int32_t));
    s->ls = (cpt_lane_t *) calloc((size_t) nlanes * s->nc, sizeof(cpt_lane_t));
    s->tile_en = (uint8_t *) calloc((size_t) s->ntiles, 1);
    if (!s->s1 || !s->s2 || !s->en || !s->pwr || !s->pwi || !s->pe || !s->ar || !s->ai || !s->aq || !s->acnt
        || !s->on || !s->len || !s->chk || !s->ls || !s->tile_en)
        goto fail;
    for (i = 0; i < S; i++)
        reset_lane(s, i);
    return s;
fail:
    ctid_cpt_rx_free(s);
    return NULL;
}

void ctid_cpt_rx_reset(ctid_cpt_rx_t *s, int lane)
{
    int i;
    if (s == NULL || s->nb == 0 || lane < -1 || lane >= s->nlanes)
        return;
    if (lane >= 0) {
        reset_lane(s, lane);
        return;
    }
    for (i = 0; i < s->stride; i++)
        reset_lane(s, i);
}

/* ------------------------------------------------------------------------------------------------------------
 * Per-lane decision logic (scalar, only on transitions and threshold crossings)
 */
typedef struct {
    int64_t t_end;      /* sample index just after the block */
    int hit;            /* class on in this block */
    int trans;          /* ... and it changed */
    float r_now;        /* purity ratio of this block (~ share of the block filled with the tone) */
    float r_prev;       /* ... of the previous block */
} cpt_blk_t;

static inline cpt_seg_t *hist_at(cpt_lane_t *st, int i)   /* i = 0: newest */
{
    return &st->hist[(st->head - i + CPT_HIST) % CPT_HIST];
}

static void hist_push(cpt_lane_t *st, int64_t dur, int on, int ok, float lvl, int used)
{
    cpt_seg_t *g;
    st->head = (st->head + 1) % CPT_HIST;
    g = &st->hist[st->head];
    g->dur = (int32_t) (dur > INT32_MAX ? INT32_MAX : (dur < 1 ? 1 : dur));
    g->on = (uint8_t) on;
    g->ok = (uint8_t) ok;
    g->used = (uint8_t) used;
    g->lvl = lvl;
    if (st->nhist < CPT_HIST)
        st->nhist++;
}

/* Frequency check and level of the running (or just ended) on-segment of class c on a lane. */
static void seg_stats(const ctid_cpt_rx_t *s, int c, int lane, int *ok, float *lvl)
{
    const cpt_class_t *cl = &s->cls[c];
    const int S = s->stride;
    int cnt = s->acnt[c * S + lane], k, good = 1;
    double lsum = 0.0, nn = (double) s->n;
    for (k = 0; k < cl->ncomp; k++) {
        int b = cl->bin[k], row = (2 * c + k) * S + lane;
        double rr = s->ar[row], ri = s->ai[row], q = s->aq[row];
        double pw = 0.0;
        if (cnt > 0 && q > 0.0 && isfinite(q)) {
            double zr = rr * s->cr[b] - ri * s->ci[b], zi = rr * s->ci[b] + ri * s->cr[b];
            double df = atan2(zi, zr) * CTID_RATE / (2.0 * CTID_PI * nn);
            double u = CTID_PI * df * nn / CTID_RATE, g = fabs(u) < 1e-6 ? 1.0 : sin(u) / u;
            if (!(fabs(df) <= s->tolhz[b]) || !(sqrt(zr * zr + zi * zi) >= CPT_MIN_COHERENCE * q))
                good = 0;   /* (written so that NaN fails) */
            g = g * g;
            if (!(g >= 0.3))
                g = 0.3;
            pw = q / cnt * 2.0 / (nn * nn) / g;   /* mean |W|^2 -> mean-square power, offset corrected */
            if (!isfinite(pw))
                pw = 0.0;
        } else {
            good = 0;   /* a one-block blip cannot be verified */
        }
        lsum += ctid_power_to_dbm0(pw);
    }
    *ok = good;
    *lvl = (float) (lsum / cl->ncomp);
}

static void emit_on(ctid_cpt_rx_t *s, cpt_lane_t *st, int lane, int di, int64_t t, float lvl, ctid_evbuf_t *out)
{
    if (t < 0)
        t = 0;
    st->active = di;
    st->t_on = t;
    st->lvl_on = lvl;
    ctid_emit(out, (uint64_t) t, lane, CTID_EV_CPT, CTID_EVT_ON, di, 0, lvl, 0.0f);
    (void) s;
}

static void emit_off(cpt_lane_t *st, int lane, int64_t t, ctid_evbuf_t *out)
{
    int64_t d;
    if (t < st->t_on)
        t = st->t_on;
    d = t - st->t_on;
    ctid_emit(out, (uint64_t) t, lane, CTID_EV_CPT, CTID_EVT_OFF, st->active, (int) (d > INT_MAX ? INT_MAX : d),
              st->lvl_on, 0.0f);
    st->active = -1;
}

/* A completed segment while a tone is reported: does it continue the cadence? Ends the tone if not.
   Returns 1 if the segment belongs to the tone. */
static int track_completed(ctid_cpt_rx_t *s, cpt_lane_t *st, int lane, int on, int64_t dur, int ok,
                           int64_t seg_end, ctid_evbuf_t *out)
{
    const cpt_def_t *d = &s->def[st->active];
    int p = st->pos;
    if (d->nsegs == 0) {
        if (!on && dur > d->off_tol) {
            emit_off(st, lane, seg_end - dur, out);
            return 0;
        }
        return 1;
    }
    if (((p & 1) == 0) != (on != 0) || dur > d->hi[p] || dur < d->lo[p] || (on && !ok)) {
        /* a truncated last on-segment still belongs to the tone (and may not start another one);
           anything else ended it earlier */
        int truncated = on && ok && ((p & 1) == 0) && dur < d->lo[p];
        emit_off(st, lane, truncated ? seg_end : st->last_on_end, out);
        return truncated;
    }
    st->pos = (p + 1) % d->nsegs;
    return 1;
}

/* Running off of length `running` after the history: does a cadenced tone of class c line up? */
static int try_match(ctid_cpt_rx_t *s, cpt_lane_t *st, int c, int64_t running, int64_t *t_on, float *lvl)
{
    const cpt_class_t *cl = &s->cls[c];
    int i, r, n;
    for (n = 0; n < cl->ndefs; n++) {
        int di = cl->def[n];
        const cpt_def_t *d = &s->def[di];
        int k = d->k, ns = d->nsegs;
        if (ns == 0 || st->nhist < k - 1)
            continue;
        for (r = 0; r < ns; r += 2) {
            int pl = (r + k - 1) % ns, good = 1, nl = 0;
            int64_t sum = 0;
            double lsum = 0.0;
            if (running < d->lo[pl] || running > d->hi[pl])
                continue;
            for (i = 1; i < k && good; i++) {
                const cpt_seg_t *g = hist_at(st, i - 1);
                int pp = ((pl - i) % ns + ns) % ns;
                if (g->used || (g->on != 0) != ((pp & 1) == 0) || g->dur < d->lo[pp] || g->dur > d->hi[pp]
                    || (g->on && !g->ok))
                    good = 0;
                sum += g->dur;
                if (g->on) {
                    lsum += g->lvl;
                    nl++;
                }
            }
            if (!good)
                continue;
            for (i = 1; i < k; i++)
                hist_at(st, i - 1)->used = 1;
            st->pos = pl;
            *t_on = st->seg_start - sum;
            *lvl = nl ? (float) (lsum / nl) : 0.0f;
            return di;
        }
    }
    return -1;
}

static void cpt_slow(ctid_cpt_rx_t *s, int c, int lane, const cpt_blk_t *bk, ctid_evbuf_t *out)
{
    const int S = s->stride, N = s->n;
    const cpt_class_t *cl = &s->cls[c];
    cpt_lane_t *st = &s->ls[(size_t) lane * s->nc + c];
    int32_t *lenp = &s->len[c * S + lane], *chkp = &s->chk[c * S + lane];
    const int64_t t_end = bk->t_end, t_beg = t_end - N;
    int64_t running, thr = INT64_MAX;
    int n;

    if (bk->trans) {
        int64_t edge, dur;
        if (bk->hit) {
            /* off -> on: the tone fills the last r_now of this block, plus r_prev of the previous one */
            double a = bk->r_now >= 0.9f ? 1.0 : bk->r_now, b = bk->r_prev >= 0.1f ? bk->r_prev : 0.0;
            if (b > 0.9)
                b = 0.9;
            edge = t_end - (int64_t) lrint((a + b) * N);
            if (edge <= st->seg_start)
                edge = st->seg_start + 1;
            dur = edge - st->seg_start;
            if (st->seg_start == CPT_NO_TIME)
                dur = INT32_MAX;
            if (st->active >= 0 && track_completed(s, st, lane, 0, dur, 1, edge, out))
                hist_push(st, dur, 0, 1, 0.0f, 1);
            else
                hist_push(st, dur, 0, 1, 0.0f, 0);
            st->seg_start = edge;
        } else {
            /* on -> off: the tail fills the first r_now of this block; or the last on block was partial */
            int ok;
            float lvl;
            double f = 0.0;
            if (bk->r_now >= 0.1f)
                f = bk->r_now;
            else if (bk->r_prev < 0.9f)
                f = -(1.0 - bk->r_prev);
            edge = t_beg + (int64_t) lrint(f * N);
            if (edge <= st->seg_start)
                edge = st->seg_start + 1;
            if (edge > t_end)
                edge = t_end;
            dur = edge - st->seg_start;
            seg_stats(s, c, lane, &ok, &lvl);
            if (st->active >= 0 && track_completed(s, st, lane, 1, dur, ok, edge, out))
                hist_push(st, dur, 1, ok, lvl, 1);
            else
                hist_push(st, dur, 1, ok, lvl, 0);
            st->last_on_end = edge;
            st->seg_start = edge;
        }
    }

    running = t_end - st->seg_start;
    if (bk->hit) {
        if (st->active >= 0) {
            const cpt_def_t *d = &s->def[st->active];
            if (d->nsegs > 0 && running > d->hi[st->pos])
                emit_off(st, lane, st->last_on_end, out);
        }
        if (st->active < 0) {
            st->recheck = 0;
            for (n = 0; n < cl->ndefs && st->active < 0; n++) {
                int di = cl->def[n], ok;
                float lvl;
                if (s->def[di].nsegs != 0 || running < s->def[di].detect)
                    continue;
                seg_stats(s, c, lane, &ok, &lvl);
                if (ok) {
                    emit_on(s, st, lane, di, st->seg_start, lvl, out);
                    st->pos = 0;
                } else {
                    st->recheck = 1;
                }
            }
        }
        if (st->active >= 0) {
            const cpt_def_t *d = &s->def[st->active];
            if (d->nsegs > 0)
                thr = (int64_t) d->hi[st->pos] + 1;
        } else {
            for (n = 0; n < cl->ndefs; n++) {
                const cpt_def_t *d = &s->def[cl->def[n]];
                if (d->nsegs == 0 && d->detect > running && d->detect < thr)
                    thr = d->detect;
            }
            if (st->recheck && running + (int64_t) CPT_RECHECK_BLOCKS * N < thr)
                thr = running + (int64_t) CPT_RECHECK_BLOCKS * N;
        }
    } else {
        if (st->active >= 0) {
            const cpt_def_t *d = &s->def[st->active];
            int32_t hi = d->nsegs ? d->hi[st->pos] : d->off_tol;
            if (running > hi)
                emit_off(st, lane, st->seg_start, out);
        }
        if (st->active < 0 && st->nhist > 0) {
            int64_t t_on;
            float lvl;
            int di = try_match(s, st, c, running, &t_on, &lvl);
            if (di >= 0)
                emit_on(s, st, lane, di, t_on, lvl, out);
        }
        if (st->active >= 0) {
            const cpt_def_t *d = &s->def[st->active];
            thr = (int64_t) (d->nsegs ? d->hi[st->pos] : d->off_tol) + 1;
        } else if (st->nhist > 0) {
            for (n = 0; n < cl->nlo; n++) {
                if (cl->lo[n] > running) {
                    thr = cl->lo[n];
                    break;
                }
            }
        }
    }

    if (thr == INT64_MAX) {
        *chkp = CPT_LEN_SAT;
    } else {
        /* the block whose end reaches seg_start + thr */
        int64_t need = st->seg_start + thr - t_end, len = *lenp;
        int64_t add = need <= 0 ? 1 : (need + N - 1) / N;
        int64_t v = len + add;
        *chkp = (int32_t) (v > CPT_LEN_SAT ? CPT_LEN_SAT : v);
    }
}

/* ------------------------------------------------------------------------------------------------------------
 * Block end for one tile: vector stage over the 8 lanes, then the scalar logic for lanes that need it.
 */
/* Unaligned vector loads (macros: a function returning a 32-byte vector trips -Wpsabi in the baseline clone). */
#define LDV(v, p) memcpy(&(v), (p), sizeof(v))

CTID_HOT static void block_end(ctid_cpt_rx_t *s, int tile, int64_t t_end, const uint8_t *enabled,
                               ctid_evbuf_t *out)
{
    const int S = s->stride, L0 = tile * CTID_TILE, nb = s->nb, nc = s->nc;
    v8f wr[CPT_MAX_BINS], wi[CPT_MAX_BINS], w2[CPT_MAX_BINS], pw2[CPT_MAX_BINS];
    v8f zr[CPT_MAX_BINS], zi[CPT_MAX_BINS], qq[CPT_MAX_BINS];
    v8f e, pe;
    v8i hitv[CPT_MAX_CLASSES], trv[CPT_MAX_CLASSES], attn[CPT_MAX_CLASSES];
    const v8f zero = { 0 };
    const v8i one = { 1, 1, 1, 1, 1, 1, 1, 1 }, sat = one * CPT_LEN_SAT;
    const float thr = s->thr_w, pk = s->pur_k, tw = s->twist;
    int b, c, j, k, any = 0;

    for (b = 0; b < nb; b++) {
        v8f a1, a2, pr, pi, r, i;
        LDV(a1, s->s1 + b * S + L0);
        LDV(a2, s->s2 + b * S + L0);
        LDV(pr, s->pwr + b * S + L0);
        LDV(pi, s->pwi + b * S + L0);
        r = a1 - s->cosw[b] * a2;
        i = s->sinw[b] * a2;
        wr[b] = r;
        wi[b] = i;
        w2[b] = r * r + i * i;
        pw2[b] = pr * pr + pi * pi;
        zr[b] = r * pr + i * pi;          /* W_k conj(W_k-1) */
        zi[b] = i * pr - r * pi;
        qq[b] = 0.5f * (w2[b] + pw2[b]);
    }
    LDV(e, s->en + L0);
    LDV(pe, s->pe + L0);

    for (c = 0; c < nc; c++) {
        const cpt_class_t *cl = &s->cls[c];
        int32_t *onp = s->on + c * S + L0, *lenp = s->len + c * S + L0, *cntp = s->acnt + c * S + L0;
        const v8f p1 = w2[cl->bin[0]], p2 = cl->ncomp == 2 ? w2[cl->bin[1]] : zero;
        v8i hit = (p1 >= thr) & ((p1 + p2) >= pk * e);
        v8i on, len, cnt, chk, tr, nl, cont, start, hold;
        LDV(on, onp);
        LDV(len, lenp);
        LDV(cnt, cntp);
        LDV(chk, s->chk + c * S + L0);
        if (cl->ncomp == 2)
            hit &= (p2 >= thr) & (p1 >= tw * p2) & (p2 >= tw * p1);
        tr = hit ^ on;                                   /* masks are 0 / -1 */
        nl = (tr & one) | (~tr & (len - (len < sat)));
        cont = hit & ~tr;
        start = hit & tr;
        cnt = ~start & (cnt - cont);
        memcpy(onp, &hit, sizeof(hit));
        memcpy(lenp, &nl, sizeof(nl));
        memcpy(cntp, &cnt, sizeof(cnt));
        hitv[c] = hit;
        trv[c] = tr;
        attn[c] = tr | (nl >= chk);
        /* sums: restart on a new on-segment, add while it continues; selects (not multiplies), so a non-finite
           block (possible only through the C API with non-finite input) cannot stick in the sums */
        hold = ~cont & ~start;
        for (k = 0; k < cl->ncomp; k++) {
            const int bb = cl->bin[k], row = (2 * c + k) * S + L0;
            v8f rr, ri, rq;
            v8i ir, ii, iq;
            LDV(rr, s->ar + row);
            LDV(ri, s->ai + row);
            LDV(rq, s->aq + row);
            ir = ((v8i) (rr + zr[bb]) & cont) | ((v8i) rr & hold);
            ii = ((v8i) (ri + zi[bb]) & cont) | ((v8i) ri & hold);
            iq = ((v8i) (rq + qq[bb]) & cont) | ((v8i) rq & hold);
            memcpy(s->ar + row, &ir, sizeof(ir));
            memcpy(s->ai + row, &ii, sizeof(ii));
            memcpy(s->aq + row, &iq, sizeof(iq));
        }
        for (j = 0; j < CTID_TILE; j++)
            any |= attn[c][j];
    }

    if (any) {
        for (c = 0; c < nc; c++) {
            const cpt_class_t *cl = &s->cls[c];
            for (j = 0; j < CTID_TILE; j++) {
                const int lane = L0 + j;
                cpt_blk_t bk;
                float tn, tp;
                if (!attn[c][j] || lane >= s->nlanes || !enabled[lane])
                    continue;
                tn = w2[cl->bin[0]][j] + (cl->ncomp == 2 ? w2[cl->bin[1]][j] : 0.0f);
                tp = pw2[cl->bin[0]][j] + (cl->ncomp == 2 ? pw2[cl->bin[1]][j] : 0.0f);
                bk.t_end = t_end;
                bk.hit = hitv[c][j] != 0;
                bk.trans = trv[c][j] != 0;
                bk.r_now = e[j] > 0.0f ? 2.0f * tn / ((float) s->n * e[j]) : 0.0f;
                bk.r_prev = pe[j] > 0.0f ? 2.0f * tp / ((float) s->n * pe[j]) : 0.0f;
                if (!(bk.r_now >= 0.0f))
                    bk.r_now = 0.0f;
                if (!(bk.r_prev >= 0.0f))
                    bk.r_prev = 0.0f;
                if (bk.r_now > 1.0f)
                    bk.r_now = 1.0f;
                if (bk.r_prev > 1.0f)
                    bk.r_prev = 1.0f;
                cpt_slow(s, c, lane, &bk, out);
            }
        }
    }

    for (b = 0; b < nb; b++) {
        memcpy(s->pwr + b * S + L0, &wr[b], sizeof(v8f));
        memcpy(s->pwi + b * S + L0, &wi[b], sizeof(v8f));
    }
    memcpy(s->pe + L0, &e, sizeof(e));
}

void ctid_cpt_rx_process(ctid_cpt_rx_t *s, const float *x, int nframes, int stride, const uint8_t *enabled,
                         uint64_t t0, ctid_evbuf_t *out)
{
    const int N = s ? s->n : 0;
    int n = 0, t, any = 0;
    if (s == NULL || x == NULL || enabled == NULL || out == NULL || nframes <= 0 || s->nb == 0
        || stride < s->stride)
        return;
    for (t = 0; t < s->ntiles; t++) {
        int l, on = 0;
        for (l = t * CTID_TILE; l < (t + 1) * CTID_TILE && l < s->nlanes; l++)
            on |= enabled[l] != 0;
        s->tile_en[t] = (uint8_t) on;
        any |= on;
    }
    if (!any)
        return;
    while (n < nframes) {
        const uint64_t tt = t0 + (uint64_t) n;
        const int pos = (int) (tt % (uint64_t) N);
        const int m = nframes - n < N - pos ? nframes - n : N - pos;
        const float *xb = x + (size_t) n * stride;
        t = 0;
        while (t < s->ntiles) {
            int g = t + s->group <= s->ntiles ? s->group : 1, u, on = 0;
            for (u = t; u < t + g; u++)
                on |= s->tile_en[u];
            if (on) {
                const int L = t * CTID_TILE, W = g * CTID_TILE;
                int b;
                if (pos == 0) {
                    for (b = 0; b < s->nb; b++) {
                        memset(s->s1 + (size_t) b * s->stride + L, 0, (size_t) W * sizeof(float));
                        memset(s->s2 + (size_t) b * s->stride + L, 0, (size_t) W * sizeof(float));
                    }
                    memset(s->en + L, 0, (size_t) W * sizeof(float));
                }
                (g == 1 ? s->kern1 : s->kerng)(s->s1 + L, s->s2 + L, s->en + L, xb + L, m, stride, s->stride,
                                                s->coef);
            }
            t += g;
        }
        n += m;
        if (pos + m == N) {
            for (t = 0; t < s->ntiles; t++)
                if (s->tile_en[t])
                    block_end(s, t, (int64_t) (t0 + (uint64_t) n), enabled, out);
        }
    }
}
