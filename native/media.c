/*
 * Per-board media state: every channel's playback, tones, recording capture, received energy and conference
 * mixing, advanced by one call per tick (ctid_media_tick) for all channels of a board.
 *
 * Layout: rx and tx blocks are nframes rows of `stride` bytes (A-law), channel c at column c, exactly as a
 * board delivers them (ctid.drivers: [160, nchannels]). The tick
 *   1. measures each channel's received power (row-major, one table lookup per byte),
 *   2. captures received A-law into the ring buffer of every recording channel (max length, silence stop),
 *   3. sums the received linear audio of each conference's talkers,
 *   4. writes every channel's column of tx: the play queue (A-law copied as is: bit-exact), else the tone
 *      generator, else silence (0xD5); conference members that listen hear the sum of the other talkers,
 *      plus their own play/tone if any, re-encoded to A-law,
 * and queues only events (segment done, play done, tone done, record high-water / max / silence / overflow).
 *
 * Play buffers are owned by the caller and must stay valid until the segment's SEG_DONE event, or until
 * ctid_media_play_stop / ctid_media_reset returns. Record buffers are owned here; the caller drains them with
 * ctid_media_record_read. Every entry point validates its arguments and returns a negative CTID_ERR_* code
 * rather than touching memory it was not given.
 */
#include "internal.h"

#define MEDIA_EVENT_LIMIT (1 << 18)

typedef struct {
    const uint8_t *buf;
    int32_t len;
    int32_t pos;
    int32_t id;
    int32_t loop;
} media_seg_t;

/* A cadenced one- or two-frequency tone (the semantics of tone_gen.c: each on-segment starts at phase 0 and is
   phase continuous within itself), generated with a recursive oscillator re-seeded from the phase at every
   chunk: two sin() calls per frequency per chunk instead of one per sample. */
typedef struct {
    int nsegs;
    int32_t seg_len[CTID_TONE_MAX_SEGS];
    int seg;
    int32_t left;
    double amp;
    double inc1, inc2;          /* cycles per sample */
    double ph1, ph2;            /* cycles */
    int dual;
} media_tone_t;

typedef struct {
    /* playback: a ring of segments */
    media_seg_t q[CTID_MEDIA_MAX_QUEUE];
    int qhead;
    int qn;
    /* tone */
    media_tone_t *tone;
    int64_t tone_left;          /* samples still to play; < 0: until stopped */
    int32_t tone_id;
    int32_t fade_len;           /* > 0: the tone is being released over this many samples (no TONE_DONE) */
    int32_t fade_pos;           /* samples of the release generated so far */
    /* record */
    uint8_t *rbuf;
    int32_t rcap;
    int32_t rhead;              /* oldest byte */
    int32_t rn;                 /* bytes buffered */
    int32_t rhigh;              /* high-water mark */
    int high_armed;
    int recording;
    int64_t rmax;               /* samples to capture, 0 = unlimited */
    int64_t rcount;             /* samples captured */
    int64_t sil_need;           /* samples of continuous silence that stop the recording, 0 = never */
    int64_t sil_run;
    float sil_power;            /* mean-square power below which a tick is silent */
    int64_t rdropped;           /* bytes lost to a full buffer */
    /* conference */
    int conf;
    int conf_flags;
    int whisper_to;             /* 1 + the channel that alone hears this one (supervisor whisper), 0 = none */
    /* received power of the last tick (mean square, int16 units) */
    float power;
} media_chan_t;

struct ctid_media {
    int nchan;
    uint64_t time;
    media_chan_t *ch;
    float sq[256];              /* A-law code -> squared linear value */
    int16_t lin[256];           /* A-law code -> linear */
    int32_t *conf_sum;          /* (CTID_MEDIA_MAX_CONF + 1) x CTID_MEDIA_MAX_FRAMES, allocated on first use */
    int conf_used[CTID_MEDIA_MAX_CONF + 1];
    int *wlist;                 /* whispering channels of this tick */
    int nw;
    float *acc;                 /* nchan power accumulators */
    int16_t tmp16[CTID_MEDIA_MAX_FRAMES];
    uint8_t tmp8[CTID_MEDIA_MAX_FRAMES];
    ctid_media_event_t *ev;
    int evn;
    int evcap;
    int evhead;
    int64_t evdropped;
};

