/*
 * hwsim line layer: FCS-16, HDLC transmitter/receiver, E1 (G.704) transmit and receive framers.
 * See line.h for the contract. Written from the public ITU-T texts (G.704, G.706, G.732, G.775, Q.703,
 * ISO 3309); no code from other framer implementations.
 *
 * Decisions a reader should know (each is stated again where it is made):
 *  - CAS: an ABCD value of 0000 is never sent (it would imitate the multiframe alignment signal, G.704
 *    5.1.3.2); the transmitter sends 0001 instead (D forced to 1).
 *  - CAS receive debounce: a new ABCD value is reported once it has been received in two consecutive
 *    multiframes. A change made at the transmitter therefore reaches on_abcd at most 32 frames (two
 *    multiframes) later, counting the frame in which it is first sent.
 *  - Loss of frame alignment (G.706 4.1.1): three consecutive incorrect FAS, or (the additional criterion
 *    G.706 allows) three consecutive NFAS frames with bit 2 = 0.
 *  - RAI is declared/cleared when the A bit has the same value in two consecutive NFAS frames.
 *  - LOS (G.775): 255 consecutive zeros; cleared by a 256-bit window with at least 32 ones (12.5 % density)
 *    and no such run. AIS (G.775): two or fewer zeros in each of two consecutive 512-bit periods while out of
 *    frame alignment; cleared by two consecutive periods with three or more zeros, or when the FAS is found.
 *  - CRC-4 mode: LOF stays raised until CRC-4 multiframe alignment is also found (G.706 4.2: a frame
 *    alignment with no CRC-4 multiframe alignment within 8 ms is taken as spurious and searched again);
 *    frames are already written out from basic frame alignment on.
 *  - CRC-4: 915 or more errored blocks out of 1000 -> false alignment, new search (G.706 4.3.2). E bits: the
 *    transmitter sends e_bits zeros in the E positions (the core adds the CRC errors its receiver saw); the
 *    receiver counts received E = 0 in e_bit_errors.
 *  - CAS multiframe (G.732 5.2): aligned on an MFAS 0000 whose preceding TS16 is not all zeros; lost after two
 *    consecutive errored MFAS or 16 all-zero TS16 octets. Without multiframe alignment the signalling bits
 *    mean nothing (G.704 5.1.3): while it is lost (and while frame alignment is lost) no ABCD value is known
 *    (hwsim_get_abcd: HWSIM_ERR_AGAIN) and none is reported; once it is found again, every timeslot's value
 *    is reported once, after the usual two-multiframe debounce, even if it equals the value before the loss.
 *  - The CRC-4 multiframe and the CAS multiframe are sent aligned (frame % 16) but the receiver finds each
 *    independently.
 *  - The frame carrying the third incorrect FAS is not written out (alignment is lost with it). HDLC
 *    receivers of the span go back to flag hunting silently on loss of alignment.
 *  - HDLC: an abort (7 ones) is reported only if at least one octet of the frame had arrived; fewer than 8
 *    bits between flags is idle fill; a frame that is not whole octets, shorter than the FCS or longer than
 *    LINE_HDLC_MAX is reported BAD_LENGTH.
 *  - Transmit with payload NULL (or a stride < 32): voice timeslots carry A-law idle 0xD5. CCS without an
 *    HDLC engine on TS16: flags.
 */
#include <string.h>
#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#include "line.h"
#include "hwsim_sdk.h"

/* ---------------------------------------------------------------- tables */
static uint8_t rev8[256];                 /* bit reversal */
static uint16_t fcs_tab[256];             /* reflected CRC-16, poly 0x8408 */
static uint8_t crc4_tab[15][256];         /* CRC-4 x^4+x+1 (G.704 2.3.3.5): octet x then k zero octets */
static uint16_t stuff_bits[5][256];       /* zero insertion: output bits, first in bit 0 */
static uint8_t stuff_len[5][256];         /* number of output bits (8..10) */
static uint8_t stuff_ones[5][256];        /* ones count after the octet */
static uint8_t popcnt8[256];
static uint8_t unstuff_bits[6][256];      /* zero deletion: data bits, first in bit 0 */
static uint8_t unstuff_len[6][256];       /* number of data bits (7..8), 0xFF: six ones occur (flag/abort) */
static uint8_t unstuff_ones[6][256];      /* ones count after the octet */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static uint8_t crc4_bytes(uint8_t r, const uint8_t *p, int n)
{
    /* bit-serial reference: remainder of M(x)*x^4 / (x^4 + x + 1), first bit = most significant */
    for (int i = 0; i < n; i++) {
        for (int b = 7; b >= 0; b--) {
            int fb = ((r >> 3) ^ (p[i] >> b)) & 1;
            r = (uint8_t)((r << 1) & 0xF);
            if (fb)
                r ^= 0x3;
        }
    }
    return r;
}

