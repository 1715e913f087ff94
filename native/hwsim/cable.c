/*
 * Cables between spans, and the faults applied to what a span receives.
 *
 * An in-process cable joins two spans of the world (or a span to itself: a loopback plug). A socket cable
 * joins a span to a span of a world in another process over an AF_UNIX stream socket with a small framed
 * protocol, one message per block in each direction:
 *
 *     offset 0  "HWSC"        magic
 *            4  u16 LE        version (1)
 *            6  u16 LE        flags (0)
 *            8  u32 LE        seq: the sender's block number since the connection was made
 *           12  u32 LE        nbytes: line bytes that follow (5120 = 160 frames x 32 timeslots)
 *           16  line bits     G.704 frames as sent (MSB first), before any fault of the receiving end
 *
 * Both worlds run in lock step: each tick sends this span's block, then waits (up to the world's socket
 * timeout, HWSIM_SOCKET_TIMEOUT_MS in the environment, default 10 s) for the peer's block with the expected
 * sequence number. A lost peer, a timeout or a protocol violation closes the connection: the span then
 * receives no signal (the framer raises LOS) and the board gets HWSIM_EV_CABLE 0. The listening end accepts
 * one peer at a time, without blocking, at the start of each tick; until a peer connects its span sees LOS.
 *
 * Receive-side faults, in line order: cut (no signal: all zeros, G.775 LOS), AIS (all ones), bit errors
 * (positions drawn with a geometric skip, not one random number per bit), then a fixed random delay of
 * 0..255 bits chosen at every connect/restore so the receiving framer must search frame alignment anywhere
 * in the bit stream. Controlled slips (G.822) happen where a real board makes them, in the receiving span's
 * elastic store after the framer (world.c); hwsim_fault_slips sets their rate here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "hwsim_internal.h"

#define SOCK_MAGIC "HWSC"
#define SOCK_VERSION 1
#define SOCK_HDR 16

struct hwsim_sock {
    int listen_fd;               /* listening end: the bound socket; -1 on the connecting end */
    int fd;                      /* the connected peer, -1 if none */
    char path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    uint32_t tx_seq, rx_seq;
    int got;                     /* a block arrived this tick */
    uint8_t rxbuf[HWSIM_LINE_BYTES];
};

/* ---------------------------------------------------------------- helpers */

void hwsim_impair_reset(hwsim_span_t *sp)
{
    hwsim_impair_t *im = &sp->imp;
    im->delay_bits = (int) (hwsim_rng_next(&im->rng) % (HWSIM_MAX_DELAY_BITS + 1));
    memset(im->tail, 0, sizeof(im->tail));
}

static double geometric_skip(hwsim_impair_t *im)
{
    /* Good bits before the next error: floor(ln U / ln(1 - p)), U uniform on (0, 1]. */
    double g = floor(log(hwsim_rng_uniform(&im->rng)) / im->log1m_ber);
    return g > 1e18 ? 1e18 : g;
}

double hwsim_slip_interval(hwsim_impair_t *im)
{
    /* Exponential waiting time in frames for a Poisson process of slips_per_minute (8000 frames/s). */
    double mean = 8000.0 * 60.0 / im->slips_per_minute;
    return -log(hwsim_rng_uniform(&im->rng)) * mean;
}

static void sock_close_peer(hwsim_span_t *sp, const char *why)
{
    hwsim_sock_t *s = sp->sock;
    if (s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
        hwsim_err(HWSIM_ERR_PEER, "board %d span %d: cable socket %s: peer lost (%s)", sp->board->id, sp->index, s->path,
                  why);
        hwsim_emit(sp->board, HWSIM_EV_CABLE, sp->index, -1, 0, sp->board->world->time);
    }
    s->got = 0;
}

void hwsim_sock_free(hwsim_sock_t *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->listen_fd >= 0) {
        close(s->listen_fd);
        unlink(s->path);
    }
    free(s);
}

void hwsim_cable_detach(hwsim_span_t *sp, int emit)
{
    if (sp == NULL)
        return;
    uint64_t t = sp->board->world->time;
    if (sp->cable == HWSIM_CABLE_LOCAL) {
        hwsim_span_t *peer = sp->peer;
        if (peer && peer != sp) {
            peer->peer = NULL;
            peer->cable = HWSIM_CABLE_NONE;
            peer->cut = 0;
            if (emit)
                hwsim_emit(peer->board, HWSIM_EV_CABLE, peer->index, -1, 0, t);
        }
        if (emit)
            hwsim_emit(sp->board, HWSIM_EV_CABLE, sp->index, -1, 0, t);
    } else if (sp->cable == HWSIM_CABLE_SOCKET) {
        if (emit && sp->sock->fd >= 0)
            hwsim_emit(sp->board, HWSIM_EV_CABLE, sp->index, -1, 0, t);
        hwsim_sock_free(sp->sock);
        sp->sock = NULL;
    }
    sp->peer = NULL;
    sp->cable = HWSIM_CABLE_NONE;
    sp->cut = 0;
}

