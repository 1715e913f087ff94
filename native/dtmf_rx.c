/*
 * DTMF receiver, multi-lane (all channels of a span in one call).
 *
 * Design
 *  - Blocks of N = 102 samples (12.75 ms) aligned on the global sample count. Each block, per lane, a
 *    Hann-windowed Goertzel on the 8 DTMF frequencies plus the block's unwindowed energy, vectorised
 *    across lanes in tiles of CTID_TILE lanes (the tile's states live in registers for the inner loop).
 *    The Hann window keeps the leakage of the other group's tone below -41 dB (rectangular 102-sample
 *    blocks leak -21 dB between 941 and 1209 Hz, which at 8 dB twist moves the measured twist by +-2 dB).
 *  - At the half block (sample 51) the Goertzel states and the energy are snapshotted (a store, no
 *    extra arithmetic). From them, at the block end and only for lanes whose bins hold enough energy:
 *      * energy balance of the two halves (a tone filling the block is stationary; a block only partly
 *        filled by a tone is not): this is what rejects tones shorter than 20 ms (ETSI ES 201 235-3);
 *      * a coarse frequency estimate per tone from the phase advance between the two windowed halves
 *        (baseline 30.3 samples, unambiguous to +-132 Hz);
 *      * a fine estimate from the phase advance of the whole-block DFT between consecutive blocks
 *        (baseline 102 samples, ambiguous every 78.4 Hz; the coarse estimate picks the branch).
 *    Q.24 requires operation within +-1.5 % and none beyond +-3.5 %; the default limit is 2.5 %.
 *  - Tone powers are corrected for the window's attenuation at the estimated offset, then checked:
 *    level >= threshold, twist (Q.24: 8 dB normal, 4 dB reverse), the best bin dominating its group,
 *    and purity: the two tones' power >= min_purity of the block's energy.
 *  - A digit begins after hits_to_begin consecutive qualifying blocks (each consecutive pair also passing
 *    the fine frequency check) and ends after misses_to_end consecutive failing blocks.
 *  - Start and end times are estimated to a few samples from the (window-weighted) share of the tone in
 *    the partially filled block next to the first / last qualifying block, measured coherently (the
 *    partial block's DFT projected on the tone's predicted phase, so noise does not bias it).
 */
#include "internal.h"

#define DN 102                 /* block length */
#define DH 51                  /* snapshot point (half block) */
#define NB 8                   /* bins */
#define T CTID_TILE
#define GAIN_TAB 1024          /* window gain table over |delta| in [0, GAIN_MAX] rad/sample */
#define GAIN_MAX 0.25f

/* Balance: the energy of each half block must be within this ratio of the other half. A tone filling at
   least ~78 % of the block passes (a full block of two tones beats by at most +-1 dB); a block filled
   by 70 % or less (as both blocks of an 18 ms tone necessarily are in at least one of the two) fails. */
#define BALANCE_MIN 0.56f      /* -2.5 dB */
/* Dominance of the best bin over the rest of its group (raw windowed powers). With the Hann window the
   adjacent row bin (73..89 Hz away) sees a tone 2.5 % off nominal only 2.4 dB below the right bin;
   columns are at least 127 Hz apart (7.9 dB at 2.5 %). */
#define DOM_ROW 0.70f          /* 1.5 dB */
#define DOM_COL 0.3f           /* 5.2 dB */

static const double dtmf_freq[NB] = { 697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0 };
static const char dtmf_key[4][4] = {
    { '1', '2', '3', 'A' }, { '4', '5', '6', 'B' }, { '7', '8', '9', 'C' }, { '*', '0', '#', 'D' }
};

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));

/* Per tile: Goertzel states [bin][lane], energy, the half-block snapshot, and the previous block's
   final states (for the start-time estimate). */
typedef struct {
    float s1[NB][T], s2[NB][T], e[T];
    float m1[NB][T], m2[NB][T], me[T];
    float q1[NB][T], q2[NB][T];
} tile_t;

