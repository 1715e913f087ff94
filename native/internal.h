/* Internal helpers shared by the native DSP files (not part of the cffi API). */
#ifndef CTID_INTERNAL_H
#define CTID_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "ctid_dsp.h"

#define CTID_RATE 8000
#define CTID_PI 3.14159265358979323846
#define CTID_DBM0_PEAK (CTID_DBM0_PEAK_X1000 / 1000.0)

/* Multiversioned hot loops: AVX2+FMA where the CPU has them, baseline SSE2 otherwise. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(CTID_NO_CLONES)
#define CTID_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CTID_HOT
#endif

#define CTID_ROUND_UP_TILE(n) ((((n) + CTID_TILE - 1) / CTID_TILE) * CTID_TILE)

/* Power of a sine of the given dBm0 level, in (int16 units)^2 mean square: peak^2 / 2. */
static inline double ctid_dbm0_to_power(double dbm0)
{
    double peak = CTID_DBM0_PEAK * pow(10.0, dbm0 / 20.0);
    return peak * peak / 2.0;
}

static inline double ctid_power_to_dbm0(double power)
{
    if (power <= 1e-20)
        return -200.0;
    return 10.0 * log10(power / (CTID_DBM0_PEAK * CTID_DBM0_PEAK / 2.0));
}

/* Sine peak amplitude for a dBm0 level. */
static inline double ctid_dbm0_to_peak(double dbm0)
{
    return CTID_DBM0_PEAK * pow(10.0, dbm0 / 20.0);
}

/* Goertzel coefficient 2 cos(2 pi f / fs). */
static inline float ctid_goertzel_coef(double freq)
{
    return (float) (2.0 * cos(2.0 * CTID_PI * freq / CTID_RATE));
}

/* Squared magnitude of a Goertzel result after N samples, scaled so that a sine of mean-square power P
   filling the whole block at the bin frequency gives P: |X|^2 * 2 / N^2. */
static inline float ctid_goertzel_power(float s1, float s2, float coef, int n)
{
    float m = s1 * s1 + s2 * s2 - coef * s1 * s2;
    return m * 2.0f / ((float) n * (float) n);
}

/* Push an event; bounded growth. Returns 0, or -1 if dropped. */
static inline int ctid_evbuf_push(ctid_evbuf_t *b, const ctid_event_t *e)
{
    if (b->n >= b->cap) {
        int ncap = b->cap ? b->cap * 2 : 256;
        ctid_event_t *nev;
        if (b->limit > 0 && ncap > b->limit)
            ncap = b->limit;
        if (ncap <= b->n) {
            b->dropped++;
            return -1;
        }
        nev = (ctid_event_t *) realloc(b->ev, (size_t) ncap * sizeof(ctid_event_t));
        if (nev == NULL) {
            b->dropped++;
            return -1;
        }
        b->ev = nev;
        b->cap = ncap;
    }
    b->ev[b->n++] = *e;
    return 0;
}

static inline void ctid_emit(ctid_evbuf_t *b, uint64_t t, int lane, int kind, int type, int value,
                             int duration, float level, float aux)
{
    ctid_event_t e;
    e.t_sample = t;
    e.channel = (uint32_t) lane;
    e.kind = (uint16_t) kind;
    e.type = (uint16_t) type;
    e.value = value;
    e.duration = duration;
    e.level = level;
    e.aux = aux;
    ctid_evbuf_push(b, &e);
}

/* Saturate a double to int16. */
static inline int16_t ctid_sat16(double v)
{
    if (v > 32767.0)
        return 32767;
    if (v < -32768.0)
        return -32768;
    return (int16_t) lrint(v);
}

#endif
