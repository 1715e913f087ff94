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
/* Frames are queued with their FCS. The frame on the line is copied to last[] when it starts, so the queue
   slot is free at once and last[] is what idle repetition repeats. One flag separates consecutive frames
   (the closing flag of one is the opening flag of the next, ISO 3309 4.2). Zero-bit insertion is done a
   whole octet at a time from a table indexed by (ones already sent, octet). */
typedef struct {
    uint8_t frames[LINE_HDLC_QUEUE][LINE_HDLC_MAX + 2];  /* queued frames, FCS appended */
    int lens[LINE_HDLC_QUEUE];        /* FCS included */
    int head, count;
    uint8_t last[LINE_HDLC_MAX + 2];  /* frame on the line / last frame sent (FCS included) */
    int last_len;                     /* 0: nothing sent yet */
    int idle_repeat;                  /* 1: repeat the last frame when idle (MTP2 FISU), 0: flags */
    /* bit-level state */
    uint32_t bits;                    /* pending output bits, next bit in bit 0 */
    int nbits;
    int ones;                         /* consecutive data ones sent (for zero insertion), 0..4 */
    int cur_pos;                      /* next octet of last[] to send; -1 between frames */
    int flag_last;                    /* the last thing on the line was a flag (it may open a frame) */
    uint64_t frames_sent;             /* frames completed (repetitions included) */
} line_hdlc_tx_t;

void line_hdlc_tx_init(line_hdlc_tx_t *s);
int line_hdlc_tx_queue(line_hdlc_tx_t *s, const uint8_t *frame, int len);  /* 0, or -1 full / bad length */
void line_hdlc_tx_idle_repeat(line_hdlc_tx_t *s, int on);
uint8_t line_hdlc_tx_octet(line_hdlc_tx_t *s);  /* the next 8 line bits, first bit in the MSB */

/* ---------------------------------------------------------------- HDLC receiver */
#define LINE_HDLC_GOOD 0
#define LINE_HDLC_BAD_FCS 1
#define LINE_HDLC_ABORT 2
#define LINE_HDLC_BAD_LENGTH 3       /* longer than LINE_HDLC_MAX, shorter than the FCS, or not whole octets */

typedef void (*line_hdlc_cb)(void *user, const uint8_t *frame, int len, int status);

typedef struct {
    uint8_t buf[LINE_HDLC_MAX + 3];  /* frame octets since the opening flag, FCS included */
    int len;
    int ones;                        /* consecutive ones received */
    uint32_t acc;                    /* data bits being assembled, first in bit 0 */
    int nbits;                       /* data bits in acc since the last octet boundary (0..7) */
    int in_frame;                    /* a flag has been seen (0: hunting after an abort or at start) */
    int overflow;                    /* more than LINE_HDLC_MAX + 2 octets: frame will be BAD_LENGTH */
    line_hdlc_cb cb;
    void *user;
    uint64_t good, bad_fcs, aborts, bad_length;   /* counters */
} line_hdlc_rx_t;

void line_hdlc_rx_init(line_hdlc_rx_t *s, line_hdlc_cb cb, void *user);
/* Feed one timeslot octet (first bit in the MSB). Frames are delivered through cb: good ones without the
   FCS; bad ones (status != GOOD) too so counters can be kept, never as good. For a GOOD frame the two
   received FCS octets follow it in the buffer (frame[len], frame[len + 1]), for captures with FCS. */
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
    uint8_t abcd[32];            /* by timeslot (low 4 bits; 0000 is sent as 0001, see line.c) */
    line_hdlc_tx_t *hdlc[32];    /* per timeslot, NULL if none (TS16 in CCS mode must have one) */
    uint32_t frame;              /* frame counter; frame % 16 is the CRC-4 and the CAS multiframe position */
    uint8_t crc_prev;            /* CRC-4 (C1 in bit 3) of the previous sub-multiframe, sent in this one */
    uint8_t crc_fold[48];        /* the current sub-multiframe folded modulo 15 octets (see line.c) */
    int e_bits;                  /* E bits still to send as 0 (errored sub-multiframes our receiver saw) */
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
    /* frame alignment (G.706 4.1) */
    int aligned;                 /* frame alignment found */
    int bit_offset;              /* octets start this many bits into an incoming byte (0..7) */
    uint8_t ring[128];           /* the last incoming bytes (the parallel FAS search looks 2 frames back) */
    uint64_t nbytes;             /* bytes received since init (ring index) */
    uint8_t prev;                /* previous incoming byte (aligned octet extraction) */
    uint8_t fbuf[32];            /* the frame being assembled */
    int fpos;
    uint32_t frame;              /* frames since alignment; even = FAS frame */
    int fas_errors_row;
    int nfas_errors_row;         /* consecutive NFAS frames with bit 2 = 0 */
    /* CAS multiframe (G.732 5.2) */
    int mf_aligned;
    uint32_t mf_base;            /* frame index (mod 16) of CAS multiframe frame 0 */
    int mf_errors_row;
    int ts16_prev;               /* TS16 of the previous frame, -1 if none since alignment */
    int ts16_zero_run;           /* consecutive all-zero TS16 octets */
    int mf_remote_alarm;         /* received Y bit */
    /* CRC-4 multiframe (G.706 4.2, 4.3) */
    int crc_aligned;
    uint32_t crc_base;           /* frame index (mod 16) of CRC-4 multiframe frame 0 */
    uint32_t si_hist;            /* Si bits of the NFAS frames since alignment, newest in bit 0 */
    int nfas_seen;
    int64_t mfas_last;           /* frame of the last 001011 seen, -1 none */
    uint8_t crc_fold[48];        /* the current sub-multiframe folded modulo 15 octets (see line.c) */
    int crc_acc_valid;           /* crc_fold holds a whole sub-multiframe since its start */
    uint8_t crc_expect;          /* computed over the previous sub-multiframe */
    int crc_expect_valid;
    uint8_t crc_recv;            /* C bits received in the current sub-multiframe */
    int crc_blocks, crc_block_errors;  /* for G.706 4.3.2 (915 of 1000) */
    /* alarms */
    int alarms;                  /* HWSIM_ALARM_* bits */
    int los, ais, rai;
    int rai_cand, rai_count;
    int zeros_run;               /* for LOS (G.775): consecutive zeros */
    int los_win_ones, los_win_bytes;
    int ais_win_zeros, ais_win_bytes, ais_bad_row, ais_good_row;
    /* CAS */
    uint8_t abcd[32];            /* received, by timeslot (0xFF: nothing yet, or no CAS multiframe alignment) */
    uint8_t abcd_candidate[32];  /* debouncing: a new value is reported after two multiframes that agree */
    uint8_t abcd_count[32];
    line_hdlc_rx_t *hdlc[32];    /* per timeslot, NULL if none */
    uint8_t hdlc_ts[32];         /* timeslots with an engine, taken from hdlc[] at each line_e1_rx_bits call */
    int nhdlc;
    uint64_t crc_errors, fas_errors, e_bit_errors, realignments;
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
