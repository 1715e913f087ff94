/* The batched multi-channel bank: one call per block of frames processes every channel of a span. */
#include "internal.h"

#define BANK_CHUNK 160               /* frames decoded and processed at a time (20 ms) */
#define BANK_EVENT_LIMIT (1 << 20)   /* events held before new ones are dropped (and counted) */
#define BANK_MSG_SLOTS 256           /* caller-ID messages kept for their events (a ring) */

struct ctid_bank {
    int nchan;
    int stride;
    int law;
    uint64_t time;
    unsigned *mask;
    uint8_t *en[5];                  /* per detector kind: enabled lanes (stride entries) */
    int any[5];                      /* enabled lanes per detector kind */
    float *x;                        /* BANK_CHUNK x stride decoded samples, padding lanes zero */
    ctid_dtmf_rx_t *dtmf;
    ctid_r2mf_rx_t *r2f;
    ctid_r2mf_rx_t *r2b;
    ctid_cpt_rx_t *cpt;
    ctid_fsk_rx_t *fsk;
    ctid_evbuf_t q;
    int head;                        /* first undrained event in q */
    uint8_t msg[BANK_MSG_SLOTS][CTID_CID_MAX_MSG];  /* caller-ID message bytes, copied when the event is made */
    int msg_len[BANK_MSG_SLOTS];
    uint32_t msg_next;               /* id of the next message */
};

enum { K_DTMF, K_R2F, K_R2B, K_CPT, K_CID, K_COUNT };
static const unsigned kind_bit[K_COUNT] = { CTID_DET_DTMF, CTID_DET_R2F, CTID_DET_R2B, CTID_DET_CPT, CTID_DET_CID };

const char *ctid_strerror(int err)
{
    switch (err) {
    case CTID_OK:
        return "ok";
    case CTID_ERR_ARG:
        return "invalid argument";
    case CTID_ERR_SIZE:
        return "buffer size is not a whole number of frames";
    case CTID_ERR_NOMEM:
        return "out of memory";
    case CTID_ERR_CHANNEL:
        return "channel out of range";
    case CTID_ERR_STATE:
        return "detector not configured";
    default:
        return "unknown error";
    }
}

const char *ctid_version(void)
{
    return "ctid-dsp 0.1";
}

void ctid_bank_free(ctid_bank_t *b)
{
    int k;
    if (b == NULL)
        return;
    for (k = 0; k < K_COUNT; k++)
        free(b->en[k]);
    free(b->mask);
    free(b->x);
    free(b->q.ev);
    ctid_dtmf_rx_free(b->dtmf);
    ctid_r2mf_rx_free(b->r2f);
    ctid_r2mf_rx_free(b->r2b);
    ctid_cpt_rx_free(b->cpt);
    ctid_fsk_rx_free(b->fsk);
    free(b);
}

ctid_bank_t *ctid_bank_new(int nchan, int law)
{
    ctid_bank_t *b;
    ctid_r2mf_rx_params_t r2p;
    int k;

    if (nchan <= 0 || nchan > 65536)
        return NULL;
    if (law != CTID_LAW_ALAW && law != CTID_LAW_ULAW && law != CTID_LAW_LINEAR16)
        return NULL;
    b = (ctid_bank_t *) calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->nchan = nchan;
    b->stride = CTID_ROUND_UP_TILE(nchan);
    b->law = law;
    b->mask = (unsigned *) calloc((size_t) nchan, sizeof(unsigned));
    b->x = (float *) calloc((size_t) BANK_CHUNK * b->stride, sizeof(float));
    b->q.limit = BANK_EVENT_LIMIT;
    for (k = 0; k < K_COUNT; k++)
        b->en[k] = (uint8_t *) calloc((size_t) b->stride, 1);
    b->dtmf = ctid_dtmf_rx_new(nchan, NULL);
    ctid_r2mf_rx_defaults(&r2p, 0);
    b->r2f = ctid_r2mf_rx_new(nchan, &r2p);
    ctid_r2mf_rx_defaults(&r2p, 1);
    b->r2b = ctid_r2mf_rx_new(nchan, &r2p);
    b->cpt = ctid_cpt_rx_new(nchan, NULL, NULL, 0);
    b->fsk = ctid_fsk_rx_new(nchan, NULL);
    if (b->mask == NULL || b->x == NULL || b->dtmf == NULL || b->r2f == NULL || b->r2b == NULL
        || b->cpt == NULL || b->fsk == NULL) {
        ctid_bank_free(b);
        return NULL;
    }
    for (k = 0; k < K_COUNT; k++) {
        if (b->en[k] == NULL) {
            ctid_bank_free(b);
            return NULL;
        }
    }
    return b;
}

