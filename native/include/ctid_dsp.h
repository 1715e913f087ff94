/*
 * ctid native DSP core: public API.
 *
 * This header is also the cffi cdef (ctid/dsp/_build.py reads it), so it is kept to the subset cffi parses:
 * no #if, no inline functions, only integer #defines. Internal helpers live in native/internal.h.
 *
 * Conventions
 *  - Audio is 8 kHz. Linear samples are int16 scale; detectors take float samples in that scale.
 *  - Levels are dBm0 with the A-law convention: a full-scale sine (peak 32767) is +3.14 dBm0, so a
 *    0 dBm0 sine has peak 22827 (CTID_DBM0_PEAK_X1000 / 1000).
 *  - Multi-channel ("lane") detectors take samples laid out frame-major as a board delivers them:
 *    sample n of lane i is x[n * stride + i]. stride is a multiple of CTID_TILE and lanes
 *    nlanes..stride-1 are padding (zero). One call processes every lane; detectors vectorise across
 *    lanes and run their per-lane decision logic only at block boundaries.
 *  - Each detector file has: a params struct with a *_defaults() filler, *_new (init), *_process,
 *    *_reset (one lane, or -1 for all) and *_free (release).
 *  - Times in events are sample indices (t0 passed to process is the index of frame 0).
 */

#define CTID_TILE 8
#define CTID_DBM0_PEAK_X1000 22827000

/* Error codes (negative returns). ctid_strerror() gives the text. */
#define CTID_OK 0
#define CTID_ERR_ARG -1
#define CTID_ERR_SIZE -2
#define CTID_ERR_NOMEM -3
#define CTID_ERR_CHANNEL -4
#define CTID_ERR_STATE -5

/* Companding laws for the bank's input. */
#define CTID_LAW_ALAW 1
#define CTID_LAW_ULAW 2
#define CTID_LAW_LINEAR16 3

/* Detector mask bits (per channel). */
#define CTID_DET_DTMF 1
#define CTID_DET_R2F 2
#define CTID_DET_R2B 4
#define CTID_DET_CPT 8
#define CTID_DET_CID 16

/* Event kinds and types. */
#define CTID_EV_DTMF 1
#define CTID_EV_R2F 2
#define CTID_EV_R2B 3
#define CTID_EV_CPT 4
#define CTID_EV_CID 5

#define CTID_EVT_ON 1
#define CTID_EVT_OFF 2
#define CTID_EVT_MSG 3

typedef struct {
    uint64_t t_sample;   /* ON: first sample of the tone (estimated); OFF: first sample after it; MSG: end */
    uint32_t channel;    /* lane / channel index */
    uint16_t kind;       /* CTID_EV_* */
    uint16_t type;       /* CTID_EVT_* */
    int32_t value;       /* DTMF/R2: ASCII signal ('0'-'9','*','#','A'-'D'; R2 '1'-'9','0','B'-'F');
                            CPT: index in the tone table; CID: message length in bytes */
    int32_t duration;    /* OFF: tone duration in samples; CID MSG: message id (ctid_bank_message); else 0 */
    float level;         /* dBm0: DTMF/R2 mean level of the two tones, CPT tone level; CID 0 */
    float aux;           /* DTMF: twist in dB (high group minus low group); R2: level difference; else 0 */
} ctid_event_t;

/* Growable event sink used by the detectors (bounded: past `limit` events are counted in `dropped`). */
typedef struct {
    ctid_event_t *ev;
    int n;
    int cap;
    int limit;
    int dropped;
} ctid_evbuf_t;

const char *ctid_strerror(int err);
const char *ctid_version(void);

/* ---------------------------------------------------------------- G.711 (g711.c) */
uint8_t ctid_linear_to_alaw(int16_t linear);
int16_t ctid_alaw_to_linear(uint8_t alaw);
uint8_t ctid_linear_to_ulaw(int16_t linear);
int16_t ctid_ulaw_to_linear(uint8_t ulaw);
uint8_t ctid_alaw_to_ulaw(uint8_t alaw);
uint8_t ctid_ulaw_to_alaw(uint8_t ulaw);
void ctid_alaw_encode(const int16_t *in, uint8_t *out, size_t n);
void ctid_alaw_decode(const uint8_t *in, int16_t *out, size_t n);
void ctid_ulaw_encode(const int16_t *in, uint8_t *out, size_t n);
void ctid_ulaw_decode(const uint8_t *in, int16_t *out, size_t n);
/* 256-entry float decode tables (int16 scale). */
const float *ctid_alaw_float_table(void);
const float *ctid_ulaw_float_table(void);
/* The bank's vectorised decode stage: nframes rows of nchan codes (law ALAW or ULAW) to float rows of
   `stride` floats (stride >= nchan; the rest of each row is left untouched). */
