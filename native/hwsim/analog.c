/*
 * Analogue ports and their simulated far ends.
 *
 * FXS port: the board powers a telephone. The board rings it (hwsim_port_ring) and may reverse polarity;
 * the telephone (hwsim_phone_*) goes off hook (HWSIM_EV_HOOK on the board; going off hook while rung trips
 * the ringing, as a SLIC does), dials DTMF as tones (ctid_dtmf_tx, into the audio the board receives on the
 * port), flashes (on hook for the given time, then HWSIM_EV_FLASH), talks (hwsim_phone_play) and listens
 * (hwsim_phone_listen gets what the board sends on the port while the phone is off hook).
 *
 * FXO port: the board is a telephone on an exchange line. The line (hwsim_line_*) rings with the China
 * cadence, 1 s on / 4 s off (HWSIM_EV_RING 1/0 at each edge), and sends caller ID between the first and the
 * second ring: Bell 202 FSK (ctid_fsk_tx) of an MDMF message (type 0x80; parameters 0x01 date and time
 * MMDDHHMM, 0x02 calling number or 0x04 reason for absence, 0x07 name; checksum making the byte sum 0 mod 256)
 * after a channel seizure of 300 alternating bits and 180 mark bits, starting 500 ms after the end of the first
 * ring (Telcordia GR-30 / YDN 069-1997: at least 500 ms after the first ring, done at least 200 ms before the
 * second). When the board goes off hook the ringing stops, the exchange reverses polarity if that option is on
 * (HWSIM_EV_POLARITY 1; on by default, hwsim_port_polarity(b, fxo_port, 0/1) turns it off/on) and audio flows
 * both ways (hwsim_line_play to the board, hwsim_line_listen from it). hwsim_line_hangup: busy tone 450 Hz
 * 0.35 s on / 0.35 s off (China, -10 dBm0) to the board and polarity back to normal (HWSIM_EV_POLARITY 0).
 *
 * The date and time in caller ID come from the world clock: world time 0 is 2025-01-01 00:00:00.
 */
#include <stdlib.h>
#include <string.h>

#include "hwsim_internal.h"

#define RING_ON_FRAMES 8000        /* China ring cadence: 1 s on ... */
#define RING_PERIOD_FRAMES 40000   /* ... 4 s off */
#define CID_DELAY_FRAMES 4000      /* FSK starts 500 ms after the end of the first ring */
#define CID_SEIZURE_BITS 300       /* GR-30 channel seizure: 300 bits of alternating 0/1 */
#define CID_MARK_BITS 180          /* then 180 mark bits */
#define CID_LEVEL_DBM0 -13.0f
#define BUSY_LEVEL_DBM0 -10.0f     /* China call-progress tones: 450 Hz, -10 dBm0 */
#define DTMF_DEFAULT_MS 100
#define WORLD_EPOCH_DAYS 20089     /* 2025-01-01 in days since 1970-01-01 */

/* ---------------------------------------------------------------- audio queues */

int hwsim_audioq_init(hwsim_audioq_t *q, int cap)
{
    q->buf = malloc(sizeof(int16_t) * (size_t) cap);
    q->cap = cap;
    q->head = q->count = 0;
    q->dropped = 0;
    return q->buf ? 0 : -1;
}

void hwsim_audioq_free(hwsim_audioq_t *q)
{
    free(q->buf);
    q->buf = NULL;
}

int hwsim_audioq_push(hwsim_audioq_t *q, const int16_t *x, int n, int drop_oldest)
{
    if (n > q->cap) {
        if (!drop_oldest)
            n = q->cap - q->count;
        else {
            q->dropped += (uint64_t) (n - q->cap);
            x += n - q->cap;
            n = q->cap;
        }
    }
    if (q->count + n > q->cap) {
        if (drop_oldest) {
            int d = q->count + n - q->cap;
            q->head = (q->head + d) % q->cap;
            q->count -= d;
            q->dropped += (uint64_t) d;
        } else {
            n = q->cap - q->count;
        }
    }
    for (int i = 0; i < n; i++)
        q->buf[(q->head + q->count + i) % q->cap] = x[i];
    q->count += n;
    return n;
}

int hwsim_audioq_pop(hwsim_audioq_t *q, int16_t *x, int n)
{
    if (n > q->count)
        n = q->count;
    for (int i = 0; i < n; i++)
        x[i] = q->buf[(q->head + i) % q->cap];
    q->head = (q->head + n) % q->cap;
    q->count -= n;
    return n;
}

