/*
 * libss7_peer: an independent SS7 signalling point for ctid's interop tests, built on Debian libss7 2.0
 * (GPLv2, used only as a separate program of ours that links against it: nothing of libss7 is copied into ctid).
 *
 * usage: libss7_peer FD OPC DPC FIRST_CIC LAST_CIC [--pace-us N] [--debug]
 *
 *   FD       one end of an AF_UNIX SOCK_SEQPACKET socketpair (inherited): libss7's DAHDI D-channel transport,
 *            one signal unit + 2 (dummy) FCS octets per datagram
 *   OPC/DPC  ITU 14-bit point codes (decimal or 0x..), national network indicator
 *   CICs     the circuits this end has; a message for another CIC is answered with UCIC
 *
 * libss7 in D-channel mode writes a signal unit (an MSU if queued, else the fill-in FISU/LSSU) each time the
 * descriptor is writable; a socketpair is always writable, so writes are paced (--pace-us, default 5000 us,
 * 200 units/s), the way a 64 kbit/s HDLC channel paces a real D-channel.
 *
 * stdin, one command a line:
 *   call CIC CALLED [CALLING]   IAM (a '#' in CALLED is libss7's end-of-pulsing ST)
 *   acm CIC | answer CIC | con CIC | cpg CIC EVENT
 *   hangup CIC CAUSE            REL
 *   rlc CIC                     RLC (after a REL from the far end)
 *   sus CIC [IND] | res CIC [IND]
 *   blo CIC | ubl CIC | rsc CIC
 *   cgb FIRST LAST [TYPE] | cgu FIRST LAST [TYPE]     (TYPE 0 maintenance, 1 hardware)
 *   grs FIRST LAST
 *   quit
 * BLO/UBL/CGB/CGU/GRS/RSC received are acknowledged automatically (BLA/UBA/CGBA/CGUA/GRA/RLC); a REL is answered
 * only by the "rlc" command (so a test sees it); calls are never answered by themselves.
 *
 * stdout: one JSON object a line for every libss7 event ({"event": "IAM", "cic": 1, ...}), plus
 * {"event": "ready"}, {"event": "error", "what": ...} for a bad command, and {"event": "hangup_cb"/"call_null"/
 * "not_in_service", ...} for libss7's callbacks. stderr: libss7's messages (with --debug, all of MTP2/MTP3/ISUP).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libss7.h>

#define MAX_CIC 4096

static struct ss7 *ss7;
static struct isup_call *calls[MAX_CIC];
static unsigned int opc, dpc;
static int first_cic, last_cic, link_fd;

static void json_str(const char *key, const char *s)
{
    printf(", \"%s\": \"", key);
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void begin(const char *event, int cic)
{
    printf("{\"event\": \"%s\"", event);
    if (cic >= 0)
        printf(", \"cic\": %d", cic);
}

static void end(void)
{
    printf("}\n");
    fflush(stdout);
}

static void report_error(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    begin("error", -1);
    json_str("what", buf);
    end();
}

static void on_message(struct ss7 *s, char *m) { (void)s; fputs(m, stderr); }
static void on_error(struct ss7 *s, char *m) { (void)s; fprintf(stderr, "libss7 error: %s", m); }

static int equipped(int cic) { return cic >= first_cic && cic <= last_cic; }

/* libss7 asks the application to hang up a circuit (e.g. a reset on a busy circuit, a timer expiry). */
static int cb_hangup(struct ss7 *s, int cic, unsigned int pc, int cause, int do_hangup)
{
    (void)s;
    begin("hangup_cb", cic);
    printf(", \"dpc\": %u, \"cause\": %d, \"do_hangup\": %d", pc, cause, do_hangup);
    end();
    if (!equipped(cic))
        return SS7_CIC_NOT_EXISTS;
    return calls[cic] ? SS7_CIC_USED : SS7_CIC_IDLE;
}

/* libss7 frees a call object: forget it. */
static void cb_call_null(struct ss7 *s, struct isup_call *c, int lock)
{
    (void)s; (void)lock;
    for (int i = 0; i < MAX_CIC; i++)
        if (calls[i] == c) {
            calls[i] = NULL;
            begin("call_null", i);
            end();
        }
}

