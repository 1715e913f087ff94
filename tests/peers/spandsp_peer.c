/*
 * spandsp_peer: an independent reference peer for ctid's tests, built on Debian's libspandsp 0.0.6.
 *
 * This is a separate program of ours that only LINKS against spandsp (LGPL) through its public API; no
 * spandsp code is copied. The tests run it as a subprocess, audio on stdin/stdout.
 *
 * Usage: spandsp_peer [-l alaw|ulaw|linear] MODE [ARGS...]
 *   g711-tables              binary on stdout: linear_to_alaw[65536] (inputs -32768..32767), linear_to_ulaw[65536],
 *                            alaw_to_linear[256] (int16 LE), ulaw_to_linear[256] (int16 LE),
 *                            alaw_to_ulaw[256], ulaw_to_alaw[256]
 *   dtmf-rx [TWIST REV THR]  audio in; prints "on D T", "off T" (realtime callback, T = sample index at the
 *                            end of the 160-sample block being processed) and a final "digits STRING"
 *                            (the digits of the "on" reports; R2 rx also prints it)
 *   dtmf-tx DIGITS [LEVEL TWIST ON_MS OFF_MS]   audio out (spandsp default timing/level unless given)
 *   r2-rx fwd|bwd            audio in; prints "on S T", "off T"
 *   r2-tx fwd|bwd SIGNALS ON_MS OFF_MS          audio out: each signal ON_MS then OFF_MS of silence
 *   adsi-tx class|clip HEX   audio out: 100 ms silence, the on-hook data transmission of message HEX (type, length,
 *                            body: spandsp adds the checksum) with spandsp's default preamble, 100 ms silence
 *   adsi-rx class|clip       audio in; prints "msg HEX" for each message spandsp delivers
 *                            (class = Bellcore/Bell 202 FSK, clip = ETSI/V.23 FSK)
 *   cpt-rx                   audio in; China call-progress tones via super_tone_rx; prints "on ID T", "off T"
 *                            with ID the index in ctid's china_tones() order
 * Audio is 8 kHz, A-law by default (-l selects the law; linear = int16 little-endian).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <inttypes.h>

#define SPANDSP_EXPOSE_INTERNAL_STRUCTURES 0
#include <spandsp.h>

enum { LAW_ALAW, LAW_ULAW, LAW_LINEAR };

static int law = LAW_ALAW;
static uint64_t now;          /* sample index at the end of the block being processed */

static void die(const char *msg)
{
    fprintf(stderr, "spandsp_peer: %s\n", msg);
    exit(2);
}

/* Read all of stdin, decode to int16. */
static int16_t *read_audio(size_t *n_out)
{
    size_t cap = 1 << 20, n = 0, r;
    uint8_t *buf = malloc(cap);
    int16_t *out;
    size_t i, ns;
    if (buf == NULL)
        die("out of memory");
    while ((r = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (buf == NULL)
                die("out of memory");
        }
    }
    ns = law == LAW_LINEAR ? n / 2 : n;
    out = malloc((ns + 1) * sizeof(int16_t));
    if (out == NULL)
        die("out of memory");
    for (i = 0; i < ns; i++) {
        if (law == LAW_ALAW)
            out[i] = alaw_to_linear(buf[i]);
        else if (law == LAW_ULAW)
            out[i] = ulaw_to_linear(buf[i]);
        else
            out[i] = (int16_t) (buf[2 * i] | (buf[2 * i + 1] << 8));
    }
    free(buf);
    *n_out = ns;
    return out;
}

static void write_audio(const int16_t *amp, int n)
{
    uint8_t buf[2 * 1024];
    int i, k = 0;
    while (k < n) {
        int m = n - k > 1024 ? 1024 : n - k;
        for (i = 0; i < m; i++) {
            int16_t v = amp[k + i];
            if (law == LAW_ALAW)
                buf[i] = linear_to_alaw(v);
            else if (law == LAW_ULAW)
                buf[i] = linear_to_ulaw(v);
            else {
                buf[2 * i] = (uint8_t) (v & 0xFF);
                buf[2 * i + 1] = (uint8_t) ((uint16_t) v >> 8);
            }
        }
        fwrite(buf, law == LAW_LINEAR ? 2 : 1, (size_t) m, stdout);
        k += m;
    }
}

