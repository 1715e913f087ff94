/*
 * hwsim line layer (internal to libhwsim): what a framer chip does.
 *  - HDLC on a 64 kbit/s timeslot (ISO 3309 / Q.703): flags 0x7E, zero-bit insertion, FCS-16 (X.25 CRC:
 *    reflected poly 0x8408, init 0xFFFF, xorout 0xFFFF, sent low byte first), aborts, frame length limits.
 *  - E1 framing (G.704): TS0 FAS (x0011011) in even frames, NFAS (x1ASSSSS: bit 2 = 1, A = RAI) in odd ones;
 *    optional CRC-4 multiframe (16 frames: C1..C4 in the Si bits of the FAS frames, multiframe alignment
 *    001011 and E bits in the Si bits of the NFAS frames). TS16: CAS multiframe (frame 0 of 16: 0000XYXX,
 *    Y = distant MF alarm; frame n = 1..15: ABCD of channel n in the high nibble, of channel n+15 in the low
 *    nibble; channel k is timeslot k for k <= 15 and timeslot k+1 for k >= 16), or an HDLC link, or clear.
 *  - E1 receive (G.706 frame alignment, CAS multiframe alignment, CRC-4 multiframe alignment; G.775 LOS and
 *    AIS detection): the receiver gets a bit stream with no byte or frame boundary given, finds alignment
 *    itself, and reports alarms.
 *
 * Bits on the wire: within a byte, the most significant bit is sent first (G.704 numbers it bit 1). HDLC
 * bits within its timeslot octets follow the same order, and within an HDLC octet the least significant bit
 * is sent first (so the engine maps bytes to bits LSB-first, then packs the bit stream MSB-first into
 * timeslot octets).
 */
#ifndef HWSIM_LINE_H
#define HWSIM_LINE_H

#include <stdint.h>
#include <stddef.h>

#define LINE_HDLC_MAX 280        /* longest frame accepted, FCS excluded (MTP2 MSU: 3 + 1 + 272 + margin) */
#define LINE_HDLC_QUEUE 64       /* frames queued for transmission */

/* ---------------------------------------------------------------- CRC */
uint16_t line_fcs16(const uint8_t *buf, size_t len);      /* X.25 FCS over buf (value to send, LSB first) */

/* ---------------------------------------------------------------- HDLC transmitter */
typedef struct {
    uint8_t frames[LINE_HDLC_QUEUE][LINE_HDLC_MAX + 2];
    int lens[LINE_HDLC_QUEUE];
    int head, count;
    uint8_t last[LINE_HDLC_MAX + 2];  /* last frame sent, for idle repetition */
    int last_len;
    int idle_repeat;                  /* 1: repeat the last frame when idle (MTP2 FISU), 0: flags */
    /* bit-level state */
    uint32_t bits;                    /* pending output bits, next bit in bit 0 */
    int nbits;
    int ones;                         /* consecutive ones sent (for zero insertion) */
    const uint8_t *cur;
    int cur_len, cur_pos;
} line_hdlc_tx_t;

void line_hdlc_tx_init(line_hdlc_tx_t *s);
int line_hdlc_tx_queue(line_hdlc_tx_t *s, const uint8_t *frame, int len);  /* 0, or -1 full / bad length */
void line_hdlc_tx_idle_repeat(line_hdlc_tx_t *s, int on);
uint8_t line_hdlc_tx_octet(line_hdlc_tx_t *s);  /* the next 8 line bits, first bit in the MSB */

/* ---------------------------------------------------------------- HDLC receiver */
#define LINE_HDLC_GOOD 0
#define LINE_HDLC_BAD_FCS 1
#define LINE_HDLC_ABORT 2
#define LINE_HDLC_BAD_LENGTH 3

typedef void (*line_hdlc_cb)(void *user, const uint8_t *frame, int len, int status);