static void tables_build(void)
{
    for (int i = 0; i < 256; i++) {
        int r = 0;
        for (int b = 0; b < 8; b++)
            if (i & (1 << b))
                r |= 0x80 >> b;
        rev8[i] = (uint8_t)r;
        uint16_t c = (uint16_t)i;
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (uint16_t)((c >> 1) ^ 0x8408) : (uint16_t)(c >> 1);
        fcs_tab[i] = c;
        popcnt8[i] = (uint8_t)__builtin_popcount((unsigned)i);
    }
    /* crc4_tab[k][x]: CRC-4 register (from 0) after octet x followed by k zero octets; k < 15 suffices since
       x^120 = 1 modulo x^4 + x + 1 (see crc4_add_frame) */
    uint8_t zeros[15] = {0};
    for (int k = 0; k < 15; k++)
        for (int x = 0; x < 256; x++) {
            uint8_t r = crc4_bytes(0, (const uint8_t[]){(uint8_t)x}, 1);
            crc4_tab[k][x] = crc4_bytes(r, zeros, k);
        }
    for (int ones = 0; ones < 5; ones++)
        for (int v = 0; v < 256; v++) {
            unsigned out = 0, n = 0, o = (unsigned)ones;
            for (int b = 0; b < 8; b++) {
                unsigned bit = (v >> b) & 1;
                out |= bit << n++;
                if (bit) {
                    if (++o == 5) {     /* ISO 3309: a 0 after five contiguous 1s */
                        n++;
                        o = 0;
                    }
                } else {
                    o = 0;
                }
            }
            stuff_bits[ones][v] = (uint16_t)out;
            stuff_len[ones][v] = (uint8_t)n;
            stuff_ones[ones][v] = (uint8_t)o;
        }
    /* receiver fast path: an octet in which the ones count never reaches 6 carries only data bits and
       inserted zeros; anything else (flag, abort) goes bit by bit */
    for (int ones = 0; ones < 6; ones++)
        for (int v = 0; v < 256; v++) {
            unsigned out = 0, n = 0, o = (unsigned)ones, special = 0;
            for (int b = 0; b < 8; b++) {
                if ((v >> b) & 1) {
                    if (++o >= 6) {
                        special = 1;
                        break;
                    }
                    out |= 1u << n++;
                } else {
                    if (o < 5)
                        n++;            /* data 0 */
                    o = 0;              /* o == 5: inserted zero, deleted */
                }
            }
            unstuff_bits[ones][v] = (uint8_t)out;
            unstuff_len[ones][v] = special ? 0xFF : (uint8_t)n;
            unstuff_ones[ones][v] = (uint8_t)o;
        }
}

static inline void tables(void)
{
    pthread_once(&tables_once, tables_build);
}

/* ---------------------------------------------------------------- FCS-16 */
static inline uint16_t fcs_update(uint16_t crc, const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc >> 8) ^ fcs_tab[(crc ^ buf[i]) & 0xFF]);
    return crc;
}

uint16_t line_fcs16(const uint8_t *buf, size_t len)
{
    tables();
    if (!buf)
        len = 0;
    return (uint16_t)(fcs_update(0xFFFF, buf, len) ^ 0xFFFF);
}

#define FCS_GOOD_RESIDUE 0xF0B8   /* register after data + FCS, before the final inversion (ISO 3309) */

/* ---------------------------------------------------------------- HDLC transmitter */
void line_hdlc_tx_init(line_hdlc_tx_t *s)
{
    tables();
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->cur_pos = -1;
}

int line_hdlc_tx_queue(line_hdlc_tx_t *s, const uint8_t *frame, int len)
{
    if (!s || len < 0 || len > LINE_HDLC_MAX || (!frame && len > 0) || s->count >= LINE_HDLC_QUEUE)
        return -1;
    int slot = (s->head + s->count) % LINE_HDLC_QUEUE;
    if (len)
        memcpy(s->frames[slot], frame, (size_t)len);
    uint16_t fcs = line_fcs16(frame, (size_t)len);
    s->frames[slot][len] = (uint8_t)(fcs & 0xFF);      /* low byte first (Q.703 / ISO 3309) */
    s->frames[slot][len + 1] = (uint8_t)(fcs >> 8);
    s->lens[slot] = len + 2;
    s->count++;
    return 0;
}

void line_hdlc_tx_idle_repeat(line_hdlc_tx_t *s, int on)
{
    if (s)
        s->idle_repeat = on ? 1 : 0;
}

static inline void hdlc_tx_put_flag(line_hdlc_tx_t *s)
{
    s->bits |= 0x7Eu << s->nbits;   /* 01111110 is its own bit reversal; never stuffed */
    s->nbits += 8;
    s->ones = 0;
    s->flag_last = 1;
}

static void hdlc_tx_refill(line_hdlc_tx_t *s)
{
    if (s->cur_pos >= 0) {
        if (s->cur_pos < s->last_len) {
            unsigned v = s->last[s->cur_pos++];
            unsigned o = (unsigned)s->ones;
            s->bits |= (uint32_t)stuff_bits[o][v] << s->nbits;
            s->nbits += stuff_len[o][v];
            s->ones = stuff_ones[o][v];
            return;
        }
        hdlc_tx_put_flag(s);        /* closing flag; it also opens the next frame */
        s->cur_pos = -1;
        s->frames_sent++;
        return;
    }
    if (!s->flag_last) {
        hdlc_tx_put_flag(s);        /* opening flag after start-up */
        return;
    }
    if (s->count > 0) {
        int len = s->lens[s->head];
        memcpy(s->last, s->frames[s->head], (size_t)len);
        s->last_len = len;
        s->head = (s->head + 1) % LINE_HDLC_QUEUE;
        s->count--;
        s->cur_pos = 0;
        s->flag_last = 0;
        return;
    }
    if (s->idle_repeat && s->last_len > 0) {
        s->cur_pos = 0;             /* MTP2 (Q.703): repeat the last signal unit when idle */
        s->flag_last = 0;
        return;
    }
    hdlc_tx_put_flag(s);            /* idle flags */
}