static void audioq_clear(hwsim_audioq_t *q)
{
    q->head = q->count = 0;
}

/* ---------------------------------------------------------------- ports */

int hwsim_port_init(hwsim_port_t *p, int kind, int index)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->index = index;
    p->answer_reversal = 1;
    p->dtmf_on_ms = p->dtmf_off_ms = DTMF_DEFAULT_MS;
    if (hwsim_audioq_init(&p->mic, HWSIM_AUDIO_QUEUE) < 0 || hwsim_audioq_init(&p->speaker, HWSIM_AUDIO_QUEUE) < 0)
        return -1;
    return 0;
}

void hwsim_port_free(hwsim_port_t *p)
{
    hwsim_audioq_free(&p->mic);
    hwsim_audioq_free(&p->speaker);
    if (p->dtmf)
        ctid_dtmf_tx_free(p->dtmf);
    if (p->fsk)
        ctid_fsk_tx_free(p->fsk);
    if (p->busy_gen)
        ctid_tone_gen_free(p->busy_gen);
    p->dtmf = NULL;
    p->fsk = NULL;
    p->busy_gen = NULL;
}

static int check_port(hwsim_board_t *b, int port, int kind, const char *what, hwsim_port_t **out)
{
    if (port < 0 || port >= b->nports)
        return hwsim_err(HWSIM_ERR_CHANNEL, "%s: board %d port %d: out of range (the board has %d analogue port%s)", what,
                         b->id, port, b->nports, b->nports == 1 ? "" : "s");
    hwsim_port_t *p = &b->ports[port];
    if (kind && p->kind != kind)
        return hwsim_err(HWSIM_ERR_STATE, "%s: board %d port %d is %s, this needs an %s port", what, b->id, port,
                         p->kind == HWSIM_PORT_FXS ? "FXS" : "FXO", kind == HWSIM_PORT_FXS ? "FXS" : "FXO");
    *out = p;
    return HWSIM_OK;
}

static int board_port(hwsim_board_t *b, int port, int kind, const char *what, hwsim_port_t **out)
{
    int r = hwsim_board_check(b);
    if (r < 0)
        return r;
    return check_port(b, port, kind, what, out);
}

static int world_port(hwsim_world_t *w, int board, int port, int kind, const char *what, hwsim_board_t **bo,
                      hwsim_port_t **out)
{
    int r = hwsim_world_board(w, board, bo);
    if (r < 0)
        return r;
    return check_port(*bo, port, kind, what, out);
}

static void stop_ringing(hwsim_board_t *b, hwsim_port_t *p, uint64_t t)
{
    if (p->ringing && p->ring_on)
        hwsim_emit(b, HWSIM_EV_RING, -1, p->index, 0, t);
    p->ringing = 0;
    p->ring_on = 0;
    if (p->cid_state == 2 && p->fsk)
        ctid_fsk_tx_reset(p->fsk);
    p->cid_state = 0;
}

static void set_reversed(hwsim_board_t *b, hwsim_port_t *p, int rev, uint64_t t)
{
    if (p->reversed == rev)
        return;
    p->reversed = rev;
    if (p->kind == HWSIM_PORT_FXO)
        hwsim_emit(b, HWSIM_EV_POLARITY, -1, p->index, rev, t);
}

/* ---------------------------------------------------------------- board side */

int hwsim_port_ring(hwsim_board_t *b, int port, int on)
{
    hwsim_port_t *p = NULL;
    int r = board_port(b, port, HWSIM_PORT_FXS, "hwsim_port_ring", &p);
    if (r < 0)
        return r;
    if (on && p->phone_offhook)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_port_ring: board %d port %d: the telephone is off hook", b->id, port);
    p->board_ring = on ? 1 : 0;
    return HWSIM_OK;
}

int hwsim_port_polarity(hwsim_board_t *b, int port, int reversed)
{
    hwsim_port_t *p = NULL;
    int r = board_port(b, port, 0, "hwsim_port_polarity", &p);
    if (r < 0)
        return r;
    if (p->kind == HWSIM_PORT_FXS)
        p->reversed = reversed ? 1 : 0;
    else
        p->answer_reversal = reversed ? 1 : 0;   /* FXO: the exchange option "reverse polarity on answer" */
    return HWSIM_OK;
}