typedef struct {
    ctid_dtmf_rx_params_t p;
    float thr;                 /* tone power threshold */
    float gate_e;              /* minimum block energy to look further */
    float pre;                 /* raw-power prefilter factor (max window attenuation within tolerance) */
    float tw_norm, tw_rev;     /* power ratios */
    float tol, tol_coarse;     /* fractions of the nominal frequency */
} lparam_t;

typedef struct {
    int skip;                  /* ignore the next block end (states restarted mid-block) */
    /* previous block, if it qualified */
    int prev_digit;
    float py[2][2];            /* its DFTs (re, im) for the row and column bin */
    float pdc[2];              /* its coarse offsets, rad/sample */
    float pdel[2];             /* its best offsets */
    float ppow;                /* |Y_row|^2 + |Y_col|^2 */
    /* run of qualifying blocks (candidate) */
    int cand, hits;
    uint64_t first_start;      /* first sample of the run's first block */
    float first_pow;           /* its power */
    float yfirst[2][2], yq[2][2]; /* its DFTs and the preceding block's (row, column) */
    float ref_pow, ref_pr, ref_pc; /* strongest block of the run: power, corrected tone powers */
    /* digit in progress */
    int on, misses, end_set;
    uint64_t on_start, end_est;
    float on_ref;              /* strongest block power of the digit */
} lstate_t;

struct ctid_dtmf_rx {
    int nlanes, ntiles;
    tile_t *tiles;
    lparam_t *lp;
    lstate_t *ls;
    uint64_t next_t;
    int started;
    /* constants */
    float coef[NB], cosw[NB], sinw[NB], omega[NB];
    float r51c[NB], r51s[NB];  /* e^{-i w 51} */
    float rnc[NB], rns[NB];    /* e^{-i w N} */
    float win[DN];
    float fill[DN + 1];        /* share of the window sum in the k samples at one end of the block */
    float gain[GAIN_TAB + 2];  /* window power gain at offset delta (normalised to 1 at 0) */
    float pscale;              /* |X|^2 -> mean-square power of a sine: 2 / (sum w)^2 */
    float coarse_b;            /* coarse phase baseline, samples */
    float einv;                /* 1 / N */
};

void ctid_dtmf_rx_defaults(ctid_dtmf_rx_params_t *p)
{
    if (p == NULL)
        return;
    p->threshold_dbm0 = -40.0f;     /* dynamic range: Q.24 asks 0 .. -25 dBm0 at least; we go to -40 */
    p->twist_normal_db = 8.0f;      /* Q.24 (AT&T column): 8 dB normal */
    p->twist_reverse_db = 4.0f;     /* Q.24: 4 dB reverse */
    p->freq_tolerance_pct = 2.5f;   /* Q.24: operate within 1.5 %, not beyond 3.5 % */
    p->min_purity = 0.6f;
    p->hits_to_begin = 2;           /* 2 blocks = 25.5 ms: 40 ms tones always give 2 whole blocks */
    p->misses_to_end = 3;           /* a 10 ms interruption spoils at most 2 blocks; a 50 ms pause >= 3 */
}

static int valid_params(const ctid_dtmf_rx_params_t *p)
{
    if (!(p->threshold_dbm0 >= -90.0f && p->threshold_dbm0 <= 3.0f))
        return 0;
    if (!(p->twist_normal_db >= 0.0f && p->twist_normal_db <= 40.0f))
        return 0;
    if (!(p->twist_reverse_db >= 0.0f && p->twist_reverse_db <= 40.0f))
        return 0;
    /* the coarse estimate is unambiguous to +-132 Hz: 6 % of 1633 Hz (+1.5 % coarse margin) is 122 Hz */
    if (!(p->freq_tolerance_pct >= 0.1f && p->freq_tolerance_pct <= 6.0f))
        return 0;
    if (!(p->min_purity >= 0.0f && p->min_purity <= 1.0f))
        return 0;
    if (p->hits_to_begin < 1 || p->hits_to_begin > 1000)
        return 0;
    if (p->misses_to_end < 1 || p->misses_to_end > 1000)
        return 0;
    return 1;
}