static void write_silence(int n)
{
    int16_t z[160];
    memset(z, 0, sizeof(z));
    while (n > 0) {
        int m = n > 160 ? 160 : n;
        write_audio(z, m);
        n -= m;
    }
}

/* ------------------------------------------------------------------ G.711 */
static int mode_g711_tables(void)
{
    static uint8_t a[65536], u[65536];
    uint8_t b[512];
    int i;
    for (i = 0; i < 65536; i++) {
        a[i] = linear_to_alaw(i - 32768);
        u[i] = linear_to_ulaw(i - 32768);
    }
    fwrite(a, 1, sizeof(a), stdout);
    fwrite(u, 1, sizeof(u), stdout);
    for (i = 0; i < 256; i++) {
        int16_t v = alaw_to_linear((uint8_t) i);
        b[2 * i] = (uint8_t) (v & 0xFF);
        b[2 * i + 1] = (uint8_t) ((uint16_t) v >> 8);
    }
    fwrite(b, 1, 512, stdout);
    for (i = 0; i < 256; i++) {
        int16_t v = ulaw_to_linear((uint8_t) i);
        b[2 * i] = (uint8_t) (v & 0xFF);
        b[2 * i + 1] = (uint8_t) ((uint16_t) v >> 8);
    }
    fwrite(b, 1, 512, stdout);
    for (i = 0; i < 256; i++)
        b[i] = alaw_to_ulaw((uint8_t) i);
    fwrite(b, 1, 256, stdout);
    for (i = 0; i < 256; i++)
        b[i] = ulaw_to_alaw((uint8_t) i);
    fwrite(b, 1, 256, stdout);
    return 0;
}

/* ------------------------------------------------------------------ DTMF */
static char digit_buf[1 << 16];
static size_t digit_len;

/* With a realtime callback set, spandsp 0.0.6 does not also deliver digits to the digits callback: the
   "digits" line is built from the realtime "on" reports. */
static void dtmf_digits_cb(void *user, const char *digits, int len)
{
    (void) user;
    (void) digits;
    (void) len;
}

static void realtime_cb(void *user, int code, int level, int delay)
{
    (void) user;
    (void) delay;
    if (code > 0) {
        printf("on %c %" PRIu64 " %d\n", code, now, level);
        if (digit_len < sizeof(digit_buf) - 1)
            digit_buf[digit_len++] = (char) code;
    }
    else
        printf("off %" PRIu64 "\n", now);
}

static int mode_dtmf_rx(int argc, char **argv)
{
    size_t n, i;
    int16_t *amp = read_audio(&n);
    dtmf_rx_state_t *s = dtmf_rx_init(NULL, dtmf_digits_cb, NULL);
    if (s == NULL)
        die("dtmf_rx_init failed");
    if (argc >= 3)
        dtmf_rx_parms(s, 0, atoi(argv[0]), atoi(argv[1]), atoi(argv[2]));
    dtmf_rx_set_realtime_callback(s, realtime_cb, NULL);
    for (i = 0; i < n; i += 160) {
        int m = n - i > 160 ? 160 : (int) (n - i);
        now = i + (size_t) m;
        dtmf_rx(s, amp + i, m);
    }
    digit_buf[digit_len] = 0;
    printf("digits %s\n", digit_buf);
    dtmf_rx_free(s);
    free(amp);
    return 0;
}

