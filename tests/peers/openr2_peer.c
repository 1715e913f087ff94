/*
 * openr2_peer: one OpenR2 1.3.3 channel (Debian libopenr2, LGPL) as an independent China No.1 peer for ctid's
 * tests. A separate program of ours that only calls OpenR2's public API; no OpenR2 code is copied.
 *
 * The channel is /dev/dahdi/channel number CHANNO; in the tests that device is fakedahdi.so (LD_PRELOAD), which
 * runs the program in lock step with the test: each blocking DAHDI_IOMUX below waits for the next 20 ms block.
 *
 * Usage: openr2_peer [-v VARIANT] [-a MAX_ANI] [-d MAX_DNIS] [-l LOGLEVEL] CHANNO
 *   VARIANT is an OpenR2 variant code (default CN), LOGLEVEL an OpenR2 log level list (default "error,warning"),
 *   logs go to stderr.
 * Commands on stdin, one per line, read once per block before OpenR2 processes the block:
 *   call ANI DNIS CATEGORY   openr2_chan_make_call (ANI "-" = none; CATEGORY an OpenR2 category name, e.g.
 *                            NATIONAL_SUBSCRIBER)
 *   accept [charge|nocharge] openr2_chan_accept_call
 *   answer                   openr2_chan_answer_call
 *   hangup [CAUSE]           openr2_chan_disconnect_call (CAUSE: normal, busy, congestion, unallocated,
 *                            out_of_order, unspecified, no_answer; default normal)
 *   quit
 * Events on stdout, one JSON object per line, with "ms": the channel's clock (ms since start):
 *   {"event":"ready"}, "call_init", "offered" (ani, dnis, category), "accepted" (mode), "answered",
 *   "disconnect" (cause; the program then completes the release with openr2_chan_disconnect_call),
 *   "end", "idle", "blocked", "dnis_digit" / "ani_digit" (digit), "protocol_error" (error), "os_error" (errno),
 *   "alarm" (alarm), "billing_pulse", "cmd" (cmd, rc), "cmd_error" (cmd, why).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include <dahdi/user.h>
#include <openr2.h>

static openr2_chan_t *chan;
static long long t0_ms;

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void emit(const char *event, const char *fmt, ...)
{
    printf("{\"event\":\"%s\",\"ms\":%lld", event, now_ms() - t0_ms);
    if (fmt != NULL && *fmt) {
        va_list ap;
        putchar(',');
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
    }
    printf("}\n");
    fflush(stdout);
}

/* OpenR2 event callbacks ------------------------------------------------------------------------------ */
static void on_call_init(openr2_chan_t *c)
{
    emit("call_init", NULL);
}

static void on_call_offered(openr2_chan_t *c, const char *ani, const char *dnis, openr2_calling_party_category_t cat)
{
    emit("offered", "\"ani\":\"%s\",\"dnis\":\"%s\",\"category\":\"%s\"", ani ? ani : "", dnis ? dnis : "",
         openr2_proto_get_category_string(cat));
}

static void on_call_accepted(openr2_chan_t *c, openr2_call_mode_t mode)
{
    emit("accepted", "\"mode\":\"%s\"", openr2_proto_get_call_mode_string(mode));
}

static void on_call_answered(openr2_chan_t *c)
{
    emit("answered", NULL);
}

static void on_call_disconnect(openr2_chan_t *c, openr2_call_disconnect_cause_t cause)
{
    emit("disconnect", "\"cause\":\"%s\"", openr2_proto_get_disconnect_string(cause));
    openr2_chan_disconnect_call(c, OR2_CAUSE_NORMAL_CLEARING);
}

static void on_call_end(openr2_chan_t *c)
{
    emit("end", NULL);
}

static void on_call_read(openr2_chan_t *c, const unsigned char *buf, int len)
{
}

static void on_os_error(openr2_chan_t *c, int err)
{
    emit("os_error", "\"errno\":%d", err);
}

static void on_hardware_alarm(openr2_chan_t *c, int alarm)
{
    emit("alarm", "\"alarm\":%d", alarm);
}

static void on_protocol_error(openr2_chan_t *c, openr2_protocol_error_t err)
{
    emit("protocol_error", "\"error\":\"%s\"", openr2_proto_get_error(err));
}

