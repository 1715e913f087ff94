/*
 * hwsim_world_tick: the per-block pipeline. One block = HWSIM_BLOCK_FRAMES (160) frames = 20 ms.
 *
 *  1. Each started board's transmit payload: the block the application wrote (A-law idle 0xD5 in every
 *     timeslot it did not write this tick), with switched channels replaced by what their source channel
 *     received in the previous block (H.100-style switching: one block of latency per hop).
 *  2. Analogue far ends (analog.c): telephones and exchange lines take what the board sends on their port
 *     and produce the audio the board receives.
 *  3. Each span's transmit framer (line_e1_tx_frames) turns the payload, ABCD bits and HDLC engines into 160
 *     G.704 frames of line bits. A stopped or dead board sends no signal (all zeros).
 *  4. Cables (cable.c) carry the bits to the far span, through its receive-side faults; socket cables
 *     exchange blocks with the peer process in lock step.
 *  5. Each span's receive framer (line_e1_rx_bits) searches alignment in the bit stream and recovers frames,
 *     ABCD changes, HDLC frames and alarms (through callbacks, as events). The board's read block gets
 *     exactly 160 frames per span: recovered frames; all ones (0xFF, as a framer delivers AIS downstream)
 *     while frame alignment is lost; a repeated or dropped frame (a controlled slip, counted) when the line
 *     delivered one frame fewer or more than a block.
 *  6. Port audio is A-law encoded into the port channels; per-channel noise and attenuation are applied.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hwsim_internal.h"

#define ALARM_DOWN (HWSIM_ALARM_LOS | HWSIM_ALARM_LOF)

static void build_txp(hwsim_board_t *b)
{
    size_t blk = (size_t) HWSIM_BLOCK_FRAMES * (size_t) b->nch;
    if (b->tx_written)
        memcpy(b->txp, b->tx_block, blk);
    else
        memset(b->txp, HWSIM_IDLE_ALAW, blk);
    b->tx_written = 0;
    if (b->nroutes == 0)
        return;
    for (int ch = 0; ch < b->nch; ch++) {
        hwsim_route_t *rt = &b->routes[ch];
        if (rt->src == NULL)
            continue;
        const uint8_t *s = rt->src->rx_block + rt->src_channel;
        int sn = rt->src->nch;
        uint8_t *d = b->txp + ch;
        for (int f = 0; f < HWSIM_BLOCK_FRAMES; f++)
            d[(size_t) f * (size_t) b->nch] = s[(size_t) f * (size_t) sn];
    }
}

static void span_transmit(hwsim_board_t *b, hwsim_span_t *sp, int live)
{
    if (!live) {
        memset(sp->line_out, 0, HWSIM_LINE_BYTES);
        return;
    }
    /* G.704 2.3.2 / G.732: the A bit of NFAS (remote alarm) is sent while our receiver has lost signal or
       frame alignment; the CAS Y bit (distant multiframe alarm) while it has lost multiframe alignment. */
    sp->tx.rai = (sp->rx.alarms & ALARM_DOWN) != 0;
    sp->tx.mf_alarm = (sp->rx.alarms & HWSIM_ALARM_LOMF) != 0;
    line_e1_tx_frames(&sp->tx, b->txp + sp->index * HWSIM_E1_SLOTS, (size_t) b->nch, sp->line_out, HWSIM_BLOCK_FRAMES);
}

static void put_frames(hwsim_board_t *b, int span, const uint8_t *frames, int n, int at)
{
    uint8_t *d = b->rx_block + (size_t) at * (size_t) b->nch + (size_t) span * HWSIM_E1_SLOTS;
    for (int f = 0; f < n; f++, d += b->nch)
        memcpy(d, frames + f * HWSIM_E1_SLOTS, HWSIM_E1_SLOTS);
}

static void fill_frames(hwsim_board_t *b, int span, const uint8_t *frame, int n, int at)
{
    static const uint8_t ones[HWSIM_E1_SLOTS] = {
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    };
    if (frame == NULL)
        frame = ones;
    uint8_t *d = b->rx_block + (size_t) at * (size_t) b->nch + (size_t) span * HWSIM_E1_SLOTS;
    for (int f = 0; f < n; f++, d += b->nch)
        memcpy(d, frame, HWSIM_E1_SLOTS);
}