int ctid_bank_nchan(ctid_bank_t *b)
{
    return b ? b->nchan : CTID_ERR_ARG;
}

static void reset_lane(ctid_bank_t *b, int k, int lane)
{
    switch (k) {
    case K_DTMF:
        ctid_dtmf_rx_reset(b->dtmf, lane);
        break;
    case K_R2F:
        ctid_r2mf_rx_reset(b->r2f, lane);
        break;
    case K_R2B:
        ctid_r2mf_rx_reset(b->r2b, lane);
        break;
    case K_CPT:
        ctid_cpt_rx_reset(b->cpt, lane);
        break;
    case K_CID:
        ctid_fsk_rx_reset(b->fsk, lane);
        break;
    }
}

int ctid_bank_set_mask(ctid_bank_t *b, int channel, unsigned mask)
{
    int k;
    if (b == NULL)
        return CTID_ERR_ARG;
    if (channel < 0 || channel >= b->nchan)
        return CTID_ERR_CHANNEL;
    if (mask & ~(unsigned) (CTID_DET_DTMF | CTID_DET_R2F | CTID_DET_R2B | CTID_DET_CPT | CTID_DET_CID))
        return CTID_ERR_ARG;
    for (k = 0; k < K_COUNT; k++) {
        int on = (mask & kind_bit[k]) != 0;
        if (on && !b->en[k][channel])
            reset_lane(b, k, channel);
        b->any[k] += on - b->en[k][channel];
        b->en[k][channel] = (uint8_t) on;
    }
    b->mask[channel] = mask;
    return CTID_OK;
}

int ctid_bank_get_mask(ctid_bank_t *b, int channel)
{
    if (b == NULL)
        return CTID_ERR_ARG;
    if (channel < 0 || channel >= b->nchan)
        return CTID_ERR_CHANNEL;
    return (int) b->mask[channel];
}

int ctid_bank_set_dtmf_params(ctid_bank_t *b, int channel, const ctid_dtmf_rx_params_t *p)
{
    if (b == NULL || p == NULL)
        return CTID_ERR_ARG;
    if (channel < -1 || channel >= b->nchan)
        return CTID_ERR_CHANNEL;
    return ctid_dtmf_rx_set_params(b->dtmf, channel, p);
}

int ctid_bank_set_r2_params(ctid_bank_t *b, const ctid_r2mf_rx_params_t *p)
{
    ctid_r2mf_rx_t *d;
    if (b == NULL || p == NULL || (p->backward != 0 && p->backward != 1))
        return CTID_ERR_ARG;
    d = ctid_r2mf_rx_new(b->nchan, p);
    if (d == NULL)
        return CTID_ERR_ARG;
    if (p->backward) {
        ctid_r2mf_rx_free(b->r2b);
        b->r2b = d;
    } else {
        ctid_r2mf_rx_free(b->r2f);
        b->r2f = d;
    }
    return CTID_OK;
}

int ctid_bank_set_cpt(ctid_bank_t *b, const ctid_cpt_rx_params_t *p, const ctid_tone_def_t *defs, int ndefs)
{
    ctid_cpt_rx_t *d;
    if (b == NULL || ndefs < 0 || ndefs > CTID_TONE_MAX_DEFS || (ndefs > 0 && defs == NULL))
        return CTID_ERR_ARG;
    d = ctid_cpt_rx_new(b->nchan, p, defs, ndefs);
    if (d == NULL)
        return CTID_ERR_ARG;
    ctid_cpt_rx_free(b->cpt);
    b->cpt = d;
    return CTID_OK;
}