int hwsim_port_board_hook(hwsim_board_t *b, hwsim_port_t *p, int offhook)
{
    uint64_t t = b->world->time;
    offhook = offhook ? 1 : 0;
    if (p->board_offhook == offhook)
        return HWSIM_OK;
    p->board_offhook = offhook;
    hwsim_emit(b, HWSIM_EV_HOOK, -1, p->index, offhook, t);
    if (offhook) {
        if (p->ringing) {
            stop_ringing(b, p, t);
            if (p->answer_reversal)
                set_reversed(b, p, 1, t);   /* answer signal of the exchange */
        }
    } else {
        p->busy = 0;
        set_reversed(b, p, 0, t);
        audioq_clear(&p->mic);
    }
    return HWSIM_OK;
}

int hwsim_port_hook(hwsim_board_t *b, int port, int offhook)
{
    hwsim_port_t *p = NULL;
    int r = board_port(b, port, HWSIM_PORT_FXO, "hwsim_port_hook", &p);
    if (r < 0)
        return r;
    return hwsim_port_board_hook(b, p, offhook);
}

int hwsim_port_flash(hwsim_board_t *b, int port)
{
    hwsim_port_t *p = NULL;
    int r = board_port(b, port, HWSIM_PORT_FXO, "hwsim_port_flash", &p);
    if (r < 0)
        return r;
    if (!p->board_offhook)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_port_flash: board %d port %d is on hook", b->id, port);
    return HWSIM_OK;   /* the simulated exchange offers no flash services */
}

int hwsim_port_state(hwsim_board_t *b, int port)
{
    hwsim_port_t *p = NULL;
    int r = board_port(b, port, 0, "hwsim_port_state", &p);
    if (r < 0)
        return r;
    if (p->kind == HWSIM_PORT_FXS)
        return (p->phone_offhook && p->flash_frames == 0) | (p->board_ring << 1) | (p->reversed << 2);
    return p->board_offhook | (p->ring_on << 1) | (p->reversed << 2);
}

/* ---------------------------------------------------------------- telephone on an FXS port */

int hwsim_phone_hook(hwsim_world_t *w, int board, int port, int offhook)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, HWSIM_PORT_FXS, "hwsim_phone_hook", &b, &p);
    if (r < 0)
        return r;
    offhook = offhook ? 1 : 0;
    if (p->phone_offhook == offhook)
        return HWSIM_OK;
    p->phone_offhook = offhook;
    if (offhook) {
        p->board_ring = 0;   /* ring trip */
    } else {
        p->flash_frames = 0;
        if (p->dtmf)
            ctid_dtmf_tx_reset(p->dtmf);
        audioq_clear(&p->mic);
    }
    hwsim_emit(b, HWSIM_EV_HOOK, -1, port, offhook, w->time);
    return HWSIM_OK;
}

int hwsim_phone_dial(hwsim_world_t *w, int board, int port, const char *digits, int on_ms, int off_ms)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, HWSIM_PORT_FXS, "hwsim_phone_dial", &b, &p);
    if (r < 0)
        return r;
    if (digits == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_phone_dial: digits is NULL");
    for (const char *c = digits; *c; c++)
        if (!strchr("0123456789*#ABCDabcd", *c))
            return hwsim_err(HWSIM_ERR_ARG, "hwsim_phone_dial: '%c' (0x%02X) in \"%.40s\" is not a DTMF digit", *c,
                             (unsigned char) *c, digits);
    if (on_ms <= 0)
        on_ms = DTMF_DEFAULT_MS;
    if (off_ms <= 0)
        off_ms = DTMF_DEFAULT_MS;
    if (on_ms < 20 || on_ms > 5000 || off_ms < 20 || off_ms > 5000)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_phone_dial: tone %d ms / gap %d ms (20..5000 ms each)", on_ms, off_ms);
    if (!p->phone_offhook)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_phone_dial: board %d port %d: the telephone is on hook", board, port);
    if (p->dtmf && ctid_dtmf_tx_pending(p->dtmf) > 0 && (on_ms != p->dtmf_on_ms || off_ms != p->dtmf_off_ms))
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_phone_dial: board %d port %d: still dialling with %d/%d ms timing",
                         board, port, p->dtmf_on_ms, p->dtmf_off_ms);
    if (p->dtmf && (on_ms != p->dtmf_on_ms || off_ms != p->dtmf_off_ms)) {
        ctid_dtmf_tx_free(p->dtmf);
        p->dtmf = NULL;
    }
    if (p->dtmf == NULL) {
        ctid_dtmf_tx_params_t prm;
        ctid_dtmf_tx_defaults(&prm);
        prm.on_ms = on_ms;
        prm.off_ms = off_ms;
        p->dtmf = ctid_dtmf_tx_new(&prm);
        if (p->dtmf == NULL)
            return hwsim_err(HWSIM_ERR_NOMEM, "hwsim_phone_dial: out of memory");
        p->dtmf_on_ms = on_ms;
        p->dtmf_off_ms = off_ms;
    }
    if (digits[0] && ctid_dtmf_tx_put(p->dtmf, digits) < 0)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_phone_dial: the DTMF generator refused \"%.40s\"", digits);
    return HWSIM_OK;
}