static float gain_at(const struct ctid_dtmf_rx *s, float delta)
{
    float a = fabsf(delta) * (GAIN_TAB / GAIN_MAX);
    int i;
    if (!(a < (float) GAIN_TAB))
        return s->gain[GAIN_TAB];
    i = (int) a;
    a -= (float) i;
    return s->gain[i] + a * (s->gain[i + 1] - s->gain[i]);
}

static void derive(const struct ctid_dtmf_rx *s, lparam_t *l, const ctid_dtmf_rx_params_t *p)
{
    float gmin;
    l->p = *p;
    l->thr = (float) ctid_dbm0_to_power(p->threshold_dbm0);
    l->tw_norm = powf(10.0f, p->twist_normal_db / 10.0f);
    l->tw_rev = powf(10.0f, p->twist_reverse_db / 10.0f);
    l->tol = p->freq_tolerance_pct / 100.0f;
    l->tol_coarse = l->tol + 0.015f;
    /* largest window attenuation a tone accepted by the coarse check can have: at the top bin */
    gmin = gain_at(s, l->tol_coarse * s->omega[NB - 1]);
    l->pre = gmin * 0.9f;
    /* a bin's power is at most 2x the block's mean square; both tones must reach pre * thr */
    l->gate_e = l->thr * l->pre * 0.5f;
}

static void lane_clear(struct ctid_dtmf_rx *s, int lane)
{
    tile_t *t = &s->tiles[lane / T];
    int j = lane % T, k;
    for (k = 0; k < NB; k++) {
        t->s1[k][j] = t->s2[k][j] = 0.0f;
        t->m1[k][j] = t->m2[k][j] = 0.0f;
        t->q1[k][j] = t->q2[k][j] = 0.0f;
    }
    t->e[j] = t->me[j] = 0.0f;
    memset(&s->ls[lane], 0, sizeof(lstate_t));
    /* restarted mid-block: that block is partial for this lane and is not evaluated */
    s->ls[lane].skip = s->started && s->next_t % DN != 0;
}