int ctid_bank_set_fsk_params(ctid_bank_t *b, const ctid_fsk_rx_params_t *p)
{
    ctid_fsk_rx_t *d;
    if (b == NULL || p == NULL)
        return CTID_ERR_ARG;
    d = ctid_fsk_rx_new(b->nchan, p);
    if (d == NULL)
        return CTID_ERR_ARG;
    ctid_fsk_rx_free(b->fsk);
    b->fsk = d;
    return CTID_OK;
}

/* G.711 expansion by table look-up (measured faster than computing it with vector shifts on x86-64). */
static void decode_rows(const float *table, const uint8_t *data, int nchan, float *x, int stride, int nframes)
{
    int n, c;
    for (n = 0; n < nframes; n++) {
        const uint8_t *row = data + (size_t) n * nchan;
        float *xr = x + (size_t) n * stride;
        for (c = 0; c < nchan; c++)
            xr[c] = table[row[c]];
    }
}

int ctid_g711_decode_rows(int law, const uint8_t *in, int nchan, float *out, int stride, int nframes)
{
    if (in == NULL || out == NULL || nchan <= 0 || stride < nchan || nframes < 0)
        return CTID_ERR_ARG;
    if (law == CTID_LAW_ALAW)
        decode_rows(ctid_alaw_float_table(), in, nchan, out, stride, nframes);
    else if (law == CTID_LAW_ULAW)
        decode_rows(ctid_ulaw_float_table(), in, nchan, out, stride, nframes);
    else
        return CTID_ERR_ARG;
    return CTID_OK;
}

static void decode_chunk(ctid_bank_t *b, const uint8_t *data, int nframes)
{
    const int nchan = b->nchan, stride = b->stride;
    int n, c;
    if (b->law == CTID_LAW_LINEAR16) {
        for (n = 0; n < nframes; n++) {
            const uint8_t *row = data + (size_t) n * nchan * 2;
            float *xr = b->x + (size_t) n * stride;
            for (c = 0; c < nchan; c++) {
                int16_t v;
                memcpy(&v, row + 2 * c, 2);
                xr[c] = (float) v;
            }
        }
    } else {
        ctid_g711_decode_rows(b->law, data, nchan, b->x, stride, nframes);
    }
}

/* Order the events of one call by time, then channel (detectors append per kind). */
static void sort_new_events(ctid_evbuf_t *q, int from)
{
    int i, j;
    for (i = from + 1; i < q->n; i++) {
        ctid_event_t e = q->ev[i];
        for (j = i - 1; j >= from; j--) {
            const ctid_event_t *p = &q->ev[j];
            if (p->t_sample < e.t_sample || (p->t_sample == e.t_sample && p->channel <= e.channel))
                break;
            q->ev[j + 1] = *p;
        }
        q->ev[j + 1] = e;
    }
}