int ctid_g711_decode_rows(int law, const uint8_t *in, int nchan, float *out, int stride, int nframes);

/* ---------------------------------------------------------------- DTMF receiver (dtmf_rx.c) */
typedef struct {
    float threshold_dbm0;     /* minimum level of each tone */
    float twist_normal_db;    /* max dB by which the low group may exceed the high group */
    float twist_reverse_db;   /* max dB by which the high group may exceed the low group */
    float freq_tolerance_pct; /* max deviation of each tone from nominal, per cent */
    float min_purity;         /* share of the block's energy that must be in the two tones, 0..1 */
    int hits_to_begin;        /* consecutive qualifying blocks to declare a digit */
    int misses_to_end;        /* consecutive failing blocks to end it */
} ctid_dtmf_rx_params_t;

typedef struct ctid_dtmf_rx ctid_dtmf_rx_t;
void ctid_dtmf_rx_defaults(ctid_dtmf_rx_params_t *p);
ctid_dtmf_rx_t *ctid_dtmf_rx_new(int nlanes, const ctid_dtmf_rx_params_t *p);
int ctid_dtmf_rx_set_params(ctid_dtmf_rx_t *s, int lane, const ctid_dtmf_rx_params_t *p); /* lane -1 = all */
void ctid_dtmf_rx_process(ctid_dtmf_rx_t *s, const float *x, int nframes, int stride,
                          const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out);
void ctid_dtmf_rx_reset(ctid_dtmf_rx_t *s, int lane);
void ctid_dtmf_rx_free(ctid_dtmf_rx_t *s);

/* ---------------------------------------------------------------- DTMF generator (dtmf_tx.c) */
typedef struct {
    float level_dbm0;  /* level of the low-group tone */
    float twist_db;    /* high-group level minus low-group level, dB */
    int on_ms;
    int off_ms;
} ctid_dtmf_tx_params_t;

typedef struct ctid_dtmf_tx ctid_dtmf_tx_t;
void ctid_dtmf_tx_defaults(ctid_dtmf_tx_params_t *p);
ctid_dtmf_tx_t *ctid_dtmf_tx_new(const ctid_dtmf_tx_params_t *p);
int ctid_dtmf_tx_put(ctid_dtmf_tx_t *s, const char *digits); /* queued count, or CTID_ERR_ARG on a bad digit */
int ctid_dtmf_tx_generate(ctid_dtmf_tx_t *s, int16_t *amp, int max); /* samples written; < max when queue empties */
int ctid_dtmf_tx_pending(ctid_dtmf_tx_t *s);  /* samples still to generate */
void ctid_dtmf_tx_reset(ctid_dtmf_tx_t *s);
void ctid_dtmf_tx_free(ctid_dtmf_tx_t *s);

/* ---------------------------------------------------------------- MFC R2 receiver (r2mf_rx.c) */
typedef struct {
    int backward;              /* 0: forward group (1380..1980 Hz), 1: backward group (1140..540 Hz) */
    int china_2of4;            /* backward only: China No.1 2-of-4 set (1140/1020/900/780 Hz, signals 1-6) */
    float threshold_dbm0;      /* minimum level of each tone */
    float max_level_dbm0;      /* maximum level of each tone */
    float twist_adjacent_db;   /* max level difference, adjacent frequencies */
    float twist_nonadjacent_db;/* max level difference, non-adjacent frequencies */
    float min_purity;          /* share of the block's energy in the two tones, 0..1 */
    int hits_to_begin;
    int misses_to_end;
} ctid_r2mf_rx_params_t;

typedef struct ctid_r2mf_rx ctid_r2mf_rx_t;
void ctid_r2mf_rx_defaults(ctid_r2mf_rx_params_t *p, int backward);
ctid_r2mf_rx_t *ctid_r2mf_rx_new(int nlanes, const ctid_r2mf_rx_params_t *p);
void ctid_r2mf_rx_process(ctid_r2mf_rx_t *s, const float *x, int nframes, int stride,
                          const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out);
void ctid_r2mf_rx_reset(ctid_r2mf_rx_t *s, int lane);
void ctid_r2mf_rx_free(ctid_r2mf_rx_t *s);