uint8_t line_hdlc_tx_octet(line_hdlc_tx_t *s)
{
    if (!s)
        return 0x7E;
    while (s->nbits < 8)
        hdlc_tx_refill(s);
    uint8_t out = rev8[s->bits & 0xFF];   /* first bit (bit 0) goes to the MSB */
    s->bits >>= 8;
    s->nbits -= 8;
    return out;
}

/* ---------------------------------------------------------------- HDLC receiver */
void line_hdlc_rx_init(line_hdlc_rx_t *s, line_hdlc_cb cb, void *user)
{
    tables();
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->cb = cb;
    s->user = user;
}

static void hdlc_rx_report(line_hdlc_rx_t *s, int len, int status)
{
    switch (status) {
    case LINE_HDLC_GOOD: s->good++; break;
    case LINE_HDLC_BAD_FCS: s->bad_fcs++; break;
    case LINE_HDLC_ABORT: s->aborts++; break;
    default: s->bad_length++; break;
    }
    if (s->cb)
        s->cb(s->user, s->buf, len, status);
}

static void hdlc_rx_flag(line_hdlc_rx_t *s)
{
    /* At a closing flag the flag's leading 0 and its first five 1s have been taken as data bits, so a frame
       of whole octets has exactly 6 bits in the partial octet. Fewer than one octet between flags is idle
       fill (back-to-back flags, or flags sharing a zero) and is not reported. */
    if (s->in_frame && s->len > 0) {
        if (s->overflow || s->nbits != 6 || s->len < 2)
            hdlc_rx_report(s, s->len > LINE_HDLC_MAX ? LINE_HDLC_MAX : s->len, LINE_HDLC_BAD_LENGTH);
        else if (fcs_update(0xFFFF, s->buf, (size_t)s->len) != FCS_GOOD_RESIDUE)
            hdlc_rx_report(s, s->len - 2, LINE_HDLC_BAD_FCS);
        else
            hdlc_rx_report(s, s->len - 2, LINE_HDLC_GOOD);
    }
    s->in_frame = 1;
    s->len = 0;
    s->acc = 0;
    s->nbits = 0;
    s->overflow = 0;
}

static inline void hdlc_rx_push(line_hdlc_rx_t *s, uint8_t octet)
{
    if (s->in_frame) {
        if (s->len < LINE_HDLC_MAX + 2)
            s->buf[s->len++] = octet;
        else
            s->overflow = 1;
    }
}

static inline void hdlc_rx_data(line_hdlc_rx_t *s, unsigned bit)
{
    s->acc |= bit << s->nbits;
    if (++s->nbits == 8) {
        hdlc_rx_push(s, (uint8_t)s->acc);
        s->acc = 0;
        s->nbits = 0;
    }
}

void line_hdlc_rx_octet(line_hdlc_rx_t *s, uint8_t octet)
{
    if (!s)
        return;
    unsigned v = rev8[octet];      /* bit 0 = first bit on the line */
    if (s->ones < 6) {
        unsigned o = (unsigned)s->ones, n = unstuff_len[o][v];
        if (n != 0xFF) {
            s->acc |= (uint32_t)unstuff_bits[o][v] << s->nbits;
            s->nbits += (int)n;
            s->ones = unstuff_ones[o][v];
            if (s->nbits >= 8) {
                hdlc_rx_push(s, (uint8_t)s->acc);
                s->acc >>= 8;
                s->nbits -= 8;
            }
            return;
        }
    }
    for (int i = 0; i < 8; i++, v >>= 1) {
        if (v & 1) {
            int ones = ++s->ones;
            if (ones < 6) {
                hdlc_rx_data(s, 1);
            } else if (ones == 7) {
                /* seven or more ones: abort (ISO 3309 4.4). Reported only if an octet had arrived. */
                if (s->in_frame && s->len > 0)
                    hdlc_rx_report(s, s->len, LINE_HDLC_ABORT);
                s->in_frame = 0;
                s->len = 0;
            } else if (ones > 1000) {
                s->ones = 8;        /* keep the counter bounded on a long all-ones line */
            }
        } else {
            if (s->ones == 6)
                hdlc_rx_flag(s);
            else if (s->ones < 5)
                hdlc_rx_data(s, 0);
            /* ones == 5: inserted zero, deleted; ones >= 7: end of an abort / idle */
            s->ones = 0;
        }
    }
}

/* Put a receiver back to hunting for a flag without reporting (the framer lost alignment). */
static void hdlc_rx_hunt(line_hdlc_rx_t *s)
{
    s->in_frame = 0;
    s->len = 0;
    s->ones = 0;
    s->acc = 0;
    s->nbits = 0;
    s->overflow = 0;
}

/* ---------------------------------------------------------------- E1 transmit framer */
#define FAS_BITS 0x1B           /* G.704 Table 4a: bits 2-8 of TS0 in the FAS frame: 0011011 */
#define NFAS_BIT2 0x40
#define NFAS_A 0x20
#define NFAS_SA 0x1F            /* Sa4..Sa8: 1 when unused */