static void emit(ctid_media_t *m, uint64_t t, int ch, int type, int32_t value, int32_t aux)
{
    ctid_media_event_t *e;
    if (m->evhead > 0 && m->evhead == m->evn) {    /* everything drained: reuse from the start */
        m->evhead = 0;
        m->evn = 0;
    }
    if (m->evn >= m->evcap) {
        int ncap = m->evcap ? m->evcap * 2 : 256;
        ctid_media_event_t *nev;
        if (ncap > MEDIA_EVENT_LIMIT)
            ncap = MEDIA_EVENT_LIMIT;
        if (ncap <= m->evn) {
            m->evdropped++;
            return;
        }
        nev = (ctid_media_event_t *) realloc(m->ev, (size_t) ncap * sizeof(*nev));
        if (nev == NULL) {
            m->evdropped++;
            return;
        }
        m->ev = nev;
        m->evcap = ncap;
    }
    e = &m->ev[m->evn++];
    e->t_sample = t;
    e->channel = (uint32_t) ch;
    e->type = type;
    e->value = value;
    e->aux = aux;
}

static int chan_ok(const ctid_media_t *m, int ch)
{
    return m != NULL && ch >= 0 && ch < m->nchan;
}

ctid_media_t *ctid_media_new(int nchan)
{
    ctid_media_t *m;
    int i;
    if (nchan <= 0 || nchan > 65536)
        return NULL;
    m = (ctid_media_t *) calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->nchan = nchan;
    m->ch = (media_chan_t *) calloc((size_t) nchan, sizeof(media_chan_t));
    m->acc = (float *) calloc((size_t) nchan, sizeof(float));
    m->wlist = (int *) calloc((size_t) nchan, sizeof(int));
    if (m->ch == NULL || m->acc == NULL || m->wlist == NULL) {
        ctid_media_free(m);
        return NULL;
    }
    for (i = 0; i < 256; i++) {
        int16_t v = ctid_alaw_to_linear((uint8_t) i);
        m->lin[i] = v;
        m->sq[i] = (float) v * (float) v;
    }
    return m;
}

static void tone_clear(media_chan_t *c)
{
    free(c->tone);
    c->tone = NULL;
    c->tone_left = 0;
    c->fade_len = 0;
    c->fade_pos = 0;
}

static void record_clear(media_chan_t *c)
{
    free(c->rbuf);
    c->rbuf = NULL;
    c->rcap = c->rhead = c->rn = 0;
    c->recording = 0;
}

void ctid_media_free(ctid_media_t *m)
{
    int i;
    if (m == NULL)
        return;
    if (m->ch != NULL)
        for (i = 0; i < m->nchan; i++) {
            tone_clear(&m->ch[i]);
            record_clear(&m->ch[i]);
        }
    free(m->ch);
    free(m->acc);
    free(m->wlist);
    free(m->conf_sum);
    free(m->ev);
    free(m);
}

int ctid_media_nchan(ctid_media_t *m)
{
    return m == NULL ? CTID_ERR_ARG : m->nchan;
}

uint64_t ctid_media_time(ctid_media_t *m)
{
    return m == NULL ? 0 : m->time;
}

/* ------------------------------------------------------------------------------------------------ play */

int ctid_media_play(ctid_media_t *m, int ch, const uint8_t *buf, int32_t len, int32_t id, int loop)
{
    media_chan_t *c;
    media_seg_t *s;
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    if (len < 0 || (len > 0 && buf == NULL) || (loop && len == 0))
        return CTID_ERR_ARG;
    c = &m->ch[ch];
    if (c->qn >= CTID_MEDIA_MAX_QUEUE)
        return CTID_ERR_SIZE;
    s = &c->q[(c->qhead + c->qn) % CTID_MEDIA_MAX_QUEUE];
    s->buf = buf;
    s->len = len;
    s->pos = 0;
    s->id = id;
    s->loop = loop ? 1 : 0;
    c->qn++;
    return c->qn;
}