/* ---------------------------------------------------------------- MFC R2 generator (r2mf_tx.c) */
typedef struct ctid_r2mf_tx ctid_r2mf_tx_t;
ctid_r2mf_tx_t *ctid_r2mf_tx_new(int backward, float level_dbm0);
int ctid_r2mf_tx_set(ctid_r2mf_tx_t *s, int signal); /* ASCII signal, or 0 for silence; CTID_ERR_ARG if invalid */
int ctid_r2mf_tx_generate(ctid_r2mf_tx_t *s, int16_t *amp, int max); /* always fills max (silence when off) */
void ctid_r2mf_tx_reset(ctid_r2mf_tx_t *s);
void ctid_r2mf_tx_free(ctid_r2mf_tx_t *s);

/* ---------------------------------------------------------------- Call-progress tones (cpt_rx.c, tone_gen.c) */
/* A tone: one or two frequencies, and a cadence of alternating on/off durations starting with "on".
   nsegs == 0 means continuous. The cadence repeats. */
#define CTID_TONE_MAX_SEGS 16
#define CTID_TONE_MAX_DEFS 32
typedef struct {
    char name[24];
    float freq1;
    float freq2;               /* 0 for a single-frequency tone */
    float level_dbm0;          /* nominal level (generator) */
    int nsegs;
    int seg_ms[16];            /* CTID_TONE_MAX_SEGS: on, off, on, off, ... */
    int min_cycles;            /* cadence cycles to observe before reporting (>= 1) */
    int detect_ms;             /* continuous tones: time on before reporting */
} ctid_tone_def_t;

typedef struct {
    float threshold_dbm0;      /* minimum tone level */
    float min_purity;          /* share of the block's energy at the tone frequencies, 0..1 */
    float freq_tolerance_pct;  /* accepted frequency deviation */
    float cadence_tolerance_pct; /* accepted deviation of each segment duration, per cent ... */
    int cadence_tolerance_ms;    /* ... plus this many ms */
} ctid_cpt_rx_params_t;

typedef struct ctid_cpt_rx ctid_cpt_rx_t;
void ctid_cpt_rx_defaults(ctid_cpt_rx_params_t *p);
ctid_cpt_rx_t *ctid_cpt_rx_new(int nlanes, const ctid_cpt_rx_params_t *p,
                               const ctid_tone_def_t *defs, int ndefs);
void ctid_cpt_rx_process(ctid_cpt_rx_t *s, const float *x, int nframes, int stride,
                         const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out);
void ctid_cpt_rx_reset(ctid_cpt_rx_t *s, int lane);
void ctid_cpt_rx_free(ctid_cpt_rx_t *s);

typedef struct ctid_tone_gen ctid_tone_gen_t;
ctid_tone_gen_t *ctid_tone_gen_new(const ctid_tone_def_t *def);
int ctid_tone_gen_generate(ctid_tone_gen_t *s, int16_t *amp, int max); /* always fills max, cadence repeats */
void ctid_tone_gen_reset(ctid_tone_gen_t *s);
void ctid_tone_gen_free(ctid_tone_gen_t *s);

/* ---------------------------------------------------------------- Caller ID FSK (fsk_rx.c, fsk_tx.c) */
#define CTID_FSK_BELL202 1
#define CTID_FSK_V23 2
#define CTID_CID_MAX_MSG 258

typedef struct {
    int modem;                 /* CTID_FSK_BELL202 or CTID_FSK_V23 */
    float threshold_dbm0;      /* minimum carrier level */
} ctid_fsk_rx_params_t;

/* Receives the on-hook data transmission: seizure, mark, then a message (type, length, body, checksum).
   A complete message with a good checksum gives a CTID_EV_CID/CTID_EVT_MSG event whose value is the
   message length (type + length + body + checksum bytes); fetch the bytes with ctid_fsk_rx_message().
   A message with a bad checksum is dropped (counted). */
typedef struct ctid_fsk_rx ctid_fsk_rx_t;
void ctid_fsk_rx_defaults(ctid_fsk_rx_params_t *p);
ctid_fsk_rx_t *ctid_fsk_rx_new(int nlanes, const ctid_fsk_rx_params_t *p);
void ctid_fsk_rx_process(ctid_fsk_rx_t *s, const float *x, int nframes, int stride,
                         const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out);
int ctid_fsk_rx_message(ctid_fsk_rx_t *s, int lane, uint8_t *buf, int cap); /* bytes copied or error */
int ctid_fsk_rx_bad_messages(ctid_fsk_rx_t *s, int lane);
void ctid_fsk_rx_reset(ctid_fsk_rx_t *s, int lane);
void ctid_fsk_rx_free(ctid_fsk_rx_t *s);