/* G.704 Table 5b: Si bits of the NFAS frames 1,3,...,11 carry the CRC-4 MFAS 001011; frames 13, 15 the E bits */
static const uint8_t mfas_bits[6] = {0, 0, 1, 0, 1, 1};

void line_e1_tx_init(line_e1_tx_t *s, int crc4, int ts16)
{
    tables();
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->crc4 = crc4 ? 1 : 0;
    s->ts16 = (ts16 == LINE_TS16_CAS || ts16 == LINE_TS16_CCS || ts16 == LINE_TS16_CLEAR) ? ts16 : LINE_TS16_CAS;
    for (int i = 0; i < 32; i++)
        s->abcd[i] = 0xB;   /* idle 1011 (China No.1 / R2 idle) until told otherwise */
}

static inline uint8_t tx_abcd(const line_e1_tx_t *s, int ts)
{
    uint8_t v = s->abcd[ts] & 0xF;
    return v ? v : 0x1;     /* G.704 5.1.3.2: ABCD 0000 would imitate the MFAS: D forced to 1 */
}

/* CRC-4 over a sub-multiframe (G.704 2.3.3.5). x^4 + x + 1 is primitive, so x^15 = 1 modulo it: octets
   whose distances from the end of the 256-octet block agree modulo 15 (120 bits) go through the same table.
   Each frame is XORed into a 47-octet accumulator at offset (32 k) mod 15 with word operations; at the end of
   the sub-multiframe the accumulator is folded to 15 octets and looked up once. */
static inline void crc4_add_frame(uint8_t *acc, unsigned k, const uint8_t *f, uint8_t ts0)
{
    uint8_t *a = acc + (2 * k) % 15;          /* 32 k mod 15 */
    for (int w = 0; w < 4; w++) {
        uint64_t x, y;
        memcpy(&x, a + 8 * w, 8);
        memcpy(&y, f + 8 * w, 8);
        x ^= y;
        memcpy(a + 8 * w, &x, 8);
    }
    a[0] ^= (uint8_t)(f[0] ^ ts0);            /* TS0 as given (C bits masked by the caller) */
}

static inline uint8_t crc4_finish(uint8_t *acc)
{
    unsigned x = 0;
    for (int q = 0; q < 15; q++) {
        uint8_t g = (uint8_t)(acc[q] ^ acc[q + 15] ^ acc[q + 30] ^ (q + 45 < 47 ? acc[q + 45] : 0));
        x ^= crc4_tab[(255 - q) % 15][g];     /* octet p is followed by 255 - p octets */
    }
    memset(acc, 0, 48);
    return (uint8_t)x;
}

void line_e1_tx_frames(line_e1_tx_t *s, const uint8_t *payload, size_t payload_stride, uint8_t *out, int nframes)
{
    if (!s || !out || nframes <= 0)
        return;
    if (payload && payload_stride < 32)
        payload = NULL;
    /* HDLC engines on bearer timeslots (and TS16 when it is clear); looked up once per call */
    int hts[32], nh = 0;
    for (int ts = 1; ts < 32; ts++)
        if (s->hdlc[ts] && ts != 16)
            hts[nh++] = ts;
    for (int n = 0; n < nframes; n++) {
        uint8_t *o = out + (size_t)n * 32;
        if (payload)
            memcpy(o, payload + (size_t)n * payload_stride, 32);
        else
            memset(o, 0xD5, 32);    /* A-law idle */
        unsigned mf = s->frame & 15;

        for (int h = 0; h < nh; h++)
            o[hts[h]] = line_hdlc_tx_octet(s->hdlc[hts[h]]);

        /* TS16 */
        if (s->ts16 == LINE_TS16_CAS) {
            if (mf == 0)    /* G.704 Table 9: 0000 X Y X X, X = 1 spare, Y = distant MF alarm */
                o[16] = (uint8_t)(0x0B | (s->mf_alarm ? 0x04 : 0));
            else            /* frame n: channel n (TS n) bits 1-4, channel n+15 (TS n+16) bits 5-8 */
                o[16] = (uint8_t)(tx_abcd(s, (int)mf) << 4 | tx_abcd(s, (int)mf + 16));
        } else if (s->ts16 == LINE_TS16_CCS) {
            o[16] = s->hdlc[16] ? line_hdlc_tx_octet(s->hdlc[16]) : 0x7E;
        } else if (s->hdlc[16]) {
            o[16] = line_hdlc_tx_octet(s->hdlc[16]);
        }

        /* TS0 (G.704 2.3.2) */
        unsigned si;
        if (!(mf & 1)) {
            /* FAS frame: Si = C1..C4 of the previous sub-multiframe (frames 0,2,4,6 and 8,10,12,14) */
            si = s->crc4 ? (s->crc_prev >> (3 - ((mf & 7) >> 1))) & 1 : 1;
            o[0] = (uint8_t)(si << 7 | FAS_BITS);
        } else {
            if (!s->crc4) {
                si = 1;
            } else if (mf < 13) {
                si = mfas_bits[mf >> 1];
            } else if (s->e_bits > 0) {
                si = 0;             /* E bit 0: an errored sub-multiframe was received (G.704 2.3.3.4) */
                s->e_bits--;
            } else {
                si = 1;
            }
            o[0] = (uint8_t)(si << 7 | NFAS_BIT2 | (s->rai ? NFAS_A : 0) | NFAS_SA);
        }

        if (s->crc4) {
            /* G.704 2.3.3.5: CRC over the sub-multiframe with the C-bit positions taken as 0 */
            uint8_t ts0 = (mf & 1) ? o[0] : (uint8_t)(o[0] & 0x7F);
            crc4_add_frame(s->crc_fold, mf & 7, o, ts0);
            if ((mf & 7) == 7)
                s->crc_prev = crc4_finish(s->crc_fold);
        }
        if (s->ais)
            memset(o, 0xFF, 32);    /* AIS: unframed all ones */
        s->frame++;
    }
}