ctid_dtmf_rx_t *ctid_dtmf_rx_new(int nlanes, const ctid_dtmf_rx_params_t *p)
{
    struct ctid_dtmf_rx *s;
    ctid_dtmf_rx_params_t def;
    double wsum = 0.0, acc;
    int k, n, i;

    if (nlanes <= 0 || nlanes > 65536)
        return NULL;
    if (p == NULL) {
        ctid_dtmf_rx_defaults(&def);
        p = &def;
    }
    if (!valid_params(p))
        return NULL;
    s = (struct ctid_dtmf_rx *) calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->nlanes = nlanes;
    s->ntiles = (nlanes + T - 1) / T;
    s->tiles = (tile_t *) aligned_alloc(64, ((sizeof(tile_t) * (size_t) s->ntiles + 63) / 64) * 64);
    s->lp = (lparam_t *) calloc((size_t) nlanes, sizeof(lparam_t));
    s->ls = (lstate_t *) calloc((size_t) nlanes, sizeof(lstate_t));
    if (s->tiles == NULL || s->lp == NULL || s->ls == NULL) {
        ctid_dtmf_rx_free(s);
        return NULL;
    }
    memset(s->tiles, 0, sizeof(tile_t) * (size_t) s->ntiles);

    for (k = 0; k < NB; k++) {
        double w = 2.0 * CTID_PI * dtmf_freq[k] / CTID_RATE;
        s->omega[k] = (float) w;
        s->coef[k] = (float) (2.0 * cos(w));
        s->cosw[k] = (float) cos(w);
        s->sinw[k] = (float) sin(w);
        s->r51c[k] = (float) cos(w * DH);
        s->r51s[k] = (float) -sin(w * DH);
        s->rnc[k] = (float) cos(w * DN);
        s->rns[k] = (float) -sin(w * DN);
    }
    /* periodic-symmetric Hann: w[n] = w[N-1-n] */
    for (n = 0; n < DN; n++) {
        double w = 0.5 - 0.5 * cos(2.0 * CTID_PI * (n + 0.5) / DN);
        s->win[n] = (float) w;
        wsum += w;
    }
    s->pscale = (float) (2.0 / (wsum * wsum));
    s->einv = 1.0f / DN;
    acc = 0.0;
    s->fill[0] = 0.0f;
    for (n = 1; n <= DN; n++) {
        acc += s->win[DN - n];
        s->fill[n] = (float) (acc / wsum);
    }
    /* coarse baseline: distance between the window-weighted centroids of the two halves */
    {
        double c = 0.0, sw = 0.0;
        for (n = 0; n < DH; n++) {
            c += n * s->win[n];
            sw += s->win[n];
        }
        s->coarse_b = (float) ((DN - 1) - 2.0 * c / sw);
    }
    /* window power gain vs offset: |sum w[n] e^{i d n}|^2 / (sum w)^2 */
    for (i = 0; i <= GAIN_TAB + 1; i++) {
        double d = (double) GAIN_MAX * i / GAIN_TAB, re = 0.0, im = 0.0;
        for (n = 0; n < DN; n++) {
            re += s->win[n] * cos(d * n);
            im += s->win[n] * sin(d * n);
        }
        s->gain[i] = (float) ((re * re + im * im) / (wsum * wsum));
        if (s->gain[i] < 1e-6f)
            s->gain[i] = 1e-6f;
    }
    for (i = 0; i < nlanes; i++) {
        derive(s, &s->lp[i], p);
    }
    s->started = 0;
    return s;
}

int ctid_dtmf_rx_set_params(ctid_dtmf_rx_t *s, int lane, const ctid_dtmf_rx_params_t *p)
{
    int i;
    if (s == NULL || p == NULL)
        return CTID_ERR_ARG;
    if (lane < -1 || lane >= s->nlanes)
        return CTID_ERR_CHANNEL;
    if (!valid_params(p))
        return CTID_ERR_ARG;
    if (lane >= 0) {
        derive(s, &s->lp[lane], p);
        return CTID_OK;
    }
    for (i = 0; i < s->nlanes; i++)
        derive(s, &s->lp[i], p);
    return CTID_OK;
}

void ctid_dtmf_rx_reset(ctid_dtmf_rx_t *s, int lane)
{
    int i;
    if (s == NULL || lane < -1 || lane >= s->nlanes)
        return;
    if (lane >= 0) {
        lane_clear(s, lane);
        return;
    }
    for (i = 0; i < s->nlanes; i++)
        lane_clear(s, i);
}

void ctid_dtmf_rx_free(ctid_dtmf_rx_t *s)
{
    if (s == NULL)
        return;
    free(s->tiles);
    free(s->lp);
    free(s->ls);
    free(s);
}

/* ------------------------------------------------------------------------------------------ hot path */

/* Run one tile over len frames (all within one half block). x points at the tile's first lane in frame 0. */
CTID_HOT static void tile_run(tile_t *t, const float *x, int stride, int len, const float *win,
                              const float *coef)
{
    v8 a1[NB], a2[NB], e;
    int n, k;
    for (k = 0; k < NB; k++) {
        a1[k] = *(const v8 *) t->s1[k];
        a2[k] = *(const v8 *) t->s2[k];
    }
    e = *(const v8 *) t->e;
    for (n = 0; n < len; n++) {
        v8 xv = *(const v8u *) (x + (size_t) n * stride);
        v8 xw = xv * win[n];
        e += xv * xv;
        for (k = 0; k < NB; k++) {
            v8 s0 = coef[k] * a1[k] + (xw - a2[k]);
            a2[k] = a1[k];
            a1[k] = s0;
        }
    }
    for (k = 0; k < NB; k++) {
        *(v8 *) t->s1[k] = a1[k];
        *(v8 *) t->s2[k] = a2[k];
    }
    *(v8 *) t->e = e;
}