static void span_receive(hwsim_board_t *b, hwsim_span_t *sp)
{
    int was_up = !(sp->rx.alarms & ALARM_DOWN);
    int n = line_e1_rx_bits(&sp->rx, sp->line_in, (size_t) sp->line_in_len, sp->frames, HWSIM_RX_MAX_FRAMES);
    if (n < 0)
        n = 0;
    int now_up = !(sp->rx.alarms & ALARM_DOWN);
    const int N = HWSIM_BLOCK_FRAMES;
    if (n >= N) {
        put_frames(b, sp->index, sp->frames, N, 0);
        if (n > N)
            sp->rx_slips += (uint64_t) (n - N);   /* one frame more than a block: the elastic store drops it */
    } else if (n == 0) {
        fill_frames(b, sp->index, NULL, N, 0);
    } else if (was_up && now_up && sp->have_last) {
        /* One frame fewer than a block: repeat the last frame (a controlled slip). */
        put_frames(b, sp->index, sp->frames, n, 0);
        fill_frames(b, sp->index, sp->frames + (n - 1) * HWSIM_E1_SLOTS, N - n, n);
        sp->rx_slips += (uint64_t) (N - n);
    } else if (!was_up) {
        /* Alignment found during this block: all ones until then. */
        fill_frames(b, sp->index, NULL, N - n, 0);
        put_frames(b, sp->index, sp->frames, n, N - n);
    } else {
        /* Alignment lost during this block: all ones from then on. */
        put_frames(b, sp->index, sp->frames, n, 0);
        fill_frames(b, sp->index, NULL, N - n, n);
    }
    if (n > 0) {
        memcpy(sp->last_frame, sp->frames + (n > N ? N - 1 : n - 1) * HWSIM_E1_SLOTS, HWSIM_E1_SLOTS);
        sp->have_last = 1;
    } else {
        sp->have_last = 0;
    }
}

static void ports_to_block(hwsim_board_t *b)
{
    uint8_t enc[HWSIM_BLOCK_FRAMES];
    for (int p = 0; p < b->nports; p++) {
        ctid_alaw_encode(b->ports[p].audio, enc, HWSIM_BLOCK_FRAMES);
        uint8_t *d = b->rx_block + b->nspans * HWSIM_E1_SLOTS + p;
        for (int f = 0; f < HWSIM_BLOCK_FRAMES; f++)
            d[(size_t) f * (size_t) b->nch] = enc[f];
    }
}

/* Noise and attenuation on received voice: decode A-law, scale, add triangular noise (two uniforms from the
   board's seeded generator), clip, encode. Skipped on TS16 unless it is a clear channel, and on a span that
   has lost alignment (its timeslots carry the all-ones AIS fill). */
void hwsim_span_apply_faults(hwsim_board_t *b)
{
    const float *tab = ctid_alaw_float_table();
    float x[HWSIM_BLOCK_FRAMES];
    int16_t lin[HWSIM_BLOCK_FRAMES];
    uint8_t enc[HWSIM_BLOCK_FRAMES];
    for (int ch = 0; ch < b->nch; ch++) {
        hwsim_chfault_t *f = &b->chf[ch];
        if (!f->on)
            continue;
        if (ch < b->nspans * HWSIM_E1_SLOTS) {
            hwsim_span_t *sp = b->spans[ch / HWSIM_E1_SLOTS];
            if ((ch % HWSIM_E1_SLOTS == 16 && sp->cfg.ts16 != HWSIM_TS16_CLEAR) || (sp->rx.alarms & ALARM_DOWN))
                continue;
        }
        uint8_t *col = b->rx_block + ch;
        const size_t st = (size_t) b->nch;
        for (int i = 0; i < HWSIM_BLOCK_FRAMES; i++)
            x[i] = tab[col[i * st]] * f->gain;
        if (f->noise_amp > 0.0f) {
            const float k = f->noise_amp * (2.0f / 4294967296.0f);
            for (int i = 0; i < HWSIM_BLOCK_FRAMES; i++) {
                uint64_t r = hwsim_rng_next(&b->noise_rng);
                float u1 = (float) (uint32_t) r, u2 = (float) (uint32_t) (r >> 32);
                x[i] += (u1 + u2) * k - 2.0f * f->noise_amp;
            }
        }
        for (int i = 0; i < HWSIM_BLOCK_FRAMES; i++) {
            float v = x[i];
            v = v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v;
            lin[i] = (int16_t) lrintf(v);
        }
        ctid_alaw_encode(lin, enc, HWSIM_BLOCK_FRAMES);
        for (int i = 0; i < HWSIM_BLOCK_FRAMES; i++)
            col[i * st] = enc[i];
    }
}

int hwsim_world_tick(hwsim_world_t *w, int nblocks)
{
    if (w == NULL)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_world_tick: world is NULL");
    if (nblocks < 0)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_world_tick: %d blocks", nblocks);
    for (int k = 0; k < nblocks; k++) {
        for (int i = 0; i < w->nboards; i++) {
            hwsim_board_t *b = w->boards[i];
            if (b->started && !b->dead)
                build_txp(b);
        }
        for (int i = 0; i < w->nboards; i++) {
            hwsim_board_t *b = w->boards[i];
            if (b->started && !b->dead && b->nports)
                hwsim_ports_tick(b, w->time);
        }
        for (int i = 0; i < w->nboards; i++) {
            hwsim_board_t *b = w->boards[i];
            int live = b->started && !b->dead;
            for (int s = 0; s < b->nspans; s++)
                span_transmit(b, b->spans[s], live);
        }
        hwsim_cables_send(w);
        hwsim_cables_receive(w);
        for (int i = 0; i < w->nboards; i++) {
            hwsim_board_t *b = w->boards[i];
            if (!b->started || b->dead)
                continue;
            for (int s = 0; s < b->nspans; s++)
                span_receive(b, b->spans[s]);
            if (b->nports)
                ports_to_block(b);
            if (b->nchf)
                hwsim_span_apply_faults(b);
        }
        w->time += HWSIM_BLOCK_FRAMES;
    }
    return HWSIM_OK;
}