typedef struct ctid_fsk_tx ctid_fsk_tx_t;
ctid_fsk_tx_t *ctid_fsk_tx_new(int modem, float level_dbm0);
/* Queue seizure_bits of alternating 0/1, mark_bits of 1, then the bytes (start bit, 8 data LSB first, stop). */
int ctid_fsk_tx_put(ctid_fsk_tx_t *s, const uint8_t *data, int n, int seizure_bits, int mark_bits);
int ctid_fsk_tx_generate(ctid_fsk_tx_t *s, int16_t *amp, int max); /* samples written; < max when done */
void ctid_fsk_tx_reset(ctid_fsk_tx_t *s);
void ctid_fsk_tx_free(ctid_fsk_tx_t *s);

/* ---------------------------------------------------------------- The batched multi-channel bank (bank.c) */
/* One bank = the channels of one span or board. Each tick, ctid_bank_process() takes a block of
   frames exactly as the board delivers it (nchan bytes per frame, timeslot-interleaved), decodes it once,
   runs every enabled detector across all channels and queues the events. */
typedef struct ctid_bank ctid_bank_t;
ctid_bank_t *ctid_bank_new(int nchan, int law);
void ctid_bank_free(ctid_bank_t *b);
int ctid_bank_nchan(ctid_bank_t *b);
int ctid_bank_set_mask(ctid_bank_t *b, int channel, unsigned mask);  /* resets the detectors it turns on */
int ctid_bank_get_mask(ctid_bank_t *b, int channel);
int ctid_bank_set_dtmf_params(ctid_bank_t *b, int channel, const ctid_dtmf_rx_params_t *p); /* -1 = all */
int ctid_bank_set_r2_params(ctid_bank_t *b, const ctid_r2mf_rx_params_t *p); /* p->backward picks the group */
int ctid_bank_set_cpt(ctid_bank_t *b, const ctid_cpt_rx_params_t *p, const ctid_tone_def_t *defs, int ndefs);
int ctid_bank_set_fsk_params(ctid_bank_t *b, const ctid_fsk_rx_params_t *p);
/* nbytes must be a whole number of frames (nchan bytes each; 2*nchan for LINEAR16). Returns the number of
   events now pending, or a negative error. */
int ctid_bank_process(ctid_bank_t *b, const uint8_t *data, size_t nbytes);
int ctid_bank_events(ctid_bank_t *b, ctid_event_t *out, int max); /* drains up to max pending events */
int ctid_bank_pending(ctid_bank_t *b);
int ctid_bank_dropped(ctid_bank_t *b);
uint64_t ctid_bank_time(ctid_bank_t *b);   /* frames processed so far */
int ctid_bank_cid_message(ctid_bank_t *b, int channel, uint8_t *buf, int cap); /* the lane's latest */
/* The bytes of the caller-ID message of a CTID_EV_CID event: its `duration` field is the message id. The last
   256 messages are kept; an older id gives CTID_ERR_STATE. */
int ctid_bank_message(ctid_bank_t *b, int32_t msg_id, uint8_t *buf, int cap);
int ctid_bank_cid_bad_messages(ctid_bank_t *b, int channel);  /* messages dropped for a bad checksum etc. */
void ctid_bank_reset(ctid_bank_t *b, int channel); /* -1 = all */

/* ---------------------------------------------------------------- Per-board media (media.c) */
/* One state per board: every channel's play queue (caller-owned A-law segments, copied bit-exact), tone
   generator (any ctid_tone_def_t, optionally for a duration), record capture (received A-law into a ring this
   state owns, drained by the caller; max length, silence stop), received power per tick, and conference mixing
   (linear sum of the talkers, each listener hears the others, A-law re-encoded). ctid_media_tick() does all of it
   for all channels in one call per tick and queues only events. Blocks are nframes rows of `stride` bytes,
   channel c at column c (stride >= nchan). Transmit priority per channel: play queue, else tone, else silence
   (0xD5); a conference listener hears the others' sum plus its own play/tone. */
#define CTID_MEDIA_MAX_QUEUE 64      /* segments queued per channel */
#define CTID_MEDIA_MAX_CONF 64       /* conference ids 1..64 */
#define CTID_MEDIA_MAX_FRAMES 8000   /* frames per tick */

#define CTID_MEDIA_CONF_TALK 1       /* the member's received audio goes into the conference sum */
#define CTID_MEDIA_CONF_LISTEN 2     /* the member transmits the sum of the other talkers */