/* ------------------------------------------------------------------------------------------ decisions */

static inline float fsq(float re, float im)
{
    return re * re + im * im;
}

/* Y = s1 - e^{-iw} s2: the block's DFT at bin k, up to a constant rotation common to every block. */
static inline void ycalc(const struct ctid_dtmf_rx *s, int k, float s1, float s2, float *y)
{
    y[0] = s1 - s->cosw[k] * s2;
    y[1] = s->sinw[k] * s2;
}

/* Samples of tone at one end of a block whose window-weighted amplitude share is a (0..1). */
static float fill_samples(const struct ctid_dtmf_rx *s, float a)
{
    int lo = 0, hi = DN;
    if (!(a > 0.0f))
        return 0.0f;
    if (a >= 1.0f)
        return (float) DN;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (s->fill[mid] <= a)
            lo = mid;
        else
            hi = mid;
    }
    return (float) lo + (a - s->fill[lo]) / (s->fill[hi] - s->fill[lo]);
}

static inline float clamp01(float v)
{
    return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
}

static float to_db(float pw)
{
    return (float) ctid_power_to_dbm0(pw);
}

/* Coherent share of tone in block b (DFT yb) predicted from block a (DFT ya) one block away in
   direction dir (+1: b after a, -1: b before a), tone offsets del[] (rad/sample). */
static float coherent(const struct ctid_dtmf_rx *s, const float yb[2][2], const float ya[2][2],
                      const int bins[2], const float del[2], int dir)
{
    float proj = 0.0f;
    int t;
    for (t = 0; t < 2; t++) {
        float ph = (float) dir * (s->omega[bins[t]] + del[t]) * DN;
        float c = cosf(ph), sn = sinf(ph);
        /* predicted = ya * e^{i ph} */
        float pr = ya[t][0] * c - ya[t][1] * sn, pi = ya[t][0] * sn + ya[t][1] * c;
        proj += yb[t][0] * pr + yb[t][1] * pi;
    }
    return proj;
}

static void emit_off(ctid_evbuf_t *out, int lane, lstate_t *l, uint64_t end)
{
    if (end <= l->on_start)
        end = l->on_start + 1;
    ctid_emit(out, end, lane, CTID_EV_DTMF, CTID_EVT_OFF, l->on, (int) (end - l->on_start), 0.0f, 0.0f);
    l->on = 0;
    l->misses = 0;
    l->end_set = 0;
}

