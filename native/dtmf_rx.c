/*
 * DTMF receiver, multi-lane (all channels of a span in one call).
 *
 * Hot path
 *  - Blocks of N = 102 samples (12.75 ms) aligned on the global sample count. Per block and lane: a
 *    Hann-windowed Goertzel on the 8 DTMF frequencies and the unwindowed energy of each quarter block,
 *    vectorised across the CTID_TILE lanes of a tile (states in registers for a whole block span; AVX2:
 *    two passes of four bins, AVX-512VL: one pass). At the half block the Goertzel states are stored.
 *    The Hann window keeps the other group's tone below -41 dB in a bin (a rectangular 102-sample block
 *    leaks -21 dB between 941 and 1209 Hz, which at 8 dB twist moves the measured twist by +-2 dB).
 *    The rows pass also keeps the block's samples (one store per sample and tile) for the
 *    second-harmonic check below.
 *  - At the block end the 8 bin powers and a prefilter (both groups' best bins above the threshold, enough
 *    of the energy in them) are computed for the whole tile; only lanes passing it, or with a digit in
 *    progress, go on to the scalar decision.
 *
 * Decision, per lane and block
 *  - best row and column; each must dominate its group (a coarse screen); stationarity: no quarter block
 *    much weaker than another (rejects blocks only partly filled by a tone);
 *  - frequency: a fine estimate of each tone's offset from the phase advance of its whole-block DFT since
 *    the previous block (baseline 102 samples, ambiguous every 78.4 Hz), the branch picked by the offsets
 *    already known for the run or, for a run's first pair, by a coarse estimate from the phase advance
 *    between the two half blocks (baseline 30.3 samples) after subtracting the other tone's leakage (and
 *    the negative-frequency images) from the sharply cut halves. Q.24: operate within +-1.5 %, not beyond
 *    +-3.5 %; the default limit is 2.0 % (1.5 % + 2 Hz at 697 Hz is 1.79 %, and a margin for noise).
 *  - tone powers corrected for the window's attenuation at that offset: level >= threshold, twist within
 *    the limits (Q.24: 8 dB normal, 4 dB reverse).
 *  - talk-off (speech and music must not pass; a digit in progress is only continued on the checks above
 *    plus the plain purity): the block is modelled as the two stationary tones, whose complex amplitudes
 *    come from their bins' DFTs and fine offsets.
 *      purity: the model's energy over the block, beats included (computed exactly, so the +-5 % that the
 *        beat between the tones puts on a block's energy is no longer noise), >= min_purity of the
 *        measured energy;
 *      excess: each of the other six bins, less both tones' leakage into it, at most -9 dB of its group's
 *        tone (a harmonic or formant of speech next to another DTMF frequency; noise at 6 dB S/N per tone
 *        puts -21 dB there on average);
 *      whiteness: a residual (energy outside the tones) above 10 % of the tones must show in the other
 *        bins as white noise would, at least 3 % of it (other notes of music elsewhere in the band);
 *      second harmonics, on a block that may begin the digit: the windowed DFT of the block's samples at
 *        twice each tone's frequency, less the tones' leakage there, at most -9 dB of the tone (voiced
 *        speech and musical notes have them, a DTMF sender's are far lower (Q.23); not applied near full
 *        scale, where clipping is expected);
 *      drift: the fine offsets of consecutive pairs of a run within 8 Hz of each other (glides, sweeps);
 *        a pair that drifts does not extend the run but may start a new one.
 *  - a digit begins after hits_to_begin consecutive qualifying blocks (each pair passing the fine check)
 *    holding at least 30 ms of tone (MIN_ON), if all of them are clean; otherwise after one block more
 *    (a second fine pair, so the drift is checked once). Clean: excess <= -15 dB, purity >= 0.8, and from
 *    block to block the level and the coarse frequency as steady as the noise (measured in the other bins)
 *    allows: within 1.5 dB and 4 Hz plus 5 standard deviations of the noise's effect. A run right after a
 *    block of the same digit whose tones were out of tolerance, or after a drifting pair, is not clean.
 *    A 40 ms tone always gives two clean blocks unless it is noisy (about 10 dB S/N and worse), a 50 ms
 *    tone nearly always three blocks.
 *    On the talk-off corpus of bench/talkoff.py (34 min of espeak-ng speech, 3 min of music) this gives
 *    0 false digits on speech and 1 on music (two sustained pure notes, 0.9 % below 941 Hz and 1.7 %
 *    above 1633 Hz: a 'D' that spandsp takes too), against 6 and 17 before; spandsp 0.0.6 gives 0 and 6.
 *    DTMF in white noise at 6 dB S/N per tone is still detected (100 000 digits, none lost).
 *  - a run complete but holding less than MIN_ON of tone (its start estimate to its last block's end) waits:
 *    at each quarter end of the next block (26, 51, 77 samples; the kernel stops there only in tiles with such
 *    a lane) the coherent share of both tones in the block's head so far gives how long the tone has lasted,
 *    and the digit begins as soon as that reaches MIN_ON; else the block end decides as before.
 *    Confirmation latency (tone start to the sample whose call emits ON), clean tones at every alignment:
 *    236..292 samples, mean 258 (29.5..36.5 ms); it was 236..346 (mean 290) when the wait always ran to the
 *    next block's end. The rest is the two whole blocks: a tone starting 37..85 samples before a block
 *    boundary (whose partial block has an empty first quarter and does not qualify) is confirmed at the end
 *    of the second whole block, 204 + 37..85 samples after its start.
 *  - ends after misses_to_end failing blocks.
 *  - start and end times from the quarter-block energies around the edge (to a few samples); when those
 *    do not show a clean edge over a quiet floor (the next digit follows at once), from the window-weighted
 *    share of the tone in the partial block next to the run, measured coherently.
 */
#include "internal.h"

/* the one-pass AVX-512VL kernel (tile_run_all) is built where the AVX2 clones are */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(CTID_NO_CLONES)
#define DTMF_HAVE_K8 1
#endif

#define DN 102                 /* block length */
#define DH 51                  /* snapshot point (half block) */
#define NB 8                   /* bins */
#define T CTID_TILE
#define GAIN_TAB 1024          /* window gain table over |delta| in [0, GAIN_MAX] rad/sample */
#define GAIN_MAX 0.25f

/* Stationarity: the mean energy of each quarter block (26, 25, 26, 25 samples) must be at least QBAL_MIN
   of the largest. A block only partly filled by a tone has a quarter (nearly) without it; both blocks of
   a tone of 144 samples (18 ms) or less hold at most 72 samples in one of them, i.e. an empty quarter,
   so they cannot both qualify. Simulated full blocks (random digits and phases, twist 8/-4 dB, white
   noise): min/max quarter ratio below 0.3 in < 0.1 % of blocks at 3 dB S/N per tone; blocks filled 78 %
   stay below 0.33 without noise. */
#define QBAL_MIN 0.3f          /* -5.2 dB */
/* Dominance (a coarse screen; the leakage-corrected excess in spectral_ok() is the exact test): every
   other bin of a group must stay below the best one by the margin a tone DOM_TOL_MARGIN beyond the
   frequency tolerance would still leave, less DOM_SLACK_DB (computed per lane in derive(); with the Hann
   window a row tone 2.5 % off towards its neighbour is only 2.4 dB above it, a column tone 7.9 dB). The
   extra margin keeps a tone near the tolerance in noise from failing the screen. */
#define DOM_SLACK_DB 1.0
#define DOM_TOL_MARGIN 0.005
/* Minimum tone duration when hits_to_begin >= 2: 30 ms, between Q.24's (AT&T column) non-operate
   duration 23 ms and operate duration 40 ms (ETSI ES 201 235-3: < 20 ms shall not, > 40 ms shall).
   Two qualifying blocks need >= ~20 ms of tone; when they hold less than MIN_ON the digit is confirmed
   only once the tone's measured duration (start and end estimates) reaches it. */
#define MIN_ON 240
/* Allowance over the twist limits (see derive()). */
#define TWIST_MARGIN_DB 1.0f

/* Talk-off checks (speech and music must not pass for DTMF; see the header comment). Calibrated on DTMF in
   white noise at 6 dB S/N per tone (where a tone's noise in another bin or at its second harmonic averages
   -21 dB, and the fine offsets of consecutive pairs differ by 1.5 Hz rms), where none of the hard checks
   failed a full block in 100 000 digits, and on the talk-off corpus (bench/talkoff.py) and other espeak-ng
   voices and music, whose false digits each fail at least one. */
#define EXCESS_MAX 0.126f      /* -9 dB: another bin's energy beyond the tones' leakage, vs its group's tone */
#define RES_SIG 0.1f           /* residual (energy outside the tones) significant above 10 % of the tones ... */
#define WHITE_MIN 0.03f        /* ... then the other bins must hold >= 3 % of the share white noise would */
#define H2_MAX 0.126f          /* -9 dB: second harmonic of a tone, vs the tone (Q.23 senders: < -20 dB) */
#define CLIP_SUM 29000.0f      /* tones' peak sum near full scale: clipping products expected, no H2 check */
#define DRIFT_MAX_HZ 8.0       /* change of the fine offsets between consecutive block pairs */
/* A run may begin a digit after hits_to_begin blocks only if all its blocks are clean; else it needs one
   more (a second fine pair, whose drift is checked). */
#define CLEAN_EXCESS 0.0316f   /* -15 dB */
#define CLEAN_PURITY 0.8f
#define CLEAN_Z 5.0f           /* standard deviations of the noise's effect allowed in the two below */
#define CLEAN_LVL 1.413f       /* level change of a tone between the blocks: 1.5 dB, times 1 + CLEAN_Z sd */
#define CLEAN_DCD_HZ 4.0f      /* change of the coarse (half-block) offsets between the blocks: 4 Hz (+) sd */