/* ---------------------------------------------------------------- E1 receive framer */
#define LOS_ZEROS 255           /* G.775: N consecutive zeros, 10 <= N <= 255 */
#define LOS_CLEAR_ONES 32       /* 12.5 % ones density over a 256-bit window */
#define AIS_MAX_ZEROS 2         /* G.775: two or fewer zeros in a 512-bit double frame */
#define CRC_ALIGN_FRAMES 64     /* G.706 4.2: CRC-4 multiframe alignment within 8 ms */

/* G.704 5.1.3: without CAS multiframe alignment the ABCD bits are meaningless: forget what was received, so
   that nothing stale is reported or read, and every timeslot's value is delivered once after realignment. */
static void rx_abcd_forget(line_e1_rx_t *s)
{
    memset(s->abcd, 0xFF, sizeof(s->abcd));
    memset(s->abcd_candidate, 0xFF, sizeof(s->abcd_candidate));
    memset(s->abcd_count, 0, sizeof(s->abcd_count));
}

static void rx_update_alarms(line_e1_rx_t *s)
{
    int a = 0;
    if (s->los)
        a |= HWSIM_ALARM_LOS;
    if (!s->aligned || (s->crc4 && !s->crc_aligned))
        a |= HWSIM_ALARM_LOF;
    if (s->ais)
        a |= HWSIM_ALARM_AIS;
    if (s->aligned && s->rai)
        a |= HWSIM_ALARM_RAI;
    if (s->ts16 == LINE_TS16_CAS && (!s->aligned || !s->mf_aligned))
        a |= HWSIM_ALARM_LOMF;
    if (s->crc4 && (!s->aligned || !s->crc_aligned))
        a |= HWSIM_ALARM_LOCRC;
    if (a != s->alarms) {
        s->alarms = a;
        if (s->on_alarm)
            s->on_alarm(s->user, a);
    }
}

void line_e1_rx_init(line_e1_rx_t *s, int crc4, int ts16)
{
    tables();
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    s->crc4 = crc4 ? 1 : 0;
    s->ts16 = (ts16 == LINE_TS16_CAS || ts16 == LINE_TS16_CCS || ts16 == LINE_TS16_CLEAR) ? ts16 : LINE_TS16_CAS;
    s->ts16_prev = -1;
    s->mfas_last = -1;
    memset(s->abcd, 0xFF, sizeof(s->abcd));
    memset(s->abcd_candidate, 0xFF, sizeof(s->abcd_candidate));
    /* starting state, not reported: no alignment yet */
    s->alarms = HWSIM_ALARM_LOF | (s->ts16 == LINE_TS16_CAS ? HWSIM_ALARM_LOMF : 0) |
                (s->crc4 ? HWSIM_ALARM_LOCRC : 0);
}

static void rx_lose_alignment(line_e1_rx_t *s)
{
    s->aligned = 0;
    s->fas_errors_row = 0;
    s->nfas_errors_row = 0;
    s->mf_aligned = 0;
    rx_abcd_forget(s);
    s->crc_aligned = 0;
    s->rai = 0;
    s->ais_win_zeros = s->ais_win_bytes = s->ais_bad_row = s->ais_good_row = 0;
    for (int ts = 1; ts < 32; ts++)
        if (s->hdlc[ts])
            hdlc_rx_hunt(s->hdlc[ts]);
    rx_update_alarms(s);
}

static void rx_found_alignment(line_e1_rx_t *s, int r, uint8_t ts0)
{
    s->aligned = 1;
    s->realignments++;
    s->bit_offset = r;
    s->prev = s->ring[(s->nbytes - 1) & 127];
    s->fbuf[0] = ts0;
    s->fpos = 1;
    s->frame = 0;               /* the frame being assembled holds the second FAS */
    s->fas_errors_row = 0;
    s->nfas_errors_row = 0;
    s->ais = 0;                 /* G.775: AIS cleared when the FAS is found */
    s->rai = 0;
    s->rai_count = 0;
    s->mf_aligned = 0;
    rx_abcd_forget(s);
    s->mf_errors_row = 0;
    s->ts16_prev = -1;
    s->ts16_zero_run = 0;
    s->crc_aligned = 0;
    s->si_hist = 0;
    s->nfas_seen = 0;
    s->mfas_last = -1;
    s->crc_acc_valid = 0;
    s->crc_expect_valid = 0;
    s->crc_blocks = s->crc_block_errors = 0;
    rx_update_alarms(s);
}

