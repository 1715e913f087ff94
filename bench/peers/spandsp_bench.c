/*
 * spandsp_bench: spandsp 0.0.6 throughput on a multi-channel A-law corpus, for bench/bench_dsp.py.
 *
 * A separate program of ours linking Debian's libspandsp (LGPL) through its public API only.
 *
 * Usage: spandsp_bench FILE NCHAN MODE
 *   FILE   raw A-law, frame-major as an E1 board delivers it: NCHAN bytes per frame (sample n of channel c
 *          at n * NCHAN + c)
 *   MODE   dtmf | cpt | r2 | all      (dtmf_rx, super_tone_rx with the China tones, r2_mf_rx forward)
 *          | decode                    (gather + A-law decode only: the floor under every mode)
 * Per 160-frame block and per channel: gather the channel's 160 bytes, A-law decode (a table of spandsp's alaw_to_linear),
 * run the enabled receivers. Only this loop is timed (CLOCK_MONOTONIC and CLOCK_PROCESS_CPUTIME_ID); the file
 * is loaded and the receivers created before. Prints "key value" lines: ns_per_sample, cpu_ns_per_sample,
 * samples, dtmf_on, r2_on, cpt_on, cpt_on_<id> (ids in ctid china_tones() order).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>

#include <spandsp.h>

#define BLOCK 160
#define NTONES 7

typedef struct {
    long dtmf_on;
    long r2_on;
    long cpt_on[NTONES];
} counts_t;

static counts_t *counts;

static void dtmf_cb(void *user, int code, int level, int delay)
{
    (void) level;
    (void) delay;
    if (code > 0)
        ((counts_t *) user)->dtmf_on++;
}

static void r2_cb(void *user, int code, int level, int delay)
{
    (void) level;
    (void) delay;
    if (code > 0)
        ((counts_t *) user)->r2_on++;
}

static void cpt_cb(void *user, int code, int level, int delay)
{
    (void) level;
    (void) delay;
    if (code >= 0 && code < NTONES)
        ((counts_t *) user)->cpt_on[code]++;
}

#include "../../tests/peers/spandsp_china_tones.h"

static double ts(clockid_t clk)
{
    struct timespec t;
    clock_gettime(clk, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    FILE *f;
    long size, nframes, nblocks, b;
    int nchan, c, i, do_dtmf, do_cpt, do_r2;
    uint8_t *data;
    dtmf_rx_state_t **dtmf = NULL;
    super_tone_rx_state_t **cpt = NULL;
    r2_mf_rx_state_t **r2 = NULL;
    super_tone_rx_descriptor_t *desc = NULL;
    int16_t amp[BLOCK];
    double w0, w1, c0, c1;
    counts_t tot;
    volatile int sink = 0;
    int16_t lut[256];        /* spandsp's alaw_to_linear as a table: the fastest fair decode */   /* keeps the decode-only loop from being optimised away */

    if (argc != 4) {
        fprintf(stderr, "usage: spandsp_bench FILE NCHAN dtmf|cpt|r2|all\n");
        return 2;
    }
    nchan = atoi(argv[2]);
    do_dtmf = !strcmp(argv[3], "dtmf") || !strcmp(argv[3], "all");
    do_cpt = !strcmp(argv[3], "cpt") || !strcmp(argv[3], "all");
    do_r2 = !strcmp(argv[3], "r2") || !strcmp(argv[3], "all");
    if (nchan <= 0 || !(do_dtmf || do_cpt || do_r2 || !strcmp(argv[3], "decode"))) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = malloc((size_t) size);
    if (data == NULL || fread(data, 1, (size_t) size, f) != (size_t) size) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);
    nframes = size / nchan;
    nblocks = nframes / BLOCK;

    for (i = 0; i < 256; i++)
        lut[i] = alaw_to_linear((uint8_t) i);
    counts = calloc((size_t) nchan, sizeof(counts_t));
    if (do_dtmf) {
        dtmf = calloc((size_t) nchan, sizeof(*dtmf));
        for (c = 0; c < nchan; c++) {
            dtmf[c] = dtmf_rx_init(NULL, NULL, NULL);
            dtmf_rx_set_realtime_callback(dtmf[c], dtmf_cb, &counts[c]);
        }
    }
    if (do_cpt) {
        desc = china_descriptor();
        if (desc == NULL) {
            fprintf(stderr, "super_tone_rx_make_descriptor failed\n");
            return 1;
        }
        cpt = calloc((size_t) nchan, sizeof(*cpt));
        for (c = 0; c < nchan; c++)
            cpt[c] = super_tone_rx_init(NULL, desc, cpt_cb, &counts[c]);
    }
    if (do_r2) {
        r2 = calloc((size_t) nchan, sizeof(*r2));
        for (c = 0; c < nchan; c++)
            r2[c] = r2_mf_rx_init(NULL, 1, r2_cb, &counts[c]);
    }

    w0 = ts(CLOCK_MONOTONIC);
    c0 = ts(CLOCK_PROCESS_CPUTIME_ID);
    for (b = 0; b < nblocks; b++) {
        const uint8_t *blk = data + (size_t) b * BLOCK * nchan;
        for (c = 0; c < nchan; c++) {
            for (i = 0; i < BLOCK; i++)
                amp[i] = lut[blk[(size_t) i * nchan + c]];
            if (do_dtmf)
                dtmf_rx(dtmf[c], amp, BLOCK);
            if (do_cpt) {
                int done = 0;
                while (done < BLOCK) {
                    int k = super_tone_rx(cpt[c], amp + done, BLOCK - done);
                    done += k > 0 ? k : BLOCK - done;
                }
            }
            if (do_r2)
                r2_mf_rx(r2[c], amp, BLOCK);
            sink += amp[c % BLOCK];
        }
    }
    w1 = ts(CLOCK_MONOTONIC);
    c1 = ts(CLOCK_PROCESS_CPUTIME_ID);

    memset(&tot, 0, sizeof(tot));
    for (c = 0; c < nchan; c++) {
        tot.dtmf_on += counts[c].dtmf_on;
        tot.r2_on += counts[c].r2_on;
        for (i = 0; i < NTONES; i++)
            tot.cpt_on[i] += counts[c].cpt_on[i];
    }
    {
        double ns = (double) nblocks * BLOCK * nchan;
        long cpt_total = 0;
        printf("samples %.0f\n", ns);
        printf("ns_per_sample %.4f\n", (w1 - w0) * 1e9 / ns);
        printf("cpu_ns_per_sample %.4f\n", (c1 - c0) * 1e9 / ns);
        printf("dtmf_on %ld\n", tot.dtmf_on);
        printf("r2_on %ld\n", tot.r2_on);
        for (i = 0; i < NTONES; i++) {
            printf("cpt_on_%d %ld\n", i, tot.cpt_on[i]);
            cpt_total += tot.cpt_on[i];
        }
        printf("cpt_on %ld\n", cpt_total);
    }
    return 0;
}
