/* PLACEHOLDER: replaced by the real implementation. */
#include "internal.h"
struct ctid_cpt_rx { int n; };
void ctid_cpt_rx_defaults(ctid_cpt_rx_params_t *p) { memset(p, 0, sizeof(*p)); }
ctid_cpt_rx_t *ctid_cpt_rx_new(int nlanes, const ctid_cpt_rx_params_t *p, const ctid_tone_def_t *d, int n) { (void)p; (void)d; (void)n; ctid_cpt_rx_t *s = calloc(1, sizeof(*s)); if (s) s->n = nlanes; return s; }
void ctid_cpt_rx_process(ctid_cpt_rx_t *s, const float *x, int nframes, int stride, const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out) { (void)s;(void)x;(void)nframes;(void)stride;(void)enabled;(void)t0;(void)out; }
void ctid_cpt_rx_reset(ctid_cpt_rx_t *s, int lane) { (void)s; (void)lane; }
void ctid_cpt_rx_free(ctid_cpt_rx_t *s) { free(s); }
