/*
 * hwsim core internals: the world, boards, spans, cables, analogue far ends and captures behind
 * hwsim_sdk.h. Not part of the public API (the SDK header is the cffi cdef; this one is not).
 *
 * Files: sdk.c (errors, world, boards, spans, blocks, ABCD, HDLC, ports, switching, events),
 * world.c (hwsim_world_tick: the per-block pipeline), cable.c (in-process and socket cables, line
 * faults), analog.c (telephones on FXS ports, exchange lines on FXO ports), capture.c (pcap).
 */
#ifndef HWSIM_INTERNAL_H
#define HWSIM_INTERNAL_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <pthread.h>

#include "hwsim_sdk.h"
#include "line.h"
#include "ctid_dsp.h"

#define HWSIM_BOARD_MAGIC 0x48575342u        /* "HWSB": catches stale or foreign board handles */
#define HWSIM_LINE_BYTES (HWSIM_BLOCK_FRAMES * HWSIM_E1_SLOTS)   /* 5120 bytes of line bits per block */
#define HWSIM_SLIP_ROOM 8                     /* frames of headroom in one block's receive buffers */
#define HWSIM_RX_CHUNK 16                     /* frames fed to the receive framer per call (one multiframe): event time resolution 2 ms */
#define HWSIM_RX_MAX_FRAMES (HWSIM_BLOCK_FRAMES + HWSIM_SLIP_ROOM + 4)
#define HWSIM_EVENT_QUEUE 1024                /* events held per board before OVERRUN */
#define HWSIM_HDLC_RXQ 256                    /* good frames held per HDLC timeslot before dropping */
#define HWSIM_AUDIO_QUEUE (8000 * 10)         /* samples held in a phone/line audio queue (10 s) */
#define HWSIM_IDLE_ALAW 0xD5                  /* A-law for 0 (G.711): what a timeslot sends unwritten */
#define HWSIM_MAX_DELAY_BITS 255              /* random line delay on connect: < one frame (256 bits) */

#define HWSIM_CABLE_NONE 0
#define HWSIM_CABLE_LOCAL 1
#define HWSIM_CABLE_SOCKET 2

typedef struct hwsim_span hwsim_span_t;
typedef struct hwsim_capture hwsim_capture_t;

/* Deterministic PRNG (splitmix64 seeding, xoshiro256**). */
typedef struct {
    uint64_t s[4];
} hwsim_rng_t;

void hwsim_rng_seed(hwsim_rng_t *r, uint64_t seed, uint64_t stream);
uint64_t hwsim_rng_next(hwsim_rng_t *r);
double hwsim_rng_uniform(hwsim_rng_t *r);    /* (0, 1] */

/* One HDLC controller on a timeslot. */
typedef struct {
    hwsim_span_t *span;
    int ts;
    line_hdlc_tx_t tx;
    line_hdlc_rx_t rx;
    uint8_t q[HWSIM_HDLC_RXQ][LINE_HDLC_MAX];
    int qlen[HWSIM_HDLC_RXQ];
    int qhead, qcount;
    uint64_t good, bad_fcs, aborts, bad_length, dropped;
    /* hwsim_hdlc_filter */
    int filter;
    uint8_t last[HWSIM_HDLC_FILTER_MAX_LEN];
    int last_len;                /* 0: nothing to compare with */
    int last_run;                /* deliveries of `last` in a row */
    uint64_t filtered;
} hwsim_hdlc_chan_t;

/* The receive side of a cable end: faults applied to what this span receives. */
typedef struct {
    double ber;
    double log1m_ber;            /* log(1 - ber), for the geometric skip */
    uint64_t bits_to_error;      /* bits left before the next flipped bit */
    double slips_per_minute;
    double frames_to_slip;       /* frames left before the next slip */
    int ais;
    int delay_bits;              /* random delay on connect/restore, 0..255 */
    uint8_t tail[40];            /* last input bytes for the delay line */
    uint64_t bit_errors;
    uint64_t slips;
    hwsim_rng_t rng;
} hwsim_impair_t;

typedef struct hwsim_sock hwsim_sock_t;

struct hwsim_span {
    hwsim_board_t *board;
    int index;
    hwsim_span_config_t cfg;
    line_e1_tx_t tx;
    line_e1_rx_t rx;
    hwsim_hdlc_chan_t *hdlc[HWSIM_E1_SLOTS];
    /* cable */
    int cable;                   /* HWSIM_CABLE_* */
    hwsim_span_t *peer;          /* LOCAL: the span at the other end (may be this one: a loopback plug) */
    hwsim_sock_t *sock;          /* SOCKET */
    int cut;
    hwsim_impair_t imp;
    /* per-block buffers */
    uint8_t line_out[HWSIM_LINE_BYTES];
    uint8_t line_pre[40 + HWSIM_LINE_BYTES + HWSIM_SLIP_ROOM * 32];   /* delay-line tail + faulted input */
    uint8_t line_in[HWSIM_LINE_BYTES + HWSIM_SLIP_ROOM * 32];         /* what the receive framer gets */
    int line_in_len;
    uint8_t frames[(HWSIM_RX_MAX_FRAMES + 2) * HWSIM_E1_SLOTS];   /* elastic store + this block's frames */
    int es_level;                /* frames held over in the elastic store (0..2) */
    int rx_chunk;                /* frame index in the block being received, for event times */
    uint32_t rx_frame0;          /* the framer's frame counter at the start of that chunk */
    uint64_t rx_slips;           /* controlled slips: frames repeated or deleted by the elastic store */
    int alarms;                  /* last reported */
};

/* Audio FIFO of int16 samples. */
typedef struct {
    int16_t *buf;
    int cap, head, count;
    uint64_t dropped;
} hwsim_audioq_t;

