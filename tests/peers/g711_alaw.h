/*
 * G.711 A-law for ctid's test peers (our own code, from ITU-T G.711 Tables 1a/1b): shared by openr2_mf.c and
 * fakedahdi.c. tests/signaling/test_china1_openr2_mf.py checks it against ctid's (spandsp-exact) codec.
 */
#ifndef CTID_PEER_G711_ALAW_H
#define CTID_PEER_G711_ALAW_H
#include <stdint.h>

/* G.711 A-law (ITU-T G.711 Tables 1a/1b): segment + 4-bit mantissa, sign bit set for positive values, even bits
 * inverted (xor 0x55). */
static inline uint8_t alaw_encode(int16_t x)
{
    int mag, seg, sign, code;
    if (x >= 0) {
        sign = 0x80;
        mag = x;
    } else {
        sign = 0;
        mag = -(int) x - 1;
    }
    mag >>= 3;                              /* 13-bit magnitude */
    if (mag < 32) {
        code = mag >> 1;                    /* segment 0: step 2 */
    } else {
        seg = 1;
        while (seg < 7 && mag >= (32 << seg))
            seg++;
        code = (seg << 4) | ((mag >> seg) & 0x0F);
    }
    return (uint8_t) ((sign | code) ^ 0x55);
}

static inline int16_t alaw_decode(uint8_t a)
{
    int seg, mant, mag;
    a ^= 0x55;
    seg = (a >> 4) & 0x07;
    mant = a & 0x0F;
    if (seg == 0)
        mag = (mant << 4) + 8;
    else
        mag = ((mant << 4) + 0x108) << (seg - 1);
    return (int16_t) ((a & 0x80) ? mag : -mag);
}

#endif
