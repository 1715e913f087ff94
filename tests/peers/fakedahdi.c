/*
 * fakedahdi: a preloaded library (LD_PRELOAD) that makes /dev/dahdi/channel work without DAHDI hardware, for
 * running OpenR2 (or any DAHDI program using one channel) against ctid's hwsim boards in ctid's tests.
 *
 * Our own code. The ioctl numbers, structures and constants come from DAHDI's user-space header dahdi/user.h
 * (dahdi-linux 2.11.1, Debian package dahdi-dkms: /usr/src/dahdi-<version>/include/dahdi/user.h), included
 * below, so they are the kernel driver's own definitions.
 *
 * Transport: the Unix SOCK_SEQPACKET socket whose descriptor number is in $FAKEDAHDI_FD (one end of a socketpair
 * the test made). One datagram per message, first byte the type:
 *   test -> fake   'B' abcd      the received ABCD bits changed (queues DAHDI_EVENT_BITSCHANGED)
 *                  'A' 0|1       receive alarm cleared / raised (DAHDI_EVENT_NOALARM / DAHDI_EVENT_ALARM)
 *                  'R' 160 B     the next 20 ms block received (A-law); advances the virtual clock by 20 ms
 *   fake -> test   'T' abcd      DAHDI_SETTXBITS
 *                  'W' bytes     write() (A-law; linear writes are encoded first)
 *                  'F'           DAHDI_FLUSH of the write buffers: drop what was written and not yet sent
 *                  'D'           the program waits for the next block (a blocking DAHDI_IOMUX, poll or select)
 * Lock step: every blocking wait on the channel sends 'D' and returns when the next 'R' has arrived, so the
 * program runs exactly one 20 ms block per tick of the test's clock, however fast or slow the machine is.
 * gettimeofday() and clock_gettime() return the virtual time (start time + 20 ms per block), so the program's
 * timers run on the same clock. Writes are buffered like DAHDI's: the test sends 160 bytes per block; the
 * channel is writable (DAHDI_IOMUX_WRITE, POLLOUT, write() succeeds) while fewer than numbufs x bufsize bytes
 * (DAHDI_SET_BUFINFO; 4 x 160 by default) are waiting. The socket closing makes every call on the channel fail with EIO.
 *
 * Handled ioctls: DAHDI_SPECIFY, DAHDI_CHANNO, DAHDI_GET_PARAMS (sigtype DAHDI_SIG_CAS), DAHDI_GET/SET_BLOCKSIZE,
 * DAHDI_GET/SET_BUFINFO, DAHDI_GETGAINS/SETGAINS, DAHDI_SETLAW, DAHDI_SETLINEAR, DAHDI_GETEVENT, DAHDI_GETRXBITS,
 * DAHDI_SETTXBITS, DAHDI_IOMUX, DAHDI_FLUSH, DAHDI_ECHOCANCEL, DAHDI_ECHOCANCEL_PARAMS; anything else on the
 * channel fails with ENOTTY and is reported on stderr. read/write/close/poll/select on the channel are handled;
 * every other descriptor goes to libc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <dahdi/user.h>

#include "g711_alaw.h"

#define DEVICE "/dev/dahdi/channel"
#define BLOCK 160
#define MAXEV 64

static int sock = -1;            /* the test's socket; also the channel's descriptor once opened */
static int opened;
static int dead;                 /* the socket closed: the "hardware" is gone */
static int channo;
static int linear;
static int blocksize = BLOCK;
static int rxbits = -1, txbits = -1;
static int events[MAXEV], ev_head, ev_count;
static uint8_t rxblock[BLOCK];
static int rx_left;              /* bytes of rxblock not yet read */
static struct dahdi_gains gains;
static struct dahdi_bufferinfo bufinfo;
static int echocancel;
static int tx_queued;             /* bytes written and not yet sent by the test */
static long long vstart_us, ticks;

static int (*real_open)(const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_select)(int, fd_set *, fd_set *, fd_set *, struct timeval *);
static int (*real_gettimeofday)(struct timeval *, void *);
static int (*real_clock_gettime)(clockid_t, struct timespec *);

static void init(void)
{
    static int done;
    const char *s;
    struct timeval tv;
    if (done)
        return;
    done = 1;
    real_open = dlsym(RTLD_NEXT, "open");
    real_close = dlsym(RTLD_NEXT, "close");
    real_read = dlsym(RTLD_NEXT, "read");
    real_write = dlsym(RTLD_NEXT, "write");
    real_ioctl = dlsym(RTLD_NEXT, "ioctl");
    real_poll = dlsym(RTLD_NEXT, "poll");
    real_select = dlsym(RTLD_NEXT, "select");
    real_gettimeofday = dlsym(RTLD_NEXT, "gettimeofday");
    real_clock_gettime = dlsym(RTLD_NEXT, "clock_gettime");
    s = getenv("FAKEDAHDI_FD");
    if (s != NULL)
        sock = atoi(s);
    real_gettimeofday(&tv, NULL);
    vstart_us = (long long) tv.tv_sec * 1000000 + tv.tv_usec;
}

