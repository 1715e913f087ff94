/*
 * hwsim SDK: simulated E1 and analogue voice boards behind a C API shaped like a vendor's (Synway SHP,
 * Donjin, Dialogic): open a board by id, enumerate spans and ports, start/stop, read and write a 20 ms block
 * of every timeslot at once, ABCD bits, HDLC frames on a timeslot, analogue hook/ring/polarity/flash, alarms,
 * H.100-style timeslot switching, and an event queue with a file descriptor a reactor can watch.
 *
 * It is built as a real shared library (libhwsim.so) and ctid/drivers/hwsim.py wraps it with cffi exactly
 * as one wraps a vendor SDK. This header is also that cdef: keep to what cffi parses (no #if, no inline,
 * only integer #defines).
 *
 * The simulation universe is a "world": boards, the cables between their spans, the simulated far ends
 * (telephones on FXS ports, exchange lines on FXO ports) and a clock. Time advances only by
 * hwsim_world_tick(): one tick = one block = HWSIM_BLOCK_FRAMES frames (20 ms). A driver in real time calls it
 * every 20 ms; a test calls it as fast as it likes (faster than real time). Nothing in hwsim reads the wall
 * clock.
 *
 * What crosses a cable is the line signal: 2.048 Mbit/s G.704 frames (TS0 FAS/NFAS, optional CRC-4
 * multiframe; TS16 CAS multiframe or a 64 kbit/s HDLC link; A-law voice), carried as a bit stream. Each
 * receiving span finds frame and multiframe alignment itself and raises LOS, LOF, AIS, RAI as a framer does.
 *
 * Channel numbering on a board: span s timeslot t is channel s*32 + t (TS0 and TS16 included, so block
 * layout is exactly the E1 frame), then analogue port p is channel nspans*32 + p.
 */

#define HWSIM_BLOCK_FRAMES 160
#define HWSIM_E1_SLOTS 32
#define HWSIM_MAX_BOARDS 64
#define HWSIM_MAX_SPANS 16
#define HWSIM_MAX_PORTS 64
#define HWSIM_MAX_HDLC 280

/* Errors (negative returns); hwsim_strerror() gives text, hwsim_last_error() a detailed message. */
#define HWSIM_OK 0
#define HWSIM_ERR_ARG -1
#define HWSIM_ERR_BOARD -2      /* unknown board id */
#define HWSIM_ERR_SPAN -3       /* span out of range */
#define HWSIM_ERR_CHANNEL -4    /* timeslot / port / channel out of range */
#define HWSIM_ERR_SIZE -5       /* block of the wrong size */
#define HWSIM_ERR_PEER -6       /* cable to a missing peer */
#define HWSIM_ERR_STATE -7      /* board not started, span in the wrong mode, ... */
#define HWSIM_ERR_AGAIN -8      /* nothing to read now */
#define HWSIM_ERR_NOMEM -9
#define HWSIM_ERR_IO -10        /* socket / file error */
#define HWSIM_ERR_DEAD -11      /* the board stopped answering (fault injection) */

/* Span configuration. */
#define HWSIM_TS16_CAS 1        /* TS16 carries the CAS multiframe (China No.1, R2) */
#define HWSIM_TS16_CCS 2        /* TS16 carries a 64 kbit/s HDLC link (SS7) */
#define HWSIM_TS16_CLEAR 3      /* TS16 is a bearer channel */

typedef struct {
    int crc4;                   /* 1: CRC-4 multiframe on TS0 */
    int ts16;                   /* HWSIM_TS16_* */
} hwsim_span_config_t;

/* Alarm bits. */
#define HWSIM_ALARM_LOS 1       /* loss of signal */
#define HWSIM_ALARM_LOF 2       /* loss of frame alignment */
#define HWSIM_ALARM_AIS 4       /* alarm indication signal (all ones) received */
#define HWSIM_ALARM_RAI 8       /* remote alarm indication (A bit) received */
#define HWSIM_ALARM_LOMF 16     /* loss of CAS multiframe alignment */
#define HWSIM_ALARM_LOCRC 32    /* loss of CRC-4 multiframe alignment */

typedef struct {
    int alarms;                 /* HWSIM_ALARM_* bits now */
    uint64_t crc_errors;
    uint64_t fas_errors;
    uint64_t slips;
    uint64_t hdlc_good;
    uint64_t hdlc_bad_fcs;
    uint64_t hdlc_aborts;
    uint64_t bit_errors_injected;
    uint64_t hdlc_filtered;     /* repeated signal units not delivered (hwsim_hdlc_filter) */
} hwsim_span_status_t;

/* Analogue port kinds. */
#define HWSIM_PORT_FXS 1        /* the board powers a telephone: it rings it, the phone goes off hook */
#define HWSIM_PORT_FXO 2        /* the board is a telephone on an exchange line: it sees ringing, goes off hook */

typedef struct {
    int board_id;
    int nspans;
    int nports;
    int port_kind[64];          /* HWSIM_MAX_PORTS */
    char serial[32];
} hwsim_board_info_t;