int ctid_media_play_stop(ctid_media_t *m, int ch)
{
    int n;
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    n = m->ch[ch].qn;
    m->ch[ch].qn = 0;
    m->ch[ch].qhead = 0;
    return n;
}

int ctid_media_queued(ctid_media_t *m, int ch)
{
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    return m->ch[ch].qn;
}

/* ------------------------------------------------------------------------------------------------ tones */

int ctid_media_tone(ctid_media_t *m, int ch, const ctid_tone_def_t *def, int32_t duration_ms, int32_t id)
{
    ctid_tone_gen_t *check;
    media_tone_t *g;
    media_chan_t *c;
    int i;
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    if (def == NULL || duration_ms < 0 || duration_ms > 24 * 3600 * 1000)
        return CTID_ERR_ARG;
    check = ctid_tone_gen_new(def);      /* the tone generator's own validation of the definition */
    if (check == NULL)
        return CTID_ERR_ARG;
    ctid_tone_gen_free(check);
    g = (media_tone_t *) calloc(1, sizeof(*g));
    if (g == NULL)
        return CTID_ERR_NOMEM;
    g->nsegs = def->nsegs;
    for (i = 0; i < def->nsegs; i++)
        g->seg_len[i] = def->seg_ms[i] * (CTID_RATE / 1000);
    g->seg = 0;
    g->left = g->nsegs ? g->seg_len[0] : 0;
    g->amp = ctid_dbm0_to_peak(def->level_dbm0);
    g->inc1 = def->freq1 / (double) CTID_RATE;
    g->inc2 = def->freq2 / (double) CTID_RATE;
    g->dual = def->freq2 > 0.0f;
    c = &m->ch[ch];
    tone_clear(c);
    c->tone = g;
    c->tone_left = duration_ms ? (int64_t) duration_ms * (CTID_RATE / 1000) : -1;
    c->tone_id = id;
    return CTID_OK;
}

int ctid_media_tone_stop(ctid_media_t *m, int ch)
{
    int had;
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    had = m->ch[ch].tone != NULL;
    tone_clear(&m->ch[ch]);
    return had;
}

int ctid_media_tone_release(ctid_media_t *m, int ch, int32_t ramp_samples)
{
    media_chan_t *c;
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    if (ramp_samples < 0 || ramp_samples > CTID_MEDIA_MAX_RAMP)
        return CTID_ERR_ARG;
    c = &m->ch[ch];
    if (c->tone == NULL)
        return 0;
    if (ramp_samples == 0 || c->fade_len > 0) {
        if (c->fade_len == 0)
            tone_clear(c);
        return 1;                    /* (a release already under way goes on) */
    }
    if (c->tone_left >= 0 && c->tone_left <= ramp_samples)
        ramp_samples = (int32_t) c->tone_left;
    c->fade_len = ramp_samples;
    c->fade_pos = 0;
    c->tone_left = ramp_samples;
    return 1;
}

/* ------------------------------------------------------------------------------------------------ record */

int ctid_media_record_start(ctid_media_t *m, int ch, int32_t buf_bytes, int32_t high_water, int32_t max_samples,
                            int32_t silence_ms, float silence_dbm0)
{
    media_chan_t *c;
    uint8_t *buf;
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    if (buf_bytes < CTID_MEDIA_MAX_FRAMES || buf_bytes > (64 << 20) || high_water <= 0 || high_water > buf_bytes
        || max_samples < 0 || silence_ms < 0 || silence_ms > 24 * 3600 * 1000 || !isfinite(silence_dbm0)
        || silence_dbm0 > 3.14f || silence_dbm0 < -100.0f)
        return CTID_ERR_ARG;
    buf = (uint8_t *) malloc((size_t) buf_bytes);
    if (buf == NULL)
        return CTID_ERR_NOMEM;
    c = &m->ch[ch];
    record_clear(c);
    c->rbuf = buf;
    c->rcap = buf_bytes;
    c->rhigh = high_water;
    c->high_armed = 1;
    c->recording = 1;
    c->rmax = max_samples;
    c->rcount = 0;
    c->sil_need = (int64_t) silence_ms * (CTID_RATE / 1000);
    c->sil_run = 0;
    c->sil_power = (float) ctid_dbm0_to_power(silence_dbm0);
    c->rdropped = 0;
    return CTID_OK;
}