static void complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fakedahdi: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int is_chan(int fd)
{
    init();
    return opened && fd == sock && sock >= 0;
}

static void push_event(int e)
{
    if (ev_count == MAXEV) {
        complain("event queue full, event %d dropped", e);
        return;
    }
    events[(ev_head + ev_count++) % MAXEV] = e;
}

static int send_msg(char type, const void *data, size_t n)
{
    uint8_t buf[1 + 4096];
    if (dead)
        return -1;
    if (n > sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    buf[0] = (uint8_t) type;
    if (n)
        memcpy(buf + 1, data, n);
    if (send(sock, buf, n + 1, MSG_NOSIGNAL) < 0) {
        dead = 1;
        return -1;
    }
    return 0;
}

/* Handle one message from the test: 2 = a block ('R'), 1 = another message, 0 = nothing there (MSG_DONTWAIT),
 * -1 = the socket closed. */
static int recv_one(int flags)
{
    uint8_t buf[1 + 4096];
    ssize_t n;
    if (dead)
        return -1;
    n = recv(sock, buf, sizeof(buf), flags);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (n <= 0) {
        dead = 1;
        return -1;
    }
    switch (buf[0]) {
    case 'B':
        if (n >= 2 && (buf[1] & 0x0F) != rxbits) {
            rxbits = buf[1] & 0x0F;
            push_event(DAHDI_EVENT_BITSCHANGED);
        }
        return 1;
    case 'A':
        push_event(n >= 2 && buf[1] ? DAHDI_EVENT_ALARM : DAHDI_EVENT_NOALARM);
        return 1;
    case 'R':
        if (n - 1 != BLOCK) {
            complain("block of %zd bytes ignored (want %d)", n - 1, BLOCK);
            return 1;
        }
        memcpy(rxblock, buf + 1, BLOCK);
        rx_left = BLOCK;         /* an unread block is overwritten: the driver's buffer overran */
        tx_queued = tx_queued > BLOCK ? tx_queued - BLOCK : 0;      /* the test sent one block */
        ticks++;
        return 2;
    default:
        complain("unknown message type 0x%02x ignored", buf[0]);
        return 1;
    }
}

/* Take in whatever the test sent already (no waiting). */
static void drain(void)
{
    while (recv_one(MSG_DONTWAIT) > 0)
        ;
}

/* A blocking wait: tell the test we are done with this block, then wait for the next one. */
static int next_block(void)
{
    int r;
    if (send_msg('D', NULL, 0) < 0)
        return -1;
    while ((r = recv_one(0)) >= 0 && r != 2)
        ;
    return r < 0 ? -1 : 0;
}

static int tx_limit(void)
{
    int n = bufinfo.numbufs > 0 ? bufinfo.numbufs : 4, size = bufinfo.bufsize > 0 ? bufinfo.bufsize : BLOCK;
    return n * size;
}

static int ready_flags(int want)
{
    int got = 0;
    drain();
    if ((want & DAHDI_IOMUX_READ) && rx_left > 0)
        got |= DAHDI_IOMUX_READ;
    if ((want & DAHDI_IOMUX_SIGEVENT) && ev_count > 0)
        got |= DAHDI_IOMUX_SIGEVENT;
    if ((want & DAHDI_IOMUX_WRITE) && tx_queued < tx_limit())
        got |= DAHDI_IOMUX_WRITE;
    if ((want & DAHDI_IOMUX_WRITEEMPTY) && tx_queued == 0)
        got |= DAHDI_IOMUX_WRITEEMPTY;
    return got;
}

/* ------------------------------------------------------------------------------------------------- libc */
int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    init();
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, int);
        va_end(ap);
    }
    if (strcmp(path, DEVICE) == 0) {
        if (sock < 0) {
            complain("FAKEDAHDI_FD is not set");
            errno = ENODEV;
            return -1;
        }
        if (opened) {
            complain("only one channel can be open");
            errno = EBUSY;
            return -1;
        }
        opened = 1;
        return sock;
    }
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, int);
        va_end(ap);
    }
    return open(path, flags, mode);
}

int close(int fd)
{
    if (is_chan(fd)) {
        opened = 0;
        return 0;                 /* the socket stays: it is the test's */
    }
    return real_close(fd);
}

