/*
 * DTMF generator: a queue of digits, each sent as on_ms of the two tones then off_ms of silence.
 *
 * Synthesis uses two double-precision phase accumulators (low and high group, both 0 after new/reset)
 * that keep running across digits, so back-to-back digits (off_ms = 0) change frequency without a
 * phase jump. Each tone is a
 * sine of the requested dBm0 level (A-law convention, ctid_dbm0_to_peak); the sum is saturated to int16.
 * Defaults follow ITU-T Q.23 practice: low group -10 dBm0, high group 2 dB louder (the high group is sent
 * louder to offset the line's high-frequency loss), 80 ms on / 80 ms off.
 */
#include "internal.h"

#define TX_MAX_QUEUE (1 << 20)

static const double tx_freq[8] = { 697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0 };
static const char tx_keys[] = "123A456B789C*0#D";

struct ctid_dtmf_tx {
    ctid_dtmf_tx_params_t p;
    double amp_lo, amp_hi;
    int on_samples, off_samples;
    char *queue;
    int qcap, qhead, qtail;          /* queue[qhead..qtail) pending digits */
    int cur;                         /* index into tx_keys of the digit being sent, -1 if none */
    int remain;                      /* samples left of the current digit (tone + pause) */
    double ph_lo, ph_hi;             /* phases, cycles in [0, 1) */
};

void ctid_dtmf_tx_defaults(ctid_dtmf_tx_params_t *p)
{
    if (p == NULL)
        return;
    p->level_dbm0 = -10.0f;
    p->twist_db = 2.0f;
    p->on_ms = 80;
    p->off_ms = 80;
}

static int key_index(char ch)
{
    int i;
    if (ch >= 'a' && ch <= 'd')
        ch = (char) (ch - 'a' + 'A');
    for (i = 0; i < 16; i++)
        if (tx_keys[i] == ch)
            return i;
    return -1;
}

ctid_dtmf_tx_t *ctid_dtmf_tx_new(const ctid_dtmf_tx_params_t *p)
{
    ctid_dtmf_tx_t *s;
    ctid_dtmf_tx_params_t def;
    if (p == NULL) {
        ctid_dtmf_tx_defaults(&def);
        p = &def;
    }
    /* levels beyond +3.14 dBm0 per tone cannot be represented; durations up to 60 s */
    if (!(p->level_dbm0 >= -90.0f && p->level_dbm0 <= 3.2f))
        return NULL;
    if (!(p->twist_db >= -40.0f && p->twist_db <= 40.0f) || p->level_dbm0 + p->twist_db > 3.2f)
        return NULL;
    if (p->on_ms < 1 || p->on_ms > 60000 || p->off_ms < 0 || p->off_ms > 60000)
        return NULL;
    s = (ctid_dtmf_tx_t *) calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->p = *p;
    s->amp_lo = ctid_dbm0_to_peak(p->level_dbm0);
    s->amp_hi = ctid_dbm0_to_peak(p->level_dbm0 + p->twist_db);
    s->on_samples = p->on_ms * (CTID_RATE / 1000);
    s->off_samples = p->off_ms * (CTID_RATE / 1000);
    s->cur = -1;
    return s;
}

int ctid_dtmf_tx_put(ctid_dtmf_tx_t *s, const char *digits)
{
    int n, i, pending;
    if (s == NULL || digits == NULL)
        return CTID_ERR_ARG;
    n = (int) strnlen(digits, TX_MAX_QUEUE + 1);
    for (i = 0; i < n; i++)
        if (key_index(digits[i]) < 0)
            return CTID_ERR_ARG;
    pending = s->qtail - s->qhead;
    if (pending + n > TX_MAX_QUEUE)
        return CTID_ERR_SIZE;
    if (s->qhead > 0) {
        memmove(s->queue, s->queue + s->qhead, (size_t) pending);
        s->qtail = pending;
        s->qhead = 0;
    }
    if (s->qtail + n > s->qcap) {
        int ncap = s->qcap ? s->qcap : 64;
        char *nq;
        while (ncap < s->qtail + n)
            ncap *= 2;
        nq = (char *) realloc(s->queue, (size_t) ncap);
        if (nq == NULL)
            return CTID_ERR_NOMEM;
        s->queue = nq;
        s->qcap = ncap;
    }
    for (i = 0; i < n; i++)
        s->queue[s->qtail++] = (char) key_index(digits[i]);
    return n;
}

int ctid_dtmf_tx_generate(ctid_dtmf_tx_t *s, int16_t *amp, int max)
{
    int done = 0;
    if (s == NULL || max < 0 || (amp == NULL && max > 0))
        return CTID_ERR_ARG;
    while (done < max) {
        int n, i;
        if (s->remain == 0) {
            if (s->qhead == s->qtail) {
                s->cur = -1;
                break;
            }
            s->cur = s->queue[s->qhead++];
            s->remain = s->on_samples + s->off_samples;
        }
        n = s->remain < max - done ? s->remain : max - done;
        if (s->remain > s->off_samples) {
            /* tone part */
            double fl = tx_freq[s->cur / 4] / CTID_RATE, fh = tx_freq[4 + s->cur % 4] / CTID_RATE;
            int tone = s->remain - s->off_samples;
            if (n > tone)
                n = tone;
            for (i = 0; i < n; i++) {
                double v = s->amp_lo * sin(2.0 * CTID_PI * s->ph_lo) + s->amp_hi * sin(2.0 * CTID_PI * s->ph_hi);
                amp[done + i] = ctid_sat16(v);
                s->ph_lo += fl;
                s->ph_hi += fh;
                if (s->ph_lo >= 1.0)
                    s->ph_lo -= 1.0;
                if (s->ph_hi >= 1.0)
                    s->ph_hi -= 1.0;
            }
        } else {
            memset(amp + done, 0, (size_t) n * sizeof(int16_t));
        }
        done += n;
        s->remain -= n;
    }
    return done;
}

int ctid_dtmf_tx_pending(ctid_dtmf_tx_t *s)
{
    long long n;
    if (s == NULL)
        return CTID_ERR_ARG;
    n = (long long) s->remain + (long long) (s->qtail - s->qhead) * (s->on_samples + s->off_samples);
    return n > 0x7fffffff ? 0x7fffffff : (int) n;
}

void ctid_dtmf_tx_reset(ctid_dtmf_tx_t *s)
{
    if (s == NULL)
        return;
    s->qhead = s->qtail = 0;
    s->cur = -1;
    s->remain = 0;
    s->ph_lo = s->ph_hi = 0.0;
}

void ctid_dtmf_tx_free(ctid_dtmf_tx_t *s)
{
    if (s == NULL)
        return;
    free(s->queue);
    free(s);
}