int ctid_media_record_stop(ctid_media_t *m, int ch)
{
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    m->ch[ch].recording = 0;
    return m->ch[ch].rn;
}

int ctid_media_record_read(ctid_media_t *m, int ch, uint8_t *out, int32_t cap)
{
    media_chan_t *c;
    int32_t n, first;
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    if (cap < 0 || (cap > 0 && out == NULL))
        return CTID_ERR_ARG;
    c = &m->ch[ch];
    if (c->rbuf == NULL)
        return 0;
    n = c->rn < cap ? c->rn : cap;
    if (n <= 0)
        return 0;
    first = c->rcap - c->rhead < n ? c->rcap - c->rhead : n;
    memcpy(out, c->rbuf + c->rhead, (size_t) first);
    memcpy(out + first, c->rbuf, (size_t) (n - first));
    c->rhead = (c->rhead + n) % c->rcap;
    c->rn -= n;
    if (c->rn < c->rhigh)
        c->high_armed = 1;
    return n;
}

int ctid_media_record_pending(ctid_media_t *m, int ch)
{
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    return m->ch[ch].rn;
}

int64_t ctid_media_record_count(ctid_media_t *m, int ch)
{
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    return m->ch[ch].rcount;
}

int64_t ctid_media_record_dropped(ctid_media_t *m, int ch)
{
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    return m->ch[ch].rdropped;
}

int ctid_media_record_release(ctid_media_t *m, int ch)
{
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    record_clear(&m->ch[ch]);
    return CTID_OK;
}

/* ------------------------------------------------------------------------------------------------ conference */

int ctid_media_conf(ctid_media_t *m, int ch, int conf, int flags)
{
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    if (conf < 0 || conf > CTID_MEDIA_MAX_CONF || (flags & ~(CTID_MEDIA_CONF_TALK | CTID_MEDIA_CONF_LISTEN)))
        return CTID_ERR_ARG;
    if (conf > 0 && m->conf_sum == NULL) {
        m->conf_sum = (int32_t *) calloc((size_t) (CTID_MEDIA_MAX_CONF + 1) * CTID_MEDIA_MAX_FRAMES, sizeof(int32_t));
        if (m->conf_sum == NULL)
            return CTID_ERR_NOMEM;
    }
    m->ch[ch].conf = conf;
    m->ch[ch].conf_flags = conf ? flags : 0;
    if (conf == 0)
        m->ch[ch].whisper_to = 0;
    return CTID_OK;
}

int ctid_media_conf_whisper(ctid_media_t *m, int ch, int target)
{
    if (!chan_ok(m, ch))
        return CTID_ERR_CHANNEL;
    if (target < -1 || target >= m->nchan || target == ch)
        return CTID_ERR_ARG;
    if (target >= 0 && m->ch[ch].conf == 0)
        return CTID_ERR_STATE;
    m->ch[ch].whisper_to = target + 1;
    return CTID_OK;
}

/* ------------------------------------------------------------------------------------------------ misc */

void ctid_media_reset(ctid_media_t *m, int ch)
{
    int i, lo, hi;
    if (m == NULL)
        return;
    if (ch < 0) {
        lo = 0;
        hi = m->nchan;
    } else if (ch < m->nchan) {
        lo = ch;
        hi = ch + 1;
    } else {
        return;
    }
    for (i = lo; i < hi; i++) {
        media_chan_t *c = &m->ch[i];
        c->qn = c->qhead = 0;
        tone_clear(c);
        record_clear(c);
        c->conf = c->conf_flags = c->whisper_to = 0;
    }
}

