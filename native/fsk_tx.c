/*
 * Caller ID FSK transmitter: Bell 202 (mark 1200 Hz, space 2200 Hz) or V.23 (mark 1300 Hz, space 2100 Hz)
 * at 1200 bit/s, phase continuous.
 *
 * ctid_fsk_tx_put() queues a channel seizure of alternating 0/1 bits starting with 0 (GR-30: 300 bits),
 * a mark run (GR-30: 180 bits; EN 300 659-1: 80 +- 25), then each byte framed as an asynchronous character:
 * start bit 0, 8 data bits least significant first, stop bit 1. Bit k occupies samples [20k/3, 20(k+1)/3):
 * the bit clock is kept in exact integer units (3 per sample, 20 per bit), so there is no drift.
 */
#include "internal.h"

#define TX_UNITS_PER_SAMPLE 3     /* 1200 / 8000 = 3 / 20 */
#define TX_UNITS_PER_BIT 20

struct ctid_fsk_tx {
    double f_mark, f_space;
    double amp;
    double phase;                 /* radians, kept in [0, 2 pi) */
    uint8_t *bits;
    int nbits, cap;
    int pos;                      /* next bit to send */
    int units;                    /* bit clock: units elapsed in the current bit */
};

ctid_fsk_tx_t *ctid_fsk_tx_new(int modem, float level_dbm0)
{
    ctid_fsk_tx_t *s;
    if (modem != CTID_FSK_BELL202 && modem != CTID_FSK_V23)
        return NULL;
    /* +3.14 dBm0 is full scale; NaN fails the comparison. */
    if (!(level_dbm0 >= -90.0f && level_dbm0 <= 3.14f))
        return NULL;
    s = (ctid_fsk_tx_t *) calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (modem == CTID_FSK_BELL202) {
        s->f_mark = 1200.0;       /* Bell 202 / GR-30 */
        s->f_space = 2200.0;
    } else {
        s->f_mark = 1300.0;       /* ITU-T V.23 mode 2 / EN 300 659-1 */
        s->f_space = 2100.0;
    }
    s->amp = ctid_dbm0_to_peak(level_dbm0);
    return s;
}

static int push_bit(ctid_fsk_tx_t *s, int b)
{
    if (s->nbits >= s->cap) {
        int ncap = s->cap ? s->cap * 2 : 4096;
        uint8_t *nb = (uint8_t *) realloc(s->bits, (size_t) ncap);
        if (nb == NULL)
            return -1;
        s->bits = nb;
        s->cap = ncap;
    }
    s->bits[s->nbits++] = (uint8_t) b;
    return 0;
}

int ctid_fsk_tx_put(ctid_fsk_tx_t *s, const uint8_t *data, int n, int seizure_bits, int mark_bits)
{
    int i, k, before;
    if (s == NULL || n < 0 || (data == NULL && n > 0) || seizure_bits < 0 || mark_bits < 0)
        return CTID_ERR_ARG;
    /* bound one call: 65536 seizure/mark bits (55 s) and 1 MB of data */
    if (seizure_bits > 65536 || mark_bits > 65536 || n > (1 << 20))
        return CTID_ERR_ARG;
    /* compact the queue when everything queued so far has been sent */
    if (s->pos >= s->nbits && s->units == 0) {
        s->pos = 0;
        s->nbits = 0;
    }
    before = s->nbits;
    for (i = 0; i < seizure_bits; i++) {
        if (push_bit(s, i & 1) < 0)
            goto nomem;
    }
    for (i = 0; i < mark_bits; i++) {
        if (push_bit(s, 1) < 0)
            goto nomem;
    }
    for (i = 0; i < n; i++) {
        if (push_bit(s, 0) < 0)
            goto nomem;
        for (k = 0; k < 8; k++) {
            if (push_bit(s, (data[i] >> k) & 1) < 0)
                goto nomem;
        }
        if (push_bit(s, 1) < 0)
            goto nomem;
    }
    return s->nbits - s->pos;
nomem:
    s->nbits = before;
    return CTID_ERR_NOMEM;
}

int ctid_fsk_tx_generate(ctid_fsk_tx_t *s, int16_t *amp, int max)
{
    int i;
    if (s == NULL || max < 0 || (amp == NULL && max > 0))
        return CTID_ERR_ARG;
    for (i = 0; i < max && s->pos < s->nbits; i++) {
        const double f = s->bits[s->pos] ? s->f_mark : s->f_space;
        amp[i] = ctid_sat16(s->amp * sin(s->phase));
        s->phase += 2.0 * CTID_PI * f / CTID_RATE;
        if (s->phase >= 2.0 * CTID_PI)
            s->phase -= 2.0 * CTID_PI;
        s->units += TX_UNITS_PER_SAMPLE;
        if (s->units >= TX_UNITS_PER_BIT) {
            s->units -= TX_UNITS_PER_BIT;
            s->pos++;
        }
    }
    if (s->pos >= s->nbits) {
        /* the last bit is finished: start the next put on a fresh bit boundary */
        s->units = 0;
    }
    return i;
}

void ctid_fsk_tx_reset(ctid_fsk_tx_t *s)
{
    if (s == NULL)
        return;
    s->nbits = 0;
    s->pos = 0;
    s->units = 0;
    s->phase = 0.0;
}

void ctid_fsk_tx_free(ctid_fsk_tx_t *s)
{
    if (s == NULL)
        return;
    free(s->bits);
    free(s);
}
