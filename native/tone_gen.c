/* PLACEHOLDER: replaced by the real implementation. */
#include "internal.h"
struct ctid_tone_gen { int n; };
ctid_tone_gen_t *ctid_tone_gen_new(const ctid_tone_def_t *d) { (void)d; return calloc(1, sizeof(ctid_tone_gen_t)); }
int ctid_tone_gen_generate(ctid_tone_gen_t *s, int16_t *a, int m) { (void)s; memset(a, 0, sizeof(int16_t) * (size_t)m); return m; }
void ctid_tone_gen_reset(ctid_tone_gen_t *s) { (void)s; }
void ctid_tone_gen_free(ctid_tone_gen_t *s) { free(s); }