/* Block end for one lane: t is the tile, j the lane in it, blk_start the block's first sample. */
static void lane_block(struct ctid_dtmf_rx *s, tile_t *t, int j, int lane, const float *pw, float etot,
                       float ehalf, uint64_t blk_start, ctid_evbuf_t *out)
{
    const lparam_t *lp = &s->lp[lane];
    lstate_t *l = &s->ls[lane];
    int hit = 0, digit = 0, paired = 0, r = 0, c = 4, k;
    float y[2][2] = { { 0, 0 }, { 0, 0 } }, dc[2] = { 0, 0 }, del[2] = { 0, 0 };
    float prc = 0.0f, pcc = 0.0f, pow_raw = 0.0f;
    float e = etot * s->einv;

    if (l->skip) {
        l->skip = 0;
        l->prev_digit = 0;
        l->cand = l->hits = 0;
        goto decide;
    }
    if (e < lp->gate_e)
        goto decide;
    for (k = 1; k < 4; k++)
        if (pw[k] > pw[r])
            r = k;
    for (k = 5; k < 8; k++)
        if (pw[k] > pw[c])
            c = k;
    {
        float pr = pw[r], pc = pw[c];
        float ea = ehalf, eb = etot - ehalf;
        int bins[2];
        float ya[2][2];
        if (pr < lp->thr * lp->pre || pc < lp->thr * lp->pre)
            goto decide;
        if (pr + pc < lp->p.min_purity * lp->pre * e)
            goto decide;
        for (k = 0; k < 4; k++)
            if (k != r && pw[k] > DOM_ROW * pr)
                goto decide;
        for (k = 4; k < 8; k++)
            if (k != c && pw[k] > DOM_COL * pc)
                goto decide;
        /* stationarity over the block: energy of the two halves */
        if (ea < BALANCE_MIN * eb || eb < BALANCE_MIN * ea)
            goto decide;
        digit = dtmf_key[r][c - 4];
        bins[0] = r;
        bins[1] = c;
        for (k = 0; k < 2; k++) {
            int b = bins[k];
            float zr, zi, br, bi;
            ycalc(s, b, t->s1[b][j], t->s2[b][j], y[k]);
            ycalc(s, b, t->m1[b][j], t->m2[b][j], ya[k]);
            /* second half relative to the first: (e^{-iw 51} Y - Ya) conj(Ya) */
            br = s->r51c[b] * y[k][0] - s->r51s[b] * y[k][1] - ya[k][0];
            bi = s->r51c[b] * y[k][1] + s->r51s[b] * y[k][0] - ya[k][1];
            zr = br * ya[k][0] + bi * ya[k][1];
            zi = bi * ya[k][0] - br * ya[k][1];
            dc[k] = atan2f(zi, zr) / s->coarse_b;
            del[k] = dc[k];
        }
        pow_raw = fsq(y[0][0], y[0][1]) + fsq(y[1][0], y[1][1]);
        if (l->prev_digit == digit) {
            /* fine: phase advance of the whole-block DFT from the previous block, branch from coarse */
            for (k = 0; k < 2; k++) {
                int b = bins[k];
                float ar = y[k][0] * l->py[k][0] + y[k][1] * l->py[k][1];
                float ai = y[k][1] * l->py[k][0] - y[k][0] * l->py[k][1];
                float zr = ar * s->rnc[b] - ai * s->rns[b], zi = ar * s->rns[b] + ai * s->rnc[b];
                float th = atan2f(zi, zr);
                float dcm = 0.5f * (dc[k] + l->pdc[k]);
                float m = rintf((dcm * DN - th) / (float) (2.0 * CTID_PI));
                del[k] = (th + m * (float) (2.0 * CTID_PI)) / DN;
                if (fabsf(del[k]) > lp->tol * s->omega[b])
                    goto decide_nohit;
            }
            paired = 1;
        } else {
            for (k = 0; k < 2; k++)
                if (fabsf(dc[k]) > lp->tol_coarse * s->omega[bins[k]])
                    goto decide_nohit;
        }
        prc = pr / gain_at(s, del[0]);
        pcc = pc / gain_at(s, del[1]);
        if (prc < lp->thr || pcc < lp->thr)
            goto decide_nohit;
        if (prc > lp->tw_norm * pcc || pcc > lp->tw_rev * prc)
            goto decide_nohit;
        if (prc + pcc < lp->p.min_purity * e)
            goto decide_nohit;
        hit = 1;
    }
    goto decide;

decide_nohit:
    hit = 0;

decide:
    if (hit) {
        if (!(l->cand == digit && paired)) {
            /* a new run starts at this block; how much of the tone was already in the previous block */
            ycalc(s, r, t->q1[r][j], t->q2[r][j], l->yq[0]);
            ycalc(s, c, t->q1[c][j], t->q2[c][j], l->yq[1]);
            memcpy(l->yfirst, y, sizeof(y));
            l->cand = digit;
            l->hits = 0;
            l->first_start = blk_start;
            l->first_pow = pow_raw;
            l->ref_pow = 0.0f;
        }
        l->hits++;
        if (pow_raw >= l->ref_pow) {
            l->ref_pow = pow_raw;
            l->ref_pr = prc;
            l->ref_pc = pcc;
        }
        if (l->on == digit) {
            l->misses = 0;
            l->end_set = 0;
            if (pow_raw > l->on_ref)
                l->on_ref = pow_raw;
        } else if (l->hits >= lp->p.hits_to_begin) {
            /* start: the run's first block holds fill(a_first) samples at its end, the block before it
               fill(a_prev) at its end */
            /* the tone's phase advance per block from the latest (fine when paired) offsets */
            int bins[2] = { r, c };
            float ref = l->ref_pow > 0.0f ? l->ref_pow : 1.0f;
            float a_first = clamp01(sqrtf(l->first_pow / ref));
            float proj = coherent(s, (const float (*)[2]) l->yq, (const float (*)[2]) l->yfirst, bins, del, -1);
            float a_prev = clamp01(proj / sqrtf(l->first_pow * ref + 1e-30f));
            /* the tone began either in the block before the run (a_prev = share of its tail) or inside
               the run's first block (1 - a_first = share of its missing head): take the stronger cue */
            float back = a_prev >= 1.0f - a_first ? fill_samples(s, a_prev)
                                                   : -fill_samples(s, 1.0f - a_first);
            int64_t st = (int64_t) l->first_start - (int64_t) lrintf(back);
            uint64_t start = st < 0 ? 0 : (uint64_t) st;
            float lr = to_db(l->ref_pr), lc = to_db(l->ref_pc);
            if (l->on) {
                uint64_t end = l->end_set && l->end_est < start ? l->end_est : start;
                emit_off(out, lane, l, end);
            }
            l->on = digit;
            l->on_start = start;
            l->on_ref = l->ref_pow;
            l->misses = 0;
            l->end_set = 0;
            ctid_emit(out, start, lane, CTID_EV_DTMF, CTID_EVT_ON, digit, 0, 0.5f * (lr + lc), lc - lr);
        } else if (l->on) {
            goto count_miss;
        }
    } else {
        l->cand = 0;
        l->hits = 0;
        if (l->on)
            goto count_miss;
    }
    goto save_prev;

count_miss:
    if (l->misses == 0 && l->prev_digit == l->on) {
        /* first miss after a qualifying block of the digit: the tone ended in that block or in this one */
        int rr = -1, cc = -1, bins[2];
        float ym[2][2];
        for (k = 0; k < 4; k++)
            for (int q = 0; q < 4; q++)
                if (dtmf_key[k][q] == l->on) {
                    rr = k;
                    cc = q + 4;
                }
        if (rr >= 0) {
            float ref = l->on_ref > 0.0f ? l->on_ref : 1.0f;
            float a_last = clamp01(sqrtf(l->ppow / ref));
            float proj, a_miss, fwd;
            bins[0] = rr;
            bins[1] = cc;
            ycalc(s, rr, t->s1[rr][j], t->s2[rr][j], ym[0]);
            ycalc(s, cc, t->s1[cc][j], t->s2[cc][j], ym[1]);
            proj = coherent(s, (const float (*)[2]) ym, (const float (*)[2]) l->py, bins, l->pdel, 1);
            a_miss = clamp01(proj / sqrtf(l->ppow * ref + 1e-30f));
            fwd = a_miss >= 1.0f - a_last ? fill_samples(s, a_miss) : -fill_samples(s, 1.0f - a_last);
            {
                int64_t en = (int64_t) blk_start + (int64_t) lrintf(fwd);
                l->end_est = en < 0 ? 0 : (uint64_t) en;
            }
            l->end_set = 1;
        }
    } else if (l->misses == 0) {
        l->end_est = blk_start;
        l->end_set = 1;
    }
    l->misses++;
    if (l->misses >= lp->p.misses_to_end)
        emit_off(out, lane, l, l->end_set ? l->end_est : blk_start);

save_prev:
    if (hit) {
        l->prev_digit = digit;
        memcpy(l->py, y, sizeof(y));
        l->pdc[0] = dc[0];
        l->pdc[1] = dc[1];
        l->pdel[0] = del[0];
        l->pdel[1] = del[1];
        l->ppow = pow_raw;
    } else {
        l->prev_digit = 0;
    }
}