/* ---------------------------------------------------------------- API: in-process cables and faults */

int hwsim_cable_connect(hwsim_world_t *w, int board_a, int span_a, int board_b, int span_b)
{
    hwsim_span_t *a, *b;
    int r = hwsim_world_span(w, board_a, span_a, &a);
    if (r < 0 || (r = hwsim_world_span(w, board_b, span_b, &b)) < 0)
        return r;
    /* Re-plugging: whatever was on either end is unplugged first (its far end sees LOS). */
    if (!(a->cable == HWSIM_CABLE_LOCAL && a->peer == b)) {
        hwsim_cable_detach(a, 1);
        hwsim_cable_detach(b, 1);
    }
    a->cable = b->cable = HWSIM_CABLE_LOCAL;
    a->peer = b;
    b->peer = a;
    a->cut = b->cut = 0;
    hwsim_impair_reset(a);
    if (b != a)
        hwsim_impair_reset(b);
    hwsim_emit(a->board, HWSIM_EV_CABLE, a->index, -1, 1, w->time);
    if (b != a)
        hwsim_emit(b->board, HWSIM_EV_CABLE, b->index, -1, 1, w->time);
    return HWSIM_OK;
}

int hwsim_cable_cut(hwsim_world_t *w, int board, int span, int cut)
{
    hwsim_span_t *sp;
    int r = hwsim_world_span(w, board, span, &sp);
    if (r < 0)
        return r;
    if (sp->cable == HWSIM_CABLE_NONE)
        return hwsim_err(HWSIM_ERR_STATE, "hwsim_cable_cut: board %d span %d has no cable", board, span);
    cut = cut ? 1 : 0;
    if (sp->cut == cut)
        return HWSIM_OK;
    hwsim_span_t *ends[2] = { sp, sp->cable == HWSIM_CABLE_LOCAL && sp->peer != sp ? sp->peer : NULL };
    for (int i = 0; i < 2; i++) {
        hwsim_span_t *e = ends[i];
        if (e == NULL)
            continue;
        e->cut = cut;
        if (!cut)
            hwsim_impair_reset(e);   /* a re-made connection comes back at an arbitrary bit phase */
        hwsim_emit(e->board, HWSIM_EV_CABLE, e->index, -1, !cut, w->time);
    }
    return HWSIM_OK;
}

int hwsim_fault_ber(hwsim_world_t *w, int board, int span, double ber)
{
    hwsim_span_t *sp;
    int r = hwsim_world_span(w, board, span, &sp);
    if (r < 0)
        return r;
    if (!(ber >= 0.0 && ber <= 0.5))
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_fault_ber: rate %g not in 0..0.5", ber);
    hwsim_impair_t *im = &sp->imp;
    im->ber = ber;
    if (ber > 0.0) {
        im->log1m_ber = log1p(-ber);
        im->bits_to_error = (uint64_t) geometric_skip(im);
    }
    return HWSIM_OK;
}

int hwsim_fault_slips(hwsim_world_t *w, int board, int span, double per_minute)
{
    hwsim_span_t *sp;
    int r = hwsim_world_span(w, board, span, &sp);
    if (r < 0)
        return r;
    if (!(per_minute >= 0.0 && per_minute <= 3000.0))
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_fault_slips: %g slips per minute not in 0..3000 (one per block)",
                         per_minute);
    sp->imp.slips_per_minute = per_minute;
    if (per_minute > 0.0)
        sp->imp.frames_to_slip = hwsim_slip_interval(&sp->imp);
    return HWSIM_OK;
}

int hwsim_fault_ais(hwsim_world_t *w, int board, int span, int on)
{
    hwsim_span_t *sp;
    int r = hwsim_world_span(w, board, span, &sp);
    if (r < 0)
        return r;
    sp->imp.ais = on ? 1 : 0;
    return HWSIM_OK;
}

/* ---------------------------------------------------------------- API: socket cables */