/* LOS detection and clearing (G.775), once per incoming byte, aligned or not. */
static inline void rx_los_byte(line_e1_rx_t *s, unsigned b)
{
    int event = 0;
    if (b) {
        int lead = __builtin_clz(b) - 24;
        if (s->zeros_run + lead >= LOS_ZEROS)
            event = 1;
        s->zeros_run = __builtin_ctz(b);
    } else {
        s->zeros_run += 8;
        if (s->zeros_run >= LOS_ZEROS) {
            event = 1;
            if (s->zeros_run > 1 << 20)
                s->zeros_run = LOS_ZEROS;
        }
    }
    if (event) {
        s->los_win_ones = s->los_win_bytes = 0;
        if (!s->los) {
            s->los = 1;
            rx_update_alarms(s);
        }
        return;
    }
    if (s->los) {
        s->los_win_ones += popcnt8[b];
        if (++s->los_win_bytes == 32) {
            if (s->los_win_ones >= LOS_CLEAR_ONES) {
                s->los = 0;
                rx_update_alarms(s);
            }
            s->los_win_ones = s->los_win_bytes = 0;
        }
    }
}

/* AIS detection (G.775), out of alignment only: 512-bit periods. */
static void rx_ais_window(line_e1_rx_t *s)
{
    if (s->ais_win_zeros <= AIS_MAX_ZEROS) {
        s->ais_good_row = 0;
        if (++s->ais_bad_row >= 2 && !s->ais) {
            s->ais = 1;
            rx_update_alarms(s);
        }
    } else {
        s->ais_bad_row = 0;
        if (++s->ais_good_row >= 2 && s->ais) {
            s->ais = 0;
            rx_update_alarms(s);
        }
    }
    s->ais_win_zeros = s->ais_win_bytes = 0;
}

static inline void rx_ais_byte(line_e1_rx_t *s, unsigned b)
{
    s->ais_win_zeros += 8 - popcnt8[b];
    if (++s->ais_win_bytes == 64)
        rx_ais_window(s);
}

#define RING(i) s->ring[(i) & 127]

static inline unsigned ring_octet(const line_e1_rx_t *s, uint64_t j, int r)
{
    /* the 8 line bits starting r bits into byte j */
    return r ? ((unsigned)RING(j) << r | (unsigned)RING(j + 1) >> (8 - r)) & 0xFF : RING(j);
}

/* Out of alignment: parallel search over every bit position (G.706 4.1.2): FAS in frame N, bit 2 = 1 in
   frame N+1, FAS again in frame N+2. Each new byte completes the TS0 octet of 8 candidate positions.
   Returns the bytes consumed (stops just after alignment is found). */
static size_t rx_hunt(line_e1_rx_t *s, const uint8_t *p, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        /* 8 bytes of all zeros (cut cable) or all ones (AIS) after a byte of the same: no candidate can
           complete, so only the LOS/AIS counters move */
        if (n - k >= 8 && (s->ais_win_bytes & 7) == 0 && s->nbytes > 0) {
            uint64_t w;
            memcpy(&w, p + k, 8);
            unsigned pb = RING(s->nbytes - 1);
            int zeros = w == 0 && pb == 0 && (s->los || s->zeros_run + 64 < LOS_ZEROS);
            int ones = w == ~(uint64_t)0 && pb == 0xFF && !s->los;
            if (zeros || ones) {
                unsigned pos = (unsigned)(s->nbytes & 127);
                memcpy(s->ring + pos, p + k, pos <= 120 ? 8 : 128 - pos);
                if (pos > 120)
                    memcpy(s->ring, p + k + (128 - pos), 8 - (128 - pos));
                s->nbytes += 8;
                if (zeros) {
                    s->zeros_run += 64;
                    if (s->zeros_run >= LOS_ZEROS) {
                        s->los_win_ones = s->los_win_bytes = 0;   /* LOS already set */
                        if (s->zeros_run > 1 << 20)
                            s->zeros_run = LOS_ZEROS;
                    }
                    s->ais_win_zeros += 64;
                } else {
                    s->zeros_run = 0;
                }
                s->ais_win_bytes += 8;
                if (s->ais_win_bytes == 64)
                    rx_ais_window(s);
                k += 7;
                continue;
            }
        }
        unsigned b = p[k];
        uint64_t i = s->nbytes++;
        RING(i) = (uint8_t)b;
        rx_los_byte(s, b);
        rx_ais_byte(s, b);
        if (i < 64)
            continue;   /* need bytes i-64 .. i (i-65 .. i for r > 0) */
        unsigned pb = RING(i - 1);
        if ((b == 0 && pb == 0) || (b == 0xFF && pb == 0xFF))
            continue;   /* no FAS can end here (LOS, AIS) */
        /* candidates in line order: third TS0 octet starting r bits into byte i-1 (r = 1..7), then byte i */
        for (int c = i < 65 ? 8 : 1; c <= 8; c++) {
            int r = c & 7;
            uint64_t j = r ? i - 1 : i;
            unsigned o2 = ring_octet(s, j, r);
            if ((o2 & 0x7F) != FAS_BITS)
                continue;
            if (!(ring_octet(s, j - 32, r) & NFAS_BIT2))
                continue;
            if ((ring_octet(s, j - 64, r) & 0x7F) != FAS_BITS)
                continue;
            rx_found_alignment(s, r, (uint8_t)o2);
            return k + 1;
        }
    }
    return n;
}