static void tile_block_end(struct ctid_dtmf_rx *s, int ti, const uint8_t *enabled, uint64_t blk_end,
                           ctid_evbuf_t *out)
{
    tile_t *t = &s->tiles[ti];
    float pw[NB][T];
    int k, j;
    const v8 zero = { 0, 0, 0, 0, 0, 0, 0, 0 };
    for (k = 0; k < NB; k++) {
        v8 a = *(const v8 *) t->s1[k], b = *(const v8 *) t->s2[k];
        *(v8 *) pw[k] = (a * a + b * b - s->coef[k] * a * b) * s->pscale;
    }
    for (j = 0; j < T; j++) {
        int lane = ti * T + j;
        lstate_t *l;
        float p8[NB];
        if (lane >= s->nlanes || (enabled != NULL && !enabled[lane]))
            continue;
        l = &s->ls[lane];
        /* idle lanes below the energy gate: nothing to do */
        if (!l->skip && !l->on && !l->hits && !l->prev_digit
            && t->e[j] * s->einv < s->lp[lane].gate_e)
            continue;
        for (k = 0; k < NB; k++)
            p8[k] = pw[k][j];
        lane_block(s, t, j, lane, p8, t->e[j], t->me[j], blk_end - DN, out);
    }
    for (k = 0; k < NB; k++) {
        *(v8 *) t->q1[k] = *(const v8 *) t->s1[k];
        *(v8 *) t->q2[k] = *(const v8 *) t->s2[k];
        *(v8 *) t->s1[k] = zero;
        *(v8 *) t->s2[k] = zero;
    }
    *(v8 *) t->e = zero;
}