int hwsim_audioq_init(hwsim_audioq_t *q, int cap);
void hwsim_audioq_free(hwsim_audioq_t *q);
int hwsim_audioq_push(hwsim_audioq_t *q, const int16_t *x, int n, int drop_oldest);
int hwsim_audioq_pop(hwsim_audioq_t *q, int16_t *x, int n);

typedef struct {
    int kind;                    /* HWSIM_PORT_FXS / FXO */
    int index;
    /* board side */
    int board_ring;              /* FXS: the board rings the phone */
    int reversed;                /* polarity now reversed */
    int board_offhook;           /* FXO: the board is off hook */
    /* FXS: the telephone */
    int phone_offhook;
    int flash_frames;            /* frames of a hook flash still to run (phone on hook meanwhile) */
    ctid_dtmf_tx_t *dtmf;
    int dtmf_on_ms, dtmf_off_ms;
    hwsim_audioq_t mic;          /* FXS: phone microphone; FXO: exchange line audio to the board */
    hwsim_audioq_t speaker;      /* FXS: phone speaker; FXO: what the board sends to the line */
    /* FXO: the exchange line */
    int answer_reversal;         /* the exchange reverses polarity when the board answers */
    int ringing;                 /* ring cadence running */
    int ring_on;                 /* ring voltage on now */
    uint64_t ring_t;             /* frames since the cadence started */
    int busy;
    ctid_fsk_tx_t *fsk;
    uint8_t cid[160];
    int cid_len;
    int cid_state;               /* 0 none, 1 queued (wait for start time), 2 sending, 3 done */
    uint64_t cid_start;          /* ring_t at which FSK starts */
    ctid_tone_gen_t *busy_gen;
    int16_t audio[HWSIM_BLOCK_FRAMES];   /* this block's audio to the board */
} hwsim_port_t;

/* Per-channel received-voice faults. */
typedef struct {
    int on;
    float gain;
    float noise_amp;             /* half-width of each of the two uniforms of the triangular noise */
} hwsim_chfault_t;

typedef struct {
    hwsim_board_t *src;          /* NULL: not switched */
    int src_channel;
} hwsim_route_t;

struct hwsim_board {
    uint32_t magic;
    hwsim_world_t *world;
    int id;
    int nspans, nports, nch;
    int started;
    int dead;
    char serial[32];
    hwsim_span_t *spans[HWSIM_MAX_SPANS];
    hwsim_port_t *ports;
    uint8_t *tx_block;           /* written by the application for the next tick */
    int tx_written;
    uint8_t *txp;                /* what is sent this tick (application block + switching) */
    uint8_t *rx_block;           /* received in the last tick */
    hwsim_route_t *routes;       /* per channel */
    int nroutes;
    hwsim_chfault_t *chf;        /* per channel */
    int nchf;
    hwsim_rng_t noise_rng;
    /* events */
    pthread_mutex_t evlock;
    hwsim_event_t evq[HWSIM_EVENT_QUEUE];
    int evhead, evcount;
    int evdropped;
    int efd;
};

struct hwsim_capture {
    hwsim_capture_t *next;
    hwsim_span_t *span;          /* the captured end */
    hwsim_span_t *far;           /* the other end of an in-process cable at capture time, or NULL */
    int ts;
    int linktype;
    FILE *f;
    char path[256];
    uint64_t frames;
    void *pend;                  /* this block's records, written in time order at its end */
    int npend, cappend;
};

struct hwsim_world {
    uint64_t seed;
    uint64_t time;               /* frames */
    hwsim_board_t *boards[HWSIM_MAX_BOARDS];
    int nboards;
    hwsim_capture_t *captures;
    int sock_timeout_ms;
    uint8_t zeros[HWSIM_LINE_BYTES];
};

/* sdk.c */
int hwsim_board_check(hwsim_board_t *b);
int hwsim_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hwsim_emit(hwsim_board_t *b, int type, int span, int channel, int value, uint64_t t);
hwsim_board_t *hwsim_find_board(hwsim_world_t *w, int id);
int hwsim_world_board(hwsim_world_t *w, int id, hwsim_board_t **out);  /* checks w, id, dead */
int hwsim_world_span(hwsim_world_t *w, int board, int span, hwsim_span_t **out);
hwsim_hdlc_chan_t *hwsim_hdlc_chan_new(hwsim_span_t *sp, int ts);
void hwsim_hdlc_chan_free(hwsim_hdlc_chan_t *c);

/* cable.c */
void hwsim_impair_reset(hwsim_span_t *sp);         /* new random delay, empty delay line */
void hwsim_cable_detach(hwsim_span_t *sp, int emit);
void hwsim_cables_send(hwsim_world_t *w);            /* socket spans: send this block */
void hwsim_cables_receive(hwsim_world_t *w);         /* every span: fill line_in (with faults) */
void hwsim_sock_free(hwsim_sock_t *s);
double hwsim_slip_interval(hwsim_impair_t *im);   /* frames to the next controlled slip */

/* analog.c */
int hwsim_port_init(hwsim_port_t *p, int kind, int index);
void hwsim_port_free(hwsim_port_t *p);
void hwsim_ports_tick(hwsim_board_t *b, uint64_t t0);   /* far ends: consume txp, produce port audio */
int hwsim_port_board_hook(hwsim_board_t *b, hwsim_port_t *p, int offhook);

/* capture.c */
void hwsim_capture_frame(hwsim_span_t *sp, int ts, const uint8_t *frame, int len, uint64_t t);
void hwsim_capture_close_all(hwsim_world_t *w);
void hwsim_capture_flush(hwsim_world_t *w);

/* world.c */
void hwsim_span_apply_faults(hwsim_board_t *b);

#endif