int hwsim_cable_socket(hwsim_world_t *w, int board, int span, const char *path, int listen_)
{
    hwsim_span_t *sp;
    int r = hwsim_world_span(w, board, span, &sp);
    if (r < 0)
        return r;
    struct sockaddr_un sa;
    if (path == NULL || path[0] == 0)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_cable_socket: empty socket path");
    if (strlen(path) >= sizeof(sa.sun_path))
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_cable_socket: socket path '%s' longer than %zu bytes", path,
                         sizeof(sa.sun_path) - 1);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);

    hwsim_sock_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return hwsim_err(HWSIM_ERR_NOMEM, "hwsim_cable_socket: out of memory");
    s->listen_fd = -1;
    s->fd = -1;
    strcpy(s->path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        free(s);
        return hwsim_err(HWSIM_ERR_IO, "hwsim_cable_socket: socket(): %s", strerror(e));
    }
    if (listen_) {
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (!S_ISSOCK(st.st_mode)) {
                close(fd);
                free(s);
                return hwsim_err(HWSIM_ERR_IO, "hwsim_cable_socket: %s exists and is not a socket", path);
            }
            unlink(path);   /* a stale socket left by an earlier run */
        }
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
            int e = errno;
            close(fd);
            free(s);
            return hwsim_err(HWSIM_ERR_IO, "hwsim_cable_socket: listen on %s: %s", path, strerror(e));
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        s->listen_fd = fd;
    } else {
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
            int e = errno;
            close(fd);
            free(s);
            if (e == ENOENT)
                return hwsim_err(HWSIM_ERR_PEER,
                                 "hwsim_cable_socket: board %d span %d: no peer socket at %s (is the other world "
                                 "listening there?)",
                                 board, span, path);
            if (e == ECONNREFUSED)
                return hwsim_err(HWSIM_ERR_PEER, "hwsim_cable_socket: board %d span %d: nobody listens on %s", board,
                                 span, path);
            return hwsim_err(HWSIM_ERR_PEER, "hwsim_cable_socket: board %d span %d: connect %s: %s", board, span, path,
                             strerror(e));
        }
        s->fd = fd;
    }
    hwsim_cable_detach(sp, 1);
    sp->cable = HWSIM_CABLE_SOCKET;
    sp->sock = s;
    sp->cut = 0;
    if (s->fd >= 0) {
        hwsim_impair_reset(sp);
        hwsim_emit(sp->board, HWSIM_EV_CABLE, sp->index, -1, 1, w->time);
    }
    return HWSIM_OK;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Move exactly n bytes, waiting at most until deadline_ms. 0 ok, -1 error/EOF (errno or 0), -2 timeout. */