static void tile_snapshot(tile_t *t)
{
    memcpy(t->m1, t->s1, sizeof(t->m1));
    memcpy(t->m2, t->s2, sizeof(t->m2));
    memcpy(t->me, t->e, sizeof(t->me));
}

void ctid_dtmf_rx_process(ctid_dtmf_rx_t *s, const float *x, int nframes, int stride,
                          const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out)
{
    int pos0, ti;
    if (s == NULL || x == NULL || out == NULL || nframes <= 0 || stride < s->ntiles * T)
        return;
    pos0 = (int) (t0 % DN);
    if (!s->started || t0 != s->next_t) {
        /* first call or a jump in time: restart the accumulators; a partial block is not evaluated */
        int i;
        for (ti = 0; ti < s->ntiles; ti++) {
            tile_t *t = &s->tiles[ti];
            memset(t->s1, 0, sizeof(t->s1));
            memset(t->s2, 0, sizeof(t->s2));
            memset(t->e, 0, sizeof(t->e));
        }
        for (i = 0; i < s->nlanes; i++) {
            s->ls[i].prev_digit = 0;
            if (pos0 != 0)
                s->ls[i].skip = 1;
        }
        s->started = 1;
    }
    s->next_t = t0 + (uint64_t) nframes;

    for (ti = 0; ti < s->ntiles; ti++) {
        tile_t *t = &s->tiles[ti];
        int any = 0, j, n = 0, pos = pos0;
        for (j = 0; j < T && ti * T + j < s->nlanes; j++)
            any |= enabled == NULL ? 1 : enabled[ti * T + j];
        if (!any)
            continue;
        while (n < nframes) {
            int end = pos < DH ? DH : DN;
            int len = end - pos < nframes - n ? end - pos : nframes - n;
            tile_run(t, x + (size_t) n * stride + (size_t) ti * T, stride, len, s->win + pos, s->coef);
            n += len;
            pos += len;
            if (pos == DH)
                tile_snapshot(t);
            else if (pos == DN) {
                tile_block_end(s, ti, enabled, t0 + (uint64_t) n, out);
                pos = 0;
            }
        }
    }
}

