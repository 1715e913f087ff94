/* PLACEHOLDER: replaced by the real implementation. */
#include "internal.h"
struct ctid_r2mf_rx { int n; };
void ctid_r2mf_rx_defaults(ctid_r2mf_rx_params_t *p, int backward) { memset(p, 0, sizeof(*p)); p->backward = backward; }
ctid_r2mf_rx_t *ctid_r2mf_rx_new(int nlanes, const ctid_r2mf_rx_params_t *p) { (void)p; ctid_r2mf_rx_t *s = calloc(1, sizeof(*s)); if (s) s->n = nlanes; return s; }
void ctid_r2mf_rx_process(ctid_r2mf_rx_t *s, const float *x, int nframes, int stride, const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out) { (void)s;(void)x;(void)nframes;(void)stride;(void)enabled;(void)t0;(void)out; }
void ctid_r2mf_rx_reset(ctid_r2mf_rx_t *s, int lane) { (void)s; (void)lane; }
void ctid_r2mf_rx_free(ctid_r2mf_rx_t *s) { free(s); }
