/* G.711 A-law and mu-law, bit-exact with ITU-T G.711 (as in the G.191 reference tools).
 * Linear values are 16-bit: A-law uses the top 13 bits, mu-law the top 14. */
#include "internal.h"

static float alaw_float[256];
static float ulaw_float[256];
static int16_t alaw_lin[256];
static int16_t ulaw_lin[256];
static uint8_t lin_alaw[8192];   /* indexed by linear >> 3 (13-bit, offset 4096) */
static uint8_t lin_ulaw[16384];  /* indexed by linear >> 2 (14-bit, offset 8192) */
static uint8_t u2a_num[128];     /* G.711 table 3: mu-law value number 0..127 -> A-law value number 1..128 */
static uint8_t a2u_num[129];     /* G.711 table 4: A-law value number 1..128 -> mu-law value number 0..127 */
static int tables_ready = 0;

/* Value numbers as G.711 counts them: mu-law 0..127 (the code with all bits inverted, less the sign), A-law
   1..128 (the code with the even bits inverted, less the sign, plus one). Tables 3 and 4 are not "decode and
   re-encode": they are built so that a double conversion is transparent in bits 1-7, and G.711's notes to them
   name the only values a double conversion changes (mu-A-mu: mu 0, 2, ..., 14, each increased by one; A-mu-A:
   A 26, 28, 30, 32, 45, 47, 63 and 80, only bit 8 changed). The piecewise forms below are the tables' ranges;
   tests/test_g711.py checks those notes, monotonicity and the sign handling. */
static int g711_u2a(int n)
{
    if (n < 16)
        return n / 2 + 1;          /* two mu-law steps per A-law step at the bottom */
    if (n < 32)
        return n - 7;
    if (n < 37)
        return 2 * n - 39;         /* 25, 27, 29, 31, 33 */
    if (n < 48)
        return n - 3;
    if (n < 50)
        return 2 * n - 50;         /* 46, 48 */
    if (n < 64)
        return n - 1;
    if (n < 80)
        return n;
    return n + 1;
}

static int g711_a2u(int m)
{
    if (m <= 8)
        return 2 * m - 1;
    if (m <= 24)
        return m + 7;
    if (m <= 32)
        return (m - 25) / 2 + 32;  /* 32, 32, 33, 33, 34, 34, 35, 35 */
    if (m <= 44)
        return m + 3;
    if (m <= 48)
        return (m - 45) / 2 + 48;  /* 48, 48, 49, 49 */
    if (m <= 62)
        return m + 1;
    if (m <= 64)
        return 64;
    if (m <= 79)
        return m;
    return m - 1;                  /* 80 -> 79, 81 -> 80, ... 128 -> 127 */
}

static uint8_t alaw_compress(int16_t lin)
{
    int ix = lin < 0 ? (~lin) >> 4 : lin >> 4;   /* 12-bit magnitude, one's complement for negatives */
    if (ix > 15) {
        int iexp = 1;
        while (ix > 16 + 15) {
            ix >>= 1;
            iexp++;
        }
        ix -= 16;
        ix += iexp << 4;
    }
    if (lin >= 0)
        ix |= 0x80;
    return (uint8_t) (ix ^ 0x55);  /* even-bit inversion */
}

static int16_t alaw_expand(uint8_t code)
{
    int ix = code ^ 0x55;
    int iexp = (ix & 0x70) >> 4;
    int mant = ix & 0x0F;
    if (iexp > 0)
        mant += 16;
    mant = (mant << 4) + 0x08;
    if (iexp > 1)
        mant <<= (iexp - 1);
    return (int16_t) (ix > 127 ? mant : -mant);
}

static uint8_t ulaw_compress(int16_t lin)
{
    int absno = lin < 0 ? ((~lin) >> 2) + 33 : (lin >> 2) + 33;
    int segno = 1, i, high, low, out;
    if (absno > 0x1FFF)
        absno = 0x1FFF;
    i = absno >> 6;
    while (i != 0) {
        segno++;
        i >>= 1;
    }
    high = 8 - segno;
    low = 0x0F - ((absno >> segno) & 0x0F);
    out = (high << 4) | low;
    if (lin >= 0)
        out |= 0x80;
    return (uint8_t) out;
}

static int16_t ulaw_expand(uint8_t code)
{
    int sign = code < 0x80 ? -1 : 1;
    int mant = ~code;
    int exponent = (mant >> 4) & 7;
    int step = 4 << (exponent + 1);
    mant &= 0x0F;
    return (int16_t) (sign * ((0x80 << exponent) + step * mant + step / 2 - 4 * 33));
}

static void build_tables(void)
{
    int i;
    if (tables_ready)
        return;
    for (i = 0; i < 256; i++) {
        alaw_lin[i] = alaw_expand((uint8_t) i);
        ulaw_lin[i] = ulaw_expand((uint8_t) i);
        alaw_float[i] = (float) alaw_lin[i];
        ulaw_float[i] = (float) ulaw_lin[i];
    }
    for (i = 0; i < 8192; i++)
        lin_alaw[i] = alaw_compress((int16_t) ((i - 4096) * 8));
    for (i = 0; i < 16384; i++)
        lin_ulaw[i] = ulaw_compress((int16_t) ((i - 8192) * 4));
    for (i = 0; i < 128; i++)
        u2a_num[i] = (uint8_t) g711_u2a(i);
    for (i = 1; i <= 128; i++)
        a2u_num[i] = (uint8_t) g711_a2u(i);
    tables_ready = 1;
}

__attribute__((constructor)) static void g711_init(void)
{
    build_tables();
}

uint8_t ctid_linear_to_alaw(int16_t linear)
{
    return lin_alaw[(linear >> 3) + 4096];
}

int16_t ctid_alaw_to_linear(uint8_t alaw)
{
    return alaw_lin[alaw];
}

uint8_t ctid_linear_to_ulaw(int16_t linear)
{
    return lin_ulaw[(linear >> 2) + 8192];
}

int16_t ctid_ulaw_to_linear(uint8_t ulaw)
{
    return ulaw_lin[ulaw];
}

uint8_t ctid_alaw_to_ulaw(uint8_t alaw)
{
    int a = alaw ^ 0xD5;                       /* bit 7 set: negative */
    int n = a2u_num[(a & 0x7F) + 1];
    return (uint8_t) (((a & 0x80) | n) ^ 0xFF);
}

uint8_t ctid_ulaw_to_alaw(uint8_t ulaw)
{
    int u = ulaw ^ 0xFF;                       /* bit 7 set: negative (mu-law 0x7F is negative zero) */
    int m = u2a_num[u & 0x7F];
    return (uint8_t) (((u & 0x80) | (m - 1)) ^ 0xD5);
}

void ctid_alaw_encode(const int16_t *in, uint8_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = lin_alaw[(in[i] >> 3) + 4096];
}

void ctid_alaw_decode(const uint8_t *in, int16_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = alaw_lin[in[i]];
}

void ctid_ulaw_encode(const int16_t *in, uint8_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = lin_ulaw[(in[i] >> 2) + 8192];
}

void ctid_ulaw_decode(const uint8_t *in, int16_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        out[i] = ulaw_lin[in[i]];
}

const float *ctid_alaw_float_table(void)
{
    return alaw_float;
}

const float *ctid_ulaw_float_table(void)
{
    return ulaw_float;
}