typedef struct {
    uint8_t buf[LINE_HDLC_MAX + 3];
    int len;
    int ones;
    uint8_t octet;
    int nbits;
    int in_frame;
    int overflow;
    line_hdlc_cb cb;
    void *user;
} line_hdlc_rx_t;

void line_hdlc_rx_init(line_hdlc_rx_t *s, line_hdlc_cb cb, void *user);
/* Feed one timeslot octet (first bit in the MSB). Frames are delivered through cb: good ones without the
   FCS; bad ones (status != GOOD) too so counters can be kept, never as good. */
void line_hdlc_rx_octet(line_hdlc_rx_t *s, uint8_t octet);

/* ---------------------------------------------------------------- E1 transmit framer */
#define LINE_TS16_CAS 1
#define LINE_TS16_CCS 2
#define LINE_TS16_CLEAR 3

typedef struct {
    int crc4;
    int ts16;
    int rai;                     /* send remote alarm (A bit) */
    int ais;                     /* send all ones */
    int mf_alarm;                /* CAS: distant multiframe alarm (Y bit) */
    uint8_t abcd[32];            /* by timeslot */
    line_hdlc_tx_t *hdlc[32];    /* per timeslot, NULL if none (TS16 in CCS mode must have one) */
    uint32_t frame;              /* frame counter */
    uint8_t crc_prev[4];         /* CRC-4 bits computed over the previous sub-multiframe */
    uint16_t crc_acc;            /* running CRC-4 state */
    int e_bits;                  /* E bits to send (CRC errors seen by our receiver) */
} line_e1_tx_t;

void line_e1_tx_init(line_e1_tx_t *s, int crc4, int ts16);
/* Build nframes frames into out (nframes * 32 bytes). payload gives the 32 timeslots per frame with row
   stride payload_stride (bytes); TS0 is always generated, TS16 too unless CLEAR, and timeslots with an HDLC
   engine take its octets. */
void line_e1_tx_frames(line_e1_tx_t *s, const uint8_t *payload, size_t payload_stride, uint8_t *out, int nframes);

/* ---------------------------------------------------------------- E1 receive framer */
typedef struct {
    int crc4;
    int ts16;
    /* alignment */
    int aligned;                 /* frame alignment found */
    int bit_offset;              /* alignment within the incoming bit stream */
    uint8_t carry[64];           /* partial frame bits between calls */
    int carry_bits;
    uint32_t frame;              /* frames since alignment */
    int fas_errors_row;
    int mf_aligned;              /* CAS multiframe */
    int mf_pos;
    int mf_errors_row;
    int crc_aligned;             /* CRC-4 multiframe */
    int crc_pos;
    int alarms;                  /* HWSIM_ALARM_* bits */
    int zeros_run;               /* for LOS (G.775) */
    int ones_window_zeros;       /* for AIS */
    int ones_window_bits;
    uint8_t abcd[32];            /* received, by timeslot */
    uint8_t abcd_candidate[32];  /* debouncing: a change must persist two multiframes? (G.732: 2) */
    int abcd_count[32];
    line_hdlc_rx_t *hdlc[32];    /* per timeslot, NULL if none */
    uint64_t crc_errors, fas_errors;
    /* callbacks */
    void (*on_abcd)(void *user, int timeslot, int abcd);
    void (*on_alarm)(void *user, int alarms);
    void *user;
} line_e1_rx_t;

void line_e1_rx_init(line_e1_rx_t *s, int crc4, int ts16);
/* Consume nbytes of line bits (MSB first, no alignment assumed). Each recovered, aligned frame is written to
   frames_out (32 bytes each, at most max_frames); returns the number written. Alarms, ABCD changes and HDLC
   frames are reported through the callbacks as they are found. While out of alignment no frames are written
   (the board substitutes all-ones, as a real framer does under LOF). */
int line_e1_rx_bits(line_e1_rx_t *s, const uint8_t *line, size_t nbytes, uint8_t *frames_out, int max_frames);

#endif
