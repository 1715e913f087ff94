/*
 * openr2_mf: OpenR2 1.3.3's MFC/R2 tone engine as an independent reference peer for ctid's tests.
 *
 * A separate program of ours, linked statically against Debian's libopenr2.a (LGPL), using only the MF engine
 * functions that library exports (nm libopenr2.a: openr2_mf_tx_init, openr2_mf_tx_put, openr2_mf_tx,
 * openr2_mf_rx_init, openr2_mf_rx). Their prototypes are not in the installed headers, so they are declared
 * here from the exported symbols; the engine's state structures are treated as opaque (a generously sized,
 * zeroed buffer handed to the init functions). No OpenR2 code is copied.
 *
 * Usage: openr2_mf [-l alaw|linear] MODE ARGS
 *   tx fwd|bwd SIGNALS ON_MS OFF_MS   audio out: each signal ("1234567890BCDEF") ON_MS, then OFF_MS silence
 *   rx fwd|bwd                        audio in (read in 160-sample blocks, the block size OpenR2 reads from a
 *                                     DAHDI channel); prints "on S T" / "off T" when the signal OpenR2 reports
 *                                     changes (T = sample index at the end of the block), then "digits STRING"
 * Audio is 8 kHz, A-law by default (G.711 A-law with even-bit inversion; our own codec below), or int16 LE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "g711_alaw.h"

/* Exported by libopenr2.a (r2engine.o); the state types are opaque here. */
void *openr2_mf_rx_init(void *s, int fwd);
int openr2_mf_rx(void *s, const int16_t amp[], int samples);
void *openr2_mf_tx_init(void *s, int fwd);
int openr2_mf_tx(void *s, int16_t amp[], int samples);
int openr2_mf_tx_put(void *s, char digit);

#define STATE_BYTES 8192      /* far larger than either engine state (a few hundred bytes in 1.3.3) */
#define BLOCK 160

static int linear_law;

static void die(const char *msg)
{
    fprintf(stderr, "openr2_mf: %s\n", msg);
    exit(2);
}

static void put_audio(const int16_t *amp, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (linear_law) {
            uint8_t b[2] = { (uint8_t) (amp[i] & 0xFF), (uint8_t) ((uint16_t) amp[i] >> 8) };
            fwrite(b, 1, 2, stdout);
        } else {
            putchar(alaw_encode(amp[i]));
        }
    }
}

static int valid_signal(char c)
{
    return c != '\0' && strchr("1234567890BCDEF", c) != NULL;
}

static int do_tx(int fwd, const char *signals, int on_ms, int off_ms)
{
    void *st = calloc(1, STATE_BYTES);
    int16_t buf[BLOCK];
    const char *p;
    if (st == NULL || openr2_mf_tx_init(st, fwd) == NULL)
        die("openr2_mf_tx_init failed");
    for (p = signals; *p; p++) {
        int left, n;
        if (!valid_signal(*p))
            die("unknown R2 signal (use 1234567890BCDEF)");
        openr2_mf_tx_put(st, *p);
        for (left = on_ms * 8; left > 0; left -= n) {
            n = left < BLOCK ? left : BLOCK;
            memset(buf, 0, sizeof(buf));
            openr2_mf_tx(st, buf, n);
            put_audio(buf, n);
        }
        openr2_mf_tx_put(st, 0);
        memset(buf, 0, sizeof(buf));
        for (left = off_ms * 8; left > 0; left -= n) {
            n = left < BLOCK ? left : BLOCK;
            put_audio(buf, n);
        }
    }
    fflush(stdout);
    free(st);
    return 0;
}

static int do_rx(int fwd)
{
    void *st = calloc(1, STATE_BYTES);
    int16_t amp[BLOCK];
    uint8_t raw[2 * BLOCK];
    char digits[4096];
    size_t nd = 0;
    int cur = 0;
    unsigned long long t = 0;
    if (st == NULL || openr2_mf_rx_init(st, fwd) == NULL)
        die("openr2_mf_rx_init failed");
    for (;;) {
        size_t want = linear_law ? 2 * BLOCK : BLOCK, got = fread(raw, 1, want, stdin), i, n;
        int sig;
        if (got == 0)
            break;
        n = linear_law ? got / 2 : got;
        for (i = 0; i < n; i++)
            amp[i] = linear_law ? (int16_t) (raw[2 * i] | (raw[2 * i + 1] << 8)) : alaw_decode(raw[i]);
        t += n;
        sig = openr2_mf_rx(st, amp, (int) n);
        if (sig != cur) {
            if (cur != 0)
                printf("off %llu\n", t);
            if (sig != 0) {
                printf("on %c %llu 0\n", sig, t);
                if (nd + 1 < sizeof(digits))
                    digits[nd++] = (char) sig;
            }
            cur = sig;
        }
    }
    digits[nd] = '\0';
    printf("digits %s\n", digits);
    free(st);
    return 0;
}

int main(int argc, char **argv)
{
    int i = 1, fwd;
    if (argc > 2 && strcmp(argv[1], "-l") == 0) {
        if (strcmp(argv[2], "linear") == 0)
            linear_law = 1;
        else if (strcmp(argv[2], "alaw") != 0)
            die("-l takes alaw or linear");
        i = 3;
    }
    if (argc - i < 2)
        die("usage: openr2_mf [-l alaw|linear] tx fwd|bwd SIGNALS ON_MS OFF_MS | rx fwd|bwd");
    if (strcmp(argv[i + 1], "fwd") == 0)
        fwd = 1;
    else if (strcmp(argv[i + 1], "bwd") == 0)
        fwd = 0;
    else
        die("direction must be fwd or bwd");
    if (strcmp(argv[i], "tx") == 0) {
        if (argc - i != 5)
            die("usage: tx fwd|bwd SIGNALS ON_MS OFF_MS");
        return do_tx(fwd, argv[i + 2], atoi(argv[i + 3]), atoi(argv[i + 4]));
    }
    if (strcmp(argv[i], "rx") == 0)
        return do_rx(fwd);
    die("mode must be tx or rx");
    return 2;
}