int hwsim_phone_flash(hwsim_world_t *w, int board, int port, int ms)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, HWSIM_PORT_FXS, "hwsim_phone_flash", &b, &p);
    if (r < 0)
        return r;
    if (ms < 1 || ms > 2000)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_phone_flash: %d ms (1..2000)", ms);
    if (!p->phone_offhook)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_phone_flash: board %d port %d: the telephone is on hook", board, port);
    p->flash_frames = ms * 8;
    return HWSIM_OK;
}

int hwsim_phone_ringing(hwsim_world_t *w, int board, int port)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, HWSIM_PORT_FXS, "hwsim_phone_ringing", &b, &p);
    if (r < 0)
        return r;
    return p->board_ring && !p->phone_offhook;
}

static int play(hwsim_world_t *w, int board, int port, int kind, const int16_t *pcm, int n, const char *what)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, kind, what, &b, &p);
    if (r < 0)
        return r;
    if (n < 0 || (pcm == NULL && n > 0))
        return hwsim_err(HWSIM_ERR_ARG, "%s: %d samples from %s", what, n, pcm ? "a buffer" : "NULL");
    if (n > p->mic.cap - p->mic.count)
        return hwsim_err(HWSIM_ERR_SIZE, "%s: board %d port %d: %d samples do not fit (room for %d)", what, board, port,
                         n, p->mic.cap - p->mic.count);
    return hwsim_audioq_push(&p->mic, pcm, n, 0);
}

static int listen_(hwsim_world_t *w, int board, int port, int kind, int16_t *pcm, int cap, const char *what)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, kind, what, &b, &p);
    if (r < 0)
        return r;
    if (cap < 0 || (pcm == NULL && cap > 0))
        return hwsim_err(HWSIM_ERR_ARG, "%s: buffer of %d samples at %s", what, cap, pcm ? "a buffer" : "NULL");
    return hwsim_audioq_pop(&p->speaker, pcm, cap);
}

int hwsim_phone_play(hwsim_world_t *w, int board, int port, const int16_t *pcm, int n)
{
    return play(w, board, port, HWSIM_PORT_FXS, pcm, n, "hwsim_phone_play");
}

int hwsim_phone_listen(hwsim_world_t *w, int board, int port, int16_t *pcm, int cap)
{
    return listen_(w, board, port, HWSIM_PORT_FXS, pcm, cap, "hwsim_phone_listen");
}

/* ---------------------------------------------------------------- exchange line on an FXO port */

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    /* Proleptic Gregorian date from days since 1970-01-01 (the usual era-based conversion). */
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = (int) (yoe + era * 400 + (*m <= 2));
}

static int build_cid(hwsim_port_t *p, uint64_t t, const char *number, const char *name)
{
    uint8_t *m = p->cid;
    int n = 2;
    uint64_t secs = t / 8000;
    int y, mo, d;
    civil_from_days(WORLD_EPOCH_DAYS + (int64_t) (secs / 86400), &y, &mo, &d);
    int hh = (int) (secs % 86400 / 3600), mi = (int) (secs % 3600 / 60);
    char dt[9];
    snprintf(dt, sizeof(dt), "%02d%02d%02d%02d", (mo % 13 + 13) % 13, (d % 32 + 32) % 32, hh % 24, mi % 60);
    m[n++] = 0x01;                      /* date and time, MMDDHHMM */
    m[n++] = 8;
    memcpy(m + n, dt, 8);
    n += 8;
    if (number && number[0]) {
        size_t l = strlen(number);
        m[n++] = 0x02;                  /* calling line identity */
        m[n++] = (uint8_t) l;
        memcpy(m + n, number, l);
        n += (int) l;
    } else {
        m[n++] = 0x04;                  /* reason for absence of the number: 'O' unavailable */
        m[n++] = 1;
        m[n++] = 'O';
    }
    if (name && name[0]) {
        size_t l = strlen(name);
        m[n++] = 0x07;                  /* calling party name */
        m[n++] = (uint8_t) l;
        memcpy(m + n, name, l);
        n += (int) l;
    }
    m[0] = 0x80;                        /* MDMF, call set-up */
    m[1] = (uint8_t) (n - 2);
    unsigned sum = 0;
    for (int i = 0; i < n; i++)
        sum += m[i];
    m[n++] = (uint8_t) (-sum & 0xFF);   /* checksum: the message bytes plus it sum to 0 mod 256 */
    return n;
}

