/* The China call-progress tones as spandsp's super_tone_rx is given them, shared by the interop peer
   (tests/peers/spandsp_peer.c) and the benchmark (bench/peers/spandsp_bench.c) so both measure spandsp
   against the same table. Tone ids follow ctid.dsp.tones.china_tones(). Include after <spandsp.h>. */
#ifndef CTID_SPANDSP_CHINA_TONES_H
#define CTID_SPANDSP_CHINA_TONES_H

/* Element durations as spandsp's own tone-set tooling derives them: nominal -10 % - 30 ms .. +10 % + 30 ms;
   continuous tones: a minimum only (max 0). Frequencies 0 = silence. Order = ctid china_tones(). */
static void add_cadence(super_tone_rx_descriptor_t *d, const int *ms, int n)
{
    int id = super_tone_rx_add_tone(d), i;
    for (i = 0; i < n; i++) {
        int lo = ms[i] * 9 / 10 - 30, hi = ms[i] * 11 / 10 + 30;
        if (lo < 20)
            lo = 20;
        super_tone_rx_add_element(d, id, (i % 2) ? 0 : 450, 0, lo, hi);
    }
}

static super_tone_rx_descriptor_t *china_descriptor(void)
{
    static const int busy[] = { 350, 350 }, cong[] = { 700, 700 }, ring[] = { 1000, 4000 },
        cw[] = { 400, 4000 }, vacant[] = { 100, 100, 100, 100, 100, 100, 400, 400 }, sdial[] = { 400, 40 };
    super_tone_rx_descriptor_t *d = super_tone_rx_make_descriptor(NULL);
    int id;
    if (d == NULL)
        return NULL;
    id = super_tone_rx_add_tone(d);                 /* 0 dial: continuous */
    super_tone_rx_add_element(d, id, 450, 0, 1500, 0);
    add_cadence(d, busy, 2);                        /* 1 busy */
    add_cadence(d, cong, 2);                        /* 2 congestion */
    add_cadence(d, ring, 2);                        /* 3 ringback */
    add_cadence(d, cw, 2);                          /* 4 call waiting */
    add_cadence(d, vacant, 8);                      /* 5 vacant number */
    add_cadence(d, sdial, 2);                       /* 6 special dial */
    return d;
}

#endif