static void cb_notinservice(struct ss7 *s, int cic, unsigned int pc)
{
    (void)s;
    begin("not_in_service", cic);
    printf(", \"dpc\": %u", pc);
    end();
}

static struct isup_call *call_for(int cic)
{
    if (!calls[cic])
        calls[cic] = isup_new_call(ss7, cic, dpc, 0);
    return calls[cic];
}

static void free_if_clear(int cic)
{
    if (cic >= 0 && cic < MAX_CIC && calls[cic])
        calls[cic] = isup_free_call_if_clear(ss7, calls[cic]);
}

static void status_array(const char *key, const unsigned char *st, int n)
{
    printf(", \"%s\": [", key);
    for (int i = 0; i < n; i++)
        printf("%s%d", i ? ", " : "", st[i]);
    printf("]");
}

/* an event on a CIC we do not have: UCIC (Q.764 2.12), unless it is a UCIC itself */
static int unequipped(const char *name, int cic, struct isup_call *c, int answer)
{
    if (equipped(cic))
        return 0;
    begin(name, cic);
    printf(", \"unequipped\": true");
    end();
    if (c)
        isup_free_call(ss7, c);
    if (answer)
        isup_ucic(ss7, cic, dpc);
    return 1;
}

static void handle_event(ss7_event *e)
{
    switch (e->e) {
    case SS7_EVENT_UP: begin("up", -1); end(); break;
    case SS7_EVENT_DOWN: begin("down", -1); end(); break;
    case MTP2_LINK_UP: begin("link_up", -1); printf(", \"slc\": %d", e->gen.data); end(); break;
    case MTP2_LINK_DOWN: begin("link_down", -1); printf(", \"slc\": %d", e->gen.data); end(); break;
    case ISUP_EVENT_IAM:
        if (unequipped("IAM", e->iam.cic, e->iam.call, 1))
            break;
        calls[e->iam.cic] = e->iam.call;
        begin("IAM", e->iam.cic);
        json_str("called", e->iam.called_party_num);
        json_str("calling", e->iam.calling_party_num);
        printf(", \"called_nai\": %d, \"calling_nai\": %d, \"category\": %d, \"presentation\": %d, "
               "\"screening\": %d, \"opc\": %u",
               e->iam.called_nai, e->iam.calling_nai, e->iam.calling_party_cat, e->iam.presentation_ind,
               e->iam.screening_ind, e->iam.opc);
        end();
        break;
    case ISUP_EVENT_SAM:
        if (unequipped("SAM", e->sam.cic, e->sam.call, 1))
            break;
        calls[e->sam.cic] = e->sam.call;
        begin("SAM", e->sam.cic);
        json_str("called", e->sam.called_party_num);
        end();
        break;
    case ISUP_EVENT_ACM:
        if (unequipped("ACM", e->acm.cic, e->acm.call, 1))
            break;
        calls[e->acm.cic] = e->acm.call;
        begin("ACM", e->acm.cic);
        printf(", \"called_status\": %d", e->acm.called_party_status_ind);
        end();
        break;
    case ISUP_EVENT_CPG:
        if (unequipped("CPG", e->cpg.cic, e->cpg.call, 1))
            break;
        calls[e->cpg.cic] = e->cpg.call;
        begin("CPG", e->cpg.cic);
        printf(", \"cpg_event\": %d", e->cpg.event);
        end();
        break;
    case ISUP_EVENT_ANM:
        if (unequipped("ANM", e->anm.cic, e->anm.call, 1))
            break;
        calls[e->anm.cic] = e->anm.call;
        begin("ANM", e->anm.cic);
        end();
        break;
    case ISUP_EVENT_CON:
        if (unequipped("CON", e->con.cic, e->con.call, 1))
            break;
        calls[e->con.cic] = e->con.call;
        begin("CON", e->con.cic);
        end();
        break;
    case ISUP_EVENT_SUS:
    case ISUP_EVENT_RES: {
        ss7_event_sus_res *r = e->e == ISUP_EVENT_SUS ? &e->sus : &e->res;
        if (unequipped(e->e == ISUP_EVENT_SUS ? "SUS" : "RES", r->cic, r->call, 1))
            break;
        calls[r->cic] = r->call;
        begin(e->e == ISUP_EVENT_SUS ? "SUS" : "RES", r->cic);
        printf(", \"indicator\": %d", r->network_isdn_indicator);
        end();
        break;
    }
    case ISUP_EVENT_REL:
        if (unequipped("REL", e->rel.cic, e->rel.call, 1))
            break;
        calls[e->rel.cic] = e->rel.call;
        begin("REL", e->rel.cic);
        printf(", \"cause\": %d", e->rel.cause);
        end();
        break;
    case ISUP_EVENT_RLC:
        if (unequipped("RLC", e->rlc.cic, e->rlc.call, 0))
            break;
        calls[e->rlc.cic] = e->rlc.call;
        begin("RLC", e->rlc.cic);
        printf(", \"got_sent\": %lu", e->rlc.got_sent_msg);
        end();
        free_if_clear(e->rlc.cic);
        break;
    case ISUP_EVENT_RSC:
        if (unequipped("RSC", e->rsc.cic, e->rsc.call, 1))
            break;
        calls[e->rsc.cic] = e->rsc.call;
        begin("RSC", e->rsc.cic);
        end();
        isup_rlc(ss7, e->rsc.call);
        free_if_clear(e->rsc.cic);
        break;
    case ISUP_EVENT_BLO:
    case ISUP_EVENT_UBL:
    case ISUP_EVENT_BLA:
    case ISUP_EVENT_UBA:
    case ISUP_EVENT_UCIC: {
        const char *name = e->e == ISUP_EVENT_BLO ? "BLO" : e->e == ISUP_EVENT_UBL ? "UBL" :
                           e->e == ISUP_EVENT_BLA ? "BLA" : e->e == ISUP_EVENT_UBA ? "UBA" : "UCIC";
        ss7_event_cic *c = &e->blo;   /* same layout for all five */
        if (unequipped(name, c->cic, c->call, e->e == ISUP_EVENT_BLO || e->e == ISUP_EVENT_UBL))
            break;
        calls[c->cic] = c->call;
        begin(name, c->cic);
        end();
        if (e->e == ISUP_EVENT_BLO)
            isup_bla(ss7, c->call);
        else if (e->e == ISUP_EVENT_UBL)
            isup_uba(ss7, c->call);
        if (e->e == ISUP_EVENT_UCIC) {
            isup_free_call(ss7, c->call);
            calls[c->cic] = NULL;
        } else {
            free_if_clear(c->cic);
        }
        break;
    }
    case ISUP_EVENT_GRS:
    case ISUP_EVENT_GRA:
    case ISUP_EVENT_CGB:
    case ISUP_EVENT_CGU:
    case ISUP_EVENT_CGBA:
    case ISUP_EVENT_CGUA: {
        const char *name = e->e == ISUP_EVENT_GRS ? "GRS" : e->e == ISUP_EVENT_GRA ? "GRA" :
                           e->e == ISUP_EVENT_CGB ? "CGB" : e->e == ISUP_EVENT_CGU ? "CGU" :
                           e->e == ISUP_EVENT_CGBA ? "CGBA" : "CGUA";
        ss7_event_cicrange *g = &e->grs;    /* same layout for all six */
        int n = g->endcic - g->startcic + 1;
        if (n < 1 || n > 255)
            n = 0;
        if (unequipped(name, g->startcic, g->call, 0))
            break;
        calls[g->startcic] = g->call;
        begin(name, g->startcic);
        printf(", \"first\": %d, \"last\": %d, \"type\": %d", g->startcic, g->endcic, g->type);
        if (e->e != ISUP_EVENT_GRS)
            status_array("status", g->status, n);
        end();
        if (e->e == ISUP_EVENT_GRS) {
            unsigned char mb[255] = {0};      /* nothing of ours is blocked for maintenance */
            for (int cic = g->startcic + 1; cic <= g->endcic && cic < MAX_CIC; cic++)
                if (calls[cic]) {             /* the reset clears every other call in the range */
                    isup_free_call(ss7, calls[cic]);
                    calls[cic] = NULL;
                }
            isup_gra(ss7, g->call, g->endcic, mb);
        } else if (e->e == ISUP_EVENT_CGB) {
            isup_cgba(ss7, g->call, g->endcic, g->status);
        } else if (e->e == ISUP_EVENT_CGU) {
            isup_cgua(ss7, g->call, g->endcic, g->status);
        }
        free_if_clear(g->startcic);
        break;
    }
    default: {
        const char *n = ss7_event2str(e->e);
        begin("other", -1);
        json_str("name", n ? n : "?");
        printf(", \"code\": %d", e->e);
        end();
        break;
    }
    }
}