int hwsim_line_ring(hwsim_world_t *w, int board, int port, const char *number, const char *name)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, HWSIM_PORT_FXO, "hwsim_line_ring", &b, &p);
    if (r < 0)
        return r;
    if (number) {
        if (strlen(number) > 20)
            return hwsim_err(HWSIM_ERR_ARG, "hwsim_line_ring: number \"%.30s...\" longer than 20 digits", number);
        for (const char *c = number; *c; c++)
            if (!strchr("0123456789*#", *c))
                return hwsim_err(HWSIM_ERR_ARG, "hwsim_line_ring: '%c' in number \"%s\" is not a digit", *c, number);
    }
    if (name && strlen(name) > 40)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_line_ring: name longer than 40 bytes");
    if (p->board_offhook)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_line_ring: board %d port %d: the board is off hook", board, port);
    if (p->ringing)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_line_ring: board %d port %d is already ringing", board, port);
    if (p->fsk == NULL) {
        p->fsk = ctid_fsk_tx_new(CTID_FSK_BELL202, CID_LEVEL_DBM0);
        if (p->fsk == NULL)
            return hwsim_err(HWSIM_ERR_NOMEM, "hwsim_line_ring: out of memory");
    }
    ctid_fsk_tx_reset(p->fsk);
    p->cid_len = build_cid(p, w->time, number, name);
    p->cid_state = 1;
    p->cid_start = RING_ON_FRAMES + CID_DELAY_FRAMES;
    p->busy = 0;
    p->ringing = 1;
    p->ring_on = 1;
    p->ring_t = 0;
    hwsim_emit(b, HWSIM_EV_RING, -1, port, 1, w->time);
    return HWSIM_OK;
}

int hwsim_line_hangup(hwsim_world_t *w, int board, int port)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, HWSIM_PORT_FXO, "hwsim_line_hangup", &b, &p);
    if (r < 0)
        return r;
    if (p->ringing) {
        stop_ringing(b, p, w->time);   /* the caller gave up before the answer */
        return HWSIM_OK;
    }
    if (!p->board_offhook)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_line_hangup: board %d port %d: the line is idle", board, port);
    if (p->busy_gen == NULL) {
        ctid_tone_def_t def;
        memset(&def, 0, sizeof(def));
        snprintf(def.name, sizeof(def.name), "busy");
        def.freq1 = 450.0f;
        def.level_dbm0 = BUSY_LEVEL_DBM0;
        def.nsegs = 2;
        def.seg_ms[0] = 350;
        def.seg_ms[1] = 350;
        def.min_cycles = 1;
        p->busy_gen = ctid_tone_gen_new(&def);
        if (p->busy_gen == NULL)
            return hwsim_err(HWSIM_ERR_NOMEM, "hwsim_line_hangup: out of memory");
    }
    ctid_tone_gen_reset(p->busy_gen);
    p->busy = 1;
    audioq_clear(&p->mic);
    set_reversed(b, p, 0, w->time);
    return HWSIM_OK;
}

int hwsim_line_state(hwsim_world_t *w, int board, int port)
{
    hwsim_board_t *b = NULL;
    hwsim_port_t *p = NULL;
    int r = world_port(w, board, port, HWSIM_PORT_FXO, "hwsim_line_state", &b, &p);
    if (r < 0)
        return r;
    return p->board_offhook | (p->ringing << 1) | (p->busy << 2);
}

int hwsim_line_play(hwsim_world_t *w, int board, int port, const int16_t *pcm, int n)
{
    return play(w, board, port, HWSIM_PORT_FXO, pcm, n, "hwsim_line_play");
}

int hwsim_line_listen(hwsim_world_t *w, int board, int port, int16_t *pcm, int cap)
{
    return listen_(w, board, port, HWSIM_PORT_FXO, pcm, cap, "hwsim_line_listen");
}

/* ---------------------------------------------------------------- per block */

static void mix(int32_t *acc, const int16_t *x, int n)
{
    for (int i = 0; i < n; i++)
        acc[i] += x[i];
}