int ctid_media_levels(ctid_media_t *m, float *out, int n)
{
    int i;
    if (m == NULL || out == NULL || n < 0)
        return CTID_ERR_ARG;
    if (n > m->nchan)
        n = m->nchan;
    for (i = 0; i < n; i++)
        out[i] = (float) ctid_power_to_dbm0(m->ch[i].power);
    return n;
}

int ctid_media_events(ctid_media_t *m, ctid_media_event_t *out, int max)
{
    int n;
    if (m == NULL || out == NULL || max < 0)
        return CTID_ERR_ARG;
    n = m->evn - m->evhead;
    if (n > max)
        n = max;
    if (n > 0)
        memcpy(out, m->ev + m->evhead, (size_t) n * sizeof(*out));
    m->evhead += n;
    if (m->evhead == m->evn)
        m->evhead = m->evn = 0;
    return n;
}

int ctid_media_pending(ctid_media_t *m)
{
    return m == NULL ? CTID_ERR_ARG : m->evn - m->evhead;
}

int64_t ctid_media_dropped(ctid_media_t *m)
{
    return m == NULL ? CTID_ERR_ARG : m->evdropped;
}

/* ------------------------------------------------------------------------------------------------ the tick */

/* Fill `out` (n A-law codes) from the channel's play queue; returns how many came from the queue (the rest,
   if the queue ran empty, is left to the caller). Emits SEG_DONE / PLAY_DONE. */
static int play_fill(ctid_media_t *m, int ch, media_chan_t *c, uint8_t *out, int n, uint64_t t0)
{
    int done = 0;
    int guard = 0;
    while (done < n && c->qn > 0) {
        media_seg_t *s = &c->q[c->qhead];
        int32_t k = s->len - s->pos;
        if (k > n - done)
            k = n - done;
        if (k > 0) {
            memcpy(out + done, s->buf + s->pos, (size_t) k);
            s->pos += k;
            done += k;
        }
        if (s->pos >= s->len) {
            if (s->loop && s->len > 0) {
                s->pos = 0;
                if (++guard > 1 << 20)
                    break;
                continue;
            }
            emit(m, t0 + (uint64_t) done, ch, CTID_MEDIA_EV_SEG_DONE, s->id, 0);
            c->qhead = (c->qhead + 1) % CTID_MEDIA_MAX_QUEUE;
            c->qn--;
            if (c->qn == 0) {
                c->qhead = 0;
                emit(m, t0 + (uint64_t) done, ch, CTID_MEDIA_EV_PLAY_DONE, s->id, 0);
            }
        }
    }
    return done;
}

static void osc_add(double *acc, int n, double *ph, double inc)
{
    double w = 2.0 * CTID_PI * inc;
    double th = 2.0 * CTID_PI * *ph;
    double c = 2.0 * cos(w);
    double s0 = sin(th - w), s1 = sin(th);
    int i;
    for (i = 0; i < n; i++) {
        double s2;
        acc[i] += s1;
        s2 = c * s1 - s0;
        s0 = s1;
        s1 = s2;
    }
    *ph += inc * n;
    *ph -= floor(*ph);
}

static void tone_synth(media_tone_t *t, int16_t *out, int n)
{
    double acc[256];
    while (n > 0) {
        int k = n < 256 ? n : 256, i;
        memset(acc, 0, (size_t) k * sizeof(double));
        osc_add(acc, k, &t->ph1, t->inc1);
        if (t->dual)
            osc_add(acc, k, &t->ph2, t->inc2);
        for (i = 0; i < k; i++)
            out[i] = ctid_sat16(t->amp * acc[i]);
        out += k;
        n -= k;
    }
}

static void tone_generate(media_tone_t *t, int16_t *out, int n)
{
    int done = 0;
    if (t->nsegs == 0) {
        tone_synth(t, out, n);
        return;
    }
    while (done < n) {
        int k = n - done < t->left ? n - done : t->left;
        if ((t->seg & 1) == 0)
            tone_synth(t, out + done, k);
        else
            memset(out + done, 0, (size_t) k * sizeof(int16_t));
        done += k;
        t->left -= k;
        if (t->left == 0) {
            t->seg = (t->seg + 1) % t->nsegs;
            t->left = t->seg_len[t->seg];
            if ((t->seg & 1) == 0)
                t->ph1 = t->ph2 = 0.0;
        }
    }
}

