/*
 * pcap capture of the HDLC frames of a link (classic libpcap format, microsecond timestamps from world
 * time, no wall clock).
 *
 *  - LINKTYPE_MTP2 (140): each record is the frame as on the link, FCS included (2 bytes, low byte first),
 *    so Wireshark checks it with -o mtp2.capture_contains_frame_check_sequence:TRUE.
 *  - LINKTYPE_MTP2_WITH_PHDR (139): a 4-byte pseudo-header first: sent (1: received by the far end, i.e.
 *    sent by the captured span; 0: received by it), annex A used (0: no), link number (16 bits, network
 *    order: the captured span's index), then the frame without its FCS (Wireshark's MTP2 dissector takes no
 *    FCS after this pseudo-header: the FCS option applies to link type 140 only).
 *
 * A capture records every good frame received on that timeslot by the captured span and, when its cable is
 * an in-process one, every good frame received by the far-end span on the same timeslot (the other
 * direction). Only frames that passed the receiver's FCS check are recorded: that is what a monitoring
 * receiver would hand on. The records of a block are written in time order and flushed at the end of the
 * block, so the file can be opened while the world runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hwsim_internal.h"

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

typedef struct {
    uint64_t t;
    int n;
    uint8_t data[16 + 4 + LINE_HDLC_MAX + 2];
} rec_t;

static int rec_cmp(const void *a, const void *b)
{
    const rec_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x < y ? -1 : x > y;   /* stable: keep arrival order */
}

/* Records of one block are collected (the two ends of a link are processed one after the other) and
   written in time order at the end of the block. */
static void capture_flush(hwsim_capture_t *c)
{
    rec_t *r = c->pend;
    if (c->npend == 0)
        return;
    qsort(r, (size_t) c->npend, sizeof(rec_t), rec_cmp);
    for (int i = 0; i < c->npend; i++)
        if (fwrite(r[i].data, 1, (size_t) r[i].n, c->f) == (size_t) r[i].n)
            c->frames++;
    c->npend = 0;
    fflush(c->f);
}

void hwsim_capture_flush(hwsim_world_t *w)
{
    for (hwsim_capture_t *c = w->captures; c; c = c->next)
        capture_flush(c);
}

static void capture_close(hwsim_capture_t *c)
{
    if (c->f) {
        capture_flush(c);
        fclose(c->f);
    }
    free(c->pend);
    free(c);
}

void hwsim_capture_close_all(hwsim_world_t *w)
{
    hwsim_capture_t *c = w->captures;
    while (c) {
        hwsim_capture_t *n = c->next;
        capture_close(c);
        c = n;
    }
    w->captures = NULL;
}

static void write_record(hwsim_capture_t *c, uint64_t t, int sent, const uint8_t *frame, int len)
{
    if (c->npend == c->cappend) {
        int cap = c->cappend ? c->cappend * 2 : 16;
        void *p = realloc(c->pend, sizeof(rec_t) * (size_t) cap);
        if (p == NULL)
            return;   /* out of memory: the record is lost, the capture goes on */
        c->pend = p;
        c->cappend = cap;
    }
    rec_t *R = (rec_t *) c->pend + c->npend++;
    R->t = t;
    uint8_t *rec = R->data;
    int n = 16;
    if (c->linktype == 139) {
        rec[n++] = (uint8_t) sent;
        rec[n++] = 0;
        rec[n++] = (uint8_t) (c->span->index >> 8);
        rec[n++] = (uint8_t) c->span->index;
    }
    memcpy(rec + n, frame, (size_t) len);
    n += len;
    if (c->linktype == 140) {
        uint16_t fcs = line_fcs16(frame, (size_t) len);
        rec[n++] = (uint8_t) fcs;           /* FCS-16 as on the link, low byte first */
        rec[n++] = (uint8_t) (fcs >> 8);
    }
    put_le32(rec, (uint32_t) (t / 8000));
    put_le32(rec + 4, (uint32_t) (t % 8000 * 125));
    put_le32(rec + 8, (uint32_t) (n - 16));
    put_le32(rec + 12, (uint32_t) (n - 16));
    R->n = n;
}

void hwsim_capture_frame(hwsim_span_t *sp, int ts, const uint8_t *frame, int len, uint64_t t)
{
    hwsim_world_t *w = sp->board->world;
    for (hwsim_capture_t *c = w->captures; c; c = c->next) {
        if (c->ts != ts)
            continue;
        if (c->span == sp)
            write_record(c, t, 0, frame, len);
        else if (sp->cable == HWSIM_CABLE_LOCAL && sp->peer == c->span)
            write_record(c, t, 1, frame, len);
    }
}

int hwsim_capture(hwsim_world_t *w, int board, int span, int timeslot, const char *path, int linktype)
{
    hwsim_span_t *sp;
    int r = hwsim_world_span(w, board, span, &sp);
    if (r < 0)
        return r;
    if (timeslot < 1 || timeslot > 31)
        return hwsim_err(HWSIM_ERR_CHANNEL, "hwsim_capture: board %d span %d timeslot %d: HDLC runs on timeslots 1..31",
                         board, span, timeslot);
    /* Any capture already on this link is closed (NULL path: just that). */
    hwsim_capture_t **pp = &w->captures;
    while (*pp) {
        if ((*pp)->span == sp && (*pp)->ts == timeslot) {
            hwsim_capture_t *c = *pp;
            *pp = c->next;
            capture_close(c);
        } else {
            pp = &(*pp)->next;
        }
    }
    if (path == NULL)
        return HWSIM_OK;
    if (linktype != 139 && linktype != 140)
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_capture: link type %d (139 MTP2 with pseudo-header or 140 MTP2)",
                         linktype);
    if (strlen(path) >= sizeof(((hwsim_capture_t *) 0)->path))
        return hwsim_err(HWSIM_ERR_ARG, "hwsim_capture: path longer than %zu bytes",
                         sizeof(((hwsim_capture_t *) 0)->path) - 1);
    hwsim_capture_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return hwsim_err(HWSIM_ERR_NOMEM, "hwsim_capture: out of memory");
    c->f = fopen(path, "wb");
    if (c->f == NULL) {
        int e = errno;
        free(c);
        return hwsim_err(HWSIM_ERR_IO, "hwsim_capture: %s: %s", path, strerror(e));
    }
    c->span = sp;
    c->ts = timeslot;
    c->linktype = linktype;
    snprintf(c->path, sizeof(c->path), "%s", path);
    uint8_t gh[24];
    put_le32(gh, 0xA1B2C3D4u);   /* microsecond timestamps, written in our (little-endian) order */
    gh[4] = 2;                    /* version 2.4 */
    gh[5] = 0;
    gh[6] = 4;
    gh[7] = 0;
    put_le32(gh + 8, 0);          /* thiszone */
    put_le32(gh + 12, 0);         /* sigfigs */
    put_le32(gh + 16, 65535);     /* snaplen */
    put_le32(gh + 20, (uint32_t) linktype);
    if (fwrite(gh, 1, sizeof(gh), c->f) != sizeof(gh) || fflush(c->f) != 0) {
        int e = errno;
        capture_close(c);
        return hwsim_err(HWSIM_ERR_IO, "hwsim_capture: writing %s: %s", path, strerror(e));
    }
    c->next = w->captures;
    w->captures = c;
    return HWSIM_OK;
}