/* Events. */
#define HWSIM_EV_ALARM 1        /* span: value = alarm bits now */
#define HWSIM_EV_ABCD 2         /* span/channel(timeslot): value = received ABCD (4 bits) */
#define HWSIM_EV_HDLC 3         /* span/channel(timeslot): a good frame is waiting (hwsim_hdlc_recv) */
#define HWSIM_EV_HOOK 4         /* port: value 1 off hook, 0 on hook (FXS: the phone; FXO: echo of our own) */
#define HWSIM_EV_RING 5         /* port (FXO): value 1 ring voltage on, 0 off */
#define HWSIM_EV_POLARITY 6     /* port (FXO): value 1 reversed, 0 normal */
#define HWSIM_EV_FLASH 7        /* port (FXS): hook flash from the phone */
#define HWSIM_EV_CABLE 8        /* span: value 1 connected, 0 cut */
#define HWSIM_EV_OVERRUN 9      /* board: events were lost, value = how many */

typedef struct {
    uint64_t t_frame;           /* world time in frames (8000 per second) */
    int board_id;
    int type;                   /* HWSIM_EV_* */
    int span;                   /* -1 if not a span event */
    int channel;                /* timeslot or port, -1 if none */
    int value;
} hwsim_event_t;

typedef struct hwsim_world hwsim_world_t;
typedef struct hwsim_board hwsim_board_t;

const char *hwsim_strerror(int err);
const char *hwsim_last_error(void);

/* ---------------------------------------------------------------- world and clock */
hwsim_world_t *hwsim_world_new(uint64_t seed);   /* seed drives fault injection and noise */
void hwsim_world_free(hwsim_world_t *w);
int hwsim_world_tick(hwsim_world_t *w, int nblocks); /* advance nblocks x 20 ms: exchange every cable */
uint64_t hwsim_world_time(hwsim_world_t *w);          /* frames since creation */

/* ---------------------------------------------------------------- boards (vendor-SDK shape) */
int hwsim_board_create(hwsim_world_t *w, int board_id, int nspans, int nports, const int *port_kinds);
hwsim_board_t *hwsim_board_open(hwsim_world_t *w, int board_id);   /* NULL: unknown id (see last_error) */
int hwsim_board_info(hwsim_board_t *b, hwsim_board_info_t *info);
int hwsim_board_start(hwsim_board_t *b);
int hwsim_board_stop(hwsim_board_t *b);
int hwsim_board_nchannels(hwsim_board_t *b);   /* nspans*32 + nports: bytes per frame of a block */

int hwsim_span_configure(hwsim_board_t *b, int span, const hwsim_span_config_t *cfg);
int hwsim_span_status(hwsim_board_t *b, int span, hwsim_span_status_t *st);

/* One block of every channel of the board, frame-interleaved: nframes * nchannels bytes (A-law).
   read returns what the board received in the last tick (TS0/TS16 as on the wire);
   write sets what it sends in the next tick (TS0, and TS16 in CAS/CCS mode, are the framer's, not yours).
   len must be exactly HWSIM_BLOCK_FRAMES * nchannels. */
int hwsim_read_block(hwsim_board_t *b, uint8_t *buf, size_t len);
int hwsim_write_block(hwsim_board_t *b, const uint8_t *buf, size_t len);

/* CAS on a span in HWSIM_TS16_CAS mode: timeslot 1..15, 17..31; abcd 0..15. */
int hwsim_set_abcd(hwsim_board_t *b, int span, int timeslot, int abcd);
int hwsim_get_abcd(hwsim_board_t *b, int span, int timeslot);   /* received, or error */

/* HDLC on a timeslot (TS16 in CCS mode, or any bearer timeslot after hwsim_hdlc_enable). The FCS is added
   on send and checked on receive; frames with a bad FCS are counted and never delivered. */
int hwsim_hdlc_enable(hwsim_board_t *b, int span, int timeslot, int on);
int hwsim_hdlc_send(hwsim_board_t *b, int span, int timeslot, const uint8_t *frame, int len);
int hwsim_hdlc_recv(hwsim_board_t *b, int span, int timeslot, uint8_t *buf, int cap); /* len, or ERR_AGAIN */
/* The idle fill between frames: 0 flags, 1 repeat the last signal unit (MTP2 FISU repetition). */
int hwsim_hdlc_idle_repeat(hwsim_board_t *b, int span, int timeslot, int on);
/* Receive filtering of repeated MTP2 signal units, as SS7 boards do it: with it on, a frame of at most 5 octets
   (a FISU or an LSSU; FCS excluded) that is identical to the frames just before it is delivered at most 3 times
   in a row, so Q.703's "2 of 3" checks still see an abnormal unit repeated; further repeats are counted in
   hwsim_span_status_t.hdlc_filtered instead of being queued (the application credits them to its error rate
   monitor). A different frame, a bad frame, an abort or a change of the span's alarms starts the count again.
   MSUs (6 octets or more) are never filtered. Off by default. */
#define HWSIM_HDLC_FILTER_MAX_LEN 5
#define HWSIM_HDLC_FILTER_DELIVER 3
int hwsim_hdlc_filter(hwsim_board_t *b, int span, int timeslot, int on);

