/*
 * MFC R2 register-signal generator (ITU-T Q.441 code; China No.1 register signalling).
 *
 * ctid_r2mf_tx_set(signal) switches the sending side's signal, as compelled signalling does: the tone pair
 * stays on until set(0) (or another signal). Each tone of the pair is sent at level_dbm0 (Q.441 / China No.1
 * nominal -11 dBm0 per frequency). A tone pair starts at phase zero and rises through a 4-sample (0.5 ms)
 * raised-cosine ramp; set(0) ends it with the same ramp down, so the edges cost no more than a sample or two of
 * timing and leave no click (a hard cut at an arbitrary phase would be a step of up to twice the peak). The
 * oscillators keep their phase across generate() calls. Switching straight from one signal to another ramps
 * the old pair down and then starts the new one.
 */
#include "internal.h"

#define R2TX_RAMP 4               /* samples per edge */

static const double tx_fwd[6] = { 1380.0, 1500.0, 1620.0, 1740.0, 1860.0, 1980.0 };   /* Q.441 forward */
static const double tx_bwd[6] = { 1140.0, 1020.0, 900.0, 780.0, 660.0, 540.0 };       /* Q.441 backward */
static const char tx_chars[] = "1234567890BCDEF";
static const uint8_t tx_pair[15][2] = {
    { 0, 1 }, { 0, 2 }, { 1, 2 }, { 0, 3 }, { 1, 3 }, { 2, 3 }, { 0, 4 }, { 1, 4 },
    { 2, 4 }, { 3, 4 }, { 0, 5 }, { 1, 5 }, { 2, 5 }, { 3, 5 }, { 4, 5 },
};

struct ctid_r2mf_tx {
    int backward;
    double amp;                   /* peak of each tone, int16 units */
    int want;                     /* requested signal index, -1 = none */
    int cur;                      /* sounding signal index, -1 = none */
    int env;                      /* ramp position 0..R2TX_RAMP */
    double ph1, ph2;              /* phases, radians */
    double dph1, dph2;            /* increments */
    double ramp[R2TX_RAMP + 1];   /* envelope by ramp position */
};

static int sig_index(int signal)
{
    int i;
    if (signal >= 'a' && signal <= 'f')
        signal -= 'a' - 'A';
    for (i = 0; i < 15; i++) {
        if (tx_chars[i] == signal)
            return i;
    }
    return -1;
}

ctid_r2mf_tx_t *ctid_r2mf_tx_new(int backward, float level_dbm0)
{
    ctid_r2mf_tx_t *s;
    int k;
    if (backward != 0 && backward != 1)
        return NULL;
    /* Two tones at 0 dBm0 each peak at 2 x 22827, beyond int16: allow up to 0 dBm0 (saturating) and refuse
       absurd or non-finite levels. */
    if (!(level_dbm0 >= -90.0f && level_dbm0 <= 0.0f))
        return NULL;
    s = (ctid_r2mf_tx_t *) calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->backward = backward;
    s->amp = ctid_dbm0_to_peak(level_dbm0);
    s->want = -1;
    s->cur = -1;
    for (k = 0; k <= R2TX_RAMP; k++)
        s->ramp[k] = 0.5 - 0.5 * cos(CTID_PI * k / R2TX_RAMP);
    return s;
}

int ctid_r2mf_tx_set(ctid_r2mf_tx_t *s, int signal)
{
    int idx;
    if (s == NULL)
        return CTID_ERR_ARG;
    if (signal == 0) {
        s->want = -1;
        return CTID_OK;
    }
    idx = sig_index(signal);
    if (idx < 0)
        return CTID_ERR_ARG;
    s->want = idx;
    return CTID_OK;
}

static void start_pair(ctid_r2mf_tx_t *s, int idx)
{
    const double *f = s->backward ? tx_bwd : tx_fwd;
    s->cur = idx;
    s->env = 0;
    s->ph1 = 0.0;
    s->ph2 = 0.0;
    s->dph1 = 2.0 * CTID_PI * f[tx_pair[idx][0]] / CTID_RATE;
    s->dph2 = 2.0 * CTID_PI * f[tx_pair[idx][1]] / CTID_RATE;
}

int ctid_r2mf_tx_generate(ctid_r2mf_tx_t *s, int16_t *amp, int max)
{
    int i;
    if (s == NULL || max < 0 || (amp == NULL && max > 0))
        return CTID_ERR_ARG;
    for (i = 0; i < max; i++) {
        double v;
        if (s->cur != s->want) {
            if (s->cur >= 0) {
                /* ramp the sounding pair down first */
                if (s->env > 0)
                    s->env--;
                if (s->env == 0)
                    s->cur = -1;
            }
            if (s->cur < 0 && s->want >= 0)
                start_pair(s, s->want);
        } else if (s->cur >= 0 && s->env < R2TX_RAMP) {
            s->env++;
        }
        if (s->cur < 0) {
            amp[i] = 0;
            continue;
        }
        v = s->amp * s->ramp[s->env] * (sin(s->ph1) + sin(s->ph2));
        amp[i] = ctid_sat16(v);
        s->ph1 += s->dph1;
        s->ph2 += s->dph2;
        if (s->ph1 >= 2.0 * CTID_PI)
            s->ph1 -= 2.0 * CTID_PI;
        if (s->ph2 >= 2.0 * CTID_PI)
            s->ph2 -= 2.0 * CTID_PI;
    }
    return max;
}

void ctid_r2mf_tx_reset(ctid_r2mf_tx_t *s)
{
    if (s == NULL)
        return;
    s->want = -1;
    s->cur = -1;
    s->env = 0;
    s->ph1 = s->ph2 = 0.0;
}

void ctid_r2mf_tx_free(ctid_r2mf_tx_t *s)
{
    free(s);
}