#define CTID_MEDIA_EV_SEG_DONE 1     /* a play segment ended; value: its id */
#define CTID_MEDIA_EV_PLAY_DONE 2    /* the play queue ran empty; value: id of the last segment */
#define CTID_MEDIA_EV_TONE_DONE 3    /* a tone given a duration ended; value: its id */
#define CTID_MEDIA_EV_REC_HIGH 4     /* the record buffer reached its high-water mark; value: bytes buffered */
#define CTID_MEDIA_EV_REC_MAX 5      /* the recording reached its maximum length, capture stopped; value: samples */
#define CTID_MEDIA_EV_REC_SILENCE 6  /* silence lasted the set time, capture stopped; value: samples captured */
#define CTID_MEDIA_EV_REC_OVERFLOW 7 /* the record buffer was full; value: bytes lost; aux: bytes buffered */

typedef struct {
    uint64_t t_sample;   /* media clock (frames ticked so far) when it happened */
    uint32_t channel;
    int32_t type;        /* CTID_MEDIA_EV_* */
    int32_t value;
    int32_t aux;
} ctid_media_event_t;

typedef struct ctid_media ctid_media_t;
ctid_media_t *ctid_media_new(int nchan);
void ctid_media_free(ctid_media_t *m);
int ctid_media_nchan(ctid_media_t *m);
uint64_t ctid_media_time(ctid_media_t *m);
/* Queue a segment (buf must stay valid until its SEG_DONE or a stop/reset); loop: repeat until stopped.
   Returns the number queued, CTID_ERR_SIZE if the queue is full. */
int ctid_media_play(ctid_media_t *m, int ch, const uint8_t *buf, int32_t len, int32_t id, int loop);
int ctid_media_play_stop(ctid_media_t *m, int ch);    /* segments dropped (no events); buffers released */
int ctid_media_queued(ctid_media_t *m, int ch);
/* Start a tone (replaces any tone); duration_ms 0 = until stopped, else TONE_DONE with id at its end. */
int ctid_media_tone(ctid_media_t *m, int ch, const ctid_tone_def_t *def, int32_t duration_ms, int32_t id);
int ctid_media_tone_stop(ctid_media_t *m, int ch);    /* 1 if a tone was playing */
/* End the tone with a raised-cosine fade over ramp_samples (0..CTID_MEDIA_MAX_RAMP; 0 = at once), no TONE_DONE;
   1 if a tone was playing. (MFC R2 signals are released this way: no click at the end of a signal.) */
#define CTID_MEDIA_MAX_RAMP 160
int ctid_media_tone_release(ctid_media_t *m, int ch, int32_t ramp_samples);
/* Start capturing received A-law: a ring of buf_bytes (>= CTID_MEDIA_MAX_FRAMES), REC_HIGH when high_water bytes
   are buffered (re-armed when drained below), stop after max_samples (0 = no limit) or after silence_ms of
   ticks below silence_dbm0 (silence_ms 0 = never). */
int ctid_media_record_start(ctid_media_t *m, int ch, int32_t buf_bytes, int32_t high_water, int32_t max_samples,
                            int32_t silence_ms, float silence_dbm0);
int ctid_media_record_stop(ctid_media_t *m, int ch);     /* stops capture; returns bytes still buffered */
int ctid_media_record_read(ctid_media_t *m, int ch, uint8_t *out, int32_t cap);   /* bytes drained */
int ctid_media_record_pending(ctid_media_t *m, int ch);
int64_t ctid_media_record_count(ctid_media_t *m, int ch);    /* samples captured */
int64_t ctid_media_record_dropped(ctid_media_t *m, int ch);  /* bytes lost to a full buffer */
int ctid_media_record_release(ctid_media_t *m, int ch);      /* frees the buffer (unread bytes are lost) */
/* Join conference conf (1..CTID_MEDIA_MAX_CONF) with CTID_MEDIA_CONF_* flags, or leave it (conf 0). */
int ctid_media_conf(ctid_media_t *m, int ch, int conf, int flags);
/* Whisper: a conference member's received audio also goes to `target` alone (a member of the same conference
   that listens), e.g. a supervisor coaching an agent; -1 ends it. Leaving the conference ends it too. */
int ctid_media_conf_whisper(ctid_media_t *m, int ch, int target);
void ctid_media_reset(ctid_media_t *m, int ch);           /* stop everything on a channel (-1 = all) */
int ctid_media_levels(ctid_media_t *m, float *out, int n); /* received level of the last tick, dBm0 */
/* One tick for every channel: returns the number of events pending, or a negative error. */
int ctid_media_tick(ctid_media_t *m, const uint8_t *rx, uint8_t *tx, int nframes, int stride);
int ctid_media_events(ctid_media_t *m, ctid_media_event_t *out, int max);   /* drains up to max */
int ctid_media_pending(ctid_media_t *m);
int64_t ctid_media_dropped(ctid_media_t *m);