static const int quarter_end[4] = { 26, DH, 77, DN };
static const double dtmf_freq[NB] = { 697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0 };
static const char dtmf_key[4][4] = {
    { '1', '2', '3', 'A' }, { '4', '5', '6', 'B' }, { '7', '8', '9', 'C' }, { '*', '0', '#', 'D' }
};

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32)));

typedef struct {
    float re, im;
} cpx;

#define WA_TAB 4096            /* table of the first-half window transform over [-pi, pi] */

/* Per tile, [bin][lane]: Goertzel states and quarter energies of this block and of the previous one
   (start-time estimate), the half-block snapshot, and per-lane prefilter constants. */
typedef struct {
    float s1[NB][T], s2[NB][T];
    float eq[4][T];            /* unwindowed energy per quarter block */
} __attribute__((aligned(32))) gstate_t;

typedef struct {
    gstate_t g[2];             /* Goertzel states and energies: this block's (g[cur]) and the previous */
    float m1[NB][T], m2[NB][T];/* this block's states at the half block */
    float xr[DN][T];           /* this block's samples (second-harmonic check at the block end) */
    float pthr[T];             /* per lane: raw tone power prefilter (thr * pre) */
    float ppur[T];             /* per lane: raw purity prefilter factor (min_purity * pre / N) */
    uint8_t busy[T];           /* per lane: state to update even without a candidate (see lane_busy) */
    unsigned pendm;            /* bit j: lane j holds a digit waiting for its duration (checkpoints) */
    int cur;
} __attribute__((aligned(64))) tile_t;

#define CUR(t) (&(t)->g[(t)->cur])
#define PRV(t) (&(t)->g[(t)->cur ^ 1])

typedef struct {
    ctid_dtmf_rx_params_t p;
    float thr;                 /* tone power threshold */
    float gate_e;              /* minimum block energy to look further */
    float pre;                 /* raw-power prefilter factor (max window attenuation within tolerance) */
    float tw_norm, tw_rev;     /* power ratios */
    float tol, tol_coarse;     /* fractions of the nominal frequency */
    float dom_row, dom_col;    /* max power of another bin of the group relative to the best */
} lparam_t;

typedef struct {
    int skip;                  /* ignore the next block end (states restarted mid-block) */
    /* previous block, if it qualified */
    int prev_digit;
    int pfine;                 /* its offsets came from the fine (paired) estimate */
    float py[2][2];            /* its DFTs (re, im) for the row and column bin */
    float pdc[2];              /* its coarse offsets, rad/sample */
    float pdel[2];             /* its best offsets */
    float pp[2];               /* |Y_row|^2, |Y_col|^2 */
    /* run of qualifying blocks (candidate) */
    int cand, hits;
    uint64_t first_start;      /* first sample of the run's first block */
    int64_t estart;            /* start from the quarter energies (-1: not usable) */
    float fp[2];               /* its |Y|^2 per tone */
    float yfirst[2][2], yq[2][2]; /* its DFTs and the preceding block's (row, column) */
    float ref_pow, rp[2];      /* strongest block of the run: |Y_row|^2 + |Y_col|^2, and per tone */
    float ref_pr, ref_pc;      /* its corrected tone powers (level, twist) */
    int unclean;               /* a block of the run was not clean: one more block is needed */
    int drifted;               /* the last block's digit if its fine offsets were out of tolerance */
    float pnz;                 /* the previous block's noise estimate */
    /* digit waiting for its duration (MIN_ON) to be confirmed */
    int pend;
    uint64_t pend_start;
    float pend_level, pend_twist, pend_rp[2];
    /* digit in progress */
    int on, misses, end_set;
    uint64_t on_start, end_est;
    uint64_t last_off;         /* time of the last OFF event (a following digit starts no earlier) */
    float on_ref, on_rp[2];    /* strongest block of the digit: power, and per tone */
} lstate_t;