static void on_line_blocked(openr2_chan_t *c)
{
    emit("blocked", NULL);
}

static void on_line_idle(openr2_chan_t *c)
{
    emit("idle", NULL);
}

static void on_context_log(openr2_context_t *ctx, openr2_log_level_t level, const char *fmt, va_list ap)
{
    fprintf(stderr, "[%lld ms] ", now_ms() - t0_ms);
    vfprintf(stderr, fmt, ap);
}

static void on_chan_log(openr2_chan_t *c, openr2_log_level_t level, const char *fmt, va_list ap)
{
    fprintf(stderr, "[%lld ms] ", now_ms() - t0_ms);
    vfprintf(stderr, fmt, ap);
}

static int on_dnis_digit(openr2_chan_t *c, char digit)
{
    emit("dnis_digit", "\"digit\":\"%c\"", digit);
    return 1;            /* keep asking: the end of the number is OpenR2's max_dnis */
}

static void on_ani_digit(openr2_chan_t *c, char digit)
{
    emit("ani_digit", "\"digit\":\"%c\"", digit);
}

static void on_billing_pulse(openr2_chan_t *c)
{
    emit("billing_pulse", NULL);
}

static openr2_event_interface_t events = {
    .on_call_init = on_call_init,
    .on_call_offered = on_call_offered,
    .on_call_accepted = on_call_accepted,
    .on_call_answered = on_call_answered,
    .on_call_disconnect = on_call_disconnect,
    .on_call_end = on_call_end,
    .on_call_read = on_call_read,
    .on_hardware_alarm = on_hardware_alarm,
    .on_os_error = on_os_error,
    .on_protocol_error = on_protocol_error,
    .on_line_blocked = on_line_blocked,
    .on_line_idle = on_line_idle,
    .on_context_log = on_context_log,
    .on_dnis_digit_received = on_dnis_digit,
    .on_ani_digit_received = on_ani_digit,
    .on_billing_pulse_received = on_billing_pulse,
};

/* commands ------------------------------------------------------------------------------------------------ */
static const struct { const char *name; openr2_call_disconnect_cause_t cause; } causes[] = {
    { "normal", OR2_CAUSE_NORMAL_CLEARING }, { "busy", OR2_CAUSE_BUSY_NUMBER },
    { "congestion", OR2_CAUSE_NETWORK_CONGESTION }, { "unallocated", OR2_CAUSE_UNALLOCATED_NUMBER },
    { "out_of_order", OR2_CAUSE_OUT_OF_ORDER }, { "unspecified", OR2_CAUSE_UNSPECIFIED },
    { "no_answer", OR2_CAUSE_NO_ANSWER },
};

static int command(char *line)
{
    char *argv[8], *save = NULL, *tok;
    int argc = 0, rc;
    line[strcspn(line, "\r\n")] = '\0';
    for (tok = strtok_r(line, " \t", &save); tok && argc < 8; tok = strtok_r(NULL, " \t", &save))
        argv[argc++] = tok;
    if (argc == 0)
        return 0;
    if (strcmp(argv[0], "quit") == 0)
        return 1;
    if (strcmp(argv[0], "call") == 0) {
        openr2_calling_party_category_t cat;
        if (argc != 4) {
            emit("cmd_error", "\"cmd\":\"call\",\"why\":\"usage: call ANI DNIS CATEGORY\"");
            return 0;
        }
        cat = openr2_proto_get_category(argv[3]);
        if (cat == OR2_CALLING_PARTY_CATEGORY_UNKNOWN) {
            emit("cmd_error", "\"cmd\":\"call\",\"why\":\"unknown category\"");
            return 0;
        }
        rc = openr2_chan_make_call(chan, strcmp(argv[1], "-") == 0 ? "" : argv[1], argv[2], cat);
    } else if (strcmp(argv[0], "accept") == 0) {
        rc = openr2_chan_accept_call(chan, argc > 1 && strcmp(argv[1], "nocharge") == 0
                                     ? OR2_CALL_NO_CHARGE : OR2_CALL_WITH_CHARGE);
    } else if (strcmp(argv[0], "answer") == 0) {
        rc = openr2_chan_answer_call(chan);
    } else if (strcmp(argv[0], "hangup") == 0) {
        openr2_call_disconnect_cause_t cause = OR2_CAUSE_NORMAL_CLEARING;
        size_t i;
        if (argc > 1) {
            for (i = 0; i < sizeof(causes) / sizeof(causes[0]); i++)
                if (strcmp(argv[1], causes[i].name) == 0)
                    break;
            if (i == sizeof(causes) / sizeof(causes[0])) {
                emit("cmd_error", "\"cmd\":\"hangup\",\"why\":\"unknown cause\"");
                return 0;
            }
            cause = causes[i].cause;
        }
        rc = openr2_chan_disconnect_call(chan, cause);
    } else {
        emit("cmd_error", "\"cmd\":\"%s\",\"why\":\"unknown command\"", argv[0]);
        return 0;
    }
    emit("cmd", "\"cmd\":\"%s\",\"rc\":%d", argv[0], rc);
    return 0;
}

