/*
 * Call-progress tone generator: one ctid_tone_def_t, one or two frequencies, each at level_dbm0, cadenced
 * (on, off, on, off ... repeating; nsegs == 0 = continuous). Each on-segment starts at phase 0 (a sine starts
 * at zero: no click) and is phase continuous within itself. generate() always fills the buffer.
 */
#include "internal.h"

struct ctid_tone_gen {
    int nsegs;
    int32_t seg_len[CTID_TONE_MAX_SEGS];  /* samples */
    int seg;                              /* current segment */
    int32_t left;                         /* samples left in it */
    double amp;                           /* peak of each component */
    double inc1, inc2;                    /* phase increments, cycles per sample */
    double ph1, ph2;                      /* phases, cycles */
    int dual;
};

void ctid_tone_gen_reset(ctid_tone_gen_t *s)
{
    if (s == NULL)
        return;
    s->seg = 0;
    s->left = s->nsegs ? s->seg_len[0] : 0;
    s->ph1 = 0.0;
    s->ph2 = 0.0;
}

ctid_tone_gen_t *ctid_tone_gen_new(const ctid_tone_def_t *d)
{
    ctid_tone_gen_t *s;
    int i;
    if (d == NULL || !isfinite(d->freq1) || !isfinite(d->freq2) || !isfinite(d->level_dbm0))
        return NULL;
    if (d->freq1 <= 0.0f || d->freq1 >= CTID_RATE / 2 || d->freq2 < 0.0f || d->freq2 >= CTID_RATE / 2)
        return NULL;
    if (d->level_dbm0 > 3.14f || d->level_dbm0 < -100.0f)
        return NULL;
    if (d->nsegs < 0 || d->nsegs > CTID_TONE_MAX_SEGS || (d->nsegs & 1))
        return NULL;
    for (i = 0; i < d->nsegs; i++)
        if (d->seg_ms[i] <= 0 || d->seg_ms[i] > 3600000)
            return NULL;
    s = (ctid_tone_gen_t *) calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->nsegs = d->nsegs;
    for (i = 0; i < d->nsegs; i++)
        s->seg_len[i] = d->seg_ms[i] * (CTID_RATE / 1000);
    s->amp = ctid_dbm0_to_peak(d->level_dbm0);
    s->inc1 = d->freq1 / (double) CTID_RATE;
    s->inc2 = d->freq2 / (double) CTID_RATE;
    s->dual = d->freq2 > 0.0f;
    ctid_tone_gen_reset(s);
    return s;
}

static void synth(ctid_tone_gen_t *s, int16_t *amp, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        double v = sin(2.0 * CTID_PI * s->ph1);
        if (s->dual) {
            v += sin(2.0 * CTID_PI * s->ph2);
            s->ph2 += s->inc2;
            if (s->ph2 >= 1.0)
                s->ph2 -= 1.0;
        }
        s->ph1 += s->inc1;
        if (s->ph1 >= 1.0)
            s->ph1 -= 1.0;
        amp[i] = ctid_sat16(s->amp * v);
    }
}

int ctid_tone_gen_generate(ctid_tone_gen_t *s, int16_t *amp, int max)
{
    int done = 0;
    if (s == NULL || amp == NULL || max < 0)
        return CTID_ERR_ARG;
    if (s->nsegs == 0) {
        synth(s, amp, max);
        return max;
    }
    while (done < max) {
        int n = max - done < s->left ? max - done : s->left;
        if ((s->seg & 1) == 0)
            synth(s, amp + done, n);
        else
            memset(amp + done, 0, (size_t) n * sizeof(int16_t));
        done += n;
        s->left -= n;
        if (s->left == 0) {
            s->seg = (s->seg + 1) % s->nsegs;
            s->left = s->seg_len[s->seg];
            if ((s->seg & 1) == 0) {
                s->ph1 = 0.0;
                s->ph2 = 0.0;
            }
        }
    }
    return max;
}

void ctid_tone_gen_free(ctid_tone_gen_t *s)
{
    free(s);
}