static inline void rx_abcd(line_e1_rx_t *s, int ts, uint8_t v)
{
    /* debounce: report a value once two consecutive multiframes carry it */
    if (v == s->abcd_candidate[ts]) {
        if (s->abcd_count[ts] < 2 && ++s->abcd_count[ts] == 2 && v != s->abcd[ts]) {
            s->abcd[ts] = v;
            if (s->on_abcd)
                s->on_abcd(s->user, ts, v);
        }
    } else {
        s->abcd_candidate[ts] = v;
        s->abcd_count[ts] = 1;
    }
}

static void rx_cas(line_e1_rx_t *s, unsigned v)
{
    if (s->mf_aligned) {
        unsigned pos = (s->frame - s->mf_base) & 15;
        if (pos == 0) {
            if (v & 0xF0) {
                /* G.732 5.2: two consecutive errored MFAS -> loss of multiframe alignment */
                if (++s->mf_errors_row >= 2) {
                    s->mf_aligned = 0;
                    rx_abcd_forget(s);
                    rx_update_alarms(s);
                }
            } else {
                s->mf_errors_row = 0;
                s->mf_remote_alarm = (v >> 2) & 1;
            }
        } else {
            rx_abcd(s, (int)pos, (uint8_t)(v >> 4));
            rx_abcd(s, (int)pos + 16, (uint8_t)(v & 15));
        }
    } else if ((v & 0xF0) == 0 && s->ts16_prev > 0) {
        /* G.732 5.2: MFAS 0000 found and TS16 of the previous frame not all zeros */
        s->mf_aligned = 1;
        s->mf_base = s->frame & 15;
        s->mf_errors_row = 0;
        s->mf_remote_alarm = (v >> 2) & 1;
        rx_abcd_forget(s);          /* (already forgotten when it was lost; the values start afresh) */
        rx_update_alarms(s);
    }
    if (v == 0) {
        /* TS16 all zeros for a whole multiframe also means loss of multiframe alignment */
        if (++s->ts16_zero_run >= 16 && s->mf_aligned) {
            s->mf_aligned = 0;
            rx_abcd_forget(s);
            rx_update_alarms(s);
        }
    } else {
        s->ts16_zero_run = 0;
    }
    s->ts16_prev = (int)v;
}

/* CRC-4 multiframe alignment and checking, once per aligned frame. Returns 0 if frame alignment was found
   to be spurious (caller loses alignment). */
static int rx_crc4(line_e1_rx_t *s, const uint8_t *f)
{
    unsigned ts0 = f[0];
    unsigned si = ts0 >> 7;
    if (!s->crc_aligned) {
        if (s->frame & 1) {
            s->si_hist = ((s->si_hist << 1) | si) & 0x3F;
            if (++s->nfas_seen >= 6 && s->si_hist == 0x0B) {      /* 001011 */
                /* G.706 4.2: two MFAS found, 2 ms (or a multiple) apart, within 8 ms */
                if (s->mfas_last >= 0 && (((int64_t)s->frame - s->mfas_last) & 15) == 0) {
                    s->crc_aligned = 1;
                    s->crc_base = (s->frame - 11) & 15;
                    s->crc_acc_valid = 0;
                    s->crc_expect_valid = 0;
                    s->crc_blocks = s->crc_block_errors = 0;
                    rx_update_alarms(s);
                    return 1;
                }
                s->mfas_last = s->frame;
            }
        }
        if (s->frame + 1 >= CRC_ALIGN_FRAMES)
            return 0;   /* G.706 4.2: no CRC-4 multiframe alignment in 8 ms: spurious frame alignment */
        return 1;
    }
    unsigned pos = (s->frame - s->crc_base) & 15;
    if ((pos & 7) == 0) {
        memset(s->crc_fold, 0, sizeof(s->crc_fold));
        s->crc_acc_valid = 1;
        s->crc_recv = 0;
    }
    if (!(pos & 1)) {
        s->crc_recv |= (uint8_t)(si << (3 - ((pos & 7) >> 1)));
        ts0 &= 0x7F;
    } else if (pos >= 13 && !si) {
        s->e_bit_errors++;     /* far end reports an errored sub-multiframe (G.704 2.3.3.4) */
    }
    crc4_add_frame(s->crc_fold, pos & 7, f, (uint8_t)ts0);
    if ((pos & 7) == 7) {
        uint8_t crc = crc4_finish(s->crc_fold);
        if (s->crc_expect_valid) {
            int bad = s->crc_recv != s->crc_expect;
            s->crc_errors += (uint64_t)bad;
            s->crc_block_errors += bad;
            if (++s->crc_blocks == 1000) {
                /* G.706 4.3.2: 915 or more errored blocks in 1000: false frame alignment */
                int lost = s->crc_block_errors >= 915;
                s->crc_blocks = s->crc_block_errors = 0;
                if (lost)
                    return 0;
            }
        }
        s->crc_expect = crc;
        s->crc_expect_valid = s->crc_acc_valid;
    }
    return 1;
}