/* Commands that arrived on stdin (non-blocking); returns 1 on quit or end of input. */
static int commands(void)
{
    static char buf[4096];
    static size_t have;
    char *nl;
    ssize_t n = read(0, buf + have, sizeof(buf) - 1 - have);
    if (n == 0)
        return 1;
    if (n > 0)
        have += (size_t) n;
    while ((nl = memchr(buf, '\n', have)) != NULL) {
        size_t len = (size_t) (nl - buf) + 1;
        char line[4096];
        memcpy(line, buf, len);
        line[len] = '\0';
        memmove(buf, buf + len, have - len);
        have -= len;
        if (command(line))
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *variant = "CN", *loglevel = "error,warning";
    int max_ani = 10, max_dnis = 4, opt, fd;
    openr2_context_t *ctx;
    openr2_variant_t var;
    while ((opt = getopt(argc, argv, "v:a:d:l:")) != -1) {
        switch (opt) {
        case 'v': variant = optarg; break;
        case 'a': max_ani = atoi(optarg); break;
        case 'd': max_dnis = atoi(optarg); break;
        case 'l': loglevel = optarg; break;
        default:
            fprintf(stderr, "usage: %s [-v VARIANT] [-a MAX_ANI] [-d MAX_DNIS] [-l LOGLEVEL] CHANNO\n", argv[0]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "openr2_peer: CHANNO missing\n");
        return 2;
    }
    t0_ms = now_ms();
    var = openr2_proto_get_variant(variant);
    if (var == OR2_VAR_UNKNOWN) {
        fprintf(stderr, "openr2_peer: unknown variant %s\n", variant);
        return 2;
    }
    ctx = openr2_context_new(NULL, &events, NULL, var, max_ani, max_dnis);
    if (ctx == NULL) {
        fprintf(stderr, "openr2_peer: openr2_context_new failed\n");
        return 1;
    }
    openr2_context_set_log_level(ctx, openr2_log_get_level(loglevel));
    chan = openr2_chan_new(ctx, atoi(argv[optind]), NULL, NULL);
    if (chan == NULL) {
        fprintf(stderr, "openr2_peer: openr2_chan_new failed: %s\n",
                openr2_context_error_string(openr2_context_get_last_error(ctx)));
        return 1;
    }
    openr2_chan_set_logging_func(chan, on_chan_log);
    openr2_chan_set_log_level(chan, openr2_log_get_level(loglevel));
    openr2_chan_enable_read(chan);
    openr2_chan_set_idle(chan);
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    fd = openr2_chan_get_fd(chan);
    emit("ready", "\"variant\":\"%s\",\"max_ani\":%d,\"max_dnis\":%d", openr2_proto_get_variant_string(var),
         max_ani, max_dnis);
    for (;;) {
        int flags = DAHDI_IOMUX_READ | DAHDI_IOMUX_SIGEVENT;
        if (ioctl(fd, DAHDI_IOMUX, &flags)) {       /* the next 20 ms block (fakedahdi: lock step) */
            if (errno == EINTR)
                continue;
            break;                                   /* the channel is gone */
        }
        if (commands())
            break;
        openr2_chan_process_event(chan);
    }
    /* no openr2_chan_delete/openr2_context_delete: 1.3.3 frees the channel twice when both are called;
     * the process ends here anyway */
    return 0;
}