int ctid_bank_process(ctid_bank_t *b, const uint8_t *data, size_t nbytes)
{
    size_t frame_bytes, nframes, done = 0;
    int first;
    if (b == NULL || (data == NULL && nbytes != 0))
        return CTID_ERR_ARG;
    frame_bytes = (size_t) b->nchan * (b->law == CTID_LAW_LINEAR16 ? 2 : 1);
    if (nbytes % frame_bytes != 0)
        return CTID_ERR_SIZE;
    nframes = nbytes / frame_bytes;
    if (b->head > 0 && b->head == b->q.n) {
        b->head = 0;
        b->q.n = 0;
    }
    first = b->q.n;
    while (done < nframes) {
        int n = (int) (nframes - done < BANK_CHUNK ? nframes - done : BANK_CHUNK);
        decode_chunk(b, data + done * frame_bytes, n);
        if (b->any[K_DTMF])
            ctid_dtmf_rx_process(b->dtmf, b->x, n, b->stride, b->en[K_DTMF], b->time, &b->q);
        if (b->any[K_R2F])
            ctid_r2mf_rx_process(b->r2f, b->x, n, b->stride, b->en[K_R2F], b->time, &b->q);
        if (b->any[K_R2B])
            ctid_r2mf_rx_process(b->r2b, b->x, n, b->stride, b->en[K_R2B], b->time, &b->q);
        if (b->any[K_CPT])
            ctid_cpt_rx_process(b->cpt, b->x, n, b->stride, b->en[K_CPT], b->time, &b->q);
        if (b->any[K_CID]) {
            int i, from = b->q.n;
            ctid_fsk_rx_process(b->fsk, b->x, n, b->stride, b->en[K_CID], b->time, &b->q);
            /* A chunk is 20 ms, shorter than any message, so each lane completes at most one per chunk: copy it
               now and give the event its message id (in `duration`), so later messages cannot replace it. */
            for (i = from; i < b->q.n; i++) {
                ctid_event_t *e = &b->q.ev[i];
                if (e->kind == CTID_EV_CID && e->type == CTID_EVT_MSG) {
                    uint32_t id = b->msg_next++;
                    int slot = (int) (id % BANK_MSG_SLOTS);
                    int len = ctid_fsk_rx_message(b->fsk, (int) e->channel, b->msg[slot], CTID_CID_MAX_MSG);
                    b->msg_len[slot] = len < 0 ? 0 : len;
                    e->duration = (int32_t) (id & 0x7FFFFFFF);
                }
            }
        }
        b->time += (uint64_t) n;
        done += (size_t) n;
    }
    sort_new_events(&b->q, first);
    return b->q.n - b->head;
}

int ctid_bank_events(ctid_bank_t *b, ctid_event_t *out, int max)
{
    int n;
    if (b == NULL || max < 0 || (out == NULL && max > 0))
        return CTID_ERR_ARG;
    n = b->q.n - b->head;
    if (n > max)
        n = max;
    if (n > 0)
        memcpy(out, b->q.ev + b->head, (size_t) n * sizeof(ctid_event_t));
    b->head += n;
    if (b->head == b->q.n) {
        b->head = 0;
        b->q.n = 0;
    }
    return n;
}

int ctid_bank_pending(ctid_bank_t *b)
{
    return b ? b->q.n - b->head : CTID_ERR_ARG;
}

int ctid_bank_dropped(ctid_bank_t *b)
{
    return b ? b->q.dropped : CTID_ERR_ARG;
}

uint64_t ctid_bank_time(ctid_bank_t *b)
{
    return b ? b->time : 0;
}

int ctid_bank_cid_message(ctid_bank_t *b, int channel, uint8_t *buf, int cap)
{
    if (b == NULL || buf == NULL || cap < 0)
        return CTID_ERR_ARG;
    if (channel < 0 || channel >= b->nchan)
        return CTID_ERR_CHANNEL;
    return ctid_fsk_rx_message(b->fsk, channel, buf, cap);
}

int ctid_bank_message(ctid_bank_t *b, int32_t msg_id, uint8_t *buf, int cap)
{
    int slot, len;
    if (b == NULL || buf == NULL || cap < 0 || msg_id < 0)
        return CTID_ERR_ARG;
    /* Only the last BANK_MSG_SLOTS messages are kept. */
    if ((uint32_t) msg_id >= (b->msg_next & 0x7FFFFFFF) || (b->msg_next & 0x7FFFFFFF) - (uint32_t) msg_id > BANK_MSG_SLOTS)
        return CTID_ERR_STATE;
    slot = (int) ((uint32_t) msg_id % BANK_MSG_SLOTS);
    len = b->msg_len[slot] < cap ? b->msg_len[slot] : cap;
    memcpy(buf, b->msg[slot], (size_t) len);
    return len;
}

int ctid_bank_cid_bad_messages(ctid_bank_t *b, int channel)
{
    if (b == NULL)
        return CTID_ERR_ARG;
    if (channel < 0 || channel >= b->nchan)
        return CTID_ERR_CHANNEL;
    return ctid_fsk_rx_bad_messages(b->fsk, channel);
}

void ctid_bank_reset(ctid_bank_t *b, int channel)
{
    int k;
    if (b == NULL || channel < -1 || channel >= b->nchan)
        return;
    for (k = 0; k < K_COUNT; k++)
        reset_lane(b, k, channel);
}