/* Analogue, board side. FXS port: ring the phone, reverse polarity. FXO port: go off/on hook, flash;
   hwsim_port_polarity on an FXO port turns the exchange's polarity reversal on answer on (1, the default)
   or off (0). */
int hwsim_port_ring(hwsim_board_t *b, int port, int on);
int hwsim_port_polarity(hwsim_board_t *b, int port, int reversed);
int hwsim_port_hook(hwsim_board_t *b, int port, int offhook);
int hwsim_port_flash(hwsim_board_t *b, int port);
int hwsim_port_state(hwsim_board_t *b, int port);   /* bit0 off hook, bit1 ringing, bit2 reversed */

/* H.100-style switching: channel dst of board b transmits what channel src of board src_board receives
   (a half-duplex route; call twice for a full-duplex bridge). src_board -1 disconnects.
   Takes effect from the next tick; each switched hop adds one block (160 frames, 20 ms) of latency: in
   block k, dst sends what src received in block k-1. */
int hwsim_connect(hwsim_board_t *b, int dst_channel, int src_board, int src_channel);

/* Events: the fd becomes readable when events are pending (eventfd); read them until 0. */
int hwsim_event_fd(hwsim_board_t *b);
int hwsim_get_event(hwsim_board_t *b, hwsim_event_t *ev);   /* 1 got one, 0 none */

/* ---------------------------------------------------------------- cables between spans */
int hwsim_cable_connect(hwsim_world_t *w, int board_a, int span_a, int board_b, int span_b);
int hwsim_cable_cut(hwsim_world_t *w, int board, int span, int cut);   /* cut=1 cut, 0 restore */
/* Faults on what a span receives: bit error rate, controlled slips per minute, AIS (all ones) on/off. */
int hwsim_fault_ber(hwsim_world_t *w, int board, int span, double ber);
int hwsim_fault_slips(hwsim_world_t *w, int board, int span, double per_minute);
int hwsim_fault_ais(hwsim_world_t *w, int board, int span, int on);
/* Noise (dBm0, or < -100 for none) and attenuation (dB) added to what a channel receives. */
int hwsim_fault_channel(hwsim_world_t *w, int board, int channel, double noise_dbm0, double attenuation_db);
/* A board that stops answering: its calls return HWSIM_ERR_DEAD, it stops transmitting (far end sees LOS). */
int hwsim_fault_dead(hwsim_world_t *w, int board, int dead);

/* A span whose cable goes to another process over a Unix stream socket (the daemon and the rig as separate
   processes). listen=1 creates the socket at path and waits for the peer (accepted, one at a time, at the
   start of a tick; until then the span sees LOS); 0 connects (HWSIM_ERR_PEER if nobody listens there).
   Each tick sends this span's line bits and receives the peer's; hwsim_world_tick blocks until the peer's
   block arrives (the two worlds run in lock step; the side that runs in real time paces both). A lost peer
   or a block later than HWSIM_SOCKET_TIMEOUT_MS (environment, default 10000) is a cut cable: LOS and
   HWSIM_EV_CABLE 0. */
int hwsim_cable_socket(hwsim_world_t *w, int board, int span, const char *path, int listen);

/* ---------------------------------------------------------------- simulated far ends */
/* Telephone on an FXS port: hook, DTMF dialling as tones, flash; its microphone/speaker audio. */
int hwsim_phone_hook(hwsim_world_t *w, int board, int port, int offhook);
int hwsim_phone_dial(hwsim_world_t *w, int board, int port, const char *digits, int on_ms, int off_ms);
int hwsim_phone_flash(hwsim_world_t *w, int board, int port, int ms);
int hwsim_phone_ringing(hwsim_world_t *w, int board, int port);  /* 1 while the board rings it */
int hwsim_phone_play(hwsim_world_t *w, int board, int port, const int16_t *pcm, int n);  /* queue mic audio */
int hwsim_phone_listen(hwsim_world_t *w, int board, int port, int16_t *pcm, int cap);   /* drain speaker audio */

/* Exchange line on an FXO port: ring cadence 1 s on / 4 s off with FSK caller ID (Bell 202) between the first
   and second ring; polarity reversal when the board answers (if enabled); busy tone after the far end hangs up. */
int hwsim_line_ring(hwsim_world_t *w, int board, int port, const char *number, const char *name);
int hwsim_line_hangup(hwsim_world_t *w, int board, int port);  /* far end clears: busy tone */
int hwsim_line_state(hwsim_world_t *w, int board, int port);    /* bit0 board off hook, bit1 ringing, bit2 busy */
int hwsim_line_play(hwsim_world_t *w, int board, int port, const int16_t *pcm, int n);
int hwsim_line_listen(hwsim_world_t *w, int board, int port, int16_t *pcm, int cap);

/* ---------------------------------------------------------------- capture */
/* Write every HDLC frame of a link (both directions, as received by each end) to a pcap file.
   linktype 140 (MTP2, frames include the FCS) or 139 (MTP2 with pseudo-header). NULL path stops. */
int hwsim_capture(hwsim_world_t *w, int board, int span, int timeslot, const char *path, int linktype);