static int parse_cic(const char *tok, int *cic)
{
    char *endp;
    long v;
    if (!tok)
        return -1;
    v = strtol(tok, &endp, 0);
    if (*endp || v < 0 || v >= MAX_CIC)
        return -1;
    *cic = (int)v;
    return 0;
}

static int command(char *line)
{
    char *argv[8] = {0};
    int argc = 0, cic = 0, cic2 = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok && argc < 8; tok = strtok(NULL, " \t\r\n"))
        argv[argc++] = tok;
    if (!argc)
        return 0;
    const char *cmd = argv[0];
    if (!strcmp(cmd, "quit"))
        return 1;
    if (parse_cic(argv[1], &cic)) {
        report_error("%s: a CIC (0..4095) is needed", cmd);
        return 0;
    }
    if (!strcmp(cmd, "call")) {
        if (argc < 3) {
            report_error("call CIC CALLED [CALLING]");
            return 0;
        }
        if (calls[cic]) {
            report_error("call: CIC %d is busy", cic);
            return 0;
        }
        struct isup_call *c = isup_new_call(ss7, cic, dpc, 1);
        if (!c) {
            report_error("call: isup_new_call failed");
            return 0;
        }
        calls[cic] = c;
        isup_set_called(c, argv[2], SS7_NAI_NATIONAL, ss7);
        if (argc > 3)
            isup_set_calling(c, argv[3], SS7_NAI_NATIONAL, SS7_PRESENTATION_ALLOWED,
                             SS7_SCREENING_USER_PROVIDED);
        isup_set_calling_party_category(c, 10);
        isup_iam(ss7, c);
    } else if (!strcmp(cmd, "acm")) {
        isup_acm(ss7, call_for(cic));
    } else if (!strcmp(cmd, "answer")) {
        isup_anm(ss7, call_for(cic));
    } else if (!strcmp(cmd, "con")) {
        isup_con(ss7, call_for(cic));
    } else if (!strcmp(cmd, "cpg")) {
        isup_cpg(ss7, call_for(cic), argc > 2 ? atoi(argv[2]) : CPG_EVENT_ALERTING);
    } else if (!strcmp(cmd, "hangup")) {
        isup_rel(ss7, call_for(cic), argc > 2 ? atoi(argv[2]) : 16);
    } else if (!strcmp(cmd, "rlc")) {
        isup_rlc(ss7, call_for(cic));
        free_if_clear(cic);
    } else if (!strcmp(cmd, "sus")) {
        isup_sus(ss7, call_for(cic), argc > 2 ? atoi(argv[2]) : 1);
    } else if (!strcmp(cmd, "res")) {
        isup_res(ss7, call_for(cic), argc > 2 ? atoi(argv[2]) : 1);
    } else if (!strcmp(cmd, "blo")) {
        isup_blo(ss7, call_for(cic));
    } else if (!strcmp(cmd, "ubl")) {
        isup_ubl(ss7, call_for(cic));
    } else if (!strcmp(cmd, "rsc")) {
        isup_rsc(ss7, call_for(cic));
    } else if (!strcmp(cmd, "cgb") || !strcmp(cmd, "cgu") || !strcmp(cmd, "grs")) {
        unsigned char st[255] = {0};
        if (parse_cic(argv[2], &cic2) || cic2 < cic || cic2 - cic > 31) {
            report_error("%s FIRST LAST: 1 to 32 circuits", cmd);
            return 0;
        }
        for (int i = 0; i <= cic2 - cic; i++)
            st[i] = 1;
        int type = argc > 3 ? atoi(argv[3]) : 0;
        if (cmd[0] == 'g')
            isup_grs(ss7, call_for(cic), cic2);
        else if (cmd[2] == 'b')
            isup_cgb(ss7, call_for(cic), cic2, st, type);
        else
            isup_cgu(ss7, call_for(cic), cic2, st, type);
    } else {
        report_error("unknown command %s", cmd);
    }
    return 0;
}