/* One aligned frame is complete in fbuf. Returns 0 if alignment was lost. */
static int rx_frame(line_e1_rx_t *s, uint8_t *out)
{
    const uint8_t *f = s->fbuf;
    unsigned ts0 = f[0];
    if (!(s->frame & 1)) {
        if ((ts0 & 0x7F) != FAS_BITS) {
            s->fas_errors++;
            if (++s->fas_errors_row >= 3) {     /* G.706 4.1.1: three consecutive incorrect FAS */
                rx_lose_alignment(s);
                return 0;
            }
        } else {
            s->fas_errors_row = 0;
        }
    } else {
        /* G.706 4.1.1 (additional criterion): three consecutive NFAS frames with bit 2 = 0. It ends false
           alignments on the NFAS imitation "00" + "11011" (end of TS31, then Si 1 A=0 Sa4 Sa5 of an NFAS). */
        if (!(ts0 & NFAS_BIT2)) {
            if (++s->nfas_errors_row >= 3) {
                rx_lose_alignment(s);
                return 0;
            }
        } else {
            s->nfas_errors_row = 0;
        }
        /* RAI: A bit (G.704 Table 4b), the same value in two consecutive NFAS frames */
        int a = (ts0 >> 5) & 1;
        if (a == s->rai_cand) {
            if (++s->rai_count >= 2 && s->rai != a) {
                s->rai = a;
                rx_update_alarms(s);
            }
        } else {
            s->rai_cand = a;
            s->rai_count = 1;
        }
    }
    if (s->crc4 && !rx_crc4(s, f)) {
        rx_lose_alignment(s);
        return 0;
    }
    if (out)
        memcpy(out, f, 32);
    if (s->ts16 == LINE_TS16_CAS)
        rx_cas(s, f[16]);
    for (int h = 0; h < s->nhdlc; h++)
        line_hdlc_rx_octet(s->hdlc[s->hdlc_ts[h]], f[s->hdlc_ts[h]]);
    s->frame++;
    return 1;
}

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return __builtin_bswap64(x);
}

/* Number of zero octets among 32 (exact: bit 7 of each lane set iff the octet is 0). */
static inline int zero_octets32(const uint8_t *q)
{
    const uint64_t m = 0x7F7F7F7F7F7F7F7FULL;
    int n = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t w;
        memcpy(&w, q + 8 * i, 8);
        n += __builtin_popcountll(~(((w & m) + m) | w | m));
    }
    return n;
}

int line_e1_rx_bits(line_e1_rx_t *s, const uint8_t *line, size_t nbytes, uint8_t *frames_out, int max_frames)
{
    if (!s || !line)
        return 0;
    if (!frames_out || max_frames < 0)
        max_frames = 0;
    s->nhdlc = 0;
    for (int ts = 1; ts < 32; ts++)
        if (s->hdlc[ts] && (ts != 16 || s->ts16 != LINE_TS16_CAS))
            s->hdlc_ts[s->nhdlc++] = (uint8_t)ts;
    int nout = 0;
    size_t k = 0;
    while (k < nbytes) {
        if (!s->aligned) {
            k += rx_hunt(s, line + k, nbytes - k);
            continue;
        }
        const int r = s->bit_offset;
        if (s->fpos == 0 && nbytes - k >= 32) {
            /* a whole frame in the input: one shift-and-combine per octet */
            const uint8_t *q = line + k;
            uint64_t base = s->nbytes;
            unsigned pos = (unsigned)(base & 127);
            /* 255 zeros need 31 consecutive zero octets: with the previous octet not zero (zeros_run < 8) and at
               most 30 zero octets here no LOS can start, only the trailing run needs carrying */
            int nz;
            if (!s->los && s->zeros_run < 8 && (nz = zero_octets32(q)) <= 30) {
                int j = 31;
                while (!q[j])
                    j--;
                s->zeros_run = (31 - j) * 8 + __builtin_ctz(q[j]);
            } else {
                for (int i = 0; i < 32; i++) {
                    s->nbytes = base + (uint64_t)i + 1;    /* exact position for an alarm callback */
                    rx_los_byte(s, q[i]);
                }
            }
            s->nbytes = base;
            if (pos <= 96) {
                memcpy(s->ring + pos, q, 32);
            } else {
                memcpy(s->ring + pos, q, 128 - pos);
                memcpy(s->ring, q + (128 - pos), 32 - (128 - pos));
            }
            s->nbytes += 32;
            uint8_t *f = s->fbuf;
            if (r == 0) {
                memcpy(f, q, 32);
            } else {
                /* octets 8w..8w+7 = bits r .. r+63 of (octet 8w-1, the 8 octets from 8w): 8 octets a time */
                unsigned before = s->prev;
                for (int w = 0; w < 4; w++) {
                    uint64_t x = (uint64_t)before << (56 + r) | load_be64(q + 8 * w) >> (8 - r);
                    x = __builtin_bswap64(x);
                    memcpy(f + 8 * w, &x, 8);
                    before = q[8 * w + 7];
                }
            }
            s->prev = q[31];
            k += 32;
        } else {
            /* partial frame: byte by byte */
            unsigned b = line[k++];
            RING(s->nbytes++) = (uint8_t)b;
            rx_los_byte(s, b);
            s->fbuf[s->fpos++] = (uint8_t)(r ? (((unsigned)s->prev << r) | (b >> (8 - r))) & 0xFF : b);
            s->prev = (uint8_t)b;
            if (s->fpos < 32)
                continue;
        }
        s->fpos = 0;
        uint8_t *out = nout < max_frames ? frames_out + (size_t)nout * 32 : NULL;
        if (rx_frame(s, out) && out)
            nout++;
    }
    return nout;
}