static int io_all(int fd, uint8_t *buf, size_t n, int writing, int64_t deadline_ms)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = writing ? send(fd, buf + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT)
                            : recv(fd, buf + done, n - done, MSG_DONTWAIT);
        if (k > 0) {
            done += (size_t) k;
            continue;
        }
        if (k == 0) {
            errno = 0;
            return -1;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
        int64_t left = deadline_ms - now_ms();
        if (left <= 0)
            return -2;
        struct pollfd p = { fd, (short) (writing ? POLLOUT : POLLIN), 0 };
        int pr = poll(&p, 1, left > 1000000 ? 1000000 : (int) left);
        if (pr < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

void hwsim_cables_send(hwsim_world_t *w)
{
    for (int i = 0; i < w->nboards; i++) {
        hwsim_board_t *b = w->boards[i];
        for (int s = 0; s < b->nspans; s++) {
            hwsim_span_t *sp = b->spans[s];
            if (sp->cable != HWSIM_CABLE_SOCKET)
                continue;
            hwsim_sock_t *so = sp->sock;
            so->got = 0;
            if (so->fd < 0 && so->listen_fd >= 0) {
                int fd = accept4(so->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (fd >= 0) {
                    so->fd = fd;
                    so->tx_seq = so->rx_seq = 0;
                    hwsim_impair_reset(sp);
                    hwsim_emit(b, HWSIM_EV_CABLE, s, -1, 1, w->time);
                }
            }
            if (so->fd < 0)
                continue;
            uint8_t msg[SOCK_HDR + HWSIM_LINE_BYTES];
            memcpy(msg, SOCK_MAGIC, 4);
            msg[4] = SOCK_VERSION;
            msg[5] = 0;
            msg[6] = msg[7] = 0;
            put32(msg + 8, so->tx_seq);
            put32(msg + 12, HWSIM_LINE_BYTES);
            /* A cut cable carries no signal in either direction; the frame keeps the lock step. */
            memcpy(msg + SOCK_HDR, sp->cut ? w->zeros : sp->line_out, HWSIM_LINE_BYTES);
            int r = io_all(so->fd, msg, sizeof(msg), 1, now_ms() + w->sock_timeout_ms);
            if (r < 0) {
                sock_close_peer(sp, r == -2 ? "send timed out" : errno ? strerror(errno) : "closed");
                continue;
            }
            so->tx_seq++;
        }
    }
}

static void sock_receive(hwsim_world_t *w, hwsim_span_t *sp)
{
    hwsim_sock_t *so = sp->sock;
    if (so->fd < 0)
        return;
    uint8_t hdr[SOCK_HDR];
    int64_t deadline = now_ms() + w->sock_timeout_ms;
    int r = io_all(so->fd, hdr, sizeof(hdr), 0, deadline);
    if (r < 0) {
        sock_close_peer(sp, r == -2 ? "no block from the peer before the timeout" : errno ? strerror(errno) : "closed");
        return;
    }
    if (memcmp(hdr, SOCK_MAGIC, 4) != 0 || hdr[4] != SOCK_VERSION || hdr[5] != 0) {
        sock_close_peer(sp, "protocol error: bad magic or version");
        return;
    }
    if (get32(hdr + 8) != so->rx_seq) {
        char why[96];
        snprintf(why, sizeof(why), "protocol error: block %u where %u was due", get32(hdr + 8), so->rx_seq);
        sock_close_peer(sp, why);
        return;
    }
    if (get32(hdr + 12) != HWSIM_LINE_BYTES) {
        sock_close_peer(sp, "protocol error: block size");
        return;
    }
    r = io_all(so->fd, so->rxbuf, HWSIM_LINE_BYTES, 0, deadline);
    if (r < 0) {
        sock_close_peer(sp, r == -2 ? "block cut short by the timeout" : errno ? strerror(errno) : "closed");
        return;
    }
    so->rx_seq++;
    so->got = 1;
}

/* ---------------------------------------------------------------- receive path with faults */

static void receive_span(hwsim_world_t *w, hwsim_span_t *sp)
{
    hwsim_impair_t *im = &sp->imp;
    const uint8_t *src = NULL;
    if (!sp->cut) {
        if (sp->cable == HWSIM_CABLE_LOCAL)
            src = sp->peer->line_out;
        else if (sp->cable == HWSIM_CABLE_SOCKET && sp->sock->got)
            src = sp->sock->rxbuf;
    }
    int nb = (im->delay_bits + 7) / 8;
    uint8_t *in = sp->line_pre + nb;
    const int len = HWSIM_LINE_BYTES;
    memcpy(sp->line_pre, im->tail, (size_t) nb);
    if (src == NULL) {
        memset(in, 0, HWSIM_LINE_BYTES);                 /* no signal: G.775 LOS at the receiver */
    } else if (im->ais) {
        memset(in, 0xFF, HWSIM_LINE_BYTES);              /* AIS: unframed all ones (G.775) */
    } else {
        memcpy(in, src, HWSIM_LINE_BYTES);
    }
    if (src != NULL && im->ber > 0.0) {
        uint64_t nbits = (uint64_t) len * 8;
        uint64_t pos = im->bits_to_error;
        while (pos < nbits) {
            in[pos >> 3] ^= (uint8_t) (0x80 >> (pos & 7));
            im->bit_errors++;
            pos += 1 + (uint64_t) geometric_skip(im);
        }
        im->bits_to_error = pos - nbits;
    }
    /* Fixed delay of delay_bits: output bit j is input bit j - delay_bits (the tail holds earlier bits). */
    int sh = nb * 8 - im->delay_bits;
    uint8_t *buf = sp->line_pre;
    if (sh == 0) {
        memcpy(sp->line_in, buf, (size_t) len);
    } else {
        /* Eight output bytes per step: big-endian 64-bit loads, shifted, plus the top bits of byte i+8. */
        int i = 0;
        for (; i + 8 < len; i += 8) {
            uint64_t v;
            memcpy(&v, buf + i, 8);
            v = __builtin_bswap64(v);
            v = (v << sh) | (uint64_t) (buf[i + 8] >> (8 - sh));
            v = __builtin_bswap64(v);
            memcpy(sp->line_in + i, &v, 8);
        }
        for (; i < len; i++)
            sp->line_in[i] = (uint8_t) ((buf[i] << sh) | (buf[i + 1] >> (8 - sh)));
    }
    memcpy(im->tail, buf + len, (size_t) nb);
    sp->line_in_len = len;
}

void hwsim_cables_receive(hwsim_world_t *w)
{
    for (int i = 0; i < w->nboards; i++) {
        hwsim_board_t *b = w->boards[i];
        for (int s = 0; s < b->nspans; s++) {
            hwsim_span_t *sp = b->spans[s];
            if (sp->cable == HWSIM_CABLE_SOCKET)
                sock_receive(w, sp);
            receive_span(w, sp);
        }
    }
}