static long long now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static unsigned int parse_pc(const char *s)
{
    return (unsigned int)strtoul(s, NULL, 0);
}

int main(int argc, char **argv)
{
    long pace_us = 5000;
    int debug = 0;
    if (argc < 6) {
        fprintf(stderr, "usage: %s FD OPC DPC FIRST_CIC LAST_CIC [--pace-us N] [--debug]\n", argv[0]);
        return 2;
    }
    link_fd = atoi(argv[1]);
    opc = parse_pc(argv[2]);
    dpc = parse_pc(argv[3]);
    first_cic = atoi(argv[4]);
    last_cic = atoi(argv[5]);
    for (int i = 6; i < argc; i++) {
        if (!strcmp(argv[i], "--pace-us") && i + 1 < argc)
            pace_us = atol(argv[++i]);
        else if (!strcmp(argv[i], "--debug"))
            debug = 1;
    }
    if (first_cic < 0 || last_cic >= MAX_CIC || first_cic > last_cic) {
        fprintf(stderr, "bad CIC range\n");
        return 2;
    }
    ss7_set_message(on_message);
    ss7_set_error(on_error);
    ss7_set_hangup(cb_hangup);
    ss7_set_call_null(cb_call_null);
    ss7_set_notinservice(cb_notinservice);

    ss7 = ss7_new(SS7_ITU);
    if (!ss7) {
        fprintf(stderr, "ss7_new failed\n");
        return 1;
    }
    if (debug)
        ss7_set_debug(ss7, SS7_DEBUG_MTP2 | SS7_DEBUG_MTP3 | SS7_DEBUG_ISUP);
    ss7_set_network_ind(ss7, SS7_NI_NAT);
    ss7_set_pc(ss7, opc);
    if (ss7_add_link(ss7, SS7_TRANSPORT_DAHDIDCHAN, link_fd, -1, dpc) < 0) {
        fprintf(stderr, "ss7_add_link failed\n");
        return 1;
    }
    if (ss7_start(ss7)) {
        fprintf(stderr, "ss7_start failed\n");
        return 1;
    }
    begin("ready", -1);
    printf(", \"version\": \"%s\", \"opc\": %u, \"dpc\": %u", ss7_get_version(), opc, dpc);
    end();

    char line[512];
    size_t have = 0;
    long long next_write = 0;
    for (;;) {
        struct pollfd p[2];
        long long now = now_us();
        int want_write = now >= next_write;
        int timeout_ms = want_write ? 1000 : (int)((next_write - now + 999) / 1000);
        struct timeval *next = ss7_schedule_next(ss7);
        if (next) {
            long long t = (long long)next->tv_sec * 1000000 + next->tv_usec - now;
            int ms = t <= 0 ? 0 : (int)((t + 999) / 1000);
            if (ms < timeout_ms)
                timeout_ms = ms;
        }
        p[0].fd = link_fd;
        p[0].events = POLLIN | POLLPRI | (want_write ? POLLOUT : 0);
        p[1].fd = 0;
        p[1].events = POLLIN;
        int n = poll(p, 2, timeout_ms);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("poll");
            return 1;
        }
        ss7_schedule_run(ss7);
        if (p[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            begin("closed", -1);
            end();
            return 0;
        }
        if (p[0].revents & POLLIN)
            ss7_read(ss7, link_fd);
        if (p[0].revents & POLLOUT) {
            if (ss7_write(ss7, link_fd) < 0 && errno != EAGAIN) {
                begin("closed", -1);
                end();
                return 0;
            }
            next_write = now_us() + pace_us;
        }
        if (p[1].revents & (POLLIN | POLLHUP)) {
            ssize_t r = read(0, line + have, sizeof line - 1 - have);
            if (r <= 0)
                return 0;       /* stdin closed: done */
            have += (size_t)r;
            line[have] = 0;
            char *nl;
            while ((nl = strchr(line, '\n'))) {
                *nl = 0;
                int quit = command(line);
                size_t rest = have - (size_t)(nl + 1 - line);
                memmove(line, nl + 1, rest);
                have = rest;
                line[have] = 0;
                if (quit)
                    return 0;
            }
            if (have == sizeof line - 1)
                have = 0;       /* an overlong line: dropped */
        }
        ss7_event *e;
        while ((e = ss7_check_event(ss7)))
            handle_event(e);
    }
}