/* Generate up to n samples of the channel's tone into lin; returns how many (the tone may end mid-block). */
static int tone_fill(ctid_media_t *m, int ch, media_chan_t *c, int16_t *lin, int n, uint64_t t0)
{
    int k = n;
    if (c->tone_left >= 0 && c->tone_left < k)
        k = (int) c->tone_left;
    if (k > 0)
        tone_generate(c->tone, lin, k);
    if (c->fade_len > 0) {
        /* release: a raised-cosine fade from full amplitude to zero over fade_len samples */
        int i;
        for (i = 0; i < k; i++) {
            double g = 0.5 + 0.5 * cos(CTID_PI * (double) (c->fade_pos + 1 + i) / (double) (c->fade_len + 1));
            lin[i] = (int16_t) lrint(lin[i] * g);
        }
        c->fade_pos += k;
    }
    if (c->tone_left >= 0) {
        c->tone_left -= k;
        if (c->tone_left == 0) {
            if (c->fade_len == 0)
                emit(m, t0 + (uint64_t) k, ch, CTID_MEDIA_EV_TONE_DONE, c->tone_id, 0);
            tone_clear(c);
        }
    }
    return k;
}

static void record_capture(ctid_media_t *m, int ch, media_chan_t *c, const uint8_t *rx, int nframes, int stride,
                           uint64_t t0)
{
    int n = nframes, i, lost = 0;
    int64_t want;
    if (c->rmax > 0) {
        want = c->rmax - c->rcount;
        if (want < n)
            n = (int) want;
    }
    if (n > c->rcap - c->rn) {
        lost = n - (c->rcap - c->rn);
    }
    {
        int k = n - lost;
        int32_t w = c->rhead + c->rn;
        const uint8_t *src = rx + ch;
        if (w >= c->rcap)
            w -= c->rcap;
        for (i = 0; i < k; i++) {
            c->rbuf[w] = src[(size_t) i * stride];
            if (++w == c->rcap)
                w = 0;
        }
        c->rn += k;
    }
    c->rcount += n - lost;
    if (lost) {
        c->rdropped += lost;
        emit(m, t0 + (uint64_t) (n - lost), ch, CTID_MEDIA_EV_REC_OVERFLOW, lost, c->rn);
    }
    if (c->high_armed && c->rn >= c->rhigh) {
        c->high_armed = 0;
        emit(m, t0 + (uint64_t) n, ch, CTID_MEDIA_EV_REC_HIGH, c->rn, 0);
    }
    if (c->rmax > 0 && c->rcount >= c->rmax) {
        c->recording = 0;
        emit(m, t0 + (uint64_t) n, ch, CTID_MEDIA_EV_REC_MAX, (int32_t) c->rcount, c->rn);
        return;
    }
    if (c->sil_need > 0) {
        if (c->power < c->sil_power)
            c->sil_run += nframes;
        else
            c->sil_run = 0;
        if (c->sil_run >= c->sil_need) {
            c->recording = 0;
            emit(m, t0 + (uint64_t) nframes, ch, CTID_MEDIA_EV_REC_SILENCE, (int32_t) c->rcount, c->rn);
        }
    }
}

CTID_HOT
static void measure(ctid_media_t *m, const uint8_t *rx, int nframes, int stride)
{
    int n, i, nc = m->nchan;
    float *acc = m->acc;
    float inv = 1.0f / (float) nframes;
    memset(acc, 0, (size_t) nc * sizeof(float));
    for (n = 0; n < nframes; n++) {
        const uint8_t *row = rx + (size_t) n * stride;
        for (i = 0; i < nc; i++)
            acc[i] += m->sq[row[i]];
    }
    for (i = 0; i < nc; i++)
        m->ch[i].power = acc[i] * inv;
}