static int mode_dtmf_tx(int argc, char **argv)
{
    int16_t amp[160];
    const char *digits;
    size_t off = 0, len;
    int k;
    dtmf_tx_state_t *s;
    if (argc < 1)
        die("dtmf-tx needs DIGITS");
    digits = argv[0];
    len = strlen(digits);
    s = dtmf_tx_init(NULL);
    if (s == NULL)
        die("dtmf_tx_init failed");
    if (argc >= 3)
        dtmf_tx_set_level(s, atoi(argv[1]), atoi(argv[2]));
    if (argc >= 5)
        dtmf_tx_set_timing(s, atoi(argv[3]), atoi(argv[4]));
    for (;;) {
        /* spandsp's queue holds MAX_DTMF_DIGITS: feed it in pieces */
        if (off < len) {
            size_t piece = len - off > 32 ? 32 : len - off;
            int put = dtmf_tx_put(s, digits + off, (int) piece);
            if (put < 0)
                die("dtmf_tx_put refused the digits");
            off += piece;
        }
        k = dtmf_tx(s, amp, 160);
        if (k <= 0 && off >= len)
            break;
        if (k > 0)
            write_audio(amp, k);
    }
    dtmf_tx_free(s);
    return 0;
}

/* ------------------------------------------------------------------ R2 MF */
static int parse_dir(const char *s)
{
    if (strcmp(s, "fwd") == 0)
        return 1;
    if (strcmp(s, "bwd") == 0)
        return 0;
    die("direction must be fwd or bwd");
    return 0;
}

static int mode_r2_rx(int argc, char **argv)
{
    size_t n, i;
    int16_t *amp;
    r2_mf_rx_state_t *s;
    if (argc < 1)
        die("r2-rx needs fwd|bwd");
    amp = read_audio(&n);
    s = r2_mf_rx_init(NULL, parse_dir(argv[0]), realtime_cb, NULL);
    if (s == NULL)
        die("r2_mf_rx_init failed");
    for (i = 0; i < n; i += 160) {
        int m = n - i > 160 ? 160 : (int) (n - i);
        now = i + (size_t) m;
        r2_mf_rx(s, amp + i, m);
    }
    digit_buf[digit_len] = 0;
    printf("digits %s\n", digit_buf);
    r2_mf_rx_free(s);
    free(amp);
    return 0;
}

static int mode_r2_tx(int argc, char **argv)
{
    int16_t amp[160];
    const char *sig;
    int on, offms, j;
    r2_mf_tx_state_t *s;
    if (argc < 4)
        die("r2-tx needs fwd|bwd SIGNALS ON_MS OFF_MS");
    s = r2_mf_tx_init(NULL, parse_dir(argv[0]));
    if (s == NULL)
        die("r2_mf_tx_init failed");
    sig = argv[1];
    on = atoi(argv[2]) * 8;
    offms = atoi(argv[3]) * 8;
    for (j = 0; sig[j]; j++) {
        int left = on;
        if (r2_mf_tx_put(s, sig[j]) < 0)
            die("r2_mf_tx_put refused a signal");
        while (left > 0) {
            int m = left > 160 ? 160 : left;
            int k = r2_mf_tx(s, amp, m);
            if (k < m)
                memset(amp + (k > 0 ? k : 0), 0, sizeof(int16_t) * (size_t) (m - (k > 0 ? k : 0)));
            write_audio(amp, m);
            left -= m;
        }
        r2_mf_tx_put(s, 0);
        write_silence(offms);
    }
    r2_mf_tx_free(s);
    return 0;
}

/* ------------------------------------------------------------------ call progress (China) */
#include "spandsp_china_tones.h"

/* realtime_cb prints code > 0 as a character; super_tone_rx reports ids from 0 and -1 for off. */
static void cpt_cb(void *user, int code, int level, int delay)
{
    (void) user;
    (void) delay;
    if (code >= 0)
        printf("on %d %" PRIu64 " %d\n", code, now, level);
    else
        printf("off %" PRIu64 "\n", now);
}

static int mode_cpt_rx(void)
{
    size_t n, i;
    int16_t *amp = read_audio(&n);
    super_tone_rx_descriptor_t *d = china_descriptor();
    if (d == NULL)
        die("super_tone_rx_make_descriptor failed");
    super_tone_rx_state_t *s = super_tone_rx_init(NULL, d, cpt_cb, NULL);
    if (s == NULL)
        die("super_tone_rx_init failed");
    for (i = 0; i < n;) {
        int m = n - i > 160 ? 160 : (int) (n - i);
        int k;
        now = i + (size_t) m;
        k = super_tone_rx(s, amp + i, m);
        i += (size_t) (k > 0 ? k : m);
    }
    super_tone_rx_free(s);
    super_tone_rx_free_descriptor(d);
    free(amp);
    return 0;
}