struct ctid_dtmf_rx {
    int nlanes, ntiles;
    tile_t *tiles;
    lparam_t *lp;
    lstate_t *ls;
    uint64_t next_t;
    int started;
    int k8;                    /* use the one-pass AVX-512VL kernel */
    /* constants */
    float coef[NB], cosw[NB], sinw[NB], omega[NB];
    cpx rot50[NB], rot101[NB]; /* e^{-i w 50}, e^{-i w 101}: Goertzel outputs -> DFTs from sample 0 */
    cpx wa[WA_TAB + 1];        /* first-half window transform Wa(theta), theta in [-pi, pi] */
    cpx wq[2][WA_TAB + 1];     /* the same for the first and the first three quarters (26, 77 samples) */
    cpx backq[3][NB];          /* e^{-i w (p - 1)} at the checkpoints p = 26, 51, 77 */
    cpx wf[WA_TAB + 1];        /* whole-window transform W(theta) */
    cpx dk[WA_TAB + 1];        /* rectangular (unwindowed) block mean: (1/N) sum e^{i theta n} */
    float wnoise;              /* bin power (pscale units) of white noise of unit variance per sample */
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
    p->threshold_dbm0 = -40.0f;     /* per tone; with full scale at +3 dBm0 a dynamic range >= 35 dB needs <= -32 */
    p->twist_normal_db = 8.0f;      /* Q.24 (AT&T column): 8 dB normal */
    p->twist_reverse_db = 4.0f;     /* Q.24: 4 dB reverse */
    p->freq_tolerance_pct = 2.0f;   /* Q.24: operate within 1.5 %, not beyond 3.5 % */
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

static void derive(struct ctid_dtmf_rx *s, int lane, const ctid_dtmf_rx_params_t *p)
{
    lparam_t *l = &s->lp[lane];
    tile_t *t = &s->tiles[lane / T];
    float gmin;
    l->p = *p;
    l->thr = (float) ctid_dbm0_to_power(p->threshold_dbm0);
    /* the twist limits are what must be accepted (Q.24: 8 / 4 dB); TWIST_MARGIN_DB more is allowed for
       the measurement's error under noise, so a tone at the limit is accepted reliably */
    l->tw_norm = powf(10.0f, (p->twist_normal_db + TWIST_MARGIN_DB) / 10.0f);
    l->tw_rev = powf(10.0f, (p->twist_reverse_db + TWIST_MARGIN_DB) / 10.0f);
    l->tol = p->freq_tolerance_pct / 100.0f;
    l->tol_coarse = l->tol + 0.015f;
    /* dominance: worst neighbour/own power ratio of a tone at the tolerance, moved towards a neighbour */
    {
        int g, k;
        for (g = 0; g < 2; g++) {
            double worst = 0.0;
            for (k = 4 * g; k < 4 * g + 4; k++) {
                int nb;
                for (nb = k - 1; nb <= k + 1; nb += 2) {
                    double f, own, other;
                    if (nb < 4 * g || nb >= 4 * g + 4)
                        continue;
                    f = dtmf_freq[k] * (1.0 + (nb > k ? 1.0 : -1.0) * (l->tol + DOM_TOL_MARGIN));
                    own = gain_at(s, (float) (2.0 * CTID_PI * (f - dtmf_freq[k]) / CTID_RATE));
                    other = gain_at(s, (float) (2.0 * CTID_PI * (f - dtmf_freq[nb]) / CTID_RATE));
                    if (other / own > worst)
                        worst = other / own;
                }
            }
            worst *= pow(10.0, DOM_SLACK_DB / 10.0);
            if (worst > 1.0)
                worst = 1.0;
            if (g == 0)
                l->dom_row = (float) worst;
            else
                l->dom_col = (float) worst;
        }
    }
    /* largest window attenuation a tone accepted by the coarse check can have: at the top bin */
    gmin = gain_at(s, l->tol_coarse * s->omega[NB - 1]);
    l->pre = gmin * 0.9f;
    /* a bin's power is at most 2x the block's mean square; both tones must reach pre * thr */
    l->gate_e = l->thr * l->pre * 0.5f;
    t->pthr[lane % T] = l->thr * l->pre;
    t->ppur[lane % T] = p->min_purity * l->pre * s->einv;
}

static void lane_clear(struct ctid_dtmf_rx *s, int lane)
{
    tile_t *t = &s->tiles[lane / T];
    int j = lane % T, k;
    for (k = 0; k < NB; k++) {
        t->g[0].s1[k][j] = t->g[0].s2[k][j] = t->g[1].s1[k][j] = t->g[1].s2[k][j] = 0.0f;
        t->m1[k][j] = t->m2[k][j] = 0.0f;
    }
    for (k = 0; k < 4; k++)
        t->g[0].eq[k][j] = t->g[1].eq[k][j] = 0.0f;
    memset(&s->ls[lane], 0, sizeof(lstate_t));
    /* restarted mid-block: that block is partial for this lane and is not evaluated */
    s->ls[lane].skip = s->started && s->next_t % DN != 0;
    t->busy[j] = (uint8_t) s->ls[lane].skip;
    t->pendm &= ~(1u << j);
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
    for (i = 0; i < s->ntiles * T; i++)
        s->tiles[i / T].pthr[i % T] = 3.0e38f;   /* padding lanes never qualify */

    for (k = 0; k < NB; k++) {
        double w = 2.0 * CTID_PI * dtmf_freq[k] / CTID_RATE;
        s->omega[k] = (float) w;
        s->coef[k] = (float) (2.0 * cos(w));
        s->cosw[k] = (float) cos(w);
        s->sinw[k] = (float) sin(w);
        s->rot50[k].re = (float) cos(w * (DH - 1));
        s->rot50[k].im = (float) -sin(w * (DH - 1));
        s->rot101[k].re = (float) cos(w * (DN - 1));
        s->rot101[k].im = (float) -sin(w * (DN - 1));
        s->rnc[k] = (float) cos(w * DN);
        s->rns[k] = (float) -sin(w * DN);
        for (n = 0; n < 3; n++) {
            s->backq[n][k].re = (float) cos(w * (quarter_end[n] - 1));
            s->backq[n][k].im = (float) -sin(w * (quarter_end[n] - 1));
        }
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
    /* Wa(theta) = sum_{n<51} w[n] e^{i theta n}, and the whole window's W(theta) (rotating phasor) */
    for (i = 0; i <= WA_TAB; i++) {
        double th = -CTID_PI + 2.0 * CTID_PI * i / WA_TAB, re = 0.0, im = 0.0;
        double cr = cos(th), ci = sin(th), pr = 1.0, pi = 0.0, tmp;
        for (n = 0; n < DN; n++) {
            re += s->win[n] * pr;
            im += s->win[n] * pi;
            tmp = pr * cr - pi * ci;
            pi = pr * ci + pi * cr;
            pr = tmp;
            if (n == DH - 1) {
                s->wa[i].re = (float) re;
                s->wa[i].im = (float) im;
            }
            if (n == 25 || n == 76) {
                s->wq[n == 76][i].re = (float) re;
                s->wq[n == 76][i].im = (float) im;
            }
        }
        s->wf[i].re = (float) re;
        s->wf[i].im = (float) im;
        re = im = 0.0;
        pr = 1.0;
        pi = 0.0;
        for (n = 0; n < DN; n++) {
            re += pr;
            im += pi;
            tmp = pr * cr - pi * ci;
            pi = pr * ci + pi * cr;
            pr = tmp;
        }
        s->dk[i].re = (float) (re / DN);
        s->dk[i].im = (float) (im / DN);
    }
    {
        double w2 = 0.0;
        for (n = 0; n < DN; n++)
            w2 += (double) s->win[n] * s->win[n];
        s->wnoise = (float) (2.0 * w2 / (wsum * wsum));
    }
    /* window power gain vs offset: |sum w[n] e^{i d n}|^2 / (sum w)^2 */
    for (i = 0; i <= GAIN_TAB + 1; i++) {
        double d = (double) GAIN_MAX * i / GAIN_TAB, re = 0.0, im = 0.0;
        double cr = cos(d), ci = sin(d), pr = 1.0, pi = 0.0, tmp;
        for (n = 0; n < DN; n++) {
            re += s->win[n] * pr;
            im += s->win[n] * pi;
            tmp = pr * cr - pi * ci;
            pi = pr * ci + pi * cr;
            pr = tmp;
        }
        s->gain[i] = (float) ((re * re + im * im) / (wsum * wsum));
        if (s->gain[i] < 1e-6f)
            s->gain[i] = 1e-6f;
    }
    for (i = 0; i < nlanes; i++) {
        derive(s, i, p);
    }
    s->started = 0;
#ifdef DTMF_HAVE_K8
    __builtin_cpu_init();
    s->k8 = __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512f")
            && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && getenv("CTID_NO_AVX512") == NULL;
#endif
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
        derive(s, lane, p);
        return CTID_OK;
    }
    for (i = 0; i < s->nlanes; i++)
        derive(s, i, p);
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

/* The Goertzel kernels. One call runs one tile over frames [pos, pos + len) of the current block
   (pos + len <= N); x points at the tile's first lane in frame pos. The states stay in registers for the
   whole call; the unwindowed energy goes to the accumulator of each quarter block, and at the half block
   the states are stored as the snapshot. The loop is unrolled by two so the state pairs swap roles
   instead of being copied. AVX2 has 16 vector registers: two passes of four bins (rows with the energy,
   then columns), each holding 8 states, the sample and the windowed sample. With AVX-512VL (32 registers)
   one pass holds all 16 states and the 8 coefficients. */
#define LOADV(p) (*(const v8u *) (p))
#define VLD(p) (*(const v8 *) (p))
#define VST(p, v) (*(v8 *) (p) = (v))
#define GSTEP(a, b, c, w) b = (c) * (a) + ((w) - (b))

static const int quarter_start[4] = { 0, 26, DH, 77 };
#define VLDF(p) (fresh ? zero8 : VLD(p))   /* a block's first frame starts the states from zero */

static inline int quarter_of(int p)
{
    return p < 26 ? 0 : p < DH ? 1 : p < 77 ? 2 : 3;
}

#define SWAP(a, b) do { v8 tmp_ = a; a = b; b = tmp_; } while (0)

/* four bins starting at bin O (0: rows, 4: columns); E: also accumulate the energy */
#define KERNEL4(NAME, O, E)                                                                              \
CTID_HOT static void NAME(tile_t *t, const float *x, size_t stride, int pos, int len, const float *win,   \
                          const float *coef)                                                             \
{                                                                                                        \
    gstate_t *g = CUR(t);                                                                                \
    const int fresh = pos == 0;                                                                          \
    const v8 zero8 = { 0, 0, 0, 0, 0, 0, 0, 0 };                                                         \
    v8 a0 = VLDF(g->s1[O]), b0 = VLDF(g->s2[O]), a1 = VLDF(g->s1[O + 1]), b1 = VLDF(g->s2[O + 1]);           \
    v8 a2 = VLDF(g->s1[O + 2]), b2 = VLDF(g->s2[O + 2]), a3 = VLDF(g->s1[O + 3]), b3 = VLDF(g->s2[O + 3]);   \
    const float c0 = coef[O], c1 = coef[O + 1], c2 = coef[O + 2], c3 = coef[O + 3];                      \
    int n = 0;                                                                                           \
    while (n < len) {                                                                                    \
        int p = pos + n, q = quarter_of(p), seg = quarter_end[q] - p, i = 0;                             \
        v8 e = p == quarter_start[q] ? zero8 : VLD(g->eq[q]);                                                                            \
        if (seg > len - n)                                                                               \
            seg = len - n;                                                                               \
        for (; i + 1 < seg; i += 2) {                                                                    \
            v8 x0 = LOADV(x + (size_t) (n + i) * stride), w0 = x0 * win[p + i], x1, w1;                  \
            if (E) {                                                                                     \
                e += x0 * x0;                                                                            \
                VST(t->xr[p + i], x0);                                                                   \
            }                                                                                            \
            GSTEP(a0, b0, c0, w0); GSTEP(a1, b1, c1, w0); GSTEP(a2, b2, c2, w0); GSTEP(a3, b3, c3, w0);  \
            x1 = LOADV(x + (size_t) (n + i + 1) * stride);                                               \
            w1 = x1 * win[p + i + 1];                                                                    \
            if (E) {                                                                                     \
                e += x1 * x1;                                                                            \
                VST(t->xr[p + i + 1], x1);                                                               \
            }                                                                                            \
            GSTEP(b0, a0, c0, w1); GSTEP(b1, a1, c1, w1); GSTEP(b2, a2, c2, w1); GSTEP(b3, a3, c3, w1);  \
        }                                                                                                \
        if (i < seg) {                                                                                   \
            v8 x0 = LOADV(x + (size_t) (n + i) * stride), w0 = x0 * win[p + i];                          \
            if (E) {                                                                                     \
                e += x0 * x0;                                                                            \
                VST(t->xr[p + i], x0);                                                                   \
            }                                                                                            \
            GSTEP(a0, b0, c0, w0); GSTEP(a1, b1, c1, w0); GSTEP(a2, b2, c2, w0); GSTEP(a3, b3, c3, w0);  \
            SWAP(a0, b0); SWAP(a1, b1); SWAP(a2, b2); SWAP(a3, b3);                                      \
        }                                                                                                \
        if (E)                                                                                           \
            VST(g->eq[q], e);                                                                            \
        n += seg;                                                                                        \
        if (pos + n == DH) {                                                                             \
            VST(t->m1[O], a0); VST(t->m2[O], b0); VST(t->m1[O + 1], a1); VST(t->m2[O + 1], b1);          \
            VST(t->m1[O + 2], a2); VST(t->m2[O + 2], b2); VST(t->m1[O + 3], a3); VST(t->m2[O + 3], b3);  \
        }                                                                                                \
    }                                                                                                    \
    VST(g->s1[O], a0); VST(g->s2[O], b0); VST(g->s1[O + 1], a1); VST(g->s2[O + 1], b1);                  \
    VST(g->s1[O + 2], a2); VST(g->s2[O + 2], b2); VST(g->s1[O + 3], a3); VST(g->s2[O + 3], b3);          \
}

KERNEL4(tile_run_rows, 0, 1)
KERNEL4(tile_run_cols, 4, 0)

#ifdef DTMF_HAVE_K8
/* all eight bins in one pass: AVX-512VL gives the 32 registers this needs (the vectors stay 256-bit) */
__attribute__((target("arch=x86-64-v4"))) static void tile_run_all(tile_t *t, const float *x, size_t stride,
                                                                   int pos, int len, const float *win,
                                                                   const float *coef)
{
    gstate_t *g = CUR(t);
    const int fresh = pos == 0;
    const v8 zero8 = { 0, 0, 0, 0, 0, 0, 0, 0 };
    v8 a0 = VLDF(g->s1[0]), b0 = VLDF(g->s2[0]), a1 = VLDF(g->s1[1]), b1 = VLDF(g->s2[1]);
    v8 a2 = VLDF(g->s1[2]), b2 = VLDF(g->s2[2]), a3 = VLDF(g->s1[3]), b3 = VLDF(g->s2[3]);
    v8 a4 = VLDF(g->s1[4]), b4 = VLDF(g->s2[4]), a5 = VLDF(g->s1[5]), b5 = VLDF(g->s2[5]);
    v8 a6 = VLDF(g->s1[6]), b6 = VLDF(g->s2[6]), a7 = VLDF(g->s1[7]), b7 = VLDF(g->s2[7]);
    const float c0 = coef[0], c1 = coef[1], c2 = coef[2], c3 = coef[3];
    const float c4 = coef[4], c5 = coef[5], c6 = coef[6], c7 = coef[7];
    int n = 0, k;
    while (n < len) {
        int p = pos + n, q = quarter_of(p), seg = quarter_end[q] - p, i = 0;
        v8 e = p == quarter_start[q] ? zero8 : VLD(g->eq[q]);
        if (seg > len - n)
            seg = len - n;
        for (; i + 1 < seg; i += 2) {
            v8 x0 = LOADV(x + (size_t) (n + i) * stride), x1 = LOADV(x + (size_t) (n + i + 1) * stride);
            v8 w0 = x0 * win[p + i], w1 = x1 * win[p + i + 1];
            e += x0 * x0 + x1 * x1;
            VST(t->xr[p + i], x0);
            VST(t->xr[p + i + 1], x1);
            GSTEP(a0, b0, c0, w0); GSTEP(a1, b1, c1, w0); GSTEP(a2, b2, c2, w0); GSTEP(a3, b3, c3, w0);
            GSTEP(a4, b4, c4, w0); GSTEP(a5, b5, c5, w0); GSTEP(a6, b6, c6, w0); GSTEP(a7, b7, c7, w0);
            GSTEP(b0, a0, c0, w1); GSTEP(b1, a1, c1, w1); GSTEP(b2, a2, c2, w1); GSTEP(b3, a3, c3, w1);
            GSTEP(b4, a4, c4, w1); GSTEP(b5, a5, c5, w1); GSTEP(b6, a6, c6, w1); GSTEP(b7, a7, c7, w1);
        }
        if (i < seg) {
            v8 x0 = LOADV(x + (size_t) (n + i) * stride), w0 = x0 * win[p + i];
            e += x0 * x0;
            VST(t->xr[p + i], x0);
            GSTEP(a0, b0, c0, w0); GSTEP(a1, b1, c1, w0); GSTEP(a2, b2, c2, w0); GSTEP(a3, b3, c3, w0);
            GSTEP(a4, b4, c4, w0); GSTEP(a5, b5, c5, w0); GSTEP(a6, b6, c6, w0); GSTEP(a7, b7, c7, w0);
            SWAP(a0, b0); SWAP(a1, b1); SWAP(a2, b2); SWAP(a3, b3);
            SWAP(a4, b4); SWAP(a5, b5); SWAP(a6, b6); SWAP(a7, b7);
        }
        VST(g->eq[q], e);
        n += seg;
        if (pos + n == DH) {
            VST(t->m1[0], a0); VST(t->m2[0], b0); VST(t->m1[1], a1); VST(t->m2[1], b1);
            VST(t->m1[2], a2); VST(t->m2[2], b2); VST(t->m1[3], a3); VST(t->m2[3], b3);
            VST(t->m1[4], a4); VST(t->m2[4], b4); VST(t->m1[5], a5); VST(t->m2[5], b5);
            VST(t->m1[6], a6); VST(t->m2[6], b6); VST(t->m1[7], a7); VST(t->m2[7], b7);
        }
    }
    VST(g->s1[0], a0); VST(g->s2[0], b0); VST(g->s1[1], a1); VST(g->s2[1], b1);
    VST(g->s1[2], a2); VST(g->s2[2], b2); VST(g->s1[3], a3); VST(g->s2[3], b3);
    VST(g->s1[4], a4); VST(g->s2[4], b4); VST(g->s1[5], a5); VST(g->s2[5], b5);
    VST(g->s1[6], a6); VST(g->s2[6], b6); VST(g->s1[7], a7); VST(g->s2[7], b7);
    (void) k;
}
#endif

/* ------------------------------------------------------------------------------------------ decisions */

/* atan2 to within 2e-4 rad (minimax polynomial on [0, 1] plus octant folding); plenty for phase
   differences judged against tolerances of 0.1 rad and more. */
static inline float fast_atan2f(float y, float x)
{
    float ax = fabsf(x), ay = fabsf(y);
    float mx = ax > ay ? ax : ay, mn = ax > ay ? ay : ax;
    float a, q, r;
    if (!(mx > 0.0f))
        return 0.0f;
    a = mn / mx;
    q = a * a;
    r = ((-0.0464964749f * q + 0.15931422f) * q - 0.327622764f) * q * a + a;
    if (ay > ax)
        r = 1.57079637f - r;
    if (x < 0.0f)
        r = 3.14159274f - r;
    return y < 0.0f ? -r : r;
}

/* round to nearest (half away from zero), inline on every target; |v| is small here */
static inline int round_int(float v)
{
    return (int) (v >= 0.0f ? v + 0.5f : v - 0.5f);
}

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

/* Per tone: the component of block b's DFT yb along the tone as predicted from block a's DFT ya one
   block away (dir +1: b after a, -1: b before), in amplitude units: |yb| cos(phase error). del[] are the
   tone offsets (rad/sample). Noise averages out of it instead of adding a bias as |yb| would. */
static void coherent(const struct ctid_dtmf_rx *s, const float yb[2][2], const float ya[2][2],
                     const int bins[2], const float del[2], int dir, float c[2])
{
    int t;
    for (t = 0; t < 2; t++) {
        float ph = (float) dir * (s->omega[bins[t]] + del[t]) * DN;
        float cs = cosf(ph), sn = sinf(ph);
        float pr = ya[t][0] * cs - ya[t][1] * sn, pi = ya[t][0] * sn + ya[t][1] * cs;
        float m = sqrtf(pr * pr + pi * pi);
        c[t] = m > 0.0f ? (yb[t][0] * pr + yb[t][1] * pi) / m : 0.0f;
    }
}

/* share (0..1) of a block's amplitude against a whole block's, per tone; the digit's is the smaller */
static float min_share(const float num[2], const float ref[2])
{
    float a0 = ref[0] > 0.0f ? clamp01(num[0] / sqrtf(ref[0])) : 0.0f;
    float a1 = ref[1] > 0.0f ? clamp01(num[1] / sqrtf(ref[1])) : 0.0f;
    return a0 < a1 ? a0 : a1;
}

static void emit_off(ctid_evbuf_t *out, int lane, lstate_t *l, uint64_t end)
{
    if (end <= l->on_start)
        end = l->on_start + 1;
    ctid_emit(out, end, lane, CTID_EV_DTMF, CTID_EVT_OFF, l->on, (int) (end - l->on_start), 0.0f, 0.0f);
    l->last_off = end;
    l->on = 0;
    l->misses = 0;
    l->end_set = 0;
}

static void digit_bins(int digit, int bins[2])
{
    int r, c;
    bins[0] = 0;
    bins[1] = 4;
    for (r = 0; r < 4; r++)
        for (c = 0; c < 4; c++)
            if (dtmf_key[r][c] == digit) {
                bins[0] = r;
                bins[1] = c + 4;
            }
}

/* Tone edges from the unwindowed quarter-block energies of the previous and the current block (the Hann
   window hides samples near block edges from the DFTs; energy sees every sample alike). e[0..7] are the
   mean energies per sample of the eight quarters in time order. The tone level comes from quarters known
   to be full, the floor from one known to be empty; the edge lies in the first (rising) / last (falling)
   quarter reaching the midpoint, and the partial quarters' levels place it inside (a beat between the two
   tones moves a quarter's energy by at most +-19 %, i.e. +-5 samples). Returns -1 when the quarters do
   not look like a tone edge over a quiet floor (e.g. the next digit without a pause). */
static const int qlen[8] = { 26, 25, 26, 25, 26, 25, 26, 25 };
static const int qend[8] = { 26, 51, 77, 102, 128, 153, 179, 204 };

static void quarters(const tile_t *t, int j, float e[8])
{
    int k;
    for (k = 0; k < 4; k++) {
        e[k] = PRV(t)->eq[k][j] / (float) qlen[k];
        e[k + 4] = CUR(t)->eq[k][j] / (float) qlen[k];
    }
}

static int rise_edge(const float e[8])
{
    float hi = 0.5f * (e[6] + e[7]), lo = e[0], mid, f0, f1;
    int i;
    if (!(hi > 0.0f) || lo > 0.3f * hi)
        return -1;
    mid = 0.5f * (lo + hi);
    for (i = 1; i < 8 && e[i] < mid; i++)
        ;
    if (i >= 8)
        return -1;
    f1 = clamp01((e[i] - lo) / (hi - lo));
    f0 = clamp01((e[i - 1] - lo) / (hi - lo));
    return (int) round_int((float) qend[i] - f1 * (float) qlen[i] - f0 * (float) qlen[i - 1]);
}

static int fall_edge(const float e[8])
{
    float hi = 0.5f * (e[0] + e[1]), lo = e[7], mid, f0, f1;
    int i;
    if (!(hi > 0.0f) || lo > 0.3f * hi)
        return -1;
    mid = 0.5f * (lo + hi);
    for (i = 6; i >= 0 && e[i] < mid; i--)
        ;
    if (i < 0)
        return -1;
    f0 = clamp01((e[i] - lo) / (hi - lo));
    f1 = clamp01((e[i + 1] - lo) / (hi - lo));
    return (int) round_int((float) (qend[i] - qlen[i]) + f0 * (float) qlen[i] + f1 * (float) qlen[i + 1]);
}

/* End of a tone whose last qualifying block was the previous one (DFTs l->py, power l->ppow, offsets
   l->pdel), seen from this block's final Goertzel states. ref is the power of a whole block of the tone.
   The tone ended either in this block (a_miss = window share of its head, measured coherently) or in the
   previous one (1 - a_last = share of its missing tail): the stronger cue decides. */
static uint64_t end_estimate(const struct ctid_dtmf_rx *s, const tile_t *t, int j, const lstate_t *l,
                             int digit, const float ref_in[2], uint64_t blk_start)
{
    int bins[2], k;
    float ym[2][2], ref[2], amp[2], c[2], a_last, a_miss, fwd, e[8];
    int64_t en;
    int edge;
    quarters(t, j, e);
    edge = fall_edge(e);
    if (edge >= 0)
        return blk_start - DN + (uint64_t) edge;
    digit_bins(digit, bins);
    for (k = 0; k < 2; k++) {
        ref[k] = ref_in[k] > 0.0f ? ref_in[k] : l->pp[k];
        amp[k] = sqrtf(l->pp[k]);
    }
    /* the digit ends when its first tone does */
    a_last = min_share(amp, ref);
    ycalc(s, bins[0], CUR(t)->s1[bins[0]][j], CUR(t)->s2[bins[0]][j], ym[0]);
    ycalc(s, bins[1], CUR(t)->s1[bins[1]][j], CUR(t)->s2[bins[1]][j], ym[1]);
    coherent(s, (const float (*)[2]) ym, (const float (*)[2]) l->py, bins, l->pdel, 1, c);
    a_miss = min_share(c, ref);
    fwd = a_miss >= 1.0f - a_last ? fill_samples(s, a_miss) : -fill_samples(s, 1.0f - a_last);
    en = (int64_t) blk_start + (int64_t) round_int(fwd);
    return en < 0 ? 0 : (uint64_t) en;
}

/* Start of the tone of the current run: from the quarter energies when they show a clean edge, else it
   began either in the block before the run (a_prev = window share of its tail, measured coherently with
   the tone's phase advance) or inside the run's first block (1 - a_first = share of its missing head);
   the digit begins when its second tone does. del: the tone offsets (rad/sample). */
static uint64_t start_estimate(const struct ctid_dtmf_rx *s, const lstate_t *l, const int bins[2],
                               const float del[2])
{
    float amp[2] = { sqrtf(l->fp[0]), sqrtf(l->fp[1]) }, c[2], a_first, a_prev, back;
    int64_t st;
    if (l->estart >= 0)
        return (uint64_t) l->estart;
    a_first = min_share(amp, l->rp);
    coherent(s, (const float (*)[2]) l->yq, (const float (*)[2]) l->yfirst, bins, del, -1, c);
    a_prev = min_share(c, l->rp);
    back = a_prev >= 1.0f - a_first ? fill_samples(s, a_prev) : -fill_samples(s, 1.0f - a_first);
    st = (int64_t) l->first_start - (int64_t) round_int(back);
    return st < 0 ? 0 : (uint64_t) st;
}

static void begin_digit(ctid_evbuf_t *out, int lane, lstate_t *l, int digit, uint64_t start, float level,
                        float twist, const float ref[2])
{
    if (l->on) {
        /* replaced by another digit without a (long enough) gap */
        uint64_t end = l->end_set && l->end_est < start ? l->end_est : start;
        emit_off(out, lane, l, end);
    }
    if (start < l->last_off)
        start = l->last_off;
    l->on = digit;
    l->on_start = start;
    l->on_rp[0] = ref[0];
    l->on_rp[1] = ref[1];
    l->misses = 0;
    l->end_set = 0;
    ctid_emit(out, start, lane, CTID_EV_DTMF, CTID_EVT_ON, digit, 0, level, twist);
}

static inline cpx cmul(cpx a, cpx b)
{
    cpx r = { a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re };
    return r;
}

static inline cpx cmulc(cpx a, cpx b) /* a * conj(b) */
{
    cpx r = { a.re * b.re + a.im * b.im, a.im * b.re - a.re * b.im };
    return r;
}

static inline cpx cconj(cpx a)
{
    cpx r = { a.re, -a.im };
    return r;
}

static inline cpx csub(cpx a, cpx b)
{
    cpx r = { a.re - b.re, a.im - b.im };
    return r;
}

static inline cpx cadd(cpx a, cpx b)
{
    cpx r = { a.re + b.re, a.im + b.im };
    return r;
}

/* A window transform by table (linear interpolation), theta wrapped to [-pi, pi]. */
static cpx tab_at(const cpx *tab, float th)
{
    float u;
    int i;
    cpx r;
    /* arguments stay within +-3 pi: two conditional wraps (no libm call on the baseline target) */
    if (th > (float) CTID_PI)
        th -= (float) (2.0 * CTID_PI);
    if (th > (float) CTID_PI)
        th -= (float) (2.0 * CTID_PI);
    if (th < (float) -CTID_PI)
        th += (float) (2.0 * CTID_PI);
    if (th < (float) -CTID_PI)
        th += (float) (2.0 * CTID_PI);
    u = (th + (float) CTID_PI) * (float) (WA_TAB / (2.0 * CTID_PI));
    i = (int) u;
    if (i < 0)
        i = 0;
    if (i >= WA_TAB)
        i = WA_TAB - 1;
    u -= (float) i;
    r.re = tab[i].re + u * (tab[i + 1].re - tab[i].re);
    r.im = tab[i].im + u * (tab[i + 1].im - tab[i].im);
    return r;
}

#define wa_at(s, th) tab_at((s)->wa, (th))   /* first half: sum_{n<51} w[n] e^{i theta n} */
#define w_at(s, th) tab_at((s)->wf, (th))    /* whole window */

/* Coarse offsets (rad/sample) of the two tones from the phase advance between the two windowed half
   blocks. The halves end sharply at the middle, so the other tone leaks into them (at 8 dB twist the
   weak tone's halves can carry half their magnitude of the strong tone, which moves the estimate by
   40 Hz); the leakage of both tones and of their negative-frequency images is computed from their
   whole-block DFTs (which the full Hann window keeps clean) and subtracted, twice. x[] and xa[] are the
   whole-block and first-half DFTs referenced to the block's first sample. */
static void coarse_offsets(const struct ctid_dtmf_rx *s, const int bins[2], const cpx x[2], const cpx xa[2],
                           float dc[2])
{
    cpx half_amp[2];
    float nd[2];
    int t;
    for (t = 0; t < 2; t++) {
        cpx z = cmulc(csub(x[t], xa[t]), xa[t]), w;
        float m;
        dc[t] = fast_atan2f(z.im, z.re) / s->coarse_b;
        /* A/2 of tone t: x = (A/2) W(delta) */
        w = w_at(s, dc[t]);
        m = w.re * w.re + w.im * w.im;
        half_amp[t] = cmulc(x[t], w);
        m = m > 1e-6f ? 1.0f / m : 0.0f;
        half_amp[t].re *= m;
        half_amp[t].im *= m;
    }
    for (t = 0; t < 2; t++) {
        int o = 1 - t;
        float wk = s->omega[bins[t]], om = s->omega[bins[o]] + dc[o];
        cpx ca = xa[t], z;
        /* the other tone and its negative-frequency image, and this tone's own image, into this tone's
           first half (the whole window's leakage is below -41 dB and left alone; the first half's is not,
           and the second half's, x - ca, is then corrected by the same amount) */
        ca = csub(ca, cmul(half_amp[o], wa_at(s, om - wk)));
        ca = csub(ca, cmul(cconj(half_amp[o]), wa_at(s, -om - wk)));
        ca = csub(ca, cmul(cconj(half_amp[t]), wa_at(s, -2.0f * wk - dc[t])));
        z = cmulc(csub(x[t], ca), ca);
        nd[t] = fast_atan2f(z.im, z.re) / s->coarse_b;
    }
    dc[0] = nd[0];
    dc[1] = nd[1];
}

/* e^{i (w_k + d)} for a tone d rad/sample off bin k (|d| < 0.1: the series' error is below 1e-7) */
static inline cpx expi_tone(const struct ctid_dtmf_rx *s, int k, float d)
{
    float d2 = d * d, cd = 1.0f - d2 * (0.5f - d2 * (1.0f / 24.0f)), sd = d * (1.0f - d2 * (1.0f / 6.0f));
    cpx r = { s->cosw[k] * cd - s->sinw[k] * sd, s->sinw[k] * cd + s->cosw[k] * sd };
    return r;
}

/* z^n, n >= 1, by squaring */
static inline cpx cpow_n(cpx z, int n)
{
    cpx r = { 1.0f, 0.0f };
    while (n > 0) {
        if (n & 1)
            r = cmul(r, z);
        z = cmul(z, z);
        n >>= 1;
    }
    return r;
}

/* Goertzel recursions at c2[g] = 2 cos(2 th_g) over the windowed samples x[n * T] of each half block,
   four independent chains (tone g, half h -> index g + 2 h); final states in sa (s1) and sb (s2). */
CTID_HOT static void h2_goertzel(const float *x, const float *win, const float c2[2], float sa[4], float sb[4])
{
    float a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0;
    const float k0 = c2[0], k1 = c2[1];
    int n;
    for (n = 0; n < DH; n++) {
        float u = x[(size_t) n * T] * win[n], v = x[(size_t) (n + DH) * T] * win[n + DH];
        float r0 = k0 * a0 + (u - b0), r1 = k1 * a1 + (u - b1), r2 = k0 * a2 + (v - b2), r3 = k1 * a3 + (v - b3);
        b0 = a0;
        a0 = r0;
        b1 = a1;
        a1 = r1;
        b2 = a2;
        a2 = r2;
        b3 = a3;
        a3 = r3;
    }
    sa[0] = a0;
    sa[1] = a1;
    sa[2] = a2;
    sa[3] = a3;
    sb[0] = b0;
    sb[1] = b1;
    sb[2] = b2;
    sb[3] = b3;
}

/* Spectral checks on a candidate block whose tones (bins[], offsets del[] in rad/sample) are known.
   From the whole-block DFTs of all eight bins: each tone's complex amplitude; the block's energy as the two
   stationary tones alone would give it, beats included (purity = that / the measured energy e, the mean
   square); the excess of each of the other six bins over the tones' leakage into it; from the block's
   samples, the second harmonics (if h2). Returns 0 when the block fails (purity below min_purity, an excess too
   large, a residual that the other bins do not show as noise, a second harmonic too strong), else 1 with
   *clean telling whether the block is clean and *noise the noise power per sample that the other bins show
   (white noise of variance v gives each of them v * wnoise). */
static int spectral_ok(const struct ctid_dtmf_rx *s, const tile_t *t, int j, const lparam_t *lp,
                       const int bins[2], const float del[2], float e, int h2, int *clean, float *noise)
{
    cpx X[NB], A[2], z;
    float th[2], pt[2], exa, exrel = 0.0f, exsum = 0.0f, em, res;
    int k, g;
    for (k = 0; k < NB; k++) {
        float yy[2];
        ycalc(s, k, CUR(t)->s1[k][j], CUR(t)->s2[k][j], yy);
        z.re = yy[0];
        z.im = yy[1];
        X[k] = cmul(z, s->rot101[k]);
    }
    for (g = 0; g < 2; g++) {
        cpx w = w_at(s, del[g]);
        float m = w.re * w.re + w.im * w.im;
        m = m > 1e-6f ? 1.0f / m : 0.0f;
        A[g] = cmulc(X[bins[g]], w);           /* x = A e^{i th n} + c.c.: X = A W(th - w_k) */
        A[g].re *= m;
        A[g].im *= m;
        th[g] = s->omega[bins[g]] + del[g];
        pt[g] = 2.0f * (A[g].re * A[g].re + A[g].im * A[g].im);
    }
    if (!(pt[0] > 0.0f && pt[1] > 0.0f && e > 0.0f))
        return 0;
    /* energy of the two-tone model over the block: sum of powers plus the beat and double-frequency terms */
    {
        cpx a2, d;
        em = pt[0] + pt[1];
        for (g = 0; g < 2; g++) {
            a2 = cmul(A[g], A[g]);
            d = tab_at(s->dk, 2.0f * th[g]);
            em += 2.0f * (a2.re * d.re - a2.im * d.im);
        }
        a2 = cmul(A[0], A[1]);
        d = tab_at(s->dk, th[0] + th[1]);
        em += 4.0f * (a2.re * d.re - a2.im * d.im);
        a2 = cmulc(A[0], A[1]);
        d = tab_at(s->dk, th[0] - th[1]);
        em += 4.0f * (a2.re * d.re - a2.im * d.im);
    }
    if (em < lp->p.min_purity * e)
        return 0;
    res = e - em;
    /* the other six bins: excess over the leakage of their group's tone (the other group's is below
       -41 dB with the Hann window, the images below -90 dB) */
    for (k = 0; k < NB; k++) {
        cpx p;
        float r;
        g = k < 4 ? 0 : 1;
        if (k == bins[g])
            continue;
        p = csub(X[k], cmul(A[g], w_at(s, th[g] - s->omega[k])));
        exa = (p.re * p.re + p.im * p.im) * s->pscale;
        exsum += exa;
        r = exa / pt[g];
        if (r > exrel)
            exrel = r;
    }
    if (exrel > EXCESS_MAX)
        return 0;
    /* energy outside the tones that is not white noise (which would show in the other bins): other notes */
    if (res > RES_SIG * (pt[0] + pt[1]) && exsum < WHITE_MIN * 6.0f * s->wnoise * res)
        return 0;
    /* second harmonics: a DTMF sender's are far below its tones (Q.23), those of voiced speech and of
       musical notes are not. Windowed DFTs of the block's samples at 2 th (Goertzel, both tones in one
       loop); at the row tone's the column tone leaks (2 x 697 Hz lies 83 Hz from 1477 Hz, well inside a
       Hann main lobe) and is subtracted; everything else is below -70 dB there. Not near full scale,
       where the clipping of the two tones is expected. */
    if (h2 && 1.41421356f * (sqrtf(pt[0]) + sqrtf(pt[1])) < CLIP_SUM) {
        cpx e2[2];
        float c2[2], sa[4], sb[4];
        for (g = 0; g < 2; g++) {
            cpx e1 = expi_tone(s, bins[g], del[g]);                /* e^{i th} */
            e2[g] = cmul(e1, e1);                                   /* e^{i 2 th} */
            c2[g] = 2.0f * e2[g].re;
        }
        h2_goertzel(t->xr[0] + j, s->win, c2, sa, sb);
        for (g = 0; g < 2; g++) {
            /* per half h: y_h = s1 - e^{-i ph} s2 = e^{i ph 50} X_h(ph), X_h referenced to the half's
               first sample; X = X_0 + e^{-i ph 51} X_1 */
            cpx y0 = { sa[g] - e2[g].re * sb[g], e2[g].im * sb[g] };
            cpx y1 = { sa[g + 2] - e2[g].re * sb[g + 2], e2[g].im * sb[g + 2] };
            cpx y = cadd(y0, cmul(y1, cconj(cpow_n(e2[g], DH))));   /* e^{i ph 50} X */
            if (g == 0) {
                cpx lk = cmul(A[1], w_at(s, th[1] - 2.0f * th[0]));
                y = csub(y, cmul(lk, cpow_n(e2[0], DH - 1)));      /* into y's reference */
            }
            if ((y.re * y.re + y.im * y.im) * s->pscale > H2_MAX * pt[g])
                return 0;
        }
    }
    *clean = exrel <= CLEAN_EXCESS && em >= CLEAN_PURITY * e;
    /* noise power per sample, from the other bins' excess read as white noise */
    *noise = exsum / (6.0f * s->wnoise);
    return 1;
}

/* Block end for one lane: t is the tile, j the lane in it, blk_start the block's first sample. */
static void lane_block(struct ctid_dtmf_rx *s, tile_t *t, int j, int lane, const float *pw, float etot,
                       float qratio, uint64_t blk_start, ctid_evbuf_t *out)
{
    const lparam_t *lp = &s->lp[lane];
    lstate_t *l = &s->ls[lane];
    int hit = 0, digit = 0, paired = 0, miss_done = 0, r = 0, c = 4, k, blk_clean = 0, pair_clean = 1;
    int fine_fail = 0;
    float nz = 0.0f;           /* noise power per sample (spectral_ok) */
    float y[2][2] = { { 0, 0 }, { 0, 0 } }, dc[2] = { 0, 0 }, del[2] = { 0, 0 }, ref[2];
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
        int bins[2];
        float ya[2][2];
        if (pr < lp->thr * lp->pre || pc < lp->thr * lp->pre)
            goto decide;
        if (pr + pc < lp->p.min_purity * lp->pre * e)
            goto decide;
        for (k = 0; k < 4; k++)
            if (k != r && pw[k] > lp->dom_row * pr)
                goto decide;
        for (k = 4; k < 8; k++)
            if (k != c && pw[k] > lp->dom_col * pc)
                goto decide;
        /* stationarity over the block: no quarter much weaker than another */
        if (qratio < QBAL_MIN)
            goto decide;
        digit = dtmf_key[r][c - 4];
        bins[0] = r;
        bins[1] = c;
        for (k = 0; k < 2; k++)
            ycalc(s, bins[k], CUR(t)->s1[bins[k]][j], CUR(t)->s2[bins[k]][j], y[k]);
        pow_raw = fsq(y[0][0], y[0][1]) + fsq(y[1][0], y[1][1]);
        /* this block's coarse offsets, from the phase advance between its half blocks */
        {
            cpx xf[2], xh[2];
            for (k = 0; k < 2; k++) {
                int b = bins[k];
                cpx yy, yh;
                ycalc(s, b, t->m1[b][j], t->m2[b][j], ya[k]);
                yy.re = y[k][0];
                yy.im = y[k][1];
                yh.re = ya[k][0];
                yh.im = ya[k][1];
                xf[k] = cmul(yy, s->rot101[b]);
                xh[k] = cmul(yh, s->rot50[b]);
            }
            coarse_offsets(s, bins, xf, xh, dc);
        }
        if (l->prev_digit == digit && l->pfine) {
            /* the run's offsets are known (fine) from the previous pair: they pick the branch below */
            ref[0] = l->pdel[0];
            ref[1] = l->pdel[1];
        } else {
            for (k = 0; k < 2; k++)
                ref[k] = l->prev_digit == digit ? 0.5f * (dc[k] + l->pdc[k]) : dc[k];
        }
        del[0] = dc[0];
        del[1] = dc[1];
        if (l->prev_digit == digit) {
            /* fine: phase advance of the whole-block DFT from the previous block; it is ambiguous by
               multiples of 2 pi / N (78.4 Hz), and the reference offsets pick the branch */
            for (k = 0; k < 2; k++) {
                int b = bins[k];
                float ar = y[k][0] * l->py[k][0] + y[k][1] * l->py[k][1];
                float ai = y[k][1] * l->py[k][0] - y[k][0] * l->py[k][1];
                float zr = ar * s->rnc[b] - ai * s->rns[b], zi = ar * s->rns[b] + ai * s->rnc[b];
                float th = fast_atan2f(zi, zr);
                float m = (float) round_int((ref[k] * DN - th) * (float) (0.5 / CTID_PI));
                del[k] = (th + m * (float) (2.0 * CTID_PI)) / DN;
                if (fabsf(del[k]) > lp->tol * s->omega[b]) {
                    fine_fail = 1;
                    goto decide_nohit;
                }
            }
            paired = 1;
            if (digit != l->on) {
                /* drift: the change of the fine offsets since the previous pair */
                const float dmax = (float) (2.0 * CTID_PI * DRIFT_MAX_HZ / CTID_RATE);
                int steady = 1;
                for (k = 0; k < 2; k++)
                    if (l->pfine && fabsf(del[k] - l->pdel[k]) > dmax)
                        steady = 0;
                if (!steady) {
                    /* not a continuation of the previous block's tone: this block may begin a new run,
                       which after such a history is not clean */
                    paired = 0;
                    pair_clean = 0;
                    del[0] = dc[0];
                    del[1] = dc[1];
                }
            }
        }
        if (!paired) {
            for (k = 0; k < 2; k++)
                if (fabsf(dc[k]) > lp->tol_coarse * s->omega[bins[k]])
                    goto decide_nohit;
        }
        prc = pr / gain_at(s, del[0]);
        pcc = pc / gain_at(s, del[1]);
        if (prc < lp->thr || pcc < lp->thr)
            goto decide_nohit;
        {
            /* an unpaired block's offsets (coarse: the half-block DFTs leak) can be 20 Hz off, which moves
               the window correction by up to ~1 dB: judge its twist 2 dB more leniently; every block that
               extends a run is paired and judged strictly */
            float x = paired ? 1.0f : 1.585f;
            if (prc > x * lp->tw_norm * pcc || pcc > x * lp->tw_rev * prc)
                goto decide_nohit;
        }
        if (digit == l->on) {
            /* the digit in progress continues: the basic purity is enough */
            if (prc + pcc < lp->p.min_purity * e)
                goto decide_nohit;
        } else {
            /* the second harmonics only on a block that may begin the digit (they are there all
               through a note or a vowel) */
            int cont = paired && l->cand == digit;
            int deciding = (cont ? l->hits + 1 : 1)
                           >= lp->p.hits_to_begin + (cont ? l->unclean : l->drifted == digit);
            if (!spectral_ok(s, t, j, lp, bins, del, e, deciding, &blk_clean, &nz))
                goto decide_nohit;
            if (paired) {
                /* a clean pair: level and coarse frequency as steady as the noise (measured in the other
                   bins and the residual) allows. With nz/P the noise-to-tone power ratio, the phase of a
                   half block's DFT has a standard deviation of sqrt(3 nz / (N P)) rad, the amplitude of a
                   block's a relative one of sqrt(1.5 nz / (N P)) */
                if (l->pnz > nz)
                    nz = l->pnz;   /* the larger of the two blocks' estimates (each from only 12 dof) */
                for (k = 0; k < 2; k++) {
                    float pk = k == 0 ? prc : pcc, rho = nz / pk;
                    float sd_dc = sqrtf(12.0f * rho / DN) / s->coarse_b;             /* rad/sample */
                    float sd_lv = sqrtf(1.5f * rho / DN);                            /* relative */
                    float lim_dc = CLEAN_DCD_HZ * (float) (2.0 * CTID_PI / CTID_RATE);
                    /* power ratio of two blocks: 1 + 2 sqrt(2) sd_lv per standard deviation */
                    float lim_lv = CLEAN_LVL * (1.0f + CLEAN_Z * 2.83f * sd_lv);
                    float p = fsq(y[k][0], y[k][1]), q = l->pp[k];
                    lim_dc = sqrtf(lim_dc * lim_dc + CLEAN_Z * CLEAN_Z * sd_dc * sd_dc);
                    if (fabsf(dc[k] - l->pdc[k]) > lim_dc || !(p < lim_lv * q && q < lim_lv * p))
                        pair_clean = 0;
                }
            }
        }
        hit = 1;
    }
    goto decide;

decide_nohit:
    hit = 0;

decide:
    /* the run of consecutive qualifying blocks of one digit (each pair passing the fine check) */
    if (hit) {
        if (!(l->cand == digit && paired)) {
            /* a new run starts at this block; keep the DFTs of the block before it for the start time */
            ycalc(s, r, PRV(t)->s1[r][j], PRV(t)->s2[r][j], l->yq[0]);
            ycalc(s, c, PRV(t)->s1[c][j], PRV(t)->s2[c][j], l->yq[1]);
            memcpy(l->yfirst, y, sizeof(y));
            l->cand = digit;
            l->hits = 0;
            l->first_start = blk_start;
            {
                float e[8];
                int edge;
                quarters(t, j, e);
                edge = rise_edge(e);
                l->estart = edge >= 0 ? (int64_t) blk_start - DN + edge : -1;
            }
            l->fp[0] = fsq(y[0][0], y[0][1]);
            l->fp[1] = fsq(y[1][0], y[1][1]);
            l->ref_pow = 0.0f;
            /* right after a block of this digit whose tones had drifted out of tolerance: not clean */
            l->unclean = l->drifted == digit;
        }
        l->hits++;
        if (!(blk_clean && pair_clean))
            l->unclean = 1;
        if (pow_raw >= l->ref_pow) {
            l->ref_pow = pow_raw;
            l->rp[0] = fsq(y[0][0], y[0][1]);
            l->rp[1] = fsq(y[1][0], y[1][1]);
            l->ref_pr = prc;
            l->ref_pc = pcc;
        }
    } else {
        l->cand = 0;
        l->hits = 0;
    }

    /* a digit whose run is long enough, waiting for its tone to prove MIN_ON long */
    if (l->pend) {
        int d = l->pend;
        l->pend = 0;
        if (hit && digit == d) {
            begin_digit(out, lane, l, d, l->pend_start, l->pend_level, l->pend_twist, l->pend_rp);
        } else {
            uint64_t end = end_estimate(s, t, j, l, d, l->pend_rp, blk_start);
            if (end >= l->pend_start + MIN_ON) {
                begin_digit(out, lane, l, d, l->pend_start, l->pend_level, l->pend_twist, l->pend_rp);
                /* and this block is already its first miss */
                l->misses = 1;
                l->end_est = end;
                l->end_set = 1;
                miss_done = 1;
                if (l->misses >= lp->p.misses_to_end)
                    emit_off(out, lane, l, end);
            }
        }
    }

    /* the digit in progress */
    if (l->on) {
        if (hit && digit == l->on) {
            l->misses = 0;
            l->end_set = 0;
            if (pow_raw > l->on_ref) {
                l->on_ref = pow_raw;
                l->on_rp[0] = fsq(y[0][0], y[0][1]);
                l->on_rp[1] = fsq(y[1][0], y[1][1]);
            }
        } else if (!miss_done) {
            if (l->misses == 0) {
                /* first miss: the tone ended in the previous (qualifying) block or in this one */
                l->end_est = l->prev_digit == l->on ? end_estimate(s, t, j, l, l->on, l->on_rp, blk_start)
                                                    : blk_start;
                l->end_set = 1;
            }
            l->misses++;
            if (l->misses >= lp->p.misses_to_end)
                emit_off(out, lane, l, l->end_est);
        }
    }

    /* a new digit */
    if (hit && digit != l->on && !l->pend
        && l->hits >= lp->p.hits_to_begin + (lp->p.hits_to_begin >= 2 && l->unclean ? 1 : 0)) {
        int bins[2] = { r, c };
        uint64_t start = start_estimate(s, l, bins, del);
        float lr = to_db(l->ref_pr), lc = to_db(l->ref_pc);
        if (lp->p.hits_to_begin < 2 || blk_start + DN >= start + MIN_ON) {
            begin_digit(out, lane, l, digit, start, 0.5f * (lr + lc), lc - lr, l->rp);
        } else {
            l->pend = digit;
            l->pend_start = start;
            l->pend_level = 0.5f * (lr + lc);
            l->pend_twist = lc - lr;
            l->pend_rp[0] = l->rp[0];
            l->pend_rp[1] = l->rp[1];
        }
    }

    /* remember this block for the next one's fine frequency check and end estimate */
    if (hit) {
        l->prev_digit = digit;
        memcpy(l->py, y, sizeof(y));
        l->pdc[0] = dc[0];
        l->pdc[1] = dc[1];
        l->pdel[0] = del[0];
        l->pdel[1] = del[1];
        l->pfine = paired;
        l->pp[0] = fsq(y[0][0], y[0][1]);
        l->pp[1] = fsq(y[1][0], y[1][1]);
        l->pnz = nz;
    } else {
        l->prev_digit = 0;
    }
    l->drifted = fine_fail ? digit : 0;
    /* a lane with nothing in progress needs no visit until the prefilter finds a candidate */
    t->busy[j] = (uint8_t) (l->skip || l->on || l->hits || l->prev_digit || l->pend || l->drifted);
    t->pendm = l->pend ? t->pendm | (1u << j) : t->pendm & ~(1u << j);
}

/* Checkpoints inside a block for a digit waiting for its duration (l->pend: its run is complete but held
   less than MIN_ON of tone at its last block's end). Without them the wait lasts to the next block's end,
   up to 102 samples after the tone has proved MIN_ON long; at the quarter ends (26, 51, 77 samples) of
   that block the tone's continuation is measured instead from the Goertzel states so far (the windowed
   DFT of the block's head, the window's rising part): each tone's complex share a_g of the head as the
   run's last block predicts it (amplitude, phase advance at the fine offsets, both tones' leakage into
   both bins and their negative-frequency images: a head this short cuts the window sharply, so the other
   tone leaks up to -14 dB into a bin), from the 2x2 linear system of the two bins. A tone that stopped
   after e samples of the head gives Re a_g = the window's weight in those e samples over that of the
   head; the smaller of the two tones' gives the end estimate e, and the digit begins once the tone is
   proved MIN_ON long to there. Otherwise nothing changes: the block end decides as before. */
/* sum_{n<p} w[n] e^{i d n} at checkpoint q (p = 26, 51, 77) */
static cpx head_tf(const struct ctid_dtmf_rx *s, int q, float d)
{
    return tab_at(q == 1 ? s->wa : s->wq[q == 2], d);
}

static void lane_checkpoint(struct ctid_dtmf_rx *s, tile_t *t, int j, int lane, int p, uint64_t blk_start,
                            ctid_evbuf_t *out)
{
    lstate_t *l = &s->ls[lane];
    int bins[2], g, k;
    cpx A[2], M[2][2], X[2], a[2], det;
    float th[2], share, fwd, dm;
    int q = quarter_of(p - 1);
    if (!(blk_start + (uint64_t) p > l->pend_start + MIN_ON))
        return;
    digit_bins(l->pend, bins);
    for (g = 0; g < 2; g++) {
        /* the tone's complex amplitude at this block's first sample, from the run's last block */
        cpx yp = { l->py[g][0], l->py[g][1] }, w = w_at(s, l->pdel[g]), rot;
        float m = w.re * w.re + w.im * w.im;
        m = m > 1e-6f ? 1.0f / m : 0.0f;
        A[g] = cmulc(cmul(yp, s->rot101[bins[g]]), w);
        A[g].re *= m;
        A[g].im *= m;
        th[g] = s->omega[bins[g]] + l->pdel[g];
        rot.re = cosf(th[g] * DN);
        rot.im = sinf(th[g] * DN);
        A[g] = cmul(A[g], rot);
    }
    /* M[k][g]: tone g's whole contribution to bin k's head DFT (referenced to the block's first sample) */
    for (k = 0; k < 2; k++) {
        float yy[2];
        cpx z;
        int b = bins[k];
        ycalc(s, b, CUR(t)->s1[b][j], CUR(t)->s2[b][j], yy);
        z.re = yy[0];
        z.im = yy[1];
        X[k] = cmul(z, s->backq[q][b]);
        for (g = 0; g < 2; g++)
            M[k][g] = cadd(cmul(A[g], head_tf(s, q, th[g] - s->omega[b])),
                           cmul(cconj(A[g]), head_tf(s, q, -th[g] - s->omega[b])));
    }
    det = csub(cmul(M[0][0], M[1][1]), cmul(M[0][1], M[1][0]));
    dm = det.re * det.re + det.im * det.im;
    if (!(dm > 0.0f))
        return;
    /* a = M^-1 X */
    a[0] = csub(cmul(M[1][1], X[0]), cmul(M[0][1], X[1]));
    a[1] = csub(cmul(M[0][0], X[1]), cmul(M[1][0], X[0]));
    share = 1.0f;
    for (g = 0; g < 2; g++) {
        float re = cmulc(a[g], det).re / dm;
        if (re < share)
            share = re;
    }
    if (!(share > 0.0f))
        return;
    /* samples of the head the tone filled (the window's weight from the block's start; it is symmetric) */
    fwd = fill_samples(s, share * s->fill[p]);
    if (blk_start + (uint64_t) round_int(fwd) >= l->pend_start + MIN_ON) {
        int d = l->pend;
        l->pend = 0;
        begin_digit(out, lane, l, d, l->pend_start, l->pend_level, l->pend_twist, l->pend_rp);
    }
}

static inline int tile_pending(const struct ctid_dtmf_rx *s, int ti)
{
    return s->tiles[ti].pendm != 0;
}

static void tile_checkpoint(struct ctid_dtmf_rx *s, int ti, const uint8_t *enabled, int p, uint64_t blk_start,
                            ctid_evbuf_t *out)
{
    tile_t *t = &s->tiles[ti];
    int j;
    for (j = 0; j < T; j++) {
        int lane = ti * T + j;
        if (!(t->pendm & (1u << j)) || (enabled != NULL && !enabled[lane]) || s->ls[lane].skip)
            continue;
        lane_checkpoint(s, t, j, lane, p, blk_start, out);
        if (!s->ls[lane].pend)
            t->pendm &= ~(1u << j);
    }
}

/* lane-wise max of two v8 (a macro: no vector-typed function boundary outside the AVX clones) */
#define VMAX(a, b) ((v8) ((((v8i) (a)) & ((a) > (b))) | (((v8i) (b)) & ~((a) > (b)))))

CTID_HOT static void tile_block_end(struct ctid_dtmf_rx *s, int ti, const uint8_t *enabled, uint64_t blk_end,
                           ctid_evbuf_t *out)
{
    tile_t *t = &s->tiles[ti];
    const gstate_t *g = CUR(t);
    float pw[NB][T], etot[T];
    int k, j;
    v8 et, rmax, cmax;
    v8i cand;
    et = VLD(g->eq[0]) + VLD(g->eq[1]) + VLD(g->eq[2]) + VLD(g->eq[3]);
    *(v8 *) etot = et;
    for (k = 0; k < NB; k++) {
        v8 a = VLD(g->s1[k]), b = VLD(g->s2[k]);
        *(v8 *) pw[k] = (a * a + b * b - s->coef[k] * a * b) * s->pscale;
    }
    /* vector prefilter: both groups' best bins above the threshold and enough of the energy in them
       (allowing for the window's attenuation within the frequency tolerance) */
    {
        v8 p0 = *(v8 *) pw[0], p1 = *(v8 *) pw[1], p2 = *(v8 *) pw[2], p3 = *(v8 *) pw[3];
        v8 p4 = *(v8 *) pw[4], p5 = *(v8 *) pw[5], p6 = *(v8 *) pw[6], p7 = *(v8 *) pw[7];
        v8 m01 = VMAX(p0, p1), m23 = VMAX(p2, p3), m45 = VMAX(p4, p5), m67 = VMAX(p6, p7);
        rmax = VMAX(m01, m23);
        cmax = VMAX(m45, m67);
    }
    cand = (rmax >= *(const v8 *) t->pthr) & (cmax >= *(const v8 *) t->pthr)
           & (rmax + cmax >= *(const v8 *) t->ppur * et);
    for (j = 0; j < T; j++) {
        int lane = ti * T + j;
        float p8[NB], q0, q1, q2, q3, qmin, qmax, qratio;
        if (lane >= s->nlanes || (enabled != NULL && !enabled[lane]))
            continue;
        /* idle lanes without a candidate: nothing to do */
        if (!cand[j] && !t->busy[j])
            continue;
        for (k = 0; k < NB; k++)
            p8[k] = pw[k][j];
        /* mean energy per sample of each quarter (26, 25, 26, 25 samples) */
        q0 = g->eq[0][j] * (1.0f / 26);
        q1 = g->eq[1][j] * (1.0f / 25);
        q2 = g->eq[2][j] * (1.0f / 26);
        q3 = g->eq[3][j] * (1.0f / 25);
        qmin = q0 < q1 ? q0 : q1;
        qmin = q2 < qmin ? q2 : qmin;
        qmin = q3 < qmin ? q3 : qmin;
        qmax = q0 > q1 ? q0 : q1;
        qmax = q2 > qmax ? q2 : qmax;
        qmax = q3 > qmax ? q3 : qmax;
        qratio = qmax > 0.0f ? qmin / qmax : 0.0f;
        lane_block(s, t, j, lane, p8, etot[j], qratio, blk_end - DN, out);
    }
    /* this block becomes the previous one; the kernel starts the next from zero */
    t->cur ^= 1;
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
            memset(t->g, 0, sizeof(t->g));
        }
        for (i = 0; i < s->nlanes; i++) {
            s->ls[i].prev_digit = 0;
            if (pos0 != 0) {
                s->ls[i].skip = 1;
                s->tiles[i / T].busy[i % T] = 1;
            }
        }
        s->started = 1;
    }
    s->next_t = t0 + (uint64_t) nframes;

    for (ti = 0; ti < s->ntiles; ti++) {
        tile_t *t = &s->tiles[ti];
        int any = 0, j, n = 0, pos = pos0, pend;
        for (j = 0; j < T && ti * T + j < s->nlanes; j++)
            any |= enabled == NULL ? 1 : enabled[ti * T + j];
        if (!any)
            continue;
        pend = tile_pending(s, ti);
        while (n < nframes) {
            /* run to the end of the block (or of the call); with a digit waiting for its duration, to the
               next quarter end (checkpoint) */
            int stop = pend ? quarter_end[quarter_of(pos)] : DN;
            int len = stop - pos < nframes - n ? stop - pos : nframes - n;
            const float *xt = x + (size_t) n * stride + (size_t) ti * T;
#ifdef DTMF_HAVE_K8
            if (s->k8)
                tile_run_all(t, xt, (size_t) stride, pos, len, s->win, s->coef);
            else
#endif
            {
                tile_run_rows(t, xt, (size_t) stride, pos, len, s->win, s->coef);
                tile_run_cols(t, xt, (size_t) stride, pos, len, s->win, s->coef);
            }
            n += len;
            pos += len;
            if (pos == DN) {
                tile_block_end(s, ti, enabled, t0 + (uint64_t) n, out);
                pos = 0;
                pend = tile_pending(s, ti);
            } else if (pend && pos == quarter_end[quarter_of(pos - 1)]) {
                tile_checkpoint(s, ti, enabled, pos, t0 + (uint64_t) n - (uint64_t) pos, out);
                pend = tile_pending(s, ti);
            }
        }
    }
}