int ctid_media_tick(ctid_media_t *m, const uint8_t *rx, uint8_t *tx, int nframes, int stride)
{
    int i, n, nc;
    uint64_t t0;
    if (m == NULL || rx == NULL || tx == NULL)
        return CTID_ERR_ARG;
    if (nframes <= 0 || nframes > CTID_MEDIA_MAX_FRAMES || stride < m->nchan)
        return CTID_ERR_SIZE;
    nc = m->nchan;
    t0 = m->time;

    /* 1. received power */
    measure(m, rx, nframes, stride);

    /* 2. capture, 3. conference sums */
    if (m->conf_sum != NULL)
        memset(m->conf_used, 0, sizeof(m->conf_used));
    m->nw = 0;
    for (i = 0; i < nc; i++) {
        media_chan_t *c = &m->ch[i];
        if (c->whisper_to > 0 && c->conf > 0)
            m->wlist[m->nw++] = i;
        if (c->recording && c->rbuf != NULL)
            record_capture(m, i, c, rx, nframes, stride, t0);
        if (c->conf > 0 && (c->conf_flags & CTID_MEDIA_CONF_TALK) && m->conf_sum != NULL) {
            int32_t *sum = m->conf_sum + (size_t) c->conf * CTID_MEDIA_MAX_FRAMES;
            if (!m->conf_used[c->conf]) {
                memset(sum, 0, (size_t) nframes * sizeof(int32_t));
                m->conf_used[c->conf] = 1;
            }
            for (n = 0; n < nframes; n++)
                sum[n] += m->lin[rx[(size_t) n * stride + i]];
        }
    }

    /* 4. transmit */
    for (n = 0; n < nframes; n++)
        memset(tx + (size_t) n * stride, 0xD5, (size_t) nc);
    for (i = 0; i < nc; i++) {
        media_chan_t *c = &m->ch[i];
        int in_conf = c->conf > 0 && (c->conf_flags & CTID_MEDIA_CONF_LISTEN) && m->conf_sum != NULL;
        int got = 0;
        if (c->qn == 0 && c->tone == NULL && !in_conf)
            continue;
        if (c->qn > 0) {
            got = play_fill(m, i, c, m->tmp8, nframes, t0);
            if (in_conf)
                for (n = 0; n < got; n++)
                    m->tmp16[n] = m->lin[m->tmp8[n]];
        }
        if (got < nframes && c->tone != NULL) {
            int k = tone_fill(m, i, c, m->tmp16 + got, nframes - got, t0 + (uint64_t) got);
            if (!in_conf)
                ctid_alaw_encode(m->tmp16 + got, m->tmp8 + got, (size_t) k);
            got += k;
        }
        if (in_conf) {
            const int32_t *sum = m->conf_used[c->conf] ? m->conf_sum + (size_t) c->conf * CTID_MEDIA_MAX_FRAMES : NULL;
            int talk = (c->conf_flags & CTID_MEDIA_CONF_TALK) != 0;
            int k, nwh = 0, wh[8];
            for (k = 0; k < m->nw && nwh < 8; k++) {
                const media_chan_t *w = &m->ch[m->wlist[k]];
                if (w->whisper_to == i + 1 && w->conf == c->conf)
                    wh[nwh++] = m->wlist[k];
            }
            for (n = 0; n < nframes; n++) {
                int32_t v = n < got ? m->tmp16[n] : 0;
                const uint8_t *row = rx + (size_t) n * stride;
                if (sum != NULL)
                    v += sum[n] - (talk ? m->lin[row[i]] : 0);
                for (k = 0; k < nwh; k++)
                    v += m->lin[row[wh[k]]];
                m->tmp16[n] = (int16_t) (v > 32767 ? 32767 : v < -32768 ? -32768 : v);
            }
            ctid_alaw_encode(m->tmp16, m->tmp8, (size_t) nframes);
            for (n = 0; n < nframes; n++)
                tx[(size_t) n * stride + i] = m->tmp8[n];
        } else {
            for (n = 0; n < got; n++)
                tx[(size_t) n * stride + i] = m->tmp8[n];
        }
    }
    m->time += (uint64_t) nframes;
    return m->evn - m->evhead;
}
