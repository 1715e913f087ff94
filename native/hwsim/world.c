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
 *  5. Each span's receive framer (line_e1_rx_bits, fed HWSIM_RX_CHUNK frames at a time so events carry the
 *     frame they happened in) searches alignment in the bit stream and recovers frames, ABCD changes, HDLC
 *     frames and alarms (through callbacks, as events). The recovered frames go through an elastic store
 *     (0..2 frames held over between blocks) that makes the injected controlled slips (G.822: a whole frame
 *     deleted or repeated) and hands the board exactly 160 frames per span per block; all ones (0xFF, as a
 *     framer delivers AIS downstream) while frame alignment is lost.
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

/* Injected controlled slips (G.822) due in this block: a whole frame deleted or repeated in the elastic
   store. The direction keeps the store between 0 and 2 frames over a block (a real store slips the way
   its fill forces; here the fill drifts only through the slips themselves). */
static int elastic_slips(hwsim_span_t *sp, int total)
{
    hwsim_impair_t *im = &sp->imp;
    const int S = HWSIM_E1_SLOTS;
    if (im->slips_per_minute <= 0.0)
        return total;
    im->frames_to_slip -= HWSIM_BLOCK_FRAMES;
    while (im->frames_to_slip <= 0.0) {
        im->frames_to_slip += hwsim_slip_interval(im);
        int rem = total - HWSIM_BLOCK_FRAMES;
        int repeat = rem <= 0 ? 1 : rem >= 2 ? 0 : (int) (hwsim_rng_next(&im->rng) & 1);
        int pos = (int) (hwsim_rng_next(&im->rng) % (uint64_t) total);
        uint8_t *f = sp->frames + pos * S;
        if (repeat) {
            memmove(f + S, f, (size_t) (total - pos) * S);
            total++;
        } else {
            memmove(f, f + S, (size_t) (total - pos - 1) * S);
            total--;
        }
        im->slips++;
        sp->rx_slips++;
    }
    return total;
}

static void span_receive(hwsim_board_t *b, hwsim_span_t *sp)
{
    const int N = HWSIM_BLOCK_FRAMES, S = HWSIM_E1_SLOTS;
    const int cap = HWSIM_RX_MAX_FRAMES + 2 - 1;   /* one frame spare for a repeat slip */
    int was_up = !(sp->rx.alarms & ALARM_DOWN);
    int held = was_up ? sp->es_level : 0;
    int n = 0;
    /* Feed the framer a few frames at a time so events carry the frame at which they happened. */
    for (int off = 0, i = 0; off < sp->line_in_len; off += HWSIM_RX_CHUNK * S, i += HWSIM_RX_CHUNK) {
        int len = sp->line_in_len - off < HWSIM_RX_CHUNK * S ? sp->line_in_len - off : HWSIM_RX_CHUNK * S;
        sp->rx_chunk = i;
        sp->rx_frame0 = sp->rx.frame;
        int k = line_e1_rx_bits(&sp->rx, sp->line_in + off, (size_t) len, sp->frames + (size_t) (held + n) * S,
                                cap - held - n);
        if (k > 0)
            n += k;
    }
    sp->rx_chunk = 0;
    int now_up = !(sp->rx.alarms & ALARM_DOWN);
    int total = held + n;
    sp->es_level = 0;
    if (total == 0) {
        fill_frames(b, sp->index, NULL, N, 0);
        return;
    }
    if (was_up && now_up)
        total = elastic_slips(sp, total);
    if (total >= N) {
        put_frames(b, sp->index, sp->frames, N, 0);
        int rem = total - N;
        if (now_up) {
            if (rem > 2) {
                sp->rx_slips += (uint64_t) (rem - 2);   /* overflow: the store deletes the excess */
                memmove(sp->frames, sp->frames + (size_t) (total - 2) * S, 2 * S);
                rem = 2;
            } else if (rem > 0) {
                memmove(sp->frames, sp->frames + (size_t) N * S, (size_t) rem * S);
            }
            sp->es_level = rem;
        }
    } else if (!was_up) {
        /* Alignment found during this block: all ones (AIS downstream) until then. */
        fill_frames(b, sp->index, NULL, N - total, 0);
        put_frames(b, sp->index, sp->frames, total, N - total);
    } else if (!now_up) {
        /* Alignment lost during this block: all ones from then on. */
        put_frames(b, sp->index, sp->frames, total, 0);
        fill_frames(b, sp->index, NULL, N - total, total);
    } else {
        /* Underflow: the store repeats its last frame (a controlled slip per repeated frame). */
        put_frames(b, sp->index, sp->frames, total, 0);
        fill_frames(b, sp->index, sp->frames + (size_t) (total - 1) * S, N - total, total);
        sp->rx_slips += (uint64_t) (N - total);
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
            else if (!b->dead && b->nports)   /* a stopped board sends silence to its ports' far ends */
                memset(b->txp, HWSIM_IDLE_ALAW, (size_t) HWSIM_BLOCK_FRAMES * (size_t) b->nch);
        }
        /* The far ends (telephones, exchange lines) run on while a board is stopped: an exchange keeps its
           ring cadence whether or not the board listens. A dead board gets nothing. */
        for (int i = 0; i < w->nboards; i++) {
            hwsim_board_t *b = w->boards[i];
            if (!b->dead && b->nports)
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
        if (w->captures)
            hwsim_capture_flush(w);
        w->time += HWSIM_BLOCK_FRAMES;
    }
    return HWSIM_OK;
}