ssize_t read(int fd, void *buf, size_t n)
{
    size_t k, i;
    if (!is_chan(fd))
        return real_read(fd, buf, n);
    drain();
    if (rx_left == 0) {
        errno = dead ? EIO : EAGAIN;
        return -1;
    }
    if (linear) {
        int16_t *out = buf;
        k = n / 2 < (size_t) rx_left ? n / 2 : (size_t) rx_left;
        for (i = 0; i < k; i++)
            out[i] = alaw_decode(rxblock[BLOCK - rx_left + i]);
        rx_left -= (int) k;
        return (ssize_t) (2 * k);
    }
    k = n < (size_t) rx_left ? n : (size_t) rx_left;
    memcpy(buf, rxblock + BLOCK - rx_left, k);
    rx_left -= (int) k;
    return (ssize_t) k;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    uint8_t tmp[4096];
    size_t i, k;
    if (!is_chan(fd))
        return real_write(fd, buf, n);
    drain();
    if (tx_queued >= tx_limit()) {
        errno = dead ? EIO : EAGAIN;
        return -1;
    }
    if (linear) {
        const int16_t *in = buf;
        k = n / 2 < sizeof(tmp) ? n / 2 : sizeof(tmp);
        for (i = 0; i < k; i++)
            tmp[i] = alaw_encode(in[i]);
        if (send_msg('W', tmp, k) < 0)
            goto fail;
        tx_queued += (int) k;
        return (ssize_t) (2 * k);
    }
    k = n < sizeof(tmp) ? n : sizeof(tmp);
    if (send_msg('W', buf, k) < 0)
        goto fail;
    tx_queued += (int) k;
    return (ssize_t) k;
fail:
    errno = EIO;
    return -1;
}

static int chan_ioctl(unsigned long req, void *arg)
{
    int *ip = arg;
    if (dead && req != DAHDI_CHANNO) {
        errno = EIO;
        return -1;
    }
    switch (req) {
    case DAHDI_SPECIFY:
        channo = *ip;
        return 0;
    case DAHDI_CHANNO:
        *ip = channo;
        return 0;
    case DAHDI_GET_PARAMS: {
        struct dahdi_params *p = arg;
        memset(p, 0, sizeof(*p));
        p->channo = channo;
        p->spanno = 1;
        p->chanpos = channo;
        p->sigtype = DAHDI_SIG_CAS;
        p->sigcap = DAHDI_SIG_CAS;
        p->rxisoffhook = 0;
        p->curlaw = DAHDI_LAW_ALAW;
        snprintf(p->name, sizeof(p->name), "FAKE/1/%d", channo);
        return 0;
    }
    case DAHDI_GET_BLOCKSIZE:
        *ip = blocksize;
        return 0;
    case DAHDI_SET_BLOCKSIZE:
        if (*ip != BLOCK)
            complain("block size %d asked; blocks stay %d bytes (20 ms)", *ip, BLOCK);
        blocksize = *ip;
        return 0;
    case DAHDI_GET_BUFINFO:
        if (bufinfo.bufsize == 0) {
            bufinfo.bufsize = BLOCK;
            bufinfo.numbufs = 4;
        }
        memcpy(arg, &bufinfo, sizeof(bufinfo));
        return 0;
    case DAHDI_SET_BUFINFO:
        memcpy(&bufinfo, arg, sizeof(bufinfo));
        return 0;
    case DAHDI_GETGAINS:
        memcpy(arg, &gains, sizeof(gains));
        return 0;
    case DAHDI_SETGAINS:
        memcpy(&gains, arg, sizeof(gains));
        return 0;
    case DAHDI_SETLAW:
        if (*ip != DAHDI_LAW_ALAW && *ip != DAHDI_LAW_DEFAULT) {
            complain("law %d refused: the E1 carries A-law", *ip);
            errno = EINVAL;
            return -1;
        }
        linear = 0;
        return 0;
    case DAHDI_SETLINEAR:
        linear = *ip != 0;
        return 0;
    case DAHDI_ECHOCANCEL:
        echocancel = *ip;
        return 0;
    case DAHDI_ECHOCANCEL_PARAMS:
        echocancel = 1;
        return 0;
    case DAHDI_FLUSH:
        if (*ip & DAHDI_FLUSH_READ)
            rx_left = 0;
        if (*ip & DAHDI_FLUSH_EVENT)
            ev_count = 0;
        if (*ip & DAHDI_FLUSH_WRITE) {
            tx_queued = 0;
            if (send_msg('F', NULL, 0) < 0) {
                errno = EIO;
                return -1;
            }
        }
        return 0;
    case DAHDI_GETEVENT:
        drain();
        if (ev_count == 0) {
            *ip = DAHDI_EVENT_NONE;
            return 0;
        }
        *ip = events[ev_head];
        ev_head = (ev_head + 1) % MAXEV;
        ev_count--;
        return 0;
    case DAHDI_GETRXBITS:
        drain();
        if (rxbits < 0) {
            errno = EINVAL;       /* nothing received yet */
            return -1;
        }
        *ip = rxbits;
        return 0;
    case DAHDI_SETTXBITS: {
        uint8_t b = (uint8_t) (*ip & 0x0F);
        txbits = b;
        if (send_msg('T', &b, 1) < 0) {
            errno = EIO;
            return -1;
        }
        return 0;
    }
    case DAHDI_IOMUX: {
        int want = *ip, got = ready_flags(want);
        if (got == 0 && !(want & DAHDI_IOMUX_NOWAIT)) {
            if (next_block() < 0) {
                errno = EIO;
                return -1;
            }
            got = ready_flags(want);
        }
        *ip = got;
        return 0;
    }
    default:
        complain("unsupported ioctl 0x%lx (type 0x%lx nr %lu) on the channel", req, (req >> 8) & 0xFF, req & 0xFF);
        errno = ENOTTY;
        return -1;
    }
}

