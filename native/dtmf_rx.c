/* PLACEHOLDER: replaced by the real implementation. */
#include "internal.h"
struct ctid_dtmf_rx { int n; };
void ctid_dtmf_rx_defaults(ctid_dtmf_rx_params_t *p) { memset(p, 0, sizeof(*p)); }
ctid_dtmf_rx_t *ctid_dtmf_rx_new(int nlanes, const ctid_dtmf_rx_params_t *p) { (void)p; ctid_dtmf_rx_t *s = calloc(1, sizeof(*s)); if (s) s->n = nlanes; return s; }
int ctid_dtmf_rx_set_params(ctid_dtmf_rx_t *s, int lane, const ctid_dtmf_rx_params_t *p) { (void)s; (void)lane; (void)p; return 0; }
void ctid_dtmf_rx_process(ctid_dtmf_rx_t *s, const float *x, int nframes, int stride, const uint8_t *enabled, uint64_t t0, ctid_evbuf_t *out) { (void)s;(void)x;(void)nframes;(void)stride;(void)enabled;(void)t0;(void)out; }
void ctid_dtmf_rx_reset(ctid_dtmf_rx_t *s, int lane) { (void)s; (void)lane; }
void ctid_dtmf_rx_free(ctid_dtmf_rx_t *s) { free(s); }