static void take_speaker(hwsim_board_t *b, hwsim_port_t *p)
{
    uint8_t col[HWSIM_BLOCK_FRAMES];
    int16_t lin[HWSIM_BLOCK_FRAMES];
    const uint8_t *s = b->txp + b->nspans * HWSIM_E1_SLOTS + p->index;
    for (int f = 0; f < HWSIM_BLOCK_FRAMES; f++)
        col[f] = s[(size_t) f * (size_t) b->nch];
    ctid_alaw_decode(col, lin, HWSIM_BLOCK_FRAMES);
    hwsim_audioq_push(&p->speaker, lin, HWSIM_BLOCK_FRAMES, 1);
}

static void fxo_ring_edges(hwsim_board_t *b, hwsim_port_t *p, uint64_t t0)
{
    /* Cadence edges inside [ring_t, ring_t + block): ring on at multiples of the period, off 1 s later. */
    uint64_t a = p->ring_t, e = p->ring_t + HWSIM_BLOCK_FRAMES;
    for (uint64_t base = a - a % RING_PERIOD_FRAMES; base < e; base += RING_PERIOD_FRAMES) {
        uint64_t on = base, off = base + RING_ON_FRAMES;
        if (on >= a && on < e && on > 0) {
            p->ring_on = 1;
            hwsim_emit(b, HWSIM_EV_RING, -1, p->index, 1, t0 + (on - a));
        }
        if (off >= a && off < e) {
            p->ring_on = 0;
            hwsim_emit(b, HWSIM_EV_RING, -1, p->index, 0, t0 + (off - a));
        }
    }
}

void hwsim_ports_tick(hwsim_board_t *b, uint64_t t0)
{
    int32_t acc[HWSIM_BLOCK_FRAMES];
    int16_t tmp[HWSIM_BLOCK_FRAMES];
    for (int i = 0; i < b->nports; i++) {
        hwsim_port_t *p = &b->ports[i];
        memset(acc, 0, sizeof(acc));
        if (p->kind == HWSIM_PORT_FXS) {
            if (p->flash_frames > 0) {
                p->flash_frames -= HWSIM_BLOCK_FRAMES;
                if (p->flash_frames <= 0) {
                    p->flash_frames = 0;
                    hwsim_emit(b, HWSIM_EV_FLASH, -1, p->index, 1, t0 + HWSIM_BLOCK_FRAMES);
                }
            } else if (p->phone_offhook) {
                int n = hwsim_audioq_pop(&p->mic, tmp, HWSIM_BLOCK_FRAMES);
                mix(acc, tmp, n);
                if (p->dtmf) {
                    n = ctid_dtmf_tx_generate(p->dtmf, tmp, HWSIM_BLOCK_FRAMES);
                    if (n > 0)
                        mix(acc, tmp, n > HWSIM_BLOCK_FRAMES ? HWSIM_BLOCK_FRAMES : n);
                }
                take_speaker(b, p);
            }
        } else {
            if (p->ringing) {
                fxo_ring_edges(b, p, t0);
                uint64_t a = p->ring_t, e = a + HWSIM_BLOCK_FRAMES;
                if (p->cid_state == 1 && p->cid_start < e) {
                    if (ctid_fsk_tx_put(p->fsk, p->cid, p->cid_len, CID_SEIZURE_BITS, CID_MARK_BITS) < 0)
                        p->cid_state = 3;
                    else
                        p->cid_state = 2;
                }
                if (p->cid_state == 2) {
                    int off = p->cid_start > a ? (int) (p->cid_start - a) : 0;
                    int want = HWSIM_BLOCK_FRAMES - off;
                    int n = ctid_fsk_tx_generate(p->fsk, tmp, want);
                    if (n > 0)
                        mix(acc + off, tmp, n > want ? want : n);
                    if (n < want)
                        p->cid_state = 3;
                }
                p->ring_t = e;
            }
            if (p->board_offhook) {
                int n = hwsim_audioq_pop(&p->mic, tmp, HWSIM_BLOCK_FRAMES);
                mix(acc, tmp, n);
                if (p->busy && p->busy_gen) {
                    ctid_tone_gen_generate(p->busy_gen, tmp, HWSIM_BLOCK_FRAMES);
                    mix(acc, tmp, HWSIM_BLOCK_FRAMES);
                }
                take_speaker(b, p);
            }
        }
        for (int k = 0; k < HWSIM_BLOCK_FRAMES; k++)
            p->audio[k] = (int16_t) (acc[k] > 32767 ? 32767 : acc[k] < -32768 ? -32768 : acc[k]);
    }
}