int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    void *arg;
    va_start(ap, req);
    arg = va_arg(ap, void *);
    va_end(ap);
    if (is_chan(fd))
        return chan_ioctl(req, arg);
    return real_ioctl(fd, req, arg);
}

/* poll/select on the channel: readable = a block is waiting, POLLPRI = a DAHDI event is waiting (as DAHDI
 * reports events); a wait with nothing ready on the channel is a blocking wait for the next block. Mixing the
 * channel with other descriptors in one call is not supported (reported). */
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    nfds_t i;
    int idx = -1, ready;
    init();
    for (i = 0; i < n; i++)
        if (is_chan(fds[i].fd))
            idx = (int) i;
    if (idx < 0)
        return real_poll(fds, n, timeout);
    if (n != 1)
        complain("poll on the channel together with other descriptors: only the channel is watched");
    for (;;) {
        int f = ready_flags(DAHDI_IOMUX_READ | DAHDI_IOMUX_SIGEVENT);
        short re = 0;
        if ((fds[idx].events & POLLIN) && (f & DAHDI_IOMUX_READ))
            re |= POLLIN;
        if (f & DAHDI_IOMUX_SIGEVENT)
            re |= POLLPRI;
        if ((fds[idx].events & POLLOUT) && tx_queued < tx_limit())
            re |= POLLOUT;
        if (dead)
            re |= POLLHUP;
        for (i = 0; i < n; i++)
            fds[i].revents = 0;
        fds[idx].revents = re;
        ready = re != 0;
        if (ready || timeout == 0)
            return ready;
        if (next_block() < 0) {
            fds[idx].revents = POLLHUP;
            return 1;
        }
    }
}

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv)
{
    init();
    if (opened && sock >= 0 && sock < nfds &&
        ((r && FD_ISSET(sock, r)) || (w && FD_ISSET(sock, w)) || (e && FD_ISSET(sock, e)))) {
        struct pollfd p = { sock, 0, 0 };
        int res;
        if (r && FD_ISSET(sock, r))
            p.events |= POLLIN;
        if (w && FD_ISSET(sock, w))
            p.events |= POLLOUT;
        res = poll(&p, 1, (tv && tv->tv_sec == 0 && tv->tv_usec == 0) ? 0 : -1);
        if (r)
            FD_ZERO(r);
        if (w)
            FD_ZERO(w);
        if (e)
            FD_ZERO(e);
        if (res <= 0)
            return res;
        res = 0;
        if (r && (p.revents & (POLLIN | POLLHUP))) {
            FD_SET(sock, r);
            res++;
        }
        if (w && (p.revents & POLLOUT)) {
            FD_SET(sock, w);
            res++;
        }
        if (e && (p.revents & POLLPRI)) {
            FD_SET(sock, e);
            res++;
        }
        return res;
    }
    return real_select(nfds, r, w, e, tv);
}

/* ------------------------------------------------------------------------------------------ virtual time */
int gettimeofday(struct timeval *tv, void *tz)
{
    long long us;
    init();
    if (sock < 0)
        return real_gettimeofday(tv, tz);
    us = vstart_us + ticks * 20000;
    tv->tv_sec = (time_t) (us / 1000000);
    tv->tv_usec = (suseconds_t) (us % 1000000);
    return 0;
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
    long long us;
    init();
    if (sock < 0 || (clk != CLOCK_REALTIME && clk != CLOCK_MONOTONIC))
        return real_clock_gettime(clk, ts);
    us = vstart_us + ticks * 20000;
    ts->tv_sec = (time_t) (us / 1000000);
    ts->tv_nsec = (long) (us % 1000000) * 1000;
    return 0;
}
