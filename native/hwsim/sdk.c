/*
 * hwsim SDK core: errors, the world, boards, spans, blocks, ABCD, HDLC, H.100-style switching and the
 * per-board event queue. The per-block pipeline is in world.c, cables and line faults in cable.c, the
 * analogue far ends in analog.c, pcap capture in capture.c.
 *
 * Every entry point validates its arguments and returns a HWSIM_ERR_* code with a detailed message in
 * hwsim_last_error() (a thread-local buffer); nothing here aborts the process on bad input.
 *
 * Threads: the event queue (hwsim_get_event, hwsim_event_fd) may be drained from another thread than the
 * one that ticks the world; every other call must be serialised with hwsim_world_tick by the caller, as
 * with a vendor SDK's single "board thread".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "hwsim_internal.h"

static __thread char last_error[512];

const char *hwsim_strerror(int err)
{
    switch (err) {
    case HWSIM_OK:
        return "ok";
    case HWSIM_ERR_ARG:
        return "invalid argument";
    case HWSIM_ERR_BOARD:
        return "unknown board id";
    case HWSIM_ERR_SPAN:
        return "span out of range";
    case HWSIM_ERR_CHANNEL:
        return "timeslot, port or channel out of range";
    case HWSIM_ERR_SIZE:
        return "wrong size";
    case HWSIM_ERR_PEER:
        return "cable peer missing";
    case HWSIM_ERR_STATE:
        return "wrong state";
    case HWSIM_ERR_AGAIN:
        return "nothing to read now";
    case HWSIM_ERR_NOMEM:
        return "out of memory";
    case HWSIM_ERR_IO:
        return "socket or file error";
    case HWSIM_ERR_DEAD:
        return "board does not answer";
    default:
        return "unknown error";
    }
}

const char *hwsim_last_error(void)
{
    return last_error;
}

int hwsim_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return code;
}

/* ---------------------------------------------------------------- PRNG (xoshiro256**, splitmix64 seeding) */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void hwsim_rng_seed(hwsim_rng_t *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t hwsim_rng_next(hwsim_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hwsim_rng_uniform(hwsim_rng_t *r)
{
    return ((hwsim_rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* ---------------------------------------------------------------- events */

void hwsim_emit(hwsim_board_t *b, int type, int span, int channel, int value, uint64_t t)
{
    hwsim_event_t ev = { t, b->id, type, span, channel, value };
    pthread_mutex_lock(&b->evlock);
    int was_empty = b->evcount == 0 && b->evdropped == 0;
    if (b->evdropped > 0) {
        /* Events were lost earlier: the OVERRUN goes in first, in order, once there is room for both. */
        if (b->evcount <= HWSIM_EVENT_QUEUE - 2) {
            hwsim_event_t ov = { t, b->id, HWSIM_EV_OVERRUN, -1, -1, b->evdropped };
            b->evq[(b->evhead + b->evcount++) % HWSIM_EVENT_QUEUE] = ov;
            b->evdropped = 0;
            b->evq[(b->evhead + b->evcount++) % HWSIM_EVENT_QUEUE] = ev;
        } else {
            b->evdropped++;
        }
    } else if (b->evcount == HWSIM_EVENT_QUEUE) {
        b->evdropped++;
    } else {
        b->evq[(b->evhead + b->evcount++) % HWSIM_EVENT_QUEUE] = ev;
    }
    if (was_empty && b->efd >= 0) {
        uint64_t one = 1;
        ssize_t r = write(b->efd, &one, sizeof(one));
        (void) r;
    }
    pthread_mutex_unlock(&b->evlock);
}

int hwsim_board_check(hwsim_board_t *b)
{
    if (b == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "board handle is NULL");
    if (b->magic != HWSIM_BOARD_MAGIC)
        return hwsim_err(HWSIM_ERR_ARG, "not a hwsim board handle (freed world?)");
    if (b->dead)
        return hwsim_err(HWSIM_ERR_DEAD, "board %d does not answer (fault_dead)", b->id);
    return HWSIM_OK;
}

int hwsim_event_fd(hwsim_board_t *b)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    return b->efd;
}

int hwsim_get_event(hwsim_board_t *b, hwsim_event_t *ev)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    if (ev == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_get_event: event pointer is NULL");
    int got = 0;
    pthread_mutex_lock(&b->evlock);
    if (b->evcount > 0) {
        *ev = b->evq[b->evhead];
        b->evhead = (b->evhead + 1) % HWSIM_EVENT_QUEUE;
        b->evcount--;
        got = 1;
    } else if (b->evdropped > 0) {
        hwsim_event_t ov = { b->world->time, b->id, HWSIM_EV_OVERRUN, -1, -1, b->evdropped };
        *ev = ov;
        b->evdropped = 0;
        got = 1;
    }
    if (b->evcount == 0 && b->evdropped == 0) {
        /* Nothing pending: reset the eventfd counter so the fd stops being readable. */
        uint64_t v;
        ssize_t rr = read(b->efd, &v, sizeof(v));
        (void) rr;
    }
    pthread_mutex_unlock(&b->evlock);
    return got;
}

/* ---------------------------------------------------------------- world */

hwsim_world_t *hwsim_world_new(uint64_t seed)
{
    hwsim_world_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        hwsim_err(HWSIM_ERR_NOMEM, "hwsim_world_new: out of memory");
        return NULL;
    }
    w->seed = seed;
    w->sock_timeout_ms = 10000;
    const char *env = getenv("HWSIM_SOCKET_TIMEOUT_MS");
    if (env != NULL && atoi(env) > 0)
        w->sock_timeout_ms = atoi(env);
    return w;
}

hwsim_board_t *hwsim_find_board(hwsim_world_t *w, int id)
{
    for (int i = 0; i < w->nboards; i++)
        if (w->boards[i]->id == id)
            return w->boards[i];
    return NULL;
}

static void board_ids(hwsim_world_t *w, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = 0;
    for (int i = 0; i < w->nboards && n + 12 < cap; i++)
        n += (size_t) snprintf(out + n, cap - n, "%s%d", i ? ", " : "", w->boards[i]->id);
    if (w->nboards == 0)
        snprintf(out, cap, "none");
}

int hwsim_world_board(hwsim_world_t *w, int id, hwsim_board_t **out)
{
    if (w == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "world is NULL");
    hwsim_board_t *b = hwsim_find_board(w, id);
    if (b == NULL) {
        char ids[200];
        board_ids(w, ids, sizeof(ids));
        return hwsim_err(HWSIM_ERR_BOARD, "board %d: no such board in this world (boards: %s)", id, ids);
    }
    *out = b;
    return HWSIM_OK;
}

int hwsim_world_span(hwsim_world_t *w, int board, int span, hwsim_span_t **out)
{
    hwsim_board_t *b;
    int r = hwsim_world_board(w, board, &b);
    if (r < 0)
        return r;
    if (span < 0 || span >= b->nspans)
        return hwsim_err(HWSIM_ERR_SPAN, "board %d span %d: out of range (the board has %d span%s)", board, span,
                         b->nspans, b->nspans == 1 ? "" : "s");
    *out = b->spans[span];
    return HWSIM_OK;
}

uint64_t hwsim_world_time(hwsim_world_t *w)
{
    return w ? w->time : 0;
}

void hwsim_hdlc_chan_free(hwsim_hdlc_chan_t *c)
{
    free(c);
}

static void span_free(hwsim_span_t *sp)
{
    if (sp == NULL)
        return;
    hwsim_cable_detach(sp, 0);
    for (int t = 0; t < HWSIM_E1_SLOTS; t++)
        hwsim_hdlc_chan_free(sp->hdlc[t]);
    free(sp);
}

static void board_free(hwsim_board_t *b)
{
    for (int s = 0; s < b->nspans; s++)
        span_free(b->spans[s]);
    if (b->ports) {
        for (int p = 0; p < b->nports; p++)
            hwsim_port_free(&b->ports[p]);
        free(b->ports);
    }
    free(b->tx_block);
    free(b->txp);
    free(b->rx_block);
    free(b->routes);
    free(b->chf);
    if (b->efd >= 0)
        close(b->efd);
    pthread_mutex_destroy(&b->evlock);
    b->magic = 0;
    free(b);
}

void hwsim_world_free(hwsim_world_t *w)
{
    if (w == NULL)
        return;
    hwsim_capture_close_all(w);
    /* Detach every cable first so no span points at a freed one. */
    for (int i = 0; i < w->nboards; i++)
        for (int s = 0; s < w->boards[i]->nspans; s++)
            hwsim_cable_detach(w->boards[i]->spans[s], 0);
    for (int i = 0; i < w->nboards; i++)
        board_free(w->boards[i]);
    free(w);
}

/* ---------------------------------------------------------------- spans: line layer glue */

/* World time of the frame the receive framer is working on: the chunk's first frame plus the aligned frames
   it has assembled since (exact for ABCD and HDLC, found on aligned frames; alarms found while out of
   alignment get the chunk's first frame, within HWSIM_RX_CHUNK frames). */
static uint64_t span_rx_time(const hwsim_span_t *sp)
{
    uint32_t done = sp->rx.frame - sp->rx_frame0;
    if (done > (uint32_t) HWSIM_RX_CHUNK)   /* the counter restarted on a realignment within the chunk */
        done = 0;
    return sp->board->world->time + (uint64_t) sp->rx_chunk + done;
}

static void span_on_alarm(void *user, int alarms)
{
    hwsim_span_t *sp = user;
    if (alarms == sp->alarms)
        return;
    sp->alarms = alarms;
    for (int t = 0; t < HWSIM_E1_SLOTS; t++)
        if (sp->hdlc[t])
            sp->hdlc[t]->last_len = 0;         /* the filter starts again after a change of alarms */
    hwsim_emit(sp->board, HWSIM_EV_ALARM, sp->index, -1, alarms, span_rx_time(sp));
}

static void span_on_abcd(void *user, int ts, int abcd)
{
    hwsim_span_t *sp = user;
    hwsim_emit(sp->board, HWSIM_EV_ABCD, sp->index, ts, abcd & 15, span_rx_time(sp));
}

static void hdlc_on_frame(void *user, const uint8_t *frame, int len, int status)
{
    hwsim_hdlc_chan_t *c = user;
    hwsim_span_t *sp = c->span;
    uint64_t t = span_rx_time(sp);
    switch (status) {
    case LINE_HDLC_GOOD:
        if (len <= 0 || len > LINE_HDLC_MAX) {
            c->bad_length++;
            c->last_len = 0;
            return;
        }
        c->good++;
        hwsim_capture_frame(sp, c->ts, frame, len, t);
        if (c->filter) {
            if (len <= HWSIM_HDLC_FILTER_MAX_LEN && len == c->last_len && memcmp(frame, c->last, (size_t) len) == 0) {
                if (c->last_run >= HWSIM_HDLC_FILTER_DELIVER) {
                    c->filtered++;
                    return;
                }
                c->last_run++;
            } else if (len <= HWSIM_HDLC_FILTER_MAX_LEN) {
                memcpy(c->last, frame, (size_t) len);
                c->last_len = len;
                c->last_run = 1;
            } else {
                c->last_len = 0;
            }
        }
        if (c->qcount == HWSIM_HDLC_RXQ) {
            c->dropped++;
            return;
        }
        {
            int i = (c->qhead + c->qcount) % HWSIM_HDLC_RXQ;
            memcpy(c->q[i], frame, (size_t) len);
            c->qlen[i] = len;
            c->qcount++;
        }
        /* One event when the queue becomes non-empty: the application drains until ERR_AGAIN. */
        if (c->qcount == 1)
            hwsim_emit(sp->board, HWSIM_EV_HDLC, sp->index, c->ts, len, t);
        break;
    case LINE_HDLC_BAD_FCS:
        c->bad_fcs++;
        c->last_len = 0;
        break;
    case LINE_HDLC_ABORT:
        c->aborts++;
        c->last_len = 0;
        break;
    default:
        c->bad_length++;
        c->last_len = 0;
        break;
    }
}

hwsim_hdlc_chan_t *hwsim_hdlc_chan_new(hwsim_span_t *sp, int ts)
{
    hwsim_hdlc_chan_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->span = sp;
    c->ts = ts;
    line_hdlc_tx_init(&c->tx);
    line_hdlc_rx_init(&c->rx, hdlc_on_frame, c);
    return c;
}

static int line_ts16(int ts16)
{
    return ts16 == HWSIM_TS16_CCS ? LINE_TS16_CCS : ts16 == HWSIM_TS16_CLEAR ? LINE_TS16_CLEAR : LINE_TS16_CAS;
}

/* (Re)program the span's framer from its configuration, keeping the ABCD bits the application set and
   re-attaching the HDLC controllers. As on a real framer, reprogramming restarts alignment. */
static void span_setup_line(hwsim_span_t *sp, const uint8_t *abcd_keep)
{
    line_e1_tx_init(&sp->tx, sp->cfg.crc4, line_ts16(sp->cfg.ts16));
    line_e1_rx_init(&sp->rx, sp->cfg.crc4, line_ts16(sp->cfg.ts16));
    if (abcd_keep)
        memcpy(sp->tx.abcd, abcd_keep, sizeof(sp->tx.abcd));
    sp->rx.on_abcd = span_on_abcd;
    sp->rx.on_alarm = span_on_alarm;
    sp->rx.user = sp;
    for (int t = 0; t < HWSIM_E1_SLOTS; t++) {
        sp->tx.hdlc[t] = sp->hdlc[t] ? &sp->hdlc[t]->tx : NULL;
        sp->rx.hdlc[t] = sp->hdlc[t] ? &sp->hdlc[t]->rx : NULL;
    }
    sp->alarms = sp->rx.alarms;
    sp->es_level = 0;
}

static int check_span(hwsim_board_t *b, int span)
{
    if (span < 0 || span >= b->nspans)
        return hwsim_err(HWSIM_ERR_SPAN, "board %d span %d: out of range (the board has %d span%s)", b->id, span,
                         b->nspans, b->nspans == 1 ? "" : "s");
    return HWSIM_OK;
}

/* ---------------------------------------------------------------- boards */

int hwsim_board_create(hwsim_world_t *w, int board_id, int nspans, int nports, const int *port_kinds)
{
    if (w == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_board_create: world is NULL");
    if (board_id < 0)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_board_create: board id %d is negative", board_id);
    if (hwsim_find_board(w, board_id))
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_board_create: board %d already exists", board_id);
    if (w->nboards >= HWSIM_MAX_BOARDS)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_board_create: the world already has %d boards (the maximum)",
                         HWSIM_MAX_BOARDS);
    if (nspans < 0 || nspans > HWSIM_MAX_SPANS)
        return hwsim_err(HWSIM_ERR_SPAN, "hwsim_board_create: %d spans (0..%d allowed)", nspans, HWSIM_MAX_SPANS);
    if (nports < 0 || nports > HWSIM_MAX_PORTS)
        return hwsim_err(HWSIM_ERR_CHANNEL, "hwsim_board_create: %d ports (0..%d allowed)", nports, HWSIM_MAX_PORTS);
    if (nspans + nports == 0)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_board_create: a board needs at least one span or port");
    if (nports > 0 && port_kinds == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_board_create: %d ports but port_kinds is NULL", nports);
    for (int p = 0; p < nports; p++)
        if (port_kinds[p] != HWSIM_PORT_FXS && port_kinds[p] != HWSIM_PORT_FXO)
            return hwsim_err(HWSIM_ERR_ARG, "hwsim_board_create: port %d kind %d is neither FXS (%d) nor FXO (%d)", p,
                             port_kinds[p], HWSIM_PORT_FXS, HWSIM_PORT_FXO);

    hwsim_board_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return hwsim_err(HWSIM_ERR_NOMEM, "hwsim_board_create: out of memory");
    b->magic = HWSIM_BOARD_MAGIC;
    b->world = w;
    b->id = board_id;
    b->nspans = nspans;
    b->nports = nports;
    b->nch = nspans * HWSIM_E1_SLOTS + nports;
    b->efd = -1;
    pthread_mutex_init(&b->evlock, NULL);
    {
        uint64_t x = w->seed ^ ((uint64_t) board_id << 32);
        snprintf(b->serial, sizeof(b->serial), "HWS%02d%02d-%08llX", nspans, nports,
                 (unsigned long long) (splitmix64(&x) & 0xFFFFFFFFull));
    }
    size_t blk = (size_t) HWSIM_BLOCK_FRAMES * (size_t) b->nch;
    b->tx_block = malloc(blk);
    b->txp = malloc(blk);
    b->rx_block = malloc(blk);
    b->routes = calloc((size_t) b->nch, sizeof(hwsim_route_t));
    b->chf = calloc((size_t) b->nch, sizeof(hwsim_chfault_t));
    b->ports = nports ? calloc((size_t) nports, sizeof(hwsim_port_t)) : NULL;
    b->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int bad = !b->tx_block || !b->txp || !b->rx_block || !b->routes || !b->chf || (nports && !b->ports);
    if (b->efd < 0) {
        int e = errno;
        b->nspans = 0;
        b->nports = 0;
        board_free(b);
        return hwsim_err(HWSIM_ERR_IO, "hwsim_board_create: eventfd: %s", strerror(e));
    }
    if (!bad) {
        memset(b->tx_block, HWSIM_IDLE_ALAW, blk);
        /* Nothing received yet: all ones on the spans (no alignment), silence on the ports. */
        memset(b->rx_block, 0xFF, blk);
        for (int f = 0; f < HWSIM_BLOCK_FRAMES; f++)
            memset(b->rx_block + (size_t) f * (size_t) b->nch + nspans * HWSIM_E1_SLOTS, HWSIM_IDLE_ALAW,
                   (size_t) nports);
    }
    hwsim_rng_seed(&b->noise_rng, w->seed, 0x4E015Eull + (uint64_t) board_id);
    for (int s = 0; s < nspans && !bad; s++) {
        hwsim_span_t *sp = calloc(1, sizeof(*sp));
        b->spans[s] = sp;
        if (sp == NULL) {
            bad = 1;
            break;
        }
        sp->board = b;
        sp->index = s;
        sp->cfg.crc4 = 0;                 /* default: CRC-4 off, TS16 CAS (China No.1) */
        sp->cfg.ts16 = HWSIM_TS16_CAS;
        hwsim_rng_seed(&sp->imp.rng, w->seed, ((uint64_t) board_id << 8) | (uint64_t) s);
        span_setup_line(sp, NULL);
    }
    for (int p = 0; p < nports && !bad; p++)
        if (hwsim_port_init(&b->ports[p], port_kinds[p], p) < 0)
            bad = 1;
    if (bad) {
        board_free(b);
        return hwsim_err(HWSIM_ERR_NOMEM, "hwsim_board_create: out of memory");
    }
    w->boards[w->nboards++] = b;
    return HWSIM_OK;
}

hwsim_board_t *hwsim_board_open(hwsim_world_t *w, int board_id)
{
    hwsim_board_t *b;
    if (hwsim_world_board(w, board_id, &b) < 0)
        return NULL;
    return b;
}

int hwsim_board_info(hwsim_board_t *b, hwsim_board_info_t *info)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    if (info == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_board_info: info is NULL");
    memset(info, 0, sizeof(*info));
    info->board_id = b->id;
    info->nspans = b->nspans;
    info->nports = b->nports;
    for (int p = 0; p < b->nports; p++)
        info->port_kind[p] = b->ports[p].kind;
    snprintf(info->serial, sizeof(info->serial), "%s", b->serial);
    return HWSIM_OK;
}

int hwsim_board_start(hwsim_board_t *b)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    b->started = 1;
    return HWSIM_OK;
}

int hwsim_board_stop(hwsim_board_t *b)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    b->started = 0;
    return HWSIM_OK;
}

int hwsim_board_nchannels(hwsim_board_t *b)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    return b->nch;
}

int hwsim_span_configure(hwsim_board_t *b, int span, const hwsim_span_config_t *cfg)
{
    int r = hwsim_board_check(b);
    if (r < 0 || (r = check_span(b, span)) < 0)
        return r;
    if (cfg == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_span_configure: config is NULL");
    if (cfg->crc4 != 0 && cfg->crc4 != 1)
        return hwsim_err(HWSIM_ERR_ARG, "board %d span %d: crc4 must be 0 or 1, not %d", b->id, span, cfg->crc4);
    if (cfg->ts16 != HWSIM_TS16_CAS && cfg->ts16 != HWSIM_TS16_CCS && cfg->ts16 != HWSIM_TS16_CLEAR)
        return hwsim_err(HWSIM_ERR_ARG, "board %d span %d: ts16 mode %d is not CAS (1), CCS (2) or CLEAR (3)", b->id,
                         span, cfg->ts16);
    hwsim_span_t *sp = b->spans[span];
    int old = sp->cfg.ts16;
    if (cfg->ts16 == HWSIM_TS16_CCS && sp->hdlc[16] == NULL) {
        sp->hdlc[16] = hwsim_hdlc_chan_new(sp, 16);
        if (sp->hdlc[16] == NULL)
            return hwsim_err(HWSIM_ERR_NOMEM, "board %d span %d: out of memory for the TS16 HDLC link", b->id, span);
    } else if (cfg->ts16 == HWSIM_TS16_CAS || (cfg->ts16 == HWSIM_TS16_CLEAR && old == HWSIM_TS16_CCS)) {
        hwsim_hdlc_chan_free(sp->hdlc[16]);
        sp->hdlc[16] = NULL;
    }
    uint8_t keep[32];
    memcpy(keep, sp->tx.abcd, sizeof(keep));
    sp->cfg = *cfg;
    span_setup_line(sp, keep);
    return HWSIM_OK;
}

int hwsim_span_status(hwsim_board_t *b, int span, hwsim_span_status_t *st)
{
    int r = hwsim_board_check(b);
    if (r < 0 || (r = check_span(b, span)) < 0)
        return r;
    if (st == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_span_status: status is NULL");
    hwsim_span_t *sp = b->spans[span];
    memset(st, 0, sizeof(*st));
    st->alarms = sp->rx.alarms;
    st->crc_errors = sp->rx.crc_errors;
    st->fas_errors = sp->rx.fas_errors;
    st->slips = sp->rx_slips;
    for (int t = 0; t < HWSIM_E1_SLOTS; t++) {
        hwsim_hdlc_chan_t *c = sp->hdlc[t];
        if (c == NULL)
            continue;
        st->hdlc_good += c->good;
        st->hdlc_bad_fcs += c->bad_fcs + c->bad_length;   /* length violations are bad frames too */
        st->hdlc_aborts += c->aborts;
        st->hdlc_filtered += c->filtered;
    }
    st->bit_errors_injected = sp->imp.bit_errors;
    return HWSIM_OK;
}

/* ---------------------------------------------------------------- blocks */

static int check_block(hwsim_board_t *b, const void *buf, size_t len, const char *what)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    if (buf == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "%s: buffer is NULL", what);
    size_t want = (size_t) HWSIM_BLOCK_FRAMES * (size_t) b->nch;
    if (len != want)
        return hwsim_err(HWSIM_ERR_SIZE,
                         "%s: board %d block of %zu bytes, expected exactly %zu (%d frames x %d channels: %d spans x 32 "
                         "timeslots + %d ports)",
                         what, b->id, len, want, HWSIM_BLOCK_FRAMES, b->nch, b->nspans, b->nports);
    if (!b->started)
        return hwsim_err(HWSIM_ERR_STATE, "%s: board %d is not started", what, b->id);
    return HWSIM_OK;
}

int hwsim_read_block(hwsim_board_t *b, uint8_t *buf, size_t len)
{
    int r = check_block(b, buf, len, "hwsim_read_block");
    if (r < 0)
        return r;
    memcpy(buf, b->rx_block, len);
    return HWSIM_OK;
}

int hwsim_write_block(hwsim_board_t *b, const uint8_t *buf, size_t len)
{
    int r = check_block(b, buf, len, "hwsim_write_block");
    if (r < 0)
        return r;
    memcpy(b->tx_block, buf, len);
    b->tx_written = 1;
    return HWSIM_OK;
}

/* ---------------------------------------------------------------- CAS */

static int check_cas(hwsim_board_t *b, int span, int ts, const char *what)
{
    int r = hwsim_board_check(b);
    if (r < 0 || (r = check_span(b, span)) < 0)
        return r;
    if (ts < 1 || ts > 31 || ts == 16)
        return hwsim_err(HWSIM_ERR_CHANNEL, "%s: board %d span %d timeslot %d: CAS channels are timeslots 1..15 and 17..31",
                         what, b->id, span, ts);
    if (b->spans[span]->cfg.ts16 != HWSIM_TS16_CAS)
        return hwsim_err(HWSIM_ERR_STATE, "%s: board %d span %d: TS16 is not in CAS mode", what, b->id, span);
    return HWSIM_OK;
}

int hwsim_set_abcd(hwsim_board_t *b, int span, int timeslot, int abcd)
{
    int r = check_cas(b, span, timeslot, "hwsim_set_abcd");
    if (r < 0)
        return r;
    if (abcd < 0 || abcd > 15)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_set_abcd: abcd %d is not 0..15", abcd);
    b->spans[span]->tx.abcd[timeslot] = (uint8_t) abcd;
    return HWSIM_OK;
}

int hwsim_get_abcd(hwsim_board_t *b, int span, int timeslot)
{
    int r = check_cas(b, span, timeslot, "hwsim_get_abcd");
    if (r < 0)
        return r;
    int v = b->spans[span]->rx.abcd[timeslot];
    if (v > 15)
        return hwsim_err(HWSIM_ERR_AGAIN, "hwsim_get_abcd: board %d span %d timeslot %d: no ABCD received yet", b->id,
                         span, timeslot);
    return v;
}

/* ---------------------------------------------------------------- HDLC */

static int check_hdlc(hwsim_board_t *b, int span, int ts, const char *what, hwsim_hdlc_chan_t **out)
{
    int r = hwsim_board_check(b);
    if (r < 0 || (r = check_span(b, span)) < 0)
        return r;
    if (ts < 1 || ts > 31)
        return hwsim_err(HWSIM_ERR_CHANNEL, "%s: board %d span %d timeslot %d: HDLC runs on timeslots 1..31", what,
                         b->id, span, ts);
    hwsim_hdlc_chan_t *c = b->spans[span]->hdlc[ts];
    if (out) {
        if (c == NULL)
            return hwsim_err(HWSIM_ERR_STATE,
                             "%s: board %d span %d timeslot %d has no HDLC controller (configure TS16 as CCS or call "
                             "hwsim_hdlc_enable)",
                             what, b->id, span, ts);
        *out = c;
    }
    return HWSIM_OK;
}

int hwsim_hdlc_enable(hwsim_board_t *b, int span, int timeslot, int on)
{
    int r = check_hdlc(b, span, timeslot, "hwsim_hdlc_enable", NULL);
    if (r < 0)
        return r;
    hwsim_span_t *sp = b->spans[span];
    if (timeslot == 16 && sp->cfg.ts16 == HWSIM_TS16_CAS)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_hdlc_enable: board %d span %d: TS16 carries CAS", b->id, span);
    if (timeslot == 16 && sp->cfg.ts16 == HWSIM_TS16_CCS) {
        if (!on)
            return hwsim_err(HWSIM_ERR_STATE,
                             "hwsim_hdlc_enable: board %d span %d: TS16 in CCS mode always carries its HDLC link", b->id,
                             span);
        return HWSIM_OK;
    }
    if (on && sp->hdlc[timeslot] == NULL) {
        sp->hdlc[timeslot] = hwsim_hdlc_chan_new(sp, timeslot);
        if (sp->hdlc[timeslot] == NULL)
            return hwsim_err(HWSIM_ERR_NOMEM, "hwsim_hdlc_enable: out of memory");
    } else if (!on && sp->hdlc[timeslot] != NULL) {
        hwsim_hdlc_chan_free(sp->hdlc[timeslot]);
        sp->hdlc[timeslot] = NULL;
    }
    sp->tx.hdlc[timeslot] = sp->hdlc[timeslot] ? &sp->hdlc[timeslot]->tx : NULL;
    sp->rx.hdlc[timeslot] = sp->hdlc[timeslot] ? &sp->hdlc[timeslot]->rx : NULL;
    return HWSIM_OK;
}

int hwsim_hdlc_send(hwsim_board_t *b, int span, int timeslot, const uint8_t *frame, int len)
{
    hwsim_hdlc_chan_t *c;
    int r = check_hdlc(b, span, timeslot, "hwsim_hdlc_send", &c);
    if (r < 0)
        return r;
    if (frame == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_hdlc_send: frame is NULL");
    if (len < 1 || len > HWSIM_MAX_HDLC)
        return hwsim_err(HWSIM_ERR_SIZE, "hwsim_hdlc_send: frame of %d bytes (1..%d allowed, FCS excluded)", len,
                         HWSIM_MAX_HDLC);
    if (line_hdlc_tx_queue(&c->tx, frame, len) < 0)
        return hwsim_err(HWSIM_ERR_AGAIN, "hwsim_hdlc_send: board %d span %d timeslot %d: transmit queue full (%d frames)",
                         b->id, span, timeslot, LINE_HDLC_QUEUE);
    return HWSIM_OK;
}

int hwsim_hdlc_recv(hwsim_board_t *b, int span, int timeslot, uint8_t *buf, int cap)
{
    hwsim_hdlc_chan_t *c;
    int r = check_hdlc(b, span, timeslot, "hwsim_hdlc_recv", &c);
    if (r < 0)
        return r;
    if (buf == NULL || cap <= 0)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_hdlc_recv: no buffer (cap %d)", cap);
    if (c->qcount == 0)
        return hwsim_err(HWSIM_ERR_AGAIN, "hwsim_hdlc_recv: no frame waiting");
    int len = c->qlen[c->qhead];
    if (len > cap)
        return hwsim_err(HWSIM_ERR_SIZE, "hwsim_hdlc_recv: frame of %d bytes does not fit a %d-byte buffer", len, cap);
    memcpy(buf, c->q[c->qhead], (size_t) len);
    c->qhead = (c->qhead + 1) % HWSIM_HDLC_RXQ;
    c->qcount--;
    return len;
}

int hwsim_hdlc_idle_repeat(hwsim_board_t *b, int span, int timeslot, int on)
{
    hwsim_hdlc_chan_t *c;
    int r = check_hdlc(b, span, timeslot, "hwsim_hdlc_idle_repeat", &c);
    if (r < 0)
        return r;
    line_hdlc_tx_idle_repeat(&c->tx, on ? 1 : 0);
    return HWSIM_OK;
}

int hwsim_hdlc_filter(hwsim_board_t *b, int span, int timeslot, int on)
{
    hwsim_hdlc_chan_t *c;
    int r = check_hdlc(b, span, timeslot, "hwsim_hdlc_filter", &c);
    if (r < 0)
        return r;
    c->filter = on ? 1 : 0;
    c->last_len = 0;
    return HWSIM_OK;
}

/* ---------------------------------------------------------------- switching */

/* The route takes effect from the next tick. A switched channel transmits, in block k, what its source
   received in block k-1: one block (20 ms) of latency per hop, as on a TDM bus that switches whole
   buffered blocks. Routing a channel to itself gives a loop that also adds a block per pass. */
int hwsim_connect(hwsim_board_t *b, int dst_channel, int src_board, int src_channel)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    if (dst_channel < 0 || dst_channel >= b->nch)
        return hwsim_err(HWSIM_ERR_CHANNEL, "hwsim_connect: board %d channel %d: out of range (0..%d)", b->id,
                         dst_channel, b->nch - 1);
    if (dst_channel < b->nspans * HWSIM_E1_SLOTS && dst_channel % HWSIM_E1_SLOTS == 0)
        return hwsim_err(HWSIM_ERR_CHANNEL, "hwsim_connect: board %d channel %d is TS0 of span %d (framing)", b->id,
                         dst_channel, dst_channel / HWSIM_E1_SLOTS);
    hwsim_route_t *rt = &b->routes[dst_channel];
    if (src_board == -1) {
        if (rt->src)
            b->nroutes--;
        rt->src = NULL;
        return HWSIM_OK;
    }
    hwsim_board_t *src;
    r = hwsim_world_board(b->world, src_board, &src);
    if (r < 0)
        return r;
    if (src_channel < 0 || src_channel >= src->nch)
        return hwsim_err(HWSIM_ERR_CHANNEL, "hwsim_connect: source board %d channel %d: out of range (0..%d)", src_board,
                         src_channel, src->nch - 1);
    if (!rt->src)
        b->nroutes++;
    rt->src = src;
    rt->src_channel = src_channel;
    return HWSIM_OK;
}

/* ---------------------------------------------------------------- channel faults, dead boards */

int hwsim_fault_channel(hwsim_world_t *w, int board, int channel, double noise_dbm0, double attenuation_db)
{
    hwsim_board_t *b;
    int r = hwsim_world_board(w, board, &b);
    if (r < 0)
        return r;
    if (channel < 0 || channel >= b->nch)
        return hwsim_err(HWSIM_ERR_CHANNEL, "hwsim_fault_channel: board %d channel %d: out of range (0..%d)", board,
                         channel, b->nch - 1);
    if (channel < b->nspans * HWSIM_E1_SLOTS && channel % HWSIM_E1_SLOTS == 0)
        return hwsim_err(HWSIM_ERR_CHANNEL, "hwsim_fault_channel: board %d channel %d is TS0 (framing, not voice)", board,
                         channel);
    if (!(noise_dbm0 < 3.2) || isnan(noise_dbm0))
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_fault_channel: noise %.1f dBm0 above full scale (+3.14 dBm0)", noise_dbm0);
    if (!(attenuation_db >= 0.0 && attenuation_db <= 120.0))
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_fault_channel: attenuation %.1f dB not in 0..120", attenuation_db);
    hwsim_chfault_t *f = &b->chf[channel];
    int was = f->on;
    f->gain = (float) pow(10.0, -attenuation_db / 20.0);
    f->noise_amp = 0.0f;
    if (noise_dbm0 >= -100.0) {
        /* Mean-square power of a dBm0 signal in int16 units (A-law: 0 dBm0 sine peak 22827, ctid_dsp.h):
           triangular noise = sum of two uniforms on [-a, a], variance 2 a^2 / 3. */
        double peak = CTID_DBM0_PEAK_X1000 / 1000.0 * pow(10.0, noise_dbm0 / 20.0);
        double rms = peak / sqrt(2.0);
        f->noise_amp = (float) (rms * sqrt(1.5));
    }
    f->on = attenuation_db > 0.0 || f->noise_amp > 0.0f;
    b->nchf += f->on - was;
    return HWSIM_OK;
}

int hwsim_fault_dead(hwsim_world_t *w, int board, int dead)
{
    hwsim_board_t *b;
    int r = hwsim_world_board(w, board, &b);
    if (r < 0)
        return r;
    b->dead = dead ? 1 : 0;
    return HWSIM_OK;
}