/* ------------------------------------------------------------------ caller ID (ADSI) */
static int parse_std(const char *s)
{
    if (strcmp(s, "class") == 0)
        return ADSI_STANDARD_CLASS;
    if (strcmp(s, "clip") == 0)
        return ADSI_STANDARD_CLIP;
    die("standard must be class or clip");
    return 0;
}

static void adsi_msg_cb(void *user, const uint8_t *msg, int len)
{
    int i;
    (void) user;
    printf("msg ");
    for (i = 0; i < len; i++)
        printf("%02x", msg[i]);
    printf(" %" PRIu64 "\n", now);
}

static int mode_adsi_rx(int argc, char **argv)
{
    size_t n, i;
    int16_t *amp;
    adsi_rx_state_t *s;
    if (argc < 1)
        die("adsi-rx needs class|clip");
    amp = read_audio(&n);
    s = adsi_rx_init(NULL, parse_std(argv[0]), adsi_msg_cb, NULL);
    if (s == NULL)
        die("adsi_rx_init failed");
    for (i = 0; i < n; i += 160) {
        int m = n - i > 160 ? 160 : (int) (n - i);
        now = i + (size_t) m;
        adsi_rx(s, amp + i, m);
    }
    adsi_rx_free(s);
    free(amp);
    return 0;
}

static int mode_adsi_tx(int argc, char **argv)
{
    uint8_t msg[300];
    int16_t amp[160];
    int len = 0, k;
    const char *h;
    adsi_tx_state_t *s;
    if (argc < 2)
        die("adsi-tx needs class|clip HEX");
    for (h = argv[1]; h[0] && h[1] && len < (int) sizeof(msg); h += 2) {
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1)
            die("bad hex");
        msg[len++] = (uint8_t) v;
    }
    s = adsi_tx_init(NULL, parse_std(argv[0]));
    if (s == NULL)
        die("adsi_tx_init failed");
    if (adsi_tx_put_message(s, msg, len) <= 0)
        die("adsi_tx_put_message refused the message");
    write_silence(800);
    while ((k = adsi_tx(s, amp, 160)) > 0)
        write_audio(amp, k);
    write_silence(800);
    adsi_tx_free(s);
    return 0;
}

int main(int argc, char **argv)
{
    int a = 1;
    if (argc > 2 && strcmp(argv[1], "-l") == 0) {
        if (strcmp(argv[2], "alaw") == 0)
            law = LAW_ALAW;
        else if (strcmp(argv[2], "ulaw") == 0)
            law = LAW_ULAW;
        else if (strcmp(argv[2], "linear") == 0)
            law = LAW_LINEAR;
        else
            die("law must be alaw, ulaw or linear");
        a = 3;
    }
    if (a >= argc)
        die("usage: spandsp_peer [-l alaw|ulaw|linear] MODE [ARGS]");
    if (strcmp(argv[a], "g711-tables") == 0)
        return mode_g711_tables();
    if (strcmp(argv[a], "dtmf-rx") == 0)
        return mode_dtmf_rx(argc - a - 1, argv + a + 1);
    if (strcmp(argv[a], "dtmf-tx") == 0)
        return mode_dtmf_tx(argc - a - 1, argv + a + 1);
    if (strcmp(argv[a], "r2-rx") == 0)
        return mode_r2_rx(argc - a - 1, argv + a + 1);
    if (strcmp(argv[a], "r2-tx") == 0)
        return mode_r2_tx(argc - a - 1, argv + a + 1);
    if (strcmp(argv[a], "adsi-rx") == 0)
        return mode_adsi_rx(argc - a - 1, argv + a + 1);
    if (strcmp(argv[a], "adsi-tx") == 0)
        return mode_adsi_tx(argc - a - 1, argv + a + 1);
    if (strcmp(argv[a], "cpt-rx") == 0)
        return mode_cpt_rx();
    die("unknown mode");
    return 2;
}
