/*
 * fakedahdi_probe: exercises fakedahdi.c the way a DAHDI program would, without OpenR2, so the fake's own
 * semantics are tested (tests/signaling/test_china1_openr2_calls.py::test_fakedahdi_*). Our own code; prints
 * "key value" lines. The script of calls is fixed; the test plays the other end of the socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/time.h>
#include <unistd.h>

#include <dahdi/user.h>

static long long ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static unsigned sum(const uint8_t *b, int n)
{
    unsigned s = 0;
    int i;
    for (i = 0; i < n; i++)
        s += b[i];
    return s;
}

int main(void)
{
    int fd, v, n, writes;
    long long t0 = ms();
    uint8_t buf[640];
    int16_t lin[160];
    struct dahdi_params p;
    struct pollfd pfd;
    fd_set rd;

    fd = open("/dev/dahdi/channel", O_RDWR | O_NONBLOCK);
    printf("open %d\n", fd >= 0);
    v = 5;
    printf("specify %d\n", ioctl(fd, DAHDI_SPECIFY, &v));
    v = 0;
    ioctl(fd, DAHDI_CHANNO, &v);
    printf("channo %d\n", v);
    memset(&p, 0, sizeof(p));
    n = ioctl(fd, DAHDI_GET_PARAMS, &p);          /* (results first: argument order is unspecified) */
    printf("params %d sigcas %d\n", n, p.sigtype == DAHDI_SIG_CAS);
    v = 0x0B;
    printf("settxbits %d\n", ioctl(fd, DAHDI_SETTXBITS, &v));
    n = (int) read(fd, buf, 160);
    printf("read_early %d errno_eagain %d\n", n, errno == EAGAIN);
    fflush(stdout);

    /* block 1: poll */
    pfd.fd = fd;
    pfd.events = POLLIN | POLLPRI;
    n = poll(&pfd, 1, -1);
    printf("poll %d pollin %d pollpri %d\n", n, !!(pfd.revents & POLLIN), !!(pfd.revents & POLLPRI));
    v = -1;
    ioctl(fd, DAHDI_GETEVENT, &v);
    printf("event %d bitschanged %d\n", v, v == DAHDI_EVENT_BITSCHANGED);
    v = -1;
    ioctl(fd, DAHDI_GETEVENT, &v);
    printf("event2 %d\n", v);
    v = -1;
    ioctl(fd, DAHDI_GETRXBITS, &v);
    printf("rxbits %d\n", v);
    n = (int) read(fd, buf, sizeof(buf));
    printf("read1 %d sum %u\n", n, sum(buf, n));
    memset(buf, 0x55, 160);
    printf("write1 %d\n", (int) write(fd, buf, 160));
    fflush(stdout);

    /* block 2: select */
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    n = select(fd + 1, &rd, NULL, NULL, NULL);
    printf("select %d isset %d\n", n, FD_ISSET(fd, &rd) ? 1 : 0);
    n = (int) read(fd, buf, sizeof(buf));
    printf("read2 %d sum %u\n", n, sum(buf, n));
    fflush(stdout);

    /* block 3: linear, blocking IOMUX */
    v = 1;
    ioctl(fd, DAHDI_SETLINEAR, &v);
    v = DAHDI_IOMUX_READ;
    n = ioctl(fd, DAHDI_IOMUX, &v);
    printf("iomux %d read %d\n", n, !!(v & DAHDI_IOMUX_READ));
    n = (int) read(fd, lin, sizeof(lin));
    printf("read3 %d first %d %d\n", n, lin[0], lin[1]);
    for (v = 0; v < 160; v++)
        lin[v] = 1000;
    printf("write3 %d\n", (int) write(fd, lin, sizeof(lin)));
    v = DAHDI_FLUSH_WRITE;
    printf("flush %d\n", ioctl(fd, DAHDI_FLUSH, &v));
    v = 0;
    ioctl(fd, DAHDI_SETLINEAR, &v);
    memset(buf, 0xD5, 160);
    for (writes = 0; writes < 10 && write(fd, buf, 160) == 160; writes++)
        ;
    printf("writes_until_full %d errno_eagain %d\n", writes, errno == EAGAIN);
    v = DAHDI_IOMUX_WRITE | DAHDI_IOMUX_NOWAIT;
    ioctl(fd, DAHDI_IOMUX, &v);
    printf("writable_when_full %d\n", !!(v & DAHDI_IOMUX_WRITE));
    v = 0x1234;
    n = ioctl(fd, _IO(DAHDI_CODE, 250), &v);
    printf("unknown_ioctl %d errno_enotty %d\n", n, errno == ENOTTY);
    printf("elapsed_ms %lld\n", ms() - t0);
    fflush(stdout);

    /* the test closes its end: the next wait fails */
    v = DAHDI_IOMUX_READ;
    n = ioctl(fd, DAHDI_IOMUX, &v);
    printf("iomux_after_close %d errno_eio %d\n", n, errno == EIO);
    return 0;
}
